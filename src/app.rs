//! The composition root: builds the daemon from its settings and runs it on
//! a listener it is given, until `shutdown` completes. `main` and the tests
//! call the same `run` (tests with port 0, a temp database, a manual clock);
//! tests that step the daemon's periodic work use `build` and `serve`, which
//! `run` is made of, to keep a handle on the state.
//!
//! Also the daemon's periodic work: the heartbeat check, and (with the
//! engine) the monthly pay export.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config;
use crate::domain::alert::{Action, Event, Outcome};
use crate::domain::heartbeat::{self, Heartbeat};
use crate::domain::paging::Method;
use crate::domain::schedule::{IntakeKey, Schedule};
use crate::domain::time::Instant;
use crate::engine::Engine;
use crate::engine::rules::Rules;
use crate::http::{self, AppState, Live, ReloadStatus, Shared};
use crate::intake;
use crate::links::{self, Links};
use crate::notify::{Channels, EmailChannel};
use crate::payroll::PayExport;
use crate::settings::Settings;
use crate::store::{Store, StoreError};

/// How often the heartbeat check runs. A heartbeat is overdue after its
/// interval plus grace (minutes to days), so seconds late is early enough.
pub const HEARTBEAT_CHECK_EVERY: Duration = Duration::from_secs(10);

/// How long a stopping daemon waits for deliveries in flight.
pub const ENGINE_STOP_GRACE: Duration = Duration::from_secs(15);

/// Runs the daemon until `shutdown` completes: stops accepting, lets
/// in-flight requests finish, closes the store (every answered write is
/// already committed), returns.
pub async fn run(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    clock: Arc<dyn Clock>,
    settings: Settings,
) -> anyhow::Result<()> {
    let state = build(clock, &settings).await?;
    serve(listener, shutdown, state, settings).await
}

/// Loads the rota files, opens the store, records the configured heartbeats
/// as seen: everything before serving. Fails on rota files with errors, a
/// heartbeat severity the installation does not have, or a store that cannot
/// be opened.
pub async fn build(clock: Arc<dyn Clock>, settings: &Settings) -> anyhow::Result<Shared> {
    let loaded = config::load_dir(&settings.schedules).context("loading the rota files")?;
    let live = match checked(loaded, &settings.severities, &settings.intensities) {
        Ok(live) => live,
        Err(errors) => anyhow::bail!("the rota files have errors:\n{}", errors.join("\n")),
    };
    let database = settings.database.clone();
    let store: Arc<dyn Store> = {
        let lead = settings.run_engine;
        tokio::task::spawn_blocking(move || crate::store::open(&database, lead)).await??
    };
    if settings.api_token.is_none() {
        tracing::warn!("the API is off: set ONCALL_API_TOKEN to use /v1/alerts, /v1/oncall");
    }
    let overrides: Vec<_> = store.overrides().await?.iter().map(|o| o.rota_override()).collect();
    let live = Live {
        schedule: Arc::new(live.base.with_overrides(&overrides)),
        ..live
    };
    let schedule = live.schedule.clone();
    let mut rules = Rules::new(
        schedule.clone(),
        settings.severities.clone(),
        settings.intensities.clone(),
    );
    rules.throttle = settings.throttle.clone();
    let links = Links::new(link_secret(settings).await?, settings.public_url.clone());
    let channels = Channels::from_config(&settings.notify)?;
    let missing: Vec<&str> = Method::ALL
        .into_iter()
        .filter(|m| channels.get(*m).is_none())
        .map(|m| m.as_str())
        .collect();
    if !missing.is_empty() {
        tracing::warn!(
            "no channel configured for {}: pages by those methods are logged and recorded as undeliverable (see docs/notifications.md)",
            missing.join(", ")
        );
    }
    let engine = Arc::new(Engine::new(store.clone(), rules, channels, links.clone()));
    let inbound_sms = settings.notify.sms.as_ref().and_then(|s| {
        Some(crate::http::InboundSms {
            auth_token: s.auth_token.clone()?,
            account_sid: s.account_sid.clone(),
        })
    });
    if settings.public_url.is_none() {
        tracing::warn!("no public_url (ONCALL_PUBLIC_URL): pages carry no acknowledge links, inbound SMS is off");
    } else if settings.notify.sms.is_some() && inbound_sms.is_none() {
        tracing::warn!("[sms] has no auth token: inbound SMS is off");
    }
    let state = Arc::new(AppState {
        store,
        engine,
        live: std::sync::RwLock::new(Arc::new(live)),
        reload: std::sync::Mutex::new(ReloadStatus {
            loaded_at: Some(clock.now()),
            failed: None,
        }),
        api_token: settings.api_token.clone(),
        api_token_next: settings.api_token_next.clone(),
        intake_limit: settings.intake_rate.map(crate::http::Limiter::new),
        guesses: crate::http::Guesses::new(),
        severities: settings.severities.clone(),
        clock,
        heartbeat_lock: tokio::sync::Mutex::new(()),
        changing: tokio::sync::Mutex::new(()),
        status_public: settings.status_page_public,
        links,
        inbound_sms,
    });
    // Before serving, so that a heartbeat never pinged counts from the first
    // start that knew it, whatever the first request is.
    let configured: Vec<(String, String)> = configured(&state.schedule())
        .map(|(team, hb)| (team.to_string(), hb.name.clone()))
        .collect();
    if !configured.is_empty() {
        state.store.heartbeats_seen(configured, state.clock.now()).await?;
    }
    Ok(state)
}

