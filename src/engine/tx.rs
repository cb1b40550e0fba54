//! [`PassTx`]: the statements the engine's transactions are made of, as
//! verbs. Each backend implements them as bare SQL on its open transaction
//! (`store/sqlite/engine.rs`, `store/postgres/engine.rs`); the orchestration
//! that strings them together ([`super::pass`]) is written once, here, and
//! handed to the store as the work of one transaction
//! ([`crate::store::Store::pass`], [`crate::store::Store::record`]).
//!
//! No decision is made behind a verb: each reads or writes rows and says
//! what it found. Instants are stored as whole seconds (UTC), cut to the
//! second (the pass rounds a deadline up before it writes it: see
//! [`super::pass::deadline`]); rows read back keep their seconds where the
//! pass compares them as such.

use super::ledger::LedgerRow;
use super::outbox::{NewNotification, Notification};
use crate::domain::alert::{Alert, AlertId, TimelineKind};
use crate::domain::paging::{Escalation, Method};
use crate::domain::time::Instant;
use crate::store::error::StoreError;

/// One transaction of the engine's, on the store's writer.
pub trait PassTx {
    /// A named mark kept across restarts (`alerts`, `handoffs`, `announce`,
    /// `ledger`: how far the passes got).
    fn cursor(&mut self, name: &str) -> Result<Option<i64>, StoreError>;
    fn set_cursor(&mut self, name: &str, value: i64) -> Result<(), StoreError>;

    /// The escalations due at `now`, in order of due time, then alert.
    fn due_escalations(&mut self, now: Instant) -> Result<Vec<DueEscalation>, StoreError>;
    /// An escalation's state and when it is due (its first, or its next).
    fn set_escalation(&mut self, alert: AlertId, state: Escalation, due: Instant) -> Result<(), StoreError>;
    fn end_escalation(&mut self, alert: AlertId) -> Result<(), StoreError>;
    /// Counts a turn of a round-robin step of a team, and answers how many
    /// it had taken before this one.
    fn take_turn(&mut self, team: &str, step: usize) -> Result<u64, StoreError>;

    /// Every Web Push subscription kept, as (person, subscription id), in
    /// order of id: the push destinations a page may expand to besides a
    /// person's ntfy topic.
    fn webpush_destinations(&mut self) -> Result<Vec<(String, i64)>, StoreError>;

    /// The alerts with an id above `id`, oldest first. Like [`PassTx::alert`],
    /// without their details (`details` is null): no decision reads them,
    /// and they are most of an alert's row.
    fn alerts_after(&mut self, id: AlertId) -> Result<Vec<Alert>, StoreError>;
    /// An alert, without its details (`details` is null).
    fn alert(&mut self, id: AlertId) -> Result<Option<Alert>, StoreError>;
    /// Opens an acknowledged alert again; `false` if it was not
    /// acknowledged (any more).
    fn reopen(&mut self, alert: AlertId) -> Result<bool, StoreError>;
    /// Adds a timeline entry; `detail` is JSON text (an object, see
    /// [`crate::domain::alert::detail_text`]). A backend may hold entries
    /// back and write several at once, before it next reads the timeline
    /// and before the transaction ends, in the order they were added.
    fn add_timeline(
        &mut self,
        alert: AlertId,
        at: Instant,
        kind: TimelineKind,
        detail: String,
    ) -> Result<(), StoreError>;
    /// The id of the last timeline entry of any alert (0: none).
    fn last_event(&mut self) -> Result<i64, StoreError>;
    /// The timeline entries after `id` that may be announced
    /// (acknowledged, resolved), in order. (Openings are announced from the
    /// new alerts: their `created` entries are not stored, and those an
    /// older `oncall` stored are passed over.)
    fn events_after(&mut self, id: i64) -> Result<Vec<EventRow>, StoreError>;

    fn insert_ledger(&mut self, row: &LedgerRow, recorded_at: Instant) -> Result<(), StoreError>;
    /// Counts a page as received by `person` (once per alert and person).
    fn page_received(&mut self, alert: AlertId, person: &str, at: Instant) -> Result<(), StoreError>;

