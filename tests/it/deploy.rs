//! `deploy/`: the systemd unit passes `systemd-analyze verify` with no
//! complaint and rates well in `systemd-analyze security`, and its command
//! line, with its environment, really starts the daemon on the example
//! configuration and stops it cleanly with SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::daemon::temp_dir;

fn unit() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/oncall.service")).unwrap()
}

fn systemd_analyze() -> PathBuf {
    let path = PathBuf::from("/usr/bin/systemd-analyze");
    assert!(
        path.is_file(),
        "systemd-analyze is missing: run scripts/test, which installs Debian's systemd package"
    );
    path
}

/// The values of `key=` lines in the unit, in order.
fn values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

/// The unit with its program at the built binary (verify checks it is
/// there and executable).
fn unit_here(dir: &Path) -> PathBuf {
    let text = unit().replace("/usr/local/bin/oncall", env!("CARGO_BIN_EXE_oncall"));
    let path = dir.join("oncall.service");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_systemd_unit_verifies_cleanly_and_is_hardened() {
    let dir = temp_dir("unit");
    let path = unit_here(&dir);
    let o = Command::new(systemd_analyze())
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{said}");
    // Verify exits 0 on a misspelt value: any word from it is a failure.
    assert_eq!(said.trim(), "", "systemd-analyze verify complained");

    let o = Command::new(systemd_analyze())
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    let level: f64 = said
        .lines()
        .find_map(|l| l.split("Overall exposure level for oncall.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{said}"));
    assert!(level <= 2.0, "exposure {level} (0 best, 10 worst):\n{said}");

    let unit = unit();
    for (key, want) in [
        ("User", "oncall"),
        ("ProtectSystem", "strict"),
        ("StateDirectory", "oncall"),
        ("Restart", "on-failure"),
        ("NoNewPrivileges", "yes"),
    ] {
        assert_eq!(values(&unit, key), [want], "{key}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The unit's `ExecStart` with its `Environment`, paths moved into a temp
/// folder (the example oncall.toml from deploy/, the example schedules),
/// listening on a free port: the daemon serves, then stops with exit 0 on
/// SIGTERM, as systemd's `KillSignal` asks.
#[test]
fn the_units_command_line_starts_the_daemon_and_sigterm_stops_it() {
    let dir = temp_dir("unit-run");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let etc = dir.join("etc/oncall");
    let state = dir.join("var/lib/oncall");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::copy(root.join("deploy/oncall.toml"), etc.join("oncall.toml")).unwrap();
    let _ = std::fs::remove_dir_all(dir.join("schedules"));
    copy_dir(&root.join("schedules"), &etc.join("schedules"));
    let moved = |s: &str| {
        s.replace("/usr/local/bin/oncall", env!("CARGO_BIN_EXE_oncall"))
            .replace("/etc/oncall", etc.to_str().unwrap())
            .replace("/var/lib/oncall", state.to_str().unwrap())
    };
    let unit = unit();
    let exec = moved(&values(&unit, "ExecStart")[0]);
    let mut words = exec.split_whitespace();
    let mut command = Command::new(words.next().unwrap());
    command.args(words);
    for env in values(&unit, "Environment") {
        let (k, v) = env.split_once('=').unwrap();
        command.env(k, moved(v));
    }
    let mut child = command
        .env("ONCALL_LISTEN", "127.0.0.1:0")
        .current_dir(moved(&values(&unit, "WorkingDirectory")[0]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(log.read_line(&mut line).unwrap() > 0, "the daemon exited:\n{seen}");
        seen.push_str(&line);
        if line.contains("oncall serving") {
            break;
        }
    }
    assert!(state.join("oncall.db").exists(), "{seen}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}:\n{seen}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}
