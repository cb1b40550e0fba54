//! The store: the only module that knows SQL. The rest of the program sees
//! it through the [`Store`] trait, so that another backend (PostgreSQL) can
//! take SQLite's place without touching the engine or the HTTP layer.
//!
//! Durability is the store's promise: when a write method returns `Ok`, the
//! change is committed to disk. Concurrent writes are batched into one
//! transaction (group commit) so that this promise costs little throughput.
//!
//! Two backends: `sqlite` (the default, one file, one daemon) and
//! `postgres` (a server, several daemons); the `database` setting chooses,
//! parsed once into a [`Database`] (`database.rs`: a file path or a
//! `postgres://` URL) that [`open`] and the readers match on.

pub mod copy;
pub mod database;
pub mod error;
pub mod postgres;
pub mod proof;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

use std::sync::Arc;

use crate::domain::alert::{Alert, AlertId, Event, Outcome, Status, TimelineEntry, TimelineKind};
use crate::domain::heartbeat::Seen;
use crate::domain::time::{Instant, Span};
use crate::engine::ledger::Ledger;
use crate::engine::outbox::{Notification, Pass};
use crate::engine::tx::PassTx;

pub use database::Database;
pub use error::DatabaseError;

/// Opens the store the `database` setting names. With `lead`, a daemon
/// that runs the engine: on PostgreSQL it competes with the others for the
/// engine's lease. Blocks (call it from `spawn_blocking`).
pub fn open(database: &Database, lead: bool) -> Result<Arc<dyn Store>, StoreError> {
    match database {
        Database::Postgres(target) if lead => Ok(Arc::new(postgres::PgStore::open_leading(target)?)),
        Database::Postgres(target) => Ok(Arc::new(postgres::PgStore::open(target)?)),
        Database::Sqlite(path) => Ok(Arc::new(sqlite::SqliteStore::open(path)?)),
    }
}

