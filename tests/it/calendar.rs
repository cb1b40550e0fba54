//! Calendar feeds: the events of a person's feed, read by an independent
//! parser (Python's `icalendar`), are exactly their shifts from `oncall
//! shifts` over the feed's window, overrides applied; UIDs stay the same
//! when the feed is fetched again later; each feed needs its own token.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::daemon::{TestApp, temp_dir};
use crate::support::at;

const TEAM: &str = "team: payments
timezone: Europe/London
rotas:
  primary:
    members: [alice, bob]
    start: 2026-01-05T09:00
    every: 1w
    shadows: [{user: erin, of: alice, from: 2026-06-08T00:00, to: 2026-06-30T00:00}]
overrides:
  - {rota: primary, user: carol, from: 2026-06-23T00:00, to: 2026-06-25T00:00}
intake_key: calendar-key-0123456789
";

/// The events of an iCalendar text, parsed by tests/ics_events.py.
fn parse(dir: &Path, ics: &str) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv-test/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test first (it installs tests/requirements.txt into .venv-test)",
        python.display()
    );
    let file = dir.join("feed.ics");
    std::fs::write(&file, ics).unwrap();
    let o = Command::new(python)
        .arg(root.join("tests/ics_events.py"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn fetch(app: &TestApp, path: &str) -> (u16, String, String) {
    let r = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, r.text().await.unwrap())
}

/// `oncall shifts` as JSON over `[from, to)`.
fn shifts(dir: &Path, from: &str, to: &str) -> Vec<Value> {
    let o = Command::new(env!("CARGO_BIN_EXE_oncall"))
        .args(["shifts", "--format", "json", "--from", from, "--to", to])
        .arg("--schedules")
        .arg(dir.join("schedules"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_persons_feed_holds_their_shifts_a_year_ahead_with_stable_uids() {
    let dir = temp_dir("calendar");
    std::fs::write(dir.join("schedules/people.yaml"), crate::support::PEOPLE).unwrap();
    std::fs::write(dir.join("schedules/payments.yaml"), TEAM).unwrap();
    let app = TestApp::spawn_in_at(dir.clone(), "2026-06-10T12:00:00Z").await;

    let (code, link) = app.api_get("/v1/calendar?person=alice").await;
    assert_eq!(code, 200, "{link}");
    let path = link["url"].as_str().unwrap().to_string();
    assert!(path.starts_with("/v1/calendar/alice.ics?token="), "{path}");
    let (code, bob) = app.api_get("/v1/calendar?person=bob").await;
    assert_eq!(code, 200);
    let bobs_token = bob["url"].as_str().unwrap().split("token=").nth(1).unwrap().to_string();

    // Each feed needs its own token.
    for bad in [
        "/v1/calendar/alice.ics".to_string(),
        "/v1/calendar/alice.ics?token=nope".to_string(),
        format!("/v1/calendar/alice.ics?token={bobs_token}"),
    ] {
        let (code, _, body) = fetch(&app, &bad).await;
        assert_eq!(code, 403, "{bad}: {body}");
    }
    // Without its token, a feed does not say whether the person exists.
    let (code, _, _) = fetch(&app, "/v1/calendar/zed.ics?token=x").await;
    assert_eq!(code, 403);

    let (code, kind, ics) = fetch(&app, &path).await;
    assert_eq!(code, 200, "{ics}");
    assert_eq!(kind, "text/calendar; charset=utf-8");
    assert!(
        ics.lines().all(|l| l.len() <= 76),
        "lines are folded (75 octets and CR)"
    );
    let events = parse(&dir, &ics);

    // The window: a week back, 366 days ahead; shifts whole.
    let now = at("2026-06-10T12:00:00Z");
    let (from, to) = (now - chrono::Duration::days(7), now + chrono::Duration::days(366));
    let rfc = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let wide_from = rfc(from - chrono::Duration::days(62));
    let wide_to = rfc(to + chrono::Duration::days(62));
    let expected: Vec<(String, String, String)> = shifts(&dir, &wide_from, &wide_to)
        .into_iter()
        .filter(|s| s["user"] == "alice")
        .filter(|s| s["start"].as_str().unwrap() < rfc(to).as_str() && s["end"].as_str().unwrap() > rfc(from).as_str())
        .map(|s| {
            (
                s["start"].as_str().unwrap().to_string(),
                s["end"].as_str().unwrap().to_string(),
                format!(
                    "On call: {} {}",
                    s["team"].as_str().unwrap(),
                    s["rota"].as_str().unwrap()
                ),
            )
        })
        .collect();
    let got: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e["start"].as_str().unwrap().to_string(),
                e["end"].as_str().unwrap().to_string(),
                e["summary"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    // Carol's override splits alice's week of 22 June (09:00 London).
    assert!(got.contains(&(
        "2026-06-22T08:00:00Z".into(),
        "2026-06-22T23:00:00Z".into(),
        "On call: payments primary".into()
    )));
    assert!(
        got.last().unwrap().0.as_str() > "2027-05-25",
        "a year ahead: {:?}",
        got.last()
    );
    let uids: std::collections::BTreeSet<&str> = events.iter().map(|e| e["uid"].as_str().unwrap()).collect();
    assert_eq!(uids.len(), events.len(), "UIDs are unique");

    // A day later, the events both fetches hold keep their UIDs.
    app.clock.advance(chrono::Duration::days(1));
    let (_, _, again) = fetch(&app, &path).await;
    let later = parse(&dir, &again);
    let by_start = |list: &[Value]| -> std::collections::BTreeMap<String, String> {
        list.iter()
            .map(|e| {
                (
                    e["start"].as_str().unwrap().to_string(),
                    e["uid"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let (before, after) = (by_start(&events), by_start(&later));
    let common: Vec<&String> = before.keys().filter(|k| after.contains_key(*k)).collect();
    assert!(common.len() > 20);
    for start in common {
        assert_eq!(before[start], after[start], "{start}");
    }

    // Erin shadows alice for three weeks: her feed holds those stretches.
    let (_, link) = app.api_get("/v1/calendar?person=erin").await;
    let (code, _, erin) = fetch(&app, link["url"].as_str().unwrap()).await;
    assert_eq!(code, 200);
    let erin: Vec<(String, String, String)> = parse(&dir, &erin)
        .iter()
        .map(|e| {
            (
                e["start"].as_str().unwrap().to_string(),
                e["end"].as_str().unwrap().to_string(),
                e["summary"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let shadowing = |from: &str, to: &str| {
        (
            from.to_string(),
            to.to_string(),
            "Shadowing Alice: payments primary".to_string(),
        )
    };
    assert_eq!(
        erin,
        [
            shadowing("2026-06-08T08:00:00Z", "2026-06-15T08:00:00Z"),
            shadowing("2026-06-22T08:00:00Z", "2026-06-22T23:00:00Z"),
            shadowing("2026-06-24T23:00:00Z", "2026-06-29T08:00:00Z"),
        ]
    );

    // The team's feed: everyone's shifts, and the shadow.
    let (_, link) = app.api_get("/v1/calendar?team=payments").await;
    let (code, _, team_ics) = fetch(&app, link["url"].as_str().unwrap()).await;
    assert_eq!(code, 200);
    let people: std::collections::BTreeSet<String> = parse(&dir, &team_ics)
        .iter()
        .map(|e| e["summary"].as_str().unwrap().split(':').next().unwrap().to_string())
        .collect();
    assert_eq!(
        people.into_iter().collect::<Vec<_>>(),
        ["Alice on call", "Bob on call", "Carol on call", "Erin shadowing Alice"]
    );
    app.stop().await;
}

/// Issue 16: UIDs were `team-rota-person-START` with `-` kept inside the
/// names, so team `ops-eu` rota `primary` and team `ops` rota `eu-primary`
/// gave the same UID to two events of one person's feed (calendar apps keep
/// one). Both teams page alice on the same days here: every event keeps a
/// UID of its own, the same on a second fetch and after a restart.
#[tokio::test(flavor = "multi_thread")]
async fn issue16_uids_of_teams_and_rotas_with_dashes_stay_distinct_and_stable() {
    let dir = temp_dir("calendar-uids");
    std::fs::write(dir.join("schedules/people.yaml"), crate::support::PEOPLE).unwrap();
    let team = |team: &str, rota: &str, key: &str| {
        format!(
            "team: {team}\ntimezone: UTC\nrotas:\n  {rota}:\n    members: [alice, bob]\n    start: 2026-01-05T09:00\n    every: 1d\nintake_key: {key}\n"
        )
    };
    std::fs::write(
        dir.join("schedules/ops-eu.yaml"),
        team("ops-eu", "primary", "k-ops-eu-0123456789"),
    )
    .unwrap();
    std::fs::write(
        dir.join("schedules/ops.yaml"),
        team("ops", "eu-primary", "k-ops-0123456789"),
    )
    .unwrap();
    let app = TestApp::spawn_in_at(dir.clone(), "2026-06-10T12:00:00Z").await;
    let (code, link) = app.api_get("/v1/calendar?person=alice").await;
    assert_eq!(code, 200, "{link}");
    let path = link["url"].as_str().unwrap().to_string();

    let uids =
        |events: &[Value]| -> Vec<String> { events.iter().map(|e| e["uid"].as_str().unwrap().to_string()).collect() };
    let (code, _, ics) = fetch(&app, &path).await;
    assert_eq!(code, 200, "{ics}");
    let events = parse(&dir, &ics);
    // Alice's every other day on each of the two rotas, a year ahead.
    for summary in ["On call: ops-eu primary", "On call: ops eu-primary"] {
        let n = events.iter().filter(|e| e["summary"] == summary).count();
        assert!(n > 150, "{n} events of {summary}");
    }
    let first = uids(&events);
    let distinct: std::collections::BTreeSet<&String> = first.iter().collect();
    assert_eq!(distinct.len(), first.len(), "every event has a UID of its own");

    // The same feed fetched again, and after a restart, has the same UIDs.
    let (_, _, again) = fetch(&app, &path).await;
    assert_eq!(uids(&parse(&dir, &again)), first);
    app.stop().await;
    let app = TestApp::spawn_in_at(dir.clone(), "2026-06-10T12:00:00Z").await;
    let (code, _, restarted) = fetch(&app, &path).await;
    assert_eq!(code, 200, "the feed's URL survives a restart: {restarted}");
    assert_eq!(uids(&parse(&dir, &restarted)), first);
    app.stop().await;
}

/// A group's turn (issue 18) is an event in each of its people's feeds, and
/// one for each of them in the team's feed, each with its own UID.
#[test]
fn a_groups_turn_is_an_event_for_each_person() {
    use oncall::calendar::{Feed, render};
    let loaded = crate::support::team(
        "Europe/London",
        "rotas:\n  r: {members: [[alice, bob], carol], start: 2026-06-01T09:00, every: 1w}\n",
    );
    let now = at("2026-06-03T12:00:00Z");
    let events = |ics: &str| -> Vec<String> {
        ics.split("BEGIN:VEVENT")
            .skip(1)
            .map(|e| {
                let field = |name: &str| {
                    e.lines()
                        .find_map(|l| l.strip_prefix(name))
                        .unwrap_or_default()
                        .to_string()
                };
                format!("{} {}", field("DTSTART:"), field("SUMMARY:"))
            })
            .collect()
    };
    let bob = events(&render(&loaded.schedule, Feed::Person("bob"), now));
    assert!(bob.iter().all(|e| e.contains("On call: t r")), "{bob:?}");
    assert_eq!(
        &bob[..2],
        ["20260601T080000Z On call: t r", "20260615T080000Z On call: t r"].map(String::from)
    );
    let team = render(&loaded.schedule, Feed::Team("t"), now);
    let first_week: Vec<String> = events(&team)
        .into_iter()
        .filter(|e| e.starts_with("20260601T"))
        .collect();
    assert_eq!(
        first_week,
        [
            "20260601T080000Z Alice on call: t r",
            "20260601T080000Z Bob on call: t r"
        ]
        .map(String::from)
    );
    let uids: std::collections::BTreeSet<&str> = team.lines().filter(|l| l.starts_with("UID:")).collect();
    assert_eq!(uids.len(), team.matches("BEGIN:VEVENT").count());
}
