//! Benchmarks of the schedule core: expanding rotas into shifts, answering
//! "who is on call" across many rotas, and loading the rota files.
//!
//! The rotas are generated as YAML and read with `config::load_texts`, the
//! same way the daemon reads `schedules/`, so every benchmark runs on values
//! the decoder built.
//!
//! Run with `cargo bench --bench schedule`; add
//! `-- --warm-up-time 1 --measurement-time 3` for a quicker pass.

use std::fmt::Write as _;
use std::hint::black_box;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use criterion::{Criterion, criterion_group, criterion_main};
use oncall::config::{Loaded, load_texts};
use oncall::domain::schedule::Schedule;
use oncall::domain::time::Span;

/// How many rotas the large benchmarks use.
const ROTAS: usize = 1_000;
/// Rotas per team file; a team has one zone, so zones vary by team.
const ROTAS_PER_TEAM: usize = 50;
/// How many people the rotas draw their members from.
const PEOPLE: usize = 20;
/// The zones the teams cycle through: London and New York (DST changing on
/// different dates), Lord Howe (southern DST of half an hour), Kolkata (no DST).
const ZONES: [&str; 4] = [
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
];

// ---------------------------------------------------------------------------
// Generating the rota files.

/// One layer of a generated rota.
struct Layer {
    members: Vec<String>,
    /// Local time in the team's zone.
    start: NaiveDateTime,
    /// The YAML entry that sets the hand-offs: `handoff: ...` or `every: ...`.
    rule: String,
    /// The YAML value of `active`, if the layer has windows.
    active: Option<String>,
}

/// A rota: one layer is written flat, more as a `layers:` list.
struct Rota {
    name: String,
    layers: Vec<Layer>,
}

fn person(k: usize) -> String {
    format!("p{:02}", k % PEOPLE)
}

fn people_yaml() -> String {
    let mut out = String::from("people:\n");
    for k in 0..PEOPLE {
        let id = person(k);
        writeln!(out, "  {id}:\n    name: Person {k}\n    email: {id}@example.com").unwrap();
    }
    out
}

/// `n` distinct members, varied by `i`.
fn members(i: usize, n: usize) -> Vec<String> {
    (0..n).map(|k| person(i + k)).collect()
}

/// A start in 2026 varied by `i`: spread over the year, at a varied time of day
/// (so some hand-offs fall in DST gaps and folds).
fn start_2026(i: usize) -> NaiveDateTime {
    let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days((i * 37 % 365) as i64);
    day.and_hms_opt((i * 7 % 24) as u32, (i % 4 * 15) as u32, 0).unwrap()
}

fn byday(day: Weekday) -> &'static str {
    ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][day.num_days_from_monday() as usize]
}

fn layer(members: Vec<String>, start: NaiveDateTime, rule: impl Into<String>) -> Layer {
    Layer {
        members,
        start,
        rule: rule.into(),
        active: None,
    }
}

/// A weekly rota handing off on the weekday and at the time of its start.
fn weekly_rota(i: usize) -> Rota {
    let start = start_2026(i);
    let rule = format!("handoff: FREQ=WEEKLY;BYDAY={}", byday(start.weekday()));
    Rota {
        name: format!("weekly{i:04}"),
        layers: vec![layer(members(i, 3 + i % 3), start, rule)],
    }
}

/// A rota of one of several kinds, chosen by `i`: 10% monthly (the listed
/// path), 20% daily, 30% weekly on two days, 20% every 12 hours, 20% layered
/// with a night window crossing midnight.
fn mixed_rota(i: usize) -> Rota {
    let start = start_2026(i);
    let people = members(i, 3 + i % 3);
    let layers = match i % 10 {
        0 => vec![layer(people, start, "handoff: FREQ=MONTHLY;BYDAY=1MO")],
        1 | 2 => vec![layer(people, start, "handoff: FREQ=DAILY")],
        3..=5 => vec![layer(people, start, "handoff: FREQ=WEEKLY;BYDAY=MO,TH")],
        6 | 7 => vec![layer(people, start, "every: 12h")],
        _ => {
            let nights = format!(
                "[{{days: [mon, tue, wed, thu], from: \"{:02}:00\", to: \"{:02}:00\"}}]",
                18 + i % 4,
                6 + i % 3
            );
            vec![
                layer(people, start, "every: 1w"),
                Layer {
                    active: Some(nights),
                    ..layer(members(i + 5, 2), start, "handoff: FREQ=DAILY")
                },
            ]
        }
    };
    Rota {
        name: format!("mixed{i:04}"),
        layers,
    }
}

fn write_layer(out: &mut String, layer: &Layer, indent: &str, first: &str) {
    writeln!(out, "{first}members: [{}]", layer.members.join(", ")).unwrap();
    writeln!(out, "{indent}start: {}", layer.start.format("%Y-%m-%dT%H:%M")).unwrap();
    writeln!(out, "{indent}{}", layer.rule).unwrap();
    if let Some(active) = &layer.active {
        writeln!(out, "{indent}active: {active}").unwrap();
    }
}

