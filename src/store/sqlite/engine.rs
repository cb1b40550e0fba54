//! The SQL of the engine's passes (see [`Store::pass`](crate::store::Store::pass)).

use std::collections::BTreeMap;

use chrono::Duration;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::json;

use super::{add_timeline, alert_from_row, bad_column, instant, optional_instant, select_alert};
use crate::domain::alert::{Alert, AlertId, Status, TimelineKind};
use crate::domain::paging::{Due, Escalation, Method};
use crate::domain::time::{Instant, Span};
use crate::store::deadline;
use crate::store::{
    Attempt, AttemptOutcome, Decide, GivenUp, Ledger, LedgerPage, LedgerRow, Message, NewNotification, NoticeKind,
    Notification, Pass, StoreError,
};

const LEDGER_FIRST: &str = "SELECT min(start_at) FROM ledger";
const CURSOR: &str = "SELECT value FROM engine_cursors WHERE name = ?1";
const SET_CURSOR: &str = "INSERT INTO engine_cursors (name, value) VALUES (?1, ?2) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value";
const NEW_ALERTS: &str = concat!("SELECT ", alert_columns!(), " FROM alerts WHERE id > ?1 ORDER BY id");
// An escalation's state: its first (a new alert's that is not over after
// its first step, or one not due yet) or its next.
const SET_ESCALATION: &str = "INSERT INTO escalations (alert_id, phase, step, round, due_at) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (alert_id) DO UPDATE SET \
     phase = excluded.phase, step = excluded.step, round = excluded.round, due_at = excluded.due_at";
const DUE_ESCALATIONS: &str =
    "SELECT alert_id, phase, step, round, due_at FROM escalations WHERE due_at <= ?1 ORDER BY due_at, alert_id";
const END_ESCALATION: &str = "DELETE FROM escalations WHERE alert_id = ?1";
const REOPEN: &str = "UPDATE alerts SET status = 'open', acknowledged_at = NULL, acknowledged_by = NULL \
     WHERE id = ?1 AND status = 'acknowledged'";
const TAKE_TURN: &str = "INSERT INTO turns (team, step, taken) VALUES (?1, ?2, 1) \
     ON CONFLICT (team, step) DO UPDATE SET taken = taken + 1 RETURNING taken - 1";
const INSERT_NOTIFICATION: &str = "INSERT INTO notifications \
     (alert_id, kind, person, method, destination, step, round, due_at, state, payload) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9)";
macro_rules! notification_columns {
    () => {
        "id, alert_id, kind, person, method, destination, step, round, due_at, state, attempts, last_error, sent_at, \
         payload"
    };
}
const DUE_NOTIFICATIONS: &str = concat!(
    "SELECT ",
    notification_columns!(),
    " FROM notifications WHERE due_at <= ?1 AND state IN ('pending', 'sending') ORDER BY due_at, id"
);
const ALERT_NOTIFICATIONS: &str = concat!(
    "SELECT ",
    notification_columns!(),
    " FROM notifications WHERE alert_id = ?1 ORDER BY id"
);
const CANCEL: &str = "UPDATE notifications SET state = 'cancelled' WHERE id = ?1";
const CLAIM: &str = "UPDATE notifications SET state = 'sending', attempts = attempts + 1, due_at = ?2 WHERE id = ?1";
const HOLD: &str = "UPDATE notifications SET state = 'pending', due_at = ?2 WHERE id = ?1";
const LAST_SENT: &str = "SELECT last_sent FROM destinations WHERE method = ?1 AND destination = ?2";
// A sent or failed notification gets back the due time its claim moved
// (`Attempt::due`).
const SENT: &str = "UPDATE notifications SET state = 'sent', sent_at = ?2, due_at = ?3, last_error = NULL \
     WHERE id = ?1 \
     RETURNING alert_id, person, method, attempts, step, round, kind, payload";
const SENT_TO: &str = "INSERT INTO destinations (method, destination, last_sent) \
     SELECT method, destination, ?2 FROM notifications WHERE id = ?1 \
     ON CONFLICT (method, destination) DO UPDATE SET last_sent = excluded.last_sent";
