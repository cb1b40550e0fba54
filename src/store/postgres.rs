//! The PostgreSQL backend of [`Store`]: several daemons on one database.
//!
//! What this module owns: the connections to the server, the schema (the
//! `.sql` files of `migrations/postgres/`, embedded in the binary), the
//! thread that drives the write connection, and a few reader threads.
//!
//! The model follows the SQLite backend's (`sqlite.rs`), with what a server
//! shared by several daemons changes:
//! - **One writer thread per daemon, group commit.** The writer takes the
//!   first request, then whatever else is already queued, runs them in one
//!   transaction, commits, and only then answers them. Each request runs in
//!   a savepoint, so one that fails is rolled back alone. The writer's
//!   session sets `synchronous_commit = on`: COMMIT returns once the commit
//!   is flushed to the server's disk, whatever the server's default.
//! - **Blocking clients on their own threads.** The `postgres` crate (the
//!   blocking face of `tokio-postgres` 0.7) lets the engine's passes run
//!   inside a transaction exactly as with SQLite (`engine::pass` is
//!   synchronous, over [`PassTx`](crate::engine::tx::PassTx)).
//!   Its clients each drive their own small runtime, so they live on threads
//!   of their own (the writer, `READERS` readers) and are created and
//!   dropped there, never on a Tokio worker.
//! - **Ids in commit order for the engine's cursors.** Several daemons write
//!   at once, so an id handed out first may commit last; a pass that read
//!   "every alert after the cursor" could step over one still committing.
//!   Every write transaction holds a shared advisory lock (`WRITE_LOCK`)
//!   from its start; a pass takes it exclusively, in a transaction of its
//!   own, so it waits for the transactions in flight and sees every id below
//!   the newest it reads.
//! - **No daemon-wide lock.** Unlike SQLite's lock file, any number of
//!   daemons may open the database; which of them runs the engine is the
//!   leader's lease (`src/store/postgres/lease.rs`).
//! - **Reconnection.** A connection found closed (the server restarted) is
//!   opened again before the next batch or read; the batch in flight fails.
//! - **Migrations at start-up** in one transaction under an advisory lock,
//!   counted in `oncall_schema`; a database from a newer `oncall` is refused.
//!
//! Durability: an `Ok` answer is sent only after its batch's COMMIT returned.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::DateTime;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::error::BatchStep;
use super::error::DatabaseError;
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

mod engine;
pub mod lease;
mod proofs;

/// The schema, in order: migration `n` (from 1) takes the version from
/// `n - 1` to `n`. Append only; never edit one that has been released.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_schema.sql",
        include_str!("../../migrations/postgres/0001_schema.sql"),
    ),
    (
        "0002_leader.sql",
        include_str!("../../migrations/postgres/0002_leader.sql"),
    ),
    (
        "0003_spent_links.sql",
        include_str!("../../migrations/postgres/0003_spent_links.sql"),
    ),
    (
        "0004_credentials.sql",
        include_str!("../../migrations/postgres/0004_credentials.sql"),
    ),
    (
        "0005_webpush.sql",
        include_str!("../../migrations/postgres/0005_webpush.sql"),
    ),
    (
        "0006_proofs.sql",
        include_str!("../../migrations/postgres/0006_proofs.sql"),
    ),
    (
        "0007_phone_verification.sql",
        include_str!("../../migrations/postgres/0007_phone_verification.sql"),
    ),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Advisory lock keys (one namespace per database): migrations, and the
/// write lock described in the module docs.
const MIGRATE_LOCK: i64 = 0x6f6e_6361_6c6c_0001;
const WRITE_LOCK: i64 = 0x6f6e_6361_6c6c_0002;

/// Requests waiting for the writer (back-pressure when full).
const QUEUE: usize = 1024;

/// The most requests in one transaction.
const MAX_BATCH: usize = 512;

/// Reader threads, each with its own connection.
const READERS: usize = 3;

/// How long connecting may take before it is an error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The alert columns, in the order `alert_from_row` reads them.
macro_rules! alert_columns {
    () => {
        "id, team, dedup_key, summary, severity, source, details, intake, status, created_at, last_seen_at, \
         occurrences, acknowledged_at, acknowledged_by, resolved_at, resolved_by, held_until, held_reason, lead"
    };
}

/// The same columns for the engine's pass, with `'null'` for the details:
/// the pass never reads them, and they are most of a row.
macro_rules! pass_alert_columns {
    () => {
        "id, team, dedup_key, summary, severity, source, 'null'::text, intake, status, created_at, last_seen_at, \
         occurrences, acknowledged_at, acknowledged_by, resolved_at, resolved_by, held_until, held_reason, lead"
    };
}
use pass_alert_columns;

const SELECT_ALERT: &str = concat!("SELECT ", alert_columns!(), " FROM alerts WHERE id = $1");
const LIST_ALERTS: &str = concat!("SELECT ", alert_columns!(), " FROM alerts ORDER BY id DESC LIMIT $1");
const LIST_ALERTS_WITH_STATUS: &str = concat!(
    "SELECT ",
    alert_columns!(),
    " FROM alerts WHERE status = $1 ORDER BY id DESC LIMIT $2"
);
const SELECT_TIMELINE: &str = "SELECT at, kind, detail FROM alert_events WHERE alert_id = $1 ORDER BY id";
const FIND_UNRESOLVED: &str = "SELECT id FROM alerts WHERE team = $1 AND dedup_key = $2 AND status != 'resolved'";
// A new alert, if the team has no unresolved alert with that key (no row:
// it has). The NOT EXISTS keeps the identity from being drawn for every
// repeat; another daemon inserting the same key at this moment makes the
// insert wait for it, then do nothing. (No `created` entry: the alert's row
// says all it would, see `with_created_entry`.)
const OPEN_ALERT: &str = "INSERT INTO alerts \
     (team, dedup_key, summary, severity, source, details, intake, status, created_at, last_seen_at, occurrences, \
      held_until, held_reason) \
     SELECT $1, $2, $3, $4, $5, $6, $7, 'open', $8, $8, 1, $9, $10 WHERE NOT EXISTS \
     (SELECT 1 FROM alerts WHERE team = $1 AND dedup_key = $2 AND status != 'resolved') \
     ON CONFLICT (team, dedup_key) WHERE status != 'resolved' DO NOTHING RETURNING id";
const ADD_OCCURRENCE: &str = "UPDATE alerts SET occurrences = occurrences + 1, last_seen_at = $2 WHERE id = $1";
const ACKNOWLEDGE: &str = "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $2, acknowledged_by = $3, \
     lead = coalesce(lead, $3) WHERE id = $1 AND status = 'open' RETURNING lead";
const SET_LEAD: &str = "UPDATE alerts SET lead = $2 WHERE id = $1 AND status != 'resolved'";
const RESOLVE: &str = "UPDATE alerts SET status = 'resolved', resolved_at = $2, resolved_by = $3 \
     WHERE id = $1 AND status != 'resolved' RETURNING lead";
