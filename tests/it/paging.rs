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
  erin: {name: Erin, email: erin@example.com, phone: '+447700900005', push: 'ntfy:erin',
         notify: [push, email, sms after 2m]}
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
            Db::Postgres(url) => Arc::new(PgStore::open(&url.parse().unwrap()).unwrap()),
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
    /// The methods with a channel (all, unless a case says otherwise).
    methods: Vec<Method>,
}

impl Sim {
    fn new(db: Db, team_yaml: &str) -> Sim {
        let files = vec![
            ("people.yaml".to_string(), PEOPLE.to_string()),
            ("t.yaml".to_string(), team_yaml.to_string()),
        ];
        let store = db.open();
        let recorder = Arc::new(Recorder::default());
        let engine = Sim::engine(&files, store.clone(), recorder.clone(), &Method::ALL);
        Sim {
            db,
            files,
            store,
            engine,
            recorder,
            keys: BTreeMap::new(),
            log: String::new(),
            methods: Method::ALL.to_vec(),
        }
    }

    /// The same, with channels for `methods` only: pages by the others
    /// cannot be delivered.
    fn with_channels(mut self, methods: &[Method]) -> Sim {
        self.methods = methods.to_vec();
        self.engine = Sim::engine(&self.files, self.store.clone(), self.recorder.clone(), methods);
        self
    }

