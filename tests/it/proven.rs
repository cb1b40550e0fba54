//! Contact methods proven (issue 20): test pages through the real daemon
//! and outbox to every method a person has, over real parts: a real SMTP
//! server (aiosmtpd), the loopback server speaking Twilio's Messages and
//! Calls APIs, a loopback ntfy and chat webhook, and Twilio's status
//! callbacks and replies posted back signed as Twilio signs them. Then
//! what `oncall check` makes of the confirmations, with a manual clock.

use chrono::Duration;
use oncall::clock::{Clock as _, ManualClock};
use serde_json::{Value, json};

use crate::daemon::{KEY, TestApp, settings, temp_dir, write_schedules};
use crate::links::{PUBLIC_URL, SECRET, new_alert};
use crate::notify::{Fake, Smtp, free_port, push_config};
use crate::voice::{ALICE_PHONE, FakeTwilio, OUR_NUMBER, SID, TOKEN, Taken, call_params, signed, webhook};

/// The daemon: alice alone on call for payments, with an email, a phone (SMS
/// and calls), an ntfy topic and a webhook; on `database` if given (a
/// PostgreSQL URL).
/// A real SMTP server, a Twilio-speaking server and the ntfy and webhook
/// fakes, and the daemon sending to them ([`spawn`]); the servers live as
/// long as the caller keeps them.
async fn spawn_with_servers(database: Option<&str>) -> (TestApp, FakeTwilio, Fake, Smtp) {
    let dir = temp_dir("proven-smtp");
    let smtp = Smtp::start(&dir, free_port(), &[]).await;
    let twilio = FakeTwilio::start().await;
    let fake = Fake::start().await;
    let app = spawn(&twilio, &fake, &smtp, database).await;
    (app, twilio, fake, smtp)
}

async fn spawn(twilio: &FakeTwilio, fake: &Fake, smtp: &Smtp, database: Option<&str>) -> TestApp {
    let dir = temp_dir("proven");
    write_schedules(&dir);
    std::fs::write(
        dir.join("schedules/people.yaml"),
        format!(
            "people:\n  alice: {{name: Alice Smith, email: alice@example.com, phone: \"{ALICE_PHONE}\", \
             push: \"ntfy:alice-pager\", webhook: \"{}/hooks/alice\", notify: [voice]}}\n  \
             bob: {{name: Bob, email: bob@example.com}}\n  carol: {{name: Carol, email: carol@example.com}}\n",
            fake.base
        ),
    )
    .unwrap();
    // alice alone on call, so that an alert calls her too.
    std::fs::write(
        dir.join("schedules/payments.yaml"),
        format!(
            "team: payments\ntimezone: Europe/London\nhandoff_notices: []\n\
             rotas:\n  primary: {{members: [alice], start: 2026-01-05T09:00, every: 1w}}\nintake_key: {KEY}\n"
        ),
    )
    .unwrap();
    let mut s = settings(&dir);
    if let Some(url) = database {
        s.database = url.parse().unwrap();
    }
    s.public_url = Some(PUBLIC_URL.into());
    s.link_secret = Some(SECRET.into());
    let twilio_section = format!(
        "base_url = \"{}\"\naccount_sid = \"{SID}\"\nauth_token = \"{TOKEN}\"\nfrom = \"{OUR_NUMBER}\"\n",
        twilio.base
    );
    let notify: oncall::notify::Config = toml::from_str(&format!(
        "{}\n{}\n[sms]\n{twilio_section}\n[voice]\n{twilio_section}",
        crate::notify::email_config(smtp.port, ""),
        push_config(&fake.base, "")
    ))
    .unwrap();
    s.notify = notify;
    TestApp::spawn_with(dir, s, "2026-06-01T12:00:00Z").await
}

async fn test_page(app: &TestApp, person: &str, body: Value) -> (u16, Value) {
    app.api_post(&format!("/v1/people/{person}/test-page"), body).await
}

async fn proofs(app: &TestApp, id: i64) -> Vec<Value> {
    let (code, test) = app.api_get(&format!("/v1/test-pages/{id}")).await;
    assert_eq!(code, 200, "{test}");
    test["proofs"].as_array().unwrap().clone()
}

fn by<'a>(proofs: &'a [Value], method: &str) -> &'a Value {
    proofs
        .iter()
        .find(|p| p["method"] == method)
        .unwrap_or_else(|| panic!("no {method} in {proofs:#?}"))
}

