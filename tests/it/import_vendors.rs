//! `oncall import opsgenie` and `oncall import grafana-oncall` against
//! loopback servers speaking the vendors' documented APIs
//! (tests/import/*_server.py), whose final on-call comes from references
//! written from the vendors' documentation (tests/import/*_reference.py),
//! never from our code. See tests/import/README.md.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A throwaway folder, removed when dropped. Its name is this module's own:
/// the tests of other modules run at the same time in the same process.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("oncall-vendor-import-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The accounts' fixed "now" (tests/import/*_data.py).
const NOW: &str = "2027-02-01T00:00:00Z";

#[derive(Clone, Copy)]
enum Vendor {
    Opsgenie,
    GrafanaOnCall,
}

impl Vendor {
    fn script(self) -> &'static str {
        match self {
            Vendor::Opsgenie => "opsgenie_server.py",
            Vendor::GrafanaOnCall => "grafana_oncall_server.py",
        }
    }
    fn source(self) -> &'static str {
        match self {
            Vendor::Opsgenie => "opsgenie",
            Vendor::GrafanaOnCall => "grafana-oncall",
        }
    }
    /// The server's flag for the secret it accepts.
    fn secret_flag(self) -> &'static str {
        match self {
            Vendor::Opsgenie => "--key",
            Vendor::GrafanaOnCall => "--token",
        }
    }
    /// The importer's flags to reach a server at `url` with the secret in
    /// the variable `var`.
    fn connect_args(self, url: &str, var: &str) -> Vec<String> {
        match self {
            Vendor::Opsgenie => vec!["--key-env".into(), var.into(), "--api-url".into(), url.into()],
            Vendor::GrafanaOnCall => vec!["--url".into(), url.into(), "--token-env".into(), var.into()],
        }
    }
    fn schedules(self) -> usize {
        match self {
            // 12 schedules, 15 rotations: each rotation is a rota.
            Vendor::Opsgenie => 15,
            Vendor::GrafanaOnCall => 12,
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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

/// A vendor server, stopped when dropped.
struct Server {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

const SECRET: &str = "s3cret-for-the-loopback-test";

fn start(vendor: Vendor, fault: &str) -> Server {
    let dir = TempDir::new();
    let log = dir.path().join("requests.log");
    let mut child = Command::new(python())
        .arg(root().join("tests/import").join(vendor.script()))
        .args([vendor.secret_flag(), SECRET, "--fault", fault, "--log"])
        .arg(&log)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let port = first
        .strip_prefix("PORT ")
        .unwrap_or_else(|| panic!("the {} server said {first:?}", vendor.script()))
        .trim()
        .to_string();
    Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
        _dir: dir,
    }
}

/// `oncall import VENDOR ... --out OUT --from NOW extra...`, the secret in
/// the environment.
fn import(vendor: Vendor, server: Option<&Server>, secret: &str, out: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oncall"));
    cmd.args(["import", vendor.source()]);
    if let Some(s) = server {
        cmd.args(vendor.connect_args(&s.url, "VENDOR_SECRET"));
    }
    cmd.arg("--out")
        .arg(out)
        .args(["--from", NOW])
        .args(extra)
        .env("VENDOR_SECRET", secret)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn check(dir: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["check", "--schedules"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "oncall check on the import:\n{}", text(&o));
}

/// The answers a server would give, saved as files for --from-dir.
fn dump(vendor: Vendor, dir: &Path) {
    let o = Command::new(python())
        .arg(root().join("tests/import").join(vendor.script()))
        .arg("--dump")
        .arg(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "dump:\n{}", text(&o));
}

fn imports_verifies_and_reimports_the_same(vendor: Vendor) {
    let server = start(vendor, "none");
    let tmp = TempDir::new();
    let out = tmp.path().join("schedules");
    let o = import(vendor, Some(&server), SECRET, &out, &["--verify", "90d"]);
    let shown = text(&o);
    assert!(o.status.success(), "{shown}");
    assert!(
        shown.contains(&format!("verified: {} schedules", vendor.schedules())) && shown.contains(", 0 differences"),
        "{shown}"
    );
    // The second page of users was answered 429 once and asked again.
    let log = server.log();
    let throttled: Vec<&str> = log.lines().filter(|l| l.starts_with("429 ")).collect();
    assert_eq!(throttled.len(), 1, "{log}");
    let again = format!("200 {}", &throttled[0][4..]);
    assert!(log.lines().any(|l| l == again), "no retry after the 429:\n{log}");
    check(&out);
    assert!(out.join("IMPORT.md").exists() && out.join("people.yaml").exists());

    // A second import of the same source writes the same bytes.
    let o = import(vendor, Some(&server), SECRET, &out, &[]);
    assert!(
        !o.status.success(),
        "--out holds files: refused without --force\n{}",
        text(&o)
    );
    let out2 = tmp.path().join("again");
    let o = import(vendor, Some(&server), SECRET, &out2, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(files(&out), files(&out2), "a re-import is not byte-identical");

    // The same answers saved as files give the same files, and verify.
    let saved = tmp.path().join("saved");
    dump(vendor, &saved);
    let out3 = tmp.path().join("offline");
    let o = import(
        vendor,
        None,
        "",
        &out3,
        &["--from-dir", saved.to_str().unwrap(), "--verify", "90d"],
    );
    let shown = text(&o);
    assert!(o.status.success(), "{shown}");
    assert!(shown.contains(", 0 differences"), "{shown}");
    assert_eq!(files(&out), files(&out3), "--from-dir gives other files than the API");
}

#[test]
fn opsgenie_imports_verifies_with_no_difference_and_reimports_the_same() {
    imports_verifies_and_reimports_the_same(Vendor::Opsgenie);
}

#[test]
fn grafana_oncall_imports_verifies_with_no_difference_and_reimports_the_same() {
    imports_verifies_and_reimports_the_same(Vendor::GrafanaOnCall);
}

/// What the imports write, in the places that carry the new rota keys.
#[test]
fn the_imports_write_groups_windows_ends_and_first() {
    let tmp = TempDir::new();
    for vendor in [Vendor::Opsgenie, Vendor::GrafanaOnCall] {
        let saved = tmp.path().join(format!("{}-saved", vendor.source()));
        dump(vendor, &saved);
        let out = tmp.path().join(vendor.source());
        let o = import(vendor, None, "", &out, &["--from-dir", saved.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let read = |v: &str, f: &str| std::fs::read_to_string(tmp.path().join(v).join(f)).unwrap();
    // Opsgenie: a team participant is a group; a weekday-and-time-of-day
    // restriction wrapping the week is one window across days; a rotation
    // that ends has `end`; an override of the whole schedule covers each of
    // its rotas.
    let search = read("opsgenie", "search.yaml");
    assert!(
        search.contains("- members: [[alice-archer, bob-baker, carol-clark], [ivan-irving, judy-jones], grace-green]"),
        "{search}"
    );
    let platform = read("opsgenie", "platform.yaml");
    assert!(
        platform.contains("{from: \"fri 18:00\", to: \"mon 08:00\"}"),
        "{platform}"
    );
    assert!(
        platform.contains("{days: everyday, from: \"09:00\", to: \"17:00\"}"),
        "{platform}"
    );
    assert_eq!(
        platform.matches("Opsgenie override og-o-whole").count(),
        2,
        "{platform}"
    );
    let payments = read("opsgenie", "payments.yaml");
    assert!(payments.contains("end: 2027-03-01T09:00:00Z"), "{payments}");
    assert!(read("opsgenie", "platform-europe-london.yaml").contains("every: 30h"));
    let approx = read("opsgenie", "IMPORT.md");
    assert!(
        approx.contains("schedule og-s-thirty-hours: is in Europe/London"),
        "{approx}"
    );
    // Grafana OnCall: rolling_users groups, the start index as `first`, a
    // weekly by_day turn changing when the week begins, until as `end`.
    let platform = read("grafana-oncall", "platform.yaml");
    assert!(
        platform.contains("- members: [[dave, erin], frank, [erin, alice]]\n        first: frank"),
        "{platform}"
    );
    assert!(platform.contains("end: 2027-03-15T13:00:00Z"), "{platform}");
    let berlin = read("grafana-oncall", "search-europe-berlin.yaml");
    assert!(berlin.contains("end: 2026-11-09T08:00:00Z"), "{berlin}");
    assert!(
        berlin.contains("first: heidi\n        start: 2026-11-09T09:00:00"),
        "{berlin}"
    );
    let payments = read("grafana-oncall", "payments.yaml");
    assert!(
        payments.contains("{from: \"sat 00:00\", to: \"mon 00:00\"}"),
        "{payments}"
    );
    assert!(payments.contains("- members: [[bob, carol]]"), "{payments}");
}

/// Edits a saved answer: `edit` gets the JSON of the file and changes it.
fn edit_saved(file: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(file, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// A conversion that drops a restriction (here: the saved schedule loses
/// it, while the saved rendering, from the reference, keeps it) must make
/// --verify fail and say where.
#[test]
fn a_dropped_restriction_makes_verify_fail() {
    let tmp = TempDir::new();
    let saved = tmp.path().join("og");
    dump(Vendor::Opsgenie, &saved);
    edit_saved(&saved.join("schedules.json"), |v| {
        for s in v["data"].as_array_mut().unwrap() {
            if s["id"] == "og-s-nights" {
                s["rotations"][0].as_object_mut().unwrap().remove("timeRestriction");
            }
        }
    });
    let o = import(
        Vendor::Opsgenie,
        None,
        "",
        &tmp.path().join("og-out"),
        &["--from-dir", saved.to_str().unwrap(), "--verify", "90d"],
    );
    let shown = text(&o);
    assert_eq!(o.status.code(), Some(1), "{shown}");
    assert!(shown.contains("difference: search/search-nights: "), "{shown}");
    assert!(!shown.contains(", 0 differences"), "{shown}");

    let saved = tmp.path().join("go");
    dump(Vendor::GrafanaOnCall, &saved);
    edit_saved(&saved.join("on_call_shifts.json"), |v| {
        for s in v["results"].as_array_mut().unwrap() {
            if s["id"] == "go-h-business" {
                s["by_day"] = serde_json::Value::Null;
            }
        }
    });
    let o = import(
        Vendor::GrafanaOnCall,
        None,
        "",
        &tmp.path().join("go-out"),
        &["--from-dir", saved.to_str().unwrap(), "--verify", "90d"],
    );
    let shown = text(&o);
    assert_eq!(o.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("difference: search-europe-berlin/search-business-hours: "),
        "{shown}"
    );
}

/// Each bad input stops the import with a message naming the source
/// object, and writes nothing.
#[test]
fn bad_input_names_the_object_and_writes_nothing() {
    let cases: &[(Vendor, &str, &str, &[&str])] = &[
        (
            Vendor::Opsgenie,
            "none",
            "wrong-secret",
            &["401", "the token was refused"],
        ),
        (
            Vendor::Opsgenie,
            "missing-schedule",
            SECRET,
            &["og-s-weekday-window", "404"],
        ),
        (
            Vendor::Opsgenie,
            "wrong-shape",
            SECRET,
            &["the Opsgenie schedules (GET /v2/schedules)", "not the documented shape"],
        ),
        (
            Vendor::Opsgenie,
            "unknown-zone",
            SECRET,
            &["the Opsgenie schedule og-s-daily-tod (Platform daytime): time zone `Mars/Olympus_Mons`"],
        ),
        (
            Vendor::GrafanaOnCall,
            "none",
            "wrong-secret",
            &["401", "the token was refused"],
        ),
        (
            Vendor::GrafanaOnCall,
            "missing-schedule",
            SECRET,
            &["go-s-nights", "404"],
        ),
        (
            Vendor::GrafanaOnCall,
            "wrong-shape",
            SECRET,
            &[
                "the Grafana OnCall shifts (GET /api/v1/on_call_shifts/)",
                "not the documented shape",
            ],
        ),
        (
            Vendor::GrafanaOnCall,
            "unknown-zone",
            SECRET,
            &["the Grafana OnCall schedule go-s-business (Search business hours): time zone `Mars/Olympus_Mons`"],
        ),
    ];
    for (vendor, fault, secret, wanted) in cases {
        let server = start(*vendor, fault);
        let tmp = TempDir::new();
        let out = tmp.path().join("out");
        let mut extra: Vec<&str> = vec!["--verify", "90d"];
        if *fault == "missing-schedule" && matches!(vendor, Vendor::GrafanaOnCall) {
            // The listing names the schedule; asking for it by id is a 404.
            extra.extend(["--schedule", "go-s-nights"]);
        }
        let o = import(*vendor, Some(&server), secret, &out, &extra);
        let shown = text(&o);
        assert_eq!(o.status.code(), Some(1), "{} {fault}: {shown}", vendor.source());
        for w in *wanted {
            assert!(
                shown.contains(w),
                "{} {fault}: wanted {w:?} in\n{shown}",
                vendor.source()
            );
        }
        assert!(shown.contains("nothing was written"), "{shown}");
        assert!(
            !out.exists(),
            "{} {fault}: {} was written",
            vendor.source(),
            out.display()
        );
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert!(leftovers.is_empty(), "{} {fault}: left {leftovers:?}", vendor.source());
    }
}

/// A user nobody can reach does not stop the move (as from PagerDuty): they
/// are written without the contact, the approximation names them on stderr
/// and in IMPORT.md, and `oncall check` warns that nobody can reach them.
#[test]
fn a_user_without_contacts_is_written_without_and_listed() {
    for (vendor, listed) in [
        (
            Vendor::Opsgenie,
            "approximated: user og-u-ivan: \"Ivan Irving\" (ivan@example.com) has no enabled contact methods",
        ),
        (
            Vendor::GrafanaOnCall,
            "approximated: user go-u-ivan: \"Ivan\" (ivan) has no email, the only contact method the API gives",
        ),
    ] {
        let server = start(vendor, "no-contacts");
        let tmp = TempDir::new();
        let out = tmp.path().join("out");
        let o = import(vendor, Some(&server), SECRET, &out, &[]);
        let shown = text(&o);
        assert_eq!(o.status.code(), Some(0), "{shown}");
        assert!(
            shown.contains(listed),
            "{}: wanted {listed:?} in\n{shown}",
            vendor.source()
        );
        let report = std::fs::read_to_string(out.join("IMPORT.md")).unwrap();
        let listed_md = listed.trim_start_matches("approximated: ");
        assert!(
            report.contains(listed_md),
            "{}: IMPORT.md lacks it:\n{report}",
            vendor.source()
        );
        // The person written under the comment naming the source user.
        let people = std::fs::read_to_string(out.join("people.yaml")).unwrap();
        let uid = if matches!(vendor, Vendor::Opsgenie) {
            "og-u-ivan"
        } else {
            "go-u-ivan"
        };
        let block: Vec<&str> = people
            .lines()
            .skip_while(|l| !l.trim_end().ends_with(&format!("user {uid}")))
            .skip(1)
            .take_while(|l| !l.trim_start().starts_with('#'))
            .collect();
        let id = block
            .first()
            .unwrap_or_else(|| panic!("{}: no {uid} in\n{people}", vendor.source()))
            .trim()
            .trim_end_matches(':')
            .to_string();
        assert!(
            block.iter().all(|l| !l.contains("email:")),
            "{}: {block:?}",
            vendor.source()
        );
        let c = Command::new(env!("CARGO_BIN_EXE_oncall"))
            .args(["check", "--schedules"])
            .arg(&out)
            .output()
            .unwrap();
        let checked = text(&c);
        assert!(c.status.success(), "{checked}");
        assert!(
            checked.contains(&format!("{id} is on")) && checked.contains("no way to be reached"),
            "{}: {checked}",
            vendor.source()
        );
    }
}
