//! The paging engine: reconcile from the store.
//!
//! A pass ([`Engine::run_once`]) is given `now` once. In one store
//! transaction it starts the escalation of every new alert, asks the rules
//! what each due escalation does, writes those decisions and the outbox
//! rows, and claims the notifications that are due. Then it delivers the
//! claimed messages through the channels, concurrently, and records each
//! outcome (sent; retry later with backoff; or given up, bringing the
//! person's next contact method forward).
//!
//! The store is the truth: deadlines are rows, and timers in memory only
//! wake a pass early ([`Engine::run`] sleeps until the next due row, or until
//! an alert arrives). After a crash, claimed notifications whose lease ran
//! out are delivered again: at least once, never skipped.
//!
//! The parts:
//! - [`rules`]: the decisions, pure ([`Rules`]: told `now` and the rows,
//!   they answer what to write; no store, no clock);
//! - [`pass`]: the two transactions (a pass, the record of deliveries),
//!   written once over [`tx::PassTx`], the statements each backend
//!   implements; the store runs them on its writer ([`Store::pass`],
//!   [`Store::record`]);
//! - [`outbox`]: the decisions, notifications, messages and attempts;
//!   [`ledger`]: the on-call ledger's rows;
//! - this module: [`Engine`], which runs passes, delivers and records.

pub mod ledger;
pub mod outbox;
pub mod pass;
pub mod rules;
pub mod tx;

use std::sync::{Arc, RwLock};
use std::time::Duration as StdDuration;

use chrono::Duration;
use tokio::sync::Notify;

use self::outbox::{Attempt, AttemptOutcome, GivenUp, Message, NoticeKind, Pass};
use self::pass::PassContext;
use self::rules::{DRILL_INTAKE, Rules};
use crate::clock::Clock;
use crate::domain::alert::{Alert, AlertId};
use crate::domain::paging::{Backoff, Method};
use crate::domain::time::Instant;
use crate::links::{Action, Links, PROOF_PATH};
use crate::metrics::Metrics;
use crate::notify::{Channels, Notice, PagedAlert, SendError, Urgency, What};
use crate::store::{Store, StoreError};

/// How long a claimed notification belongs to the pass that claimed it:
/// longer than any channel's timeout, so only a pass that died loses it.
pub const LEASE: Duration = Duration::minutes(2);

/// The longest the engine sleeps without a pass: hand-off notices and
/// anything written by hand into the store are noticed at least this often.
pub const MAX_IDLE: StdDuration = StdDuration::from_secs(30);

/// How often a daemon that does not lead (another holds the engine's lease
/// on a shared database) checks whether it has taken over.
pub const FOLLOWER_POLL: StdDuration = StdDuration::from_millis(200);

/// How long a test page's confirm link stays valid.
const PROOF_LINK_VALIDITY: chrono::Duration = chrono::Duration::days(7);

/// How long the links in a page stay valid.
pub const LINK_VALIDITY: Duration = Duration::hours(24);
/// Logs what a pass gave up on undelivered (no channel for the method);
/// returns it as attempts.
fn given_up(given_up: Vec<GivenUp>, metrics: &Metrics) -> Vec<Attempt> {
    given_up
        .into_iter()
        .map(|g| {
            log_undeliverable(&g.person, g.method, g.alerts.iter().copied());
            metrics.undeliverable(g.method);
            g.attempt
        })
        .collect()
}

fn log_undeliverable(person: &str, method: Method, alerts: impl Iterator<Item = i64>) {
    tracing::warn!(
        person = %person, method = %method, alerts = ?alerts.collect::<Vec<_>>(),
        "cannot deliver: no {method} channel is configured (see docs/notifications.md)"
    );
}

/// What one pass did, for tests, logs and the drill.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PassReport {
    pub attempts: Vec<Attempt>,
}

