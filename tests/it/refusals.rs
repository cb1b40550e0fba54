//! Issue 17: every reason `oncall serve` refuses a schedules folder
//! (`config::Refusal`), each alone in an otherwise good folder, fed to the
//! daemon as it starts (the real binary), to a reload of a running daemon,
//! and to `oncall check`: all three refuse it, naming the place
//! (`file:line:col`, or the path when there is no file to point into) and
//! the reason. `oncall check` used to pass what the daemon refused (a
//! heartbeat's or `announce`'s severity the installation lacks, a key read
//! from a file or a variable).
//!
//! The cases are one table, [`cases`], a `match` on `Refusal`: a refusal
//! added to `config::validate` does not compile without a case here, and
//! each case checks that `validate` gives its refusal that name.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use oncall::config::{self, Refusal};
use oncall::settings::Settings;

use crate::daemon::{OTHER_KEY, TestApp, temp_dir, write_schedules};

/// Where a refusal points, in the schedules folder.
enum At {
    /// `file:line:col`.
    Place(&'static str, usize, usize),
    /// The folder itself: there is no file to point into.
    Folder,
    /// A file that cannot be read at all.
    File(&'static str),
}

/// One fault, put into a good folder (`daemon::write_schedules`).
struct Case {
    what: &'static str,
    /// Puts the fault into `dir/schedules`; key files go in `dir`.
    fault: fn(&Path),
    at: At,
    /// The reason, as the messages say it.
    reason: &'static str,
    /// Variables the daemon and `check` run with. A case with any is not
    /// fed to the in-process reload, which would need them set in the test
    /// process.
    env: &'static [(&'static str, &'static str)],
}

const NO_ENV: &[(&str, &str)] = &[];

/// Every refusal's cases: at least one each (see
/// [`every_refusal_has_a_case`]).
fn cases(refusal: Refusal) -> Vec<Case> {
    match refusal {
        Refusal::Folder => vec![Case {
            what: "a folder that is not there",
            fault: |dir| std::fs::remove_dir_all(dir.join("schedules")).unwrap(),
            at: At::Folder,
            reason: "cannot read the schedules folder",
            env: NO_ENV,
        }],
        Refusal::NoFiles => vec![Case {
            what: "a folder without rota files",
            fault: |dir| {
                let schedules = dir.join("schedules");
                std::fs::remove_dir_all(&schedules).unwrap();
                std::fs::create_dir(&schedules).unwrap();
                std::fs::write(schedules.join("README.md"), "the rotas moved\n").unwrap();
            },
            at: At::Folder,
            reason: "no rota files (*.yaml or *.yml) in",
            env: NO_ENV,
        }],
        Refusal::File => vec![Case {
            what: "a rota file that cannot be read",
            // Reading this file fails for anyone, root included: nothing is
            // mapped at address 0.
            fault: |dir| std::os::unix::fs::symlink("/proc/self/mem", dir.join("schedules/unreadable.yaml")).unwrap(),
            at: At::File("unreadable.yaml"),
            reason: "cannot read",
            env: NO_ENV,
        }],
        Refusal::RotaFile => vec![
            Case {
                what: "a time zone misspelt",
                fault: |dir| {
                    edit(
                        dir,
                        "payments.yaml",
                        "timezone: Europe/London",
                        "timezone: Europe/Londn",
                    )
                },
                at: At::Place("payments.yaml", 2, 11),
                reason: "unknown time zone `Europe/Londn`; did you mean `Europe/London`?",
                env: NO_ENV,
            },
            Case {
                what: "a YAML syntax error",
                fault: |dir| std::fs::write(dir.join("schedules/broken.yaml"), "team: [\n").unwrap(),
                at: At::Place("broken.yaml", 2, 1),
                reason: "YAML syntax",
                env: NO_ENV,
            },
            Case {
                what: "a key written in the file, too short",
                fault: |dir| edit(dir, "payments.yaml", crate::daemon::KEY, "short"),
                at: At::Place("payments.yaml", 5, 13),
                reason: "this integration key is 5 characters long: use at least 16 random characters",
                env: NO_ENV,
            },
            Case {
                what: "two teams naming one variable",
                fault: |dir| {
                    let line = "intake_key_env: ONCALL_TEST_ONE_VARIABLE";
                    edit(
                        dir,
                        "payments.yaml",
                        &format!("intake_key: {}", crate::daemon::KEY),
                        line,
                    );
                    edit(dir, "platform.yaml", &format!("intake_key: {OTHER_KEY}"), line);
                },
                at: At::Place("platform.yaml", 5, 17),
                reason: "team platform reads its integration key from the same variable as team payments",
                env: NO_ENV,
            },
        ],
        Refusal::HeartbeatSeverity => vec![Case {
            what: "a heartbeat's severity the installation lacks",
            fault: |dir| edit(dir, "payments.yaml", "severity: critical", "severity: sev1"),
            at: At::Place("payments.yaml", 7, 56),
            reason: "team payments: heartbeat nightly-backup has severity `sev1`, which is not one of this installation's: minor, major, critical",
            env: NO_ENV,
        }],
        Refusal::AnnounceSeverity => vec![Case {
            what: "an announced severity the installation lacks",
            fault: |dir| {
                append(
                    dir,
                    "platform.yaml",
                    "announce:\n  to: [https://hooks.example.com/x]\n  severities: [critical, urgent]\n",
                )
            },
            at: At::Place("platform.yaml", 8, 26),
            reason: "team platform: `announce` has severity `urgent`, which is not one of this installation's: minor, major, critical",
            env: NO_ENV,
        }],
        Refusal::ShortKey => vec![
            Case {
                what: "a key file holding a short key",
                fault: |dir| key_file(dir, "short\n"),
                at: At::Place("payments.yaml", 5, 18),
                reason: "is 5 characters long: use at least 16 random characters",
                env: NO_ENV,
            },
            Case {
                what: "a next key in a variable, too short",
                fault: |dir| append(dir, "payments.yaml", "next_intake_key_env: ONCALL_TEST_NEXT_KEY\n"),
                at: At::Place("payments.yaml", 10, 22),
                reason: "team payments: the next integration key in the variable ONCALL_TEST_NEXT_KEY is 4 characters long",
                env: &[("ONCALL_TEST_NEXT_KEY", "tiny")],
            },
        ],
        Refusal::SharedKey => vec![Case {
            what: "a key file holding another team's key",
            fault: |dir| key_file(dir, OTHER_KEY),
            at: At::Place("payments.yaml", 5, 18),
            reason: "is team platform's too: give each team its own",
            env: NO_ENV,
        }],
    }
}

/// Replaces `from` by `to` in a file of `dir/schedules`.
fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join("schedules").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from:?} not in {file}:\n{text}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
}

