//! Phone numbers proven (issue 20), against a real daemon with a manual
//! clock: codes texted through a loopback server speaking Twilio's
//! Messages API, confirmed on `/me` (signed in, with the CSRF token) or by
//! an SMS reply signed as Twilio signs it; three wrong codes lock for an
//! hour while pages still go out. On SQLite, and on PostgreSQL where
//! `ONCALL_TEST_POSTGRES` is set.

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post as on_post;
use chrono::Duration;
use oncall::clock::Clock as _;
use oncall::phone_verify::{Offered, Start};
use serde_json::json;
use tokio::net::TcpListener;

use crate::daemon::{KEY, TestApp, temp_dir, write_schedules};
use crate::links::{
    ALICE_PHONE, PUBLIC_URL, SECRET, SMS_AUTH_TOKEN, linked_settings, sms, sms_params, text, twilio_sign,
};
use crate::web::{csrf_of, get, post, sign_in};

const BOB_PHONE: &str = "+447700900002";
const ALICE_NEW_PHONE: &str = "+447700900003";

/// The texts the fake Twilio took: (To, Body).
#[derive(Clone, Default)]
struct Texts(Arc<Mutex<Vec<(String, String)>>>);

impl Texts {
    fn to(&self, number: &str) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(to, _)| to == number)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// Waits (bounded) until `number` has had `n` texts; their bodies.
    async fn wait_for(&self, number: &str, n: usize) -> Vec<String> {
        for _ in 0..600 {
            let got = self.to(number);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        panic!("{number} did not get {n} texts: {:?}", self.to(number));
    }
}

async fn take(State(texts): State<Texts>, body: Bytes) -> Response {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap();
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    let mut taken = texts.0.lock().unwrap();
    taken.push((field("To"), field("Body")));
    let sid = format!("SM{:032x}", taken.len());
    (
        StatusCode::CREATED,
        [("content-type", "application/json")],
        json!({"sid": sid, "status": "queued"}).to_string(),
    )
        .into_response()
}

/// A loopback server speaking Twilio's Messages API
/// (`POST /2010-04-01/Accounts/{sid}/Messages.json`, 201 with a `sid`).
async fn fake_twilio() -> (String, Texts) {
    let texts = Texts::default();
    let app = axum::Router::new()
        .route("/2010-04-01/Accounts/{sid}/Messages.json", on_post(take))
        .with_state(texts.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, texts)
}

fn people(alice_phone: &str) -> String {
    format!(
        "people:\n  alice: {{name: Alice Smith, phone: \"{alice_phone}\", notify: [sms]}}\n  \
         bob: {{name: Bob, phone: \"{BOB_PHONE}\", notify: [sms]}}\n  carol: {{name: Carol, email: carol@example.com}}\n"
    )
}

/// The daemon with phone verification on, its texts going to a fake
/// Twilio; payments pages alice by SMS. On `database` if given.
async fn spawn(database: Option<&str>) -> (TestApp, Texts) {
    let (base, texts) = fake_twilio().await;
    (spawn_on(&base, database, false).await, texts)
}

/// [`spawn`], texting through the fake Twilio at `base`; with `lead`, the
/// daemon competes for the engine's lease (its engine loop runs).
async fn spawn_on(base: &str, database: Option<&str>, lead: bool) -> TestApp {
    let dir = temp_dir("phone-verify");
    write_schedules(&dir);
    let mut s = linked_settings(&dir, Some(SECRET));
    std::fs::write(dir.join("schedules/people.yaml"), people(ALICE_PHONE)).unwrap();
    std::fs::write(
        dir.join("schedules/payments.yaml"),
        format!(
            "team: payments\ntimezone: Europe/London\nhandoff_notices: []\n\
             rotas:\n  primary: {{members: [alice], start: 2026-01-05T09:00, every: 1w}}\n\
             intake_key: {KEY}\nescalation:\n  - notify: [user:alice]\n"
        ),
    )
    .unwrap();
    s.notify.sms.as_mut().unwrap().base_url = Some(base.to_string());
    s.verify_phones = true;
    s.run_engine = lead;
    if let Some(url) = database {
        s.database = url.parse().unwrap();
    }
    TestApp::spawn_with(dir, s, "2026-06-01T12:00:00Z").await
}

/// The code in a verification text.
fn code_in(body: &str) -> String {
    let at = body.find("VERIFY ").unwrap_or_else(|| panic!("no code in {body:?}")) + "VERIFY ".len();
    body[at..at + 6].to_string()
}