/// Rota files as the daemon takes them: no errors, and every severity they
/// name is one of the installation's; the integration keys resolved
/// (warnings logged). `Err` lists every problem, one a line.
fn checked(
    loaded: config::Loaded,
    severities: &crate::domain::severity::Severities,
    intensities: &std::collections::BTreeMap<String, crate::domain::paging::Intensity>,
) -> Result<Live, Vec<String>> {
    if loaded.has_errors() {
        return Err(loaded.errors().map(|d| d.to_string()).collect());
    }
    for d in config::paging_warnings(&loaded, severities, intensities) {
        tracing::warn!("{d}");
    }
    // The rota files do not know the installation's severities; here both
    // are known.
    let mut unknown = Vec::new();
    for team in &loaded.schedule.teams {
        for hb in &team.heartbeats {
            if let Some(s) = &hb.severity
                && severities.rank(s).is_none()
            {
                unknown.push(format!(
                    "team {}: heartbeat {} has severity `{s}`, which is not one of this installation's: {}",
                    team.name,
                    hb.name,
                    severities.names().join(", ")
                ));
            }
        }
        unknown.extend(config::announce_severity_errors(team, severities));
    }
    if !unknown.is_empty() {
        return Err(unknown);
    }
    let mut intake_keys = Vec::new();
    // Beside `intake_keys`: the team, the key in words, whether it was
    // written in the team file.
    let mut described: Vec<(&str, String, bool)> = Vec::new();
    let mut bad_keys = Vec::new();
    for team in &loaded.schedule.teams {
        let Some(source) = &team.intake_key else {
            tracing::warn!(team = %team.name, "no integration key: this team cannot receive alerts");
            continue;
        };
        for (which, source) in [("current", Some(source)), ("next", team.next_intake_key.as_ref())] {
            let Some(source) = source else { continue };
            match read_intake_key(source) {
                Ok(key) => {
                    let what = describe_key(which, source);
                    // A key written in the file was checked with the file;
                    // one from a variable or a file only now.
                    if let Some(problem) = config::short_key(&key) {
                        bad_keys.push(format!("team {}: {what} {problem}", team.name));
                    }
                    intake_keys.push((key, team.name.clone()));
                    described.push((&team.name, what, matches!(source, IntakeKey::Literal(_))));
                }
                Err(why) => {
                    tracing::warn!(team = %team.name, key = which, "no integration key: {why}");
                }
            }
        }
    }
    bad_keys.extend(shared_keys(&intake_keys, &described));
    if !bad_keys.is_empty() {
        return Err(bad_keys);
    }
    let base = Arc::new(loaded.schedule);
    Ok(Live {
        schedule: base.clone(),
        base,
        intake_keys,
    })
}

/// "the integration key in /path", "the next integration key in the
/// variable X": a key for people, never its value.
fn describe_key(which: &str, source: &IntakeKey) -> String {
    let which = if which == "next" { "next " } else { "" };
    match source {
        IntakeKey::Literal(_) => format!("the {which}integration key written in its team file"),
        IntakeKey::Env(var) => format!("the {which}integration key in the variable {var}"),
        IntakeKey::File(path) => format!("the {which}integration key in {}", path.display()),
    }
}

/// Keys that are another team's too, once read: one key picks one team.
/// Said of the key read from a variable or a file rather than one written
/// in a team file (two written ones are an error of the files already).
fn shared_keys(keys: &[(String, String)], described: &[(&str, String, bool)]) -> Vec<String> {
    let mut out = Vec::new();
    for (j, (key, team)) in keys.iter().enumerate() {
        let Some(i) = keys[..j].iter().position(|(k, t)| k == key && t != team) else {
            continue;
        };
        let (said, other) = if described[j].2 && !described[i].2 {
            (i, j)
        } else {
            (j, i)
        };
        out.push(format!(
            "team {}: {} is team {}'s too: give each team its own",
            described[said].0, described[said].1, described[other].0
        ));
    }
    out
}