fn append(dir: &Path, file: &str, lines: &str) {
    let path = dir.join("schedules").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text + lines).unwrap();
}

/// payments' key from the file `dir/payments-key`, holding `key`.
fn key_file(dir: &Path, key: &str) {
    let path = dir.join("payments-key");
    std::fs::write(&path, key).unwrap();
    edit(
        dir,
        "payments.yaml",
        &format!("intake_key: {}", crate::daemon::KEY),
        &format!("intake_key_file: {}", path.display()),
    );
}

/// Every case, with its refusal.
fn table() -> Vec<(Refusal, Case)> {
    Refusal::ALL
        .iter()
        .flat_map(|r| cases(*r).into_iter().map(move |c| (*r, c)))
        .collect()
}

/// Asserts that `text` (what was printed or returned) names the place of
/// `case` in `schedules` and its reason, on one line.
fn assert_names(who: &str, case: &Case, schedules: &Path, text: &str) {
    let place = match case.at {
        At::Place(file, line, col) => format!("{}:{line}:{col}: error: ", schedules.join(file).display()),
        At::Folder => schedules.display().to_string(),
        At::File(file) => schedules.join(file).display().to_string(),
    };
    assert!(
        text.lines().any(|l| l.contains(&place) && l.contains(case.reason)),
        "{who}, {}: no line with {place:?} and {:?} in:\n{text}",
        case.what,
        case.reason
    );
}

