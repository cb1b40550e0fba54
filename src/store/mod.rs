//! The store: the only module that knows SQL. The rest of the program sees
//! it through the [`Store`] trait, so that another backend (PostgreSQL) can
//! take SQLite's place without touching the engine or the HTTP layer.
//!
//! Durability is the store's promise: when a write method returns `Ok`, the
//! change is committed to disk. Concurrent writes are batched into one
//! transaction (group commit) so that this promise costs little throughput.
//!
//! Two backends: `sqlite` (the default, one file, one daemon) and
//! `postgres` (a server, several daemons); the `database` setting chooses
//! ([`open`]: a `postgres://` URL or a file path).

pub mod copy;
pub mod postgres;
pub mod sqlite;

use std::path::Path;

use std::future::Future;
use std::pin::Pin;

use std::sync::Arc;

use crate::domain::alert::{Alert, AlertId, Event, Outcome, Status, TimelineEntry, TimelineKind};
use crate::domain::heartbeat::Seen;
use crate::domain::paging::{Batches, Due, Escalation, Method};
use crate::domain::time::{Instant, Span};

/// Whether the `database` setting names a PostgreSQL server (a
/// `postgres://` or `postgresql://` URL) rather than a SQLite file.
pub fn is_postgres(database: &Path) -> bool {
    database.to_str().is_some_and(postgres::is_url)
}

/// Opens the store the `database` setting names: PostgreSQL for a URL,
/// else the SQLite file. With `lead`, a daemon that runs the engine: on
/// PostgreSQL it competes with the others for the engine's lease. Blocks
/// (call it from `spawn_blocking`).
pub fn open(database: &Path, lead: bool) -> Result<Arc<dyn Store>, StoreError> {
    match database.to_str().filter(|d| postgres::is_url(d)) {
        Some(url) if lead => Ok(Arc::new(postgres::PgStore::open_leading(url)?)),
        Some(url) => Ok(Arc::new(postgres::PgStore::open(url)?)),
        None => Ok(Arc::new(sqlite::SqliteStore::open(database)?)),
    }
}

/// Each event with its details as JSON text, for [`Store::ingest`].
/// Serialized on the caller's thread: a backend's one writer thread is the
/// bottleneck under load, so it gets only SQL to do.
fn with_details_json(events: Vec<Event>) -> Result<Vec<(Event, String)>, StoreError> {
    events
        .into_iter()
        .map(|e| {
            let details = serde_json::to_string(&e.details).map_err(|err| StoreError::Database(err.to_string()))?;
            Ok((e, details))
        })
        .collect()
}

/// The run-time overrides of the database, read beside a running daemon
/// (for `oncall who` and `oncall shifts`). Blocks.
pub fn read_overrides(database: &Path) -> Result<Vec<StoredOverride>, StoreError> {
    match database.to_str().filter(|d| postgres::is_url(d)) {
        Some(url) => postgres::read_overrides(url),
        None => sqlite::read_overrides(database),
    }
}

/// The ledger of `span`, read beside a running daemon (for `oncall pay
/// --source ledger` and `oncall burden`). Blocks.
pub fn read_ledger(database: &Path, span: Span) -> Result<Ledger, StoreError> {
    match database.to_str().filter(|d| postgres::is_url(d)) {
        Some(url) => postgres::read_ledger(url, span),
        None => sqlite::read_ledger(database, span),
    }
}

/// What a store method returns: a future that may be sent across threads.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another daemon holds this database.
    #[error("another oncall daemon is using {path} (lock file {lock}); only one may page people from one database")]
    Locked { path: String, lock: String },
    /// The database was written by a newer `oncall`.
    #[error(
        "the database {path} has schema version {found}, newer than this oncall knows ({supported}); run the newer oncall, or restore a backup"
    )]
    TooNew { path: String, found: i64, supported: i64 },
    #[error("cannot open the database {path}: {message}")]
    Open { path: String, message: String },
    #[error("database error: {0}")]
    Database(String),
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
}

