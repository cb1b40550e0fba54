//! The SQL of the engine's passes on PostgreSQL (see
//! [`Store::pass`](crate::store::Store::pass)): the same steps as
//! `sqlite/engine.rs`, statement for statement, in PostgreSQL's dialect.

use std::cell::RefCell;
use std::collections::BTreeMap;

use chrono::Duration;
use postgres::Row;
use serde_json::json;

use super::{Conn, add_timeline, alert_columns, alert_from_row, bad, instant, optional_instant, select_alert};
use crate::domain::alert::{Alert, AlertId, Status, TimelineKind};
use crate::domain::paging::{Due, Escalation, Method};
use crate::domain::time::{Instant, Span};
use crate::store::deadline;
use crate::store::{
    Attempt, AttemptOutcome, Decide, GivenUp, Ledger, LedgerPage, LedgerRow, Message, NewNotification, NoticeKind,
    Notification, Pass, StoreError,
};

const LEDGER_FIRST: &str = "SELECT min(start_at) FROM ledger";
const CURSOR: &str = "SELECT value FROM engine_cursors WHERE name = $1";
const SET_CURSOR: &str = "INSERT INTO engine_cursors (name, value) VALUES ($1, $2) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value";
const NEW_ALERTS: &str = concat!("SELECT ", alert_columns!(), " FROM alerts WHERE id > $1 ORDER BY id");
const SET_ESCALATION: &str = "INSERT INTO escalations (alert_id, phase, step, round, due_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (alert_id) DO UPDATE SET \
     phase = excluded.phase, step = excluded.step, round = excluded.round, due_at = excluded.due_at";
const DUE_ESCALATIONS: &str =
    "SELECT alert_id, phase, step, round, due_at FROM escalations WHERE due_at <= $1 ORDER BY due_at, alert_id";
const END_ESCALATION: &str = "DELETE FROM escalations WHERE alert_id = $1";
const REOPEN: &str = "UPDATE alerts SET status = 'open', acknowledged_at = NULL, acknowledged_by = NULL \
     WHERE id = $1 AND status = 'acknowledged'";
const TAKE_TURN: &str = "INSERT INTO turns (team, step, taken) VALUES ($1, $2, 1) \
     ON CONFLICT (team, step) DO UPDATE SET taken = turns.taken + 1 RETURNING taken - 1";
const INSERT_NOTIFICATION: &str = "INSERT INTO notifications \
     (alert_id, kind, person, method, destination, step, round, due_at, state, payload) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9)";
macro_rules! notification_columns {
    () => {
        "id, alert_id, kind, person, method, destination, step, round, due_at, state, attempts, last_error, sent_at, \
         payload"
    };
}
const DUE_NOTIFICATIONS: &str = concat!(
    "SELECT ",
    notification_columns!(),
    " FROM notifications WHERE due_at <= $1 AND state IN ('pending', 'sending') ORDER BY due_at, id"
);
const ALERT_NOTIFICATIONS: &str = concat!(
    "SELECT ",
    notification_columns!(),
    " FROM notifications WHERE alert_id = $1 ORDER BY id"
);
const CANCEL: &str = "UPDATE notifications SET state = 'cancelled' WHERE id = $1";
const CLAIM: &str = "UPDATE notifications SET state = 'sending', attempts = attempts + 1, due_at = $2 WHERE id = $1";
const HOLD: &str = "UPDATE notifications SET state = 'pending', due_at = $2 WHERE id = $1";
const LAST_SENT: &str = "SELECT last_sent FROM destinations WHERE method = $1 AND destination = $2";
// A sent or failed notification gets back the due time its claim moved
// (`Attempt::due`).
const SENT: &str = "UPDATE notifications SET state = 'sent', sent_at = $2, due_at = $3, last_error = NULL \
     WHERE id = $1 \
     RETURNING alert_id, person, method, attempts, step, round, kind, payload";
const SENT_TO: &str = "INSERT INTO destinations (method, destination, last_sent) \
     SELECT method, destination, $2::bigint FROM notifications WHERE id = $1 \
     ON CONFLICT (method, destination) DO UPDATE SET last_sent = excluded.last_sent";
