//! Page latency end to end: from a webhook sent to the daemon to the page
//! handed to the SMTP server, to the SMS provider and (`BENCH_NOTIFY=webpush`)
//! to a Web Push service, at fixed alert rates.
//!
//! Everything is real except the SMS provider: the release `oncall serve`
//! binary (its own process, its engine loop, a fresh SQLite file with
//! `synchronous=FULL`), a real SMTP server (Debian's `aiosmtpd`, writing each
//! message into a Maildir), and this program's HTTP server speaking Twilio's
//! Messages and Calls APIs, which records when each request arrives.
//!
//! The set-up: `BENCH_TEAMS` teams, each with one rota of one person of its own,
//! who is reached by `notify: [sms, email]` (both at once), and its own
//! integration key. `[throttle]` is `"0s"` for every method: the throttle
//! bundles pages to one destination into one message per gap, which would
//! add up to the gap (a minute by default) to the latency of everything
//! after a person's first page; this measures the path, not the policy.
//!
//! Alerts go out open loop: each has a scheduled send time (`i / rate`) and
//! its own task, so a slow answer never delays the next alert (no
//! coordinated omission). Teams take turns, so at 100 alerts/s with 100
//! teams each person gets one page a second.
//!
//! Latency is taken on one clock, `SystemTime`, because the email side only
//! has a file's modification time: from just before the alert's request is
//! sent, to the arrival of the Twilio request that names it (`Reply ACK 42`
//! in the SMS body), and to the modification time of the Maildir file whose
//! subject names it (`(alert 42)`; a bundle's `Alert  42` rows). The SMTP
//! server writes the file before it answers 250, so the time is a hand-off.
//! Some kernels stamp files from a coarse clock (one tick, 1-10 ms): there,
//! email latencies can read up to a tick short.
//!
//! ```sh
//! scripts/bench-paging          # builds, runs this and bench_engine
//! target/release/examples/bench_paging [PATH/TO/oncall]
//! ```
//!
//! Settings from the environment:
//! - `BENCH_RATES`: phases as `RATE:SECONDS`, comma-separated (default
//!   `1:30,100:20`: 1 alert/s for 30 s, then 100 alerts/s for 20 s);
//! - `BENCH_DRAIN_SECONDS`: how long to wait for the last pages of a phase
//!   (default 30);
//! - `BENCH_TEAMS` (default 100);
//! - `BENCH_NOTIFY`: what is measured, any of `sms`, `email`, `voice` and
//!   `webpush` (default `sms,email`). A call counts as handed off when its
//!   `Calls.json` request arrives (the TwiML reads `Alert 42.`; `[voice]`
//!   falls back to `[sms]`'s account). `webpush` is the people's `push` with no ntfy
//!   topic and one Web Push subscription each, written into the database
//!   once the daemon has made it; their push service is this program, which
//!   records when each push arrives, decrypts it (RFC 8291, with the
//!   device's key) and reads the alert from the payload, then answers 201;
//! - `BENCH_SMS_DELAY_MS`: how long the fake Twilio waits before answering
//!   (default 0), as a provider across the internet would. The arrival still
//!   counts as the hand-off; the delay changes how long the daemon waits for
//!   the answer, and so what that wait holds up;
//! - `AIOSMTPD` (default `/usr/bin/aiosmtpd`);
//! - `BENCH_KEEP=1` keeps the work folder (daemon log, Maildir, database).
//!
//! Without a path, the daemon is the `oncall` next to this program's folder
//! (`target/release/oncall` for `target/release/examples/bench_paging`).

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use mailparse::MailHeaderMap;
use serde_json::json;
use web_push_native::p256;

/// The target of the issue: a page handed off within this, at the 99th percentile.
const TARGET_P99_MS: f64 = 100.0;
const ACCOUNT_SID: &str = "ACbench0123456789abcdef";
const AUTH_TOKEN: &str = "bench-auth-token";

/// One phase: `rate` alerts a second for `seconds`.
#[derive(Clone, Copy, Debug)]
struct Phase {
    rate: f64,
    seconds: f64,
}

/// Nanoseconds since the Unix epoch: the one clock both sides are read on.
type Wall = i128;

