//! Web Push (issue 20), against real push services on loopback: npm
//! `web-push-testing` (a Web Push service that checks the VAPID signature
//! and decrypts what it is sent, RFC 8291 `aes128gcm`), started by the test
//! on a free port of 127.0.0.1; and, for the answers it cannot be told to
//! give (429 with `Retry-After`), a loopback server answering as RFC 8030
//! says a push service does.
//!
//! alice has no ntfy topic: only the subscription she makes on her page
//! reaches her by `push`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use chrono::Duration;
use oncall::clock::Clock as _;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::daemon::{KEY, TestApp, settings, temp_dir, write_schedules};
use crate::links::{PUBLIC_URL, SECRET, local, new_alert, post_empty};

fn tools() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/web-tools")
}

/// web-push-testing, running; stopped when dropped.
struct PushService {
    base: String,
    child: Child,
    http: reqwest::Client,
}

impl Drop for PushService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A subscription as the service made it.
struct Subscribed {
    endpoint: String,
    p256dh: String,
    auth: String,
    client_hash: String,
}

impl PushService {
    async fn start() -> PushService {
        let tools = tools();
        assert!(
            tools.join("node_modules/web-push-testing").is_dir(),
            "{} has no web-push-testing: run scripts/test, which installs it (npm ci from tests/web/)",
            tools.display()
        );
        let script = tools.join("webpush-service.cjs");
        std::fs::copy(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web/webpush-service.cjs"),
            &script,
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("node")
            .arg(&script)
            .arg(port.to_string())
            .current_dir(&tools)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let service = PushService {
            base: format!("http://127.0.0.1:{port}"),
            child,
            http: reqwest::Client::new(),
        };
        // Poll until it answers; a generous bound for a loaded machine.
        for _ in 0..600 {
            if let Ok(r) = service.http.post(format!("{}/status", service.base)).send().await
                && r.status().as_u16() == 200
            {
                return service;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("web-push-testing did not start on {}", service.base);
    }

    /// Subscribes a device, as a browser's `pushManager.subscribe` does.
    async fn subscribe(&self, application_server_key: &str) -> Subscribed {
        let r: Value = self
            .http
            .post(format!("{}/subscribe", self.base))
            .json(&json!({"userVisibleOnly": "true", "applicationServerKey": application_server_key}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let d = &r["data"];
        let s = |v: &Value| v.as_str().unwrap_or_else(|| panic!("{r}")).to_string();
        Subscribed {
            endpoint: s(&d["endpoint"]),
            p256dh: s(&d["keys"]["p256dh"]),
            auth: s(&d["keys"]["auth"]),
            client_hash: s(&d["clientHash"]),
        }
    }

    /// The messages the device received, decrypted by the service.
    async fn messages(&self, sub: &Subscribed) -> Vec<Value> {
        let r: Value = self
            .http
            .post(format!("{}/get-notifications", self.base))
            .json(&json!({"clientHash": sub.client_hash}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["data"]["messages"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|m| serde_json::from_str(m.as_str().unwrap()).unwrap_or_else(|e| panic!("{e}: {m}")))
            .collect()
    }

    /// The device unsubscribed: the service answers 410 from now on.
    async fn expire(&self, sub: &Subscribed) {
        let r = self
            .http
            .post(format!("{}/expire-subscription/{}", self.base, sub.client_hash))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
}

/// The daemon with `[webpush]` (a fresh key pair; `http://` endpoints
/// taken, for the loopback services), alice on call for payments with no
/// ntfy topic, on `database` if given (a PostgreSQL URL).
async fn spawn(database: Option<&str>) -> TestApp {
    let dir = temp_dir("webpush");
    write_schedules(&dir);
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
    let (private, _) = oncall::notify::webpush::keygen();
    s.notify.webpush = Some(
        toml::from_str(&format!(
            "subject = \"mailto:oncall@example.com\"\nprivate_key = \"{private}\"\nallow_http = true\ntimeout_secs = 5\n"
        ))
        .unwrap(),
    );
    TestApp::spawn_with(dir, s, "2026-06-01T12:00:00Z").await
}

/// A client with `person`'s session (signed in with their link), and the
/// session's CSRF token as `/me` writes it on the push button.
async fn signed_in(app: &TestApp, person: &str) -> (reqwest::Client, String) {
    let client = crate::web_timeline::signed_in(app, person).await;
    let page = client
        .get(format!("{}/me", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = app.state().web.webpush.as_ref().unwrap().public_key().to_string();
    assert!(
        page.contains(&format!("data-key=\"{key}\"")),
        "no push button with the VAPID key: {page}"
    );
    let start = page.find("data-csrf=\"").expect("the button carries the CSRF token") + "data-csrf=\"".len();
    let csrf = page[start..start + page[start..].find('"').unwrap()].to_string();
    (client, csrf)
}

/// POSTs a subscription to `/me/push` as the button does; where it sent
/// the browser (303).
async fn post_subscription(app: &TestApp, client: &reqwest::Client, csrf: &str, sub: &Subscribed) -> String {
    let r = client
        .post(format!("{}/me/push", app.base))
        .header("Origin", &app.base)
        .form(&[
            ("csrf", csrf),
            ("endpoint", sub.endpoint.as_str()),
            ("p256dh", sub.p256dh.as_str()),
            ("auth", sub.auth.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "{r:?}");
    r.headers()["location"].to_str().unwrap().to_string()
}

async fn timeline(app: &TestApp, id: i64) -> Vec<Value> {
    let (code, detail) = app.api_get(&format!("/v1/alerts/{id}")).await;
    assert_eq!(code, 200, "{detail}");
    detail["timeline"].as_array().unwrap().clone()
}

/// The timeline entries of `kind` for method push, as JSON text each.
async fn push_entries(app: &TestApp, id: i64, kind: &str) -> Vec<String> {
    timeline(app, id)
        .await
        .into_iter()
        .filter(|e| e["kind"] == kind)
        .map(|e| e.to_string())
        .filter(|e| e.contains("\"push\""))
        .collect()
}

async fn subscribe_page_and_acknowledge(database: Option<&str>) {
    let service = PushService::start().await;
    let app = spawn(database).await;
    let key = app.state().web.webpush.as_ref().unwrap().public_key().to_string();
    let (client, csrf) = signed_in(&app, "alice").await;
    let device = service.subscribe(&key).await;
    assert_eq!(post_subscription(&app, &client, &csrf, &device).await, "/me?push=on");
    // The test push on subscribing arrived, decrypted by the service.
    let got = service.messages(&device).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["test"], true, "{got:?}");
    let me = client
        .get(format!("{}/me?push=on", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(me.contains("Push is on for this device"), "{me}");
    assert!(
        me.contains("/remove\""),
        "the device is listed with its off switch: {me}"
    );

    // alice has no ntfy topic: the page reaches her by Web Push alone.
    let id = new_alert(&app, "Disk full on db-1").await;
    app.run_engine().await;
    let got = service.messages(&device).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let page = &got[1];
    let alert = &page["alerts"][0];
    assert_eq!(alert["id"], id);
    assert_eq!(alert["summary"], "Disk full on db-1");
    assert_eq!(alert["team"], "payments");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(page["urgency"], "high");
    assert!(page["title"].as_str().unwrap().contains("Disk full on db-1"), "{page}");
    let sent = push_entries(&app, id, "notified").await;
    assert_eq!(sent.len(), 1, "{:#?}", timeline(&app, id).await);

    // The notification's Acknowledge button POSTs the signed link.
    let ack = alert["acknowledge"].as_str().unwrap();
    assert!(ack.starts_with(&format!("{PUBLIC_URL}/v1/act/")), "{ack}");
    let (code, said) = post_empty(&app, &local(&app, ack)).await;
    assert_eq!(code, 200, "{said}");
    assert_eq!(crate::links::alert(&app, id).await["status"], "acknowledged");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscribed_device_is_paged_with_the_alert_and_its_button_acknowledges() {
    subscribe_page_and_acknowledge(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_a_subscribed_device_is_paged_and_acknowledges() {
    let Some(url) = crate::pg::fresh_database("webpush") else {
        return;
    };
    subscribe_page_and_acknowledge(Some(&url)).await;
}

async fn gone_subscription_is_removed(database: Option<&str>) {
    let service = PushService::start().await;
    let app = spawn(database).await;
    let key = app.state().web.webpush.as_ref().unwrap().public_key().to_string();
    let (client, csrf) = signed_in(&app, "alice").await;
    let device = service.subscribe(&key).await;
    post_subscription(&app, &client, &csrf, &device).await;
    let store = app.state().store.clone();
    assert_eq!(
        store.webpush_subscriptions(Some("alice".into())).await.unwrap().len(),
        1
    );
    service.expire(&device).await;
    let id = new_alert(&app, "Disk full on db-2").await;
    app.run_engine().await;
    assert!(
        store
            .webpush_subscriptions(Some("alice".into()))
            .await
            .unwrap()
            .is_empty(),
        "the subscription the service answered 410 for is still kept"
    );
    let failed = push_entries(&app, id, "notify_failed").await;
    assert_eq!(failed.len(), 1, "{:#?}", timeline(&app, id).await);
    assert!(
        failed[0].contains("410") && failed[0].contains("removed"),
        "{}",
        failed[0]
    );
    // A page after that no longer goes to it.
    let next = new_alert(&app, "Disk full on db-3").await;
    app.run_engine().await;
    assert!(push_entries(&app, next, "notified").await.is_empty());
    assert!(push_entries(&app, next, "notify_failed").await.is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_the_service_says_is_gone_is_removed() {
    gone_subscription_is_removed(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_a_subscription_the_service_says_is_gone_is_removed() {
    let Some(url) = crate::pg::fresh_database("webpush") else {
        return;
    };
    gone_subscription_is_removed(Some(&url)).await;
}

/// One request the loopback push service took: its headers of interest.
#[derive(Clone, Debug)]
struct Pushed {
    urgency: String,
    ttl: String,
    encoding: String,
    authorization: String,
}

#[derive(Default)]
struct Service {
    taken: Mutex<Vec<Pushed>>,
    /// (status, Retry-After) to answer instead of 201, first to the next.
    scripted: Mutex<VecDeque<(u16, Option<&'static str>)>>,
}

/// A push service as RFC 8030 describes it: `POST` of the encrypted message
/// to the endpoint, 201 with the message's URL in `Location`.
async fn receive(State(state): State<Arc<Service>>, headers: HeaderMap) -> Response {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut taken = state.taken.lock().unwrap();
    taken.push(Pushed {
        urgency: h("urgency"),
        ttl: h("ttl"),
        encoding: h("content-encoding"),
        authorization: h("authorization"),
    });
    let n = taken.len();
    match state.scripted.lock().unwrap().pop_front() {
        Some((status, retry_after)) => {
            let mut r = StatusCode::from_u16(status).unwrap().into_response();
            if let Some(after) = retry_after {
                r.headers_mut().insert("retry-after", after.parse().unwrap());
            }
            r
        }
        None => (StatusCode::CREATED, [("location", format!("/message/m{n}"))]).into_response(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_is_retried_after_retry_after_then_delivered() {
    let state = Arc::new(Service::default());
    let router = axum::Router::new()
        .route("/push/{device}", post(receive))
        .with_state(state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let app = spawn(None).await;
    let (client, csrf) = signed_in(&app, "alice").await;
    // A device's keys: any P-256 public key and 16 bytes.
    let (_, device_key) = oncall::notify::webpush::keygen();
    let device = Subscribed {
        endpoint: format!("{base}/push/phone-1"),
        p256dh: device_key,
        auth: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 16]),
        client_hash: String::new(),
    };
    assert_eq!(post_subscription(&app, &client, &csrf, &device).await, "/me?push=on");
    // The page's first try is asked to wait two minutes, far beyond the
    // first retry's backoff (10 s).
    state.scripted.lock().unwrap().push_back((429, Some("120")));
    let id = new_alert(&app, "Disk full on db-4").await;
    let paged_at = app.clock.now();
    app.run_engine().await;
    let retry = push_entries(&app, id, "notify_failed").await;
    assert_eq!(retry.len(), 1, "{:#?}", timeline(&app, id).await);
    let entry: Value = serde_json::from_str(&retry[0]).unwrap();
    let retry_at = entry["detail"]["retry_at"]
        .as_str()
        .unwrap_or_else(|| panic!("{entry}"));
    let retry_at = chrono::DateTime::parse_from_rfc3339(retry_at).unwrap().to_utc();
    assert!(
        retry_at >= paged_at + Duration::seconds(120) && retry_at <= paged_at + Duration::seconds(121),
        "retry at {retry_at}, paged at {paged_at}"
    );
    // Not before then.
    app.clock.advance(Duration::seconds(60));
    app.run_engine().await;
    assert_eq!(state.taken.lock().unwrap().len(), 2);
    app.clock.advance(Duration::seconds(61));
    app.run_engine().await;
    let taken = state.taken.lock().unwrap().clone();
    assert_eq!(taken.len(), 3, "{taken:#?}");
    let sent = push_entries(&app, id, "notified").await;
    assert_eq!(sent.len(), 1, "{:#?}", timeline(&app, id).await);
    assert!(
        sent[0].contains("/message/m3"),
        "the Location is the receipt: {}",
        sent[0]
    );
    // Every push: encrypted (RFC 8291), signed (RFC 8292); a critical page
    // is `high`, the test push `normal`.
    for p in &taken {
        assert_eq!(p.encoding, "aes128gcm", "{p:?}");
        assert!(p.authorization.starts_with("vapid t="), "{p:?}");
        assert_eq!(p.ttl, "3600", "{p:?}");
    }
    assert_eq!(
        taken.iter().map(|p| p.urgency.as_str()).collect::<Vec<_>>(),
        ["normal", "high", "high"]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_that_cannot_be_used_is_refused_with_the_reason() {
    let app = spawn(None).await;
    let (client, csrf) = signed_in(&app, "alice").await;
    let bad = Subscribed {
        endpoint: "http://127.0.0.1:9/push/x".into(),
        p256dh: "not-a-key".into(),
        auth: "AAAA".into(),
        client_hash: String::new(),
    };
    let r = client
        .post(format!("{}/me/push", app.base))
        .header("Origin", &app.base)
        .form(&[
            ("csrf", csrf.as_str()),
            ("endpoint", bad.endpoint.as_str()),
            ("p256dh", bad.p256dh.as_str()),
            ("auth", bad.auth.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("p256dh"));
    // Without the CSRF token: refused, nothing kept.
    let r = client
        .post(format!("{}/me/push", app.base))
        .header("Origin", &app.base)
        .form(&[("endpoint", "https://push.example/x"), ("p256dh", "x"), ("auth", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(app.state().store.webpush_subscriptions(None).await.unwrap().is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_is_turned_off_by_its_person_only() {
    let state = Arc::new(Service::default());
    let router = axum::Router::new()
        .route("/push/{device}", post(receive))
        .with_state(state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let app = spawn(None).await;
    let (alice, alice_csrf) = signed_in(&app, "alice").await;
    let (_, device_key) = oncall::notify::webpush::keygen();
    let device = Subscribed {
        endpoint: format!("{base}/push/laptop"),
        p256dh: device_key,
        auth: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([3u8; 16]),
        client_hash: String::new(),
    };
    post_subscription(&app, &alice, &alice_csrf, &device).await;
    let store = app.state().store.clone();
    let kept = store.webpush_subscriptions(None).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].person, "alice");
    let remove = format!("{}/me/push/{}/remove", app.base, kept[0].id);
    // bob cannot turn alice's device off.
    let (bob, bob_csrf) = signed_in(&app, "bob").await;
    let r = bob
        .post(&remove)
        .header("Origin", &app.base)
        .form(&[("csrf", bob_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(store.webpush_subscriptions(None).await.unwrap().len(), 1);
    // alice can, with her page's form.
    let r = alice
        .post(&remove)
        .header("Origin", &app.base)
        .form(&[("csrf", alice_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/me?push=removed");
    assert!(store.webpush_subscriptions(None).await.unwrap().is_empty());
    app.stop().await;
}

/// A test page reaches each device with Web Push on; tapping its
/// notification (the service worker POSTs the payload's `confirm` link)
/// confirms that device, and `/me` shows it proven.
#[tokio::test(flavor = "multi_thread")]
async fn a_test_page_reaches_each_device_and_tapping_it_confirms() {
    let service = PushService::start().await;
    let app = spawn(None).await;
    let key = app.state().web.webpush.as_ref().unwrap().public_key().to_string();
    let (client, csrf) = signed_in(&app, "alice").await;
    let device = service.subscribe(&key).await;
    assert_eq!(post_subscription(&app, &client, &csrf, &device).await, "/me?push=on");
    let dest = format!(
        "webpush:{}",
        app.state()
            .store
            .webpush_subscriptions(Some("alice".into()))
            .await
            .unwrap()[0]
            .id
    );

    let (code, started) = app
        .api_post("/v1/people/alice/test-page", json!({"method": "push"}))
        .await;
    assert_eq!(code, 202, "{started}");
    let test = started["test"].as_i64().unwrap_or_else(|| panic!("{started}"));
    app.run_engine().await;
    let got = service.messages(&device).await;
    assert_eq!(got.len(), 2, "the subscribing test push, then the test page: {got:?}");
    let page = &got[1];
    assert_eq!(page["test"], true, "{page}");
    assert_eq!(page["alerts"], json!([]), "{page}");
    let confirm = page["confirm"]
        .as_str()
        .unwrap_or_else(|| panic!("no confirm link: {page}"));
    assert!(confirm.starts_with(&format!("{PUBLIC_URL}/v1/proofs/")), "{confirm}");
    assert_eq!(
        page["url"].as_str(),
        Some(confirm),
        "tapping opens it where script cannot POST"
    );

    let proof = |proofs: &Value| {
        proofs["proofs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["to"] == dest.as_str())
            .unwrap_or_else(|| panic!("no proof for {dest}: {proofs}"))
            .clone()
    };
    let (_, before) = app.api_get(&format!("/v1/test-pages/{test}")).await;
    assert_eq!(proof(&before)["state"], "sent", "{before}");
    assert_eq!(proof(&before)["confirmed_at"], Value::Null, "{before}");

    // `oncall check` holds the device to the proofs like any method.
    let unproven = format!(
        "alice (on payments/primary): push (Web Push device {}) for `critical` pages is unproven",
        &dest["webpush:".len()..]
    );
    let err = crate::proven::check(&app, app.clock.now());
    assert!(err.contains(&unproven) && err.contains("never confirmed"), "{err}");

    app.clock.advance(Duration::seconds(30));
    let on_test_daemon = confirm.replace(PUBLIC_URL, &app.base);
    let (code, said) = post_empty(&app, &on_test_daemon).await;
    assert_eq!(code, 200, "{said}");
    let (_, after) = app.api_get(&format!("/v1/test-pages/{test}")).await;
    assert_eq!(proof(&after)["confirmed_at"], "2026-06-01T12:00:30Z", "{after}");
    let err = crate::proven::check(&app, app.clock.now());
    assert!(!err.contains(&unproven), "{err}");

    let me = client
        .get(format!("{}/me", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        me.contains(&format!(
            "<tr><td>push</td><td>{dest}</td><td>2026-06-01T12:00:30Z</td></tr>"
        )),
        "{me}"
    );
    app.stop().await;
}

/// `tests/web/push.mjs` in Chromium: signs in as alice, opens `/me`, hands
/// the worker `payload` as a push service would, and with `act` does what
/// a tap on that button does; what it printed.
async fn in_chromium(app: &TestApp, payload: &oncall::notify::webpush::Payload, act: Option<&str>) -> Value {
    let tools = tools();
    assert!(
        tools.join("node_modules/puppeteer-core").is_dir() && tools.join("node_modules/axe-core").is_dir(),
        "{} has no puppeteer-core and axe-core: run scripts/test, which installs them (npm ci from tests/web/)",
        tools.display()
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").is_file(),
        "/usr/bin/chromium is missing: run scripts/test"
    );
    let script = tools.join("push.mjs");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web/push.mjs"),
        &script,
    )
    .unwrap();
    let signin = format!(
        "{}/signin?person=alice&token={}",
        app.base,
        app.state().links.status_token("alice")
    );
    let mut command = Command::new("node");
    command
        .arg(&script)
        .args(["--signin", &signin, "--page", &format!("{}/me", app.base)])
        .arg("--payload")
        .arg(serde_json::to_string(payload).unwrap());
    if let Some(act) = act {
        command.args(["--act", act]);
    }
    let o = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(
        o.status.success(),
        "push.mjs failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

/// In a real browser (Debian's Chromium): `/me` with `[webpush]` shows the
/// "Turn on push" button with the VAPID key, its script runs under the
/// page's Content-Security-Policy without a violation, axe-core finds
/// nothing; the service worker registers, and a push of a page, handed to
/// it as a push service would, is shown with Acknowledge and Resolve and
/// the alert's signed links, and stays on screen (critical).
#[tokio::test(flavor = "multi_thread")]
async fn in_chromium_me_turns_push_on_and_the_worker_shows_a_page_with_its_buttons() {
    let app = spawn(None).await;
    let id = new_alert(&app, "Disk full on db-1").await;
    let payload = oncall::notify::webpush::Payload {
        title: "[critical] payments: Disk full on db-1".into(),
        body: "Alert 42".into(),
        urgency: oncall::notify::Urgency::High,
        url: Some(format!("{}/v1/act/ack-token", app.base)),
        alerts: vec![oncall::notify::webpush::PayloadAlert {
            id,
            team: "payments".into(),
            severity: "critical".into(),
            summary: "Disk full on db-1".into(),
            acknowledge: Some(format!("{}/v1/act/ack-token", app.base)),
            resolve: Some(format!("{}/v1/act/resolve-token", app.base)),
        }],
        test: false,
        confirm: None,
    };
    let seen = in_chromium(&app, &payload, None).await;

    assert_eq!(seen["status"], 200, "{seen}");
    assert_eq!(seen["errors"], json!([]), "no script error, no CSP violation: {seen}");
    let key = app.state().web.webpush.as_ref().unwrap().public_key().to_string();
    assert_eq!(
        seen["button"]["hidden"], false,
        "the browser can push: the button shows: {seen}"
    );
    assert_eq!(seen["button"]["key"], key.as_str(), "{seen}");
    assert_eq!(seen["scope"], format!("{}/", app.base), "{seen}");
    assert_eq!(seen["axe"], json!([]), "axe-core: {seen}");
    let shown = seen["notifications"].as_array().unwrap();
    assert_eq!(shown.len(), 1, "{seen}");
    let n = &shown[0];
    assert_eq!(n["title"], "[critical] payments: Disk full on db-1", "{n}");
    assert_eq!(n["actions"], json!(["ack", "resolve"]), "{n}");
    assert_eq!(n["tag"], format!("oncall-alert-{id}"), "{n}");
    assert_eq!(
        n["requireInteraction"], true,
        "a critical page stays until acted on: {n}"
    );
    assert_eq!(
        n["data"]["alerts"][0]["acknowledge"],
        format!("{}/v1/act/ack-token", app.base),
        "{n}"
    );
    app.stop().await;
}

/// In Chromium, a bundled page (two alerts): one "Acknowledge all 2"
/// button, and what it does acknowledges both alerts through their own
/// signed links, as alice, then says so.
#[tokio::test(flavor = "multi_thread")]
async fn in_chromium_a_bundled_page_acknowledges_all_its_alerts() {
    let app = spawn(None).await;
    let expires = app.clock.now() + chrono::Duration::hours(1);
    let mut alerts = Vec::new();
    for summary in ["Disk full on db-1", "Disk full on db-2"] {
        let id = new_alert(&app, summary).await;
        let link = |action| {
            format!(
                "{}/v1/act/{}",
                app.base,
                app.state().links.token(action, id, "alice", expires)
            )
        };
        alerts.push(oncall::notify::webpush::PayloadAlert {
            id,
            team: "payments".into(),
            severity: "critical".into(),
            summary: summary.into(),
            acknowledge: Some(link(oncall::links::Action::Acknowledge)),
            resolve: Some(link(oncall::links::Action::Resolve)),
        });
    }
    let payload = oncall::notify::webpush::Payload {
        title: "[critical] 2 alerts".into(),
        body: "Disk full on db-1; Disk full on db-2".into(),
        urgency: oncall::notify::Urgency::High,
        url: alerts[0].acknowledge.clone(),
        alerts: alerts.clone(),
        test: false,
        confirm: None,
    };
    let seen = in_chromium(&app, &payload, Some("ack-all")).await;
    assert_eq!(seen["errors"], json!([]), "{seen}");
    let shown = seen["notifications"].as_array().unwrap();
    assert_eq!(shown.len(), 1, "{seen}");
    assert_eq!(shown[0]["actions"], json!(["ack-all"]), "{seen}");
    let acted = seen["acted"]
        .as_array()
        .unwrap_or_else(|| panic!("nothing acted: {seen}"));
    assert!(acted.iter().any(|n| n["title"] == "Acknowledged all 2"), "{seen}");
    for a in &alerts {
        let (code, alert) = app.api_get(&format!("/v1/alerts/{}", a.id)).await;
        assert_eq!(code, 200, "{alert}");
        assert_eq!(alert["alert"]["status"], "acknowledged", "{alert}");
        assert_eq!(alert["alert"]["acknowledged_by"], "alice", "{alert}");
    }
    app.stop().await;
}
