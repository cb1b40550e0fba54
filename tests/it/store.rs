//! The store's contract, as a suite any backend runs: the functions below
//! take a `&dyn Store` (or, when they must close and reopen the database, a
//! [`Backend`]), and `backend_suite!` turns each into a test for one backend.
//! SQLite runs it, and PostgreSQL (on the server `scripts/test` starts; see
//! `pg.rs` for what happens without one).
//!
//! Then each backend's own promises (SQLite's lock, the schema versions, the
//! two schemas' equivalence), and a throughput measurement run by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use oncall::domain::alert::{Action, Alert, AlertId, Event, Hold, Outcome, Status, TimelineEntry, TimelineKind};
use oncall::domain::heartbeat::Seen;
use oncall::domain::time::Instant;
use oncall::store::postgres::{self, PgStore};
use oncall::store::sqlite::{self, SqliteStore};
use oncall::store::{LinkAction, Spend, SpendLink, Store, StoreError};
use serde_json::json;

use crate::support::at;

/// What the suite needs from a backend beyond [`Store`].
trait Backend {
    type Store: Store;

    /// Opens the test's database: empty the first time, the same data after.
    fn open(&self) -> Self::Store;

    /// Closes `store`; every write it answered Ok must be there on reopening.
    fn close(&self, store: Self::Store);

    /// The database as `oncall` commands name it.
    fn database(&self) -> oncall::store::Database;
}

