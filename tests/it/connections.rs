//! Inbound connections (issue 16): connections that send nothing, half a
//! request, or stop in the middle of a body are closed after their
//! timeouts; more of them than the daemon has file descriptors neither stop
//! `/healthz` nor a page. The real binary, under a small open-files limit
//! the test sets, pages through a real SMTP server (aiosmtpd); the timeouts
//! are shown on the in-process daemon, over raw TCP.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::daemon::{API_TOKEN, KEY, TestApp, temp_dir, write_schedules};
use crate::notify::{Smtp, email_config, free_port};

/// The open-files limit (soft and hard) the daemon is started under.
const OPEN_FILES: u64 = 256;
/// Connections that never finish a request: more than the daemon has
/// descriptors.
const IDLE: usize = 300;
/// The longest any one step may take before the test calls it stuck (far
/// above what each takes).
const PATIENCE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(100);

const PEOPLE: &str = "people:
  alice: {name: Alice, email: alice@example.com, timezone: Europe/London, notify: [email]}
";

/// A team whose rota is alice alone (from long ago, so whatever the real
/// clock says), paged at once.
fn write_team(dir: &Path) {
    let s = dir.join("schedules");
    std::fs::write(s.join("people.yaml"), PEOPLE).unwrap();
    std::fs::write(
        s.join("payments.yaml"),
        format!(
            "team: payments\ntimezone: Europe/London\nhandoff_notices: []\n\
             rotas:\n  primary: {{members: [alice], start: 2020-01-06T09:00, every: 1w}}\n\
             intake_key: {KEY}\n\
             escalation:\n  - notify: [rota:primary]\n"
        ),
    )
    .unwrap();
}

/// A real daemon, killed if the test ends without stopping it (a failed
/// assertion), so that none outlives its test.
struct Daemon {
    child: std::process::Child,
    address: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    drain: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Daemon {
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, and the daemon's exit status with its whole log.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        if let Some(drain) = self.drain.take() {
            drain.join().unwrap();
        }
        (status, self.log())
    }
}

/// The real `oncall serve` on `dir` with `config`, its open-files limit set
/// to [`OPEN_FILES`] (soft and hard, so raising the soft limit at start
/// gains nothing) before it runs.
fn start_limited(dir: &Path, config: &str) -> Daemon {
    let path = dir.join("oncall.toml");
    std::fs::write(&path, config).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_oncall"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .arg("--schedules")
        .arg(dir.join("schedules"))
        .arg("--database")
        .arg(dir.join("oncall.db"))
        .env_remove("ONCALL_LISTEN")
        .env_remove("ONCALL_LOG_FORMAT")
        .env_remove("ONCALL_HEADER_READ_TIMEOUT")
        .env_remove("ONCALL_IDLE_TIMEOUT")
        .env_remove("ONCALL_MAX_CONNECTIONS")
        .env("ONCALL_LOG", "info")
        .env("ONCALL_API_TOKEN", API_TOKEN);
    // SAFETY: between fork and exec the closure only makes one system
    // call (no allocation, no lock), as `pre_exec` requires.
    unsafe {
        command.pre_exec(|| {
            use rustix::process::{Resource, Rlimit, setrlimit};
            let limit = Rlimit {
                current: Some(OPEN_FILES),
                maximum: Some(OPEN_FILES),
            };
            setrlimit(Resource::Nofile, limit).map_err(std::io::Error::from)
        });
    }
    let crate::support::Served {
        child,
        address,
        log,
        drain,
    } = crate::support::serve(&mut command);
    Daemon {
        child,
        address,
        log,
        drain: Some(drain),
    }
}

/// `n` connections to `address` that never finish a request: every other
/// one sends nothing, the rest half a request line.
async fn idle_connections(address: &str, n: usize) -> Vec<TcpStream> {
    let mut all = Vec::with_capacity(n);
    for i in 0..n {
        let mut stream = TcpStream::connect(address).await.unwrap();
        if i % 2 == 1 {
            stream.write_all(b"POST /v1/alerts HTT").await.unwrap();
        }
        all.push(stream);
    }
    all
}

