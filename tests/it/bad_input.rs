//! The bad-input suite: hostile and broken inputs, one case per file under
//! `tests/bad-input/`, each with its expected answer in a sidecar
//! `NAME.expect` (see `tests/bad-input/README.md` for the format).
//!
//! - `webhooks/`: bodies POSTed to the running daemon over HTTP. Each must get
//!   the expected status and JSON error (`error`, and `field` when there is
//!   one); the store must be unchanged by it, and a good alert must still be
//!   accepted after it.
//! - `rotas/`: rota files checked as `oncall check` checks them, next to the
//!   test people file; the expected answer is what it prints, every
//!   `file:line:col: message`.
//!
//! A case's input is the file `NAME.<anything>` beside its sidecar, as bytes,
//! or, for inputs too big to commit, `NAME.gen`: lines of `[count, "text"]`
//! (a JSON array), the text repeated count times.
//!
//! `UPDATE_EXPECT=1 cargo test bad_input` rewrites the sidecars' expected
//! answers from what the program does now (review the diff!).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::Parser as _;
use oncall::clock::ManualClock;
use serde_json::{Value, json};

use crate::daemon::{API_TOKEN, KEY, TestApp};

struct Case {
    name: String,
    input: Vec<u8>,
    sidecar: PathBuf,
    expect: String,
}

fn suite(dir: &str) -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for sidecar in files.iter().filter(|p| p.extension().is_some_and(|e| e == "expect")) {
        let name = sidecar.file_stem().unwrap().to_str().unwrap().to_string();
        let inputs: Vec<&PathBuf> = files
            .iter()
            .filter(|p| p.file_stem().is_some_and(|s| s == name.as_str()) && *p != sidecar)
            .collect();
        let [input] = inputs[..] else {
            panic!(
                "{name}: expected one input file beside {}, found {inputs:?}",
                sidecar.display()
            );
        };
        let bytes = std::fs::read(input).unwrap();
        let input = if input.extension().is_some_and(|e| e == "gen") {
            generate(&name, &bytes)
        } else {
            bytes
        };
        cases.push(Case {
            name,
            input,
            sidecar: sidecar.clone(),
            expect: std::fs::read_to_string(sidecar).unwrap(),
        });
    }
    for p in &files {
        let stem = p.file_stem().unwrap().to_str().unwrap();
        assert!(
            p.extension().is_some_and(|e| e == "expect") || cases.iter().any(|c| c.name == stem),
            "{}: an input without a NAME.expect sidecar",
            p.display()
        );
    }
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    cases
}

/// A `.gen` file's input: each line `[count, "text"]`.
fn generate(name: &str, recipe: &[u8]) -> Vec<u8> {
    let mut out = String::new();
    for line in std::str::from_utf8(recipe).unwrap().lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (count, text): (usize, String) =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}.gen: `{line}`: {e}"));
        out.push_str(&text.repeat(count));
    }
    out.into_bytes()
}

fn updating() -> bool {
    std::env::var_os("UPDATE_EXPECT").is_some()
}

/// The sidecar's `key: value` lines for `keys`.
fn lines_for<'a>(expect: &'a str, keys: &[&str]) -> Vec<&'a str> {
    expect
        .lines()
        .filter(|l| {
            keys.iter()
                .any(|k| l.split_once(": ").is_some_and(|(key, _)| key == *k))
        })
        .collect()
}

fn header<'a>(expect: &'a str, key: &str) -> Option<&'a str> {
    lines_for(expect, &[key]).first().map(|l| l.split_once(": ").unwrap().1)
}

