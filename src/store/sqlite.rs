//! The SQLite backend of [`Store`]: one database file, owned by one daemon.
//!
//! What this module owns: the database file and its lock file, the schema
//! (the `.sql` files of `migrations/`, embedded in the binary), the one write
//! connection and the thread that drives it, and a few read connections.
//!
//! The model:
//! - **One daemon per database.** `open` takes an exclusive lock on
//!   `<database>.lock` and holds it for the store's life: two daemons pointed
//!   at one database would both page people. The lock is advisory (flock) and
//!   belongs to an open file description, so it is released when the process
//!   dies, however it dies; the lock file itself is left in place, since
//!   deleting a lock file races with the next process opening it.
//! - **One writer thread.** SQLite lets one connection write at a time, and
//!   rusqlite's calls block (on locks, on fsync). So a dedicated thread owns
//!   the only write connection and takes requests over a channel; async
//!   callers await a oneshot answer and never block a runtime thread.
//! - **Group commit, no linger.** The writer takes the first request, then
//!   whatever else is already queued, runs them all in one transaction and
//!   commits. Requests that queued while the previous batch ran share the
//!   next one, so batches grow with load by themselves and a lone request is
//!   not delayed. Waiting for more requests (a linger) was measured to lose
//!   throughput at every concurrency.
//! - **The fsync beside the writer.** The writer commits with
//!   `synchronous=NORMAL`: SQLite writes the batch's WAL frames and returns
//!   without an fsync. The batch then goes to a second thread, the syncer,
//!   which fsyncs the WAL file (once for every batch committed since its last
//!   fsync) and only then answers the batch's requests; meanwhile the writer
//!   runs the next batch. With the fsync inside the commit, the writer sat
//!   idle for every fsync (4 ms and more on this machine's disk under load)
//!   and 64 senders got 64 answers per batch time plus fsync time.
//!   Checkpoints still sync the WAL before copying it into the database, and
//!   the database after. A failed fsync stops the store (see `sync_loop`).
//! - **A request that fails fails alone.** A request whose statements fail is
//!   rolled back alone and answered with its error; the rest of its batch
//!   commits. A batch first runs without a savepoint per request (each
//!   savepoint copies every page its request touches into a journal: 13% of
//!   the throughput under load); if a request fails, the whole transaction
//!   is rolled back and the batch runs again, each request in its own
//!   savepoint. So a request may run twice, and must do the same on a
//!   second run (its work is `FnMut`, and reads only the database and what
//!   it was given). (On some errors, a full disk or an I/O error, SQLite
//!   rolls back the whole transaction: then the requests before it in the
//!   batch fail too, and those after it start a new transaction.)
//! - **Readers beside the writer.** In WAL mode readers see the last commit
//!   while the writer writes, so reads run on their own connections (a small
//!   pool, via `spawn_blocking`) and never wait behind a batch.
//! - **Migrations at start-up.** The missing ones run in one transaction,
//!   counted by `PRAGMA user_version`, with the foreign keys off (a table
//!   others refer to may be rebuilt) and checked before the commit; a
//!   database from a newer `oncall` is refused rather than guessed at.
//!
//! Checkpoints are left to SQLite's automatic one (after a commit that leaves
//! the WAL over 1000 pages, run by the writer): they set the write latency's
//! tail, and doing better needs its own design and measurement.
//!
//! Durability: an `Ok` answer is sent only after its batch's COMMIT returned
//! and then an fsync of the WAL that began after the commit returned, so it
//! is on disk. Readers may see a batch in the short time between its commit
//! and its fsync: after a power cut in that time, what they saw may be gone,
//! but nobody was told it was kept. The engine acts on nothing unsynced: its
//! pass is a write request, answered after an fsync that covers every batch
//! before it. A process that dies loses nothing committed: the kernel has
//! the WAL's pages. A
//! caller that stops waiting (drops its future) after its request was queued
//! does not cancel it: the request still runs and commits, with nobody to
//! tell.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::DateTime;
use rusqlite::types::Type;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::error::BatchStep;
use super::{
    Credential, CredentialKind, LeadChange, LinkAction, NewCredential, NewOverride, NewWebPush, PhoneVerification,
    PhoneWork, Spend, SpendLink, Store, StoreError, StoreFuture, StoredOverride, TxWork, WebPushSubscription,
};
use crate::domain::alert::{
    Action, Alert, AlertId, Event, Hold, Outcome, Status, TimelineEntry, TimelineKind, detail_text,
};
use crate::domain::heartbeat::Seen;
use crate::domain::time::{Instant, Span};
use crate::engine::ledger::Ledger;
use crate::engine::outbox::{Notification, Pass};

/// The schema, in order: migration `n` (from 1) takes `user_version` from
/// `n - 1` to `n`. Append only; never edit one that has been released.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_alerts.sql", include_str!("../../migrations/0001_alerts.sql")),
    (
        "0002_heartbeats.sql",
        include_str!("../../migrations/0002_heartbeats.sql"),
    ),
    (
        "0003_held_alerts.sql",
        include_str!("../../migrations/0003_held_alerts.sql"),
    ),
    ("0004_paging.sql", include_str!("../../migrations/0004_paging.sql")),
    ("0005_ledger.sql", include_str!("../../migrations/0005_ledger.sql")),
    (
        "0006_lead_shadows_announce.sql",
        include_str!("../../migrations/0006_lead_shadows_announce.sql"),
    ),
    (
        "0007_overrides.sql",
        include_str!("../../migrations/0007_overrides.sql"),
    ),
    (
        "0008_cheap_checks.sql",
        include_str!("../../migrations/0008_cheap_checks.sql"),
    ),
    (
        "0009_spent_links.sql",
        include_str!("../../migrations/0009_spent_links.sql"),
    ),
    (
        "0010_alerts_cheap_check.sql",
        include_str!("../../migrations/0010_alerts_cheap_check.sql"),
    ),
    (
        "0011_credentials.sql",
        include_str!("../../migrations/0011_credentials.sql"),
    ),
    ("0012_webpush.sql", include_str!("../../migrations/0012_webpush.sql")),
    ("0013_proofs.sql", include_str!("../../migrations/0013_proofs.sql")),
    (
        "0014_phone_verification.sql",
        include_str!("../../migrations/0014_phone_verification.sql"),
    ),
    (
        "0015_alerts_status_unindexed.sql",
        include_str!("../../migrations/0015_alerts_status_unindexed.sql"),
    ),
];

/// The schema version this binary writes: the number of migrations it knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long `open` waits for another holder of the lock to let go before
/// saying the database is in use.
const LOCK_PATIENCE: Duration = Duration::from_millis(500);

/// How long a connection retries when the database is locked (a checkpoint,
/// another process reading) before giving up with an error.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Requests waiting for the writer. When full, callers wait (asynchronously)
/// for room: back-pressure instead of unbounded memory.
const QUEUE: usize = 1024;

/// The most requests in one transaction, so that a deep queue does not make
/// the first request of a batch wait for a huge commit.
const MAX_BATCH: usize = 512;

/// A connection is used by one thread at a time (rusqlite's `Connection` is
/// not `Sync`), so SQLite's own per-call mutex would only cost time.
const NO_MUTEX: OpenFlags = OpenFlags::SQLITE_OPEN_NO_MUTEX;

/// Read connections kept open between reads; more are opened under load and
/// closed after.
const IDLE_READERS: usize = 4;

/// The alert columns, in the order `alert_from_row` reads them.
macro_rules! alert_columns {
    () => {
        "id, team, dedup_key, summary, severity, source, details, intake, status, created_at, last_seen_at, \
         occurrences, acknowledged_at, acknowledged_by, resolved_at, resolved_by, held_until, held_reason, lead"
    };
}

/// The same columns for the engine's pass, with `'null'` for the details:
/// the pass never reads them, and they are most of a row (parsing them
/// back was a tenth of the pass's time under load).
macro_rules! pass_alert_columns {
    () => {
        "id, team, dedup_key, summary, severity, source, 'null', intake, status, created_at, last_seen_at, \
         occurrences, acknowledged_at, acknowledged_by, resolved_at, resolved_by, held_until, held_reason, lead"
    };
}

// After the macro, which it uses.
mod engine;
mod proofs;

const SELECT_ALERT: &str = concat!("SELECT ", alert_columns!(), " FROM alerts WHERE id = ?1");
const LIST_ALERTS: &str = concat!("SELECT ", alert_columns!(), " FROM alerts ORDER BY id DESC LIMIT ?1");
// The open or acknowledged alerts, from the partial index that holds only
// the unresolved ones (there is no index on `status`: see migration 0015),
// so a few open alerts are found without walking a long history; its
// `status != 'resolved'` is written as in the index, which the planner needs
// to use it.
const LIST_UNRESOLVED_WITH_STATUS: &str = concat!(
    "SELECT ",
    alert_columns!(),
    " FROM alerts INDEXED BY alerts_unresolved_key WHERE status != 'resolved' AND status = ?1 \
     ORDER BY id DESC LIMIT ?2"
);
// The resolved alerts: most of the table, found from its newest row.
const LIST_RESOLVED: &str = concat!(
    "SELECT ",
    alert_columns!(),
    " FROM alerts WHERE status = 'resolved' ORDER BY id DESC LIMIT ?1"
);
const SELECT_TIMELINE: &str = "SELECT at, kind, detail FROM alert_events WHERE alert_id = ?1 ORDER BY id";
// `status != 'resolved'` exactly as in the partial index, so the planner uses it.
const FIND_UNRESOLVED: &str = "SELECT id FROM alerts WHERE team = ?1 AND dedup_key = ?2 AND status != 'resolved'";
macro_rules! insert_alert {
    () => {
        "INSERT INTO alerts \
         (team, dedup_key, summary, severity, source, details, intake, status, created_at, last_seen_at, occurrences, \
          held_until, held_reason) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?8, 1, ?9, ?10)"
    };
}
#[cfg(test)]
const INSERT_ALERT: &str = insert_alert!();
// A new alert, unless one with its key is unresolved: then nothing (the
// conflict target is the partial unique index itself), and `ingest_event`
// counts an occurrence of that one. One statement for the common case
// rather than a look-up and then an insert that looks the key up again.
const INSERT_NEW_ALERT: &str = concat!(
    insert_alert!(),
    " ON CONFLICT (team, dedup_key) WHERE status != 'resolved' DO NOTHING"
);
const ADD_OCCURRENCE: &str = "UPDATE alerts SET occurrences = occurrences + 1, last_seen_at = ?2 WHERE id = ?1";
// The first to acknowledge becomes the lead (a lead kept from before a
// reopening stays).
const ACKNOWLEDGE: &str = "UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?2, acknowledged_by = ?3, \
     lead = coalesce(lead, ?3) WHERE id = ?1 AND status = 'open' RETURNING lead";
