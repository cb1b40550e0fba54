//! A throwaway PostgreSQL server for the tests, and a fresh database on it
//! per test.
//!
//! `scripts/test` starts the server (initdb + pg_ctl on loopback, in a temp
//! directory) and exports its URL as `ONCALL_TEST_POSTGRES`. The policy when
//! the variable is missing: under CI (`CI` set and not `false`/`0`) a test
//! that needs PostgreSQL fails, naming the variable; elsewhere it prints a
//! loud line to stderr and returns, so that `cargo test` works on a machine
//! without PostgreSQL. `scripts/test` always sets it.

use std::sync::atomic::{AtomicU64, Ordering};

/// The variable naming the test server: a URL whose database is an
/// administrative one (say `postgres`), used to create the tests' databases.
pub const VARIABLE: &str = "ONCALL_TEST_POSTGRES";

/// The test server's URL; `None` (with a loud message) when it is not set
/// outside CI. Panics when it is not set under CI.
pub fn server(test: &str) -> Option<String> {
    match std::env::var(VARIABLE) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
            assert!(
                !ci,
                "{test} needs PostgreSQL: {VARIABLE} is not set (scripts/test starts a server and sets it)"
            );
            eprintln!("SKIPPED {test}: no PostgreSQL ({VARIABLE} is not set; scripts/test sets it)");
            None
        }
    }
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    format!("{}/{database}{query}", &base[..host_end])
}

/// A new, empty database for `test` on the test server (dropped first if a
/// previous run left it), and its URL; `None` as for [`server`].
pub fn fresh_database(test: &str) -> Option<String> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let admin = server(test)?;
    let name: String = format!(
        "oncall_{}_{}_{}",
        test.chars()
            .filter(char::is_ascii_alphanumeric)
            .take(30)
            .collect::<String>(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
    .to_lowercase();
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE); CREATE DATABASE {name}");
    // The blocking client runs a runtime of its own: not on a Tokio worker.
    let admin_url = admin.clone();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to {VARIABLE}: {e}"));
        for statement in sql.split("; ") {
            client.batch_execute(statement).unwrap();
        }
    })
    .join()
    .unwrap();
    Some(with_database(&admin, &name))
}

/// Runs `sql` on the database at `url` and returns the first column of each
/// row as text (off the async runtime).
pub fn query_strings(url: &str, sql: &str) -> Vec<String> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client
            .simple_query(&sql)
            .unwrap()
            .into_iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or_default().to_owned()),
                _ => None,
            })
            .collect()
    })
    .join()
    .unwrap()
}

#[test]
fn the_database_of_a_url_is_replaced() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgresql://u:p@h:1/db?sslmode=disable", "x"),
        "postgresql://u:p@h:1/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h:1", "x"), "postgres://h:1/x");
}
