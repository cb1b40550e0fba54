//! Test pages and proofs in PostgreSQL's dialect
//! (`migrations/postgres/0006_proofs.sql`; the same as SQLite's).

use postgres::Row;

use super::{Conn, bad, instant};
use crate::domain::paging::Method;
use crate::domain::time::Instant;
use crate::store::StoreError;
use crate::store::proof::{Confirmed, NewTest, Proof, ProofEvent, TestPage};

macro_rules! select_proof {
    () => {
        "SELECT p.id, p.test_id, p.person, p.method, p.destination, \
         coalesce(n.state, 'pending'), n.sent_at, n.last_error, p.delivered_at, p.status, p.confirmed_at, \
         p.confirmed_by FROM proofs p LEFT JOIN notifications n ON n.id = p.notification_id"
    };
}

fn optional(seconds: Option<i64>) -> Result<Option<Instant>, StoreError> {
    seconds.map(instant).transpose()
}

fn method(text: &str) -> Result<Method, StoreError> {
    Method::parse(text).ok_or_else(|| bad(format!("unknown method {text:?}")))
}

fn proof_from_row(row: &Row) -> Result<Proof, StoreError> {
    Ok(Proof {
        id: row.try_get(0)?,
        test: row.try_get(1)?,
        person: row.try_get(2)?,
        method: method(row.try_get(3)?)?,
        destination: row.try_get(4)?,
        state: row.try_get(5)?,
        sent_at: optional(row.try_get(6)?)?,
        error: row.try_get(7)?,
        delivered_at: optional(row.try_get(8)?)?,
        status: row.try_get(9)?,
        confirmed_at: optional(row.try_get(10)?)?,
        confirmed_by: row.try_get(11)?,
    })
}

pub(super) fn start(conn: &mut Conn, t: &NewTest, now: Instant) -> Result<i64, StoreError> {
    let test: i64 = conn
        .query_one(
            "INSERT INTO test_pages (person, requested_by, requested_at) VALUES ($1, $2, $3) RETURNING id",
            &[&t.person, &t.by, &now.timestamp()],
        )?
        .try_get(0)?;
    for (m, to) in &t.targets {
        let proof: i64 = conn
            .query_one(
                "INSERT INTO proofs (test_id, person, method, destination) VALUES ($1, $2, $3, $4) RETURNING id",
                &[&test, &t.person, &m.as_str(), to],
            )?
            .try_get(0)?;
        let payload = serde_json::json!({"kind": "test", "proof": proof}).to_string();
        let notification: i64 = conn
            .query_one(
                "INSERT INTO notifications (alert_id, kind, person, method, destination, due_at, state, payload) \
                 VALUES (NULL, 'test', $1, $2, $3, $4, 'pending', $5) RETURNING id",
                &[&t.person, &m.as_str(), to, &now.timestamp(), &payload],
            )?
            .try_get(0)?;
        conn.execute(
            "UPDATE proofs SET notification_id = $1 WHERE id = $2",
            &[&notification, &proof],
        )?;
    }
    Ok(test)
}

pub(super) fn test_page(conn: &mut Conn, id: i64) -> Result<Option<TestPage>, StoreError> {
    let Some(row) = conn.query_opt(
        "SELECT person, requested_by, requested_at FROM test_pages WHERE id = $1",
        &[&id],
    )?
    else {
        return Ok(None);
    };
    let proofs = conn
        .query(concat!(select_proof!(), " WHERE p.test_id = $1 ORDER BY p.id"), &[&id])?
        .iter()
        .map(proof_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(TestPage {
        id,
        person: row.try_get(0)?,
        by: row.try_get(1)?,
        requested_at: instant(row.try_get(2)?)?,
        proofs,
    }))
}

pub(super) fn proof(conn: &mut Conn, id: i64) -> Result<Option<Proof>, StoreError> {
    conn.query_opt(concat!(select_proof!(), " WHERE p.id = $1"), &[&id])?
        .as_ref()
        .map(proof_from_row)
        .transpose()
}

pub(super) fn event(
    conn: &mut Conn,
    id: i64,
    event: &ProofEvent,
    now: Instant,
) -> Result<Option<(Proof, bool)>, StoreError> {
    let changed = match event {
        ProofEvent::Delivered(status) => conn.execute(
            "UPDATE proofs SET delivered_at = coalesce(delivered_at, $2), status = $3 WHERE id = $1",
            &[&id, &now.timestamp(), status],
        )?,
        ProofEvent::NotDelivered(status) => conn.execute(
            "UPDATE proofs SET status = $2 WHERE id = $1 AND delivered_at IS NULL",
            &[&id, status],
        )?,
        ProofEvent::Confirmed(how) => conn.execute(
            "UPDATE proofs SET confirmed_at = $2, confirmed_by = $3 WHERE id = $1 AND confirmed_at IS NULL",
            &[&id, &now.timestamp(), how],
        )?,
    };
    Ok(proof(conn, id)?.map(|p| (p, changed > 0)))
}

pub(super) fn awaiting_reply(
    conn: &mut Conn,
    person: &str,
    destination: &str,
    since: Instant,
) -> Result<Option<i64>, StoreError> {
    conn.query_opt(
        "SELECT p.id FROM proofs p JOIN notifications n ON n.id = p.notification_id \
         WHERE p.person = $1 AND p.method = 'sms' AND p.destination = $2 AND p.confirmed_at IS NULL \
         AND n.state = 'sent' AND n.sent_at >= $3 ORDER BY p.id DESC LIMIT 1",
        &[&person, &destination, &since.timestamp()],
    )?
    .map(|r| r.try_get(0).map_err(StoreError::from))
    .transpose()
}

pub(super) fn confirmed(conn: &mut Conn) -> Result<Vec<Confirmed>, StoreError> {
    conn.query(
        "SELECT person, method, destination, max(at) FROM ( \
         SELECT person, method, destination, confirmed_at AS at FROM proofs WHERE confirmed_at IS NOT NULL \
         UNION ALL SELECT person, 'sms', phone, verified_at FROM phone_verifications WHERE verified_at IS NOT NULL \
         ) AS c GROUP BY person, method, destination ORDER BY person, method, destination",
        &[],
    )?
    .iter()
    .map(|row| {
        Ok(Confirmed {
            person: row.try_get(0)?,
            method: method(row.try_get(1)?)?,
            destination: row.try_get(2)?,
            at: instant(row.try_get(3)?)?,
        })
    })
    .collect()
}

/// Whether the schema has test pages yet (a database beside an older
/// daemon has not).
pub(super) fn has_proofs(conn: &mut Conn) -> Result<bool, StoreError> {
    let version: Option<i64> = conn
        .query_one("SELECT max(version) FROM oncall_schema", &[])?
        .try_get(0)?;
    Ok(version.unwrap_or(0) >= PROOFS_SINCE)
}

/// The schema version that has test pages and proofs, and phone
/// verifications (which count as confirmed SMS).
const PROOFS_SINCE: i64 = 7;