const FORGET_SPENT_LINKS: &str = "DELETE FROM spent_links WHERE expires_at <= ?1";
const SPENT_LINK: &str = "SELECT spent_at FROM spent_links WHERE link = ?1";
const SPEND_LINK: &str = "INSERT INTO spent_links (link, alert_id, expires_at, spent_at) VALUES (?1, ?2, ?3, ?4)";
const SET_LEAD: &str = "UPDATE alerts SET lead = ?2 WHERE id = ?1 AND status != 'resolved'";
const RESOLVE: &str = "UPDATE alerts SET status = 'resolved', resolved_at = ?2, resolved_by = ?3 \
     WHERE id = ?1 AND status != 'resolved' RETURNING lead";
const HEARTBEAT_SEEN: &str =
    "INSERT INTO heartbeats (team, name, first_seen) VALUES (?1, ?2, ?3) ON CONFLICT (team, name) DO NOTHING";
const HEARTBEAT_PING: &str = "INSERT INTO heartbeats (team, name, first_seen, last_ping) VALUES (?1, ?2, ?3, ?3) \
     ON CONFLICT (team, name) DO UPDATE SET last_ping = excluded.last_ping";
const HEARTBEAT_ALERTED: &str = "UPDATE heartbeats SET alerted = ?3 WHERE team = ?1 AND name = ?2";
const LIST_HEARTBEATS: &str = "SELECT team, name, first_seen, last_ping, alerted FROM heartbeats ORDER BY team, name";
const ADD_TIMELINE: &str = "INSERT INTO alert_events (alert_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)";

