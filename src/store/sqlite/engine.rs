//! The engine's statements on SQLite: [`PassTx`] for the writer's
//! connection (the passes themselves are `engine::pass`, run by
//! [`Store::pass`](crate::store::Store::pass) and
//! [`Store::record`](crate::store::Store::record)), and the engine's reads
//! (next deadline, an alert's notifications, the ledger, cursors).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{alert_from_row, bad_column, instant, optional_instant};
use crate::domain::alert::{Alert, AlertId, TimelineKind};
use crate::domain::paging::{Escalation, Method};
use crate::domain::time::{Instant, Span};
use crate::engine::ledger::{Ledger, LedgerPage, LedgerRow};
use crate::engine::outbox::{NewNotification, NoticeKind, Notification};
use crate::engine::tx::{Done, DueEscalation, EventRow, PassTx, Pending};
use crate::store::StoreError;

const LEDGER_FIRST: &str = "SELECT min(start_at) FROM ledger";
const CURSOR: &str = "SELECT value FROM engine_cursors WHERE name = ?1";
const SET_CURSOR: &str = "INSERT INTO engine_cursors (name, value) VALUES (?1, ?2) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value";
// The pass's alerts come without their details (see `pass_alert_columns`).
const NEW_ALERTS: &str = concat!(
    "SELECT ",
    pass_alert_columns!(),
    " FROM alerts WHERE id > ?1 ORDER BY id"
);
const PASS_ALERT: &str = concat!("SELECT ", pass_alert_columns!(), " FROM alerts WHERE id = ?1");
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
// A page given up as it is queued: as GIVEN_UP leaves a pending one.
const INSERT_GIVEN_UP: &str = "INSERT INTO notifications \
     (alert_id, kind, person, method, destination, step, round, due_at, state, payload, attempts, last_error) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'failed', ?9, 1, ?10)";
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
// Not `created`: see `PassTx::events_after`.
const NEW_EVENTS: &str = "SELECT id, alert_id, at, kind, detail FROM alert_events WHERE id > ?1 \
     AND (kind = 'acknowledged' OR kind = 'resolved') ORDER BY id";
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
// The person's latest call about the alert that was placed; a second
// report of the same call finds it failed already and changes nothing.
const NOT_REACHED: &str = "UPDATE notifications SET state = 'failed', last_error = ?3 \
     WHERE id = (SELECT max(id) FROM notifications WHERE alert_id = ?1 AND person = ?2 \
     AND method = 'voice' AND state = 'sent') \
     RETURNING alert_id, person, method, attempts, step, round, kind, payload";
const HURRY_ESCALATION: &str = "UPDATE escalations SET due_at = ?2 \
     WHERE alert_id = ?1 AND phase <> 'acknowledged' AND due_at > ?2";
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
     FROM ledger_pages p JOIN alerts a ON a.id = p.alert_id WHERE p.at >= ?1 AND p.at < ?2 ORDER BY p.at, p.alert_id, p.person";
const NEXT_DUE: &str = "SELECT min(due) FROM ( \
     SELECT min(due_at) AS due FROM escalations \
     UNION ALL SELECT min(due_at) FROM notifications WHERE state IN ('pending', 'sending'))";

/// The engine's transaction on the writer's connection: [`PassTx`] as
/// SQLite's statements (each prepared once and kept in the connection's
/// cache). Timeline entries are held back and written [`TIMELINE_ROWS`]
/// to a statement (see [`Tx::flush`]).
pub(super) struct Tx<'c> {
    conn: &'c Connection,
    /// Timeline entries added and not yet written, in order.
    timeline: Vec<(AlertId, i64, TimelineKind, String)>,
}

/// Timeline entries written by one statement. Rows by the dozen cost about
/// half as much each as rows one statement each (the statement's own work,
/// binding aside, is paid once); what is left over is written by a
/// statement of four and then of one, so that three statements cover every
/// case and the connection's cache keeps them.
const TIMELINE_ROWS: usize = 16;

