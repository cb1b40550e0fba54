//! An engine pass with 10,000 open alerts, each with a pending step, on a
//! real SQLite file: the time of a pass and the memory it takes.
//!
//! 100 teams of one person each (email only, delivered to a channel that
//! accepts at once: this measures the engine and the store, not a
//! provider); each team's policy pages its rota, then again 15 minutes
//! later. 10,000 alerts are taken in and escalated once, so each is open
//! with its second step pending. Then:
//!
//! - `quiet_10000_open_alerts`: passes from 5 minutes on, a millisecond
//!   apart, when nothing is due (what every pass costs while many alerts
//!   are open);
//! - `10000_second_steps_fire`: the pass 15 minutes on, when all 10,000 second steps
//!   fire at once (bundled into one email per person), each on a fresh
//!   copy of the database.
//!
//! Memory per pass, printed before the timings: the bytes the pass
//! allocated (a counting global allocator, every thread: the store's
//! writer runs the pass), the most it held at once above what was held
//! before, and the growth of the process's peak RSS (SQLite's own page
//! cache is not among the allocator's bytes, but is in the RSS).
//!
//! Run with `cargo bench --bench engine_pass`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use oncall::domain::alert::{Action, Event};
use oncall::engine::Engine;
use oncall::store::Store;
use oncall::store::sqlite::SqliteStore;

#[path = "fixture/engine.rs"]
mod fixture;
use fixture::{TEAMS, engine};

const ALERTS: usize = 10_000;

/// The system allocator, counting: bytes allocated, bytes live, the most
/// live since the last reset.
struct Counting;

static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

fn grew(bytes: usize) {
    ALLOCATED.fetch_add(bytes as u64, Ordering::Relaxed);
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    let live = LIVE.fetch_add(bytes as i64, Ordering::Relaxed) + bytes as i64;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    LIVE.fetch_sub(bytes as i64, Ordering::Relaxed);
}

// SAFETY: every call is passed to the system allocator unchanged; the
// counters are only read.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller promised for `layout`.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller promised for `layout`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as the caller promised for `ptr` and `layout`.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as the caller promised for `ptr`, `layout` and `new_size`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What one pass cost in memory.
struct Memory {
    allocated: u64,
    allocations: u64,
    /// The most held at once during the pass, above what was held before.
    peak_above: i64,
    /// How much the process's peak resident set grew.
    peak_rss_kib: i64,
}

fn vm_hwm_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `pass`, counting what it allocates. The peak RSS is reset first
/// (Linux: `clear_refs` 5), so its growth is the pass's.
fn measure<T>(pass: impl FnOnce() -> T) -> (T, Memory) {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss = vm_hwm_kib();
    let (allocated, allocations) = (ALLOCATED.load(Ordering::Relaxed), ALLOCATIONS.load(Ordering::Relaxed));
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    let out = pass();
    let memory = Memory {
        allocated: ALLOCATED.load(Ordering::Relaxed) - allocated,
        allocations: ALLOCATIONS.load(Ordering::Relaxed) - allocations,
        peak_above: PEAK.load(Ordering::Relaxed) - live,
        peak_rss_kib: vm_hwm_kib() - rss,
    };
    (out, memory)
}

fn print(label: &str, memory: &Memory) {
    println!(
        "engine_pass/{label}: allocated {:.1} MiB in {} allocations; held at most {:.1} MiB more than before; \
         peak RSS +{:.1} MiB",
        memory.allocated as f64 / (1 << 20) as f64,
        memory.allocations,
        memory.peak_above as f64 / (1 << 20) as f64,
        memory.peak_rss_kib as f64 / 1024.0,
    );
}

fn start() -> DateTime<Utc> {
    "2026-06-01T09:00:00Z".parse().unwrap()
}

/// A database in `dir` with 10,000 open alerts escalated once: each has
/// its second step pending, due 15 minutes after the start. Closed, and
/// checkpointed into one file.
fn open_alerts(runtime: &tokio::runtime::Runtime, dir: &Path) -> PathBuf {
    let path = dir.join("oncall.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let engine = engine(store.clone());
    runtime.block_on(async {
        let events: Vec<Event> = (0..ALERTS)
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
        // In batches of 500, as group commit would under load.
        for chunk in events.chunks(500) {
            store.ingest(chunk.to_vec(), start()).await.unwrap();
        }
        let report = engine.run_once(start()).await.unwrap();
        assert_eq!(report.attempts.len(), TEAMS, "one bundle per person");
    });
    drop(engine);
    Arc::into_inner(store).unwrap().close().unwrap();
    // Everything into the one file that the copies copy.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    path
}

/// A copy of the database at `from`, opened, with its engine.
fn fresh_copy(from: &Path, dir: &Path, n: usize) -> (Engine, Arc<SqliteStore>) {
    // The copy before this one is closed by now: its files go.
    if let Some(before) = n.checked_sub(1) {
        for suffix in ["", "-wal", "-shm", ".lock"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", dir.join(format!("copy-{before}.db")).display()));
        }
    }
    let to = dir.join(format!("copy-{n}.db"));
    std::fs::copy(from, &to).unwrap();
    let store = Arc::new(SqliteStore::open(&to).unwrap());
    (engine(store.clone()), store)
}

fn engine_pass(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("oncall-bench-engine-pass-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let template = open_alerts(&runtime, &dir);

    let mut group = c.benchmark_group("engine_pass");
    group.sample_size(10);
    group.measurement_time(StdDuration::from_secs(10));

    // Nothing due: every alert open, its second step 10 minutes away. Each
    // pass a millisecond after the one before, as the daemon's loop passes
    // (what it does not do again at the same instant, hand-off notices,
    // it does at each).
    let (engine, store) = fresh_copy(&template, &dir, 0);
    let quiet = std::cell::Cell::new(start() + Duration::minutes(5));
    let quiet_pass = || {
        quiet.set(quiet.get() + Duration::milliseconds(1));
        let report = runtime.block_on(engine.run_once(quiet.get())).unwrap();
        assert!(report.attempts.is_empty(), "nothing is due");
    };
    quiet_pass();
    let ((), memory) = measure(quiet_pass);
    print("quiet_10000_open_alerts", &memory);
    group.bench_function("quiet_10000_open_alerts", |b| b.iter(quiet_pass));
    drop(engine);
    Arc::into_inner(store).unwrap().close().unwrap();

    // All 10,000 second steps due at once; each pass on a fresh copy.
    let due = start() + Duration::minutes(15);
    let mut copies = 1;
    let mut fresh = || {
        copies += 1;
        fresh_copy(&template, &dir, copies)
    };
    let (engine, store) = fresh();
    let (report, memory) = measure(|| runtime.block_on(engine.run_once(due)).unwrap());
    assert_eq!(report.attempts.len(), TEAMS, "one bundle per person");
    print("10000_second_steps_fire", &memory);
    drop(engine);
    Arc::into_inner(store).unwrap().close().unwrap();
    group.bench_function("10000_second_steps_fire", |b| {
        b.iter_batched(
            &mut fresh,
            |(engine, store)| {
                let report = runtime.block_on(engine.run_once(due)).unwrap();
                assert_eq!(report.attempts.len(), TEAMS);
                // Closed outside the timing: dropped by criterion after.
                (engine, store)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, engine_pass);
criterion_main!(benches);
