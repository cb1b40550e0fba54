//! The paging engine, stepped with a manual clock over a real store:
//! data-driven scenarios, each run on SQLite and then on PostgreSQL (the
//! same expected log; see `pg.rs` for a machine without PostgreSQL). Each case is a team file and a script of what
//! happens when (alerts, acknowledgements, provider faults, restarts); the
//! harness runs engine passes exactly when the store says something is due,
//! as the daemon's loop does, and prints every delivery attempt.
//!
//! Deliveries go to a recording channel: the engine's boundary with the
//! outside world. The real channels against real servers are tested in
//! `notify.rs` and `paging_daemon.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{Duration, Timelike};
use expect_test::{Expect, expect};
use oncall::config;
use oncall::domain::alert::{Action, AlertId, Event, Outcome};
use oncall::domain::paging::{Backoff, Method};
use oncall::domain::time::{Instant, Span};
use oncall::engine::Engine;
use oncall::engine::ledger::Ledger;
use oncall::engine::outbox::AttemptOutcome;
use oncall::engine::rules::Rules;
use oncall::links::Links;
use oncall::notify::{Channel, Channels, Notice, Receipt, SendError, SendFuture, What};
use oncall::settings::{File, Overrides, Settings};
use oncall::store::Store;
use oncall::store::postgres::PgStore;
use oncall::store::sqlite::SqliteStore;
use serde_json::json;

use crate::daemon::temp_dir;
use crate::support::at;

const PEOPLE: &str = "people:
  alice: {name: Alice, email: alice@example.com, phone: '+447700900001', push: 'ntfy:alice', notify: [push]}
  bob: {name: Bob, email: bob@example.com, phone: '+447700900002', push: 'ntfy:bob', notify: [push]}
  carol: {name: Carol, email: carol@example.com, push: 'ntfy:carol', notify: [push]}
  dave: {name: Dave, email: dave@example.com, phone: '+447700900004', push: 'ntfy:dave', timezone: Europe/London,
         notify: [push, sms after 2m, email after 5m], quiet_hours: {from: '22:00', to: '07:00'}}
  zoe: {name: Zoe, email: zoe@example.com, push: 'ntfy:zoe', notify: [push]}
";

/// What the recording channel does on its next sends for a method.
#[derive(Clone, Debug)]
enum Fault {
    Retryable,
    Permanent,
}

#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<Notice>>,
    faults: Mutex<BTreeMap<Method, VecDeque<Fault>>>,
}

struct RecordingChannel {
    method: Method,
    recorder: Arc<Recorder>,
}

impl Channel for RecordingChannel {
    fn method(&self) -> Method {
        self.method
    }

    fn send<'a>(&'a self, notice: &'a Notice) -> SendFuture<'a> {
        let fault = self
            .recorder
            .faults
            .lock()
            .unwrap()
            .get_mut(&self.method)
            .and_then(|q| q.pop_front());
        let result = match fault {
            Some(Fault::Retryable) => Err(SendError::Retryable("provider answered 503".into())),
            Some(Fault::Permanent) => Err(SendError::Permanent("provider refused the number".into())),
            None => {
                self.recorder.sent.lock().unwrap().push(notice.clone());
                Ok(Receipt {
                    reference: Some(format!("ref-{}", notice.id)),
                })
            }
        };
        Box::pin(async move { result })
    }
}

/// Where a scenario's store lives.
#[derive(Clone, Debug)]
enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Db {
    fn open(&self) -> Arc<dyn Store> {
        match self {
            Db::Sqlite(dir) => Arc::new(SqliteStore::open(&dir.join("oncall.db")).unwrap()),
            Db::Postgres(url) => Arc::new(PgStore::open(url).unwrap()),
        }
    }

    /// A store to hold while the real one is closed (SQLite's lock allows
    /// one store per file).
    fn placeholder(&self) -> Arc<dyn Store> {
        match self {
            Db::Sqlite(dir) => Arc::new(SqliteStore::open(&dir.join("other.db")).unwrap()),
            Db::Postgres(_) => self.open(),
        }
    }
}

struct Sim {
    db: Db,
    files: Vec<(String, String)>,
    store: Arc<dyn Store>,
    engine: Engine,
    recorder: Arc<Recorder>,
    keys: BTreeMap<String, AlertId>,
    log: String,
}

