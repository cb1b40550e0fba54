//! The paging engine: reconcile from the store.
//!
//! A pass ([`Engine::run_once`]) is given `now` once. In one store
//! transaction it starts the escalation of every new alert, asks the domain
//! ([`crate::domain::paging`]) what each due escalation does, writes those
//! decisions and the outbox rows, and claims the notifications that are due
//! (see [`Store::pass`]). Then it delivers the claimed messages through the
//! channels, concurrently, and records each outcome (sent; retry later with
//! backoff; or given up, bringing the person's next contact method forward).
//!
//! The store is the truth: deadlines are rows, and timers in memory only
//! wake a pass early ([`Engine::run`] sleeps until the next due row, or until
//! an alert arrives). After a crash, claimed notifications whose lease ran
//! out are delivered again: at least once, never skipped.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration as StdDuration;

use chrono::Duration;
use serde_json::json;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::domain::alert::{Alert, Status, TimelineKind};
use crate::domain::escalation::{Policy, Step, Target};
use crate::domain::paging::{self, Backoff, Batches, Due, Escalation, Intensity, Method, Throttle};
use crate::domain::rota::merge;
use crate::domain::schedule::{Person, Schedule};
use crate::domain::severity::Severities;
use crate::domain::time::{Instant, Span};
use crate::links::{Action, Links};
use crate::metrics::Metrics;
use crate::notify::{Announcement, Channels, Notice, PagedAlert, SendError, Urgency, What};
use crate::store::{
    Attempt, AttemptOutcome, Decide, Decision, LedgerRow, Message, NewNotification, NoticeKind, Store, StoreError,
};

/// How long a claimed notification belongs to the pass that claimed it:
/// longer than any channel's timeout, so only a pass that died loses it.
pub const LEASE: Duration = Duration::minutes(2);

/// The longest the engine sleeps without a pass: hand-off notices and
/// anything written by hand into the store are noticed at least this often.
pub const MAX_IDLE: StdDuration = StdDuration::from_secs(30);

/// How often a daemon that does not lead (another holds the engine's lease
/// on a shared database) checks whether it has taken over.
pub const FOLLOWER_POLL: StdDuration = StdDuration::from_millis(200);

/// How long the links in a page stay valid.
pub const LINK_VALIDITY: Duration = Duration::hours(24);

/// The intake name of practice pages (`oncall drill`).
pub const DRILL_INTAKE: &str = "drill";

/// What the engine's decisions read: the rotas and the installation's
/// paging settings. Replaced whole when the rota files are reloaded.
pub struct Rules {
    pub schedule: Arc<Schedule>,
    pub severities: Severities,
    /// By severity name.
    pub intensities: BTreeMap<String, Intensity>,
    pub throttle: Throttle,
}

impl Rules {
    pub fn new(schedule: Arc<Schedule>, severities: Severities, intensities: BTreeMap<String, Intensity>) -> Rules {
        Rules {
            schedule,
            severities,
            intensities,
            throttle: Throttle::default(),
        }
    }

    /// The defaults of [`Intensity::default_for`] for every severity.
    pub fn default_intensities(severities: &Severities) -> BTreeMap<String, Intensity> {
        severities
            .names()
            .iter()
            .enumerate()
            .map(|(rank, name)| (name.clone(), Intensity::default_for(rank)))
            .collect()
    }

    fn intensity(&self, severity: &str) -> Intensity {
        self.intensities
            .get(severity)
            .cloned()
            .unwrap_or_else(|| Intensity::default_for(self.severities.rank(severity).unwrap_or(1)))
    }

    fn urgency(&self, severity: &str) -> Urgency {
        let top = self.severities.names().len().saturating_sub(1);
        match self.severities.rank(severity) {
            Some(0) => Urgency::Low,
            Some(r) if r == top => Urgency::High,
            _ => Urgency::Normal,
        }
    }

    /// The team's policy; without one, every rota of the team at once.
    fn policy(&self, team: &str) -> Option<Policy> {
        let t = self.schedule.team(team)?;
        Some(t.escalation.clone().unwrap_or_else(|| Policy {
            steps: vec![Step {
                after: Duration::zero(),
                targets: t.rotas.iter().map(|r| Target::Rota(r.name.clone())).collect(),
                round_robin: false,
            }],
            repeat: 0,
            repeat_after: None,
            ack_timeout: None,
        }))
    }

