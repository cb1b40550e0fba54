//! The web interface (issue 19) over real HTTP against a real daemon with a
//! manual clock: signing in with a person's link, acting from the alerts
//! page as that person, signing out, a session expiring, links that are not
//! the person's, CSRF refusals, "email me my link" through a real SMTP
//! server (aiosmtpd), its rate limit, escaping, bad input.

use std::time::Duration as StdDuration;

use reqwest::redirect::Policy;
use serde_json::json;

use crate::daemon::{KEY, TestApp, settings, temp_dir, write_schedules};
use crate::notify::{Smtp, email_config, free_port};

/// A client that shows redirects instead of following them, and keeps no
/// cookies: each request says which it sends.
fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

pub(crate) struct Answer {
    pub(crate) code: u16,
    pub(crate) location: String,
    set_cookie: String,
    pub(crate) body: String,
}

async fn answer(r: reqwest::Response) -> Answer {
    let h = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (location, set_cookie) = (h("location"), h("set-cookie"));
    Answer {
        code: r.status().as_u16(),
        location,
        set_cookie,
        body: r.text().await.unwrap(),
    }
}

/// GET `path` with the session cookie `session` (if any).
pub(crate) async fn get(app: &TestApp, path: &str, session: Option<&str>) -> Answer {
    let mut r = client().get(format!("{}{path}", app.base));
    if let Some(s) = session {
        r = r.header("cookie", format!("oncall_session={s}"));
    }
    answer(r.send().await.unwrap()).await
}

/// POST the form `fields` to `path` with the session cookie and `origin`
/// (`None`: no Origin header).
pub(crate) async fn post(
    app: &TestApp,
    path: &str,
    session: Option<&str>,
    origin: Option<&str>,
    fields: &[(&str, &str)],
) -> Answer {
    let mut r = client()
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(fields).unwrap());
    if let Some(s) = session {
        r = r.header("cookie", format!("oncall_session={s}"));
    }
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    answer(r.send().await.unwrap()).await
}

/// The sign-in link's person and token (the status link's).
async fn link_of(app: &TestApp, person: &str) -> String {
    let (code, link) = app.api_get(&format!("/v1/calendar?person={person}")).await;
    assert_eq!(code, 200, "{link}");
    let status = link["status_url"].as_str().unwrap();
    let token = status.split("token=").nth(1).unwrap().split('&').next().unwrap();
    token.to_string()
}

