//! The timeline's two budgets (issue 19), printed rather than asserted:
//!
//! - page weight: the whole page (`layout::document` around
//!   `team::page_body`) of a team with 10 rotas over a month, under 100 KB;
//! - server time: drawing a team with 50 rotas over a month (`page_body`,
//!   which expands every rota), under 20 ms (the median of 30 runs); and,
//!   for comparison, the same 50 rotas with every layer drawn.
//!
//! Each rota is three layers (a weekly rotation of four, a daily weekday
//! business-hours layer, a weekend layer), one override and one shadow, in
//! Europe/London over March 2026 (the clocks change on the 29th).
//!
//! `cargo run --release --example bench_timeline` (a debug build prints
//! larger times).

use std::fmt::Write as _;
use std::time::Instant as Clock;

use axum::http::StatusCode;
use chrono::NaiveDate;
use oncall::config::load_texts;
use oncall::domain::rota::Rota;
use oncall::web::layout::{self, Nav};
use oncall::web::team::{page_body, with_style};
use oncall::web::timeline::{RotaLinks, Rows, View, Window, render};

fn team(rotas: usize) -> oncall::domain::schedule::Schedule {
    let mut people = String::from("people:\n");
    for k in 0..20 {
        writeln!(people, "  p{k:02}: {{name: Person {k}, email: p{k:02}@example.com}}").unwrap();
    }
    let mut ops = String::from("team: ops\ntimezone: Europe/London\nrotas:\n");
    let mut overrides = String::from("overrides:\n");
    for r in 0..rotas {
        let p = |k: usize| format!("p{:02}", (r + k) % 20);
        writeln!(
            ops,
            "  rota{r}:\n    layers:\n      - {{members: [{}, {}, {}, {}], start: 2026-02-02T09:00, every: 1w}}\n      \
             - {{members: [{}, {}], start: 2026-02-02T09:00, every: 1d, active: [{{days: weekdays, from: \"09:00\", to: \"17:00\"}}]}}\n      \
             - {{members: [{}, {}], start: 2026-02-07T09:00, every: 1w, active: [{{days: weekends, from: \"10:00\", to: \"18:00\"}}]}}\n    \
             shadows:\n      - {{user: {}, of: {}}}",
            p(0),
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(0)
        )
        .unwrap();
        writeln!(
            overrides,
            "  - {{rota: rota{r}, user: {}, from: 2026-03-12T18:00, to: 2026-03-13T09:00}}",
            p(9)
        )
        .unwrap();
    }
    ops.push_str(&overrides);
    let loaded = load_texts(&[("people.yaml", &people), ("ops.yaml", &ops)]);
    let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    loaded.schedule
}

fn body(schedule: &oncall::domain::schedule::Schedule, window: &Window) -> String {
    let team = &schedule.teams[0];
    let rotas: Vec<&Rota> = team.rotas.iter().collect();
    let now = chrono::DateTime::parse_from_rfc3339("2026-03-18T10:00:00Z")
        .unwrap()
        .to_utc();
    page_body(schedule, team, None, &rotas, window, None, team.tz, now)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
    let window = Window::of(View::Month, tz, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());

    let ten = team(10);
    let html = body(&ten, &window);
    let page = layout::document(
        StatusCode::OK,
        None,
        Nav::Timeline,
        "ops: March 2026",
        &with_style(&html),
    );
    let bytes = axum::body::to_bytes(page.into_body(), usize::MAX).await.unwrap();
    // To look at the page: BENCH_TIMELINE_HTML=page.html.
    if let Some(path) = std::env::var_os("BENCH_TIMELINE_HTML") {
        std::fs::write(path, &bytes).unwrap();
    }
    println!(
        "page weight, 10 rotas over a month: {} bytes ({:.1} KB; budget 100 KB)",
        bytes.len(),
        bytes.len() as f64 / 1024.0
    );

    let fifty = team(50);
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..30 {
        let start = Clock::now();
        size = body(&fifty, &window).len();
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "server time, 50 rotas over a month: median {:.2} ms, fastest {:.2} ms, slowest {:.2} ms ({} bytes drawn; budget 20 ms)",
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0,
        size
    );

    // The same 50 rotas with every layer drawn too (as 50 rota pages would).
    let team = &fifty.teams[0];
    let rotas: Vec<&Rota> = team.rotas.iter().collect();
    let now = chrono::DateTime::parse_from_rfc3339("2026-03-18T10:00:00Z")
        .unwrap()
        .to_utc();
    let mut times = Vec::new();
    for _ in 0..30 {
        let start = Clock::now();
        size = render(&fifty, team, &rotas, &window, now, Rows::Layers, &|_| RotaLinks {
            page: None,
            in_rota_zone: None,
        })
        .len();
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "server time, 50 rotas over a month, every layer drawn: median {:.2} ms, fastest {:.2} ms ({} bytes drawn)",
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        size
    );
}
