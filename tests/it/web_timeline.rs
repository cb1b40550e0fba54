//! The timeline and Me pages on a real daemon, in Debian's Chromium driven
//! by puppeteer-core (tests/web/check.mjs, installed by scripts/test into
//! target/web-tools): a team of three layers, an override (one from the
//! files, one made at run time), a shadow and gaps over London's clock
//! change (2026-03-29); every shift drawn is one `oncall shifts` prints for
//! the window, and the gap and shadow are drawn with a size; axe-core finds
//! no serious or critical violation; screenshots at 1280 and 375 px wide
//! are kept in target/web-shots/. Bad input is a 4xx page; names with
//! markup are text.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::daemon::{TestApp, temp_dir};

const PEOPLE: &str = "people:
  alice: {name: Alice, email: alice@example.com, timezone: Europe/London}
  bob: {name: Bob, email: bob@example.com}
  carol: {name: Carol, email: carol@example.com}
  dave: {name: Dave, email: dave@example.com}
  erin: {name: Erin, email: erin@example.com}
  mallory: {name: \"<img src=x onerror=alert(1)>\", email: mallory@example.com}
";

/// Layer 1: alice and bob, a day each, Monday to Saturday; layer 2: carol
/// over lunch on weekdays; layer 3: erin on Sunday afternoon. So Sunday
/// 29 March (the clocks go forward at 01:00 UTC) is a gap until 12:00 BST
/// and after 20:00. dave covers Friday night by override; mallory shadows
/// erin.
const OPS: &str = "team: ops
timezone: Europe/London
rotas:
  primary:
    layers:
      - members: [alice, bob]
        start: 2026-03-02T09:00
        every: 1d
        active: [{days: [mon, tue, wed, thu, fri, sat]}]
      - members: [carol]
        start: 2026-03-02T09:00
        every: 1w
        active: [{days: weekdays, from: \"12:00\", to: \"14:00\"}]
      - members: [erin, mallory]
        start: 2026-03-01T12:00
        every: 1w
        active: [{days: sun, from: \"12:00\", to: \"20:00\"}]
    shadows:
      - {user: dave, of: erin}
  secondary: {members: [bob, carol], start: 2026-03-02T09:00, every: 1w}
overrides:
  - {rota: primary, user: dave, from: 2026-03-27T18:00, to: 2026-03-28T06:00}
";

fn write(dir: &std::path::Path) {
    let s = dir.join("schedules");
    std::fs::write(s.join("people.yaml"), PEOPLE).unwrap();
    std::fs::write(s.join("ops.yaml"), OPS).unwrap();
}

fn target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Where the screenshots are kept (not removed: they are the artefacts).
fn shots() -> PathBuf {
    let dir = target().join("web-shots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs tests/web/check.mjs (copied beside its node_modules) on `page`,
/// signed in through `signin` first.
async fn check(signin: &str, page: &str, shots_as: Option<&str>, axe: bool) -> Value {
    let tools = target().join("web-tools");
    assert!(
        tools.join("node_modules/puppeteer-core").is_dir() && tools.join("node_modules/axe-core").is_dir(),
        "{} has no puppeteer-core and axe-core: run scripts/test, which installs them (npm ci from tests/web/)",
        tools.display()
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").is_file(),
        "/usr/bin/chromium is missing: run scripts/test"
    );
    let script = tools.join("check.mjs");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web/check.mjs"),
        &script,
    )
    .unwrap();
    let mut command = Command::new("node");
    command.arg(&script).args(["--signin", signin, "--page", page]);
    if let Some(name) = shots_as {
        command.arg("--shots").arg(shots().join(name));
    }
    if axe {
        command.arg("--axe");
    }
    let o = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(
        o.status.success(),
        "check.mjs failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

/// (kind, person, start, end) of every shift, gap and shadow `oncall shifts`
/// prints for team `ops` over [from, to).
fn shifts(dir: &std::path::Path, from: &str, to: &str) -> BTreeSet<(String, String, String, String)> {
    let o = Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["shifts", "--team", "ops", "--gaps", "--shadows", "--format", "json"])
        .arg("--schedules")
        .arg(dir.join("schedules"))
        .arg("--database")
        .arg(dir.join("oncall.db"))
        .args(["--from", from, "--to", to])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            let kind = if v["shadow_of"].is_string() {
                "shadow"
            } else if v["user"].is_null() {
                "gap"
            } else {
                "final"
            };
            (
                format!("{}/{kind}", v["rota"].as_str().unwrap()),
                v["user"].as_str().unwrap_or("").to_string(),
                v["start"].as_str().unwrap().to_string(),
                v["end"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The shifts, gaps and shadows the browser found drawn, as [`shifts`]
/// gives them (the rota from the heading above each piece's row).
fn drawn(result: &Value) -> BTreeSet<(String, String, String, String)> {
    result["pieces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| matches!(p["kind"].as_str(), Some("final" | "gap" | "shadow")))
        .map(|p| {
            (
                format!("{}/{}", p["rota"].as_str().unwrap(), p["kind"].as_str().unwrap()),
                p["person"].as_str().unwrap_or("").to_string(),
                p["start"].as_str().unwrap().to_string(),
                p["end"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The person's sign-in link (the page with the button that signs them in).
fn signin_url(app: &TestApp, person: &str) -> String {
    format!(
        "{}/signin?person={person}&token={}",
        app.base,
        app.state().links.status_token(person)
    )
}

/// A client that sends the session cookie of `person`, signed in with
/// their link (the sign-in form POSTed from this site).
pub(crate) async fn signed_in(app: &TestApp, person: &str) -> reqwest::Client {
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = app.state().links.status_token(person);
    let r = plain
        .post(format!("{}/signin", app.base))
        .header("Origin", &app.base)
        .form(&[("person", person), ("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "{r:?}");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("oncall_session="))
        .unwrap_or_else(|| panic!("no session cookie: {r:?}"))
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, cookie.parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn spawn(at: &str) -> TestApp {
    let dir = temp_dir("web-timeline");
    write(&dir);
    let app = TestApp::spawn_in_at(dir, at).await;
    // An override made at run time too: the page and `oncall shifts` both
    // read it (the command from the daemon's database).
    let (code, body) = app
        .api_post(
            "/v1/overrides",
            json!({"team": "ops", "rota": "primary", "user": "carol", "instead_of": "alice",
                   "from": "2026-03-30T09:00", "to": "2026-03-30T12:00", "by": "test"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    app
}

/// The issue asks for no serious or critical violation; the pages have
/// none of any impact (the page's parts all inside landmarks included).
fn assert_no_serious_violations(result: &Value) {
    let found: Vec<&Value> = result["axe"].as_array().unwrap().iter().collect();
    assert!(found.is_empty(), "axe-core: {found:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_team_timeline_over_the_clock_change_draws_what_oncall_shifts_prints() {
    let app = spawn("2026-03-29T10:00:00Z").await;
    let signin = signin_url(&app, "alice");

    // The week of Sunday 29 March in London: Monday 23 00:00 GMT to Monday
    // 30 00:00 BST.
    let page = format!("{}/teams/ops?view=week&at=2026-03-29", app.base);
    let result = check(&signin, &page, Some("team-ops-week"), true).await;
    assert_eq!(result["status"], 200, "{result}");
    let want = shifts(&app.dir, "2026-03-23T00:00:00Z", "2026-03-29T23:00:00Z");
    assert_eq!(drawn(&result), want);
    let pieces = result["pieces"].as_array().unwrap();
    let of_kind = |k: &'static str| pieces.iter().filter(move |p| p["kind"] == k);
    // The gap over the clock change and the shadow are drawn, with a size.
    assert!(
        of_kind("gap").any(|p| p["start"] == "2026-03-29T00:00:00Z"
            && p["end"] == "2026-03-29T11:00:00Z"
            && p["width"].as_f64().unwrap() > 10.0),
        "{pieces:#?}"
    );
    let shadow = of_kind("shadow").next().expect("the shadow is drawn");
    assert_eq!(shadow["person"], "dave");
    assert_eq!(shadow["of"], "erin");
    assert!(shadow["width"].as_f64().unwrap() > 10.0 && shadow["height"].as_f64().unwrap() > 2.0);
    // Three layers, the file's override over layer 1, the line at now.
    let layers: BTreeSet<&str> = of_kind("layer").filter_map(|p| p["layer"].as_str()).collect();
    assert_eq!(layers, BTreeSet::from(["1", "2", "3"]));
    assert!(of_kind("override").any(|p| p["person"] == "dave" && p["layer"] == "1"));
    assert!(of_kind("now").next().is_some());
    assert_no_serious_violations(&result);
    for width in ["1280", "375"] {
        let png = shots().join(format!("team-ops-week-{width}.png"));
        assert!(std::fs::metadata(&png).unwrap().len() > 1000, "{}", png.display());
    }

    // One rota over a month, in New York's zone (a click from the page):
    // its clocks changed on 8 March; the run-time override is in it.
    let page = format!(
        "{}/teams/ops/primary?view=month&at=2026-03&tz=America/New_York",
        app.base
    );
    let result = check(&signin, &page, Some("rota-primary-month-new-york"), true).await;
    assert_eq!(result["status"], 200, "{result}");
    let want = shifts(&app.dir, "2026-03-01T05:00:00Z", "2026-04-01T04:00:00Z");
    let want: BTreeSet<_> = want.into_iter().filter(|s| s.0.starts_with("primary/")).collect();
    assert!(want.iter().any(|s| s.1 == "carol" && s.2 == "2026-03-30T08:00:00Z"));
    assert_eq!(drawn(&result), want);
    assert_no_serious_violations(&result);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_a_4xx_page_and_names_are_text() {
    let app = spawn("2026-03-29T10:00:00Z").await;
    let client = signed_in(&app, "alice").await;
    let get = |path: &str| {
        let client = client.clone();
        let url = format!("{}{path}", app.base);
        async move {
            let r = client.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    for (path, code, says) in [
        ("/teams/nope", 404, "no team named"),
        ("/teams/ops/nope", 404, "no rota named"),
        ("/teams/%3Cscript%3E", 404, "&lt;script&gt;"),
        ("/teams/ops?from=2026-01-01&to=2036-01-01", 400, "at most 62"),
        ("/teams/ops?view=month&at=2026-13", 400, "is not a day"),
        ("/teams/ops?view=decade", 400, "is not a view"),
        ("/teams/ops?tz=Mars/Olympus", 400, "is not a time zone"),
        ("/teams/ops?at=99999-01-01", 400, "is not a day"),
        ("/teams/ops?at=9999-01-01", 400, "out of range"),
    ] {
        let (status, body) = get(path).await;
        let said = body.split("<h1>").nth(1).unwrap_or(&body);
        assert_eq!(status, code, "{path}: {said}");
        assert!(body.contains(says), "{path}: {said}");
        // The reason is text: markup in the URL comes back escaped.
        let error = said.split("<p class=\"error\">").nth(1).unwrap_or("");
        let error = error.split("</p>").next().unwrap();
        assert!(!error.contains('<'), "{path}: {said}");
    }
    // Markup in a person's name is text, on the timeline and the index.
    for path in [
        "/teams/ops?view=month&at=2026-03",
        "/timeline",
        "/teams/ops/primary?view=day&at=2026-03-22",
    ] {
        let (status, body) = get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains("<img src=x"), "{path}");
    }
    let (_, body) = get("/teams/ops?view=week&at=2026-03-22").await;
    assert!(body.contains("&lt;img src=x onerror=alert(1)&gt;"));
    // Not signed in: sent to sign in, nothing shown.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/teams/ops", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
}

#[tokio::test(flavor = "multi_thread")]
async fn me_shows_my_shifts_whole_and_hands_one_over_as_me() {
    // Wednesday 25 March, 10:00 UTC: bob is on call (layer 1) until 09:00
    // tomorrow; bob's next shifts are whole, with who could cover.
    let app = spawn("2026-03-25T10:00:00Z").await;
    let client = signed_in(&app, "bob").await;
    let r = client.get(format!("{}/me", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("My next shifts"), "{page}");
    // Layer 1's day, from 09:00 GMT on the 25th, shown from its start (not
    // cut at now), split by carol's lunch.
    assert!(page.contains("ops / primary</strong>: Wed 25 Mar 2026 09:00"), "{page}");
    assert!(page.contains("Can someone cover me?"), "{page}");
    assert!(page.contains("Whom I shadow"));
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF field")
        .to_string();
    // Erin takes bob's next night on the secondary rota... bob hands his
    // primary shift of Friday over to erin.
    let r = client
        .post(format!("{}/me", app.base))
        .header("Origin", &app.base)
        .form(&[
            ("csrf", csrf.as_str()),
            ("team", "ops"),
            ("rota", "primary"),
            ("from", "2026-03-27T09:00:00Z"),
            ("to", "2026-03-27T12:00:00Z"),
            ("user", "erin"),
            ("reason", "dentist"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap());
    let (code, list) = app.api_get("/v1/overrides?team=ops").await;
    assert_eq!(code, 200);
    let made: Vec<&Value> = list["overrides"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["user"] == "erin")
        .collect();
    assert_eq!(made.len(), 1, "{list}");
    assert_eq!(made[0]["created_by"], "bob");
    assert_eq!(made[0]["instead_of"], "bob");
    assert_eq!(made[0]["reason"], "dentist");
    // In force at once: the timeline shows erin then.
    let r = client
        .get(format!("{}/teams/ops/primary?view=day&at=2026-03-27&tz=UTC", app.base))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(
        html.contains("data-k=final data-p=erin data-s=2026-03-27T09:00:00Z data-e=2026-03-27T12:00:00Z"),
        "{html}"
    );
    // A bad hand-over (it ends before it starts) changes nothing: 422.
    let r = client
        .post(format!("{}/me", app.base))
        .header("Origin", &app.base)
        .form(&[
            ("csrf", csrf.as_str()),
            ("team", "ops"),
            ("rota", "primary"),
            ("from", "2026-03-27T12:00:00Z"),
            ("to", "2026-03-27T09:00:00Z"),
            ("user", "erin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let (_, list) = app.api_get("/v1/overrides?team=ops").await;
    assert_eq!(list["overrides"].as_array().unwrap().len(), 2);

    // dave is on call on Friday night by the files' override, not by the
    // layers: his hand-over is a full cover (a swap of him would never
    // apply), and erin is on call then.
    let dave = signed_in(&app, "dave").await;
    let page = dave
        .get(format!("{}/me", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("ops / primary</strong>: Fri 27 Mar 2026 18:00"), "{page}");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = dave
        .post(format!("{}/me", app.base))
        .header("Origin", &app.base)
        .form(&[
            ("csrf", csrf.as_str()),
            ("team", "ops"),
            ("rota", "primary"),
            ("from", "2026-03-27T18:00:00Z"),
            ("to", "2026-03-28T06:00:00Z"),
            ("user", "erin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let (_, list) = app.api_get("/v1/overrides?team=ops").await;
    let made = list["overrides"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (made["created_by"].as_str(), made["instead_of"].is_null()),
        (Some("dave"), true),
        "{made}"
    );
    let want = shifts(&app.dir, "2026-03-27T18:00:00Z", "2026-03-28T06:00:00Z");
    assert!(
        want.contains(&(
            "primary/final".to_string(),
            "erin".to_string(),
            "2026-03-27T18:00:00Z".to_string(),
            "2026-03-28T06:00:00Z".to_string()
        )),
        "{want:?}"
    );
}

/// Me's hours and expected pay for the month so far are what `oncall pay
/// --source ledger` says of the same month from the same database (the
/// ledger the daemon recorded, priced by the same pay.yaml), and not zero.
#[tokio::test(flavor = "multi_thread")]
async fn me_shows_the_hours_and_pay_oncall_pay_counts_from_the_ledger() {
    let dir = temp_dir("web-me-pay");
    write(&dir);
    let schedules = dir.join("schedules");
    std::fs::write(
        schedules.join("pay.yaml"),
        "currency: GBP\npayroll_timezone: Europe/London\n\
         rotas:\n  ops/primary: {rate: 3.00}\n  ops/secondary: {rate: 1.50}\n",
    )
    .unwrap();
    let app = TestApp::spawn_in_at(dir.clone(), "2026-03-02T00:00:00Z").await;
    app.run_engine().await;
    // Three days and a half on: the engine records who was on call.
    for _ in 0..7 {
        app.clock.advance(chrono::Duration::hours(12));
        app.run_engine().await;
    }
    let client = signed_in(&app, "bob").await;
    let page = client
        .get(format!("{}/me", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // "2026-03: <strong>75.0 h</strong> on call, expected pay <strong>150.00 GBP</strong>"
    let strong: Vec<&str> = page
        .split("<strong>")
        .skip(1)
        .filter_map(|s| s.split("</strong>").next())
        .collect();
    let shown_hours = strong
        .iter()
        .find_map(|s| s.strip_suffix(" h"))
        .unwrap_or_else(|| panic!("no hours on Me:\n{page}"));
    let shown_pay = strong
        .iter()
        .find(|s| s.ends_with(" GBP"))
        .unwrap_or_else(|| panic!("no pay on Me:\n{page}"));

    let o = Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["pay", "--month", "2026-03", "--format", "json", "--source", "ledger"])
        .arg("--schedules")
        .arg(&schedules)
        .arg("--database")
        .arg(dir.join("oncall.db"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bob: Value = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["person"] == "bob")
        .expect("bob in oncall pay");
    let hours: f64 = bob["hours_total"].as_str().unwrap().parse().unwrap();
    assert!(hours > 0.0, "{bob}");
    assert_eq!(shown_hours, format!("{hours:.1}"), "{bob}\n{page}");
    // The burden table counts the same hours for bob's team.
    assert!(page.contains(&format!("<tr><td>ops</td><td>{hours:.1}</td>")), "{page}");
    let amount = bob["amount"].as_str().unwrap();
    assert!(
        shown_pay.trim_end_matches(" GBP") == amount,
        "Me shows {shown_pay}, oncall pay {amount}"
    );
    app.stop().await;
}
