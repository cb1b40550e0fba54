//! `oncall import pagerduty`, run as a user would: the real binary against a
//! loopback PagerDuty (tests/import/pagerduty_server.py: the API's paths,
//! auth header, offset/limit/more paging, a 429 with Retry-After in the
//! middle of the users) serving twelve schedules, whose final schedules come
//! from tests/import/pagerduty_reference.py, written from PagerDuty's
//! documentation, not from our code. `--verify 90d` must find 0 differences;
//! a conversion that drops a restriction must make it fail; bad answers
//! must stop the import with a message naming the PagerDuty object and
//! leave nothing in --out.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const TOKEN: &str = "test-token";
const FROM: &str = "2027-02-01T00:00:00Z";
const UNTIL: &str = "2027-05-02T00:00:00Z";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    let python = root().join(".venv-test/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test first (it installs tests/requirements.txt into .venv-test)",
        python.display()
    );
    python
}

/// A throwaway folder, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("oncall-import-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The loopback PagerDuty, killed when dropped.
struct Server {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Server {
    fn start(dir: &Path, scenario: &str) -> Server {
        let log = dir.join(format!("requests-{scenario}.log"));
        let mut child = Command::new(python())
            .arg(root().join("tests/import/pagerduty_server.py"))
            .args(["--token", TOKEN, "--scenario", scenario, "--log"])
            .arg(&log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the loopback PagerDuty");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("http://127.0.0.1:"), "the server said {line:?}");
        Server {
            child,
            url: line.trim().to_string(),
            log,
        }
    }

    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn oncall(args: &[&str], token: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(args)
        .env("PD_TOKEN", token)
        .env_remove("ONCALL_SCHEDULES")
        .env_remove("ONCALL_CONFIG")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn import_http(server: &Server, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "import",
        "pagerduty",
        "--token-env",
        "PD_TOKEN",
        "--api-url",
        &server.url,
        "--from",
        FROM,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    oncall(&args, TOKEN)
}

/// Every file of a folder, by name.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The saved answers `--from-dir` reads, for the window of the tests.
fn dump(dir: &Path, scenario: &str) -> PathBuf {
    let saved = dir.join("saved");
    let status = Command::new(python())
        .arg(root().join("tests/import/pagerduty_server.py"))
        .args(["--scenario", scenario, "--since", FROM, "--until", UNTIL, "--dump"])
        .arg(&saved)
        .status()
        .unwrap();
    assert!(status.success());
    saved
}

/// Nothing at `out`, and nothing left beside it.
fn nothing_written(out: &Path) {
    assert!(!out.exists(), "{} was written", out.display());
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("importing") || n.contains("replaced"))
        .collect();
    assert!(leftovers.is_empty(), "left beside --out: {leftovers:?}");
}

#[test]
fn pagerduty_import_verifies_with_no_difference_and_again_byte_for_byte() {
    let dir = Dir::new();
    let server = Server::start(&dir.0, "ok");
    let out = dir.0.join("schedules");
    let o = import_http(&server, &out, &["--verify", "90d"]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("verified: 12 schedules, ") && stdout.trim_end().ends_with("over 90 days, 0 differences"),
        "{all}"
    );
    assert!(!stdout.contains("difference:"), "{all}");

    // The API as documented: a 429 in the middle of the users, waited out
    // and asked again; paging went on past the first page; every request
    // carried the token (the server answers 401 otherwise).
    let log = server.requests();
    let throttled = log
        .iter()
        .position(|l| l.starts_with("GET /users") && l.ends_with(" 429"));
    let throttled = throttled.unwrap_or_else(|| panic!("no 429 answered: {log:#?}"));
    let again = &log[throttled + 1];
    assert_eq!(
        again.trim_end_matches(" 200"),
        log[throttled].trim_end_matches(" 429"),
        "{log:#?}"
    );
    assert!(log.iter().any(|l| l.contains("offset=8")), "{log:#?}");
    assert!(log.iter().all(|l| !l.ends_with(" 401")), "{log:#?}");

    // What could not be said exactly is listed, naming the source object,
    // on stderr and in IMPORT.md alike.
    let stderr = String::from_utf8_lossy(&o.stderr);
    let import_md = std::fs::read_to_string(out.join("IMPORT.md")).unwrap();
    for needle in [
        "user PU14: \"Mona Quiet\" has no contact methods",
        "user PU03: a push notification contact method",
        "schedule PS04: is in Europe/Berlin",
        "escalation policy PE03",
        "escalation policy PE02: rule 2 pages schedule PS05 of team data",
        "override PO092: overlaps override PO091 of schedule PS09; the one starting later is on call where they overlap",
    ] {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {all}");
        assert!(import_md.contains(needle), "IMPORT.md lacks {needle:?}:\n{import_md}");
    }

    // The files: people, one per team, comments naming the source objects.
    let written = files(&out);
    let names: Vec<&str> = written.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "IMPORT.md",
            "apac.yaml",
            "data.yaml",
            "infra-25h.yaml",
            "mobile.yaml",
            "paris-duty.yaml",
            "people.yaml",
            "platform-america-chicago.yaml",
            "platform.yaml",
            "sre-europe-europe-berlin.yaml",
            "sre-europe.yaml",
        ]
    );
    let platform = std::fs::read_to_string(out.join("platform.yaml")).unwrap();
    assert!(
        platform.contains("  # PagerDuty schedule PS02 \"Platform Secondary\"\n  platform-secondary:\n"),
        "{platform}"
    );
    assert!(
        platform.contains("# layer PL021 \"Days\", the turn under way at the layer's start"),
        "{platform}"
    );
    assert!(
        platform.contains("{days: everyday, from: \"08:00\", to: \"20:00\"}"),
        "{platform}"
    );
    assert!(
        platform.contains("{from: \"sat 00:00\", to: \"mon 00:00\"}"),
        "{platform}"
    );
    assert!(platform.contains("repeat: 2"), "{platform}");
    let people = std::fs::read_to_string(out.join("people.yaml")).unwrap();
    assert!(
        people.contains("  alice-smith:\n") && people.contains("  alice-smith-2:\n"),
        "{people}"
    );
    assert!(people.contains("phone: \"+14155550101\""), "{people}");

