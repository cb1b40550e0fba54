//! The engine's statements on PostgreSQL: [`PassTx`] for the writer's
//! connection (the same statements as `sqlite/engine.rs`, in PostgreSQL's
//! dialect; the passes themselves are `engine::pass`), and the engine's
//! reads (next deadline, an alert's notifications, the ledger, cursors).

use postgres::Row;

use super::{Conn, add_timeline, alert_from_row, bad, instant, optional_instant, pass_alert_columns};
use crate::domain::alert::{Alert, AlertId, TimelineKind};
use crate::domain::paging::{Escalation, Method};
use crate::domain::time::{Instant, Span};
use crate::engine::ledger::{Ledger, LedgerPage, LedgerRow};
use crate::engine::outbox::{NewNotification, NoticeKind, Notification};
use crate::engine::tx::{Done, DueEscalation, EventRow, PassTx, Pending};
use crate::store::StoreError;

const LEDGER_FIRST: &str = "SELECT min(start_at) FROM ledger";
const CURSOR: &str = "SELECT value FROM engine_cursors WHERE name = $1";
const SET_CURSOR: &str = "INSERT INTO engine_cursors (name, value) VALUES ($1, $2) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value";
// The pass's alerts come without their details (see `pass_alert_columns`).
const NEW_ALERTS: &str = concat!(
    "SELECT ",
    pass_alert_columns!(),
    " FROM alerts WHERE id > $1 ORDER BY id"
);
const PASS_ALERT: &str = concat!("SELECT ", pass_alert_columns!(), " FROM alerts WHERE id = $1");
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
// A page given up as it is queued: as GIVEN_UP leaves a pending one.
const INSERT_GIVEN_UP: &str = "INSERT INTO notifications \
     (alert_id, kind, person, method, destination, step, round, due_at, state, payload, attempts, last_error) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'failed', $9, 1, $10) RETURNING id";
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
// Not `created`: see `PassTx::events_after`.
const NEW_EVENTS: &str = "SELECT id, alert_id, at, kind, detail FROM alert_events WHERE id > $1 \
     AND (kind = 'acknowledged' OR kind = 'resolved') ORDER BY id";
const LAST_EVENT: &str = "SELECT coalesce(max(id), 0)::bigint FROM alert_events";
const GIVEN_UP: &str = "UPDATE notifications SET state = 'failed', attempts = $2, last_error = $3 WHERE id = $1";
const PENDING_OF_ALERT: &str = "SELECT id, person, step, round, method, due_at FROM notifications \
     WHERE alert_id = $1 AND state = 'pending'";
const BRING_FORWARD: &str = "UPDATE notifications SET due_at = $2 WHERE id = $1";
// As in `store/sqlite/engine.rs`.
const NOT_REACHED: &str = "UPDATE notifications SET state = 'failed', last_error = $3 \
     WHERE id = (SELECT max(id) FROM notifications WHERE alert_id = $1 AND person = $2 \
     AND method = 'voice' AND state = 'sent') \
     RETURNING alert_id, person, method, attempts, step, round, kind, payload";
const HURRY_ESCALATION: &str = "UPDATE escalations SET due_at = $2 \
     WHERE alert_id = $1 AND phase <> 'acknowledged' AND due_at > $2";
const INSERT_LEDGER: &str = "INSERT INTO ledger \
     (team, rota, person, start_at, end_at, reconstructed, recorded_at, shadow_of) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const PAGE_RECEIVED: &str = "INSERT INTO ledger_pages (alert_id, person, at, severity) \
     SELECT $1::bigint, $2::text, $3::bigint, severity FROM alerts WHERE id = $1 \
     ON CONFLICT (alert_id, person) DO NOTHING";
const LEDGER_ROWS: &str = "SELECT team, rota, person, start_at, end_at, reconstructed, shadow_of FROM ledger \
     WHERE start_at < $2 AND start_at >= $1::bigint - 86400 AND end_at > $1 ORDER BY start_at, id";
const LEDGER_PAGES: &str = "SELECT p.alert_id, p.person, p.at, p.severity, a.acknowledged_at, a.acknowledged_by, a.resolved_at \
     FROM ledger_pages p JOIN alerts a ON a.id = p.alert_id WHERE p.at >= $1 AND p.at < $2 ORDER BY p.at, p.alert_id, p.person";
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

fn done_from_row(r: &Row) -> Result<Done, StoreError> {
    Ok(Done {
        alert: r.try_get(0)?,
        person: r.try_get(1)?,
        method: r.try_get(2)?,
        attempts: r.try_get(3)?,
        step: r.try_get(4)?,
        round: r.try_get(5)?,
        kind: r.try_get(6)?,
        payload: r.try_get(7)?,
    })
}

