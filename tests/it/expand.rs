//! Data-driven cases of rota expansion: a rota, a window, the shifts expected.
//! Hours are printed so DST days show their true length (23 h, 25 h, 167 h...).
//! Update with `UPDATE_EXPECT=1 cargo test`, then read every change.

use expect_test::{Expect, expect};

use oncall::domain::time::Span;

use crate::support::{at, render, team};

fn check(tz: &str, body: &str, from: &str, to: &str, expected: Expect) {
    expected.assert_eq(&render(&team(tz, body), from, to));
}

#[test]
fn weekly_london_spring_forward() {
    // 09:00 Monday hand-offs stay 09:00 local: the week with the change is 167 h.
    check(
        "Europe/London",
        "rotas:\n  r:\n    members: [alice, bob]\n    start: 2026-03-16T09:00\n    handoff: FREQ=WEEKLY;BYDAY=MO\n",
        "2026-03-16T00:00:00Z",
        "2026-04-07T00:00:00Z",
        expect![[r#"
            r  2026-03-16T00:00Z .. 2026-03-16T09:00Z  (9h)  -
            r  2026-03-16T09:00Z .. 2026-03-23T09:00Z  (168h)  alice
            r  2026-03-23T09:00Z .. 2026-03-30T08:00Z  (167h)  bob
            r  2026-03-30T08:00Z .. 2026-04-06T08:00Z  (168h)  alice
            r  2026-04-06T08:00Z .. 2026-04-07T00:00Z  (16h)  bob
        "#]],
    );
}

#[test]
fn weekly_london_autumn_back() {
    check(
        "Europe/London",
        "rotas:\n  r:\n    members: [alice, bob]\n    start: 2026-10-19T09:00\n    every: 1w\n",
        "2026-10-19T00:00:00Z",
        "2026-11-03T00:00:00Z",
        expect![[r#"
            r  2026-10-19T00:00Z .. 2026-10-19T08:00Z  (8h)  -
            r  2026-10-19T08:00Z .. 2026-10-26T09:00Z  (169h)  alice
            r  2026-10-26T09:00Z .. 2026-11-02T09:00Z  (168h)  bob
            r  2026-11-02T09:00Z .. 2026-11-03T00:00Z  (15h)  alice
        "#]],
    );
}

#[test]
fn daily_new_york_across_both_changes() {
    check(
        "America/New_York",
        "rotas:\n  r:\n    members: [alice, bob, carol]\n    start: 2026-03-06T08:00\n    handoff: FREQ=DAILY\n",
        "2026-03-06T00:00:00Z",
        "2026-03-10T00:00:00Z",
        expect![[r#"
            r  2026-03-06T00:00Z .. 2026-03-06T13:00Z  (13h)  -
            r  2026-03-06T13:00Z .. 2026-03-07T13:00Z  (24h)  alice
            r  2026-03-07T13:00Z .. 2026-03-08T12:00Z  (23h)  bob
            r  2026-03-08T12:00Z .. 2026-03-09T12:00Z  (24h)  carol
            r  2026-03-09T12:00Z .. 2026-03-10T00:00Z  (12h)  alice
        "#]],
    );
    check(
        "America/New_York",
        "rotas:\n  r:\n    members: [alice, bob, carol]\n    start: 2026-10-30T08:00\n    handoff: FREQ=DAILY\n",
        "2026-10-30T00:00:00Z",
        "2026-11-03T00:00:00Z",
        expect![[r#"
            r  2026-10-30T00:00Z .. 2026-10-30T12:00Z  (12h)  -
            r  2026-10-30T12:00Z .. 2026-10-31T12:00Z  (24h)  alice
            r  2026-10-31T12:00Z .. 2026-11-01T13:00Z  (25h)  bob
            r  2026-11-01T13:00Z .. 2026-11-02T13:00Z  (24h)  carol
            r  2026-11-02T13:00Z .. 2026-11-03T00:00Z  (11h)  alice
        "#]],
    );
}

#[test]
fn lord_howe_half_hour_change() {
    // Lord Howe moves its clocks by 30 minutes: 02:00 -> 02:30 on 2026-10-04,
    // 02:00 -> 01:30 on 2026-04-05.
    check(
        "Australia/Lord_Howe",
        "rotas:\n  r:\n    members: [alice, bob]\n    start: 2026-10-02T09:00\n    every: 1d\n",
        "2026-10-02T00:00:00Z",
        "2026-10-06T00:00:00Z",
        expect![[r#"
            r  2026-10-02T00:00Z .. 2026-10-02T22:30Z  (22.5h)  alice
            r  2026-10-02T22:30Z .. 2026-10-03T22:00Z  (23.5h)  bob
            r  2026-10-03T22:00Z .. 2026-10-04T22:00Z  (24h)  alice
            r  2026-10-04T22:00Z .. 2026-10-05T22:00Z  (24h)  bob
            r  2026-10-05T22:00Z .. 2026-10-06T00:00Z  (2h)  alice
        "#]],
    );
    check(
        "Australia/Lord_Howe",
        "rotas:\n  r:\n    members: [alice, bob]\n    start: 2026-04-03T09:00\n    every: 1d\n",
        "2026-04-02T00:00:00Z",
        "2026-04-06T00:00:00Z",
        expect![[r#"
            r  2026-04-02T00:00Z .. 2026-04-02T22:00Z  (22h)  -
            r  2026-04-02T22:00Z .. 2026-04-03T22:00Z  (24h)  alice
            r  2026-04-03T22:00Z .. 2026-04-04T22:30Z  (24.5h)  bob
            r  2026-04-04T22:30Z .. 2026-04-05T22:30Z  (24h)  alice
            r  2026-04-05T22:30Z .. 2026-04-06T00:00Z  (1.5h)  bob
        "#]],
    );
}

#[test]
fn apia_skipped_a_whole_day() {
    // 2011-12-30 did not exist in Samoa. The hand-off "at 09:00 on the 30th" is
    // read with the offset before the gap (-10:00), which is 09:00 on the 31st
    // local: the same instant as the 31st's own hand-off, so that shift is empty
    // and the member order carries on.
    check(
        "Pacific/Apia",
        "rotas:\n  r:\n    members: [alice, bob, carol]\n    start: 2011-12-28T09:00\n    every: 1d\n",
        "2011-12-28T00:00:00Z",
        "2012-01-02T00:00:00Z",
        expect![[r#"
            r  2011-12-28T00:00Z .. 2011-12-28T19:00Z  (19h)  -
            r  2011-12-28T19:00Z .. 2011-12-29T19:00Z  (24h)  alice
            r  2011-12-29T19:00Z .. 2011-12-30T19:00Z  (24h)  bob
            r  2011-12-30T19:00Z .. 2011-12-31T19:00Z  (24h)  alice
            r  2011-12-31T19:00Z .. 2012-01-01T19:00Z  (24h)  bob
            r  2012-01-01T19:00Z .. 2012-01-02T00:00Z  (5h)  carol
        "#]],
    );
}

#[test]
fn handoff_in_the_dst_gap() {
    // 01:30 does not exist on 2026-03-29 in London: read as 01:30 GMT (02:30 BST).
    check(
        "Europe/London",
        "rotas:\n  r:\n    members: [alice, bob]\n    start: 2026-03-27T01:30\n    every: 1d\n",
        "2026-03-27T00:00:00Z",
        "2026-03-31T00:00:00Z",
        expect![[r#"
            r  2026-03-27T00:00Z .. 2026-03-27T01:30Z  (1.5h)  -
            r  2026-03-27T01:30Z .. 2026-03-28T01:30Z  (24h)  alice
            r  2026-03-28T01:30Z .. 2026-03-29T01:30Z  (24h)  bob
            r  2026-03-29T01:30Z .. 2026-03-30T00:30Z  (23h)  alice
            r  2026-03-30T00:30Z .. 2026-03-31T00:00Z  (23.5h)  bob
        "#]],
    );
}

#[test]
fn hourly_across_the_gap_keeps_member_order() {
    // 00:00, 01:00 (in the gap, read as 01:00 GMT), 02:00 BST (= 01:00 GMT too):
    // the 01:00 member's shift is empty; the rotation does not slip.
    check(
        "Europe/London",
        "rotas:\n  r:\n    members: [alice, bob, carol]\n    start: 2026-03-29T00:00\n    every: 1h\n",
        "2026-03-29T00:00:00Z",
        "2026-03-29T04:00:00Z",
        expect![[r#"
            r  2026-03-29T00:00Z .. 2026-03-29T01:00Z  (1h)  alice
            r  2026-03-29T01:00Z .. 2026-03-29T02:00Z  (1h)  carol
            r  2026-03-29T02:00Z .. 2026-03-29T03:00Z  (1h)  alice
            r  2026-03-29T03:00Z .. 2026-03-29T04:00Z  (1h)  bob
        "#]],
    );
}

#[test]
fn ambiguous_start_is_the_first_occurrence() {
    check(
        "America/New_York",
        "rotas:\n  r:\n    members: [alice, bob]\n    start: 2026-10-31T01:30\n    every: 1d\n",
        "2026-10-31T00:00:00Z",
        "2026-11-03T00:00:00Z",
        expect![[r#"
            r  2026-10-31T00:00Z .. 2026-10-31T05:30Z  (5.5h)  -
            r  2026-10-31T05:30Z .. 2026-11-01T05:30Z  (24h)  alice
            r  2026-11-01T05:30Z .. 2026-11-02T06:30Z  (25h)  bob
            r  2026-11-02T06:30Z .. 2026-11-03T00:00Z  (17.5h)  alice
        "#]],
    );
}

#[test]
fn window_crossing_midnight_with_layers() {
    // A base layer, a weekday daytime layer and a weeknight layer that crosses
    // midnight; the later layers win where active, the base shows through.
    check(
        "Europe/London",
        "rotas:
  r:
    layers:
      - members: [erin]
        start: 2026-01-01T00:00
        every: 1w
      - members: [alice, bob]
        start: 2026-01-05T08:00
        every: 1d
        active: [{days: [mon, tue, wed, thu, fri], from: \"08:00\", to: \"20:00\"}]
      - members: [carol, dave]
        start: 2026-01-05T20:00
        every: 1w
        active: [{days: [mon, tue, wed, thu, fri], from: \"20:00\", to: \"08:00\"}]
",
        "2026-01-08T00:00:00Z",
        "2026-01-11T12:00:00Z",
        expect![[r#"
            r  2026-01-08T00:00Z .. 2026-01-08T08:00Z  (8h)  carol
            r  2026-01-08T08:00Z .. 2026-01-08T20:00Z  (12h)  bob
            r  2026-01-08T20:00Z .. 2026-01-09T08:00Z  (12h)  carol
            r  2026-01-09T08:00Z .. 2026-01-09T20:00Z  (12h)  alice
            r  2026-01-09T20:00Z .. 2026-01-10T08:00Z  (12h)  carol
            r  2026-01-10T08:00Z .. 2026-01-11T12:00Z  (28h)  erin
        "#]],
    );
}

#[test]
fn windows_across_dst_keep_local_hours() {
    // The 20:00-08:00 night is 11 h on the spring-forward night, 13 h in autumn.
    let body = "rotas:
  r:
    members: [alice]
    start: 2026-01-01T00:00
    every: 1w
    active: [{days: [everyday], from: \"20:00\", to: \"08:00\"}]
";
    check(
        "Europe/London",
        body,
        "2026-03-28T12:00:00Z",
        "2026-03-30T12:00:00Z",
        expect![[r#"
        r  2026-03-28T12:00Z .. 2026-03-28T20:00Z  (8h)  -
        r  2026-03-28T20:00Z .. 2026-03-29T07:00Z  (11h)  alice
        r  2026-03-29T07:00Z .. 2026-03-29T19:00Z  (12h)  -
        r  2026-03-29T19:00Z .. 2026-03-30T07:00Z  (12h)  alice
        r  2026-03-30T07:00Z .. 2026-03-30T12:00Z  (5h)  -
    "#]],
    );
    check(
        "Europe/London",
        body,
        "2026-10-24T12:00:00Z",
        "2026-10-26T12:00:00Z",
        expect![[r#"
        r  2026-10-24T12:00Z .. 2026-10-24T19:00Z  (7h)  -
        r  2026-10-24T19:00Z .. 2026-10-25T08:00Z  (13h)  alice
        r  2026-10-25T08:00Z .. 2026-10-25T20:00Z  (12h)  -
        r  2026-10-25T20:00Z .. 2026-10-26T08:00Z  (12h)  alice
        r  2026-10-26T08:00Z .. 2026-10-26T12:00Z  (4h)  -
    "#]],
    );
}

#[test]
fn full_override_and_swap() {
    // dave covers everything on the 2nd; erin swaps in for bob only.
    check(
        "Europe/London",
        "rotas:
  r:
    members: [alice, bob]
    start: 2026-06-01T09:00
    every: 1d
overrides:
  - {rota: r, user: dave, from: 2026-06-02T12:00, to: 2026-06-03T12:00}
  - {rota: r, user: erin, instead_of: bob, from: 2026-06-03T00:00, to: 2026-06-05T00:00}
",
        "2026-06-01T00:00:00Z",
        "2026-06-06T00:00:00Z",
        expect![[r#"
            r  2026-06-01T00:00Z .. 2026-06-01T08:00Z  (8h)  -
            r  2026-06-01T08:00Z .. 2026-06-02T08:00Z  (24h)  alice
            r  2026-06-02T08:00Z .. 2026-06-02T11:00Z  (3h)  bob
            r  2026-06-02T11:00Z .. 2026-06-02T23:00Z  (12h)  dave
            r  2026-06-02T23:00Z .. 2026-06-03T08:00Z  (9h)  erin
            r  2026-06-03T08:00Z .. 2026-06-03T11:00Z  (3h)  dave
            r  2026-06-03T11:00Z .. 2026-06-04T08:00Z  (21h)  alice
            r  2026-06-04T08:00Z .. 2026-06-04T23:00Z  (15h)  erin
            r  2026-06-04T23:00Z .. 2026-06-05T08:00Z  (9h)  bob
            r  2026-06-05T08:00Z .. 2026-06-06T00:00Z  (16h)  alice
        "#]],
    );
}

#[test]
fn later_override_wins_and_swap_matches_the_scheduled_person() {
    // The swap names alice, who is scheduled (before overrides) on the 1st, so
    // it applies over the earlier full override; carol's later cover wins over both.
    check(
        "Europe/London",
        "rotas:
  r:
    members: [alice, bob]
    start: 2026-06-01T09:00
    every: 1d
overrides:
  - {rota: r, user: dave, from: 2026-06-01T10:00, to: 2026-06-01T20:00}
  - {rota: r, user: erin, instead_of: alice, from: 2026-06-01T12:00, to: 2026-06-01T14:00}
  - {rota: r, user: carol, from: 2026-06-01T13:00, to: 2026-06-01T13:30}
",
        "2026-06-01T08:00:00Z",
        "2026-06-01T20:00:00Z",
        expect![[r#"
            r  2026-06-01T08:00Z .. 2026-06-01T09:00Z  (1h)  alice
            r  2026-06-01T09:00Z .. 2026-06-01T11:00Z  (2h)  dave
            r  2026-06-01T11:00Z .. 2026-06-01T12:00Z  (1h)  erin
            r  2026-06-01T12:00Z .. 2026-06-01T12:30Z  (0.5h)  carol
            r  2026-06-01T12:30Z .. 2026-06-01T13:00Z  (0.5h)  erin
            r  2026-06-01T13:00Z .. 2026-06-01T19:00Z  (6h)  dave
            r  2026-06-01T19:00Z .. 2026-06-01T20:00Z  (1h)  alice
        "#]],
    );
}

#[test]
fn override_past_the_window_and_before_the_start() {
    // The window starts before the rota does (a gap, shown as -), and the
    // override runs past the window's end: both are clipped to the window.
    check(
        "Europe/London",
        "rotas:
  r:
    members: [alice, bob]
    start: 2026-06-01T09:00
    every: 1w
overrides:
  - {rota: r, user: carol, from: 2026-06-03T00:00, to: 2026-07-01T00:00}
",
        "2026-05-31T00:00:00Z",
        "2026-06-05T00:00:00Z",
        expect![[r#"
            r  2026-05-31T00:00Z .. 2026-06-01T08:00Z  (32h)  -
            r  2026-06-01T08:00Z .. 2026-06-02T23:00Z  (39h)  alice
            r  2026-06-02T23:00Z .. 2026-06-05T00:00Z  (49h)  carol
        "#]],
    );
}

#[test]
fn override_from_a_cover_file_comes_after_the_team_file() {
    let team = "team: t
timezone: Europe/London
rotas:
  r: {members: [alice, bob], start: 2026-06-01T09:00, every: 1w}
overrides:
  - {rota: r, user: dave, from: 2026-06-02T00:00, to: 2026-06-03T00:00}
";
    let cover = "team: t
overrides:
  - {rota: r, user: erin, from: 2026-06-02T12:00, to: 2026-06-04T00:00}
";
    // In name order, as `load_dir` reads them: "t-cover" sorts before "t.yaml".
    let loaded = oncall::config::load_texts(&[
        ("people.yaml", crate::support::PEOPLE),
        ("t-cover.yaml", cover),
        ("t.yaml", team),
    ]);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    expect![[r#"
        r  2026-06-01T00:00Z .. 2026-06-01T08:00Z  (8h)  -
        r  2026-06-01T08:00Z .. 2026-06-01T23:00Z  (15h)  alice
        r  2026-06-01T23:00Z .. 2026-06-02T11:00Z  (12h)  dave
        r  2026-06-02T11:00Z .. 2026-06-03T23:00Z  (36h)  erin
        r  2026-06-03T23:00Z .. 2026-06-05T00:00Z  (25h)  alice
    "#]]
    .assert_eq(&render(&loaded, "2026-06-01T00:00:00Z", "2026-06-05T00:00:00Z"));
}

#[test]
fn several_rotas_and_teams() {
    let a = "team: a\ntimezone: Europe/London\nrotas:\n  one: {members: [alice], start: 2026-01-01T00:00, every: 1w}\n  two: {members: [bob, carol], start: 2026-01-01T00:00, every: 1d}\n";
    let b =
        "team: b\ntimezone: America/New_York\nrotas:\n  one: {members: [dave], start: 2026-01-01T00:00, every: 1w}\n";
    let loaded = oncall::config::load_texts(&[("people.yaml", crate::support::PEOPLE), ("a.yaml", a), ("b.yaml", b)]);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let at = crate::support::at("2026-01-02T12:00:00Z");
    let who: Vec<String> = loaded
        .schedule
        .who(at, None)
        .into_iter()
        .map(|(t, r, u)| format!("{t}/{r}={}", u.map(String::as_str).unwrap_or_default()))
        .collect();
    assert_eq!(who, ["a/one=alice", "a/two=carol", "b/one=dave"]);
}

#[test]
fn except_skips_a_handoff() {
    // No hand-off on the 3rd: bob keeps it a second day, then carol as usual.
    check(
        "Europe/London",
        "rotas:\n  r:\n    members: [alice, bob, carol]\n    start: 2026-06-01T09:00\n    every: 1d\n    except: [2026-06-03T09:00]\n",
        "2026-06-01T00:00:00Z",
        "2026-06-06T00:00:00Z",
        expect![[r#"
            r  2026-06-01T00:00Z .. 2026-06-01T08:00Z  (8h)  -
            r  2026-06-01T08:00Z .. 2026-06-02T08:00Z  (24h)  alice
            r  2026-06-02T08:00Z .. 2026-06-04T08:00Z  (48h)  bob
            r  2026-06-04T08:00Z .. 2026-06-05T08:00Z  (24h)  carol
            r  2026-06-05T08:00Z .. 2026-06-06T00:00Z  (16h)  alice
        "#]],
    );
}

#[test]
fn until_ends_the_rotation_and_the_last_member_stays() {
    // UNTIL is local wall-clock time, like the rest of the rule.
    check(
        "Europe/London",
        "rotas:\n  r:\n    members: [alice, bob, carol]\n    start: 2026-06-01T09:00\n    handoff: FREQ=DAILY;UNTIL=20260602T090000\n",
        "2026-06-01T00:00:00Z",
        "2026-06-05T00:00:00Z",
        expect![[r#"
            r  2026-06-01T00:00Z .. 2026-06-01T08:00Z  (8h)  -
            r  2026-06-01T08:00Z .. 2026-06-02T08:00Z  (24h)  alice
            r  2026-06-02T08:00Z .. 2026-06-05T00:00Z  (64h)  bob
        "#]],
    );
}

#[test]
fn monthly_rule_first_monday() {
    check(
        "Europe/London",
        "rotas:\n  r:\n    members: [alice, bob]\n    start: 2026-01-05T09:00\n    handoff: FREQ=MONTHLY;BYDAY=1MO\n",
        "2026-01-01T00:00:00Z",
        "2026-05-01T00:00:00Z",
        expect![[r#"
            r  2026-01-01T00:00Z .. 2026-01-05T09:00Z  (105h)  -
            r  2026-01-05T09:00Z .. 2026-02-02T09:00Z  (672h)  alice
            r  2026-02-02T09:00Z .. 2026-03-02T09:00Z  (672h)  bob
            r  2026-03-02T09:00Z .. 2026-04-06T08:00Z  (839h)  alice
            r  2026-04-06T08:00Z .. 2026-05-01T00:00Z  (592h)  bob
        "#]],
    );
}

#[test]
fn twice_daily_by_hour() {
    check(
        "America/New_York",
        "rotas:\n  r:\n    members: [alice, bob]\n    start: 2026-03-07T09:00\n    handoff: FREQ=DAILY;BYHOUR=9,21\n",
        "2026-03-07T00:00:00Z",
        "2026-03-10T00:00:00Z",
        expect![[r#"
            r  2026-03-07T00:00Z .. 2026-03-07T14:00Z  (14h)  -
            r  2026-03-07T14:00Z .. 2026-03-08T02:00Z  (12h)  alice
            r  2026-03-08T02:00Z .. 2026-03-08T13:00Z  (11h)  bob
            r  2026-03-08T13:00Z .. 2026-03-09T01:00Z  (12h)  alice
            r  2026-03-09T01:00Z .. 2026-03-09T13:00Z  (12h)  bob
            r  2026-03-09T13:00Z .. 2026-03-10T00:00Z  (11h)  alice
        "#]],
    );
}

#[test]
fn end_stops_a_rota_across_the_spring_change_in_london() {
    // Daily 09:00 hand-offs; `end` (local, 13:00 BST on the 30th) cuts alice's
    // second shift short and leaves a gap after it. The shift across the
    // change is 23 h.
    check(
        "Europe/London",
        "rotas:\n  r:\n    members: [alice, bob, carol]\n    start: 2026-03-27T09:00\n    end: 2026-03-30T13:00\n    every: 1d\n",
        "2026-03-27T00:00:00Z",
        "2026-03-31T00:00:00Z",
        expect![[r#"
            r  2026-03-27T00:00Z .. 2026-03-27T09:00Z  (9h)  -
            r  2026-03-27T09:00Z .. 2026-03-28T09:00Z  (24h)  alice
            r  2026-03-28T09:00Z .. 2026-03-29T08:00Z  (23h)  bob
            r  2026-03-29T08:00Z .. 2026-03-30T08:00Z  (24h)  carol
            r  2026-03-30T08:00Z .. 2026-03-30T12:00Z  (4h)  alice
            r  2026-03-30T12:00Z .. 2026-03-31T00:00Z  (12h)  -
        "#]],
    );
}

#[test]
fn end_in_the_spring_gap_is_read_like_an_override() {
    // 01:30 does not exist on 2026-03-29 in London: read as 01:30 GMT.
    check(
        "Europe/London",
        "rotas:\n  r:\n    members: [alice, bob]\n    start: 2026-03-28T00:00\n    end: 2026-03-29T01:30\n    every: 12h\n",
        "2026-03-28T00:00:00Z",
        "2026-03-29T06:00:00Z",
        expect![[r#"
            r  2026-03-28T00:00Z .. 2026-03-28T12:00Z  (12h)  alice
            r  2026-03-28T12:00Z .. 2026-03-29T00:00Z  (12h)  bob
            r  2026-03-29T00:00Z .. 2026-03-29T01:30Z  (1.5h)  alice
            r  2026-03-29T01:30Z .. 2026-03-29T06:00Z  (4.5h)  -
        "#]],
    );
}

#[test]
fn an_ended_layer_shows_the_one_below_in_new_york_in_autumn() {
    // The upper layer ends at an exact instant (the second 01:30 of 1
    // November, EST); the base layer shows through from then on.
    check(
        "America/New_York",
        "rotas:
  r:
    layers:
      - members: [erin]
        start: 2026-10-01T00:00
        every: 1w
      - members: [alice, bob]
        start: 2026-10-30T09:00
        end: 2026-11-01T01:30:00-05:00
        every: 1d
      - members: [carol, dave]
        start: 2026-11-02T09:00
        every: 1d
",
        "2026-10-30T00:00:00Z",
        "2026-11-04T00:00:00Z",
        expect![[r#"
            r  2026-10-30T00:00Z .. 2026-10-30T13:00Z  (13h)  erin
            r  2026-10-30T13:00Z .. 2026-10-31T13:00Z  (24h)  alice
            r  2026-10-31T13:00Z .. 2026-11-01T06:30Z  (17.5h)  bob
            r  2026-11-01T06:30Z .. 2026-11-02T14:00Z  (31.5h)  erin
            r  2026-11-02T14:00Z .. 2026-11-03T14:00Z  (24h)  carol
            r  2026-11-03T14:00Z .. 2026-11-04T00:00Z  (10h)  dave
        "#]],
    );
}

#[test]
fn a_turn_of_25_hours_keeps_local_time_in_london() {
    // `1d1h` and `90000s` are the same turn: an hour later each day, in local
    // time, so the turn across the spring change is 24 h and the one across
    // the autumn change 26 h.
    for every in ["1d1h", "90000s"] {
        check(
            "Europe/London",
            &format!("rotas:\n  r:\n    members: [alice, bob]\n    start: 2026-03-27T09:00\n    every: {every}\n"),
            "2026-03-27T00:00:00Z",
            "2026-03-31T00:00:00Z",
            expect![[r#"
                r  2026-03-27T00:00Z .. 2026-03-27T09:00Z  (9h)  -
                r  2026-03-27T09:00Z .. 2026-03-28T10:00Z  (25h)  alice
                r  2026-03-28T10:00Z .. 2026-03-29T10:00Z  (24h)  bob
                r  2026-03-29T10:00Z .. 2026-03-30T11:00Z  (25h)  alice
                r  2026-03-30T11:00Z .. 2026-03-31T00:00Z  (13h)  bob
            "#]],
        );
    }
    check(
        "Europe/London",
        "rotas:\n  r:\n    members: [alice, bob]\n    start: 2026-10-23T09:00\n    every: 90000s\n",
        "2026-10-23T00:00:00Z",
        "2026-10-27T00:00:00Z",
        expect![[r#"
            r  2026-10-23T00:00Z .. 2026-10-23T08:00Z  (8h)  -
            r  2026-10-23T08:00Z .. 2026-10-24T09:00Z  (25h)  alice
            r  2026-10-24T09:00Z .. 2026-10-25T11:00Z  (26h)  bob
            r  2026-10-25T11:00Z .. 2026-10-26T12:00Z  (25h)  alice
            r  2026-10-26T12:00Z .. 2026-10-27T00:00Z  (12h)  bob
        "#]],
    );
}

#[test]
fn a_turn_of_seconds_across_the_gap_in_new_york() {
    // A turn of 3605 s (PagerDuty's turns are in seconds): five seconds
    // later each hour. On 8 March 2026 02:00 EST becomes 03:00 EDT: the
    // 02:00:15 hand-off does not exist and is read as EST, 07:00:15 UTC, five
    // seconds before the next one (03:00:20 EDT): alice's turn is 5 s long.
    let loaded = team(
        "America/New_York",
        "rotas:\n  r:\n    members: [alice, bob, carol]\n    start: 2026-03-07T23:00:00\n    every: 3605s\n",
    );
    let shifts = loaded
        .schedule
        .shifts(Span::new(at("2026-03-08T05:00:00Z"), at("2026-03-08T09:00:00Z")), None);
    let text: String = shifts
        .iter()
        .map(|s| {
            format!(
                "{} .. {}  {}s  {}\n",
                s.tile.span.start.format("%H:%M:%S"),
                s.tile.span.end.format("%H:%M:%S"),
                s.tile.span.duration().num_seconds(),
                s.tile.user.as_deref().unwrap_or("-")
            )
        })
        .collect();
    expect![[r#"
        05:00:00 .. 05:00:05  5s  alice
        05:00:05 .. 06:00:10  3605s  bob
        06:00:10 .. 07:00:15  3605s  carol
        07:00:15 .. 07:00:20  5s  alice
        07:00:20 .. 08:00:25  3605s  bob
        08:00:25 .. 09:00:00  3575s  carol
    "#]]
    .assert_eq(&text);
    // Two days and two hours: local 09:00, 11:00, 13:00 across the autumn change.
    check(
        "America/New_York",
        "rotas:\n  r:\n    members: [alice, bob]\n    start: 2026-10-28T09:00\n    every: 2d2h\n",
        "2026-10-28T00:00:00Z",
        "2026-11-04T00:00:00Z",
        expect![[r#"
            r  2026-10-28T00:00Z .. 2026-10-28T13:00Z  (13h)  -
            r  2026-10-28T13:00Z .. 2026-10-30T15:00Z  (50h)  alice
            r  2026-10-30T15:00Z .. 2026-11-01T18:00Z  (51h)  bob
            r  2026-11-01T18:00Z .. 2026-11-03T20:00Z  (50h)  alice
            r  2026-11-03T20:00Z .. 2026-11-04T00:00Z  (4h)  bob
        "#]],
    );
}

#[test]
fn a_weekend_window_across_the_spring_change_in_london() {
    // Friday 18:00 to Monday 08:00, wrapping the week: over the weekend the
    // clocks go forward, so it is 61 h, not 62. Underneath, erin.
    check(
        "Europe/London",
        "rotas:
  r:
    layers:
      - {members: [erin], start: 2026-01-01T00:00, every: 1w}
      - members: [alice, bob]
        start: 2026-03-20T18:00
        every: 1w
        active: [{from: \"fri 18:00\", to: \"mon 08:00\"}]
",
        "2026-03-26T00:00:00Z",
        "2026-04-04T00:00:00Z",
        expect![[r#"
            r  2026-03-26T00:00Z .. 2026-03-27T18:00Z  (42h)  erin
            r  2026-03-27T18:00Z .. 2026-03-30T07:00Z  (61h)  bob
            r  2026-03-30T07:00Z .. 2026-04-03T17:00Z  (106h)  erin
            r  2026-04-03T17:00Z .. 2026-04-04T00:00Z  (7h)  alice
        "#]],
    );
}

#[test]
fn weekday_and_weekend_windows_across_the_autumn_change_in_new_york() {
    // Monday 09:00 to Friday 17:00 and Friday 17:00 to Monday 09:00: the
    // weekend of 1 November 2026 is an hour longer (65 h), the working week
    // 104 h either side.
    check(
        "America/New_York",
        "rotas:
  r:
    layers:
      - members: [alice, bob]
        start: 2026-10-19T09:00
        every: 1w
        active: [{from: \"mon 09:00\", to: \"fri 17:00\"}]
      - members: [carol, dave]
        start: 2026-10-23T17:00
        every: 1w
        active: [{from: \"Friday 17:00\", to: \"Monday 9:00\"}]
",
        "2026-10-26T00:00:00Z",
        "2026-11-10T00:00:00Z",
        expect![[r#"
            r  2026-10-26T00:00Z .. 2026-10-26T13:00Z  (13h)  carol
            r  2026-10-26T13:00Z .. 2026-10-30T21:00Z  (104h)  bob
            r  2026-10-30T21:00Z .. 2026-11-02T14:00Z  (65h)  dave
            r  2026-11-02T14:00Z .. 2026-11-06T22:00Z  (104h)  alice
            r  2026-11-06T22:00Z .. 2026-11-09T14:00Z  (64h)  carol
            r  2026-11-09T14:00Z .. 2026-11-10T00:00Z  (10h)  bob
        "#]],
    );
}

#[test]
fn a_window_of_six_days_and_23_hours() {
    // Wednesday 10:00 to the next Wednesday 09:00: off one hour a week, the
    // hour read in local time across the London autumn change.
    check(
        "Europe/London",
        "rotas:\n  r:\n    members: [alice]\n    start: 2026-10-01T00:00\n    every: 1w\n    active: [{from: \"wed 10:00\", to: \"wed 09:00\"}]\n",
        "2026-10-20T00:00:00Z",
        "2026-11-05T00:00:00Z",
        expect![[r#"
            r  2026-10-20T00:00Z .. 2026-10-21T08:00Z  (32h)  alice
            r  2026-10-21T08:00Z .. 2026-10-21T09:00Z  (1h)  -
            r  2026-10-21T09:00Z .. 2026-10-28T09:00Z  (168h)  alice
            r  2026-10-28T09:00Z .. 2026-10-28T10:00Z  (1h)  -
            r  2026-10-28T10:00Z .. 2026-11-04T09:00Z  (167h)  alice
            r  2026-11-04T09:00Z .. 2026-11-04T10:00Z  (1h)  -
            r  2026-11-04T10:00Z .. 2026-11-05T00:00Z  (14h)  alice
        "#]],
    );
}

#[test]
fn first_starts_the_rotation_from_a_member() {
    // carol from the start, then on in the order written: dave, alice, bob.
    check(
        "Europe/London",
        "rotas:\n  r:\n    members: [alice, bob, carol, dave]\n    first: carol\n    start: 2026-03-16T09:00\n    every: 1w\n",
        "2026-03-16T00:00:00Z",
        "2026-04-14T00:00:00Z",
        expect![[r#"
            r  2026-03-16T00:00Z .. 2026-03-16T09:00Z  (9h)  -
            r  2026-03-16T09:00Z .. 2026-03-23T09:00Z  (168h)  carol
            r  2026-03-23T09:00Z .. 2026-03-30T08:00Z  (167h)  dave
            r  2026-03-30T08:00Z .. 2026-04-06T08:00Z  (168h)  alice
            r  2026-04-06T08:00Z .. 2026-04-13T08:00Z  (168h)  bob
            r  2026-04-13T08:00Z .. 2026-04-14T00:00Z  (16h)  carol
        "#]],
    );
}

/// A rota's turns (crews) within `[from, to)`, one a line, a group's people
/// joined by `+`.
fn turns(loaded: &oncall::config::Loaded, from: &str, to: &str) -> String {
    let rota = &loaded.schedule.teams[0].rotas[0];
    rota.turns(Span::new(at(from), at(to)))
        .iter()
        .map(|t| {
            format!(
                "{} .. {}  {}\n",
                t.span.start.format("%Y-%m-%dT%H:%MZ"),
                t.span.end.format("%Y-%m-%dT%H:%MZ"),
                t.user.as_ref().map_or("-".to_string(), |crew| crew.join("+"))
            )
        })
        .collect()
}

#[test]
fn a_group_is_on_call_together_and_each_has_their_shifts() {
    // [alice, bob] and carol take daily turns, then [alice, dave]: alice is
    // on call through two turns in a row, one shift across them.
    let loaded = team(
        "Europe/London",
        "rotas:\n  r:\n    members: [[alice, bob], carol, [alice, dave]]\n    start: 2026-06-01T09:00\n    every: 1d\n",
    );
    expect![[r#"
        2026-06-01T00:00Z .. 2026-06-01T08:00Z  -
        2026-06-01T08:00Z .. 2026-06-02T08:00Z  alice+bob
        2026-06-02T08:00Z .. 2026-06-03T08:00Z  carol
        2026-06-03T08:00Z .. 2026-06-04T08:00Z  alice+dave
        2026-06-04T08:00Z .. 2026-06-05T08:00Z  alice+bob
        2026-06-05T08:00Z .. 2026-06-06T00:00Z  carol
    "#]]
    .assert_eq(&turns(&loaded, "2026-06-01T00:00:00Z", "2026-06-06T00:00:00Z"));
    expect![[r#"
        r  2026-06-01T00:00Z .. 2026-06-01T08:00Z  (8h)  -
        r  2026-06-01T08:00Z .. 2026-06-02T08:00Z  (24h)  alice
        r  2026-06-01T08:00Z .. 2026-06-02T08:00Z  (24h)  bob
        r  2026-06-02T08:00Z .. 2026-06-03T08:00Z  (24h)  carol
        r  2026-06-03T08:00Z .. 2026-06-05T08:00Z  (48h)  alice
        r  2026-06-03T08:00Z .. 2026-06-04T08:00Z  (24h)  dave
        r  2026-06-04T08:00Z .. 2026-06-05T08:00Z  (24h)  bob
        r  2026-06-05T08:00Z .. 2026-06-06T00:00Z  (16h)  carol
    "#]]
    .assert_eq(&render(&loaded, "2026-06-01T00:00:00Z", "2026-06-06T00:00:00Z"));
    let rota = &loaded.schedule.teams[0].rotas[0];
    let noon = at("2026-06-03T12:00:00Z");
    assert_eq!(rota.on_call(noon), ["alice", "dave"]);
    assert_eq!(rota.on_call_at(noon).map(String::as_str), Some("alice"));
    let who: Vec<String> = loaded
        .schedule
        .who(noon, None)
        .into_iter()
        .map(|(_, r, u)| format!("{r}={}", u.map(String::as_str).unwrap_or("-")))
        .collect();
    assert_eq!(who, ["r=alice", "r=dave"]);
}

#[test]
fn overrides_on_a_group_fill_seats() {
    // The turn of [alice, bob] on 1 June (09:00 BST to 09:00 BST the next
    // day, 08:00 to 08:00 UTC), in local time:
    // - 10:00-12:00 erin swaps in for alice, and 11:00-13:00 dave for bob:
    //   erin and dave together from 11:00 to 12:00;
    // - 14:00-16:00 carol covers the whole turn (she is no member here);
    // - 15:00-17:00, after it, erin swaps in for alice: erin in alice's seat
    //   and carol in bob's until 16:00, then erin and bob;
    // - 18:00-19:00 bob swaps in for alice: bob alone (he holds both seats).
    // On 2 June, dave's turn, a swap for alice does nothing.
    let loaded = team(
        "Europe/London",
        "rotas:\n  r:\n    members: [[alice, bob], dave]\n    start: 2026-06-01T09:00\n    every: 1d\n\
         overrides:\n\
         \x20 - {rota: r, user: erin, instead_of: alice, from: 2026-06-01T10:00, to: 2026-06-01T12:00}\n\
         \x20 - {rota: r, user: dave, instead_of: bob, from: 2026-06-01T11:00, to: 2026-06-01T13:00}\n\
         \x20 - {rota: r, user: carol, from: 2026-06-01T14:00, to: 2026-06-01T16:00}\n\
         \x20 - {rota: r, user: erin, instead_of: alice, from: 2026-06-01T15:00, to: 2026-06-01T17:00}\n\
         \x20 - {rota: r, user: bob, instead_of: alice, from: 2026-06-01T18:00, to: 2026-06-01T19:00}\n\
         \x20 - {rota: r, user: erin, instead_of: alice, from: 2026-06-02T10:00, to: 2026-06-02T11:00}\n",
    );
    expect![[r#"
        2026-06-01T08:00Z .. 2026-06-01T09:00Z  alice+bob
        2026-06-01T09:00Z .. 2026-06-01T10:00Z  erin+bob
        2026-06-01T10:00Z .. 2026-06-01T11:00Z  erin+dave
        2026-06-01T11:00Z .. 2026-06-01T12:00Z  alice+dave
        2026-06-01T12:00Z .. 2026-06-01T13:00Z  alice+bob
        2026-06-01T13:00Z .. 2026-06-01T14:00Z  carol
        2026-06-01T14:00Z .. 2026-06-01T15:00Z  erin+carol
        2026-06-01T15:00Z .. 2026-06-01T16:00Z  erin+bob
        2026-06-01T16:00Z .. 2026-06-01T17:00Z  alice+bob
        2026-06-01T17:00Z .. 2026-06-01T18:00Z  bob
        2026-06-01T18:00Z .. 2026-06-02T08:00Z  alice+bob
        2026-06-02T08:00Z .. 2026-06-02T12:00Z  dave
    "#]]
    .assert_eq(&turns(&loaded, "2026-06-01T08:00:00Z", "2026-06-02T12:00:00Z"));
}
