//! What is in force: the rota files plus the stored overrides, reloaded.
//!
//! [`Live`] is one configuration (the rota files, the rotas with the
//! run-time overrides, the integration keys); [`InForce`] holds the one in
//! force and swaps it whole: on a reload of the rota files ([`InForce::reload`],
//! by SIGHUP or a changed file, [`reload_loop`]) and when an override is
//! added or deleted ([`InForce::overrides_changed`], called by the HTTP
//! layer). Each successful reload is counted ([`InForce::reloads`]), for
//! the jobs that act on what a reload brings (phone verification codes).
//! The HTTP layer and the composition root (`app`) use this module; it
//! uses neither.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::config;
use crate::domain::schedule::Schedule;
use crate::domain::time::Instant;
use crate::engine::Engine;
use crate::engine::rules::Rules;
use crate::store::{Store, StoreError};

/// What the rota files configure, as one value: a reload replaces it
/// whole, so a request sees the old set or the new, never a mix.
#[derive(Debug)]
pub struct Live {
    /// The rota files alone.
    pub base: Arc<Schedule>,
    /// In force: the rota files with the run-time overrides after their own.
    pub schedule: Arc<Schedule>,
    /// (integration key, team), from the team files.
    pub intake_keys: Vec<(String, String)>,
    /// `pay.yaml`'s rules when there is one without errors (the web's Me
    /// page prices the month so far with them).
    pub pay: Option<Arc<crate::domain::pay::PayRules>>,
}

/// The outcome of the last reload, for `/readyz`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReloadStatus {
    /// When the configuration in force was loaded.
    pub loaded_at: Option<Instant>,
    /// The last reload that failed, if it came after `loaded_at`: when, and
    /// every problem (`file:line:col: error: ...`).
    pub failed: Option<(Instant, Vec<String>)>,
}

/// The configuration in force, and what changing it touches: the store (the
/// overrides), the engine (its rules), the clock (when it was loaded).
pub struct InForce {
    /// The rota files' configuration in force; a reload swaps it whole.
    live: std::sync::RwLock<Arc<Live>>,
    /// How the last reload of the rota files went.
    status: std::sync::Mutex<ReloadStatus>,
    /// Held while the configuration in force is rebuilt (a reload, an
    /// override added or deleted), so that two changes do not undo each
    /// other.
    changing: tokio::sync::Mutex<()>,
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    /// Counts the reloads of the rota files that succeeded, for the jobs
    /// that act on what a reload changed (phone verification codes).
    reloads: tokio::sync::watch::Sender<u64>,
}

