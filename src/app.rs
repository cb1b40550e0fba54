//! The composition root: builds the daemon from its settings and runs it on
//! a listener it is given, until `shutdown` completes. `main` and the tests
//! call the same `run` (tests with port 0, a temp database, a manual clock);
//! tests that step the daemon's periodic work use `build` and `serve`, which
//! `run` is made of, to keep a handle on the state.
//!
//! It only wires: what is in force (the rota files, the overrides,
//! reloads) is `live`'s; the background jobs and their leadership gate are
//! `jobs`'.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config;
use crate::domain::paging::Method;
use crate::engine::Engine;
use crate::engine::rules::Rules;
use crate::http::{self, AppState, Shared};
use crate::jobs;
use crate::links::{self, Links};
use crate::live::{self, InForce};
use crate::notify::Channels;
use crate::settings::Settings;
use crate::store::Store;

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
/// as seen: everything before serving. Fails on rota files that
/// `config::validate` refuses (what `oncall check` reports as errors), or a
/// store that cannot be opened.
pub async fn build(clock: Arc<dyn Clock>, settings: &Settings) -> anyhow::Result<Shared> {
    let loaded = config::load_dir(&settings.schedules).context("loading the rota files")?;
    // Refused before the store is opened; the warnings are logged once it
    // is, judged with the Web Push devices it keeps.
    let refused = |errors: Vec<String>| anyhow::anyhow!("the rota files have errors:\n{}", errors.join("\n"));
    let validated = config::validate(&loaded, &settings.severities, &settings.intensities);
    if validated.refused() {
        return Err(refused(validated.refusals.iter().map(|(_, d)| d.to_string()).collect()));
    }
    let database = settings.database.clone();
    let store: Arc<dyn Store> = {
        let lead = settings.run_engine;
        tokio::task::spawn_blocking(move || crate::store::open(&database, lead)).await??
    };
    let web_push = live::web_push_devices(&*store).await;
    let live = live::checked(loaded, &settings.severities, &settings.intensities, &web_push).map_err(refused)?;
    if settings.api_token.is_none() {
        tracing::warn!("the API is off: set ONCALL_API_TOKEN to use /v1/alerts, /v1/oncall");
    }
    let live = live::with_stored_overrides(live, &*store).await?;
    let schedule = live.schedule.clone();
    let mut rules = Rules::new(
        schedule.clone(),
        settings.severities.clone(),
        settings.intensities.clone(),
    );
    rules.throttle = settings.throttle.clone();
    let links = Links::new(link_secret(settings).await?, settings.public_url.clone());
    let mut channels = Channels::from_config(&settings.notify)?;
    if let Some(voice) = &settings.notify.voice {
        channels.add(Arc::new(crate::notify::VoiceChannel::new(voice, links.clone())?));
    }
    let webpush = match &settings.notify.webpush {
        Some(config) => {
            let channel = Arc::new(crate::notify::WebPushChannel::new(config, store.clone())?);
            channels.add_webpush(channel.clone());
            Some(channel)
        }
        None => None,
    };
    // A phone call is opt-in: no `[voice]` is no cause for a warning.
    let missing: Vec<&str> = Method::DEFAULT_ORDER
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
    // The channel was built, so the account and token are there.
    let inbound_voice = settings.notify.voice.as_ref().and_then(|v| {
        Some(crate::http::InboundSms {
            auth_token: v.auth_token.clone()?,
            account_sid: v.account_sid.clone()?,
        })
    });
    if settings.public_url.is_none() {
        tracing::warn!("no public_url (ONCALL_PUBLIC_URL): pages carry no acknowledge links, inbound SMS is off");
    } else if settings.notify.sms.is_some() && inbound_sms.is_none() {
        tracing::warn!("[sms] has no auth token: inbound SMS is off");
    }
    // Its own channel (the same settings as the pages'): a code is sent
    // as it is, not as a notice.
    let phone_sms = match (&settings.notify.sms, settings.verify_phones) {
        (Some(sms), true) => Some(Arc::new(crate::notify::SmsChannel::new(sms)?)),
        _ => None,
    };
    let in_force = Arc::new(InForce::new(live, store.clone(), engine.clone(), clock.clone()));
    let state = Arc::new(AppState {
        in_force,
        store,
        engine,
        api_token: settings.api_token.clone(),
        api_token_next: settings.api_token_next.clone(),
        intake_limit: settings.intake_rate.map(crate::http::Limiter::new),
        test_pages: crate::http::Limiter::test_pages(),
        guesses: crate::http::Guesses::new(),
        severities: settings.severities.clone(),
        clock,
        heartbeat_lock: tokio::sync::Mutex::new(()),
        status_public: settings.status_page_public,
        web: crate::web::Web {
            webpush,
            ..crate::web::Web::new(settings)?
        },
        links,
        inbound_sms,
        inbound_voice,
        phone_sms,
        phone_codes: tokio::sync::Mutex::new(()),
    });
    // Before serving, so that a heartbeat never pinged counts from the first
    // start that knew it, whatever the first request is.
    let configured: Vec<(String, String)> = jobs::configured(&state.schedule())
        .map(|(team, hb)| (team.to_string(), hb.name.clone()))
        .collect();
    if !configured.is_empty() {
        state.store.heartbeats_seen(configured, state.clock.now()).await?;
    }
    Ok(state)
}

