//! Acting from wherever the page arrived, over real HTTP: the signed
//! acknowledge / resolve links (`/v1/act/{token}`) and inbound SMS replies
//! (`/v1/sms/inbound`, Twilio's webhook, signed as Twilio signs it).

use base64::Engine as _;
use chrono::Duration;
use hmac::{Hmac, KeyInit, Mac};
use oncall::clock::Clock as _;
use oncall::links::{Action, Links};
use oncall::settings::Settings;
use serde_json::{Value, json};

use crate::daemon::{KEY, TestApp, settings, temp_dir, write_schedules};

pub(crate) const PUBLIC_URL: &str = "https://oncall.example.com";
pub(crate) const SECRET: &str = "links-test-secret-0123456789abcdef";
pub(crate) const SMS_AUTH_TOKEN: &str = "twilio-auth-token-0123456789";
pub(crate) const ALICE_PHONE: &str = "+447700900001";
const BOB_PHONE: &str = "+447700900002";
pub(crate) const OUR_NUMBER: &str = "+447700900999";

const PEOPLE: &str = "people:
  alice: {name: Alice Smith, email: alice@example.com, phone: \"+447700900001\"}
  bob: {name: Bob, email: bob@example.com, phone: \"+447700900002\"}
  carol: {name: Carol, email: carol@example.com}
";

/// The daemon with a public URL, a link secret and SMS settings; people
/// with phones.
pub(crate) fn linked_settings(dir: &std::path::Path, secret: Option<&str>) -> Settings {
    std::fs::write(dir.join("schedules/people.yaml"), PEOPLE).unwrap();
    let mut s = settings(dir);
    s.public_url = Some(PUBLIC_URL.into());
    s.link_secret = secret.map(str::to_string);
    s.notify.sms = Some(
        toml::from_str(&format!(
            "account_sid = \"AC0123456789abcdef\"\nauth_token = \"{SMS_AUTH_TOKEN}\"\nfrom = \"{OUR_NUMBER}\"\n"
        ))
        .unwrap(),
    );
    s
}

async fn spawn() -> TestApp {
    let dir = temp_dir("links");
    write_schedules(&dir);
    let settings = linked_settings(&dir, Some(SECRET));
    TestApp::spawn_with(dir, settings, "2026-06-01T12:00:00Z").await
}

/// The daemon of [`spawn`], whose payments team pages alice and bob at once
/// (a person acts by SMS only on alerts that paged them); the pages go
/// nowhere (a port where nothing listens refuses at once).
async fn spawn_paging_alice_and_bob() -> TestApp {
    let dir = temp_dir("links-paged");
    write_schedules(&dir);
    std::fs::write(
        dir.join("schedules/payments.yaml"),
        format!(
            "team: payments\ntimezone: Europe/London\nhandoff_notices: []\n\
             rotas:\n  primary: {{members: [alice], start: 2026-01-05T09:00, every: 1w}}\n\
             intake_key: {KEY}\nescalation:\n  - notify: [user:alice, user:bob]\n"
        ),
    )
    .unwrap();
    let mut settings = linked_settings(&dir, Some(SECRET));
    settings.notify.sms.as_mut().unwrap().base_url = Some("http://127.0.0.1:9".into());
    TestApp::spawn_with(dir, settings, "2026-06-01T12:00:00Z").await
}

pub(crate) fn links() -> Links {
    Links::new(SECRET.as_bytes().to_vec(), Some(PUBLIC_URL.into()))
}

/// A new alert for payments through the plain intake; its id.
pub(crate) async fn new_alert(app: &TestApp, summary: &str) -> i64 {
    let (code, body) = app
        .post("/v1/alerts", KEY, json!({"summary": summary, "severity": "critical"}))
        .await;
    assert_eq!(code, 202, "{body}");
    body["alert_id"].as_i64().unwrap()
}

pub(crate) async fn alert(app: &TestApp, id: i64) -> Value {
    let (code, detail) = app.api_get(&format!("/v1/alerts/{id}")).await;
    assert_eq!(code, 200, "{detail}");
    detail["alert"].clone()
}

/// The link's URL on the test daemon (the public URL is not this one).
pub(crate) fn local(app: &TestApp, link: &str) -> String {
    let token = link.strip_prefix(&format!("{PUBLIC_URL}/v1/act/")).unwrap();
    format!("{}/v1/act/{token}", app.base)
}

async fn get(app: &TestApp, url: &str) -> (u16, String) {
    let r = app.client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    if status == 200 {
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert_eq!(ct, "text/html; charset=utf-8");
    }
    (status, r.text().await.unwrap())
}

/// POSTs with no body at all, as ntfy's action buttons do.
pub(crate) async fn post_empty(app: &TestApp, url: &str) -> (u16, String) {
    let r = app.client.post(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_shows_a_page_and_acts_only_when_posted() {
    let app = spawn().await;
    let id = new_alert(&app, "disk <full> & \"hot\" on db-1").await;
    let expires = app.clock.now() + Duration::hours(24);
    let link = links().url(Action::Acknowledge, id, "alice", expires).unwrap();
    let url = local(&app, &link);

    // Mail scanners and previews fetch links: a GET changes nothing.
    for _ in 0..2 {
        let (code, page) = get(&app, &url).await;
        assert_eq!(code, 200, "{page}");
        assert!(
            page.contains(&format!(
                "<h1>Acknowledge alert {id} — disk &lt;full&gt; &amp; &quot;hot&quot; on db-1</h1>"
            )),
            "{page}"
        );
        assert!(!page.contains("<full>"), "unescaped: {page}");
        assert!(
            page.contains("<dd>critical</dd>") && page.contains("<dd>payments</dd>"),
            "{page}"
        );
        assert!(page.contains("<form method=\"post\""), "{page}");
        assert!(page.contains("Acknowledge as Alice Smith (alice)"), "{page}");
    }
    assert_eq!(alert(&app, id).await["status"], "open");
    assert_eq!(app.timeline_kinds(id).await, ["created"]);

    app.clock.advance(Duration::minutes(3));
    let (code, page) = post_empty(&app, &url).await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("<h1>Acknowledged by alice</h1>"), "{page}");
    let a = alert(&app, id).await;
    assert_eq!(
        (&a["status"], &a["acknowledged_by"], &a["acknowledged_at"]),
        (&json!("acknowledged"), &json!("alice"), &json!("2026-06-01T12:03:00Z"))
    );
    assert_eq!(app.timeline_kinds(id).await, ["created", "acknowledged"]);

    // Again (a second tap, a retried request): the link acts once, and says
    // when it did.
    app.clock.advance(Duration::minutes(1));
    let (code, page) = post_empty(&app, &url).await;
    assert_eq!(code, 410);
    assert!(page.contains("<h1>This link was used already</h1>"), "{page}");
    assert!(page.contains("at 2026-06-01T12:03:00Z"), "{page}");
    assert_eq!(app.timeline_kinds(id).await, ["created", "acknowledged"]);
    // And the page no longer offers the button.
    let (_, page) = get(&app, &url).await;
    assert!(page.contains("Nothing to do"), "{page}");
    assert!(!page.contains("<form"), "{page}");

    // A form post from the page (a body) works the same.
    let resolve = local(&app, &links().url(Action::Resolve, id, "alice", expires).unwrap());
    let r = app
        .client
        .post(&resolve)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("<h1>Resolved by alice</h1>"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resolve_link_resolves_and_records_the_person() {
    let app = spawn().await;
    let id = new_alert(&app, "checkout 500s").await;
    let link = links()
        .url(Action::Resolve, id, "bob", app.clock.now() + Duration::hours(1))
        .unwrap();
    let (code, page) = post_empty(&app, &local(&app, &link)).await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("<h1>Resolved by bob</h1>"), "{page}");
    let a = alert(&app, id).await;
    assert_eq!((&a["status"], &a["resolved_by"]), (&json!("resolved"), &json!("bob")));
    let (code, page) = post_empty(&app, &local(&app, &link)).await;
    assert_eq!(code, 410);
    assert!(page.contains("<h1>This link was used already</h1>"), "{page}");
    // An acknowledge link for a resolved alert does nothing either.
    let ack = links()
        .url(Action::Acknowledge, id, "alice", app.clock.now() + Duration::hours(1))
        .unwrap();
    let (_, page) = post_empty(&app, &local(&app, &ack)).await;
    assert!(page.contains("<h1>Already resolved</h1>"), "{page}");
    assert_eq!(alert(&app, id).await["acknowledged_by"], Value::Null);
    app.stop().await;
}

/// The token of `link` with its claim's person replaced, the MAC kept.
fn with_person(link: &str, person: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (payload, mac) = link.rsplit('/').next().unwrap().split_once('.').unwrap();
    let text = String::from_utf8(b64.decode(payload).unwrap()).unwrap();
    let (head, _) = text.rsplit_once('\n').unwrap();
    format!("{PUBLIC_URL}/v1/act/{}.{mac}", b64.encode(format!("{head}\n{person}")))
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_and_expired_links_change_nothing() {
    let app = spawn().await;
    let id = new_alert(&app, "queue backlog").await;
    let expires = app.clock.now() + Duration::hours(1);
    let link = links().url(Action::Acknowledge, id, "alice", expires).unwrap();
    let before = alert(&app, id).await;

    let forged = with_person(&link, "mallory");
    assert_ne!(forged, link);
    let other_secret = Links::new(b"another-secret-0123456789abcdef-xyz".to_vec(), Some(PUBLIC_URL.into()))
        .url(Action::Acknowledge, id, "alice", expires)
        .unwrap();
    for (what, url, says) in [
        ("tampered", local(&app, &forged), "This link is not valid"),
        ("another secret", local(&app, &other_secret), "This link is not valid"),
        (
            "cut short",
            local(&app, &link)[..local(&app, &link).len() - 5].to_string(),
            "This link is incomplete",
        ),
        (
            "junk",
            format!("{}/v1/act/not-a-token", app.base),
            "This link is incomplete",
        ),
    ] {
        let (code, page) = get(&app, &url).await;
        assert_eq!(code, 403, "{what}: {page}");
        assert!(page.contains(says), "{what}: {page}");
        let (code, _) = post_empty(&app, &url).await;
        assert_eq!(code, 403, "{what}");
    }
    assert_eq!(alert(&app, id).await, before, "a refused link changed the alert");

    let missing = links().url(Action::Acknowledge, 999_999, "alice", expires).unwrap();
    let (code, page) = get(&app, &local(&app, &missing)).await;
    assert_eq!((code, page.contains("No alert 999999")), (404, true), "{page}");
    let (code, _) = post_empty(&app, &local(&app, &missing)).await;
    assert_eq!(code, 404);

    // Valid up to the last second before it expires, gone from then on.
    app.clock.advance(Duration::hours(1) - Duration::seconds(1));
    let (code, _) = get(&app, &local(&app, &link)).await;
    assert_eq!(code, 200);
    app.clock.advance(Duration::seconds(1));
    let (code, page) = get(&app, &local(&app, &link)).await;
    assert_eq!(code, 410, "{page}");
    assert!(
        page.contains("This link has expired") && page.contains("2026-06-01T13:00:00Z"),
        "{page}"
    );
    let (code, _) = post_empty(&app, &local(&app, &link)).await;
    assert_eq!(code, 410);
    assert_eq!(alert(&app, id).await, before, "an expired link changed the alert");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_configured_secret_one_is_made_once_and_links_survive_restarts() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("links-secret");
    write_schedules(&dir);
    let app = TestApp::spawn_with(dir.clone(), linked_settings(&dir, None), "2026-06-01T12:00:00Z").await;
    let path = dir.join("oncall.db.link-secret");
    let secret = std::fs::read_to_string(&path).unwrap();
    assert_eq!(secret.trim().len(), 64, "{secret:?}");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let made = Links::new(secret.trim().as_bytes().to_vec(), Some(PUBLIC_URL.into()));
    let id = new_alert(&app, "made before the restart").await;
    let expires = app.clock.now() + Duration::days(2);
    let ack = made.url(Action::Acknowledge, id, "alice", expires).unwrap();
    let resolve = made.url(Action::Resolve, id, "alice", expires).unwrap();
    let (code, _) = post_empty(&app, &local(&app, &ack)).await;
    assert_eq!(code, 200);
    let dir = app.stop().await;

    let app = TestApp::spawn_with(dir.clone(), linked_settings(&dir, None), "2026-06-02T12:00:00Z").await;
    assert_eq!(std::fs::read_to_string(&path).unwrap(), secret, "the secret changed");
    let (code, page) = post_empty(&app, &local(&app, &resolve)).await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(alert(&app, id).await["resolved_by"], "alice");
    // The test secret of the other tests is not this installation's.
    let foreign = links().url(Action::Resolve, id, "alice", expires).unwrap();
    assert_eq!(post_empty(&app, &local(&app, &foreign)).await.0, 403);
    app.stop().await;
}

/// Twilio's signature, computed here independently of the daemon's code:
/// the URL and every parameter's name and value, sorted by name, as one
/// string, HMAC-SHA1 with the auth token, Base64.
pub(crate) fn twilio_sign(auth_token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let data: String = sorted.iter().fold(url.to_string(), |acc, (k, v)| acc + k + v);
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The signer above agrees with the example in Twilio's security docs, so
/// a test that passes is not two copies of one mistake agreeing.
#[test]
fn the_test_signer_agrees_with_twilios_published_example() {
    let params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ];
    assert_eq!(
        twilio_sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &params),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
}

/// A message as Twilio posts it, with a message id of its own (the daemon
/// handles each message id once).
pub(crate) fn sms_params<'a>(from: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let sid: &'static str = Box::leak(format!("SM{:032x}", N.fetch_add(1, Ordering::Relaxed)).into_boxed_str());
    vec![
        ("ToCountry", "GB"),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("From", from),
        ("To", OUR_NUMBER),
        ("Body", body),
        ("MessageSid", sid),
        ("AccountSid", "AC0123456789abcdef"),
        ("NumSegments", "1"),
        ("ApiVersion", "2010-04-01"),
    ]
}

/// POSTs `params` as a form, with `signature` if given; (status, body).
pub(crate) async fn sms(app: &TestApp, params: &[(&str, &str)], signature: Option<&str>) -> (u16, String) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut r = app
        .client
        .post(format!("{}/v1/sms/inbound", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(sig) = signature {
        r = r.header("X-Twilio-Signature", sig);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    if status == 200 {
        assert_eq!(r.headers()["content-type"], "text/xml; charset=utf-8");
    }
    (status, r.text().await.unwrap())
}

/// A correctly signed message from `from`; the TwiML reply's message.
pub(crate) async fn text(app: &TestApp, from: &str, body: &str) -> String {
    let params = sms_params(from, body);
    let sig = twilio_sign(SMS_AUTH_TOKEN, &format!("{PUBLIC_URL}/v1/sms/inbound"), &params);
    let (code, reply) = sms(app, &params, Some(&sig)).await;
    assert_eq!(code, 200, "{reply}");
    let message = reply
        .split_once("<Response><Message>")
        .and_then(|(_, rest)| rest.split_once("</Message></Response>"))
        .unwrap_or_else(|| panic!("not TwiML with a message: {reply}"));
    message.0.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sms_reply_acknowledges_or_resolves_as_the_sender() {
    let app = spawn_paging_alice_and_bob().await;
    let id = new_alert(&app, "payments API down").await;
    app.run_engine().await;
    app.clock.advance(Duration::minutes(2));
    assert_eq!(
        text(&app, ALICE_PHONE, &format!("ACK {id}")).await,
        format!("Acknowledged alert {id}")
    );
    let a = alert(&app, id).await;
    assert_eq!(
        (&a["status"], &a["acknowledged_by"], &a["acknowledged_at"]),
        (&json!("acknowledged"), &json!("alice"), &json!("2026-06-01T12:02:00Z"))
    );
    assert_eq!(
        text(&app, BOB_PHONE, &format!("ack{id}")).await,
        format!("Alert {id} was already acknowledged by alice")
    );
    assert_eq!(
        text(&app, BOB_PHONE, &format!("resolve {id}")).await,
        format!("Resolved alert {id}")
    );
    assert_eq!(alert(&app, id).await["resolved_by"], "bob");
    assert_eq!(
        text(&app, ALICE_PHONE, &format!("RES {id}")).await,
        format!("Alert {id} is already resolved")
    );

    // Help for what it cannot read, and for an alert that is not there.
    let usage = text(&app, ALICE_PHONE, "what is going on?").await;
    assert!(usage.contains("Reply ACK 42"), "{usage}");
    let missing = text(&app, ALICE_PHONE, "ACK 999999").await;
    assert!(missing.starts_with("No alert 999999."), "{missing}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_or_strangers_sms_change_nothing() {
    let app = spawn().await;
    let id = new_alert(&app, "payments API down").await;
    let before = alert(&app, id).await;
    let body = format!("ACK {id}");
    let params = sms_params(ALICE_PHONE, &body);
    let url = format!("{PUBLIC_URL}/v1/sms/inbound");

    let wrong_token = twilio_sign("another-auth-token", &url, &params);
    let wrong_url = twilio_sign(SMS_AUTH_TOKEN, &format!("{}/v1/sms/inbound", app.base), &params);
    let other_body = twilio_sign(SMS_AUTH_TOKEN, &url, &sms_params(ALICE_PHONE, &format!("RES {id}")));
    for (what, sig) in [
        ("no signature", None),
        ("another auth token", Some(wrong_token.as_str())),
        ("signed for another URL", Some(wrong_url.as_str())),
        ("signed for another body", Some(other_body.as_str())),
        ("not base64", Some("!!!")),
    ] {
        let (code, reply) = sms(&app, &params, sig).await;
        assert_eq!(code, 403, "{what}: {reply}");
    }
    assert_eq!(alert(&app, id).await, before, "an unsigned SMS changed the alert");

    // A number nobody has: one answer, whatever it asks, naming no alert.
    let reply = text(&app, "+15005550006", &body).await;
    assert_eq!(reply, "This number is not registered with oncall.");
    assert_eq!(text(&app, "+15005550006", "hello").await, reply);
    assert_eq!(alert(&app, id).await, before, "a stranger's SMS changed the alert");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn inbound_sms_is_off_without_sms_settings() {
    let app = TestApp::spawn().await;
    let params = sms_params(ALICE_PHONE, "ACK 1");
    let sig = twilio_sign(SMS_AUTH_TOKEN, &format!("{PUBLIC_URL}/v1/sms/inbound"), &params);
    let (code, _) = sms(&app, &params, Some(&sig)).await;
    assert_eq!(code, 404);
    app.stop().await;
}