pub trait Store: Send + Sync + 'static {
    /// Applies `events` in order, in one durable transaction (possibly shared
    /// with concurrent callers), and says what each did:
    /// - trigger: a new alert, or another occurrence of the team's unresolved
    ///   alert with the same dedup key (count + 1, last seen = `now`);
    /// - acknowledge / resolve: changes the unresolved alert with that key,
    ///   if any.
    ///
    /// Every change adds to the alert's timeline.
    fn ingest(&self, events: Vec<Event>, now: Instant) -> StoreFuture<'_, Vec<Outcome>>;

    /// Alerts, newest first, optionally only those with `status`.
    fn alerts(&self, status: Option<Status>, limit: usize) -> StoreFuture<'_, Vec<Alert>>;

    /// One alert with its timeline (oldest entry first), or `None`.
    fn alert(&self, id: AlertId) -> StoreFuture<'_, Option<(Alert, Vec<TimelineEntry>)>>;

    /// Acknowledges an open alert; `None` if there is no such alert. An alert
    /// already acknowledged or resolved is returned unchanged.
    fn acknowledge(&self, id: AlertId, by: Option<String>, now: Instant) -> StoreFuture<'_, Option<Alert>>;

    /// Resolves an alert; `None` if there is no such alert. An alert already
    /// resolved is returned unchanged.
    fn resolve(&self, id: AlertId, by: Option<String>, now: Instant) -> StoreFuture<'_, Option<Alert>>;

    /// Spends the single-use action link `link` and, if it was not spent
    /// before, acknowledges or resolves its alert as its person, in one
    /// transaction: a link acts once, and a link whose action failed is not
    /// spent. Spent links are remembered until they expire.
    fn act_once(&self, link: SpendLink, now: Instant) -> StoreFuture<'_, Spend>;

    /// Hands an unresolved alert's lead to `lead` (`by`: who did it), with a
    /// `lead` timeline entry. Naming a lead does not acknowledge the alert.
    fn hand_lead(&self, id: AlertId, lead: String, by: Option<String>, now: Instant) -> StoreFuture<'_, LeadChange>;

    /// Records each (team, heartbeat name) not yet known as first seen at
    /// `now`; known ones are left as they are.
    fn heartbeats_seen(&self, heartbeats: Vec<(String, String)>, now: Instant) -> StoreFuture<'_, ()>;

    /// Records a ping of a heartbeat at `now` (first seen at `now` too, if it
    /// was not known).
    fn heartbeat_ping(&self, team: String, name: String, now: Instant) -> StoreFuture<'_, ()>;

    /// Records that an overdue alert was raised for a heartbeat at `now`; an
    /// unknown heartbeat is left unknown.
    fn heartbeat_alerted(&self, team: String, name: String, now: Instant) -> StoreFuture<'_, ()>;

    /// Every heartbeat the store knows, by team and name.
    fn heartbeats(&self) -> StoreFuture<'_, Vec<Seen>>;

    /// Checks the store can be written (for readiness).
    fn ping(&self) -> StoreFuture<'_, ()>;

    /// One engine pass's decisions, in one durable transaction:
    /// 1. every alert created since the last pass gets an escalation, due
    ///    at once;
    /// 2. every escalation due at `now` is handed to `decide.escalate`, and
    ///    what it decides is written (the next state, notifications,
    ///    timeline entries, a reopened alert);
    /// 3. hand-off notices from `decide.handoffs` are queued, and the
    ///    announcements `decide.announce` makes of the timeline entries
    ///    written since the last pass;
    /// 4. the notifications due at `now` are claimed: those of alerts no
    ///    longer open are cancelled, the rest grouped by `decide.batch`;
    ///    each group is a message to deliver, leased until `now + lease`.
    ///
    /// The caller delivers the messages and reports with [`Store::record`].
    fn pass(&self, decide: Arc<dyn Decide>, now: Instant, lease: chrono::Duration) -> StoreFuture<'_, Pass>;

    /// Records how the delivery of claimed notifications went.
    fn record(&self, attempts: Vec<Attempt>, now: Instant) -> StoreFuture<'_, ()>;

    /// When the next escalation or notification is due, if any.
    fn next_due(&self) -> StoreFuture<'_, Option<Instant>>;

    /// Every notification of an alert, oldest first.
    fn notifications(&self, alert: AlertId) -> StoreFuture<'_, Vec<Notification>>;

    /// The ledger within `span`: the on-call pieces that overlap it (not
    /// clipped, not merged) and the pages received in it, in time order.
    fn ledger(&self, span: Span) -> StoreFuture<'_, Ledger>;

    /// Alerts not resolved, counted by (team, severity, status).
    fn unresolved_counts(&self) -> StoreFuture<'_, Vec<(String, String, String, u64)>>;

    /// Records an override made at run time.
    fn add_override(&self, o: NewOverride, now: Instant) -> StoreFuture<'_, StoredOverride>;

    /// The overrides made at run time and not deleted, oldest first.
    fn overrides(&self) -> StoreFuture<'_, Vec<StoredOverride>>;

    /// Marks an override deleted (by `by`, at `now`); `None` if there is no
    /// such override or it was deleted already.
    fn delete_override(&self, id: i64, by: String, now: Instant) -> StoreFuture<'_, Option<StoredOverride>>;

    /// A named mark kept across restarts (say, the last month exported).
    fn cursor(&self, name: &'static str) -> StoreFuture<'_, Option<i64>>;

    /// Sets a named mark, durably.
    fn set_cursor(&self, name: &'static str, value: i64) -> StoreFuture<'_, ()>;

    /// Whether this daemon should run the engine's passes now. Always, on a
    /// store only one daemon may open (SQLite's lock file); on a shared one
    /// (PostgreSQL), only while it holds the engine's lease: the others
    /// take alerts in and answer the API, and wait to take over.
    fn leading(&self) -> bool {
        true
    }
}

/// An action link being used (see [`Store::act_once`]).
#[derive(Clone, Debug)]
pub struct SpendLink {
    /// Unique to the link (its MAC).
    pub link: String,
    /// When the link stops verifying anyway: its row can go then.
    pub expires: Instant,
    pub action: LinkAction,
    pub alert: AlertId,
    /// Who acts: the person the link was made for.
    pub by: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkAction {
    Acknowledge,
    Resolve,
}

/// What [`Store::act_once`] did.
#[derive(Clone, Debug)]
pub enum Spend {
    /// The link had been used, at that instant: nothing changed.
    Spent(Instant),
    /// The link is now spent; the alert after the action, as
    /// [`Store::acknowledge`] / [`Store::resolve`] answer (`None`: no such
    /// alert).
    Fresh(Option<Box<Alert>>),
}

/// What [`Store::hand_lead`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum LeadChange {
    /// The alert, with its new lead.
    Changed(Alert),
    /// That person is the lead already: nothing changed.
    Unchanged(Alert),
    /// A resolved alert's lead stays as it was.
    Resolved(Alert),
    NoAlert,
}

/// An override to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOverride {
    pub team: String,
    pub rota: String,
    pub user: String,
    pub span: Span,
    pub instead_of: Option<String>,
    pub reason: Option<String>,
    /// Who made it (audit).
    pub by: String,
}