const RETRY: &str = "UPDATE notifications SET state = 'pending', due_at = ?2, last_error = ?3 WHERE id = ?1 \
     RETURNING alert_id, person, method, attempts, step, round, kind, payload";
const FAILED: &str = "UPDATE notifications SET state = 'failed', last_error = ?2, due_at = ?3 WHERE id = ?1 \
     RETURNING alert_id, person, method, attempts, step, round, kind, payload";
// Announcements to one destination go one at a time, oldest first.
const EARLIER_ANNOUNCEMENT: &str = "SELECT 1 FROM notifications WHERE kind = 'announce' AND destination = ?1 \
     AND id < ?2 AND state IN ('pending', 'sending') LIMIT 1";
const NEW_EVENTS: &str = "SELECT id, alert_id, at, kind, detail FROM alert_events WHERE id > ?1 \
     AND kind IN ('created', 'acknowledged', 'resolved') ORDER BY id";
const LAST_EVENT: &str = "SELECT coalesce(max(id), 0) FROM alert_events";
// Given up when due, without a claim: the attempt counted here. (No
// RETURNING: the pass has the row already, and a RETURNING statement
// costs a temporary table each time it runs.)
const GIVEN_UP: &str = "UPDATE notifications SET state = 'failed', attempts = ?2, last_error = ?3 WHERE id = ?1";
// The alert's pending notifications, among which the person's next method
// for the same step (the earliest) is chosen; brought forward to now
// (BRING_FORWARD) if it is not due yet. Person, step and round are matched
// here rather than in SQL: SQLite marks a statement with a parameter
// compared in a filter that no index serves (`person = ?`) to be re-prepared
// whenever that parameter is rebound, and rusqlite's statement cache clears
// the bindings of every statement it takes back: so such a statement is
// parsed and planned again on every use.
const PENDING_OF_ALERT: &str = "SELECT id, person, step, round, method, due_at FROM notifications \
     WHERE alert_id = ?1 AND state = 'pending'";
const BRING_FORWARD: &str = "UPDATE notifications SET due_at = ?2 WHERE id = ?1";
const INSERT_LEDGER: &str = "INSERT INTO ledger \
     (team, rota, person, start_at, end_at, reconstructed, recorded_at, shadow_of) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const PAGE_RECEIVED: &str = "INSERT INTO ledger_pages (alert_id, person, at, severity) \
     SELECT ?1, ?2, ?3, severity FROM alerts WHERE id = ?1 ON CONFLICT (alert_id, person) DO NOTHING";
// Pieces that overlap the span: those starting before its end and ending
// after its start (the index finds the first condition; a piece is at most
// an hour long, so the second is cheap).
const LEDGER_ROWS: &str = "SELECT team, rota, person, start_at, end_at, reconstructed, shadow_of FROM ledger \
     WHERE start_at < ?2 AND start_at >= ?1 - 86400 AND end_at > ?1 ORDER BY start_at, id";
const LEDGER_PAGES: &str = "SELECT p.alert_id, p.person, p.at, p.severity, a.acknowledged_at, a.acknowledged_by, a.resolved_at \
     FROM ledger_pages p JOIN alerts a ON a.id = p.alert_id WHERE p.at >= ?1 AND p.at < ?2 ORDER BY p.at, p.alert_id";
const NEXT_DUE: &str = "SELECT min(due) FROM ( \
     SELECT min(due_at) AS due FROM escalations \
     UNION ALL SELECT min(due_at) FROM notifications WHERE state IN ('pending', 'sending'))";