fn team_yaml(team: &str, zone: &str, rotas: &[Rota]) -> String {
    let mut out = format!("team: {team}\ntimezone: {zone}\nrotas:\n");
    for rota in rotas {
        writeln!(out, "  {}:", rota.name).unwrap();
        match rota.layers.as_slice() {
            [one] => write_layer(&mut out, one, "    ", "    "),
            layers => {
                out.push_str("    layers:\n");
                for l in layers {
                    write_layer(&mut out, l, "        ", "      - ");
                }
            }
        }
    }
    out
}

/// The people file and one team file per `ROTAS_PER_TEAM` rotas, the teams
/// cycling through `ZONES`: (file name, text).
fn files(rotas: &[Rota]) -> Vec<(String, String)> {
    let teams = rotas.chunks(ROTAS_PER_TEAM).enumerate().map(|(t, chunk)| {
        let team = format!("team{t:02}");
        let text = team_yaml(&team, ZONES[t % ZONES.len()], chunk);
        (format!("{team}.yaml"), text)
    });
    std::iter::once(("people.yaml".to_string(), people_yaml()))
        .chain(teams)
        .collect()
}

fn load(files: &[(String, String)]) -> Loaded {
    let sources: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    load_texts(&sources)
}

/// The schedule of `rotas`, checked to have loaded without errors.
fn schedule(rotas: &[Rota]) -> Schedule {
    let loaded = load(&files(rotas));
    let errors: Vec<String> = loaded.errors().map(|d| format!("{d:?}")).collect();
    assert!(errors.is_empty(), "generated rotas do not load: {errors:#?}");
    assert_eq!(loaded.schedule.rotas(None).count(), rotas.len());
    loaded.schedule
}

fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
}

fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

/// The year 2027, after every generated rota has started.
fn year_2027() -> Span {
    Span::new(utc(2027, 1, 1, 0), utc(2028, 1, 1, 0))
}

/// An instant `years` after the middle of 2026, when the generated rotas start
/// (at 12:34:56, off any hand-off).
fn years_after_start(years: i32) -> DateTime<Utc> {
    utc(2026 + years, 7, 1, 12) + Duration::seconds(34 * 60 + 56)
}

// ---------------------------------------------------------------------------
// Benchmarks.

fn expand(c: &mut Criterion) {
    let mut group = c.benchmark_group("expand");

    let one = Rota {
        name: "primary".to_string(),
        layers: vec![layer(
            members(0, 4),
            local("2026-01-05T09:00"), // a Monday
            "handoff: FREQ=WEEKLY;BYDAY=MO",
        )],
    };
    let text = team_yaml("payments", "Europe/London", std::slice::from_ref(&one));
    let loaded = load_texts(&[("people.yaml", &people_yaml()), ("payments.yaml", &text)]);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let (_, rota) = loaded.schedule.rotas(None).next().unwrap();
    assert_eq!(rota.expand(year_2027()).len(), 53); // 52 full weeks and the one running into 2027
    group.bench_function("one_weekly_rota_one_year", |b| {
        b.iter(|| rota.expand(black_box(year_2027())))
    });

    let weekly: Vec<Rota> = (0..ROTAS).map(weekly_rota).collect();
    let fleet = schedule(&weekly);
    group.sample_size(20);
    group.bench_function("1000_weekly_rotas_one_year", |b| {
        b.iter(|| fleet.shifts(black_box(year_2027()), None))
    });
    group.finish();
}

fn who(c: &mut Criterion) {
    let mut group = c.benchmark_group("who");

    let weekly: Vec<Rota> = (0..ROTAS).map(weekly_rota).collect();
    let fleet = schedule(&weekly);
    for years in [1, 3, 10] {
        let at = years_after_start(years);
        assert!(fleet.who(at, None).iter().all(|(_, _, user)| user.is_some()));
        group.bench_function(format!("1000_rotas_{years}y_after_start"), |b| {
            b.iter(|| fleet.who(black_box(at), None))
        });
    }

    let mixed: Vec<Rota> = (0..ROTAS).map(mixed_rota).collect();
    let fleet = schedule(&mixed);
    let at = years_after_start(3);
    // Monthly rules take the listed path: their first query lists the rule's
    // occurrences from the start up to `at` and keeps them, a cost that grows
    // with the rota's age. This call warms that cache, so the benchmark measures
    // the steady state: later queries near `at` only binary-search the list.
    fleet.who(at, None);
    group.bench_function("1000_mixed_rotas_3y_after_start", |b| {
        b.iter(|| fleet.who(black_box(at), None))
    });
    group.finish();
}

fn load_rotas(c: &mut Criterion) {
    // The daemon reloads every file when one changes: all 1,000 rotas, of every kind.
    let mixed: Vec<Rota> = (0..ROTAS).map(mixed_rota).collect();
    let files = files(&mixed);
    assert!(!load(&files).has_errors());
    let mut group = c.benchmark_group("load");
    group.sample_size(20);
    group.bench_function("1000_rotas", |b| b.iter(|| load(black_box(&files))));
    group.finish();
}

criterion_group!(benches, expand, who, load_rotas);
criterion_main!(benches);