impl InForce {
    /// `live` in force from now (it carries the stored overrides already:
    /// see [`with_stored_overrides`]).
    pub fn new(live: Live, store: Arc<dyn Store>, engine: Arc<Engine>, clock: Arc<dyn Clock>) -> InForce {
        InForce {
            live: std::sync::RwLock::new(Arc::new(live)),
            status: std::sync::Mutex::new(ReloadStatus {
                loaded_at: Some(clock.now()),
                failed: None,
            }),
            changing: tokio::sync::Mutex::new(()),
            store,
            engine,
            clock,
            reloads: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Changes with each successful reload of the rota files.
    pub fn reloads(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reloads.subscribe()
    }

    /// The configuration in force now.
    pub fn live(&self) -> Arc<Live> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How the last reload went.
    pub fn status(&self) -> ReloadStatus {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reads the rota files in `schedules` again. If they are valid, they are
    /// put in force whole: the HTTP layer's rotas and keys in one swap, the
    /// engine's rules in another (its next pass uses them). If not, the
    /// configuration in force stays, and every problem is logged, counted
    /// (`oncall_config_reloads_total{result="failed"}`) and shown on `/readyz`
    /// until a reload succeeds.
    pub async fn reload(&self, schedules: &std::path::Path) -> Result<(), Vec<String>> {
        let _changing = self.changing.lock().await;
        let dir = schedules.to_path_buf();
        let loaded = tokio::task::spawn_blocking(move || config::load_dir(&dir))
            .await
            .map_err(|e| vec![e.to_string()])
            .and_then(|r| r.map_err(|e| vec![format!("{}: {e}", schedules.display())]));
        let old = self.engine.rules();
        let web_push = web_push_devices(&*self.store).await;
        let live = loaded.and_then(|loaded| checked(loaded, &old.severities, &old.intensities, &web_push));
        let now = self.clock.now();
        match live {
            Ok(live) => {
                let teams = live.base.teams.len();
                self.put_in_force(live).await.map_err(|e| vec![e.to_string()])?;
                *self.status.lock().unwrap_or_else(|e| e.into_inner()) = ReloadStatus {
                    loaded_at: Some(now),
                    failed: None,
                };
                self.engine.metrics().reloaded(true);
                self.reloads.send_modify(|n| *n += 1);
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
                self.status.lock().unwrap_or_else(|e| e.into_inner()).failed = Some((now, errors.clone()));
                self.engine.metrics().reloaded(false);
                Err(errors)
            }
        }
    }

    /// Puts the run-time overrides in the store in force again (after one was
    /// added or deleted), over the rota files in force.
    pub async fn overrides_changed(&self) -> Result<(), StoreError> {
        let _changing = self.changing.lock().await;
        let current = self.live();
        self.put_in_force(Live {
            base: current.base.clone(),
            schedule: current.base.clone(),
            intake_keys: current.intake_keys.clone(),
            pay: current.pay.clone(),
        })
        .await
    }

    /// Puts `live` (its rota files) in force with the run-time overrides from
    /// the store: the HTTP layer's rotas and keys in one swap, the engine's
    /// rules in another. Called with `changing` held.
    async fn put_in_force(&self, live: Live) -> Result<(), StoreError> {
        let live = with_stored_overrides(live, &*self.store).await?;
        let old = self.engine.rules();
        let mut rules = Rules::new(live.schedule.clone(), old.severities.clone(), old.intensities.clone());
        rules.throttle = old.throttle.clone();
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(live);
        self.engine.set_rules(rules);
        Ok(())
    }
}

/// Each person's subscribed Web Push devices in the store, as
/// `config::paging_warnings` takes them. Unreadable, none: the warnings
/// then judge by the files alone, as they would with no device.
pub async fn web_push_devices(store: &dyn Store) -> std::collections::BTreeMap<String, Vec<String>> {
    match store.webpush_subscriptions(None).await {
        Ok(subscriptions) => crate::store::by_person(subscriptions.into_iter().map(|s| (s.person, s.id))),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the Web Push devices: warnings about who can be reached by push ignore them");
            Default::default()
        }
    }
}

/// `live`'s rota files with the run-time overrides in `store` after their
/// own.
pub async fn with_stored_overrides(live: Live, store: &dyn Store) -> Result<Live, StoreError> {
    let overrides: Vec<_> = store.overrides().await?.iter().map(|o| o.rota_override()).collect();
    Ok(Live {
        schedule: Arc::new(live.base.with_overrides(&overrides)),
        ..live
    })
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
pub async fn reload_loop(
    in_force: Arc<InForce>,
    schedules: std::path::PathBuf,
    mut hangup: Option<tokio::signal::unix::Signal>,
) {
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
        let _ = in_force.reload(&schedules).await;
    }
}

/// Rota files as the daemon takes them, by `config::validate` (what
/// `oncall check` reports too): no errors, every severity they name one of
/// the installation's, the integration keys read and usable (warnings
/// logged, judged with the people's Web Push devices, `web_push`, as
/// [`web_push_devices`] reads them). `Err` lists every problem, one a line,
/// each at its `file:line:col`.
pub fn checked(
    loaded: config::Loaded,
    severities: &crate::domain::severity::Severities,
    intensities: &std::collections::BTreeMap<String, crate::domain::paging::Intensity>,
    web_push: &std::collections::BTreeMap<String, Vec<String>>,
) -> Result<Live, Vec<String>> {
    let validated = config::validate_with_devices(&loaded, severities, intensities, web_push);
    for d in &validated.warnings {
        tracing::warn!("{d}");
    }
    // A key named but not read is among the warnings above, at its place.
    for (team, _) in validated.keyless.iter().filter(|(_, unread)| unread.is_none()) {
        tracing::warn!(team = %team, "no integration key: this team cannot receive alerts");
    }
    if validated.refused() {
        return Err(validated.refusals.iter().map(|(_, d)| d.to_string()).collect());
    }
    let pay = config::pay::decode(&loaded);
    let pay = (!pay.has_errors()).then_some(pay.rules).flatten().map(Arc::new);
    let base = Arc::new(loaded.schedule);
    Ok(Live {
        schedule: base.clone(),
        base,
        intake_keys: validated.intake_keys,
        pay,
    })
}
