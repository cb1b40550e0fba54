//! The composition root: builds the daemon from its settings and runs it on
//! a listener it is given, until `shutdown` completes. `main` and the tests
//! call the same `run` (tests with port 0, a temp database, a manual clock).

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config;
use crate::domain::schedule::IntakeKey;
use crate::http::{self, AppState};
use crate::settings::Settings;
use crate::store::Store;
use crate::store::sqlite::SqliteStore;

/// Runs the daemon until `shutdown` completes: stops accepting, lets
/// in-flight requests finish, closes the store (every answered write is
/// already committed), returns.
pub async fn run(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    clock: Arc<dyn Clock>,
    settings: Settings,
) -> anyhow::Result<()> {
    let loaded = config::load_dir(&settings.schedules).context("loading the rota files")?;
    if loaded.has_errors() {
        let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
        anyhow::bail!("the rota files have errors:\n{}", errors.join("\n"));
    }
    let mut intake_keys = Vec::new();
    for team in &loaded.schedule.teams {
        match &team.intake_key {
            Some(IntakeKey::Literal(k)) => intake_keys.push((k.clone(), team.name.clone())),
            Some(IntakeKey::Env(var)) => match std::env::var(var) {
                Ok(k) if !k.is_empty() => intake_keys.push((k, team.name.clone())),
                _ => {
                    tracing::warn!(team = %team.name, variable = %var, "no integration key: the variable is not set, so this team cannot receive alerts")
                }
            },
            None => tracing::warn!(team = %team.name, "no integration key: this team cannot receive alerts"),
        }
    }
    let database = settings.database.clone();
    let store: Arc<dyn Store> = {
        let path = database.clone();
        Arc::new(tokio::task::spawn_blocking(move || SqliteStore::open(&path)).await??)
    };
    if settings.api_token.is_none() {
        tracing::warn!("the API is off: set ONCALL_API_TOKEN to use /v1/alerts, /v1/oncall");
    }
    let state = Arc::new(AppState {
        store: store.clone(),
        schedule: Arc::new(loaded.schedule),
        intake_keys,
        api_token: settings.api_token.clone(),
        severities: settings.severities.clone(),
        clock,
    });
    let router = http::router(state.clone(), settings.max_body_bytes);
    tracing::info!(address = %listener.local_addr()?, database = %database.display(), schedules = %settings.schedules.display(), "oncall serving");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")?;
    // In-flight requests are done; the last references to the store go now,
    // which stops its writer after everything queued is committed.
    // Closing joins the writer thread (one last commit): off the async
    // workers.
    drop(state);
    tokio::task::spawn_blocking(move || drop(store)).await?;
    tracing::info!("oncall stopped");
    Ok(())
}