/// Polls `check` until it answers `Some`, for at most [`PATIENCE`]; panics
/// with `what` and the daemon's log if it never does.
async fn until<T, F: std::future::Future<Output = Option<T>>>(
    served: &Daemon,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{what}: not within {PATIENCE:?}; the daemon's log:\n{}", served.log());
        }
        tokio::time::sleep(POLL).await;
    }
}

fn to_alice(mail: &[u8]) -> bool {
    use mailparse::MailHeaderMap as _;
    let parsed = mailparse::parse_mail(mail).unwrap();
    parsed
        .headers
        .get_first_value("To")
        .is_some_and(|to| to.contains("alice@example.com"))
}

/// More idle connections than the daemon has descriptors: they are closed
/// after header_read_timeout, meanwhile no more of them are taken than
/// leaves room for the daemon's own, and /healthz answers and an alert is
/// paged by email as usual.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_idle_connections_past_the_descriptor_limit_do_not_stop_pages() {
    let dir = temp_dir("conn-flood");
    write_team(&dir);
    let smtp = Smtp::start(&dir, free_port(), &[]).await;
    let served = start_limited(
        &dir,
        &format!("header_read_timeout = \"2s\"\n{}", email_config(smtp.port, "")),
    );
    let base = format!("http://{}", served.address);
    let held = idle_connections(&served.address, IDLE).await;

    let client = reqwest::Client::builder().timeout(PATIENCE).build().unwrap();
    until(&served, "/healthz answering 200", || async {
        let r = client.get(format!("{base}/healthz")).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    let alert = json!({"summary": "checkout is failing", "severity": "critical", "dedup_key": "checkout"});
    until(&served, "the alert taken (202)", || async {
        let r = client
            .post(format!("{base}/v1/alerts"))
            .bearer_auth(KEY)
            .json(&alert)
            .send()
            .await
            .ok()?;
        (r.status() == 202).then_some(())
    })
    .await;
    until(&served, "the page to alice in the SMTP server", || async {
        smtp.messages().iter().any(|m| to_alice(m)).then_some(())
    })
    .await;
    let log = served.log();
    assert!(log.contains("open_files_limit=256"), "{log}");
    assert!(log.contains("at the connection cap"), "{log}");
    assert!(!log.contains("Too many open files"), "{log}");

    drop(held);
    let (status, log) = served.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// While inbound connections fill every slot the daemon takes (their
/// timeouts far off), a page still goes out: the cap keeps descriptors for
/// the SMTP connection. The alert comes on a connection the daemon took
/// before the flood.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_a_page_goes_out_while_inbound_connections_are_at_the_cap() {
    let dir = temp_dir("conn-cap");
    write_team(&dir);
    let smtp = Smtp::start(&dir, free_port(), &[]).await;
    let served = start_limited(
        &dir,
        &format!(
            "header_read_timeout = \"10m\"\nidle_timeout = \"10m\"\n{}",
            email_config(smtp.port, "")
        ),
    );
    let mut first = TcpStream::connect(&served.address).await.unwrap();
    let held = idle_connections(&served.address, IDLE).await;
    // The flood is in: the daemon stopped taking connections (at its cap,
    // or, without one, at its descriptor limit).
    until(&served, "the daemon at its cap", || async {
        let log = served.log();
        (log.contains("at the connection cap") || log.contains("accept error")).then_some(())
    })
    .await;

    let body = json!({"summary": "checkout is failing", "severity": "critical", "dedup_key": "checkout"}).to_string();
    let request = format!(
        "POST /v1/alerts HTTP/1.1\r\nHost: oncall\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // Kept alive, the connection keeps its descriptor: the SMTP connection
    // cannot have it.
    first.write_all(request.as_bytes()).await.unwrap();
    let answer = read_answer(&mut first).await;
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    until(&served, "the page to alice in the SMTP server", || async {
        smtp.messages().iter().any(|m| to_alice(m)).then_some(())
    })
    .await;
    let log = served.log();
    assert!(!log.contains("Too many open files"), "{log}");

    drop(held);
    let (status, log) = served.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One whole answer (headers, and a body of its `Content-Length`) read from
/// `stream`, which stays open.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "closed before the whole answer: {text}");
        got.extend_from_slice(&buf[..n]);
    }
}

/// The in-process daemon with short connection timeouts.
async fn spawn_with_timeouts(header: Duration, idle: Duration) -> TestApp {
    let dir = temp_dir("conn-timeouts");
    write_schedules(&dir);
    let mut settings = crate::daemon::settings(&dir);
    settings.connections.header_read_timeout = header;
    settings.connections.idle_timeout = idle;
    TestApp::spawn_with(dir, settings, "2026-06-01T12:00:00Z").await
}

/// Reads until the daemon closes `stream`; what it sent before. Panics if
/// it is still open after [`PATIENCE`].
async fn closed_by_daemon(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "still open after {PATIENCE:?}; got {:?}",
        String::from_utf8_lossy(&got)
    );
    String::from_utf8_lossy(&got).into_owned()
}

