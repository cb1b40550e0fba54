//! The store: the only module that knows SQL. The rest of the program sees
//! it through the [`Store`] trait, so that another backend (PostgreSQL) can
//! take SQLite's place without touching the engine or the HTTP layer.
//!
//! Durability is the store's promise: when a write method returns `Ok`, the
//! change is committed to disk. Concurrent writes are batched into one
//! transaction (group commit) so that this promise costs little throughput.

pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

use crate::domain::alert::{Alert, AlertId, Event, Outcome, Status, TimelineEntry};
use crate::domain::heartbeat::Seen;
use crate::domain::time::Instant;

/// What a store method returns: a future that may be sent across threads.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another daemon holds this database.
    #[error("another oncall daemon is using {path} (lock file {lock}); only one may page people from one database")]
    Locked { path: String, lock: String },
    /// The database was written by a newer `oncall`.
    #[error(
        "the database {path} has schema version {found}, newer than this oncall knows ({supported}); run the newer oncall, or restore a backup"
    )]
    TooNew { path: String, found: i64, supported: i64 },
    #[error("cannot open the database {path}: {message}")]
    Open { path: String, message: String },
    #[error("database error: {0}")]
    Database(String),
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
}

pub trait Store: Send + Sync + 'static {
    /// Applies `events` in order, in one durable transaction (possibly shared
    /// with concurrent callers), and says what each did:
    /// - trigger: a new alert, or another occurrence of the team's unresolved
    ///   alert with the same dedup key (count + 1, last seen = `now`);
    /// - acknowledge / resolve: changes the unresolved alert with that key,
    ///   if any.
    ///
    /// Every change adds to the alert's timeline.
    fn ingest(&self, events: Vec<Event>, now: Instant) -> StoreFuture<'_, Vec<Outcome>>;

    /// Alerts, newest first, optionally only those with `status`.
    fn alerts(&self, status: Option<Status>, limit: usize) -> StoreFuture<'_, Vec<Alert>>;

    /// One alert with its timeline (oldest entry first), or `None`.
    fn alert(&self, id: AlertId) -> StoreFuture<'_, Option<(Alert, Vec<TimelineEntry>)>>;

    /// Acknowledges an open alert; `None` if there is no such alert. An alert
    /// already acknowledged or resolved is returned unchanged.
    fn acknowledge(&self, id: AlertId, by: Option<String>, now: Instant) -> StoreFuture<'_, Option<Alert>>;

    /// Resolves an alert; `None` if there is no such alert. An alert already
    /// resolved is returned unchanged.
    fn resolve(&self, id: AlertId, by: Option<String>, now: Instant) -> StoreFuture<'_, Option<Alert>>;

    /// Records each (team, heartbeat name) not yet known as first seen at
    /// `now`; known ones are left as they are.
    fn heartbeats_seen(&self, heartbeats: Vec<(String, String)>, now: Instant) -> StoreFuture<'_, ()>;

    /// Records a ping of a heartbeat at `now` (first seen at `now` too, if it
    /// was not known).
    fn heartbeat_ping(&self, team: String, name: String, now: Instant) -> StoreFuture<'_, ()>;

    /// Records that an overdue alert was raised for a heartbeat at `now`; an
    /// unknown heartbeat is left unknown.
    fn heartbeat_alerted(&self, team: String, name: String, now: Instant) -> StoreFuture<'_, ()>;

    /// Every heartbeat the store knows, by team and name.
    fn heartbeats(&self) -> StoreFuture<'_, Vec<Seen>>;

    /// Checks the store can be written (for readiness).
    fn ping(&self) -> StoreFuture<'_, ()>;
}
