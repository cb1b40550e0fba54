//! A throwaway PostgreSQL server for the tests, and a fresh schema on it
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
    let url = std::env::var(VARIABLE).ok();
    let ci = std::env::var("CI").ok();
    match policy(url.as_deref(), ci.as_deref()) {
        Policy::Run(url) => Some(url),
        Policy::Fail => {
            panic!("{test} needs PostgreSQL: {VARIABLE} is not set (scripts/test starts a server and sets it)")
        }
        Policy::Skip => {
            eprintln!("SKIPPED {test}: no PostgreSQL ({VARIABLE} is not set; scripts/test sets it)");
            None
        }
    }
}

#[derive(Debug, PartialEq)]
enum Policy {
    Run(String),
    Skip,
    Fail,
}

/// What a test needing PostgreSQL does, given `ONCALL_TEST_POSTGRES` and `CI`.
fn policy(url: Option<&str>, ci: Option<&str>) -> Policy {
    match url.filter(|u| !u.is_empty()) {
        Some(url) => Policy::Run(url.to_owned()),
        None if ci.is_some_and(|v| !v.is_empty() && v != "false" && v != "0") => Policy::Fail,
        None => Policy::Skip,
    }
}

#[test]
fn without_a_server_tests_fail_under_ci_and_skip_elsewhere() {
    let url = "postgres://postgres@127.0.0.1:5432/postgres";
    assert_eq!(policy(Some(url), Some("true")), Policy::Run(url.into()));
    assert_eq!(policy(Some(url), None), Policy::Run(url.into()));
    for ci in ["true", "1", "yes"] {
        assert_eq!(policy(None, Some(ci)), Policy::Fail, "CI={ci}");
        assert_eq!(policy(Some(""), Some(ci)), Policy::Fail, "CI={ci}");
    }
    for ci in [None, Some(""), Some("false"), Some("0")] {
        assert_eq!(policy(None, ci), Policy::Skip, "CI={ci:?}");
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

/// A new, empty place for `test` on the test server, and its URL; `None`
/// as for [`server`]. A schema of its own in the server's database (the
/// URL sets `search_path` to it), not a database of its own: a database is
/// a copy of a template, megabytes written and synced per test.
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
    let sql = format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}");
    // The blocking client runs a runtime of its own: not on a Tokio worker.
    let admin_url = admin.clone();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to {VARIABLE}: {e}"));
        client.batch_execute(&sql).unwrap();
    })
    .join()
    .unwrap();
    let separator = if admin.contains('?') { '&' } else { '?' };
    Some(format!("{admin}{separator}options=-csearch_path%3D{name}"))
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