fn wall(t: SystemTime) -> Wall {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

fn now() -> Wall {
    wall(SystemTime::now())
}

fn ms(nanos: Wall) -> f64 {
    nanos as f64 / 1e6
}

/// A page as a receiver saw it: when, and which alerts it names (several
/// for a bundle).
#[derive(Clone, Debug)]
struct Arrival {
    at: Wall,
    alerts: Vec<i64>,
}

/// What the fake Twilio records.
#[derive(Clone, Default)]
struct Sms {
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    /// Calls placed (`Calls.json`), by the alerts their TwiML reads out.
    calls: Arc<Mutex<Vec<Arrival>>>,
    /// Phone verification codes texted (one per number, at start).
    codes: Arc<std::sync::atomic::AtomicUsize>,
    /// Requests it could not read (no alert in the body, bad credentials).
    strange: Arc<Mutex<Vec<String>>>,
    /// How long it takes to answer, after recording the arrival.
    delay: Duration,
}

/// The Web Push service and the devices subscribed at it: each person's
/// P-256 key and auth secret, to decrypt what the daemon sends them.
#[derive(Clone, Default)]
struct Push {
    devices: Arc<std::collections::HashMap<String, (p256::SecretKey, [u8; 16])>>,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    strange: Arc<Mutex<Vec<String>>>,
}

/// An alert as sent.
#[derive(Debug)]
struct Sent {
    /// Just before the request went out.
    at: Wall,
    /// How much later than scheduled it went out (the generator's lag).
    late: Duration,
    /// When the 202 came back.
    answered: Wall,
    /// The alert id from the answer, or why there is none.
    alert: Result<i64, String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let phases = phases(&std::env::var("BENCH_RATES").unwrap_or_else(|_| "1:30,100:20".into()))?;
    let drain = Duration::from_secs_f64(env_number("BENCH_DRAIN_SECONDS", 30.0)?);
    let teams = env_number("BENCH_TEAMS", 100.0)? as usize;
    let notify = channels(&std::env::var("BENCH_NOTIFY").unwrap_or_else(|_| "sms,email".into()))?;
    let sms_delay = Duration::from_millis(match std::env::var("BENCH_SMS_DELAY_MS") {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("BENCH_SMS_DELAY_MS: `{v}` is not a number"))?,
        Err(_) => 0,
    });
    ensure!((1..=10_000).contains(&teams), "BENCH_TEAMS must be 1 to 10000");
    let oncall = match std::env::args_os().nth(1) {
        Some(path) => PathBuf::from(path),
        None => default_daemon()?,
    };
    ensure!(
        oncall.is_file(),
        "no daemon binary at {} (build it: cargo build --release)",
        oncall.display()
    );
    let aiosmtpd = PathBuf::from(std::env::var_os("AIOSMTPD").unwrap_or_else(|| "/usr/bin/aiosmtpd".into()));
    ensure!(
        aiosmtpd.is_file(),
        "no {} (Debian: apt-get install python3-aiosmtpd)",
        aiosmtpd.display()
    );

    let mut work = Work::create()?;
    let dir = work.dir.clone();

    // The SMS provider: this process, so its clock reads are the arrivals.
    let sms = Sms {
        delay: sms_delay,
        ..Sms::default()
    };
    let twilio = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let twilio_addr = twilio.local_addr()?;
    let app = Router::new()
        .route("/2010-04-01/Accounts/{sid}/Messages.json", post(twilio_message))
        .route("/2010-04-01/Accounts/{sid}/Calls.json", post(twilio_call))
        .with_state(sms.clone());
    tokio::spawn(async move { axum::serve(twilio, app).await });

    // The Web Push service: this process too, one device per person.
    let push = Push {
        devices: Arc::new(
            (0..teams)
                .map(|t| {
                    let mut secret = [0u8; 32];
                    let key = loop {
                        getrandom::fill(&mut secret).expect("random bytes");
                        if let Ok(key) = p256::SecretKey::from_slice(&secret) {
                            break key;
                        }
                    };
                    let mut auth = [0u8; 16];
                    getrandom::fill(&mut auth).expect("random bytes");
                    (format!("p{t:04}"), (key, auth))
                })
                .collect(),
        ),
        ..Push::default()
    };
    let push_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let push_addr = push_listener.local_addr()?;
    let app = Router::new()
        .route("/push/{device}", post(push_message))
        .with_state(push.clone());
    tokio::spawn(async move { axum::serve(push_listener, app).await });

    // The SMTP server. Its port is picked by binding 0 and letting go: a
    // small race with other programs, found at once if lost.
    let smtp_port = free_port()?;
    let mail = dir.join("mail");
    let smtp_log = std::fs::File::create(dir.join("aiosmtpd.log"))?;
    let smtp = Command::new(&aiosmtpd)
        .args([
            "-n",
            "-l",
            &format!("127.0.0.1:{smtp_port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(&mail)
        .stdin(Stdio::null())
        .stdout(smtp_log.try_clone()?)
        .stderr(smtp_log)
        .spawn()
        .with_context(|| format!("starting {}", aiosmtpd.display()))?;
    work.children.push(("aiosmtpd", smtp));
    wait_for_smtp(&mut work, smtp_port).await?;

    // The daemon.
    let keys = write_schedules(&dir, teams, &notify)?;
    let config = dir.join("oncall.toml");
    std::fs::write(
        &config,
        oncall_toml(&dir, smtp_port, twilio_addr, notify.contains(&"webpush")),
    )?;
    let log_path = dir.join("oncall.log");
    let log = std::fs::File::create(&log_path)?;
    let mut daemon = Command::new(&oncall);
    daemon.arg("serve").arg("--config").arg(&config);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ONCALL_") {
            daemon.env_remove(name);
        }
    }
    let daemon = daemon
        .env("ONCALL_LOG", "info")
        // The bench sets its own rates: the intake's limit would answer 429.
        .env("ONCALL_INTAKE_RATE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", oncall.display()))?;
    work.children.insert(0, ("oncall", daemon));
    let address = wait_for_daemon(&mut work, &log_path).await?;
    if notify.contains(&"webpush") {
        subscribe(&dir.join("oncall.db"), &push, push_addr)?;
    }

    let load_before = load_average();
    eprintln!(
        "== bench-paging: {teams} teams, daemon on {address}, SMTP on 127.0.0.1:{smtp_port}, SMS on {twilio_addr}"
    );
    let client = reqwest::Client::new();
    let url = format!("http://{address}/v1/alerts");
    let mut mailbox = Mailbox::new(mail.join("new"));
    let mut results = Vec::new();
    let mut next_team = 0usize;
    for (n, phase) in phases.iter().enumerate() {
        let count = (phase.rate * phase.seconds).round() as usize;
        eprintln!("   {} alerts/s for {} s ({count} alerts)", phase.rate, phase.seconds);
        let sent = send_phase(&client, &url, &keys, *phase, count, n, &mut next_team).await;
        let ids: Vec<i64> = sent.iter().filter_map(|s| s.alert.as_ref().ok().copied()).collect();
        // Wait for every page of this phase, or the deadline.
        let deadline = tokio::time::Instant::now() + drain;
        loop {
            mailbox.scan()?;
            let pages = Pages::new(&notify, &sms, &mailbox, &push);
            if ids.iter().all(|id| pages.complete(*id)) || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        results.push((*phase, sent));
    }
    drop(client);
    let load_after = load_average();

    let pages = Pages::new(&notify, &sms, &mailbox, &push);
    println!();
    println!(
        "page latency, webhook sent -> page handed off; {} cores (load average before: {load_before}, after: {load_after})",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{teams} teams, one person each, notify: [{}]; [throttle] 0s for every method{}; latencies in ms",
        notify.join(", "),
        if sms_delay.is_zero() {
            String::new()
        } else {
            format!("; the SMS API answers after {} ms", sms_delay.as_millis())
        }
    );
    println!(
        "{:<14} {:<8} {:>6} {:>9} {:>8} {:>8} {:>8}   target p99 < {TARGET_P99_MS} ms",
        "rate", "channel", "sent", "received", "p50", "p99", "max"
    );
    let mut problems = Vec::new();
    let mut breakdown = Vec::new();
    for (phase, sent) in &results {
        let rate = format!("{}/s x {}s", phase.rate, phase.seconds);
        let ok: Vec<(&Sent, i64)> = sent
            .iter()
            .filter_map(|s| s.alert.as_ref().ok().map(|id| (s, *id)))
            .collect();
        let failed: Vec<&String> = sent.iter().filter_map(|s| s.alert.as_ref().err()).collect();
        if !failed.is_empty() {
            problems.push(format!(
                "{rate}: {} of {} webhooks failed, e.g. {}",
                failed.len(),
                sent.len(),
                failed[0]
            ));
        }
        let intake: Vec<f64> = ok.iter().map(|(s, _)| ms(s.answered - s.at)).collect();
        let (p50, p99, max) = summary(intake.clone());
        println!(
            "{rate:<14} {:<8} {:>6} {:>9} {p50:>8.1} {p99:>8.1} {max:>8.1}   (the 202 answer, for reference)",
            "webhook",
            sent.len(),
            ok.len()
        );
        for (channel, firsts) in &pages.by_channel {
            let latencies: Vec<f64> = ok
                .iter()
                .filter_map(|(s, id)| firsts.get(id).map(|at| ms(at - s.at)))
                .collect();
            let received = latencies.len();
            let (p50, p99, max) = summary(latencies);
            let verdict = if received == 0 {
                "no pages"
            } else if received < ok.len() {
                "MISSED (pages missing)"
            } else if p99 < TARGET_P99_MS {
                "met"
            } else {
                "MISSED"
            };
            println!(
                "{rate:<14} {channel:<8} {:>6} {received:>9} {p50:>8.1} {p99:>8.1} {max:>8.1}   {verdict}",
                ok.len()
            );
            let missing: Vec<i64> = ok
                .iter()
                .map(|(_, id)| *id)
                .filter(|id| !firsts.contains_key(id))
                .collect();
            if !missing.is_empty() {
                let shown: Vec<String> = missing.iter().take(10).map(|id| id.to_string()).collect();
                problems.push(format!(
                    "{rate}: no {channel} page within {}s of the last send for {} alerts: {}{}",
                    drain.as_secs(),
                    missing.len(),
                    shown.join(", "),
                    if missing.len() > shown.len() { ", ..." } else { "" }
                ));
            }
        }
        breakdown.push(format!("{rate}:\n{}", pages.breakdown(&ok)));
        let late = sent.iter().map(|s| s.late).max().unwrap_or_default();
        if late > Duration::from_millis(10) {
            problems.push(format!(
                "{rate}: the sender fell behind its schedule by up to {:.1} ms (latencies still count from the actual send)",
                late.as_secs_f64() * 1000.0
            ));
        }
    }
    println!();
    println!("where the time goes (p50 / p99 / max, ms):");
    for b in breakdown {
        println!("{b}");
    }
    let texts = sms.arrivals.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let pushes = push.arrivals.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let bundles = texts.iter().filter(|a| a.alerts.len() > 1).count()
        + mailbox.arrivals.iter().filter(|a| a.alerts.len() > 1).count()
        + pushes.iter().filter(|a| a.alerts.len() > 1).count();
    let repeats = repeats(&texts) + repeats(&mailbox.arrivals) + repeats(&pushes);
    if bundles > 0 || repeats > 0 {
        problems.push(format!(
            "{bundles} messages were bundles of several alerts; {repeats} pages were repeats of one already received"
        ));
    }
    let codes = sms.codes.load(std::sync::atomic::Ordering::Relaxed);
    if codes > 0 {
        println!("(and {codes} phone verification codes texted at start, one per new number: not pages, not counted)");
    }
    for s in sms.strange.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        problems.push(format!("the SMS server got {s}"));
    }
    for s in push.strange.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        problems.push(format!("the push service got {s}"));
    }
    for p in mailbox.strange.iter() {
        problems.push(p.clone());
    }
    if !problems.is_empty() {
        println!();
        for p in problems {
            println!("note: {p}");
        }
    }
    std::io::stdout().flush()?;
    work.stop();
    Ok(())
}

