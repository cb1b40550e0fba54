//! `oncall check`'s findings: every problem of every file, each at its
//! `file:line:col`, with a suggestion where a typo is likely.

use expect_test::{Expect, expect};
use oncall::config;

use crate::support::PEOPLE;

fn check(files: &[(&str, &str)], expected: Expect) {
    let mut all = vec![("people.yaml", PEOPLE)];
    all.extend_from_slice(files);
    let loaded = config::load_texts(&all);
    let text: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    expected.assert_eq(&(text.join("\n") + "\n"));
}

#[test]
fn every_problem_is_reported_with_its_place() {
    check(
        &[(
            "pay.yaml",
            "team: payments
timezone: Europe/Londn
rotas:
  primary:
    mebmers: [alice]
    start: 2026-01-05T09:00
    handoff: FREQ=WEEKLY;BYDAY=MO
  secondary:
    members: [alice, bbo, zed]
    start: 2026-13-05T09:00
    handoff: FREQ=FORTNIGHTLY
  secondary:
    members: [carol]
    start: 2026-01-05T09:00
    every: 1w
",
        )],
        expect![[r#"
            pay.yaml:2:11: error: unknown time zone `Europe/Londn`; did you mean `Europe/London`?
            pay.yaml:5:5: error: unknown key `mebmers` in rota primary; did you mean `members`?
            pay.yaml:5:5: error: rota primary needs `members`
            pay.yaml:9:22: error: unknown person `bbo`; did you mean `bob`?
            pay.yaml:9:27: error: unknown person `zed`: add them to people.yaml
            pay.yaml:10:12: error: `2026-13-05T09:00` is not a time: write local time as 2026-01-05T09:00, or an exact time as 2026-01-05T09:00:00Z
            pay.yaml:11:14: error: rota secondary: invalid RRULE: `FREQ=FORTNIGHTLY`: expected one of SECONDLY, MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY, YEARLY
            pay.yaml:12:3: error: duplicate rota `secondary` in team payments (first at line 8)
        "#]],
    );
}

#[test]
fn overrides_and_windows_are_checked() {
    check(
        &[(
            "t.yaml",
            "team: t
timezone: Europe/London
rotas:
  r:
    members: [alice, bob]
    start: 2026-01-05T09:00
    every: 1d
    active: [{days: [mon, tuesday, funday], from: \"08:00\", to: \"25:00\"}]
overrides:
  - {rota: prmary, user: alice, from: 2026-01-10T00:00, to: 2026-01-11T00:00}
  - {rota: r, user: carol, from: 2026-01-12T00:00, to: 2026-01-11T00:00}
  - {rota: r, user: dave, instead_of: erin, from: 2026-01-12T00:00, to: 2026-01-13T00:00}
escalation:
  steps:
    - notify: [rota:r, user:zoe, pager:bob]
    - after: soon
      notify: [team:nope]
  repeat: 2
",
        )],
        expect![[r#"
            t.yaml:8:36: error: `funday` is not a day: use mon, tue, wed, thu, fri, sat, sun, weekdays, weekends or everyday
            t.yaml:8:64: error: `25:00` is not a time of day: write it as HH:MM, 00:00 to 24:00
            t.yaml:10:12: error: unknown rota `prmary` in team t: it has r
            t.yaml:11:52: error: this override ends (2026-01-11T00:00:00Z) at or before its start (2026-01-12T00:00:00Z)
            t.yaml:15:24: error: unknown person `zoe`: add them to people.yaml
            t.yaml:15:34: error: `pager:bob` is not a target: write rota:NAME, user:NAME or team:NAME
            t.yaml:16:14: error: `soon` is not a duration: write it like 30s, 15m, 2h, 1h30m, 1d or 1w
            t.yaml:17:16: error: unknown team `nope`: no team file defines it
        "#]],
    );
}

#[test]
fn files_that_are_not_rotas() {
    check(
        &[
            ("broken.yaml", "team: t\nrotas: [unclosed\n"),
            ("other.yaml", "name: something else\n"),
            ("cover.yaml", "team: nobody\noverrides: []\n"),
            (
                "twice.yaml",
                "team: x\ntimezone: UTC\nrotas:\n  r: {members: [alice], start: 2026-01-01T00:00, every: 1w}\n",
            ),
            (
                "twice2.yaml",
                "team: x\ntimezone: UTC\nrotas:\n  r: {members: [alice], start: 2026-01-01T00:00, every: 1w}\n",
            ),
        ],
        expect![[r#"
            broken.yaml:3:1: error: YAML syntax: while parsing a flow sequence, expected ',' or ']'
            cover.yaml:1:7: error: unknown team `nobody`: no team file defines it
            other.yaml:1:1: error: expected `team:` (a team's rotas) or `people:` (everyone who can be paged) at the top of the file
            twice2.yaml:1:7: error: team x is already defined at twice.yaml:1
        "#]],
    );
}

#[test]
fn rules_that_cannot_work() {
    check(
        &[(
            "t.yaml",
            "team: t
timezone: UTC
rotas:
  never:
    members: [alice]
    start: 2026-01-01T00:00
    handoff: FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30
  too-fast:
    members: [alice]
    start: 2026-01-01T00:00
    handoff: FREQ=SECONDLY
  both:
    members: [alice]
    start: 2026-01-01T00:00
    handoff: FREQ=DAILY
    every: 1d
  neither:
    members: []
    start: 2026-01-01
",
        )],
        expect![[r#"
            t.yaml:7:14: error: rota never: the rule never hands off after the rota's start
            t.yaml:11:14: error: rota too-fast: FREQ=SECONDLY is not supported: shifts that short cannot be staffed
            t.yaml:16:12: error: rota both has both `handoff` and `every`: keep one
            t.yaml:18:5: error: rota neither needs `handoff` (an RRULE such as FREQ=WEEKLY;BYDAY=MO) or `every` (such as 1w)
            t.yaml:18:14: error: rota neither has no members
        "#]],
    );
}

#[test]
fn people_are_checked() {
    let people = "people:
  ann: {name: Ann, phone: \"07700900001\"}
  ben: {name: Ben, emial: ben@example.com}
  cat: {name: Cat, email: not-an-address, timezone: Mars/Olympus}
  ann: {name: Ann again, email: ann@example.com}
";
    let loaded = config::load_texts(&[("people.yaml", people)]);
    let text: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    expect![[r#"
        people.yaml:2:27: error: `07700900001` is not an E.164 phone number: write it with the country code, like +447700900001 (quote it in YAML)
        people.yaml:3:20: error: unknown key `emial` in person ben; did you mean `email`?
        people.yaml:4:27: error: `not-an-address` is not an email address
        people.yaml:4:53: error: unknown time zone `Mars/Olympus`: use an IANA name such as Europe/London
        people.yaml:5:3: error: ann is already listed at people.yaml:2
    "#]].assert_eq(&(text.join("\n") + "\n"));
}

#[test]
fn the_examples_pass() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schedules");
    let loaded = config::load_dir(&dir).unwrap();
    let text: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(text.is_empty(), "{}", text.join("\n"));
    assert!(loaded.schedule.teams.len() >= 2);
}

#[test]
fn a_team_without_overrides_has_no_gap_warnings_when_covered() {
    let team = "team: t\ntimezone: UTC\nrotas:\n  r: {members: [alice], start: 2026-01-01T00:00, every: 1w}\n";
    let loaded = config::load_texts(&[("people.yaml", PEOPLE), ("t.yaml", team)]);
    let now = crate::support::at("2026-06-01T00:00:00Z");
    assert!(config::coverage_warnings(&loaded, now, chrono::Duration::days(90)).is_empty());
    // Before the start, there is a gap, and it is reported at the rota.
    let now = crate::support::at("2025-12-01T00:00:00Z");
    let warnings: Vec<String> = config::coverage_warnings(&loaded, now, chrono::Duration::days(90))
        .iter()
        .map(|d| d.to_string())
        .collect();
    expect!["t.yaml:4:3: warning: rota t/r has nobody on call from 2025-12-01T00:00:00Z to 2026-01-01T00:00:00Z (31d in the next 90 days)"].assert_eq(&warnings.join("\n"));
}

#[test]
fn things_that_would_silently_do_nothing() {
    check(
        &[(
            "t.yaml",
            "team: t
timezone: Europe/London
rotas:
  r:
    members: [alice, bob]
    start: 2026-06-01T09:00
    every: 1d
    except: [2026-06-02T10:00, 2026-06-03T09:00]
  w:
    members: [alice]
    start: 2026-06-01T09:00
    every: 1d
    active: [{days: [], from: \"08:00\", to: \"09:00\"}, {days: [mon], from: \"24:00\"}]
  fold:
    members: [alice]
    start: 2026-10-25T01:30:00Z
    every: 1d
overrides:
  - {rota: r, user: bob, from: 2026-06-05T10:00, to: 2026-06-05T10:00}
",
        )],
        expect![[r#"
            t.yaml:8:14: warning: rota r has no hand-off at 2026-06-02T10:00 to skip, so this `except` does nothing
            t.yaml:13:21: error: `days` is empty: the window would never open
            t.yaml:13:68: error: an active window cannot start at 24:00: write 00:00 and the next day
            t.yaml:16:12: error: start 2026-10-25T01:30:00Z is the second 01:30 of a repeated hour in Europe/London; hand-offs are wall-clock times, so pick a time that happens once
            t.yaml:19:50: error: this override ends (2026-06-05T09:00:00Z) at or before its start (2026-06-05T09:00:00Z)
        "#]],
    );
}

#[test]
fn heartbeats_and_maintenance_are_checked() {
    check(
        &[(
            "t.yaml",
            "team: t
timezone: Europe/London
rotas:
  r: {members: [alice], start: 2026-01-05T09:00, every: 1w}
heartbeats:
  backup: {interval: 24h, grace: 1h, summary: Nightly backup did not finish}
  never: {interval: 0}
  sloppy: {intervl: 1h}
  bad name!: {interval: 1h}
  weekly: {interval: 1 week, grace: soon}
  backup: {interval: 1h}
maintenance:
  - {from: 2026-06-02T01:00, to: 2026-06-02T03:00, reason: database upgrade}
  - {from: 2026-06-02T03:00, to: 2026-06-02T01:00, reason: backwards}
  - {from: 2026-06-02T01:00Z, until: 2026-06-02T03:00Z}
  - {from: tomorrow, to: 2026-06-02T03:00:00+01:00, reason: x}
",
        )],
        expect![[r#"
            t.yaml:7:11: error: heartbeat never needs an `interval` longer than 0, such as 24h
            t.yaml:8:11: error: heartbeat sloppy needs `interval`
            t.yaml:8:12: error: unknown key `intervl` in heartbeat sloppy; did you mean `interval`?
            t.yaml:9:3: error: `bad name!` is not a usable heartbeat name: use letters, digits, `-`, `_` or `.`
            t.yaml:10:22: error: `1 week` is not a duration: write it like 30s, 15m, 2h, 1h30m, 1d or 1w
            t.yaml:10:37: error: `soon` is not a duration: write it like 30s, 15m, 2h, 1h30m, 1d or 1w
            t.yaml:11:3: error: duplicate heartbeat `backup` in team t (first at line 6)
            t.yaml:14:30: error: this maintenance window ends (2026-06-02T00:00:00Z) at or before its start (2026-06-02T02:00:00Z)
            t.yaml:15:5: error: a maintenance window needs `to`
            t.yaml:15:5: error: a maintenance window needs `reason`
            t.yaml:15:31: error: unknown key `until` in a maintenance window; expected one of: from, to, reason
            t.yaml:16:12: error: `tomorrow` is not a time: write local time as 2026-01-05T09:00, or an exact time as 2026-01-05T09:00:00Z
        "#]],
    );
    let loaded = config::load_texts(&[
        ("people.yaml", PEOPLE),
        (
            "t.yaml",
            "team: t
timezone: Europe/London
rotas:
  r: {members: [alice], start: 2026-01-05T09:00, every: 1w}
heartbeats:
  backup: {interval: 24h, grace: 1h, severity: critical}
  cron: {interval: 15m}
maintenance:
  - {from: 2026-06-02T01:00, to: 2026-06-02T03:00:00Z, reason: database upgrade}
",
        ),
    ]);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let team = &loaded.schedule.teams[0];
    let names: Vec<(&str, i64, i64)> = team
        .heartbeats
        .iter()
        .map(|h| (h.name.as_str(), h.interval.num_minutes(), h.grace.num_minutes()))
        .collect();
    assert_eq!(names, [("backup", 1440, 60), ("cron", 15, 0)]);
    assert_eq!(team.heartbeats[0].severity.as_deref(), Some("critical"));
    let span = team.maintenance[0].span;
    // 01:00 London in June is 00:00 UTC.
    assert_eq!(
        (span.start.to_rfc3339(), span.end.to_rfc3339()),
        ("2026-06-02T00:00:00+00:00".into(), "2026-06-02T03:00:00+00:00".into())
    );
}

/// Notification rules, quiet hours and escalation options: mistakes are
/// errors at their place; rules that would leave someone unreachable are
/// warnings from `oncall check`.
#[test]
fn notification_rules_are_checked() {
    let people = "people:
  alice: {email: alice@example.com, notify: [push, emial after 5m, sms after soon]}
  bob: {phone: '+447700900002', notify: [sms], quiet_hours: {from: '22:00', to: '07:00'}}
  carol: {name: Carol, notify: {critical: [email], urgent: [sms]}}
  dave: {email: dave@example.com, webhook: 'hooks.example.com/x'}
";
    let team = "team: t
timezone: Europe/London
handoff_notices: [start, the_day_before]
rotas:
  r: {members: [bob, carol], start: 2026-01-05T09:00, every: 1w}
escalation:
  steps:
    - {notify: [rota:r], round_robin: yes}
  ack_timeout: half an hour
";
    let loaded = config::load_texts(&[("people.yaml", people), ("t.yaml", team)]);
    let mut text: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    // (alice's rule for `push` with no `push` topic is `paging_warnings`'
    // to judge, with her Web Push devices: below.)
    expect![[r#"
        people.yaml:2:52: error: unknown contact method `emial`; did you mean `email`?
        people.yaml:2:68: error: `soon` is not a duration: write it like 30s, 15m, 2h, 1h30m, 1d or 1w
        people.yaml:3:61: warning: person bob has quiet hours but no `timezone`: they are read in the zone of the team that pages
        people.yaml:4:32: warning: person carol has a rule for `email` but no `email` to send it to
        people.yaml:4:32: warning: person carol has a rule for `sms` but no `phone` to send it to
        people.yaml:5:44: error: `hooks.example.com/x` is not a webhook URL: write it with https://
        t.yaml:3:26: error: unknown hand-off notice `the_day_before`: write `start` and/or `day_before` (or [] for none)
        t.yaml:8:39: error: `round_robin` should be true or false, found `yes`
        t.yaml:9:16: error: `half an hour` is not a duration: write it like 30s, 15m, 2h, 1h30m, 1d or 1w"#]]
    .assert_eq(&text.join("\n"));

    // The same people on a valid team: `oncall check`'s paging warnings.
    let people = "people:
  bob: {phone: '+447700900002', timezone: Europe/London, notify: [sms]}
  carol: {name: Carol, notify: {critical: [email], urgent: [sms]}}
  erin: {email: erin@example.com}
";
    let team = "team: t\ntimezone: Europe/London\nrotas:\n  r: {members: [bob, carol, erin], start: 2026-01-05T09:00, every: 1w}\n";
    let loaded = config::load_texts(&[("people.yaml", people), ("t.yaml", team)]);
    assert!(!loaded.has_errors());
    let settings = oncall::settings::Settings::resolve(Default::default(), Default::default()).unwrap();
    text = config::coverage_warnings(
        &loaded,
        crate::support::at("2026-06-01T00:00:00Z"),
        chrono::Duration::days(90),
    )
    .into_iter()
    .chain(config::paging_warnings(
        &loaded,
        &settings.severities,
        &settings.intensities,
        &Default::default(),
    ))
    .map(|d| d.to_string())
    .collect();
    expect![[r#"
        people.yaml:3:3: warning: carol is on t/r but has no way to be reached: give them an email, phone, push or webhook
        people.yaml:2:3: warning: bob (on t/r) can never be reached for `minor` alerts: those go by email, webhook only, and bob's rules and contacts give none of those
        people.yaml:3:3: warning: carol has notification rules for `urgent`, which is not a severity: minor, major, critical"#]]
    .assert_eq(&text.join("\n"));

    // Critical alerts by push only: erin (email, no ntfy topic) can never
    // be reached for them, unless a Web Push device of hers is subscribed
    // (which `oncall check` reads from the store).
    let mut intensities = settings.intensities.clone();
    intensities.get_mut("critical").unwrap().methods = vec![oncall::domain::paging::Method::Push];
    let unreachable = |devices: &std::collections::BTreeMap<String, Vec<String>>| -> Vec<String> {
        config::paging_warnings(&loaded, &settings.severities, &intensities, devices)
            .into_iter()
            .map(|d| d.to_string())
            .filter(|d| d.contains("erin") && d.contains("`critical`"))
            .collect()
    };
    expect![[r#"
        people.yaml:4:3: warning: erin (on t/r) can never be reached for `critical` alerts: those go by push only, and erin's rules and contacts give none of those"#]]
    .assert_eq(&unreachable(&Default::default()).join("\n"));
    let devices = [("erin".to_string(), vec!["webpush:7".to_string()])].into();
    assert_eq!(unreachable(&devices), Vec::<String>::new());
    // Someone else's device does not reach her.
    let devices = [("bob".to_string(), vec!["webpush:8".to_string()])].into();
    assert_eq!(unreachable(&devices).len(), 1);

    // A rule for `push` with no `push` (ntfy) topic: warned where the rule
    // is written, unless a Web Push device of the person's carries it.
    let people = "people:
  alice: {email: alice@example.com, notify: [push, email after 5m]}
  bob: {phone: '+447700900002', notify: [sms, push after 5m]}
";
    let team =
        "team: t\ntimezone: Europe/London\nrotas:\n  r: {members: [alice, bob], start: 2026-01-05T09:00, every: 1w}\n";
    let loaded = config::load_texts(&[("people.yaml", people), ("t.yaml", team)]);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let push_rules = |devices: &std::collections::BTreeMap<String, Vec<String>>| -> Vec<String> {
        let validated = config::validate_with_devices(&loaded, &settings.severities, &settings.intensities, devices);
        validated
            .warnings
            .into_iter()
            .map(|d| d.to_string())
            .filter(|d| d.contains("a rule for `push`"))
            .collect()
    };
    expect![[r#"
        people.yaml:2:45: warning: person alice has a rule for `push` but no `push` to send it to (and no Web Push device subscribed)
        people.yaml:3:41: warning: person bob has a rule for `push` but no `push` to send it to (and no Web Push device subscribed)"#]]
    .assert_eq(&push_rules(&Default::default()).join("\n"));
    let devices = [("alice".to_string(), vec!["webpush:3".to_string()])].into();
    expect!["people.yaml:3:41: warning: person bob has a rule for `push` but no `push` to send it to (and no Web Push device subscribed)"]
    .assert_eq(&push_rules(&devices).join("\n"));
}
