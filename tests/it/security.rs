//! The entry points under attack, over real HTTP (issue 7, part 4): keys
//! rotated without downtime, the intake's rate limit, action links and SMS
//! replies that act once, cross-site posts refused, the next API token.
//! What the threat model says protects each one (`docs/security.md`).

use chrono::Duration;
use oncall::clock::Clock as _;
use oncall::links::Action;
use oncall::settings::RateLimit;
use serde_json::json;

use crate::daemon::{API_TOKEN, KEY, OTHER_KEY, TestApp, settings, temp_dir, write_schedules};
use crate::links::{
    ALICE_PHONE, PUBLIC_URL, alert, linked_settings, links, local, new_alert, post_empty, sms, sms_params, text,
    twilio_sign,
};

/// The payments team of `write_schedules`, with its key from `key_lines`
/// and an escalation whose acknowledgement times out after 5 minutes (a
/// second step keeps the escalation running meanwhile).
fn write_payments(dir: &std::path::Path, key_lines: &str) {
    std::fs::write(
        dir.join("schedules/payments.yaml"),
        format!(
            "team: payments\ntimezone: Europe/London\nhandoff_notices: []\n\
             rotas:\n  primary: {{members: [alice], start: 2026-01-05T09:00, every: 1w}}\n{key_lines}\n\
             escalation:\n  ack_timeout: 5m\n  steps:\n    - notify: [rota:primary]\n    - {{after: 1h, notify: [user:bob]}}\n"
        ),
    )
    .unwrap();
}

async fn post_status(app: &TestApp, path: &str, key: &str) -> u16 {
    app.post(path, key, json!({"summary": "disk full", "severity": "critical"}))
        .await
        .0
}

#[tokio::test(flavor = "multi_thread")]
async fn an_intake_key_rotates_through_files_without_a_restart() {
    let dir = temp_dir("rotate-key");
    write_schedules(&dir);
    let (current, next) = (dir.join("payments-key"), dir.join("payments-next-key"));
    std::fs::write(&current, "old-key-0123456789\n").unwrap();
    std::fs::write(&next, "new-key-0123456789\n").unwrap();
    write_payments(
        &dir,
        &format!(
            "intake_key_file: {}\nnext_intake_key_file: {}",
            current.display(),
            next.display()
        ),
    );
    let app = TestApp::spawn_in(dir.clone()).await;
    // During the rotation both keys are accepted (the file's newline trimmed).
    assert_eq!(post_status(&app, "/v1/alerts", "old-key-0123456789").await, 202);
    assert_eq!(post_status(&app, "/v1/alerts", "new-key-0123456789").await, 202);
    assert_eq!(post_status(&app, "/v1/alerts", KEY).await, 404);

    // The senders moved: the new key becomes the key, the old one goes. A
    // reload (SIGHUP, or the rota folder changing) reads the files again.
    std::fs::write(&current, "new-key-0123456789").unwrap();
    write_payments(&dir, &format!("intake_key_file: {}", current.display()));
    app.state().in_force.reload(&dir.join("schedules")).await.unwrap();
    assert_eq!(post_status(&app, "/v1/alerts", "old-key-0123456789").await, 404);
    assert_eq!(post_status(&app, "/v1/alerts", "new-key-0123456789").await, 202);
    // The other team's key is untouched.
    assert_eq!(post_status(&app, "/v1/alerts", OTHER_KEY).await, 202);
    app.stop().await;
}

