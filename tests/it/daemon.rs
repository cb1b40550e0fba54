//! The daemon over real HTTP: started with `app::build` and `app::serve` (the
//! two halves of `app::run`, which `main` calls) on port 0 with a temp
//! database, a manual clock and temp rota files. The test keeps the state, to
//! step the periodic work (`jobs::check_heartbeats`) at the manual clock's now.

use std::path::PathBuf;
use std::sync::Arc;

use oncall::clock::{Clock as _, ManualClock};
use oncall::domain::alert::Outcome;
use oncall::settings::{File, Overrides, Settings};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::support::at;

pub const KEY: &str = "payments-key-0123456789";
pub const OTHER_KEY: &str = "platform-key-0123456789";
pub const API_TOKEN: &str = "test-api-token-0123456789";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub dir: PathBuf,
    pub clock: Arc<ManualClock>,
    /// Dropped before stopping: the store closes with its last reference.
    state: Option<oncall::http::Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A fresh folder under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "oncall-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("schedules")).unwrap();
    dir
}

pub fn write_schedules(dir: &std::path::Path) {
    let s = dir.join("schedules");
    std::fs::write(s.join("people.yaml"), crate::support::PEOPLE).unwrap();
    std::fs::write(
        s.join("payments.yaml"),
        format!(
            "team: payments\ntimezone: Europe/London\nrotas:\n  primary: {{members: [alice, bob], start: 2026-01-05T09:00, every: 1w}}\nintake_key: {KEY}\n\
             heartbeats:\n  nightly-backup: {{interval: 1h, grace: 10m, severity: critical}}\n\
             maintenance:\n  - {{from: 2026-06-02T01:00, to: 2026-06-02T03:00, reason: database upgrade}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        s.join("platform.yaml"),
        format!(
            "team: platform\ntimezone: America/New_York\nrotas:\n  primary: {{members: [carol], start: 2026-01-05T09:00, every: 1w}}\nintake_key: {OTHER_KEY}\n"
        ),
    )
    .unwrap();
}

/// The daemon's settings for a test in `dir`. The engine's loop is off:
/// tests step it with [`TestApp::run_engine`]. Phone verification codes
/// are off too, so that tests counting texts count pages only
/// (`phone_verify.rs` turns them on).
pub fn settings(dir: &std::path::Path) -> Settings {
    let mut settings = Settings::resolve(
        File::default(),
        Overrides {
            listen: Some("127.0.0.1:0".into()),
            schedules: Some(dir.join("schedules")),
            database: Some(dir.join("oncall.db")),
            api_token: Some(API_TOKEN.into()),
            log_format: None,
            ..Overrides::default()
        },
    )
    .unwrap();
    settings.run_engine = false;
    settings.verify_phones = false;
    settings
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let dir = temp_dir("daemon");
        write_schedules(&dir);
        TestApp::spawn_in(dir).await
    }

    /// Starts (or restarts) the daemon on the files in `dir`.
    pub async fn spawn_in(dir: PathBuf) -> TestApp {
        TestApp::spawn_in_at(dir, "2026-06-01T12:00:00Z").await
    }

    /// Starts (or restarts) the daemon on the files in `dir`, its manual
    /// clock at `start`.
    pub async fn spawn_in_at(dir: PathBuf, start: &str) -> TestApp {
        let settings = settings(&dir);
        TestApp::spawn_with(dir, settings, start).await
    }

    /// Starts (or restarts) the daemon on the files in `dir` with
    /// `settings` (e.g. [`settings`] changed), its manual clock at `start`.
    pub async fn spawn_with(dir: PathBuf, settings: Settings, start: &str) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let clock = Arc::new(ManualClock::new(at(start)));
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let state = oncall::app::build(clock.clone(), &settings).await.unwrap();
        let task = tokio::spawn(oncall::app::serve(listener, shutdown, state.clone(), settings));
        TestApp {
            base,
            client: reqwest::Client::new(),
            dir,
            clock,
            state: Some(state),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the daemon the way SIGTERM does and waits for it.
    pub async fn stop(mut self) -> PathBuf {
        drop(self.state.take());
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
        self.dir.clone()
    }

    /// One engine pass at the manual clock's now.
    pub async fn run_engine(&self) -> oncall::engine::PassReport {
        let state = self.state.as_ref().expect("running");
        state.engine.run_once(self.clock.now()).await.unwrap()
    }

    /// The daemon's state (store, engine, schedule).
    pub fn state(&self) -> &oncall::http::Shared {
        self.state.as_ref().expect("running")
    }

    /// One heartbeat check at the manual clock's now.
    pub async fn check_heartbeats(&self) -> Vec<oncall::domain::alert::Outcome> {
        let state = self.state.as_ref().expect("running");
        oncall::jobs::check_heartbeats(state, self.clock.now()).await.unwrap()
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn api_get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn api_post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post(path, API_TOKEN, body).await
    }

    pub async fn alerts(&self, status: &str) -> Vec<Value> {
        let (code, body) = self.api_get(&format!("/v1/alerts?status={status}")).await;
        assert_eq!(code, 200, "{body}");
        body["alerts"].as_array().unwrap().clone()
    }

    /// The kinds of an alert's timeline entries, oldest first.
    pub async fn timeline_kinds(&self, id: i64) -> Vec<String> {
        let (code, detail) = self.api_get(&format!("/v1/alerts/{id}")).await;
        assert_eq!(code, 200, "{detail}");
        detail["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect()
    }

    pub async fn all_alerts(&self) -> Vec<Value> {
        let (code, body) = self.api_get("/v1/alerts?limit=1000").await;
        assert_eq!(code, 200, "{body}");
        body["alerts"].as_array().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_alert_dedup_resolve_and_reopen() {
    let app = TestApp::spawn().await;
    let (code, first) = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": "disk full on db-1", "severity": "critical", "dedup_key": "disk-db-1"}),
        )
        .await;
    assert_eq!(code, 202, "{first}");
    let id = first["alert_id"].as_i64().unwrap();
    app.clock.advance(chrono::Duration::minutes(5));
    let (code, again) = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": "disk full on db-1", "dedup_key": "disk-db-1"}),
        )
        .await;
    assert_eq!(code, 202);
    assert_eq!(again["alert_id"].as_i64(), Some(id));
    assert_eq!(again["outcome"]["outcome"], "deduplicated");

    let open = app.alerts("open").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["occurrences"], 2);
    assert_eq!(open[0]["team"], "payments");
    assert_eq!(open[0]["severity"], "critical");
    assert_eq!(open[0]["last_seen_at"], "2026-06-01T12:05:00Z");

    let (code, resolved) = app
        .api_post(&format!("/v1/alerts/{id}/resolve"), json!({"by": "alice"}))
        .await;
    assert_eq!(code, 200, "{resolved}");
    assert_eq!(resolved["alert"]["status"], "resolved");
    assert_eq!(resolved["alert"]["resolved_by"], "alice");

    // The same key after a resolve is a new alert.
    let (_, reopened) = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": "disk full again", "dedup_key": "disk-db-1"}),
        )
        .await;
    assert_ne!(reopened["alert_id"].as_i64(), Some(id));

    assert_eq!(app.timeline_kinds(id).await, ["created", "occurrence", "resolved"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pagerduty_events_v2_trigger_ack_resolve() {
    let app = TestApp::spawn().await;
    let trigger = json!({
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "pd-1",
        "payload": {"summary": "checkout latency high", "source": "checkout-1", "severity": "error", "custom_details": {"p99_ms": 900}}
    });
    let (code, body) = app.post("/v2/enqueue", "", trigger.clone()).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(
        body,
        json!({"status": "success", "message": "Event processed", "dedup_key": "pd-1"})
    );
    let (_, _) = app.post("/v2/enqueue", "", trigger).await;
    let open = app.alerts("open").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["occurrences"], 2);
    assert_eq!(open[0]["severity"], "major");

    let (code, _) = app
        .post(
            "/v2/enqueue",
            "",
            json!({"routing_key": KEY, "event_action": "acknowledge", "dedup_key": "pd-1"}),
        )
        .await;
    assert_eq!(code, 202);
    assert_eq!(app.alerts("acknowledged").await.len(), 1);
    let (code, _) = app
        .post(
            "/v2/enqueue",
            "",
            json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": "pd-1"}),
        )
        .await;
    assert_eq!(code, 202);
    assert_eq!(app.alerts("resolved").await.len(), 1);

    // Without a dedup key PagerDuty makes one up and returns it.
    let (code, body) = app
        .post("/v2/enqueue", "", json!({"routing_key": KEY, "event_action": "trigger", "payload": {"summary": "x", "source": "y", "severity": "info"}}))
        .await;
    assert_eq!(code, 202);
    assert!(body["dedup_key"].as_str().is_some_and(|k| !k.is_empty()));
    app.stop().await;
}

fn alertmanager_payload(status: &str, alerts: &[(&str, &str, &str)]) -> Value {
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|(fingerprint, instance, state)| {
            json!({
                "status": state,
                "labels": {"alertname": "HighErrorRate", "instance": instance, "severity": "critical", "job": "api"},
                "annotations": {"summary": format!("error rate high on {instance}")},
                "startsAt": "2026-06-01T11:58:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example/graph",
                "fingerprint": fingerprint,
            })
        })
        .collect();
    json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"HighErrorRate\"}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "oncall",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "severity": "critical", "job": "api"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "alerts": alerts,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn alertmanager_groups_by_fingerprint() {
    let app = TestApp::spawn().await;
    let (code, body) = app
        .post(
            "/v1/alertmanager",
            KEY,
            alertmanager_payload("firing", &[("aaa", "api-1", "firing"), ("bbb", "api-2", "firing")]),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(app.alerts("open").await.len(), 2);
    // A third instance joins the group: it pages (a new alert); the others are repeats.
    let three = [
        ("aaa", "api-1", "firing"),
        ("bbb", "api-2", "firing"),
        ("ccc", "api-3", "firing"),
    ];
    app.post("/v1/alertmanager", KEY, alertmanager_payload("firing", &three))
        .await;
    let open = app.alerts("open").await;
    assert_eq!(open.len(), 3);
    // One resolves: only it.
    let some = [
        ("aaa", "api-1", "firing"),
        ("bbb", "api-2", "resolved"),
        ("ccc", "api-3", "firing"),
    ];
    app.post("/v1/alertmanager", KEY, alertmanager_payload("firing", &some))
        .await;
    let resolved = app.alerts("resolved").await;
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["summary"], "error rate high on api-2");
    assert_eq!(app.alerts("open").await.len(), 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_change_nothing_and_say_why() {
    let app = TestApp::spawn().await;
    app.post("/v1/alerts", KEY, json!({"summary": "baseline"})).await;
    let before = app.all_alerts().await;
    let url = |p: &str| format!("{}{p}", app.base);

    let (code, body) = app.post("/v1/alerts", "not-a-key", json!({"summary": "x"})).await;
    assert_eq!(
        (code, body["error"].as_str().unwrap()),
        (404, "unknown integration key")
    );
    let r = app
        .client
        .post(url("/v1/alerts"))
        .json(&json!({"summary": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = app
        .client
        .post(url("/v1/alerts"))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{\"summary\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let (code, body) = app.post("/v1/alerts", KEY, json!({"summary": 42})).await;
    assert_eq!(code, 400);
    assert_eq!(body["field"], "summary", "{body}");
    let r = app
        .client
        .post(url("/v1/alerts"))
        .bearer_auth(KEY)
        .header("content-type", "text/plain")
        .body("summary")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let huge = json!({"summary": "x", "details": {"blob": "y".repeat(600 * 1024)}});
    let (code, body) = app.post("/v1/alerts", KEY, huge).await;
    assert_eq!(code, 413, "{body}");
    let (code, body) = app.post("/v2/enqueue", "", json!({"routing_key": "nope", "event_action": "trigger", "payload": {"summary": "x", "source": "y", "severity": "info"}})).await;
    assert_eq!(code, 404);
    assert_eq!(body["status"], "invalid event");
    let (code, _) = app
        .post("/v1/alertmanager", KEY, json!({"version": "3", "alerts": []}))
        .await;
    assert_eq!(code, 400);
    let r = app.client.get(url("/v1/alerts")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let (code, _) = app.api_get("/v1/alerts?status=sleeping").await;
    assert_eq!(code, 400);
    let (code, _) = app.api_get("/v1/alerts/999999").await;
    assert_eq!(code, 404);

    assert_eq!(app.all_alerts().await, before, "a rejected request changed the store");
    let r = app.client.get(url("/healthz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn committed_alerts_survive_a_restart_and_the_database_is_locked_while_running() {
    let app = TestApp::spawn().await;
    for i in 0..20 {
        let (code, _) = app
            .post(
                "/v1/alerts",
                KEY,
                json!({"summary": format!("alert {i}"), "dedup_key": format!("k{i}")}),
            )
            .await;
        assert_eq!(code, 202);
    }
    let locked = oncall::store::sqlite::SqliteStore::open(&app.dir.join("oncall.db"));
    assert!(
        matches!(locked, Err(oncall::store::StoreError::Locked { .. })),
        "a second store opened the live database"
    );
    let (code, ready) = app.api_get("/readyz").await;
    assert_eq!(code, 200, "{ready}");
    let dir = app.stop().await;

    let app = TestApp::spawn_in(dir).await;
    assert_eq!(app.alerts("open").await.len(), 20);
    let (code, oncall) = app.api_get("/v1/oncall").await;
    assert_eq!(code, 200);
    assert_eq!(oncall["oncall"].as_array().unwrap().len(), 2);
    app.stop().await;
}

async fn heartbeat_alerts(app: &TestApp) -> Vec<Value> {
    app.all_alerts()
        .await
        .into_iter()
        .filter(|a| a["dedup_key"] == "heartbeat:nightly-backup")
        .collect()
}

/// Issue 17: two daemons on one PostgreSQL database, A leading (the
/// engine's lease), B following. The heartbeat is pinged on B every half
/// hour for three hours while both daemons' checks are stepped: nothing is
/// ever reported missing. Then it goes silent: only the leader's check
/// raises the alert; the follower's check never runs (its gate is shut),
/// so it can never report a heartbeat missing that it did not read.
#[tokio::test(flavor = "multi_thread")]
async fn issue17_a_heartbeat_pinged_on_the_follower_is_never_reported_missing() {
    let Some(url) = crate::pg::fresh_database("issue17_heartbeat_two_daemons") else {
        return;
    };
    let start = "2026-06-01T12:00:00Z";
    let on = |name: &str| {
        let dir = temp_dir(name);
        write_schedules(&dir);
        let mut s = settings(&dir);
        s.database = url.parse().unwrap();
        s.link_secret = Some("issue17-link-secret-0123456789abcdef".into());
        // With the engine: the daemons compete for its lease.
        s.run_engine = true;
        (dir, s)
    };
    let (dir, s) = on("issue17-a");
    let a = TestApp::spawn_with(dir, s, start).await;
    assert!(a.state().store.leading(), "the first daemon takes the lease");
    let (dir, s) = on("issue17-b");
    let b = TestApp::spawn_with(dir, s, start).await;
    assert!(!b.state().store.leading(), "the second daemon follows");

    for _ in 0..6 {
        let (code, body) = b.post("/v1/heartbeat/nightly-backup", KEY, json!({})).await;
        assert_eq!(code, 202, "{body}");
        for app in [&a, &b] {
            app.clock.advance(chrono::Duration::minutes(30));
        }
        assert!(
            a.check_heartbeats().await.is_empty(),
            "the leader reported a pinged heartbeat missing"
        );
        assert!(
            b.check_heartbeats().await.is_empty(),
            "the follower reported a pinged heartbeat missing"
        );
    }
    assert!(heartbeat_alerts(&a).await.is_empty());

    // Silent past interval + grace (1h10m) since the last ping.
    for app in [&a, &b] {
        app.clock.advance(chrono::Duration::minutes(60));
    }
    assert!(
        b.check_heartbeats().await.is_empty(),
        "the follower ran the heartbeat check"
    );
    let outcomes = a.check_heartbeats().await;
    assert!(matches!(outcomes[..], [Outcome::Created(_)]), "{outcomes:?}");
    assert!(
        b.check_heartbeats().await.is_empty(),
        "the follower ran the heartbeat check"
    );
    assert_eq!(heartbeat_alerts(&b).await.len(), 1);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_overdue_heartbeat_opens_an_alert_and_a_ping_resolves_it() {
    let app = TestApp::spawn().await;
    let (code, body) = app.post("/v1/heartbeat/nightly-backup", KEY, json!({})).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["outcome"]["outcome"], "unchanged");

    // Interval 1h + grace 10m: at 1h10m it is due, not overdue.
    app.clock.advance(chrono::Duration::minutes(70));
    assert!(app.check_heartbeats().await.is_empty());
    app.clock.advance(chrono::Duration::minutes(1));
    let outcomes = app.check_heartbeats().await;
    assert!(matches!(outcomes[..], [Outcome::Created(_)]), "{outcomes:?}");
    let alerts = heartbeat_alerts(&app).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["status"], "open");
    assert_eq!(alerts[0]["team"], "payments");
    assert_eq!(alerts[0]["intake"], "heartbeat");
    assert_eq!(alerts[0]["severity"], "critical");
    assert_eq!(alerts[0]["details"]["overdue_since"], "2026-06-01T13:10:00Z");

    // Checked again while still silent: the same one alert, no new occurrence.
    app.clock.advance(chrono::Duration::minutes(5));
    assert!(app.check_heartbeats().await.is_empty());
    let alerts = heartbeat_alerts(&app).await;
    assert_eq!((alerts.len(), alerts[0]["occurrences"].as_u64()), (1, Some(1)));

    let (code, body) = app.post("/v1/heartbeat/nightly-backup", KEY, json!({})).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["outcome"]["outcome"], "resolved");
    let alerts = heartbeat_alerts(&app).await;
    assert_eq!(alerts[0]["status"], "resolved");
    assert_eq!(alerts[0]["resolved_at"], "2026-06-01T13:16:00Z");

    // The ping started a new silence: overdue again 1h10m after it.
    app.clock.advance(chrono::Duration::minutes(71));
    assert_eq!(app.check_heartbeats().await.len(), 1);
    assert_eq!(heartbeat_alerts(&app).await.len(), 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_heartbeat_never_pinged_counts_from_the_first_start_and_survives_restarts() {
    let app = TestApp::spawn().await;
    app.clock.advance(chrono::Duration::minutes(60));
    assert!(app.check_heartbeats().await.is_empty());
    let dir = app.stop().await;
    // Restarted at 13:00: the silence still counts from the first start, 12:00.
    let app = TestApp::spawn_in_at(dir, "2026-06-01T13:00:00Z").await;
    assert!(app.check_heartbeats().await.is_empty());
    app.clock.set(crate::support::at("2026-06-01T13:10:01Z"));
    assert_eq!(app.check_heartbeats().await.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn heartbeat_pings_are_authenticated_and_names_checked() {
    let app = TestApp::spawn().await;
    let (code, body) = app.post("/v1/heartbeat/nightly-bakup", KEY, json!({})).await;
    assert_eq!(code, 404, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("no heartbeat `nightly-bakup`"),
        "{body}"
    );
    // The platform team has no such heartbeat.
    let (code, _) = app.post("/v1/heartbeat/nightly-backup", OTHER_KEY, json!({})).await;
    assert_eq!(code, 404);
    let (code, body) = app.post("/v1/heartbeat/nightly-backup", "not-a-key", json!({})).await;
    assert_eq!((code, body["error"].as_str()), (404, Some("unknown integration key")));
    let r = app
        .client
        .post(format!("{}/v1/heartbeat/nightly-backup", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_inside_a_maintenance_window_are_stored_held() {
    let app = TestApp::spawn().await;
    // 12:00 UTC on 1 June: no window.
    let (_, outside) = app
        .post("/v1/alerts", KEY, json!({"summary": "outside", "dedup_key": "a"}))
        .await;
    // 01:30 London (BST) on 2 June is 00:30 UTC: inside 01:00-03:00 local.
    app.clock.set(crate::support::at("2026-06-02T00:30:00Z"));
    let (code, inside) = app
        .post("/v1/alerts", KEY, json!({"summary": "inside", "dedup_key": "b"}))
        .await;
    assert_eq!(code, 202, "{inside}");
    // Another team's alert at the same time is not held.
    let (_, other) = app
        .post(
            "/v1/alerts",
            OTHER_KEY,
            json!({"summary": "platform", "dedup_key": "c"}),
        )
        .await;

    let get = |id: &Value| format!("/v1/alerts/{}", id.as_i64().unwrap());
    let (_, detail) = app.api_get(&get(&inside["alert_id"])).await;
    assert_eq!(
        detail["alert"]["held"],
        json!({"until": "2026-06-02T02:00:00Z", "reason": "database upgrade"})
    );
    assert_eq!(detail["alert"]["status"], "open", "held, not lost");
    assert_eq!(
        detail["timeline"][0]["detail"],
        json!({"intake": "plain", "held": "maintenance until 2026-06-02T02:00:00Z: database upgrade"})
    );
    for id in [&outside["alert_id"], &other["alert_id"]] {
        let (_, detail) = app.api_get(&get(id)).await;
        assert_eq!(detail["alert"]["held"], Value::Null, "{detail}");
        assert_eq!(detail["timeline"][0]["detail"], json!({"intake": "plain"}));
    }
    // The window is half-open: at its end, alerts page again.
    app.clock.set(crate::support::at("2026-06-02T02:00:00Z"));
    let (_, after) = app
        .post("/v1/alerts", KEY, json!({"summary": "after", "dedup_key": "d"}))
        .await;
    let (_, detail) = app.api_get(&get(&after["alert_id"])).await;
    assert_eq!(detail["alert"]["held"], Value::Null);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_heartbeat_severity_the_installation_lacks_stops_the_start() {
    let dir = temp_dir("daemon-severity");
    write_schedules(&dir);
    std::fs::write(
        dir.join("schedules/platform.yaml"),
        format!(
            "team: platform\ntimezone: America/New_York\nrotas:\n  primary: {{members: [carol], start: 2026-01-05T09:00, every: 1w}}\nintake_key: {OTHER_KEY}\nheartbeats:\n  sync: {{interval: 1h, severity: sev1}}\n"
        ),
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(crate::support::at("2026-06-01T12:00:00Z")));
    let error = oncall::app::build(clock, &settings(&dir))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("team platform: heartbeat sync has severity `sev1`, which is not one of this installation's: minor, major, critical"),
        "{error}"
    );
}

/// With no channel configured (the embedded default), a page cannot be
/// delivered anywhere: the engine says so on the alert's timeline rather
/// than dropping it, and the escalation still ran.
#[tokio::test]
async fn an_undeliverable_page_is_recorded_not_dropped() {
    let app = TestApp::spawn().await;
    let (code, body) = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": "disk full on db-1", "severity": "critical", "dedup_key": "disk-db-1"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["alert_id"].as_i64().unwrap();
    let report = app.run_engine().await;
    assert_eq!(report.attempts.len(), 1, "{report:?}");
    assert_eq!(app.timeline_kinds(id).await, ["created", "escalated", "notify_failed"]);
    let (_, timeline) = app.state().store.alert(id).await.unwrap().unwrap();
    // Bob is on call on payments/primary at 2026-06-01T12:00Z (week 21 of
    // alice, bob); he has only an email.
    assert_eq!(timeline[1].detail["reached"][0]["person"], "bob");
    assert_eq!(timeline[2].detail["method"], "email");
    assert_eq!(timeline[2].detail["error"], "no email channel is configured");
    app.stop().await;
}

/// A drill: a practice alert through the real path, marked as such, paged
/// by the next engine pass; bad requests say what is wrong and create
/// nothing.
#[tokio::test]
async fn a_drill_is_a_marked_alert_paged_like_any_other() {
    let app = TestApp::spawn().await;
    let (code, body) = app.api_post("/v1/drills", json!({"team": "paymnts"})).await;
    assert_eq!((code, body["field"].as_str()), (422, Some("team")), "{body}");
    let (code, body) = app
        .api_post("/v1/drills", json!({"team": "payments", "severity": "urgent"}))
        .await;
    assert_eq!((code, body["field"].as_str()), (422, Some("severity")), "{body}");
    let (code, body) = app.post("/v1/drills", KEY, json!({"team": "payments"})).await;
    assert_eq!(code, 401, "an integration key is not an API token: {body}");
    assert!(app.all_alerts().await.is_empty());

    let (code, body) = app.api_post("/v1/drills", json!({"team": "payments"})).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["severity"], "critical");
    let id = body["alert_id"].as_i64().unwrap();
    app.run_engine().await;
    let (code, detail) = app.api_get(&format!("/v1/alerts/{id}")).await;
    assert_eq!(code, 200);
    assert!(
        detail["alert"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("Practice page"),
        "{detail}"
    );
    assert_eq!(detail["alert"]["intake"], "drill");
    assert_eq!(detail["timeline"][1]["kind"], "escalated");
    let notifications = detail["notifications"].as_array().unwrap();
    assert_eq!(notifications.len(), 1, "{detail}");
    assert_eq!(notifications[0]["person"], "bob");
    assert_eq!(notifications[0]["method"], "email");
    assert_eq!(notifications[0]["state"], "failed");
    assert!(notifications[0].get("destination").is_none());
    app.stop().await;
}

/// `oncall backup` copies the database while the daemon runs; the copy,
/// restored in place of a lost database, starts a daemon that has every
/// alert the first one had answered for.
#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_while_the_daemon_runs_restores_every_alert() {
    let app = TestApp::spawn().await;
    for i in 0..20 {
        let (code, body) = app
            .post(
                "/v1/alerts",
                KEY,
                json!({"summary": format!("disk {i}"), "severity": "major", "dedup_key": format!("disk-{i}")}),
            )
            .await;
        assert_eq!(code, 202, "{body}");
    }
    let copy = app.dir.join("backup.db");
    let run = |to: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_oncall"))
            .arg("backup")
            .arg("--database")
            .arg(app.dir.join("oncall.db"))
            .arg("--to")
            .arg(to)
            .output()
            .unwrap()
    };
    let o = run(&copy);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let said = String::from_utf8(o.stdout).unwrap();
    assert!(said.contains(", 20 alerts, "), "{said}");
    assert!(said.ends_with("integrity check ok\n"), "{said}");
    // Never over an existing file.
    let o = run(&copy);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    let before = app.all_alerts().await;
    let dir = app.stop().await;

    // The database is lost; the backup takes its place.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("oncall.db{suffix}")));
    }
    std::fs::rename(&copy, dir.join("oncall.db")).unwrap();
    let app = TestApp::spawn_in(dir).await;
    assert_eq!(app.all_alerts().await, before);
    assert_eq!(before.len(), 20);
    app.stop().await;
}

/// Issue 16: a 400 kB summary was stored and shown whole. Every source's
/// summary is cut to 1,024 characters (as PagerDuty does), on a character
/// boundary, and the whole text is kept in the alert's details under
/// `full_summary`.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_a_long_summary_is_cut_and_kept_whole_in_details() {
    let app = TestApp::spawn().await;
    // 400 kB, with a character of two bytes and one of four, so that a cut
    // by bytes would split one.
    let long = format!("disk full é🙂 {}", "x".repeat(400_000));
    let plain = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": long, "severity": "minor", "dedup_key": "long-plain", "details": {"host": "db-1"}}),
        )
        .await;
    assert_eq!(plain.0, 202, "{}", plain.1);
    let pd = app
        .post(
            "/v2/enqueue",
            "",
            json!({"routing_key": KEY, "event_action": "trigger", "dedup_key": "long-pd",
                "payload": {"summary": long, "source": "db-1", "severity": "info"}}),
        )
        .await;
    assert_eq!(pd.0, 202, "{}", pd.1);
    let mut am = alertmanager_payload("firing", &[("ccc", "api-3", "firing")]);
    am["alerts"][0]["annotations"]["summary"] = json!(long);
    let am = app.post("/v1/alertmanager", KEY, am).await;
    assert_eq!(am.0, 202, "{}", am.1);

    let alerts = app.all_alerts().await;
    assert_eq!(alerts.len(), 3);
    for alert in alerts {
        let id = alert["id"].as_i64().unwrap();
        let (code, body) = app.api_get(&format!("/v1/alerts/{id}")).await;
        assert_eq!(code, 200);
        let summary = body["alert"]["summary"].as_str().unwrap();
        assert_eq!(summary.chars().count(), 1024, "{}", alert["dedup_key"]);
        assert!(summary.starts_with("disk full é🙂 xxx"), "{summary}");
        assert!(summary.ends_with('…'), "{}", alert["dedup_key"]);
        // (Compared as a whole: 400 kB do not belong in a failure message.)
        let kept = body["alert"]["details"]["full_summary"].as_str();
        assert!(
            kept == Some(long.as_str()),
            "{}: full_summary {:?} characters",
            alert["dedup_key"],
            kept.map(|k| k.chars().count())
        );
    }
    // The sender's own details are kept beside it.
    let (_, listed) = app.api_get("/v1/alerts?limit=10").await;
    let plain = listed["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["dedup_key"] == "long-plain")
        .unwrap();
    assert_eq!(plain["details"]["host"], "db-1");
    app.stop().await;
}

/// `GET /v1/oncall` during a group's turn (issue 18): a row for each person
/// on call, in the group's order, a shadow on the row of the one they follow.
#[tokio::test(flavor = "multi_thread")]
async fn oncall_lists_each_person_of_a_group() {
    let dir = temp_dir("group");
    write_schedules(&dir);
    std::fs::write(
        dir.join("schedules").join("platform.yaml"),
        format!(
            "team: platform\ntimezone: America/New_York\nrotas:\n  primary:\n    members: [[carol, dave], erin]\n    \
             start: 2026-01-05T09:00\n    every: 1w\n    shadows: [{{user: alice}}]\nintake_key: {OTHER_KEY}\n"
        ),
    )
    .unwrap();
    let app = TestApp::spawn_in_at(dir, "2026-01-06T12:00:00Z").await;
    let (code, body) = app.api_get("/v1/oncall").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["oncall"],
        json!([
            {"team": "payments", "rota": "primary", "user": "alice"},
            {"team": "platform", "rota": "primary", "user": "carol", "shadows": [{"user": "alice", "of": "carol"}]},
            {"team": "platform", "rota": "primary", "user": "dave"},
        ])
    );
    app.stop().await;
}
