//! The on-call ledger: what the engine records as time passes, on a real
//! SQLite file, stepped with given instants. Pay for a past month comes
//! from here, so a later edit of the rota files must not change it, and a
//! stretch the daemon was down for is filled in and marked.

use std::path::PathBuf;
use std::sync::Arc;

use expect_test::{Expect, expect};
use oncall::config;
use oncall::domain::alert::{Action, Event};
use oncall::domain::time::Span;
use oncall::engine::{Engine, Rules};
use oncall::links::Links;
use oncall::notify::{Channel, Channels, Notice, Receipt, SendFuture};
use oncall::settings::Settings;
use oncall::store::Store;
use oncall::store::sqlite::SqliteStore;

use crate::daemon::temp_dir;
use crate::support::{PEOPLE, at};

/// Takes every notice (so pages count as received).
struct Accept;

impl Channel for Accept {
    fn method(&self) -> oncall::domain::paging::Method {
        oncall::domain::paging::Method::Email
    }

    fn send<'a>(&'a self, _notice: &'a Notice) -> SendFuture<'a> {
        Box::pin(async { Ok(Receipt::default()) })
    }
}

fn team(members: &str) -> String {
    format!(
        "team: t\ntimezone: Europe/London\nhandoff_notices: []\nintake_key: k\n\
         rotas:\n  primary: {{members: [{members}], start: 2026-01-05T09:00, every: 1d}}\n"
    )
}

fn engine(store: Arc<SqliteStore>, team_yaml: &str) -> Engine {
    let loaded = config::load_texts(&[("people.yaml", PEOPLE), ("t.yaml", team_yaml)]);
    assert!(!loaded.has_errors());
    let settings = Settings::resolve(Default::default(), Default::default()).unwrap();
    let rules = Rules::new(Arc::new(loaded.schedule), settings.severities, settings.intensities);
    Engine::new(
        store,
        rules,
        Channels::new(vec![Arc::new(Accept) as Arc<dyn Channel>]),
        Links::new(vec![1; 32], None),
    )
}

fn open(dir: &std::path::Path) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(&dir.join("oncall.db")).unwrap())
}

fn close(engine: Engine, store: Arc<SqliteStore>) -> PathBuf {
    let path = store.path().to_path_buf();
    drop(engine);
    Arc::into_inner(store).unwrap().close().unwrap();
    path
}

/// The ledger over `[from, to)`, neighbours of one person and rota merged
/// (when both live or both reconstructed), one a line.
async fn render(store: &SqliteStore, from: &str, to: &str, expect: Expect) {
    let ledger = store.ledger(Span::new(at(from), at(to))).await.unwrap();
    let mut merged: Vec<(String, String, Span, bool)> = Vec::new();
    for r in ledger.rows {
        if let Some(last) = merged.last_mut()
            && last.0 == r.person
            && last.1 == r.rota
            && last.2.end == r.span.start
            && last.3 == r.reconstructed
        {
            last.2.end = r.span.end;
            continue;
        }
        merged.push((r.person, r.rota, r.span, r.reconstructed));
    }
    let mut out = String::new();
    for (person, rota, span, reconstructed) in merged {
        out.push_str(&format!(
            "{person} {rota} {} .. {}{}\n",
            span.start.format("%d %H:%M"),
            span.end.format("%d %H:%M"),
            if reconstructed { " (reconstructed)" } else { "" }
        ));
    }
    for p in ledger.pages {
        out.push_str(&format!(
            "page {} to {} at {} ({}), acknowledged by {}\n",
            p.alert,
            p.person,
            p.at.format("%d %H:%M"),
            p.severity,
            p.acknowledged_by.as_deref().unwrap_or("nobody")
        ));
    }
    expect.assert_eq(&out);
}

