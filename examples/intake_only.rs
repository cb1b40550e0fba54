//! The daemon's HTTP intake without its paging engine, for
//! `scripts/bench-intake`: the same router (`oncall::http::router`), the same
//! authentication and parsing, in front of either
//!
//! - a store that does nothing and says every event created a new alert: the
//!   ceiling the durable daemon is compared against; or
//! - with `--sqlite PATH`, the daemon's own SQLite store (group commit, the
//!   WAL synced before each answer) but no engine passes: what durable intake
//!   costs before any paging.
//!
//! ```sh
//! cargo run --release --example intake_only -- 127.0.0.1:0 [INTEGRATION_KEY] [--sqlite PATH]
//! ```
//!
//! Logs `address=<bound address>` to stderr once it listens (like `oncall
//! serve`); stops on SIGTERM or SIGINT.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use oncall::clock::SystemClock;
use oncall::domain::alert::{Alert, AlertId, Event, Outcome, Status, TimelineEntry};
use oncall::domain::heartbeat::Seen;
use oncall::domain::schedule::Schedule;
use oncall::domain::severity::Severities;
use oncall::domain::time::{Instant, Span};
use oncall::engine::Engine;
use oncall::engine::ledger::Ledger;
use oncall::engine::outbox::{Notification, Pass};
use oncall::engine::rules::Rules;
use oncall::http::{self, AppState};
use oncall::links::Links;
use oncall::notify::Channels;
use oncall::settings::DEFAULT_MAX_BODY_BYTES;
use oncall::store::sqlite::SqliteStore;
use oncall::store::{
    Credential, CredentialKind, LeadChange, NewCredential, NewOverride, NewWebPush, PhoneVerification, PhoneWork,
    Spend, SpendLink, Store, StoreError, StoreFuture, StoredOverride, TxWork, WebPushSubscription,
};

/// The key `scripts/bench-intake` uses when none is given.
const DEFAULT_KEY: &str = "bench-key-0123456789";
const TEAM: &str = "bench";

/// Answers every write at once, as if it had committed; keeps nothing.
#[derive(Default)]
struct NullStore {
    next_id: AtomicI64,
}

