//! The `database` setting, parsed once where it is read (`settings.rs`,
//! the commands' `--database`): a SQLite file or a PostgreSQL server.
//! Whatever depends on the backend matches on [`Database`]; nothing looks
//! at the setting's text again.
//!
//! - `postgres://...` or `postgresql://...`: a PostgreSQL server (its URL
//!   parsed here, so a bad port or option is refused before anything
//!   starts).
//! - any other `scheme://...` (`mysql://`, `sqlite://`, `file://`, a
//!   capitalised `Postgres://`): refused, naming the scheme. Before, such a
//!   typo became a SQLite file in a folder called `mysql:`.
//! - anything else: a SQLite file's path, as given (relative paths are
//!   relative to the working directory).
//!
//! A URL may hold a password: [`Database`] prints it (Display and Debug) as
//! `***`, and so do the errors of this module.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::error::DatabaseError;
use super::postgres::Target;

/// Where the daemon keeps its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file: one daemon (its lock file keeps a second one out).
    Sqlite(PathBuf),
    /// A PostgreSQL server: several daemons, one of them leading.
    Postgres(Box<Target>),
}

impl Database {
    /// Reads the `database` setting (see the module docs).
    pub fn parse(setting: &Path) -> Result<Database, DatabaseError> {
        // A path that is not UTF-8 cannot be a URL: a file.
        let Some(text) = setting.to_str() else {
            return Ok(Database::Sqlite(setting.to_owned()));
        };
        match url_scheme(text) {
            None => Ok(Database::Sqlite(setting.to_owned())),
            Some("postgres" | "postgresql") => Ok(Database::Postgres(Box::new(Target::parse(text)?))),
            Some(scheme) => Err(DatabaseError::new(unknown_scheme(scheme))),
        }
    }
}

impl FromStr for Database {
    type Err = DatabaseError;

    fn from_str(setting: &str) -> Result<Database, DatabaseError> {
        Database::parse(Path::new(setting))
    }
}

/// The file's path, or the server's URL with its password as `***`.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(target) => write!(f, "{target}"),
        }
    }
}

/// The scheme of `text` if it starts like a URL, `scheme://` (RFC 3986: a
/// letter, then letters, digits, `+`, `-`, `.`).
fn url_scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let url_like =
        first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    url_like.then_some(scheme)
}

