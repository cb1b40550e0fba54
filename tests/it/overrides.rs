//! Overrides at run time: `oncall override add` through the running daemon
//! takes effect at once (the API, `oncall who` read beside the daemon, the
//! engine's pages), bad requests say why and change nothing, the export is
//! YAML the team's file accepts, and a deletion is audited.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::daemon::{API_TOKEN, KEY, TestApp};

fn cli(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(args)
        .args(["--url", &app.base])
        .env("ONCALL_API_TOKEN", API_TOKEN)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

async fn payments_primary(app: &TestApp) -> Value {
    let (_, body) = app.api_get("/v1/oncall").await;
    body["oncall"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["team"] == "payments" && r["rota"] == "primary")
        .map(|r| r["user"].clone())
        .unwrap()
}

fn who_at(dir: &Path, database: &Path, at: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["who", "--format", "json", "--team", "payments", "--at", at])
        .arg("--schedules")
        .arg(dir.join("schedules"))
        .arg("--database")
        .arg(database)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let line: Value = serde_json::from_str(String::from_utf8(o.stdout).unwrap().lines().next().unwrap()).unwrap();
    line["user"].as_str().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_time_override_takes_effect_at_once_and_is_audited() {
    let app = TestApp::spawn().await; // 2026-06-01T12:00Z
    let scheduled = payments_primary(&app).await;
    assert_ne!(scheduled, "dave");

    // Bad requests say why and change nothing.
    let base = json!({"team": "payments", "rota": "primary", "user": "dave",
        "from": "2026-06-01T00:00", "to": "2026-06-03T00:00", "by": "alice"});
    let with = |key: &str, value: Value| {
        let mut b = base.clone();
        b[key] = value;
        b
    };
    for (body, status, says) in [
        (
            with("user", json!("daev")),
            422,
            "unknown person `daev`; did you mean `dave`?",
        ),
        (
            with("rota", json!("primray")),
            422,
            "unknown rota of payments `primray`; did you mean `primary`?",
        ),
        (
            with("team", json!("paymnets")),
            422,
            "unknown team `paymnets`; did you mean `payments`?",
        ),
        (
            with("to", json!("2026-05-31T00:00")),
            422,
            "the override ends (2026-05-30T23:00:00Z) before it starts (2026-05-31T23:00:00Z)",
        ),
        (with("from", json!("tomorrow")), 422, "`tomorrow` is not a time"),
        (with("by", json!(" ")), 422, "say who makes it"),
    ] {
        let (code, answer) = app.api_post("/v1/overrides", body.clone()).await;
        assert_eq!(code, status, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{answer}");
    }
    let (code, list) = app.api_get("/v1/overrides").await;
    assert_eq!((code, list["overrides"].as_array().unwrap().len()), (200, 0));

    // Dave covers the primary for two days (London time), at once.
    let o = cli(
        &app,
        &[
            "override",
            "add",
            "--team",
            "payments",
            "--rota",
            "primary",
            "--user",
            "dave",
            "--from",
            "2026-06-01T00:00",
            "--to",
            "2026-06-03T00:00",
            "--reason",
            "covering a sick day",
            "--by",
            "alice",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).starts_with("added override 1  payments/primary  dave  2026-05-31T23:00:00Z .. 2026-06-02T23:00:00Z"),
        "{}",
        text(&o)
    );
    assert_eq!(payments_primary(&app).await, "dave");
    // `oncall who` sees it, reading the database beside the daemon.
    let db = app.dir.join("oncall.db");
    assert_eq!(who_at(&app.dir, &db, "2026-06-02T12:00:00Z"), "dave");
    assert_eq!(
        who_at(&app.dir, &app.dir.join("none.db"), "2026-06-02T12:00:00Z"),
        scheduled
    );
    // The engine pages dave.
    let (code, body) = app
        .post("/v1/alerts", KEY, json!({"summary": "disk", "severity": "critical"}))
        .await;
    assert_eq!(code, 202, "{body}");
    app.run_engine().await;
    let (_, alert) = app.api_get(&format!("/v1/alerts/{}", body["alert_id"])).await;
    let paged: Vec<&str> = alert["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["person"].as_str().unwrap())
        .collect();
    assert!(!paged.is_empty() && paged.iter().all(|p| *p == "dave"), "{alert}");

    // Listed, and exported as YAML the team's file accepts.
    let o = cli(&app, &["override", "list"]);
    assert!(
        text(&o).contains("1  payments/primary  dave") && text(&o).contains("by alice (covering a sick day)"),
        "{}",
        text(&o)
    );
    let o = cli(&app, &["override", "export", "--team", "payments"]);
    assert!(o.status.success(), "{}", text(&o));
    let yaml = String::from_utf8(o.stdout).unwrap();
    assert!(
        yaml.contains("# made by \"alice\" at 2026-06-01T12:00:00Z (id 1)"),
        "{yaml}"
    );
    let team_file = std::fs::read_to_string(app.dir.join("schedules/payments.yaml")).unwrap();
    let people = std::fs::read_to_string(app.dir.join("schedules/people.yaml")).unwrap();
    let loaded = oncall::config::load_texts(&[
        ("people.yaml", &people),
        ("payments.yaml", &team_file),
        ("payments-overrides.yaml", &yaml),
    ]);
    assert!(
        !loaded.has_errors(),
        "{:?}",
        loaded.errors().map(|d| d.to_string()).collect::<Vec<_>>()
    );
    let rota = &loaded.schedule.team("payments").unwrap().rotas[0];
    assert_eq!(
        rota.on_call_at(crate::support::at("2026-06-02T12:00:00Z"))
            .map(String::as_str),
        Some("dave")
    );

    // Deleted: the schedule is back, and the row says who deleted it.
    let o = cli(&app, &["override", "rm", "1", "--by", "bob"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(payments_primary(&app).await, scheduled);
    let o = cli(&app, &["override", "rm", "1", "--by", "bob"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("404: no override 1"), "{}", text(&o));
    let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let audit: (String, String) = conn
        .query_row("SELECT created_by, deleted_by FROM overrides WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(audit, ("alice".to_string(), "bob".to_string()));
    drop(conn);
    app.stop().await;
}

/// Issue 16: a `by` holding a carriage return ended the export's `# made
/// by` comment there (YAML breaks lines at CR as at LF, the old export only
/// folded LF), so the rest of it was an override of its own once the export
/// was appended to the team's file, and `oncall who` obeyed it.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_a_carriage_return_in_by_hides_no_override_in_the_export() {
    let app = TestApp::spawn().await; // 2026-06-01T12:00Z
    let hidden_at = "2026-06-10T12:00:00Z";
    let none = app.dir.join("none.db");
    let scheduled = who_at(&app.dir, &none, hidden_at);
    assert_ne!(scheduled, "carol");
    let by = "mallory\r  - {rota: primary, user: carol, from: 2026-06-10T00:00, to: 2026-06-11T00:00} #";
    let (code, body) = app
        .api_post(
            "/v1/overrides",
            json!({"team": "payments", "rota": "primary", "user": "dave",
                "from": "2026-06-01T00:00", "to": "2026-06-03T00:00", "by": by}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["override"]["created_by"], by);

    // Exported and saved as a cover file, as docs/http.md says.
    let o = cli(&app, &["override", "export", "--team", "payments"]);
    assert!(o.status.success(), "{}", text(&o));
    let cover_file = app.dir.join("schedules/payments-overrides.yaml");
    std::fs::write(&cover_file, &o.stdout).unwrap();
    let appended = std::fs::read_to_string(&cover_file).unwrap();
    let team_file = std::fs::read_to_string(app.dir.join("schedules/payments.yaml")).unwrap();

    // The files alone (no database): dave's cover, and nothing else.
    assert_eq!(who_at(&app.dir, &none, "2026-06-02T12:00:00Z"), "dave");
    assert_eq!(who_at(&app.dir, &none, hidden_at), scheduled, "{appended}");
    let people = std::fs::read_to_string(app.dir.join("schedules/people.yaml")).unwrap();
    let loaded = oncall::config::load_texts(&[
        ("people.yaml", &people),
        ("payments.yaml", &team_file),
        ("payments-overrides.yaml", &appended),
    ]);
    assert!(!loaded.has_errors(), "{appended}");
    let rota = &loaded.schedule.team("payments").unwrap().rotas[0];
    assert_eq!(rota.overrides.len(), 1, "{appended}");
    assert_eq!(rota.overrides[0].user, "dave");
    assert!(!appended.contains('\r'), "{appended:?}");
    app.stop().await;
}

/// The export saved as docs/http.md says, as a file of its own beside the
/// example `schedules/` (whose `payments.yaml` has an `overrides:` list
/// already, and a cover file too): `oncall check` takes the folder, and the
/// exported override is in force in it. Appending the export to
/// `payments.yaml`, as the docs once said, gave it `overrides:` twice.
#[tokio::test(flavor = "multi_thread")]
async fn issue17_the_export_saved_beside_the_example_schedules_passes_check() {
    let app = TestApp::spawn().await; // 2026-06-01T12:00Z
    let (code, body) = app
        .api_post(
            "/v1/overrides",
            json!({"team": "payments", "rota": "primary", "user": "dave",
                "from": "2026-06-01T00:00", "to": "2026-06-03T00:00", "by": "alice"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let o = cli(&app, &["override", "export", "--team", "payments"]);
    assert!(o.status.success(), "{}", text(&o));

    let example = app.dir.join("example-schedules");
    std::fs::create_dir_all(&example).unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schedules");
    for entry in std::fs::read_dir(&repo).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, example.join(path.file_name().unwrap())).unwrap();
    }
    let team_file = std::fs::read_to_string(example.join("payments.yaml")).unwrap();
    assert!(
        team_file.contains("\noverrides:"),
        "the example team file has overrides of its own"
    );
    std::fs::write(example.join("payments-overrides.yaml"), &o.stdout).unwrap();

    let check = Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["check", "--schedules"])
        .arg(&example)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
    let who = Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["who", "--at", "2026-06-02T12:00:00Z", "--schedules"])
        .arg(&example)
        .output()
        .unwrap();
    assert!(who.status.success(), "{}", text(&who));
    let line = String::from_utf8_lossy(&who.stdout)
        .lines()
        .find(|l| l.contains("payments") && l.contains("primary"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(line.contains("dave"), "{}", text(&who));
    app.stop().await;
}