/// One test per suite function, against the backend that `$make(test name)`
/// returns (`None`: the backend is not available here, see `pg.rs`).
/// Functions taking a store get a freshly opened one, closed after.
macro_rules! backend_suite {
    ($make:expr; stores: [$($store_test:ident),* $(,)?]; backends: [$($backend_test:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $store_test() {
                let Some(backend) = $make(stringify!($store_test)) else { return };
                let store = backend.open();
                super::$store_test(&store).await;
                backend.close(store);
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $backend_test() {
                let Some(backend) = $make(stringify!($backend_test)) else { return };
                super::$backend_test(&backend).await;
            }
        )*
    };
}

/// The functions every backend runs.
macro_rules! every_backend {
    ($make:expr) => {
        backend_suite! {
            $make;
            stores: [
                a_trigger_creates_an_open_alert,
                triggers_with_the_same_key_are_deduplicated,
                keys_are_per_team,
                acknowledge_and_resolve_events_act_on_the_unresolved_alert,
                a_trigger_after_resolve_opens_a_new_alert,
                events_for_unknown_keys_change_nothing,
                events_in_one_call_apply_in_order,
                acknowledge_and_resolve_by_id,
                resolving_an_open_alert_by_id,
                unknown_ids_are_none,
                listing_by_status_newest_first,
                ping_answers,
                heartbeats_are_seen_once_and_pinged,
                a_held_trigger_opens_a_held_alert,
                an_action_link_acts_once,
            ];
            backends: [
                concurrent_ingests_are_durable_and_correct,
                writes_survive_reopening,
                issue19_credentials_live_expire_end_and_are_managed_beside_the_daemon,
                issue20_phone_verifications_change_as_decided_one_at_a_time_and_last,
            ]
        }
    };
}

mod sqlite_suite {
    use super::Backend as _;

    every_backend!(super::SqliteBackend::available);
}

mod postgres_suite {
    use super::Backend as _;

    every_backend!(super::PgBackend::new);
}

fn t0() -> Instant {
    at("2026-03-01T10:00:00Z")
}

fn event(team: &str, action: Action, key: &str) -> Event {
    Event {
        team: team.to_owned(),
        action,
        dedup_key: key.to_owned(),
        summary: format!("{key} is failing"),
        severity: "critical".to_owned(),
        source: Some("prometheus".to_owned()),
        details: json!({"labels": {"alertname": key}, "value": 1.5}),
        intake: "alertmanager".to_owned(),
        held: None,
    }
}

fn trigger(key: &str) -> Event {
    event("payments", Action::Trigger, key)
}

fn ack(key: &str) -> Event {
    event("payments", Action::Acknowledge, key)
}

fn resolve(key: &str) -> Event {
    event("payments", Action::Resolve, key)
}

async fn ingest(store: &dyn Store, event: Event, now: Instant) -> Outcome {
    let outcomes = store.ingest(vec![event], now).await.unwrap();
    assert_eq!(outcomes.len(), 1);
    outcomes[0]
}

async fn created(store: &dyn Store, event: Event, now: Instant) -> AlertId {
    match ingest(store, event, now).await {
        Outcome::Created(id) => id,
        other => panic!("expected a new alert, got {other:?}"),
    }
}

async fn get(store: &dyn Store, id: AlertId) -> (Alert, Vec<TimelineEntry>) {
    store
        .alert(id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("alert {id} is missing"))
}

fn kinds(timeline: &[TimelineEntry]) -> Vec<TimelineKind> {
    timeline.iter().map(|entry| entry.kind).collect()
}

fn ids(alerts: &[Alert]) -> Vec<AlertId> {
    alerts.iter().map(|alert| alert.id).collect()
}

// The suite.

async fn a_trigger_creates_an_open_alert(store: &dyn Store) {
    let id = created(store, trigger("disk"), t0()).await;
    let (alert, timeline) = get(store, id).await;
    assert_eq!(
        alert,
        Alert {
            id,
            team: "payments".to_owned(),
            dedup_key: "disk".to_owned(),
            summary: "disk is failing".to_owned(),
            severity: "critical".to_owned(),
            source: Some("prometheus".to_owned()),
            details: json!({"labels": {"alertname": "disk"}, "value": 1.5}),
            intake: "alertmanager".to_owned(),
            status: Status::Open,
            created_at: t0(),
            last_seen_at: t0(),
            occurrences: 1,
            acknowledged_at: None,
            acknowledged_by: None,
            resolved_at: None,
            resolved_by: None,
            held: None,
            lead: None,
        }
    );
    assert_eq!(
        timeline,
        [TimelineEntry {
            at: t0(),
            kind: TimelineKind::Created,
            detail: json!({"intake": "alertmanager"})
        }]
    );
}

async fn triggers_with_the_same_key_are_deduplicated(store: &dyn Store) {
    let id = created(store, trigger("disk"), t0()).await;
    let t1 = at("2026-03-01T10:05:00Z");
    let t2 = at("2026-03-01T10:09:00Z");
    assert_eq!(ingest(store, trigger("disk"), t1).await, Outcome::Deduplicated(id));
    let mut again = trigger("disk");
    again.summary = "a different summary".to_owned();
    again.intake = "grafana".to_owned();
    assert_eq!(ingest(store, again, t2).await, Outcome::Deduplicated(id));

    let (alert, timeline) = get(store, id).await;
    assert_eq!(alert.occurrences, 3);
    assert_eq!((alert.created_at, alert.last_seen_at), (t0(), t2));
    assert_eq!(
        (alert.status, alert.summary.as_str()),
        (Status::Open, "disk is failing"),
        "the first trigger's"
    );
    assert_eq!(
        kinds(&timeline),
        [
            TimelineKind::Created,
            TimelineKind::Occurrence,
            TimelineKind::Occurrence
        ]
    );
    assert_eq!(timeline[1].at, t1);
    assert_eq!(
        timeline[2],
        TimelineEntry {
            at: t2,
            kind: TimelineKind::Occurrence,
            detail: json!({"intake": "grafana"})
        }
    );
    assert_eq!(store.alerts(None, 10).await.unwrap().len(), 1);
}

async fn keys_are_per_team(store: &dyn Store) {
    let payments = created(store, trigger("disk"), t0()).await;
    let search = created(store, event("search", Action::Trigger, "disk"), t0()).await;
    assert_ne!(payments, search);
    assert_eq!(
        ingest(store, event("search", Action::Resolve, "disk"), t0()).await,
        Outcome::Resolved(search)
    );
    assert_eq!(get(store, payments).await.0.status, Status::Open);
}

async fn acknowledge_and_resolve_events_act_on_the_unresolved_alert(store: &dyn Store) {
    let t1 = at("2026-03-01T10:01:00Z");
    let t2 = at("2026-03-01T10:02:00Z");
    let t3 = at("2026-03-01T10:03:00Z");
    let id = created(store, trigger("disk"), t0()).await;
    assert_eq!(ingest(store, ack("disk"), t1).await, Outcome::Acknowledged(id));
    assert_eq!(
        ingest(store, ack("disk"), t2).await,
        Outcome::Unchanged,
        "already acknowledged"
    );
    assert_eq!(
        ingest(store, trigger("disk"), t2).await,
        Outcome::Deduplicated(id),
        "acknowledged is unresolved"
    );
    let (alert, _) = get(store, id).await;
    assert_eq!(
        (alert.status, alert.acknowledged_at, alert.occurrences),
        (Status::Acknowledged, Some(t1), 2)
    );

    assert_eq!(ingest(store, resolve("disk"), t3).await, Outcome::Resolved(id));
    assert_eq!(
        ingest(store, resolve("disk"), t3).await,
        Outcome::Unchanged,
        "already resolved"
    );
    assert_eq!(ingest(store, ack("disk"), t3).await, Outcome::Unchanged, "resolved");

    let (alert, timeline) = get(store, id).await;
    assert_eq!(alert.status, Status::Resolved);
    assert_eq!(
        (alert.acknowledged_at, alert.acknowledged_by.as_deref()),
        (Some(t1), None)
    );
    assert_eq!((alert.resolved_at, alert.resolved_by.as_deref()), (Some(t3), None));
    assert_eq!(
        kinds(&timeline),
        [
            TimelineKind::Created,
            TimelineKind::Acknowledged,
            TimelineKind::Occurrence,
            TimelineKind::Resolved
        ]
    );
    // An acknowledgement or resolution from a source names nobody: no lead.
    for entry in &timeline {
        let expected = match entry.kind {
            TimelineKind::Acknowledged | TimelineKind::Resolved => json!({"intake": "alertmanager", "lead": null}),
            _ => json!({"intake": "alertmanager"}),
        };
        assert_eq!(entry.detail, expected, "{entry:?}");
    }
    assert_eq!((timeline[1].at, timeline[3].at), (t1, t3));
}

async fn a_trigger_after_resolve_opens_a_new_alert(store: &dyn Store) {
    let first = created(store, trigger("disk"), t0()).await;
    assert_eq!(ingest(store, resolve("disk"), t0()).await, Outcome::Resolved(first));
    let t1 = at("2026-03-01T11:00:00Z");
    let second = created(store, trigger("disk"), t1).await;
    assert_ne!(first, second);
    assert_eq!(ingest(store, trigger("disk"), t1).await, Outcome::Deduplicated(second));

    let (old, old_timeline) = get(store, first).await;
    assert_eq!((old.status, old.occurrences), (Status::Resolved, 1));
    assert_eq!(kinds(&old_timeline), [TimelineKind::Created, TimelineKind::Resolved]);
    let (new, _) = get(store, second).await;
    assert_eq!((new.status, new.occurrences, new.created_at), (Status::Open, 2, t1));
}

async fn events_for_unknown_keys_change_nothing(store: &dyn Store) {
    let outcomes = store
        .ingest(vec![ack("nothing"), resolve("nothing")], t0())
        .await
        .unwrap();
    assert_eq!(outcomes, [Outcome::Unchanged, Outcome::Unchanged]);
    let id = created(store, trigger("disk"), t0()).await;
    assert_eq!(
        ingest(store, event("search", Action::Resolve, "disk"), t0()).await,
        Outcome::Unchanged,
        "other team"
    );
    assert_eq!(store.alerts(None, 10).await.unwrap().len(), 1);
    assert_eq!(kinds(&get(store, id).await.1), [TimelineKind::Created]);
    assert_eq!(store.ingest(Vec::new(), t0()).await.unwrap(), []);
}

async fn events_in_one_call_apply_in_order(store: &dyn Store) {
    let outcomes = store
        .ingest(
            vec![
                trigger("disk"),
                trigger("disk"),
                ack("disk"),
                resolve("disk"),
                trigger("disk"),
            ],
            t0(),
        )
        .await
        .unwrap();
    let Outcome::Created(first) = outcomes[0] else {
        panic!("{outcomes:?}")
    };
    let Outcome::Created(second) = outcomes[4] else {
        panic!("{outcomes:?}")
    };
    assert_eq!(
        outcomes,
        [
            Outcome::Created(first),
            Outcome::Deduplicated(first),
            Outcome::Acknowledged(first),
            Outcome::Resolved(first),
            Outcome::Created(second),
        ]
    );
    assert_ne!(first, second);
}

async fn acknowledge_and_resolve_by_id(store: &dyn Store) {
    let id = created(store, trigger("disk"), t0()).await;
    let t1 = at("2026-03-01T10:01:00Z");
    let t2 = at("2026-03-01T10:02:00Z");
    let t3 = at("2026-03-01T10:03:00Z");

    let alert = store
        .acknowledge(id, Some("alice".to_owned()), t1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (alert.status, alert.acknowledged_at, alert.acknowledged_by.as_deref()),
        (Status::Acknowledged, Some(t1), Some("alice"))
    );
    let again = store
        .acknowledge(id, Some("bob".to_owned()), t2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, alert, "acknowledging twice changes nothing");
    assert_eq!(ingest(store, ack("disk"), t2).await, Outcome::Unchanged);

    let resolved = store.resolve(id, Some("bob".to_owned()), t2).await.unwrap().unwrap();
    assert_eq!(
        (resolved.status, resolved.resolved_at, resolved.resolved_by.as_deref()),
        (Status::Resolved, Some(t2), Some("bob"))
    );
    assert_eq!(resolved.acknowledged_by.as_deref(), Some("alice"));
    assert_eq!(
        store.resolve(id, Some("carol".to_owned()), t3).await.unwrap().unwrap(),
        resolved
    );
    assert_eq!(
        store
            .acknowledge(id, Some("carol".to_owned()), t3)
            .await
            .unwrap()
            .unwrap(),
        resolved
    );
    assert_eq!(ingest(store, resolve("disk"), t3).await, Outcome::Unchanged);

    let (alert, timeline) = get(store, id).await;
    assert_eq!(alert, resolved);
    assert_eq!(
        timeline,
        [
            TimelineEntry {
                at: t0(),
                kind: TimelineKind::Created,
                detail: json!({"intake": "alertmanager"})
            },
            TimelineEntry {
                at: t1,
                kind: TimelineKind::Acknowledged,
                detail: json!({"by": "alice", "lead": "alice"})
            },
            TimelineEntry {
                at: t2,
                kind: TimelineKind::Resolved,
                detail: json!({"by": "bob", "lead": "alice"})
            },
        ]
    );
}

async fn resolving_an_open_alert_by_id(store: &dyn Store) {
    let id = created(store, trigger("disk"), t0()).await;
    let alert = store.resolve(id, None, t0()).await.unwrap().unwrap();
    assert_eq!(
        (alert.status, alert.acknowledged_at, alert.resolved_by),
        (Status::Resolved, None, None)
    );
    let (_, timeline) = get(store, id).await;
    assert_eq!(
        timeline[1],
        TimelineEntry {
            at: t0(),
            kind: TimelineKind::Resolved,
            detail: json!({"by": null, "lead": null})
        }
    );
    // The key is free again.
    assert_ne!(created(store, trigger("disk"), t0()).await, id);
}

async fn unknown_ids_are_none(store: &dyn Store) {
    let id = created(store, trigger("disk"), t0()).await;
    let unknown = id + 1000;
    assert!(store.alert(unknown).await.unwrap().is_none());
    assert!(
        store
            .acknowledge(unknown, Some("alice".to_owned()), t0())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .resolve(unknown, Some("alice".to_owned()), t0())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(ids(&store.alerts(None, 10).await.unwrap()), [id]);
}

async fn listing_by_status_newest_first(store: &dyn Store) {
    assert!(store.alerts(None, 10).await.unwrap().is_empty());
    let mut all = Vec::new();
    for key in ["a", "b", "c", "d", "e"] {
        all.push(created(store, trigger(key), t0()).await);
    }
    let [a, b, c, d, e] = all[..] else { unreachable!() };
    store.acknowledge(b, None, t0()).await.unwrap();
    store.acknowledge(d, None, t0()).await.unwrap();
    store.resolve(c, None, t0()).await.unwrap();

    assert_eq!(ids(&store.alerts(None, 10).await.unwrap()), [e, d, c, b, a]);
    assert_eq!(ids(&store.alerts(None, 2).await.unwrap()), [e, d]);
    assert!(store.alerts(None, 0).await.unwrap().is_empty());
    assert_eq!(ids(&store.alerts(Some(Status::Open), 10).await.unwrap()), [e, a]);
    assert_eq!(
        ids(&store.alerts(Some(Status::Acknowledged), 10).await.unwrap()),
        [d, b]
    );
    assert_eq!(ids(&store.alerts(Some(Status::Acknowledged), 1).await.unwrap()), [d]);
    assert_eq!(ids(&store.alerts(Some(Status::Resolved), 10).await.unwrap()), [c]);
    for alert in store.alerts(Some(Status::Acknowledged), 10).await.unwrap() {
        assert_eq!(alert.status, Status::Acknowledged);
    }
}

async fn ping_answers(store: &dyn Store) {
    store.ping().await.unwrap();
    created(store, trigger("disk"), t0()).await;
    store.ping().await.unwrap();
}

async fn heartbeats_are_seen_once_and_pinged(store: &dyn Store) {
    assert!(store.heartbeats().await.unwrap().is_empty());
    let hb = |team: &str, name: &str| (team.to_owned(), name.to_owned());
    store
        .heartbeats_seen(vec![hb("payments", "backup"), hb("platform", "backup")], t0())
        .await
        .unwrap();
    let t1 = at("2026-03-01T11:00:00Z");
    // Seen again later: still first seen at t0.
    store.heartbeats_seen(vec![hb("payments", "backup")], t1).await.unwrap();
    store
        .heartbeat_ping("payments".into(), "backup".into(), t1)
        .await
        .unwrap();
    // A ping of one never seen records it, first seen at the ping.
    store
        .heartbeat_ping("payments".into(), "cron".into(), t1)
        .await
        .unwrap();
    let t2 = at("2026-03-01T12:30:00Z");
    store
        .heartbeat_alerted("platform".into(), "backup".into(), t2)
        .await
        .unwrap();
    // Alerting an unknown heartbeat records nothing.
    store
        .heartbeat_alerted("platform".into(), "nope".into(), t2)
        .await
        .unwrap();
    let seen = |team: &str, name: &str, first_seen, last_ping, alerted| Seen {
        team: team.into(),
        name: name.into(),
        first_seen,
        last_ping,
        alerted,
    };
    assert_eq!(
        store.heartbeats().await.unwrap(),
        [
            seen("payments", "backup", t0(), Some(t1), None),
            seen("payments", "cron", t1, Some(t1), None),
            seen("platform", "backup", t0(), None, Some(t2)),
        ]
    );
}

async fn a_held_trigger_opens_a_held_alert(store: &dyn Store) {
    let hold = Hold {
        until: at("2026-03-01T12:00:00Z"),
        reason: "database upgrade".into(),
    };
    let mut held = trigger("disk");
    held.held = Some(hold.clone());
    let id = created(store, held, t0()).await;
    // A later trigger, held or not, is an occurrence: the hold stays as it was.
    ingest(store, trigger("disk"), at("2026-03-01T10:05:00Z")).await;
    let (alert, timeline) = get(store, id).await;
    assert_eq!(alert.held, Some(hold));
    assert_eq!(
        timeline[0].detail,
        json!({"intake": "alertmanager", "held": "maintenance until 2026-03-01T12:00:00Z: database upgrade"})
    );
    assert_eq!(timeline[1].detail, json!({"intake": "alertmanager"}));
    let other = created(store, trigger("cpu"), t0()).await;
    assert_eq!(get(store, other).await.0.held, None);
}

/// Many callers at once (so the writer batches them): every answer right,
/// and all of it there after closing and reopening.
async fn an_action_link_acts_once(store: &dyn Store) {
    let id = created(store, trigger("disk"), t0()).await;
    let link = |action, mac: &str| SpendLink {
        link: mac.to_owned(),
        expires: at("2026-03-02T10:00:00Z"),
        action,
        alert: id,
        by: "alice".to_owned(),
    };
    let t1 = at("2026-03-01T10:01:00Z");
    let Spend::Fresh(Some(alert)) = store
        .act_once(link(LinkAction::Acknowledge, "mac-1"), t1)
        .await
        .unwrap()
    else {
        panic!("a fresh link acts")
    };
    assert_eq!(
        (alert.status, alert.acknowledged_by.as_deref()),
        (Status::Acknowledged, Some("alice"))
    );
    // The same link again: nothing changes, and the answer says when it was used.
    let t2 = at("2026-03-01T10:02:00Z");
    match store
        .act_once(link(LinkAction::Acknowledge, "mac-1"), t2)
        .await
        .unwrap()
    {
        Spend::Spent(when) => assert_eq!(when, t1),
        Spend::Fresh(_) => panic!("a spent link acted again"),
    }
    assert_eq!(
        kinds(&get(store, id).await.1),
        [TimelineKind::Created, TimelineKind::Acknowledged]
    );
    // Another link (resolve) is its own.
    let Spend::Fresh(Some(alert)) = store.act_once(link(LinkAction::Resolve, "mac-2"), t2).await.unwrap() else {
        panic!("a second link acts")
    };
    assert_eq!(alert.status, Status::Resolved);
    // Once its expiry has passed, a link's row is forgotten (the link no
    // longer verifies anyway).
    let later = at("2026-03-03T10:00:00Z");
    assert!(matches!(
        store
            .act_once(link(LinkAction::Acknowledge, "mac-1"), later)
            .await
            .unwrap(),
        Spend::Fresh(_)
    ));
}

async fn concurrent_ingests_are_durable_and_correct<B: Backend>(backend: &B) {
    const TASKS: usize = 200;
    const EVENTS: usize = 5;
    const KEYS: usize = 50;
    let store = Arc::new(backend.open());
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for _ in 0..EVENTS {
                // Every key is triggered by TASKS / KEYS tasks, racing.
                let events = vec![trigger(&format!("k{}", task % KEYS))];
                outcomes.extend(store.ingest(events, t0()).await.unwrap());
            }
            (task % KEYS, outcomes)
        }));
    }
    // Per key: the alert ids seen, and how many of each outcome.
    let mut seen: BTreeMap<usize, BTreeSet<AlertId>> = BTreeMap::new();
    let (mut new, mut repeated) = (0, 0);
    for task in tasks {
        let (key, outcomes) = task.await.unwrap();
        for outcome in outcomes {
            let id = match outcome {
                Outcome::Created(id) => {
                    new += 1;
                    id
                }
                Outcome::Deduplicated(id) => {
                    repeated += 1;
                    id
                }
                other => panic!("{other:?}"),
            };
            seen.entry(key).or_default().insert(id);
        }
    }
    assert_eq!((new, repeated), (KEYS, TASKS * EVENTS - KEYS));
    assert!(seen.values().all(|ids| ids.len() == 1), "one alert per key: {seen:?}");
    let store = Arc::try_unwrap(store).unwrap_or_else(|_| panic!("a task still holds the store"));
    backend.close(store);

    let store = backend.open();
    let alerts = store.alerts(None, 10 * KEYS).await.unwrap();
    assert_eq!(alerts.len(), KEYS);
    for alert in &alerts {
        let key: usize = alert.dedup_key[1..].parse().unwrap();
        assert_eq!(seen[&key], BTreeSet::from([alert.id]));
        let per_key = (TASKS / KEYS * EVENTS) as u64;
        assert_eq!((alert.status, alert.occurrences), (Status::Open, per_key), "{alert:?}");
        let (_, timeline) = get(&store, alert.id).await;
        assert_eq!(timeline.len() as u64, per_key);
        assert_eq!(timeline[0].kind, TimelineKind::Created);
        assert!(timeline[1..].iter().all(|entry| entry.kind == TimelineKind::Occurrence));
    }
    backend.close(store);
}