/// Why `scheme://` is refused, and what to write instead. Only the scheme
/// is shown: the rest may hold a password.
fn unknown_scheme(scheme: &str) -> String {
    let hint = match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => " (write the scheme in lower case)".to_owned(),
        "sqlite" | "sqlite3" | "file" => ": a SQLite file is given by its path alone".to_owned(),
        _ => String::new(),
    };
    format!(
        "`{scheme}://` is not a database oncall can use{hint}; give a SQLite file's path (like \
         /var/lib/oncall/oncall.db) or a PostgreSQL server's postgres:// URL"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Database, DatabaseError> {
        text.parse()
    }

    #[test]
    fn a_path_is_a_sqlite_file_as_given() {
        for path in [
            "oncall.db",
            "./oncall.db",
            "data/oncall.db",
            "/var/lib/oncall/oncall.db",
            // No `//` after the colon: a file name, as it always was.
            "sqlite:oncall.db",
            "file:oncall.db",
            "C:oncall.db",
            // Not a scheme: starts with a dot or a digit, or holds a `/`.
            "./mysql://x",
            "1db://x",
            "data/x://y",
        ] {
            assert_eq!(parse(path), Ok(Database::Sqlite(PathBuf::from(path))), "{path}");
        }
        use std::os::unix::ffi::OsStrExt;
        let not_utf8 = Path::new(std::ffi::OsStr::from_bytes(b"postgres://\xff"));
        assert_eq!(Database::parse(not_utf8), Ok(Database::Sqlite(not_utf8.to_owned())));
    }

    #[test]
    fn postgres_and_postgresql_urls_are_servers() {
        for url in [
            "postgres://oncall@db.internal:5432/oncall",
            "postgresql://oncall@db.internal/oncall",
            "postgres://db.internal",
            "postgres://u@[::1]:5433/db?connect_timeout=3&sslmode=disable",
            "postgresql:///oncall?host=/run/postgresql",
        ] {
            match parse(url) {
                Ok(Database::Postgres(target)) => assert_eq!(target.to_string(), url, "no password: shown as is"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_bad_postgres_url_is_refused_naming_what_is_wrong() {
        for (url, says) in [
            ("postgres://db.internal:99999/oncall", "invalid value for option `port`"),
            ("postgres://db.internal:port/oncall", "invalid value for option `port`"),
            (
                "postgres://db.internal/oncall?sslmode=sometimes",
                "invalid value for option `sslmode`",
            ),
            (
                "postgres://db.internal/oncall?connect_timeout",
                "unterminated parameter",
            ),
        ] {
            let error = parse(url).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("`{url}` is not a PostgreSQL URL oncall can use")) && error.contains(says),
                "{url}: {error}"
            );
        }
    }

    #[test]
    fn other_schemes_are_refused_not_taken_for_files() {
        for (setting, says) in [
            (
                "mysql://oncall@db.internal/oncall",
                "`mysql://` is not a database oncall can use; give",
            ),
            (
                "sqlite:///var/lib/oncall/oncall.db",
                "a SQLite file is given by its path alone",
            ),
            (
                "file:///var/lib/oncall/oncall.db",
                "a SQLite file is given by its path alone",
            ),
            ("Postgres://db.internal/oncall", "(write the scheme in lower case)"),
            ("redis+tls://db", "`redis+tls://` is not a database"),
        ] {
            let error = parse(setting).unwrap_err().to_string();
            assert!(error.contains(says), "{setting}: {error}");
            assert!(error.contains("postgres:// URL"), "{setting}: {error}");
        }
        // The rest of an unknown URL may be a password: only the scheme shows.
        let error = parse("mysql://oncall:hunter2@db/oncall").unwrap_err().to_string();
        assert!(!error.contains("hunter2") && !error.contains("oncall@"), "{error}");
    }

    #[test]
    fn passwords_never_show_in_display_debug_or_errors() {
        for (url, shown) in [
            ("postgres://oncall:hunter2@db/oncall", "postgres://oncall:***@db/oncall"),
            (
                "postgresql://oncall:hunter2@db:5432/oncall",
                "postgresql://oncall:***@db:5432/oncall",
            ),
            ("postgres://:hunter2@db/oncall", "postgres://:***@db/oncall"),
            // Encoded, or holding the characters that end the user part.
            (
                "postgres://oncall:hun%40ter2@db/oncall",
                "postgres://oncall:***@db/oncall",
            ),
            (
                "postgres://oncall:hun@ter2@db/oncall",
                "postgres://oncall:***@db/oncall",
            ),
            (
                "postgres://oncall:hun/ter?2@db/oncall",
                "postgres://oncall:***@db/oncall",
            ),
            // As a parameter, plain or encoded, among others.
            (
                "postgres://oncall@db/oncall?password=hunter2",
                "postgres://oncall@db/oncall?password=***",
            ),
            (
                "postgres://db/oncall?sslmode=disable&pass%77ord=hunter2&connect_timeout=3",
                "postgres://db/oncall?sslmode=disable&pass%77ord=***&connect_timeout=3",
            ),
        ] {
            let database = parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(database.to_string(), shown, "{url}");
            let debug = format!("{database:?}");
            assert!(!debug.contains("hunter2") && !debug.contains("hun%40ter2"), "{debug}");
            assert!(debug.contains(shown), "{debug}");
        }
        // A URL refused for something else hides its password too.
        let error = parse("postgres://oncall:hunter2@db:99999/oncall").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
    }
}
