//! Phone calls (issue 20), over real HTTP: the daemon places calls through
//! a loopback server speaking Twilio's Calls API (and its Messages API, for
//! the SMS a call fails over to), and the tests post Twilio's webhooks back
//! as Twilio signs them: the key pressed (`/v1/voice/{token}`) and how the
//! call ended (`/v1/voice/{token}/status`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use chrono::Duration;
use oncall::clock::Clock as _;
use serde_json::json;
use tokio::net::TcpListener;

use crate::daemon::{KEY, TestApp, settings, temp_dir, write_schedules};
use crate::links::{PUBLIC_URL, SECRET, new_alert, twilio_sign};

pub(crate) const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub(crate) const TOKEN: &str = "voice-auth-token-0123456789";
pub(crate) const OUR_NUMBER: &str = "+447700900999";
pub(crate) const ALICE_PHONE: &str = "+447700900001";
const BOB_PHONE: &str = "+447700900002";

/// One request the fake Twilio took: `Calls.json` or `Messages.json`, and
/// its form.
#[derive(Clone, Debug)]
pub(crate) struct Taken {
    pub(crate) resource: String,
    pub(crate) form: Vec<(String, String)>,
}

impl Taken {
    pub(crate) fn field(&self, name: &str) -> &str {
        self.form
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Twilio {
    taken: Mutex<Vec<Taken>>,
    /// Statuses to answer instead of 201, first to the next request.
    scripted: Mutex<VecDeque<u16>>,
}

/// A loopback server speaking Twilio's Calls and Messages APIs
/// (`POST /2010-04-01/Accounts/{sid}/Calls.json`, `.../Messages.json`):
/// form posts with basic auth, 201 with the resource's `sid`.
pub(crate) struct FakeTwilio {
    pub(crate) base: String,
    state: Arc<Twilio>,
}

impl FakeTwilio {
    pub(crate) async fn start() -> FakeTwilio {
        let state = Arc::new(Twilio::default());
        let app = axum::Router::new()
            .route("/2010-04-01/Accounts/{sid}/{resource}", post(take))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeTwilio { base, state }
    }

    fn taken(&self, resource: &str, to: &str) -> Vec<Taken> {
        self.state
            .taken
            .lock()
            .unwrap()
            .iter()
            .filter(|t| t.resource == resource && t.field("To") == to)
            .cloned()
            .collect()
    }

    pub(crate) fn calls(&self, to: &str) -> Vec<Taken> {
        self.taken("Calls.json", to)
    }

    pub(crate) fn texts(&self, to: &str) -> Vec<Taken> {
        self.taken("Messages.json", to)
    }
}

async fn take(
    State(state): State<Arc<Twilio>>,
    UrlPath((sid, resource)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
    );
    if sid != SID || headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&expected) {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"code": 20003, "message": "Authenticate"}"#,
        )
            .into_response();
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap();
    let mut taken = state.taken.lock().unwrap();
    taken.push(Taken {
        resource: resource.clone(),
        form,
    });
    if let Some(status) = state.scripted.lock().unwrap().pop_front() {
        let body = json!({"code": 20500, "message": "Internal Server Error", "status": status});
        return (StatusCode::from_u16(status).unwrap(), body.to_string()).into_response();
    }
    let prefix = if resource == "Calls.json" { "CA" } else { "SM" };
    let n = taken.len();
    (
        StatusCode::CREATED,
        [("content-type", "application/json")],
        json!({"sid": format!("{prefix}{n:032x}"), "status": "queued"}).to_string(),
    )
        .into_response()
}

/// The daemon: alice on call for payments, asking for a call first and an
/// SMS `sms_after` later; bob the second step, an hour on. Calls go to
/// `calls_base`, texts to `texts_base`.
async fn spawn(calls_base: &str, texts_base: &str, sms_after: &str) -> TestApp {
    spawn_paging(calls_base, texts_base, sms_after, "[rota:primary]", None).await
}

