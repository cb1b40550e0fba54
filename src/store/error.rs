//! What goes wrong in the store, for every backend.

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