const RETRY: &str = "UPDATE notifications SET state = 'pending', due_at = $2, last_error = $3 WHERE id = $1 \
     RETURNING alert_id, person, method, attempts, step, round, kind, payload";
const FAILED: &str = "UPDATE notifications SET state = 'failed', last_error = $2, due_at = $3 WHERE id = $1 \
     RETURNING alert_id, person, method, attempts, step, round, kind, payload";
const EARLIER_ANNOUNCEMENT: &str = "SELECT 1 FROM notifications WHERE kind = 'announce' AND destination = $1 \
     AND id < $2 AND state IN ('pending', 'sending') LIMIT 1";
const NEW_EVENTS: &str = "SELECT id, alert_id, at, kind, detail FROM alert_events WHERE id > $1 \
     AND kind IN ('created', 'acknowledged', 'resolved') ORDER BY id";
const LAST_EVENT: &str = "SELECT coalesce(max(id), 0)::bigint FROM alert_events";
const GIVEN_UP: &str = "UPDATE notifications SET state = 'failed', attempts = $2, last_error = $3 WHERE id = $1";
const PENDING_OF_ALERT: &str = "SELECT id, person, step, round, method, due_at FROM notifications \
     WHERE alert_id = $1 AND state = 'pending'";
const BRING_FORWARD: &str = "UPDATE notifications SET due_at = $2 WHERE id = $1";
const INSERT_LEDGER: &str = "INSERT INTO ledger \
     (team, rota, person, start_at, end_at, reconstructed, recorded_at, shadow_of) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const PAGE_RECEIVED: &str = "INSERT INTO ledger_pages (alert_id, person, at, severity) \
     SELECT $1::bigint, $2::text, $3::bigint, severity FROM alerts WHERE id = $1 \
     ON CONFLICT (alert_id, person) DO NOTHING";
const LEDGER_ROWS: &str = "SELECT team, rota, person, start_at, end_at, reconstructed, shadow_of FROM ledger \
     WHERE start_at < $2 AND start_at >= $1::bigint - 86400 AND end_at > $1 ORDER BY start_at, id";
const LEDGER_PAGES: &str = "SELECT p.alert_id, p.person, p.at, p.severity, a.acknowledged_at, a.acknowledged_by, a.resolved_at \
     FROM ledger_pages p JOIN alerts a ON a.id = p.alert_id WHERE p.at >= $1 AND p.at < $2 ORDER BY p.at, p.alert_id";
const NEXT_DUE: &str = "SELECT min(due) FROM ( \
     SELECT min(due_at) AS due FROM escalations \
     UNION ALL SELECT min(due_at) FROM notifications WHERE state IN ('pending', 'sending')) AS next";

fn read_cursor(conn: &mut Conn, name: &str) -> Result<Option<i64>, StoreError> {
    match conn.query_opt(CURSOR, &[&name])? {
        Some(row) => Ok(Some(row.try_get(0)?)),
        None => Ok(None),
    }
}

fn write_cursor(conn: &mut Conn, name: &str, value: i64) -> Result<(), StoreError> {
    conn.execute(SET_CURSOR, &[&name, &value])?;
    Ok(())
}