/// The SQLite store. Cheap to share behind an `Arc`; dropping it (or
/// [`SqliteStore::close`]) lets the writer answer everything queued, stops
/// it, and releases the lock.
pub struct SqliteStore {
    path: PathBuf,
    /// `None` once closed.
    queue: Option<mpsc::Sender<Box<dyn Job>>>,
    writer: Option<JoinHandle<()>>,
    readers: Arc<Readers>,
    /// Held, locked, for the store's life; `None` once closed.
    lock: Option<File>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("open", &self.queue.is_some())
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if need be) the database at `path`: takes the lock
    /// `<path>.lock`, applies the missing migrations, starts the writer.
    ///
    /// Fails with [`StoreError::Locked`] if another store (in this process or
    /// another) has the database open, and [`StoreError::TooNew`] if a newer
    /// `oncall` has migrated it further than this one knows.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        // The lock first: a second daemon must not even migrate.
        let lock = lock(path)?;
        let open_error = |e: rusqlite::Error| open_error(path, e);

        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | NO_MUTEX,
        )
        .map_err(open_error)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Without WAL, readers would block the writer and the reverse.
            return Err(StoreError::open(
                path.display().to_string(),
                format!("cannot use write-ahead logging (journal mode stays {mode:?})"),
            ));
        }
        // FULL while migrating: the migrations' commit is synced by SQLite.
        conn.pragma_update(None, "synchronous", "FULL").map_err(open_error)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_error)?;
        // The journals of the per-request savepoints (and any temporary
        // table of a sort) in memory: on disk, the savepoints' journal
        // spilled to a temporary file and was written for every request.
        conn.pragma_update(None, "temp_store", "MEMORY").map_err(open_error)?;
        conn.set_prepared_statement_cache_capacity(32);
        migrate(&mut conn, path)?;
        // Then NORMAL: a commit writes the WAL without an fsync, and the
        // syncer thread fsyncs it before any request of the batch is
        // answered, while the writer goes on with the next batch (see the
        // module docs). Checkpoints still sync the WAL and the database file.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_error)?;
        // The WAL is named after the database file as SQLite resolved it
        // (through any symbolic link).
        let mut wal = std::ffi::OsString::from(conn.path().unwrap_or_default());
        if wal.is_empty() {
            wal = path.as_os_str().to_owned();
        }
        wal.push("-wal");
        let wal = PathBuf::from(wal);

        let readers = Arc::new(Readers {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        });
        // One reader now, so that a problem shows at start-up, not on the first read.
        let reader = readers.connect()?;
        readers.idle.lock().unwrap_or_else(PoisonError::into_inner).push(reader);

        let (queue, requests) = mpsc::channel(QUEUE);
        let writer = std::thread::Builder::new()
            .name("oncall-store-writer".to_owned())
            .spawn(move || write_loop(conn, wal, requests))
            .map_err(|e| {
                StoreError::open_because(
                    path.display().to_string(),
                    format!("cannot start the writer thread: {e}"),
                    e,
                )
            })?;
        Ok(SqliteStore {
            path: path.to_owned(),
            queue: Some(queue),
            writer: Some(writer),
            readers,
            lock: Some(lock),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the store: the writer answers every request already queued,
    /// commits, and stops; then the connections close and the lock is
    /// released. Dropping the store does the same, but cannot report that the
    /// writer thread had died (panicked).
    ///
    /// Blocks the calling thread until the writer has finished its last batch
    /// (one commit).
    pub fn close(mut self) -> Result<(), StoreError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), StoreError> {
        // The writer's loop ends when the queue is closed and empty, so
        // everything already sent is answered first.
        drop(self.queue.take());
        let mut result = Ok(());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            result = Err(StoreError::internal("the store's writer thread panicked"));
        }
        self.readers.close();
        // Last, so that no other daemon starts on the file while this one
        // still has connections to it. Closing the file releases the lock.
        drop(self.lock.take());
        result
    }

    /// Queues `work` for the writer and waits for its answer, which comes
    /// after the commit of the batch it ran in.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let queue = self.queue.as_ref().ok_or(StoreError::Closed)?;
        let (job, answer) = job(work);
        queue.send(job).await.map_err(|_| StoreError::Closed)?;
        // The writer drops a request unanswered only if it died.
        let (answer, work) = answer.await.map_err(|_| StoreError::Closed)?;
        // Here, on the thread that made what the work holds (see `Request`).
        drop(work);
        answer
    }

    /// Runs `work` on a read connection, on tokio's blocking pool.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || readers.run(work))
            .await
            .map_err(|e| StoreError::internal_because(format!("a read failed: {e}"), e))?
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl Store for SqliteStore {
    fn ingest(&self, events: Vec<Event>, now: Instant) -> StoreFuture<'_, Vec<Outcome>> {
        let prepared = super::with_details_json(events);
        Box::pin(async move {
            let prepared = prepared?;
            self.write(move |conn| {
                prepared
                    .iter()
                    .map(|(event, details)| ingest_event(conn, event, details, now))
                    .collect()
            })
            .await
        })
    }

    fn alerts(&self, status: Option<Status>, limit: usize) -> StoreFuture<'_, Vec<Alert>> {
        Box::pin(self.read(move |conn| list_alerts(conn, status, limit)))
    }

    fn alert(&self, id: AlertId) -> StoreFuture<'_, Option<(Alert, Vec<TimelineEntry>)>> {
        Box::pin(self.read(move |conn| alert_with_timeline(conn, id)))
    }

    fn acknowledge(&self, id: AlertId, by: Option<String>, now: Instant) -> StoreFuture<'_, Option<Alert>> {
        Box::pin(self.write(move |conn| act_in(conn, id, LinkAction::Acknowledge, by.clone(), now)))
    }

    fn resolve(&self, id: AlertId, by: Option<String>, now: Instant) -> StoreFuture<'_, Option<Alert>> {
        Box::pin(self.write(move |conn| act_in(conn, id, LinkAction::Resolve, by.clone(), now)))
    }

    fn act_once(&self, link: SpendLink, now: Instant) -> StoreFuture<'_, Spend> {
        Box::pin(self.write(move |conn| {
            conn.prepare_cached(FORGET_SPENT_LINKS)?.execute([now.timestamp()])?;
            let spent_at: Option<Instant> = conn
                .prepare_cached(SPENT_LINK)?
                .query_row([&link.link], |r| instant(r, 0))
                .optional()?;
            if let Some(at) = spent_at {
                return Ok(Spend::Spent(at));
            }
            conn.prepare_cached(SPEND_LINK)?.execute(params![
                link.link,
                link.alert,
                link.expires.timestamp(),
                now.timestamp()
            ])?;
            let by = Some(link.by.clone());
            let alert = act_in(conn, link.alert, link.action, by, now)?;
            Ok(Spend::Fresh(alert.map(Box::new)))
        }))
    }

    fn hand_lead(&self, id: AlertId, lead: String, by: Option<String>, now: Instant) -> StoreFuture<'_, LeadChange> {
        Box::pin(self.write(move |conn| {
            let Some(before) = select_alert(conn, id)? else {
                return Ok(LeadChange::NoAlert);
            };
            if before.status == Status::Resolved {
                return Ok(LeadChange::Resolved(before));
            }
            if before.lead.as_deref() == Some(lead.as_str()) {
                return Ok(LeadChange::Unchanged(before));
            }
            conn.prepare_cached(SET_LEAD)?.execute(params![id, lead])?;
            add_timeline(
                conn,
                id,
                now,
                TimelineKind::Lead,
                &detail_text(&json!({ "from": before.lead, "to": lead, "by": by })),
            )?;
            match select_alert(conn, id)? {
                Some(alert) => Ok(LeadChange::Changed(alert)),
                None => Ok(LeadChange::NoAlert),
            }
        }))
    }

    fn pass(&self, _now: Instant, mut work: TxWork<Pass>) -> StoreFuture<'_, Pass> {
        // One daemon owns the file: no lease to check.
        Box::pin(self.write(move |conn| engine::Tx::run(conn, |tx| work(tx))))
    }

    fn record(&self, mut work: TxWork<()>) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |conn| engine::Tx::run(conn, |tx| work(tx))))
    }

    fn next_due(&self) -> StoreFuture<'_, Option<Instant>> {
        Box::pin(self.read(|conn| engine::next_due(conn)))
    }

    fn notifications(&self, alert: AlertId) -> StoreFuture<'_, Vec<Notification>> {
        Box::pin(self.read(move |conn| engine::notifications(conn, alert)))
    }

    fn ledger(&self, span: Span) -> StoreFuture<'_, Ledger> {
        Box::pin(self.read(move |conn| engine::ledger(conn, span)))
    }

    fn unresolved_counts(&self) -> StoreFuture<'_, Vec<(String, String, String, u64)>> {
        Box::pin(self.read(|conn| {
            Ok(conn
                .prepare_cached(UNRESOLVED_COUNTS)?
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? as u64))
                })?
                .collect::<rusqlite::Result<_>>()?)
        }))
    }

    fn add_override(&self, o: NewOverride, now: Instant) -> StoreFuture<'_, StoredOverride> {
        Box::pin(self.write(move |conn| {
            let id: i64 = conn.prepare_cached(INSERT_OVERRIDE)?.query_row(
                params![
                    o.team,
                    o.rota,
                    o.user,
                    o.span.start.timestamp(),
                    o.span.end.timestamp(),
                    o.instead_of,
                    o.reason,
                    o.by,
                    now.timestamp()
                ],
                |r| r.get(0),
            )?;
            Ok(conn
                .prepare_cached(&format!("{SELECT_OVERRIDE} WHERE id = ?1"))?
                .query_row([id], override_from_row)?)
        }))
    }

    fn overrides(&self) -> StoreFuture<'_, Vec<StoredOverride>> {
        Box::pin(self.read(|conn| overrides(conn)))
    }

    fn delete_override(&self, id: i64, by: String, now: Instant) -> StoreFuture<'_, Option<StoredOverride>> {
        Box::pin(self.write(move |conn| {
            let found = conn
                .prepare_cached(&format!("{SELECT_OVERRIDE} WHERE id = ?1 AND deleted_at IS NULL"))?
                .query_row([id], override_from_row)
                .optional()?;
            if found.is_some() {
                conn.prepare_cached(DELETE_OVERRIDE)?
                    .execute(params![id, by, now.timestamp()])?;
            }
            Ok(found)
        }))
    }

    fn add_credential(&self, c: NewCredential, now: Instant) -> StoreFuture<'_, Credential> {
        Box::pin(self.write(move |conn| add_credential(conn, &c, now)))
    }

    fn credential(&self, kind: CredentialKind, digest: String, now: Instant) -> StoreFuture<'_, Option<Credential>> {
        Box::pin(self.read(move |conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "{SELECT_CREDENTIAL} WHERE kind = ?1 AND digest = ?2 AND ended_at IS NULL \
                     AND (expires_at IS NULL OR expires_at > ?3)"
                ))?
                .query_row(params![kind.as_str(), digest, now.timestamp()], credential_from_row)
                .optional()?)
        }))
    }

    fn end_credential(&self, kind: CredentialKind, id: i64, now: Instant) -> StoreFuture<'_, Option<Credential>> {
        Box::pin(self.write(move |conn| end_credential(conn, kind, id, now)))
    }

    fn credentials(&self, kind: CredentialKind) -> StoreFuture<'_, Vec<Credential>> {
        Box::pin(self.read(move |conn| credentials(conn, kind)))
    }

    fn start_test(&self, t: super::proof::NewTest, now: Instant) -> StoreFuture<'_, i64> {
        Box::pin(self.write(move |conn| proofs::start(conn, &t, now)))
    }

    fn test_page(&self, id: i64) -> StoreFuture<'_, Option<super::proof::TestPage>> {
        Box::pin(self.read(move |conn| proofs::test_page(conn, id)))
    }

    fn proof(&self, id: i64) -> StoreFuture<'_, Option<super::proof::Proof>> {
        Box::pin(self.read(move |conn| proofs::proof(conn, id)))
    }

    fn proof_event(
        &self,
        id: i64,
        event: super::proof::ProofEvent,
        now: Instant,
    ) -> StoreFuture<'_, Option<(super::proof::Proof, bool)>> {
        Box::pin(self.write(move |conn| proofs::event(conn, id, &event, now)))
    }

    fn awaiting_reply(&self, person: String, destination: String, since: Instant) -> StoreFuture<'_, Option<i64>> {
        Box::pin(self.read(move |conn| proofs::awaiting_reply(conn, &person, &destination, since)))
    }

    fn confirmed(&self) -> StoreFuture<'_, Vec<super::proof::Confirmed>> {
        Box::pin(self.read(|conn| proofs::confirmed(conn)))
    }

    fn add_webpush(&self, s: NewWebPush, now: Instant) -> StoreFuture<'_, WebPushSubscription> {
        Box::pin(self.write(move |conn| {
            let id: i64 = conn
                .prepare_cached(UPSERT_WEBPUSH)?
                .query_row(params![s.person, s.endpoint, s.p256dh, s.auth, now.timestamp()], |r| {
                    r.get(0)
                })?;
            Ok(conn
                .prepare_cached(&format!("{SELECT_WEBPUSH} WHERE id = ?1"))?
                .query_row([id], webpush_from_row)?)
        }))
    }

    fn webpush_subscriptions(&self, person: Option<String>) -> StoreFuture<'_, Vec<WebPushSubscription>> {
        Box::pin(self.read(move |conn| {
            Ok(conn
                .prepare_cached(&format!("{SELECT_WEBPUSH} WHERE ?1 IS NULL OR person = ?1 ORDER BY id"))?
                .query_map([person], webpush_from_row)?
                .collect::<rusqlite::Result<_>>()?)
        }))
    }

    fn webpush_subscription(&self, id: i64) -> StoreFuture<'_, Option<WebPushSubscription>> {
        Box::pin(self.read(move |conn| {
            Ok(conn
                .prepare_cached(&format!("{SELECT_WEBPUSH} WHERE id = ?1"))?
                .query_row([id], webpush_from_row)
                .optional()?)
        }))
    }

    fn remove_webpush(&self, id: i64, person: Option<String>) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |conn| {
            let removed = conn
                .prepare_cached("DELETE FROM webpush_subscriptions WHERE id = ?1 AND (?2 IS NULL OR person = ?2)")?
                .execute(params![id, person])?;
            Ok(removed > 0)
        }))
    }

    fn cursor(&self, name: &'static str) -> StoreFuture<'_, Option<i64>> {
        Box::pin(self.read(move |conn| engine::cursor(conn, name)))
    }

    fn set_cursor(&self, name: &'static str, value: i64) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |conn| engine::set_cursor(conn, name, value)))
    }

    fn heartbeats_seen(&self, heartbeats: Vec<(String, String)>, now: Instant) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |conn| {
            let mut insert = conn.prepare_cached(HEARTBEAT_SEEN)?;
            for (team, name) in &heartbeats {
                insert.execute(params![team, name, now.timestamp()])?;
            }
            Ok(())
        }))
    }

    fn heartbeat_ping(&self, team: String, name: String, now: Instant) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |conn| {
            conn.prepare_cached(HEARTBEAT_PING)?
                .execute(params![team, name, now.timestamp()])?;
            Ok(())
        }))
    }

    fn heartbeat_alerted(&self, team: String, name: String, now: Instant) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |conn| {
            conn.prepare_cached(HEARTBEAT_ALERTED)?
                .execute(params![team, name, now.timestamp()])?;
            Ok(())
        }))
    }

    fn heartbeats(&self) -> StoreFuture<'_, Vec<Seen>> {
        Box::pin(self.read(|conn| {
            Ok(conn
                .prepare_cached(LIST_HEARTBEATS)?
                .query_map([], heartbeat_from_row)?
                .collect::<rusqlite::Result<_>>()?)
        }))
    }

    fn phone_verification(&self, person: String, phone: String) -> StoreFuture<'_, Option<PhoneVerification>> {
        Box::pin(self.read(move |conn| phone_verification(conn, &person, &phone)))
    }

    fn change_phone_verification(
        &self,
        person: String,
        phone: String,
        mut work: PhoneWork,
    ) -> StoreFuture<'_, Option<PhoneVerification>> {
        Box::pin(self.write(move |conn| {
            // On the writer, in its transaction: nothing changes the row
            // between this read and the write.
            let before = phone_verification(conn, &person, &phone)?;
            if let Some(after) = work(before.as_ref()) {
                conn.prepare_cached(PUT_PHONE_VERIFICATION)?.execute(params![
                    person,
                    phone,
                    after.code_digest,
                    after.sent_at.map(|t| t.timestamp()),
                    after.expires_at.map(|t| t.timestamp()),
                    after.wrong,
                    after.locked_until.map(|t| t.timestamp()),
                    after.verified_at.map(|t| t.timestamp()),
                ])?;
            }
            Ok(before)
        }))
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        // No statements of its own: the batch around it begins with
        // BEGIN IMMEDIATE, which takes the write lock, and commits. Alone in a
        // batch that commit writes nothing (no fsync).
        Box::pin(self.write(|_| Ok(())))
    }
}

/// Reads the ledger of `span` from the database at `path` without taking
/// the daemon's lock: for `oncall pay --source ledger` while the daemon runs
/// (WAL lets a reader see the last commit beside the writer). Read-only; a
/// database without a ledger yet, or from a newer `oncall`, is refused.
pub fn read_ledger(path: &Path, span: Span) -> Result<Ledger, StoreError> {
    if !path.exists() {
        return Err(StoreError::open(
            path.display().to_string(),
            "no such file: the ledger is written by `oncall serve` (--database)",
        ));
    }
    let (conn, version) = open_read_only(path)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.display().to_string(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < LEDGER_SINCE {
        return Err(StoreError::open(
            path.display().to_string(),
            "this database has no ledger yet: start `oncall serve` on it once to migrate it",
        ));
    }
    engine::ledger(&conn, span)
}

/// The database at `path`, read-only and without the daemon's lock (WAL
/// lets a reader see the last commit beside the writer), and its schema
/// version.
pub(crate) fn open_read_only(path: &Path) -> Result<(Connection, i64), StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | NO_MUTEX)
        .map_err(|e| open_error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| open_error(path, e))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| open_error(path, e))?;
    Ok((conn, version))
}

/// What a backup holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    pub schema_version: i64,
    pub alerts: i64,
    pub ledger_rows: i64,
}

