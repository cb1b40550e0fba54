//! How long an engine pass takes with 10,000 open alerts, on a real SQLite
//! file (`synchronous=FULL`), in release mode:
//!
//! 1. the storm: 10,000 alerts arrived since the last pass (100 teams, one
//!    person on call each): every escalation starts, 10,000 notifications
//!    are written, bundled into one message per person, delivered, recorded;
//! 2. a quiet pass: the 10,000 alerts are open, their next step is due in
//!    15 minutes, nothing is due now;
//! 3. the second step: 15 minutes later, all 10,000 escalate at once.
//!
//! Deliveries go to a channel that accepts at once: this measures the
//! engine and the store, not a provider.
//!
//!   cargo run --release --example bench_engine [ALERTS]   (scripts/bench-paging runs it)

use std::sync::Arc;
use std::time::Instant as Stopwatch;

use chrono::{DateTime, Duration, Utc};
use oncall::domain::alert::{Action, Event};
use oncall::store::Store;
use oncall::store::sqlite::SqliteStore;

#[path = "../benches/fixture/engine.rs"]
mod fixture;
use fixture::TEAMS;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let alerts: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("oncall-bench-engine-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(SqliteStore::open(&dir.join("oncall.db"))?);
    let engine = fixture::engine(store.clone());

    let start: DateTime<Utc> = "2026-06-01T09:00:00Z".parse()?;
    // Ingest in batches of 500, as group commit would under load.
    let events: Vec<Event> = (0..alerts)
        .map(|i| Event {
            team: format!("t{}", i % TEAMS),
            action: Action::Trigger,
            dedup_key: format!("k{i}"),
            summary: format!("alert {i}"),
            severity: "critical".into(),
            source: None,
            details: serde_json::json!({"n": i}),
            intake: "plain".into(),
            held: None,
        })
        .collect();
    for chunk in events.chunks(500) {
        store.ingest(chunk.to_vec(), start).await?;
    }

    let timed = |label: &'static str, report: oncall::engine::PassReport, took: std::time::Duration| {
        println!(
            "{label}: {:.1} ms ({} messages delivered)",
            took.as_secs_f64() * 1000.0,
            report.attempts.len()
        );
    };
    let t = Stopwatch::now();
    let report = engine.run_once(start).await?;
    timed("pass 1, 10,000 new alerts escalate", report, t.elapsed());
    let mut quiet = Vec::new();
    for i in 1..=5 {
        let t = Stopwatch::now();
        let report = engine.run_once(start + Duration::minutes(i)).await?;
        anyhow::ensure!(report.attempts.is_empty(), "nothing should be due");
        quiet.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    quiet.sort_by(f64::total_cmp);
    println!(
        "quiet pass, 10,000 open alerts, nothing due: median {:.2} ms (of 5)",
        quiet[quiet.len() / 2]
    );
    let t = Stopwatch::now();
    let report = engine.run_once(start + Duration::minutes(15)).await?;
    timed("pass at +15m, 10,000 second steps fire", report, t.elapsed());
    drop(engine);
    Arc::into_inner(store).map(|s| s.close()).transpose()?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