/// An override made at run time, as stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StoredOverride {
    pub id: i64,
    pub team: String,
    pub rota: String,
    pub user: String,
    pub from: Instant,
    pub to: Instant,
    pub instead_of: Option<String>,
    pub reason: Option<String>,
    pub created_by: String,
    pub created_at: Instant,
}

impl StoredOverride {
    pub fn rota_override(&self) -> crate::domain::schedule::RotaOverride {
        crate::domain::schedule::RotaOverride {
            team: self.team.clone(),
            rota: self.rota.clone(),
            cover: crate::domain::rota::Override {
                span: Span::new(self.from, self.to),
                user: self.user.clone(),
                instead_of: self.instead_of.clone(),
            },
        }
    }
}

/// One piece of someone's time on call, as the ledger recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerRow {
    pub team: String,
    pub rota: String,
    pub person: String,
    pub span: Span,
    /// Filled in after a stretch the daemon was down, from the rotas as
    /// configured when it came back.
    pub reconstructed: bool,
    /// `Some`: `person` was shadowing this person (learning, not on call).
    pub shadow_of: Option<String>,
}

/// A page someone received (the first notice of an alert that reached them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerPage {
    pub alert: AlertId,
    pub person: String,
    pub at: Instant,
    pub severity: String,
    /// When the alert was acknowledged, and by whom (anyone).
    pub acknowledged_at: Option<Instant>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<Instant>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    pub rows: Vec<LedgerRow>,
    pub pages: Vec<LedgerPage>,
    /// Since when the daemon has recorded (`None`: not at all yet). Time
    /// before it is not in `rows`: the daemon did not exist yet.
    pub recorded_from: Option<Instant>,
    /// How far the daemon has recorded (`None`: not at all yet). Time after
    /// it is not in `rows` yet, whatever happened.
    pub recorded_until: Option<Instant>,
}