/// Copies the database at `from` to a new file `to`, online: a read
/// transaction sees the last commit (the daemon may keep writing; WAL) and
/// `VACUUM INTO` writes a compact, consistent copy. The copy is checked
/// (`PRAGMA integrity_check`) before this returns. `to` must not exist.
pub fn backup(from: &Path, to: &Path) -> Result<BackupSummary, StoreError> {
    if !from.exists() {
        return Err(StoreError::open(from.display().to_string(), "no such file"));
    }
    if to.exists() {
        return Err(StoreError::open(
            to.display().to_string(),
            "already exists: choose a new file for the backup",
        ));
    }
    let (conn, _) = open_read_only(from)?;
    let target = to
        .to_str()
        .ok_or_else(|| StoreError::open(to.display().to_string(), "the path is not UTF-8"))?;
    conn.execute("VACUUM INTO ?1", [target])
        .map_err(|e| open_error(to, e))?;
    drop(conn);
    let copy =
        Connection::open_with_flags(to, OpenFlags::SQLITE_OPEN_READ_ONLY | NO_MUTEX).map_err(|e| open_error(to, e))?;
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| open_error(to, e))?;
    if check != "ok" {
        return Err(StoreError::open(
            to.display().to_string(),
            format!("the copy fails its integrity check: {check}"),
        ));
    }
    let count =
        |sql: &str| -> Result<i64, StoreError> { copy.query_row(sql, [], |r| r.get(0)).map_err(|e| open_error(to, e)) };
    let schema_version = count("PRAGMA user_version")?;
    let ledger_rows = if schema_version >= LEDGER_SINCE {
        count("SELECT count(*) FROM ledger")?
    } else {
        0
    };
    Ok(BackupSummary {
        schema_version,
        alerts: count("SELECT count(*) FROM alerts")?,
        ledger_rows,
    })
}

/// Reads only the unresolved rows, through the partial index that holds them
/// (its condition written as in the index; see migration 0015).
const UNRESOLVED_COUNTS: &str = "SELECT team, severity, status, count(*) FROM alerts \
     INDEXED BY alerts_unresolved_key WHERE status != 'resolved' \
     GROUP BY team, severity, status ORDER BY team, severity, status";

const INSERT_OVERRIDE: &str = "INSERT INTO overrides \
     (team, rota, user, start_at, end_at, instead_of, reason, created_by, created_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id";
const SELECT_OVERRIDE: &str = "SELECT id, team, rota, user, start_at, end_at, instead_of, reason, \
     created_by, created_at FROM overrides";
const DELETE_OVERRIDE: &str = "UPDATE overrides SET deleted_by = ?2, deleted_at = ?3 WHERE id = ?1";

const INSERT_CREDENTIAL: &str = "INSERT INTO credentials (kind, digest, person, label, created_at, expires_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id";
const SELECT_CREDENTIAL: &str = "SELECT id, kind, person, label, created_at, expires_at, ended_at FROM credentials";

const SELECT_PHONE_VERIFICATION: &str = "SELECT person, phone, code_digest, sent_at, expires_at, wrong, \
     locked_until, verified_at FROM phone_verifications WHERE person = ?1 AND phone = ?2";
const PUT_PHONE_VERIFICATION: &str = "INSERT INTO phone_verifications \
     (person, phone, code_digest, sent_at, expires_at, wrong, locked_until, verified_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (person, phone) DO UPDATE SET \
     code_digest = excluded.code_digest, sent_at = excluded.sent_at, expires_at = excluded.expires_at, \
     wrong = excluded.wrong, locked_until = excluded.locked_until, verified_at = excluded.verified_at";

fn phone_verification(conn: &Connection, person: &str, phone: &str) -> Result<Option<PhoneVerification>, StoreError> {
    Ok(conn
        .prepare_cached(SELECT_PHONE_VERIFICATION)?
        .query_row(params![person, phone], |r| {
            Ok(PhoneVerification {
                person: r.get(0)?,
                phone: r.get(1)?,
                code_digest: r.get(2)?,
                sent_at: optional_instant(r, 3)?,
                expires_at: optional_instant(r, 4)?,
                wrong: r.get(5)?,
                locked_until: optional_instant(r, 6)?,
                verified_at: optional_instant(r, 7)?,
            })
        })
        .optional()?)
}

/// The statements behind the credential methods, shared with `oncall
/// token` (which runs them on a connection of its own, beside the daemon).
fn add_credential(conn: &Connection, c: &NewCredential, now: Instant) -> Result<Credential, StoreError> {
    let id: i64 = conn.prepare_cached(INSERT_CREDENTIAL)?.query_row(
        params![
            c.kind.as_str(),
            c.digest,
            c.person,
            c.label,
            now.timestamp(),
            c.expires.map(|t| t.timestamp())
        ],
        |r| r.get(0),
    )?;
    Ok(conn
        .prepare_cached(&format!("{SELECT_CREDENTIAL} WHERE id = ?1"))?
        .query_row([id], credential_from_row)?)
}

fn end_credential(
    conn: &Connection,
    kind: CredentialKind,
    id: i64,
    now: Instant,
) -> Result<Option<Credential>, StoreError> {
    let ended = conn
        .prepare_cached("UPDATE credentials SET ended_at = ?3 WHERE id = ?1 AND kind = ?2 AND ended_at IS NULL")?
        .execute(params![id, kind.as_str(), now.timestamp()])?;
    if ended == 0 {
        return Ok(None);
    }
    Ok(Some(
        conn.prepare_cached(&format!("{SELECT_CREDENTIAL} WHERE id = ?1"))?
            .query_row([id], credential_from_row)?,
    ))
}

fn credentials(conn: &Connection, kind: CredentialKind) -> Result<Vec<Credential>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "{SELECT_CREDENTIAL} WHERE kind = ?1 AND ended_at IS NULL ORDER BY id"
        ))?
        .query_map([kind.as_str()], credential_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Keeps a subscription; the same endpoint again replaces its row (see
/// [`Store::add_webpush`]). The same statement on PostgreSQL.
const UPSERT_WEBPUSH: &str = "INSERT INTO webpush_subscriptions (person, endpoint, p256dh, auth, created_at) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (endpoint) DO UPDATE SET person = excluded.person, \
     p256dh = excluded.p256dh, auth = excluded.auth, created_at = excluded.created_at RETURNING id";
const SELECT_WEBPUSH: &str = "SELECT id, person, endpoint, p256dh, auth, created_at FROM webpush_subscriptions";

fn webpush_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebPushSubscription> {
    let created: i64 = r.get(5)?;
    Ok(WebPushSubscription {
        id: r.get(0)?,
        person: r.get(1)?,
        endpoint: r.get(2)?,
        p256dh: r.get(3)?,
        auth: r.get(4)?,
        created_at: DateTime::from_timestamp(created, 0).ok_or(rusqlite::Error::IntegralValueOutOfRange(5, created))?,
    })
}

/// The schema version that added credentials.
const CREDENTIALS_SINCE: i64 = 11;

/// Works on the credentials of the database at `path` without its lock,
/// beside a running daemon (`oncall token`): the daemon reads credentials
/// from the database at each request, so what this writes counts at once.
/// The database must exist and have credentials (a daemon ran on it).
fn on_credentials<T>(path: &Path, work: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
    if !path.exists() {
        return Err(StoreError::open(
            path.display().to_string(),
            "no such file: start the daemon on it once first",
        ));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | NO_MUTEX)
        .map_err(|e| open_error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| open_error(path, e))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| open_error(path, e))?;
    if version < CREDENTIALS_SINCE {
        return Err(StoreError::open(
            path.display().to_string(),
            "this database is from before per-person tokens: start this version of the daemon on it once (it upgrades the database)",
        ));
    }
    work(&conn)
}

/// `oncall token create`, beside the daemon.
pub fn add_credential_beside(path: &Path, c: &NewCredential, now: Instant) -> Result<Credential, StoreError> {
    on_credentials(path, |conn| add_credential(conn, c, now))
}

/// `oncall token revoke`, beside the daemon.
pub fn end_credential_beside(
    path: &Path,
    kind: CredentialKind,
    id: i64,
    now: Instant,
) -> Result<Option<Credential>, StoreError> {
    on_credentials(path, |conn| end_credential(conn, kind, id, now))
}

/// `oncall token list`, beside the daemon.
pub fn credentials_beside(path: &Path, kind: CredentialKind) -> Result<Vec<Credential>, StoreError> {
    on_credentials(path, |conn| credentials(conn, kind))
}

fn credential_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Credential> {
    let at = |i: usize| -> rusqlite::Result<Option<Instant>> {
        let s: Option<i64> = r.get(i)?;
        s.map(|s| chrono::DateTime::from_timestamp(s, 0).ok_or(rusqlite::Error::IntegralValueOutOfRange(i, s)))
            .transpose()
    };
    let kind: String = r.get(1)?;
    Ok(Credential {
        id: r.get(0)?,
        kind: super::credential_kind(&kind).ok_or(rusqlite::Error::InvalidColumnType(1, kind, Type::Text))?,
        person: r.get(2)?,
        label: r.get(3)?,
        created_at: at(4)?.ok_or(rusqlite::Error::InvalidColumnType(4, "created_at".into(), Type::Null))?,
        expires_at: at(5)?,
        ended_at: at(6)?,
    })
}

fn override_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredOverride> {
    let at = |i: usize| -> rusqlite::Result<Instant> {
        let s: i64 = r.get(i)?;
        chrono::DateTime::from_timestamp(s, 0).ok_or(rusqlite::Error::IntegralValueOutOfRange(i, s))
    };
    Ok(StoredOverride {
        id: r.get(0)?,
        team: r.get(1)?,
        rota: r.get(2)?,
        user: r.get(3)?,
        from: at(4)?,
        to: at(5)?,
        instead_of: r.get(6)?,
        reason: r.get(7)?,
        created_by: r.get(8)?,
        created_at: at(9)?,
    })
}

fn overrides(conn: &Connection) -> Result<Vec<StoredOverride>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("{SELECT_OVERRIDE} WHERE deleted_at IS NULL ORDER BY id"))?
        .query_map([], override_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// The run-time overrides of the database at `path`, read-only and
/// without its lock (beside a running daemon), for `oncall who` and
/// `oncall shifts`. A missing file, or one from before overrides were
/// stored, has none.
pub fn read_overrides(path: &Path) -> Result<Vec<StoredOverride>, StoreError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let (conn, version) = open_read_only(path)?;
    if version < OVERRIDES_SINCE {
        return Ok(Vec::new());
    }
    overrides(&conn)
}