impl Sim {
    fn new(db: Db, team_yaml: &str) -> Sim {
        let files = vec![
            ("people.yaml".to_string(), PEOPLE.to_string()),
            ("t.yaml".to_string(), team_yaml.to_string()),
        ];
        let store = db.open();
        let recorder = Arc::new(Recorder::default());
        let engine = Sim::engine(&files, store.clone(), recorder.clone());
        Sim {
            db,
            files,
            store,
            engine,
            recorder,
            keys: BTreeMap::new(),
            log: String::new(),
        }
    }

    fn engine(files: &[(String, String)], store: Arc<dyn Store>, recorder: Arc<Recorder>) -> Engine {
        let texts: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        let loaded = config::load_texts(&texts);
        let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
        assert!(errors.is_empty(), "unexpected errors:\n{}", errors.join("\n"));
        let settings = Settings::resolve(File::default(), Overrides::default()).unwrap();
        let rules = Rules::new(
            Arc::new(loaded.schedule),
            settings.severities.clone(),
            settings.intensities.clone(),
        );
        let channels = Channels::new(
            Method::ALL
                .into_iter()
                .map(|method| {
                    Arc::new(RecordingChannel {
                        method,
                        recorder: recorder.clone(),
                    }) as Arc<dyn Channel>
                })
                .collect(),
        );
        Engine::new(store, rules, channels, Links::new(vec![7; 32], None)).with_backoff(Backoff {
            first: Duration::seconds(30),
            max: Duration::minutes(4),
            attempts: 3,
        })
    }

    /// Applies one scripted action at `now`.
    async fn act(&mut self, now: Instant, action: &str) {
        let words: Vec<&str> = action.split_whitespace().collect();
        match words.as_slice() {
            ["trigger", key, severity] => {
                let outcome = self.event(Action::Trigger, key, severity, now).await;
                if let Outcome::Created(id) = outcome {
                    self.keys.insert(key.to_string(), id);
                }
            }
            ["ack", key, by] => {
                let id = self.keys[*key];
                self.store
                    .acknowledge(id, Some(by.to_string()), now)
                    .await
                    .unwrap()
                    .unwrap();
            }
            ["resolve", key] => {
                let id = self.keys[*key];
                self.store.resolve(id, None, now).await.unwrap().unwrap();
            }
            ["fail", method, kind, times] => {
                let method = Method::parse(method).unwrap();
                let fault = match *kind {
                    "retryable" => Fault::Retryable,
                    _ => Fault::Permanent,
                };
                let n: usize = times.parse().unwrap();
                self.recorder
                    .faults
                    .lock()
                    .unwrap()
                    .entry(method)
                    .or_default()
                    .extend(std::iter::repeat_n(fault, n));
            }
            ["restart"] => {
                // A new store and engine on the same database file, as after a
                // crash: nothing in memory survives.
                let placeholder = self.db.placeholder();
                let old = std::mem::replace(&mut self.store, placeholder);
                drop(std::mem::replace(
                    &mut self.engine,
                    Sim::engine(&self.files, self.store.clone(), self.recorder.clone()),
                ));
                // The last reference: dropping it closes the store.
                assert_eq!(Arc::strong_count(&old), 1, "the only reference");
                drop(old);
                self.store = self.db.open();
                self.engine = Sim::engine(&self.files, self.store.clone(), self.recorder.clone());
                self.log.push_str(&format!("{} restart\n", hm(now)));
            }
            // A pass that claims what is due and dies before delivering it
            // (the process is killed mid-pass), then a restart.
            ["crash-while-delivering"] => {
                let claimed = self.engine.pass(now).await.unwrap();
                self.log.push_str(&format!(
                    "{} crash with {} message(s) claimed\n",
                    hm(now),
                    claimed.messages.len()
                ));
                Box::pin(self.act(now, "restart")).await;
            }
            // Nothing but a pass at this instant (the daemon's loop passes
            // at least every 30 seconds; hand-off notices need no row due).
            ["tick"] => {}
            _ => panic!("unknown action {action:?}"),
        }
    }

    async fn event(&self, action: Action, key: &str, severity: &str, now: Instant) -> Outcome {
        let event = Event {
            team: "t".into(),
            action,
            dedup_key: key.into(),
            summary: format!("{key} is failing"),
            severity: severity.into(),
            source: None,
            details: json!({}),
            intake: "plain".into(),
            held: None,
        };
        self.store.ingest(vec![event], now).await.unwrap()[0]
    }