/// The engine's decisions, called by [`Store::pass`] inside its transaction
/// (so they must be quick and must not block).
pub trait Decide: Send + Sync {
    /// An alert whose escalation is due. `turn(team, step)` counts the
    /// alerts a round-robin step has taken before this one (and counts this
    /// one).
    fn escalate(
        &self,
        alert: &Alert,
        state: Escalation,
        turn: &mut dyn FnMut(&str, usize) -> u64,
        now: Instant,
    ) -> Decision;

    /// Groups the due notifications into messages; `last_sent` says when a
    /// destination last had one.
    fn batch(&self, due: &[Due], last_sent: &dyn Fn(Method, &str) -> Option<Instant>, now: Instant) -> Batches;

    /// The ledger rows to append for the stretch after `since` (`None`: the
    /// first pass ever) up to about `now`, and the instant recorded up to.
    fn ledger(&self, since: Option<Instant>, now: Instant) -> (Vec<LedgerRow>, Instant);

    /// Hand-off notices for shifts starting after `since` (`None`: the first
    /// pass ever) up to `now`, and the instant to continue from next time.
    fn handoffs(&self, since: Option<Instant>, now: Instant) -> (Vec<NewNotification>, Instant);

    /// The announcements of one timeline entry (`created`, `acknowledged`,
    /// `resolved`) of `alert`, written at `at`, found by a pass at `now`.
    /// Each pass sees each entry once (a cursor in the same transaction).
    fn announce(
        &self,
        alert: &Alert,
        kind: TimelineKind,
        detail: &serde_json::Value,
        at: Instant,
        now: Instant,
    ) -> Vec<NewNotification> {
        let _ = (alert, kind, detail, at, now);
        Vec::new()
    }

    /// Why nothing sent by `method` can be delivered at all (no channel is
    /// configured for it), or `None` if it can be tried. The pass gives up
    /// on such notifications when they are due, as a failed delivery would
    /// be recorded, without claiming them.
    fn undeliverable(&self, method: Method) -> Option<String>;
}

/// What to do with one due escalation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// The escalation's next state and when it is due; `None`: it is over.
    pub next: Option<(Escalation, Instant)>,
    /// The acknowledgement timed out: the alert becomes open again.
    pub reopen: bool,
    pub notify: Vec<NewNotification>,
    pub timeline: Vec<(TimelineKind, serde_json::Value)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// About an alert: cancelled when the alert is no longer open.
    Page,
    /// A shift starts.
    Handoff,
    /// To a team's shared space: an alert opened, was acknowledged or
    /// resolved. Never cancelled; delivered one at a time per destination,
    /// in order.
    Announce,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Page => "page",
            NoticeKind::Handoff => "handoff",
            NoticeKind::Announce => "announce",
        }
    }
}