const WAKE_ESCALATION: &str = "UPDATE escalations SET due_at = $2 WHERE alert_id = $1 AND due_at > $2";
const WATCH_ACKNOWLEDGED: &str = "INSERT INTO escalations (alert_id, phase, step, round, due_at) \
     VALUES ($1, 'acknowledged', 0, 0, $2) \
     ON CONFLICT (alert_id) DO UPDATE SET due_at = least(escalations.due_at, excluded.due_at)";
const FORGET_SPENT_LINKS: &str = "DELETE FROM spent_links WHERE expires_at <= $1";
// The row is written first: of two daemons spending one link at once, the
// second waits on the key, then finds it taken.
const SPEND_LINK: &str = "INSERT INTO spent_links (link, alert_id, expires_at, spent_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (link) DO NOTHING";
const SPENT_LINK: &str = "SELECT spent_at FROM spent_links WHERE link = $1";
const HEARTBEAT_SEEN: &str =
    "INSERT INTO heartbeats (team, name, first_seen) VALUES ($1, $2, $3) ON CONFLICT (team, name) DO NOTHING";
const HEARTBEAT_PING: &str = "INSERT INTO heartbeats (team, name, first_seen, last_ping) VALUES ($1, $2, $3, $3) \
     ON CONFLICT (team, name) DO UPDATE SET last_ping = excluded.last_ping";
const HEARTBEAT_ALERTED: &str = "UPDATE heartbeats SET alerted = $3 WHERE team = $1 AND name = $2";
const LIST_HEARTBEATS: &str = "SELECT team, name, first_seen, last_ping, alerted FROM heartbeats ORDER BY team, name";
const ADD_TIMELINE: &str = "INSERT INTO alert_events (alert_id, at, kind, detail) VALUES ($1, $2, $3, $4)";
const UNRESOLVED_COUNTS: &str = "SELECT team, severity, status, count(*) FROM alerts \
     WHERE status IN ('open', 'acknowledged') GROUP BY team, severity, status ORDER BY team, severity, status";
const INSERT_OVERRIDE: &str = "INSERT INTO overrides \
     (team, rota, \"user\", start_at, end_at, instead_of, reason, created_by, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
macro_rules! select_override {
    () => {
        "SELECT id, team, rota, \"user\", start_at, end_at, instead_of, reason, created_by, created_at FROM overrides"
    };
}
const OVERRIDE_BY_ID: &str = concat!(select_override!(), " WHERE id = $1");
const LIVE_OVERRIDE_BY_ID: &str = concat!(select_override!(), " WHERE id = $1 AND deleted_at IS NULL");
const LIVE_OVERRIDES: &str = concat!(select_override!(), " WHERE deleted_at IS NULL ORDER BY id");
const DELETE_OVERRIDE: &str = "UPDATE overrides SET deleted_by = $2, deleted_at = $3 WHERE id = $1";

/// Where a store connects: a `postgres://` or `postgresql://` URL, parsed
/// (see [`super::Database`]). The URL may hold a password, so it is shown
/// only redacted: [`Target::redacted`], and Display and Debug, which use it.
#[derive(Clone)]
pub struct Target {
    url: String,
    config: postgres::Config,
}

impl Target {
    /// Parses a `postgres://` (or `postgresql://`) URL. The error names the
    /// URL with its password hidden.
    pub fn parse(url: &str) -> Result<Target, DatabaseError> {
        if scheme(url).is_none() {
            return Err(DatabaseError::new(format!(
                "`{}` is not a postgres:// or postgresql:// URL",
                redact(url)
            )));
        }
        // The driver's parse errors name the option, never its value; the
        // option is in the error's source.
        let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            let why = std::error::Error::source(&e).map_or(String::new(), |cause| format!(" ({cause})"));
            DatabaseError::new(format!(
                "`{}` is not a PostgreSQL URL oncall can use: {e}{why}",
                redact(url)
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // A daemon cut off from the server must notice within seconds (its
        // lease, its writes), not after the kernel's default of hours.
        config.keepalives_idle(Duration::from_secs(5));
        config.application_name("oncall");
        Ok(Target {
            url: url.to_owned(),
            config,
        })
    }

    /// The URL with any password (in the user part or a `password=`
    /// parameter) replaced by `***`.
    pub fn redacted(&self) -> String {
        let shown = redact(&self.url);
        // In case a password hides where `redact` does not look (an odd
        // encoding): show nothing past the scheme rather than it.
        let leaks = self
            .config
            .get_password()
            .and_then(|p| std::str::from_utf8(p).ok())
            .is_some_and(|p| !p.is_empty() && shown.contains(p));
        match (leaks, scheme(&self.url)) {
            (true, Some(scheme)) => format!("{scheme}://***"),
            _ => shown,
        }
    }

    /// A new connection (blocking: call it off the async runtime).
    pub fn connect(&self) -> Result<Client, StoreError> {
        self.config
            .connect(NoTls)
            .map_err(|e| StoreError::open_failed(self.redacted(), e))
    }
}

impl std::str::FromStr for Target {
    type Err = DatabaseError;

    fn from_str(url: &str) -> Result<Target, DatabaseError> {
        Target::parse(url)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Two targets are the same when their URLs are.
impl PartialEq for Target {
    fn eq(&self, other: &Target) -> bool {
        self.url == other.url
    }
}

impl Eq for Target {}

/// The URL's scheme, if it is one of PostgreSQL's.
fn scheme(url: &str) -> Option<&'static str> {
    ["postgres", "postgresql"]
        .into_iter()
        .find(|s| url.strip_prefix(s).is_some_and(|rest| rest.starts_with("://")))
}

/// `url` with its passwords replaced by `***`. Hides at least what the
/// driver (`tokio-postgres`'s URL parser) reads as a password: in the user
/// part, what follows the first `:` up to an `@` (the last one, in case the
/// password holds one), and any `password=` parameter after a `?`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let rest = match rest.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => rest.to_owned(),
        },
        None => rest.to_owned(),
    };
    let Some((address, params)) = rest.split_once('?') else {
        return format!("{scheme}://{rest}");
    };
    let params: Vec<String> = params
        .split('&')
        .map(|param| {
            // The key as the driver reads it, percent-decoded.
            let key = form_urlencoded::parse(param.as_bytes()).next().map(|(key, _)| key);
            match (key, param.split_once('=')) {
                (Some(key), Some((written, _))) if key == "password" => format!("{written}=***"),
                _ => param.to_owned(),
            }
        })
        .collect();
    format!("{scheme}://{address}?{}", params.join("&"))
}