/// Each event with its details as JSON text, for [`Store::ingest`].
/// Serialized on the caller's thread: a backend's one writer thread is the
/// bottleneck under load, so it gets only SQL to do. The parsed details are
/// dropped here too, once written out (nothing reads them after): freed on
/// the thread that allocated them, where the allocator reuses their memory
/// for the next request, rather than on the store's threads.
///
/// Each text is written into a buffer the thread keeps and copied out at
/// its length, one allocation. Grown in place it took three (256 bytes, its
/// length, then twice its length), and the last was, for the bench's 1 KB
/// alert, over glibc's small sizes: a large allocation that first merges
/// every small chunk freed since the last one, which, with a batch of
/// parked requests freed at once, was much of the HTTP workers' extra time
/// on the durable intake (`malloc_consolidate`, `unlink_chunk`).
fn with_details_json(events: Vec<Event>) -> Result<Vec<(Event, String)>, StoreError> {
    thread_local! {
        static TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    /// A buffer grown past this by a huge alert is not kept.
    const KEEP: usize = 64 * 1024;
    Ok(events
        .into_iter()
        .map(|mut e| {
            let details = TEXT.with_borrow_mut(|buf| {
                buf.clear();
                write_json(buf, &e.details);
                let text = buf.as_str().to_owned();
                if buf.capacity() > KEEP {
                    *buf = String::new();
                }
                text
            });
            e.details = serde_json::Value::Null;
            (e, details)
        })
        .collect())
}

/// `value` as JSON text, as [`write_json`] writes it: for the tests that
/// hold it to serde_json's text.
#[cfg(test)]
fn json_text(value: &serde_json::Value) -> String {
    let mut out = String::with_capacity(256);
    write_json(&mut out, value);
    out
}

/// `value` as JSON text, exactly as `serde_json::to_string` writes it, but
/// copying each string that needs no escape whole rather than looking at
/// it byte by byte (an alert's details are mostly such text).
fn write_json(out: &mut String, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        // serde_json writes a number as its Display does (itoa, ryu).
        Value::Number(n) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_json_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_str(out, key);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

/// A JSON string: as it is between quotes unless it holds a character that
/// JSON escapes, then as serde_json escapes it.
fn write_json_str(out: &mut String, s: &str) {
    // Every byte looked at, with no early exit, so that the loop runs on
    // many bytes at a time.
    let plain = s
        .bytes()
        .fold(true, |plain, b| plain & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // Writing a string cannot fail.
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

/// An alert's timeline as the store shows it: its `created` entry first,
/// then the entries stored. The `created` entry is not stored: everything
/// it says is in the alert's row (when, which intake, the hold), so it is
/// made here, exactly as it used to be stored, rather than written for
/// every alert. (An alert stored by an older `oncall` has it stored; that
/// one is shown as it is.)
fn with_created_entry(alert: &Alert, mut stored: Vec<TimelineEntry>) -> Vec<TimelineEntry> {
    if stored.first().is_some_and(|e| e.kind == TimelineKind::Created) {
        return stored;
    }
    let mut detail = serde_json::json!({ "intake": alert.intake });
    if let Some(hold) = &alert.held {
        detail["held"] = serde_json::json!(hold.describe());
    }
    stored.insert(
        0,
        TimelineEntry {
            at: alert.created_at,
            kind: TimelineKind::Created,
            detail,
        },
    );
    stored
}

/// Each person's Web Push destinations (`webpush:ID`, the devices they
/// turned push on for), read beside a running daemon (for `oncall check`,
/// which holds them to the proofs as it holds people's other methods).
/// Blocks.
pub fn read_webpush_destinations(
    database: &Database,
) -> Result<std::collections::BTreeMap<String, Vec<String>>, StoreError> {
    let devices = match database {
        Database::Postgres(target) => postgres::read_webpush(target)?,
        Database::Sqlite(path) => sqlite::read_webpush(path)?,
    };
    Ok(by_person(devices))
}

/// Web Push subscriptions (person, subscription id) as each person's
/// destinations (`webpush:ID`).
pub fn by_person(devices: impl IntoIterator<Item = (String, i64)>) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (person, id) in devices {
        out.entry(person)
            .or_default()
            .push(format!("{}{id}", crate::domain::paging::WEB_PUSH_PREFIX));
    }
    out
}

/// The run-time overrides of the database, read beside a running daemon
/// (for `oncall who` and `oncall shifts`). Blocks.
pub fn read_overrides(database: &Database) -> Result<Vec<StoredOverride>, StoreError> {
    match database {
        Database::Postgres(target) => postgres::read_overrides(target),
        Database::Sqlite(path) => sqlite::read_overrides(path),
    }
}

/// The ledger of `span`, read beside a running daemon (for `oncall pay
/// --source ledger` and `oncall burden`). Blocks.
pub fn read_ledger(database: &Database, span: Span) -> Result<Ledger, StoreError> {
    match database {
        Database::Postgres(target) => postgres::read_ledger(target, span),
        Database::Sqlite(path) => sqlite::read_ledger(path, span),
    }
}

/// The last confirmed test of each person's method and destination, read
/// beside a running daemon (for `oncall check`); empty for a database from
/// before test pages. Blocks.
pub fn read_confirmed(database: &Database) -> Result<Vec<proof::Confirmed>, StoreError> {
    match database {
        Database::Postgres(target) => postgres::read_confirmed(target),
        Database::Sqlite(path) => sqlite::read_confirmed(path),
    }
}

/// `oncall token create`: records a credential in `database` beside the
/// running daemon (which reads credentials at each request). Blocks.
pub fn add_credential_beside(database: &Database, c: NewCredential, now: Instant) -> Result<Credential, StoreError> {
    match database {
        Database::Postgres(target) => postgres::add_credential_beside(target, c, now),
        Database::Sqlite(path) => sqlite::add_credential_beside(path, &c, now),
    }
}

/// `oncall token revoke`: ends credential `id` of `kind` beside the running
/// daemon; `None` if there is none live. Blocks.
pub fn end_credential_beside(
    database: &Database,
    kind: CredentialKind,
    id: i64,
    now: Instant,
) -> Result<Option<Credential>, StoreError> {
    match database {
        Database::Postgres(target) => postgres::end_credential_beside(target, kind, id, now),
        Database::Sqlite(path) => sqlite::end_credential_beside(path, kind, id, now),
    }
}

/// `oncall token list`: the live credentials of `kind`, oldest first. Blocks.
pub fn credentials_beside(database: &Database, kind: CredentialKind) -> Result<Vec<Credential>, StoreError> {
    match database {
        Database::Postgres(target) => postgres::credentials_beside(target, kind),
        Database::Sqlite(path) => sqlite::credentials_beside(path, kind),
    }
}

/// What a store method returns: a future that may be sent across threads.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The engine's work for one transaction ([`Store::pass`], [`Store::record`]):
/// the orchestration, written once, over the backend's [`PassTx`].
pub type TxWork<T> = Box<dyn FnMut(&mut dyn PassTx) -> Result<T, StoreError> + Send>;

pub use error::StoreError;

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

    /// Runs one engine pass (`work`: [`crate::engine::pass::run`]) in one
    /// durable transaction of its own on the writer, and answers what it
    /// claimed. A store shared by several daemons first checks, in the same
    /// transaction, that this one still holds the engine's lease at `now`
    /// (else nothing is done and an empty [`Pass`] is answered). `work` may
    /// run more than once (a retried transaction), and must then do the same.
    ///
    /// The caller delivers the messages and reports with [`Store::record`].
    fn pass(&self, now: Instant, work: TxWork<Pass>) -> StoreFuture<'_, Pass>;

    /// Records how the delivery of claimed notifications went (`work`:
    /// [`crate::engine::pass::record`]), durably; it may share a
    /// transaction with other writes.
    fn record(&self, work: TxWork<()>) -> StoreFuture<'_, ()>;

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

    /// Records a credential (a session or a person's API token) by the
    /// digest of its secret.
    fn add_credential(&self, c: NewCredential, now: Instant) -> StoreFuture<'_, Credential>;

    /// The credential of `kind` whose secret has `digest`, if it is live at
    /// `now`: not ended, not expired.
    fn credential(&self, kind: CredentialKind, digest: String, now: Instant) -> StoreFuture<'_, Option<Credential>>;

    /// Ends credential `id` of `kind` at `now` (signed out, revoked); `None`
    /// if there is no such credential or it had ended already.
    fn end_credential(&self, kind: CredentialKind, id: i64, now: Instant) -> StoreFuture<'_, Option<Credential>>;

    /// The credentials of `kind` not ended, oldest first (expired ones too).
    fn credentials(&self, kind: CredentialKind) -> StoreFuture<'_, Vec<Credential>>;

    /// Keeps a person's Web Push subscription; the same endpoint subscribed
    /// again (the device turned push on once more, or for someone else)
    /// replaces its row. Answers it as stored.
    fn add_webpush(&self, s: NewWebPush, now: Instant) -> StoreFuture<'_, WebPushSubscription>;

    /// The Web Push subscriptions of `person` (of everyone: `None`), oldest
    /// first.
    fn webpush_subscriptions(&self, person: Option<String>) -> StoreFuture<'_, Vec<WebPushSubscription>>;

    /// Subscription `id`, if it is still kept.
    fn webpush_subscription(&self, id: i64) -> StoreFuture<'_, Option<WebPushSubscription>>;

    /// Removes subscription `id` (only if it is `person`'s, when given);
    /// answers whether there was one.
    fn remove_webpush(&self, id: i64, person: Option<String>) -> StoreFuture<'_, bool>;

    /// A named mark kept across restarts (say, the last month exported).
    /// Records a test page to `t.person` and queues one notification of
    /// kind `test` per target, due `now`, in one transaction; its id.
    fn start_test(&self, t: proof::NewTest, now: Instant) -> StoreFuture<'_, i64>;

    /// A test page with its proofs; `None`: no such test.
    fn test_page(&self, id: i64) -> StoreFuture<'_, Option<proof::TestPage>>;

    /// One proof; `None`: no such proof.
    fn proof(&self, id: i64) -> StoreFuture<'_, Option<proof::Proof>>;

    /// Applies what a provider or the person said of proof `id`: the proof
    /// after, and whether it changed (a proof is confirmed once); `None`:
    /// no such proof.
    fn proof_event(
        &self,
        id: i64,
        event: proof::ProofEvent,
        now: Instant,
    ) -> StoreFuture<'_, Option<(proof::Proof, bool)>>;

    /// The newest unconfirmed test SMS to `destination` of `person` sent
    /// since `since` (what a reply confirms).
    fn awaiting_reply(&self, person: String, destination: String, since: Instant) -> StoreFuture<'_, Option<i64>>;

    /// The last confirmation of each person's method and destination: a
    /// confirmed test page, or for `sms` a verified phone number
    /// (`crate::phone_verify`), whichever is later.
    fn confirmed(&self) -> StoreFuture<'_, Vec<proof::Confirmed>>;

    fn cursor(&self, name: &'static str) -> StoreFuture<'_, Option<i64>>;

    /// Sets a named mark, durably.
    fn set_cursor(&self, name: &'static str, value: i64) -> StoreFuture<'_, ()>;

    /// The verification of `phone` as `person`'s number (a code sent,
    /// wrong entries, a lock, when verified), if one was ever started.
    fn phone_verification(&self, person: String, phone: String) -> StoreFuture<'_, Option<PhoneVerification>>;

    /// Changes the verification of `phone` as `person`'s in one durable
    /// transaction: `work` is told the row as it is (`None`: never started)
    /// and answers the row to keep, or `None` to leave it as it is. Answers
    /// the row as it was, so that the caller can tell what `work` decided.
    /// `work` may run more than once (a retried transaction), and must then
    /// decide the same.
    fn change_phone_verification(
        &self,
        person: String,
        phone: String,
        work: PhoneWork,
    ) -> StoreFuture<'_, Option<PhoneVerification>>;

    /// When `person` proved `phone` theirs (the right verification code came
    /// back), if they did: a verified number counts as a confirmed SMS
    /// method.
    fn phone_verified_at(&self, person: String, phone: String) -> StoreFuture<'_, Option<Instant>> {
        Box::pin(async move {
            Ok(self
                .phone_verification(person, phone)
                .await?
                .and_then(|v| v.verified_at))
        })
    }

    /// Whether this daemon should run the engine's passes now. Always, on a
    /// store only one daemon may open (SQLite's lock file); on a shared one
    /// (PostgreSQL), only while it holds the engine's lease: the others
    /// take alerts in and answer the API, and wait to take over.
    fn leading(&self) -> bool {
        true
    }
}

/// The verification of one person's phone number, as stored (see
/// `crate::phone_verify` for what each field means to the rules).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhoneVerification {
    pub person: String,
    pub phone: String,
    /// The keyed digest of the pending code (`Links::phone_code_digest`),
    /// never the code; `None` once verified, or before any code.
    pub code_digest: Option<String>,
    /// When the last code was sent.
    pub sent_at: Option<Instant>,
    /// When the pending code stops counting.
    pub expires_at: Option<Instant>,
    /// Wrong entries since the last lock (by the web page and by SMS).
    pub wrong: i64,
    /// Until when entries are refused, after too many wrong ones.
    pub locked_until: Option<Instant>,
    /// When the right code came back.
    pub verified_at: Option<Instant>,
}

impl PhoneVerification {
    /// Nothing started yet for `person`'s `phone`.
    pub fn new(person: &str, phone: &str) -> PhoneVerification {
        PhoneVerification {
            person: person.to_string(),
            phone: phone.to_string(),
            ..PhoneVerification::default()
        }
    }
}

/// The decision of [`Store::change_phone_verification`]: the row to keep,
/// from the row as it is.
pub type PhoneWork = Box<dyn FnMut(Option<&PhoneVerification>) -> Option<PhoneVerification> + Send>;

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

/// What a credential is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialKind {
    /// A web session (a cookie), which expires.
    Session,
    /// A person's API token, until revoked.
    Token,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Session => "session",
            CredentialKind::Token => "token",
        }
    }
}