/// A notification to queue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewNotification {
    pub alert: Option<AlertId>,
    pub kind: NoticeKind,
    pub person: String,
    pub method: Method,
    pub to: String,
    pub due: Instant,
    /// The escalation step and round (pages).
    pub step: Option<(usize, u32)>,
    /// What a notice not about an alert says.
    pub payload: Option<serde_json::Value>,
}

/// A notification as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub id: i64,
    pub alert: Option<AlertId>,
    pub kind: NoticeKind,
    pub person: String,
    pub method: Method,
    pub to: String,
    pub step: Option<(usize, u32)>,
    /// When it is (or was) due; while `sending`, when its claim lapses and
    /// it is sent again (a sent or failed one gets its due time back, see
    /// [`Attempt::due`]).
    pub due: Instant,
    pub state: String,
    /// Delivery attempts so far (counting a claimed one in progress).
    pub attempts: u32,
    pub last_error: Option<String>,
    pub sent_at: Option<Instant>,
    pub payload: Option<serde_json::Value>,
}

/// One message to deliver: claimed notifications for one destination (more
/// than one: a bundle), with their alerts as they are now.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub notifications: Vec<Notification>,
    /// The alerts of the page notifications, in the same order.
    pub alerts: Vec<Alert>,
}

/// What a pass claimed, and what it gave up on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pass {
    pub messages: Vec<Message>,
    /// Due notifications whose method cannot be delivered
    /// ([`Decide::undeliverable`]): recorded as failed in the pass's own
    /// transaction (as [`Store::record`] records a failed delivery, the
    /// person's next method brought forward), one entry per destination.
    pub given_up: Vec<GivenUp>,
}

/// Notifications for one destination that a pass recorded as failed without
/// trying to deliver them.
#[derive(Clone, Debug, PartialEq)]
pub struct GivenUp {
    /// The notification ids, and the failure recorded for them.
    pub attempt: Attempt,
    pub person: String,
    pub method: Method,
    /// The alerts of the page notifications among them.
    pub alerts: Vec<AlertId>,
}

/// A deadline as the stores keep it, in whole seconds. A pass takes what is
/// due at its `now` rounded down, so a deadline still ahead of `now` (when
/// it is written) is rounded up: a step due at 09:05:00.6 is taken by the
/// first pass from 09:05:01, never by one at 09:05:00, 0.6 s early. One
/// already reached is due at once, rounded down.
pub(crate) fn deadline(due: Instant, now: Instant) -> i64 {
    match due > now && due.timestamp_subsec_nanos() > 0 {
        true => due.timestamp() + 1,
        false => due.timestamp(),
    }
}

/// How one message's delivery went.
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    /// The message's notification ids.
    pub ids: Vec<i64>,
    /// When each of `ids` was due, in the same order, as the pass that
    /// claimed it read it. A claim moves a row's due time to the end of its
    /// lease (so that a claim whose pass died is sent again then); a sent
    /// or failed notification gets its own due time back, so that it shows
    /// when it was due beside when it was sent.
    pub due: Vec<Instant>,
    pub outcome: AttemptOutcome,
}

impl Attempt {
    /// The attempt of `notifications` (as claimed) that went `outcome`.
    pub fn of<'a>(notifications: impl IntoIterator<Item = &'a Notification>, outcome: AttemptOutcome) -> Attempt {
        let (ids, due) = notifications.into_iter().map(|n| (n.id, n.due)).unzip();
        Attempt { ids, due, outcome }
    }

    /// Each notification id with its due time.
    pub fn notifications(&self) -> impl Iterator<Item = (i64, Instant)> + '_ {
        self.ids.iter().copied().zip(self.due.iter().copied())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum AttemptOutcome {
    Sent {
        reference: Option<String>,
    },
    /// Try again at `at`.
    Retry {
        at: Instant,
        error: String,
    },
    /// Give up on this method; the person's next pending method for the
    /// same step (if any) is brought forward to now.
    Failed {
        error: String,
    },
}