#[test]
fn a_key_file_must_be_absolute_and_one_source_at_a_time() {
    let loaded = oncall::config::load_texts(&[
        ("people.yaml", crate::support::PEOPLE),
        (
            "a.yaml",
            "team: a\ntimezone: UTC\nrotas:\n  r: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n\
             intake_key_file: keys/a\n",
        ),
        (
            "b.yaml",
            "team: b\ntimezone: UTC\nrotas:\n  r: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n\
             intake_key: k-0123456789\nintake_key_env: B_KEY\n",
        ),
        (
            "c.yaml",
            "team: c\ntimezone: UTC\nrotas:\n  r: {members: [alice], start: 2026-01-05T09:00, every: 1w}\n\
             next_intake_key: c-next-key-0123456789\n",
        ),
    ]);
    let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
    assert_eq!(
        errors,
        [
            "a.yaml:5:18: error: intake_key_file should be an absolute path, like /run/credentials/oncall.service/intake_key",
            "b.yaml:5:13: error: give one of `intake_key_env`, `intake_key_file` or `intake_key`, not several",
            "c.yaml:5:18: error: a next integration key needs a current one (`intake_key_env`, `intake_key_file` or `intake_key`)",
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_team_over_its_rate_gets_429_with_retry_after() {
    let dir = temp_dir("rate");
    write_schedules(&dir);
    let mut s = settings(&dir);
    s.intake_rate = Some(RateLimit {
        per_second: 0.5,
        burst: 2,
    });
    let app = TestApp::spawn_with(dir, s, "2026-06-01T12:00:00Z").await;
    assert_eq!(post_status(&app, "/v1/alerts", KEY).await, 202);
    assert_eq!(post_status(&app, "/v1/alerts", KEY).await, 202);
    let before = app.all_alerts().await.len();

    // The burst is spent: every intake endpoint of the team answers 429,
    // before reading the body, and stores nothing.
    let r = app
        .client
        .post(format!("{}/v1/alerts", app.base))
        .bearer_auth(KEY)
        .json(&json!({"summary": "one too many", "severity": "critical"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("retry in 2 s"), "{body}");
    assert_eq!(post_status(&app, "/v1/alertmanager", KEY).await, 429);
    assert_eq!(post_status(&app, "/v1/grafana", KEY).await, 429);
    assert_eq!(post_status(&app, "/v1/heartbeat/nightly-backup", KEY).await, 429);
    let r = app
        .client
        .post(format!("{}/v2/enqueue", app.base))
        .json(&json!({"routing_key": KEY, "event_action": "trigger",
            "payload": {"summary": "s", "source": "x", "severity": "critical"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    // The bucket comes before the body is looked at: a body that is not
    // JSON, or not even sent as JSON, is 429 too (400 and 415 otherwise).
    for (content_type, body) in [("application/json", "{\"summary\": "), ("text/plain", "summary")] {
        let r = app
            .client
            .post(format!("{}/v1/alerts", app.base))
            .bearer_auth(KEY)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 429, "{content_type}: {body}");
    }
    assert_eq!(
        app.all_alerts().await.len(),
        before,
        "a refused request stored an alert"
    );

    // Another team has its own bucket; a wrong key is not counted at all.
    assert_eq!(post_status(&app, "/v1/alerts", OTHER_KEY).await, 202);
    assert_eq!(post_status(&app, "/v1/alerts", "no-such-key-0123456789").await, 404);

    // Two seconds later one request is allowed again (0.5 a second).
    app.clock.advance(Duration::seconds(2));
    assert_eq!(post_status(&app, "/v1/alerts", KEY).await, 202);
    assert_eq!(post_status(&app, "/v1/alerts", KEY).await, 429);
    app.stop().await;
}

/// The daemon with links and inbound SMS, and the payments team's
/// acknowledgements timing out after 5 minutes.
async fn spawn_linked() -> TestApp {
    let dir = temp_dir("security-links");
    write_schedules(&dir);
    let mut s = linked_settings(&dir, Some(crate::links::SECRET));
    // Pages go nowhere: a port where nothing listens refuses at once.
    s.notify.sms.as_mut().unwrap().base_url = Some("http://127.0.0.1:9".into());
    write_payments(&dir, &format!("intake_key: {KEY}"));
    TestApp::spawn_with(dir, s, "2026-06-01T12:00:00Z").await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_action_link_acts_once_even_after_the_alert_reopens() {
    let app = spawn_linked().await;
    let id = new_alert(&app, "payments API down").await;
    app.run_engine().await;
    let expires = app.clock.now() + Duration::hours(24);
    let ack = local(&app, &links().url(Action::Acknowledge, id, "alice", expires).unwrap());
    let (code, page) = post_empty(&app, &ack).await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(alert(&app, id).await["status"], "acknowledged");

    // Nobody resolved it: after the ack timeout it is open and paging again.
    // One pass sees the acknowledgement and waits the timeout; the next one
    // after it reopens.
    app.run_engine().await;
    app.clock.advance(Duration::minutes(6));
    app.run_engine().await;
    assert_eq!(alert(&app, id).await["status"], "open");
    assert!(app.timeline_kinds(id).await.contains(&"reopened".to_string()));

    // The old link, replayed (a forwarded mail, a browser's history), must not
    // silence the new page.
    let (code, page) = post_empty(&app, &ack).await;
    assert_eq!(code, 410, "{page}");
    assert!(page.contains("This link was used already"), "{page}");
    assert_eq!(alert(&app, id).await["status"], "open");

    // A fresh link works (once).
    let again = local(
        &app,
        &links()
            .url(Action::Acknowledge, id, "alice", expires + Duration::seconds(1))
            .unwrap(),
    );
    assert_eq!(post_empty(&app, &again).await.0, 200);
    assert_eq!(alert(&app, id).await["status"], "acknowledged");
    assert_eq!(post_empty(&app, &again).await.0, 410);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_sms_reply_acts_once() {
    let app = spawn_linked().await;
    let id = new_alert(&app, "payments API down").await;
    app.run_engine().await;
    let body = format!("ACK {id}");
    let params = sms_params(ALICE_PHONE, &body);
    let signature = twilio_sign(
        crate::links::SMS_AUTH_TOKEN,
        &format!("{PUBLIC_URL}/v1/sms/inbound"),
        &params,
    );
    let (code, reply) = sms(&app, &params, Some(&signature)).await;
    assert_eq!(code, 200);
    assert!(reply.contains(&format!("Acknowledged alert {id}")), "{reply}");

    // One pass sees the acknowledgement and waits the timeout; the next one
    // after it reopens.
    app.run_engine().await;
    app.clock.advance(Duration::minutes(6));
    app.run_engine().await;
    assert_eq!(alert(&app, id).await["status"], "open");
    // The same signed request again: Twilio's signature has no timestamp,
    // so the message id is what tells a replay.
    let (code, reply) = sms(&app, &params, Some(&signature)).await;
    assert_eq!(code, 200);
    assert!(reply.contains("handled already"), "{reply}");
    assert_eq!(alert(&app, id).await["status"], "open");
    // A new message does act.
    assert_eq!(
        text(&app, ALICE_PHONE, &format!("ACK {id}")).await,
        format!("Acknowledged alert {id}")
    );
    // The first message's id is kept 30 days: replayed a second before
    // they are up, it is still told from a new message.
    app.clock
        .advance(Duration::days(30) - Duration::minutes(6) - Duration::seconds(1));
    let (code, reply) = sms(&app, &params, Some(&signature)).await;
    assert_eq!(code, 200);
    assert!(reply.contains("handled already"), "{reply}");
    app.stop().await;
}

/// Issue 16 (docs/security.md): an API token (or the next one) shorter than
/// 16 characters stops the daemon's start, naming the setting.
#[test]
fn issue16_api_tokens_under_16_characters_are_refused() {
    use oncall::settings::{File, Overrides, Settings};
    let with = |token: &str, next: Option<&str>| {
        Settings::resolve(
            File::default(),
            Overrides {
                api_token: Some(token.into()),
                api_token_next: next.map(str::to_string),
                ..Overrides::default()
            },
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    let fifteen = "api-token-01234";
    let sixteen = "api-token-012345";
    assert_eq!(with(sixteen, Some(sixteen)), Ok(()));
    for (what, result) in [
        ("api_token", with(fifteen, None)),
        ("api_token_next", with(sixteen, Some(fifteen))),
    ] {
        let e = result.unwrap_err();
        assert!(e.contains(what) && e.contains("use at least 16 characters"), "{e}");
        assert!(!e.contains(fifteen), "the token itself is never shown: {e}");
    }
}

/// `params` signed as Twilio signs a request to the daemon.
fn twilio_signed(params: &[(&str, &str)]) -> String {
    twilio_sign(
        crate::links::SMS_AUTH_TOKEN,
        &format!("{PUBLIC_URL}/v1/sms/inbound"),
        params,
    )
}

/// `params` with `name`'s pair replaced by `with` (and `drop` left out).
fn recut<'a>(
    params: &[(&'a str, &'a str)],
    name: &str,
    with: (&'a str, &'a str),
    drop: Option<&str>,
) -> Vec<(&'a str, &'a str)> {
    params
        .iter()
        .filter(|(n, _)| Some(*n) != drop)
        .map(|&(n, v)| if n == name { with } else { (n, v) })
        .collect()
}

/// Issue 16: Twilio's signature joins names and values with nothing
/// between, so a recorded request can be re-cut under the same signature
/// with its `MessageSid` glued to the next field or cut away; the
/// single-use check must not be skipped then.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_sms_replay_without_message_sid_is_refused() {
    let app = spawn_linked().await;
    let id = new_alert(&app, "payments API down").await;
    app.run_engine().await;
    let body = format!("ACK {id}");
    let params = sms_params(ALICE_PHONE, &body);
    let signature = twilio_signed(&params);
    let (code, reply) = sms(&app, &params, Some(&signature)).await;
    assert_eq!(code, 200);
    assert!(reply.contains(&format!("Acknowledged alert {id}")), "{reply}");
    // The acknowledgement times out: the alert is open again.
    app.run_engine().await;
    app.clock.advance(Duration::minutes(6));
    app.run_engine().await;
    assert_eq!(alert(&app, id).await["status"], "open");
    let timeline = app.timeline_kinds(id).await;

    let sid = params.iter().find(|(n, _)| *n == "MessageSid").unwrap().1;
    let glued = format!("{sid}NumMedia0");
    let cut = format!("ssageSid{sid}");
    for (what, replay) in [
        (
            "MessageSid glued to NumMedia",
            recut(&params, "MessageSid", ("MessageSid", &glued), Some("NumMedia")),
        ),
        ("MessageSid cut away", recut(&params, "MessageSid", ("Me", &cut), None)),
    ] {
        // The recorded signature still verifies for the re-cut request.
        assert_eq!(twilio_signed(&replay), signature, "{what}");
        let (code, answer) = sms(&app, &replay, Some(&signature)).await;
        assert_eq!(code, 400, "{what}: {answer}");
        assert!(
            answer.contains("MessageSid must be SM or MM and 32 hex digits"),
            "{what}: {answer}"
        );
        assert_eq!(alert(&app, id).await["status"], "open", "{what}");
    }
    assert_eq!(app.timeline_kinds(id).await, timeline);
    app.stop().await;
}

/// Issue 16: a request for another account (`AccountSid`, re-cut or not)
/// is refused and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_sms_for_another_account_is_refused() {
    let app = spawn_linked().await;
    let id = new_alert(&app, "payments API down").await;
    app.run_engine().await;
    let body = format!("ACK {id}");
    let params = sms_params(ALICE_PHONE, &body);
    let signature = twilio_signed(&params);
    let other = recut(
        &params,
        "AccountSid",
        ("AccountSid", "AC00000000000000000000000000000000"),
        None,
    );
    let glued = recut(
        &params,
        "AccountSid",
        ("AccountSid", "AC0123456789abcdefApiVersion2010-04-01"),
        Some("ApiVersion"),
    );
    assert_eq!(twilio_signed(&glued), signature);
    for (what, request, signature) in [
        ("another account", &other, twilio_signed(&other)),
        ("AccountSid glued to ApiVersion", &glued, signature.clone()),
    ] {
        let (code, answer) = sms(&app, request, Some(&signature)).await;
        assert_eq!(code, 403, "{what}: {answer}");
        assert!(answer.contains("not for this account"), "{what}: {answer}");
        assert_eq!(alert(&app, id).await["status"], "open", "{what}");
    }
    // The message as sent, for this account, acts: the refusals did not
    // spend its id.
    let (code, answer) = sms(&app, &params, Some(&signature)).await;
    assert_eq!(code, 200);
    assert!(answer.contains(&format!("Acknowledged alert {id}")), "{answer}");
    app.stop().await;
}

/// Issue 16: a registered phone acts only on alerts that paged its person,
/// not on any team's alert by its id. A refused reply says so, changes
/// nothing and does not spend the message.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_sms_acts_only_on_alerts_that_paged_the_sender() {
    let app = spawn_linked().await;
    // Payments pages alice now, bob after an hour.
    let id = new_alert(&app, "payments API down").await;
    let (code, created) = app
        .post(
            "/v1/alerts",
            OTHER_KEY,
            json!({"summary": "platform down", "severity": "critical"}),
        )
        .await;
    assert_eq!(code, 202, "{created}");
    let platform = created["alert_id"].as_i64().unwrap();
    app.run_engine().await;
    let timeline = app.timeline_kinds(id).await;

    let bob = "+447700900002";
    let body = format!("ACK {id}");
    let params = sms_params(bob, &body);
    let signature = twilio_signed(&params);
    let (code, answer) = sms(&app, &params, Some(&signature)).await;
    assert_eq!(code, 200);
    assert!(
        answer.contains(&format!("Alert {id} did not page you, so nothing was done.")),
        "{answer}"
    );
    assert_eq!(alert(&app, id).await["status"], "open");
    assert_eq!(app.timeline_kinds(id).await, timeline);
    // Alice was paged by payments, not by platform (carol's).
    assert_eq!(
        text(&app, ALICE_PHONE, &format!("RES {platform}")).await,
        format!(
            "Alert {platform} did not page you, so nothing was done. Reply ACK or RES with the number of an alert that paged you."
        )
    );
    assert_eq!(alert(&app, platform).await["status"], "open");

    // An hour on, the second step pages bob: the same message now acts.
    app.clock.advance(Duration::hours(1));
    app.run_engine().await;
    let (code, answer) = sms(&app, &params, Some(&signature)).await;
    assert_eq!(code, 200);
    assert!(answer.contains(&format!("Acknowledged alert {id}")), "{answer}");
    assert_eq!(alert(&app, id).await["acknowledged_by"], "bob");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cross_site_post_cannot_act() {
    let app = spawn_linked().await;
    let id = new_alert(&app, "payments API down").await;
    let expires = app.clock.now() + Duration::hours(1);
    let url = local(&app, &links().url(Action::Resolve, id, "alice", expires).unwrap());
    // A form on another site, and a no-cors fetch from one, with the link.
    for mode in ["navigate", "no-cors"] {
        let r = app
            .client
            .post(&url)
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-mode", mode)
            .header("origin", "https://evil.example")
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "{mode}");
        assert!(r.text().await.unwrap().contains("nothing was done"));
        assert_eq!(alert(&app, id).await["status"], "open", "{mode}");
    }
    // The link's own page posting to itself acts; the link was not spent by
    // the refusals.
    let r = app
        .client
        .post(&url)
        .header("sec-fetch-site", "same-origin")
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(alert(&app, id).await["status"], "resolved");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_next_api_token_is_accepted_beside_the_current_one() {
    let dir = temp_dir("api-next");
    write_schedules(&dir);
    let mut s = settings(&dir);
    s.api_token_next = Some("next-api-token-0123456789".into());
    let app = TestApp::spawn_with(dir, s, "2026-06-01T12:00:00Z").await;
    for (token, code) in [
        (API_TOKEN, 200),
        ("next-api-token-0123456789", 200),
        ("next-api-token-012345678", 401),
        (KEY, 401),
    ] {
        let r = app
            .client
            .get(format!("{}/v1/oncall", app.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), code, "{token}");
    }
    app.stop().await;
}

/// Issue 16: providers' refusals repeat the destination ("The 'To' number
/// +447700900004 is not a valid phone number", "<dan@example.com>:
/// Recipient address rejected"). The real daemon, paging through a real
/// SMTP server that refuses the recipient and a Twilio-speaking server that
/// refuses the number with Twilio's documented error body: neither the
/// alert's API answer (timeline and notifications) nor the daemon's log
/// holds the address or the number, and both still say why.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_provider_errors_name_no_destination() {
    use crate::notify::{Fake, Smtp, email_config, free_port, sms_config};
    const EMAIL: &str = "dan@example.com";
    const PHONE: &str = "+447700900004";

    let dir = temp_dir("issue16-leak");
    let s = dir.join("schedules");
    std::fs::write(
        s.join("people.yaml"),
        format!(
            "people:\n  dan: {{name: Dan, email: {EMAIL}, notify: [email]}}\n  \
             erin: {{name: Erin, phone: '{PHONE}', notify: [sms]}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        s.join("payments.yaml"),
        format!(
            "team: payments\ntimezone: Europe/London\nhandoff_notices: []\n\
             rotas:\n  primary: {{members: [dan], start: 2020-01-06T09:00, every: 1w}}\n\
             intake_key: {KEY}\n\
             escalation:\n  - notify: [user:dan, user:erin]\n"
        ),
    )
    .unwrap();
    let smtp = Smtp::start_refusing_recipients(&dir, free_port()).await;
    let twilio = Fake::start().await;
    // Twice: the daemon texts erin's new number a verification code at
    // start (refused and logged alike, `phone_verify`), and pages her.
    for _ in 0..2 {
        twilio.script(
            400,
            &json!({
                "code": 21211,
                "message": format!("The 'To' number {PHONE} is not a valid phone number."),
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400
            })
            .to_string(),
        );
    }
    let config = dir.join("oncall.toml");
    std::fs::write(
        &config,
        format!("{}\n{}", email_config(smtp.port, ""), sms_config(&twilio.base, "")),
    )
    .unwrap();

    /// Stops the daemon when the test ends, passed or failed.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let crate::support::Served {
        child,
        address,
        log,
        drain,
    } = crate::support::serve(
        std::process::Command::new(env!("CARGO_BIN_EXE_oncall"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .current_dir(&dir)
            .env_remove("ONCALL_LISTEN")
            .env_remove("ONCALL_SCHEDULES")
            .env_remove("ONCALL_DATABASE")
            .env_remove("ONCALL_PUBLIC_URL")
            .env_remove("ONCALL_LOG")
            .env_remove("ONCALL_LOG_FORMAT")
            .env("ONCALL_API_TOKEN", API_TOKEN),
    );
    let daemon = Stop(child);
    let base = format!("http://{address}");
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("{base}/v1/alerts"))
        .bearer_auth(KEY)
        .json(&json!({"summary": "payments API down", "severity": "critical"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["alert_id"].as_i64().unwrap();

    // The engine pages at once; both refusals are permanent.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let detail = loop {
        let text = client
            .get(format!("{base}/v1/alerts/{id}"))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let detail: serde_json::Value = serde_json::from_str(&text).unwrap();
        let failed = detail["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["state"] == "failed")
            .count();
        let logged = log.lock().unwrap().matches("delivery failed").count();
        if failed == 2 && logged == 2 {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not both failed and logged: {text}\n{}",
            log.lock().unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let log = log.lock().unwrap().clone();
    for (what, text) in [("GET /v1/alerts/{id}", &detail), ("the log", &log)] {
        for secret in [EMAIL, PHONE, &PHONE[1..]] {
            assert!(!text.contains(secret), "{what} holds {secret}:\n{text}");
        }
        // Still the reasons, with the destination's place marked.
        for reason in [
            "<recipient>: Recipient address rejected",
            "The 'To' number <recipient> is not a valid phone number",
        ] {
            assert!(text.contains(reason), "{what} lacks {reason:?}:\n{text}");
        }
    }
    // Twilio was asked with the real number.
    assert_eq!(twilio.seen()[0].form()[0], ("To".to_string(), PHONE.to_string()));

    drop(daemon);
    drain.join().unwrap();
    drop(smtp);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 16: the scheme of `Authorization` is case-insensitive and may be
/// followed by more than one space (RFC 7235, section 2.1: `auth-scheme
/// 1*SP token68`), for the intake's integration keys and the API token
/// alike. What is not a bearer credential is 401, saying how to send one.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::spawn().await;
    let intake = |authorization: String| {
        app.client
            .post(format!("{}/v1/alerts", app.base))
            .header("authorization", authorization)
            .json(&json!({"summary": "disk full", "severity": "minor"}))
            .send()
    };
    let api = |authorization: String| {
        app.client
            .get(format!("{}/v1/oncall", app.base))
            .header("authorization", authorization)
            .send()
    };
    for scheme in ["Bearer ", "bearer ", "BEARER ", "bEaReR ", "Bearer   "] {
        let r = intake(format!("{scheme}{KEY}")).await.unwrap();
        assert_eq!(r.status().as_u16(), 202, "{scheme:?}");
        let r = api(format!("{scheme}{API_TOKEN}")).await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{scheme:?}");
    }
    for authorization in [
        format!("Bearer{KEY}"),
        format!("Bearerx {KEY}"),
        format!("Basic {KEY}"),
        format!("Bearer {KEY} {KEY}"),
        KEY.to_string(),
        "Bearer".to_string(),
        "Bearer ".to_string(),
    ] {
        let r = intake(authorization.clone()).await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{authorization:?}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("Authorization: Bearer KEY"),
            "{authorization:?}: {body}"
        );
        let r = api(authorization.replace(KEY, API_TOKEN)).await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{authorization:?}");
    }
    app.stop().await;
}

/// Issue 16: keys read when the daemon starts or reloads (`intake_key_file`
/// here; `intake_key_env` is read by the same code) are refused when too
/// short or the same as another team's: the daemon does not start on them,
/// and a reload keeps the keys in force.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_short_or_shared_keys_read_at_start_are_refused() {
    let dir = temp_dir("key-checks");
    write_schedules(&dir);
    let key_file = dir.join("payments-key");
    write_payments(&dir, &format!("intake_key_file: {}", key_file.display()));
    let build = || async {
        let clock = std::sync::Arc::new(oncall::clock::ManualClock::new(crate::support::at(
            "2026-06-01T12:00:00Z",
        )));
        oncall::app::build(clock, &settings(&dir)).await.map(|_| ())
    };
    std::fs::write(&key_file, "short\n").unwrap();
    let e = format!("{:#}", build().await.unwrap_err());
    assert!(
        e.contains(&format!(
            "team payments: the integration key in {} is 5 characters long: use at least 16 random characters",
            key_file.display()
        )),
        "{e}"
    );
    assert!(!e.contains("short\n"), "the key itself is never shown: {e}");
    std::fs::write(&key_file, OTHER_KEY).unwrap();
    let e = format!("{:#}", build().await.unwrap_err());
    assert!(
        e.contains(&format!(
            "team payments: the integration key in {} is team platform's too: give each team its own",
            key_file.display()
        )),
        "{e}"
    );
    assert!(!e.contains(OTHER_KEY), "the key itself is never shown: {e}");

    // A good key starts; a bad one written later is refused by the reload,
    // and the good one stays in force.
    std::fs::write(&key_file, "payments-file-key-0123456789").unwrap();
    let app = TestApp::spawn_in(dir.clone()).await;
    assert_eq!(
        post_status(&app, "/v1/alerts", "payments-file-key-0123456789").await,
        202
    );
    std::fs::write(&key_file, "tiny").unwrap();
    let errors = app.state().in_force.reload(&dir.join("schedules")).await.unwrap_err();
    assert!(errors.iter().any(|e| e.contains("is 4 characters long")), "{errors:?}");
    assert_eq!(
        post_status(&app, "/v1/alerts", "payments-file-key-0123456789").await,
        202
    );
    assert_eq!(post_status(&app, "/v1/alerts", "tiny").await, 404);
    app.stop().await;
}

/// Issue 16: wrong integration keys from one client (about 2,100 guesses a
/// second were possible) are answered 429 once its failure budget is spent,
/// without the key being checked; the key it used before still works, and
/// other clients are not slowed. The budget comes back with time.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_failed_key_guesses_from_one_client_are_slowed() {
    let app = TestApp::spawn().await;
    assert_eq!(post_status(&app, "/v1/alerts", KEY).await, 202);
    let mut answers = Vec::new();
    for i in 0..100 {
        answers.push(post_status(&app, "/v1/alerts", &format!("guess-{i:04}-0123456789")).await);
    }
    let refused = answers.iter().take_while(|&&c| c == 404).count();
    assert_eq!(refused, oncall::http::GUESS_BURST as usize, "{answers:?}");
    assert!(
        answers[refused..].iter().all(|&c| c == 429),
        "after {refused} wrong keys every guess is 429: {answers:?}"
    );
    // Every intake endpoint, the PagerDuty one included (its key in the body).
    let r = app
        .client
        .post(format!("{}/v2/enqueue", app.base))
        .json(&json!({"routing_key": "guess-pd-0123456789", "event_action": "trigger",
            "payload": {"summary": "s", "source": "x", "severity": "critical"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let retry_after: i64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(retry_after, oncall::http::GUESS_EVERY.num_seconds());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["field"], "routing_key", "{body}");
    assert_eq!(
        post_status(&app, "/v1/heartbeat/nightly-backup", "guess-hb-0123456789").await,
        429
    );

    // The key this client sent before is still taken, on every endpoint.
    assert_eq!(post_status(&app, "/v1/alerts", KEY).await, 202);
    assert_eq!(post_status(&app, "/v1/heartbeat/nightly-backup", KEY).await, 202);
    let r = app
        .client
        .post(format!("{}/v2/enqueue", app.base))
        .json(&json!({"routing_key": KEY, "event_action": "trigger",
            "payload": {"summary": "s", "source": "x", "severity": "critical"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);

    // Another client (another loopback address) has its own budget.
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let from_other = |key: &'static str| {
        other
            .post(format!("{}/v1/alerts", app.base))
            .bearer_auth(key)
            .json(&json!({"summary": "disk full", "severity": "minor"}))
            .send()
    };
    assert_eq!(
        from_other("guess-other-0123456789").await.unwrap().status().as_u16(),
        404
    );
    assert_eq!(from_other(OTHER_KEY).await.unwrap().status().as_u16(), 202);

    // Once Retry-After has passed, one more guess is checked (and refused).
    app.clock.advance(Duration::seconds(retry_after));
    assert_eq!(post_status(&app, "/v1/alerts", "guess-late-0123456789").await, 404);
    assert_eq!(post_status(&app, "/v1/alerts", "guess-later-0123456789").await, 429);
    app.stop().await;
}

/// The headers every action link's page carries, whatever it says: not cached (its URL holds a token), not sent on
/// in `Referer`, not framed, its forms posting to the daemon only; and
/// no cookie is set.
fn assert_guarded(what: &str, r: &reqwest::Response) {
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map_or(String::new(), |v| v.to_str().unwrap().to_string())
    };
    assert_eq!(header("cache-control"), "no-store", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    // No cookie: nothing for a cross-site request to borrow.
    assert_eq!(header("set-cookie"), "", "{what}");
    let policy = header("content-security-policy");
    for directive in ["frame-ancestors 'none'", "form-action 'self'"] {
        assert!(
            policy.split(';').any(|d| d.trim() == directive),
            "{what}: no {directive} in {policy:?}"
        );
    }
}

/// Issue 16 (docs/security.md): action links answer with `no-store`,
/// `no-referrer`, `frame-ancestors 'none'`, `X-Frame-Options: DENY` and
/// `form-action 'self'`, refusals included; the old status page's address
/// (issue 19) redirects, and the sign-in page it leads to is not cached or
/// framed either.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_pages_for_people_are_not_cached_framed_or_referred() {
    let app = spawn_linked().await;
    let id = new_alert(&app, "payments API down").await;
    let expires = app.clock.now() + Duration::hours(1);
    let ack = local(&app, &links().url(Action::Acknowledge, id, "alice", expires).unwrap());
    let resolve = local(&app, &links().url(Action::Resolve, id, "alice", expires).unwrap());
    let missing = local(&app, &links().url(Action::Resolve, 999_999, "alice", expires).unwrap());
    let (_, link) = app.api_get("/v1/calendar?person=alice").await;
    let status_url = link["status_url"].as_str().unwrap();
    let status = format!("{}{}", app.base, status_url.trim_start_matches(PUBLIC_URL));
    let get = |url: String| app.client.get(url).send();
    let post = |url: String| app.client.post(url).send();
    let cross_site = |url: String| {
        app.client
            .post(url)
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-mode", "navigate")
            .send()
    };
    for (what, code, answer) in [
        ("the link's page", 200, get(ack.clone()).await),
        (
            "a junk link",
            403,
            get(format!("{}/v1/act/not-a-token", app.base)).await,
        ),
        ("a link for no alert", 404, get(missing).await),
        ("a cross-site post", 403, cross_site(resolve).await),
        ("the link posted", 200, post(ack.clone()).await),
        ("the link posted again", 410, post(ack).await),
    ] {
        let answer = answer.unwrap();
        assert_eq!(answer.status().as_u16(), code, "{what}");
        assert_guarded(what, &answer);
    }
    // `/status` only redirects now (issue 19), not cached, setting nothing;
    // a status link to the sign-in page, whose URL holds the token too: not
    // cached or framed either, and its `Referer` stays on this site (with
    // `no-referrer` a browser's form POST would carry `Origin: null`, which
    // signing in refuses).
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for url in [status.clone(), format!("{status}x"), format!("{}/status", app.base)] {
        let r = plain.get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303, "{url}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{url}");
        assert!(r.headers().get("set-cookie").is_none(), "{url}");
    }
    let page = get(status).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.url().path() == "/signin", "{}", page.url());
    let h = |name: &str| page.headers().get(name).map_or("", |v| v.to_str().unwrap()).to_string();
    assert_eq!(
        (
            h("cache-control"),
            h("x-frame-options"),
            h("referrer-policy"),
            h("set-cookie")
        ),
        ("no-store".into(), "DENY".into(), "same-origin".into(), String::new())
    );
    let policy = h("content-security-policy");
    for directive in ["frame-ancestors 'none'", "form-action 'self'"] {
        assert!(
            policy.split(';').any(|d| d.trim() == directive),
            "{directive} not in {policy}"
        );
    }
    app.stop().await;
}

/// Issue 16 (docs/security.md): `/metrics`, `/healthz` and `/readyz` ask for
/// no credential, so they hold counts and names only. After an alert has
/// paged (undeliverable: no channel is configured) and a reload has failed
/// on a shared key, none of them holds the alert's summary or details, a
/// key, the API token or anyone's email address; the metrics do name the
/// team, and `/readyz` says why the reload failed.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_metrics_and_probes_hold_no_summaries_keys_or_contacts() {
    const SUMMARY: &str = "card numbers of customer acme leaking";
    const DETAIL: &str = "db-customers-eu-7";
    let app = TestApp::spawn().await;
    let (code, body) = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": SUMMARY, "severity": "critical", "details": {"host": DETAIL}}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    assert!(!app.run_engine().await.attempts.is_empty(), "nobody was paged");
    let platform = app.dir.join("schedules/platform.yaml");
    let text = std::fs::read_to_string(&platform).unwrap();
    std::fs::write(&platform, text.replace(OTHER_KEY, KEY)).unwrap();
    let errors = app
        .state()
        .in_force
        .reload(&app.dir.join("schedules"))
        .await
        .unwrap_err();
    assert!(
        errors.iter().any(|e| e.contains("give each team its own")),
        "{errors:?}"
    );

    let mut shown = String::new();
    for path in ["/metrics", "/healthz", "/readyz"] {
        let r = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        shown.push_str(&r.text().await.unwrap());
    }
    assert!(shown.contains("team=\"payments\""), "{shown}");
    assert!(shown.contains("give each team its own"), "{shown}");
    for secret in [SUMMARY, DETAIL, KEY, OTHER_KEY, API_TOKEN, "@example.com"] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
    }
    app.stop().await;
}

/// Issue 16 (docs/security.md): the fields Twilio sends once may not come
/// twice (400), a phone two people share acts for neither, and a body over
/// `max_body_bytes` is 413; none of them changes the alert.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_sms_with_a_repeated_field_a_shared_phone_or_a_huge_body_changes_nothing() {
    let dir = temp_dir("security-sms-refused");
    write_schedules(&dir);
    let mut s = linked_settings(&dir, Some(crate::links::SECRET));
    s.notify.sms.as_mut().unwrap().base_url = Some("http://127.0.0.1:9".into());
    // Carol has bob's phone; payments pages alice and bob at once.
    std::fs::write(
        dir.join("schedules/people.yaml"),
        "people:\n  alice: {name: Alice, email: alice@example.com, phone: '+447700900001'}\n  \
         bob: {name: Bob, email: bob@example.com, phone: '+447700900002'}\n  \
         carol: {name: Carol, email: carol@example.com, phone: '+447700900002'}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("schedules/payments.yaml"),
        format!(
            "team: payments\ntimezone: Europe/London\nhandoff_notices: []\n\
             rotas:\n  primary: {{members: [alice], start: 2026-01-05T09:00, every: 1w}}\n\
             intake_key: {KEY}\nescalation:\n  - notify: [user:alice, user:bob]\n"
        ),
    )
    .unwrap();
    let app = TestApp::spawn_with(dir, s, "2026-06-01T12:00:00Z").await;
    let id = new_alert(&app, "payments API down").await;
    app.run_engine().await;
    let timeline = app.timeline_kinds(id).await;

    let ack = format!("ACK {id}");
    let res = format!("RES {id}");
    for (what, name, value) in [
        ("a second Body", "Body", res.as_str()),
        ("a second From", "From", "+447700900002"),
    ] {
        let mut params = sms_params(ALICE_PHONE, &ack);
        params.push((name, value));
        let (code, answer) = sms(&app, &params, Some(&twilio_signed(&params))).await;
        assert_eq!(code, 400, "{what}: {answer}");
        assert!(answer.contains("may each appear once"), "{what}: {answer}");
    }
    assert_eq!(
        text(&app, "+447700900002", &ack).await,
        "This number is not registered with oncall."
    );
    let huge = "x".repeat(oncall::settings::DEFAULT_MAX_BODY_BYTES);
    let params = sms_params(ALICE_PHONE, &huge);
    let (code, answer) = sms(&app, &params, Some(&twilio_signed(&params))).await;
    assert_eq!(code, 413, "{answer}");
    assert_eq!(app.timeline_kinds(id).await, timeline);
    assert_eq!(alert(&app, id).await["status"], "open");
    // Alice's own phone acts.
    assert_eq!(text(&app, ALICE_PHONE, &ack).await, format!("Acknowledged alert {id}"));
    app.stop().await;
}

/// Issue 16 (docs/security.md): without an API token the API is off: 401
/// whatever is sent, saying how to turn it on; the intake still works.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_without_an_api_token_the_api_is_off() {
    let dir = temp_dir("api-off");
    write_schedules(&dir);
    let mut s = settings(&dir);
    s.api_token = None;
    let app = TestApp::spawn_with(dir, s, "2026-06-01T12:00:00Z").await;
    assert_eq!(post_status(&app, "/v1/alerts", KEY).await, 202);
    for path in ["/v1/alerts", "/v1/oncall", "/v1/overrides", "/v1/calendar?person=alice"] {
        for token in [None, Some(API_TOKEN), Some("")] {
            let mut request = app.client.get(format!("{}{path}", app.base));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let r = request.send().await.unwrap();
            assert_eq!(r.status().as_u16(), 401, "{path} {token:?}");
            let body: serde_json::Value = r.json().await.unwrap();
            assert!(
                body["error"].as_str().unwrap().contains("the API is off"),
                "{path} {token:?}: {body}"
            );
        }
    }
    app.stop().await;
}

/// Issue 16 (docs/security.md): `Links` prints its secret as "(hidden)", so
/// a `{:?}` of it (or of what holds it) shows no secret.
#[test]
fn issue16_links_print_their_secret_as_hidden() {
    let shown = format!("{:?}", links());
    assert!(shown.contains("secret: \"(hidden)\""), "{shown}");
    assert!(!shown.contains(crate::links::SECRET), "{shown}");
}

/// Issue 16 (docs/security.md): every secret can come from a file (or a
/// variable), and none is logged or echoed. The real daemon at its default
/// log level, each of its secrets in a file of its own (the API token and
/// the next one, the link secret, the SMTP password, the Twilio auth token,
/// the ntfy token; the integration key in a variable), pages by email (no server: fails), SMS and push
/// (a server that answers only to the right credentials); then the right
/// secrets are used (so each file was read) and wrong ones sent, past the
/// guess budget. No answer repeats a wrong key or token, and the log holds
/// none of the secrets, right or wrong.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_secrets_are_never_logged_or_echoed() {
    use crate::notify::{Fake, PUSH_TOKEN, SMS_SID, SMS_TOKEN, free_port};
    use base64::Engine as _;
    const API: &str = "file-api-token-0123456789";
    const API_NEXT: &str = "file-api-token-next-0123456789";
    const LINK_SECRET: &str = "file-link-secret-0123456789abcdef0123456789";
    const SMTP_PASSWORD: &str = "file-smtp-password-0123456789";
    const INTAKE: &str = "file-intake-key-0123456789";

    let dir = temp_dir("issue16-secrets");
    let file = |name: &str, secret: &str| {
        let path = dir.join(name);
        std::fs::write(&path, format!("{secret}\n")).unwrap();
        path.display().to_string()
    };
    let s = dir.join("schedules");
    std::fs::write(
        s.join("people.yaml"),
        format!(
            "people:\n  alice: {{name: Alice, email: alice@example.com, phone: '{ALICE_PHONE}', \
             push: 'ntfy:alice', notify: [email, sms, push]}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        s.join("payments.yaml"),
        "team: payments\ntimezone: Europe/London\nhandoff_notices: []\n\
         rotas:\n  primary: {members: [alice], start: 2020-01-06T09:00, every: 1w}\n\
         intake_key_env: ONCALL_TEST_PAYMENTS_KEY\nescalation:\n  - notify: [user:alice]\n",
    )
    .unwrap();
    let fake = Fake::start().await;
    let config = dir.join("oncall.toml");
    std::fs::write(
        &config,
        format!(
            "public_url = \"{PUBLIC_URL}\"\napi_token_file = \"{}\"\napi_token_next_file = \"{}\"\n\
             link_secret_file = \"{}\"\n\
             [email]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"oncall@example.com\"\n\
             username = \"oncall\"\npassword_file = \"{}\"\n\
             [sms]\nbase_url = \"{}\"\naccount_sid = \"{SMS_SID}\"\nauth_token_file = \"{}\"\n\
             from = \"+447700900999\"\n\
             [push]\nserver = \"{}\"\ntoken_file = \"{}\"\n",
            file("api-token", API),
            file("api-token-next", API_NEXT),
            file("link-secret", LINK_SECRET),
            free_port(),
            file("smtp-password", SMTP_PASSWORD),
            fake.base,
            file("sms-auth-token", SMS_TOKEN),
            fake.base,
            file("push-token", PUSH_TOKEN),
        ),
    )
    .unwrap();

    /// Stops the daemon when the test ends, passed or failed.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_oncall"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .current_dir(&dir);
    command.env("ONCALL_TEST_PAYMENTS_KEY", INTAKE);
    for name in [
        "ONCALL_LISTEN",
        "ONCALL_SCHEDULES",
        "ONCALL_DATABASE",
        "ONCALL_PUBLIC_URL",
        "ONCALL_LOG",
        "ONCALL_LOG_FORMAT",
        "ONCALL_API_TOKEN",
        "ONCALL_API_TOKEN_NEXT",
        "ONCALL_LINK_SECRET",
        "ONCALL_SMTP_PASSWORD",
        "ONCALL_SMS_AUTH_TOKEN",
        "ONCALL_PUSH_TOKEN",
    ] {
        command.env_remove(name);
    }
    let crate::support::Served {
        child,
        address,
        log,
        drain,
    } = crate::support::serve(&mut command);
    let daemon = Stop(child);
    let base = format!("http://{address}");
    let client = reqwest::Client::new();
    let intake = |key: String| {
        client
            .post(format!("{base}/v1/alerts"))
            .bearer_auth(key)
            .json(&json!({"summary": "payments API down", "severity": "critical"}))
            .send()
    };

    // The key from its variable opens an alert, which pages alice three ways.
    let r = intake(INTAKE.to_string()).await.unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let id = r.json::<serde_json::Value>().await.unwrap()["alert_id"]
        .as_i64()
        .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (sent, failed) = {
            let log = log.lock().unwrap();
            (log.matches("page sent").count(), log.matches("delivery failed").count())
        };
        if sent == 2 && failed >= 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not paged by SMS and push, and failed by email:\n{}",
            log.lock().unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The fake answers only to the right credentials: the files were read.
    let seen = fake.seen();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SMS_SID}:{SMS_TOKEN}"))
    );
    assert!(seen.iter().any(|r| r.header("authorization") == Some(basic.as_str())));
    let bearer = format!("Bearer {PUSH_TOKEN}");
    assert!(seen.iter().any(|r| r.header("authorization") == Some(bearer.as_str())));

    // The API tokens from their files, a link signed with the file's secret,
    // an SMS reply signed with the file's auth token.
    for token in [API, API_NEXT] {
        let r = client
            .get(format!("{base}/v1/alerts/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{token}");
    }
    let signed = oncall::links::Links::new(LINK_SECRET.as_bytes().to_vec(), None).token(
        Action::Resolve,
        id,
        "alice",
        crate::support::at("2100-01-01T00:00:00Z"),
    );
    let r = client.get(format!("{base}/v1/act/{signed}")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = format!("ACK {id}");
    let params = sms_params(ALICE_PHONE, &body);
    let signature = twilio_sign(SMS_TOKEN, &format!("{PUBLIC_URL}/v1/sms/inbound"), &params);
    let r = client
        .post(format!("{base}/v1/sms/inbound"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&params)
                .finish(),
        )
        .send()
        .await
        .unwrap();
    let reply = r.text().await.unwrap();
    assert!(reply.contains(&format!("Acknowledged alert {id}")), "{reply}");

    // Wrong keys (past the guess budget: 404, then 429) and a wrong token:
    // refused without being repeated.
    let mut wrong = Vec::new();
    for i in 0..oncall::http::GUESS_BURST + 2 {
        let key = format!("wrong-key-{i:03}-0123456789");
        let r = intake(key.clone()).await.unwrap();
        assert!([404, 429].contains(&r.status().as_u16()), "{key}");
        let answer = r.text().await.unwrap();
        assert!(!answer.contains(&key), "{answer}");
        wrong.push(key);
    }
    let r = client
        .post(format!("{base}/v2/enqueue"))
        .json(
            &json!({"routing_key": "wrong-routing-key-0123456789", "event_action": "trigger",
            "payload": {"summary": "s", "source": "x", "severity": "critical"}}),
        )
        .send()
        .await
        .unwrap();
    let answer = r.text().await.unwrap();
    assert!(!answer.contains("wrong-routing-key"), "{answer}");
    wrong.push("wrong-routing-key-0123456789".into());
    let r = client
        .get(format!("{base}/v1/alerts/{id}"))
        .bearer_auth("wrong-api-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let answer = r.text().await.unwrap();
    assert!(!answer.contains("wrong-api-token"), "{answer}");
    wrong.push("wrong-api-token-0123456789".into());

    drop(daemon);
    drain.join().unwrap();
    let log = log.lock().unwrap().clone();
    assert!(log.contains("too many unknown integration keys"), "{log}");
    let secrets = [
        API,
        API_NEXT,
        LINK_SECRET,
        SMTP_PASSWORD,
        SMS_TOKEN,
        PUSH_TOKEN,
        INTAKE,
        &basic,
    ];
    for secret in secrets.iter().copied().chain(wrong.iter().map(String::as_str)) {
        assert!(!log.contains(secret), "the log holds {secret}:\n{log}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