pub(super) fn pass(conn: &mut Conn, decide: &dyn Decide, now: Instant, lease: Duration) -> Result<Pass, StoreError> {
    let at = now.timestamp();
    let mut alerts = escalate(conn, decide, now)?;
    // Hand-off notices.
    let since = read_cursor(conn, "handoffs")?.and_then(|s| chrono::DateTime::from_timestamp(s, 0));
    let (notices, until) = decide.handoffs(since, now);
    for n in &notices {
        insert_notification(conn, n, now)?;
    }
    write_cursor(conn, "handoffs", until.timestamp())?;
    announce(conn, decide, &mut alerts, now)?;
    // The ledger.
    let since = read_cursor(conn, "ledger")?.and_then(|s| chrono::DateTime::from_timestamp(s, 0));
    let (rows, until) = decide.ledger(since, now);
    for row in &rows {
        conn.execute(
            INSERT_LEDGER,
            &[
                &row.team,
                &row.rota,
                &row.person,
                &row.span.start.timestamp(),
                &row.span.end.timestamp(),
                &row.reconstructed,
                &at,
                &row.shadow_of,
            ],
        )?;
    }
    write_cursor(conn, "ledger", until.timestamp())?;
    // Claim what is due.
    let due: Vec<Notification> = conn
        .query(DUE_NOTIFICATIONS, &[&at])?
        .iter()
        .map(notification_from_row)
        .collect::<Result<_, _>>()?;
    let mut live = Vec::new();
    let mut announcements = Vec::new();
    let mut undeliverable: BTreeMap<(Method, String), (Vec<Notification>, String)> = BTreeMap::new();
    for n in due {
        if n.kind == NoticeKind::Announce {
            let earlier = conn.query_opt(EARLIER_ANNOUNCEMENT, &[&n.to, &n.id])?.is_some();
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
            let open = n
                .alert
                .and_then(|id| alerts.get(&id))
                .is_some_and(|a| a.status == Status::Open);
            if !open {
                conn.execute(CANCEL, &[&n.id])?;
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
            conn.execute(GIVEN_UP, &[&n.id, &i64::from(attempts), &error])?;
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
        // `batch` asks through a `Fn`; the connection is used one call at a time.
        let cell = RefCell::new(&mut *conn);
        let lookup = |m: Method, to: &str| -> Option<Instant> {
            let mut conn = cell.borrow_mut();
            let seconds: Option<i64> = conn
                .query_opt(LAST_SENT, &[&m.as_str(), &to])
                .ok()
                .flatten()
                .and_then(|r| r.try_get(0).ok());
            seconds.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        };
        decide.batch(&wanted, &lookup, now)
    };
    for (id, until) in &batches.hold {
        conn.execute(HOLD, &[id, &deadline(*until, now)])?;
    }
    let by_id: BTreeMap<i64, Notification> = live.into_iter().map(|n| (n.id, n)).collect();
    let mut messages = Vec::new();
    let leased = (now + lease).timestamp();
    for group in batches.send {
        let mut notifications = Vec::new();
        let mut group_alerts = Vec::new();
        for id in group {
            let Some(mut n) = by_id.get(&id).cloned() else { continue };
            conn.execute(CLAIM, &[&id, &leased])?;
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
        conn.execute(CLAIM, &[&n.id, &leased])?;
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

/// Hands each timeline entry written since the `announce` cursor that may be
/// announced to `decide.announce`, queues what it returns, and moves the
/// cursor past every entry so far.
fn announce(
    conn: &mut Conn,
    decide: &dyn Decide,
    alerts: &mut BTreeMap<AlertId, Alert>,
    now: Instant,
) -> Result<(), StoreError> {
    let last: i64 = conn.query_one(LAST_EVENT, &[])?.try_get(0)?;
    let cursor = read_cursor(conn, "announce")?;
    if let Some(cursor) = cursor
        && cursor < last
    {
        let entries = conn.query(NEW_EVENTS, &[&cursor])?;
        for r in entries {
            let (alert_id, at, kind, detail): (AlertId, i64, String, String) =
                (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
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
        write_cursor(conn, "announce", last)?;
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
    new: Option<Alert>,
}

/// As `sqlite/engine.rs`'s `escalate`: starts the escalation of every alert
/// created since the last pass and runs the due escalations, in order of due
/// time, then alert.
fn escalate(conn: &mut Conn, decide: &dyn Decide, now: Instant) -> Result<BTreeMap<AlertId, Alert>, StoreError> {
    let at = now.timestamp();
    let mut seen = BTreeMap::new();
    let mut due: Vec<DueEscalation> = conn
        .query(DUE_ESCALATIONS, &[&at])?
        .iter()
        .map(|r| {
            Ok(DueEscalation {
                id: r.try_get(0)?,
                phase: r.try_get(1)?,
                step: r.try_get(2)?,
                round: r.try_get(3)?,
                due_at: r.try_get(4)?,
                new: None,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let cursor = read_cursor(conn, "alerts")?.unwrap_or(0);
    let new: Vec<Alert> = conn
        .query(NEW_ALERTS, &[&cursor])?
        .iter()
        .map(alert_from_row)
        .collect::<Result<_, _>>()?;
    if let Some(last) = new.last() {
        write_cursor(conn, "alerts", last.id)?;
    }
    for alert in new {
        let created = alert.created_at.timestamp();
        if due.iter().any(|d| d.id == alert.id) {
            continue;
        }
        if created > at {
            conn.execute(SET_ESCALATION, &[&alert.id, &"paging", &0i64, &0i64, &created])?;
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
            conn.execute(END_ESCALATION, &[&id])?;
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
        let decision = {
            let mut turn = |team: &str, step: usize| -> u64 {
                let taken = conn
                    .query_one(TAKE_TURN, &[&team, &(step as i64)])
                    .and_then(|r| r.try_get::<_, i64>(0).map_err(StoreError::from));
                match taken {
                    Ok(n) => u64::try_from(n).unwrap_or(0),
                    Err(e) => {
                        turn_error = Some(e);
                        0
                    }
                }
            };
            decide.escalate(&alert, state, &mut turn, now)
        };
        if let Some(e) = turn_error {
            return Err(e);
        }
        if decision.reopen && conn.execute(REOPEN, &[&id])? == 1 {
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
                conn.execute(
                    SET_ESCALATION,
                    &[&id, &phase, &(step as i64), &i64::from(round), &deadline(due, now)],
                )?;
            }
            None if is_new => {}
            None => {
                conn.execute(END_ESCALATION, &[&id])?;
            }
        }
        seen.insert(id, alert);
    }
    Ok(seen)
}

fn insert_notification(conn: &mut Conn, n: &NewNotification, now: Instant) -> Result<(), StoreError> {
    conn.execute(
        INSERT_NOTIFICATION,
        &[
            &n.alert,
            &n.kind.as_str(),
            &n.person,
            &n.method.as_str(),
            &n.to,
            &n.step.map(|(s, _)| s as i64),
            &n.step.map(|(_, r)| i64::from(r)),
            &deadline(n.due, now),
            &n.payload.as_ref().map(|p| p.to_string()),
        ],
    )?;
    Ok(())
}

/// A notification as it is after a delivery attempt was recorded: alert,
/// person, method, attempts, step, round, and what it was.
type Done = (Option<AlertId>, String, String, i64, Option<i64>, Option<i64>, Kind);

fn done_from_row(r: &Row) -> Result<Done, StoreError> {
    let kind: String = r.try_get(6)?;
    let payload: Option<String> = r.try_get(7)?;
    Ok((
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        kind_of(&kind, payload.as_deref()),
    ))
}

pub(super) fn record(conn: &mut Conn, attempts: &[Attempt], now: Instant) -> Result<(), StoreError> {
    let at = now.timestamp();
    for attempt in attempts {
        let bundle = attempt.ids.len();
        for (id, due) in attempt.notifications() {
            let due = due.timestamp();
            match &attempt.outcome {
                AttemptOutcome::Sent { reference } => {
                    let done = conn
                        .query_opt(SENT, &[&id, &at, &due])?
                        .map(|r| done_from_row(&r))
                        .transpose()?;
                    conn.execute(SENT_TO, &[&id, &at])?;
                    if let Some((Some(alert), person, method, attempts, step, round, kind)) = done {
                        if kind == Kind::Page {
                            conn.execute(PAGE_RECEIVED, &[&alert, &person, &at])?;
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
                        .query_opt(RETRY, &[&id, &deadline(*retry, now), error])?
                        .map(|r| done_from_row(&r))
                        .transpose()?;
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
                        .query_opt(FAILED, &[&id, error, &due])?
                        .map(|r| done_from_row(&r))
                        .transpose()?;
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
/// for the same step forward (not for an announcement) and says so on the
/// alert's timeline.
fn give_up(conn: &mut Conn, done: Option<Done>, error: &str, now: Instant) -> Result<(), StoreError> {
    if let Some((Some(alert), person, method, attempts, step, round, kind)) = done {
        let at = now.timestamp();
        let mut pending: Option<(i64, i64, String)> = None;
        if kind != Kind::Announce {
            for r in conn.query(PENDING_OF_ALERT, &[&alert])? {
                let (id, due): (i64, i64) = (r.try_get(0)?, r.try_get(5)?);
                let same = r.try_get::<_, String>(1)? == person
                    && r.try_get::<_, Option<i64>>(2)? == step
                    && r.try_get::<_, Option<i64>>(3)? == round;
                if same && pending.as_ref().is_none_or(|(i, d, _)| (due, id) < (*d, *i)) {
                    pending = Some((id, due, r.try_get(4)?));
                }
            }
        }
        let next = match pending {
            Some((id, due, method)) if due > at => {
                conn.execute(BRING_FORWARD, &[&id, &at])?;
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

pub(super) fn next_due(conn: &mut Conn) -> Result<Option<Instant>, StoreError> {
    let due: Option<i64> = conn.query_one(NEXT_DUE, &[])?.try_get(0)?;
    Ok(due.and_then(|s| chrono::DateTime::from_timestamp(s, 0)))
}

pub(super) fn notifications(conn: &mut Conn, alert: AlertId) -> Result<Vec<Notification>, StoreError> {
    conn.query(ALERT_NOTIFICATIONS, &[&alert])?
        .iter()
        .map(notification_from_row)
        .collect()
}

pub(super) fn ledger(conn: &mut Conn, span: Span) -> Result<Ledger, StoreError> {
    let (from, to) = (span.start.timestamp(), span.end.timestamp());
    let rows = conn
        .query(LEDGER_ROWS, &[&from, &to])?
        .iter()
        .map(|r| {
            Ok(LedgerRow {
                team: r.try_get(0)?,
                rota: r.try_get(1)?,
                person: r.try_get(2)?,
                span: Span::new(instant(r.try_get(3)?)?, instant(r.try_get(4)?)?),
                reconstructed: r.try_get(5)?,
                shadow_of: r.try_get(6)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let pages = conn
        .query(LEDGER_PAGES, &[&from, &to])?
        .iter()
        .map(|r| {
            Ok(LedgerPage {
                alert: r.try_get(0)?,
                person: r.try_get(1)?,
                at: instant(r.try_get(2)?)?,
                severity: r.try_get(3)?,
                acknowledged_at: optional_instant(r.try_get(4)?)?,
                acknowledged_by: r.try_get(5)?,
                resolved_at: optional_instant(r.try_get(6)?)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let recorded_until = read_cursor(conn, "ledger")?.and_then(|s| chrono::DateTime::from_timestamp(s, 0));
    let first: Option<i64> = conn.query_one(LEDGER_FIRST, &[])?.try_get(0)?;
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

pub(super) fn cursor(conn: &mut Conn, name: &str) -> Result<Option<i64>, StoreError> {
    read_cursor(conn, name)
}

pub(super) fn set_cursor(conn: &mut Conn, name: &str, value: i64) -> Result<(), StoreError> {
    write_cursor(conn, name, value)
}

fn notification_from_row(row: &Row) -> Result<Notification, StoreError> {
    let kind: String = row.try_get(2)?;
    let method: String = row.try_get(4)?;
    let step: Option<i64> = row.try_get(6)?;
    let round: Option<i64> = row.try_get(7)?;
    let payload: Option<String> = row.try_get(13)?;
    Ok(Notification {
        id: row.try_get(0)?,
        alert: row.try_get(1)?,
        kind: match kind.as_str() {
            "page" => NoticeKind::Page,
            "handoff" => NoticeKind::Handoff,
            "announce" => NoticeKind::Announce,
            other => return Err(bad(format!("unknown notification kind {other:?}"))),
        },
        person: row.try_get(3)?,
        method: Method::parse(&method).ok_or_else(|| bad(format!("unknown method {method:?}")))?,
        to: row.try_get(5)?,
        step: match (step, round) {
            (Some(s), Some(r)) => Some((usize::try_from(s).unwrap_or(0), u32::try_from(r).unwrap_or(0))),
            _ => None,
        },
        due: instant(row.try_get(8)?)?,
        state: row.try_get(9)?,
        attempts: u32::try_from(row.try_get::<_, i64>(10)?).unwrap_or(0),
        last_error: row.try_get(11)?,
        sent_at: optional_instant(row.try_get(12)?)?,
        payload: match payload {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?),
            None => None,
        },
    })
}
