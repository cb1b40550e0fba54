//! Live reload of the rota files: a broken edit while the daemon runs keeps
//! the last good rotas in force (they still answer and page), with every
//! problem reported on /readyz and counted in /metrics; the fixed file is
//! picked up on its own, and the engine pages the new rotas. SIGHUP reloads
//! too (the real binary).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::daemon::{KEY, TestApp, temp_dir, write_schedules};

/// How long the watcher (every 2 s) may take to see a change.
const PATIENCE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

async fn payments_primary(app: &TestApp) -> Value {
    let (code, body) = app.api_get("/v1/oncall").await;
    assert_eq!(code, 200, "{body}");
    body["oncall"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["team"] == "payments" && r["rota"] == "primary")
        .map(|r| r["user"].clone())
        .unwrap_or(Value::Null)
}

async fn until<F, Fut>(what: &str, mut f: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

async fn metric(app: &TestApp, name: &str) -> String {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_edit_keeps_the_last_good_rotas_and_a_fix_is_picked_up() {
    let app = TestApp::spawn().await;
    let file = app.dir.join("schedules/payments.yaml");
    let good = std::fs::read_to_string(&file).unwrap();
    let before = payments_primary(&app).await;
    assert!(before == "alice" || before == "bob", "{before}");

    // A typo in the time zone, and an unknown person.
    let broken = good
        .replace("timezone: Europe/London", "timezone: Europe/Londn")
        .replace("members: [alice, bob]", "members: [alice, zed]");
    std::fs::write(&file, &broken).unwrap();
    let ready = until("the failed reload on /readyz", || async {
        let (code, body) = app.api_get("/readyz").await;
        assert_eq!(code, 200, "still ready: the last good rotas serve");
        (body["config"]["errors"].is_array()).then_some(body)
    })
    .await;
    let errors: Vec<&str> = ready["config"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        errors.iter().any(|e| e
            .ends_with("payments.yaml:2:11: error: unknown time zone `Europe/Londn`; did you mean `Europe/London`?")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("payments.yaml:4:") && e.contains("zed")),
        "{errors:#?}"
    );
    // The old rotas still answer, take alerts and page.
    assert_eq!(payments_primary(&app).await, before);
    let (code, body) = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": "during the bad edit", "severity": "critical"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(
        metric(&app, "oncall_config_reloads_total{result=\"failed\"}").await,
        "1"
    );
    assert_eq!(metric(&app, "oncall_config_last_reload_ok").await, "0");

    // Fixed, with dave alone on the rota: the new rotas answer and page.
    std::fs::write(&file, good.replace("members: [alice, bob]", "members: [dave]")).unwrap();
    until("dave on call after the fix", || async {
        (payments_primary(&app).await == "dave").then_some(Value::Null)
    })
    .await;
    let (_, ready) = app.api_get("/readyz").await;
    assert_eq!(ready["config"]["status"], "ok", "{ready}");
    assert_eq!(metric(&app, "oncall_config_reloads_total{result=\"ok\"}").await, "1");
    assert_eq!(metric(&app, "oncall_config_last_reload_ok").await, "1");
    let (code, body) = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": "after the fix", "severity": "critical"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["alert_id"].as_i64().unwrap();
    app.run_engine().await;
    let (_, alert) = app.api_get(&format!("/v1/alerts/{id}")).await;
    let paged: Vec<&str> = alert["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["person"].as_str().unwrap())
        .collect();
    assert!(!paged.is_empty() && paged.iter().all(|p| *p == "dave"), "{alert}");
    app.stop().await;
}

/// SIGHUP to the real binary reloads the rota files.
#[test]
fn sighup_reloads_the_rota_files() {
    let dir = temp_dir("sighup");
    write_schedules(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--schedules")
        .arg(dir.join("schedules"))
        .arg("--database")
        .arg(dir.join("oncall.db"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut wait_for = |needle: &str| loop {
        let mut line = String::new();
        assert!(log.read_line(&mut line).unwrap() > 0, "the daemon exited:\n{seen}");
        seen.push_str(&line);
        if line.contains(needle) {
            break;
        }
    };
    wait_for("oncall serving");
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    wait_for("SIGHUP: reloading the rota files");
    wait_for("rota files reloaded");
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(child.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&dir);
}