    // `oncall check` passes on the output.
    let check = oncall(&["check", "--schedules", out.to_str().unwrap()], "");
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));

    // Into a folder that holds files: refused without --force, untouched.
    let again = import_http(&server, &out, &[]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists and is not empty; give --force"));
    assert_eq!(files(&out), written);
    // With --force, the same source gives the same bytes.
    let forced = import_http(&server, &out, &["--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    assert_eq!(files(&out), written);

    // The same answers saved as files give the same files, and verify.
    let saved = dump(&dir.0, "ok");
    let offline = dir.0.join("offline");
    let o = oncall(
        &[
            "import",
            "pagerduty",
            "--from-dir",
            saved.to_str().unwrap(),
            "--from",
            FROM,
            "--verify",
            "90d",
            "--out",
            offline.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(", 0 differences"),
        "{}",
        text(&o)
    );
    assert_eq!(files(&offline), written);
}

#[test]
fn a_conversion_that_drops_a_restriction_or_an_override_fails_verify() {
    let dir = Dir::new();
    let saved = dump(&dir.0, "ok");
    // The layer as the importer reads it loses its restriction, while
    // PagerDuty's final schedule (rendered with it) stays: the files come
    // out as a conversion that drops restrictions would write them.
    let file = saved.join("schedules/PS02.json");
    let mut body: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let layers = body["schedule"]["schedule_layers"].as_array_mut().unwrap();
    let days = layers.iter_mut().find(|l| l["id"] == "PL021").unwrap();
    days["restrictions"] = serde_json::json!([]);
    std::fs::write(&file, body.to_string()).unwrap();
    // And an override lost on the way: PagerDuty has it, the files not.
    let file = saved.join("schedules/PS01/overrides.json");
    let mut body: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    body["overrides"].as_array_mut().unwrap().retain(|o| o["id"] != "PO012");
    std::fs::write(&file, body.to_string()).unwrap();
    let out = dir.0.join("schedules");
    let o = oncall(
        &[
            "import",
            "pagerduty",
            "--from-dir",
            saved.to_str().unwrap(),
            "--from",
            FROM,
            "--verify",
            "90d",
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    );
    let all = text(&o);
    assert_eq!(o.status.code(), Some(1), "{all}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    // Nights the layer now covers and PagerDuty does not, from the layer's
    // start: alice (PU01) on call in the import only the first night, in
    // UTC and New York time.
    assert!(
        stdout.contains(
            "difference: platform/platform-secondary: alice-smith is on call in the import, not in PagerDuty, from 2027-02-16T01:00:00Z to 2027-02-16T13:00:00Z (2027-02-15 20:00:00 EST to 2027-02-16 08:00:00 EST America/New_York)"
        ),
        "{all}"
    );
    // Bob's override across the clock change, on call in PagerDuty only;
    // alice, scheduled under it, in the import only.
    assert!(
        stdout.contains(
            "difference: platform/platform-primary: bob-jones is on call in PagerDuty, not in the import, from 2027-03-13T23:00:00Z to 2027-03-15T13:00:00Z (2027-03-13 18:00:00 EST to 2027-03-15 09:00:00 EDT America/New_York)"
        ),
        "{all}"
    );
    assert!(
        stdout.contains(
            "difference: platform/platform-primary: alice-smith is on call in the import, not in PagerDuty, from 2027-03-13T23:00:00Z to 2027-03-15T13:00:00Z"
        ),
        "{all}"
    );
    assert_eq!(
        stdout.matches("difference: platform/platform-primary: ").count(),
        2,
        "{all}"
    );
    assert!(!stdout.contains("sre-europe"), "{all}");
    let last = stdout.lines().last().unwrap();
    assert!(
        last.starts_with("verified: 12 schedules, ") && !last.ends_with(" 0 differences"),
        "{all}"
    );
}

/// Runs an import that must fail, and returns its stderr.
fn refused(server: &Server, out: &Path, extra: &[&str], token: &str) -> String {
    let mut args = vec![
        "import",
        "pagerduty",
        "--token-env",
        "PD_TOKEN",
        "--api-url",
        &server.url,
        "--from",
        FROM,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = oncall(&args, token);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    nothing_written(out);
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_answers_stop_the_import_naming_the_object_and_write_nothing() {
    let dir = Dir::new();
    let out = dir.0.join("schedules");
    let ok = Server::start(&dir.0, "ok");

    let e = refused(&ok, &out, &[], "wrong-token");
    assert!(
        e.contains("the PagerDuty schedules (GET /schedules): GET ")
            && e.contains("401 Unauthorized (the token was refused"),
        "{e}"
    );

    let e = refused(&ok, &out, &["--schedule", "PNOPE"], TOKEN);
    assert!(
        e.contains("the PagerDuty schedule PNOPE: GET ") && e.contains("404 Not Found (it does not exist"),
        "{e}"
    );

    let bad = Server::start(&dir.0, "bad-shape");
    let e = refused(&bad, &out, &[], TOKEN);
    assert!(
        e.contains(
            "the PagerDuty schedule PS03: `schedule_layers` is missing or not a list (not the documented shape)"
        ),
        "{e}"
    );

    let zone = Server::start(&dir.0, "unknown-zone");
    let e = refused(&zone, &out, &[], TOKEN);
    assert!(
        e.contains("the PagerDuty schedule PS04 (Berlin Business Hours): time zone `Mars/Olympus` is not an IANA zone"),
        "{e}"
    );

    // Rate limited for good: waited out a bounded number of times, then
    // said.
    let throttled = Server::start(&dir.0, "throttled");
    let e = refused(&throttled, &out, &[], TOKEN);
    assert!(
        e.contains("the PagerDuty teams (GET /teams): GET ")
            && e.contains("429 Too Many Requests (rate limited, and still so after waiting)"),
        "{e}"
    );
    let asked = throttled
        .requests()
        .iter()
        .filter(|l| l.starts_with("GET /teams"))
        .count();
    assert_eq!(asked, 6, "{:#?}", throttled.requests());

    // Without the variable: said, nothing asked of the server.
    let o = oncall(
        &[
            "import",
            "pagerduty",
            "--token-env",
            "NO_SUCH_VARIABLE_HERE",
            "--api-url",
            &ok.url,
            "--out",
            out.to_str().unwrap(),
        ],
        TOKEN,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("NO_SUCH_VARIABLE_HERE (--token-env) is not set"));
    nothing_written(&out);
}

#[test]
fn some_schedules_into_teams_named_by_a_team_map() {
    let dir = Dir::new();
    let saved = dump(&dir.0, "ok");
    let map = dir.0.join("teams.map");
    std::fs::write(&map, "# PagerDuty id: our team\nPT02: sre\nPS07: infra\n").unwrap();
    let out = dir.0.join("schedules");
    let o = oncall(
        &[
            "import",
            "pagerduty",
            "--from-dir",
            saved.to_str().unwrap(),
            "--schedule",
            "PS09",
            "--schedule",
            "PS03",
            "--schedule",
            "PS07",
            "--team-map",
            map.to_str().unwrap(),
            "--from",
            FROM,
            "--verify",
            "90d",
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    );
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("verified: 3 schedules, "),
        "{all}"
    );
    let names: Vec<String> = files(&out).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["IMPORT.md", "infra.yaml", "people.yaml", "sre.yaml"]);
    let sre = std::fs::read_to_string(out.join("sre.yaml")).unwrap();
    // PE02's first rule pages both SRE schedules; its second, a schedule
    // not imported, is left out and said.
    assert!(
        sre.contains("    - notify: [rota:night-desk, rota:sre-weekly]\n  repeat: 0\n"),
        "{sre}"
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(
            "escalation policy PE02: rule 2 pages schedule PS05, which was not imported; left out of the step"
        ),
        "{all}"
    );
}