/// The last confirmed test of each person's method and destination, read
/// beside the daemon: empty without the file or before test pages.
pub fn read_confirmed(path: &Path) -> Result<Vec<super::proof::Confirmed>, StoreError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let (conn, version) = open_read_only(path)?;
    if version < PROOFS_SINCE {
        return Ok(Vec::new());
    }
    proofs::confirmed(&conn)
}

/// The Web Push subscriptions (person, id), read beside the daemon: none
/// without the file or before subscriptions.
pub fn read_webpush(path: &Path) -> Result<Vec<(String, i64)>, StoreError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let (conn, version) = open_read_only(path)?;
    if version < WEBPUSH_SINCE {
        return Ok(Vec::new());
    }
    Ok(conn
        .prepare("SELECT person, id FROM webpush_subscriptions ORDER BY person, id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

/// The schema version that added Web Push subscriptions.
const WEBPUSH_SINCE: i64 = 12;

/// The schema version that has test pages and proofs, and phone
/// verifications (which count as confirmed SMS).
const PROOFS_SINCE: i64 = 14;

/// The schema version that added run-time overrides.
const OVERRIDES_SINCE: i64 = 7;

/// The schema version that added the ledger.
const LEDGER_SINCE: i64 = 5;

fn open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::open_failed(path.display().to_string(), e)
}

/// Takes the exclusive lock on `<path>.lock`, creating the file if need be.
fn lock(path: &Path) -> Result<File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| {
            let message = format!("cannot open the lock file {}: {e}", lock_path.display());
            StoreError::open_because(path.display().to_string(), message, e)
        })?;
    // A lock held a moment longer than its owner: a daemon that is just
    // exiting, or (flock locks belong to the open file) a child process
    // forked by another thread that has not yet reached exec and still
    // shares the descriptor. Waiting briefly tells those apart from a
    // daemon that is running.
    let deadline = std::time::Instant::now() + LOCK_PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: path.display().to_string(),
                    lock: lock_path.display().to_string(),
                });
            }
            Err(TryLockError::Error(e)) => {
                let message = format!("cannot lock {}: {e}", lock_path.display());
                return Err(StoreError::open_because(path.display().to_string(), message, e));
            }
        }
    }
    // For people looking: which process holds it. Written only under the
    // lock; the lock, not the content, is what counts, so errors are ignored.
    let _ = file.set_len(0).and_then(|()| writeln!(file, "{}", std::process::id()));
    Ok(file)
}

/// Brings the schema up to [`SCHEMA_VERSION`] in one transaction, or refuses
/// a database from a newer `oncall`.
///
/// With the foreign keys off: a migration may rebuild a table that others
/// reference (0010), which SQLite's procedure does with them off, and a
/// transaction cannot turn them off. They are checked before the commit,
/// and turned back on as they were.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let open_error = |e: rusqlite::Error| open_error(path, e);
    let foreign_keys: bool = conn
        .pragma_query_value(None, "foreign_keys", |row| row.get(0))
        .map_err(open_error)?;
    conn.pragma_update(None, "foreign_keys", "OFF").map_err(open_error)?;
    let migrated = migrate_in_one_transaction(conn, path);
    let restored = conn.pragma_update(None, "foreign_keys", foreign_keys);
    migrated?;
    restored.map_err(open_error)
}

fn migrate_in_one_transaction(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let open_error = |e: rusqlite::Error| open_error(path, e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(open_error)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(open_error)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.display().to_string(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let Ok(applied) = usize::try_from(found) else {
        return Err(StoreError::open(
            path.display().to_string(),
            format!("unexpected schema version {found}"),
        ));
    };
    for (name, sql) in &MIGRATIONS[applied..] {
        tx.execute_batch(sql)
            .map_err(|e| StoreError::open_because(path.display().to_string(), format!("migration {name}: {e}"), e))?;
    }
    if applied < MIGRATIONS.len() {
        // What the foreign keys would have refused, had they been on.
        let broken: Option<String> = tx
            .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
            .optional()
            .map_err(open_error)?;
        if let Some(table) = broken {
            return Err(StoreError::open(
                path.display().to_string(),
                format!("the migrations left rows in {table} that refer to rows that do not exist"),
            ));
        }
        // In the same transaction: the version moves only with the schema.
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(open_error)?;
    }
    tx.commit().map_err(open_error)
}

/// A write request as the writer sees it: statements to run in the batch's
/// transaction, then an answer to send once the batch's fate is known.
trait Job: Send {
    /// Runs the request's statements; its output is kept for the answer.
    /// May be called a second time, after the first run was rolled back.
    fn run(&mut self, conn: &Connection) -> Result<(), StoreError>;

    /// Answers the caller: with the request's output if `result` is Ok (its
    /// work is committed), else with the error.
    fn answer(self: Box<Self>, result: Result<(), StoreError>);
}

/// A request's answer, and its work given back: the caller drops the work,
/// and with it what it holds (an ingest's events), on its own thread. Freed
/// on the store's threads, that memory went to their allocator caches, and
/// the request threads' allocations took the allocator's slow path (a sixth
/// of their time under the intake bench).
type Reply<T, F> = (Result<T, StoreError>, F);

struct Request<T, F> {
    work: F,
    output: Option<T>,
    reply: oneshot::Sender<Reply<T, F>>,
}

impl<T, F> Job for Request<T, F>
where
    T: Send,
    F: FnMut(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> Result<(), StoreError> {
        // A second run (the batch run again, see the module docs) replaces
        // the first one's output, which was rolled back.
        self.output = None;
        self.output = Some((self.work)(conn)?);
        Ok(())
    }

    fn answer(self: Box<Self>, result: Result<(), StoreError>) {
        let Request { work, output, reply } = *self;
        let answer = result.and_then(|()| output.ok_or_else(|| StoreError::internal("a request was answered unrun")));
        // The caller may have stopped waiting; its work stands all the same.
        let _ = reply.send((answer, work));
    }
}

/// A job for `work`, and where its answer will arrive.
fn job<T, F>(work: F) -> (Box<dyn Job>, oneshot::Receiver<Reply<T, F>>)
where
    T: Send + 'static,
    F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    (
        Box::new(Request {
            work,
            output: None,
            reply,
        }),
        answer,
    )
}

/// The writer thread: batches until the queue is closed and empty. Each
/// committed batch goes to the syncer thread, which answers it once the WAL
/// is on disk, while the writer goes on to the next batch (see the module
/// docs). The syncer stops, after the last batch, when the writer does.
fn write_loop(conn: Connection, wal: PathBuf, mut requests: mpsc::Receiver<Box<dyn Job>>) {
    let broken = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (synced, to_sync) = std::sync::mpsc::channel::<Settled>();
        let syncer = std::thread::Builder::new()
            .name("oncall-store-sync".to_owned())
            .spawn_scoped(scope, || sync_loop(&wal, to_sync, &broken));
        if let Err(e) = syncer {
            // Without a syncer nothing could be made durable: refuse all.
            tracing::error!(error = %e, "cannot start the store's sync thread");
            broken.store(true, Ordering::SeqCst);
        }
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = requests.blocking_recv() {
            batch.push(first);
            // Only what is already queued: no waiting for more (see the module docs).
            while batch.len() < MAX_BATCH {
                match requests.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            if broken.load(Ordering::SeqCst) {
                for job in batch.drain(..) {
                    job.answer(Err(StoreError::NotDurable(SYNC_FAILED)));
                }
                continue;
            }
            let settled = settle_batch(&conn, batch.drain(..));
            if let Err(std::sync::mpsc::SendError(settled)) = synced.send(settled) {
                // The syncer is gone (it could not start): nothing is durable.
                for (job, _) in settled {
                    job.answer(Err(StoreError::NotDurable(SYNC_FAILED)));
                }
            }
        }
        // Closing the channel lets the syncer answer what it has and stop.
        drop(synced);
    });
}

/// Jobs run in a batch, each with its result: `Ok` if its work was committed.
type Settled = Vec<(Box<dyn Job>, Result<(), StoreError>)>;

/// The answer to every request once an fsync of the WAL has failed.
const SYNC_FAILED: &str = "the store cannot make writes durable (an fsync of its WAL failed); \
     restart the daemon after checking the disk";

/// The syncer thread: fsyncs the WAL once for every batch committed since
/// the last fsync, then answers their jobs. An fsync that fails may have
/// lost committed pages without a way to know which (the kernel drops them
/// from its cache), so the store refuses every write after one: the jobs
/// waiting are told their work may be lost, and later ones fail at once.
fn sync_loop(wal: &Path, to_sync: std::sync::mpsc::Receiver<Settled>, broken: &AtomicBool) {
    let mut file: Option<File> = None;
    while let Ok(mut settled) = to_sync.recv() {
        while let Ok(more) = to_sync.try_recv() {
            settled.extend(more);
        }
        let needs_sync = settled.iter().any(|(_, result)| result.is_ok());
        let synced = if broken.load(Ordering::SeqCst) {
            Err(SYNC_FAILED.to_owned())
        } else if needs_sync {
            sync_wal(&mut file, wal)
        } else {
            Ok(())
        };
        if let Err(e) = &synced
            && !broken.swap(true, Ordering::SeqCst)
        {
            tracing::error!(error = %e, wal = %wal.display(), "{SYNC_FAILED}");
        }
        for (job, result) in settled {
            match (&synced, result) {
                (Ok(()), result) => job.answer(result),
                (Err(_), Ok(())) => job.answer(Err(StoreError::NotDurable(SYNC_FAILED))),
                (Err(_), Err(e)) => job.answer(Err(e)),
            }
        }
    }
}

/// `fdatasync` of the WAL file: on Linux it writes every dirty page of the
/// file, whichever descriptor wrote it, so SQLite's writes through its own
/// descriptor are on disk when it returns. The file is opened on first use
/// (SQLite creates it with the first write) and kept open.
fn sync_wal(file: &mut Option<File>, wal: &Path) -> Result<(), String> {
    if file.is_none() {
        *file = Some(File::open(wal).map_err(|e| format!("cannot open {}: {e}", wal.display()))?);
    }
    let Some(f) = file.as_ref() else {
        return Err("no WAL file".to_owned());
    };
    f.sync_data()
        .map_err(|e| format!("fsync of {} failed: {e}", wal.display()))
}