pub(super) fn pass(conn: &Connection, decide: &dyn Decide, now: Instant, lease: Duration) -> Result<Pass, StoreError> {
    let at = now.timestamp();
    // The alerts the escalations read, as they are now: the claim below
    // reuses them rather than reading each again (same transaction, and the
    // one writer).
    let mut alerts = escalate(conn, decide, now)?;
    // Hand-off notices.
    let since: Option<i64> = conn
        .prepare_cached(CURSOR)?
        .query_row(["handoffs"], |r| r.get(0))
        .optional()?;
    let since = since.and_then(|s| chrono::DateTime::from_timestamp(s, 0));
    let (notices, until) = decide.handoffs(since, now);
    for n in &notices {
        insert_notification(conn, n, now)?;
    }
    conn.prepare_cached(SET_CURSOR)?
        .execute(params!["handoffs", until.timestamp()])?;
    // Announcements of what happened to alerts since the last pass.
    announce(conn, decide, &mut alerts, now)?;
    // The ledger.
    let since: Option<i64> = conn
        .prepare_cached(CURSOR)?
        .query_row(["ledger"], |r| r.get(0))
        .optional()?;
    let since = since.and_then(|s| chrono::DateTime::from_timestamp(s, 0));
    let (rows, until) = decide.ledger(since, now);
    for row in &rows {
        conn.prepare_cached(INSERT_LEDGER)?.execute(params![
            row.team,
            row.rota,
            row.person,
            row.span.start.timestamp(),
            row.span.end.timestamp(),
            row.reconstructed,
            at,
            row.shadow_of
        ])?;
    }
    conn.prepare_cached(SET_CURSOR)?
        .execute(params!["ledger", until.timestamp()])?;
    // Claim what is due.
    let due: Vec<Notification> = conn
        .prepare_cached(DUE_NOTIFICATIONS)?
        .query_map([at], notification_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    let mut live = Vec::new();
    let mut announcements = Vec::new();
    let mut undeliverable: BTreeMap<(Method, String), (Vec<Notification>, String)> = BTreeMap::new();
    for n in due {
        if n.kind == NoticeKind::Announce {
            // Not batched, not throttled, never cancelled: in order, one at
            // a time per destination.
            let earlier = conn
                .prepare_cached(EARLIER_ANNOUNCEMENT)?
                .query_row(params![n.to, n.id], |_| Ok(()))
                .optional()?
                .is_some();
            if !earlier {
                announcements.push(n);
            }
            continue;
        }
        if n.kind == NoticeKind::Page {
            if let Some(id) = n.alert
                && !alerts.contains_key(&id)
                && let Some(alert) = select_alert(conn, id)?
            {
                alerts.insert(id, alert);
            }
            // A page whose alert is no longer open (or is gone) is not sent;
            // cancelling it also keeps it from staying due forever.
            let open = n
                .alert
                .and_then(|id| alerts.get(&id))
                .is_some_and(|a| a.status == Status::Open);
            if !open {
                conn.prepare_cached(CANCEL)?.execute([n.id])?;
                continue;
            }
        }
        if let Some(error) = decide.undeliverable(n.method) {
            undeliverable
                .entry((n.method, n.to.clone()))
                .or_insert_with(|| (Vec::new(), error))
                .0
                .push(n);
            continue;
        }
        live.push(n);
    }
    let mut given_up = Vec::new();
    for ((method, _), (notifications, error)) in undeliverable {
        let mut page_alerts = Vec::new();
        for n in &notifications {
            let attempts = n.attempts + 1;
            conn.prepare_cached(GIVEN_UP)?.execute(params![n.id, attempts, error])?;
            let payload = n.payload.as_ref().map(|p| p.to_string());
            let done = (
                n.alert,
                n.person.clone(),
                n.method.as_str().to_owned(),
                i64::from(attempts),
                n.step.map(|(s, _)| s as i64),
                n.step.map(|(_, r)| i64::from(r)),
                kind_of(n.kind.as_str(), payload.as_deref()),
            );
            give_up(conn, Some(done), &error, now)?;
            page_alerts.extend(n.alert);
        }
        given_up.push(GivenUp {
            // Never claimed: their due times are as they were.
            attempt: Attempt::of(&notifications, AttemptOutcome::Failed { error }),
            person: notifications[0].person.clone(),
            method,
            alerts: page_alerts,
        });
    }
    let wanted: Vec<Due> = live
        .iter()
        .map(|n| Due {
            id: n.id,
            method: n.method,
            to: n.to.clone(),
        })
        .collect();
    let batches = {
        let mut last_sent = conn.prepare_cached(LAST_SENT)?;
        let lookup = |m: Method, to: &str| -> Option<Instant> {
            let seconds: Option<i64> = last_sent
                .query_row(params![m.as_str(), to], |r| r.get(0))
                .optional()
                .ok()
                .flatten();
            seconds.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        };
        // `query_row` needs `&mut`: a RefCell would do, but the statement
        // is only used here, one call at a time.
        let cell = std::cell::RefCell::new(lookup);
        decide.batch(&wanted, &|m, to| (cell.borrow_mut())(m, to), now)
    };
    for (id, until) in &batches.hold {
        conn.prepare_cached(HOLD)?.execute(params![id, deadline(*until, now)])?;
    }
    let by_id: BTreeMap<i64, Notification> = live.into_iter().map(|n| (n.id, n)).collect();
    let mut messages = Vec::new();
    for group in batches.send {
        let mut notifications = Vec::new();
        let mut group_alerts = Vec::new();
        for id in group {
            let Some(mut n) = by_id.get(&id).cloned() else { continue };
            conn.prepare_cached(CLAIM)?
                .execute(params![id, (now + lease).timestamp()])?;
            n.attempts += 1;
            n.state = "sending".into();
            if let Some(alert) = n.alert.and_then(|a| alerts.get(&a)) {
                group_alerts.push(alert.clone());
            }
            notifications.push(n);
        }
        if !notifications.is_empty() {
            messages.push(Message {
                notifications,
                alerts: group_alerts,
            });
        }
    }
    for mut n in announcements {
        conn.prepare_cached(CLAIM)?
            .execute(params![n.id, (now + lease).timestamp()])?;
        n.attempts += 1;
        n.state = "sending".into();
        let mut group_alerts = Vec::new();
        if let Some(id) = n.alert {
            if !alerts.contains_key(&id)
                && let Some(alert) = select_alert(conn, id)?
            {
                alerts.insert(id, alert);
            }
            group_alerts.extend(alerts.get(&id).cloned());
        }
        messages.push(Message {
            notifications: vec![n],
            alerts: group_alerts,
        });
    }
    Ok(Pass { messages, given_up })
}

/// Hands each timeline entry written since the `announce` cursor that may
/// be announced (created, acknowledged, resolved) to `decide.announce`,
/// queues what it returns, and moves the cursor past every entry so far.
fn announce(
    conn: &Connection,
    decide: &dyn Decide,
    alerts: &mut BTreeMap<AlertId, Alert>,
    now: Instant,
) -> Result<(), StoreError> {
    let last: i64 = conn.prepare_cached(LAST_EVENT)?.query_row([], |r| r.get(0))?;
    let cursor: Option<i64> = conn
        .prepare_cached(CURSOR)?
        .query_row(["announce"], |r| r.get(0))
        .optional()?;
    if let Some(cursor) = cursor
        && cursor < last
    {
        type Entry = (i64, AlertId, i64, String, String);
        let entries: Vec<Entry> = conn
            .prepare_cached(NEW_EVENTS)?
            .query_map([cursor], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (_, alert_id, at, kind, detail) in entries {
            if !alerts.contains_key(&alert_id)
                && let Some(alert) = select_alert(conn, alert_id)?
            {
                alerts.insert(alert_id, alert);
            }
            let (Some(alert), Some(kind)) = (alerts.get(&alert_id), TimelineKind::parse(&kind)) else {
                continue;
            };
            let detail: serde_json::Value = serde_json::from_str(&detail).unwrap_or_default();
            let at = chrono::DateTime::from_timestamp(at, 0).unwrap_or(now);
            for n in decide.announce(alert, kind, &detail, at, now) {
                insert_notification(conn, &n, now)?;
            }
        }
    }
    if cursor != Some(last) {
        conn.prepare_cached(SET_CURSOR)?.execute(params!["announce", last])?;
    }
    Ok(())
}

/// One escalation to run: a row due now, or a new alert's first step.
struct DueEscalation {
    due_at: i64,
    id: AlertId,
    phase: String,
    step: i64,
    round: i64,
    /// A new alert, read with the others since the last pass: its
    /// escalation has no row yet.
    new: Option<Alert>,
}

/// Starts the escalation of every alert created since the last pass (due at
/// its creation; held alerts are moved to the end of their hold by the
/// decision) and runs the due escalations, in order of due time, then
/// alert. Returns the alerts it read, as they are after its changes.
///
/// A new alert's first step runs straight from the alert as read, in this
/// transaction: its escalation row is written only if there is a next
/// state (a later step, a repeat, a hold), never written and deleted in
/// one pass.
fn escalate(conn: &Connection, decide: &dyn Decide, now: Instant) -> Result<BTreeMap<AlertId, Alert>, StoreError> {
    let at = now.timestamp();
    let mut seen = BTreeMap::new();
    let mut due: Vec<DueEscalation> = conn
        .prepare_cached(DUE_ESCALATIONS)?
        .query_map([at], |r| {
            Ok(DueEscalation {
                id: r.get(0)?,
                phase: r.get(1)?,
                step: r.get(2)?,
                round: r.get(3)?,
                due_at: r.get(4)?,
                new: None,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let cursor: i64 = conn
        .prepare_cached(CURSOR)?
        .query_row(["alerts"], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let new: Vec<Alert> = conn
        .prepare_cached(NEW_ALERTS)?
        .query_map([cursor], alert_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    if let Some(last) = new.last() {
        conn.prepare_cached(SET_CURSOR)?.execute(params!["alerts", last.id])?;
    }
    for alert in new {
        let created = alert.created_at.timestamp();
        if due.iter().any(|d| d.id == alert.id) {
            // Already has an escalation of its own: that one runs.
            continue;
        }
        if created > at {
            // Created after this pass's `now` (a clock stepped back): due later.
            conn.prepare_cached(SET_ESCALATION)?
                .execute(params![alert.id, "paging", 0, 0, created])?;
            continue;
        }
        due.push(DueEscalation {
            due_at: created,
            id: alert.id,
            phase: "paging".to_owned(),
            step: 0,
            round: 0,
            new: Some(alert),
        });
    }
    due.sort_by_key(|d| (d.due_at, d.id));
    for DueEscalation {
        id,
        phase,
        step,
        round,
        new,
        ..
    } in due
    {
        let is_new = new.is_some();
        let alert = match new {
            Some(alert) => Some(alert),
            None => select_alert(conn, id)?,
        };
        let Some(mut alert) = alert else {
            conn.prepare_cached(END_ESCALATION)?.execute([id])?;
            continue;
        };
        let state = match phase.as_str() {
            "acknowledged" => Escalation::Acknowledged,
            _ => Escalation::Paging {
                step: usize::try_from(step).unwrap_or(0),
                round: u32::try_from(round).unwrap_or(0),
            },
        };
        let mut turn_error = None;
        let mut turn = |team: &str, step: usize| -> u64 {
            let taken: rusqlite::Result<i64> = conn
                .prepare_cached(TAKE_TURN)
                .and_then(|mut s| s.query_row(params![team, step as i64], |r| r.get(0)));
            match taken {
                Ok(n) => u64::try_from(n).unwrap_or(0),
                Err(e) => {
                    turn_error = Some(e);
                    0
                }
            }
        };
        let decision = decide.escalate(&alert, state, &mut turn, now);
        if let Some(e) = turn_error {
            return Err(e.into());
        }
        if decision.reopen && conn.prepare_cached(REOPEN)?.execute([id])? == 1 {
            alert.status = Status::Open;
            alert.acknowledged_at = None;
            alert.acknowledged_by = None;
        }
        for (kind, detail) in &decision.timeline {
            add_timeline(conn, id, now, *kind, detail)?;
        }
        for n in &decision.notify {
            insert_notification(conn, n, now)?;
        }
        match decision.next {
            Some((next, due)) => {
                let (phase, step, round) = match next {
                    Escalation::Paging { step, round } => ("paging", step, round),
                    Escalation::Acknowledged => ("acknowledged", 0, 0),
                };
                conn.prepare_cached(SET_ESCALATION)?.execute(params![
                    id,
                    phase,
                    step as i64,
                    round,
                    deadline(due, now)
                ])?;
            }
            None if is_new => {}
            None => {
                conn.prepare_cached(END_ESCALATION)?.execute([id])?;
            }
        }
        seen.insert(id, alert);
    }
    Ok(seen)
}

fn insert_notification(conn: &Connection, n: &NewNotification, now: Instant) -> Result<(), StoreError> {
    conn.prepare_cached(INSERT_NOTIFICATION)?.execute(params![
        n.alert,
        n.kind.as_str(),
        n.person,
        n.method.as_str(),
        n.to,
        n.step.map(|(s, _)| s as i64),
        n.step.map(|(_, r)| r),
        deadline(n.due, now),
        n.payload.as_ref().map(|p| p.to_string()),
    ])?;
    Ok(())
}

pub(super) fn record(conn: &Connection, attempts: &[Attempt], now: Instant) -> Result<(), StoreError> {
    let at = now.timestamp();
    for attempt in attempts {
        let bundle = attempt.ids.len();
        for (id, due) in attempt.notifications() {
            let due = due.timestamp();
            type Done = (Option<AlertId>, String, String, i64, Option<i64>, Option<i64>, Kind);
            let row = |r: &Row<'_>| -> rusqlite::Result<Done> {
                let kind: String = r.get(6)?;
                let payload: Option<String> = r.get(7)?;
                let shadow_of = payload
                    .and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok())
                    .and_then(|p| p.get("shadow_of").and_then(|v| v.as_str()).map(str::to_string));
                let kind = match (kind.as_str(), shadow_of) {
                    ("announce", _) => Kind::Announce,
                    (_, Some(of)) => Kind::Shadow(of),
                    _ => Kind::Page,
                };
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, kind))
            };
            match &attempt.outcome {
                AttemptOutcome::Sent { reference } => {
                    let done = conn
                        .prepare_cached(SENT)?
                        .query_row(params![id, at, due], row)
                        .optional()?;
                    conn.prepare_cached(SENT_TO)?.execute(params![id, at])?;
                    if let Some((Some(alert), person, method, attempts, step, round, kind)) = done {
                        // Only pages count as received (pay, burden): not
                        // a shadow's copy, not an announcement.
                        if kind == Kind::Page {
                            conn.prepare_cached(PAGE_RECEIVED)?
                                .execute(params![alert, person, at])?;
                        }
                        let mut detail = json!({
                            "person": person, "method": method, "attempt": attempts,
                            "step": step, "round": round, "reference": reference,
                        });
                        kind.describe(&mut detail);
                        if bundle > 1 {
                            detail["bundle"] = json!(bundle);
                        }
                        add_timeline(conn, alert, now, TimelineKind::Notified, &detail)?;
                    }
                }
                AttemptOutcome::Retry { at: retry, error } => {
                    let done = conn
                        .prepare_cached(RETRY)?
                        .query_row(params![id, deadline(*retry, now), error], row)
                        .optional()?;
                    if let Some((Some(alert), person, method, attempts, _, _, kind)) = done {
                        let mut detail = json!({
                            "person": person, "method": method, "attempt": attempts, "error": error,
                            "retry_at": retry.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        });
                        kind.describe(&mut detail);
                        add_timeline(conn, alert, now, TimelineKind::NotifyFailed, &detail)?;
                    }
                }
                AttemptOutcome::Failed { error } => {
                    let done = conn
                        .prepare_cached(FAILED)?
                        .query_row(params![id, error, due], row)
                        .optional()?;
                    give_up(conn, done, error, now)?;
                }
            }
        }
    }
    Ok(())
}

/// What a recorded notification was, for the timeline and the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Page,
    /// A shadow's copy of the page of this person.
    Shadow(String),
    Announce,
}

impl Kind {
    fn describe(&self, detail: &mut serde_json::Value) {
        match self {
            Kind::Page => {}
            Kind::Shadow(of) => detail["shadow_of"] = json!(of),
            Kind::Announce => detail["announce"] = json!(true),
        }
    }
}

/// A notification as it is after a delivery attempt was recorded: alert,
/// person, method, attempts, step, round, and what it was.
type Done = (Option<AlertId>, String, String, i64, Option<i64>, Option<i64>, Kind);

/// What a notification was, from its kind and payload.
fn kind_of(kind: &str, payload: Option<&str>) -> Kind {
    let shadow_of = payload
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .and_then(|p| p.get("shadow_of").and_then(|v| v.as_str()).map(str::to_string));
    match (kind, shadow_of) {
        ("announce", _) => Kind::Announce,
        (_, Some(of)) => Kind::Shadow(of),
        _ => Kind::Page,
    }
}

/// After a notification was marked failed: brings the person's next method
/// for the same step forward (not for an announcement, which has none) and
/// says so on the alert's timeline.
fn give_up(conn: &Connection, done: Option<Done>, error: &str, now: Instant) -> Result<(), StoreError> {
    if let Some((Some(alert), person, method, attempts, step, round, kind)) = done {
        let at = now.timestamp();
        let mut pending: Option<(i64, i64, String)> = None;
        if kind != Kind::Announce {
            let mut rows = conn.prepare_cached(PENDING_OF_ALERT)?;
            let mut rows = rows.query([alert])?;
            while let Some(r) = rows.next()? {
                let (id, due): (i64, i64) = (r.get(0)?, r.get(5)?);
                let same = r.get_ref(1)?.as_str().is_ok_and(|p| p == person)
                    && r.get::<_, Option<i64>>(2)? == step
                    && r.get::<_, Option<i64>>(3)? == round;
                if same && pending.as_ref().is_none_or(|(i, d, _)| (due, id) < (*d, *i)) {
                    pending = Some((id, due, r.get(4)?));
                }
            }
        }
        let next = match pending {
            Some((id, due, method)) if due > at => {
                conn.prepare_cached(BRING_FORWARD)?.execute(params![id, at])?;
                Some(method)
            }
            _ => None,
        };
        let mut detail = json!({
            "person": person, "method": method, "attempt": attempts, "error": error,
            "gave_up": true, "next_method": next,
        });
        kind.describe(&mut detail);
        add_timeline(conn, alert, now, TimelineKind::NotifyFailed, &detail)?;
    }
    Ok(())
}

pub(super) fn next_due(conn: &Connection) -> Result<Option<Instant>, StoreError> {
    let due: Option<i64> = conn.prepare_cached(NEXT_DUE)?.query_row([], |r| r.get(0))?;
    Ok(due.and_then(|s| chrono::DateTime::from_timestamp(s, 0)))
}

pub(super) fn notifications(conn: &Connection, alert: AlertId) -> Result<Vec<Notification>, StoreError> {
    Ok(conn
        .prepare_cached(ALERT_NOTIFICATIONS)?
        .query_map([alert], notification_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

pub(super) fn ledger(conn: &Connection, span: Span) -> Result<Ledger, StoreError> {
    let (from, to) = (span.start.timestamp(), span.end.timestamp());
    let rows = conn
        .prepare_cached(LEDGER_ROWS)?
        .query_map(params![from, to], |r| {
            Ok(LedgerRow {
                team: r.get(0)?,
                rota: r.get(1)?,
                person: r.get(2)?,
                span: Span::new(instant(r, 3)?, instant(r, 4)?),
                reconstructed: r.get(5)?,
                shadow_of: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let pages = conn
        .prepare_cached(LEDGER_PAGES)?
        .query_map(params![from, to], |r| {
            Ok(LedgerPage {
                alert: r.get(0)?,
                person: r.get(1)?,
                at: instant(r, 2)?,
                severity: r.get(3)?,
                acknowledged_at: optional_instant(r, 4)?,
                acknowledged_by: r.get(5)?,
                resolved_at: optional_instant(r, 6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let recorded_until = cursor(conn, "ledger")?.and_then(|s| chrono::DateTime::from_timestamp(s, 0));
    let first: Option<i64> = conn.prepare_cached(LEDGER_FIRST)?.query_row([], |r| r.get(0))?;
    let recorded_from = first
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .or(recorded_until);
    Ok(Ledger {
        rows,
        pages,
        recorded_from,
        recorded_until,
    })
}

pub(super) fn cursor(conn: &Connection, name: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(CURSOR)?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

pub(super) fn set_cursor(conn: &Connection, name: &str, value: i64) -> Result<(), StoreError> {
    conn.prepare_cached(SET_CURSOR)?.execute(params![name, value])?;
    Ok(())
}

fn notification_from_row(row: &Row<'_>) -> rusqlite::Result<Notification> {
    let kind: String = row.get(2)?;
    let method: String = row.get(4)?;
    let step: Option<i64> = row.get(6)?;
    let round: Option<i64> = row.get(7)?;
    let payload: Option<String> = row.get(13)?;
    Ok(Notification {
        id: row.get(0)?,
        alert: row.get(1)?,
        kind: match kind.as_str() {
            "page" => NoticeKind::Page,
            "handoff" => NoticeKind::Handoff,
            "announce" => NoticeKind::Announce,
            other => return Err(bad_column(2, format!("unknown notification kind {other:?}"))),
        },
        person: row.get(3)?,
        method: Method::parse(&method).ok_or_else(|| bad_column(4, format!("unknown method {method:?}")))?,
        to: row.get(5)?,
        step: match (step, round) {
            (Some(s), Some(r)) => Some((usize::try_from(s).unwrap_or(0), u32::try_from(r).unwrap_or(0))),
            _ => None,
        },
        due: instant(row, 8)?,
        state: row.get(9)?,
        attempts: u32::try_from(row.get::<_, i64>(10)?).unwrap_or(0),
        last_error: row.get(11)?,
        sent_at: optional_instant(row, 12)?,
        payload: match payload {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| bad_column(13, e.to_string()))?),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rusqlite::StatementStatus;
    use rusqlite::types::Value;

    use super::*;

    /// How often a statement from the connection's cache was parsed and
    /// planned again after running it three times, with different values.
    fn reprepared(conn: &Connection, sql: &str, values: [Vec<Value>; 3]) -> i32 {
        let mut last = 0;
        for v in values {
            let mut stmt = conn.prepare_cached(sql).unwrap();
            let mut rows = stmt.query(rusqlite::params_from_iter(v)).unwrap();
            while rows.next().unwrap().is_some() {}
            drop(rows);
            last = stmt.get_status(StatementStatus::RePrepare);
        }
        last
    }

    fn int(n: i64) -> Value {
        Value::Integer(n)
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    /// SQLite marks a statement whose plan may depend on a parameter (one
    /// compared in a filter that no index serves) to be planned again when
    /// that parameter is rebound, and rusqlite's cache clears the bindings
    /// of each statement it takes back: such a statement is parsed again on
    /// every use. Those the engine runs for every alert must not be.
    #[test]
    fn the_statements_run_for_every_alert_are_prepared_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate(&mut conn, Path::new(":memory:")).unwrap();
        let three = |f: fn(i64) -> Vec<Value>| [f(0), f(1), f(2)];
        let per_alert: [(&str, [Vec<Value>; 3]); 7] = [
            (
                super::super::FIND_UNRESOLVED,
                three(|n| vec![text("t"), text(&format!("k{n}"))]),
            ),
            (PENDING_OF_ALERT, three(|n| vec![int(n)])),
            (NEXT_DUE, three(|_| vec![])),
            (DUE_NOTIFICATIONS, three(|n| vec![int(n)])),
            (NEW_ALERTS, three(|n| vec![int(n)])),
            (GIVEN_UP, three(|n| vec![int(n), int(n), text("no channel")])),
            (BRING_FORWARD, three(|n| vec![int(n), int(n)])),
        ];
        for (sql, values) in per_alert {
            assert_eq!(reprepared(&conn, sql, values), 0, "{sql}");
        }
        // The check can fail: the form this replaced, with `person = ?`.
        let filtered = "SELECT id FROM notifications WHERE alert_id = ?1 AND person = ?2 AND step IS ?3 \
                        AND state = 'pending' ORDER BY due_at, id LIMIT 1";
        let values = three(|n| vec![int(n), text(&format!("p{n}")), int(n)]);
        assert!(reprepared(&conn, filtered, values) > 0);
    }
}
