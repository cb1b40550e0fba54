//! Alerts as the daemon keeps them: what came in, its state, and its
//! timeline. Parsing the sources' payloads is `intake`'s job; storing them
//! is `store`'s; here are the shapes they agree on.

use serde::{Deserialize, Serialize};

use super::time::Instant;

pub type AlertId = i64;

/// What a source asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Trigger,
    Acknowledge,
    Resolve,
}

/// One alert event from a source, already routed to its team and with its
/// severity mapped onto the installation's names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub team: String,
    pub action: Action,
    /// Events with the same key on the same team are the same alert while it
    /// is not resolved.
    pub dedup_key: String,
    pub summary: String,
    pub severity: String,
    pub source: Option<String>,
    /// The source's own details, kept as sent.
    pub details: serde_json::Value,
    /// Which intake received it: `alertmanager`, `grafana`, `pagerduty`,
    /// `plain`, `heartbeat`.
    pub intake: String,
    /// Set when the event arrives inside one of its team's maintenance
    /// windows (the intake sets it, from the team's file): a trigger that
    /// opens an alert then stores it held. Intake parsers leave it `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Hold>,
}

/// Why and until when an alert is held: it was opened during a maintenance
/// window. A held alert is stored and listed like any other (never lost),
/// but the paging engine does not page for it while `until` is in the future.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The end of the maintenance window.
    pub until: Instant,
    pub reason: String,
}

impl Hold {
    /// How the timeline says it: `maintenance until <to>: <reason>`.
    pub fn describe(&self) -> String {
        format!(
            "maintenance until {}: {}",
            self.until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.reason
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Triggered, nobody has acknowledged it yet.
    Open,
    Acknowledged,
    Resolved,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "open" => Some(Status::Open),
            "acknowledged" => Some(Status::Acknowledged),
            "resolved" => Some(Status::Resolved),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: AlertId,
    pub team: String,
    pub dedup_key: String,
    pub summary: String,
    pub severity: String,
    pub source: Option<String>,
    pub details: serde_json::Value,
    pub intake: String,
    pub status: Status,
    pub created_at: Instant,
    pub last_seen_at: Instant,
    /// How many trigger events this alert has had (1 when new).
    pub occurrences: u64,
    pub acknowledged_at: Option<Instant>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<Instant>,
    pub resolved_by: Option<String>,
    /// `Some` if the alert was opened inside a maintenance window.
    pub held: Option<Hold>,
    /// Who leads the response: the first to acknowledge, or whoever it was
    /// handed to since. `None`: nobody has acknowledged it.
    pub lead: Option<String>,
}

/// What happened to an alert, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    Created,
    Occurrence,
    Acknowledged,
    Resolved,
    /// An escalation step fired: whom it named, and any rota with nobody
    /// on call.
    Escalated,
    /// A notification was handed to its provider.
    Notified,
    /// A delivery attempt failed (retried later, or the next method tried).
    NotifyFailed,
    /// The acknowledgement timed out: the alert is open and paged again.
    Reopened,
    /// The lead was handed over.
    Lead,
}

impl TimelineKind {
    pub const ALL: [TimelineKind; 9] = [
        TimelineKind::Created,
        TimelineKind::Occurrence,
        TimelineKind::Acknowledged,
        TimelineKind::Resolved,
        TimelineKind::Escalated,
        TimelineKind::Notified,
        TimelineKind::NotifyFailed,
        TimelineKind::Reopened,
        TimelineKind::Lead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TimelineKind::Created => "created",
            TimelineKind::Occurrence => "occurrence",
            TimelineKind::Acknowledged => "acknowledged",
            TimelineKind::Resolved => "resolved",
            TimelineKind::Escalated => "escalated",
            TimelineKind::Notified => "notified",
            TimelineKind::NotifyFailed => "notify_failed",
            TimelineKind::Reopened => "reopened",
            TimelineKind::Lead => "lead",
        }
    }

    pub fn parse(s: &str) -> Option<TimelineKind> {
        TimelineKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A timeline entry's detail as the JSON text the store keeps. Written
/// straight from typed values where an entry is written for every alert
/// (built as a `serde_json::Value` first, a map per object and a string
/// per key, then written out, it was a third of the engine pass's work).
pub fn detail_text(detail: &impl Serialize) -> String {
    // Serializing plain values (no maps with non-string keys) cannot fail.
    serde_json::to_string(detail).unwrap_or_else(|_| "{}".to_owned())
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: Instant,
    pub kind: TimelineKind,
    /// Who did it, or which intake it came through, and anything else worth
    /// keeping.
    pub detail: serde_json::Value,
}

/// What an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "alert_id")]
pub enum Outcome {
    /// A new alert.
    Created(AlertId),
    /// Another occurrence of an alert not yet resolved: nobody is paged again.
    Deduplicated(AlertId),
    Acknowledged(AlertId),
    Resolved(AlertId),
    /// An acknowledge or resolve for a key with no unresolved alert, or an
    /// acknowledge of an alert already acknowledged: nothing changed.
    Unchanged,
}