async fn writes_survive_reopening<B: Backend>(backend: &B) {
    let store = backend.open();
    let open = created(&store, trigger("open"), t0()).await;
    let acknowledged = created(&store, trigger("acknowledged"), t0()).await;
    store
        .acknowledge(acknowledged, Some("alice".to_owned()), t0())
        .await
        .unwrap();
    let before = store.alerts(None, 10).await.unwrap();
    let timeline = get(&store, acknowledged).await.1;
    backend.close(store);

    let store = backend.open();
    assert_eq!(store.alerts(None, 10).await.unwrap(), before);
    assert_eq!(get(&store, acknowledged).await.1, timeline);
    // The reopened store carries on: dedup against what was written before.
    assert_eq!(ingest(&store, trigger("open"), t0()).await, Outcome::Deduplicated(open));
    backend.close(store);
}

/// Issue 19: sessions and per-person tokens. A credential is found by its
/// kind and digest while it lives (not after its expiry, not once ended);
/// ending it twice ends it once; the list is of those not ended. The same
/// statements run beside the daemon (`oncall token`) on a connection of
/// their own, while the store is open, and the store sees their writes at
/// once.
/// A phone verification row changes only as the work decides, each change
/// seeing the one before (concurrent wrong entries all count), per person
/// and number, and is still there after reopening.
async fn issue20_phone_verifications_change_as_decided_one_at_a_time_and_last<B: Backend>(backend: &B) {
    use oncall::store::PhoneVerification;
    let store = std::sync::Arc::new(backend.open());
    let (alice, phone) = ("alice".to_string(), "+447700900001".to_string());
    assert_eq!(
        store.phone_verification(alice.clone(), phone.clone()).await.unwrap(),
        None
    );
    let sent = PhoneVerification {
        code_digest: Some("digest".into()),
        sent_at: Some(t0()),
        expires_at: Some(t0() + chrono::Duration::hours(24)),
        ..PhoneVerification::new("alice", "+447700900001")
    };
    let keep = sent.clone();
    let before = store
        .change_phone_verification(alice.clone(), phone.clone(), Box::new(move |_| Some(keep.clone())))
        .await
        .unwrap();
    assert_eq!(before, None);
    // `None` from the work: left as it is.
    let before = store
        .change_phone_verification(alice.clone(), phone.clone(), Box::new(|_| None))
        .await
        .unwrap();
    assert_eq!(before.as_ref(), Some(&sent));
    // Ten wrong entries at once: each sees the one before.
    let mut entries = Vec::new();
    for _ in 0..10 {
        let (store, alice, phone) = (store.clone(), alice.clone(), phone.clone());
        entries.push(tokio::spawn(async move {
            store
                .change_phone_verification(
                    alice,
                    phone,
                    Box::new(|row| {
                        row.map(|r| PhoneVerification {
                            wrong: r.wrong + 1,
                            ..r.clone()
                        })
                    }),
                )
                .await
                .unwrap()
        }));
    }
    let mut seen: Vec<i64> = Vec::new();
    for entry in entries {
        seen.push(entry.await.unwrap().unwrap().wrong);
    }
    seen.sort();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
    // Another number of alice's, and bob's same number, are their own.
    assert_eq!(
        store
            .phone_verification(alice.clone(), "+447700900003".into())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.phone_verification("bob".into(), phone.clone()).await.unwrap(),
        None
    );
    let verified_at = t0() + chrono::Duration::minutes(5);
    store
        .change_phone_verification(
            alice.clone(),
            phone.clone(),
            Box::new(move |row| {
                row.map(|r| PhoneVerification {
                    code_digest: None,
                    verified_at: Some(verified_at),
                    ..r.clone()
                })
            }),
        )
        .await
        .unwrap();
    let store = std::sync::Arc::into_inner(store).unwrap();
    backend.close(store);
    let store = backend.open();
    let row = store
        .phone_verification(alice.clone(), phone.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.wrong, row.code_digest, row.verified_at),
        (10, None, Some(verified_at))
    );
    assert_eq!(store.phone_verified_at(alice, phone).await.unwrap(), Some(verified_at));
    assert_eq!(
        store
            .phone_verified_at("bob".into(), "+447700900001".into())
            .await
            .unwrap(),
        None
    );
    backend.close(store);
}

