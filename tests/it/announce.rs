//! Issue 9, through the daemon: an alert's lead (the first to acknowledge,
//! handed over with `POST /v1/alerts/{id}/lead`) and the team's
//! announcements, received by a real HTTP server on loopback, in order, one
//! message per event, retried when the receiver fails.

use chrono::Duration;
use serde_json::{Value, json};
use std::path::Path;

use crate::daemon::{KEY, TestApp, temp_dir};
use crate::notify::Fake;

const PEOPLE: &str = "people:
  alice: {name: Alice, email: alice@example.com, notify: [email]}
  bob: {name: Bob, email: bob@example.com, notify: [email]}
";

/// A team paging alice, announcing its critical alerts to `announce_to`.
fn write_team(dir: &Path, announce_to: &str) {
    let s = dir.join("schedules");
    std::fs::write(s.join("people.yaml"), PEOPLE).unwrap();
    std::fs::write(
        s.join("payments.yaml"),
        format!(
            "team: payments\ntimezone: Europe/London\nhandoff_notices: []\n\
             rotas:\n  primary: {{members: [alice], start: 2026-01-05T09:00, every: 1w}}\n\
             intake_key: {KEY}\n\
             announce:\n  to: [{announce_to}]\n  severities: [critical]\n"
        ),
    )
    .unwrap();
}

async fn spawn(dir: std::path::PathBuf) -> TestApp {
    let mut settings = crate::daemon::settings(&dir);
    settings.run_engine = false;
    TestApp::spawn_with(dir, settings, "2026-06-01T12:00:00Z").await
}

async fn trigger(app: &TestApp, key: &str, severity: &str) -> i64 {
    let (code, body) = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": format!("{key} is failing"), "severity": severity, "dedup_key": key}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    body["alert_id"].as_i64().unwrap()
}