/// Runs `jobs` in one transaction, commits, and answers them all, without
/// the syncer: the connection's own `synchronous` setting decides whether
/// the commit is on disk. For tests of the batching.
#[cfg(test)]
fn run_batch(conn: &Connection, jobs: impl IntoIterator<Item = Box<dyn Job>>) {
    for (job, result) in settle_batch(conn, jobs) {
        job.answer(result);
    }
}

/// Runs `jobs` in one transaction and commits: first all together; if one
/// of them fails, again, each in its own savepoint, so that it fails alone
/// (see the module docs). Returns each job with its result, `Ok` if its
/// work is committed (not yet synced).
fn settle_batch(conn: &Connection, jobs: impl IntoIterator<Item = Box<dyn Job>>) -> Settled {
    let mut jobs: Vec<Box<dyn Job>> = jobs.into_iter().collect();
    let failed = |jobs: Vec<Box<dyn Job>>, step: BatchStep, cause: rusqlite::Error| -> Settled {
        let cause = StoreError::from(cause);
        jobs.into_iter()
            .map(|job| (job, Err(StoreError::batch(step, cause.clone()))))
            .collect()
    };
    match run_together(conn, &mut jobs) {
        Together::Committed => jobs.into_iter().map(|job| (job, Ok(()))).collect(),
        Together::CommitFailed(e) => failed(jobs, BatchStep::Commit, e),
        Together::CannotBegin(e) => failed(jobs, BatchStep::Begin, e),
        Together::JobFailed => run_apart(conn, jobs),
    }
}

/// How a batch run without savepoints ended.
enum Together {
    Committed,
    CommitFailed(rusqlite::Error),
    CannotBegin(rusqlite::Error),
    /// A job failed; the transaction is rolled back.
    JobFailed,
}

/// Runs `jobs` in one transaction with no savepoint each, and commits if
/// every one of them succeeded.
fn run_together(conn: &Connection, jobs: &mut [Box<dyn Job>]) -> Together {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        return Together::CannotBegin(e);
    }
    for job in jobs.iter_mut() {
        if job.run(conn).is_err() || conn.is_autocommit() {
            if !conn.is_autocommit() {
                let _ = exec(conn, "ROLLBACK");
            }
            return Together::JobFailed;
        }
    }
    match exec(conn, "COMMIT") {
        Ok(()) => Together::Committed,
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = exec(conn, "ROLLBACK");
            }
            Together::CommitFailed(e)
        }
    }
}

/// Runs `jobs` in one transaction, each in its own savepoint, and commits.
fn run_apart(conn: &Connection, jobs: Vec<Box<dyn Job>>) -> Settled {
    let mut settled: Settled = Vec::with_capacity(jobs.len());
    // The jobs run in the current transaction, each with its own result,
    // waiting for the commit.
    let mut done: Settled = Vec::new();
    let mut jobs = jobs.into_iter();
    while let Some(mut job) = jobs.next() {
        // No transaction (the batch's start, or the last one was lost): begin
        // one. If that fails (another process holds the write lock past the
        // busy timeout, say), fail the rest of the batch now rather than have
        // each of them wait out the timeout in turn.
        if conn.is_autocommit()
            && let Err(e) = exec(conn, "BEGIN IMMEDIATE")
        {
            let cause = StoreError::from(e);
            for job in std::iter::once(job).chain(jobs.by_ref()) {
                settled.push((job, Err(StoreError::batch(BatchStep::Begin, cause.clone()))));
            }
            break;
        }
        match run_job(conn, job.as_mut()) {
            Ok(result) if !conn.is_autocommit() => done.push((job, result)),
            broken => {
                // The transaction is gone (SQLite rolls back the whole
                // transaction on some errors, such as a full disk or an I/O
                // error) or can no longer be trusted: the work of the jobs
                // before this one went with it. Fail them; the rest of the
                // batch starts a new transaction.
                let cause = match broken {
                    Ok(Err(e)) | Err(e) => e,
                    Ok(Ok(())) => StoreError::internal("the transaction ended"),
                };
                if !conn.is_autocommit() {
                    let _ = exec(conn, "ROLLBACK");
                }
                for (job, _) in done.drain(..) {
                    settled.push((job, Err(StoreError::batch(BatchStep::RolledBack, cause.clone()))));
                }
                settled.push((job, Err(cause)));
            }
        }
    }
    if done.is_empty() {
        if !conn.is_autocommit() {
            let _ = exec(conn, "ROLLBACK");
        }
        return settled;
    }
    match exec(conn, "COMMIT") {
        Ok(()) => settled.extend(done),
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = exec(conn, "ROLLBACK");
            }
            let cause = StoreError::from(e);
            for (job, _) in done {
                settled.push((job, Err(StoreError::batch(BatchStep::Commit, cause.clone()))));
            }
        }
    }
    settled
}

/// Runs one job in a savepoint of the open transaction. The inner result is
/// the job's own (its statements rolled back if Err); an outer Err means the
/// savepoint could not be released or rolled back, so the transaction holds
/// work in an unknown state and must be abandoned.
fn run_job(conn: &Connection, job: &mut dyn Job) -> Result<Result<(), StoreError>, StoreError> {
    exec(conn, "SAVEPOINT job")?;
    match job.run(conn) {
        Ok(()) => match exec(conn, "RELEASE job") {
            Ok(()) => Ok(Ok(())),
            Err(e) => Err(e.into()),
        },
        Err(e) => {
            if !conn.is_autocommit() {
                exec(conn, "ROLLBACK TO job")?;
                exec(conn, "RELEASE job")?;
            }
            Ok(Err(e))
        }
    }
}

/// Runs one statement without results, prepared once per connection.
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Applies one event (see [`Store::ingest`]).
fn ingest_event(conn: &Connection, event: &Event, details: &str, now: Instant) -> Result<Outcome, StoreError> {
    if event.action == Action::Trigger {
        // No `created` entry: the alert's row says all it would (see
        // `with_created_entry`).
        let inserted = conn.prepare_cached(INSERT_NEW_ALERT)?.execute(params![
            event.team,
            event.dedup_key,
            event.summary,
            event.severity,
            event.source,
            details,
            event.intake,
            now.timestamp(),
            event.held.as_ref().map(|h| h.until.timestamp()),
            event.held.as_ref().map(|h| h.reason.as_str()),
        ])?;
        if inserted == 1 {
            return Ok(Outcome::Created(conn.last_insert_rowid()));
        }
    }
    let unresolved: Option<AlertId> = conn
        .prepare_cached(FIND_UNRESOLVED)?
        .query_row(params![event.team, event.dedup_key], |row| row.get(0))
        .optional()?;
    let detail = || json!({ "intake": event.intake });
    let at = now.timestamp();
    let outcome = match (event.action, unresolved) {
        (Action::Trigger, Some(id)) => {
            conn.prepare_cached(ADD_OCCURRENCE)?.execute(params![id, at])?;
            add_timeline(conn, id, now, TimelineKind::Occurrence, &detail_text(&detail()))?;
            Outcome::Deduplicated(id)
        }
        (Action::Acknowledge, Some(id)) => {
            // Changes nothing if the alert is already acknowledged.
            let Some(lead) = conn
                .prepare_cached(ACKNOWLEDGE)?
                .query_row(params![id, at, None::<String>], |r| r.get::<_, Option<String>>(0))
                .optional()?
            else {
                return Ok(Outcome::Unchanged);
            };
            let mut detail = detail();
            detail["lead"] = json!(lead);
            add_timeline(conn, id, now, TimelineKind::Acknowledged, &detail_text(&detail))?;
            watch_acknowledged(conn, id, now)?;
            Outcome::Acknowledged(id)
        }
        (Action::Resolve, Some(id)) => {
            let lead: Option<String> = conn
                .prepare_cached(RESOLVE)?
                .query_row(params![id, at, None::<String>], |r| r.get(0))
                .optional()?
                .flatten();
            let mut detail = detail();
            detail["lead"] = json!(lead);
            add_timeline(conn, id, now, TimelineKind::Resolved, &detail_text(&detail))?;
            wake_escalation(conn, id, now)?;
            Outcome::Resolved(id)
        }
        (Action::Acknowledge | Action::Resolve, None) => Outcome::Unchanged,
        (Action::Trigger, None) => {
            return Err(StoreError::internal(format!(
                "alert key {:?} of team {} is taken, yet no unresolved alert has it",
                event.dedup_key, event.team
            )));
        }
    };
    Ok(outcome)
}

/// Acknowledges an open alert or resolves an unresolved one (see
/// [`Store::acknowledge`], [`Store::resolve`]): its timeline entry, then its
/// escalation looked at by the next pass. The alert as it is after.
fn act_in(
    conn: &Connection,
    id: AlertId,
    action: LinkAction,
    by: Option<String>,
    now: Instant,
) -> Result<Option<Alert>, StoreError> {
    let (sql, kind) = match action {
        LinkAction::Acknowledge => (ACKNOWLEDGE, TimelineKind::Acknowledged),
        LinkAction::Resolve => (RESOLVE, TimelineKind::Resolved),
    };
    let lead: Option<Option<String>> = conn
        .prepare_cached(sql)?
        .query_row(params![id, now.timestamp(), by], |r| r.get(0))
        .optional()?;
    if let Some(lead) = lead {
        add_timeline(conn, id, now, kind, &detail_text(&json!({ "by": by, "lead": lead })))?;
        match action {
            LinkAction::Acknowledge => watch_acknowledged(conn, id, now)?,
            LinkAction::Resolve => wake_escalation(conn, id, now)?,
        }
    }
    Ok(select_alert(conn, id)?)
}

/// After an acknowledgement: the alert's escalation is looked at by the
/// next pass, which stops it or waits out the policy's `ack_timeout`. An
/// alert whose chain was over (its last step fired) has no escalation row
/// left; it gets one, in the acknowledged phase, or else an `ack_timeout`
/// would never reopen it. (The pass drops the row if there is no timeout.)
fn watch_acknowledged(conn: &Connection, id: AlertId, now: Instant) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO escalations (alert_id, phase, step, round, due_at) VALUES (?1, 'acknowledged', 0, 0, ?2) \
         ON CONFLICT (alert_id) DO UPDATE SET due_at = min(due_at, excluded.due_at)",
    )?
    .execute(params![id, now.timestamp()])?;
    Ok(())
}

