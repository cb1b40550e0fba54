//! Pay, data-driven: rota files and pay rules in, the month's rows out (one
//! line per row, hours by kind of day, then the money). `pay.yaml`'s
//! validation messages at the end. Update with `UPDATE_EXPECT=1 cargo test
//! --test it pay`, then read every change.

use expect_test::{Expect, expect};
use oncall::config::{self, Loaded};
use oncall::domain::pay::{self, By, Page, PayRules, Row};

use crate::support::at;

/// Everyone here works in England, except erin (Ireland).
const PEOPLE: &str = "people:
  alice: {name: Alice, email: alice@example.com, region: england}
  bob: {name: Bob, email: bob@example.com, region: england}
  carol: {name: Carol, email: carol@example.com, region: england}
  dave: {name: Dave, email: dave@example.com, region: england}
  erin: {name: Erin, email: erin@example.com, region: ireland}
";

/// Rates that make the arithmetic easy to follow: 10 an hour, weekends 1.5x,
/// nights 1.25x, holidays 2x.
const RULES: &str = "currency: EUR
payroll_timezone: Europe/London
rules:
  - {name: weekend, when: {days: weekends}, multiplier: 1.5}
  - {name: night, when: {days: everyday, from: \"20:00\", to: \"08:00\"}, multiplier: 1.25}
holidays:
  multiplier: 2
  regions:
    england: [2026-12-25, 2026-12-28]
    ireland: [2026-03-17]
";

fn load(teams: &[&str], pay_yaml: &str) -> (Loaded, PayRules) {
    let mut files = vec![("people.yaml", PEOPLE), ("pay.yaml", pay_yaml)];
    let names: Vec<String> = (0..teams.len()).map(|i| format!("t{i}.yaml")).collect();
    files.extend(names.iter().map(String::as_str).zip(teams.iter().copied()));
    let loaded = config::load_texts(&files);
    let pay = config::pay::decode(&loaded);
    let errors: Vec<String> = loaded
        .errors()
        .chain(pay.diagnostics.iter())
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "unexpected problems:\n{}", errors.join("\n"));
    let rules = pay.rules.expect("pay rules");
    (loaded, rules)
}

fn hours(seconds: i64) -> String {
    format!("{}h", seconds as f64 / 3600.0)
}

fn render(rows: &[Row], rules: &PayRules) -> String {
    let c = &rules.currency;
    let mut out = String::new();
    for r in rows {
        let t = &r.totals;
        let s = &t.seconds;
        let rota = match &r.rota {
            Some(rota) => format!("{}/{rota}", r.teams.join(",")),
            None => r.teams.join(","),
        };
        out.push_str(&format!(
            "{} [{rota}] {} = {} weekday + {} weekend + {} holiday; shifts {}; pages {} ({} out of hours), callouts {} ({}); on call {} + fees {} + callouts {} - cap {} = {} {}\n",
            r.person,
            hours(s.total),
            hours(s.weekday),
            hours(s.weekend),
            hours(s.holiday),
            t.shifts,
            t.pages,
            t.pages_out_of_hours,
            t.callouts,
            hours(t.callout_seconds),
            c.format(t.on_call),
            c.format(t.shift_fees),
            c.format(t.callout_pay),
            c.format(t.cap_deduction),
            c.format(t.amount()),
            c.code,
        ));
        if t.shadow_seconds > 0 {
            out.push_str(&format!(
                "  shadow {} = {} (in the amount)\n",
                hours(t.shadow_seconds),
                c.format(t.shadow_pay)
            ));
        }
    }
    out
}

/// The rows of `month` (YYYY-MM) from the rotas, with `pages`.
fn check_pages(teams: &[&str], pay_yaml: &str, month: &str, pages: &[Page], by: By, expected: Expect) {
    let (loaded, rules) = load(teams, pay_yaml);
    let (y, m) = month.split_once('-').unwrap();
    let span = pay::month_span(rules.payroll_tz, y.parse().unwrap(), m.parse().unwrap()).unwrap();
    let intervals = pay::schedule_intervals(&loaded.schedule, span, None);
    let rows = pay::tally(&rules, span, &loaded.schedule.people, &intervals, pages, by);
    expected.assert_eq(&render(&rows, &rules));
}

fn check(teams: &[&str], pay_yaml: &str, month: &str, by: By, expected: Expect) {
    check_pages(teams, pay_yaml, month, &[], by, expected);
}

/// One team in London paying `rate` on rota `r`.
fn with_rate(rules: &str, rotas: &[(&str, &str)]) -> String {
    let mut out = format!("{rules}rotas:\n");
    for (rota, entry) in rotas {
        out.push_str(&format!("  {rota}: {entry}\n"));
    }
    out
}

const WEEKLY_LONDON_MARCH: &str = "team: t
timezone: Europe/London
rotas:
  r:
    members: [alice, bob, carol, dave]
    start: 2026-03-09T09:00
    handoff: FREQ=WEEKLY;BYDAY=MO
";

#[test]
fn weekly_rota_over_the_spring_change_has_a_167_hour_week() {
    // Monday 09:00 London hand-offs; the clocks go forward on Sunday 29 March,
    // so carol's week (23 to 30 March) is 167 hours. dave's shift runs into
    // April: March pays up to London midnight (23:00 UTC on the 31st).
    let pay = with_rate(RULES, &[("t/r", "{rate: 10}")]);
    check(
        &[WEEKLY_LONDON_MARCH],
        &pay,
        "2026-03",
        By::Person,
        expect![[r#"
            alice [t] 168h = 120h weekday + 48h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 2070.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 2070.00 EUR
            bob [t] 168h = 120h weekday + 48h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 2070.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 2070.00 EUR
            carol [t] 167h = 120h weekday + 47h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 2055.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 2055.00 EUR
            dave [t] 39h = 39h weekday + 0h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 430.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 430.00 EUR
        "#]],
    );
}

#[test]
fn a_month_boundary_mid_shift_splits_it_at_the_payroll_zones_midnight() {
    // dave's shift (30 March 09:00 BST to 6 April 09:00 BST, 168 h) in April:
    // from 1 April 00:00 BST (31 March 23:00 UTC), 129 h; 39 h were in March.
    // Its shift fee is paid in March, when it started.
    let pay = with_rate(RULES, &[("t/r", "{rate: 10, shift_fee: 50}")]);
    check(
        &[WEEKLY_LONDON_MARCH],
        &pay,
        "2026-04",
        By::Person,
        expect![[r#"
        alice [t] 168h = 120h weekday + 48h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 2070.00 + fees 50.00 + callouts 0.00 - cap 0.00 = 2120.00 EUR
        bob [t] 168h = 120h weekday + 48h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 2070.00 + fees 50.00 + callouts 0.00 - cap 0.00 = 2120.00 EUR
        carol [t] 168h = 120h weekday + 48h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 2070.00 + fees 50.00 + callouts 0.00 - cap 0.00 = 2120.00 EUR
        dave [t] 216h = 168h weekday + 48h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 2610.00 + fees 50.00 + callouts 0.00 - cap 0.00 = 2660.00 EUR
    "#]],
    );
    // With the payroll in UTC, the month ends an hour later.
    let utc = pay.replace("payroll_timezone: Europe/London", "payroll_timezone: UTC");
    check(
        &[WEEKLY_LONDON_MARCH],
        &utc,
        "2026-03",
        By::Person,
        expect![[r#"
        alice [t] 168h = 120h weekday + 48h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 2070.00 + fees 50.00 + callouts 0.00 - cap 0.00 = 2120.00 EUR
        bob [t] 168h = 120h weekday + 48h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 2070.00 + fees 50.00 + callouts 0.00 - cap 0.00 = 2120.00 EUR
        carol [t] 167h = 120h weekday + 47h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 2055.00 + fees 50.00 + callouts 0.00 - cap 0.00 = 2105.00 EUR
        dave [t] 40h = 40h weekday + 0h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 442.50 + fees 50.00 + callouts 0.00 - cap 0.00 = 492.50 EUR
    "#]],
    );
}

#[test]
fn weekly_rota_over_the_autumn_change_has_a_169_hour_week() {
    let team = "team: t
timezone: Europe/London
rotas:
  r:
    members: [alice, bob, carol, dave]
    start: 2026-10-05T09:00
    every: 1w
";
    let pay = with_rate(RULES, &[("t/r", "{rate: 10}")]);
    check(
        &[team],
        &pay,
        "2026-10",
        By::Person,
        expect![[r#"
        alice [t] 168h = 120h weekday + 48h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 2070.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 2070.00 EUR
        bob [t] 168h = 120h weekday + 48h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 2070.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 2070.00 EUR
        carol [t] 169h = 120h weekday + 49h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 2085.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 2085.00 EUR
        dave [t] 135h = 111h weekday + 24h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 1600.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 1600.00 EUR
    "#]],
    );
}

#[test]
fn a_shift_over_a_weekend_and_public_holidays() {
    // bob: Friday 25 December (Christmas) 09:00 to Tuesday 29 December 09:00.
    // Christmas and Monday 28 (the Boxing Day holiday) pay double all day, the
    // weekend 1.5x, Tuesday's night (00:00-08:00) 1.25x, its last hour the base.
    // erin (Ireland) has no holiday on the 28th.
    let team = "team: t
timezone: Europe/London
rotas:
  r:
    members: [alice, bob]
    start: 2026-12-22T09:00
    handoff: FREQ=WEEKLY;BYDAY=TU,FR
overrides:
  - {rota: r, user: erin, from: 2026-12-28T00:00, to: 2026-12-28T12:00}
";
    let pay = with_rate(RULES, &[("t/r", "{rate: 10}")]);
    check(
        &[team],
        &pay,
        "2026-12",
        By::Person,
        expect![[r#"
        alice [t] 135h = 126h weekday + 0h weekend + 9h holiday; shifts 2; pages 0 (0 out of hours), callouts 0 (0h); on call 1580.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 1580.00 EUR
        bob [t] 84h = 9h weekday + 48h weekend + 27h holiday; shifts 2; pages 0 (0 out of hours), callouts 0 (0h); on call 1370.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 1370.00 EUR
        erin [t] 12h = 12h weekday + 0h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 140.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 140.00 EUR
    "#]],
    );
}

#[test]
fn overlapping_rotas_pay_each_second_once_at_the_higher_rate() {
    // alice holds rota `low` (10/h) all June and covers `high` (15/h) for two
    // days: 720 h, not 768, of which 48 h at 15.
    let team = "team: t
timezone: UTC
rotas:
  low: {members: [alice], start: 2026-05-01T00:00, every: 1w}
  high: {members: [bob], start: 2026-05-01T00:00, every: 1w}
overrides:
  - {rota: high, user: alice, from: 2026-06-10T00:00, to: 2026-06-12T00:00}
";
    let rules = "currency: EUR\n";
    let pay = with_rate(rules, &[("t/low", "{rate: 10}"), ("t/high", "{rate: 15}")]);
    check(
        &[team],
        &pay,
        "2026-06",
        By::Person,
        expect![[r#"
        alice [t] 720h = 528h weekday + 192h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 7440.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 7440.00 EUR
        bob [t] 672h = 480h weekday + 192h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 10080.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 10080.00 EUR
    "#]],
    );
    check(
        &[team],
        &pay,
        "2026-06",
        By::Rota,
        expect![[r#"
        alice [t/high] 48h = 48h weekday + 0h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 720.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 720.00 EUR
        alice [t/low] 672h = 480h weekday + 192h weekend + 0h holiday; shifts 0; pages 0 (0 out of hours), callouts 0 (0h); on call 6720.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 6720.00 EUR
        bob [t/high] 672h = 480h weekday + 192h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 10080.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 10080.00 EUR
    "#]],
    );
}

#[test]
fn a_per_person_rate_replaces_the_rotas_and_keeps_the_rules() {
    let team = "team: t
timezone: UTC
rotas:
  r: {members: [alice, bob], start: 2026-06-01T00:00, every: 1w}
";
    let pay = with_rate(
        "currency: EUR\nrules: [{name: weekend, when: {days: weekends}, multiplier: 1.5}]\nper_person: {bob: {rate: 12}}\n",
        &[("t/r", "{rate: 10}")],
    );
    check(
        &[team],
        &pay,
        "2026-06",
        By::Person,
        expect![[r#"
        alice [t] 384h = 288h weekday + 96h weekend + 0h holiday; shifts 3; pages 0 (0 out of hours), callouts 0 (0h); on call 4320.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 4320.00 EUR
        bob [t] 336h = 240h weekday + 96h weekend + 0h holiday; shifts 2; pages 0 (0 out of hours), callouts 0 (0h); on call 4608.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 4608.00 EUR
    "#]],
    );
}

#[test]
fn the_monthly_cap_limits_the_total() {
    // 720 h at 10 is 7200; the cap is 5000, and bob's own cap 1000. With rows
    // per rota, the deduction is on a row of its own.
    let team = "team: t
timezone: UTC
rotas:
  r: {members: [alice], start: 2026-06-01T00:00, every: 1w}
  s: {members: [bob], start: 2026-06-29T00:00, every: 1w}
";
    let pay = with_rate(
        "currency: JPY\ncap: 5000\nper_person: {bob: {cap: 1000}}\n",
        &[("t/r", "{rate: 10}"), ("t/s", "{rate: 10.5}")],
    );
    check(
        &[team],
        &pay,
        "2026-06",
        By::Person,
        expect![[r#"
        alice [t] 720h = 528h weekday + 192h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 7200 + fees 0 + callouts 0 - cap 2200 = 5000 JPY
        bob [t] 48h = 48h weekday + 0h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 504 + fees 0 + callouts 0 - cap 0 = 504 JPY
    "#]],
    );
    check(
        &[team],
        &pay,
        "2026-06",
        By::Rota,
        expect![[r#"
        alice [t/r] 720h = 528h weekday + 192h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 7200 + fees 0 + callouts 0 - cap 0 = 7200 JPY
        alice [] 0h = 0h weekday + 0h weekend + 0h holiday; shifts 0; pages 0 (0 out of hours), callouts 0 (0h); on call 0 + fees 0 + callouts 0 - cap 2200 = -2200 JPY
        bob [t/s] 48h = 48h weekday + 0h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 504 + fees 0 + callouts 0 - cap 0 = 504 JPY
    "#]],
    );
}

fn page(person: &str, t: &str, ack: Option<&str>, resolved: Option<&str>, out_of_hours: bool) -> Page {
    Page {
        person: person.into(),
        at: at(t),
        severity: "critical".into(),
        acknowledged_at: ack.map(at),
        resolved_at: resolved.map(at),
        out_of_hours,
        team: Some("t".into()),
        rota: Some("r".into()),
    }
}

#[test]
fn call_outs_are_paid_at_least_the_minimum_and_overlapping_ones_once() {
    let team = "team: t
timezone: UTC
rotas:
  r: {members: [alice], start: 2026-06-01T00:00, every: 1w}
";
    let pay = with_rate(
        "currency: EUR\ncallout: {fee: 25, rate: 30, minimum: 1h}\n",
        &[("t/r", "{rate: 0}")],
    );
    let pages = [
        // 15 minutes of work: paid the minimum hour, 25 + 30.
        page(
            "alice",
            "2026-06-03T02:00:00Z",
            Some("2026-06-03T02:05:00Z"),
            Some("2026-06-03T02:20:00Z"),
            true,
        ),
        // Inside the first one's paid hour: the same call-out, now paid to
        // 03:41 (this page's own hour); 02:05-03:41 is 1.6 h.
        page(
            "alice",
            "2026-06-03T02:40:00Z",
            Some("2026-06-03T02:41:00Z"),
            Some("2026-06-03T03:30:00Z"),
            true,
        ),
        // In working hours: a page, not a call-out.
        page(
            "alice",
            "2026-06-03T10:00:00Z",
            Some("2026-06-03T10:01:00Z"),
            Some("2026-06-03T12:00:00Z"),
            false,
        ),
        // Never acknowledged: not a call-out.
        page("alice", "2026-06-04T03:00:00Z", None, None, true),
        // 9 minutes: a call-out of its own, paid an hour.
        page(
            "alice",
            "2026-06-05T23:00:00Z",
            Some("2026-06-05T23:01:00Z"),
            Some("2026-06-05T23:10:00Z"),
            true,
        ),
        // Another month.
        page(
            "alice",
            "2026-07-01T00:00:00Z",
            Some("2026-07-01T00:01:00Z"),
            None,
            true,
        ),
    ];
    check_pages(
        &[team],
        &pay,
        "2026-06",
        &pages,
        By::Person,
        expect![[r#"
        alice [t] 720h = 528h weekday + 192h weekend + 0h holiday; shifts 1; pages 5 (4 out of hours), callouts 2 (2.6h); on call 0.00 + fees 0.00 + callouts 128.00 - cap 0.00 = 128.00 EUR
    "#]],
    );
}

fn diagnostics(pay_yaml: &str, team: &str) -> String {
    let loaded = config::load_texts(&[("people.yaml", PEOPLE), ("pay.yaml", pay_yaml), ("t.yaml", team)]);
    let pay = config::pay::decode(&loaded);
    let text: Vec<String> = loaded
        .diagnostics
        .iter()
        .chain(pay.diagnostics.iter())
        .map(|d| d.to_string())
        .collect();
    text.join("\n") + "\n"
}

#[test]
fn pay_yaml_problems_are_reported_with_their_place() {
    let team = "team: payments
timezone: Europe/London
rotas:
  primary: {members: [alice, bob], start: 2026-01-05T09:00, every: 1w}
  secondary: {members: [carol], start: 2026-01-05T09:00, every: 1w}
";
    let pay = "currency: XTS
payroll_timezone: Europe/Londn
levels:
  primary: {rate: 6.00, descripton: quick}
  secondary: 3,00
rotas:
  payments/primray: {level: primary}
  paymnts/primary: {level: primary}
  payments/secondary: {level: secondry, shift_fee: -5}
  platform: {rate: 1}
rules:
  - {name: weekend, when: {days: weekends}, multiplier: 1.5, rate: 20}
  - {name: night, when: {days: evryday, from: \"20:00\", to: \"08:00\"}}
holidays:
  multiplier: 2
  regions:
    engalnd: [2026-12-25, 2026-02-30]
default_region: ireland
per_person:
  alcie: {rate: 7}
  bob: {rate: 7, cap: lots}
callout: {fee: 25, rate: 30, minmum: 1h}
working_hours: {days: weekdays, from: \"9am\", to: \"17:00\"}
";
    expect![[r#"
        pay.yaml:1:11: error: unknown currency `XTS`: give its decimals with `minor_unit` (2 for cents, 0 for none)
        pay.yaml:2:19: error: unknown time zone `Europe/Londn`; did you mean `Europe/London`?
        pay.yaml:4:25: error: unknown key `descripton` in level primary; did you mean `description`?
        pay.yaml:5:14: error: `3,00` is not a rate: write a number like 12.50 (at most six decimals, no sign or currency)
        pay.yaml:6:1: warning: rota payments/primary has no rate in pay.yaml: its hours are counted but not paid
        pay.yaml:6:1: warning: rota payments/secondary has no rate in pay.yaml: its hours are counted but not paid
        pay.yaml:7:3: error: unknown rota `primray` in team payments; did you mean `primary`?
        pay.yaml:8:3: error: unknown team `paymnts`; did you mean `payments`?
        pay.yaml:9:31: error: unknown level `secondry`: `levels` has primary
        pay.yaml:9:52: error: `-5` is not a shift_fee: write a number like 12.50 (at most six decimals, no sign or currency)
        pay.yaml:10:3: error: `platform` should name a rota as team/rota, like payments/primary
        pay.yaml:12:62: error: rule weekend has both `multiplier` and `rate`: keep one
        pay.yaml:13:5: error: rule night needs `multiplier` (like 1.5) or `rate` (like 30.00)
        pay.yaml:13:32: error: unknown day `evryday`; did you mean `everyday`?
        pay.yaml:17:27: error: `2026-02-30` is not a date: write it like 2026-12-25
        pay.yaml:18:17: error: unknown region `ireland`: `holidays: regions:` lists none by that name
        pay.yaml:20:3: error: unknown person `alcie`; did you mean `alice`?
        pay.yaml:21:23: error: `lots` is not a cap: write a number like 12.50 (at most six decimals, no sign or currency)
        pay.yaml:22:30: error: unknown key `minmum` in `callout`; did you mean `minimum`?
        pay.yaml:23:39: error: `9am` is not a time of day: write it as HH:MM, 00:00 to 24:00
        people.yaml:2:3: error: alice's region `england` has no holidays in pay.yaml; did you mean `engalnd`?
        people.yaml:3:3: error: bob's region `england` has no holidays in pay.yaml; did you mean `engalnd`?
        people.yaml:4:3: error: carol's region `england` has no holidays in pay.yaml; did you mean `engalnd`?
        people.yaml:5:3: error: dave's region `england` has no holidays in pay.yaml; did you mean `engalnd`?
        people.yaml:6:3: error: erin's region `ireland` has no holidays in pay.yaml: add it under `holidays: regions:`
    "#]].assert_eq(&diagnostics(pay, team));
}

#[test]
fn a_rota_without_a_rate_is_a_warning_and_a_currency_needs_its_decimals() {
    let team = "team: t
timezone: UTC
rotas:
  r: {members: [alice], start: 2026-01-05T09:00, every: 1w}
  s: {members: [bob], start: 2026-01-05T09:00, every: 1w}
";
    expect![[r#"
        pay.yaml:3:1: warning: rota t/s has no rate in pay.yaml: its hours are counted but not paid
    "#]]
    .assert_eq(&diagnostics(
        "currency: XTS\nminor_unit: 3\nrotas:\n  t/r: {rate: 1.5}\n",
        team,
    ));
    expect![[r#"
        pay.yaml:1:1: error: a pay file needs `currency`
    "#]]
    .assert_eq(&diagnostics("cap: 10\n", team));
}

/// Issue 9: shadow hours are counted apart from on-call hours, at their own
/// rate (zero unless `shadow_rate` says), never with time rules, holidays or
/// shift fees, and a second is never counted twice: while erin is on call
/// herself (her Tuesday on the secondary) her shadowing is not counted.
#[test]
fn shadow_hours_are_separate_in_the_tally() {
    let team = "team: t
timezone: UTC
rotas:
  primary:
    members: [alice, bob]
    start: 2026-06-01T00:00
    every: 1w
    shadows:
      - {user: erin, of: alice, from: 2026-06-01T00:00, to: 2026-06-03T00:00}
  secondary:
    members: [erin]
    start: 2026-06-02T00:00
    every: 1w
    active: [{days: tue}]
";
    let rates = with_rate(
        "currency: EUR\n",
        &[("t/primary", "{rate: 10, shift_fee: 5}"), ("t/secondary", "{rate: 2}")],
    );
    // No shadow_rate: shadowing pays nothing.
    check(
        &[team],
        &rates,
        "2026-06",
        By::Rota,
        expect![[r#"
            alice [t/primary] 384h = 288h weekday + 96h weekend + 0h holiday; shifts 3; pages 0 (0 out of hours), callouts 0 (0h); on call 3840.00 + fees 15.00 + callouts 0.00 - cap 0.00 = 3855.00 EUR
            bob [t/primary] 336h = 240h weekday + 96h weekend + 0h holiday; shifts 2; pages 0 (0 out of hours), callouts 0 (0h); on call 3360.00 + fees 10.00 + callouts 0.00 - cap 0.00 = 3370.00 EUR
            erin [t/primary] 0h = 0h weekday + 0h weekend + 0h holiday; shifts 0; pages 0 (0 out of hours), callouts 0 (0h); on call 0.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 0.00 EUR
              shadow 24h = 0.00 (in the amount)
            erin [t/secondary] 120h = 120h weekday + 0h weekend + 0h holiday; shifts 5; pages 0 (0 out of hours), callouts 0 (0h); on call 240.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 240.00 EUR
        "#]],
    );
    // With one: paid flat, apart.
    check(
        &[team],
        &format!("{rates}shadow_rate: 1.50\n"),
        "2026-06",
        By::Person,
        expect![[r#"
            alice [t] 384h = 288h weekday + 96h weekend + 0h holiday; shifts 3; pages 0 (0 out of hours), callouts 0 (0h); on call 3840.00 + fees 15.00 + callouts 0.00 - cap 0.00 = 3855.00 EUR
            bob [t] 336h = 240h weekday + 96h weekend + 0h holiday; shifts 2; pages 0 (0 out of hours), callouts 0 (0h); on call 3360.00 + fees 10.00 + callouts 0.00 - cap 0.00 = 3370.00 EUR
            erin [t] 120h = 120h weekday + 0h weekend + 0h holiday; shifts 5; pages 0 (0 out of hours), callouts 0 (0h); on call 240.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 276.00 EUR
              shadow 24h = 36.00 (in the amount)
        "#]],
    );
}

/// The CSV export (written by the csv crate since issue 17) quotes a field
/// only where RFC 4180 needs it: a name holding a comma, a quote or a line
/// break is quoted, its quotes doubled; the other fields, and the plain
/// rows, stay as they always were. A spreadsheet reads one row a person.
#[test]
fn issue17_csv_export_quotes_names_as_rfc_4180() {
    let people = "people:
  alice: {name: \"Smith, Alice \\\"Al\\\"\", email: alice@example.com}
  bob: {name: \"Bob\\nJones\", email: bob@example.com}
  carol: {name: Carol, email: carol@example.com}
";
    let team = "team: t
timezone: Europe/London
rotas:
  r:
    members: [alice, bob, carol]
    start: 2026-06-01T09:00
    handoff: FREQ=WEEKLY;BYDAY=MO
";
    let pay_yaml = "currency: EUR\npayroll_timezone: Europe/London\nrotas:\n  t/r: {rate: 1}\n";
    let loaded = config::load_texts(&[("people.yaml", people), ("pay.yaml", pay_yaml), ("t.yaml", team)]);
    let pay = config::pay::decode(&loaded);
    let errors: Vec<String> = loaded
        .errors()
        .chain(pay.diagnostics.iter())
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "unexpected problems:\n{}", errors.join("\n"));
    let rules = pay.rules.expect("pay rules");
    let request = oncall::payroll::Request {
        month: pay::Month { year: 2026, month: 6 },
        format: oncall::payroll::Format::Csv,
        team: None,
        by: By::Person,
    };
    let csv = oncall::payroll::render(&loaded.schedule, &rules, &request, oncall::payroll::Input::Schedule).unwrap();
    expect![[r#"
        month,person,name,team,hours_total,hours_weekday,hours_weekend,hours_holiday,seconds_total,seconds_weekday,seconds_weekend,seconds_holiday,shifts,pages,pages_out_of_hours,callouts,callout_hours,on_call_pay,shift_fees,callout_pay,cap_deduction,amount,currency,hours_shadow,seconds_shadow,shadow_pay
        2026-06,alice,"Smith, Alice ""Al""",t,336.000000,240.000000,96.000000,0.000000,1209600,864000,345600,0,2,0,0,0,0.000000,336.00,0.00,0.00,0.00,336.00,EUR,0.000000,0,0.00
        2026-06,bob,"Bob
        Jones",t,207.000000,159.000000,48.000000,0.000000,745200,572400,172800,0,2,0,0,0,0.000000,207.00,0.00,0.00,0.00,207.00,EUR,0.000000,0,0.00
        2026-06,carol,Carol,t,168.000000,120.000000,48.000000,0.000000,604800,432000,172800,0,1,0,0,0,0.000000,168.00,0.00,0.00,0.00,168.00,EUR,0.000000,0,0.00
    "#]]
    .assert_eq(&csv);
}

#[test]
fn each_person_of_a_group_is_paid_for_the_turn() {
    // Issue 18: [alice, bob] and [carol, dave] take weekly turns over the
    // spring change: each person of a turn is paid for all of it (alice and
    // bob each for 168 hours and then, across the change, 167), and erin's
    // swap for bob on Sunday the 15th takes those hours from bob alone.
    let team = "team: t
timezone: Europe/London
rotas:
  r:
    members: [[alice, bob], [carol, dave]]
    start: 2026-03-09T09:00
    every: 1w
overrides:
  - {rota: r, user: erin, instead_of: bob, from: 2026-03-15T00:00, to: 2026-03-16T00:00}
";
    let pay = with_rate(RULES, &[("t/r", "{rate: 10}")]);
    check(
        &[team],
        &pay,
        "2026-03",
        By::Person,
        expect![[r#"
            alice [t] 335h = 240h weekday + 95h weekend + 0h holiday; shifts 2; pages 0 (0 out of hours), callouts 0 (0h); on call 4125.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 4125.00 EUR
            bob [t] 311h = 240h weekday + 71h weekend + 0h holiday; shifts 3; pages 0 (0 out of hours), callouts 0 (0h); on call 3765.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 3765.00 EUR
            carol [t] 207h = 159h weekday + 48h weekend + 0h holiday; shifts 2; pages 0 (0 out of hours), callouts 0 (0h); on call 2500.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 2500.00 EUR
            dave [t] 207h = 159h weekday + 48h weekend + 0h holiday; shifts 2; pages 0 (0 out of hours), callouts 0 (0h); on call 2500.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 2500.00 EUR
            erin [t] 24h = 0h weekday + 24h weekend + 0h holiday; shifts 1; pages 0 (0 out of hours), callouts 0 (0h); on call 360.00 + fees 0.00 + callouts 0.00 - cap 0.00 = 360.00 EUR
        "#]],
    );
}