/// A connection with its prepared statements (each prepared once per
/// connection, on first use).
pub(crate) struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Conn {
    fn new(client: Client) -> Conn {
        Conn {
            client,
            statements: HashMap::new(),
        }
    }

    fn statement(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    pub(crate) fn execute(&mut self, sql: &'static str, params: Params<'_>) -> Result<u64, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.client.execute(&s, params)?)
    }

    pub(crate) fn query(&mut self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.client.query(&s, params)?)
    }

    pub(crate) fn query_opt(&mut self, sql: &'static str, params: Params<'_>) -> Result<Option<Row>, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.client.query_opt(&s, params)?)
    }

    pub(crate) fn query_one(&mut self, sql: &'static str, params: Params<'_>) -> Result<Row, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.client.query_one(&s, params)?)
    }

    /// Runs statements without parameters or results, in one round trip.
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client.batch_execute(sql)?)
    }

    fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Runs `work` in a read-only transaction that sees one snapshot.
    fn snapshot<T>(&mut self, work: impl FnOnce(&mut Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        let result = work(self);
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self.batch(end);
        let value = result?;
        ended?;
        Ok(value)
    }
}

/// The PostgreSQL store. Cheap to share behind an `Arc`; dropping it lets
/// the writer answer everything queued and stops the threads. Unlike the
/// SQLite store it may be dropped on a Tokio worker: its clients live and
/// die on its own threads.
pub struct PgStore {
    target: Target,
    queue: Option<mpsc::Sender<Box<dyn Job>>>,
    writer: Option<JoinHandle<()>>,
    reads: Option<std_mpsc::Sender<ReadJob>>,
    readers: Vec<JoinHandle<()>>,
    /// `Some`: this daemon competes to run the engine (`lease.rs`).
    lease: Option<lease::Lease>,
    /// Write transactions committed or tried (batches): fewer than the
    /// requests when group commit shares them.
    transactions: Arc<AtomicU64>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .field("open", &self.queue.is_some())
            .finish()
    }
}

type ReadJob = Box<dyn FnOnce(&mut Option<Conn>, &Target) + Send>;

impl PgStore {
    /// Connects to the server at `target`, applies the missing migrations and
    /// starts the writer and the readers. Blocks the calling thread while
    /// connecting (call it from `spawn_blocking` in async code).
    ///
    /// Fails with [`StoreError::TooNew`] if a newer `oncall` has migrated the
    /// database further than this one knows.
    pub fn open(target: &Target) -> Result<PgStore, StoreError> {
        PgStore::open_with(target, false)
    }

    /// As [`PgStore::open`], and with `lead`, competes with the other
    /// daemons on the database for the engine's lease: only the leader's
    /// passes do anything ([`Store::leading`]). Returns after the first try,
    /// so a daemon alone on its database leads at once.
    pub fn open_leading(target: &Target) -> Result<PgStore, StoreError> {
        PgStore::open_with(target, true)
    }

    fn open_with(target: &Target, lead: bool) -> Result<PgStore, StoreError> {
        let target = target.clone();
        // The writer's client is made, migrated and used on its own thread.
        let (opened, is_open) = std_mpsc::channel();
        let (queue, requests) = mpsc::channel(QUEUE);
        let writer_target = target.clone();
        let transactions = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&transactions);
        let writer = std::thread::Builder::new()
            .name("oncall-pg-writer".to_owned())
            .spawn(move || {
                let conn = connect_writer(&writer_target).and_then(|mut conn| {
                    migrate(&mut conn, &writer_target)?;
                    Ok(conn)
                });
                match conn {
                    Ok(conn) => {
                        let _ = opened.send(Ok(()));
                        write_loop(conn, &writer_target, requests, &counted);
                    }
                    Err(e) => {
                        let _ = opened.send(Err(e));
                    }
                }
            })
            .map_err(|e| {
                StoreError::open_because(target.redacted(), format!("cannot start the writer thread: {e}"), e)
            })?;
        let started = is_open.recv().unwrap_or(Err(StoreError::Closed));
        if let Err(e) = started {
            drop(queue);
            let _ = writer.join();
            return Err(e);
        }
        let (reads, jobs) = std_mpsc::channel::<ReadJob>();
        let jobs = Arc::new(Mutex::new(jobs));
        let mut readers = Vec::new();
        for n in 0..READERS {
            let jobs = Arc::clone(&jobs);
            let reader_target = target.clone();
            let reader = std::thread::Builder::new()
                .name(format!("oncall-pg-reader-{n}"))
                .spawn(move || {
                    let mut conn: Option<Conn> = None;
                    loop {
                        // The lock is held only while waiting for a job.
                        let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok(job) = job else { break };
                        job(&mut conn, &reader_target);
                    }
                })
                .map_err(|e| {
                    StoreError::open_because(target.redacted(), format!("cannot start a reader thread: {e}"), e)
                })?;
            readers.push(reader);
        }
        let lease = match lead {
            true => Some(lease::Lease::start(target.clone())?),
            false => None,
        };
        Ok(PgStore {
            target,
            queue: Some(queue),
            writer: Some(writer),
            reads: Some(reads),
            readers,
            lease,
            transactions,
        })
    }

    /// How many write transactions the writer has run (each a batch of
    /// requests, or a pass alone).
    pub fn write_transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }

    /// Where the store connects (password redacted).
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Stops the store: the writer answers every request already queued and
    /// stops; the readers finish their reads. Blocks until they have.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), StoreError> {
        // The lease first: another daemon takes over at its next renewal.
        drop(self.lease.take());
        drop(self.queue.take());
        drop(self.reads.take());
        let mut result = Ok(());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            result = Err(StoreError::internal("the store's writer thread panicked"));
        }
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        result
    }

    /// Queues `work` for the writer and waits for its answer, which comes
    /// after the commit of the batch it ran in.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        self.send(job(work, false)).await
    }

    /// As [`PgStore::write`], in a transaction of its own that holds the
    /// write lock exclusively (an engine pass: see the module docs).
    async fn write_alone<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        self.send(job(work, true)).await
    }

    async fn send<T>(
        &self,
        (job, answer): (Box<dyn Job>, oneshot::Receiver<Result<T, StoreError>>),
    ) -> Result<T, StoreError> {
        let queue = self.queue.as_ref().ok_or(StoreError::Closed)?;
        queue.send(job).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `work` on a reader's connection (connecting it if need be).
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        let reads = self.reads.as_ref().ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn: &mut Option<Conn>, target: &Target| {
            let _ = reply.send(with_connection(conn, target, work));
        });
        reads.send(job).map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// The writer's connection: commits wait for the server's disk.
fn connect_writer(target: &Target) -> Result<Conn, StoreError> {
    let mut conn = Conn::new(target.connect()?);
    conn.batch("SET synchronous_commit = on")?;
    Ok(conn)
}

/// Runs `work` on a connection of its own, on a thread of its own (so that
/// it may be called from async code too), for the commands that read beside
/// a running daemon. A database not migrated yet has nothing to read.
fn read_once<T: Send + 'static>(
    target: &Target,
    empty: T,
    work: impl FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let target = target.clone();
    std::thread::spawn(move || {
        let mut conn = Conn::new(target.connect()?);
        let version: Option<i64> = conn
            .client
            .query_one(
                "SELECT CASE WHEN to_regclass('oncall_schema') IS NULL THEN NULL ELSE 0 END::bigint",
                &[],
            )?
            .try_get(0)?;
        if version.is_none() {
            return Ok(empty);
        }
        let found: i64 = conn
            .client
            .query_one("SELECT coalesce(max(version), 0)::bigint FROM oncall_schema", &[])?
            .try_get(0)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: target.redacted(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        conn.snapshot(work)
    })
    .join()
    .map_err(|_| StoreError::internal("a read panicked"))?
}

