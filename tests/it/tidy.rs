//! Checks on the source tree itself.

use std::path::Path;

/// The invariant of ARCHITECTURE.md: `src/domain` does no I/O and never reads
/// the clock, so it can be tested with any `now` and cannot fail on the
/// outside world.
#[test]
fn domain_does_no_io_and_never_reads_the_clock() {
    let forbidden = [
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
        "std::fs",
        "std::net",
        "std::env",
        "std::process",
        "std::thread::sleep",
        "tokio",
        "rusqlite",
        "reqwest",
        "lettre",
        "axum",
        "println!",
        "eprintln!",
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    let mut checked = 0;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        checked += 1;
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                if code.contains(word) {
                    found.push(format!("{}:{}: uses `{word}`", path.display(), n + 1));
                }
            }
        }
    }
    assert!(checked >= 5, "expected the domain's files in {}", dir.display());
    assert!(found.is_empty(), "the domain must stay pure:\n{}", found.join("\n"));
}

/// ARCHITECTURE.md: `src/clock.rs` is the only reader of the wall clock;
/// everything else is told the time by a `Clock`, so a manual clock steps
/// the whole daemon. (Monotonic timers, `std::time::Instant` and tokio's,
/// measure timeouts and are not the time of day.)
#[test]
fn only_the_clock_module_reads_the_wall_clock() {
    let forbidden = ["Utc::now", "Local::now", "SystemTime::now", "chrono::Local"];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![root.clone()];
    let mut checked = 0;
    let mut found = Vec::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") || path == root.join("clock.rs") {
            continue;
        }
        checked += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                if code.contains(word) {
                    found.push(format!("{}:{}: uses `{word}`", path.display(), n + 1));
                }
            }
        }
    }
    assert!(checked >= 50, "expected the sources in {}", root.display());
    assert!(
        found.is_empty(),
        "only src/clock.rs reads the wall clock:\n{}",
        found.join("\n")
    );
}

/// The `{...}` pieces that `code` puts into SQL text with `format!` other
/// than the names of SQL constants (`{SELECT_OVERRIDE} WHERE id = ?1` is
/// SQL built from SQL; `{team}` would be a value spliced into it).
fn values_spliced_into_sql(code: &str) -> Vec<String> {
    const SQL: [&str; 8] = [
        "SELECT ", "INSERT ", "UPDATE ", "DELETE ", " WHERE ", " VALUES", "PRAGMA ", " FROM ",
    ];
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("format!(") {
        rest = rest[at + "format!(".len()..].trim_start();
        let Some(literal) = rest.strip_prefix('"').and_then(|r| r.split('"').next()) else {
            continue;
        };
        if !SQL.iter().any(|k| literal.contains(k)) {
            continue;
        }
        for piece in literal.split('{').skip(1) {
            let name = piece.split(['}', ':']).next().unwrap_or("");
            let constant = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !constant && !piece.is_empty() {
                found.push(name.to_string());
            }
        }
    }
    found
}

