//! `oncall migrate-store`: copies a SQLite database into an empty PostgreSQL
//! one, table by table, ids kept, in one PostgreSQL transaction that commits
//! only if every table's row count matches its source.
//!
//! Run it with the daemon stopped (the SQLite file's lock is taken, so a
//! running daemon makes it refuse): what the daemon wrote after the copy
//! began would be lost otherwise.

use std::path::Path;

use postgres::types::{ToSql, Type};
use rusqlite::types::Value;

use super::StoreError;
use super::postgres::{PgStore, Target};
use super::sqlite::{self, SqliteStore};

/// The tables, parents before children (foreign keys), and the columns of
/// each: the same in both schemas (checked by `tests/it/store.rs`).
const TABLES: &[(&str, &[&str])] = &[
    (
        "alerts",
        &[
            "id",
            "team",
            "dedup_key",
            "summary",
            "severity",
            "source",
            "details",
            "intake",
            "status",
            "created_at",
            "last_seen_at",
            "occurrences",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
            "held_until",
            "held_reason",
            "lead",
        ],
    ),
    ("alert_events", &["id", "alert_id", "at", "kind", "detail"]),
    ("heartbeats", &["team", "name", "first_seen", "last_ping", "alerted"]),
    ("escalations", &["alert_id", "phase", "step", "round", "due_at"]),
    (
        "notifications",
        &[
            "id",
            "alert_id",
            "kind",
            "person",
            "method",
            "destination",
            "step",
            "round",
            "due_at",
            "state",
            "attempts",
            "last_error",
            "sent_at",
            "payload",
        ],
    ),
    // Test pages and what became of them: a method confirmed stays so.
    ("test_pages", &["id", "person", "requested_by", "requested_at"]),
    (
        "proofs",
        &[
            "id",
            "test_id",
            "notification_id",
            "person",
            "method",
            "destination",
            "delivered_at",
            "status",
            "confirmed_at",
            "confirmed_by",
        ],
    ),
    ("destinations", &["method", "destination", "last_sent"]),
    ("turns", &["team", "step", "taken"]),
    ("engine_cursors", &["name", "value"]),
    (
        "ledger",
        &[
            "id",
            "team",
            "rota",
            "person",
            "start_at",
            "end_at",
            "reconstructed",
            "recorded_at",
            "shadow_of",
        ],
    ),
    ("ledger_pages", &["alert_id", "person", "at", "severity"]),
    (
        "overrides",
        &[
            "id",
            "team",
            "rota",
            "user",
            "start_at",
            "end_at",
            "instead_of",
            "reason",
            "created_by",
            "created_at",
            "deleted_by",
            "deleted_at",
        ],
    ),
    // Links already used stay used after the move.
    ("spent_links", &["link", "alert_id", "expires_at", "spent_at"]),
    // Phones and browsers go on receiving pushes after the move.
    (
        "webpush_subscriptions",
        &["id", "person", "endpoint", "p256dh", "auth", "created_at"],
    ),
    // Sessions and tokens go on working after the move.
    (
        "credentials",
        &[
            "id",
            "kind",
            "digest",
            "person",
            "label",
            "created_at",
            "expires_at",
            "ended_at",
        ],
    ),
    // Numbers verified stay verified; a pending code or a lock carries on.
    (
        "phone_verifications",
        &[
            "person",
            "phone",
            "code_digest",
            "sent_at",
            "expires_at",
            "wrong",
            "locked_until",
            "verified_at",
        ],
    ),
];

/// Tables whose `id` is an identity in PostgreSQL: the next id continues
/// after the copied ones.
const IDENTITIES: &[&str] = &[
    "alerts",
    "alert_events",
    "notifications",
    "test_pages",
    "proofs",
    "ledger",
    "overrides",
    "credentials",
    "webpush_subscriptions",
];

