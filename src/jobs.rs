//! The daemon's background jobs, in one place, each behind one leadership
//! gate ([`Leadership`]), so that on PostgreSQL, where several daemons share
//! a database, exactly one daemon runs each job: the one holding the
//! engine's lease. On SQLite (one daemon per database) the gate is always
//! open.
//!
//! The jobs and their gate:
//! - the engine pass (`Engine::run`): asks `Store::leading` before each
//!   pass, the very function [`Leadership::open`] asks;
//! - hand-off notices and announcements: queued and sent inside the engine
//!   pass, so under its gate;
//! - the heartbeat check ([`check_heartbeats`], every
//!   [`HEARTBEAT_CHECK_EVERY`] by [`check_loop`]): asks the gate before each
//!   check, so a follower never reports missing a heartbeat pinged on
//!   another daemon;
//! - the monthly pay export ([`pay_export`], with the engine): asks the
//!   gate before each run;
//! - phone verification codes ([`send_phone_codes`], by
//!   [`phone_codes_loop`] at start and after each reload of the rota
//!   files): asks the gate before each run, so one daemon texts each code.
//!
//! Pings, alerts and the API are answered by every daemon: only these jobs
//! are gated.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::alert::{Action, Event, Outcome};
use crate::domain::heartbeat::{self, Heartbeat};
use crate::domain::schedule::Schedule;
use crate::domain::time::Instant;
use crate::http::{AppState, Shared};
use crate::intake;
use crate::notify::EmailChannel;
use crate::payroll::PayExport;
use crate::phone_verify;
use crate::settings::Settings;
use crate::store::{Store, StoreError};

/// Whether this daemon runs the background jobs now: on PostgreSQL while
/// it holds the engine's lease, on SQLite always (`Store::leading`).
#[derive(Clone)]
pub struct Leadership {
    store: Arc<dyn Store>,
}

impl Leadership {
    pub fn new(store: Arc<dyn Store>) -> Leadership {
        Leadership { store }
    }

    /// Asked before each run of each job.
    pub fn open(&self) -> bool {
        self.store.leading()
    }
}

/// How often the heartbeat check runs. A heartbeat is overdue after its
/// interval plus grace (minutes to days), so seconds late is early enough.
pub const HEARTBEAT_CHECK_EVERY: Duration = Duration::from_secs(10);

/// The monthly pay export of the daemon `state`, as `settings` say.
pub fn pay_exporter(state: &AppState, settings: &Settings) -> anyhow::Result<PayExport> {
    let email = match (&settings.notify.email, settings.pay_export.email.is_empty()) {
        (Some(config), false) => Some(Arc::new(EmailChannel::new(config)?)),
        _ => None,
    };
    Ok(PayExport::new(
        state.store.clone(),
        settings.schedules.clone(),
        settings.pay_export.clone(),
        email,
    ))
}

/// Runs the monthly pay export `export` of the daemon `state` while its
/// gate is open (see `PayExport::run`), until the task is aborted.
pub async fn pay_export(export: Arc<PayExport>, state: Shared) {
    let gate = Leadership::new(state.store.clone());
    export.run(state.clock.clone(), move || gate.open()).await
}

/// Runs [`check_heartbeats`] every [`HEARTBEAT_CHECK_EVERY`], asking the
/// clock for `now` each time. A failed check is logged and tried again next
/// time: the store holds everything it needs.
pub async fn check_loop(state: Shared) {
    let mut ticks = tokio::time::interval_at(
        tokio::time::Instant::now() + HEARTBEAT_CHECK_EVERY,
        HEARTBEAT_CHECK_EVERY,
    );
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = state.clock.now();
        if let Err(e) = check_heartbeats(&state, now).await {
            tracing::error!(error = %e, "heartbeat check failed; retrying at the next one");
        }
    }
}

/// How soon a run of [`send_phone_codes`] that could not run (the gate
/// closed, the store failed) is tried again.
pub const PHONE_CODES_RETRY_EVERY: Duration = Duration::from_secs(10);

/// Runs [`send_phone_codes`] once for the rota files in force at start and
/// once after each reload of them that succeeded (a run that could not run
/// is tried again every [`PHONE_CODES_RETRY_EVERY`]), until aborted.
pub async fn phone_codes_loop(state: Shared) {
    let mut reloads = state.in_force.reloads();
    let mut done: Option<u64> = None;
    loop {
        let generation = *reloads.borrow_and_update();
        if done != Some(generation) {
            match send_phone_codes(&state, state.clock.now()).await {
                Ok(Some(_)) => done = Some(generation),
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "phone verification codes not sent; retrying"),
            }
        }
        tokio::select! {
            changed = reloads.changed() => {
                // The sender lives as long as the state this task holds.
                if changed.is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep(PHONE_CODES_RETRY_EVERY) => {}
        }
    }
}