/// Signs `person` in with their link; the session cookie's value.
pub(crate) async fn sign_in(app: &TestApp, person: &str) -> String {
    let token = link_of(app, person).await;
    let shown = get(app, &format!("/signin?person={person}&token={token}"), None).await;
    assert_eq!(shown.code, 200, "{}", shown.body);
    assert!(shown.body.contains("<button>Sign in as"), "{}", shown.body);
    let a = post(
        app,
        "/signin",
        None,
        Some(&app.base),
        &[("person", person), ("token", &token)],
    )
    .await;
    assert_eq!(a.code, 303, "{}", a.body);
    assert_eq!(a.location, "/alerts");
    a.set_cookie
        .strip_prefix("oncall_session=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

pub(crate) fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .expect("a form with the CSRF token")
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

async fn alert_json(app: &TestApp, id: i64) -> serde_json::Value {
    let (code, detail) = app.api_get(&format!("/v1/alerts/{id}")).await;
    assert_eq!(code, 200, "{detail}");
    detail
}

async fn open_alert(app: &TestApp, summary: &str, severity: &str, key: &str) -> i64 {
    let (code, body) = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": summary, "severity": severity, "dedup_key": key}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    body["alert_id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn issue19_sign_in_act_as_the_person_sign_out_and_expiry() {
    let app = TestApp::spawn().await; // 2026-06-01T12:00Z
    let minor = open_alert(&app, "minor one", "minor", "m").await;
    let critical = open_alert(&app, "<b>crit</b> & \"co\"", "critical", "c").await;
    let major = open_alert(&app, "major one", "major", "j").await;
    let older_critical = {
        // Opened first? No: later, so it sorts after `critical`.
        open_alert(&app, "second critical", "critical", "c2").await
    };

    // Not signed in: the sign-in page, and pages send there.
    let home = get(&app, "/", None).await;
    assert_eq!(home.code, 200);
    assert!(home.body.contains("Email me my link"), "{}", home.body);
    let a = get(&app, "/alerts", None).await;
    assert_eq!((a.code, a.location.as_str()), (303, "/?next=/alerts"));
    assert_eq!(get(&app, "/wallboard", None).await.code, 303);

    // Another person's link, a forged one, none at all: nobody signed in.
    let alices = link_of(&app, "alice").await;
    for query in [
        format!("person=bob&token={alices}"),
        format!("person=alice&token={}x", &alices[..alices.len() - 1]),
        "person=alice&token=".to_string(),
        format!("person=nobody&token={alices}"),
    ] {
        let shown = get(&app, &format!("/signin?{query}"), None).await;
        assert_eq!(shown.code, 403, "{query}: {}", shown.body);
    }
    let forged = post(
        &app,
        "/signin",
        None,
        Some(&app.base),
        &[("person", "bob"), ("token", &alices)],
    )
    .await;
    assert_eq!(forged.code, 403);
    assert!(forged.set_cookie.is_empty());
    // The right link posted from another site signs nobody in.
    let elsewhere = post(
        &app,
        "/signin",
        None,
        Some("https://evil.example"),
        &[("person", "alice"), ("token", &alices)],
    )
    .await;
    assert_eq!(elsewhere.code, 403);
    assert!(elsewhere.set_cookie.is_empty());

    // Signed in: the cookie's attributes, then the alerts page.
    let token = link_of(&app, "alice").await;
    let a = post(
        &app,
        "/signin",
        None,
        Some(&app.base),
        &[("person", "alice"), ("token", &token)],
    )
    .await;
    assert_eq!(a.code, 303);
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(a.set_cookie.contains(attribute), "{attribute}: {}", a.set_cookie);
    }
    assert!(!a.set_cookie.contains("Secure"), "plain http: {}", a.set_cookie);
    let session = sign_in(&app, "alice").await;
    let page = get(&app, "/alerts", Some(&session)).await;
    assert_eq!(page.code, 200, "{}", page.body);
    // Most severe first, then oldest.
    let order: Vec<i64> = page
        .body
        .split("id=\"alert-")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(order, [critical, older_critical, major, minor]);
    // Text from an alert is text.
    assert!(!page.body.contains("<b>crit"), "{}", page.body);
    assert!(
        page.body.contains("&lt;b&gt;crit&lt;/b&gt; &amp; &quot;co&quot;"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Alice"));
    let csrf = csrf_of(&page.body);

    // Acknowledge as alice: the alert and its timeline say so.
    let base = app.base.clone();
    let ack = format!("/alerts/{critical}/ack");
    let a = post(&app, &ack, Some(&session), Some(&base), &[("csrf", &csrf)]).await;
    assert_eq!(
        (a.code, a.location.as_str()),
        (303, format!("/alerts#alert-{critical}").as_str()),
        "{}",
        a.body
    );
    let detail = alert_json(&app, critical).await;
    assert_eq!(detail["alert"]["status"], "acknowledged");
    assert_eq!(detail["alert"]["acknowledged_by"], "alice");
    let acked = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "acknowledged")
        .unwrap();
    assert_eq!(acked["detail"]["by"], "alice", "{detail}");

    // CSRF: from another site, without the token, with another token,
    // without Origin or Referer: 403, and the alert stays as it was.
    let resolve = format!("/alerts/{critical}/resolve");
    for (origin, fields) in [
        (Some("https://evil.example"), vec![("csrf", csrf.as_str())]),
        (Some("null"), vec![("csrf", csrf.as_str())]),
        (Some(base.as_str()), vec![]),
        (Some(base.as_str()), vec![("csrf", "AAAA")]),
        (None, vec![("csrf", csrf.as_str())]),
    ] {
        let a = post(&app, &resolve, Some(&session), origin, &fields).await;
        assert_eq!(a.code, 403, "{origin:?} {fields:?}: {}", a.body);
    }
    assert_eq!(alert_json(&app, critical).await["alert"]["status"], "acknowledged");
    // A Referer of this site stands in for a missing Origin.
    let r = client()
        .post(format!("{base}/alerts/{major}/lead"))
        .header("cookie", format!("oncall_session={session}"))
        .header("referer", format!("{base}/alerts"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("csrf", csrf.as_str()), ("lead", "bob")]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let detail = alert_json(&app, major).await;
    assert_eq!(detail["alert"]["lead"], "bob");
    let lead = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "lead")
        .unwrap();
    assert_eq!(lead["detail"]["by"], "alice", "{detail}");

    // Bad input: a clear page, never a 500, nothing changed.
    for (path, fields, code) in [
        ("/alerts/abc/ack", vec![("csrf", csrf.as_str())], 404),
        ("/alerts/99999/resolve", vec![("csrf", csrf.as_str())], 404),
        ("/alerts/1/explode", vec![("csrf", csrf.as_str())], 404),
    ] {
        let a = post(&app, path, Some(&session), Some(&base), &fields).await;
        assert_eq!(a.code, code, "{path}: {}", a.body);
    }
    let a = post(
        &app,
        &format!("/alerts/{minor}/lead"),
        Some(&session),
        Some(&base),
        &[("csrf", &csrf), ("lead", "<nobody>")],
    )
    .await;
    assert_eq!(a.code, 422);
    assert!(
        a.body.contains("&lt;nobody&gt;") && !a.body.contains("<nobody>"),
        "{}",
        a.body
    );
    assert_eq!(get(&app, "/signin?person=%ff&token=%00", None).await.code, 403);
    let a = post(&app, "/signin", None, Some(&base), &[("nothing", "")]).await;
    assert_eq!(a.code, 400);
    assert_eq!(alert_json(&app, minor).await["alert"]["status"], "open");

    // The wallboard.
    let board = get(&app, "/wallboard", Some(&session)).await;
    assert_eq!(board.code, 200);
    assert!(
        board
            .body
            .contains("<td>payments</td><td>primary</td><td class=\"now\">Bob</td>"),
        "{}",
        board.body
    );

    // Signing out ends the session on the server: the cookie no longer works.
    let out = post(&app, "/signout", Some(&session), Some(&base), &[("csrf", &csrf)]).await;
    assert_eq!((out.code, out.location.as_str()), (303, "/"));
    assert!(out.set_cookie.contains("Max-Age=0"), "{}", out.set_cookie);
    assert_eq!(get(&app, "/alerts", Some(&session)).await.code, 303);
    let a = post(&app, &resolve, Some(&session), Some(&base), &[("csrf", &csrf)]).await;
    assert_eq!(a.code, 303);
    assert!(a.location.starts_with("/?next="), "{}", a.location);
    assert_eq!(alert_json(&app, critical).await["alert"]["status"], "acknowledged");

    // A session lasts session_lifetime (12 hours), to the second.
    let session = sign_in(&app, "bob").await;
    app.clock
        .advance(chrono::Duration::hours(12) - chrono::Duration::seconds(1));
    assert_eq!(get(&app, "/alerts", Some(&session)).await.code, 200);
    app.clock.advance(chrono::Duration::seconds(1));
    let a = get(&app, "/alerts", Some(&session)).await;
    assert_eq!(a.code, 303, "expired: {}", a.body);
    app.stop().await;
}

/// "Email me my link" through a real SMTP server: the person gets their
/// link; an unknown person gets the same answer and no email; the answers
/// are limited per client (429) and the emails per person (silently).
#[tokio::test(flavor = "multi_thread")]
async fn issue19_email_me_my_link_says_the_same_for_anyone_and_is_limited() {
    let dir = temp_dir("web-email");
    write_schedules(&dir);
    let smtp = Smtp::start(&dir, free_port(), &[]).await;
    let file: oncall::settings::File = toml::from_str(&format!(
        "public_url = \"https://oncall.example.com\"\n{}",
        email_config(smtp.port, "")
    ))
    .unwrap();
    let base = settings(&dir);
    let mut s = oncall::settings::Settings::resolve(
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
    let app = TestApp::spawn_with(dir, s, "2026-06-01T12:00:00Z").await;
    let origin = app.base.clone();

    let known = post(
        &app,
        "/signin/email",
        None,
        Some(&origin),
        &[("who", "alice@example.com")],
    )
    .await;
    let unknown = post(
        &app,
        "/signin/email",
        None,
        Some(&origin),
        &[("who", "mallory@example.com")],
    )
    .await;
    let nobody = post(&app, "/signin/email", None, Some(&origin), &[("who", "nobody")]).await;
    assert_eq!(known.code, 200, "{}", known.body);
    assert_eq!((known.code, &known.body), (unknown.code, &unknown.body));
    assert_eq!((known.code, &known.body), (nobody.code, &nobody.body));

    // The email arrives (sent in the background: polled for, generously).
    let deadline = std::time::Instant::now() + StdDuration::from_secs(60);
    while smtp.messages().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no email:\n{}", smtp.log());
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let raw = smtp.messages().remove(0);
    let mail = mailparse::parse_mail(&raw).unwrap();
    let text = mail.get_body().unwrap();
    assert!(String::from_utf8_lossy(&raw).contains("To: alice@example.com"));
    let token = link_of(&app, "alice").await;
    assert!(
        text.contains(&format!(
            "https://oncall.example.com/signin?person=alice&token={token}\r\n"
        )),
        "{text}"
    );

    // Five a client at once (three used), then 429 for anyone named.
    for _ in 0..2 {
        assert_eq!(
            post(&app, "/signin/email", None, Some(&origin), &[("who", "bob")])
                .await
                .code,
            200
        );
    }
    for who in ["bob", "mallory"] {
        let a = post(&app, "/signin/email", None, Some(&origin), &[("who", who)]).await;
        assert_eq!(a.code, 429, "{who}");
    }
    // A minute later, one more.
    app.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(
        post(&app, "/signin/email", None, Some(&origin), &[("who", "bob")])
            .await
            .code,
        200
    );
    // From another site: refused.
    assert_eq!(
        post(
            &app,
            "/signin/email",
            None,
            Some("https://evil.example"),
            &[("who", "bob")]
        )
        .await
        .code,
        403
    );
    // Bob's fourth a minute later is answered alike, but not sent: three
    // emails a person at once. Alice's second is sent.
    app.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(
        post(&app, "/signin/email", None, Some(&origin), &[("who", "bob")])
            .await
            .body,
        known.body
    );
    app.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(
        post(&app, "/signin/email", None, Some(&origin), &[("who", "alice")])
            .await
            .code,
        200
    );
    let deadline = std::time::Instant::now() + StdDuration::from_secs(60);
    let to = |who: &str| {
        smtp.messages()
            .iter()
            .filter(|m| String::from_utf8_lossy(m).contains(&format!("To: {who}@example.com")))
            .count()
    };
    while to("alice") < 2 || to("bob") < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} emails:\n{}",
            smtp.messages().len(),
            smtp.log()
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    app.stop().await;
    assert_eq!((to("alice"), to("bob")), (2, 3), "{}", smtp.log());
}