    fn engine(
        files: &[(String, String)],
        store: Arc<dyn Store>,
        recorder: Arc<Recorder>,
        methods: &[Method],
    ) -> Engine {
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
            methods
                .iter()
                .map(|&method| {
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
                    Sim::engine(&self.files, self.store.clone(), self.recorder.clone(), &self.methods),
                ));
                // The last reference: dropping it closes the store.
                assert_eq!(Arc::strong_count(&old), 1, "the only reference");
                drop(old);
                self.store = self.db.open();
                self.engine = Sim::engine(&self.files, self.store.clone(), self.recorder.clone(), &self.methods);
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
            // An alert opened by an older `oncall`, which stored the alert's
            // `created` entry (with the store closed, as that daemon had the
            // database then).
            ["older-oncall-triggers", key, severity] => {
                let placeholder = self.db.placeholder();
                let old = std::mem::replace(&mut self.store, placeholder);
                drop(std::mem::replace(
                    &mut self.engine,
                    Sim::engine(&self.files, self.store.clone(), self.recorder.clone(), &self.methods),
                ));
                assert_eq!(Arc::strong_count(&old), 1, "the only reference");
                drop(old);
                let at = now.timestamp();
                let alert = format!(
                    "INSERT INTO alerts (team, dedup_key, summary, severity, details, intake, status, created_at, \
                     last_seen_at, occurrences) VALUES ('t', '{key}', '{key} is failing', '{severity}', '{{}}', 'plain', \
                     'open', {at}, {at}, 1)"
                );
                let created = format!(
                    "INSERT INTO alert_events (alert_id, at, kind, detail) \
                     SELECT max(id), {at}, 'created', '{{\"intake\":\"plain\"}}' FROM alerts"
                );
                let id = match &self.db {
                    Db::Sqlite(dir) => {
                        let conn = rusqlite::Connection::open(dir.join("oncall.db")).unwrap();
                        conn.execute_batch(&format!("{alert}; {created};")).unwrap();
                        conn.query_row("SELECT max(id) FROM alerts", [], |r| r.get(0)).unwrap()
                    }
                    Db::Postgres(url) => {
                        let sql = format!("{alert}; {created}; SELECT max(id) FROM alerts");
                        crate::pg::query_strings(url, &sql)[0].parse().unwrap()
                    }
                };
                self.keys.insert(key.to_string(), id);
                self.store = self.db.open();
                self.engine = Sim::engine(&self.files, self.store.clone(), self.recorder.clone(), &self.methods);
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
    async fn run(mut self, start: &str, script: &[(&str, &str)], until: &str) -> String {
        self.run_with_ledger(start, script, until).await.0
    }

    /// As [`Sim::run`], with the ledger the engine recorded over the day
    /// before the start to the day after `until`.
    async fn run_with_ledger(&mut self, start: &str, script: &[(&str, &str)], until: &str) -> (String, Ledger) {
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
        (self.log.clone(), ledger)
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
        What::Test(t) => format!("test page {}", t.proof),
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

/// Pages no channel can carry are given up by the pass that finds them due,
/// as a failed delivery is: those due at once as they are queued, a later
/// one when it comes due. The person's next method is brought forward by
/// the give-up whose turn finds it first, in the order the pass takes them
/// (by method, then due time): erin's email (due at once, no channel)
/// finds her push still pending and due, so brings nothing forward; the
/// push brings the sms forward. Then dave, paged by the second step: his
/// push (no channel) brings the sms forward; his email, five minutes on,
/// is given up when it comes due. Both backends, the same rows.
#[tokio::test]
async fn pages_no_channel_can_carry_are_given_up_in_order_and_fail_over() {
    let team = "team: t\ntimezone: Europe/London\nhandoff_notices: []\n\
                rotas:\n  primary: {members: [erin], start: 2026-01-05T09:00, every: 1w}\n\
                escalation:\n  steps:\n    - notify: [rota:primary]\n    - {after: 10m, notify: [user:dave]}\n";
    for db in dbs() {
        let mut sim = Sim::new(db, team).with_channels(&[Method::Sms]);
        let (log, _) = sim
            .run_with_ledger("2026-06-01T09:00:00Z", &[("09:00", "trigger disk critical")], "10:00")
            .await;
        expect![[r#"
            09:00:00 erin email gave up: no email channel is configured
            09:00:00 erin push gave up: no push channel is configured
            09:00:00 erin sms [disk]
            09:10:00 dave push gave up: no push channel is configured
            09:10:00 dave sms [disk]
            09:15:00 dave email gave up: no email channel is configured
        "#]]
        .assert_eq(&log);
        let id = sim.keys["disk"];
        let (_, timeline) = sim.store.alert(id).await.unwrap().unwrap();
        let entries: Vec<String> = timeline
            .iter()
            .filter(|e| e.kind != oncall::domain::alert::TimelineKind::Escalated)
            .map(|e| format!("{} {:?} {}", hm(e.at), e.kind, e.detail))
            .collect();
        expect![[r#"
            [
                "09:00:00 Created {\"intake\":\"plain\"}",
                "09:00:00 NotifyFailed {\"person\":\"erin\",\"method\":\"email\",\"attempt\":1,\"error\":\"no email channel is configured\",\"gave_up\":true,\"next_method\":null}",
                "09:00:00 NotifyFailed {\"person\":\"erin\",\"method\":\"push\",\"attempt\":1,\"error\":\"no push channel is configured\",\"gave_up\":true,\"next_method\":\"sms\"}",
                "09:00:00 Notified {\"person\":\"erin\",\"method\":\"sms\",\"attempt\":1,\"step\":0,\"round\":0,\"reference\":\"ref-3\"}",
                "09:10:00 NotifyFailed {\"person\":\"dave\",\"method\":\"push\",\"attempt\":1,\"error\":\"no push channel is configured\",\"gave_up\":true,\"next_method\":\"sms\"}",
                "09:10:00 Notified {\"person\":\"dave\",\"method\":\"sms\",\"attempt\":1,\"step\":1,\"round\":0,\"reference\":\"ref-5\"}",
                "09:15:00 NotifyFailed {\"person\":\"dave\",\"method\":\"email\",\"attempt\":1,\"error\":\"no email channel is configured\",\"gave_up\":true,\"next_method\":null}",
            ]
        "#]].assert_debug_eq(&entries);
        let rows: Vec<String> = sim
            .store
            .notifications(id)
            .await
            .unwrap()
            .into_iter()
            .map(|n| {
                format!(
                    "{} {} {} {} attempts {} due {} {}",
                    n.person,
                    n.method,
                    n.state,
                    n.step.map_or("-".into(), |(s, r)| format!("{s}/{r}")),
                    n.attempts,
                    hm(n.due),
                    n.last_error.unwrap_or_default()
                )
            })
            .collect();
        expect![[r#"
            [
                "erin push failed 0/0 attempts 1 due 09:00:00 no push channel is configured",
                "erin email failed 0/0 attempts 1 due 09:00:00 no email channel is configured",
                "erin sms sent 0/0 attempts 1 due 09:00:00 ",
                "dave push failed 1/0 attempts 1 due 09:10:00 no push channel is configured",
                "dave sms sent 1/0 attempts 1 due 09:10:00 ",
                "dave email failed 1/0 attempts 1 due 09:15:00 no email channel is configured",
            ]
        "#]]
        .assert_debug_eq(&rows);
    }
}

/// Every kind of timeline entry the engine writes, as the API shows it
/// (the detail as JSON text, its keys in order): steps with their reach,
/// shadow copies, a rota with nobody on call, someone the severity cannot
/// reach, a retry, a give-up that fails over, a bundle, announcements, a
/// reopening. The same on both backends.
#[tokio::test]
async fn the_timeline_entries_say_what_happened_in_a_fixed_form() {
    let team = "team: t\ntimezone: Europe/London\nhandoff_notices: []\n\
                rotas:\n  primary:\n    members: [dave]\n    start: 2026-01-05T09:00\n    every: 1w\n    shadows: [{user: zoe, of: dave}]\n\
                \x20 night:\n    members: [bob]\n    start: 2026-01-05T09:00\n    every: 1w\n    active: [{days: weekdays, from: \"20:00\", to: \"08:00\"}]\n\
                announce:\n  to: [https://hooks.example.com/t]\n  severities: [critical]\n\
                escalation:\n  ack_timeout: 30m\n  steps:\n    - notify: [rota:primary, rota:night, user:carol]\n    - {after: 10m, notify: [user:bob]}\n";
    let script = [
        ("09:00", "fail push retryable 1"),
        ("09:00", "fail sms permanent 1"),
        ("09:00", "trigger disk critical"),
        ("09:01", "trigger backup minor"),
        ("09:03", "ack disk dave"),
        ("09:40", "trigger x critical"),
        ("09:40", "trigger y critical"),
    ];
    let mut first: Option<String> = None;
    for db in dbs() {
        let mut sim = Sim::new(db, team);
        sim.run_with_ledger("2026-06-01T09:00:00Z", &script, "10:30").await;
        let mut text = String::new();
        for (key, id) in &sim.keys {
            let (_, timeline) = sim.store.alert(*id).await.unwrap().unwrap();
            for e in timeline {
                text.push_str(&format!("{key} {} {:?} {}\n", hm(e.at), e.kind, e.detail));
            }
        }
        match &first {
            None => {
                expect![[r#"
                    backup 09:01:00 Created {"intake":"plain"}
                    backup 09:01:00 Escalated {"step":0,"round":0,"targets":["rota:primary","rota:night","user:carol"],"reached":[{"person":"dave","via":"rota:primary","methods":[{"method":"email","at":"2026-06-01T09:06:00Z","quiet_hours":false}]}],"nobody_on_call":["rota:night"],"shadow_copies":[{"person":"zoe","of":"dave","methods":[]}],"unreachable":["carol"]}
                    backup 09:06:00 Notified {"person":"dave","method":"email","attempt":1,"step":0,"round":0,"reference":"ref-7"}
                    disk 09:00:00 Created {"intake":"plain"}
                    disk 09:00:00 Escalated {"step":0,"round":0,"targets":["rota:primary","rota:night","user:carol"],"reached":[{"person":"dave","via":"rota:primary","methods":[{"method":"push","at":"2026-06-01T09:00:00Z","quiet_hours":false},{"method":"sms","at":"2026-06-01T09:02:00Z","quiet_hours":false},{"method":"email","at":"2026-06-01T09:05:00Z","quiet_hours":false}]},{"person":"carol","via":"user:carol","methods":[{"method":"push","at":"2026-06-01T09:00:00Z","quiet_hours":false}]}],"nobody_on_call":["rota:night"],"shadow_copies":[{"person":"zoe","of":"dave","methods":["push"]}],"next_step_at":"2026-06-01T09:10:00Z"}
                    disk 09:00:00 NotifyFailed {"person":"dave","method":"push","attempt":1,"error":"provider answered 503","retry_at":"2026-06-01T09:00:27Z"}
                    disk 09:00:00 Notified {"person":"carol","method":"push","attempt":1,"step":0,"round":0,"reference":"ref-4"}
                    disk 09:00:00 Notified {"person":"zoe","method":"push","attempt":1,"step":0,"round":0,"reference":"ref-5","shadow_of":"dave"}
                    disk 09:00:00 Notified {"person":"t","method":"webhook","attempt":1,"step":null,"round":null,"reference":"ref-6","announce":true}
                    disk 09:00:28 Notified {"person":"dave","method":"push","attempt":2,"step":0,"round":0,"reference":"ref-1"}
                    disk 09:02:00 NotifyFailed {"person":"dave","method":"sms","attempt":1,"error":"provider refused the number","gave_up":true,"next_method":"email"}
                    disk 09:02:00 Notified {"person":"dave","method":"email","attempt":1,"step":0,"round":0,"reference":"ref-3"}
                    disk 09:03:00 Acknowledged {"by":"dave","lead":"dave"}
                    disk 09:03:00 Notified {"person":"t","method":"webhook","attempt":1,"step":null,"round":null,"reference":"ref-8","announce":true}
                    disk 09:33:00 Reopened {"reason":"acknowledgement timed out","acknowledged_by":"dave","timeout":"30m"}
                    disk 09:33:00 Escalated {"step":0,"round":0,"targets":["rota:primary","rota:night","user:carol"],"reached":[{"person":"dave","via":"rota:primary","methods":[{"method":"push","at":"2026-06-01T09:33:00Z","quiet_hours":false},{"method":"sms","at":"2026-06-01T09:35:00Z","quiet_hours":false},{"method":"email","at":"2026-06-01T09:38:00Z","quiet_hours":false}]},{"person":"carol","via":"user:carol","methods":[{"method":"push","at":"2026-06-01T09:33:00Z","quiet_hours":false}]}],"nobody_on_call":["rota:night"],"shadow_copies":[{"person":"zoe","of":"dave","methods":["push"]}],"next_step_at":"2026-06-01T09:43:00Z"}
                    disk 09:33:00 Notified {"person":"dave","method":"push","attempt":1,"step":0,"round":0,"reference":"ref-9"}
                    disk 09:33:00 Notified {"person":"carol","method":"push","attempt":1,"step":0,"round":0,"reference":"ref-12"}
                    disk 09:33:00 Notified {"person":"zoe","method":"push","attempt":1,"step":0,"round":0,"reference":"ref-13","shadow_of":"dave"}
                    disk 09:35:00 Notified {"person":"dave","method":"sms","attempt":1,"step":0,"round":0,"reference":"ref-10"}
                    disk 09:38:00 Notified {"person":"dave","method":"email","attempt":1,"step":0,"round":0,"reference":"ref-11"}
                    disk 09:43:00 Escalated {"step":1,"round":0,"targets":["user:bob"],"reached":[{"person":"bob","via":"user:bob","methods":[{"method":"push","at":"2026-06-01T09:43:00Z","quiet_hours":false}]}]}
                    disk 09:43:00 Notified {"person":"bob","method":"push","attempt":1,"step":1,"round":0,"reference":"ref-26"}
                    x 09:40:00 Created {"intake":"plain"}
                    x 09:40:00 Escalated {"step":0,"round":0,"targets":["rota:primary","rota:night","user:carol"],"reached":[{"person":"dave","via":"rota:primary","methods":[{"method":"push","at":"2026-06-01T09:40:00Z","quiet_hours":false},{"method":"sms","at":"2026-06-01T09:42:00Z","quiet_hours":false},{"method":"email","at":"2026-06-01T09:45:00Z","quiet_hours":false}]},{"person":"carol","via":"user:carol","methods":[{"method":"push","at":"2026-06-01T09:40:00Z","quiet_hours":false}]}],"nobody_on_call":["rota:night"],"shadow_copies":[{"person":"zoe","of":"dave","methods":["push"]}],"next_step_at":"2026-06-01T09:50:00Z"}
                    x 09:40:00 Notified {"person":"dave","method":"push","attempt":1,"step":0,"round":0,"reference":"ref-14","bundle":2}
                    x 09:40:00 Notified {"person":"carol","method":"push","attempt":1,"step":0,"round":0,"reference":"ref-17","bundle":2}
                    x 09:40:00 Notified {"person":"zoe","method":"push","attempt":1,"step":0,"round":0,"reference":"ref-18","shadow_of":"dave","bundle":2}
                    x 09:40:00 Notified {"person":"t","method":"webhook","attempt":1,"step":null,"round":null,"reference":"ref-24","announce":true}
                    x 09:42:00 Notified {"person":"dave","method":"sms","attempt":1,"step":0,"round":0,"reference":"ref-15","bundle":2}
                    x 09:45:00 Notified {"person":"dave","method":"email","attempt":1,"step":0,"round":0,"reference":"ref-16","bundle":2}
                    x 09:50:00 Escalated {"step":1,"round":0,"targets":["user:bob"],"reached":[{"person":"bob","via":"user:bob","methods":[{"method":"push","at":"2026-06-01T09:50:00Z","quiet_hours":false}]}]}
                    x 09:50:00 Notified {"person":"bob","method":"push","attempt":1,"step":1,"round":0,"reference":"ref-27","bundle":2}
                    y 09:40:00 Created {"intake":"plain"}
                    y 09:40:00 Escalated {"step":0,"round":0,"targets":["rota:primary","rota:night","user:carol"],"reached":[{"person":"dave","via":"rota:primary","methods":[{"method":"push","at":"2026-06-01T09:40:00Z","quiet_hours":false},{"method":"sms","at":"2026-06-01T09:42:00Z","quiet_hours":false},{"method":"email","at":"2026-06-01T09:45:00Z","quiet_hours":false}]},{"person":"carol","via":"user:carol","methods":[{"method":"push","at":"2026-06-01T09:40:00Z","quiet_hours":false}]}],"nobody_on_call":["rota:night"],"shadow_copies":[{"person":"zoe","of":"dave","methods":["push"]}],"next_step_at":"2026-06-01T09:50:00Z"}
                    y 09:40:00 Notified {"person":"dave","method":"push","attempt":1,"step":0,"round":0,"reference":"ref-14","bundle":2}
                    y 09:40:00 Notified {"person":"carol","method":"push","attempt":1,"step":0,"round":0,"reference":"ref-17","bundle":2}
                    y 09:40:00 Notified {"person":"zoe","method":"push","attempt":1,"step":0,"round":0,"reference":"ref-18","shadow_of":"dave","bundle":2}
                    y 09:40:00 Notified {"person":"t","method":"webhook","attempt":1,"step":null,"round":null,"reference":"ref-25","announce":true}
                    y 09:42:00 Notified {"person":"dave","method":"sms","attempt":1,"step":0,"round":0,"reference":"ref-15","bundle":2}
                    y 09:45:00 Notified {"person":"dave","method":"email","attempt":1,"step":0,"round":0,"reference":"ref-16","bundle":2}
                    y 09:50:00 Escalated {"step":1,"round":0,"targets":["user:bob"],"reached":[{"person":"bob","via":"user:bob","methods":[{"method":"push","at":"2026-06-01T09:50:00Z","quiet_hours":false}]}]}
                    y 09:50:00 Notified {"person":"bob","method":"push","attempt":1,"step":1,"round":0,"reference":"ref-27","bundle":2}
                "#]].assert_eq(&text);
                first = Some(text);
            }
            Some(first) => assert_eq!(&text, first),
        }
    }
}

/// An alert's `created` entry is not stored: the API shows one made from
/// the alert, and its opening is announced from the alert. One stored by an
/// older `oncall` (an alert it took in but had not paged when it stopped)
/// is shown as it is, once, and the alert is announced once.
#[tokio::test]
async fn an_alert_stored_by_an_older_oncall_is_shown_and_announced_once() {
    let team = "team: t\ntimezone: Europe/London\nhandoff_notices: []\n\
                rotas:\n  primary: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n\
                announce:\n  to: [https://hooks.example.com/t]\n";
    let script = [
        ("09:00", "trigger new critical"),
        ("09:05", "older-oncall-triggers old critical"),
        ("09:05", "trigger newer critical"),
    ];
    for db in dbs() {
        let mut sim = Sim::new(db, team);
        let (log, _) = sim.run_with_ledger("2026-06-01T09:00:00Z", &script, "09:30").await;
        expect![[r#"
            09:00:00 alice push [new]
            09:00:00 t webhook announce opened [new] lead -
            09:05:00 alice push [old newer]
            09:05:00 t webhook announce opened [old] lead -
            09:05:00 t webhook announce opened [newer] lead -
        "#]]
        .assert_eq(&log);
        for key in ["new", "old", "newer"] {
            let (_, timeline) = sim.store.alert(sim.keys[key]).await.unwrap().unwrap();
            let created: Vec<String> = timeline
                .iter()
                .filter(|e| e.kind == oncall::domain::alert::TimelineKind::Created)
                .map(|e| format!("{} {}", hm(e.at), e.detail))
                .collect();
            let expected = if key == "new" { "09:00:00" } else { "09:05:00" };
            assert_eq!(created, [format!("{expected} {{\"intake\":\"plain\"}}")], "{key}");
            assert_eq!(timeline[0].kind, oncall::domain::alert::TimelineKind::Created, "{key}");
        }
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

/// Alerts taken by one pass are decided as they would be one by one: a
/// round-robin step gives each its own turn, each severity its own methods,
/// each team its own rota, though a pass works out whom a step reaches
/// once for all the alerts it fits.
#[tokio::test]
async fn alerts_escalated_in_one_pass_each_get_their_own_step() {
    let team = "team: t\ntimezone: Europe/London\nhandoff_notices: []\n\
                rotas:\n  primary: {members: [dave], start: 2026-01-05T09:00, every: 1w}\n\
                escalation:\n  - {notify: [user:alice, user:bob, user:carol], round_robin: true}\n";
    let script = [
        ("09:00", "trigger a critical"),
        ("09:00", "trigger b critical"),
        ("09:00", "trigger c minor"),
        ("09:00", "trigger d critical"),
        ("09:00", "trigger e minor"),
    ];
    let mut first: Option<String> = None;
    for db in dbs() {
        let mut sim = Sim::new(db, team);
        let (log, _) = sim.run_with_ledger("2026-06-01T09:00:00Z", &script, "09:30").await;
        let mut text = log;
        for (key, id) in &sim.keys {
            let (_, timeline) = sim.store.alert(*id).await.unwrap().unwrap();
            for e in timeline
                .iter()
                .filter(|e| e.kind == oncall::domain::alert::TimelineKind::Escalated)
            {
                text.push_str(&format!("{key} {} {}\n", hm(e.at), e.detail));
            }
        }
        match &first {
            None => {
                expect![[r#"
                    09:00:00 alice push [a d]
                    09:00:00 bob push [b]
                    a 09:00:00 {"step":0,"round":0,"targets":["user:alice"],"reached":[{"person":"alice","via":"user:alice","methods":[{"method":"push","at":"2026-06-01T09:00:00Z","quiet_hours":false}]}]}
                    b 09:00:00 {"step":0,"round":0,"targets":["user:bob"],"reached":[{"person":"bob","via":"user:bob","methods":[{"method":"push","at":"2026-06-01T09:00:00Z","quiet_hours":false}]}]}
                    c 09:00:00 {"step":0,"round":0,"targets":["user:carol"],"reached":[],"unreachable":["carol"]}
                    d 09:00:00 {"step":0,"round":0,"targets":["user:alice"],"reached":[{"person":"alice","via":"user:alice","methods":[{"method":"push","at":"2026-06-01T09:00:00Z","quiet_hours":false}]}]}
                    e 09:00:00 {"step":0,"round":0,"targets":["user:bob"],"reached":[],"unreachable":["bob"]}
                "#]].assert_eq(&text);
                first = Some(text);
            }
            Some(first) => assert_eq!(&text, first),
        }
    }
}