    fn insert_notification(&mut self, n: &NewNotification) -> Result<(), StoreError>;
    /// Inserts a notification already given up (failed at its first
    /// attempt, with `error`), for one the pass would give up as soon as it
    /// claimed it; answers its id.
    fn insert_given_up(&mut self, n: &NewNotification, error: &str) -> Result<i64, StoreError>;
    /// The notifications due at `now`, pending or claimed (a claim whose
    /// lease ran out), in order of due time, then id.
    fn due_notifications(&mut self, now: Instant) -> Result<Vec<Notification>, StoreError>;
    /// Whether an announcement to `to` older than `id` is still pending or
    /// being sent.
    fn earlier_announcement(&mut self, to: &str, id: i64) -> Result<bool, StoreError>;
    fn cancel(&mut self, id: i64) -> Result<(), StoreError>;
    /// Claims a notification for delivery until `until` (counts an attempt).
    fn claim(&mut self, id: i64, until: Instant) -> Result<(), StoreError>;
    /// Keeps a notification pending until `until`.
    fn hold(&mut self, id: i64, until: Instant) -> Result<(), StoreError>;
    /// When a destination last had a message.
    fn last_sent(&mut self, method: Method, to: &str) -> Result<Option<Instant>, StoreError>;
    /// Marks a notification failed when due, without a claim: `attempts`
    /// counts this one.
    fn mark_given_up(&mut self, id: i64, attempts: u32, error: &str) -> Result<(), StoreError>;
    /// Marks a notification sent at `at`, due at `due` again (the time its
    /// claim moved); `None` if there is no such one.
    fn mark_sent(&mut self, id: i64, at: Instant, due: Instant) -> Result<Option<Done>, StoreError>;
    /// Remembers that the destination of notification `id` had a message at `at`.
    fn sent_to(&mut self, id: i64, at: Instant) -> Result<(), StoreError>;
    /// Puts a notification back to pending, due at `at`, with its error.
    fn mark_retry(&mut self, id: i64, at: Instant, error: &str) -> Result<Option<Done>, StoreError>;
    /// Marks a notification failed, due at `due` again (the time its claim
    /// moved).
    fn mark_failed(&mut self, id: i64, error: &str, due: Instant) -> Result<Option<Done>, StoreError>;
    /// Every pending notification of an alert, in no order.
    fn pending_of_alert(&mut self, alert: AlertId) -> Result<Vec<Pending>, StoreError>;
    /// Marks the person's latest placed phone call about the alert failed
    /// with `error` (the call did not reach them); `None` if there is none
    /// (not placed, or already marked).
    fn mark_not_reached(&mut self, alert: AlertId, person: &str, error: &str) -> Result<Option<Done>, StoreError>;
    /// Makes an alert's escalation (paging, not acknowledged) due at `now`;
    /// `false` if there is none, or it is due already.
    fn hurry_escalation(&mut self, alert: AlertId, now: Instant) -> Result<bool, StoreError>;
    /// Makes a pending notification due at `at`.
    fn bring_forward(&mut self, id: i64, at: Instant) -> Result<(), StoreError>;
}

/// An escalation row that is due.
#[derive(Clone, Debug, PartialEq)]
pub struct DueEscalation {
    pub alert: AlertId,
    pub state: Escalation,
    /// Seconds (UTC).
    pub due_at: i64,
}

/// A timeline entry to announce, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub alert: AlertId,
    /// Seconds (UTC).
    pub at: i64,
    pub kind: String,
    /// JSON text.
    pub detail: String,
}

/// A notification as it is after a delivery attempt was recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Done {
    pub alert: Option<AlertId>,
    pub person: String,
    pub method: String,
    pub attempts: i64,
    pub step: Option<i64>,
    pub round: Option<i64>,
    pub kind: String,
    /// JSON text.
    pub payload: Option<String>,
}

/// A pending notification of an alert.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub id: i64,
    pub person: String,
    pub step: Option<i64>,
    pub round: Option<i64>,
    pub method: String,
    /// Seconds (UTC).
    pub due_at: i64,
}