/// What was copied: each table with its rows in SQLite and in PostgreSQL.
pub type Counts = Vec<(&'static str, i64, i64)>;

/// Copies the SQLite database at `from` into the PostgreSQL database at `to`
/// (migrated first; it must hold no alerts, ledger or overrides yet).
/// Blocking.
pub fn sqlite_to_postgres(from: &Path, to: &Target) -> Result<Counts, StoreError> {
    if !from.exists() {
        return Err(StoreError::open(from.display().to_string(), "no such file"));
    }
    // Opening migrates both to this binary's schema; the SQLite store's lock
    // keeps a daemon off the file while it is copied.
    let source = SqliteStore::open(from)?;
    PgStore::open(to)?.close()?;
    let target = to.clone();
    let from = from.to_owned();
    // The blocking client drives its own runtime: on a thread of its own.
    let copied = std::thread::spawn(move || copy(&from, &target))
        .join()
        .map_err(|_| StoreError::internal("the copy panicked"))?;
    source.close()?;
    copied
}

fn copy(from: &Path, target: &Target) -> Result<Counts, StoreError> {
    let (sqlite, version) = sqlite::open_read_only(from)?;
    if version != sqlite::SCHEMA_VERSION {
        return Err(StoreError::Refused(format!(
            "the SQLite database has schema version {version}, this oncall copies version {}",
            sqlite::SCHEMA_VERSION
        )));
    }
    let mut pg = target.connect()?;
    let mut tx = pg.transaction()?;
    for table in ["alerts", "ledger", "overrides", "heartbeats"] {
        // tidy: identifiers only (the tables named here)
        let rows: i64 = tx.query_one(&format!("SELECT count(*) FROM {table}"), &[])?.get(0);
        if rows > 0 {
            return Err(StoreError::Refused(format!(
                "the PostgreSQL database is not empty ({rows} rows in {table}): copy into a new database"
            )));
        }
    }
    // The cursors a new database starts with are replaced by the source's.
    tx.batch_execute("DELETE FROM engine_cursors")?;
    let mut counts = Vec::new();
    for (table, columns) in TABLES {
        let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let overriding = if IDENTITIES.contains(table) {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        };
        // tidy: identifiers only (TABLES), and placeholders
        let insert = tx.prepare(&format!(
            // tidy: identifiers only
            "INSERT INTO {table} ({}){overriding} VALUES ({})",
            quoted.join(", "),
            placeholders.join(", ")
        ))?;
        let types = insert.params().to_vec();
        // tidy: identifiers only (TABLES)
        let mut select = sqlite.prepare(&format!("SELECT {} FROM {table} ORDER BY 1", quoted.join(", ")))?;
        let mut rows = select.query([])?;
        let mut copied = 0i64;
        while let Some(row) = rows.next()? {
            let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(columns.len());
            for (i, ty) in types.iter().enumerate() {
                values.push(convert(row.get::<_, Value>(i)?, ty, table, columns[i])?);
            }
            let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
            tx.execute(&insert, &params)?;
            copied += 1;
        }
        // tidy: identifiers only (TABLES)
        let in_pg: i64 = tx.query_one(&format!("SELECT count(*) FROM {table}"), &[])?.get(0);
        // tidy: identifiers only (TABLES)
        let in_sqlite: i64 = sqlite.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        if in_pg != in_sqlite || copied != in_sqlite {
            return Err(StoreError::Refused(format!(
                "{table}: {in_sqlite} rows in SQLite, {copied} copied, {in_pg} in PostgreSQL: nothing was committed"
            )));
        }
        counts.push((*table, in_sqlite, in_pg));
    }
    for table in IDENTITIES {
        // tidy: identifiers only (IDENTITIES)
        tx.batch_execute(&format!(
            // tidy: identifiers only
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
        ))?;
    }
    tx.commit()?;
    Ok(counts)
}

/// One SQLite value as the PostgreSQL column's type wants it.
fn convert(value: Value, ty: &Type, table: &str, column: &str) -> Result<Box<dyn ToSql + Sync>, StoreError> {
    let mismatch = |v: &Value| StoreError::BadRow(format!("{table}.{column}: cannot copy {v:?} into a {ty}"));
    Ok(match (*ty == Type::INT8, *ty == Type::BOOL, *ty == Type::TEXT, value) {
        (true, _, _, Value::Null) => Box::new(None::<i64>),
        (true, _, _, Value::Integer(n)) => Box::new(Some(n)),
        (_, true, _, Value::Null) => Box::new(None::<bool>),
        (_, true, _, Value::Integer(n)) => Box::new(Some(n != 0)),
        (_, _, true, Value::Null) => Box::new(None::<String>),
        (_, _, true, Value::Text(s)) => Box::new(Some(s)),
        (_, _, _, other) => return Err(mismatch(&other)),
    })
}
