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
use oncall::engine::Engine;
use oncall::engine::rules::Rules;
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
        "team: t\ntimezone: Europe/London\nhandoff_notices: []\nintake_key: ledger-key-0123456789\n\
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

/// The daemon's monthly export, stepped with given instants: early on the
/// 1st (06:00 London) it writes last month's pay from the ledger, per
/// person and per rota, the same bytes `oncall pay` prints, and emails them
/// to payroll through a real SMTP server. It waits for the ledger to be
/// recorded through the month's end; an SMTP server that is down is tried
/// again; each month is written once, across restarts; months missed while
/// the daemon was down are written, oldest first, when it comes back.
#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_writes_last_months_pay_export_once_early_on_the_first() {
    use oncall::payroll::{CURSOR, Outcome, PayExport};

    let dir = temp_dir("pay-export");
    let schedules = dir.join("schedules");
    std::fs::write(schedules.join("people.yaml"), PEOPLE).unwrap();
    std::fs::write(schedules.join("t.yaml"), team("alice, bob")).unwrap();
    std::fs::write(
        schedules.join("pay.yaml"),
        "currency: GBP\npayroll_timezone: Europe/London\nrotas:\n  t/primary: {rate: 2.00, shift_fee: 5}\n",
    )
    .unwrap();
    let port = crate::notify::free_port();
    let toml = format!(
        "{}\n[pay_export]\nemail = [\"payroll@example.com\"]\n",
        crate::notify::email_config(port, "")
    );
    let file: oncall::settings::File = toml::from_str(&toml).unwrap();
    let overrides = oncall::settings::Overrides {
        database: Some(dir.join("oncall.db")),
        ..Default::default()
    };
    let settings = Settings::resolve(file, overrides).unwrap();
    assert_eq!(settings.pay_export.directory, dir.join("pay"), "next to the database");
    let exporter = |store: &Arc<SqliteStore>| {
        let email = oncall::notify::EmailChannel::new(settings.notify.email.as_ref().unwrap()).unwrap();
        PayExport::new(
            store.clone(),
            schedules.clone(),
            settings.pay_export.clone(),
            Some(Arc::new(email)),
        )
    };
    let june = oncall::domain::pay::Month { year: 2026, month: 6 };
    let file_of = |name: &str| dir.join("pay").join(name);

    let store = open(&dir);
    let e = engine(store.clone(), &team("alice, bob"));
    let x = exporter(&store);
    // The first start, in June: May is not the daemon's to export.
    e.run_once(at("2026-06-01T00:10:00Z")).await.unwrap();
    let first_due = at("2026-07-01T05:00:00Z"); // 06:00 BST
    assert_eq!(
        x.run_once(at("2026-06-01T00:10:00Z")).await.unwrap(),
        Outcome::Idle { next: first_due }
    );
    e.run_once(at("2026-06-20T12:00:00Z")).await.unwrap();
    assert_eq!(
        x.run_once(first_due - chrono::Duration::seconds(1)).await.unwrap(),
        Outcome::Idle { next: first_due }
    );
    // Due, but the ledger is recorded only to 20 June: it waits.
    let Outcome::Waiting { month, recorded } = x.run_once(first_due).await.unwrap() else {
        panic!("expected to wait for the ledger")
    };
    assert_eq!((month, recorded), (june, Some(at("2026-06-20T12:00:00Z"))));
    assert!(!file_of("pay-2026-06.csv").exists());

    // The engine catches up; the SMTP server is down: the files are
    // written, the email fails, the month is not done.
    e.run_once(first_due).await.unwrap();
    let err = x.run_once(first_due).await.unwrap_err().to_string();
    assert!(err.contains("emailing pay-2026-06.csv"), "{err}");
    assert_eq!(store.cursor(CURSOR).await.unwrap(), Some(june.previous().index()));

    let smtp = crate::notify::Smtp::start(&dir, port, &[]).await;
    let later = first_due + chrono::Duration::minutes(5);
    let Outcome::Wrote { month, files } = x.run_once(later).await.unwrap() else {
        panic!("expected the export")
    };
    assert_eq!(month, june);
    assert_eq!(
        files,
        vec![file_of("pay-2026-06.csv"), file_of("pay-2026-06-by-rota.csv")]
    );

    // The files are what `oncall pay` prints for the month.
    let cli = |extra: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_oncall"))
            .args(["pay", "--month", "2026-06"])
            .args(extra)
            .arg("--schedules")
            .arg(&schedules)
            .arg("--database")
            .arg(dir.join("oncall.db"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // Recorded through its end, not from its start.
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            "oncall pay: the ledger begins at 2026-06-01T00:10:00Z: the daemon recorded nothing of 2026-06 before that\n"
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let per_person = std::fs::read_to_string(file_of("pay-2026-06.csv")).unwrap();
    assert_eq!(per_person, cli(&[]));
    assert_eq!(
        std::fs::read_to_string(file_of("pay-2026-06-by-rota.csv")).unwrap(),
        cli(&["--by", "rota"])
    );
    // June in London starts at 23:00 UTC on 31 May; recording began at
    // 00:10, so alice (on call then) misses 1 h 10 min, and her shift
    // running at that moment counts as starting then: 16 fees to bob's 15.
    let amounts: Vec<String> = per_person
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            format!("{} {} {} {}", c[1], c[4], c[12], c[21])
        })
        .collect();
    expect![[r#"
        [
            "alice 358.833333 16 797.67",
            "bob 360.000000 15 795.00",
        ]
    "#]]
    .assert_debug_eq(&amounts);

    // Emailed: one message per file, the file attached.
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2, "{}", smtp.log());
    // (The Maildir's order is not the order of arrival.)
    let mut names = Vec::new();
    for raw in &messages {
        use mailparse::MailHeaderMap as _;
        let mail = mailparse::parse_mail(raw).unwrap();
        assert_eq!(mail.ctype.mimetype, "multipart/mixed");
        let attachment = &mail.subparts[1];
        assert_eq!(attachment.ctype.mimetype, "text/csv");
        let name = attachment.get_content_disposition().params["filename"].clone();
        assert_eq!(mail.headers.get_first_value("To").unwrap(), "payroll@example.com");
        assert_eq!(
            mail.headers.get_first_value("Subject").unwrap(),
            format!("On-call pay export for 2026-06: {name}")
        );
        assert_eq!(
            attachment.get_body().unwrap().replace("\r\n", "\n"),
            std::fs::read_to_string(file_of(&name)).unwrap()
        );
        names.push(name);
    }
    names.sort();
    assert_eq!(names, ["pay-2026-06-by-rota.csv", "pay-2026-06.csv"]);

    // Once: not again later that day, nor after a restart (a file removed
    // by hand stays removed).
    assert_eq!(
        x.run_once(later + chrono::Duration::hours(1)).await.unwrap(),
        Outcome::Idle {
            next: at("2026-08-01T05:00:00Z")
        }
    );
    drop(x);
    close(e, store);
    std::fs::remove_file(file_of("pay-2026-06-by-rota.csv")).unwrap();
    let store = open(&dir);
    let e = engine(store.clone(), &team("alice, bob"));
    let x = exporter(&store);
    e.run_once(later + chrono::Duration::hours(2)).await.unwrap();
    assert!(matches!(
        x.run_once(later + chrono::Duration::hours(2)).await.unwrap(),
        Outcome::Idle { .. }
    ));
    assert!(!file_of("pay-2026-06-by-rota.csv").exists());
    drop(x);
    close(e, store);

    // Down from 2 July to 3 September: July and August are filled in from
    // the rotas, then exported one after the other.
    let store = open(&dir);
    let e = engine(store.clone(), &team("alice, bob"));
    let x = exporter(&store);
    let back = at("2026-09-03T10:00:00Z");
    e.run_once(back).await.unwrap();
    let mut written = Vec::new();
    while let Outcome::Wrote { month, .. } = x.run_once(back).await.unwrap() {
        written.push(month.label());
    }
    assert_eq!(written, ["2026-07", "2026-08"]);
    assert_eq!(smtp.messages().len(), 6);
    assert!(cli(&[]).contains("alice"));
    assert!(file_of("pay-2026-08.csv").exists());
    drop(x);
    close(e, store);
}