fn phases(text: &str) -> anyhow::Result<Vec<Phase>> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parsed = part
            .split_once(':')
            .and_then(|(r, s)| Some((r.trim().parse::<f64>().ok()?, s.trim().parse::<f64>().ok()?)));
        match parsed {
            Some((rate, seconds)) if rate > 0.0 && seconds > 0.0 && rate * seconds >= 1.0 => {
                out.push(Phase { rate, seconds })
            }
            _ => bail!("BENCH_RATES: `{part}` is not RATE:SECONDS (e.g. 100:20)"),
        }
    }
    ensure!(!out.is_empty(), "BENCH_RATES: no phase (e.g. 1:30,100:20)");
    Ok(out)
}

/// `BENCH_NOTIFY`: any of `sms`, `email`, `voice` and `webpush`, in the order given.
fn channels(text: &str) -> anyhow::Result<Vec<&'static str>> {
    let mut out = Vec::new();
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let channel = match word {
            "sms" => "sms",
            "email" => "email",
            "voice" => "voice",
            "webpush" => "webpush",
            _ => bail!("BENCH_NOTIFY: `{word}` is not sms, email, voice or webpush"),
        };
        if !out.contains(&channel) {
            out.push(channel);
        }
    }
    ensure!(
        !out.is_empty(),
        "BENCH_NOTIFY: name sms, email, voice, webpush or several"
    );
    Ok(out)
}