/// A resolved alert's escalation is due at once: the next engine pass
/// stops it.
fn wake_escalation(conn: &Connection, id: AlertId, now: Instant) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE escalations SET due_at = ?2 WHERE alert_id = ?1 AND due_at > ?2")?
        .execute(params![id, now.timestamp()])?;
    Ok(())
}

/// Adds a timeline entry; `detail` is JSON text (see `detail_text`).
fn add_timeline(
    conn: &Connection,
    id: AlertId,
    now: Instant,
    kind: TimelineKind,
    detail: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(ADD_TIMELINE)?
        .execute(params![id, now.timestamp(), kind_name(kind), detail])?;
    Ok(())
}

fn select_alert(conn: &Connection, id: AlertId) -> rusqlite::Result<Option<Alert>> {
    conn.prepare_cached(SELECT_ALERT)?
        .query_row([id], alert_from_row)
        .optional()
}

fn list_alerts(conn: &Connection, status: Option<Status>, limit: usize) -> Result<Vec<Alert>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let alerts = match status {
        Some(Status::Resolved) => conn
            .prepare_cached(LIST_RESOLVED)?
            .query_map([limit], alert_from_row)?
            .collect::<rusqlite::Result<_>>()?,
        Some(status) => conn
            .prepare_cached(LIST_UNRESOLVED_WITH_STATUS)?
            .query_map(params![status.as_str(), limit], alert_from_row)?
            .collect::<rusqlite::Result<_>>()?,
        None => conn
            .prepare_cached(LIST_ALERTS)?
            .query_map([limit], alert_from_row)?
            .collect::<rusqlite::Result<_>>()?,
    };
    Ok(alerts)
}