/// Recorded as time passes (up to the last quarter hour), with the
/// hand-off at 09:00 London (08:00 UTC): alice, then bob (day 147 of a daily
/// alice, bob rota). Editing the rota afterwards (the order swapped) changes
/// the future only: the recorded past, and so its pay, stays as it
/// happened; the quarter hour the restart fell in is marked reconstructed.
#[tokio::test]
async fn the_ledger_records_the_past_and_a_later_edit_does_not_rewrite_it() {
    let dir = temp_dir("ledger-edit");
    let store = open(&dir);
    let e = engine(store.clone(), &team("alice, bob"));
    // The first pass ever starts the ledger at its instant.
    e.run_once(at("2026-06-01T06:30:00Z")).await.unwrap();
    e.run_once(at("2026-06-01T07:10:00Z")).await.unwrap();
    e.run_once(at("2026-06-01T10:05:00Z")).await.unwrap();
    render(
        &store,
        "2026-06-01T00:00:00Z",
        "2026-06-02T00:00:00Z",
        expect![[r#"
            alice primary 01 06:30 .. 01 08:00
            bob primary 01 08:00 .. 01 10:00
        "#]],
    )
    .await;
    // Someone edits the rota: the order swapped. The daemon restarts on the
    // new files.
    close(e, store);
    let store = open(&dir);
    let e = engine(store.clone(), &team("bob, alice"));
    e.run_once(at("2026-06-01T10:20:00Z")).await.unwrap();
    e.run_once(at("2026-06-01T12:00:00Z")).await.unwrap();
    render(
        &store,
        "2026-06-01T00:00:00Z",
        "2026-06-02T00:00:00Z",
        expect![[r#"
            alice primary 01 06:30 .. 01 08:00
            bob primary 01 08:00 .. 01 10:00
            alice primary 01 10:00 .. 01 10:20 (reconstructed)
            alice primary 01 10:20 .. 01 12:00
        "#]],
    )
    .await;
    // `oncall pay --source ledger` reads it while the daemon holds the
    // database: the same rows, without the lock.
    let span = Span::new(at("2026-06-01T00:00:00Z"), at("2026-06-02T00:00:00Z"));
    let read = oncall::store::sqlite::read_ledger(store.path(), span).unwrap();
    assert_eq!(read, store.ledger(span).await.unwrap());
    assert_eq!(read.rows.len(), 8, "{read:#?}");
    close(e, store);
}

/// The daemon is down from 10:05 to 14:20: the stretch it missed is filled
/// from the rotas when it comes back, and marked reconstructed; from its
/// start on, recording is live again.
#[tokio::test]
async fn a_stretch_the_daemon_was_down_for_is_reconstructed_and_marked() {
    let dir = temp_dir("ledger-down");
    let store = open(&dir);
    let e = engine(store.clone(), &team("alice, bob"));
    e.run_once(at("2026-06-01T09:30:00Z")).await.unwrap();
    e.run_once(at("2026-06-01T10:05:00Z")).await.unwrap();
    close(e, store);
    let store = open(&dir);
    let e = engine(store.clone(), &team("alice, bob"));
    e.run_once(at("2026-06-01T14:20:00Z")).await.unwrap();
    e.run_once(at("2026-06-01T15:01:00Z")).await.unwrap();
    render(
        &store,
        "2026-06-01T00:00:00Z",
        "2026-06-02T00:00:00Z",
        expect![[r#"
            bob primary 01 09:30 .. 01 10:00
            bob primary 01 10:00 .. 01 14:20 (reconstructed)
            bob primary 01 14:20 .. 01 15:00
        "#]],
    )
    .await;
    close(e, store);
}

/// Pages received are in the ledger, with whether (and by whom) the alert
/// was acknowledged.
#[tokio::test]
async fn pages_received_are_recorded_with_their_acknowledgement() {
    let dir = temp_dir("ledger-pages");
    let store = open(&dir);
    let e = engine(store.clone(), &team("alice, bob"));
    let now = at("2026-06-01T09:30:00Z");
    let event = |key: &str| Event {
        team: "t".into(),
        action: Action::Trigger,
        dedup_key: key.into(),
        summary: key.into(),
        severity: "critical".into(),
        source: None,
        details: serde_json::json!({}),
        intake: "plain".into(),
        held: None,
    };
    store.ingest(vec![event("disk"), event("cpu")], now).await.unwrap();
    e.run_once(now).await.unwrap();
    store
        .acknowledge(1, Some("bob".into()), at("2026-06-01T09:35:00Z"))
        .await
        .unwrap();
    render(
        &store,
        "2026-06-01T09:00:00Z",
        "2026-06-01T10:00:00Z",
        expect![[r#"
            page 1 to bob at 01 09:30 (critical), acknowledged by bob
            page 2 to bob at 01 09:30 (critical), acknowledged by nobody
        "#]],
    )
    .await;
    close(e, store);
}

/// `oncall pay` for a past month: from the ledger by default, read beside
/// the running daemon. Editing the rota afterwards changes the forecast
/// from the rotas (`--source schedule`), never the recorded month.
#[tokio::test]
async fn pay_for_a_past_month_comes_from_the_ledger_and_survives_an_edit() {
    let dir = temp_dir("ledger-pay");
    let schedules = dir.join("schedules");
    std::fs::write(schedules.join("people.yaml"), PEOPLE).unwrap();
    std::fs::write(schedules.join("t.yaml"), team("alice, bob")).unwrap();
    std::fs::write(
        schedules.join("pay.yaml"),
        "currency: GBP\npayroll_timezone: Europe/London\nrotas:\n  t/primary: {rate: 2.00}\n",
    )
    .unwrap();
    let store = open(&dir);
    let e = engine(store.clone(), &team("alice, bob"));
    // The daemon runs through June (London time), passing now and then.
    e.run_once(at("2026-05-31T23:00:00Z")).await.unwrap();
    e.run_once(at("2026-06-15T12:00:00Z")).await.unwrap();
    e.run_once(at("2026-06-30T23:05:00Z")).await.unwrap();

    let pay = |source: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_oncall"))
            .args(["pay", "--month", "2026-06", "--format", "json", "--source", source])
            .arg("--schedules")
            .arg(&schedules)
            .arg("--database")
            .arg(dir.join("oncall.db"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                format!(
                    "{} {}h {}",
                    v["person"].as_str().unwrap(),
                    v["hours_total"].as_str().unwrap(),
                    v["amount"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    // June in London: 30 days of 24 hours, handed over daily at 09:00.
    let recorded = pay("ledger");
    expect![[r#"
        alice 360.000000h 720.00
        bob 360.000000h 720.00"#]]
    .assert_eq(&recorded);
    assert_eq!(
        pay("schedule"),
        recorded,
        "the rotas and the ledger agree before any edit"
    );

    // Carol replaces alice in the file, after the month is over.
    std::fs::write(schedules.join("t.yaml"), team("carol, bob")).unwrap();
    assert_eq!(pay("ledger"), recorded, "the recorded month does not change");
    expect![[r#"
        bob 360.000000h 720.00
        carol 360.000000h 720.00"#]]
    .assert_eq(&pay("schedule"));
    close(e, store);
}

/// Issue 9: shadowing is recorded apart (the shadow and whom they
/// followed), a shadow's copy of a page is not a page received, and
/// `oncall pay --source ledger` reports the shadow hours in their own
/// columns at `shadow_rate`, never in `hours_total`.
#[tokio::test]
async fn shadows_are_recorded_apart_and_paid_apart() {
    let dir = temp_dir("ledger-shadow");
    let schedules = dir.join("schedules");
    let team_yaml = "team: t\ntimezone: Europe/London\nhandoff_notices: []\nintake_key: k\n\
                     rotas:\n  primary: {members: [alice, bob], start: 2026-01-05T09:00, every: 1d, \
                     shadows: [{user: erin, of: alice}]}\n";
    std::fs::write(schedules.join("people.yaml"), PEOPLE).unwrap();
    std::fs::write(schedules.join("t.yaml"), team_yaml).unwrap();
    std::fs::write(
        schedules.join("pay.yaml"),
        "currency: GBP\npayroll_timezone: Europe/London\nshadow_rate: 0.50\nrotas:\n  t/primary: {rate: 2.00}\n",
    )
    .unwrap();
    let store = open(&dir);
    let e = engine(store.clone(), team_yaml);
    // 1 June 2026 (day 147: alice until 09:00 London, 08:00 UTC).
    e.run_once(at("2026-06-01T06:00:00Z")).await.unwrap();
    let event = Event {
        team: "t".into(),
        action: Action::Trigger,
        dedup_key: "disk".into(),
        summary: "disk".into(),
        severity: "critical".into(),
        source: None,
        details: serde_json::json!({}),
        intake: "plain".into(),
        held: None,
    };
    store.ingest(vec![event], at("2026-06-01T07:00:00Z")).await.unwrap();
    let report = e.run_once(at("2026-06-01T07:00:00Z")).await.unwrap();
    assert_eq!(report.attempts.len(), 2, "alice's page and erin's copy: {report:?}");
    e.run_once(at("2026-06-01T10:00:00Z")).await.unwrap();
    let ledger = store
        .ledger(Span::new(at("2026-06-01T00:00:00Z"), at("2026-06-02T00:00:00Z")))
        .await
        .unwrap();
    let rows: Vec<String> = ledger
        .rows
        .iter()
        .map(|r| {
            format!(
                "{} {}..{}{}",
                r.person,
                r.span.start.format("%H:%M"),
                r.span.end.format("%H:%M"),
                r.shadow_of
                    .as_deref()
                    .map(|of| format!(" shadowing {of}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            "alice 06:00..07:00",
            "erin 06:00..07:00 shadowing alice",
            "alice 07:00..08:00",
            "erin 07:00..08:00 shadowing alice",
            "bob 08:00..09:00",
            "bob 09:00..10:00",
        ]
    );
    let pages: Vec<&str> = ledger.pages.iter().map(|p| p.person.as_str()).collect();
    assert_eq!(pages, ["alice"], "a shadow's copy is not a page received");

    let o = std::process::Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["pay", "--month", "2026-06", "--format", "json", "--source", "ledger"])
        .arg("--schedules")
        .arg(&schedules)
        .arg("--database")
        .arg(dir.join("oncall.db"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{} on call {}h, {} pages; shadow {}h {}; amount {}",
                v["person"].as_str().unwrap(),
                v["hours_total"].as_str().unwrap(),
                v["pages"],
                v["hours_shadow"].as_str().unwrap(),
                v["shadow_pay"].as_str().unwrap(),
                v["amount"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            "alice on call 2.000000h, 1 pages; shadow 0.000000h 0.00; amount 4.00",
            "bob on call 2.000000h, 0 pages; shadow 0.000000h 0.00; amount 4.00",
            "erin on call 0.000000h, 0 pages; shadow 2.000000h 1.00; amount 1.00",
        ]
    );
    close(e, store);
}