/// The run-time overrides, read beside the daemons.
pub fn read_overrides(target: &Target) -> Result<Vec<StoredOverride>, StoreError> {
    read_once(target, Vec::new(), |conn| {
        conn.query(LIVE_OVERRIDES, &[])?.iter().map(override_from_row).collect()
    })
}

/// The last confirmed test of each person's method and destination, read
/// beside the daemons; empty before test pages.
pub fn read_confirmed(target: &Target) -> Result<Vec<super::proof::Confirmed>, StoreError> {
    read_once(target, Vec::new(), |conn| {
        if !proofs::has_proofs(conn)? {
            return Ok(Vec::new());
        }
        proofs::confirmed(conn)
    })
}

/// The Web Push subscriptions (person, id), read beside the daemons; none
/// before subscriptions (schema version 5).
pub fn read_webpush(target: &Target) -> Result<Vec<(String, i64)>, StoreError> {
    read_once(target, Vec::new(), |conn| {
        let version: Option<i64> = conn
            .query_one("SELECT max(version) FROM oncall_schema", &[])?
            .try_get(0)?;
        if version.unwrap_or(0) < 5 {
            return Ok(Vec::new());
        }
        conn.query("SELECT person, id FROM webpush_subscriptions ORDER BY person, id", &[])?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    })
}

/// The ledger of `span`, read beside the daemons.
pub fn read_ledger(target: &Target, span: Span) -> Result<Ledger, StoreError> {
    read_once(target, Ledger::default(), move |conn| engine::ledger(conn, span))
}

/// Runs `work` on `conn`, connecting first if there is none or it closed.
fn with_connection<T>(
    conn: &mut Option<Conn>,
    target: &Target,
    work: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    if conn.as_ref().is_none_or(Conn::is_closed) {
        *conn = None;
        *conn = Some(Conn::new(target.connect()?));
    }
    let c = conn.as_mut().ok_or(StoreError::Closed)?;
    work(c)
}