/// The answers the webhook cases compare, as sidecar lines.
const ANSWER: &[&str] = &["status", "error", "field"];

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_reject_bad_bodies_keep_serving_and_change_nothing() {
    let app = TestApp::spawn().await;
    let canary = json!({"summary": "canary: a good alert after each bad one", "dedup_key": "canary"});
    let (code, body) = app.post("/v1/alerts", KEY, canary.clone()).await;
    assert_eq!(code, 202, "{body}");
    // The bad bodies go on connections of their own, never reused: the
    // daemon may close one without reading the rest of a body it refused (a
    // 10 MB field), and a pooled connection closed so would fail whichever
    // request took it next.
    let hostile = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let mut failures = Vec::new();
    for case in suite("webhooks") {
        let path = header(&case.expect, "post").unwrap_or_else(|| panic!("{}: no `post:` line", case.name));
        let content_type = header(&case.expect, "content-type").unwrap_or("application/json");
        let key = match header(&case.expect, "auth") {
            None => KEY,
            Some("api") => API_TOKEN,
            Some(other) => panic!("{}: `auth: {other}`: only `auth: api` is known", case.name),
        };
        let before = stored(&app).await;
        let r = hostile
            .post(format!("{}{path}", app.base))
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(case.input.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let answer: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: `{text}`: {e}", case.name));
        let mut got = vec![format!("status: {status}")];
        if let Some(error) = answer["error"].as_str() {
            got.push(format!("error: {error}"));
        }
        if let Some(field) = answer["field"].as_str() {
            got.push(format!("field: {field}"));
        }
        let expected: Vec<String> = lines_for(&case.expect, ANSWER).into_iter().map(String::from).collect();
        if got != expected {
            if updating() {
                rewrite(&case, ANSWER, &got);
            } else {
                failures.push(format!(
                    "{}: expected\n  {}\ngot\n  {}",
                    case.name,
                    expected.join("\n  "),
                    got.join("\n  ")
                ));
            }
        }
        assert!((400..500).contains(&status), "{}: answered {status}: {text}", case.name);
        assert_eq!(
            stored(&app).await,
            before,
            "{}: a rejected body changed the store",
            case.name
        );
        let (code, body) = app.post("/v1/alerts", KEY, canary.clone()).await;
        assert_eq!(code, 202, "{}: the daemon stopped accepting alerts: {body}", case.name);
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
    app.stop().await;
}

/// What a rejected request must leave as it was: every alert as the API
/// lists it, and every run-time override.
async fn stored(app: &TestApp) -> (Vec<Value>, Value) {
    let (code, overrides) = app.api_get("/v1/overrides").await;
    assert_eq!(code, 200, "{overrides}");
    (app.all_alerts().await, overrides)
}

/// Replaces the sidecar's lines for `keys` with `got`, keeping the others.
fn rewrite(case: &Case, keys: &[&str], got: &[String]) {
    let kept: Vec<&str> = case
        .expect
        .lines()
        .filter(|l| !lines_for(l, keys).contains(l))
        .collect();
    let mut text = kept.join("\n");
    text.push('\n');
    for line in got {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(&case.sidecar, text).unwrap();
}

#[test]
fn rota_files_get_every_problem_at_its_place() {
    let now: DateTime<Utc> = "2026-06-01T12:00:00Z".parse().unwrap();
    let clock = ManualClock::new(now);
    let mut failures = Vec::new();
    for case in suite("rotas") {
        let dir = crate::daemon::temp_dir("bad-input").join("schedules");
        std::fs::write(dir.join("people.yaml"), crate::support::PEOPLE).unwrap();
        std::fs::write(dir.join(format!("{}.yaml", case.name)), &case.input).unwrap();
        let args =
            oncall::cli::Args::try_parse_from(["oncall", "check", "--schedules", dir.to_str().unwrap()]).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = oncall::cli::run(args, &clock, &mut out, &mut err).unwrap();
        let prefix = format!("{}/", dir.display());
        let got = String::from_utf8(err).unwrap().replace(&prefix, "");
        let expected: String = case
            .expect
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        if got != expected {
            if updating() {
                let comments: String = case
                    .expect
                    .lines()
                    .filter(|l| l.starts_with('#'))
                    .map(|l| format!("{l}\n"))
                    .collect();
                std::fs::write(&case.sidecar, comments + &got).unwrap();
            } else {
                failures.push(format!("{}: expected\n{expected}got\n{got}", case.name));
            }
        }
        let errors = got.lines().any(|l| l.contains(": error: "));
        assert_eq!(
            code == std::process::ExitCode::from(1),
            errors,
            "{}: exit code and errors disagree",
            case.name
        );
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