async fn issue19_credentials_live_expire_end_and_are_managed_beside_the_daemon<B: Backend>(backend: &B) {
    use oncall::store::{CredentialKind, NewCredential};
    let store = backend.open();
    let new = |kind, digest: &str, person: &str, expires| NewCredential {
        kind,
        digest: digest.to_string(),
        person: person.to_string(),
        label: None,
        expires,
    };
    let later = t0() + chrono::Duration::hours(12);
    let session = store
        .add_credential(new(CredentialKind::Session, "d-session", "alice", Some(later)), t0())
        .await
        .unwrap();
    assert_eq!(
        (
            session.person.as_str(),
            session.created_at,
            session.expires_at,
            session.ended_at
        ),
        ("alice", t0(), Some(later), None)
    );
    let found = |kind, digest: &str, now| store.credential(kind, digest.to_string(), now);
    assert_eq!(
        found(CredentialKind::Session, "d-session", t0()).await.unwrap(),
        Some(session.clone())
    );
    // Another kind, another digest, past its expiry: nothing.
    assert_eq!(found(CredentialKind::Token, "d-session", t0()).await.unwrap(), None);
    assert_eq!(found(CredentialKind::Session, "d-other", t0()).await.unwrap(), None);
    assert_eq!(found(CredentialKind::Session, "d-session", later).await.unwrap(), None);
    // A digest is one credential's.
    assert!(
        store
            .add_credential(new(CredentialKind::Token, "d-session", "bob", None), t0())
            .await
            .is_err()
    );

    // A token made beside the open store: the store takes it at once.
    let database = backend.database();
    let mut labelled = new(CredentialKind::Token, "d-token", "bob", None);
    labelled.label = Some("laptop".into());
    let token = tokio::task::spawn_blocking({
        let database = database.clone();
        move || oncall::store::add_credential_beside(&database, labelled, t0())
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        (token.person.as_str(), token.label.as_deref(), token.expires_at),
        ("bob", Some("laptop"), None)
    );
    let far = t0() + chrono::Duration::days(3650);
    assert_eq!(
        found(CredentialKind::Token, "d-token", far).await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        store.credentials(CredentialKind::Token).await.unwrap(),
        vec![token.clone()]
    );
    let beside = |kind| {
        let database = database.clone();
        tokio::task::spawn_blocking(move || oncall::store::credentials_beside(&database, kind))
    };
    assert_eq!(
        beside(CredentialKind::Token).await.unwrap().unwrap(),
        vec![token.clone()]
    );
    assert_eq!(
        beside(CredentialKind::Session).await.unwrap().unwrap(),
        vec![session.clone()]
    );

    // Ended beside the store: refused at once, and only once.
    let end_beside = |id| {
        let database = database.clone();
        tokio::task::spawn_blocking(move || {
            oncall::store::end_credential_beside(&database, CredentialKind::Token, id, t0())
        })
    };
    assert_eq!(
        end_beside(session.id).await.unwrap().unwrap(),
        None,
        "a session is no token"
    );
    let ended = end_beside(token.id).await.unwrap().unwrap().unwrap();
    assert_eq!(ended.ended_at, Some(t0()));
    assert_eq!(found(CredentialKind::Token, "d-token", t0()).await.unwrap(), None);
    assert_eq!(end_beside(token.id).await.unwrap().unwrap(), None);
    assert!(store.credentials(CredentialKind::Token).await.unwrap().is_empty());
    // And in the store: signing out.
    let out = store
        .end_credential(CredentialKind::Session, session.id, t0())
        .await
        .unwrap();
    assert_eq!(out.map(|c| c.ended_at), Some(Some(t0())));
    assert_eq!(
        store
            .end_credential(CredentialKind::Session, session.id, t0())
            .await
            .unwrap(),
        None
    );
    assert_eq!(found(CredentialKind::Session, "d-session", t0()).await.unwrap(), None);
    backend.close(store);
    // Written for good: still there on reopening.
    let store = backend.open();
    assert!(store.credentials(CredentialKind::Session).await.unwrap().is_empty());
    assert_eq!(
        store
            .credential(CredentialKind::Token, "d-token".into(), t0())
            .await
            .unwrap(),
        None
    );
    backend.close(store);
}

// The SQLite backend.

/// A directory of its own under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = format!(
            "oncall-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(unique);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct SqliteBackend {
    dir: TempDir,
}

