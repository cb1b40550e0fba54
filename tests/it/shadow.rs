//! Shadows (issue 9): people learning a rota. A shadow follows the person on
//! call, gets a copy of their pages (tested with the engine in `paging.rs`),
//! and never counts as coverage: a gap with a shadow in it is still a gap.
//! Also `ready_for` and `announce` in the rota files, with their messages.

use chrono::Duration;
use expect_test::{Expect, expect};
use oncall::config;
use oncall::domain::escalation::Target;
use oncall::domain::paging;
use oncall::domain::time::Span;

use crate::support::{PEOPLE, at, render, team};

/// Every shadow stretch of `loaded` in `[from, to)`, one a line.
fn shadows(loaded: &config::Loaded, from: &str, to: &str) -> String {
    let mut out = String::new();
    for s in loaded.schedule.shadow_shifts(Span::new(at(from), at(to)), None) {
        out.push_str(&format!(
            "{}  {} .. {}  {} shadows {}\n",
            s.rota,
            s.tile.span.start.format("%Y-%m-%dT%H:%MZ"),
            s.tile.span.end.format("%Y-%m-%dT%H:%MZ"),
            s.tile.user,
            s.tile.of,
        ));
    }
    out
}

/// Working hours only (Monday to Friday, 09:00-17:00 UTC), with erin
/// shadowing every shift for the whole week: the nights and the weekend are
/// gaps, and stay gaps. The shadow is there only where someone is on call,
/// `oncall check` still reports the gap, and a page during the gap reaches
/// nobody, shadow included.
#[test]
fn a_gap_covered_only_by_a_shadow_is_still_a_gap() {
    let loaded = team(
        "UTC",
        "rotas:
  day:
    members: [alice, bob]
    start: 2026-06-01T09:00
    every: 1d
    active: [{days: weekdays, from: \"09:00\", to: \"17:00\"}]
    shadows:
      - {user: erin, from: 2026-06-01T00:00, to: 2026-06-08T00:00}
",
    );
    let (from, to) = ("2026-06-04T00:00:00Z", "2026-06-06T00:00:00Z");
    expect![[r#"
        day  2026-06-04T00:00Z .. 2026-06-04T09:00Z  (9h)  -
        day  2026-06-04T09:00Z .. 2026-06-04T17:00Z  (8h)  bob
        day  2026-06-04T17:00Z .. 2026-06-05T09:00Z  (16h)  -
        day  2026-06-05T09:00Z .. 2026-06-05T17:00Z  (8h)  alice
        day  2026-06-05T17:00Z .. 2026-06-06T00:00Z  (7h)  -
    "#]]
    .assert_eq(&render(&loaded, from, to));
    expect![[r#"
        day  2026-06-04T09:00Z .. 2026-06-04T17:00Z  erin shadows bob
        day  2026-06-05T09:00Z .. 2026-06-05T17:00Z  erin shadows alice
    "#]]
    .assert_eq(&shadows(&loaded, from, to));

    // The gap is still reported by `oncall check`.
    let warnings = config::coverage_warnings(&loaded, at("2026-06-05T17:00:00Z"), Duration::days(2));
    let text: Vec<String> = warnings.iter().map(|d| d.to_string()).collect();
    expect!["t.yaml:4:3: warning: rota t/day has nobody on call from 2026-06-05T17:00:00Z to 2026-06-07T17:00:00Z (2d in the next 2 days)"]
    .assert_eq(&text.join("\n"));

    // A page in the gap: nobody, and so no shadow copy either.
    let night = at("2026-06-04T22:00:00Z");
    let rota = &loaded.schedule.teams[0].rotas[0];
    assert_eq!(rota.on_call_at(night), None);
    assert!(rota.shadows_at(night).is_empty());
    let reached = paging::recipients(&loaded.schedule, "t", &[Target::Rota("day".into())], night);
    assert!(reached.is_empty());
    assert!(paging::shadow_copies(&loaded.schedule, "t", &[], night).is_empty());
}

/// `of` pairs a shadow with one person: only their shifts, overrides
/// applied (dave covering alice's day takes her shadow's day away too), and
/// nobody shadows themselves.
#[test]
fn a_shadow_follows_one_person_through_overrides() {
    let loaded = team(
        "UTC",
        "rotas:
  primary:
    members: [alice, bob, erin]
    start: 2026-06-01T09:00
    every: 1d
    shadows:
      - {user: carol, of: alice}
      - {user: erin}
overrides:
  - {rota: primary, user: dave, from: 2026-06-04T09:00, to: 2026-06-04T21:00}
",
    );
    expect![[r#"
        primary  2026-06-01T09:00Z .. 2026-06-02T09:00Z  carol shadows alice
        primary  2026-06-04T21:00Z .. 2026-06-05T09:00Z  carol shadows alice
        primary  2026-06-01T09:00Z .. 2026-06-02T09:00Z  erin shadows alice
        primary  2026-06-02T09:00Z .. 2026-06-03T09:00Z  erin shadows bob
        primary  2026-06-04T09:00Z .. 2026-06-04T21:00Z  erin shadows dave
        primary  2026-06-04T21:00Z .. 2026-06-05T09:00Z  erin shadows alice
    "#]]
    .assert_eq(&shadows(&loaded, "2026-06-01T09:00:00Z", "2026-06-05T09:00:00Z"));
    // Shadows never change who is on call.
    expect![[r#"
        primary  2026-06-01T09:00Z .. 2026-06-02T09:00Z  (24h)  alice
        primary  2026-06-02T09:00Z .. 2026-06-03T09:00Z  (24h)  bob
        primary  2026-06-03T09:00Z .. 2026-06-04T09:00Z  (24h)  erin
        primary  2026-06-04T09:00Z .. 2026-06-04T21:00Z  (12h)  dave
        primary  2026-06-04T21:00Z .. 2026-06-05T09:00Z  (12h)  alice
    "#]]
    .assert_eq(&render(&loaded, "2026-06-01T09:00:00Z", "2026-06-05T09:00:00Z"));
}

fn check(files: &[(&str, &str)], expected: Expect) {
    let loaded = config::load_texts(files);
    let text: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    expected.assert_eq(&(text.join("\n") + "\n"));
}

/// `shadows`, `ready_for` and `announce` are checked like every other key:
/// each problem at its place, with "did you mean".
#[test]
fn shadows_ready_for_and_announce_are_checked() {
    let people = format!("{PEOPLE}  zoe: {{name: Zoe, email: zoe@example.com, ready_for: [t/secondry, tt]}}\n");
    check(
        &[
            ("people.yaml", &people),
            (
                "t.yaml",
                "team: t
timezone: UTC
rotas:
  primary:
    members: [alice, zoe]
    start: 2026-06-01T09:00
    every: 1w
    shadows:
      - {user: zeo, of: alice}
      - {user: bob, of: bob}
      - {user: carol, from: 2026-06-01T00:00}
      - {user: dave, of: erin, form: 2026-06-01T00:00}
  secondary: {members: [bob], start: 2026-06-01T09:00, every: 1w}
overrides:
  - {rota: secondary, user: zoe, from: 2026-06-02T00:00, to: 2026-06-03T00:00}
announce:
  to: [hooks.example.com/x]
  severites: [critical]
",
            ),
        ],
        expect![[r#"
            people.yaml:7:56: error: in `ready_for`: unknown rota `secondry` in team t; did you mean `secondary`?
            people.yaml:7:68: error: in `ready_for`: unknown team `tt`; did you mean `t`?
            t.yaml:5:22: warning: zoe is not ready for t/primary: their `ready_for` in the people file lists t/secondry, tt; add t/primary there when they are, or list them under the rota's `shadows` meanwhile
            t.yaml:9:16: error: unknown person `zeo`; did you mean `zoe`?
            t.yaml:10:21: error: bob cannot shadow themselves
            t.yaml:11:9: error: a shadow with a period needs both `from` and `to` (add `to`, or remove both to shadow every shift)
            t.yaml:12:22: warning: erin is not a member of rota primary: dave shadows them only while an override puts them on call
            t.yaml:12:32: error: unknown key `form` in a shadow; did you mean `from`?
            t.yaml:15:29: warning: zoe is not ready for t/secondary: their `ready_for` in the people file lists t/secondry, tt; add t/secondary there when they are, or list them under the rota's `shadows` meanwhile
            t.yaml:17:8: error: `hooks.example.com/x` is not a webhook URL: write it with https:// (a Slack-compatible incoming webhook, or any that takes JSON)
            t.yaml:18:3: error: unknown key `severites` in `announce`; did you mean `severities`?
        "#]],
    );
}

/// Someone without `ready_for` is ready for anything; `team` alone means
/// every rota of the team.
#[test]
fn ready_for_a_whole_team_or_unsaid() {
    let people = format!("{PEOPLE}  zoe: {{name: Zoe, email: zoe@example.com, ready_for: [t]}}\n");
    let loaded = config::load_texts(&[
        ("people.yaml", &people),
        (
            "t.yaml",
            "team: t\ntimezone: UTC\nrotas:\n  a: {members: [zoe, alice], start: 2026-06-01T09:00, every: 1w}\n",
        ),
    ]);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
}

/// Issue 16: `GET /v1/alerts/{id}` lists an alert's notifications; a
/// shadow's copy was not told apart from a page. Each now says whom it
/// shadows (`shadow_of`, `null` for a page).
#[tokio::test(flavor = "multi_thread")]
async fn issue16_an_alert_marks_its_shadow_copies() {
    use crate::daemon::{KEY, TestApp, temp_dir, write_schedules};
    use serde_json::json;
    let dir = temp_dir("shadow-copies");
    write_schedules(&dir);
    std::fs::write(
        dir.join("schedules/payments.yaml"),
        format!(
            "team: payments\ntimezone: Europe/London\nhandoff_notices: []\nintake_key: {KEY}\n\
             rotas:\n  primary:\n    members: [alice]\n    start: 2026-01-05T09:00\n    every: 1w\n    \
             shadows: [{{user: erin, of: alice}}]\n"
        ),
    )
    .unwrap();
    let app = TestApp::spawn_in(dir).await;
    let (code, body) = app
        .post(
            "/v1/alerts",
            KEY,
            json!({"summary": "disk full", "severity": "critical"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["alert_id"].as_i64().unwrap();
    app.run_engine().await;
    let (code, body) = app.api_get(&format!("/v1/alerts/{id}")).await;
    assert_eq!(code, 200, "{body}");
    let notifications = body["notifications"].as_array().unwrap();
    let of = |person: &str| -> Vec<serde_json::Value> {
        notifications
            .iter()
            .filter(|n| n["person"] == person)
            .map(|n| {
                assert!(n.as_object().unwrap().contains_key("shadow_of"), "{n}");
                n["shadow_of"].clone()
            })
            .collect()
    };
    let (alice, erin) = (of("alice"), of("erin"));
    assert!(!alice.is_empty() && !erin.is_empty(), "{body}");
    assert!(alice.iter().all(|s| s.is_null()), "{body}");
    assert!(erin.iter().all(|s| s == "alice"), "{body}");
    app.stop().await;
}

/// During a group's turn (issue 18) a shadow without `of` follows the
/// group's first person, one with `of` their person while in the group; a
/// shadow in the group on call is on call, not shadowing. A `rota:` target
/// pages the whole group, and the shadow's copy comes with its person's page.
#[test]
fn a_shadow_during_a_groups_turn() {
    let loaded = team(
        "UTC",
        "rotas:
  primary:
    members: [[alice, bob], [carol, erin], bob]
    start: 2026-06-01T09:00
    every: 1d
    shadows:
      - {user: dave}
      - {user: erin, of: bob}
",
    );
    expect![[r#"
        primary  2026-06-01T09:00Z .. 2026-06-02T09:00Z  dave shadows alice
        primary  2026-06-02T09:00Z .. 2026-06-03T09:00Z  dave shadows carol
        primary  2026-06-03T09:00Z .. 2026-06-04T09:00Z  dave shadows bob
        primary  2026-06-01T09:00Z .. 2026-06-02T09:00Z  erin shadows bob
        primary  2026-06-03T09:00Z .. 2026-06-04T09:00Z  erin shadows bob
    "#]]
    .assert_eq(&shadows(&loaded, "2026-06-01T09:00:00Z", "2026-06-04T09:00:00Z"));
    let noon = at("2026-06-01T12:00:00Z");
    let reached = paging::recipients(&loaded.schedule, "t", &[Target::Rota("primary".into())], noon);
    let ids: Vec<&str> = reached.iter().map(|(p, _)| p.id.as_str()).collect();
    assert_eq!(ids, ["alice", "bob"]);
    let people: Vec<&String> = reached.iter().map(|(p, _)| &p.id).collect();
    let copies: Vec<(String, String)> = paging::shadow_copies(&loaded.schedule, "t", &people, noon)
        .into_iter()
        .map(|(p, of)| (p.id.clone(), of))
        .collect();
    assert_eq!(copies, [("dave".into(), "alice".into()), ("erin".into(), "bob".into())]);
    // A page to bob alone reaches erin's copy, not dave's (he follows alice).
    let bob = "bob".to_string();
    let copies: Vec<String> = paging::shadow_copies(&loaded.schedule, "t", &[&bob], noon)
        .into_iter()
        .map(|(p, _)| p.id.clone())
        .collect();
    assert_eq!(copies, ["erin"]);
}