/// The integration key from where the team file says it is, or why there
/// is none. Never the key's value in the error.
fn read_intake_key(source: &IntakeKey) -> Result<String, String> {
    let key = match source {
        IntakeKey::Literal(k) => k.clone(),
        IntakeKey::Env(var) => std::env::var(var).map_err(|_| format!("the variable {var} is not set"))?,
        IntakeKey::File(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .trim()
            .to_string(),
    };
    if key.is_empty() {
        return Err("it is empty".into());
    }
    Ok(key)
}

/// Reads the rota files in `schedules` again. If they are valid, they are
/// put in force whole: the HTTP layer's rotas and keys in one swap, the
/// engine's rules in another (its next pass uses them). If not, the
/// configuration in force stays, and every problem is logged, counted
/// (`oncall_config_reloads_total{result="failed"}`) and shown on `/readyz`
/// until a reload succeeds.
pub async fn reload(state: &AppState, schedules: &std::path::Path) -> Result<(), Vec<String>> {
    let _changing = state.changing.lock().await;
    let dir = schedules.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || config::load_dir(&dir))
        .await
        .map_err(|e| vec![e.to_string()])
        .and_then(|r| r.map_err(|e| vec![format!("{}: {e}", schedules.display())]));
    let old = state.engine.rules();
    let live = loaded.and_then(|loaded| checked(loaded, &old.severities, &old.intensities));
    let now = state.clock.now();
    match live {
        Ok(live) => {
            let teams = live.base.teams.len();
            put_in_force(state, live).await.map_err(|e| vec![e.to_string()])?;
            *state.reload.lock().unwrap_or_else(|e| e.into_inner()) = ReloadStatus {
                loaded_at: Some(now),
                failed: None,
            };
            state.engine.metrics().reloaded(true);
            tracing::info!(teams, "rota files reloaded");
            Ok(())
        }
        Err(errors) => {
            for e in &errors {
                tracing::error!("{e}");
            }
            tracing::error!(
                problems = errors.len(),
                "rota files not reloaded: they have errors; the last good ones stay in force"
            );
            state.reload.lock().unwrap_or_else(|e| e.into_inner()).failed = Some((now, errors.clone()));
            state.engine.metrics().reloaded(false);
            Err(errors)
        }
    }
}

/// Puts `live` (its rota files) in force with the run-time overrides from
/// the store: the HTTP layer's rotas and keys in one swap, the engine's
/// rules in another. Called with `AppState::changing` held.
async fn put_in_force(state: &AppState, live: Live) -> Result<(), StoreError> {
    let overrides: Vec<_> = state
        .store
        .overrides()
        .await?
        .iter()
        .map(|o| o.rota_override())
        .collect();
    let live = Live {
        schedule: Arc::new(live.base.with_overrides(&overrides)),
        ..live
    };
    let old = state.engine.rules();
    let mut rules = Rules::new(live.schedule.clone(), old.severities.clone(), old.intensities.clone());
    rules.throttle = old.throttle.clone();
    *state.live.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(live);
    state.engine.set_rules(rules);
    Ok(())
}

/// Puts the run-time overrides in the store in force again (after one was
/// added or deleted), over the rota files in force.
pub async fn overrides_changed(state: &AppState) -> Result<(), StoreError> {
    let _changing = state.changing.lock().await;
    let current = state.live();
    put_in_force(
        state,
        Live {
            base: current.base.clone(),
            schedule: current.base.clone(),
            intake_keys: current.intake_keys.clone(),
        },
    )
    .await
}

/// How often the rota folder is looked at for changes.
pub const WATCH_EVERY: Duration = Duration::from_secs(2);

/// What the rota folder's files look like: names, sizes and modification
/// times. A change of any means a reload.
fn fingerprint(dir: &std::path::Path) -> Vec<(std::ffi::OsString, u64, Option<std::time::SystemTime>)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if let Ok(meta) = entry.metadata() {
                out.push((entry.file_name(), meta.len(), meta.modified().ok()));
            }
        }
    }
    out.sort();
    out
}