fn address(app: &TestApp) -> &str {
    app.base.strip_prefix("http://").unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn issue16_a_connection_that_sends_nothing_is_closed_after_the_header_read_timeout() {
    let app = spawn_with_timeouts(Duration::from_secs(1), Duration::from_secs(600)).await;
    let mut silent = TcpStream::connect(address(&app)).await.unwrap();
    assert_eq!(closed_by_daemon(&mut silent).await, "");
    // Half a request line, the same.
    let mut half = TcpStream::connect(address(&app)).await.unwrap();
    half.write_all(b"GET /heal").await.unwrap();
    assert_eq!(closed_by_daemon(&mut half).await, "");
    // The daemon serves on.
    let r = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue16_a_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_with_timeouts(Duration::from_secs(600), Duration::from_secs(1)).await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    // A whole request, answered, and the connection kept alive; then
    // nothing.
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: oncall\r\n\r\n")
        .await
        .unwrap();
    let answer = closed_by_daemon(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nok\n"), "{answer}");
    app.stop().await;
}

/// A kept-alive connection whose next request stops halfway through its
/// head is closed after header_read_timeout, though its idle_timeout is far
/// off: the watchdog, not told of the first byte, looks again after the
/// shorter timeout (a watchdog that slept until the idle deadline would
/// leave it open for ten minutes).
#[tokio::test(flavor = "multi_thread")]
async fn a_kept_alive_connection_whose_next_head_stops_is_closed_after_the_header_read_timeout() {
    let app = spawn_with_timeouts(Duration::from_secs(1), Duration::from_secs(600)).await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: oncall\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.ends_with(b"\r\n\r\nok\n") {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("the first answer in time")
            .unwrap();
        assert_ne!(n, 0, "closed before answering: {:?}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    // The next request's line, half of it, and nothing more.
    stream.write_all(b"GET /heal").await.unwrap();
    assert_eq!(closed_by_daemon(&mut stream).await, "");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn issue16_a_body_that_stops_is_refused_after_the_idle_timeout() {
    let app = spawn_with_timeouts(Duration::from_secs(600), Duration::from_secs(1)).await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /v1/alerts HTTP/1.1\r\nHost: oncall\r\nAuthorization: Bearer {KEY}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"summary\": "
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let answer = closed_by_daemon(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("the body stopped"), "{answer}");
    assert!(app.all_alerts().await.is_empty());
    app.stop().await;
}

/// Stopping lets a request in flight finish: its body, sent after the
/// daemon was told to stop, is taken and answered.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_in_flight_is_answered_when_the_daemon_stops() {
    let app = spawn_with_timeouts(Duration::from_secs(600), Duration::from_secs(600)).await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    let body = json!({"summary": "disk full", "severity": "major", "dedup_key": "disk"}).to_string();
    // `Expect: 100-continue`: the daemon says "continue" once the handler
    // reads the body, so the request is in flight before the stop.
    stream
        .write_all(
            format!(
                "POST /v1/alerts HTTP/1.1\r\nHost: oncall\r\nAuthorization: Bearer {KEY}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
        let mut buf = [0u8; 256];
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("100 Continue")
            .unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 100"), "{:?}", String::from_utf8_lossy(&got));

    let dir = app.dir.clone();
    let stopping = tokio::spawn(app.stop());
    stream.write_all(body.as_bytes()).await.unwrap();
    let answer = closed_by_daemon(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    tokio::time::timeout(PATIENCE, stopping)
        .await
        .expect("the daemon stops")
        .unwrap();
    // The alert was kept.
    let app = TestApp::spawn_in(dir).await;
    assert_eq!(app.all_alerts().await.len(), 1);
    app.stop().await;
}