/// One run of the job, as the daemon runs it at start and after reloads;
/// what it did for alice's number `phone`.
async fn step(app: &TestApp, phone: &str) -> Offered {
    let done = oncall::jobs::send_phone_codes(app.state(), app.clock.now())
        .await
        .unwrap()
        .expect("the gate is open");
    done.into_iter()
        .find(|(person, number, _)| person == "alice" && number == phone)
        .map(|(_, _, offered)| offered)
        .unwrap_or_else(|| panic!("alice's {phone} was not looked at"))
}

async fn reload(app: &TestApp) {
    app.state().in_force.reload(&app.dir.join("schedules")).await.unwrap();
}

async fn verified_at(app: &TestApp, phone: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    app.state()
        .store
        .phone_verified_at("alice".into(), phone.into())
        .await
        .unwrap()
}

/// A new number gets one code; the same number on reload, none; a changed
/// number, a code of its own; changed back within the day, none (its code
/// still counts); after the code expires, the next run sends another.
async fn codes_go_to_new_numbers_once(database: Option<&str>) {
    let (app, texts) = spawn(database).await;
    // At start, by the daemon's own job.
    let sent = texts.wait_for(ALICE_PHONE, 1).await;
    let code = code_in(&sent[0]);
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    assert!(
        sent[0].contains("Alice Smith") && sent[0].contains(&format!("{PUBLIC_URL}/me")),
        "{}",
        sent[0]
    );
    texts.wait_for(BOB_PHONE, 1).await;
    assert!(matches!(
        step(&app, ALICE_PHONE).await,
        Offered::Not(Start::Pending { .. })
    ));
    reload(&app).await;
    assert!(matches!(
        step(&app, ALICE_PHONE).await,
        Offered::Not(Start::Pending { .. })
    ));
    assert_eq!(texts.to(ALICE_PHONE).len(), 1);

    // A new number: a code of its own, at once.
    std::fs::write(app.dir.join("schedules/people.yaml"), people(ALICE_NEW_PHONE)).unwrap();
    reload(&app).await;
    // Sent by this run, or by the daemon's own after the reload.
    let offered = step(&app, ALICE_NEW_PHONE).await;
    assert!(
        matches!(offered, Offered::Sent | Offered::Not(Start::Pending { .. })),
        "{offered:?}"
    );
    let new = texts.wait_for(ALICE_NEW_PHONE, 1).await;
    assert!(matches!(
        step(&app, ALICE_NEW_PHONE).await,
        Offered::Not(Start::Pending { .. })
    ));
    assert_ne!(code_in(&new[0]), code, "two numbers, one code");
    // And back: the first code still counts, nothing is sent.
    std::fs::write(app.dir.join("schedules/people.yaml"), people(ALICE_PHONE)).unwrap();
    reload(&app).await;
    assert!(matches!(
        step(&app, ALICE_PHONE).await,
        Offered::Not(Start::Pending { .. })
    ));
    assert_eq!(texts.to(ALICE_PHONE).len(), 1);
    assert_eq!(texts.to(ALICE_NEW_PHONE).len(), 1);

    // A day on, the code has expired: the next run sends a new one.
    app.clock.advance(Duration::hours(24));
    assert_eq!(step(&app, ALICE_PHONE).await, Offered::Sent);
    let again = texts.wait_for(ALICE_PHONE, 2).await;
    // The old code no longer counts; the new one does.
    let (code, new_code) = (code, code_in(&again[1]));
    if code != new_code {
        let said = text(&app, ALICE_PHONE, &format!("VERIFY {code}")).await;
        assert!(said.contains("wrong"), "{said}");
    }
    let said = text(&app, ALICE_PHONE, &format!("verify {new_code}")).await;
    assert!(said.contains("verified"), "{said}");
    assert_eq!(verified_at(&app, ALICE_PHONE).await, Some(app.clock.now()));
    // Verified: no more codes, whatever runs.
    app.clock.advance(Duration::hours(48));
    reload(&app).await;
    assert!(matches!(
        step(&app, ALICE_PHONE).await,
        Offered::Not(Start::Verified(_))
    ));
    assert_eq!(texts.to(ALICE_PHONE).len(), 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_number_gets_one_code_a_reload_none_a_changed_number_its_own() {
    codes_go_to_new_numbers_once(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_a_new_number_gets_one_code_a_reload_none_a_changed_number_its_own() {
    let Some(url) = crate::pg::fresh_database("phone_codes") else {
        return;
    };
    codes_go_to_new_numbers_once(Some(&url)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_right_code_on_me_verifies() {
    let (app, texts) = spawn(None).await;
    let code = code_in(&texts.wait_for(ALICE_PHONE, 1).await[0]);
    let session = sign_in(&app, "alice").await;
    let page = get(&app, "/me", Some(&session)).await;
    assert_eq!(page.code, 200);
    assert!(
        page.body
            .contains(&format!("{ALICE_PHONE}: <strong>unverified</strong>"))
            && page.body.contains("unproven"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Verify your phone"), "{}", page.body);
    let csrf = csrf_of(&page.body);
    // Not a code: refused, not counted.
    let a = post(
        &app,
        "/me/phone",
        Some(&session),
        Some(&app.base),
        &[("csrf", &csrf), ("code", "12345")],
    )
    .await;
    assert_eq!(a.code, 400, "{}", a.body);
    // Without the CSRF token: refused, nothing changes.
    let a = post(&app, "/me/phone", Some(&session), Some(&app.base), &[("code", &code)]).await;
    assert_eq!(a.code, 403, "{}", a.body);
    assert_eq!(verified_at(&app, ALICE_PHONE).await, None);

    app.clock.advance(Duration::minutes(5));
    let a = post(
        &app,
        "/me/phone",
        Some(&session),
        Some(&app.base),
        &[("csrf", &csrf), ("code", &code)],
    )
    .await;
    assert_eq!((a.code, a.location.as_str()), (303, "/me?phone=verified"), "{}", a.body);
    assert_eq!(verified_at(&app, ALICE_PHONE).await, Some(app.clock.now()));
    let page = get(&app, "/me?phone=verified", Some(&session)).await;
    assert!(
        page.body.contains(&format!(
            "{ALICE_PHONE}: <strong>verified</strong> since Mon 1 Jun 2026 12:05"
        )),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<span class=\"unproven\">"), "{}", page.body);
    // A verified number is a confirmed SMS method: on /me's contact methods
    // and in the proofs the API (and `oncall check`) reads.
    assert!(
        page.body.contains(&format!(
            "<tr><td>sms</td><td>{ALICE_PHONE}</td><td>2026-06-01T12:05:00Z</td></tr>"
        )),
        "{}",
        page.body
    );
    let (code, proven) = app.api_get("/v1/proven").await;
    assert_eq!(code, 200, "{proven}");
    assert_eq!(
        proven["people"]["alice"]["sms"]["confirmed_at"], "2026-06-01T12:05:00Z",
        "{proven}"
    );
    assert_eq!(proven["people"]["alice"]["sms"]["proven"], true, "{proven}");
    assert_eq!(proven["people"]["bob"]["sms"]["proven"], false, "{proven}");
    // Bob's number is not alice's to verify.
    assert_eq!(
        app.state()
            .store
            .phone_verified_at("bob".into(), BOB_PHONE.into())
            .await
            .unwrap(),
        None
    );
    app.stop().await;
}

/// A number never verified by code but whose test SMS was confirmed is
/// proven: "My phone" on /me says so, as the contact methods table beside
/// it does, instead of calling it unproven.
#[tokio::test(flavor = "multi_thread")]
async fn a_number_proven_by_a_test_sms_is_not_called_unproven_on_me() {
    let (app, texts) = spawn(None).await;
    texts.wait_for(ALICE_PHONE, 1).await;
    let session = sign_in(&app, "alice").await;
    let unproven =
        format!("{ALICE_PHONE}: <strong>unverified</strong> <span class=\"unproven\">(unproven: pages still go to it");
    let page = get(&app, "/me", Some(&session)).await;
    assert!(page.body.contains(&unproven), "{}", page.body);

    let (code, started) = app
        .api_post("/v1/people/alice/test-page", json!({"method": "sms"}))
        .await;
    assert_eq!(code, 202, "{started}");
    app.run_engine().await;
    let got = texts.wait_for(ALICE_PHONE, 2).await;
    let start = got[1]
        .find(&format!("{PUBLIC_URL}/v1/proofs/"))
        .unwrap_or_else(|| panic!("no confirm link in {got:?}"))
        + PUBLIC_URL.len();
    let end = got[1][start..]
        .find(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == ',')
        .map_or(got[1].len(), |e| start + e);
    app.clock.advance(Duration::minutes(2));
    let confirmed = app
        .client
        .post(format!("{}{}", app.base, &got[1][start..end]))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    assert!(confirmed.text().await.unwrap().contains("is confirmed"));

    let page = get(&app, "/me", Some(&session)).await;
    assert!(
        page.body.contains(&format!(
            "{ALICE_PHONE}: <strong>unverified</strong> (no code entered), but proven: a test SMS to it \
             was confirmed at Mon 1 Jun 2026 12:02"
        )),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&unproven), "{}", page.body);
    // Still unverified: the forms to verify it stay.
    assert!(page.body.contains("Verify your phone"), "{}", page.body);
    assert_eq!(verified_at(&app, ALICE_PHONE).await, None);
    // Past PROVEN_FOR, unproven again.
    app.clock.advance(Duration::days(91));
    let session = sign_in(&app, "alice").await;
    let page = get(&app, "/me", Some(&session)).await;
    assert!(page.body.contains(&unproven), "{}", page.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_right_code_by_sms_reply_verifies() {
    let (app, texts) = spawn(None).await;
    let code = code_in(&texts.wait_for(ALICE_PHONE, 1).await[0]);
    // From another number, the code does nothing for alice.
    let said = text(&app, BOB_PHONE, &format!("VERIFY {code}")).await;
    assert!(!said.contains("Thank you"), "{said}");
    assert_eq!(verified_at(&app, ALICE_PHONE).await, None);
    let said = text(&app, ALICE_PHONE, "VERIFY").await;
    assert!(said.contains("VERIFY 123456"), "{said}");
    let said = text(&app, ALICE_PHONE, &format!("  Verify {code} ")).await;
    assert_eq!(said, "Thank you: this number is verified for your oncall pages.");
    assert_eq!(verified_at(&app, ALICE_PHONE).await, Some(app.clock.now()));
    let said = text(&app, ALICE_PHONE, &format!("VERIFY {code}")).await;
    assert_eq!(said, "This number is verified already.");
    app.stop().await;
}

/// Two wrong codes on `/me`, a third by SMS: locked for an hour, the right
/// code refused inside it (by either), taken after it; pages to the number
/// go out all the while.
async fn three_wrong_codes_lock_for_an_hour(database: Option<&str>) {
    let (app, texts) = spawn(database).await;
    let code = code_in(&texts.wait_for(ALICE_PHONE, 1).await[0]);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let session = sign_in(&app, "alice").await;
    let csrf = csrf_of(&get(&app, "/me", Some(&session)).await.body);
    let enter = |code: String| {
        let (app, session, csrf) = (&app, session.clone(), csrf.clone());
        async move {
            post(
                app,
                "/me/phone",
                Some(&session),
                Some(&app.base),
                &[("csrf", csrf.as_str()), ("code", code.as_str())],
            )
            .await
        }
    };
    let a = enter(wrong.into()).await;
    assert_eq!(a.code, 400);
    assert!(a.body.contains("2 tries left"), "{}", a.body);
    let a = enter(wrong.into()).await;
    assert!(a.body.contains("1 try left"), "{}", a.body);
    let said = text(&app, ALICE_PHONE, &format!("VERIFY {wrong}")).await;
    assert!(said.contains("locked until 2026-06-01 13:00 UTC"), "{said}");

    // The right code, inside the hour: refused, by the page and by SMS.
    app.clock.advance(Duration::minutes(59));
    let a = enter(code.clone()).await;
    assert_eq!(a.code, 429, "{}", a.body);
    assert!(a.body.contains("locked until Mon 1 Jun 2026 13:00"), "{}", a.body);
    let said = text(&app, ALICE_PHONE, &format!("VERIFY {code}")).await;
    assert!(said.contains("locked until"), "{said}");
    assert_eq!(verified_at(&app, ALICE_PHONE).await, None);
    let page = get(&app, "/me", Some(&session)).await;
    assert!(page.body.contains("Verification is locked until"), "{}", page.body);

    // Pages still go to the number.
    let id = crate::links::new_alert(&app, "Disk full on db-1").await;
    app.run_engine().await;
    let got = texts.to(ALICE_PHONE);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[1].contains("Disk full on db-1") && got[1].contains(&format!("ACK {id}")),
        "{got:?}"
    );

    // Past the hour, the same code is taken.
    app.clock.advance(Duration::minutes(1));
    let a = enter(code.clone()).await;
    assert_eq!((a.code, a.location.as_str()), (303, "/me?phone=verified"), "{}", a.body);
    assert_eq!(verified_at(&app, ALICE_PHONE).await, Some(app.clock.now()));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn three_wrong_codes_lock_verification_for_an_hour_and_pages_still_go_out() {
    three_wrong_codes_lock_for_an_hour(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_three_wrong_codes_lock_verification_for_an_hour() {
    let Some(url) = crate::pg::fresh_database("phone_lock") else {
        return;
    };
    three_wrong_codes_lock_for_an_hour(Some(&url)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_code_on_request_at_most_hourly() {
    let (app, texts) = spawn(None).await;
    let first = code_in(&texts.wait_for(ALICE_PHONE, 1).await[0]);
    let session = sign_in(&app, "alice").await;
    let csrf = csrf_of(&get(&app, "/me", Some(&session)).await.body);
    let fields = [("csrf", csrf.as_str())];
    let ask = || post(&app, "/me/phone/code", Some(&session), Some(&app.base), &fields);
    let a = ask().await;
    assert_eq!(a.code, 429, "{}", a.body);
    assert_eq!(texts.to(ALICE_PHONE).len(), 1);
    app.clock.advance(Duration::hours(1));
    let a = ask().await;
    assert_eq!((a.code, a.location.as_str()), (303, "/me?phone=sent"), "{}", a.body);
    let sent = texts.wait_for(ALICE_PHONE, 2).await;
    let second = code_in(&sent[1]);
    // The new code replaces the old.
    if first != second {
        let said = text(&app, ALICE_PHONE, &format!("VERIFY {first}")).await;
        assert!(said.contains("wrong"), "{said}");
    }
    let said = text(&app, ALICE_PHONE, &format!("VERIFY {second}")).await;
    assert!(said.contains("verified"), "{said}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_sms_reply_changes_nothing() {
    let (app, texts) = spawn(None).await;
    let code = code_in(&texts.wait_for(ALICE_PHONE, 1).await[0]);
    let body = format!("VERIFY {code}");
    let params = sms_params(ALICE_PHONE, &body);
    let url = format!("{PUBLIC_URL}/v1/sms/inbound");
    // No signature, another key's, and the right one over another body.
    assert_eq!(sms(&app, &params, None).await.0, 403);
    let other_key = twilio_sign("not-the-auth-token", &url, &params);
    assert_eq!(sms(&app, &params, Some(&other_key)).await.0, 403);
    let wrong_body = format!("VERIFY {}", if code == "000000" { "000001" } else { "000000" });
    let signed_wrong = sms_params(ALICE_PHONE, &wrong_body);
    let signature = twilio_sign(SMS_AUTH_TOKEN, &url, &signed_wrong);
    let mut changed = signed_wrong.clone();
    for p in &mut changed {
        if p.0 == "Body" {
            p.1 = body.as_str();
        }
    }
    assert_eq!(sms(&app, &changed, Some(&signature)).await.0, 403);
    // Nothing verified, and nothing counted: three wrong codes still to go.
    assert_eq!(verified_at(&app, ALICE_PHONE).await, None);
    let row = app
        .state()
        .store
        .phone_verification("alice".into(), ALICE_PHONE.into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.wrong, row.locked_until), (0, None));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_codes_to_send_me_shows_the_number_unproven_without_the_forms() {
    let dir = temp_dir("phone-verify-off");
    write_schedules(&dir);
    // SMS settings, but verification off (as `verify_phones` is in tests).
    let s = linked_settings(&dir, Some(SECRET));
    assert!(!s.verify_phones);
    let app = TestApp::spawn_with(dir, s, "2026-06-01T12:00:00Z").await;
    let session = sign_in(&app, "alice").await;
    let page = get(&app, "/me", Some(&session)).await;
    assert!(
        page.body
            .contains(&format!("{ALICE_PHONE}: <strong>unverified</strong>"))
            && page.body.contains("unproven"),
        "{}",
        page.body
    );
    assert!(page.body.contains("texts no verification codes"), "{}", page.body);
    assert!(!page.body.contains("action=\"/me/phone"), "{}", page.body);
    app.stop().await;
}

/// Two daemons on one PostgreSQL database: the one holding the engine's
/// lease texts the code; the other's runs send nothing.
#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_only_the_leading_daemon_texts_codes() {
    let Some(url) = crate::pg::fresh_database("phone_leader") else {
        return;
    };
    let (base, texts) = fake_twilio().await;
    let leader = spawn_on(&base, Some(&url), true).await;
    texts.wait_for(ALICE_PHONE, 1).await;
    assert!(leader.state().store.leading());
    let follower = spawn_on(&base, Some(&url), true).await;
    assert!(!follower.state().store.leading(), "two leaders");
    // A day on the code has expired: the follower's run still sends none.
    follower.clock.advance(Duration::hours(25));
    let run = oncall::jobs::send_phone_codes(follower.state(), follower.clock.now())
        .await
        .unwrap();
    assert!(run.is_none(), "{run:?}");
    assert_eq!(texts.to(ALICE_PHONE).len(), 1);
    follower.stop().await;
    leader.stop().await;
}
