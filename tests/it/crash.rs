//! Crash safety: the real binary, killed with SIGKILL in the middle of a burst
//! of alerts, must have kept every alert it answered 2xx, and a restart on the
//! same database must take the lock the dead daemon left behind.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use oncall::store::sqlite::SqliteStore;
use oncall::store::{Store, StoreError};
use serde_json::{Value, json};

use crate::daemon::{API_TOKEN, KEY, temp_dir, write_schedules};

/// Concurrent senders.
const TASKS: usize = 16;
/// Alerts each sender tries to send.
const PER_TASK: usize = 200;
/// The daemon is killed once this many alerts have been answered 2xx.
const KILL_AFTER: usize = 300;

/// A running `oncall serve` in `dir`, and the thread that drains its log.
struct Daemon {
    child: Child,
    address: String,
    log: Arc<Mutex<String>>,
    drain: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    /// Starts `oncall serve --listen 127.0.0.1:0` in `dir` (so on `./oncall.db`
    /// and `./schedules`) and waits for the `address=` line of its log.
    fn start(dir: &Path) -> Daemon {
        let served = crate::support::serve(
            Command::new(env!("CARGO_BIN_EXE_oncall"))
                .args(["serve", "--listen", "127.0.0.1:0"])
                .current_dir(dir)
                .env_remove("ONCALL_CONFIG")
                .env_remove("ONCALL_LISTEN")
                .env_remove("ONCALL_SCHEDULES")
                .env_remove("ONCALL_DATABASE")
                .env_remove("ONCALL_LOG")
                .env_remove("ONCALL_LOG_FORMAT")
                .env("ONCALL_API_TOKEN", API_TOKEN),
        );
        let crate::support::Served {
            child,
            address,
            log,
            drain,
        } = served;
        Daemon {
            child,
            address,
            log,
            drain: Some(drain),
        }
    }

    fn base(&self) -> String {
        format!("http://{}", self.address)
    }

    fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill {signal} failed");
    }

    /// Waits for the daemon to exit; its status and whole log.
    fn wait(mut self) -> (std::process::ExitStatus, String) {
        let status = self.child.wait().unwrap();
        if let Some(drain) = self.drain.take() {
            drain.join().unwrap();
        }
        let log = self.log.lock().unwrap().clone();
        (status, log)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A failed assertion must not leave a daemon running.
        if self.drain.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends alerts `crash-<first>`.. until `PER_TASK` are sent or the daemon is
/// gone; the keys answered 2xx. The sender that brings the count of 2xx
/// answers to `KILL_AFTER` kills the daemon.
async fn sender(
    client: reqwest::Client,
    base: String,
    first: usize,
    answered: Arc<AtomicUsize>,
    kill: Arc<dyn Fn() + Send + Sync>,
) -> Vec<String> {
    let mut acknowledged = Vec::new();
    for n in first..first + PER_TASK {
        let key = format!("crash-{n}");
        let sent = client
            .post(format!("{base}/v1/alerts"))
            .bearer_auth(KEY)
            .json(&json!({"summary": format!("crash test alert {n}"), "dedup_key": key}))
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            // Refused or reset: the daemon is dead, nothing more will land.
            Err(_) => break,
        };
        if !response.status().is_success() {
            continue;
        }
        // The daemon answers only after the commit, so the status line alone
        // is the promise; the body may be cut off by the kill.
        acknowledged.push(key);
        if answered.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
            kill();
        }
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_alert_survives_sigkill() {
    let dir = temp_dir("crash");
    write_schedules(&dir);
    let daemon = Daemon::start(&dir);
    let pid = daemon.child.id().to_string();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();

    let answered = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicUsize::new(0));
    let kill: Arc<dyn Fn() + Send + Sync> = {
        let killed = Arc::clone(&killed);
        Arc::new(move || {
            let sent = Command::new("kill").args(["-KILL", &pid]).status().unwrap();
            assert!(sent.success(), "kill -KILL {pid} failed");
            killed.fetch_add(1, Ordering::SeqCst);
        })
    };
    let mut senders = Vec::new();
    for t in 0..TASKS {
        senders.push(tokio::spawn(sender(
            client.clone(),
            daemon.base(),
            t * PER_TASK,
            Arc::clone(&answered),
            Arc::clone(&kill),
        )));
    }
    let mut acknowledged = BTreeSet::new();
    for s in senders {
        acknowledged.extend(s.await.unwrap());
    }
    let (status, log) = daemon.wait();
    assert_eq!(
        killed.load(Ordering::SeqCst),
        1,
        "the daemon was not killed mid-burst:\n{log}"
    );
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "the daemon should have died of SIGKILL ({status}):\n{log}"
    );
    assert!(acknowledged.len() >= KILL_AFTER, "{} acknowledged", acknowledged.len());
    assert!(
        acknowledged.len() < TASKS * PER_TASK,
        "every alert was answered: the kill came after the burst"
    );
    let lock = dir.join("oncall.db.lock");
    assert!(lock.exists(), "the killed daemon should have left its lock file behind");

    // The restart must take the lock (flock died with the process) and find
    // every alert it acknowledged.
    let restarted = Daemon::start(&dir);
    let answer = client
        .get(format!("{}/v1/alerts?limit=1000", restarted.base()))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let body: Value = answer.json().await.unwrap();
    let listed = body["alerts"].as_array().unwrap();
    let keys: BTreeSet<String> = listed
        .iter()
        .map(|a| a["dedup_key"].as_str().unwrap().to_string())
        .collect();
    if listed.len() < 1000 {
        // The listing is complete: check through the API.
        let lost: Vec<&String> = acknowledged.difference(&keys).collect();
        assert!(lost.is_empty(), "acknowledged but lost after SIGKILL: {lost:?}");
    }
    // The restarted daemon holds the lock: a second store is refused.
    match SqliteStore::open(&dir.join("oncall.db")) {
        Err(StoreError::Locked { .. }) => {}
        other => panic!("the restarted daemon should hold the lock, but open gave {other:?}"),
    }
    restarted.signal("-TERM");
    let (status, log) = restarted.wait();
    assert_eq!(status.code(), Some(0), "{log}");

    // Everything, straight from the database, with no listing limit.
    let store = SqliteStore::open(&dir.join("oncall.db")).unwrap();
    let alerts = store.alerts(None, 1_000_000).await.unwrap();
    let mut stored = BTreeSet::new();
    for a in &alerts {
        assert_eq!(a.team, "payments");
        assert_eq!(a.occurrences, 1, "{} was stored twice", a.dedup_key);
        let n: usize = a
            .dedup_key
            .strip_prefix("crash-")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("an alert nobody sent: {}", a.dedup_key));
        assert!(n < TASKS * PER_TASK, "an alert nobody sent: {}", a.dedup_key);
        stored.insert(a.dedup_key.clone());
    }
    eprintln!(
        "crash test: {} alerts acknowledged before or around the SIGKILL, {} stored",
        acknowledged.len(),
        stored.len()
    );
    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost after SIGKILL: {lost:?}");
    assert!(keys.is_subset(&stored));
    store.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