    /// One pass at `now`, logging every attempt.
    async fn pass(&mut self, now: Instant) {
        let report = self.engine.run_once(now).await.unwrap();
        let sent: Vec<Notice> = std::mem::take(&mut *self.recorder.sent.lock().unwrap());
        let mut sent = sent.into_iter();
        for attempt in report.attempts {
            let ids: Vec<i64> = attempt.ids.clone();
            let what = match &attempt.outcome {
                AttemptOutcome::Sent { .. } => {
                    let notice = sent.next().expect("a sent notice for each success");
                    format!(
                        "{} {} {}",
                        notice.person,
                        notice.method,
                        describe(&notice.what, &self.keys)
                    )
                }
                AttemptOutcome::Retry { at, error } => {
                    let n = self.notification(ids[0]).await;
                    format!("{} {} failed: {error}; retry at {}", n.0, n.1, hm(*at))
                }
                AttemptOutcome::Failed { error } => {
                    let n = self.notification(ids[0]).await;
                    format!("{} {} gave up: {error}", n.0, n.1)
                }
            };
            self.log.push_str(&format!("{} {what}\n", hm(now)));
        }
    }

    async fn notification(&self, id: i64) -> (String, Method) {
        for alert in self.keys.values() {
            for n in self.store.notifications(*alert).await.unwrap() {
                if n.id == id {
                    return (n.person, n.method);
                }
            }
        }
        panic!("no notification {id}")
    }

    /// Runs the script, then passes until `until`, each exactly when
    /// something is due (or a scripted action happens).
    async fn run(self, start: &str, script: &[(&str, &str)], until: &str) -> String {
        self.run_with_ledger(start, script, until).await.0
    }

    /// As [`Sim::run`], with the ledger the engine recorded over the day
    /// before the start to the day after `until`.
    async fn run_with_ledger(mut self, start: &str, script: &[(&str, &str)], until: &str) -> (String, Ledger) {
        let start = at(start);
        let day = start - Duration::seconds(i64::from(start.num_seconds_from_midnight()));
        // HH:MM or HH:MM:SS after the start's midnight; hours may pass 24.
        let when = |t: &str| -> Instant {
            let parts: Vec<i64> = t.split(':').map(|p| p.parse().unwrap()).collect();
            day + Duration::hours(parts[0])
                + Duration::minutes(parts[1])
                + Duration::seconds(*parts.get(2).unwrap_or(&0))
        };
        let until = when(until);
        let mut script: VecDeque<(Instant, &str)> = script.iter().map(|(t, a)| (when(t), *a)).collect();
        let mut passes = 0;
        let mut now = start;
        loop {
            while let Some((t, action)) = script.front().copied()
                && t <= now
            {
                script.pop_front();
                self.act(now, action).await;
            }
            self.pass(now).await;
            passes += 1;
            assert!(passes < 1000, "the engine does not settle");
            let due = self.store.next_due().await.unwrap();
            let next_script = script.front().map(|(t, _)| *t);
            // Something due already (a method brought forward by a
            // fail-over): another pass at the same instant, as the loop does.
            let next = [due.map(|d| d.max(now)), next_script].into_iter().flatten().min();
            match next {
                Some(t) if t <= until => now = t,
                _ => break,
            }
        }
        let span = Span::new(start - Duration::days(1), until + Duration::days(1));
        let ledger = self.store.ledger(span).await.unwrap();
        (self.log, ledger)
    }
}

fn hm(t: Instant) -> String {
    t.format("%H:%M:%S").to_string()
}

fn describe(what: &What, keys: &BTreeMap<String, AlertId>) -> String {
    let name = |id: AlertId| {
        keys.iter()
            .find(|(_, v)| **v == id)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| id.to_string())
    };
    match what {
        What::Page { alerts } => {
            let names: Vec<String> = alerts.iter().map(|a| name(a.id)).collect();
            let shadow = match alerts.iter().find_map(|a| a.shadow_of.as_deref()) {
                Some(of) => format!(" (shadow copy, shadowing {of})"),
                None => String::new(),
            };
            format!("[{}]{shadow}", names.join(" "))
        }
        What::Announce(a) => format!(
            "announce {} [{}] lead {}",
            a.event,
            name(a.alert),
            a.lead.as_deref().unwrap_or("-")
        ),
        What::Handoff { rota, ahead, .. } => format!("hand-off {rota}{}", if *ahead { " tomorrow" } else { "" }),
    }
}