impl Drop for PgStore {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl Store for PgStore {
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
        Box::pin(self.read(move |conn| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = match status {
                Some(status) => conn.query(LIST_ALERTS_WITH_STATUS, &[&status.as_str(), &limit])?,
                None => conn.query(LIST_ALERTS, &[&limit])?,
            };
            rows.iter().map(alert_from_row).collect()
        }))
    }

    fn alert(&self, id: AlertId) -> StoreFuture<'_, Option<(Alert, Vec<TimelineEntry>)>> {
        Box::pin(self.read(move |conn| {
            conn.snapshot(|conn| {
                let Some(alert) = select_alert(conn, id)? else {
                    return Ok(None);
                };
                let timeline = conn
                    .query(SELECT_TIMELINE, &[&id])?
                    .iter()
                    .map(|row| {
                        Ok(TimelineEntry {
                            at: instant(row.try_get(0)?)?,
                            kind: timeline_kind(&row.try_get::<_, String>(1)?)?,
                            detail: json_text(&row.try_get::<_, String>(2)?)?,
                        })
                    })
                    .collect::<Result<_, StoreError>>()?;
                let timeline = super::with_created_entry(&alert, timeline);
                Ok(Some((alert, timeline)))
            })
        }))
    }

    fn acknowledge(&self, id: AlertId, by: Option<String>, now: Instant) -> StoreFuture<'_, Option<Alert>> {
        Box::pin(self.write(move |conn| act_in(conn, id, LinkAction::Acknowledge, by, now)))
    }

    fn resolve(&self, id: AlertId, by: Option<String>, now: Instant) -> StoreFuture<'_, Option<Alert>> {
        Box::pin(self.write(move |conn| act_in(conn, id, LinkAction::Resolve, by, now)))
    }

    fn act_once(&self, link: SpendLink, now: Instant) -> StoreFuture<'_, Spend> {
        Box::pin(self.write(move |conn| {
            conn.execute(FORGET_SPENT_LINKS, &[&now.timestamp()])?;
            let spent = conn.execute(
                SPEND_LINK,
                &[&link.link, &link.alert, &link.expires.timestamp(), &now.timestamp()],
            )?;
            if spent == 0 {
                let at: i64 = match conn.query_opt(SPENT_LINK, &[&link.link])? {
                    Some(row) => row.try_get(0)?,
                    None => now.timestamp(),
                };
                let at = chrono::DateTime::from_timestamp(at, 0)
                    .ok_or_else(|| bad(format!("spent_at {at} is out of range")))?;
                return Ok(Spend::Spent(at));
            }
            let by = Some(link.by);
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
            conn.execute(SET_LEAD, &[&id, &lead])?;
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

    fn heartbeats_seen(&self, heartbeats: Vec<(String, String)>, now: Instant) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |conn| {
            for (team, name) in &heartbeats {
                conn.execute(HEARTBEAT_SEEN, &[team, name, &now.timestamp()])?;
            }
            Ok(())
        }))
    }

    fn heartbeat_ping(&self, team: String, name: String, now: Instant) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |conn| {
            conn.execute(HEARTBEAT_PING, &[&team, &name, &now.timestamp()])?;
            Ok(())
        }))
    }

    fn heartbeat_alerted(&self, team: String, name: String, now: Instant) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |conn| {
            conn.execute(HEARTBEAT_ALERTED, &[&team, &name, &now.timestamp()])?;
            Ok(())
        }))
    }

    fn heartbeats(&self) -> StoreFuture<'_, Vec<Seen>> {
        Box::pin(self.read(|conn| {
            conn.query(LIST_HEARTBEATS, &[])?
                .iter()
                .map(|row| {
                    Ok(Seen {
                        team: row.try_get(0)?,
                        name: row.try_get(1)?,
                        first_seen: instant(row.try_get(2)?)?,
                        last_ping: optional_instant(row.try_get(3)?)?,
                        alerted: optional_instant(row.try_get(4)?)?,
                    })
                })
                .collect()
        }))
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        // No statements of its own: the batch around it begins, takes the
        // write lock, and commits.
        Box::pin(self.write(|_| Ok(())))
    }

    fn pass(&self, now: Instant, mut work: TxWork<Pass>) -> StoreFuture<'_, Pass> {
        let fence = self.lease.as_ref().map(|l| Arc::clone(&l.shared));
        Box::pin(self.write_alone(move |conn| {
            if let Some(shared) = &fence
                && !lease::fence(conn, shared, now.timestamp())?
            {
                return Ok(Pass::default());
            }
            work(conn)
        }))
    }

    fn leading(&self) -> bool {
        self.lease.as_ref().is_none_or(|l| l.shared.leading())
    }

    fn record(&self, mut work: TxWork<()>) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |conn| work(conn)))
    }

    fn next_due(&self) -> StoreFuture<'_, Option<Instant>> {
        Box::pin(self.read(engine::next_due))
    }

    fn notifications(&self, alert: AlertId) -> StoreFuture<'_, Vec<Notification>> {
        Box::pin(self.read(move |conn| engine::notifications(conn, alert)))
    }

    fn ledger(&self, span: Span) -> StoreFuture<'_, Ledger> {
        Box::pin(self.read(move |conn| conn.snapshot(|conn| engine::ledger(conn, span))))
    }

    fn unresolved_counts(&self) -> StoreFuture<'_, Vec<(String, String, String, u64)>> {
        Box::pin(self.read(|conn| {
            conn.query(UNRESOLVED_COUNTS, &[])?
                .iter()
                .map(|r| {
                    let n: i64 = r.try_get(3)?;
                    Ok((
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        u64::try_from(n).unwrap_or(0),
                    ))
                })
                .collect()
        }))
    }

    fn add_override(&self, o: NewOverride, now: Instant) -> StoreFuture<'_, StoredOverride> {
        Box::pin(self.write(move |conn| {
            let row = conn.query_one(
                INSERT_OVERRIDE,
                &[
                    &o.team,
                    &o.rota,
                    &o.user,
                    &o.span.start.timestamp(),
                    &o.span.end.timestamp(),
                    &o.instead_of,
                    &o.reason,
                    &o.by,
                    &now.timestamp(),
                ],
            )?;
            let id: i64 = row.try_get(0)?;
            override_from_row(&conn.query_one(OVERRIDE_BY_ID, &[&id])?)
        }))
    }

    fn overrides(&self) -> StoreFuture<'_, Vec<StoredOverride>> {
        Box::pin(self.read(|conn| conn.query(LIVE_OVERRIDES, &[])?.iter().map(override_from_row).collect()))
    }

    fn delete_override(&self, id: i64, by: String, now: Instant) -> StoreFuture<'_, Option<StoredOverride>> {
        Box::pin(self.write(move |conn| {
            let found = match conn.query_opt(LIVE_OVERRIDE_BY_ID, &[&id])? {
                Some(row) => Some(override_from_row(&row)?),
                None => None,
            };
            if found.is_some() {
                conn.execute(DELETE_OVERRIDE, &[&id, &by, &now.timestamp()])?;
            }
            Ok(found)
        }))
    }

    fn add_credential(&self, c: NewCredential, now: Instant) -> StoreFuture<'_, Credential> {
        Box::pin(self.write(move |conn| add_credential(conn, &c, now)))
    }

    fn credential(&self, kind: CredentialKind, digest: String, now: Instant) -> StoreFuture<'_, Option<Credential>> {
        Box::pin(self.read(move |conn| {
            match conn.query_opt(
                concat!(
                    select_credential!(),
                    " WHERE kind = $1 AND digest = $2 AND ended_at IS NULL AND (expires_at IS NULL OR expires_at > $3)"
                ),
                &[&kind.as_str(), &digest, &now.timestamp()],
            )? {
                Some(row) => Ok(Some(credential_from_row(&row)?)),
                None => Ok(None),
            }
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
        Box::pin(self.read(proofs::confirmed))
    }

    fn add_webpush(&self, s: NewWebPush, now: Instant) -> StoreFuture<'_, WebPushSubscription> {
        Box::pin(self.write(move |conn| {
            let row = conn.query_one(
                "INSERT INTO webpush_subscriptions (person, endpoint, p256dh, auth, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (endpoint) DO UPDATE SET person = excluded.person, \
                 p256dh = excluded.p256dh, auth = excluded.auth, created_at = excluded.created_at RETURNING id",
                &[&s.person, &s.endpoint, &s.p256dh, &s.auth, &now.timestamp()],
            )?;
            let id: i64 = row.try_get(0)?;
            webpush_from_row(&conn.query_one(concat!(select_webpush!(), " WHERE id = $1"), &[&id])?)
        }))
    }

    fn webpush_subscriptions(&self, person: Option<String>) -> StoreFuture<'_, Vec<WebPushSubscription>> {
        Box::pin(self.read(move |conn| {
            conn.query(
                concat!(select_webpush!(), " WHERE $1::TEXT IS NULL OR person = $1 ORDER BY id"),
                &[&person],
            )?
            .iter()
            .map(webpush_from_row)
            .collect()
        }))
    }

    fn webpush_subscription(&self, id: i64) -> StoreFuture<'_, Option<WebPushSubscription>> {
        Box::pin(self.read(
            move |conn| match conn.query_opt(concat!(select_webpush!(), " WHERE id = $1"), &[&id])? {
                Some(row) => Ok(Some(webpush_from_row(&row)?)),
                None => Ok(None),
            },
        ))
    }

    fn remove_webpush(&self, id: i64, person: Option<String>) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |conn| {
            let removed = conn.execute(
                "DELETE FROM webpush_subscriptions WHERE id = $1 AND ($2::TEXT IS NULL OR person = $2)",
                &[&id, &person],
            )?;
            Ok(removed > 0)
        }))
    }

    fn cursor(&self, name: &'static str) -> StoreFuture<'_, Option<i64>> {
        Box::pin(self.read(move |conn| engine::cursor(conn, name)))
    }

    fn set_cursor(&self, name: &'static str, value: i64) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |conn| engine::set_cursor(conn, name, value)))
    }

    fn phone_verification(&self, person: String, phone: String) -> StoreFuture<'_, Option<PhoneVerification>> {
        Box::pin(self.read(move |conn| {
            conn.query_opt(select_phone_verification!(), &[&person, &phone])?
                .map(|r| phone_verification_from_row(&r))
                .transpose()
        }))
    }

    fn change_phone_verification(
        &self,
        person: String,
        phone: String,
        mut work: PhoneWork,
    ) -> StoreFuture<'_, Option<PhoneVerification>> {
        Box::pin(self.write(move |conn| {
            // The row locked until the commit, so that two daemons taking
            // entries for one number count both. A row not there yet
            // cannot be locked: two first writes meet in the upsert.
            let before = conn
                .query_opt(concat!(select_phone_verification!(), " FOR UPDATE"), &[&person, &phone])?
                .map(|r| phone_verification_from_row(&r))
                .transpose()?;
            if let Some(after) = work(before.as_ref()) {
                conn.execute(
                    "INSERT INTO phone_verifications \
                     (person, phone, code_digest, sent_at, expires_at, wrong, locked_until, verified_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (person, phone) DO UPDATE SET \
                     code_digest = excluded.code_digest, sent_at = excluded.sent_at, \
                     expires_at = excluded.expires_at, wrong = excluded.wrong, \
                     locked_until = excluded.locked_until, verified_at = excluded.verified_at",
                    &[
                        &person,
                        &phone,
                        &after.code_digest,
                        &after.sent_at.map(|t| t.timestamp()),
                        &after.expires_at.map(|t| t.timestamp()),
                        &after.wrong,
                        &after.locked_until.map(|t| t.timestamp()),
                        &after.verified_at.map(|t| t.timestamp()),
                    ],
                )?;
            }
            Ok(before)
        }))
    }
}

