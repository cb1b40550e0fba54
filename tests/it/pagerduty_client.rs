//! PagerDuty's official Python client (PyPI `pagerduty`, pinned in
//! tests/requirements.txt) pages the daemon through its Events API v2
//! endpoint: tests/pagerduty_client.py triggers, triggers again with the same
//! dedup key, acknowledges and resolves; then the store must show one alert
//! that went through all of it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::daemon::{KEY, TestApp};

/// How long the script may take; it normally takes well under a second.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `program args` to completion (killed after `timeout`), its output in
/// files under `dir` so that nothing can block on a full pipe.
fn run(program: &Path, args: &[&str], dir: &Path, timeout: Duration) -> Output {
    let out = dir.join("script.stdout");
    let err = dir.join("script.stderr");
    let mut child = Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        code: status.and_then(|s| s.code()),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn official_pagerduty_python_client_triggers_acks_and_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv-test/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test first (it installs tests/requirements.txt into .venv-test)",
        python.display()
    );
    let app = TestApp::spawn().await;
    let base = app.base.clone();
    let dir = app.dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        run(
            &python,
            &["tests/pagerduty_client.py", "--url", &base, "--routing-key", KEY],
            &dir,
            SCRIPT_TIMEOUT,
        )
    })
    .await
    .unwrap();
    let context = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert_eq!(
        out.code,
        Some(0),
        "tests/pagerduty_client.py failed (None: killed after {SCRIPT_TIMEOUT:?})\n{context}"
    );

    // What the client returned at each step: the dedup key, every time.
    let steps: Vec<(String, String)> = out
        .stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}\n{context}"));
            let step = v["step"].as_str().unwrap().to_string();
            let returned = v["returned"].as_str().unwrap_or_else(|| panic!("{line}")).to_string();
            (step, returned)
        })
        .collect();
    let names: Vec<&str> = steps.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        names,
        ["trigger", "trigger_again", "acknowledge", "resolve"],
        "{context}"
    );
    let key = &steps[0].1;
    assert!(!key.is_empty(), "{context}");
    assert!(
        steps.iter().all(|(_, returned)| returned == key),
        "the client returned different dedup keys: {steps:?}"
    );

    let all = app.all_alerts().await;
    assert_eq!(all.len(), 1, "{all:#?}");
    let alert = &all[0];
    assert_eq!(alert["dedup_key"], key.as_str());
    assert_eq!(alert["team"], "payments");
    assert_eq!(alert["intake"], "pagerduty");
    assert_eq!(alert["summary"], "checkout latency above 2s");
    assert_eq!(alert["source"], "checkout-1.payments.svc");
    assert_eq!(alert["severity"], "major", "PagerDuty's `error` maps to major");
    assert_eq!(alert["occurrences"], 2);
    assert_eq!(alert["status"], "resolved");

    let id = alert["id"].as_i64().unwrap();
    assert_eq!(
        app.timeline_kinds(id).await,
        ["created", "occurrence", "acknowledged", "resolved"]
    );
    app.stop().await;
}