async fn check(team: &str, start: &str, script: &[(&str, &str)], until: &str, expect: Expect) {
    let team = format!("team: t\ntimezone: Europe/London\nhandoff_notices: []\n{team}");
    let mut ledgers = Vec::new();
    for db in dbs() {
        let (log, ledger) = Sim::new(db, &team).run_with_ledger(start, script, until).await;
        expect.assert_eq(&log);
        ledgers.push(ledger);
    }
    // The backends recorded the same ledger (who was on call, the pages
    // received), and one worth comparing.
    assert!(
        !ledgers[0].rows.is_empty() || !ledgers[0].pages.is_empty(),
        "{:?}",
        ledgers[0]
    );
    for other in &ledgers[1..] {
        assert_eq!(other, &ledgers[0]);
    }
}

/// The stores a scenario runs on: SQLite, then PostgreSQL where there is one.
fn dbs() -> Vec<Db> {
    let mut dbs = vec![Db::Sqlite(temp_dir("paging"))];
    dbs.extend(crate::pg::fresh_database("paging").map(Db::Postgres));
    dbs
}

/// Hand-off notices: a day before a shift starts, and when it starts, to
/// the person taking over; once each, however often the engine passes.
#[tokio::test]
async fn hand_off_notices_come_a_day_before_and_at_the_start() {
    let team = "team: t\ntimezone: Europe/London\nhandoff_notices: [start, day_before]\n\
                rotas:\n  primary: {members: [alice, bob], start: 2026-01-05T09:00, every: 1w}\n";
    // Monday 2026-06-01 09:00 London (08:00 UTC): alice hands over to bob.
    for db in dbs() {
        let log = Sim::new(db, team)
            .run(
                "2026-05-31T07:00:00Z",
                &[
                    ("07:30", "tick"),
                    ("08:00", "tick"),
                    ("08:00:30", "tick"),
                    ("31:59", "tick"),
                    ("32:00", "tick"),
                    ("32:00:30", "tick"),
                ],
                "33:00",
            )
            .await;
        expect![[r#"
            08:00:00 bob push hand-off primary tomorrow
            08:00:00 bob push hand-off primary
        "#]]
        .assert_eq(&log);
    }
}

/// Three steps, repeated once, nobody answers: the chain runs twice and
/// stops.
#[tokio::test]
async fn a_chain_of_three_steps_with_repeat() {
    check(
        "rotas:\n  primary: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n\
         escalation:\n  repeat: 1\n  steps:\n    - notify: [rota:primary]\n    - {after: 10m, notify: [user:bob]}\n    - {after: 10m, notify: [user:carol]}\n",
        "2026-06-01T09:00:00Z",
        &[("09:00", "trigger disk critical")],
        "12:00",
        expect![[r#"
            09:00:00 alice push [disk]
            09:10:00 bob push [disk]
            09:20:00 carol push [disk]
            09:30:00 alice push [disk]
            09:40:00 bob push [disk]
            09:50:00 carol push [disk]
        "#]],
    )
    .await;
}

/// An acknowledgement between steps stops the chain; a later resolve
/// changes nothing more.
#[tokio::test]
async fn acknowledgement_in_the_middle_stops_the_escalation() {
    check(
        "rotas:\n  primary: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n\
         escalation:\n  repeat: 3\n  steps:\n    - notify: [rota:primary]\n    - {after: 10m, notify: [user:bob]}\n    - {after: 10m, notify: [user:carol]}\n",
        "2026-06-01T09:00:00Z",
        &[
            ("09:00", "trigger disk critical"),
            ("09:12", "ack disk bob"),
            ("10:00", "resolve disk"),
        ],
        "12:00",
        expect![[r#"
            09:00:00 alice push [disk]
            09:10:00 bob push [disk]
        "#]],
    )
    .await;
}

/// An acknowledgement that times out reopens the alert and pages from the
/// first step again.
#[tokio::test]
async fn an_acknowledgement_times_out_and_pages_again() {
    check(
        "rotas:\n  primary: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n\
         escalation:\n  ack_timeout: 30m\n  steps:\n    - notify: [rota:primary]\n    - {after: 10m, notify: [user:bob]}\n",
        "2026-06-01T09:00:00Z",
        &[("09:00", "trigger disk critical"), ("09:05", "ack disk alice")],
        "10:00",
        expect![[r#"
            09:00:00 alice push [disk]
            09:35:00 alice push [disk]
            09:45:00 bob push [disk]
        "#]],
    )
    .await;
}

/// Issue 7: an acknowledgement made after the chain's last step fired
/// still times out (the escalation was over, so nothing used to watch it).
#[tokio::test]
async fn issue_7_an_acknowledgement_after_the_last_step_still_times_out() {
    check(
        "rotas:\n  primary: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n\
         escalation:\n  ack_timeout: 30m\n  steps:\n    - notify: [rota:primary]\n",
        "2026-06-01T09:00:00Z",
        &[("09:00", "trigger disk critical"), ("09:05", "ack disk alice")],
        "10:00",
        expect![[r#"
            09:00:00 alice push [disk]
            09:35:00 alice push [disk]
        "#]],
    )
    .await;
}

/// The rota hands over (Monday 09:00 London, 08:00 UTC) between the first
/// and the second step: the second step pages the new person on call.
#[tokio::test]
async fn a_hand_off_between_two_steps_pages_the_new_on_caller() {
    check(
        "rotas:\n  primary: {members: [alice, bob], start: 2026-01-05T09:00, every: 1w}\n\
         escalation:\n  - notify: [rota:primary]\n  - {after: 10m, notify: [rota:primary]}\n",
        "2026-06-01T00:00:00Z",
        &[("07:55", "trigger disk critical")],
        "09:00",
        expect![[r#"
            07:55:00 alice push [disk]
            08:05:00 bob push [disk]
        "#]],
    )
    .await;
}

/// Dave's rules: push at once, SMS after 2 minutes, email after 5, and
/// quiet from 22:00 to 07:00 in London. A minor alert (email only, waits
/// for quiet hours to end) at 23:30 London waits until 07:00; a critical
/// one pages at once on every method until acknowledged.
#[tokio::test]
async fn quiet_hours_hold_minor_alerts_but_not_critical_ones() {
    check(
        "rotas:\n  primary: {members: [dave], start: 2026-01-05T09:00, every: 1w}\n",
        "2026-06-01T00:00:00Z",
        &[
            ("22:30", "trigger backup minor"),
            ("22:31", "trigger disk critical"),
            ("22:34", "ack disk dave"),
        ],
        "30:00",
        expect![[r#"
            22:31:00 dave push [disk]
            22:33:00 dave sms [disk]
            06:00:00 dave email [backup]
        "#]],
    )
    .await;
}

/// A round-robin step pages one target per alert, in turn.
#[tokio::test]
async fn round_robin_takes_turns_across_alerts() {
    check(
        "rotas:\n  primary: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n\
         escalation:\n  - {notify: [user:alice, user:bob, user:carol], round_robin: true}\n",
        "2026-06-01T09:00:00Z",
        &[
            ("09:00", "trigger a critical"),
            ("09:01", "trigger b critical"),
            ("09:02", "trigger c critical"),
            ("09:03", "trigger d critical"),
        ],
        "10:00",
        expect![[r#"
            09:00:00 alice push [a]
            09:01:00 bob push [b]
            09:02:00 carol push [c]
            09:03:00 alice push [d]
        "#]],
    )
    .await;
}

/// A storm: alerts due together for one destination go as one message, and
/// a destination that just had a message waits for the gap (20 seconds for
/// push) and then gets the rest as one bundle.
#[tokio::test]
async fn a_storm_is_throttled_and_bundled() {
    let script = [
        ("09:00", "trigger a critical"),
        ("09:00", "trigger b critical"),
        ("09:00", "trigger c critical"),
        ("09:00:05", "trigger d critical"),
        ("09:00:06", "trigger e critical"),
        ("09:00:07", "trigger f critical"),
        ("09:00:30", "trigger g critical"),
    ];
    check(
        "rotas:\n  primary: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n",
        "2026-06-01T09:00:00Z",
        &script,
        "10:00",
        expect![[r#"
            09:00:00 alice push [a b c]
            09:00:20 alice push [d e f]
            09:00:40 alice push [g]
        "#]],
    )
    .await;
}

/// The provider fails: retryable failures are retried with backoff; when a
/// method has had all its attempts, the next method comes forward at once.
#[tokio::test]
async fn failed_deliveries_retry_then_fail_over_to_the_next_method() {
    check(
        "rotas:\n  primary: {members: [dave], start: 2026-01-05T09:00, every: 1w}\n",
        "2026-06-01T09:00:00Z",
        &[
            ("09:00", "fail push retryable 3"),
            ("09:00", "trigger disk critical"),
            ("09:30", "ack disk dave"),
        ],
        "10:00",
        expect![[r#"
            09:00:00 dave push failed: provider answered 503; retry at 09:00:27
            09:00:28 dave push failed: provider answered 503; retry at 09:01:35
            09:01:36 dave push gave up: provider answered 503
            09:01:36 dave sms [disk]
            09:05:00 dave email [disk]
        "#]],
    )
    .await;
}

/// Issue 7 (found by scripts/soak): pages bundled into one failed message
/// each keep their own attempts and backoff: the fresh one is not given up
/// with the old one, and the old one is not retried at the fresh one's pace.
#[tokio::test]
async fn issue_7_a_fresh_page_bundled_with_an_exhausted_one_is_retried() {
    check(
        "rotas:\n  primary: {members: [dave], start: 2026-01-05T09:00, every: 1w}\n",
        "2026-06-01T09:00:00Z",
        &[
            ("09:00", "fail push retryable 3"),
            ("09:00", "trigger disk critical"),
            // When the disk page's retry is due (09:00:27 and a fraction, taken at
            // 09:00:28): the two are bundled.
            ("09:00:28", "trigger cpu critical"),
            ("09:30", "ack disk dave"),
            ("09:30", "ack cpu dave"),
        ],
        "10:00",
        expect![[r#"
            09:00:00 dave push failed: provider answered 503; retry at 09:00:27
            09:00:28 dave push failed: provider answered 503; retry at 09:00:58
            09:00:28 dave push failed: provider answered 503; retry at 09:01:35
            09:00:59 dave push failed: provider answered 503; retry at 09:02:07
            09:01:36 dave push [disk]
            09:02:00 dave sms [disk]
            09:02:08 dave push [cpu]
            09:03:00 dave sms [cpu]
            09:05:00 dave email [disk]
            09:06:00 dave email [cpu]
        "#]],
    )
    .await;
}

/// A permanent refusal gives up at once and brings the next method forward.
#[tokio::test]
async fn a_permanent_failure_fails_over_at_once() {
    check(
        "rotas:\n  primary: {members: [dave], start: 2026-01-05T09:00, every: 1w}\n",
        "2026-06-01T09:00:00Z",
        &[
            ("09:00", "fail push permanent 1"),
            ("09:00", "trigger disk critical"),
            ("09:03", "ack disk dave"),
        ],
        "10:00",
        expect![[r#"
            09:00:00 dave push gave up: provider refused the number
            09:00:00 dave sms [disk]
        "#]],
    )
    .await;
}

/// The daemon restarts between two steps: the second step still fires,
/// once, at its time.
#[tokio::test]
async fn a_restart_between_two_steps_fires_the_second_step_once() {
    check(
        "rotas:\n  primary: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n\
         escalation:\n  - notify: [rota:primary]\n  - {after: 10m, notify: [user:bob]}\n",
        "2026-06-01T09:00:00Z",
        &[("09:00", "trigger disk critical"), ("09:05", "restart")],
        "11:00",
        expect![[r#"
            09:00:00 alice push [disk]
            09:05:00 restart
            09:10:00 bob push [disk]
        "#]],
    )
    .await;
}

/// The daemon dies after a pass claimed a page and before it was sent: the
/// claim's lease runs out and the page goes out then, once. At least once,
/// never lost.
#[tokio::test]
async fn a_page_claimed_by_a_pass_that_died_is_sent_after_its_lease() {
    check(
        "rotas:\n  primary: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n\
         escalation:\n  - notify: [rota:primary]\n  - {after: 10m, notify: [user:bob]}\n",
        "2026-06-01T09:00:00Z",
        &[
            ("09:00", "trigger disk critical"),
            ("09:00", "crash-while-delivering"),
            ("09:04", "ack disk alice"),
        ],
        "10:00",
        expect![[r#"
            09:00:00 crash with 1 message(s) claimed
            09:00:00 restart
            09:02:00 alice push [disk]
        "#]],
    )
    .await;
}

/// Issue 9: zoe shadows alice on the primary. Every page alice gets, zoe
/// gets a copy of (the first step, the all-hands `team:` step that reaches
/// alice, and the same again in the repeat); the step that escalates to bob
/// sends zoe nothing, and `team:` names her in no step of her own: a shadow
/// is never escalated to.
#[tokio::test]
async fn a_shadow_gets_every_page_copy_and_never_an_escalation() {
    check(
        "rotas:\n  primary:\n    members: [alice]\n    start: 2026-01-05T09:00\n    every: 1w\n    shadows: [{user: zoe, of: alice}]\n\
         \x20 secondary: {members: [bob], start: 2026-01-05T09:00, every: 1w}\n\
         escalation:\n  repeat: 1\n  steps:\n    - notify: [rota:primary]\n    - {after: 10m, notify: [rota:secondary]}\n    - {after: 10m, notify: [team:t]}\n",
        "2026-06-01T09:00:00Z",
        &[("09:00", "trigger disk critical")],
        "12:00",
        expect![[r#"
            09:00:00 alice push [disk]
            09:00:00 zoe push [disk] (shadow copy, shadowing alice)
            09:10:00 bob push [disk]
            09:20:00 alice push [disk]
            09:20:00 bob push [disk]
            09:20:00 zoe push [disk] (shadow copy, shadowing alice)
            09:30:00 alice push [disk]
            09:30:00 zoe push [disk] (shadow copy, shadowing alice)
            09:40:00 bob push [disk]
            09:50:00 alice push [disk]
            09:50:00 bob push [disk]
            09:50:00 zoe push [disk] (shadow copy, shadowing alice)
        "#]],
    )
    .await;
}

/// A shadow copy of an alert stops with the alert like any page: once
/// alice acknowledges, neither she nor her shadow is paged again.
#[tokio::test]
async fn a_shadow_copy_stops_with_the_acknowledgement() {
    check(
        "rotas:\n  primary: {members: [alice], start: 2026-01-05T09:00, every: 1w, shadows: [{user: zoe}]}\n\
         escalation:\n  repeat: 3\n  steps:\n    - notify: [rota:primary]\n",
        "2026-06-01T09:00:00Z",
        &[("09:00", "trigger disk critical"), ("09:03", "ack disk alice")],
        "12:00",
        expect![[r#"
            09:00:00 alice push [disk]
            09:00:00 zoe push [disk] (shadow copy, shadowing alice)
        "#]],
    )
    .await;
}

/// Issue 16: a sent notification's `due` showed the end of the claim's
/// lease (two minutes after it was sent). It shows when it was due, and
/// `sent_at` when it went: a first page due and sent at once, and a retry
/// due and sent at its backoff's time.
#[tokio::test]
async fn issue16_a_sent_notification_shows_when_it_was_due() {
    let team = "team: t\ntimezone: Europe/London\nhandoff_notices: []\n\
                rotas:\n  primary: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n\
                \x20 secondary: {members: [bob], start: 2026-01-05T09:00, every: 1w}\n";
    for db in dbs() {
        let mut sim = Sim::new(db, team);
        let t0 = at("2026-06-01T09:00:00Z");
        sim.act(t0, "fail push retryable 1").await;
        sim.act(t0, "trigger disk critical").await;
        sim.pass(t0).await;
        let retry = sim.store.next_due().await.unwrap().expect("a retry is due");
        assert!(retry > t0);
        sim.pass(retry).await;
        let id = sim.keys["disk"];
        let mut notifications = sim.store.notifications(id).await.unwrap();
        notifications.sort_by(|a, b| a.person.cmp(&b.person));
        let shown: Vec<(String, String, Instant, Option<Instant>)> = notifications
            .into_iter()
            .map(|n| (n.person, n.state, n.due, n.sent_at))
            .collect();
        // Which of the two failed first depends on the order of sending;
        // each was sent at the time it was due.
        assert_eq!(shown.len(), 2, "{shown:?}");
        for (person, state, due, sent_at) in &shown {
            assert_eq!(state, "sent", "{person}");
            assert_eq!(Some(*due), *sent_at, "{person}: {shown:?}");
        }
        let dues: Vec<Instant> = shown.iter().map(|s| s.2).collect();
        assert!(dues.contains(&t0) && dues.contains(&retry), "{shown:?}\n{}", sim.log);
    }
}

/// Issue 16: paging deadlines are stored in whole seconds, and were rounded
/// down: a step due 5 minutes after a pass at 09:00:00.600 fired at
/// 09:05:00, 0.6 s early (and so did a person's later methods, `sms after
/// 2m`). Each fires at the first whole second not before its time.
#[tokio::test]
async fn issue16_a_step_never_fires_before_its_delay() {
    // dave: push at once, sms after 2m, email after 5m (not in quiet hours
    // at 10:00 London).
    let team = "team: t\ntimezone: Europe/London\nhandoff_notices: []\n\
                rotas:\n  primary: {members: [dave], start: 2026-01-05T09:00, every: 1w}\n\
                escalation:\n  steps:\n    - notify: [rota:primary]\n    - {after: 5m, notify: [user:bob]}\n";
    for db in dbs() {
        let mut sim = Sim::new(db, team);
        let t0 = at("2026-06-01T09:00:00Z") + Duration::milliseconds(600);
        sim.act(t0, "trigger disk critical").await;
        sim.pass(t0).await;
        assert_eq!(sim.log, "09:00:00 dave push [disk]\n");
        // The sms is due at 09:02:00.600, the step at 09:05:00.600.
        for early in ["2026-06-01T09:02:00Z", "2026-06-01T09:02:00.599Z"] {
            sim.pass(at(early)).await;
        }
        assert_eq!(sim.log, "09:00:00 dave push [disk]\n", "the sms went early");
        sim.pass(at("2026-06-01T09:02:01Z")).await;
        let step = t0 + Duration::minutes(5);
        assert!(sim.store.next_due().await.unwrap().unwrap() >= step);
        for early in ["2026-06-01T09:05:00Z", "2026-06-01T09:05:00.599Z"] {
            sim.pass(at(early)).await;
        }
        assert_eq!(
            sim.log, "09:00:00 dave push [disk]\n09:02:01 dave sms [disk]\n",
            "the step or the email went early"
        );
        sim.pass(at("2026-06-01T09:05:01Z")).await;
        expect![[r#"
            09:00:00 dave push [disk]
            09:02:01 dave sms [disk]
            09:05:01 dave email [disk]
            09:05:01 bob push [disk]
        "#]]
        .assert_eq(&sim.log);
    }
}

/// A group on call together (issue 18): `rota:` pages everyone in it, the
/// hand-off notices go to each person whose shift starts (not to one who
/// stays on call into the next turn), and the ledger records each person's
/// time, so each is paid for it.
#[tokio::test]
async fn a_group_is_paged_notified_and_recorded_together() {
    // London, June: 10:00 BST is 09:00 UTC. [alice, bob] until Tuesday
    // 10:00, then [bob, carol].
    let team = "team: t\ntimezone: Europe/London\nhandoff_notices: [start]\n\
                rotas:\n  primary: {members: [[alice, bob], [bob, carol]], start: 2026-06-01T10:00, every: 1d}\n\
                escalation:\n  - notify: [rota:primary]\n";
    let mut ledgers = Vec::new();
    for db in dbs() {
        let (log, ledger) = Sim::new(db, team)
            .run_with_ledger(
                "2026-06-01T08:00:00Z",
                &[
                    ("08:00", "tick"),
                    ("09:00", "tick"),
                    ("12:00", "trigger disk critical"),
                    ("12:05", "ack disk alice"),
                    ("33:00", "tick"),
                    ("34:00", "trigger db critical"),
                ],
                "35:00",
            )
            .await;
        expect![[r#"
            09:00:00 alice push hand-off primary
            09:00:00 bob push hand-off primary
            12:00:00 alice push [disk]
            12:00:00 bob push [disk]
            09:00:00 carol push hand-off primary
            10:00:00 bob push [db]
            10:00:00 carol push [db]
        "#]]
        .assert_eq(&log);
        ledgers.push(ledger);
    }
    // Hours on call, each person's (the rows are split at each hour).
    let mut hours: BTreeMap<&str, (Instant, Instant, i64)> = BTreeMap::new();
    for r in &ledgers[0].rows {
        let e = hours.entry(r.person.as_str()).or_insert((r.span.start, r.span.end, 0));
        e.0 = e.0.min(r.span.start);
        e.1 = e.1.max(r.span.end);
        e.2 += r.span.duration().num_seconds();
    }
    let totals: Vec<String> = hours
        .iter()
        .map(|(p, (from, to, s))| {
            format!(
                "{p} {}..{} {}h",
                from.format("%d %H:%M"),
                to.format("%d %H:%M"),
                s / 3600
            )
        })
        .collect();
    expect![[r#"
        alice 01 09:00..02 09:00 24h
        bob 01 09:00..02 10:00 25h
        carol 02 09:00..02 10:00 1h"#]]
    .assert_eq(&totals.join("\n"));
    for other in &ledgers[1..] {
        assert_eq!(other, &ledgers[0]);
    }
}
