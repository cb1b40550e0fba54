//! The notification channels against real servers on loopback: a real SMTP
//! server (Debian's `aiosmtpd`, installed by scripts/test) that stores each
//! message in a Maildir, and an HTTP server that speaks Twilio's Messages
//! API, ntfy's publish API and a chat webhook, and records every request.
//! The faults are real too: nothing listening, a server that accepts and
//! never answers, a size limit, error statuses.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use oncall::notify::{Channels, Config, Method, Notice, PagedAlert, SendError, Urgency, What, render};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::daemon::temp_dir;
use crate::support::at;

/// How long a server may take to start; also the longest any one send may
/// take before the test calls it hung (the channels' timeouts are shorter).
const PATIENCE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

pub(crate) const SMS_SID: &str = "AC0123456789abcdef";
pub(crate) const SMS_TOKEN: &str = "sms-auth-token-0123";
pub(crate) const PUSH_TOKEN: &str = "tk_push0123456789";

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn alert(id: i64, summary: &str) -> PagedAlert {
    PagedAlert {
        also_paged: Vec::new(),
        id,
        team: "payments".into(),
        summary: summary.into(),
        severity: "critical".into(),
        since: at("2026-03-04T08:55:00Z"),
        occurrences: 3,
        drill: false,
        ack_url: Some(format!("https://oncall.example.com/a/{id}/ack?sig=k1")),
        resolve_url: Some(format!("https://oncall.example.com/a/{id}/resolve?sig=k2")),
        reply_ack: format!("ACK {id}"),
        reply_resolve: format!("RES {id}"),
        shadow_of: None,
        lead: None,
    }
}

fn page(id: i64, method: Method, to: &str, alerts: Vec<PagedAlert>) -> Notice {
    Notice {
        id,
        method,
        to: to.into(),
        person: "alice".into(),
        name: "Alice Example".into(),
        urgency: Urgency::High,
        what: What::Page { alerts },
    }
}

/// The channels of an `oncall.toml` fragment, as the daemon builds them.
fn channels(toml_text: &str) -> Channels {
    let config: Config = toml::from_str(toml_text).unwrap_or_else(|e| panic!("{toml_text}\n{e}"));
    Channels::from_config(&config).unwrap()
}

/// Sends, failing the test instead of hanging if the channel never returns.
async fn send(channels: &Channels, notice: &Notice) -> Result<oncall::notify::Receipt, SendError> {
    tokio::time::timeout(PATIENCE, channels.send(notice))
        .await
        .unwrap_or_else(|_| panic!("sending notice {} took longer than {PATIENCE:?}", notice.id))
}

fn retryable(result: Result<oncall::notify::Receipt, SendError>) -> String {
    match result {
        Err(SendError::Retryable(m)) => m,
        other => panic!("expected a retryable failure, got {other:?}"),
    }
}