    /// Fires one step for `alert`: whom it reaches, the notifications, the
    /// timeline entry.
    fn fire(
        &self,
        alert: &Alert,
        policy: &Policy,
        (step, round): (usize, u32),
        turn: &mut dyn FnMut(&str, usize) -> u64,
        now: Instant,
        decision: &mut Decision,
    ) {
        let intensity = self.intensity(&alert.severity);
        let step = step.min(policy.steps.len().saturating_sub(1));
        let taken = if policy.steps[step].round_robin {
            turn(&alert.team, step)
        } else {
            0
        };
        let fired = paging::fire(policy, step, round, &intensity, taken, now);
        let team_tz = self.schedule.team(&alert.team).map(|t| t.tz).unwrap_or(chrono_tz::UTC);
        let recipients = paging::recipients(&self.schedule, &alert.team, &fired.targets, now);
        let mut reached = Vec::new();
        let mut unreachable = Vec::new();
        for (person, target) in &recipients {
            let planned = paging::plan_person(person, &alert.severity, &intensity, team_tz, now);
            if planned.is_empty() {
                unreachable.push(person.id.clone());
                continue;
            }
            reached.push(json!({
                "person": person.id,
                "via": target_name(target),
                "methods": planned.iter().map(|p| json!({
                    "method": p.method,
                    "at": p.due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "quiet_hours": p.quiet,
                })).collect::<Vec<_>>(),
            }));
            decision.notify.extend(planned.into_iter().map(|p| NewNotification {
                alert: Some(alert.id),
                kind: NoticeKind::Page,
                person: p.person,
                method: p.method,
                to: p.to,
                due: p.due,
                step: Some((fired.step, fired.round)),
                payload: None,
            }));
        }
        // Shadows get a copy of what the people they shadow are sent now:
        // never a step of their own, so never an escalation.
        let paged: Vec<&String> = decision
            .notify
            .iter()
            .filter(|n| n.kind == NoticeKind::Page && n.payload.is_none())
            .map(|n| &n.person)
            .collect();
        let mut shadows = Vec::new();
        for (shadow, of) in paging::shadow_copies(&self.schedule, &alert.team, &paged, now) {
            let planned = paging::plan_person(shadow, &alert.severity, &intensity, team_tz, now);
            shadows.push(json!({
                "person": shadow.id,
                "of": of,
                "methods": planned.iter().map(|p| p.method).collect::<Vec<_>>(),
            }));
            decision.notify.extend(planned.into_iter().map(|p| NewNotification {
                alert: Some(alert.id),
                kind: NoticeKind::Page,
                person: p.person,
                method: p.method,
                to: p.to,
                due: p.due,
                step: Some((fired.step, fired.round)),
                payload: Some(json!({ "shadow_of": of })),
            }));
        }
        let nobody: Vec<String> = fired
            .targets
            .iter()
            .filter(|t| matches!(t, Target::Rota(_)) && !recipients.iter().any(|(_, via)| via == *t))
            .map(target_name)
            .collect();
        let mut detail = json!({
            "step": fired.step,
            "round": fired.round,
            "targets": fired.targets.iter().map(target_name).collect::<Vec<_>>(),
            "reached": reached,
        });
        if !nobody.is_empty() {
            detail["nobody_on_call"] = json!(nobody);
            tracing::warn!(alert = alert.id, team = %alert.team, rotas = ?nobody, "escalation step found nobody on call");
        }
        if !shadows.is_empty() {
            detail["shadow_copies"] = json!(shadows);
        }
        if !unreachable.is_empty() {
            detail["unreachable"] = json!(unreachable);
            tracing::warn!(alert = alert.id, people = ?unreachable, "no contact method for this severity");
        }
        if let Some((_, due)) = fired.next {
            detail["next_step_at"] = json!(due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        decision.timeline.push((TimelineKind::Escalated, detail));
        decision.next = fired.next;
    }

    /// The shifts starting in `(from, to]`, each with its person: merged
    /// shifts of one person, so a layer boundary is not a hand-off.
    fn shift_starts(&self, from: Instant, to: Instant) -> Vec<(String, String, String, Span)> {
        let mut out = Vec::new();
        if to <= from {
            return out;
        }
        // Look back far enough that the first shift is not cut by the range.
        let range = Span::new(from - Duration::days(35), to + Duration::days(35));
        for team in &self.schedule.teams {
            for rota in &team.rotas {
                for tile in merge(rota.expand(range)) {
                    if let Some(user) = tile.user
                        && tile.span.start > from
                        && tile.span.start <= to
                    {
                        out.push((team.name.clone(), rota.name.clone(), user, tile.span));
                    }
                }
            }
        }
        out
    }

    /// The ledger rows of `[from, to)`: every rota's shifts with someone on
    /// call, split at each hour mark (so a row is at most an hour long) and
    /// at `started` (before it, the daemon was down: reconstructed).
    fn ledger_rows(&self, from: Instant, to: Instant, started: Instant) -> Vec<LedgerRow> {
        let mut out = Vec::new();
        if to <= from {
            return out;
        }
        let mut cuts: Vec<Instant> = Vec::new();
        let mut t = floor_to(from, 3600) + Duration::hours(1);
        while t < to {
            cuts.push(t);
            t += Duration::hours(1);
        }
        if started > from && started < to {
            cuts.push(started);
        }
        cuts.sort();
        let range = Span::new(from, to);
        let on_call = self
            .schedule
            .shifts(range, None)
            .into_iter()
            .filter_map(|s| Some((s.team, s.rota, s.tile.user?, s.tile.span, None)));
        // Shadows are recorded too, apart: pay and burden count them apart.
        let shadowing = self
            .schedule
            .shadow_shifts(range, None)
            .into_iter()
            .map(|s| (s.team, s.rota, s.tile.user, s.tile.span, Some(s.tile.of)));
        for (team, rota, person, span, shadow_of) in on_call.chain(shadowing) {
            let inside: Vec<Instant> = cuts
                .iter()
                .copied()
                .filter(|c| *c > span.start && *c < span.end)
                .collect();
            let mut start = span.start;
            for cut in inside.into_iter().chain([span.end]) {
                out.push(LedgerRow {
                    team: team.clone(),
                    rota: rota.clone(),
                    person: person.clone(),
                    span: Span::new(start, cut),
                    reconstructed: start < started,
                    shadow_of: shadow_of.clone(),
                });
                start = cut;
            }
        }
        out
    }

    fn handoff_notice(&self, person: &Person, what: serde_json::Value, now: Instant) -> Option<NewNotification> {
        let lowest = self.severities.names().first().cloned().unwrap_or_default();
        // A notice, not a page: by the person's first way (their rules for
        // the lowest severity, any method), never during their quiet hours.
        let intensity = Intensity {
            methods: Method::ALL.to_vec(),
            respect_quiet_hours: true,
            escalate: false,
        };
        let first = paging::plan_person(person, &lowest, &intensity, chrono_tz::UTC, now)
            .into_iter()
            .min_by_key(|p| p.due)?;
        Some(NewNotification {
            alert: None,
            kind: NoticeKind::Handoff,
            person: person.id.clone(),
            method: first.method,
            to: first.to,
            due: first.due.max(now),
            step: None,
            payload: Some(what),
        })
    }
}

/// The ledger is written up to the last multiple of this many seconds: a
/// restart leaves at most this much of the stretch before it reconstructed.
const LEDGER_STEP: i64 = 15 * 60;

/// The last multiple of `step` seconds (UTC) at or before `t`.
fn floor_to(t: Instant, step: i64) -> Instant {
    let secs = t.timestamp();
    chrono::DateTime::from_timestamp(secs - secs.rem_euclid(step), 0).unwrap_or(t)
}

/// The rules, and when this daemon's engine started (for the ledger): what
/// one pass decides with.
struct PassRules {
    rules: Arc<Rules>,
    started: Instant,
    metrics: Arc<Metrics>,
    /// The methods with a channel.
    channels: Vec<Method>,
}

impl Decide for PassRules {
    fn escalate(
        &self,
        alert: &Alert,
        state: Escalation,
        turn: &mut dyn FnMut(&str, usize) -> u64,
        now: Instant,
    ) -> Decision {
        let decision = self.rules.escalate(alert, state, turn, now);
        let fired = decision
            .timeline
            .iter()
            .filter(|(kind, _)| *kind == TimelineKind::Escalated)
            .count();
        self.metrics.escalation_steps(fired as u64);
        decision
    }

    fn batch(&self, due: &[Due], last_sent: &dyn Fn(Method, &str) -> Option<Instant>, now: Instant) -> Batches {
        self.rules.batch(due, last_sent, now)
    }

    fn ledger(&self, since: Option<Instant>, now: Instant) -> (Vec<LedgerRow>, Instant) {
        // Recorded up to the last quarter hour (a row every pass would be
        // too many); the first pass ever starts the ledger at its `now`.
        let until = floor_to(now, LEDGER_STEP);
        match since {
            Some(since) if since < until => (self.rules.ledger_rows(since, until, self.started), until),
            Some(since) => (Vec::new(), since),
            None => (Vec::new(), now),
        }
    }

    fn handoffs(&self, since: Option<Instant>, now: Instant) -> (Vec<NewNotification>, Instant) {
        self.rules.handoffs(since, now)
    }

    fn announce(
        &self,
        alert: &Alert,
        kind: TimelineKind,
        detail: &serde_json::Value,
        at: Instant,
        now: Instant,
    ) -> Vec<NewNotification> {
        self.rules.announce(alert, kind, detail, at, now)
    }

    fn undeliverable(&self, method: Method) -> Option<String> {
        (!self.channels.contains(&method)).then(|| format!("no {method} channel is configured"))
    }
}

fn target_name(t: &Target) -> String {
    match t {
        Target::Rota(r) => format!("rota:{r}"),
        Target::User(u) => format!("user:{u}"),
        Target::Team(t) => format!("team:{t}"),
    }
}

impl Rules {
    pub fn escalate(
        &self,
        alert: &Alert,
        state: Escalation,
        turn: &mut dyn FnMut(&str, usize) -> u64,
        now: Instant,
    ) -> Decision {
        let mut decision = Decision::default();
        let Some(policy) = self.policy(&alert.team) else {
            decision.timeline.push((
                TimelineKind::Escalated,
                json!({"error": format!("team {} is not in the rota files: nobody to page", alert.team)}),
            ));
            tracing::error!(alert = alert.id, team = %alert.team, "alert for a team not in the rota files: nobody paged");
            return decision;
        };
        match (alert.status, state) {
            (Status::Resolved, _) => {}
            (Status::Acknowledged, state) => {
                let acked = alert.acknowledged_at.unwrap_or(now);
                match policy.ack_timeout {
                    None => {}
                    Some(timeout) if acked + timeout > now => {
                        decision.next = Some((Escalation::Acknowledged, acked + timeout));
                    }
                    Some(timeout) if state == Escalation::Acknowledged => {
                        decision.reopen = true;
                        decision.timeline.push((
                            TimelineKind::Reopened,
                            json!({
                                "reason": "acknowledgement timed out",
                                "acknowledged_by": alert.acknowledged_by,
                                "timeout": crate::config::human_duration(timeout),
                            }),
                        ));
                        self.fire(alert, &policy, (0, 0), turn, now, &mut decision);
                    }
                    // Acknowledged so long ago that the timeout has passed
                    // already (the daemon was down): wait it out once from
                    // now, rather than reopening an alert nobody saw paged.
                    Some(timeout) => decision.next = Some((Escalation::Acknowledged, now + timeout)),
                }
            }
            (Status::Open, _) if alert.held.as_ref().is_some_and(|h| h.until > now) => {
                let until = alert.held.as_ref().map(|h| h.until).unwrap_or(now);
                decision.next = Some((state, until));
            }
            (Status::Open, Escalation::Acknowledged) => self.fire(alert, &policy, (0, 0), turn, now, &mut decision),
            (Status::Open, Escalation::Paging { step, round }) => {
                self.fire(alert, &policy, (step, round), turn, now, &mut decision)
            }
        }
        decision
    }

    /// The announcements of one timeline entry: one webhook per destination
    /// of the team's `announce`, if the alert's severity is announced and
    /// the entry is an opening, an acknowledgement or a resolution.
    pub fn announce(
        &self,
        alert: &Alert,
        kind: TimelineKind,
        detail: &serde_json::Value,
        at: Instant,
        now: Instant,
    ) -> Vec<NewNotification> {
        let Some(announce) = self.schedule.team(&alert.team).and_then(|t| t.announce.as_ref()) else {
            return Vec::new();
        };
        if !announce.severities.is_empty() && !announce.severities.contains(&alert.severity) {
            return Vec::new();
        }
        let event = match kind {
            TimelineKind::Created => "opened",
            TimelineKind::Acknowledged => "acknowledged",
            TimelineKind::Resolved => "resolved",
            _ => return Vec::new(),
        };
        let text = |key: &str| detail.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let what = What::Announce(Announcement {
            event: event.to_string(),
            alert: alert.id,
            team: alert.team.clone(),
            severity: alert.severity.clone(),
            summary: alert.summary.clone(),
            // The lead when it happened (the timeline entry says); an
            // opening has none.
            lead: if kind == TimelineKind::Created {
                None
            } else {
                text("lead")
            },
            by: text("by"),
            at,
            drill: alert.intake == DRILL_INTAKE,
        });
        announce
            .to
            .iter()
            .map(|url| NewNotification {
                alert: Some(alert.id),
                kind: NoticeKind::Announce,
                person: alert.team.clone(),
                method: Method::Webhook,
                to: url.clone(),
                due: now,
                step: None,
                payload: Some(json!(what)),
            })
            .collect()
    }

    pub fn batch(&self, due: &[Due], last_sent: &dyn Fn(Method, &str) -> Option<Instant>, now: Instant) -> Batches {
        paging::batch(due, &self.throttle, last_sent, now)
    }

    pub fn handoffs(&self, since: Option<Instant>, now: Instant) -> (Vec<NewNotification>, Instant) {
        // The first pass ever starts from now; after a long stop, notices
        // more than a day late are not worth sending.
        let from = since.unwrap_or(now).max(now - Duration::days(1));
        let mut out = Vec::new();
        let notices = |team: &str| self.schedule.team(team).map(|t| t.handoff_notices).unwrap_or_default();
        for (team, rota, user, span) in self.shift_starts(from, now) {
            if let Some(person) = self.schedule.people.get(&user)
                && notices(&team).at_start
            {
                let what = What::Handoff {
                    team: team.clone(),
                    rota,
                    start: span.start,
                    end: Some(span.end),
                    ahead: false,
                };
                out.extend(self.handoff_notice(person, json!(what), now));
            }
        }
        let day = Duration::days(1);
        for (team, rota, user, span) in self.shift_starts(from + day, now + day) {
            if let Some(person) = self.schedule.people.get(&user)
                && notices(&team).day_before
            {
                let what = What::Handoff {
                    team: team.clone(),
                    rota,
                    start: span.start,
                    end: Some(span.end),
                    ahead: true,
                };
                out.extend(self.handoff_notice(person, json!(what), now));
            }
        }
        (out, now)
    }
}

/// Logs what a pass gave up on undelivered (no channel for the method);
/// returns it as attempts.
fn given_up(given_up: Vec<crate::store::GivenUp>, metrics: &Metrics) -> Vec<Attempt> {
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

    /// What a pass at `now` decides with: the current rules, and when this
    /// engine first passed.
    pub fn decide(&self, now: Instant) -> Arc<dyn Decide> {
        let started = *self.started.get_or_init(|| now);
        Arc::new(PassRules {
            rules: self.rules(),
            started,
            metrics: self.metrics.clone(),
            channels: self.channels.methods(),
        })
    }

    /// One pass at `now` (see the module's documentation).
    pub async fn run_once(&self, now: Instant) -> Result<PassReport, EngineError> {
        let rules = self.rules();
        let decide = self.decide(now);
        let timer = std::time::Instant::now();
        let pass = self.store.pass(decide, now, LEASE).await;
        self.metrics.pass(timer.elapsed().as_secs_f64());
        let pass = pass?;
        let given_up = given_up(pass.given_up, &self.metrics);
        let deliveries = pass.messages.into_iter().map(|m| self.deliver(&rules, m, now));
        let attempts: Vec<Attempt> = futures_util::future::join_all(deliveries)
            .await
            .into_iter()
            .flatten()
            .collect();
        if !attempts.is_empty() {
            self.store.record(attempts.clone(), now).await?;
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
            let timer = std::time::Instant::now();
            let pass = self.store.pass(self.decide(now), now, LEASE).await;
            self.metrics.pass(timer.elapsed().as_secs_f64());
            let mut pause = match pass {
                Ok(pass) => {
                    given_up(pass.given_up, &self.metrics);
                    for message in pass.messages {
                        let (engine, rules, clock) = (self.clone(), rules.clone(), clock.clone());
                        inflight.spawn(async move {
                            let attempts = engine.deliver(&rules, message, now).await;
                            if let Err(e) = engine.store.record(attempts, clock.now()).await {
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
                // (`Decide::undeliverable`, from the same channels).
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
                        self.paged_alert(a, &person.id, shadow_of, now)
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
        }
    }
}