/// The path of a confirm link (`/v1/proofs/...`) within `text`.
fn link_in(text: &str) -> String {
    let start = text
        .find(&format!("{PUBLIC_URL}/v1/proofs/"))
        .unwrap_or_else(|| panic!("no confirm link in {text}"))
        + PUBLIC_URL.len();
    let end = text[start..]
        .find(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == ',')
        .map_or(text.len(), |e| start + e);
    text[start..end].to_string()
}

async fn post_link(app: &TestApp, path: &str) -> (u16, String) {
    let r = app.client.post(format!("{}{path}", app.base)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The test call among alice's calls.
fn test_call(twilio: &FakeTwilio) -> Taken {
    let calls: Vec<Taken> = twilio
        .calls(ALICE_PHONE)
        .into_iter()
        .filter(|c| c.field("Twiml").contains("test page"))
        .collect();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    calls[0].clone()
}

fn gather_of(call: &Taken) -> String {
    link_in(call.field("Twiml"))
}

async fn every_method_is_sent_delivered_and_confirmed(database: Option<&str>) {
    let (app, twilio, fake, smtp) = spawn_with_servers(database).await;
    // An alert that pages alice by a call: a test call's key 1 must not
    // acknowledge it.
    let alert = new_alert(&app, "Disk full on db-1").await;
    app.run_engine().await;
    assert_eq!(twilio.calls(ALICE_PHONE).len(), 1, "the alert's call");

    let (code, started) = test_page(&app, "alice", json!({})).await;
    assert_eq!(code, 202, "{started}");
    let id = started["test"].as_i64().unwrap();
    let methods: Vec<&str> = started["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["push", "sms", "email", "webhook", "voice"]);
    // Queued, not yet sent: nothing is recorded before the outbox sends.
    assert!(proofs(&app, id).await.iter().all(|p| p["state"] == "pending"));

    // At the same instant: a test page is neither held behind the page
    // that just went to the same number (the throttle) nor bundled with it.
    app.run_engine().await;
    assert_eq!(twilio.calls(ALICE_PHONE).len(), 2, "the test call too");
    let sent_at = app.clock.now();
    let p = proofs(&app, id).await;
    for m in &methods {
        assert_eq!(by(&p, m)["state"], "sent", "{m}: {p:#?}");
        assert_eq!(by(&p, m)["sent_at"], json!(sent_at), "{m}");
        assert!(by(&p, m)["confirmed_at"].is_null(), "{m}");
    }
    // Accepted is delivered for email, ntfy and webhooks; SMS and calls
    // wait for the provider's status.
    for m in ["email", "push", "webhook"] {
        assert_eq!(by(&p, m)["delivered_at"], json!(sent_at), "{m}");
    }
    for m in ["sms", "voice"] {
        assert!(by(&p, m)["delivered_at"].is_null(), "{m}");
    }

    app.clock.advance(Duration::minutes(1));
    let later = app.clock.now();

    // Email: marked as a test, with a confirm link; GET shows, POST confirms.
    let mails = smtp.messages();
    let mail = mails
        .iter()
        .map(|raw| mailparse::parse_mail(raw).unwrap())
        .find(|m| {
            use mailparse::MailHeaderMap as _;
            m.headers
                .get_first_value("Subject")
                .is_some_and(|s| s.starts_with("[TEST]"))
        })
        .expect("the test email");
    let text = mail.subparts[0].get_body().unwrap();
    assert!(text.contains("Nothing is wrong"), "{text}");
    let link = link_in(&text);
    let shown = app.client.get(format!("{}{link}", app.base)).send().await.unwrap();
    assert_eq!(shown.status(), 200);
    assert!(shown.text().await.unwrap().contains("It reached me"));
    assert!(
        by(&proofs(&app, id).await, "email")["confirmed_at"].is_null(),
        "GET changes nothing"
    );
    let (code, page) = post_link(&app, &link).await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("is confirmed"), "{page}");
    // Once: the second press changes nothing.
    app.clock.advance(Duration::minutes(1));
    let (_, again) = post_link(&app, &link).await;
    assert!(again.contains("it was already"), "{again}");

    // A forged link (its MAC changed) is refused.
    let (head, mac) = link.rsplit_once('.').unwrap();
    let first = if mac.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{head}.{first}{}", &mac[1..]);
    let (code, _) = post_link(&app, &forged).await;
    assert_eq!(code, 403);

    // SMS: Twilio reports delivery to the StatusCallback; a reply YES confirms.
    let texts = twilio.texts(ALICE_PHONE);
    let text = texts
        .iter()
        .find(|t| t.field("Body").contains("TEST"))
        .expect("the test SMS");
    assert!(text.field("Body").contains("not an alert"), "{}", text.field("Body"));
    // Its link fits in the one segment, and confirms too.
    let sms_link = link_in(text.field("Body"));
    assert_eq!(
        oncall::notify::gsm::length(text.field("Body")).segments,
        1,
        "{}",
        text.field("Body")
    );
    let shown = app.client.get(format!("{}{sms_link}", app.base)).send().await.unwrap();
    assert_eq!(shown.status(), 200);
    let status_url = text.field("StatusCallback").to_string();
    let status_path = status_url
        .strip_prefix(PUBLIC_URL)
        .expect("under public_url")
        .to_string();
    assert!(status_path.starts_with("/v1/proofs/") && status_path.ends_with("/status"));
    let delivered = [
        ("AccountSid", SID),
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("MessageStatus", "delivered"),
        ("To", ALICE_PHONE),
    ];
    // Forged: no signature, a wrong key, a changed body: refused, nothing changes.
    let (code, _) = webhook(&app, &status_path, &delivered, None).await;
    assert_eq!(code, 403);
    let wrong = crate::links::twilio_sign("not-the-token", &status_url, &delivered);
    let (code, _) = webhook(&app, &status_path, &delivered, Some(&wrong)).await;
    assert_eq!(code, 403);
    let sent_sig = crate::links::twilio_sign(
        TOKEN,
        &status_url,
        &[
            ("AccountSid", SID),
            ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
            ("MessageStatus", "sent"),
            ("To", ALICE_PHONE),
        ],
    );
    let (code, _) = webhook(&app, &status_path, &delivered, Some(&sent_sig)).await;
    assert_eq!(code, 403, "a body changed after signing");
    assert!(by(&proofs(&app, id).await, "sms")["delivered_at"].is_null());
    let (code, said) = signed(&app, &status_path, &delivered).await;
    assert!(code == 204, "{code} {said}");
    assert_eq!(
        by(&proofs(&app, id).await, "sms")["delivered_at"],
        json!(app.clock.now())
    );
    let reply = [
        ("AccountSid", SID),
        ("MessageSid", "SMfedcba9876543210fedcba9876543210"),
        ("From", ALICE_PHONE),
        ("To", OUR_NUMBER),
        ("Body", "Yes"),
    ];
    let (code, said) = signed(&app, "/v1/sms/inbound", &reply).await;
    assert_eq!(code, 200, "{said}");
    assert!(said.contains("confirmed"), "{said}");

    // Voice: the call says it is a test; its status says answered; key 1
    // confirms and acknowledges nothing.
    let call = test_call(&twilio);
    let twiml = call.field("Twiml");
    assert!(
        twiml.contains("It is not an alert") && twiml.contains("Press 1 to confirm"),
        "{twiml}"
    );
    let gather = gather_of(&call);
    assert!(gather.ends_with("/voice"), "{gather}");
    let call_status = call
        .field("StatusCallback")
        .strip_prefix(PUBLIC_URL)
        .unwrap()
        .to_string();
    let (code, _) = signed(&app, &call_status, &call_params(&[("CallStatus", "completed")])).await;
    assert_eq!(code, 204);
    let (code, said) = signed(&app, &gather, &call_params(&[("Digits", "1")])).await;
    assert_eq!(code, 200, "{said}");
    assert!(said.contains("Calls to this number are confirmed"), "{said}");
    assert_eq!(
        crate::links::alert(&app, alert).await["status"],
        "open",
        "a test call acknowledges nothing"
    );
    // Two calls to alice: the alert's and the test's, each with its own keys.
    assert_eq!(twilio.calls(ALICE_PHONE).len(), 2);

    // Push: a Confirm button that POSTs to the link.
    let push = fake
        .seen()
        .into_iter()
        .find(|s| s.path == "/alice-pager" && s.header("tags").is_some_and(|t| t.contains("test")))
        .expect("the test push");
    let actions = push.header("actions").unwrap().to_string();
    assert!(actions.starts_with("http, Confirm, "), "{actions}");
    let (code, _) = post_link(&app, &link_in(&actions)).await;
    assert_eq!(code, 200);

    // Webhook: the JSON names the test and its link.
    let hook = fake
        .seen()
        .into_iter()
        .find(|s| s.path == "/hooks/alice" && s.json()["notice"]["what"]["kind"] == "test")
        .expect("the test webhook");
    let url = hook.json()["notice"]["what"]["confirm_url"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, _) = post_link(&app, url.strip_prefix(PUBLIC_URL).unwrap()).await;
    assert_eq!(code, 200);

    let p = proofs(&app, id).await;
    let how: Vec<(&str, &str)> = p
        .iter()
        .map(|p| (p["method"].as_str().unwrap(), p["confirmed_by"].as_str().unwrap_or("-")))
        .collect();
    assert_eq!(
        how,
        [
            ("push", "link"),
            ("sms", "reply"),
            ("email", "link"),
            ("webhook", "link"),
            ("voice", "key")
        ]
    );
    assert_eq!(
        by(&p, "email")["confirmed_at"],
        json!(later),
        "the first confirmation stands"
    );
    assert_eq!(by(&p, "voice")["delivered_at"], json!(app.clock.now()));
    // The store's last confirmation per method, as /v1/proven shows it.
    let (code, proven) = app.api_get("/v1/proven").await;
    assert_eq!(code, 200, "{proven}");
    for m in &methods {
        assert_eq!(proven["people"]["alice"][m]["proven"], true, "{m}: {proven}");
    }
    assert_eq!(proven["people"]["bob"]["email"]["proven"], false, "{proven}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_method_is_sent_delivered_and_confirmed_on_sqlite() {
    every_method_is_sent_delivered_and_confirmed(None).await;
}

/// The same on PostgreSQL (skipped without `ONCALL_TEST_POSTGRES`).
#[tokio::test(flavor = "multi_thread")]
async fn every_method_is_sent_delivered_and_confirmed_on_postgres() {
    let Some(url) = crate::pg::fresh_database("proven") else {
        return;
    };
    every_method_is_sent_delivered_and_confirmed(Some(&url)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_test_page_is_for_the_person_and_their_methods_only() {
    let (app, twilio, _fake, _smtp) = spawn_with_servers(None).await;
    let (code, body) = test_page(&app, "nobody", json!({})).await;
    assert_eq!(code, 404, "{body}");
    let (code, body) = test_page(&app, "alice", json!({"method": "fax"})).await;
    assert_eq!(code, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not a method"), "{body}");
    let (code, body) = test_page(&app, "bob", json!({"method": "sms"})).await;
    assert_eq!(code, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no destination"), "{body}");
    let (code, body) = test_page(&app, "alice", json!({"method": "sms"})).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["methods"].as_array().unwrap().len(), 1);
    // No token: 401, nothing queued.
    let r = app
        .client
        .post(format!("{}/v1/people/alice/test-page", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.run_engine().await;
    assert_eq!(twilio.texts(ALICE_PHONE).len(), 1);
    assert!(twilio.calls(ALICE_PHONE).is_empty());
    app.stop().await;
}

/// Test pages cost money and wake a phone: a person is sent three at once,
/// then one a minute, whoever asks (the API or their own /me); a refused
/// one says why and when to retry, and queues nothing.
#[tokio::test(flavor = "multi_thread")]
async fn test_pages_to_a_person_are_limited_to_three_then_one_a_minute() {
    let (app, twilio, _fake, _smtp) = spawn_with_servers(None).await;
    for _ in 0..3 {
        let (code, body) = test_page(&app, "alice", json!({"method": "sms"})).await;
        assert_eq!(code, 202, "{body}");
    }
    // A refusal before anything would be sent costs nothing.
    let (code, _) = test_page(&app, "alice", json!({"method": "fax"})).await;
    assert_eq!(code, 422);
    let r = app
        .client
        .post(format!("{}/v1/people/alice/test-page", app.base))
        .bearer_auth(crate::daemon::API_TOKEN)
        .json(&json!({"method": "sms"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "60");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("too many test pages for alice: 3 at once, then one every 60 s; retry in 60 s"),
        "{body}"
    );
    // Another person has their own allowance.
    let (code, body) = test_page(&app, "bob", json!({})).await;
    assert_eq!(code, 202, "{body}");
    // So does alice's /me button: the same limit.
    let session = crate::web::sign_in(&app, "alice").await;
    let me = crate::web::get(&app, "/me", Some(&session)).await;
    let csrf = crate::web::csrf_of(&me.body);
    let refused = crate::web::post(
        &app,
        "/me/test-page",
        Some(&session),
        Some(&app.base),
        &[("csrf", csrf.as_str())],
    )
    .await;
    assert_eq!(refused.code, 429, "{}", refused.body);
    assert!(
        refused.body.contains("too many test pages for alice"),
        "{}",
        refused.body
    );
    app.run_engine().await;
    assert_eq!(twilio.texts(ALICE_PHONE).len(), 3);
    // A minute on, one more.
    app.clock.advance(chrono::Duration::seconds(59));
    let (code, _) = test_page(&app, "alice", json!({"method": "sms"})).await;
    assert_eq!(code, 429);
    app.clock.advance(chrono::Duration::seconds(1));
    let (code, body) = test_page(&app, "alice", json!({"method": "sms"})).await;
    assert_eq!(code, 202, "{body}");
    let (code, _) = test_page(&app, "alice", json!({"method": "sms"})).await;
    assert_eq!(code, 429);
    app.stop().await;
}

/// `oncall check` run in the process with a manual clock, against the
/// daemon's database (through `database` in an oncall.toml); its stderr.
pub(crate) fn check(app: &TestApp, now: chrono::DateTime<chrono::Utc>) -> String {
    let toml = app.dir.join("check.toml");
    std::fs::write(
        &toml,
        format!("database = \"{}\"\n", app.dir.join("oncall.db").display()),
    )
    .unwrap();
    let args = <oncall::cli::Args as clap::Parser>::try_parse_from([
        "oncall",
        "check",
        "--config",
        toml.to_str().unwrap(),
        "--schedules",
        app.dir.join("schedules").to_str().unwrap(),
    ])
    .unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = oncall::cli::run(args, &ManualClock::new(now), &mut out, &mut err).unwrap();
    let err = String::from_utf8(err).unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    err
}

#[tokio::test(flavor = "multi_thread")]
async fn check_warns_until_a_critical_method_is_confirmed_and_again_after_90_days() {
    let (app, twilio, _fake, _smtp) = spawn_with_servers(None).await;
    let unproven = "alice (on payments/primary): voice for `critical` pages is unproven";
    let err = check(&app, app.clock.now());
    assert!(err.contains(unproven) && err.contains("never confirmed"), "{err}");
    assert!(err.contains("oncall test-page alice --method voice"), "{err}");

    let (code, started) = test_page(&app, "alice", json!({"method": "voice"})).await;
    assert_eq!(code, 202, "{started}");
    app.run_engine().await;
    // Sent, not confirmed: still unproven.
    assert!(check(&app, app.clock.now()).contains(unproven));
    let call = test_call(&twilio);
    let (code, _) = signed(&app, &gather_of(&call), &call_params(&[("Digits", "1")])).await;
    assert_eq!(code, 200);
    let confirmed_at = app.clock.now();
    let err = check(&app, confirmed_at + Duration::days(89));
    assert!(!err.contains(unproven), "{err}");
    let err = check(&app, confirmed_at + Duration::days(91));
    assert!(
        err.contains(unproven) && err.contains("last confirmed 2026-06-01T12:00:00Z"),
        "{err}"
    );
    app.stop().await;
}

#[test]
fn check_says_when_it_cannot_read_the_store() {
    let dir = temp_dir("proven-nostore");
    write_schedules(&dir);
    let toml = dir.join("check.toml");
    std::fs::write(&toml, format!("database = \"{}\"\n", dir.join("none.db").display())).unwrap();
    let args = <oncall::cli::Args as clap::Parser>::try_parse_from([
        "oncall",
        "check",
        "--config",
        toml.to_str().unwrap(),
        "--schedules",
        dir.join("schedules").to_str().unwrap(),
    ])
    .unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let clock = ManualClock::new(crate::support::at("2026-06-01T12:00:00Z"));
    let code = oncall::cli::run(args, &clock, &mut out, &mut err).unwrap();
    let (out, err) = (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap());
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    // After the summary, on stdout: it is no problem in the files.
    assert!(out.starts_with("ok: "), "{out}");
    assert!(
        out.contains("\nnote: no store at") && out.contains("is not checked"),
        "{out}"
    );
    assert!(!err.contains("unproven"), "{err}");
    assert!(!dir.join("none.db").exists(), "check creates no database");
}

/// "Test my pages" on /me: only with the session's CSRF token; then the
/// page shows how it went, and each method's last confirmation.
#[tokio::test(flavor = "multi_thread")]
async fn test_my_pages_on_me() {
    use crate::web::{csrf_of, get, post, sign_in};
    let (app, twilio, _fake, _smtp) = spawn_with_servers(None).await;
    let session = sign_in(&app, "alice").await;
    let me = get(&app, "/me", Some(&session)).await;
    assert_eq!(me.code, 200, "{}", me.body);
    assert!(me.body.contains("My contact methods"), "{}", me.body);
    assert_eq!(
        me.body.matches("never <strong>unproven</strong>").count(),
        5,
        "{}",
        me.body
    );
    // Without the CSRF token: refused, nothing sent.
    let refused = post(&app, "/me/test-page", Some(&session), Some(&app.base), &[]).await;
    assert_eq!(refused.code, 403);
    let (code, _) = app.api_get("/v1/test-pages/1").await;
    assert_eq!(code, 404);
    let csrf = csrf_of(&me.body);
    let sent = post(
        &app,
        "/me/test-page",
        Some(&session),
        Some(&app.base),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(sent.code, 303, "{}", sent.body);
    assert!(sent.location.starts_with("/me?tested="), "{}", sent.location);
    app.run_engine().await;
    let call = test_call(&twilio);
    let (code, _) = signed(&app, &gather_of(&call), &call_params(&[("Digits", "1")])).await;
    assert_eq!(code, 200);
    let shown = get(&app, &sent.location, Some(&session)).await;
    assert_eq!(shown.code, 200);
    assert!(shown.body.contains("Test page 1 sent"), "{}", shown.body);
    assert!(
        shown.body.matches("<td>2026-06-01T12:00:00Z</td>").count() >= 5,
        "{}",
        shown.body
    );
    // Voice is proven now; the other four are not.
    assert_eq!(
        shown.body.matches("never <strong>unproven</strong>").count(),
        4,
        "{}",
        shown.body
    );
    assert!(
        shown.body.contains(&format!(
            "<td>voice</td><td>{ALICE_PHONE}</td><td>2026-06-01T12:00:00Z</td>"
        )),
        "{}",
        shown.body
    );
    // Another person's test is not shown on alice's page.
    let bob = sign_in(&app, "bob").await;
    let other = get(&app, &sent.location, Some(&bob)).await;
    assert!(!other.body.contains("Test page 1 sent"), "{}", other.body);
    app.stop().await;
}

/// `oncall test-page` against the running daemon, as a person runs it: it
/// sends, waits while the person confirms (key 1 on the test call), and
/// prints the table; exit 0 when every method was confirmed.
#[tokio::test(flavor = "multi_thread")]
async fn the_test_page_command_waits_for_the_confirmation_and_reports_it() {
    let (app, twilio, _fake, _smtp) = spawn_with_servers(None).await;
    let command = std::process::Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args([
            "test-page",
            "alice",
            "--method",
            "voice",
            "--url",
            &app.base,
            "--wait",
            "2m",
        ])
        .env("ONCALL_API_TOKEN", crate::daemon::API_TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let command = tokio::task::spawn_blocking(move || command.wait_with_output());
    // The test page is queued by the command; the engine (stepped here)
    // places the call.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while app.api_get("/v1/test-pages/1").await.0 != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the command queued no test page"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.run_engine().await;
    app.clock.advance(Duration::seconds(20));
    let call = test_call(&twilio);
    let (code, _) = signed(&app, &gather_of(&call), &call_params(&[("Digits", "1")])).await;
    assert_eq!(code, 200);
    let output = command.await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("test page 1 to alice by voice"), "{stdout}");
    let row = stdout.lines().find(|l| l.starts_with("voice")).expect("the voice row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "voice",
            ALICE_PHONE,
            "2026-06-01T12:00:00Z",
            "-",
            "2026-06-01T12:00:20Z",
            "(key)"
        ],
        "{stdout}"
    );
    // Nothing confirmed: exit 1, saying so.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args([
            "test-page",
            "alice",
            "--method",
            "email",
            "--url",
            &app.base,
            "--wait",
            "1s",
        ])
        .env("ONCALL_API_TOKEN", crate::daemon::API_TOKEN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("not every method was confirmed in time"), "{stdout}");
    // A refusal is said, with the daemon's reason.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["test-page", "nobody", "--url", &app.base])
        .env("ONCALL_API_TOKEN", crate::daemon::API_TOKEN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no person `nobody` in people.yaml"), "{stderr}");
    app.stop().await;
}