fn permanent(result: Result<oncall::notify::Receipt, SendError>) -> String {
    match result {
        Err(SendError::Permanent(m)) => m,
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

// ---------------------------------------------------------------- SMTP

/// A running `aiosmtpd`, storing messages as files in `mail/new/`; killed
/// when dropped.
pub(crate) struct Smtp {
    child: Child,
    pub(crate) port: u16,
    mail: PathBuf,
    log: PathBuf,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aiosmtpd() -> PathBuf {
    let path =
        std::env::var_os("ONCALL_TEST_AIOSMTPD").map_or_else(|| PathBuf::from("/usr/bin/aiosmtpd"), PathBuf::from);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/test, which installs Debian's python3-aiosmtpd, or set ONCALL_TEST_AIOSMTPD",
        path.display()
    );
    path
}

/// An aiosmtpd handler that refuses every recipient as Postfix does
/// (`550 5.1.1 <address>: Recipient address rejected: ...`), naming the
/// address in its reply.
const REFUSE_RECIPIENTS: &str = r#"
class RefuseRecipients:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table" % address
"#;

impl Smtp {
    /// Starts aiosmtpd on `port` with its Maildir in `dir/mail` (which must
    /// not exist yet), and waits until it accepts connections.
    pub(crate) async fn start(dir: &Path, port: u16, extra: &[&str]) -> Smtp {
        let mail = dir.join("mail");
        let mut args: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        args.extend([
            "-c".into(),
            "aiosmtpd.handlers.Mailbox".into(),
            mail.display().to_string(),
        ]);
        Smtp::spawn(dir, port, &args, None, mail).await
    }

    /// Starts aiosmtpd on `port` with a handler that refuses every
    /// recipient (550, naming the address); it stores nothing.
    pub(crate) async fn start_refusing_recipients(dir: &Path, port: u16) -> Smtp {
        let module = dir.join("smtp-handlers");
        std::fs::create_dir_all(&module).unwrap();
        std::fs::write(module.join("oncall_test_refuse.py"), REFUSE_RECIPIENTS).unwrap();
        let args = ["-c".to_string(), "oncall_test_refuse.RefuseRecipients".to_string()];
        Smtp::spawn(dir, port, &args, Some(&module), dir.join("mail")).await
    }

    /// Runs aiosmtpd on `port` with `args` (its options, then the handler),
    /// Python modules from `modules` if given, its log in `dir`; waits until
    /// it accepts connections.
    async fn spawn(dir: &Path, port: u16, args: &[String], modules: Option<&Path>, mail: PathBuf) -> Smtp {
        let log = dir.join(format!("aiosmtpd-{port}.log"));
        let log_file = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(aiosmtpd());
        if let Some(modules) = modules {
            command.env("PYTHONPATH", modules);
        }
        let child = command
            .arg("-n")
            .args(["-l", &format!("127.0.0.1:{port}")])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("cannot start aiosmtpd");
        let mut smtp = Smtp { child, port, mail, log };
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(status) = smtp.child.try_wait().unwrap() {
                panic!("aiosmtpd exited at start ({status}):\n{}", smtp.log());
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return smtp;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("aiosmtpd did not listen within {PATIENCE:?}:\n{}", smtp.log());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The messages received so far (aiosmtpd stores a message before it
    /// answers 250, so a delivered email is already here).
    pub(crate) fn messages(&self) -> Vec<Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(self.mail.join("new")) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        files.into_iter().map(|f| std::fs::read(f).unwrap()).collect()
    }

    fn only_message(&self) -> Vec<u8> {
        let mut all = self.messages();
        assert_eq!(
            all.len(),
            1,
            "expected one message in {}:\n{}",
            self.mail.display(),
            self.log()
        );
        all.remove(0)
    }
}

pub(crate) fn email_config(port: u16, extra: &str) -> String {
    format!(
        "[email]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"oncall <oncall@example.com>\"\n{extra}"
    )
}

/// A header of a parsed message, decoded.
fn header(mail: &mailparse::ParsedMail, name: &str) -> String {
    use mailparse::MailHeaderMap as _;
    mail.headers
        .get_first_value(name)
        .unwrap_or_else(|| panic!("no {name} header"))
}

#[tokio::test(flavor = "multi_thread")]
async fn email_arrives_at_a_real_smtp_server_as_text_and_html() {
    let dir = temp_dir("smtp");
    let smtp = Smtp::start(&dir, free_port(), &[]).await;
    let channels = channels(&email_config(smtp.port, ""));
    let mut a = alert(42, "Disk full on <db-1> & café");
    a.occurrences = 7;
    let notice = page(9001, Method::Email, "alice@example.com", vec![a]);

    let receipt = send(&channels, &notice).await.unwrap();
    assert!(receipt.reference.as_deref().unwrap().starts_with("250"), "{receipt:?}");

    let raw = smtp.only_message();
    let mail = mailparse::parse_mail(&raw).unwrap();
    assert_eq!(
        header(&mail, "Subject"),
        "[critical] payments: Disk full on <db-1> & café (alert 42)"
    );
    assert_eq!(header(&mail, "To"), "\"Alice Example\" <alice@example.com>");
    assert_eq!(header(&mail, "From"), "oncall <oncall@example.com>");
    assert_eq!(header(&mail, "Message-ID"), "<oncall.notice.9001@example.com>");
    assert_eq!(header(&mail, "Auto-Submitted"), "auto-generated");
    assert_eq!(header(&mail, "Importance"), "high");
    assert_eq!(mail.ctype.mimetype, "multipart/alternative");
    assert_eq!(mail.subparts.len(), 2);

    let text = &mail.subparts[0];
    assert_eq!(text.ctype.mimetype, "text/plain");
    let text = text.get_body().unwrap().replace("\r\n", "\n");
    assert_eq!(text, render::email(&notice).text);
    assert!(
        text.contains("  Acknowledge  https://oncall.example.com/a/42/ack?sig=k1\n"),
        "{text}"
    );
    assert!(text.contains("  Since        2026-03-04T08:55:00Z\n"), "{text}");
    assert!(text.contains("  Occurrences  7\n"), "{text}");
    assert!(
        text.contains("  SMS reply    ACK 42 to acknowledge, RES 42 to resolve\n"),
        "{text}"
    );

    let html = &mail.subparts[1];
    assert_eq!(html.ctype.mimetype, "text/html");
    let html = html.get_body().unwrap();
    assert!(html.contains("<h3>Disk full on &lt;db-1&gt; &amp; café</h3>"), "{html}");
    assert!(
        html.contains("<a href=\"https://oncall.example.com/a/42/ack?sig=k1\">Acknowledge</a>"),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"https://oncall.example.com/a/42/resolve?sig=k2\">Resolve</a>"),
        "{html}"
    );
    assert!(!html.contains("<db-1>"), "{html}");
    drop(smtp);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn email_is_retryable_while_the_smtp_server_is_down_and_then_delivered_once() {
    let dir = temp_dir("smtp-down");
    let port = free_port();
    let channels = channels(&email_config(port, "timeout_secs = 5\n"));
    let notice = page(
        77,
        Method::Email,
        "alice@example.com",
        vec![alert(42, "Disk full on db-1")],
    );

    // Nobody listens on the port: connection refused.
    let message = retryable(send(&channels, &notice).await);
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");

    let smtp = Smtp::start(&dir, port, &[]).await;
    send(&channels, &notice).await.unwrap();
    let raw = smtp.only_message();
    let mail = mailparse::parse_mail(&raw).unwrap();
    // The retry is the same message as the first attempt would have been.
    assert_eq!(header(&mail, "Message-ID"), "<oncall.notice.77@example.com>");
    assert_eq!(
        header(&mail, "Subject"),
        "[critical] payments: Disk full on db-1 (alert 42)"
    );
    drop(smtp);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn email_the_server_refuses_for_good_is_permanent() {
    let dir = temp_dir("smtp-size");
    // A size limit far below any page: aiosmtpd answers 552 to the data.
    let smtp = Smtp::start(&dir, free_port(), &["-s", "100"]).await;
    let channels = channels(&email_config(smtp.port, ""));
    let notice = page(
        5,
        Method::Email,
        "alice@example.com",
        vec![alert(42, "Disk full on db-1")],
    );
    let message = permanent(send(&channels, &notice).await);
    assert!(message.contains("552"), "{message}");
    assert!(smtp.messages().is_empty());

    // An address that is not one never reaches the server.
    let notice = page(
        6,
        Method::Email,
        "alice at example.com",
        vec![alert(42, "Disk full on db-1")],
    );
    let message = permanent(send(&channels, &notice).await);
    assert!(message.contains("not an email address"), "{message}");
    drop(smtp);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An SMTP server that greets, says hello, and then answers every
/// `MAIL FROM` with `reply`: what a greylisting or overloaded server does.
async fn smtp_refusing_mail(reply: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 test.invalid ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer = match verb.as_str() {
                        "EHLO" | "HELO" => "250 test.invalid\r\n",
                        "MAIL" => reply,
                        "QUIT" => "221 bye\r\n",
                        _ => "250 ok\r\n",
                    };
                    if write.write_all(answer.as_bytes()).await.is_err() || verb == "QUIT" {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn email_4xx_is_retryable_and_5xx_permanent() {
    let port = smtp_refusing_mail("451 4.7.1 greylisted, try again later\r\n").await;
    let channels_4xx = channels(&email_config(port, ""));
    let notice = page(
        8,
        Method::Email,
        "alice@example.com",
        vec![alert(42, "Disk full on db-1")],
    );
    let message = retryable(send(&channels_4xx, &notice).await);
    assert!(message.contains("451"), "{message}");

    let port = smtp_refusing_mail("550 5.7.1 sender rejected\r\n").await;
    let channels_5xx = channels(&email_config(port, ""));
    let message = permanent(send(&channels_5xx, &notice).await);
    assert!(message.contains("550"), "{message}");
}

// ------------------------------------------------------------ HTTP fakes

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub(crate) fn form(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(&self.body).unwrap()
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    /// Answers to give instead of the normal one, first to the next request.
    scripted: Mutex<VecDeque<(u16, String)>>,
}

/// An HTTP server on loopback that speaks Twilio's Messages API
/// (`POST /2010-04-01/Accounts/{sid}/Messages.json`), ntfy's publish API
/// (`POST /{topic}`) and a chat webhook (`POST /hooks/{name}`), checks what
/// those services check, and records every request.
pub(crate) struct Fake {
    pub(crate) base: String,
    recorder: Arc<Recorder>,
}

impl Fake {
    pub(crate) async fn start() -> Fake {
        let recorder = Arc::new(Recorder::default());
        let app = axum::Router::new()
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(twilio))
            .route("/hooks/{name}", post(webhook))
            .route("/{topic}", post(ntfy))
            .with_state(recorder.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake { base, recorder }
    }

    pub(crate) fn script(&self, status: u16, body: &str) {
        self.recorder
            .scripted
            .lock()
            .unwrap()
            .push_back((status, body.to_string()));
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.recorder.seen.lock().unwrap().clone()
    }

    fn only_request(&self) -> Seen {
        let mut seen = self.seen();
        assert_eq!(seen.len(), 1, "{seen:#?}");
        seen.remove(0)
    }
}

/// Records the request; the scripted answer if there is one.
fn record(recorder: &Recorder, path: String, headers: HeaderMap, body: Bytes) -> Option<Response> {
    recorder.seen.lock().unwrap().push(Seen { path, headers, body });
    let (status, body) = recorder.scripted.lock().unwrap().pop_front()?;
    Some((StatusCode::from_u16(status).unwrap(), body).into_response())
}

fn json_response(status: StatusCode, value: Value) -> Response {
    (status, [("content-type", "application/json")], value.to_string()).into_response()
}

async fn twilio(
    State(recorder): State<Arc<Recorder>>,
    UrlPath(sid): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/2010-04-01/Accounts/{sid}/Messages.json");
    if let Some(scripted) = record(&recorder, path, headers.clone(), body.clone()) {
        return scripted;
    }
    let error = |status: u16, code: u32, message: String| {
        json_response(
            StatusCode::from_u16(status).unwrap(),
            json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status}),
        )
    };
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SMS_SID}:{SMS_TOKEN}"))
    );
    if sid != SMS_SID || headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&expected) {
        return error(401, 20003, "Authenticate".into());
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let to = field("To").unwrap_or_default();
    if !(to.starts_with('+') && to.len() > 4 && to[1..].chars().all(|c| c.is_ascii_digit())) {
        return error(400, 21211, format!("Invalid 'To' Phone Number: {to}"));
    }
    let Some(text) = field("Body").filter(|b| !b.is_empty()) else {
        return error(400, 21602, "Message body is required.".into());
    };
    let n = recorder.seen.lock().unwrap().len();
    json_response(
        StatusCode::CREATED,
        json!({"sid": format!("SM{n:032}"), "status": "queued", "to": to, "from": field("From"), "body": text}),
    )
}

async fn ntfy(
    State(recorder): State<Arc<Recorder>>,
    UrlPath(topic): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(scripted) = record(&recorder, format!("/{topic}"), headers.clone(), body.clone()) {
        return scripted;
    }
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {PUSH_TOKEN}")) {
        return json_response(
            StatusCode::FORBIDDEN,
            json!({"code": 40301, "http": 403, "error": "forbidden"}),
        );
    }
    let n = recorder.seen.lock().unwrap().len();
    json_response(
        StatusCode::OK,
        json!({"id": format!("msg{n}"), "event": "message", "topic": topic, "message": String::from_utf8_lossy(&body)}),
    )
}

async fn webhook(
    State(recorder): State<Arc<Recorder>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(scripted) = record(&recorder, format!("/hooks/{name}"), headers, body) {
        return scripted;
    }
    (StatusCode::OK, "ok").into_response()
}

/// A server that accepts connections and never says anything.
pub(crate) async fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    port
}

pub(crate) fn sms_config(base: &str, extra: &str) -> String {
    format!(
        "[sms]\nbase_url = \"{base}\"\naccount_sid = \"{SMS_SID}\"\nauth_token = \"{SMS_TOKEN}\"\nfrom = \"+15550199\"\n{extra}"
    )
}

pub(crate) fn push_config(server: &str, extra: &str) -> String {
    format!("[push]\nserver = \"{server}\"\ntoken = \"{PUSH_TOKEN}\"\n{extra}")
}

// ------------------------------------------------------------------ SMS

#[tokio::test(flavor = "multi_thread")]
async fn sms_is_a_twilio_form_post_with_basic_auth() {
    let fake = Fake::start().await;
    let channels = channels(&sms_config(&format!("{}/", fake.base), ""));
    let notice = page(11, Method::Sms, "+15550100", vec![alert(42, "Disk full on db-1")]);

    let receipt = send(&channels, &notice).await.unwrap();
    assert_eq!(receipt.reference.as_deref(), Some("SM00000000000000000000000000000001"));

    let seen = fake.only_request();
    assert_eq!(seen.path, format!("/2010-04-01/Accounts/{SMS_SID}/Messages.json"));
    assert_eq!(
        seen.header("authorization"),
        Some("Basic QUMwMTIzNDU2Nzg5YWJjZGVmOnNtcy1hdXRoLXRva2VuLTAxMjM=")
    );
    assert_eq!(seen.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(
        seen.form(),
        [
            ("To".to_string(), "+15550100".to_string()),
            ("From".to_string(), "+15550199".to_string()),
            (
                "Body".to_string(),
                "[critical] payments: Disk full on db-1. Reply ACK 42".to_string()
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sms_failures_are_classified_by_status() {
    let fake = Fake::start().await;
    let channels = channels(&sms_config(&fake.base, ""));
    let notice = page(12, Method::Sms, "+15550100", vec![alert(42, "Disk full on db-1")]);

    // Down, then up: the same notice goes through on the retry.
    fake.script(500, "Internal Server Error");
    let message = retryable(send(&channels, &notice).await);
    assert!(message.contains("500"), "{message}");
    let receipt = send(&channels, &notice).await.unwrap();
    assert!(receipt.reference.unwrap().starts_with("SM"));
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].form(), seen[1].form());

    // What the provider may say, and whether another attempt may help.
    let cases = [
        (
            429,
            r#"{"code": 20429, "message": "Too Many Requests", "status": 429}"#,
            true,
        ),
        (503, "", true),
        (502, "<html>bad gateway</html>", true),
        (
            404,
            r#"{"code": 20404, "message": "The requested resource was not found", "status": 404}"#,
            false,
        ),
        (
            400,
            r#"{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}"#,
            false,
        ),
    ];
    for (status, body, retry) in cases {
        fake.script(status, body);
        let err = send(&channels, &notice).await.unwrap_err();
        assert_eq!(err.retryable(), retry, "{status}: {err}");
        assert!(err.to_string().contains(&status.to_string()), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sms_refusals_carry_twilios_message() {
    let fake = Fake::start().await;

    // A number Twilio cannot use: 400, permanent, with its reason.
    let channels_ok = channels(&sms_config(&fake.base, ""));
    let notice = page(13, Method::Sms, "555-0100", vec![alert(42, "Disk full on db-1")]);
    let message = permanent(send(&channels_ok, &notice).await);
    assert_eq!(
        message,
        "the SMS API answered 400 Bad Request: Invalid 'To' Phone Number: <recipient> (error 21211)"
    );

    // A wrong token: 401, permanent (fixing it takes a person).
    let wrong = sms_config(&fake.base, "").replace(SMS_TOKEN, "wrong-token");
    let notice = page(14, Method::Sms, "+15550100", vec![alert(42, "Disk full on db-1")]);
    let message = permanent(send(&channels(&wrong), &notice).await);
    assert!(message.contains("401") && message.contains("Authenticate"), "{message}");
}

// ----------------------------------------------------------------- push

#[tokio::test(flavor = "multi_thread")]
async fn push_publishes_to_ntfy_with_its_headers() {
    let fake = Fake::start().await;
    let channels = channels(&push_config(&fake.base, ""));
    let notice = page(
        21,
        Method::Push,
        "ntfy:alice-pager",
        vec![alert(42, "Disk full on db-1")],
    );

    let receipt = send(&channels, &notice).await.unwrap();
    assert_eq!(receipt.reference.as_deref(), Some("msg1"));

    let seen = fake.only_request();
    assert_eq!(seen.path, "/alice-pager");
    let headers: Vec<(&str, Option<&str>)> = [
        "title",
        "priority",
        "tags",
        "click",
        "actions",
        "authorization",
        "content-type",
    ]
    .into_iter()
    .map(|name| (name, seen.header(name)))
    .collect();
    assert_eq!(
        headers,
        [
            ("title", Some("[critical] payments: Disk full on db-1 (alert 42)")),
            ("priority", Some("5")),
            ("tags", Some("rotating_light,critical,payments")),
            ("click", Some("https://oncall.example.com/a/42/ack?sig=k1")),
            (
                "actions",
                Some(
                    "http, Acknowledge, https://oncall.example.com/a/42/ack?sig=k1, method=POST, clear=true; \
                     http, Resolve, https://oncall.example.com/a/42/resolve?sig=k2, method=POST, clear=true"
                )
            ),
            ("authorization", Some("Bearer tk_push0123456789")),
            ("content-type", Some("text/plain; charset=utf-8")),
        ]
    );
    assert_eq!(
        String::from_utf8(seen.body.to_vec()).unwrap(),
        "Disk full on db-1\nSince 2026-03-04T08:55:00Z, 3 occurrences. SMS reply: ACK 42."
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn push_handoff_and_failures() {
    let fake = Fake::start().await;
    let channels = channels(&push_config(&fake.base, ""));
    let handoff = Notice {
        id: 22,
        method: Method::Push,
        to: "ntfy:alice-pager".into(),
        person: "alice".into(),
        name: "Alice Example".into(),
        urgency: Urgency::Normal,
        what: What::Handoff {
            team: "payments".into(),
            rota: "primary".into(),
            start: at("2026-03-05T09:00:00Z"),
            end: None,
            ahead: true,
        },
    };
    send(&channels, &handoff).await.unwrap();
    let seen = fake.only_request();
    assert_eq!(
        seen.header("title"),
        Some("Your shift on payments/primary starts tomorrow at 2026-03-05T09:00:00Z")
    );
    assert_eq!(seen.header("priority"), Some("4"));
    assert_eq!(seen.header("tags"), Some("calendar,payments"));
    assert_eq!(seen.header("actions"), None);
    assert_eq!(seen.header("click"), None);

    fake.script(
        429,
        r#"{"code":42901,"http":429,"error":"limit reached: too many requests"}"#,
    );
    let message = retryable(send(&channels, &handoff).await);
    assert!(message.contains("limit reached"), "{message}");

    // Without the token the fake answers as a protected ntfy does.
    let no_token = channels_without_push_token(&fake.base);
    let message = permanent(send(&no_token, &handoff).await);
    assert_eq!(message, "ntfy answered 403 Forbidden: forbidden");

    // Not a push destination: refused before anything is sent.
    let before = fake.seen().len();
    let bad = Notice {
        to: "alice-pager".into(),
        ..handoff.clone()
    };
    permanent(send(&channels, &bad).await);
    assert_eq!(fake.seen().len(), before);
}

fn channels_without_push_token(server: &str) -> Channels {
    channels(&format!("[push]\nserver = \"{server}\"\n"))
}

// -------------------------------------------------------------- webhook

#[tokio::test(flavor = "multi_thread")]
async fn webhook_posts_a_line_of_text_and_the_notice() {
    let fake = Fake::start().await;
    let channels = channels("");
    let url = format!("{}/hooks/payments-chat", fake.base);
    let notice = page(31, Method::Webhook, &url, vec![alert(42, "Disk full on db-1")]);

    let receipt = send(&channels, &notice).await.unwrap();
    assert_eq!(receipt.reference, None);
    let seen = fake.only_request();
    assert_eq!(seen.path, "/hooks/payments-chat");
    assert_eq!(seen.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(
        body,
        json!({
            "text": "[critical] payments: Disk full on db-1 (alert 42) - acknowledge: https://oncall.example.com/a/42/ack?sig=k1",
            "notice": {
                "id": 31,
                "method": "webhook",
                "to": url,
                "person": "alice",
                "name": "Alice Example",
                "urgency": "high",
                "what": {
                    "kind": "page",
                    "alerts": [{
                        "id": 42,
                        "team": "payments",
                        "summary": "Disk full on db-1",
                        "severity": "critical",
                        "since": "2026-03-04T08:55:00Z",
                        "occurrences": 3,
                        "drill": false,
                        "ack_url": "https://oncall.example.com/a/42/ack?sig=k1",
                        "resolve_url": "https://oncall.example.com/a/42/resolve?sig=k2",
                        "reply_ack": "ACK 42",
                        "reply_resolve": "RES 42",
                        "lead": null
                    }]
                }
            }
        })
    );

    fake.script(503, "slow down");
    retryable(send(&channels, &notice).await);
    fake.script(410, "no_service");
    let message = permanent(send(&channels, &notice).await);
    assert_eq!(message, "the webhook answered 410 Gone: no_service");
    // A redirect is not followed: someone has to fix the URL.
    fake.script(308, "");
    let message = permanent(send(&channels, &notice).await);
    assert_eq!(message, "the webhook answered 308 Permanent Redirect");
    let bad = page(
        32,
        Method::Webhook,
        "ftp://example.com/x",
        vec![alert(42, "Disk full on db-1")],
    );
    permanent(send(&channels, &bad).await);
}

// --------------------------------------------------- no answer at all

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_never_answers_is_retryable_within_the_timeout() {
    let silent = format!("http://127.0.0.1:{}", silent_server().await);
    let smtp_port = silent_server().await;
    let config = format!(
        "{}{}{}[webhook]\ntimeout_secs = 1\n",
        email_config(smtp_port, "timeout_secs = 1\n"),
        sms_config(&silent, "timeout_secs = 1\n"),
        push_config(&silent, "timeout_secs = 1\n"),
    );
    let channels = channels(&config);
    let notices = [
        page(41, Method::Email, "alice@example.com", vec![alert(42, "x")]),
        page(42, Method::Sms, "+15550100", vec![alert(42, "x")]),
        page(43, Method::Push, "ntfy:alice-pager", vec![alert(42, "x")]),
        page(44, Method::Webhook, &format!("{silent}/hooks/x"), vec![alert(42, "x")]),
    ];
    for notice in &notices {
        let message = retryable(send(&channels, notice).await);
        assert!(!message.is_empty(), "{}", notice.method);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_is_not_there_is_retryable() {
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let config = format!("{}{}", sms_config(&nobody, ""), push_config(&nobody, ""));
    let channels = channels(&config);
    let notices = [
        page(51, Method::Sms, "+15550100", vec![alert(42, "x")]),
        page(52, Method::Push, "ntfy:alice-pager", vec![alert(42, "x")]),
        page(53, Method::Webhook, &format!("{nobody}/hooks/x"), vec![alert(42, "x")]),
    ];
    for notice in &notices {
        let message = retryable(send(&channels, notice).await);
        assert!(message.contains("could not be reached"), "{}: {message}", notice.method);
        // The URL (maybe a secret) stays out of the message.
        assert!(!message.contains("127.0.0.1"), "{}: {message}", notice.method);
    }
}
