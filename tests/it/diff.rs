//! `oncall diff`, run as a reviewer's CI would: the real binary on two
//! folders of rota files (or a commit of a real git repository and its
//! work tree), its exit status, its JSON, and its Markdown compared byte for
//! byte with `tests/it/snapshots/` (`ONCALL_BLESS=1` rewrites them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

const PEOPLE: &str = "\
people:
  alice: {name: Alice Smith, email: alice@example.com, phone: \"+447700900001\"}
  bob: {name: Bob Jones, email: bob@example.com}
  carol: {name: Carol Evans, phone: \"+447700900003\"}
  dave: {name: Dave Patel, email: dave@example.com}
  frank: {name: Frank Li, email: frank@example.com}
";

/// A weekly primary handing over on Mondays at 09:00 London time (alice
/// has the week of 2026-01-05, so the even weeks after it).
const OPS: &str = "\
team: ops
timezone: Europe/London
rotas:
  primary:
    members: [alice, bob]
    start: 2026-01-05T09:00
    handoff: FREQ=WEEKLY;BYDAY=MO
";

const PAY: &str = "\
currency: GBP
payroll_timezone: Europe/London
rotas:
  ops/primary: {rate: 2.00}
";

/// The same with the desk of [`DESK`].
const PAY_DESK: &str = "\
currency: GBP
payroll_timezone: Europe/London
rotas:
  ops/primary: {rate: 2.00}
  ops/desk: {rate: 1.50}
";

/// A throwaway folder, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("oncall-diff-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `files` into the subfolder `sub`, replacing what was there.
    fn folder(&self, sub: &str, files: &[(&str, &str)]) {
        let dir = self.0.join(sub);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `oncall diff ARGS` run in `cwd`, so that folders are named as given.
fn diff_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oncall"))
        .arg("diff")
        .args(args)
        .current_dir(cwd)
        .env_remove("ONCALL_SCHEDULES")
        .env_remove("ONCALL_CONFIG")
        .output()
        .unwrap()
}

/// Compares the folders `base` and `head` of `dir` over the window.
fn diff(dir: &Dir, from: &str, to: &str, format: &str) -> Output {
    diff_in(
        dir.path(),
        &[
            "--base", "base", "--head", "head", "--from", from, "--to", to, "--format", format,
        ],
    )
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn json_of(o: &Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(o), stderr(o)))
}

/// The person `id`'s entry of the report.
fn person<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["person"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report:#}"))
}

/// (from, to) of each stretch in a list of the report.
fn spans(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["from"].as_str().unwrap().to_string(),
                s["to"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn span(from: &str, to: &str) -> (String, String) {
    (from.to_string(), to.to_string())
}

/// Bob and alice swap their weeks: alice's (from Monday 16 March, GMT)
/// and bob's (from Monday 23 March, into summer time).
const SWAP: &str = "\
team: ops
overrides:
  - rota: primary
    user: bob
    instead_of: alice
    from: 2026-03-16T09:00
    to: 2026-03-23T09:00
  - rota: primary
    user: alice
    instead_of: bob
    from: 2026-03-23T09:00
    to: 2026-03-30T09:00
";

#[test]
fn issue18_a_swap_moves_each_week_to_the_other_and_the_pay_with_it() {
    let dir = Dir::new();
    dir.folder("base", &[("people.yaml", PEOPLE), ("ops.yaml", OPS), ("pay.yaml", PAY)]);
    dir.folder(
        "head",
        &[
            ("people.yaml", PEOPLE),
            ("ops.yaml", OPS),
            ("ops-cover.yaml", SWAP),
            ("pay.yaml", PAY),
        ],
    );
    let o = diff(&dir, "2026-03-10T00:00:00Z", "2026-04-01T00:00:00Z", "json");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["gap_introduced"], false);
    assert_eq!(r["gaps_introduced"], json!([]));
    assert_eq!(r["gaps_closed"], json!([]));
    let alice_week = || span("2026-03-16T09:00:00Z", "2026-03-23T09:00:00Z");
    // 09:00 in London is 08:00 UTC from 29 March: bob's week is 167 hours.
    let bob_week = || span("2026-03-23T09:00:00Z", "2026-03-30T08:00:00Z");
    let (alice, bob) = (person(&r, "alice"), person(&r, "bob"));
    assert_eq!(alice["name"], "Alice Smith");
    assert_eq!(spans(&alice["removed"]), [alice_week()]);
    assert_eq!(spans(&alice["added"]), [bob_week()]);
    assert_eq!(spans(&bob["removed"]), [bob_week()]);
    assert_eq!(spans(&bob["added"]), [alice_week()]);
    assert_eq!(alice["added"][0]["seconds"], 167 * 3600);
    assert_eq!(alice["added"][0]["to_local"], "2026-03-30T09:00:00+01:00");
    // March: alice gives 168 hours and takes 167, at 2.00 an hour.
    assert_eq!(
        alice["months"],
        json!([{
            "month": "2026-03",
            "seconds_before": alice["months"][0]["seconds_before"],
            "seconds_after": alice["months"][0]["seconds_after"],
            "seconds_change": -3600,
            "amount_before": alice["months"][0]["amount_before"],
            "amount_after": alice["months"][0]["amount_after"],
            "amount_change": "-2.00",
        }])
    );
    assert_eq!(bob["months"][0]["seconds_change"], 3600);
    assert_eq!(bob["months"][0]["amount_change"], "2.00");
    assert_eq!(r["people"].as_array().unwrap().len(), 2, "{r:#}");
    assert_eq!(r["currency"], "GBP");
}

#[test]
fn issue18_a_member_added_takes_weeks_and_may_be_unreachable() {
    let dir = Dir::new();
    dir.folder("base", &[("people.yaml", PEOPLE), ("ops.yaml", OPS)]);
    let three = OPS.replace("[alice, bob]", "[alice, bob, carol]");
    dir.folder("head", &[("people.yaml", PEOPLE), ("ops.yaml", &three)]);
    let o = diff(&dir, "2026-03-02T09:00:00Z", "2026-03-23T09:00:00Z", "json");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json_of(&o);
    // Weeks 8, 9 and 10 after 5 January: alice, bob, alice before;
    // carol, alice, bob after.
    let week = |d: u32| {
        span(
            &format!("2026-03-{d:02}T09:00:00Z"),
            &format!("2026-03-{:02}T09:00:00Z", d + 7),
        )
    };
    let carol = person(&r, "carol");
    assert_eq!(spans(&carol["added"]), [week(2)]);
    assert_eq!(carol["removed"], json!([]));
    assert_eq!(spans(&person(&r, "alice")["removed"]), [week(2), week(16)]);
    assert_eq!(spans(&person(&r, "alice")["added"]), [week(9)]);
    assert_eq!(spans(&person(&r, "bob")["removed"]), [week(9)]);
    assert_eq!(spans(&person(&r, "bob")["added"]), [week(16)]);
    // Without pay.yaml: hours only, in UTC months.
    assert_eq!(r["currency"], Value::Null);
    assert_eq!(r["month_timezone"], "UTC");
    assert_eq!(carol["months"][0]["amount_change"], Value::Null);
    // Carol has only a phone: `minor` pages go by email and webhook only.
    assert_eq!(
        r["reachability"],
        json!([{"person": "carol", "severity": "minor", "change": "lost"}])
    );

    let table = stdout(&diff(&dir, "2026-03-02T09:00:00Z", "2026-03-23T09:00:00Z", "table"));
    assert!(table.contains("\nREACHABILITY\n"), "{table}");
    let line = table
        .lines()
        .find(|l| l.starts_with("carol ") && l.contains("minor"))
        .unwrap_or_default();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words,
        ["carol", "minor", "can", "no", "longer", "be", "reached"],
        "{table}"
    );
    assert!(
        table.contains("HOURS BY MONTH (whole months in UTC; no pay.yaml)"),
        "{table}"
    );
    assert!(!table.contains("PAY BEFORE"), "{table}");
}

#[test]
fn issue18_a_hand_off_moved_an_hour_shows_in_local_time_across_the_clock_change() {
    let dir = Dir::new();
    dir.folder("base", &[("people.yaml", PEOPLE), ("ops.yaml", OPS), ("pay.yaml", PAY)]);
    let later = OPS.replace("2026-01-05T09:00", "2026-01-05T10:00");
    dir.folder(
        "head",
        &[("people.yaml", PEOPLE), ("ops.yaml", &later), ("pay.yaml", PAY)],
    );
    // London moves to summer time on Sunday 29 March 2026.
    let o = diff(&dir, "2026-03-20T00:00:00Z", "2026-04-03T00:00:00Z", "json");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json_of(&o);
    let local = |list: &Value| -> Vec<(String, String)> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|s| {
                assert_eq!(s["timezone"], "Europe/London");
                (
                    s["from_local"].as_str().unwrap().into(),
                    s["to_local"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let (alice, bob) = (person(&r, "alice"), person(&r, "bob"));
    // 23 March, in winter time: alice hands over to bob an hour later.
    let winter = || span("2026-03-23T09:00:00Z", "2026-03-23T10:00:00Z");
    assert_eq!(spans(&alice["added"]), [winter()]);
    assert_eq!(spans(&bob["removed"]), [winter()]);
    assert_eq!(
        local(&alice["added"]),
        [span("2026-03-23T09:00:00+00:00", "2026-03-23T10:00:00+00:00")]
    );
    // 30 March, in summer time: the same hour of the wall clock is an hour
    // earlier in UTC.
    let summer = || span("2026-03-30T08:00:00Z", "2026-03-30T09:00:00Z");
    assert_eq!(spans(&bob["added"]), [summer()]);
    assert_eq!(spans(&alice["removed"]), [summer()]);
    assert_eq!(
        local(&alice["removed"]),
        [span("2026-03-30T09:00:00+01:00", "2026-03-30T10:00:00+01:00")]
    );
    // The whole of March (5 hand-offs, bob's to alice first): an hour from
    // alice to bob. April's four hand-offs even out: no row.
    for (who, change, pay) in [(alice, -3600, "-2.00"), (bob, 3600, "2.00")] {
        let months = who["months"].as_array().unwrap();
        assert_eq!(months.len(), 1, "{who:#}");
        assert_eq!(months[0]["month"], "2026-03");
        assert_eq!(months[0]["seconds_change"], change);
        assert_eq!(months[0]["amount_change"], pay);
    }
    // The hour the rota now starts later is before the window: no gap.
    assert_eq!(r["gaps_introduced"], json!([]));

    let table = stdout(&diff(&dir, "2026-03-20T00:00:00Z", "2026-04-03T00:00:00Z", "table"));
    assert!(
        table.contains(
            "2026-03-30T08:00:00Z  2026-03-30T09:00:00Z  Mon 2026-03-30 09:00 BST  Mon 2026-03-30 10:00 BST  1.00"
        ),
        "{table}"
    );
}

/// A desk covered by frank all week, with dave on weekdays' daytime
/// above him; escalation to the primary, then the desk.
const DESK: &str = "\
team: ops
timezone: Europe/London
rotas:
  primary:
    members: [alice, bob]
    start: 2026-01-05T09:00
    handoff: FREQ=WEEKLY;BYDAY=MO
  desk:
    layers:
      - members: [frank]
        start: 2026-01-05T00:00
        every: 1w
      - members: [dave]
        start: 2026-01-05T08:00
        handoff: FREQ=DAILY
        active: [{days: [mon, tue, wed, thu, fri], from: \"08:00\", to: \"20:00\"}]
escalation:
  steps:
    - notify: [rota:primary]
    - after: 15m
      notify: [rota:desk]
";

/// The desk without frank's layer, a new backup rota for carol, and the
/// escalation's second step sooner, a third step added, repeated once.
const DESK_AFTER: &str = "\
team: ops
timezone: Europe/London
rotas:
  primary:
    members: [alice, bob]
    start: 2026-01-05T09:00
    handoff: FREQ=WEEKLY;BYDAY=MO
  desk:
    layers:
      - members: [dave]
        start: 2026-01-05T08:00
        handoff: FREQ=DAILY
        active: [{days: [mon, tue, wed, thu, fri], from: \"08:00\", to: \"20:00\"}]
  backup:
    members: [carol]
    start: 2026-01-05T00:00
    every: 1w
escalation:
  steps:
    - notify: [rota:primary]
    - after: 10m
      notify: [rota:desk]
    - after: 10m
      notify: [rota:backup, user:frank]
  repeat: 1
";

#[test]
fn issue18_a_layer_removed_opens_gaps_and_exits_1() {
    let dir = Dir::new();
    dir.folder(
        "base",
        &[("people.yaml", PEOPLE), ("ops.yaml", DESK), ("pay.yaml", PAY_DESK)],
    );
    dir.folder(
        "head",
        &[
            ("people.yaml", PEOPLE),
            ("ops.yaml", DESK_AFTER),
            ("pay.yaml", PAY_DESK),
        ],
    );
    // Monday 1 and Tuesday 2 June 2026 (summer time: dave's 08:00-20:00 is
    // 07:00-19:00 UTC).
    let (from, to) = ("2026-06-01T00:00:00Z", "2026-06-03T00:00:00Z");
    let o = diff(&dir, from, to, "json");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(r["gap_introduced"], true);
    let nights = [
        span("2026-06-01T00:00:00Z", "2026-06-01T07:00:00Z"),
        span("2026-06-01T19:00:00Z", "2026-06-02T07:00:00Z"),
        span("2026-06-02T19:00:00Z", "2026-06-03T00:00:00Z"),
    ];
    assert_eq!(spans(&r["gaps_introduced"]), nights);
    for g in r["gaps_introduced"].as_array().unwrap() {
        assert_eq!((&g["team"], &g["rota"]), (&json!("ops"), &json!("desk")));
    }
    assert_eq!(spans(&person(&r, "frank")["removed"]), nights);
    assert_eq!(r["rotas_added"], json!(["ops/backup"]));
    assert_eq!(r["rotas_removed"], json!([]));
    let steps: Vec<(Value, Value, Value)> = r["escalation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["change"].clone(), c["step_after"].clone(), c["setting"].clone()))
        .collect();
    assert_eq!(
        steps,
        [
            (json!("changed"), json!(2), Value::Null),
            (json!("added"), json!(3), Value::Null),
            (json!("changed"), Value::Null, json!("repeat")),
        ]
    );

    // The Markdown, as posted on a merge request, byte for byte.
    let o = diff(&dir, from, to, "markdown");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_snapshot("diff-layer-removed.md", &stdout(&o));

    // Putting frank's layer back closes what removing it opened.
    let o = diff_in(
        dir.path(),
        &[
            "--base", "head", "--head", "base", "--from", from, "--to", to, "--format", "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json_of(&o);
    assert_eq!(spans(&r["gaps_closed"]), nights);
    assert_eq!(r["gaps_introduced"], json!([]));
}

/// `actual` against `tests/it/snapshots/NAME`; with `ONCALL_BLESS=1`, writes
/// it there instead.
fn assert_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/snapshots")
        .join(name);
    if std::env::var_os("ONCALL_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (ONCALL_BLESS=1 writes it)", path.display()));
    assert!(
        expected == actual,
        "{} differs from the output (ONCALL_BLESS=1 rewrites it).\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

/// Runs git in `dir` with no user or system configuration but a name.
fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
}

#[test]
fn issue18_base_as_a_git_commit_of_the_work_tree() {
    let dir = Dir::new();
    git(dir.path(), &["init", "-q"]);
    dir.folder(
        "schedules",
        &[("people.yaml", PEOPLE), ("ops.yaml", OPS), ("pay.yaml", PAY)],
    );
    // Not rota files: a subfolder and a README are left alone, as by `check`.
    std::fs::create_dir_all(dir.path().join("schedules/old")).unwrap();
    std::fs::write(dir.path().join("schedules/old/x.yaml"), "not: [valid").unwrap();
    std::fs::write(dir.path().join("schedules/README.md"), "rotas").unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "rotas"]);
    // A commit with an error in it, then the work tree with the swap.
    std::fs::write(
        dir.path().join("schedules/ops.yaml"),
        OPS.replace("members:", "membres:"),
    )
    .unwrap();
    git(dir.path(), &["commit", "-q", "-a", "-m", "broken"]);
    std::fs::write(dir.path().join("schedules/ops.yaml"), OPS).unwrap();
    std::fs::write(dir.path().join("schedules/ops-cover.yaml"), SWAP).unwrap();

    let window = ["--from", "2026-03-10T00:00:00Z", "--to", "2026-04-01T00:00:00Z"];
    // --head defaults to ./schedules.
    let o = diff_in(
        dir.path(),
        &[&["--base", "HEAD~1", "--format", "json"][..], &window].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let from_git = json_of(&o);
    assert_eq!(from_git["base"], "HEAD~1:schedules/");
    assert_eq!(from_git["head"], "schedules");

    // The same as comparing with a copy of the folder at that commit.
    dir.folder("copy", &[("people.yaml", PEOPLE), ("ops.yaml", OPS), ("pay.yaml", PAY)]);
    let o = diff_in(
        dir.path(),
        &[&["--base", "copy", "--format", "json"][..], &window].concat(),
    );
    let mut from_copy = json_of(&o);
    from_copy["base"] = from_git["base"].clone();
    assert_eq!(from_git, from_copy);
    assert_eq!(spans(&person(&from_git, "bob")["added"]).len(), 1, "{from_git:#}");

    // From a subfolder of the repository, with --head given.
    let o = diff_in(
        &dir.path().join("schedules"),
        &[&["--base", "HEAD~1", "--head", ".", "--format", "json"][..], &window].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json_of(&o)["people"], from_git["people"]);

    // An error at the commit: which version, then file:line:col.
    let o = diff_in(dir.path(), &[&["--base", "HEAD"][..], &window].concat());
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.starts_with("base: HEAD:schedules/ops.yaml:5:5: error: "), "{err}");
    assert!(
        err.contains("oncall diff: the base version (HEAD:schedules/) has"),
        "{err}"
    );
    assert!(stdout(&o).is_empty());

    // Neither a folder nor a commit.
    let o = diff_in(dir.path(), &[&["--base", "no-such-branch"][..], &window].concat());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`no-such-branch` is neither a folder nor a commit of the git repository of schedules"),
        "{}",
        stderr(&o)
    );
    // A commit without the folder.
    std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
    std::fs::write(dir.path().join("elsewhere/people.yaml"), PEOPLE).unwrap();
    let o = diff_in(
        dir.path(),
        &[&["--base", "HEAD", "--head", "elsewhere"][..], &window].concat(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("there is no folder elsewhere/ at `HEAD`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn issue18_errors_name_the_version_and_usage_exits_2() {
    let dir = Dir::new();
    dir.folder("base", &[("people.yaml", PEOPLE), ("ops.yaml", OPS)]);
    dir.folder(
        "head",
        &[
            ("people.yaml", PEOPLE),
            ("ops.yaml", &OPS.replace("Europe/London", "Europe/Londn")),
        ],
    );
    let o = diff(&dir, "2026-03-10T00:00:00Z", "2026-04-01T00:00:00Z", "table");
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.starts_with("head: head/ops.yaml:2:11: error: "), "{err}");
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));

    let o = diff(&dir, "2026-04-01T00:00:00Z", "2026-03-10T00:00:00Z", "table");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--to (2026-03-10T00:00:00Z) must be after --from"),
        "{}",
        stderr(&o)
    );

    let o = diff_in(dir.path(), &["--head", "head"]);
    assert_eq!(o.status.code(), Some(2), "--base is required");
    let o = diff_in(dir.path(), &["--help"]);
    assert!(
        stdout(&o).contains("Exit status: 0 no gap introduced; 1 a gap introduced"),
        "{}",
        stdout(&o)
    );

    // No change at all: exit 0, and it says so.
    dir.folder("head", &[("people.yaml", PEOPLE), ("ops.yaml", OPS)]);
    let o = diff(&dir, "2026-03-10T00:00:00Z", "2026-04-01T00:00:00Z", "markdown");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("No changes for people in this window."),
        "{}",
        stdout(&o)
    );
}
