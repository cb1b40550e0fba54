//! The SQL of the engine's passes (see [`Store::pass`](crate::store::Store::pass)).

use std::collections::BTreeMap;

use chrono::Duration;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::json;

use super::{add_timeline, bad_column, instant, optional_instant, select_alert};
use crate::domain::alert::{Alert, AlertId, Status, TimelineKind};
use crate::domain::paging::{Due, Escalation, Method};
use crate::domain::time::{Instant, Span};
use crate::store::{
    Attempt, AttemptOutcome, Decide, Ledger, LedgerPage, LedgerRow, Message, NewNotification, NoticeKind, Notification,
    Pass, StoreError,
};

const LEDGER_FIRST: &str = "SELECT min(start_at) FROM ledger";
const CURSOR: &str = "SELECT value FROM engine_cursors WHERE name = ?1";
const SET_CURSOR: &str = "INSERT INTO engine_cursors (name, value) VALUES (?1, ?2) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value";
const NEW_ALERTS: &str = "SELECT id, created_at FROM alerts WHERE id > ?1 ORDER BY id";
const START_ESCALATION: &str = "INSERT INTO escalations (alert_id, phase, step, round, due_at) \
     VALUES (?1, 'paging', 0, 0, ?2) ON CONFLICT (alert_id) DO NOTHING";
const DUE_ESCALATIONS: &str =
    "SELECT alert_id, phase, step, round FROM escalations WHERE due_at <= ?1 ORDER BY due_at, alert_id";
const UPDATE_ESCALATION: &str =
    "UPDATE escalations SET phase = ?2, step = ?3, round = ?4, due_at = ?5 WHERE alert_id = ?1";
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
const SENT: &str = "UPDATE notifications SET state = 'sent', sent_at = ?2, last_error = NULL WHERE id = ?1 \
     RETURNING alert_id, person, method, attempts, step, round, kind, payload";
const SENT_TO: &str = "INSERT INTO destinations (method, destination, last_sent) \
     SELECT method, destination, ?2 FROM notifications WHERE id = ?1 \
     ON CONFLICT (method, destination) DO UPDATE SET last_sent = excluded.last_sent";
const RETRY: &str = "UPDATE notifications SET state = 'pending', due_at = ?2, last_error = ?3 WHERE id = ?1 \
     RETURNING alert_id, person, method, attempts, step, round, kind, payload";
const FAILED: &str = "UPDATE notifications SET state = 'failed', last_error = ?2 WHERE id = ?1 \
     RETURNING alert_id, person, method, attempts, step, round, kind, payload";
// Announcements to one destination go one at a time, oldest first.
const EARLIER_ANNOUNCEMENT: &str = "SELECT 1 FROM notifications WHERE kind = 'announce' AND destination = ?1 \
     AND id < ?2 AND state IN ('pending', 'sending') LIMIT 1";
const NEW_EVENTS: &str = "SELECT id, alert_id, at, kind, detail FROM alert_events WHERE id > ?1 \
     AND kind IN ('created', 'acknowledged', 'resolved') ORDER BY id";
const LAST_EVENT: &str = "SELECT coalesce(max(id), 0) FROM alert_events";
// The person's next method for the same step: the earliest still pending.
const FAIL_OVER: &str = "UPDATE notifications SET due_at = ?5 WHERE id = ( \
     SELECT id FROM notifications WHERE alert_id = ?1 AND person = ?2 AND step IS ?3 AND round IS ?4 \
     AND state = 'pending' ORDER BY due_at, id LIMIT 1) AND due_at > ?5 RETURNING method";
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
    start_escalations(conn)?;
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
        insert_notification(conn, n)?;
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
        live.push(n);
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
        conn.prepare_cached(HOLD)?.execute(params![id, until.timestamp()])?;
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
    Ok(Pass { messages })
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
                insert_notification(conn, &n)?;
            }
        }
    }
    if cursor != Some(last) {
        conn.prepare_cached(SET_CURSOR)?.execute(params!["announce", last])?;
    }
    Ok(())
}

/// Gives every alert created since the last pass an escalation, due at
/// once (held alerts are moved to the end of their hold by the decision).
fn start_escalations(conn: &Connection) -> Result<(), StoreError> {
    let cursor: i64 = conn
        .prepare_cached(CURSOR)?
        .query_row(["alerts"], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let new: Vec<(i64, i64)> = conn
        .prepare_cached(NEW_ALERTS)?
        .query_map([cursor], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if let Some((last, _)) = new.last() {
        let mut start = conn.prepare_cached(START_ESCALATION)?;
        for (id, created) in &new {
            start.execute(params![id, created])?;
        }
        conn.prepare_cached(SET_CURSOR)?.execute(params!["alerts", last])?;
    }
    Ok(())
}

/// Runs the due escalations; returns the alerts it read, as they are after
/// its changes.
fn escalate(conn: &Connection, decide: &dyn Decide, now: Instant) -> Result<BTreeMap<AlertId, Alert>, StoreError> {
    let mut seen = BTreeMap::new();
    let due: Vec<(AlertId, String, i64, i64)> = conn
        .prepare_cached(DUE_ESCALATIONS)?
        .query_map([now.timestamp()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, phase, step, round) in due {
        let Some(mut alert) = select_alert(conn, id)? else {
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
            insert_notification(conn, n)?;
        }
        match decision.next {
            Some((next, due)) => {
                let (phase, step, round) = match next {
                    Escalation::Paging { step, round } => ("paging", step, round),
                    Escalation::Acknowledged => ("acknowledged", 0, 0),
                };
                conn.prepare_cached(UPDATE_ESCALATION)?.execute(params![
                    id,
                    phase,
                    step as i64,
                    round,
                    due.timestamp()
                ])?;
            }
            None => {
                conn.prepare_cached(END_ESCALATION)?.execute([id])?;
            }
        }
        seen.insert(id, alert);
    }
    Ok(seen)
}

fn insert_notification(conn: &Connection, n: &NewNotification) -> Result<(), StoreError> {
    conn.prepare_cached(INSERT_NOTIFICATION)?.execute(params![
        n.alert,
        n.kind.as_str(),
        n.person,
        n.method.as_str(),
        n.to,
        n.step.map(|(s, _)| s as i64),
        n.step.map(|(_, r)| r),
        n.due.timestamp(),
        n.payload.as_ref().map(|p| p.to_string()),
    ])?;
    Ok(())
}

pub(super) fn record(conn: &Connection, attempts: &[Attempt], now: Instant) -> Result<(), StoreError> {
    let at = now.timestamp();
    for attempt in attempts {
        let bundle = attempt.ids.len();
        for &id in &attempt.ids {
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
                    let done = conn.prepare_cached(SENT)?.query_row(params![id, at], row).optional()?;
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
                        .query_row(params![id, retry.timestamp(), error], row)
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
                        .query_row(params![id, error], row)
                        .optional()?;
                    if let Some((Some(alert), person, method, attempts, step, round, kind)) = done {
                        // An announcement has no next method.
                        let next: Option<String> = if kind == Kind::Announce {
                            None
                        } else {
                            conn.prepare_cached(FAIL_OVER)?
                                .query_row(params![alert, person, step, round, at], |r| r.get(0))
                                .optional()?
                        };
                        let mut detail = json!({
                            "person": person, "method": method, "attempt": attempts, "error": error,
                            "gave_up": true, "next_method": next,
                        });
                        kind.describe(&mut detail);
                        add_timeline(conn, alert, now, TimelineKind::NotifyFailed, &detail)?;
                    }
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
