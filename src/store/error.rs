//! What goes wrong in the store, for every backend.
//!
//! A driver's error is kept as it came (`rusqlite`, `postgres`,
//! `serde_json`, an I/O error), so that code can tell one failure from
//! another by its type: match on the variant, or follow
//! [`Error::source`] to it. The text of every error is complete on its own,
//! the driver's words included, because logs and messages print it alone
//! (`error = %e`); what prints the whole chain (the binary's `main`) leaves
//! out the causes already said.
//!
//! Errors are cheap to clone (the drivers' errors are shared behind an
//! `Arc`): one failure of a batch's transaction (its BEGIN or COMMIT, or a
//! request that broke it) is the answer of every request of the batch.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// A cause kept with an error (any error the store met).
pub type Cause = Arc<dyn Error + Send + Sync>;

#[derive(Clone, Debug)]
pub enum StoreError {
    /// Another daemon holds this database.
    Locked { path: String, lock: String },
    /// The database was written by a newer `oncall`.
    TooNew { path: String, found: i64, supported: i64 },
    /// The database cannot be opened, migrated, or read beside the daemon
    /// (`path`: its file, or its URL with the password hidden).
    Open {
        path: String,
        message: String,
        source: Option<Cause>,
    },
    /// SQLite failed a statement.
    Sqlite(Arc<rusqlite::Error>),
    /// PostgreSQL failed: the server refused a statement, or the connection
    /// to it broke.
    Postgres(Arc<postgres::Error>),
    /// JSON the store writes, or reads back, is not valid.
    Json(Arc<serde_json::Error>),
    /// A row holds what this `oncall` cannot read back (a time out of
    /// range, a name it does not know).
    BadRow(String),
    /// The request's work was lost with its batch's transaction: `step`
    /// failed, for `cause` (another request's failure, for
    /// [`BatchStep::RolledBack`]).
    Batch { step: BatchStep, cause: Box<StoreError> },
    /// Writes can no longer be made durable (an fsync failed): the reason,
    /// and what to do.
    NotDurable(&'static str),
    /// Other writers kept changing what the request reads; trying again may
    /// succeed.
    Conflict(String),
    /// The store refuses what was asked (`oncall migrate-store` into a
    /// database that is not empty, say).
    Refused(String),
    /// The store's own machinery failed: a thread of its own panicked or
    /// could not start, a request was answered without being run.
    Internal { message: String, source: Option<Cause> },
    /// The store is shutting down.
    Closed,
}

/// The step of a batch's transaction that failed (see [`StoreError::Batch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchStep {
    /// BEGIN failed, or there was no connection to begin on.
    Begin,
    /// Another request of the batch broke the transaction, which was
    /// rolled back.
    RolledBack,
    /// COMMIT failed.
    Commit,
}

impl StoreError {
    /// The database at `path` cannot be opened, for `message`.
    pub fn open(path: impl Into<String>, message: impl Into<String>) -> StoreError {
        StoreError::Open {
            path: path.into(),
            message: message.into(),
            source: None,
        }
    }

    /// The database at `path` cannot be opened, for `source`, in its words.
    pub fn open_failed(path: impl Into<String>, source: impl Error + Send + Sync + 'static) -> StoreError {
        StoreError::Open {
            path: path.into(),
            message: describe(&source),
            source: Some(Arc::new(source)),
        }
    }