impl SqliteBackend {
    fn new(name: &str) -> SqliteBackend {
        SqliteBackend {
            dir: TempDir::new(name),
        }
    }

    /// Always: SQLite is built in.
    fn available(name: &str) -> Option<SqliteBackend> {
        Some(SqliteBackend::new(name))
    }

    fn database(&self) -> PathBuf {
        self.dir.path().join("oncall.db")
    }
}

impl Backend for SqliteBackend {
    type Store = SqliteStore;

    fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.database()).unwrap()
    }

    fn close(&self, store: SqliteStore) {
        store.close().unwrap();
    }

    fn database(&self) -> oncall::store::Database {
        oncall::store::Database::Sqlite(self.database())
    }
}

fn user_version(database: &Path) -> i64 {
    let conn = rusqlite::Connection::open(database).unwrap();
    conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_one_store_per_database() {
    let backend = SqliteBackend::new("lock");
    let database = backend.database();
    let first = backend.open();
    assert!(backend.dir.path().join("oncall.db.lock").exists());
    // The same process, a second open: flock locks belong to the open file,
    // so this fails as another daemon would.
    match SqliteStore::open(&database) {
        Err(StoreError::Locked { path, lock }) => {
            assert_eq!(path, database.display().to_string());
            assert_eq!(lock, format!("{}.lock", database.display()));
        }
        other => panic!("a second store opened the database: {other:?}"),
    }
    first.close().unwrap();

    let second = backend.open();
    assert!(matches!(SqliteStore::open(&database), Err(StoreError::Locked { .. })));
    // Dropping releases the lock as closing does.
    drop(second);
    let third = backend.open();
    third.ping().await.unwrap();
    backend.close(third);
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_refuses_a_newer_schema() {
    let backend = SqliteBackend::new("too-new");
    let database = backend.database();
    let store = backend.open();
    created(&store, trigger("disk"), t0()).await;
    backend.close(store);

    let newer = sqlite::SCHEMA_VERSION + 1;
    rusqlite::Connection::open(&database)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();
    match SqliteStore::open(&database) {
        Err(StoreError::TooNew { found, supported, .. }) => {
            assert_eq!((found, supported), (newer, sqlite::SCHEMA_VERSION))
        }
        other => panic!("a newer database was opened: {other:?}"),
    }
    assert_eq!(user_version(&database), newer, "the refused database was changed");

    // The refusal released the lock, and left the data alone.
    rusqlite::Connection::open(&database)
        .unwrap()
        .pragma_update(None, "user_version", sqlite::SCHEMA_VERSION)
        .unwrap();
    let store = backend.open();
    assert_eq!(store.alerts(None, 10).await.unwrap().len(), 1);
    backend.close(store);
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_migrates_once() {
    let backend = SqliteBackend::new("migrate");
    let database = backend.database();
    let store = backend.open();
    let id = created(&store, trigger("disk"), t0()).await;
    backend.close(store);
    assert_eq!(user_version(&database), sqlite::SCHEMA_VERSION);

    let store = backend.open();
    assert_eq!(ids(&store.alerts(None, 10).await.unwrap()), [id]);
    backend.close(store);
    assert_eq!(user_version(&database), sqlite::SCHEMA_VERSION);

    let conn = rusqlite::Connection::open(&database).unwrap();
    let mode: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'alert%' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(tables, ["alert_events", "alerts"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_open_names_the_problem() {
    let dir = TempDir::new("missing");
    let database = dir.path().join("no such folder").join("oncall.db");
    match SqliteStore::open(&database) {
        Err(e @ StoreError::Open { .. }) => assert!(e.to_string().contains("no such folder"), "{e}"),
        other => panic!("{other:?}"),
    }
}

/// A file that is not a database: the error says so, and keeps SQLite's
/// own error (its code) as its source.
#[tokio::test(flavor = "multi_thread")]
async fn issue17_sqlite_open_keeps_sqlites_error_as_its_source() {
    let dir = TempDir::new("not-a-database");
    let database = dir.path().join("oncall.db");
    std::fs::write(
        &database,
        "not a database: a text file, longer than a page header ".repeat(20),
    )
    .unwrap();
    match SqliteStore::open(&database) {
        Err(e @ StoreError::Open { .. }) => {
            assert!(e.to_string().contains("file is not a database"), "{e}");
            let sqlite = std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<rusqlite::Error>())
                .unwrap_or_else(|| panic!("no rusqlite error under {e:?}"));
            assert_eq!(sqlite.sqlite_error_code(), Some(rusqlite::ErrorCode::NotADatabase));
        }
        other => panic!("{other:?}"),
    }
}

// The PostgreSQL backend.

/// A fresh database on the test server per test.
struct PgBackend {
    url: String,
}

impl PgBackend {
    fn new(name: &str) -> Option<PgBackend> {
        Some(PgBackend {
            url: crate::pg::fresh_database(name)?,
        })
    }
}

impl Backend for PgBackend {
    type Store = PgStore;

    fn open(&self) -> PgStore {
        PgStore::open(&self.url.parse().unwrap()).unwrap()
    }

    fn close(&self, store: PgStore) {
        store.close().unwrap();
    }

    fn database(&self) -> oncall::store::Database {
        oncall::store::Database::Postgres(Box::new(self.url.parse().unwrap()))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_migrates_once_and_refuses_a_newer_schema() {
    let Some(backend) = PgBackend::new("pg_migrates") else {
        return;
    };
    let version = || crate::pg::query_strings(&backend.url, "SELECT version FROM oncall_schema");
    let store = backend.open();
    let id = created(&store, trigger("disk"), t0()).await;
    backend.close(store);
    assert_eq!(version(), [postgres::SCHEMA_VERSION.to_string()]);
    // Two daemons at once: both open, one schema, one version row.
    let (a, b) = (backend.open(), backend.open());
    assert_eq!(ids(&a.alerts(None, 10).await.unwrap()), [id]);
    assert_eq!(ids(&b.alerts(None, 10).await.unwrap()), [id]);
    backend.close(a);
    backend.close(b);
    assert_eq!(version(), [postgres::SCHEMA_VERSION.to_string()]);

    let newer = postgres::SCHEMA_VERSION + 1;
    crate::pg::query_strings(&backend.url, &format!("UPDATE oncall_schema SET version = {newer}"));
    match PgStore::open(&backend.url.parse().unwrap()) {
        Err(StoreError::TooNew { found, supported, .. }) => {
            assert_eq!((found, supported), (newer, postgres::SCHEMA_VERSION))
        }
        other => panic!("a newer database was opened: {other:?}"),
    }
    assert_eq!(version(), [newer.to_string()], "the refused database was changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_open_names_the_problem_without_the_password() {
    let Some(server) = crate::pg::server("pg_open_error") else {
        return;
    };
    // A database that does not exist, with a password in the URL.
    let url = crate::pg::with_database(&server, "no_such_database").replacen("://", "://oncall:secret@", 1);
    let url = match url.matches('@').count() {
        1 => url,
        // The server's URL had a user already: keep it, add the password.
        _ => crate::pg::with_database(&server, "no_such_database"),
    };
    match PgStore::open(&url.parse().unwrap()) {
        Err(e @ StoreError::Open { .. }) => {
            let text = e.to_string();
            assert!(!text.contains("secret"), "{text}");
            assert!(text.contains("no_such_database") || text.contains("oncall"), "{text}");
            // The driver's error is kept: the server's code says why.
            let driver = std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<::postgres::Error>())
                .unwrap_or_else(|| panic!("no postgres error under {e:?}"));
            assert!(driver.code().is_some(), "{driver:?}");
        }
        other => panic!("{other:?}"),
    }
}

/// Group commit on PostgreSQL: many callers at once share transactions
/// (each a commit flushed to the server's disk).
#[tokio::test(flavor = "multi_thread")]
async fn postgres_concurrent_ingests_share_commits() {
    const TASKS: u64 = 200;
    let Some(backend) = PgBackend::new("pg_group_commit") else {
        return;
    };
    let store = Arc::new(backend.open());
    let before = store.write_transactions();
    let tasks: Vec<_> = (0..TASKS)
        .map(|n| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.ingest(vec![trigger(&format!("k{n}"))], t0()).await.unwrap() })
        })
        .collect();
    for task in tasks {
        assert!(matches!(task.await.unwrap()[..], [Outcome::Created(_)]));
    }
    let transactions = store.write_transactions() - before;
    assert!(
        transactions < TASKS / 2,
        "{TASKS} requests in {transactions} transactions"
    );
    assert_eq!(store.alerts(None, 1000).await.unwrap().len() as u64, TASKS);
    let store = Arc::try_unwrap(store).unwrap_or_else(|_| panic!("a task still holds the store"));
    backend.close(store);
}

/// Of several daemons on one database, one leads at a time; when it stops,
/// another takes over on its own (within the lease's renewal interval).
#[tokio::test(flavor = "multi_thread")]
async fn postgres_one_leader_at_a_time_and_a_successor_when_it_stops() {
    let Some(backend) = PgBackend::new("pg_leader") else {
        return;
    };
    let first = PgStore::open_leading(&backend.url.parse().unwrap()).unwrap();
    let others = [
        PgStore::open_leading(&backend.url.parse().unwrap()).unwrap(),
        PgStore::open_leading(&backend.url.parse().unwrap()).unwrap(),
    ];
    // A store that does not compete (a command, a test) always may pass.
    let bystander = backend.open();
    assert!(bystander.leading());
    assert!(first.leading(), "alone at first, the first leads at once");
    assert!(others.iter().all(|s| !s.leading()), "one leader");
    let holders = || crate::pg::query_strings(&backend.url, "SELECT holder || ' ' || term FROM leader");
    let before = holders();
    assert_eq!(before.len(), 1);
    assert!(before[0].ends_with(" 1"), "{before:?}");

    backend.close(first);
    let deadline = std::time::Instant::now() + 3 * postgres::lease::TTL;
    while !others.iter().any(|s| s.leading()) {
        assert!(std::time::Instant::now() < deadline, "nobody took over");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(others.iter().filter(|s| s.leading()).count(), 1, "one leader");
    let after = holders();
    assert!(
        after[0].ends_with(" 2") && after != before,
        "a new holder, a new term: {after:?}"
    );
    for store in others {
        backend.close(store);
    }
    backend.close(bystander);
}

/// `oncall migrate-store` copies a SQLite database into PostgreSQL: the
/// same alerts, timelines, heartbeats, overrides and cursors, ids kept, and
/// new ids after the copied ones; a second copy into the same database is
/// refused.
#[tokio::test(flavor = "multi_thread")]
async fn migrate_store_copies_sqlite_into_postgres_with_matching_counts() {
    let Some(pg) = PgBackend::new("migrate_store") else {
        return;
    };
    let sqlite_backend = SqliteBackend::new("migrate-store");
    let source = sqlite_backend.open();
    let open = created(&source, trigger("open"), t0()).await;
    let acknowledged = created(&source, trigger("acknowledged"), t0()).await;
    let resolved = created(&source, trigger("resolved"), t0()).await;
    ingest(&source, trigger("open"), t0()).await;
    source
        .acknowledge(acknowledged, Some("alice".into()), t0())
        .await
        .unwrap();
    source.resolve(resolved, None, t0()).await.unwrap();
    source
        .heartbeats_seen(vec![("payments".into(), "backup".into())], t0())
        .await
        .unwrap();
    let cover = source
        .add_override(
            oncall::store::NewOverride {
                team: "payments".into(),
                rota: "primary".into(),
                user: "bob".into(),
                span: oncall::domain::time::Span::new(t0(), at("2026-03-02T10:00:00Z")),
                instead_of: None,
                reason: Some("swap".into()),
                by: "alice".into(),
            },
            t0(),
        )
        .await
        .unwrap();
    source.set_cursor("pay_export", 7).await.unwrap();
    let device = source
        .add_webpush(
            oncall::store::NewWebPush {
                person: "alice".into(),
                endpoint: "https://push.example.com/d/1".into(),
                p256dh: "key".into(),
                auth: "auth".into(),
            },
            t0(),
        )
        .await
        .unwrap();
    let verified = oncall::store::PhoneVerification {
        verified_at: Some(t0()),
        wrong: 2,
        ..oncall::store::PhoneVerification::new("alice", "+447700900001")
    };
    let kept = verified.clone();
    source
        .change_phone_verification(
            "alice".into(),
            "+447700900001".into(),
            Box::new(move |_| Some(kept.clone())),
        )
        .await
        .unwrap();
    // A test page, confirmed: a proven method stays proven after the move.
    let test = source
        .start_test(
            oncall::store::proof::NewTest {
                person: "alice".into(),
                by: "api".into(),
                targets: vec![(oncall::domain::paging::Method::Sms, "+447700900001".into())],
            },
            t0(),
        )
        .await
        .unwrap();
    let proof = source.test_page(test).await.unwrap().unwrap().proofs[0].id;
    source
        .proof_event(proof, oncall::store::proof::ProofEvent::Confirmed("reply"), t0())
        .await
        .unwrap();
    let tested = source.test_page(test).await.unwrap();
    let confirmed = source.confirmed().await.unwrap();
    assert_eq!(confirmed.len(), 1);
    let alerts = source.alerts(None, 10).await.unwrap();
    let mut timelines = Vec::new();
    for id in [open, acknowledged, resolved] {
        timelines.push(get(&source, id).await.1);
    }
    let heartbeats = source.heartbeats().await.unwrap();
    sqlite_backend.close(source);

    let run = |from: String, to: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_oncall"))
            .args(["migrate-store", "--from", &from, "--to", &to])
            .output()
            .unwrap()
    };
    let from = format!("sqlite:{}", sqlite_backend.database().display());
    let output = run(from.clone(), pg.url.clone());
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("alerts: 3 rows in SQLite, 3 in PostgreSQL"), "{stdout}");
    assert!(
        stdout.contains("overrides: 1 rows in SQLite, 1 in PostgreSQL"),
        "{stdout}"
    );

    let copy = pg.open();
    assert_eq!(copy.alerts(None, 10).await.unwrap(), alerts);
    for (id, timeline) in [open, acknowledged, resolved].into_iter().zip(&timelines) {
        assert_eq!(&get(&copy, id).await.1, timeline);
    }
    assert_eq!(copy.heartbeats().await.unwrap(), heartbeats);
    assert_eq!(copy.overrides().await.unwrap(), std::slice::from_ref(&cover));
    assert_eq!(copy.cursor("pay_export").await.unwrap(), Some(7));
    assert_eq!(
        copy.phone_verification("alice".into(), "+447700900001".into())
            .await
            .unwrap(),
        Some(verified)
    );
    assert!(stdout.contains("proofs: 1 rows in SQLite, 1 in PostgreSQL"), "{stdout}");
    assert_eq!(copy.test_page(test).await.unwrap(), tested);
    assert_eq!(copy.confirmed().await.unwrap(), confirmed);
    // What the commands read beside the daemons (`oncall who`, `shifts`,
    // `pay --source ledger`, `burden`), from the URL.
    let database: oncall::store::Database = pg.url.parse().unwrap();
    let sqlite_database = oncall::store::Database::Sqlite(sqlite_backend.database().to_path_buf());
    let (overrides, ledger, proven, devices_read) = tokio::task::spawn_blocking(move || {
        let span = oncall::domain::time::Span::new(t0(), at("2026-03-02T00:00:00Z"));
        (
            oncall::store::read_overrides(&database).unwrap(),
            oncall::store::read_ledger(&database, span).unwrap(),
            // `oncall check`'s read, from both.
            [
                oncall::store::read_confirmed(&database).unwrap(),
                oncall::store::read_confirmed(&sqlite_database).unwrap(),
            ],
            [
                oncall::store::read_webpush_destinations(&database).unwrap(),
                oncall::store::read_webpush_destinations(&sqlite_database).unwrap(),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(proven, [confirmed.clone(), confirmed.clone()]);
    let devices = std::collections::BTreeMap::from([("alice".to_string(), vec![format!("webpush:{}", device.id)])]);
    assert_eq!(devices_read, [devices.clone(), devices]);
    assert_eq!(overrides, std::slice::from_ref(&cover));
    assert_eq!(
        ledger,
        copy.ledger(oncall::domain::time::Span::new(t0(), at("2026-03-02T00:00:00Z")))
            .await
            .unwrap()
    );
    // It carries on: dedup against the copied alerts, new ids after them.
    assert_eq!(ingest(&copy, trigger("open"), t0()).await, Outcome::Deduplicated(open));
    let next = created(&copy, trigger("new"), t0()).await;
    assert!(next > resolved, "{next} after {resolved}");
    let next_test = copy
        .start_test(
            oncall::store::proof::NewTest {
                person: "bob".into(),
                by: "bob".into(),
                targets: vec![(oncall::domain::paging::Method::Email, "bob@example.com".into())],
            },
            t0(),
        )
        .await
        .unwrap();
    assert!(next_test > test, "{next_test} after {test}");
    pg.close(copy);

    let again = run(from, pg.url.clone());
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("not empty"), "{stderr}");
}

/// The two schemas list the same tables with the same columns (PostgreSQL
/// also has its schema-version table, as SQLite has `user_version`, and the
/// leader's lease, which only a shared database needs).
#[tokio::test(flavor = "multi_thread")]
async fn postgres_and_sqlite_schemas_have_the_same_tables_and_columns() {
    let Some(backend) = PgBackend::new("pg_schema_equivalence") else {
        return;
    };
    backend.close(backend.open());
    let pg: BTreeSet<String> = crate::pg::query_strings(
        &backend.url,
        "SELECT table_name || '.' || column_name FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name NOT IN ('oncall_schema', 'leader')",
    )
    .into_iter()
    .collect();

    let sqlite_backend = SqliteBackend::new("schema_equivalence");
    sqlite_backend.close(sqlite_backend.open());
    let conn = rusqlite::Connection::open(sqlite_backend.database()).unwrap();
    let sqlite: BTreeSet<String> = conn
        .prepare(
            "SELECT m.name || '.' || c.name FROM sqlite_schema m, pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(sqlite.len() > 60, "{sqlite:?}");
    assert_eq!(
        pg.symmetric_difference(&sqlite).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "columns in one schema and not the other"
    );
}

/// Single-event ingests per second with 1, 16 and 64 concurrent callers,
/// each for about two seconds, every event a new alert. Prints; asserts
/// nothing about speed. Run it by hand:
/// `cargo test --release --test it store -- --ignored --nocapture`
///
/// First a baseline for the disk of the day (fsync latency swings tenfold
/// between runs): the same rows, one transaction each, on a bare connection.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement, run by hand"]
async fn sqlite_ingest_throughput() {
    const RUN: std::time::Duration = std::time::Duration::from_secs(2);
    {
        let backend = SqliteBackend::new("baseline");
        backend.close(backend.open());
        let conn = rusqlite::Connection::open(backend.database()).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL")
            .unwrap();
        let start = std::time::Instant::now();
        let mut done = 0u64;
        while start.elapsed() < RUN {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE;
                 INSERT INTO alerts (team, dedup_key, summary, severity, details, intake, status, created_at,
                     last_seen_at, occurrences) VALUES ('t', 'b{done}', 's', 'minor', '{{}}', 'plain', 'open', 0, 0, 1);
                 INSERT INTO alert_events (alert_id, at, kind, detail)
                     VALUES (last_insert_rowid(), 0, 'created', '{{}}');
                 COMMIT;"
            ))
            .unwrap();
            done += 1;
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "baseline, one transaction per insert: {:8.0} inserts/s",
            done as f64 / seconds
        );
    }
    for callers in [1, 16, 64] {
        let backend = SqliteBackend::new("throughput");
        let store = Arc::new(backend.open());
        let start = std::time::Instant::now();
        let mut tasks = Vec::new();
        for caller in 0..callers {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                let mut done = 0u64;
                while start.elapsed() < RUN {
                    let events = vec![trigger(&format!("c{caller}-{done}"))];
                    store.ingest(events, t0()).await.unwrap();
                    done += 1;
                }
                done
            }));
        }
        let mut done = 0;
        for task in tasks {
            done += task.await.unwrap();
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "sqlite ingest, {callers:2} callers: {:8.0} ingests/s ({done} in {seconds:.2} s)",
            done as f64 / seconds
        );
        let store = Arc::try_unwrap(store).unwrap_or_else(|_| panic!("a task still holds the store"));
        assert_eq!(store.alerts(None, usize::MAX).await.unwrap().len() as u64, done);
        backend.close(store);
    }
}