macro_rules! select_phone_verification {
    () => {
        "SELECT person, phone, code_digest, sent_at, expires_at, wrong, locked_until, verified_at \
         FROM phone_verifications WHERE person = $1 AND phone = $2"
    };
}
use select_phone_verification;

fn phone_verification_from_row(r: &Row) -> Result<PhoneVerification, StoreError> {
    let at =
        |i: usize| -> Result<Option<Instant>, StoreError> { r.try_get::<_, Option<i64>>(i)?.map(instant).transpose() };
    Ok(PhoneVerification {
        person: r.try_get(0)?,
        phone: r.try_get(1)?,
        code_digest: r.try_get(2)?,
        sent_at: at(3)?,
        expires_at: at(4)?,
        wrong: r.try_get(5)?,
        locked_until: at(6)?,
        verified_at: at(7)?,
    })
}

/// Applies one event (see [`Store::ingest`]).
fn ingest_event(conn: &mut Conn, event: &Event, details: &str, now: Instant) -> Result<Outcome, StoreError> {
    let mut detail = json!({ "intake": event.intake });
    let at = now.timestamp();
    let ack_or_resolve = match event.action {
        Action::Trigger => return trigger(conn, event, details, now),
        other => other,
    };
    let unresolved: Option<AlertId> = match conn.query_opt(FIND_UNRESOLVED, &[&event.team, &event.dedup_key])? {
        Some(row) => Some(row.try_get(0)?),
        None => None,
    };
    let Some(id) = unresolved else {
        return Ok(Outcome::Unchanged);
    };
    if ack_or_resolve == Action::Acknowledge {
        let Some(row) = conn.query_opt(ACKNOWLEDGE, &[&id, &at, &None::<String>])? else {
            return Ok(Outcome::Unchanged);
        };
        let lead: Option<String> = row.try_get(0)?;
        detail["lead"] = json!(lead);
        add_timeline(conn, id, now, TimelineKind::Acknowledged, &detail_text(&detail))?;
        watch_acknowledged(conn, id, now)?;
        return Ok(Outcome::Acknowledged(id));
    }
    let lead: Option<String> = match conn.query_opt(RESOLVE, &[&id, &at, &None::<String>])? {
        Some(row) => row.try_get(0)?,
        None => None,
    };
    detail["lead"] = json!(lead);
    add_timeline(conn, id, now, TimelineKind::Resolved, &detail_text(&detail))?;
    wake_escalation(conn, id, now)?;
    Ok(Outcome::Resolved(id))
}

/// A trigger: a new alert with its `created` entry (one round trip), or an
/// occurrence of the team's unresolved alert with the key.
fn trigger(conn: &mut Conn, event: &Event, details: &str, now: Instant) -> Result<Outcome, StoreError> {
    let detail = json!({ "intake": event.intake });
    let at = now.timestamp();
    // A repeat finds the alert; one resolved between the two statements
    // (another daemon) makes the next try open a new one.
    for _ in 0..3 {
        let opened = conn.query_opt(
            OPEN_ALERT,
            &[
                &event.team,
                &event.dedup_key,
                &event.summary,
                &event.severity,
                &event.source,
                &details,
                &event.intake,
                &at,
                &event.held.as_ref().map(|h| h.until.timestamp()),
                &event.held.as_ref().map(|h| h.reason.as_str()),
            ],
        )?;
        if let Some(row) = opened {
            return Ok(Outcome::Created(row.try_get(0)?));
        }
        if let Some(row) = conn.query_opt(FIND_UNRESOLVED, &[&event.team, &event.dedup_key])? {
            let id: AlertId = row.try_get(0)?;
            conn.execute(ADD_OCCURRENCE, &[&id, &at])?;
            add_timeline(conn, id, now, TimelineKind::Occurrence, &detail_text(&detail))?;
            return Ok(Outcome::Deduplicated(id));
        }
    }
    Err(StoreError::Conflict(format!(
        "the alert {:?} of team {} keeps changing; try again",
        event.dedup_key, event.team
    )))
}

/// Acknowledges an open alert or resolves an unresolved one (see
/// [`Store::acknowledge`], [`Store::resolve`]), as on SQLite.
fn act_in(
    conn: &mut Conn,
    id: AlertId,
    action: LinkAction,
    by: Option<String>,
    now: Instant,
) -> Result<Option<Alert>, StoreError> {
    let (sql, kind) = match action {
        LinkAction::Acknowledge => (ACKNOWLEDGE, TimelineKind::Acknowledged),
        LinkAction::Resolve => (RESOLVE, TimelineKind::Resolved),
    };
    if let Some(row) = conn.query_opt(sql, &[&id, &now.timestamp(), &by])? {
        let lead: Option<String> = row.try_get(0)?;
        add_timeline(conn, id, now, kind, &detail_text(&json!({ "by": by, "lead": lead })))?;
        match action {
            LinkAction::Acknowledge => watch_acknowledged(conn, id, now)?,
            LinkAction::Resolve => wake_escalation(conn, id, now)?,
        }
    }
    select_alert(conn, id)
}

/// After an acknowledgement: the alert's escalation is looked at by the next
/// pass, which stops it or waits out the policy's `ack_timeout`; an alert
/// whose chain was over gets a row again, in the acknowledged phase, or an
/// `ack_timeout` would never reopen it (as on SQLite).
fn watch_acknowledged(conn: &mut Conn, id: AlertId, now: Instant) -> Result<(), StoreError> {
    conn.execute(WATCH_ACKNOWLEDGED, &[&id, &now.timestamp()])?;
    Ok(())
}

/// A resolved alert's escalation is due at once: the next pass stops it.
fn wake_escalation(conn: &mut Conn, id: AlertId, now: Instant) -> Result<(), StoreError> {
    conn.execute(WAKE_ESCALATION, &[&id, &now.timestamp()])?;
    Ok(())
}

/// Adds a timeline entry; `detail` is JSON text (see `detail_text`).
fn add_timeline(
    conn: &mut Conn,
    id: AlertId,
    now: Instant,
    kind: TimelineKind,
    detail: &str,
) -> Result<(), StoreError> {
    conn.execute(ADD_TIMELINE, &[&id, &now.timestamp(), &kind.as_str(), &detail])?;
    Ok(())
}

fn select_alert(conn: &mut Conn, id: AlertId) -> Result<Option<Alert>, StoreError> {
    match conn.query_opt(SELECT_ALERT, &[&id])? {
        Some(row) => Ok(Some(alert_from_row(&row)?)),
        None => Ok(None),
    }
}