/// A credential to record (see [`Store::add_credential`]).
#[derive(Clone, Debug)]
pub struct NewCredential {
    pub kind: CredentialKind,
    /// The SHA-256 digest of the secret, in hex: never the secret.
    pub digest: String,
    pub person: String,
    pub label: Option<String>,
    pub expires: Option<Instant>,
}

/// A credential as stored (without its digest).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Credential {
    pub id: i64,
    pub kind: CredentialKind,
    pub person: String,
    pub label: Option<String>,
    pub created_at: Instant,
    pub expires_at: Option<Instant>,
    pub ended_at: Option<Instant>,
}

fn credential_kind(text: &str) -> Option<CredentialKind> {
    match text {
        "session" => Some(CredentialKind::Session),
        "token" => Some(CredentialKind::Token),
        _ => None,
    }
}

/// A Web Push subscription to keep (see [`Store::add_webpush`]): what a
/// browser's `PushSubscription.toJSON()` gives, for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWebPush {
    pub person: String,
    /// The push service's URL for this device (RFC 8030).
    pub endpoint: String,
    /// The device's P-256 public key and auth secret (RFC 8291), base64url.
    pub p256dh: String,
    pub auth: String,
}

/// A Web Push subscription as kept.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WebPushSubscription {
    pub id: i64,
    pub person: String,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub created_at: Instant,
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::json_text;

    /// What serde_json would write, for any value: the text goes into the
    /// database and is shown back as it was sent.
    fn same_as_serde_json(value: &Value) {
        assert_eq!(json_text(value), serde_json::to_string(value).unwrap(), "for {value:?}");
    }

    #[test]
    fn details_are_written_as_serde_json_writes_them() {
        for value in [
            Value::Null,
            json!(true),
            json!(false),
            json!(0),
            json!(-0.0),
            json!(0.1),
            json!(1e300),
            json!(-2.5e-8),
            json!(97),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(""),
            json!("plain text, and non-ASCII: é ✓ 😀"),
            json!("quote \" backslash \\ slash / newline \n tab \t cr \r"),
            json!("\u{0}\u{1}\u{8}\u{c}\u{1f} \u{7f}"),
            json!([]),
            json!({}),
            json!([1, "two", null, [3.5, {}], {"a": []}]),
            json!({"host": "db-1", "used_percent": 97, "pad": "x".repeat(800)}),
            json!({"key \"quoted\"\n": {"z": 1, "a": 2, "m": {"nested": [true, false]}}}),
        ] {
            same_as_serde_json(&value);
        }
        // Every ASCII character alone, and among plain text.
        for b in 0u8..0x80 {
            let c = char::from(b);
            same_as_serde_json(&json!(c.to_string()));
            same_as_serde_json(&json!({ format!("k{c}") : format!("some text {c} more text") }));
        }
    }

    #[test]
    fn each_event_gets_its_own_details_text_from_the_reused_buffer() {
        use crate::domain::alert::{Action, Event};
        let event = |details: Value| Event {
            team: "t".into(),
            action: Action::Trigger,
            dedup_key: "k".into(),
            summary: "s".into(),
            severity: "major".into(),
            source: None,
            details,
            intake: "plain".into(),
            held: None,
        };
        // Long, past what the buffer keeps, then shorter ones: none carries
        // what an earlier one left in the buffer.
        let values = [
            json!({"pad": "x".repeat(800)}),
            json!({"huge": "y".repeat(100_000)}),
            json!({"a": 1}),
            json!([]),
            json!({"host": "db-1", "used_percent": 97}),
        ];
        let events = values.iter().cloned().map(event).collect();
        let written = super::with_details_json(events).unwrap();
        assert_eq!(written.len(), values.len());
        for ((event, text), value) in written.iter().zip(&values) {
            assert_eq!(text, &serde_json::to_string(value).unwrap());
            assert_eq!(text.capacity(), text.len(), "copied out at its length");
            assert_eq!(
                event.details,
                Value::Null,
                "the parsed details are dropped once written"
            );
        }
        // And again on the same thread, after the buffer was let go.
        let again = super::with_details_json(vec![event(json!({"b": 2}))]).unwrap();
        assert_eq!(again[0].1, r#"{"b":2}"#);
    }

    proptest! {
        #[test]
        fn any_strings_are_written_as_serde_json_writes_them(key in ".*", text in ".*", n in any::<i64>(), f in any::<f64>()) {
            let mut map = serde_json::Map::new();
            map.insert(key, json!(text));
            map.insert("n".into(), json!(n));
            map.insert("f".into(), serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number));
            same_as_serde_json(&Value::Object(map));
        }
    }
}