fn env_number(name: &str, default: f64) -> anyhow::Result<f64> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => match v.trim().parse::<f64>() {
            Ok(n) if n > 0.0 => Ok(n),
            _ => bail!("{name}: `{v}` is not a positive number"),
        },
    }
}

/// `target/release/oncall` for `target/release/examples/bench_paging`.
fn default_daemon() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot place this program in a target folder: pass the daemon's path")?;
    Ok(profile.join("oncall"))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The temp folder and the processes started; stopped and removed on drop,
/// so an early error leaves nothing running.
struct Work {
    dir: PathBuf,
    children: Vec<(&'static str, Child)>,
}

impl Work {
    fn create() -> anyhow::Result<Work> {
        let dir = std::env::temp_dir().join(format!("oncall-bench-paging-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Work {
            dir,
            children: Vec::new(),
        })
    }

    /// SIGTERM to each process (the daemon first: it finishes in-flight
    /// requests and closes its store), then up to 10 s for it to exit.
    fn stop(&mut self) {
        for (name, mut child) in self.children.drain(..) {
            if matches!(child.try_wait(), Ok(Some(_))) {
                continue;
            }
            // std cannot send SIGTERM; kill(1) can.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stderr(Stdio::null())
                .status();
            let mut exited = false;
            for _ in 0..200 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    exited = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !exited {
                eprintln!("bench-paging: {name} did not stop on SIGTERM within 10 s; killing it");
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// A process's log, for an error message.
    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        self.stop();
        if std::env::var_os("BENCH_KEEP").is_some_and(|v| v == "1") {
            eprintln!("bench-paging: kept {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

async fn wait_for_smtp(work: &mut Work, port: u16) -> anyhow::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        if let Some((_, child)) = work.children.iter_mut().find(|(n, _)| *n == "aiosmtpd")
            && let Ok(Some(status)) = child.try_wait()
        {
            bail!("aiosmtpd exited ({status}):\n{}", work.log("aiosmtpd.log"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("aiosmtpd did not listen within 10 s:\n{}", work.log("aiosmtpd.log"))
}

/// The daemon's address, from its `oncall serving address=...` log line.
async fn wait_for_daemon(work: &mut Work, log: &Path) -> anyhow::Result<SocketAddr> {
    for _ in 0..400 {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(address) = text
            .split_whitespace()
            .find_map(|w| w.strip_prefix("address="))
            .and_then(|a| a.parse().ok())
        {
            return Ok(address);
        }
        if let Some((_, child)) = work.children.iter_mut().find(|(n, _)| *n == "oncall")
            && let Ok(Some(status)) = child.try_wait()
        {
            bail!("the daemon exited ({status}) before serving:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the daemon did not serve within 20 s:\n{}", work.log("oncall.log"))
}

/// `TEAMS` team files and `people.yaml`; answers each team's integration key.
fn write_schedules(dir: &Path, teams: usize, notify: &[&str]) -> anyhow::Result<Vec<String>> {
    let schedules = dir.join("schedules");
    std::fs::create_dir_all(&schedules)?;
    let mut people = String::from("people:\n");
    let mut keys = Vec::new();
    for t in 0..teams {
        people.push_str(&format!(
            "  p{t:04}: {{name: Person {t}, email: p{t:04}@example.com, phone: \"+1555{t:07}\", \
             timezone: UTC, notify: [{}]}}\n",
            // Web Push is `push` (no ntfy topic: the subscription alone).
            notify
                .iter()
                .map(|m| if *m == "webpush" { "push" } else { m })
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let key = format!("bench-paging-key-{t:04}");
        std::fs::write(
            schedules.join(format!("t{t:04}.yaml")),
            format!(
                "team: t{t:04}\ntimezone: UTC\nhandoff_notices: []\n\
                 rotas:\n  primary: {{members: [p{t:04}], start: 2026-01-05T09:00, every: 1w}}\n\
                 intake_key: {key}\n"
            ),
        )?;
        keys.push(key);
    }
    std::fs::write(schedules.join("people.yaml"), people)?;
    Ok(keys)
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn oncall_toml(dir: &Path, smtp_port: u16, twilio: SocketAddr, webpush: bool) -> String {
    let mut toml = format!(
        r#"# Written by examples/bench_paging.rs.
listen = "127.0.0.1:0"
schedules = {schedules}
database = {database}
public_url = "https://oncall.example.com"

[email]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
from = "oncall <oncall@example.com>"

[sms]
base_url = "http://{twilio}"
account_sid = "{ACCOUNT_SID}"
auth_token = "{AUTH_TOKEN}"
from = "+15550100"

# Calls through [sms]'s account (only made where `notify:` names voice).
[voice]

# No bundling: every page goes as soon as it is due.
[throttle]
sms = "0s"
email = "0s"
push = "0s"
webhook = "0s"
voice = "0s"
"#,
        schedules = toml_string(&dir.join("schedules").to_string_lossy()),
        database = toml_string(&dir.join("oncall.db").to_string_lossy()),
    );
    if webpush {
        let (private, _) = oncall::notify::webpush::keygen();
        toml.push_str(&format!(
            "\n# The push service is this program, on loopback (plain http).\n[webpush]\n\
             subject = \"mailto:bench@example.com\"\nprivate_key = \"{private}\"\nallow_http = true\n"
        ));
    }
    toml
}

/// Writes each person's Web Push subscription into the daemon's database,
/// as `/me/push` would (the daemon reads them at each pass).
fn subscribe(database: &Path, push: &Push, service: SocketAddr) -> anyhow::Result<()> {
    use base64::Engine as _;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let db = rusqlite::Connection::open(database)?;
    db.busy_timeout(Duration::from_secs(10))?;
    for (person, (key, auth)) in push.devices.iter() {
        db.execute(
            "INSERT INTO webpush_subscriptions (person, endpoint, p256dh, auth, created_at) VALUES (?1, ?2, ?3, ?4, 0)",
            (
                person,
                format!("http://{service}/push/{person}"),
                b64(key.public_key().to_encoded_point(false).as_bytes()),
                b64(auth),
            ),
        )?;
    }
    Ok(())
}

/// `POST /push/{device}`, as a push service answers it (RFC 8030): 201 with
/// the message's URL. Records the arrival first, then decrypts it as the
/// device would, for the alerts it names.
async fn push_message(State(push): State<Push>, UrlPath(device): UrlPath<String>, body: Bytes) -> Response {
    let at = now();
    let strange = |what: String| push.strange.lock().unwrap_or_else(|e| e.into_inner()).push(what);
    let Some((key, auth)) = push.devices.get(&device) else {
        strange(format!("a push for an unknown device {device}"));
        return StatusCode::NOT_FOUND.into_response();
    };
    let auth = web_push_native::Auth::clone_from_slice(auth);
    let payload = match web_push_native::decrypt(body.to_vec(), key, &auth) {
        Ok(plain) => serde_json::from_slice::<serde_json::Value>(&plain).ok(),
        Err(e) => {
            strange(format!("a push that does not decrypt: {e}"));
            None
        }
    };
    let alerts: Vec<i64> = payload
        .as_ref()
        .and_then(|p| p["alerts"].as_array())
        .map(|a| a.iter().filter_map(|x| x["id"].as_i64()).collect())
        .unwrap_or_default();
    if alerts.is_empty() {
        strange(format!("a push naming no alert: {payload:?}"));
    } else {
        push.arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arrival { at, alerts });
    }
    (StatusCode::CREATED, [(header::LOCATION, format!("/message/{at}"))]).into_response()
}

/// Sends `count` alerts at `phase.rate`, each from its own task at its
/// scheduled time; answers them in the order sent.
async fn send_phase(
    client: &reqwest::Client,
    url: &str,
    keys: &[String],
    phase: Phase,
    count: usize,
    n: usize,
    next_team: &mut usize,
) -> Vec<Sent> {
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let scheduled = start + Duration::from_secs_f64(i as f64 / phase.rate);
        tokio::time::sleep_until(scheduled).await;
        let key = keys[*next_team % keys.len()].clone();
        *next_team += 1;
        let request = client.post(url).bearer_auth(key).json(&json!({
            "summary": format!("bench page {i} of phase {n}"),
            "severity": "critical",
            "dedup_key": format!("bench-{n}-{i}"),
        }));
        tasks.push(tokio::spawn(async move {
            let late = tokio::time::Instant::now().saturating_duration_since(scheduled);
            let at = now();
            let alert = match request.send().await {
                Ok(response) if response.status() == StatusCode::ACCEPTED => {
                    match response.json::<serde_json::Value>().await {
                        Ok(body) => body["alert_id"]
                            .as_i64()
                            .ok_or_else(|| format!("no alert_id in {body}")),
                        Err(e) => Err(format!("unreadable answer: {e}")),
                    }
                }
                Ok(response) => Err(format!(
                    "{}: {}",
                    response.status(),
                    response.text().await.unwrap_or_default()
                )),
                Err(e) => Err(e.to_string()),
            };
            Sent {
                at,
                late,
                answered: now(),
                alert,
            }
        }));
    }
    let mut sent = Vec::with_capacity(count);
    for task in tasks {
        match task.await {
            Ok(s) => sent.push(s),
            Err(e) => sent.push(Sent {
                at: now(),
                late: Duration::ZERO,
                answered: now(),
                alert: Err(format!("the sending task failed: {e}")),
            }),
        }
    }
    sent
}

/// `POST /2010-04-01/Accounts/{sid}/Messages.json`, as Twilio answers it:
/// 201 with the message's `sid`. Records the arrival first.
async fn twilio_message(
    State(sms): State<Sms>,
    UrlPath(sid): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = now();
    let mut text = String::new();
    for (name, value) in form_urlencoded::parse(&body) {
        if name == "Body" {
            text = value.into_owned();
        }
    }
    let authorized = sid == ACCOUNT_SID
        && headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == basic_auth(ACCOUNT_SID, AUTH_TOKEN));
    if !authorized {
        sms.strange
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push("a request with the wrong account or credentials".into());
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": 20003, "message": "Authenticate"})),
        )
            .into_response();
    }
    let alerts = reply_codes(&text);
    if alerts.is_empty() && text.contains(" reply VERIFY ") {
        // The daemon texts each new number a verification code at start
        // (docs/notifications.md, "Phone numbers verified"): not a page.
        sms.codes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    } else if alerts.is_empty() {
        sms.strange
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("an SMS naming no alert: {text:?}"));
    } else {
        sms.arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arrival { at, alerts });
    }
    if !sms.delay.is_zero() {
        tokio::time::sleep(sms.delay).await;
    }
    let n = at.rem_euclid(1 << 48);
    (
        StatusCode::CREATED,
        axum::Json(json!({"sid": format!("SM{n:032x}"), "status": "queued", "body": text})),
    )
        .into_response()
}

/// `POST /2010-04-01/Accounts/{sid}/Calls.json`, as Twilio answers it: 201
/// with the call's `sid`. Records the arrival first, by the alerts the
/// call's TwiML reads out (`Alert 42.`).
async fn twilio_call(
    State(sms): State<Sms>,
    UrlPath(sid): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = now();
    let mut twiml = String::new();
    for (name, value) in form_urlencoded::parse(&body) {
        if name == "Twiml" {
            twiml = value.into_owned();
        }
    }
    let authorized = sid == ACCOUNT_SID
        && headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == basic_auth(ACCOUNT_SID, AUTH_TOKEN));
    let strange = |what: String| sms.strange.lock().unwrap_or_else(|e| e.into_inner()).push(what);
    if !authorized {
        strange("a call with the wrong account or credentials".into());
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": 20003, "message": "Authenticate"})),
        )
            .into_response();
    }
    let mut alerts: Vec<i64> = twiml
        .split("Alert ")
        .skip(1)
        .filter_map(|tail| tail.split('.').next()?.trim().parse().ok())
        .collect();
    alerts.dedup();
    if alerts.is_empty() {
        strange(format!("a call reading no alert: {twiml:?}"));
    } else {
        sms.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arrival { at, alerts });
    }
    let n = at.rem_euclid(1 << 48);
    (
        StatusCode::CREATED,
        axum::Json(json!({"sid": format!("CA{n:032x}"), "status": "queued"})),
    )
        .into_response()
}

fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// The alerts an SMS names: its reply codes, `ACK 42` (one per alert of a
/// bundle, as many as fit).
fn reply_codes(body: &str) -> Vec<i64> {
    let tail = body.rsplit_once(" Reply ").map_or(body, |(_, t)| t);
    let words: Vec<&str> = tail.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    words
        .windows(2)
        .filter(|w| w[0] == "ACK")
        .filter_map(|w| w[1].trim_end_matches('.').parse().ok())
        .collect()
}

/// The Maildir that aiosmtpd writes: one file per message in `new/`.
struct Mailbox {
    new: PathBuf,
    seen: HashSet<OsString>,
    arrivals: Vec<Arrival>,
    strange: Vec<String>,
}

impl Mailbox {
    fn new(new: PathBuf) -> Mailbox {
        Mailbox {
            new,
            seen: HashSet::new(),
            arrivals: Vec::new(),
            strange: Vec::new(),
        }
    }

    /// Reads the messages that arrived since the last scan. A message
    /// appears whole (Maildir writes it in `tmp/` and renames it); its
    /// modification time is when the SMTP server wrote it.
    fn scan(&mut self) -> anyhow::Result<()> {
        let entries = match std::fs::read_dir(&self.new) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.new.display())),
        };
        for entry in entries {
            let entry = entry?;
            if self.seen.contains(&entry.file_name()) {
                continue;
            }
            self.seen.insert(entry.file_name());
            let at = wall(entry.metadata()?.modified()?);
            let raw = std::fs::read(entry.path())?;
            match email_alerts(&raw) {
                Ok(alerts) if !alerts.is_empty() => self.arrivals.push(Arrival { at, alerts }),
                Ok(_) => self.strange.push(format!(
                    "an email naming no alert: {}",
                    String::from_utf8_lossy(&raw)
                        .lines()
                        .find(|l| l.starts_with("Subject:"))
                        .unwrap_or("")
                )),
                Err(e) => self.strange.push(format!("an email that does not parse: {e}")),
            }
        }
        Ok(())
    }
}

/// The alerts an email names: `(alert 42)` at the end of a single alert's
/// subject; for a bundle, the `Alert  42` rows of its plain text.
fn email_alerts(raw: &[u8]) -> Result<Vec<i64>, mailparse::MailParseError> {
    let mail = mailparse::parse_mail(raw)?;
    let subject = mail.headers.get_first_value("Subject").unwrap_or_default();
    if let Some(id) = subject
        .trim_end()
        .strip_suffix(')')
        .and_then(|s| s.rsplit_once("(alert "))
        .and_then(|(_, id)| id.parse().ok())
    {
        return Ok(vec![id]);
    }
    let mut alerts = Vec::new();
    let mut parts = vec![&mail];
    while let Some(part) = parts.pop() {
        parts.extend(part.subparts.iter());
        if part.ctype.mimetype == "text/plain" {
            for line in part.get_body()?.lines() {
                let mut words = line.split_whitespace();
                if words.next() == Some("Alert")
                    && let Some(Ok(id)) = words.next().map(str::parse)
                {
                    alerts.push(id);
                }
            }
        }
    }
    Ok(alerts)
}

/// The pages received so far, on the channels measured.
struct Pages {
    /// Each channel's first page of each alert.
    by_channel: Vec<(&'static str, BTreeMap<i64, Wall>)>,
}

/// SMS arrivals closer than this belong to one burst: the messages one
/// engine pass sends together.
const BURST_GAP_NS: Wall = 5_000_000;

impl Pages {
    fn new(notify: &[&'static str], sms: &Sms, mailbox: &Mailbox, push: &Push) -> Pages {
        let by_channel = notify
            .iter()
            .map(|channel| {
                let firsts = match *channel {
                    "sms" => first_arrivals(&sms.arrivals.lock().unwrap_or_else(|e| e.into_inner())),
                    "voice" => first_arrivals(&sms.calls.lock().unwrap_or_else(|e| e.into_inner())),
                    "webpush" => first_arrivals(&push.arrivals.lock().unwrap_or_else(|e| e.into_inner())),
                    _ => first_arrivals(&mailbox.arrivals),
                };
                (*channel, firsts)
            })
            .collect();
        Pages { by_channel }
    }

    fn complete(&self, alert: i64) -> bool {
        self.by_channel.iter().all(|(_, firsts)| firsts.contains_key(&alert))
    }

    fn firsts(&self, channel: &str) -> Option<&BTreeMap<i64, Wall>> {
        self.by_channel.iter().find(|(c, _)| *c == channel).map(|(_, f)| f)
    }

    /// The legs of the path for `sent`, one line each.
    fn breakdown(&self, sent: &[(&Sent, i64)]) -> String {
        let line = |label: &str, samples: Vec<f64>| format!("  {label:<34} {}", spread(samples));
        let mut lines = vec![line(
            "webhook sent -> 202 answer:",
            sent.iter().map(|(s, _)| ms(s.answered - s.at)).collect(),
        )];
        for (channel, firsts) in &self.by_channel {
            lines.push(line(
                &format!("202 answer -> {channel} handed off:"),
                sent.iter()
                    .filter_map(|(s, id)| firsts.get(id).map(|at| ms(at - s.answered)))
                    .collect(),
            ));
        }
        for (channel, firsts) in &self.by_channel {
            let slowest = sent
                .iter()
                .enumerate()
                .filter_map(|(i, (s, id))| Some((i, s, *id, *firsts.get(id)?)))
                .max_by_key(|(_, s, _, at)| at - s.at);
            if let Some((i, s, id, at)) = slowest {
                lines.push(format!(
                    "  slowest {channel}: alert {id} (number {} of the phase): {:.1} ms to the 202, then {:.1} ms",
                    i + 1,
                    ms(s.answered - s.at),
                    ms(at - s.answered)
                ));
            }
        }
        if let (Some(texts), Some(emails)) = (self.firsts("sms"), self.firsts("email")) {
            lines.push(line(
                "SMS -> email of the same alert:",
                sent.iter()
                    .filter_map(|(_, id)| Some(ms(emails.get(id)? - texts.get(id)?)))
                    .collect(),
            ));
        }
        if let Some(texts) = self.firsts("sms") {
            let mut arrivals: Vec<Wall> = sent.iter().filter_map(|(_, id)| texts.get(id).copied()).collect();
            arrivals.sort_unstable();
            // (start, size) of each burst.
            let mut bursts: Vec<(Wall, usize)> = Vec::new();
            let mut last = None;
            for at in arrivals {
                match (bursts.last_mut(), last) {
                    (Some(burst), Some(previous)) if at - previous <= BURST_GAP_NS => burst.1 += 1,
                    _ => bursts.push((at, 1)),
                }
                last = Some(at);
            }
            let sizes: Vec<f64> = bursts.iter().map(|b| b.1 as f64).collect();
            let apart: Vec<f64> = bursts.windows(2).map(|w| ms(w[1].0 - w[0].0)).collect();
            lines.push(format!(
                "  SMS bursts (arrivals < {} ms apart, about one per engine pass): {}; alerts in one: {}; \
                 from one burst to the next: {}",
                BURST_GAP_NS / 1_000_000,
                bursts.len(),
                spread(sizes),
                spread(apart)
            ));
        }
        lines.join("\n")
    }
}

/// `p50 / p99 / max` of `samples`.
fn spread(samples: Vec<f64>) -> String {
    if samples.is_empty() {
        return "-".into();
    }
    let (p50, p99, max) = summary(samples);
    format!("{p50:.1} / {p99:.1} / {max:.1}")
}

/// Each alert's first page on one channel.
fn first_arrivals(arrivals: &[Arrival]) -> BTreeMap<i64, Wall> {
    let mut first = BTreeMap::new();
    for a in arrivals {
        for id in &a.alerts {
            first
                .entry(*id)
                .and_modify(|t: &mut Wall| *t = (*t).min(a.at))
                .or_insert(a.at);
        }
    }
    first
}

/// Pages for an alert beyond its first on the channel.
fn repeats(arrivals: &[Arrival]) -> usize {
    let all: usize = arrivals.iter().map(|a| a.alerts.len()).sum();
    all - first_arrivals(arrivals).len()
}

/// p50, p99 and max (nearest rank); zeros for no samples.
fn summary(mut samples: Vec<f64>) -> (f64, f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    samples.sort_by(f64::total_cmp);
    let rank = |p: f64| samples[((p / 100.0 * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
    (rank(50.0), rank(99.0), samples[samples.len() - 1])
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