fn alert_from_row(row: &Row) -> Result<Alert, StoreError> {
    let status: String = row.try_get(8)?;
    let occurrences: i64 = row.try_get(11)?;
    Ok(Alert {
        id: row.try_get(0)?,
        team: row.try_get(1)?,
        dedup_key: row.try_get(2)?,
        summary: row.try_get(3)?,
        severity: row.try_get(4)?,
        source: row.try_get(5)?,
        details: json_text(&row.try_get::<_, String>(6)?)?,
        intake: row.try_get(7)?,
        status: Status::parse(&status).ok_or_else(|| bad(format!("unknown status {status:?}")))?,
        created_at: instant(row.try_get(9)?)?,
        last_seen_at: instant(row.try_get(10)?)?,
        occurrences: u64::try_from(occurrences).map_err(|e| bad(e.to_string()))?,
        acknowledged_at: optional_instant(row.try_get(12)?)?,
        acknowledged_by: row.try_get(13)?,
        resolved_at: optional_instant(row.try_get(14)?)?,
        resolved_by: row.try_get(15)?,
        held: match optional_instant(row.try_get(16)?)? {
            Some(until) => Some(Hold {
                until,
                reason: row.try_get::<_, Option<String>>(17)?.unwrap_or_default(),
            }),
            None => None,
        },
        lead: row.try_get(18)?,
    })
}

macro_rules! select_credential {
    () => {
        "SELECT id, kind, person, label, created_at, expires_at, ended_at FROM credentials"
    };
}
use select_credential;

/// The statements behind the credential methods, shared with `oncall
/// token` (which runs them on a connection of its own, beside the daemons).
fn add_credential(conn: &mut Conn, c: &NewCredential, now: Instant) -> Result<Credential, StoreError> {
    let row = conn.query_one(
        "INSERT INTO credentials (kind, digest, person, label, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[
            &c.kind.as_str(),
            &c.digest,
            &c.person,
            &c.label,
            &now.timestamp(),
            &c.expires.map(|t| t.timestamp()),
        ],
    )?;
    let id: i64 = row.try_get(0)?;
    credential_from_row(&conn.query_one(concat!(select_credential!(), " WHERE id = $1"), &[&id])?)
}

fn end_credential(
    conn: &mut Conn,
    kind: CredentialKind,
    id: i64,
    now: Instant,
) -> Result<Option<Credential>, StoreError> {
    let ended = conn.execute(
        "UPDATE credentials SET ended_at = $3 WHERE id = $1 AND kind = $2 AND ended_at IS NULL",
        &[&id, &kind.as_str(), &now.timestamp()],
    )?;
    if ended == 0 {
        return Ok(None);
    }
    Ok(Some(credential_from_row(&conn.query_one(
        concat!(select_credential!(), " WHERE id = $1"),
        &[&id],
    )?)?))
}

fn credentials(conn: &mut Conn, kind: CredentialKind) -> Result<Vec<Credential>, StoreError> {
    conn.query(
        concat!(
            select_credential!(),
            " WHERE kind = $1 AND ended_at IS NULL ORDER BY id"
        ),
        &[&kind.as_str()],
    )?
    .iter()
    .map(credential_from_row)
    .collect()
}

/// The schema version that added credentials.
const CREDENTIALS_SINCE: i64 = 4;

/// Runs `work` on the credentials of `target` beside the daemons (`oncall
/// token`), on a connection of its own: the daemons read credentials at
/// each request, so what this writes counts at once. The database must have
/// credentials (a daemon of this version ran on it).
fn on_credentials<T: Send + 'static>(
    target: &Target,
    work: impl FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let target = target.clone();
    // The synchronous client runs a runtime of its own: on a thread of its
    // own, as `read_once` does, so a caller inside a runtime is safe too.
    std::thread::spawn(move || {
        let mut conn = Conn::new(target.connect()?);
        let found: i64 = conn
            .client
            .query_one(
                "SELECT CASE WHEN to_regclass('oncall_schema') IS NULL THEN 0 \
                 ELSE (SELECT coalesce(max(version), 0) FROM oncall_schema) END::bigint",
                &[],
            )?
            .try_get(0)?;
        if found < CREDENTIALS_SINCE {
            return Err(StoreError::open(
                target.redacted(),
                "this database is from before per-person tokens: start this version of the daemon on it once (it upgrades the database)",
            ));
        }
        work(&mut conn)
    })
    .join()
    .map_err(|_| StoreError::internal("the credentials thread panicked"))?
}

/// `oncall token create`, beside the daemons.
pub fn add_credential_beside(target: &Target, c: NewCredential, now: Instant) -> Result<Credential, StoreError> {
    on_credentials(target, move |conn| add_credential(conn, &c, now))
}

/// `oncall token revoke`, beside the daemons.
pub fn end_credential_beside(
    target: &Target,
    kind: CredentialKind,
    id: i64,
    now: Instant,
) -> Result<Option<Credential>, StoreError> {
    on_credentials(target, move |conn| end_credential(conn, kind, id, now))
}

/// `oncall token list`, beside the daemons.
pub fn credentials_beside(target: &Target, kind: CredentialKind) -> Result<Vec<Credential>, StoreError> {
    on_credentials(target, move |conn| credentials(conn, kind))
}

macro_rules! select_webpush {
    () => {
        "SELECT id, person, endpoint, p256dh, auth, created_at FROM webpush_subscriptions"
    };
}
use select_webpush;

fn webpush_from_row(r: &Row) -> Result<WebPushSubscription, StoreError> {
    Ok(WebPushSubscription {
        id: r.try_get(0)?,
        person: r.try_get(1)?,
        endpoint: r.try_get(2)?,
        p256dh: r.try_get(3)?,
        auth: r.try_get(4)?,
        created_at: instant(r.try_get(5)?)?,
    })
}

fn credential_from_row(r: &Row) -> Result<Credential, StoreError> {
    let kind: String = r.try_get(1)?;
    let at =
        |i: usize| -> Result<Option<Instant>, StoreError> { r.try_get::<_, Option<i64>>(i)?.map(instant).transpose() };
    Ok(Credential {
        id: r.try_get(0)?,
        kind: super::credential_kind(&kind).ok_or_else(|| bad(format!("credential kind `{kind}`")))?,
        person: r.try_get(2)?,
        label: r.try_get(3)?,
        created_at: instant(r.try_get(4)?)?,
        expires_at: at(5)?,
        ended_at: at(6)?,
    })
}

fn override_from_row(r: &Row) -> Result<StoredOverride, StoreError> {
    Ok(StoredOverride {
        id: r.try_get(0)?,
        team: r.try_get(1)?,
        rota: r.try_get(2)?,
        user: r.try_get(3)?,
        from: instant(r.try_get(4)?)?,
        to: instant(r.try_get(5)?)?,
        instead_of: r.try_get(6)?,
        reason: r.try_get(7)?,
        created_by: r.try_get(8)?,
        created_at: instant(r.try_get(9)?)?,
    })
}

pub(crate) fn instant(seconds: i64) -> Result<Instant, StoreError> {
    DateTime::from_timestamp(seconds, 0).ok_or_else(|| bad(format!("time out of range: {seconds}")))
}

pub(crate) fn optional_instant(seconds: Option<i64>) -> Result<Option<Instant>, StoreError> {
    seconds.map(instant).transpose()
}

fn json_text(text: &str) -> Result<serde_json::Value, StoreError> {
    Ok(serde_json::from_str(text)?)
}