/// One run of phone verification at `now`: every person's `phone` in the
/// rota files in force that is neither verified nor waiting for a code
/// that still counts is texted a code (`phone_verify::offer`: at most one
/// an hour per number). `None` when the gate is closed (the leader sends);
/// else each (person, number) and what was done.
pub async fn send_phone_codes(
    state: &AppState,
    now: Instant,
) -> Result<Option<Vec<(String, String, phone_verify::Offered)>>, StoreError> {
    if !Leadership::new(state.store.clone()).open() {
        return Ok(None);
    }
    let _run = state.phone_codes.lock().await;
    let schedule = state.schedule();
    let mut done = Vec::new();
    for (id, person) in &schedule.people {
        let Some(phone) = person.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) else {
            continue;
        };
        let offered = phone_verify::offer(state, id, phone, now, false).await?;
        done.push((id.clone(), phone.to_string(), offered));
    }
    Ok(Some(done))
}

/// Every team's configured heartbeats, in team and file order.
pub fn configured(schedule: &Schedule) -> impl Iterator<Item = (&str, &Heartbeat)> {
    schedule
        .teams
        .iter()
        .flat_map(|t| t.heartbeats.iter().map(move |hb| (t.name.as_str(), hb)))
}

/// One pass of the heartbeat check at `now`: reads the pings, asks the
/// domain which heartbeats are overdue, and for each raises a trigger
/// (dedup key `heartbeat:NAME`, intake `heartbeat`, held if the team is in
/// maintenance) and records that it did. Returns the outcomes, one per
/// overdue heartbeat.
///
/// At most one alert per silence: a heartbeat is not overdue again until it
/// has pinged since its last alert, so running the check twice, or resolving
/// the alert by hand while the job is still silent, does not page again. If
/// the daemon stops between the trigger and the record, the next check
/// triggers again and the store's dedup makes it an occurrence of the same
/// alert (if still open), never a lost page.
///
/// Only while the leadership gate is open: a daemon that does not lead
/// checks nothing (the leader does), since the pings it took are the
/// leader's to read.
pub async fn check_heartbeats(state: &AppState, now: Instant) -> Result<Vec<Outcome>, StoreError> {
    if !Leadership::new(state.store.clone()).open() {
        return Ok(Vec::new());
    }
    let schedule = state.schedule();
    let configured: Vec<(&str, &Heartbeat)> = configured(&schedule).collect();
    if configured.is_empty() {
        return Ok(Vec::new());
    }
    let _guard = state.heartbeat_lock.lock().await;
    let seen = state.store.heartbeats().await?;
    // Configured since the daemon started (no reload yet, but a store
    // restored from a backup may miss some): seen from now.
    let missing: Vec<(String, String)> = configured
        .iter()
        .filter(|(team, hb)| !seen.iter().any(|s| s.team == *team && s.name == hb.name))
        .map(|(team, hb)| (team.to_string(), hb.name.clone()))
        .collect();
    if !missing.is_empty() {
        state.store.heartbeats_seen(missing, now).await?;
    }
    let overdue = heartbeat::overdue(&configured, &seen, now);
    let mut events: Vec<Event> = overdue
        .iter()
        .map(|o| Event {
            team: o.team.to_string(),
            action: Action::Trigger,
            dedup_key: o.heartbeat.dedup_key(),
            summary: o.heartbeat.summary(o.team),
            severity: state.severities.map(o.heartbeat.severity.as_deref()).to_string(),
            source: Some(format!("heartbeat:{}", o.heartbeat.name)),
            details: serde_json::json!({
                "heartbeat": o.heartbeat.name,
                "interval": heartbeat::describe(o.heartbeat.interval),
                "grace": heartbeat::describe(o.heartbeat.grace),
                "last_ping_or_first_seen": o.since,
                "overdue_since": o.deadline,
            }),
            intake: intake::names::HEARTBEAT.to_string(),
            held: None,
        })
        .collect();
    if events.is_empty() {
        return Ok(Vec::new());
    }
    state.hold(&mut events, now);
    let counted: Vec<String> = events.iter().map(|e| e.severity.clone()).collect();
    let outcomes = state.store.ingest(events, now).await?;
    for severity in &counted {
        state.engine.metrics().received(intake::names::HEARTBEAT, severity);
    }
    state.engine.wake();
    for o in &overdue {
        tracing::warn!(team = %o.team, heartbeat = %o.heartbeat.name, since = %o.since, "heartbeat overdue");
        state
            .store
            .heartbeat_alerted(o.team.to_string(), o.heartbeat.name.clone(), now)
            .await?;
    }
    Ok(outcomes)
}