/// The engine's statements on the writer's connection, inside the
/// transaction the store opened for the work.
impl PassTx for Conn {
    fn cursor(&mut self, name: &str) -> Result<Option<i64>, StoreError> {
        read_cursor(self, name)
    }

    fn set_cursor(&mut self, name: &str, value: i64) -> Result<(), StoreError> {
        write_cursor(self, name, value)
    }

    fn due_escalations(&mut self, now: Instant) -> Result<Vec<DueEscalation>, StoreError> {
        self.query(DUE_ESCALATIONS, &[&now.timestamp()])?
            .iter()
            .map(|r| {
                let phase: String = r.try_get(1)?;
                Ok(DueEscalation {
                    alert: r.try_get(0)?,
                    state: escalation(&phase, r.try_get(2)?, r.try_get(3)?),
                    due_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    fn set_escalation(&mut self, alert: AlertId, state: Escalation, due: Instant) -> Result<(), StoreError> {
        let (phase, step, round) = phase_of(state);
        self.execute(SET_ESCALATION, &[&alert, &phase, &step, &round, &due.timestamp()])?;
        Ok(())
    }

    fn end_escalation(&mut self, alert: AlertId) -> Result<(), StoreError> {
        self.execute(END_ESCALATION, &[&alert])?;
        Ok(())
    }

    fn take_turn(&mut self, team: &str, step: usize) -> Result<u64, StoreError> {
        let taken: i64 = self.query_one(TAKE_TURN, &[&team, &(step as i64)])?.try_get(0)?;
        Ok(u64::try_from(taken).unwrap_or(0))
    }

    fn webpush_destinations(&mut self) -> Result<Vec<(String, i64)>, StoreError> {
        self.query("SELECT person, id FROM webpush_subscriptions ORDER BY id", &[])?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    fn alerts_after(&mut self, id: AlertId) -> Result<Vec<Alert>, StoreError> {
        self.query(NEW_ALERTS, &[&id])?.iter().map(alert_from_row).collect()
    }

    fn alert(&mut self, id: AlertId) -> Result<Option<Alert>, StoreError> {
        match self.query_opt(PASS_ALERT, &[&id])? {
            Some(row) => Ok(Some(alert_from_row(&row)?)),
            None => Ok(None),
        }
    }

    fn reopen(&mut self, alert: AlertId) -> Result<bool, StoreError> {
        Ok(self.execute(REOPEN, &[&alert])? == 1)
    }

    fn add_timeline(
        &mut self,
        alert: AlertId,
        at: Instant,
        kind: TimelineKind,
        detail: String,
    ) -> Result<(), StoreError> {
        add_timeline(self, alert, at, kind, &detail)
    }

    fn last_event(&mut self) -> Result<i64, StoreError> {
        Ok(self.query_one(LAST_EVENT, &[])?.try_get(0)?)
    }

    fn events_after(&mut self, id: i64) -> Result<Vec<EventRow>, StoreError> {
        self.query(NEW_EVENTS, &[&id])?
            .iter()
            .map(|r| {
                Ok(EventRow {
                    alert: r.try_get(1)?,
                    at: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    detail: r.try_get(4)?,
                })
            })
            .collect()
    }

    fn insert_ledger(&mut self, row: &LedgerRow, recorded_at: Instant) -> Result<(), StoreError> {
        self.execute(
            INSERT_LEDGER,
            &[
                &row.team,
                &row.rota,
                &row.person,
                &row.span.start.timestamp(),
                &row.span.end.timestamp(),
                &row.reconstructed,
                &recorded_at.timestamp(),
                &row.shadow_of,
            ],
        )?;
        Ok(())
    }

    fn page_received(&mut self, alert: AlertId, person: &str, at: Instant) -> Result<(), StoreError> {
        self.execute(PAGE_RECEIVED, &[&alert, &person, &at.timestamp()])?;
        Ok(())
    }

    fn insert_notification(&mut self, n: &NewNotification) -> Result<(), StoreError> {
        self.execute(
            INSERT_NOTIFICATION,
            &[
                &n.alert,
                &n.kind.as_str(),
                &n.person,
                &n.method.as_str(),
                &n.to,
                &n.step.map(|(s, _)| s as i64),
                &n.step.map(|(_, r)| i64::from(r)),
                &n.due.timestamp(),
                &n.payload.as_ref().map(|p| p.to_string()),
            ],
        )?;
        Ok(())
    }

    fn insert_given_up(&mut self, n: &NewNotification, error: &str) -> Result<i64, StoreError> {
        let row = self.query_one(
            INSERT_GIVEN_UP,
            &[
                &n.alert,
                &n.kind.as_str(),
                &n.person,
                &n.method.as_str(),
                &n.to,
                &n.step.map(|(s, _)| s as i64),
                &n.step.map(|(_, r)| i64::from(r)),
                &n.due.timestamp(),
                &n.payload.as_ref().map(|p| p.to_string()),
                &error,
            ],
        )?;
        Ok(row.try_get(0)?)
    }

    fn due_notifications(&mut self, now: Instant) -> Result<Vec<Notification>, StoreError> {
        self.query(DUE_NOTIFICATIONS, &[&now.timestamp()])?
            .iter()
            .map(notification_from_row)
            .collect()
    }

    fn earlier_announcement(&mut self, to: &str, id: i64) -> Result<bool, StoreError> {
        Ok(self.query_opt(EARLIER_ANNOUNCEMENT, &[&to, &id])?.is_some())
    }

    fn cancel(&mut self, id: i64) -> Result<(), StoreError> {
        self.execute(CANCEL, &[&id])?;
        Ok(())
    }

    fn claim(&mut self, id: i64, until: Instant) -> Result<(), StoreError> {
        self.execute(CLAIM, &[&id, &until.timestamp()])?;
        Ok(())
    }

    fn hold(&mut self, id: i64, until: Instant) -> Result<(), StoreError> {
        self.execute(HOLD, &[&id, &until.timestamp()])?;
        Ok(())
    }

    fn last_sent(&mut self, method: Method, to: &str) -> Result<Option<Instant>, StoreError> {
        let seconds: Option<i64> = match self.query_opt(LAST_SENT, &[&method.as_str(), &to])? {
            Some(row) => row.try_get(0)?,
            None => None,
        };
        Ok(seconds.and_then(|s| chrono::DateTime::from_timestamp(s, 0)))
    }

    fn mark_given_up(&mut self, id: i64, attempts: u32, error: &str) -> Result<(), StoreError> {
        self.execute(GIVEN_UP, &[&id, &i64::from(attempts), &error])?;
        Ok(())
    }

    fn mark_sent(&mut self, id: i64, at: Instant, due: Instant) -> Result<Option<Done>, StoreError> {
        self.query_opt(SENT, &[&id, &at.timestamp(), &due.timestamp()])?
            .map(|r| done_from_row(&r))
            .transpose()
    }

    fn sent_to(&mut self, id: i64, at: Instant) -> Result<(), StoreError> {
        self.execute(SENT_TO, &[&id, &at.timestamp()])?;
        Ok(())
    }

    fn mark_retry(&mut self, id: i64, at: Instant, error: &str) -> Result<Option<Done>, StoreError> {
        self.query_opt(RETRY, &[&id, &at.timestamp(), &error])?
            .map(|r| done_from_row(&r))
            .transpose()
    }

    fn mark_failed(&mut self, id: i64, error: &str, due: Instant) -> Result<Option<Done>, StoreError> {
        self.query_opt(FAILED, &[&id, &error, &due.timestamp()])?
            .map(|r| done_from_row(&r))
            .transpose()
    }

    fn pending_of_alert(&mut self, alert: AlertId) -> Result<Vec<Pending>, StoreError> {
        self.query(PENDING_OF_ALERT, &[&alert])?
            .iter()
            .map(|r| {
                Ok(Pending {
                    id: r.try_get(0)?,
                    person: r.try_get(1)?,
                    step: r.try_get(2)?,
                    round: r.try_get(3)?,
                    method: r.try_get(4)?,
                    due_at: r.try_get(5)?,
                })
            })
            .collect()
    }

    fn mark_not_reached(&mut self, alert: AlertId, person: &str, error: &str) -> Result<Option<Done>, StoreError> {
        self.query_opt(NOT_REACHED, &[&alert, &person, &error])?
            .map(|r| done_from_row(&r))
            .transpose()
    }

    fn hurry_escalation(&mut self, alert: AlertId, now: Instant) -> Result<bool, StoreError> {
        Ok(self.execute(HURRY_ESCALATION, &[&alert, &now.timestamp()])? == 1)
    }

    fn bring_forward(&mut self, id: i64, at: Instant) -> Result<(), StoreError> {
        self.execute(BRING_FORWARD, &[&id, &at.timestamp()])?;
        Ok(())
    }
}

/// An escalation's state from its row.
fn escalation(phase: &str, step: i64, round: i64) -> Escalation {
    match phase {
        "acknowledged" => Escalation::Acknowledged,
        _ => Escalation::Paging {
            step: usize::try_from(step).unwrap_or(0),
            round: u32::try_from(round).unwrap_or(0),
        },
    }
}

/// An escalation's state as its row's phase, step and round.
fn phase_of(state: Escalation) -> (&'static str, i64, i64) {
    match state {
        Escalation::Paging { step, round } => ("paging", step as i64, i64::from(round)),
        Escalation::Acknowledged => ("acknowledged", 0, 0),
    }
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
            "test" => NoticeKind::Test,
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
            Some(text) => Some(serde_json::from_str(&text)?),
            None => None,
        },
    })
}
