//! A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`, 0.25,
//! installed by scripts/test) notifies the daemon through its webhook
//! receiver. Alerts are pushed into Alertmanager with its own API; the test
//! then polls the daemon's store until what Alertmanager sent shows up.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::daemon::{KEY, TestApp, temp_dir};

/// How long Alertmanager may take to start, or to deliver a notification
/// (group_wait and group_interval are 1 s, so it normally takes 1–2 s).
const PATIENCE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

/// The Alertmanager binary: `ONCALL_TEST_ALERTMANAGER`, else Debian's
/// `prometheus-alertmanager`, else upstream's `alertmanager`, on the PATH.
fn alertmanager_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ONCALL_TEST_ALERTMANAGER") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["prometheus-alertmanager", "alertmanager"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "no Alertmanager binary on the PATH (prometheus-alertmanager or alertmanager): run scripts/test first, \
         which installs Debian's prometheus-alertmanager, or set ONCALL_TEST_ALERTMANAGER"
    );
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running Alertmanager, killed when dropped (on failure too); its folder
/// is removed then unless the test failed.
struct Alertmanager {
    child: Child,
    dir: PathBuf,
    base: String,
    log: PathBuf,
    client: reqwest::Client,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Alertmanager {
    /// Starts Alertmanager in `dir` with a webhook receiver posting to the
    /// daemon at `daemon`, and waits until it is ready.
    async fn start(dir: &Path, daemon: &str) -> Alertmanager {
        let config = format!(
            r#"route:
  receiver: oncall
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: oncall
    webhook_configs:
      - url: '{daemon}/v1/alertmanager'
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: '{KEY}'
"#
        );
        let config_file = dir.join("alertmanager.yml");
        std::fs::write(&config_file, config).unwrap();
        let storage = dir.join("data");
        std::fs::create_dir_all(&storage).unwrap();
        let log = dir.join("alertmanager.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let port = free_port();
        let binary = alertmanager_binary();
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.path={}", storage.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // Empty: no cluster, so no gossip port.
            .arg("--cluster.listen-address=")
            .arg("--log.level=debug")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut am = Alertmanager {
            child,
            dir: dir.to_path_buf(),
            base: format!("http://127.0.0.1:{port}"),
            log,
            client: reqwest::Client::new(),
        };
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(status) = am.child.try_wait().unwrap() {
                panic!("Alertmanager exited at start ({status}):\n{}", am.log());
            }
            let ready = am.client.get(format!("{}/-/ready", am.base)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return am;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("Alertmanager was not ready after {PATIENCE:?}:\n{}", am.log());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// What Alertmanager logged so far: about the last 8 KiB, whole lines.
    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(8 * 1024);
        // From the start of a line.
        let start = text.as_bytes()[..start]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        text[start..].to_string()
    }

    /// Pushes alerts through Alertmanager's own API (as Prometheus does).
    async fn push(&self, alerts: Value) {
        let r = self
            .client
            .post(format!("{}/api/v2/alerts", self.base))
            .json(&alerts)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "Alertmanager refused the alerts: {status} {body}");
    }
}

/// One Prometheus-style alert of the group `HighErrorRate`.
fn alert(instance: &str, starts_at: &str, ends_at: Option<&str>) -> Value {
    let mut a = json!({
        "labels": {"alertname": "HighErrorRate", "instance": instance, "job": "payments-api", "severity": "critical"},
        "annotations": {"summary": format!("5xx rate above 5% on {instance}")},
        "startsAt": starts_at,
        "generatorURL": "http://prometheus.example.com:9090/graph",
    });
    if let Some(ends_at) = ends_at {
        a["endsAt"] = json!(ends_at);
    }
    a
}

/// The alerts of one status, by summary, sorted.
fn summaries(alerts: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = alerts
        .iter()
        .map(|a| a["summary"].as_str().unwrap().to_string())
        .collect();
    s.sort();
    s
}

/// The open and resolved alerts once `done(open, resolved)` holds, polling
/// the daemon every 100 ms (one listing each time, so both come from the same
/// moment); fails after [`PATIENCE`] with what it saw and Alertmanager's log.
async fn eventually(
    app: &TestApp,
    am: &Alertmanager,
    what: &str,
    done: impl Fn(&[Value], &[Value]) -> bool,
) -> (Vec<Value>, Vec<Value>) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (open, rest): (Vec<Value>, Vec<Value>) =
            app.all_alerts().await.into_iter().partition(|a| a["status"] == "open");
        let resolved: Vec<Value> = rest.into_iter().filter(|a| a["status"] == "resolved").collect();
        if done(&open, &resolved) {
            return (open, resolved);
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "after {PATIENCE:?}, still not {what}.\nopen: {:?}\nresolved: {:?}\nAlertmanager's log:\n{}",
                summaries(&open),
                summaries(&resolved),
                am.log()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

fn by_summary<'a>(alerts: &'a [Value], summary: &str) -> &'a Value {
    alerts
        .iter()
        .find(|a| a["summary"] == summary)
        .unwrap_or_else(|| panic!("no alert `{summary}` in {alerts:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn real_alertmanager_pages_groups_and_resolves_through_the_webhook() {
    let app = TestApp::spawn().await;
    let dir = temp_dir("alertmanager");
    let am = Alertmanager::start(&dir, &app.base).await;

    // Alertmanager compares times with its own (real) clock.
    let now = chrono::Utc::now();
    let rfc3339 = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let started = rfc3339(now - chrono::Duration::minutes(5));

    // Two instances of one alertname: one group, one notification, two alerts.
    am.push(json!([
        alert("api-1:8080", &started, None),
        alert("api-2:8080", &started, None)
    ]))
    .await;
    let (open, _) = eventually(&app, &am, "2 open alerts", |open, _| open.len() >= 2).await;
    assert_eq!(
        summaries(&open),
        ["5xx rate above 5% on api-1:8080", "5xx rate above 5% on api-2:8080"]
    );
    for a in &open {
        assert_eq!(a["team"], "payments");
        assert_eq!(a["intake"], "alertmanager");
        assert_eq!(a["severity"], "critical");
        assert_eq!(a["details"]["labels"]["alertname"], "HighErrorRate");
        assert_eq!(a["details"]["labels"]["job"], "payments-api");
        assert_eq!(a["source"], a["details"]["labels"]["instance"]);
        assert!(
            a["dedup_key"]
                .as_str()
                .unwrap()
                .starts_with("{}:{alertname=\"HighErrorRate\"}/"),
            "{a:#}"
        );
    }
    assert_ne!(open[0]["dedup_key"], open[1]["dedup_key"]);

    // A third instance joins the firing group: a new alert, which pages; the
    // next notification repeats the other two, which stay one alert each.
    am.push(json!([alert("api-3:8080", &started, None)])).await;
    let (open, _) = eventually(&app, &am, "3 open alerts", |open, _| open.len() >= 3).await;
    assert_eq!(
        summaries(&open),
        [
            "5xx rate above 5% on api-1:8080",
            "5xx rate above 5% on api-2:8080",
            "5xx rate above 5% on api-3:8080"
        ]
    );
    assert_eq!(
        by_summary(&open, "5xx rate above 5% on api-3:8080")["source"],
        "api-3:8080"
    );
    for old in ["api-1:8080", "api-2:8080"] {
        let a = by_summary(&open, &format!("5xx rate above 5% on {old}"));
        assert!(a["occurrences"].as_u64().unwrap() >= 2, "{a:#}");
    }
    assert_eq!(app.all_alerts().await.len(), 3, "a repeat made a new alert");

    // api-2 recovers: Prometheus sends it with endsAt in the past; only it resolves.
    let ended = rfc3339(chrono::Utc::now() - chrono::Duration::seconds(1));
    am.push(json!([alert("api-2:8080", &started, Some(&ended))])).await;
    let (open, resolved) = eventually(&app, &am, "1 resolved alert", |_, resolved| !resolved.is_empty()).await;
    assert_eq!(summaries(&resolved), ["5xx rate above 5% on api-2:8080"]);
    assert_eq!(resolved[0]["source"], "api-2:8080");
    assert_eq!(
        summaries(&open),
        ["5xx rate above 5% on api-1:8080", "5xx rate above 5% on api-3:8080"]
    );
    assert_eq!(app.all_alerts().await.len(), 3);

    drop(am);
    app.stop().await;
}