impl<'c> Tx<'c> {
    pub(super) fn new(conn: &'c Connection) -> Tx<'c> {
        Tx {
            conn,
            timeline: Vec::new(),
        }
    }

    /// Runs `work` as one of the engine's transactions: its statements,
    /// then the timeline entries it left held back.
    pub(super) fn run<T>(
        conn: &'c Connection,
        work: impl FnOnce(&mut Tx<'c>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut tx = Tx::new(conn);
        let done = work(&mut tx)?;
        tx.flush()?;
        Ok(done)
    }

    /// Writes the timeline entries held back, in order: before the timeline
    /// is read, and at the end.
    fn flush(&mut self) -> Result<(), StoreError> {
        let mut rows = self.timeline.drain(..).peekable();
        while rows.peek().is_some() {
            let n = match rows.len() {
                n if n >= TIMELINE_ROWS => TIMELINE_ROWS,
                n if n >= 4 => 4,
                _ => 1,
            };
            let chunk: Vec<_> = rows.by_ref().take(n).collect();
            let mut stmt = self.conn.prepare_cached(add_timeline_rows(n))?;
            for (i, (alert, at, kind, detail)) in chunk.iter().enumerate() {
                stmt.raw_bind_parameter(4 * i + 1, alert)?;
                stmt.raw_bind_parameter(4 * i + 2, at)?;
                stmt.raw_bind_parameter(4 * i + 3, kind.as_str())?;
                stmt.raw_bind_parameter(4 * i + 4, detail.as_str())?;
            }
            stmt.raw_execute()?;
        }
        Ok(())
    }
}

/// The statement that adds `n` timeline entries (1, 4 or [`TIMELINE_ROWS`]).
fn add_timeline_rows(n: usize) -> &'static str {
    const ONE: &str = "INSERT INTO alert_events (alert_id, at, kind, detail) VALUES (?, ?, ?, ?)";
    const FOUR: &str = "INSERT INTO alert_events (alert_id, at, kind, detail) VALUES \
         (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?)";
    const SIXTEEN: &str = "INSERT INTO alert_events (alert_id, at, kind, detail) VALUES \
         (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?), \
         (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?), \
         (?, ?, ?, ?), (?, ?, ?, ?)";
    match n {
        TIMELINE_ROWS => SIXTEEN,
        4 => FOUR,
        _ => ONE,
    }
}

/// An instant stored as seconds, read back.
fn seconds(s: Option<i64>) -> Option<Instant> {
    s.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
}

fn done_from_row(r: &Row<'_>) -> rusqlite::Result<Done> {
    Ok(Done {
        alert: r.get(0)?,
        person: r.get(1)?,
        method: r.get(2)?,
        attempts: r.get(3)?,
        step: r.get(4)?,
        round: r.get(5)?,
        kind: r.get(6)?,
        payload: r.get(7)?,
    })
}

impl PassTx for Tx<'_> {
    fn cursor(&mut self, name: &str) -> Result<Option<i64>, StoreError> {
        cursor(self.conn, name)
    }

    fn set_cursor(&mut self, name: &str, value: i64) -> Result<(), StoreError> {
        set_cursor(self.conn, name, value)
    }

