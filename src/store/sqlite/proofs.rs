//! Test pages and proofs as SQLite's statements (`migrations/0013_proofs.sql`).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{bad_column, instant, optional_instant};
use crate::domain::paging::Method;
use crate::domain::time::Instant;
use crate::store::StoreError;
use crate::store::proof::{Confirmed, NewTest, Proof, ProofEvent, TestPage};

const SELECT_PROOF: &str = "SELECT p.id, p.test_id, p.person, p.method, p.destination, \
     coalesce(n.state, 'pending'), n.sent_at, n.last_error, p.delivered_at, p.status, p.confirmed_at, p.confirmed_by \
     FROM proofs p LEFT JOIN notifications n ON n.id = p.notification_id";

fn proof_from_row(row: &Row<'_>) -> rusqlite::Result<Proof> {
    let method: String = row.get(3)?;
    Ok(Proof {
        id: row.get(0)?,
        test: row.get(1)?,
        person: row.get(2)?,
        method: Method::parse(&method).ok_or_else(|| bad_column(3, format!("unknown method {method:?}")))?,
        destination: row.get(4)?,
        state: row.get(5)?,
        sent_at: optional_instant(row, 6)?,
        error: row.get(7)?,
        delivered_at: optional_instant(row, 8)?,
        status: row.get(9)?,
        confirmed_at: optional_instant(row, 10)?,
        confirmed_by: row.get(11)?,
    })
}

/// Records a test page and queues its notifications (due now), in the
/// caller's transaction.
pub(super) fn start(conn: &Connection, t: &NewTest, now: Instant) -> Result<i64, StoreError> {
    let test: i64 = conn
        .prepare_cached("INSERT INTO test_pages (person, requested_by, requested_at) VALUES (?1, ?2, ?3) RETURNING id")?
        .query_row(params![t.person, t.by, now.timestamp()], |r| r.get(0))?;
    for (method, to) in &t.targets {
        let proof: i64 = conn
            .prepare_cached(
                "INSERT INTO proofs (test_id, person, method, destination) VALUES (?1, ?2, ?3, ?4) RETURNING id",
            )?
            .query_row(params![test, t.person, method.as_str(), to], |r| r.get(0))?;
        let payload = serde_json::json!({"kind": "test", "proof": proof}).to_string();
        let notification: i64 = conn
            .prepare_cached(
                "INSERT INTO notifications (alert_id, kind, person, method, destination, due_at, state, payload) \
                 VALUES (NULL, 'test', ?1, ?2, ?3, ?4, 'pending', ?5) RETURNING id",
            )?
            .query_row(params![t.person, method.as_str(), to, now.timestamp(), payload], |r| {
                r.get(0)
            })?;
        conn.prepare_cached("UPDATE proofs SET notification_id = ?1 WHERE id = ?2")?
            .execute(params![notification, proof])?;
    }
    Ok(test)
}

pub(super) fn test_page(conn: &Connection, id: i64) -> Result<Option<TestPage>, StoreError> {
    let Some((person, by, at)) = conn
        .prepare_cached("SELECT person, requested_by, requested_at FROM test_pages WHERE id = ?1")?
        .query_row([id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, instant(r, 2)?))
        })
        .optional()?
    else {
        return Ok(None);
    };
    let proofs = conn
        .prepare_cached(&format!("{SELECT_PROOF} WHERE p.test_id = ?1 ORDER BY p.id"))?
        .query_map([id], proof_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(TestPage {
        id,
        person,
        by,
        requested_at: at,
        proofs,
    }))
}

pub(super) fn proof(conn: &Connection, id: i64) -> Result<Option<Proof>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("{SELECT_PROOF} WHERE p.id = ?1"))?
        .query_row([id], proof_from_row)
        .optional()?)
}

/// Applies `event` to proof `id`: `None` if there is no such proof; else
/// the proof after, and whether it changed.
pub(super) fn event(
    conn: &Connection,
    id: i64,
    event: &ProofEvent,
    now: Instant,
) -> Result<Option<(Proof, bool)>, StoreError> {
    let changed = match event {
        ProofEvent::Delivered(status) => conn
            .prepare_cached("UPDATE proofs SET delivered_at = coalesce(delivered_at, ?2), status = ?3 WHERE id = ?1")?
            .execute(params![id, now.timestamp(), status])?,
        ProofEvent::NotDelivered(status) => conn
            .prepare_cached("UPDATE proofs SET status = ?2 WHERE id = ?1 AND delivered_at IS NULL")?
            .execute(params![id, status])?,
        ProofEvent::Confirmed(how) => conn
            .prepare_cached(
                "UPDATE proofs SET confirmed_at = ?2, confirmed_by = ?3 WHERE id = ?1 AND confirmed_at IS NULL",
            )?
            .execute(params![id, now.timestamp(), how])?,
    };
    Ok(proof(conn, id)?.map(|p| (p, changed > 0)))
}

/// The newest unconfirmed test SMS to `destination` of `person` sent since
/// `since`, for a reply to confirm.
pub(super) fn awaiting_reply(
    conn: &Connection,
    person: &str,
    destination: &str,
    since: Instant,
) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT p.id FROM proofs p JOIN notifications n ON n.id = p.notification_id \
             WHERE p.person = ?1 AND p.method = 'sms' AND p.destination = ?2 AND p.confirmed_at IS NULL \
             AND n.state = 'sent' AND n.sent_at >= ?3 ORDER BY p.id DESC LIMIT 1",
        )?
        .query_row(params![person, destination, since.timestamp()], |r| r.get(0))
        .optional()?)
}

/// The last confirmation of each person's method and destination: a
/// confirmed test page, or a verified phone number (as `sms`).
pub(crate) fn confirmed(conn: &Connection) -> Result<Vec<Confirmed>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT person, method, destination, max(at) FROM ( \
             SELECT person, method, destination, confirmed_at AS at FROM proofs WHERE confirmed_at IS NOT NULL \
             UNION ALL SELECT person, 'sms', phone, verified_at FROM phone_verifications WHERE verified_at IS NOT NULL \
             ) GROUP BY person, method, destination ORDER BY person, method, destination",
        )?
        .query_map([], |row| {
            let method: String = row.get(1)?;
            Ok(Confirmed {
                person: row.get(0)?,
                method: Method::parse(&method).ok_or_else(|| bad_column(1, format!("unknown method {method:?}")))?,
                destination: row.get(2)?,
                at: instant(row, 3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?)
}
