//! Paging end to end, through the daemon and real servers on loopback: an
//! alert comes in over HTTP, an engine pass (stepped at the manual clock's
//! now) pages by email through a real SMTP server (aiosmtpd), by SMS and
//! push through an HTTP server speaking Twilio's and ntfy's APIs; the person
//! acknowledges from the page itself (the email's link, the push button,
//! an SMS reply) and the escalation stops. Then the faults: a provider down
//! or failing, one that never answers, a restart between two steps.

use chrono::Duration;
use oncall::settings::{File, Settings};
use serde_json::{Value, json};
use std::path::Path;

use crate::daemon::{KEY, TestApp, temp_dir};
use crate::links::{sms, sms_params, twilio_sign};
use crate::notify::{
    Fake, PUSH_TOKEN, SMS_TOKEN, Smtp, email_config, free_port, push_config, silent_server, sms_config,
};

const PUBLIC_URL: &str = "https://oncall.example.test";

const PEOPLE: &str = "people:
  alice: {name: Alice, email: alice@example.com, timezone: Europe/London, notify: [email]}
  bob: {name: Bob, email: bob@example.com, phone: '+447700900002', timezone: Europe/London, notify: [sms]}
  carol: {name: Carol, push: 'ntfy:carol', timezone: Europe/London, notify: [push]}
";

/// A team whose first step pages `first` (a user) and whose second step,
/// ten minutes later, pages `second`.
fn write_team(dir: &Path, first: &str, second: &str) {
    let s = dir.join("schedules");
    std::fs::write(s.join("people.yaml"), PEOPLE).unwrap();
    std::fs::write(
        s.join("payments.yaml"),
        format!(
            "team: payments\ntimezone: Europe/London\nhandoff_notices: []\n\
             rotas:\n  primary: {{members: [{first}], start: 2026-01-05T09:00, every: 1w}}\n\
             intake_key: {KEY}\n\
             escalation:\n  - notify: [rota:primary]\n  - {{after: 10m, notify: [user:{second}]}}\n"
        ),
    )
    .unwrap();
}

