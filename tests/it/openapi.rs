//! `docs/openapi.yaml` and the router agree: every route of `router()` in
//! `src/http/mod.rs`, with each of its methods, is an operation of the
//! document, and the document has nothing the router lacks.

use std::collections::BTreeSet;
use std::path::Path;

use oncall::config::yaml::{self, Node, Value};

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text of `s` from `open` (an opening bracket) to its matching close,
/// both excluded, skipping string literals; and the index after the close.
fn balanced(s: &str, open: usize) -> (&str, usize) {
    let bytes = s.as_bytes();
    let mut depth = 0;
    let mut i = open;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'(' | b'{' | b'[' => depth += 1,
                b')' | b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return (&s[open + 1..i], i + 1);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    panic!("unbalanced brackets after byte {open}");
}

/// The calls at the top level of a method router expression, by their last
/// path segment: `post(a).get(b)` and `axum::routing::delete(c)` give
/// `["post", "get"]` and `["delete"]`.
fn top_level_calls(expr: &str) -> Vec<String> {
    let bytes = expr.as_bytes();
    let mut calls = Vec::new();
    let mut i = 0;
    let mut word = String::new();
    while i < bytes.len() {
        let c = bytes[i] as char;
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            i += 1;
        } else if c == '(' {
            calls.push(std::mem::take(&mut word));
            let (_, next) = balanced(expr, i);
            i = next;
        } else if c == '"' || c == '{' || c == '[' || c == '|' {
            panic!("cannot read the method router `{expr}`: teach tests/it/openapi.rs");
        } else {
            // `::` keeps only the last segment; `.` and spaces end a word.
            word.clear();
            i += 1;
        }
    }
    calls
}

/// (path, method) of every `.route("PATH", ...)` of `router()`.
fn router_routes() -> BTreeSet<(String, String)> {
    let source = read("src/http/mod.rs");
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let start = code
        .find("pub fn router(")
        .expect("src/http/mod.rs has `pub fn router(`");
    let body_open = start + code[start..].find('{').expect("router() has a body");
    let (body, _) = balanced(&code, body_open);
    // The web pages for people (HTML, docs/web.md) are not the API this
    // document describes: their router is merged whole, and left out here.
    let body = body.replacen(".merge(crate::web::router())", "", 1);
    let body = body.as_str();
    for unknown in [".nest(", ".merge(", ".route_service(", ".nest_service("] {
        assert!(
            !body.contains(unknown),
            "router() uses `{unknown}`: teach tests/it/openapi.rs to read it"
        );
    }
    let mut routes = BTreeSet::new();
    let mut rest = body;
    while let Some(at) = rest.find(".route(") {
        let open = at + ".route".len();
        let (args, next) = balanced(rest, open);
        let args = args.trim_start();
        let path_end = args[1..].find('"').expect("a route's path is a string literal") + 1;
        assert!(args.starts_with('"'), "a route's path is a string literal: {args}");
        let path = &args[1..path_end];
        let handler = args[path_end + 1..]
            .trim_start()
            .strip_prefix(',')
            .expect("a comma after the route's path");
        let calls = top_level_calls(handler.trim());
        assert!(!calls.is_empty(), "no method for route {path}");
        for call in calls {
            assert!(
                METHODS.contains(&call.as_str()),
                "route {path}: `{call}(...)` is not a method this test knows"
            );
            assert!(
                routes.insert((path.to_string(), call.clone())),
                "route {path} {call} is registered twice"
            );
        }
        rest = &rest[next..];
    }
    routes
}

fn entries(node: &Node) -> &[(Node, Node)] {
    match &node.value {
        Value::Map(entries) => entries,
        _ => panic!("line {}: expected a mapping, found {}", node.pos.line, node.kind()),
    }
}

fn key(k: &Node) -> &str {
    k.as_str()
        .unwrap_or_else(|| panic!("line {}: a key that is not a scalar", k.pos.line))
}

/// A parameter, with `$ref: "#/components/parameters/X"` followed.
fn resolve<'a>(root: &'a Node, node: &'a Node) -> &'a Node {
    let Some(reference) = node.as_map_get("$ref").and_then(Node::as_str) else {
        return node;
    };
    let name = reference
        .strip_prefix("#/components/parameters/")
        .unwrap_or_else(|| panic!("line {}: unexpected $ref {reference}", node.pos.line));
    root.as_map_get("components")
        .and_then(|c| c.as_map_get("parameters"))
        .and_then(|p| p.as_map_get(name))
        .unwrap_or_else(|| panic!("line {}: {reference} does not exist", node.pos.line))
}

/// The path parameters declared on a path item or an operation.
fn path_parameters(root: &Node, item: &Node, into: &mut BTreeSet<String>) {
    let Some(list) = item.as_map_get("parameters") else {
        return;
    };
    let Value::Seq(list) = &list.value else {
        panic!("line {}: `parameters` is not a list", list.pos.line);
    };
    for p in list {
        let p = resolve(root, p);
        if p.as_map_get("in").and_then(Node::as_str) == Some("path") {
            let name = p.as_map_get("name").and_then(Node::as_str).expect("a parameter's name");
            assert_eq!(
                p.as_map_get("required").and_then(Node::as_str),
                Some("true"),
                "line {}: path parameter {name} must be required",
                p.pos.line
            );
            into.insert(name.to_string());
        }
    }
}