fn alert_with_timeline(conn: &mut Connection, id: AlertId) -> Result<Option<(Alert, Vec<TimelineEntry>)>, StoreError> {
    // One read transaction, so the alert and its timeline are of one commit.
    let tx = conn.transaction()?;
    let Some(alert) = select_alert(&tx, id)? else {
        return Ok(None);
    };
    let timeline = tx
        .prepare_cached(SELECT_TIMELINE)?
        .query_map([id], |row| {
            Ok(TimelineEntry {
                at: instant(row, 0)?,
                kind: kind_column(row, 1)?,
                detail: json_column(row, 2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    tx.commit()?;
    let timeline = super::with_created_entry(&alert, timeline);
    Ok(Some((alert, timeline)))
}

fn alert_from_row(row: &Row<'_>) -> rusqlite::Result<Alert> {
    let status: String = row.get(8)?;
    let occurrences: i64 = row.get(11)?;
    Ok(Alert {
        id: row.get(0)?,
        team: row.get(1)?,
        dedup_key: row.get(2)?,
        summary: row.get(3)?,
        severity: row.get(4)?,
        source: row.get(5)?,
        details: json_column(row, 6)?,
        intake: row.get(7)?,
        status: Status::parse(&status).ok_or_else(|| bad_column(8, format!("unknown status {status:?}")))?,
        created_at: instant(row, 9)?,
        last_seen_at: instant(row, 10)?,
        occurrences: u64::try_from(occurrences).map_err(|e| bad_column(11, e.to_string()))?,
        acknowledged_at: optional_instant(row, 12)?,
        acknowledged_by: row.get(13)?,
        resolved_at: optional_instant(row, 14)?,
        resolved_by: row.get(15)?,
        held: match optional_instant(row, 16)? {
            Some(until) => Some(Hold {
                until,
                reason: row.get::<_, Option<String>>(17)?.unwrap_or_default(),
            }),
            None => None,
        },
        lead: row.get(18)?,
    })
}

fn heartbeat_from_row(row: &Row<'_>) -> rusqlite::Result<Seen> {
    Ok(Seen {
        team: row.get(0)?,
        name: row.get(1)?,
        first_seen: instant(row, 2)?,
        last_ping: optional_instant(row, 3)?,
        alerted: optional_instant(row, 4)?,
    })
}

fn instant(row: &Row<'_>, column: usize) -> rusqlite::Result<Instant> {
    let seconds: i64 = row.get(column)?;
    DateTime::from_timestamp(seconds, 0).ok_or_else(|| bad_column(column, format!("time out of range: {seconds}")))
}

fn optional_instant(row: &Row<'_>, column: usize) -> rusqlite::Result<Option<Instant>> {
    match row.get::<_, Option<i64>>(column)? {
        None => Ok(None),
        Some(_) => instant(row, column).map(Some),
    }
}

fn json_column(row: &Row<'_>, column: usize) -> rusqlite::Result<serde_json::Value> {
    let text: String = row.get(column)?;
    serde_json::from_str(&text).map_err(|e| bad_column(column, format!("bad JSON: {e}")))
}

fn kind_column(row: &Row<'_>, column: usize) -> rusqlite::Result<TimelineKind> {
    let name: String = row.get(column)?;
    TimelineKind::parse(&name).ok_or_else(|| bad_column(column, format!("unknown timeline kind {name:?}")))
}

fn kind_name(kind: TimelineKind) -> &'static str {
    kind.as_str()
}

fn bad_column(column: usize, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, Type::Text, message.into())
}

/// The read connections: taken from the pool for one read, put back after.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    closed: AtomicBool,
}

impl Readers {
    fn connect(&self) -> Result<Connection, StoreError> {
        let open_error = |e: rusqlite::Error| open_error(&self.path, e);
        // No CREATE: the writer made the file; a reader must not make another.
        let conn = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE | NO_MUTEX)
            .map_err(open_error)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        // Read-write only so that it can share WAL's index; it must not write.
        conn.pragma_update(None, "query_only", "ON").map_err(open_error)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_error)?;
        Ok(conn)
    }

    fn run<T>(&self, work: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let result = work(&mut conn);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_READERS && !self.closed.load(Ordering::Acquire) {
            idle.push(conn);
        }
        result
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        conn
    }

    fn insert(conn: &Connection, key: &str) -> rusqlite::Result<AlertId> {
        conn.execute(
            INSERT_ALERT,
            params![
                "t",
                key,
                "s",
                "minor",
                None::<String>,
                "{}",
                "plain",
                0,
                None::<i64>,
                None::<String>
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    fn keys(conn: &Connection) -> Vec<String> {
        let mut stmt = conn.prepare("SELECT dedup_key FROM alerts ORDER BY id").unwrap();
        stmt.query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (n, (name, sql)) in MIGRATIONS.iter().enumerate() {
            assert!(
                name.starts_with(&format!("{:04}_", n + 1)) && name.ends_with(".sql"),
                "{name} at {n}"
            );
            assert!(!sql.trim().is_empty(), "{name} is empty");
        }
    }

    #[test]
    fn a_database_of_the_first_release_migrates_keeping_its_alerts() {
        // As the first release left it: migration 1 only, one alert.
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0].1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO alerts (team, dedup_key, summary, severity, details, intake, status, created_at, \
             last_seen_at, occurrences) VALUES ('t', 'k', 's', 'minor', '{}', 'plain', 'open', 0, 0, 1)",
            [],
        )
        .unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        let alert = select_alert(&conn, 1).unwrap().unwrap();
        assert_eq!((alert.dedup_key.as_str(), alert.held), ("k", None));
        let heartbeats: i64 = conn
            .query_row("SELECT count(*) FROM heartbeats", [], |row| row.get(0))
            .unwrap();
        assert_eq!(heartbeats, 0);
    }

    #[test]
    fn the_cheaper_checks_keep_the_rows_and_the_constraints() {
        // As version 7 left it: an alert, its timeline, a notification.
        let mut conn = Connection::open_in_memory().unwrap();
        for (_, sql) in &MIGRATIONS[..7] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 7).unwrap();
        insert(&conn, "k").unwrap();
        conn.execute_batch(
            "INSERT INTO alert_events (alert_id, at, kind, detail) VALUES (1, 0, 'notify_failed', '{}');
             INSERT INTO notifications (alert_id, kind, person, method, destination, step, round, due_at, state)
             VALUES (1, 'page', 'alice', 'email', 'a@example.com', 0, 0, 0, 'sending');",
        )
        .unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        let kept: (String, String, i64) = conn
            .query_row(
                "SELECT e.kind, n.state, (SELECT count(*) FROM notifications WHERE due_at <= 0 \
                 AND state IN ('pending', 'sending')) FROM alert_events e, notifications n",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(kept, ("notify_failed".to_owned(), "sending".to_owned(), 1));
        for bad in [
            "INSERT INTO alert_events (alert_id, at, kind, detail) VALUES (1, 0, 'paged', '{}')",
            "UPDATE notifications SET state = 'lost'",
            "UPDATE notifications SET kind = 'other'",
        ] {
            let error = conn.execute(bad, []).unwrap_err().to_string();
            assert!(error.contains("CHECK constraint failed"), "{bad}: {error}");
        }
        for good in [
            "'created'",
            "'occurrence'",
            "'acknowledged'",
            "'resolved'",
            "'escalated'",
            "'notified'",
            "'reopened'",
            "'lead'",
        ] {
            conn.execute(
                &format!("INSERT INTO alert_events (alert_id, at, kind, detail) VALUES (1, 0, {good}, '{{}}')"),
                [],
            )
            .unwrap();
        }
        for good in ["'pending'", "'sent'", "'failed'", "'cancelled'"] {
            conn.execute(&format!("UPDATE notifications SET state = {good}"), [])
                .unwrap();
        }
        for good in ["'handoff'", "'announce'", "'page'"] {
            conn.execute(&format!("UPDATE notifications SET kind = {good}"), [])
                .unwrap();
        }
    }

    /// A database as version 9 left it, foreign keys on (as `open` has
    /// them): alerts 1 and 2 (2 held and led), with a timeline, a
    /// notification and an escalation of 1; alert 3 deleted, so the id
    /// counter is ahead of the largest id.
    fn version_9() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        for (_, sql) in &MIGRATIONS[..9] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 9).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        for key in ["a", "b", "c"] {
            insert(&conn, key).unwrap();
        }
        conn.execute_batch(
            "UPDATE alerts SET status = 'acknowledged', lead = 'alice', held_until = 5, held_reason = 'r' WHERE id = 2;
             DELETE FROM alerts WHERE id = 3;
             INSERT INTO alert_events (alert_id, at, kind, detail) VALUES (1, 0, 'escalated', '{}');
             INSERT INTO notifications (alert_id, kind, person, method, destination, step, round, due_at, state)
             VALUES (1, 'page', 'alice', 'email', 'a@example.com', 0, 0, 0, 'pending');
             INSERT INTO escalations (alert_id, phase, step, round, due_at) VALUES (1, 'paging', 1, 0, 60);",
        )
        .unwrap();
        conn
    }

    fn all_alerts(conn: &Connection) -> Vec<Alert> {
        conn.prepare(concat!("SELECT ", alert_columns!(), " FROM alerts ORDER BY id"))
            .unwrap()
            .query_map([], alert_from_row)
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn the_alerts_rebuilt_with_a_cheaper_check_keep_their_rows_ids_and_constraints() {
        let mut conn = version_9();
        let before = all_alerts(&conn);
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        assert_eq!(all_alerts(&conn), before);
        let sql: String = conn
            .query_row("SELECT sql FROM sqlite_schema WHERE name = 'alerts'", [], |r| r.get(0))
            .unwrap();
        assert!(sql.contains("status = 'open' OR status = 'acknowledged'"), "{sql}");
        // The timeline, the notification and the escalation still refer to
        // their alert, and the foreign keys are on again.
        let refs: i64 = conn
            .query_row(
                "SELECT (SELECT count(*) FROM alert_events WHERE alert_id = 1) \
                 + (SELECT count(*) FROM notifications WHERE alert_id = 1) \
                 + (SELECT count(*) FROM escalations WHERE alert_id = 1)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(refs, 3);
        let on: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
        assert!(on);
        let orphan = conn
            .execute(
                "INSERT INTO alert_events (alert_id, at, kind, detail) VALUES (99, 0, 'escalated', '{}')",
                [],
            )
            .unwrap_err()
            .to_string();
        assert!(orphan.contains("FOREIGN KEY"), "{orphan}");
        // The deleted alert's id is not given again.
        assert_eq!(insert(&conn, "d").unwrap(), 4);
        // The same statuses, and only those.
        let error = conn
            .execute("UPDATE alerts SET status = 'lost' WHERE id = 1", [])
            .unwrap_err()
            .to_string();
        assert!(error.contains("CHECK constraint failed"), "{error}");
        for good in ["open", "acknowledged", "resolved"] {
            conn.execute("UPDATE alerts SET status = ?1 WHERE id = 1", [good])
                .unwrap();
        }
        // And the unique key of unresolved alerts holds: 4 is open.
        assert!(insert(&conn, "d").is_err());
    }

    #[test]
    fn a_migration_that_would_leave_dangling_references_is_refused() {
        let mut conn = version_9();
        conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
        conn.execute(
            "INSERT INTO alert_events (alert_id, at, kind, detail) VALUES (3, 0, 'escalated', '{}')",
            [],
        )
        .unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        let error = migrate(&mut conn, Path::new(":memory:")).unwrap_err().to_string();
        assert!(error.contains("alert_events"), "{error}");
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
        assert_eq!(version, 9, "rolled back");
        let on: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
        assert!(on);
    }

    #[test]
    fn migrating_sets_the_version_and_is_idempotent() {
        let mut conn = migrated();
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        migrate(&mut conn, Path::new(":memory:")).unwrap();
    }

    #[test]
    fn a_failing_request_is_rolled_back_alone() {
        let conn = migrated();
        let (a, a_answer) = job(|conn| Ok(insert(conn, "a")?));
        let (b, mut b_answer) = job(|conn| -> Result<AlertId, StoreError> {
            insert(conn, "b")?;
            Err(StoreError::internal("b fails after writing"))
        });
        // Inserting a second unresolved "a" breaks the unique index.
        let (c, c_answer) = job(|conn| Ok(insert(conn, "a")?));
        let (d, d_answer) = job(|conn| Ok(insert(conn, "d")?));
        run_batch(&conn, [a, b, c, d]);
        assert!(conn.is_autocommit(), "the batch's transaction is over");
        assert_eq!(a_answer.blocking_recv().unwrap().0.unwrap(), 1);
        assert!(b_answer.try_recv().unwrap().0.is_err());
        assert!(
            c_answer
                .blocking_recv()
                .unwrap()
                .0
                .unwrap_err()
                .to_string()
                .contains("UNIQUE")
        );
        assert!(d_answer.blocking_recv().unwrap().0.is_ok());
        assert_eq!(keys(&conn), ["a", "d"]);
    }

    #[test]
    fn a_batch_runs_once_without_savepoints_and_again_with_them_only_when_a_request_fails() {
        use std::sync::atomic::AtomicUsize;
        let conn = migrated();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = |key: &'static str| {
            let runs = Arc::clone(&runs);
            job(move |conn| {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(insert(conn, key)?)
            })
        };
        let (a, a_answer) = counted("a");
        let (b, b_answer) = counted("b");
        run_batch(&conn, [a, b]);
        assert_eq!(runs.load(Ordering::SeqCst), 2, "each request ran once");
        assert_eq!(a_answer.blocking_recv().unwrap().0.unwrap(), 1);
        assert_eq!(b_answer.blocking_recv().unwrap().0.unwrap(), 2);

        runs.store(0, Ordering::SeqCst);
        let (c, c_answer) = counted("c");
        let (bad, bad_answer) = job(|_| -> Result<(), StoreError> { Err(StoreError::internal("bad")) });
        let (d, d_answer) = counted("d");
        run_batch(&conn, [c, bad, d]);
        // c ran, then the batch stopped at the failure and ran again (c and d).
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        // c's answer is its second run's: its first insert was rolled back,
        // so the id is the same, and it is there once.
        assert_eq!(c_answer.blocking_recv().unwrap().0.unwrap(), 3);
        assert!(bad_answer.blocking_recv().unwrap().0.is_err());
        assert_eq!(d_answer.blocking_recv().unwrap().0.unwrap(), 4);
        assert_eq!(keys(&conn), ["a", "b", "c", "d"]);
        assert!(conn.is_autocommit());
    }

    #[test]
    fn a_request_that_loses_the_transaction_fails_the_work_before_it() {
        let conn = migrated();
        let (a, a_answer) = job(|conn| Ok(insert(conn, "a")?));
        // As SQLite does on a full disk: the whole transaction rolled back.
        let (b, b_answer) = job(|conn| -> Result<(), StoreError> {
            conn.execute_batch("ROLLBACK")?;
            Err(StoreError::internal("disk full"))
        });
        let (c, c_answer) = job(|conn| Ok(insert(conn, "c")?));
        run_batch(&conn, [a, b, c]);
        let a_error = a_answer.blocking_recv().unwrap().0.unwrap_err();
        assert!(a_error.to_string().contains("disk full"), "{a_error}");
        // a's work went with b's failure, which it carries.
        match &a_error {
            StoreError::Batch {
                step: BatchStep::RolledBack,
                cause,
            } => assert!(matches!(&**cause, StoreError::Internal { message, .. } if message == "disk full")),
            other => panic!("{other:?}"),
        }
        assert!(b_answer.blocking_recv().unwrap().0.is_err());
        assert!(c_answer.blocking_recv().unwrap().0.is_ok());
        assert_eq!(keys(&conn), ["c"]);
        assert!(conn.is_autocommit());
    }

    #[test]
    fn a_batch_that_cannot_begin_fails_at_once() {
        let dir = std::env::temp_dir().join(format!("oncall-store-begin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("oncall.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path).unwrap();
        // Another process holds the write lock; no waiting for it here.
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        conn.busy_timeout(Duration::ZERO).unwrap();
        let inserting = |key: &'static str| job(move |conn| Ok(insert(conn, key)?));
        let (a, a_answer) = inserting("a");
        let (b, b_answer) = inserting("b");
        run_batch(&conn, [a, b]);
        for answer in [a_answer, b_answer] {
            let error = answer.blocking_recv().unwrap().0.unwrap_err();
            assert!(error.to_string().contains("cannot begin a transaction"), "{error}");
            // SQLite's own error, as it came: the database is busy.
            match &error {
                StoreError::Batch {
                    step: BatchStep::Begin,
                    cause,
                } => match &**cause {
                    StoreError::Sqlite(e) => assert_eq!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy)),
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            }
        }
        other.execute_batch("ROLLBACK").unwrap();
        assert!(keys(&conn).is_empty());
        drop((conn, other));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The writer and its syncer on a real file: `wal` is where the syncer
    /// looks for the WAL. Returns the answers to two inserts sent one after
    /// the other, and the keys committed.
    fn through_the_syncer(
        name: &str,
        wal: impl FnOnce(&Path) -> PathBuf,
    ) -> (Vec<Result<AlertId, StoreError>>, Vec<String>) {
        let dir = std::env::temp_dir().join(format!("oncall-store-sync-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("oncall.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        migrate(&mut conn, &path).unwrap();
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        let wal = wal(&path);
        let (queue, requests) = mpsc::channel(QUEUE);
        let writer = std::thread::spawn(move || write_loop(conn, wal, requests));
        let mut answers = Vec::new();
        for key in ["a", "b"] {
            let (job, answer) = job(move |conn| Ok(insert(conn, key)?));
            queue.blocking_send(job).unwrap();
            answers.push(answer.blocking_recv().unwrap().0);
        }
        drop(queue);
        writer.join().unwrap();
        let keys = keys(&Connection::open(&path).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
        (answers, keys)
    }

    #[test]
    fn a_request_is_answered_after_the_syncer_synced_the_wal() {
        let (answers, keys) = through_the_syncer("ok", |path| {
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            PathBuf::from(wal)
        });
        assert_eq!(answers.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(keys, ["a", "b"]);
    }

    #[test]
    fn after_a_failed_sync_every_write_is_refused() {
        // A WAL the syncer cannot open stands for an fsync that fails.
        let (answers, _) = through_the_syncer("fails", |path| path.with_file_name("missing").join("oncall.db-wal"));
        for answer in answers {
            let error = answer.unwrap_err();
            assert!(matches!(error, StoreError::NotDurable(_)), "{error:?}");
            assert!(error.to_string().contains("cannot make writes durable"), "{error}");
        }
    }

    #[test]
    fn the_partial_index_serves_the_lookup_of_every_event() {
        let conn = migrated();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {FIND_UNRESOLVED}"))
            .unwrap()
            .query_map(params!["t", "k"], |row| row.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter().any(|step| step.contains("alerts_unresolved_key")),
            "{plan:?}"
        );
    }
}