pub struct Engine {
    store: Arc<dyn Store>,
    rules: RwLock<Arc<Rules>>,
    channels: Channels,
    links: Links,
    backoff: Backoff,
    /// Wakes [`Engine::run`] before its next deadline (an alert came in, one
    /// was acknowledged).
    wake: Arc<Notify>,
    /// The `now` of this engine's first pass: the ledger's stretch before it
    /// is reconstructed (the daemon was not running).
    started: std::sync::OnceLock<Instant>,
    /// Set by [`Engine::stop`].
    stopping: std::sync::atomic::AtomicBool,
    metrics: Arc<Metrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, rules: Rules, channels: Channels, links: Links) -> Engine {
        Engine {
            store,
            rules: RwLock::new(Arc::new(rules)),
            channels,
            links,
            backoff: Backoff::default(),
            wake: Arc::new(Notify::new()),
            started: std::sync::OnceLock::new(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// What the engine (and the HTTP layer, through it) counts.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Retry spacing (tests shorten it).
    pub fn with_backoff(mut self, backoff: Backoff) -> Engine {
        self.backoff = backoff;
        self
    }

    /// Wakes the engine's loop for an early pass.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The rules the next pass uses.
    pub fn rules(&self) -> Arc<Rules> {
        self.rules.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the rules (a reload of the rota files): the next pass uses
    /// the new ones; a pass in progress finishes with the old.
    pub fn set_rules(&self, rules: Rules) {
        *self.rules.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(rules);
        self.wake();
    }

    /// One pass's transaction at `now` (see [`pass::run`]): its decisions
    /// written and the due notifications claimed, not delivered. Timed and
    /// counted in the metrics.
    pub async fn pass(&self, now: Instant) -> Result<Pass, StoreError> {
        let cx = PassContext {
            rules: self.rules(),
            started: *self.started.get_or_init(|| now),
            channels: self.channels.methods(),
            now,
            lease: LEASE,
        };
        let timer = std::time::Instant::now();
        let pass = self.store.pass(now, Box::new(move |tx| pass::run(tx, &cx))).await;
        self.metrics.pass(timer.elapsed().as_secs_f64());
        let pass = pass?;
        self.metrics.escalation_steps(pass.escalation_steps);
        Ok(pass)
    }

    /// Records how deliveries went (see [`pass::record`]).
    async fn record(&self, attempts: Vec<Attempt>, now: Instant) -> Result<(), StoreError> {
        self.store
            .record(Box::new(move |tx| pass::record(tx, &attempts, now)))
            .await
    }

    /// One pass at `now` (see the module's documentation).
    /// A placed phone call did not reach `person` ([`pass::not_reached`]):
    /// their next method goes now; the engine is woken to send it.
    pub async fn not_reached(
        &self,
        person: String,
        alerts: Vec<AlertId>,
        error: String,
        now: Instant,
    ) -> Result<(), StoreError> {
        self.store
            .record(Box::new(move |tx| pass::not_reached(tx, &person, &alerts, &error, now)))
            .await?;
        self.wake();
        Ok(())
    }

    /// The next step of each of `alerts` fires now ([`pass::escalate_now`]);
    /// answers how many alerts were still paging.
    pub async fn escalate_now(&self, alerts: Vec<AlertId>, now: Instant) -> Result<usize, StoreError> {
        let hurried = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = hurried.clone();
        self.store
            .record(Box::new(move |tx| {
                // Stored, not added: a retried transaction runs this again.
                let n = pass::escalate_now(tx, &alerts, now)?;
                count.store(n, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }))
            .await?;
        self.wake();
        Ok(hurried.load(std::sync::atomic::Ordering::SeqCst))
    }

    pub async fn run_once(&self, now: Instant) -> Result<PassReport, EngineError> {
        let rules = self.rules();
        let pass = self.pass(now).await?;
        let given_up = given_up(pass.given_up, &self.metrics);
        let deliveries = pass.messages.into_iter().map(|m| self.deliver(&rules, m, now));
        let attempts: Vec<Attempt> = futures_util::future::join_all(deliveries)
            .await
            .into_iter()
            .flatten()
            .collect();
        if !attempts.is_empty() {
            self.record(attempts.clone(), now).await?;
        }
        Ok(PassReport {
            attempts: given_up.into_iter().chain(attempts).collect(),
        })
    }

    /// Runs passes until [`Engine::stop`]: at the next due row, when woken,
    /// and at least every [`MAX_IDLE`]. Unlike [`Engine::run_once`], a pass
    /// here does not wait for its deliveries: each claimed message is
    /// delivered and recorded by a task of its own, so one slow provider
    /// does not hold up the pages of the next pass. On stop, the deliveries
    /// in flight finish (each is bounded by its channel's timeout) and are
    /// recorded.
    pub async fn run(self: Arc<Self>, clock: Arc<dyn Clock>) {
        let mut inflight = tokio::task::JoinSet::new();
        while !self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            if !self.store.leading() {
                // Another daemon on the database runs the passes: look
                // again shortly, to take over when its lease ends.
                while inflight.try_join_next().is_some() {}
                tokio::select! {
                    _ = tokio::time::sleep(FOLLOWER_POLL) => {}
                    _ = self.wake.notified() => {}
                }
                continue;
            }
            let now = clock.now();
            let rules = self.rules();
            let mut pause = match self.pass(now).await {
                Ok(pass) => {
                    given_up(pass.given_up, &self.metrics);
                    for message in pass.messages {
                        let (engine, rules, clock) = (self.clone(), rules.clone(), clock.clone());
                        inflight.spawn(async move {
                            let attempts = engine.deliver(&rules, message, now).await;
                            if let Err(e) = engine.record(attempts, clock.now()).await {
                                tracing::error!(error = %e, "engine: cannot record a delivery; it is sent again after its lease");
                            }
                            // A fail-over may have brought a method forward.
                            engine.wake();
                        });
                    }
                    match self.store.next_due().await {
                        Ok(Some(due)) => (due - clock.now()).to_std().unwrap_or(StdDuration::ZERO),
                        Ok(None) => MAX_IDLE,
                        Err(e) => {
                            tracing::error!(error = %e, "engine: cannot read the next deadline");
                            StdDuration::from_secs(1)
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "engine pass failed; trying again shortly");
                    StdDuration::from_secs(1)
                }
            };
            while inflight.try_join_next().is_some() {}
            pause = pause.min(MAX_IDLE);
            if pause.is_zero() {
                // Due now (a step with no delay): go again, but let others run.
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = self.wake.notified() => {}
            }
        }
        while inflight.join_next().await.is_some() {}
    }

    /// The methods that have a channel: what a test page can go through.
    pub fn methods(&self) -> Vec<Method> {
        self.channels.methods()
    }

    /// Asks [`Engine::run`] to stop: no new pass starts, deliveries in flight
    /// finish and are recorded, then `run` returns.
    pub fn stop(&self) {
        self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Delivers one message and says how it went, for each of its
    /// notifications: after a failure each one is retried at its own
    /// backoff's time, or given up when it has had all its attempts (each
    /// counts its own: a fresh page bundled with an old one neither dies
    /// with it nor drags it into retrying at a fresh page's pace).
    async fn deliver(&self, rules: &Rules, message: Message, now: Instant) -> Vec<Attempt> {
        let first = &message.notifications[0];
        let outcome = match self.notice(rules, &message, now) {
            None => AttemptOutcome::Failed {
                error: format!("person {} is no longer in people.yaml", first.person),
            },
            Some(notice) => match self.channels.get(first.method) {
                // Not from a pass, which gives these up itself
                // (`PassContext::undeliverable`, from the same channels).
                None => {
                    log_undeliverable(&first.person, first.method, message.alerts.iter().map(|a| a.id));
                    self.metrics.undeliverable(first.method);
                    AttemptOutcome::Failed {
                        error: format!("no {} channel is configured", first.method),
                    }
                }
                Some(channel) => match self.timed(first.method, channel.send(&notice)).await {
                    Ok(receipt) => {
                        let alerts: Vec<_> = message.alerts.iter().map(|a| a.id).collect();
                        if first.kind == NoticeKind::Announce {
                            tracing::info!(?alerts, team = %first.person, attempt = first.attempts, "announcement sent");
                        } else {
                            tracing::info!(
                                ?alerts, person = %first.person, method = %first.method, attempt = first.attempts,
                                "page sent"
                            );
                        }
                        AttemptOutcome::Sent {
                            reference: receipt.reference,
                        }
                    }
                    Err(e) => {
                        // Each notification by its own attempts: one fresh
                        // page bundled with one that had all its tries is
                        // not given up with it.
                        let mut retries: std::collections::BTreeMap<Instant, Vec<_>> = Default::default();
                        let mut spent = Vec::new();
                        for n in &message.notifications {
                            let next = match &e {
                                SendError::Retryable(_) => self.backoff.retry_at(n.id, n.attempts, now),
                                // Not before the receiver asked, but never
                                // beyond the backoff's longest wait, and
                                // within the same number of attempts.
                                SendError::RetryAfter(_, after) => {
                                    let asked = Duration::from_std(*after).unwrap_or(self.backoff.max);
                                    self.backoff
                                        .retry_at(n.id, n.attempts, now)
                                        .map(|t| t.max(now + asked.min(self.backoff.max)))
                                }
                                SendError::Permanent(_) => None,
                            };
                            match next {
                                Some(t) => retries.entry(t).or_default().push(n),
                                None => spent.push(n),
                            }
                        }
                        tracing::warn!(
                            person = %first.person, method = %first.method, attempt = first.attempts,
                            error = %e.message(), retry_at = ?retries.keys().next(),
                            given_up = spent.len(), "delivery failed"
                        );
                        let mut attempts: Vec<Attempt> = retries
                            .into_iter()
                            .map(|(at, notifications)| {
                                Attempt::of(
                                    notifications,
                                    AttemptOutcome::Retry {
                                        at,
                                        error: e.message().to_string(),
                                    },
                                )
                            })
                            .collect();
                        if !spent.is_empty() {
                            attempts.push(Attempt::of(
                                spent,
                                AttemptOutcome::Failed {
                                    error: e.message().to_string(),
                                },
                            ));
                        }
                        return attempts;
                    }
                },
            },
        };
        vec![Attempt::of(&message.notifications, outcome)]
    }

    /// Runs a channel's send, counting it and how long it took.
    async fn timed(
        &self,
        method: Method,
        send: crate::notify::SendFuture<'_>,
    ) -> Result<crate::notify::Receipt, SendError> {
        let timer = std::time::Instant::now();
        let sent = send.await;
        self.metrics
            .delivered(method, sent.is_ok(), timer.elapsed().as_secs_f64());
        sent
    }

    /// The notice for a claimed message, rendered from the store's rows.
    fn notice(&self, rules: &Rules, message: &Message, now: Instant) -> Option<Notice> {
        let first = message.notifications.first()?;
        if first.kind == NoticeKind::Announce {
            // To the team's shared space, not to a person.
            let what: What = serde_json::from_value(first.payload.clone()?).ok()?;
            let urgency = match &what {
                What::Announce(a) => rules.urgency(&a.severity),
                _ => Urgency::Normal,
            };
            return Some(Notice {
                id: first.id,
                method: first.method,
                to: first.to.clone(),
                person: first.person.clone(),
                name: format!("team {}", first.person),
                urgency,
                what,
            });
        }
        let person = rules.schedule.people.get(&first.person)?;
        let what = match first.kind {
            NoticeKind::Handoff | NoticeKind::Announce => serde_json::from_value(first.payload.clone()?).ok()?,
            NoticeKind::Test => {
                let What::Test(mut test) = serde_json::from_value(first.payload.clone()?).ok()? else {
                    return None;
                };
                // Signed as it is sent, like a page's links: the outbox
                // keeps only the proof's id.
                let token = self.links.proof_token(test.proof, now + PROOF_LINK_VALIDITY);
                test.confirm_url = self.links.public_url().map(|base| format!("{base}{PROOF_PATH}{token}"));
                return Some(Notice {
                    id: first.id,
                    method: first.method,
                    to: first.to.clone(),
                    person: person.id.clone(),
                    name: person.name.clone(),
                    // As loud as a page at the top severity: that is what
                    // it tests.
                    urgency: Urgency::High,
                    what: What::Test(test),
                });
            }
            NoticeKind::Page => What::Page {
                alerts: message
                    .notifications
                    .iter()
                    .filter(|n| n.alert.is_some())
                    .zip(&message.alerts)
                    .map(|(n, a)| {
                        let shadow_of = n
                            .payload
                            .as_ref()
                            .and_then(|p| p.get("shadow_of"))
                            .and_then(|v| v.as_str())
                            .map(str::to_string);
                        let mut paged = self.paged_alert(a, &person.id, shadow_of, now);
                        // Only a phone call says it (other media are unchanged).
                        if let (Method::Voice, Some((step, _))) = (n.method, n.step) {
                            paged.also_paged = rules.also_paged(a, step, &person.id, now);
                        }
                        paged
                    })
                    .collect(),
            },
        };
        let urgency = message
            .alerts
            .iter()
            .map(|a| rules.urgency(&a.severity))
            .max()
            .unwrap_or(Urgency::Low);
        Some(Notice {
            id: first.id,
            method: first.method,
            to: first.to.clone(),
            person: person.id.clone(),
            name: person.name.clone(),
            urgency,
            what,
        })
    }

    fn paged_alert(&self, a: &Alert, person: &str, shadow_of: Option<String>, now: Instant) -> PagedAlert {
        let expires = now + LINK_VALIDITY;
        // A shadow copy is to learn from: no links to act in someone's name.
        let url = |action| {
            if shadow_of.is_some() {
                None
            } else {
                self.links.url(action, a.id, person, expires)
            }
        };
        PagedAlert {
            id: a.id,
            team: a.team.clone(),
            summary: a.summary.clone(),
            severity: a.severity.clone(),
            since: a.created_at,
            occurrences: a.occurrences,
            drill: a.intake == DRILL_INTAKE,
            ack_url: url(Action::Acknowledge),
            resolve_url: url(Action::Resolve),
            reply_ack: format!("ACK {}", a.id),
            reply_resolve: format!("RES {}", a.id),
            shadow_of,
            lead: a.lead.clone(),
            also_paged: Vec::new(),
        }
    }
}