/// The `text` of every announcement the server received, in order.
fn announced(fake: &Fake) -> Vec<String> {
    fake.seen()
        .iter()
        .filter(|s| s.path == "/hooks/incidents")
        .map(|s| s.json()["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_acknowledgement_sets_the_lead_and_the_announcements_come_in_order() {
    let dir = temp_dir("announce");
    let fake = Fake::start().await;
    write_team(&dir, &format!("{}/hooks/incidents", fake.base));
    let app = spawn(dir.clone()).await;

    let id = trigger(&app, "disk", "critical").await;
    // Not a severity the team announces.
    let quiet = trigger(&app, "cpu", "minor").await;
    app.run_engine().await;
    let (_, body) = app.api_get(&format!("/v1/alerts/{id}")).await;
    assert_eq!(body["alert"]["lead"], Value::Null, "{body}");

    // alice acknowledges: she is the lead; bob acknowledging later changes
    // nothing.
    app.clock.advance(Duration::minutes(2));
    let (code, body) = app
        .api_post(&format!("/v1/alerts/{id}/ack"), json!({"by": "alice"}))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["alert"]["lead"], "alice");
    let (_, body) = app
        .api_post(&format!("/v1/alerts/{id}/ack"), json!({"by": "bob"}))
        .await;
    assert_eq!(body["alert"]["lead"], "alice");

    // The chat server is down for the acknowledgement's announcement, and
    // the alert is resolved meanwhile: the resolution waits its turn.
    fake.script(503, "try later");
    app.run_engine().await;
    let (code, _) = app
        .api_post(&format!("/v1/alerts/{id}/resolve"), json!({"by": "bob"}))
        .await;
    assert_eq!(code, 200);
    app.run_engine().await;
    assert_eq!(announced(&fake).len(), 2, "{:?}", announced(&fake));
    // The retry (at most 10 s + a quarter later) goes, then the resolution.
    app.clock.advance(Duration::seconds(15));
    app.run_engine().await;
    app.run_engine().await;

    let texts = announced(&fake);
    assert_eq!(
        texts,
        [
            format!("[critical] payments alert {id} OPENED: disk is failing | lead: nobody yet"),
            format!("[critical] payments alert {id} ACKNOWLEDGED: disk is failing | lead: alice"),
            format!("[critical] payments alert {id} ACKNOWLEDGED: disk is failing | lead: alice"),
            format!("[critical] payments alert {id} RESOLVED: disk is failing | lead: alice"),
        ],
        "the second is the retry of the first acknowledgement (answered 503)"
    );
    // What a program reads: the event, the lead, who did it.
    let last = fake
        .seen()
        .into_iter()
        .rfind(|s| s.path == "/hooks/incidents")
        .unwrap()
        .json();
    let what = &last["notice"]["what"];
    assert_eq!(
        (
            &what["kind"],
            &what["event"],
            &what["alert"],
            &what["lead"],
            &what["by"]
        ),
        (
            &json!("announce"),
            &json!("resolved"),
            &json!(id),
            &json!("alice"),
            &json!("bob")
        )
    );
    // Once each: later passes send nothing more.
    app.clock.advance(Duration::minutes(10));
    app.run_engine().await;
    assert_eq!(announced(&fake).len(), 4);

    // The timeline says who led, and what was announced.
    let (_, body) = app.api_get(&format!("/v1/alerts/{id}")).await;
    let timeline = body["timeline"].as_array().unwrap();
    let acked = timeline.iter().find(|e| e["kind"] == "acknowledged").unwrap();
    assert_eq!(acked["detail"], json!({"by": "alice", "lead": "alice"}));
    let announcements = timeline
        .iter()
        .filter(|e| e["kind"] == "notified" && e["detail"]["announce"] == true)
        .count();
    assert_eq!(announcements, 3);
    let (_, body) = app.api_get(&format!("/v1/alerts/{quiet}")).await;
    assert!(
        !body["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["detail"]["announce"] == true),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lead_is_handed_over() {
    let dir = temp_dir("lead");
    let fake = Fake::start().await;
    write_team(&dir, &format!("{}/hooks/incidents", fake.base));
    let app = spawn(dir.clone()).await;
    let id = trigger(&app, "disk", "critical").await;

    // Acknowledged by a source that names nobody: no lead, said plainly.
    let (code, body) = app
        .post("/v1/alerts", KEY, json!({"dedup_key": "disk", "action": "acknowledge"}))
        .await;
    assert_eq!(code, 202, "{body}");
    let (_, body) = app.api_get(&format!("/v1/alerts/{id}")).await;
    assert_eq!(
        (&body["alert"]["status"], &body["alert"]["lead"]),
        (&json!("acknowledged"), &Value::Null)
    );

    let lead = format!("/v1/alerts/{id}/lead");
    let (code, body) = app.api_post(&lead, json!({"lead": "bob", "by": "alice"})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (&body["alert"]["lead"], &body["changed"]),
        (&json!("bob"), &json!(true))
    );
    let (code, body) = app.api_post(&lead, json!({"lead": "bob"})).await;
    assert_eq!((code, &body["changed"]), (200, &json!(false)));

    // Only people in the people file; with a suggestion.
    let (code, body) = app.api_post(&lead, json!({"lead": "bbo"})).await;
    assert_eq!(code, 422);
    assert_eq!(
        body,
        json!({"error": "unknown person `bbo`; did you mean `bob`?", "field": "lead"})
    );
    let (code, body) = app.api_post(&lead, json!({"to": "bob"})).await;
    assert_eq!(code, 400, "{body}");
    // Authenticated like the other API calls.
    let (code, _) = app.post(&lead, "not-the-token", json!({"lead": "alice"})).await;
    assert_eq!(code, 401);
    let (code, _) = app.api_post("/v1/alerts/999/lead", json!({"lead": "alice"})).await;
    assert_eq!(code, 404);

    // The timeline has the hand-over; a resolved alert keeps its lead.
    let (code, _) = app.api_post(&format!("/v1/alerts/{id}/resolve"), json!({})).await;
    assert_eq!(code, 200);
    let (code, body) = app.api_post(&lead, json!({"lead": "alice"})).await;
    assert_eq!(code, 409);
    assert_eq!(body["error"], format!("alert {id} is resolved: its lead stays bob"));
    assert_eq!(
        app.timeline_kinds(id).await,
        ["created", "acknowledged", "lead", "resolved"]
    );
    let (_, body) = app.api_get(&format!("/v1/alerts/{id}")).await;
    let handed = &body["timeline"][2]["detail"];
    assert_eq!(handed, &json!({"from": null, "to": "bob", "by": "alice"}));
    let (_, body) = app.api_get("/v1/alerts?status=resolved").await;
    assert_eq!(body["alerts"][0]["lead"], "bob");
    app.stop().await;
}