/// The test daemon's settings with the channels given in TOML.
fn paging_settings(dir: &Path, channels_toml: &str) -> Settings {
    let file: File = toml::from_str(&format!(
        "public_url = \"{PUBLIC_URL}\"\nlink_secret = \"paging-test-link-secret-0123456789abcdef\"\n{channels_toml}"
    ))
    .unwrap();
    let base = crate::daemon::settings(dir);
    let mut s = Settings::resolve(
        file,
        oncall::settings::Overrides {
            listen: Some("127.0.0.1:0".into()),
            schedules: Some(base.schedules.clone()),
            database: Some(dir.join("oncall.db")),
            api_token: base.api_token.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    s.run_engine = false;
    s.verify_phones = false;
    s
}

async fn spawn(dir: std::path::PathBuf, channels_toml: &str) -> TestApp {
    let settings = paging_settings(&dir, channels_toml);
    TestApp::spawn_with(dir, settings, "2026-06-01T12:00:00Z").await
}

async fn trigger(app: &TestApp, key: &str) -> i64 {
    let (code, body) = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": format!("{key} is failing"), "severity": "critical", "dedup_key": key}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    body["alert_id"].as_i64().unwrap()
}

async fn detail(app: &TestApp, id: i64) -> Value {
    let (code, body) = app.api_get(&format!("/v1/alerts/{id}")).await;
    assert_eq!(code, 200, "{body}");
    body
}

/// `(kind, person)` of each timeline entry that is about a delivery or a
/// step, in order.
async fn story(app: &TestApp, id: i64) -> Vec<String> {
    detail(app, id).await["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let kind = e["kind"].as_str().unwrap();
            match kind {
                "escalated" => format!("escalated step {} to {}", e["detail"]["step"], people(&e["detail"])),
                "notified" | "notify_failed" => {
                    format!(
                        "{kind} {} by {}",
                        e["detail"]["person"].as_str().unwrap(),
                        e["detail"]["method"].as_str().unwrap()
                    )
                }
                "acknowledged" => format!("acknowledged by {}", e["detail"]["by"].as_str().unwrap_or("?")),
                other => other.to_string(),
            }
        })
        .collect()
}

fn people(detail: &Value) -> String {
    detail["reached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["person"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The path of a link to the daemon's public URL, to request it from the
/// test daemon's real address.
fn path_of(link: &str) -> String {
    link.strip_prefix(PUBLIC_URL)
        .unwrap_or_else(|| panic!("{link} is not under {PUBLIC_URL}"))
        .to_string()
}

/// The first `https://...` link in `text` that contains `needle`.
fn find_link(text: &str, needle: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .find(|w| w.starts_with(PUBLIC_URL) && w.contains(needle))
        .unwrap_or_else(|| panic!("no link with {needle} in:\n{text}"))
        .to_string()
}

/// The email's plain-text part.
fn text_part(raw: &[u8]) -> String {
    let mail = mailparse::parse_mail(raw).unwrap();
    let part = mail
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "text/plain")
        .unwrap_or(&mail);
    part.get_body().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_page_is_acknowledged_from_its_link_and_the_escalation_stops() {
    let dir = temp_dir("paging-email");
    write_team(&dir, "alice", "bob");
    let smtp = Smtp::start(&dir, free_port(), &[]).await;
    let fake = Fake::start().await;
    let app = spawn(
        dir.clone(),
        &format!("{}{}", email_config(smtp.port, ""), sms_config(&fake.base, "")),
    )
    .await;
    let id = trigger(&app, "disk").await;
    app.run_engine().await;

    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{}", smtp.log());
    let text = text_part(&mails[0]);
    assert!(text.contains("disk is failing"), "{text}");
    let ack = find_link(&text, "/v1/act/");
    // A mail scanner following the link changes nothing.
    let page = app
        .client
        .get(format!("{}{}", app.base, path_of(&ack)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(detail(&app, id).await["alert"]["status"], "open");

    app.clock.advance(Duration::minutes(3));
    let done = app
        .client
        .post(format!("{}{}", app.base, path_of(&ack)))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("Acknowledged"));

    // The second step's time comes: nobody else is paged.
    app.clock.advance(Duration::minutes(10));
    let report = app.run_engine().await;
    assert!(report.attempts.is_empty(), "{report:?}");
    assert!(fake.seen().is_empty(), "bob was texted: {:?}", fake.seen());
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(
        story(&app, id).await,
        [
            "created",
            "escalated step 0 to alice",
            "notified alice by email",
            "acknowledged by alice"
        ]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sms_page_is_acknowledged_by_replying_to_it() {
    let dir = temp_dir("paging-sms");
    write_team(&dir, "bob", "alice");
    let fake = Fake::start().await;
    let app = spawn(dir.clone(), &sms_config(&fake.base, "")).await;
    let id = trigger(&app, "queue").await;
    app.run_engine().await;

    let seen = fake.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let form = seen[0].form();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(field("To"), "+447700900002");
    let body = field("Body");
    let reply = format!("ACK {id}");
    assert!(body.ends_with(&format!("Reply {reply}")), "{body}");

    // Bob replies, Twilio posts the reply (signed) to the daemon.
    let params = sms_params("+447700900002", &reply);
    let signature = twilio_sign(SMS_TOKEN, &format!("{PUBLIC_URL}/v1/sms/inbound"), &params);
    let (code, answer) = sms(&app, &params, Some(&signature)).await;
    assert_eq!(code, 200, "{answer}");
    assert!(answer.contains(&format!("Acknowledged alert {id}")), "{answer}");

    app.clock.advance(Duration::minutes(11));
    assert!(app.run_engine().await.attempts.is_empty());
    assert_eq!(fake.seen().len(), 1);
    assert_eq!(detail(&app, id).await["alert"]["acknowledged_by"], "bob");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_page_is_acknowledged_from_its_button() {
    let dir = temp_dir("paging-push");
    write_team(&dir, "carol", "alice");
    let fake = Fake::start().await;
    let app = spawn(dir.clone(), &push_config(&fake.base, "")).await;
    let id = trigger(&app, "api").await;
    app.run_engine().await;

    let seen = fake.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/carol");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {PUSH_TOKEN}").as_str())
    );
    assert_eq!(seen[0].header("priority"), Some("5"));
    let actions = seen[0].header("actions").unwrap().to_string();
    let ack = find_link(&actions.replace([',', ';'], " "), "/v1/act/");
    // ntfy's http action: a POST without a body.
    let done = app
        .client
        .post(format!("{}{}", app.base, path_of(&ack)))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(detail(&app, id).await["alert"]["acknowledged_by"], "carol");
    app.stop().await;
}

/// The SMTP server is down for the first attempts: the page is retried
/// with backoff and arrives, once, after the server comes back.
#[tokio::test(flavor = "multi_thread")]
async fn an_email_arrives_after_the_smtp_server_comes_back() {
    let dir = temp_dir("paging-smtp-down");
    write_team(&dir, "alice", "bob");
    let port = free_port();
    let app = spawn(dir.clone(), &email_config(port, "timeout_secs = 2\n")).await;
    let id = trigger(&app, "disk").await;
    let first = app.run_engine().await;
    assert_eq!(first.attempts.len(), 1);
    let notification = &detail(&app, id).await["notifications"][0];
    assert_eq!(notification["state"], "pending", "{notification}");
    assert_eq!(notification["attempts"], 1);

    let smtp = Smtp::start(&dir, port, &[]).await;
    // Not yet due: nothing is sent before the retry time.
    assert!(app.run_engine().await.attempts.is_empty());
    app.clock.advance(Duration::seconds(15));
    let second = app.run_engine().await;
    assert_eq!(second.attempts.len(), 1, "{second:?}");
    assert_eq!(smtp.messages().len(), 1, "{}", smtp.log());
    let notification = &detail(&app, id).await["notifications"][0];
    assert_eq!(notification["state"], "sent");
    assert_eq!(notification["attempts"], 2);
    assert_eq!(
        story(&app, id).await,
        [
            "created",
            "escalated step 0 to alice",
            "notify_failed alice by email",
            "notified alice by email"
        ]
    );
    app.stop().await;
}

/// The SMS provider answers 500, then 201: one retry, one SMS.
#[tokio::test(flavor = "multi_thread")]
async fn an_sms_is_retried_after_the_provider_fails() {
    let dir = temp_dir("paging-sms-500");
    write_team(&dir, "bob", "alice");
    let fake = Fake::start().await;
    fake.script(500, "{\"message\": \"internal error\"}");
    let app = spawn(dir.clone(), &sms_config(&fake.base, "")).await;
    let id = trigger(&app, "queue").await;
    app.run_engine().await;
    app.clock.advance(Duration::seconds(15));
    app.run_engine().await;
    assert_eq!(fake.seen().len(), 2);
    assert_eq!(
        story(&app, id).await,
        [
            "created",
            "escalated step 0 to bob",
            "notify_failed bob by sms",
            "notified bob by sms"
        ]
    );
    app.stop().await;
}

/// A provider that accepts the connection and never answers: the pass ends
/// at the channel's timeout with a retry planned, the daemon keeps taking
/// alerts meanwhile (deliveries happen outside the store's transaction).
#[tokio::test(flavor = "multi_thread")]
async fn a_provider_that_never_answers_does_not_stick_the_engine() {
    let dir = temp_dir("paging-silent");
    write_team(&dir, "bob", "alice");
    let port = silent_server().await;
    let app = spawn(
        dir.clone(),
        &sms_config(&format!("http://127.0.0.1:{port}"), "timeout_secs = 3\n"),
    )
    .await;
    let id = trigger(&app, "queue").await;
    // While the pass waits on the provider, an alert comes in and is
    // committed: the pass holds no lock on the store while it delivers.
    let report = {
        let pass = app.run_engine();
        tokio::pin!(pass);
        let during = tokio::select! {
            biased;
            report = &mut pass => panic!("the pass ended before the provider's timeout: {report:?}"),
            id = trigger(&app, "other") => id,
        };
        assert!(during > id);
        pass.await
    };
    assert_eq!(report.attempts.len(), 1, "{report:?}");
    match &report.attempts[0].outcome {
        oncall::engine::outbox::AttemptOutcome::Retry { error, .. } => assert!(error.contains("answer"), "{error}"),
        other => panic!("expected a retry, got {other:?}"),
    }
    app.stop().await;
}

/// The daemon restarts between two steps: the second step fires after the
/// restart, at its time, once.
#[tokio::test(flavor = "multi_thread")]
async fn a_restart_between_two_steps_still_fires_the_second_once() {
    let dir = temp_dir("paging-restart");
    write_team(&dir, "alice", "bob");
    let smtp = Smtp::start(&dir, free_port(), &[]).await;
    let fake = Fake::start().await;
    let channels = format!("{}{}", email_config(smtp.port, ""), sms_config(&fake.base, ""));
    let app = spawn(dir.clone(), &channels).await;
    let id = trigger(&app, "disk").await;
    app.run_engine().await;
    assert_eq!(smtp.messages().len(), 1);
    let dir = app.stop().await;

    let settings = paging_settings(&dir, &channels);
    let app = TestApp::spawn_with(dir, settings, "2026-06-01T12:09:00Z").await;
    assert!(app.run_engine().await.attempts.is_empty(), "step 2 is not due yet");
    app.clock.advance(Duration::minutes(1));
    assert_eq!(app.run_engine().await.attempts.len(), 1);
    app.clock.advance(Duration::minutes(30));
    assert!(app.run_engine().await.attempts.is_empty());
    assert_eq!(fake.seen().len(), 1, "bob is texted once");
    assert_eq!(smtp.messages().len(), 1, "alice is emailed once");
    assert_eq!(
        story(&app, id).await,
        [
            "created",
            "escalated step 0 to alice",
            "notified alice by email",
            "escalated step 1 to bob",
            "notified bob by sms"
        ]
    );
    app.stop().await;
}

/// `oncall drill` against the running daemon: the practice page goes out by
/// the real path (a real SMTP server), the person acknowledges from the
/// email, the command reports who was reached and how, and resolves it.
#[tokio::test(flavor = "multi_thread")]
async fn a_drill_reports_who_was_reached_and_who_acknowledged() {
    let dir = temp_dir("paging-drill");
    write_team(&dir, "alice", "bob");
    let smtp = Smtp::start(&dir, free_port(), &[]).await;
    let app = spawn(dir.clone(), &email_config(smtp.port, "")).await;
    let drill = std::process::Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["drill", "--team", "payments", "--url", &app.base, "--wait", "2m"])
        .env("ONCALL_API_TOKEN", crate::daemon::API_TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let drill = tokio::task::spawn_blocking(move || drill.wait_with_output());
    // The drill alert appears; the engine (stepped here) pages alice.
    let id = loop {
        if let Some(a) = app.alerts("open").await.first() {
            break a["id"].as_i64().unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    app.run_engine().await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{}", smtp.log());
    let subject = mailparse::parse_mail(&mails[0]).unwrap().headers;
    use mailparse::MailHeaderMap as _;
    assert!(subject.get_first_value("Subject").unwrap().contains("[DRILL]"));
    app.clock.advance(Duration::seconds(40));
    let ack = find_link(&text_part(&mails[0]), "/v1/act/");
    let done = app
        .client
        .post(format!("{}{}", app.base, path_of(&ack)))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);

    let output = drill.await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("drill: alert {id} for payments (critical)")),
        "{stdout}"
    );
    assert!(stdout.contains("step 0  alice (rota:primary) by email"), "{stdout}");
    // No test page ever confirmed alice's email: reached, and flagged.
    assert!(
        stdout.contains("reached alice by email (attempt 1) [unproven]"),
        "{stdout}"
    );
    assert!(stdout.contains("+  40s  acknowledged by alice"), "{stdout}");
    assert!(
        stdout.contains(&format!("the drill alert {id} is resolved")),
        "{stdout}"
    );
    assert_eq!(detail(&app, id).await["alert"]["status"], "resolved");
    app.stop().await;
}

/// Issue 16 (docs/security.md): the links in a page work for 24 hours from
/// the page (`engine::LINK_VALIDITY`), then say they expired and change
/// nothing.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_a_pages_links_expire_a_day_after_the_page() {
    let dir = temp_dir("paging-link-expiry");
    write_team(&dir, "carol", "carol");
    let fake = Fake::start().await;
    let app = spawn(dir.clone(), &push_config(&fake.base, "")).await;
    let id = trigger(&app, "api").await;
    app.run_engine().await;
    let actions = fake.seen()[0].header("actions").unwrap().to_string();
    let ack = format!(
        "{}{}",
        app.base,
        path_of(&find_link(&actions.replace([',', ';'], " "), "/v1/act/"))
    );

    app.clock.advance(Duration::hours(24) - Duration::seconds(1));
    let r = app.client.get(&ack).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    app.clock.advance(Duration::seconds(1));
    let r = app.client.post(&ack).send().await.unwrap();
    assert_eq!(r.status(), 410);
    let said = r.text().await.unwrap();
    assert!(said.contains("This link has expired"), "{said}");
    assert_eq!(detail(&app, id).await["alert"]["acknowledged_by"], Value::Null);
    app.stop().await;
}