fn timeline_kind(name: &str) -> Result<TimelineKind, StoreError> {
    TimelineKind::parse(name).ok_or_else(|| bad(format!("unknown timeline kind {name:?}")))
}

fn bad(message: String) -> StoreError {
    StoreError::BadRow(message)
}

/// Brings the schema up to [`SCHEMA_VERSION`] in one transaction, under an
/// advisory lock (daemons starting together migrate one after the other),
/// or refuses a database from a newer `oncall`.
fn migrate(conn: &mut Conn, target: &Target) -> Result<(), StoreError> {
    let open_error = |e: StoreError| StoreError::open_because(target.redacted(), e.to_string(), e);
    conn.batch(&format!(
        "BEGIN; SELECT pg_advisory_xact_lock({MIGRATE_LOCK}); \
         CREATE TABLE IF NOT EXISTS oncall_schema (version BIGINT NOT NULL)"
    ))
    .map_err(open_error)?;
    let result = (|| {
        let found: Option<i64> = conn
            .client
            .query_opt("SELECT max(version) FROM oncall_schema", &[])?
            .and_then(|r| r.get(0));
        let found = found.unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: target.redacted(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        let applied = usize::try_from(found).map_err(|e| bad(e.to_string()))?;
        for (name, sql) in &MIGRATIONS[applied..] {
            conn.batch(sql)
                .map_err(|e| StoreError::open_because(target.redacted(), format!("migration {name}: {e}"), e))?;
        }
        if applied < MIGRATIONS.len() {
            conn.client.execute("DELETE FROM oncall_schema", &[])?;
            conn.client
                .execute("INSERT INTO oncall_schema (version) VALUES ($1)", &[&SCHEMA_VERSION])?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.batch("COMMIT").map_err(open_error),
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(match e {
                e @ (StoreError::TooNew { .. } | StoreError::Open { .. }) => e,
                e => open_error(e),
            })
        }
    }
}

/// A write request as the writer sees it (as in `sqlite.rs`).
trait Job: Send {
    /// Runs the request's statements; its output is kept for the answer.
    fn run(&mut self, conn: &mut Conn) -> Result<(), StoreError>;

    /// Answers the caller, after the batch's fate is known.
    fn answer(self: Box<Self>, result: Result<(), StoreError>);

    /// Runs in a transaction of its own, holding the write lock exclusively.
    fn alone(&self) -> bool;
}

struct Request<T, F> {
    work: Option<F>,
    output: Option<T>,
    reply: oneshot::Sender<Result<T, StoreError>>,
    alone: bool,
}

impl<T, F> Job for Request<T, F>
where
    T: Send,
    F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &mut Conn) -> Result<(), StoreError> {
        let work = self
            .work
            .take()
            .ok_or_else(|| StoreError::internal("a request ran twice"))?;
        self.output = Some(work(conn)?);
        Ok(())
    }

    fn answer(self: Box<Self>, result: Result<(), StoreError>) {
        let Request { output, reply, .. } = *self;
        let answer = result.and_then(|()| output.ok_or_else(|| StoreError::internal("a request was answered unrun")));
        let _ = reply.send(answer);
    }

    fn alone(&self) -> bool {
        self.alone
    }
}

fn job<T, F>(work: F, alone: bool) -> (Box<dyn Job>, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    (
        Box::new(Request {
            work: Some(work),
            output: None,
            reply,
            alone,
        }),
        answer,
    )
}

/// The writer thread: batches until the queue is closed and empty.
fn write_loop(conn: Conn, target: &Target, mut requests: mpsc::Receiver<Box<dyn Job>>, transactions: &AtomicU64) {
    let mut conn = Some(conn);
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = requests.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (alone, together): (Vec<_>, Vec<_>) = batch.drain(..).partition(|j| j.alone());
        if !together.is_empty() {
            transactions.fetch_add(1, Ordering::Relaxed);
            run_batch(&mut conn, target, together, false);
        }
        for job in alone {
            transactions.fetch_add(1, Ordering::Relaxed);
            run_batch(&mut conn, target, vec![job], true);
        }
    }
}

/// Runs `jobs` in one transaction, each in its own savepoint, commits, and
/// answers them all.
fn run_batch(conn: &mut Option<Conn>, target: &Target, jobs: Vec<Box<dyn Job>>, exclusive: bool) {
    let begin = if exclusive {
        format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})")
    } else {
        format!("BEGIN; SELECT pg_advisory_xact_lock_shared({WRITE_LOCK})")
    };
    if conn.as_ref().is_some_and(Conn::is_closed) {
        *conn = None;
    }
    if conn.is_none() {
        match connect_writer(target) {
            Ok(c) => *conn = Some(c),
            Err(e) => {
                for job in jobs {
                    job.answer(Err(StoreError::batch(BatchStep::Begin, e.clone())));
                }
                return;
            }
        }
    }
    let began = with_connection(conn, target, |c| c.batch(&begin));
    let Some(c) = conn.as_mut().filter(|_| began.is_ok()) else {
        let cause = began.err().unwrap_or_else(|| StoreError::internal("no connection"));
        for job in jobs {
            job.answer(Err(StoreError::batch(BatchStep::Begin, cause.clone())));
        }
        return;
    };
    let single = jobs.len() == 1;
    let mut done: Vec<(Box<dyn Job>, Result<(), StoreError>)> = Vec::new();
    let mut broken: Option<StoreError> = None;
    for mut job in jobs {
        if let Some(cause) = &broken {
            job.answer(Err(StoreError::batch(BatchStep::RolledBack, cause.clone())));
            continue;
        }
        // Alone in its transaction, a request needs no savepoint: its
        // failure rolls back the transaction, which holds nothing else.
        if single {
            let result = job.run(c);
            done.push((job, result));
            continue;
        }
        if let Err(e) = c.batch("SAVEPOINT job") {
            broken = Some(e.clone());
            job.answer(Err(e));
            continue;
        }
        let result = job.run(c);
        let ended = match result {
            Ok(()) => c.batch("RELEASE SAVEPOINT job"),
            Err(_) => c.batch("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job"),
        };
        if let Err(e) = ended {
            broken = Some(e.clone());
            job.answer(Err(e));
            continue;
        }
        done.push((job, result));
    }
    if let Some(cause) = broken {
        let _ = c.batch("ROLLBACK");
        for (job, _) in done {
            job.answer(Err(StoreError::batch(BatchStep::RolledBack, cause.clone())));
        }
        return;
    }
    if single && done.first().is_some_and(|(_, r)| r.is_err()) {
        let _ = c.batch("ROLLBACK");
        for (job, result) in done {
            job.answer(result);
        }
        return;
    }
    // Answers only after COMMIT returned: the batch is on the server's disk.
    match c.batch("COMMIT") {
        Ok(()) => {
            for (job, result) in done {
                job.answer(result);
            }
        }
        Err(e) => {
            let _ = c.batch("ROLLBACK");
            for (job, _) in done {
                job.answer(Err(StoreError::batch(BatchStep::Commit, e.clone())));
            }
        }
    }
}