/// [`spawn`], the first step paging `first_step`, on `database` if given
/// (a PostgreSQL URL).
async fn spawn_paging(
    calls_base: &str,
    texts_base: &str,
    sms_after: &str,
    first_step: &str,
    database: Option<&str>,
) -> TestApp {
    let dir = temp_dir("voice");
    write_schedules(&dir);
    std::fs::write(
        dir.join("schedules/people.yaml"),
        format!(
            "people:\n  alice: {{name: Alice Smith, phone: \"{ALICE_PHONE}\", notify: [voice, sms after {sms_after}]}}\n  \
             bob: {{name: Bob, phone: \"{BOB_PHONE}\", notify: [sms]}}\n  carol: {{name: Carol, email: carol@example.com}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("schedules/payments.yaml"),
        format!(
            "team: payments\ntimezone: Europe/London\nhandoff_notices: []\n\
             rotas:\n  primary: {{members: [alice], start: 2026-01-05T09:00, every: 1w}}\n\
             intake_key: {KEY}\nescalation:\n  steps:\n    - notify: {first_step}\n    - {{after: 1h, notify: [user:bob]}}\n"
        ),
    )
    .unwrap();
    let mut s = settings(&dir);
    if let Some(url) = database {
        s.database = url.parse().unwrap();
    }
    s.public_url = Some(PUBLIC_URL.into());
    s.link_secret = Some(SECRET.into());
    s.notify.sms = Some(
        toml::from_str(&format!(
            "base_url = \"{texts_base}\"\naccount_sid = \"{SID}\"\nauth_token = \"{TOKEN}\"\nfrom = \"{OUR_NUMBER}\"\n"
        ))
        .unwrap(),
    );
    s.notify.voice = Some(
        toml::from_str(&format!(
            "base_url = \"{calls_base}\"\naccount_sid = \"{SID}\"\nauth_token = \"{TOKEN}\"\nfrom = \"{OUR_NUMBER}\"\ntimeout_secs = 1\n"
        ))
        .unwrap(),
    );
    TestApp::spawn_with(dir, s, "2026-06-01T12:00:00Z").await
}

/// The path of a call's key webhook (`/v1/voice/{token}`), from its TwiML.
fn gather_path(call: &Taken) -> String {
    let twiml = call.field("Twiml");
    let start = twiml.find(" action=\"").expect("a Gather with an action") + " action=\"".len();
    let url = &twiml[start..start + twiml[start..].find('"').unwrap()];
    url.strip_prefix(PUBLIC_URL).unwrap().replace("&amp;", "&")
}

/// Twilio's parameters of a webhook about a call.
pub(crate) fn call_params(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut p = vec![
        ("AccountSid", SID),
        ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ("From", OUR_NUMBER),
        ("To", ALICE_PHONE),
        ("Direction", "outbound-api"),
        ("ApiVersion", "2010-04-01"),
    ];
    p.extend_from_slice(extra);
    p
}

/// POSTs `params` to `path` of the daemon with `signature` (if any);
/// (status, body).
pub(crate) async fn webhook(
    app: &TestApp,
    path: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
) -> (u16, String) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut r = app
        .client
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(sig) = signature {
        r = r.header("X-Twilio-Signature", sig);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// As Twilio posts it: signed with the auth token over the public URL.
pub(crate) async fn signed(app: &TestApp, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    let sig = twilio_sign(TOKEN, &format!("{PUBLIC_URL}{path}"), params);
    webhook(app, path, params, Some(&sig)).await
}

async fn status_of(app: &TestApp, id: i64) -> String {
    crate::links::alert(app, id).await["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An alert paged, alice called; the call's request.
async fn called(app: &TestApp, twilio: &FakeTwilio) -> (i64, Taken) {
    let id = new_alert(app, "Disk full on db-1").await;
    app.run_engine().await;
    let calls = twilio.calls(ALICE_PHONE);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    (id, calls[0].clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_reads_the_alert_twice_then_offers_the_keys() {
    let twilio = FakeTwilio::start().await;
    // The first step pages bob too: the call says so.
    let app = spawn_paging(&twilio.base, &twilio.base, "5m", "[rota:primary, user:bob]", None).await;
    let (id, call) = called(&app, &twilio).await;
    assert_eq!(call.field("From"), OUR_NUMBER);
    let twiml = call.field("Twiml");
    let said = format!("Critical alert for team payments: Disk full on db-1. Alert {id}. Also paged: Bob.");
    assert_eq!(twiml.matches(&said).count(), 2, "{twiml}");
    assert!(
        twiml.contains("<Gather numDigits=\"1\"")
            && twiml.contains("Press 1 to acknowledge, 2 to escalate now, 3 to repeat."),
        "{twiml}"
    );
    let gather = gather_path(&call);
    assert!(gather.starts_with("/v1/voice/"), "{gather}");
    assert_eq!(call.field("StatusCallback"), format!("{PUBLIC_URL}{gather}/status"));
    assert_eq!(call.field("StatusCallbackEvent"), "completed");
    // No SMS yet: it is 5 minutes behind the call.
    assert!(twilio.texts(ALICE_PHONE).is_empty());
    // Key 3 reads it again, with the keys.
    let (code, again) = signed(&app, &gather, &call_params(&[("Digits", "3")])).await;
    assert_eq!(code, 200, "{again}");
    // (The repeat does not know who else was paged.)
    let without = format!("Critical alert for team payments: Disk full on db-1. Alert {id}.");
    assert_eq!(again.matches(&without).count(), 2, "{again}");
    assert!(again.contains(&format!("action=\"{PUBLIC_URL}{gather}\"")), "{again}");
    assert_eq!(status_of(&app, id).await, "open");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pressing_1_acknowledges_and_the_next_step_never_fires() {
    let twilio = FakeTwilio::start().await;
    let app = spawn(&twilio.base, &twilio.base, "5m").await;
    let (id, call) = called(&app, &twilio).await;
    let (code, said) = signed(&app, &gather_path(&call), &call_params(&[("Digits", "1")])).await;
    assert_eq!(code, 200, "{said}");
    assert!(said.contains(&format!("Alert {id} acknowledged.")), "{said}");
    let alert = crate::links::alert(&app, id).await;
    assert_eq!(alert["status"], "acknowledged");
    assert_eq!(alert["acknowledged_by"], "alice");
    // Past alice's SMS and bob's step: nothing more is sent.
    app.clock.advance(Duration::hours(2));
    app.run_engine().await;
    assert!(twilio.texts(ALICE_PHONE).is_empty());
    assert!(twilio.texts(BOB_PHONE).is_empty());
    assert_eq!(twilio.calls(ALICE_PHONE).len(), 1);
    // The same signed request again (a replay) acts no more.
    let (code, said) = signed(&app, &gather_path(&call), &call_params(&[("Digits", "1")])).await;
    assert_eq!(code, 200);
    assert!(said.contains("already"), "{said}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pressing_2_escalates_at_once() {
    let twilio = FakeTwilio::start().await;
    let app = spawn(&twilio.base, &twilio.base, "5m").await;
    let (id, call) = called(&app, &twilio).await;
    app.run_engine().await;
    assert!(twilio.texts(BOB_PHONE).is_empty(), "bob is an hour away");
    let (code, said) = signed(&app, &gather_path(&call), &call_params(&[("Digits", "2")])).await;
    assert_eq!(code, 200, "{said}");
    assert!(said.contains("Escalating now"), "{said}");
    // At the same instant: bob's step fires.
    app.run_engine().await;
    app.run_engine().await;
    assert_eq!(twilio.texts(BOB_PHONE).len(), 1);
    assert_eq!(status_of(&app, id).await, "open");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_answer_moves_to_the_next_method_at_once() {
    let twilio = FakeTwilio::start().await;
    let app = spawn(&twilio.base, &twilio.base, "30m").await;
    let (id, call) = called(&app, &twilio).await;
    app.run_engine().await;
    assert!(twilio.texts(ALICE_PHONE).is_empty(), "the SMS is 30 minutes behind");
    let status = format!("{}/status", gather_path(&call));
    let (code, body) = signed(&app, &status, &call_params(&[("CallStatus", "no-answer")])).await;
    assert_eq!(code, 204, "{body}");
    // At the same instant, the SMS.
    app.run_engine().await;
    assert_eq!(twilio.texts(ALICE_PHONE).len(), 1);
    assert!(app.timeline_kinds(id).await.contains(&"notify_failed".to_string()));
    // The same report again changes nothing.
    let (code, _) = signed(&app, &status, &call_params(&[("CallStatus", "no-answer")])).await;
    assert_eq!(code, 204);
    app.run_engine().await;
    assert_eq!(twilio.texts(ALICE_PHONE).len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answering_machine_counts_as_not_reached() {
    let twilio = FakeTwilio::start().await;
    let app = spawn(&twilio.base, &twilio.base, "30m").await;
    let (_, call) = called(&app, &twilio).await;
    let status = format!("{}/status", gather_path(&call));
    // Answered by a person: reached, nothing moves.
    let (code, _) = signed(
        &app,
        &status,
        &call_params(&[("CallStatus", "completed"), ("AnsweredBy", "human")]),
    )
    .await;
    assert_eq!(code, 204);
    app.run_engine().await;
    assert!(twilio.texts(ALICE_PHONE).is_empty());
    let (code, _) = signed(
        &app,
        &status,
        &call_params(&[("CallStatus", "completed"), ("AnsweredBy", "machine_end_beep")]),
    )
    .await;
    assert_eq!(code, 204);
    app.run_engine().await;
    assert_eq!(twilio.texts(ALICE_PHONE).len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_call_webhooks_are_refused_and_change_nothing() {
    let twilio = FakeTwilio::start().await;
    let app = spawn(&twilio.base, &twilio.base, "30m").await;
    let (id, call) = called(&app, &twilio).await;
    let gather = gather_path(&call);
    let status = format!("{gather}/status");
    let press = call_params(&[("Digits", "1")]);
    let no_answer = call_params(&[("CallStatus", "no-answer")]);
    for (path, params) in [(&gather, &press), (&status, &no_answer)] {
        let url = format!("{PUBLIC_URL}{path}");
        // No signature.
        assert_eq!(webhook(&app, path, params, None).await.0, 403);
        // Signed with another key.
        let wrong = twilio_sign("not-the-auth-token", &url, params);
        assert_eq!(webhook(&app, path, params, Some(&wrong)).await.0, 403);
        // Signed, then the body changed.
        let right = twilio_sign(TOKEN, &url, params);
        let changed: Vec<(&str, &str)> = params
            .iter()
            .map(|&(n, v)| match n {
                "Digits" => (n, "2"),
                "CallStatus" => (n, "busy"),
                _ => (n, v),
            })
            .collect();
        assert_eq!(webhook(&app, path, &changed, Some(&right)).await.0, 403);
        // Signed for another URL (another call's token).
        let other = format!("{}x", path.trim_end_matches("/status"));
        let sig = twilio_sign(TOKEN, &format!("{PUBLIC_URL}{other}"), params);
        assert_eq!(webhook(&app, &other, params, Some(&sig)).await.0, 403);
    }
    // Signed right but for another account.
    let mut other_account = press.clone();
    other_account[0] = ("AccountSid", "AC99999999999999999999999999999999");
    assert_eq!(signed(&app, &gather, &other_account).await.0, 403);
    // Nothing changed: open, the SMS still 30 minutes away, bob not paged.
    assert_eq!(status_of(&app, id).await, "open");
    app.run_engine().await;
    assert!(twilio.texts(ALICE_PHONE).is_empty());
    assert!(twilio.texts(BOB_PHONE).is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_calls_api_answering_500_is_retried_within_the_bound_then_fails_over() {
    let twilio = FakeTwilio::start().await;
    twilio.state.scripted.lock().unwrap().extend([500; 6]);
    let app = spawn(&twilio.base, &twilio.base, "30m").await;
    new_alert(&app, "Disk full on db-1").await;
    let start = app.clock.now();
    // A minute at a time until the SMS goes (bounded: before its own 30
    // minutes, else there was no fail-over).
    for _ in 0..25 {
        app.run_engine().await;
        if !twilio.texts(ALICE_PHONE).is_empty() {
            break;
        }
        app.clock.advance(Duration::minutes(1));
    }
    let texts = twilio.texts(ALICE_PHONE);
    assert_eq!(texts.len(), 1, "no fail-over to the SMS");
    assert!(app.clock.now() - start < Duration::minutes(30));
    // Six attempts in all (docs/paging.md), each answered 500.
    assert_eq!(twilio.calls(ALICE_PHONE).len(), 6);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_calls_api_that_hangs_is_retried_within_the_bound_then_fails_over() {
    let twilio = FakeTwilio::start().await;
    let silent = crate::notify::silent_server().await;
    let app = spawn(&format!("http://127.0.0.1:{silent}"), &twilio.base, "30m").await;
    new_alert(&app, "Disk full on db-1").await;
    let start = app.clock.now();
    let mut attempts = 0;
    for _ in 0..25 {
        let report = app.run_engine().await;
        attempts += report.attempts.len();
        if !twilio.texts(ALICE_PHONE).is_empty() {
            break;
        }
        app.clock.advance(Duration::minutes(1));
    }
    assert_eq!(twilio.texts(ALICE_PHONE).len(), 1, "no fail-over to the SMS");
    assert!(app.clock.now() - start < Duration::minutes(30));
    // Six call attempts (each cut at timeout_secs), then the SMS.
    assert_eq!(attempts, 7, "six calls and the SMS");
    app.stop().await;
}

/// The engine's statements behind the call's keys and status, on
/// PostgreSQL too (skipped without `ONCALL_TEST_POSTGRES`): key 2 brings
/// bob's step forward, then "no answer" brings alice's SMS forward.
#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_escalate_now_and_no_answer_work_alike() {
    let Some(url) = crate::pg::fresh_database("voice") else {
        return;
    };
    let twilio = FakeTwilio::start().await;
    let app = spawn_paging(&twilio.base, &twilio.base, "30m", "[rota:primary]", Some(&url)).await;
    let (_, call) = called(&app, &twilio).await;
    let gather = gather_path(&call);
    let (code, said) = signed(&app, &gather, &call_params(&[("Digits", "2")])).await;
    assert_eq!(code, 200, "{said}");
    assert!(said.contains("Escalating now"), "{said}");
    app.run_engine().await;
    app.run_engine().await;
    assert_eq!(twilio.texts(BOB_PHONE).len(), 1);
    assert!(twilio.texts(ALICE_PHONE).is_empty());
    let status = format!("{gather}/status");
    let (code, _) = signed(&app, &status, &call_params(&[("CallStatus", "busy")])).await;
    assert_eq!(code, 204);
    app.run_engine().await;
    assert_eq!(twilio.texts(ALICE_PHONE).len(), 1);
    app.stop().await;
}