/// Reloads the rota files on SIGHUP, and when a file in the folder changes
/// (looked at every [`WATCH_EVERY`]).
async fn reload_loop(state: Shared, schedules: std::path::PathBuf, mut hangup: Option<tokio::signal::unix::Signal>) {
    let dir = schedules.clone();
    let mut seen = tokio::task::spawn_blocking(move || fingerprint(&dir))
        .await
        .unwrap_or_default();
    loop {
        let by_signal = tokio::select! {
            _ = async {
                match hangup.as_mut() {
                    Some(h) => { h.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => true,
            _ = tokio::time::sleep(WATCH_EVERY) => false,
        };
        let dir = schedules.clone();
        let now_seen = tokio::task::spawn_blocking(move || fingerprint(&dir))
            .await
            .unwrap_or_default();
        if by_signal {
            tracing::info!("SIGHUP: reloading the rota files");
        } else if now_seen == seen {
            continue;
        } else {
            tracing::info!(folder = %schedules.display(), "the rota files changed: reloading");
        }
        seen = now_seen;
        let _ = reload(&state, &schedules).await;
    }
}

/// The key that signs action links: configured, or else the one kept in
/// `<database>.link-secret`, made on the first start. Called once the store
/// holds the database's lock, so no other daemon makes one at the same time.
async fn link_secret(settings: &Settings) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &settings.link_secret {
        return Ok(secret.as_bytes().to_vec());
    }
    let path = links::secret_path(&settings.database);
    tokio::task::spawn_blocking(move || {
        links::load_or_create_secret(&path).with_context(|| format!("the link secret in {}", path.display()))
    })
    .await?
}

/// Serves `state` on `listener` until `shutdown` completes, running the
/// heartbeat check every [`HEARTBEAT_CHECK_EVERY`]; then closes the store.
/// The store closes only when the last reference to `state` is gone: a
/// caller that kept one must drop it for `serve` to return.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    state: Shared,
    settings: Settings,
) -> anyhow::Result<()> {
    let checks = tokio::spawn(check_loop(state.clone()));
    // SIGHUP is taken over before serving, so that one sent as soon as the
    // daemon says it serves reloads rather than kills it.
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .inspect_err(|e| tracing::warn!(error = %e, "no SIGHUP handler: reloads only when a file changes"))
        .ok();
    let reloads = tokio::spawn(reload_loop(state.clone(), settings.schedules.clone(), hangup));
    let engine = settings
        .run_engine
        .then(|| tokio::spawn(state.engine.clone().run(state.clock.clone())));
    // With the engine, which records the ledger it reads.
    let exports = match settings.run_engine && settings.pay_export.enabled {
        true => Some(tokio::spawn(
            Arc::new(pay_export(&state, &settings)?).run(state.clock.clone()),
        )),
        false => None,
    };
    let router = http::router(state.clone(), settings.max_body_bytes);
    let open_files = http::listen::open_files_limit().0;
    let limits = http::listen::Limits {
        max_connections: http::listen::connection_cap(settings.connections.max_connections, open_files),
        ..settings.connections
    };
    if limits.max_connections < settings.connections.max_connections {
        tracing::info!(
            max_connections = limits.max_connections,
            open_files_limit = open_files,
            kept = http::listen::reserve(open_files),
            "max_connections lowered to fit the open files limit, less the descriptors kept for deliveries and the store"
        );
    }
    tracing::info!(address = %listener.local_addr()?, database = %settings.database.display(), schedules = %settings.schedules.display(), max_connections = limits.max_connections, "oncall serving");
    http::listen::serve(listener, router, limits, shutdown).await;
    // A check cut short leaves nothing half done that the next one does not
    // finish (see `check_heartbeats`); its queued writes still commit.
    checks.abort();
    let _ = checks.await;
    reloads.abort();
    let _ = reloads.await;
    // An export cut short is written again whole (files are replaced
    // atomically, the month is marked done last).
    if let Some(exports) = exports {
        exports.abort();
        let _ = exports.await;
    }
    // The engine finishes the deliveries in flight and records them (each
    // bounded by its channel's timeout). If that takes too long, what is
    // cut short stays claimed, and the next start delivers it when the
    // lease ends: at least once.
    if let Some(mut engine) = engine {
        state.engine.stop();
        if tokio::time::timeout(ENGINE_STOP_GRACE, &mut engine).await.is_err() {
            tracing::warn!("deliveries still in flight at shutdown: they are sent again after the next start");
            engine.abort();
            let _ = engine.await;
        }
    }
    // In-flight requests are done; the last references to the store go now,
    // which stops its writer after everything queued is committed.
    // Closing joins the writer thread (one last commit): off the async
    // workers.
    let store = state.store.clone();
    drop(state);
    tokio::task::spawn_blocking(move || drop(store)).await?;
    tracing::info!("oncall stopped");
    Ok(())
}

/// The monthly pay export of the daemon `state`, as `settings` say.
pub fn pay_export(state: &AppState, settings: &Settings) -> anyhow::Result<PayExport> {
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

/// Runs [`check_heartbeats`] every [`HEARTBEAT_CHECK_EVERY`], asking the
/// clock for `now` each time. A failed check is logged and tried again next
/// time: the store holds everything it needs.
async fn check_loop(state: Shared) {
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

/// Every team's configured heartbeats, in team and file order.
fn configured(schedule: &Schedule) -> impl Iterator<Item = (&str, &Heartbeat)> {
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
pub async fn check_heartbeats(state: &AppState, now: Instant) -> Result<Vec<Outcome>, StoreError> {
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
