//! The pay export at scale: a month for 1,000 people on 200 rotas (issue 5's
//! target: under one second). Generates the rota files and a pay.yaml, loads
//! them as `oncall pay` does, then times what `oncall pay` computes: the
//! month's intervals from the rotas and the tally.
//!
//!     cargo run --release --example bench_pay

use std::fmt::Write as _;
use std::time::Instant;

use oncall::config;
use oncall::domain::pay::{self, By};

const PEOPLE: usize = 1_000;
const ROTAS: usize = 200;
const ROTAS_PER_TEAM: usize = 10;
const ZONES: [&str; 4] = [
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
];

fn main() {
    let mut people = String::from("people:\n");
    for p in 0..PEOPLE {
        let region = ["north", "south"][p % 2];
        writeln!(
            people,
            "  p{p:04}: {{name: Person {p}, email: p{p}@example.com, region: {region}}}"
        )
        .unwrap();
    }
    let mut files = vec![("people.yaml".to_string(), people)];
    let mut pay_yaml = String::from(
        "currency: EUR\npayroll_timezone: Europe/London\nlevels: {primary: 3.00, secondary: 1.50}\n\
         rules:\n  - {name: weekend, when: {days: weekends}, multiplier: 1.5}\n  \
         - {name: night, when: {days: everyday, from: \"20:00\", to: \"08:00\"}, multiplier: 1.25}\n\
         holidays:\n  multiplier: 2\n  regions:\n    north: [2026-03-17, 2026-03-30]\n    south: [2026-03-02]\n\
         callout: {fee: 25, rate: 30, minimum: 1h}\ncap: 2000\nrotas:\n",
    );
    // Every person is on several rotas (so overlaps happen): rota i draws 10
    // members from a window of the people that slides with i.
    for t in 0..ROTAS / ROTAS_PER_TEAM {
        let mut team = format!("team: team{t}\ntimezone: {}\nrotas:\n", ZONES[t % ZONES.len()]);
        for k in 0..ROTAS_PER_TEAM {
            let i = t * ROTAS_PER_TEAM + k;
            let members: Vec<String> = (0..10).map(|m| format!("p{:04}", (i * 5 + m * 97) % PEOPLE)).collect();
            let (rule, level) = match i % 4 {
                0 => ("FREQ=WEEKLY;BYDAY=MO", "primary"),
                1 => ("FREQ=DAILY", "secondary"),
                2 => ("FREQ=HOURLY;INTERVAL=12", "primary"),
                _ => ("FREQ=WEEKLY;BYDAY=MO,TH", "secondary"),
            };
            writeln!(
                team,
                "  r{k}:\n    members: [{}]\n    start: 2026-01-05T09:00\n    handoff: {rule}",
                members.join(", ")
            )
            .unwrap();
            writeln!(pay_yaml, "  team{t}/r{k}: {{level: {level}, shift_fee: 5}}").unwrap();
        }
        files.push((format!("team{t}.yaml"), team));
    }
    files.push(("pay.yaml".to_string(), pay_yaml));
    let texts: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();

    let started = Instant::now();
    let loaded = config::load_texts(&texts);
    let pay = config::pay::decode(&loaded);
    let load_time = started.elapsed();
    let errors: Vec<String> = loaded
        .errors()
        .chain(pay.diagnostics.iter())
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let rules = pay.rules.unwrap();

    let mut best = f64::MAX;
    let mut rows = Vec::new();
    let mut intervals = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let month = pay::month_span(rules.payroll_tz, 2026, 3).unwrap();
        let found = pay::schedule_intervals(&loaded.schedule, month, None);
        rows = pay::tally(&rules, month, &loaded.schedule.people, &found, &[], By::Person);
        best = best.min(started.elapsed().as_secs_f64());
        intervals = found.len();
    }
    let people_paid = rows.len();
    println!(
        "pay export, March 2026 (DST change), {PEOPLE} people on {ROTAS} rotas: {intervals} intervals, {people_paid} rows; \
         loading the files {:.0} ms; intervals + tally: best of 5 {:.1} ms",
        load_time.as_secs_f64() * 1e3,
        best * 1e3
    );
}
