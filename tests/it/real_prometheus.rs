//! A real Prometheus (Debian's `prometheus`, installed by scripts/test)
//! scrapes the daemon's `/metrics` every second; the test then asks
//! Prometheus' query API for the series and checks their values: alerts
//! received by source and severity, unresolved alerts, escalation steps,
//! failed deliveries by channel, engine passes and gaps ahead.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::daemon::{KEY, TestApp, temp_dir};

/// How long Prometheus may take to start and scrape (every second).
const PATIENCE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);

fn prometheus_binary() -> PathBuf {
    let path =
        std::env::var_os("ONCALL_TEST_PROMETHEUS").map_or_else(|| PathBuf::from("/usr/bin/prometheus"), PathBuf::from);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/test, which installs Debian's prometheus, or set ONCALL_TEST_PROMETHEUS",
        path.display()
    );
    path
}

/// A series' labels, in name order.
type Labels = std::collections::BTreeMap<String, String>;

fn labels(v: &Value) -> Labels {
    v.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

struct Prometheus {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(dir: &std::path::Path, target: &str) -> Prometheus {
        let port = crate::notify::free_port();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: oncall\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let log = dir.join("prometheus.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(prometheus_binary())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("cannot start prometheus");
        Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The instant vector of `query`, as (labels without `instance`/`job`,
    /// value) pairs, sorted; `None` while Prometheus cannot answer yet.
    async fn query(&self, query: &str) -> Option<Vec<(Labels, String)>> {
        let url = reqwest::Url::parse_with_params(&format!("{}/api/v1/query", self.base), &[("query", query)]).ok()?;
        let response = reqwest::Client::new().get(url).send().await.ok()?;
        let body: Value = response.json().await.ok()?;
        let mut out: Vec<(Labels, String)> = body["data"]["result"]
            .as_array()?
            .iter()
            .map(|r| {
                let mut labels = labels(&r["metric"]);
                labels.remove("instance");
                labels.remove("job");
                (labels, r["value"][1].as_str().unwrap_or_default().to_string())
            })
            .collect();
        out.sort();
        Some(out)
    }

    /// Waits until `query` answers `want`.
    async fn wait_for(&mut self, query: &str, want: Vec<(Value, &str)>) {
        let mut want: Vec<(Labels, String)> = want.into_iter().map(|(l, v)| (labels(&l), v.to_string())).collect();
        want.sort();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut last = None;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("prometheus exited ({status}):\n{}", self.log());
            }
            let got = self.query(query).await;
            if got.as_ref() == Some(&want) {
                return;
            }
            last = got.or(last);
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{query}: wanted {want:?}, Prometheus last said {last:?}\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_the_daemons_metrics() {
    let app = TestApp::spawn().await;
    for (key, severity) in [("a", "critical"), ("b", "critical"), ("c", "minor")] {
        let (code, body) = app
            .post(
                "/v1/alerts",
                KEY,
                json!({"summary": key, "severity": severity, "dedup_key": key}),
            )
            .await;
        assert_eq!(code, 202, "{body}");
    }
    // Acknowledged: still unresolved, counted apart.
    let (code, _) = app.api_post("/v1/alerts/3/ack", json!({"by": "alice"})).await;
    assert_eq!(code, 200);
    // The engine's first step pages whoever is on call; with no channel
    // configured, each message is a failed delivery.
    let report = app.run_engine().await;
    assert!(!report.attempts.is_empty());

    let target = app.base.trim_start_matches("http://").to_string();
    let dir = temp_dir("prometheus");
    let mut prometheus = Prometheus::start(&dir, &target);
    prometheus
        .wait_for("up{job=\"oncall\"}", vec![(json!({"__name__": "up"}), "1")])
        .await;
    prometheus
        .wait_for(
            "oncall_alerts_received_total",
            vec![
                (
                    json!({"__name__": "oncall_alerts_received_total", "source": "plain", "severity": "critical"}),
                    "2",
                ),
                (
                    json!({"__name__": "oncall_alerts_received_total", "source": "plain", "severity": "minor"}),
                    "1",
                ),
            ],
        )
        .await;
    prometheus
        .wait_for(
            "oncall_alerts_unresolved",
            vec![
                (
                    json!({"__name__": "oncall_alerts_unresolved", "team": "payments", "severity": "critical", "status": "open"}),
                    "2",
                ),
                (
                    json!({"__name__": "oncall_alerts_unresolved", "team": "payments", "severity": "minor", "status": "acknowledged"}),
                    "1",
                ),
            ],
        )
        .await;
    // One first step for each of the two open alerts.
    prometheus
        .wait_for(
            "oncall_escalation_steps_total",
            vec![(json!({"__name__": "oncall_escalation_steps_total"}), "2")],
        )
        .await;
    prometheus
        .wait_for(
            "sum(oncall_notifications_failed_total)",
            vec![(json!({}), &report.attempts.len().to_string())],
        )
        .await;
    prometheus
        .wait_for(
            "oncall_engine_pass_duration_seconds_count",
            vec![(json!({"__name__": "oncall_engine_pass_duration_seconds_count"}), "1")],
        )
        .await;
    prometheus
        .wait_for(
            "oncall_schedule_gap_seconds_ahead",
            vec![
                (
                    json!({"__name__": "oncall_schedule_gap_seconds_ahead", "team": "payments", "rota": "primary"}),
                    "0",
                ),
                (
                    json!({"__name__": "oncall_schedule_gap_seconds_ahead", "team": "platform", "rota": "primary"}),
                    "0",
                ),
            ],
        )
        .await;
    drop(prometheus);
    app.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
