//! Per-person API tokens and sign-in links from the command line (issue
//! 19): `oncall token create | list | revoke` and `oncall link`, run as the
//! real binary beside a real daemon on a real SQLite file. A person's token
//! acts as that person (the audit names them), is stored only as its
//! digest, and is refused as soon as it is revoked.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::daemon::{API_TOKEN, KEY, TestApp};

/// `oncall ARGS` against the daemon's files in `dir`, with none of the
/// environment's settings.
fn oncall(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(args)
        .arg("--database")
        .arg(dir.join("oncall.db"))
        .arg("--schedules")
        .arg(dir.join("schedules"))
        .env_remove("ONCALL_CONFIG")
        .env_remove("ONCALL_PUBLIC_URL")
        .env_remove("ONCALL_LINK_SECRET")
        .env_remove("ONCALL_DATABASE")
        .env_remove("ONCALL_SCHEDULES")
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8(o.stdout.clone()).unwrap(),
        String::from_utf8(o.stderr.clone()).unwrap(),
    )
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = app
        .client
        .request(method, format!("{}{path}", app.base))
        .header("authorization", format!("bearer {token}"));
    if let Some(body) = body {
        r = r.json(&body);
    }
    let r = r.send().await.unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn issue19_a_persons_token_acts_as_them_is_stored_hashed_and_dies_when_revoked() {
    let app = TestApp::spawn().await;
    let dir = app.dir.clone();
    let (code, body) = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": "disk", "severity": "critical", "dedup_key": "d"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["alert_id"].as_i64().unwrap();

    let o = oncall(&dir, &["token", "create", "alice", "--name", "laptop"]);
    let (out, said) = text(&o);
    assert!(o.status.success(), "{said}");
    let token = out.trim().to_string();
    assert!(token.starts_with("oncall_") && token.len() > 40, "{out}");
    assert!(
        said.contains("token 1 for alice") && said.contains("shown this once"),
        "{said}"
    );

    // Acting with it is acting as alice, whatever the body leaves out; it
    // may not name someone else.
    let post = reqwest::Method::POST;
    let (code, body) = call(
        &app,
        post.clone(),
        &format!("/v1/alerts/{id}/ack"),
        &token,
        Some(json!({"by": "bob"})),
    )
    .await;
    assert_eq!(code, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("alice's"), "{body}");
    let (code, body) = call(&app, post.clone(), &format!("/v1/alerts/{id}/ack"), &token, None).await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = call(
        &app,
        post.clone(),
        &format!("/v1/alerts/{id}/lead"),
        &token,
        Some(json!({"lead": "bob"})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let (_, detail) = app.api_get(&format!("/v1/alerts/{id}")).await;
    let timeline = detail["timeline"].as_array().unwrap();
    let acked = timeline.iter().find(|e| e["kind"] == "acknowledged").unwrap();
    assert_eq!(acked["detail"]["by"], "alice", "{detail}");
    let handed = timeline.iter().find(|e| e["detail"]["to"] == "bob").unwrap();
    assert_eq!(handed["detail"]["by"], "alice", "{detail}");
    let override_body = json!({"team": "payments", "rota": "primary", "user": "bob",
        "from": "2026-06-10T00:00", "to": "2026-06-11T00:00"});
    let (code, body) = call(&app, post.clone(), "/v1/overrides", &token, Some(override_body.clone())).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["override"]["created_by"], "alice", "{body}");
    // The shared token without `by` is refused as before.
    let (code, body) = call(&app, post.clone(), "/v1/overrides", API_TOKEN, Some(override_body)).await;
    assert_eq!(code, 400, "{body}");
    let oid = body_id(&app).await;
    let (code, body) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/v1/overrides/{oid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = call(&app, post.clone(), &format!("/v1/alerts/{id}/resolve"), &token, None).await;
    assert_eq!((code, &body["alert"]["status"]), (200, &json!("resolved")), "{body}");

    // A person's link signs in as them: alice's token gets hers only.
    let get = reqwest::Method::GET;
    let (code, body) = call(&app, get.clone(), "/v1/calendar?person=bob", &token, None).await;
    assert_eq!(code, 403, "{body}");
    assert!(body.get("status_url").is_none(), "{body}");
    let (code, body) = call(&app, get, "/v1/calendar?person=alice", &token, None).await;
    assert_eq!(code, 200, "{body}");

    // Listed, without the secret.
    let o = oncall(&dir, &["token", "list"]);
    let (out, said) = text(&o);
    assert!(o.status.success(), "{said}");
    let row = out.lines().nth(1).unwrap_or_default();
    assert!(
        row.starts_with("1 ") && row.contains("alice") && row.contains("laptop"),
        "{out}"
    );
    assert!(
        !out.contains(&token) && !out.contains(&token["oncall_".len()..]),
        "{out}"
    );

    // The database (and its write-ahead log) holds the digest, never the token.
    let mut stored = Vec::new();
    for file in ["oncall.db", "oncall.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(file)) {
            stored.extend(bytes);
        }
    }
    let has = |needle: &str| stored.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        has(&oncall::web::session::digest(&token)),
        "the digest is where the grep looks"
    );
    assert!(
        !has(&token) && !has(&token["oncall_".len()..]),
        "the token itself is stored"
    );
    let conn = rusqlite::Connection::open_with_flags(dir.join("oncall.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    let audit: (String, String) = conn
        .query_row(
            &format!("SELECT created_by, deleted_by FROM overrides WHERE id = {oid}"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(audit, ("alice".to_string(), "alice".to_string()));
    drop(conn);

    // Revoked: refused from the next request on; the shared token still works.
    let o = oncall(&dir, &["token", "revoke", "1"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(text(&o).0, "revoked token 1 of alice\n");
    let (code, body) = call(&app, reqwest::Method::GET, "/v1/alerts", &token, None).await;
    assert_eq!(code, 401, "{body}");
    assert_eq!(
        call(&app, reqwest::Method::GET, "/v1/alerts", API_TOKEN, None).await.0,
        200
    );
    let o = oncall(&dir, &["token", "revoke", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("no token 1"), "{:?}", text(&o));
    assert_eq!(text(&oncall(&dir, &["token", "list"])).0.lines().count(), 1);

    // Nobody's token for somebody unknown.
    let o = oncall(&dir, &["token", "create", "alicee"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.contains("no person `alicee`") && text(&o).1.contains("`alice`"),
        "{:?}",
        text(&o)
    );
    app.stop().await;
}

/// The id of the one override made at run time.
async fn body_id(app: &TestApp) -> i64 {
    let (code, list) = app.api_get("/v1/overrides").await;
    assert_eq!(code, 200);
    list["overrides"][0]["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn issue19_api_without_a_shared_token_takes_a_persons_token() {
    let dir = crate::daemon::temp_dir("person-token-only");
    crate::daemon::write_schedules(&dir);
    let mut s = crate::daemon::settings(&dir);
    s.api_token = None;
    let app = TestApp::spawn_with(dir.clone(), s, "2026-06-01T12:00:00Z").await;
    let o = oncall(&dir, &["token", "create", "carol"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let token = text(&o).0.trim().to_string();
    let (code, body) = call(&app, reqwest::Method::GET, "/v1/oncall", &token, None).await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = call(&app, reqwest::Method::GET, "/v1/oncall", "oncall_not-a-token", None).await;
    assert_eq!(code, 401, "{body}");
    assert!(body["error"].as_str().unwrap().contains("the API is off"), "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue19_oncall_link_prints_the_sign_in_link_the_daemon_takes() {
    let app = TestApp::spawn().await;
    let dir = app.dir.clone();
    let o = oncall(&dir, &["link", "alice", "--public-url", &app.base]);
    let (out, said) = text(&o);
    assert!(o.status.success(), "{said}");
    let link = out.trim();
    assert!(
        link.starts_with(&format!("{}/signin?person=alice&token=", app.base)),
        "{link}"
    );
    // The daemon's own link for alice (the status link's token) is the same.
    let (code, cal) = app.api_get("/v1/calendar?person=alice").await;
    assert_eq!(code, 200);
    let status_token = cal["status_url"]
        .as_str()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_string();
    assert!(link.ends_with(&format!("token={status_token}")), "{link} vs {cal}");
    let shown = app.client.get(link).send().await.unwrap();
    assert_eq!(shown.status().as_u16(), 200);
    assert!(shown.text().await.unwrap().contains("Sign in as"));

    let o = oncall(&dir, &["link", "alicee", "--public-url", &app.base]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("no person `alicee`"), "{:?}", text(&o));
    let o = oncall(&dir, &["link", "alice"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no public URL"), "{:?}", text(&o));
    app.stop().await;
    // Without the daemon's secret (never started here), no link is made up.
    let fresh = crate::daemon::temp_dir("link-no-secret");
    crate::daemon::write_schedules(&fresh);
    let o = oncall(&fresh, &["link", "alice", "--public-url", "https://oncall.example.com"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no link secret"), "{:?}", text(&o));
    assert!(!fresh.join("oncall.db.link-secret").exists());
}