/// The variables of the daemon's settings, which the binaries must not
/// take from whoever runs the tests.
const SETTINGS_VARIABLES: &[&str] = &[
    "ONCALL_CONFIG",
    "ONCALL_SCHEDULES",
    "ONCALL_DATABASE",
    "ONCALL_LISTEN",
    "ONCALL_API_TOKEN",
    "ONCALL_API_TOKEN_NEXT",
    "ONCALL_LINK_SECRET",
    "ONCALL_PUBLIC_URL",
];

fn oncall(args: &[&str], schedules: &Path, case: &Case) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oncall"));
    command.args(args).arg("--schedules").arg(schedules);
    for var in SETTINGS_VARIABLES {
        command.env_remove(var);
    }
    command.envs(case.env.iter().copied());
    command
}

/// `oncall serve` on `dir`: it must exit, failing, before it serves.
fn serve(dir: &Path, case: &Case) -> Output {
    use std::io::{BufRead, BufReader};
    let mut child = oncall(&["serve", "--listen", "127.0.0.1:0"], &dir.join("schedules"), case)
        .arg("--database")
        .arg(dir.join("oncall.db"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("oncall serving") {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve started on {}:\n{log}{line}", case.what);
        }
        log.push_str(&line);
        log.push('\n');
    }
    let status = child.wait().unwrap();
    Output {
        status,
        stdout: Vec::new(),
        stderr: log.into_bytes(),
    }
}

#[test]
fn every_refusal_has_a_case() {
    for refusal in Refusal::ALL {
        assert!(!cases(*refusal).is_empty(), "{refusal:?} has no case");
    }
}

/// Each fault: `config::validate` (or the loading before it) gives it its
/// refusal; `oncall serve` does not start; `oncall check` exits 1; both
/// name the place and the reason.
#[test]
fn every_refusal_stops_serve_and_fails_check() {
    let defaults = Settings::resolve(Default::default(), Default::default()).unwrap();
    for (refusal, case) in table() {
        let dir = temp_dir("refusal");
        write_schedules(&dir);
        (case.fault)(&dir);
        let schedules = dir.join("schedules");

        if case.env.is_empty() {
            let found: Vec<Refusal> = match config::load_dir(&schedules) {
                Err(e) => vec![Refusal::from(&e)],
                Ok(loaded) => config::validate(&loaded, &defaults.severities, &defaults.intensities)
                    .refusals
                    .iter()
                    .map(|(r, _)| *r)
                    .collect(),
            };
            assert!(
                !found.is_empty() && found.iter().all(|r| *r == refusal),
                "{}: expected only {refusal:?}, found {found:?}",
                case.what
            );
        }

        let o = serve(&dir, &case);
        let log = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "serve, {}: exit 0:\n{log}", case.what);
        assert_names("serve", &case, &schedules, &log);

        let o = oncall(&["check"], &schedules, &case).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "check, {}:\n{err}", case.what);
        assert_names("check", &case, &schedules, &err);

        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Each fault written while the daemon runs: the reload refuses it, naming
/// the place and the reason, and the good folder written back reloads.
#[tokio::test(flavor = "multi_thread")]
async fn every_refusal_is_refused_by_a_reload() {
    let app = TestApp::spawn().await;
    let schedules = app.dir.join("schedules");
    let mut fed = std::collections::BTreeSet::new();
    for (refusal, case) in table() {
        if !case.env.is_empty() {
            continue;
        }
        (case.fault)(&app.dir);
        let errors = app.state().in_force.reload(&schedules).await.unwrap_err();
        assert_names("reload", &case, &schedules, &errors.join("\n"));
        // The good folder again (the fault may have removed it).
        let _ = std::fs::remove_dir_all(&schedules);
        std::fs::create_dir(&schedules).unwrap();
        write_schedules(&app.dir);
        app.state().in_force.reload(&schedules).await.unwrap();
        fed.insert(refusal);
    }
    let missed: Vec<&Refusal> = Refusal::ALL.iter().filter(|r| !fed.contains(r)).collect();
    assert!(missed.is_empty(), "no case without variables for {missed:?}");
    app.stop().await;
}