#[test]
fn the_openapi_document_lists_every_route_of_the_router() {
    let routes = router_routes();
    assert!(routes.len() >= 20, "expected the router's routes, found {routes:?}");

    let text = read("docs/openapi.yaml");
    let root = yaml::parse(&text)
        .unwrap_or_else(|e| panic!("docs/openapi.yaml: {e:?}"))
        .expect("docs/openapi.yaml is not empty");
    assert_eq!(
        root.as_map_get("openapi").and_then(Node::as_str),
        Some("3.1.0"),
        "docs/openapi.yaml declares `openapi: 3.1.0`"
    );
    let paths = root.as_map_get("paths").expect("docs/openapi.yaml has `paths`");

    let mut documented = BTreeSet::new();
    let mut problems = Vec::new();
    let mut seen_paths = BTreeSet::new();
    for (k, item) in entries(paths) {
        let path = key(k);
        if !seen_paths.insert(path) {
            problems.push(format!("line {}: path {path} is written twice", k.pos.line));
        }
        let mut item_params = BTreeSet::new();
        path_parameters(&root, item, &mut item_params);
        for (m, operation) in entries(item) {
            let method = key(m);
            if !METHODS.contains(&method) {
                continue;
            }
            if !documented.insert((path.to_string(), method.to_string())) {
                problems.push(format!("line {}: {method} {path} is written twice", m.pos.line));
            }
            let responses = operation.as_map_get("responses").map(entries).unwrap_or(&[]);
            if responses.is_empty() {
                problems.push(format!("line {}: {method} {path} has no responses", m.pos.line));
            }
            for (status, _) in responses {
                let status = key(status);
                let ok = status == "default" || (status.len() == 3 && status.bytes().all(|b| b.is_ascii_digit()));
                if !ok {
                    problems.push(format!("{method} {path}: response `{status}` is not a status code"));
                }
            }
            let mut params = item_params.clone();
            path_parameters(&root, operation, &mut params);
            let in_path: BTreeSet<String> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(str::to_string)
                .collect();
            if params != in_path {
                problems.push(format!(
                    "{method} {path}: path parameters declared {params:?}, in the path {in_path:?}"
                ));
            }
        }
    }
    for (path, method) in routes.difference(&documented) {
        problems.push(format!(
            "the router has {} {path}; docs/openapi.yaml does not",
            method.to_uppercase()
        ));
    }
    for (path, method) in documented.difference(&routes) {
        problems.push(format!(
            "docs/openapi.yaml has {} {path}; the router does not",
            method.to_uppercase()
        ));
    }
    assert!(problems.is_empty(), "docs/openapi.yaml:\n{}", problems.join("\n"));
}

/// The reader of the router sees what axum would: chained methods, a
/// method by its full path, and closures as handlers.
#[test]
fn the_route_reader_reads_method_routers() {
    assert_eq!(
        top_level_calls("post(intake::plain).get(api::list_alerts)"),
        ["post", "get"]
    );
    assert_eq!(top_level_calls("axum::routing::delete(overrides::delete)"), ["delete"]);
    assert_eq!(top_level_calls("get(|| async { \"ok\\n\" })"), ["get"]);
    let routes = router_routes();
    for expected in [
        ("/v1/alerts", "get"),
        ("/v1/alerts", "post"),
        ("/v1/act/{token}", "post"),
        ("/v1/overrides/{id}", "delete"),
        ("/healthz", "get"),
    ] {
        assert!(
            routes.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} not read from the router: {routes:?}"
        );
    }
}

/// The document's (path, method) → its response status codes.
fn documented_statuses() -> Vec<(String, String, BTreeSet<u16>)> {
    let text = read("docs/openapi.yaml");
    let root = yaml::parse(&text).unwrap().unwrap();
    let mut out = Vec::new();
    for (k, item) in entries(root.as_map_get("paths").unwrap()) {
        for (m, operation) in entries(item) {
            if !METHODS.contains(&key(m)) {
                continue;
            }
            let statuses = operation
                .as_map_get("responses")
                .map(entries)
                .unwrap_or(&[])
                .iter()
                .filter_map(|(s, _)| key(s).parse().ok())
                .collect();
            out.push((key(k).to_string(), key(m).to_string(), statuses));
        }
    }
    out
}

/// Every operation of the document, asked of a running daemon without any
/// credential or body, answers one of the statuses the document lists for
/// it; and the general rules of its description hold (405 for another
/// method, 404 JSON for an unknown path, 400 plain text for an id that is
/// not one).
#[tokio::test(flavor = "multi_thread")]
async fn a_bare_request_to_each_operation_gets_a_documented_status() {
    let app = crate::daemon::TestApp::spawn().await;
    let mut problems = Vec::new();
    for (path, method, statuses) in documented_statuses() {
        let concrete = path
            .replace("{id}", "1")
            .replace("{token}", "not-a-token")
            .replace("{name}", "nightly-backup")
            .replace("{file}", "alice.ics");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), format!("{}{concrete}", app.base))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if !statuses.contains(&status) {
            problems.push(format!("{method} {concrete}: {status}, documented {statuses:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "statuses not in docs/openapi.yaml:\n{}",
        problems.join("\n")
    );

    let r = app.client.put(format!("{}/v1/oncall", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.text().await.unwrap(), "");
    let r = app.client.get(format!("{}/v1/nothing", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"error": "no such endpoint"})
    );
    let r = app
        .client
        .delete(format!("{}/v1/overrides/x?by=a", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(
        r.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        r.headers()
    );
    app.stop().await;
}