/// The key that signs action links: configured, or else the one kept in
/// `<database>.link-secret`, made on the first start. Called once the store
/// holds the database's lock, so no other daemon makes one at the same time.
async fn link_secret(settings: &Settings) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &settings.link_secret {
        return Ok(secret.as_bytes().to_vec());
    }
    let path = match &settings.database {
        crate::store::Database::Sqlite(database) => links::secret_path(database),
        // Settings::resolve requires one: several daemons share the key.
        crate::store::Database::Postgres(_) => {
            anyhow::bail!("with a PostgreSQL database the link secret must be configured (link_secret)")
        }
    };
    tokio::task::spawn_blocking(move || {
        links::load_or_create_secret(&path).with_context(|| format!("the link secret in {}", path.display()))
    })
    .await?
}

/// Serves `state` on `listener` until `shutdown` completes, running the
/// background jobs (`jobs`); then closes the store.
/// The store closes only when the last reference to `state` is gone: a
/// caller that kept one must drop it for `serve` to return.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    state: Shared,
    settings: Settings,
) -> anyhow::Result<()> {
    let checks = tokio::spawn(jobs::check_loop(state.clone()));
    let phone_codes = state
        .phone_sms
        .is_some()
        .then(|| tokio::spawn(jobs::phone_codes_loop(state.clone())));
    // SIGHUP is taken over before serving, so that one sent as soon as the
    // daemon says it serves reloads rather than kills it.
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .inspect_err(|e| tracing::warn!(error = %e, "no SIGHUP handler: reloads only when a file changes"))
        .ok();
    let reloads = tokio::spawn(live::reload_loop(
        state.in_force.clone(),
        settings.schedules.clone(),
        hangup,
    ));
    let engine = settings
        .run_engine
        .then(|| tokio::spawn(state.engine.clone().run(state.clock.clone())));
    // With the engine, which records the ledger it reads.
    let exports = match settings.run_engine && settings.pay_export.enabled {
        true => Some(tokio::spawn(jobs::pay_export(
            Arc::new(jobs::pay_exporter(&state, &settings)?),
            state.clone(),
        ))),
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
    tracing::info!(address = %listener.local_addr()?, database = %settings.database, schedules = %settings.schedules.display(), max_connections = limits.max_connections, "oncall serving");
    http::listen::serve(listener, router, limits, shutdown).await;
    // A check cut short leaves nothing half done that the next one does not
    // finish (see `jobs::check_heartbeats`); its queued writes still commit.
    checks.abort();
    let _ = checks.await;
    // A run cut short between recording a code and sending it leaves a
    // pending code that never arrived: the person asks for a new one.
    if let Some(phone_codes) = phone_codes {
        phone_codes.abort();
        let _ = phone_codes.await;
    }
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
