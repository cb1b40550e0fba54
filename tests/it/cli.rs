//! The command-line contract, run as a user would: the real binary, the
//! example `schedules/`, exit codes and output formats.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schedules")
}

fn oncall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(args)
        .env_remove("ONCALL_SCHEDULES")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn temp_schedules(files: &[(&str, &str)]) -> tempdir::Dir {
    let dir = tempdir::Dir::new();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// A throwaway folder, removed when dropped.
mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Dir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::SeqCst);
            let path = std::env::temp_dir().join(format!("oncall-test-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn check_passes_on_the_examples() {
    let o = oncall(&["check", "--schedules", examples().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("ok: "), "{}", stdout(&o));
}

#[test]
fn check_fails_with_file_line_col() {
    let dir = temp_schedules(&[
        ("people.yaml", "people:\n  alice: {email: a@example.com}\n"),
        (
            "t.yaml",
            "team: t\ntimezone: Europe/London\nrotas:\n  r:\n    members: [alise]\n    start: 2026-01-01T00:00\n    every: 1w\n",
        ),
    ]);
    let o = oncall(&["check", "--schedules", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let file = dir.path().join("t.yaml");
    let expected = format!(
        "{}:5:15: error: unknown person `alise`; did you mean `alice`?",
        file.display()
    );
    assert!(stderr(&o).contains(&expected), "{}", stderr(&o));
}

/// Issue 16: a rule with a non-ASCII weekday made `check` and `who` panic
/// (exit 101, a backtrace) inside the `rrule` crate.
#[test]
fn issue16_check_and_who_report_a_non_ascii_weekday_as_an_error() {
    let dir = temp_schedules(&[
        ("people.yaml", "people:\n  alice: {email: a@example.com}\n"),
        (
            "t.yaml",
            "team: t\ntimezone: UTC\nrotas:\n  r:\n    members: [alice]\n    start: 2026-01-01T00:00\n    handoff: FREQ=MONTHLY;BYDAY=лO\n",
        ),
    ]);
    let file = dir.path().join("t.yaml");
    for args in [&["check"][..], &["who", "--at", "2026-02-01T00:00:00Z"][..]] {
        let mut args = args.to_vec();
        args.extend(["--schedules", dir.path().to_str().unwrap()]);
        let o = oncall(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        let expected = format!("{}:7:14: error: rota r: invalid RRULE: ", file.display());
        assert!(stderr(&o).contains(&expected), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn check_warns_about_gaps_and_unreachable_people() {
    let dir = temp_schedules(&[
        (
            "people.yaml",
            "people:\n  alice: {email: a@example.com}\n  bob: {name: Bob}\n",
        ),
        (
            "t.yaml",
            "team: t\ntimezone: UTC\nrotas:\n  r:\n    members: [alice, bob]\n    start: 2020-01-01T00:00\n    every: 1d\n    active: [{days: [weekdays]}]\n",
        ),
    ]);
    let o = oncall(&["check", "--schedules", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("t.yaml:4:3: warning: rota t/r has nobody on call from"),
        "{err}"
    );
    assert!(
        err.contains("people.yaml:3:3: warning: bob is on t/r but has no way to be reached"),
        "{err}"
    );
}

#[test]
fn who_at_christmas_shows_the_override() {
    let o = oncall(&[
        "who",
        "--schedules",
        examples().to_str().unwrap(),
        "--at",
        "2026-12-25T03:00:00Z",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json_lines(&o);
    let primary = rows
        .iter()
        .find(|r| r["team"] == "payments" && r["rota"] == "primary")
        .unwrap();
    assert_eq!(primary["user"], "dave");
    assert_eq!(primary["since"], "2026-12-24T00:00:00Z");
    assert_eq!(primary["until"], "2026-12-27T00:00:00Z");
    // Every rota of every team answers.
    assert_eq!(rows.len(), 5);
}

#[test]
fn who_table_without_at_uses_now() {
    let o = oncall(&["who", "--schedules", examples().to_str().unwrap(), "--team", "platform"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("on call at "), "{out}");
    assert!(out.contains("TEAM") && out.contains("platform  primary"), "{out}");
    assert!(!out.contains("payments"), "{out}");
}

#[test]
fn shifts_json_is_one_object_a_line_merged() {
    let o = oncall(&[
        "shifts",
        "--schedules",
        examples().to_str().unwrap(),
        "--from",
        "2026-12-21T00:00:00Z",
        "--to",
        "2027-01-04T00:00:00Z",
        "--team",
        "payments",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(r#"{"team":"payments","rota":"primary","user":"#),
        "{first}"
    );
    let primary: Vec<(String, String, String)> = json_lines(&o)
        .iter()
        .filter(|r| r["rota"] == "primary")
        .map(|r| {
            (
                r["user"].as_str().unwrap().into(),
                r["start"].as_str().unwrap().into(),
                r["end"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = [
        ("bob", "2026-12-21T00:00:00Z", "2026-12-21T09:00:00Z"),
        ("carol", "2026-12-21T09:00:00Z", "2026-12-24T00:00:00Z"),
        ("dave", "2026-12-24T00:00:00Z", "2026-12-27T00:00:00Z"),
        ("carol", "2026-12-27T00:00:00Z", "2026-12-28T09:00:00Z"),
        ("alice", "2026-12-28T09:00:00Z", "2026-12-31T09:00:00Z"),
        ("bob", "2026-12-31T09:00:00Z", "2027-01-01T09:00:00Z"),
        ("alice", "2027-01-01T09:00:00Z", "2027-01-04T00:00:00Z"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(u, s, e)| (u.to_string(), s.to_string(), e.to_string()))
        .collect();
    assert_eq!(primary, expected);
    // mia shadows the primary in December: in JSON only with --shadows,
    // marked, so that a reader of on-call lines never counts her.
    assert!(json_lines(&o).iter().all(|r| r.get("shadow_of").is_none()));
    let with = oncall(&[
        "shifts",
        "--schedules",
        examples().to_str().unwrap(),
        "--from",
        "2026-12-24T00:00:00Z",
        "--to",
        "2026-12-27T00:00:00Z",
        "--team",
        "payments",
        "--format",
        "json",
        "--shadows",
    ]);
    let shadows: Vec<String> = json_lines(&with)
        .iter()
        .filter(|r| r.get("shadow_of").is_some())
        .map(|r| r.to_string())
        .collect();
    assert_eq!(
        shadows,
        [
            r#"{"team":"payments","rota":"primary","user":"mia","start":"2026-12-24T00:00:00Z","end":"2026-12-27T00:00:00Z","shadow_of":"dave"}"#
        ]
    );
}

#[test]
fn shifts_table_shows_gaps_and_json_only_with_flag() {
    let dir = temp_schedules(&[
        ("people.yaml", "people:\n  alice: {email: a@example.com}\n"),
        (
            "t.yaml",
            "team: t\ntimezone: UTC\nrotas:\n  r: {members: [alice], start: 2026-01-02T00:00, every: 1w}\n",
        ),
    ]);
    let d = dir.path().to_str().unwrap();
    let args = [
        "shifts",
        "--schedules",
        d,
        "--from",
        "2026-01-01T00:00:00Z",
        "--to",
        "2026-01-03T00:00:00Z",
    ];
    let table = stdout(&oncall(&args));
    assert!(table.contains("(nobody)") && table.contains("alice"), "{table}");
    let json = stdout(&oncall(&[&args[..], &["--format", "json"]].concat()));
    assert_eq!(json.lines().count(), 1, "{json}");
    let with_gaps = oncall(&[&args[..], &["--format", "json", "--gaps"]].concat());
    let rows = json_lines(&with_gaps);
    assert_eq!(rows.len(), 2);
    assert!(rows[0]["user"].is_null());
}

#[test]
fn usage_errors_exit_2() {
    let d = examples();
    let bad_at = oncall(&["who", "--schedules", d.to_str().unwrap(), "--at", "tomorrow"]);
    assert_eq!(bad_at.status.code(), Some(2));
    assert!(stderr(&bad_at).contains("not an RFC 3339 time"), "{}", stderr(&bad_at));
    let backwards = oncall(&[
        "shifts",
        "--schedules",
        d.to_str().unwrap(),
        "--from",
        "2026-02-01T00:00:00Z",
        "--to",
        "2026-01-01T00:00:00Z",
    ]);
    assert_eq!(backwards.status.code(), Some(2));
}

/// The `database` setting is read once, the same way by `serve` and by the
/// commands' `--database`: a scheme other than PostgreSQL's is refused
/// (it used to become a SQLite file in a folder called `mysql:`, or, for
/// `who`, no overrides at all, silently), a PostgreSQL URL that cannot be
/// used is refused before anything starts, and no message shows the
/// URL's password.
#[test]
fn issue17_the_database_setting_refuses_unknown_schemes_and_hides_passwords() {
    let dir = tempdir::Dir::new();
    let schedules = examples();
    let run = |args: &[&str], database: &str| {
        Command::new(env!("CARGO_BIN_EXE_oncall"))
            .args(args)
            .arg("--database")
            .arg(database)
            .current_dir(dir.path())
            .env("ONCALL_SCHEDULES", &schedules)
            .env_remove("ONCALL_CONFIG")
            .env_remove("ONCALL_DATABASE")
            .env_remove("ONCALL_LINK_SECRET")
            .output()
            .unwrap()
    };
    let mysql = "mysql://oncall:hunter2@db.internal/oncall";
    let bad_port = "postgres://oncall:hunter2@127.0.0.1:99999/oncall";

    let o = run(&["serve", "--listen", "127.0.0.1:0"], mysql);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("database: `mysql://` is not a database oncall can use"),
        "{}",
        stderr(&o)
    );
    let o = run(&["serve", "--listen", "127.0.0.1:0"], bad_port);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("database: `postgres://oncall:***@127.0.0.1:99999/oncall` is not a PostgreSQL URL"),
        "{}",
        stderr(&o)
    );
    for command in ["who", "shifts", "pay", "burden", "cover"] {
        let args: &[&str] = match command {
            "shifts" => &[
                "shifts",
                "--from",
                "2026-01-01T00:00:00Z",
                "--to",
                "2026-01-02T00:00:00Z",
            ],
            "pay" => &["pay", "--month", "2026-01"],
            "cover" => &[
                "cover",
                "--team",
                "payments",
                "--from",
                "2026-01-01T00:00:00Z",
                "--to",
                "2026-01-02T00:00:00Z",
            ],
            other => &[other],
        };
        for database in [mysql, bad_port] {
            let o = run(args, database);
            assert_eq!(o.status.code(), Some(2), "{command} {database}: {}", stderr(&o));
            assert!(
                stderr(&o).starts_with(&format!("oncall {command}: --database: `")),
                "{command}: {}",
                stderr(&o)
            );
            assert!(!stderr(&o).contains("hunter2"), "{command}: {}", stderr(&o));
        }
    }
    // `backup` copies SQLite files only: a server is refused by its kind,
    // without its password.
    let o = run(
        &["backup", "--to", "copy.db"],
        "postgres://oncall:hunter2@127.0.0.1:5432/oncall",
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("postgres://oncall:***@127.0.0.1:5432/oncall is a PostgreSQL database")
            && stderr(&o).contains("pg_dump"),
        "{}",
        stderr(&o)
    );
    let o = run(&["backup", "--to", "copy.db"], mysql);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["migrate-store", "--from", "oncall.db", "--to", mysql])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("oncall migrate-store: --to: `mysql://` is not a database"),
        "{}",
        stderr(&o)
    );
    // Nothing was made in the working directory: no `mysql:` folder, no file.
    let made: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(made.is_empty(), "{made:?}");
}

/// A store's error keeps its cause (the driver's, an I/O error) for code to
/// inspect, and says it in its own words: the daemon's last words say it
/// once, not once more for each cause in the chain.
#[test]
fn issue17_a_store_error_at_start_says_its_cause_once() {
    let dir = tempdir::Dir::new();
    let database = dir.path().join("no such folder").join("oncall.db");
    let o = Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(&database)
        .env("ONCALL_SCHEDULES", examples())
        .env_remove("ONCALL_CONFIG")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let last = stderr(&o).lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with(&format!(
            "oncall: cannot open the database {}: cannot open the lock file",
            database.display()
        )),
        "{last}"
    );
    assert_eq!(last.matches("No such file or directory").count(), 1, "{last}");
}

/// The daemon's `oncall serving` line names its PostgreSQL database with
/// the password as `***` (it used to print the URL as given), and nothing
/// else in its log shows the password. The test server trusts loopback, so
/// the password is never asked for.
#[test]
fn issue17_the_serving_line_names_a_postgres_database_without_its_password() {
    let Some(url) = crate::pg::fresh_database("issue17_serving_line") else {
        return;
    };
    // The test server's URL names its user (`postgres://USER@HOST...`).
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').expect("the test server's URL names a user");
    let with_password = format!("{scheme}://{user}:hunter2@{host}");
    let dir = crate::daemon::temp_dir("serving-line");
    crate::daemon::write_schedules(&dir);
    let crate::support::Served {
        mut child, log, drain, ..
    } = crate::support::serve(
        Command::new(env!("CARGO_BIN_EXE_oncall"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(&dir)
            .env_remove("ONCALL_CONFIG")
            .env_remove("ONCALL_SCHEDULES")
            .env_remove("ONCALL_LOG")
            .env_remove("ONCALL_LOG_FORMAT")
            .env("ONCALL_DATABASE", &with_password)
            .env("ONCALL_LINK_SECRET", "issue17-serving-line-link-secret-0123456789"),
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    drain.join().unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(status.code(), Some(0), "{log}");
    let serving = log
        .lines()
        .find(|l| l.contains("oncall serving"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        serving.contains(&format!("database={scheme}://{user}:***@{host}")),
        "{serving}"
    );
    assert!(!log.contains("hunter2"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_team_and_broken_files_exit_1() {
    let o = oncall(&["who", "--schedules", examples().to_str().unwrap(), "--team", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no team `nope`"), "{}", stderr(&o));

    let dir = temp_schedules(&[("t.yaml", "team: [\n")]);
    let o = oncall(&["who", "--schedules", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("t.yaml:"), "{}", stderr(&o));

    let o = oncall(&["who", "--schedules", "/nonexistent/folder"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot read the schedules folder"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn schedules_folder_from_the_environment() {
    let o = Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["who", "--at", "2026-12-25T03:00:00Z", "--format", "json"])
        .env("ONCALL_SCHEDULES", examples())
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json_lines(&o).len(), 5);
}

/// `oncall serve` on its defaults (but port 0), as an operator runs it:
/// answers /healthz, and on SIGTERM finishes and exits 0.
#[test]
fn serve_runs_and_stops_cleanly_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = crate::daemon::temp_dir("serve");
    crate::daemon::write_schedules(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(&dir)
        .env_remove("ONCALL_SCHEDULES")
        .env_remove("ONCALL_DATABASE")
        .env_remove("ONCALL_API_TOKEN")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let address = loop {
        let line = lines.next().expect("the daemon exited before serving").unwrap();
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.split("address=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    for line in lines {
        log.push_str(&line.unwrap());
        log.push('\n');
    }
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("oncall stopped"), "{log}");
    assert!(dir.join("oncall.db").exists(), "the default database is ./oncall.db");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `oncall burden` counts each person's share of their team's hours and
/// flags the one well above the average; `oncall cover` suggests who is
/// free for a stretch, least burdened first.
#[test]
fn burden_flags_the_overloaded_and_cover_suggests_the_least_burdened() {
    // alice takes two weeks in three on the primary; bob and carol share a
    // secondary (a week each, alternating) with bob also on the primary.
    // erin shadows bob on the primary: shadow hours, apart, in no average.
    let dir = temp_schedules(&[
        ("people.yaml", crate::support::PEOPLE),
        (
            "t.yaml",
            "team: t\ntimezone: UTC\nrotas:\n  primary: {members: [alice, alice, bob], start: 2026-01-05T00:00, every: 1w, \
             shadows: [{user: erin, of: bob}]}\n\
             \x20 secondary: {members: [carol, dave], start: 2026-01-05T00:00, every: 1w}\n",
        ),
    ]);
    let schedules = dir.path().to_str().unwrap();
    let o = oncall(&[
        "burden",
        "--schedules",
        schedules,
        "--source",
        "schedule",
        "--from",
        "2026-01-05T00:00:00Z",
        "--to",
        "2026-03-30T00:00:00Z",
        "--threshold",
        "1.25",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    expect_test::expect![[r#"
        on-call burden from 2026-01-05T00:00:00Z to 2026-03-30T00:00:00Z
        TEAM        PERSON           HOURS    WEEKEND    HOLIDAY     SHADOW  PAGES  NIGHT PAGES   SHARE
        t           alice          1344.00     384.00       0.00       0.00      0            0   1.33x  << above the team average
        t           carol          1008.00     288.00       0.00       0.00      0            0   1.00x
        t           dave           1008.00     288.00       0.00       0.00      0            0   1.00x
        t           bob             672.00     192.00       0.00       0.00      0            0   0.67x
        t           erin              0.00       0.00       0.00     672.00      0            0   0.00x
        carrying more than 1.25x their team's average: alice on t (consider overrides; `oncall cover` suggests who)
    "#]]
    .assert_eq(&stdout(&o));

    // Who could take 2026-03-31, in the week alice and carol are on?
    let o = oncall(&[
        "cover",
        "--schedules",
        schedules,
        "--source",
        "schedule",
        "--team",
        "t",
        "--from",
        "2026-03-31T00:00:00Z",
        "--to",
        "2026-04-01T00:00:00Z",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].trim_start().starts_with("bob"), "{text}");
    assert!(lines[1].trim_start().starts_with("dave"), "{text}");
}

/// Issue 16: `oncall check` refuses an integration key too short to be
/// secret (one character was accepted) and one key (or one variable, or
/// one file) given to two teams, each at its place.
#[test]
fn issue16_check_refuses_short_and_shared_intake_keys() {
    let team = |name: &str, key_line: &str| {
        format!(
            "team: {name}\ntimezone: UTC\nrotas:\n  r: {{members: [alice], start: 2026-01-05T09:00, every: 1w}}\n{key_line}\n"
        )
    };
    let files = [
        ("people.yaml".to_string(), crate::support::PEOPLE.to_string()),
        ("a.yaml".to_string(), team("a", "intake_key: k")),
        ("b.yaml".to_string(), team("b", "intake_key: shared-key-0123456789")),
        (
            "c.yaml".to_string(),
            team(
                "c",
                "intake_key: c-key-0123456789abc\nnext_intake_key: shared-key-0123456789",
            ),
        ),
        ("d.yaml".to_string(), team("d", "intake_key_env: SAME_VARIABLE")),
        ("e.yaml".to_string(), team("e", "intake_key_env: SAME_VARIABLE")),
        ("f.yaml".to_string(), team("f", "intake_key: fifteen-chars-k")),
        ("g.yaml".to_string(), team("g", "intake_key: sixteen-chars-ke")),
    ];
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let dir = temp_schedules(&borrowed);
    let o = oncall(&["check", "--schedules", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let at = |file: &str| dir.path().join(file).display().to_string();
    for line in [
        format!(
            "{}:5:13: error: this integration key is 1 character long: use at least 16 random characters (`openssl rand -hex 16` makes 32)",
            at("a.yaml")
        ),
        format!(
            "{}:6:18: error: team c has the same integration key as team b ({}:5:13): give each team its own",
            at("c.yaml"),
            at("b.yaml")
        ),
        format!(
            "{}:5:17: error: team e reads its integration key from the same variable as team d ({}:5:17): give each team its own",
            at("e.yaml"),
            at("d.yaml")
        ),
        format!(
            "{}:5:13: error: this integration key is 15 characters long: use at least 16 random characters (`openssl rand -hex 16` makes 32)",
            at("f.yaml")
        ),
    ] {
        assert!(err.contains(&line), "missing:\n{line}\nin:\n{err}");
    }
    let errors = err.lines().filter(|l| l.contains(": error: ")).count();
    assert_eq!(errors, 4, "{err}");
}

/// Issue 16: in `oncall --help` each command has its own description
/// (`burden` showed pay's, and `pay` had none).
#[test]
fn issue16_help_describes_burden_and_pay_each_in_its_own_words() {
    let o = oncall(&["--help"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let help = stdout(&o);
    let line = |command: &str| {
        help.lines()
            .find(|l| l.split_whitespace().next() == Some(command))
            .unwrap_or_else(|| panic!("no `{command}` in:\n{help}"))
            .to_string()
    };
    assert!(line("burden").contains("Who carries the on-call load"), "{help}");
    assert!(line("pay").contains("The pay export of a month"), "{help}");
    assert!(line("cover").contains("Who could cover"), "{help}");
    // And every command has a description, none another's.
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(commands.len() > 10, "{help}");
    let mut seen = std::collections::BTreeSet::new();
    for l in &commands {
        let mut words = l.split_whitespace();
        let (name, rest) = (words.next().unwrap(), words.collect::<Vec<_>>().join(" "));
        assert!(!rest.is_empty(), "`{name}` has no description:\n{help}");
        assert!(seen.insert(rest), "`{name}` shares another's description:\n{help}");
    }
}

/// Issue 17: `oncall check` resolves the settings as `oncall serve` does:
/// the folder from `oncall.toml` when no flag or variable names one (it
/// checked ./schedules), the installation's severities from the same file,
/// and the daemon's variables (a PostgreSQL database in the file needs
/// `ONCALL_LINK_SECRET`, which `check` did not read, so it failed where the
/// daemon starts).
#[test]
fn issue17_check_reads_the_settings_as_serve_does() {
    let dir = temp_schedules(&[
        ("people.yaml", crate::support::PEOPLE),
        (
            "t.yaml",
            "team: t\ntimezone: UTC\nrotas:\n  r: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n\
             heartbeats:\n  sync: {interval: 1h, severity: page}\n",
        ),
    ]);
    let elsewhere = temp_schedules(&[]);
    let toml = elsewhere.path().join("oncall.toml");
    let write_toml = |extra: &str| {
        std::fs::write(
            &toml,
            format!(
                "schedules = {:?}\n{extra}[severities]\nnames = [\"low\", \"high\", \"page\"]\n",
                dir.path().display().to_string()
            ),
        )
        .unwrap()
    };
    let check = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_oncall"));
        command.arg("check").args(args).current_dir(elsewhere.path());
        for var in [
            "ONCALL_SCHEDULES",
            "ONCALL_CONFIG",
            "ONCALL_DATABASE",
            "ONCALL_LINK_SECRET",
            "ONCALL_API_TOKEN",
        ] {
            command.env_remove(var);
        }
        command.envs(env.iter().copied()).output().unwrap()
    };
    write_toml("");
    let toml_arg = toml.to_str().unwrap();
    for o in [
        check(&["--config", toml_arg], &[]),
        check(&[], &[("ONCALL_CONFIG", toml_arg)]),
    ] {
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).starts_with("ok: 2 file(s), 1 team(s)"), "{}", stdout(&o));
    }
    // Without the file, the embedded severities have no `page`: an error, as
    // the daemon would refuse it.
    let o = check(&["--schedules", dir.path().to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "{}:6:34: error: team t: heartbeat sync has severity `page`, which is not one of this installation's: minor, major, critical",
            dir.path().join("t.yaml").display()
        )),
        "{}",
        stderr(&o)
    );

    write_toml("database = \"postgres://oncall@127.0.0.1:9/oncall\"\n");
    let o = check(&["--config", toml_arg], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("link_secret"), "{}", stderr(&o));
    let o = check(
        &["--config", toml_arg],
        &[("ONCALL_LINK_SECRET", "a-link-secret-0123456789abcdef0123456789")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A group on call together (issue 18): `who` prints a line for each of its
/// people, a shadow under the one they follow; `shifts` a shift for each.
#[test]
fn who_and_shifts_list_each_person_of_a_group() {
    let dir = temp_schedules(&[
        (
            "people.yaml",
            "people:\n  alice: {name: Alice, email: a@example.com}\n  bob: {name: Bob, email: b@example.com}\n  \
             carol: {name: Carol, email: c@example.com}\n  mia: {name: Mia, email: m@example.com}\n",
        ),
        (
            "t.yaml",
            "team: t\ntimezone: UTC\nrotas:\n  r:\n    members: [[alice, bob], carol]\n    start: 2026-01-01T00:00\n    every: 1d\n    \
             shadows: [{user: mia, of: bob}]\n",
        ),
    ]);
    let d = dir.path().to_str().unwrap();
    let who = oncall(&["who", "--schedules", d, "--at", "2026-01-01T12:00:00Z"]);
    assert!(who.status.success(), "{}", stderr(&who));
    expect_test::expect![[r#"
        on call at 2026-01-01T12:00:00Z
        TEAM  ROTA  ON CALL                  SINCE (UTC)           UNTIL (UTC)
        t     r     alice (Alice)            2026-01-01T00:00:00Z  2026-01-02T00:00:00Z
        t     r     bob (Bob)                2026-01-01T00:00:00Z  2026-01-02T00:00:00Z
                    mia (Mia) shadowing bob  2026-01-01T00:00:00Z  2026-01-02T00:00:00Z
    "#]]
    .assert_eq(&stdout(&who));
    let json = oncall(&[
        "who",
        "--schedules",
        d,
        "--at",
        "2026-01-01T12:00:00Z",
        "--format",
        "json",
    ]);
    let rows = json_lines(&json);
    assert_eq!(rows.len(), 2);
    assert_eq!((&rows[0]["user"], &rows[1]["user"]), (&json!("alice"), &json!("bob")));
    assert!(rows[0].get("shadows").is_none());
    assert_eq!(rows[1]["shadows"][0]["user"], "mia");
    let shifts = oncall(&[
        "shifts",
        "--schedules",
        d,
        "--from",
        "2026-01-01T00:00:00Z",
        "--to",
        "2026-01-03T00:00:00Z",
        "--format",
        "json",
    ]);
    expect_test::expect![[r#"
        {"team":"t","rota":"r","user":"alice","start":"2026-01-01T00:00:00Z","end":"2026-01-02T00:00:00Z"}
        {"team":"t","rota":"r","user":"bob","start":"2026-01-01T00:00:00Z","end":"2026-01-02T00:00:00Z"}
        {"team":"t","rota":"r","user":"carol","start":"2026-01-02T00:00:00Z","end":"2026-01-03T00:00:00Z"}
    "#]]
    .assert_eq(&stdout(&shifts));
}

/// A secret file pointing at something endless (a mistake: `/dev/zero`, a
/// device, a growing log) is refused with a message, not read forever: both
/// the integration key of a team file and the API token of `oncall.toml`.
#[test]
fn a_secret_file_that_never_ends_is_refused_not_read_forever() {
    let dir = temp_schedules(&[
        ("people.yaml", crate::support::PEOPLE),
        (
            "t.yaml",
            "team: t\ntimezone: UTC\nrotas:\n  r: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n\
             intake_key_file: /dev/zero\n",
        ),
    ]);
    // The daemon runs without that team's key (it cannot page in); `check`
    // warns at the key's place.
    let o = oncall(&["check", "--schedules", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "t.yaml:5:18: warning: team t: the integration key in /dev/zero cannot be read \
             (larger than 64 KiB: a secret file holds one line): the team cannot receive alerts"
        ),
        "{}",
        stderr(&o)
    );

    let fine = temp_schedules(&[
        ("people.yaml", crate::support::PEOPLE),
        (
            "t.yaml",
            "team: t\ntimezone: UTC\nrotas:\n  r: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n",
        ),
    ]);
    let toml = fine.path().join("oncall.toml");
    std::fs::write(&toml, "api_token_file = \"/dev/zero\"\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["check", "--config", toml.to_str().unwrap(), "--schedules"])
        .arg(fine.path())
        .env_remove("ONCALL_API_TOKEN")
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("cannot read /dev/zero: larger than 64 KiB"), "{err}");
}