/// Whether a page is out of hours comes from pay.yaml's `working_hours`
/// (default Monday to Friday, 09:00 to 17:00), in the person's own zone: a
/// page at 10:30 on a Monday in London is in hours by default, out of hours
/// for a team that works 11:00 to 19:00; acknowledged, it is a call-out.
#[tokio::test]
async fn working_hours_in_pay_yaml_decide_which_pages_are_out_of_hours() {
    let dir = temp_dir("ledger-hours");
    let schedules = dir.join("schedules");
    std::fs::write(schedules.join("people.yaml"), PEOPLE).unwrap();
    std::fs::write(schedules.join("t.yaml"), team("alice, bob")).unwrap();
    let store = open(&dir);
    let e = engine(store.clone(), &team("alice, bob"));
    let now = at("2026-06-01T09:30:00Z"); // Monday, 10:30 in London
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
    e.run_once(at("2026-06-01T00:00:00Z")).await.unwrap();
    store.ingest(vec![event], now).await.unwrap();
    e.run_once(now).await.unwrap();
    store
        .acknowledge(1, Some("bob".into()), at("2026-06-01T09:35:00Z"))
        .await
        .unwrap();
    e.run_once(at("2026-07-01T00:00:00Z")).await.unwrap();
    let pay = |working_hours: &str| {
        std::fs::write(
            schedules.join("pay.yaml"),
            format!(
                "currency: GBP\npayroll_timezone: Europe/London\nrotas:\n  t/primary: {{rate: 0}}\n\
                 callout: {{fee: 25}}\n{working_hours}"
            ),
        )
        .unwrap();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_oncall"))
            .args(["pay", "--month", "2026-06", "--format", "json"])
            .arg("--schedules")
            .arg(&schedules)
            .arg("--database")
            .arg(dir.join("oncall.db"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let stdout = String::from_utf8(o.stdout).unwrap();
        let bob = stdout
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| v["person"] == "bob")
            .unwrap();
        format!(
            "pages {} out of hours {} callouts {} amount {}",
            bob["pages"], bob["pages_out_of_hours"], bob["callouts"], bob["amount"]
        )
    };
    assert_eq!(pay(""), "pages 1 out of hours 0 callouts 0 amount \"0.00\"");
    assert_eq!(
        pay("working_hours: {days: weekdays, from: \"11:00\", to: \"19:00\"}\n"),
        "pages 1 out of hours 1 callouts 1 amount \"25.00\""
    );
    assert_eq!(
        pay("working_hours: [{days: [mon], from: \"10:00\", to: \"11:00\"}]\n"),
        "pages 1 out of hours 0 callouts 0 amount \"0.00\""
    );
    close(e, store);
}

/// `oncall burden` from the ledger: the hours recorded, and the pages each
/// person received, those at night (22:00 to 07:00 in their own zone)
/// counted apart.
#[tokio::test]
async fn burden_counts_pages_and_night_pages_from_the_ledger() {
    let dir = temp_dir("ledger-burden");
    let schedules = dir.join("schedules");
    std::fs::write(schedules.join("people.yaml"), PEOPLE).unwrap();
    std::fs::write(schedules.join("t.yaml"), team("alice, bob")).unwrap();
    let store = open(&dir);
    let e = engine(store.clone(), &team("alice, bob"));
    e.run_once(at("2026-06-01T00:00:00Z")).await.unwrap();
    // bob holds 1 June 09:00 to 2 June 09:00 (London): paged at 10:30 and
    // at 02:00 (01:00 UTC) in the night that follows.
    for (key, when) in [("disk", "2026-06-01T09:30:00Z"), ("cpu", "2026-06-02T01:00:00Z")] {
        let event = Event {
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
        store.ingest(vec![event], at(when)).await.unwrap();
        e.run_once(at(when)).await.unwrap();
    }
    e.run_once(at("2026-06-03T00:00:00Z")).await.unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args([
            "burden",
            "--from",
            "2026-06-01T00:00:00Z",
            "--to",
            "2026-06-03T00:00:00Z",
        ])
        .arg("--schedules")
        .arg(&schedules)
        .arg("--database")
        .arg(dir.join("oncall.db"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    expect![[r#"
        on-call burden from 2026-06-01T00:00:00Z to 2026-06-03T00:00:00Z
        TEAM        PERSON           HOURS    WEEKEND    HOLIDAY     SHADOW  PAGES  NIGHT PAGES   SHARE
        t           alice            24.00       0.00       0.00       0.00      0            0   1.00x
        t           bob              24.00       0.00       0.00       0.00      2            1   1.00x
    "#]]
    .assert_eq(&String::from_utf8(o.stdout).unwrap());
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
    let team_yaml = "team: t\ntimezone: Europe/London\nhandoff_notices: []\nintake_key: ledger-key-0123456789\n\
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