    /// The database at `path` cannot be opened: `message`, which says what
    /// `source` is about.
    pub fn open_because(
        path: impl Into<String>,
        message: impl Into<String>,
        source: impl Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Open {
            path: path.into(),
            message: message.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// The store's own machinery failed (see [`StoreError::Internal`]).
    pub fn internal(message: impl Into<String>) -> StoreError {
        StoreError::Internal {
            message: message.into(),
            source: None,
        }
    }

    /// As [`StoreError::internal`], for `source`: `message` says what it
    /// is about.
    pub fn internal_because(message: impl Into<String>, source: impl Error + Send + Sync + 'static) -> StoreError {
        StoreError::Internal {
            message: message.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// The same failure for another request of a batch: `step` failed for
    /// this error.
    pub fn batch(step: BatchStep, cause: StoreError) -> StoreError {
        StoreError::Batch {
            step,
            cause: Box::new(cause),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Locked { path, lock } => write!(
                f,
                "another oncall daemon is using {path} (lock file {lock}); only one may page people from one database"
            ),
            StoreError::TooNew { path, found, supported } => write!(
                f,
                "the database {path} has schema version {found}, newer than this oncall knows ({supported}); run the newer oncall, or restore a backup"
            ),
            StoreError::Open { path, message, .. } => write!(f, "cannot open the database {path}: {message}"),
            StoreError::Sqlite(e) => write!(f, "database error: {e}"),
            StoreError::Postgres(e) => write!(f, "database error: {}", postgres_text(e)),
            StoreError::Json(e) => write!(f, "database error: bad JSON: {e}"),
            StoreError::BadRow(message)
            | StoreError::Conflict(message)
            | StoreError::Refused(message)
            | StoreError::Internal { message, .. } => write!(f, "database error: {message}"),
            StoreError::Batch { step, cause } => write!(f, "{step}: {cause}"),
            StoreError::NotDurable(reason) => write!(f, "database error: {reason}"),
            StoreError::Closed => f.write_str("the store is closed"),
        }
    }
}

impl fmt::Display for BatchStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BatchStep::Begin => "cannot begin a transaction",
            BatchStep::RolledBack => "rolled back with its batch",
            BatchStep::Commit => "commit failed",
        })
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StoreError::Open { source, .. } | StoreError::Internal { source, .. } => {
                source.as_deref().map(|s| s as &(dyn Error + 'static))
            }
            StoreError::Sqlite(e) => Some(&**e),
            StoreError::Postgres(e) => Some(&**e),
            StoreError::Json(e) => Some(&**e),
            StoreError::Batch { cause, .. } => Some(&**cause),
            StoreError::Locked { .. }
            | StoreError::TooNew { .. }
            | StoreError::BadRow(_)
            | StoreError::NotDurable(_)
            | StoreError::Conflict(_)
            | StoreError::Refused(_)
            | StoreError::Closed => None,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Sqlite(Arc::new(e))
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        StoreError::Postgres(Arc::new(e))
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> StoreError {
        StoreError::Json(Arc::new(e))
    }
}

/// An error's words: a PostgreSQL error as [`postgres_text`] has it, any
/// other as it displays.
fn describe(e: &(dyn Error + 'static)) -> String {
    match e.downcast_ref::<postgres::Error>() {
        Some(e) => postgres_text(e),
        None => e.to_string(),
    }
}

/// A PostgreSQL error in words: the server's own message (with its
/// detail) where there is one; else the driver's, with its cause (the
/// driver leaves it out: "error connecting to server" says not why).
fn postgres_text(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return match db.detail() {
            Some(detail) => format!("{}: {detail}", db.message()),
            None => db.message().to_owned(),
        };
    }
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Why a `database` setting was refused (`store::Database::parse`, a
/// PostgreSQL URL's `Target::parse`). The text names no password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DatabaseError {
    message: String,
}

impl DatabaseError {
    pub(crate) fn new(message: String) -> DatabaseError {
        DatabaseError { message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_cross_threads_and_live_anywhere() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<StoreError>();
    }

    /// A real failure on a real SQLite file: the driver's error is at the
    /// end of `source`, as rusqlite made it, and the text says it too.
    #[test]
    fn a_sqlite_failure_keeps_the_drivers_error_as_its_source() {
        let dir = std::env::temp_dir().join(format!("oncall-store-error-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conn = rusqlite::Connection::open(dir.join("oncall.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1)")
            .unwrap();
        let error: StoreError = conn.execute("INSERT INTO t VALUES (1)", []).unwrap_err().into();
        drop(conn);
        std::fs::remove_dir_all(&dir).unwrap();

        let source = error.source().expect("the driver's error is the source");
        let sqlite = source
            .downcast_ref::<rusqlite::Error>()
            .expect("the source is rusqlite's own error");
        assert_eq!(
            sqlite.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ConstraintViolation)
        );
        assert!(matches!(&error, StoreError::Sqlite(e) if e.sqlite_error_code() == sqlite.sqlite_error_code()));
        assert_eq!(error.to_string(), format!("database error: {sqlite}"));
        assert!(error.to_string().contains("UNIQUE constraint failed: t.id"), "{error}");

        // Shared by every request of a failed batch, it stays at the end of
        // each one's chain.
        let shared = StoreError::batch(BatchStep::Commit, error.clone());
        assert_eq!(shared.to_string(), format!("commit failed: {error}"));
        let chain: Vec<&(dyn Error + 'static)> =
            std::iter::successors(Some(&shared as &(dyn Error + 'static)), |e| (*e).source()).collect();
        assert!(chain[1].downcast_ref::<StoreError>().is_some(), "{chain:?}");
        assert!(chain[2].downcast_ref::<rusqlite::Error>().is_some(), "{chain:?}");
    }

    #[test]
    fn an_open_failure_keeps_its_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "no entry");
        let error = StoreError::open_failed("/var/lib/oncall/oncall.db", io);
        assert_eq!(
            error.to_string(),
            "cannot open the database /var/lib/oncall/oncall.db: no entry"
        );
        let io = error.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(io.map(std::io::Error::kind), Some(std::io::ErrorKind::PermissionDenied));
        assert!(StoreError::open("x", "no such file").source().is_none());
    }
}