impl Store for NullStore {
    fn ingest(&self, events: Vec<Event>, _now: Instant) -> StoreFuture<'_, Vec<Outcome>> {
        let outcomes = events
            .iter()
            .map(|_| Outcome::Created(self.next_id.fetch_add(1, Ordering::Relaxed) + 1))
            .collect();
        Box::pin(async move { Ok(outcomes) })
    }

    fn alerts(&self, _status: Option<Status>, _limit: usize) -> StoreFuture<'_, Vec<Alert>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn alert(&self, _id: AlertId) -> StoreFuture<'_, Option<(Alert, Vec<TimelineEntry>)>> {
        Box::pin(async { Ok(None) })
    }

    fn acknowledge(&self, _id: AlertId, _by: Option<String>, _now: Instant) -> StoreFuture<'_, Option<Alert>> {
        Box::pin(async { Ok(None) })
    }

    fn resolve(&self, _id: AlertId, _by: Option<String>, _now: Instant) -> StoreFuture<'_, Option<Alert>> {
        Box::pin(async { Ok(None) })
    }

    fn act_once(&self, _link: SpendLink, _now: Instant) -> StoreFuture<'_, Spend> {
        Box::pin(async { Ok(Spend::Fresh(None)) })
    }

    fn hand_lead(
        &self,
        _id: AlertId,
        _lead: String,
        _by: Option<String>,
        _now: Instant,
    ) -> StoreFuture<'_, LeadChange> {
        Box::pin(async { Ok(LeadChange::NoAlert) })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn heartbeats_seen(&self, _heartbeats: Vec<(String, String)>, _now: Instant) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn heartbeat_ping(&self, _team: String, _name: String, _now: Instant) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn heartbeat_alerted(&self, _team: String, _name: String, _now: Instant) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn heartbeats(&self) -> StoreFuture<'_, Vec<Seen>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn pass(&self, _now: Instant, _work: TxWork<Pass>) -> StoreFuture<'_, Pass> {
        Box::pin(async { Ok(Pass::default()) })
    }

    fn record(&self, _work: TxWork<()>) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn next_due(&self) -> StoreFuture<'_, Option<Instant>> {
        Box::pin(async { Ok(None) })
    }

    fn notifications(&self, _alert: AlertId) -> StoreFuture<'_, Vec<Notification>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn ledger(&self, _span: Span) -> StoreFuture<'_, Ledger> {
        Box::pin(async { Ok(Ledger::default()) })
    }

    fn unresolved_counts(&self) -> StoreFuture<'_, Vec<(String, String, String, u64)>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn add_override(&self, _o: NewOverride, _now: Instant) -> StoreFuture<'_, StoredOverride> {
        Box::pin(async { Err(StoreError::Refused("the null store keeps no overrides".into())) })
    }

    fn overrides(&self) -> StoreFuture<'_, Vec<StoredOverride>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn delete_override(&self, _id: i64, _by: String, _now: Instant) -> StoreFuture<'_, Option<StoredOverride>> {
        Box::pin(async { Ok(None) })
    }

    fn cursor(&self, _name: &'static str) -> StoreFuture<'_, Option<i64>> {
        Box::pin(async { Ok(None) })
    }

    fn set_cursor(&self, _name: &'static str, _value: i64) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn add_credential(&self, _c: NewCredential, _now: Instant) -> StoreFuture<'_, Credential> {
        Box::pin(async { Err(StoreError::Refused("the null store keeps no credentials".into())) })
    }

    fn credential(&self, _kind: CredentialKind, _digest: String, _now: Instant) -> StoreFuture<'_, Option<Credential>> {
        Box::pin(async { Ok(None) })
    }

    fn end_credential(&self, _kind: CredentialKind, _id: i64, _now: Instant) -> StoreFuture<'_, Option<Credential>> {
        Box::pin(async { Ok(None) })
    }

    fn credentials(&self, _kind: CredentialKind) -> StoreFuture<'_, Vec<Credential>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn phone_verification(&self, _person: String, _phone: String) -> StoreFuture<'_, Option<PhoneVerification>> {
        Box::pin(async { Ok(None) })
    }

    fn change_phone_verification(
        &self,
        _person: String,
        _phone: String,
        _work: PhoneWork,
    ) -> StoreFuture<'_, Option<PhoneVerification>> {
        Box::pin(async { Ok(None) })
    }
    fn start_test(&self, _t: oncall::store::proof::NewTest, _now: Instant) -> StoreFuture<'_, i64> {
        Box::pin(async { Err(StoreError::Refused("the null store keeps no test pages".into())) })
    }

    fn test_page(&self, _id: i64) -> StoreFuture<'_, Option<oncall::store::proof::TestPage>> {
        Box::pin(async { Ok(None) })
    }

    fn proof(&self, _id: i64) -> StoreFuture<'_, Option<oncall::store::proof::Proof>> {
        Box::pin(async { Ok(None) })
    }

    fn proof_event(
        &self,
        _id: i64,
        _event: oncall::store::proof::ProofEvent,
        _now: Instant,
    ) -> StoreFuture<'_, Option<(oncall::store::proof::Proof, bool)>> {
        Box::pin(async { Ok(None) })
    }

    fn awaiting_reply(&self, _person: String, _to: String, _since: Instant) -> StoreFuture<'_, Option<i64>> {
        Box::pin(async { Ok(None) })
    }

    fn confirmed(&self) -> StoreFuture<'_, Vec<oncall::store::proof::Confirmed>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn add_webpush(&self, _s: NewWebPush, _now: Instant) -> StoreFuture<'_, WebPushSubscription> {
        Box::pin(async { Err(StoreError::internal("the null store keeps no subscriptions")) })
    }

    fn webpush_subscriptions(&self, _person: Option<String>) -> StoreFuture<'_, Vec<WebPushSubscription>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn webpush_subscription(&self, _id: i64) -> StoreFuture<'_, Option<WebPushSubscription>> {
        Box::pin(async { Ok(None) })
    }

    fn remove_webpush(&self, _id: i64, _person: Option<String>) -> StoreFuture<'_, bool> {
        Box::pin(async { Ok(false) })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    const USAGE: &str = "usage: intake_only ADDRESS [INTEGRATION_KEY] [--sqlite PATH]   (e.g. 127.0.0.1:0)";
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut sqlite = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sqlite" => sqlite = Some(args.next().ok_or_else(|| anyhow::anyhow!(USAGE))?),
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    let Some(address) = positional.next() else {
        anyhow::bail!(USAGE);
    };
    let key = positional.next().unwrap_or_else(|| DEFAULT_KEY.to_owned());
    let store: Arc<dyn Store> = match &sqlite {
        Some(path) => Arc::new(SqliteStore::open(std::path::Path::new(path))?),
        None => Arc::new(NullStore::default()),
    };
    let schedule = Arc::new(Schedule::default());
    let severities = Severities::default();
    let rules = Rules::new(
        schedule.clone(),
        severities.clone(),
        Rules::default_intensities(&severities),
    );
    let engine = Arc::new(Engine::new(
        store.clone(),
        rules,
        Channels::new(Vec::new()),
        Links::new(vec![7; 32], None),
    ));
    let clock: Arc<dyn oncall::clock::Clock> = Arc::new(SystemClock);
    let live = oncall::live::Live {
        base: schedule.clone(),
        schedule,
        intake_keys: vec![(key, TEAM.to_owned())],
        pay: None,
    };
    let in_force = oncall::live::InForce::new(live, store.clone(), engine.clone(), clock.clone());
    let state = Arc::new(AppState {
        engine,
        store,
        in_force: Arc::new(in_force),
        api_token: None,
        api_token_next: None,
        // How fast one key can go: no limit.
        intake_limit: None,
        test_pages: oncall::http::Limiter::test_pages(),
        guesses: oncall::http::Guesses::new(),
        severities,
        clock,
        heartbeat_lock: tokio::sync::Mutex::new(()),
        status_public: false,
        links: Links::new(oncall::links::generate_secret()?, None),
        inbound_sms: None,
        web: oncall::web::Web::plain(),
        inbound_voice: None,
        phone_sms: None,
        phone_codes: tokio::sync::Mutex::new(()),
    });
    let router = http::router(state, DEFAULT_MAX_BODY_BYTES);
    let listener = tokio::net::TcpListener::bind(&address).await?;
    let what = if sqlite.is_some() { "sqlite store" } else { "null store" };
    eprintln!(
        "intake_only ({what}, no engine) serving address={}",
        listener.local_addr()?
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
        .await?;
    Ok(())
}