#[test]
fn the_tidy_check_finds_values_spliced_into_sql() {
    assert_eq!(
        values_spliced_into_sql(r#"conn.execute(&format!("DELETE FROM alerts WHERE team = '{team}'"), [])"#),
        ["team"]
    );
    assert_eq!(
        values_spliced_into_sql(r#".prepare(&format!("SELECT id FROM t WHERE id = {}", id))"#),
        [""]
    );
    assert!(values_spliced_into_sql(r#".prepare_cached(&format!("{SELECT_OVERRIDE} WHERE id = ?1"))"#).is_empty());
    assert!(values_spliced_into_sql(r#"format!("cannot open the lock file {}: {e}", path)"#).is_empty());
    assert_eq!(
        values_spliced_into_sql("Database(format!(\n    \"UPDATE alerts SET status = {status}\""),
        ["status"]
    );
}

/// The mark of a line that splices into SQL only names of tables and
/// columns the code itself lists, never a value.
const IDENTIFIERS_ONLY: &str = "tidy: identifiers only";

/// SQL only through bound parameters: no store code splices a value into
/// SQL text with `format!` (SQL constants may be joined; tests may build
/// bad rows on purpose, so `#[cfg(test)]` modules are not read).
#[test]
fn the_store_binds_every_value_it_puts_in_sql() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    let mut files = vec![];
    let mut todo = vec![dir];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 3, "expected the store's files");
    let mut found = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("\n#[cfg(test)]").next().unwrap_or("");
        // A call's text may start on the line after `format!(`.
        let lines: Vec<&str> = code.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            // Names of tables and columns from the code's own constants
            // (`oncall migrate-store` copies every table) are marked so.
            if line.contains(IDENTIFIERS_ONLY) || n > 0 && lines[n - 1].contains(IDENTIFIERS_ONLY) {
                continue;
            }
            let with_next = format!("{line} {}", lines.get(n + 1).unwrap_or(&""));
            for value in values_spliced_into_sql(&with_next) {
                found.push(format!("{}:{}: `{{{value}}}` in SQL text", path.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "bind values as parameters (?1):\n{}",
        found.join("\n")
    );
}

/// The text of the function `name` in `code`: from its `fn` line to the
/// closing brace at the `fn`'s own indentation.
fn function<'a>(code: &'a str, name: &str) -> &'a str {
    let start = code
        .find(&format!("fn {name}("))
        .unwrap_or_else(|| panic!("no fn {name}"));
    let line_start = code[..start].rfind('\n').map_or(0, |n| n + 1);
    let indent = code[line_start..].len() - code[line_start..].trim_start().len();
    let close = format!("\n{}}}\n", " ".repeat(indent));
    let end = code[start..]
        .find(&close)
        .unwrap_or_else(|| panic!("no end of fn {name}"));
    &code[line_start..start + end + close.len()]
}

/// Whether a secret compared in time that depends on it cannot be shown by
/// a functional test; what can be checked is that every check of a key,
/// token or signature goes through a constant-time comparison (`subtle`'s
/// `ct_eq`, or the `hmac` crate's `verify_slice`, which uses it), that
/// keys and API tokens are compared as SHA-256 digests (so a key's length
/// does not show either), that every key is compared (no early exit), that
/// both API tokens are (`|`, not `||`), and that a link's MAC is checked
/// before anything it claims is read (docs/security.md).
#[test]
fn secrets_are_compared_in_constant_time() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let read = |file: &str| std::fs::read_to_string(root.join(file)).unwrap();
    let (http, links) = (read("http/mod.rs"), read("links.rs"));
    let (sms, calendar, signin) = (read("http/sms.rs"), read("http/calendar.rs"), read("web/signin.rs"));
    let (voice, proofs) = (read("http/voice.rs"), read("http/proofs.rs"));
    // (where, the function, what it must hold, what it must not).
    let checks: [(&str, &str, &[&str], &[&str]); 13] = [
        (
            "http/mod.rs",
            function(&http, "same_secret"),
            &["Sha256::digest", ".ct_eq("],
            &["=="],
        ),
        (
            "http/mod.rs",
            function(&http, "team_for_key"),
            &["same_secret("],
            &["==", "break", "return", "find("],
        ),
        (
            "http/mod.rs",
            function(&http, "authorize_api"),
            &["same_secret(token, given)", "same_secret(next, given)"],
            &["==", "||"],
        ),
        ("links.rs", function(&links, "verify"), &[".verify_slice("], &["=="]),
        (
            "links.rs",
            function(&links, "standing_token_ok"),
            &[".ct_eq("],
            &["want == ", "== want"],
        ),
        // A phone verification code, by its keyed digest.
        (
            "links.rs",
            function(&links, "phone_code_matches"),
            &[".ct_eq("],
            &["want == digest", "digest == want"],
        ),
        (
            "http/sms.rs",
            function(&sms, "signature_matches"),
            &[".verify_slice("],
            &["=="],
        ),
        // Every Twilio webhook goes through the one signature check.
        (
            "http/sms.rs",
            function(&sms, "signed_form"),
            &["signature_matches("],
            &[],
        ),
        ("http/sms.rs", function(&sms, "inbound"), &["signed_form("], &[]),
        ("http/voice.rs", function(&voice, "check"), &["signed_form("], &[]),
        (
            "http/proofs.rs",
            function(&proofs, "twilio_checked"),
            &["signed_form("],
            &[],
        ),
        (
            "http/calendar.rs",
            function(&calendar, "check_token"),
            &["calendar_token_ok("],
            &["=="],
        ),
        // A status or sign-in link is checked where one signs in (`/status`
        // only redirects there).
        (
            "web/signin.rs",
            function(&signin, "valid_link"),
            &["status_token_ok("],
            &["=="],
        ),
    ];
    let mut found = Vec::new();
    for (file, body, must, must_not) in checks {
        let name = body.split("fn ").nth(1).unwrap().split('(').next().unwrap();
        for needle in must {
            if !body.contains(needle) {
                found.push(format!("src/{file}: fn {name} lacks `{needle}`"));
            }
        }
        for needle in must_not {
            if body.contains(needle) {
                found.push(format!("src/{file}: fn {name} has `{needle}`"));
            }
        }
    }
    // The MAC before the claim: a forged link is "not valid" whatever it says.
    let verify = function(&links, "verify");
    let mac_at = verify.find(".verify_slice(").unwrap_or(usize::MAX);
    if verify.find("parse_claim(").is_none_or(|claim| claim < mac_at) {
        found.push("src/links.rs: fn verify reads the claim before it checks the MAC".into());
    }
    assert!(found.is_empty(), "secrets compared otherwise:\n{}", found.join("\n"));
}
