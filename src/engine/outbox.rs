//! The engine's outbox: what a pass decides for an escalation, the
//! notifications it queues, the messages it claims for delivery, and how a
//! delivery went. The store keeps them as rows; these are their values.

use crate::domain::alert::{Alert, AlertId, TimelineKind};
use crate::domain::paging::{Escalation, Method};
use crate::domain::time::Instant;

/// What to do with one due escalation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// The escalation's next state and when it is due; `None`: it is over.
    pub next: Option<(Escalation, Instant)>,
    /// The acknowledgement timed out: the alert becomes open again.
    pub reopen: bool,
    pub notify: Vec<NewNotification>,
    /// Timeline entries, each detail as JSON text (an object).
    pub timeline: Vec<(TimelineKind, String)>,
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
    /// A test page (`oncall test-page`): not about an alert, never
    /// bundled with anything, never cancelled; its payload names its proof.
    Test,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Page => "page",
            NoticeKind::Handoff => "handoff",
            NoticeKind::Announce => "announce",
            NoticeKind::Test => "test",
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
    /// The alerts of the page notifications, in the same order, as the pass
    /// read them: without their details (null; no message shows them).
    pub alerts: Vec<Alert>,
}

/// What a pass claimed, and what it gave up on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pass {
    pub messages: Vec<Message>,
    /// Due notifications whose method cannot be delivered
    /// ([`PassContext::undeliverable`](super::pass::PassContext::undeliverable)): recorded as failed in the pass's own
    /// transaction (as [`Store::record`](crate::store::Store::record) records a failed delivery, the
    /// person's next method brought forward), one entry per destination.
    pub given_up: Vec<GivenUp>,
    /// How many escalation steps the pass fired (for the metrics).
    pub escalation_steps: u64,
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