    fn due_escalations(&mut self, now: Instant) -> Result<Vec<DueEscalation>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(DUE_ESCALATIONS)?
            .query_map([now.timestamp()], |r| {
                let phase: String = r.get(1)?;
                let (step, round): (i64, i64) = (r.get(2)?, r.get(3)?);
                Ok(DueEscalation {
                    alert: r.get(0)?,
                    state: escalation(&phase, step, round),
                    due_at: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn set_escalation(&mut self, alert: AlertId, state: Escalation, due: Instant) -> Result<(), StoreError> {
        let (phase, step, round) = phase_of(state);
        self.conn
            .prepare_cached(SET_ESCALATION)?
            .execute(params![alert, phase, step, round, due.timestamp()])?;
        Ok(())
    }

    fn end_escalation(&mut self, alert: AlertId) -> Result<(), StoreError> {
        self.conn.prepare_cached(END_ESCALATION)?.execute([alert])?;
        Ok(())
    }

    fn take_turn(&mut self, team: &str, step: usize) -> Result<u64, StoreError> {
        let taken: i64 = self
            .conn
            .prepare_cached(TAKE_TURN)?
            .query_row(params![team, step as i64], |r| r.get(0))?;
        Ok(u64::try_from(taken).unwrap_or(0))
    }

    fn webpush_destinations(&mut self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT person, id FROM webpush_subscriptions ORDER BY id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn alerts_after(&mut self, id: AlertId) -> Result<Vec<Alert>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(NEW_ALERTS)?
            .query_map([id], alert_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn alert(&mut self, id: AlertId) -> Result<Option<Alert>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(PASS_ALERT)?
            .query_row([id], alert_from_row)
            .optional()?)
    }

    fn reopen(&mut self, alert: AlertId) -> Result<bool, StoreError> {
        Ok(self.conn.prepare_cached(REOPEN)?.execute([alert])? == 1)
    }

    fn add_timeline(
        &mut self,
        alert: AlertId,
        at: Instant,
        kind: TimelineKind,
        detail: String,
    ) -> Result<(), StoreError> {
        self.timeline.push((alert, at.timestamp(), kind, detail));
        Ok(())
    }

    fn last_event(&mut self) -> Result<i64, StoreError> {
        self.flush()?;
        Ok(self.conn.prepare_cached(LAST_EVENT)?.query_row([], |r| r.get(0))?)
    }

    fn events_after(&mut self, id: i64) -> Result<Vec<EventRow>, StoreError> {
        self.flush()?;
        Ok(self
            .conn
            .prepare_cached(NEW_EVENTS)?
            .query_map([id], |r| {
                Ok(EventRow {
                    alert: r.get(1)?,
                    at: r.get(2)?,
                    kind: r.get(3)?,
                    detail: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn insert_ledger(&mut self, row: &LedgerRow, recorded_at: Instant) -> Result<(), StoreError> {
        self.conn.prepare_cached(INSERT_LEDGER)?.execute(params![
            row.team,
            row.rota,
            row.person,
            row.span.start.timestamp(),
            row.span.end.timestamp(),
            row.reconstructed,
            recorded_at.timestamp(),
            row.shadow_of
        ])?;
        Ok(())
    }

    fn page_received(&mut self, alert: AlertId, person: &str, at: Instant) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(PAGE_RECEIVED)?
            .execute(params![alert, person, at.timestamp()])?;
        Ok(())
    }

    fn insert_notification(&mut self, n: &NewNotification) -> Result<(), StoreError> {
        self.conn.prepare_cached(INSERT_NOTIFICATION)?.execute(params![
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

    fn insert_given_up(&mut self, n: &NewNotification, error: &str) -> Result<i64, StoreError> {
        self.conn.prepare_cached(INSERT_GIVEN_UP)?.execute(params![
            n.alert,
            n.kind.as_str(),
            n.person,
            n.method.as_str(),
            n.to,
            n.step.map(|(s, _)| s as i64),
            n.step.map(|(_, r)| r),
            n.due.timestamp(),
            n.payload.as_ref().map(|p| p.to_string()),
            error,
        ])?;
        // The row just inserted (no RETURNING: see GIVEN_UP).
        Ok(self.conn.last_insert_rowid())
    }

    fn due_notifications(&mut self, now: Instant) -> Result<Vec<Notification>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(DUE_NOTIFICATIONS)?
            .query_map([now.timestamp()], notification_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn earlier_announcement(&mut self, to: &str, id: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached(EARLIER_ANNOUNCEMENT)?
            .query_row(params![to, id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn cancel(&mut self, id: i64) -> Result<(), StoreError> {
        self.conn.prepare_cached(CANCEL)?.execute([id])?;
        Ok(())
    }

    fn claim(&mut self, id: i64, until: Instant) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(CLAIM)?
            .execute(params![id, until.timestamp()])?;
        Ok(())
    }

    fn hold(&mut self, id: i64, until: Instant) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(HOLD)?
            .execute(params![id, until.timestamp()])?;
        Ok(())
    }

    fn last_sent(&mut self, method: Method, to: &str) -> Result<Option<Instant>, StoreError> {
        let s: Option<Option<i64>> = self
            .conn
            .prepare_cached(LAST_SENT)?
            .query_row(params![method.as_str(), to], |r| r.get(0))
            .optional()?;
        Ok(seconds(s.flatten()))
    }

    fn mark_given_up(&mut self, id: i64, attempts: u32, error: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(GIVEN_UP)?
            .execute(params![id, attempts, error])?;
        Ok(())
    }

    fn mark_sent(&mut self, id: i64, at: Instant, due: Instant) -> Result<Option<Done>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(SENT)?
            .query_row(params![id, at.timestamp(), due.timestamp()], done_from_row)
            .optional()?)
    }

    fn sent_to(&mut self, id: i64, at: Instant) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(SENT_TO)?
            .execute(params![id, at.timestamp()])?;
        Ok(())
    }

    fn mark_retry(&mut self, id: i64, at: Instant, error: &str) -> Result<Option<Done>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(RETRY)?
            .query_row(params![id, at.timestamp(), error], done_from_row)
            .optional()?)
    }

    fn mark_failed(&mut self, id: i64, error: &str, due: Instant) -> Result<Option<Done>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(FAILED)?
            .query_row(params![id, error, due.timestamp()], done_from_row)
            .optional()?)
    }

    fn pending_of_alert(&mut self, alert: AlertId) -> Result<Vec<Pending>, StoreError> {
        // All of them: the pass matches person, step and round (see
        // `PENDING_OF_ALERT`).
        Ok(self
            .conn
            .prepare_cached(PENDING_OF_ALERT)?
            .query_map([alert], |r| {
                Ok(Pending {
                    id: r.get(0)?,
                    person: r.get(1)?,
                    step: r.get(2)?,
                    round: r.get(3)?,
                    method: r.get(4)?,
                    due_at: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn mark_not_reached(&mut self, alert: AlertId, person: &str, error: &str) -> Result<Option<Done>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(NOT_REACHED)?
            .query_row(params![alert, person, error], done_from_row)
            .optional()?)
    }

    fn hurry_escalation(&mut self, alert: AlertId, now: Instant) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached(HURRY_ESCALATION)?
            .execute(params![alert, now.timestamp()])?
            == 1)
    }

    fn bring_forward(&mut self, id: i64, at: Instant) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(BRING_FORWARD)?
            .execute(params![id, at.timestamp()])?;
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
            "test" => NoticeKind::Test,
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
        let per_alert: [(&str, [Vec<Value>; 3]); 8] = [
            (
                super::super::INSERT_NEW_ALERT,
                three(|n| {
                    let (key, at) = (text(&format!("k{n}")), int(n));
                    let s = text("s");
                    vec![
                        text("t"),
                        key,
                        s.clone(),
                        text("minor"),
                        s.clone(),
                        text("{}"),
                        s,
                        at,
                        Value::Null,
                        Value::Null,
                    ]
                }),
            ),
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
