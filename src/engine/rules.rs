//! The engine's decisions, pure: told `now` and what the store holds,
//! they answer what to write and whom to page, and touch nothing. The pass
//! ([`super::pass`]) reads the store, asks these, and writes the answers.
//!
//! [`Rules`] is what they read: the rotas and the installation's paging
//! settings, replaced whole when the rota files are reloaded.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use serde::Serialize;
use serde_json::json;

use super::ledger::LedgerRow;
use super::outbox::{Decision, NewNotification, NoticeKind};
use crate::domain::alert::{Alert, Status, TimelineKind, detail_text};
use crate::domain::escalation::{Policy, Step, Target};
use crate::domain::paging::{self, Batches, Due, Escalation, Fired, Intensity, Method, Planned, Throttle};
use crate::domain::rota::{PersonId, merge};
use crate::domain::schedule::{Person, Schedule};
use crate::domain::severity::Severities;
use crate::domain::time::{Instant, Span};
use crate::notify::{Announcement, Urgency, What};

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
            .map(|(rank, name)| (name.clone(), Intensity::default_for(rank, severities.names().len())))
            .collect()
    }

    fn intensity(&self, severity: &str) -> Intensity {
        self.intensities.get(severity).cloned().unwrap_or_else(|| {
            Intensity::default_for(
                self.severities.rank(severity).unwrap_or(1),
                self.severities.names().len(),
            )
        })
    }

    pub(super) fn urgency(&self, severity: &str) -> Urgency {
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
    /// timeline entry. `taken`: the alerts a round-robin step took before
    /// this one (see [`Rules::round_robin_step`]). Whom a step reaches and
    /// how is the same for every alert of the team and severity a pass
    /// escalates with it: worked out once in `steps` (see [`Steps`]).
    #[allow(clippy::too_many_arguments)]
    fn fire(
        &self,
        alert: &Alert,
        policy: &Policy,
        (step, round): (usize, u32),
        taken: u64,
        now: Instant,
        steps: &mut Steps,
        decision: &mut Decision,
    ) {
        let intensity = self.intensity(&alert.severity);
        let step = step.min(policy.steps.len().saturating_sub(1));
        let taken = if policy.steps[step].round_robin { taken } else { 0 };
        let fired = paging::fire(policy, step, round, &intensity, taken, now);
        let planned = steps.plan(self, alert, &fired, &intensity, now);
        for (people, shadow) in [(&planned.reached, false), (&planned.shadows, true)] {
            // (For a shadow, the second is whom it shadows.)
            for (_, of, planned) in people {
                decision.notify.extend(planned.iter().map(|p| NewNotification {
                    alert: Some(alert.id),
                    kind: NoticeKind::Page,
                    person: p.person.clone(),
                    method: p.method,
                    to: p.to.clone(),
                    due: p.due,
                    step: Some((fired.step, fired.round)),
                    payload: shadow.then(|| json!({ "shadow_of": of })),
                }));
            }
        }
        if !planned.nobody.is_empty() {
            tracing::warn!(alert = alert.id, team = %alert.team, rotas = ?planned.nobody, "escalation step found nobody on call");
        }
        if !planned.unreachable.is_empty() {
            tracing::warn!(alert = alert.id, people = ?planned.unreachable, "no contact method for this severity");
        }
        decision
            .timeline
            .push((TimelineKind::Escalated, planned.detail.clone()));
        decision.next = fired.next;
    }

    /// The names of the others that step `step` of the alert's policy pages
    /// at `now`, besides `person` (what a phone call says); none for a
    /// round-robin step, which pages one of its targets.
    pub fn also_paged(&self, alert: &Alert, step: usize, person: &str, now: Instant) -> Vec<String> {
        let Some(policy) = self.schedule.team(&alert.team).and_then(|t| t.escalation.as_ref()) else {
            return Vec::new();
        };
        let Some(step) = policy.steps.get(step).filter(|s| !s.round_robin) else {
            return Vec::new();
        };
        paging::recipients(&self.schedule, &alert.team, &step.targets, now)
            .into_iter()
            .filter(|(p, _)| p.id != person)
            .map(|(p, _)| p.name.clone())
            .collect()
    }

    /// Whom a step that fired reaches at `now`, and how, worked out afresh
    /// (see [`Steps::plan`]).
    fn reach(
        &self,
        alert: &Alert,
        fired: &Fired,
        intensity: &Intensity,
        now: Instant,
        web_push: &BTreeMap<String, Vec<String>>,
    ) -> Plan {
        let web_push = |id: &str| web_push.get(id).map_or(&[][..], Vec::as_slice);
        let team_tz = self.schedule.team(&alert.team).map(|t| t.tz).unwrap_or(chrono_tz::UTC);
        let recipients = paging::recipients(&self.schedule, &alert.team, &fired.targets, now);
        let mut reached = Vec::new();
        let mut unreachable = Vec::new();
        for (person, target) in &recipients {
            let planned =
                paging::plan_person_with(person, web_push(&person.id), &alert.severity, intensity, team_tz, now);
            if planned.is_empty() {
                unreachable.push(person.id.clone());
            } else {
                reached.push((person.id.clone(), target_name(target), planned));
            }
        }
        // Shadows get a copy of what the people they shadow are sent now:
        // never a step of their own, so never an escalation.
        let paged: Vec<&PersonId> = reached.iter().map(|(person, _, _)| person).collect();
        let mut shadows = Vec::new();
        for (shadow, of) in paging::shadow_copies(&self.schedule, &alert.team, &paged, now) {
            let planned =
                paging::plan_person_with(shadow, web_push(&shadow.id), &alert.severity, intensity, team_tz, now);
            shadows.push((shadow.id.clone(), of, planned));
        }
        let nobody: Vec<String> = fired
            .targets
            .iter()
            .filter(|t| matches!(t, Target::Rota(_)) && !recipients.iter().any(|(_, via)| via == *t))
            .map(target_name)
            .collect();
        let detail = Escalated {
            step: fired.step,
            round: fired.round,
            targets: fired.targets.iter().map(target_name).collect(),
            reached: reached
                .iter()
                .map(|(person, via, planned)| Reached {
                    person,
                    via,
                    methods: planned
                        .iter()
                        .map(|p| PlannedMethod {
                            method: p.method,
                            at: rfc3339(p.due),
                            quiet_hours: p.quiet,
                        })
                        .collect(),
                })
                .collect(),
            nobody_on_call: &nobody,
            shadow_copies: shadows
                .iter()
                .map(|(person, of, planned)| ShadowCopy {
                    person,
                    of,
                    methods: planned.iter().map(|p| p.method).collect(),
                })
                .collect(),
            unreachable: &unreachable,
            next_step_at: fired.next.map(|(_, due)| rfc3339(due)),
        };
        let detail = detail_text(&detail);
        Plan {
            reached,
            unreachable,
            shadows,
            nobody,
            detail,
        }
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
        // the lowest severity, any method but a phone call, which carries
        // pages only), never during their quiet hours.
        let intensity = Intensity {
            methods: Method::DEFAULT_ORDER.to_vec(),
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

    /// The round-robin step whose turn the due escalation of `alert` (in
    /// `state`) takes at `now`, if the step it fires is one: the pass takes
    /// the turn (a count kept by the store, per team and step) and hands the
    /// number taken to [`Rules::escalate`].
    pub fn round_robin_step(&self, alert: &Alert, state: Escalation, now: Instant) -> Option<usize> {
        let policy = self.policy(&alert.team)?;
        match course(alert, state, &policy, now) {
            Course::Fire { step: (step, _), .. } => {
                let step = step.min(policy.steps.len().saturating_sub(1));
                policy.steps.get(step).is_some_and(|s| s.round_robin).then_some(step)
            }
            Course::Wait(_) => None,
        }
    }

    /// What a due escalation of `alert` (in `state`) does at `now`: the
    /// step it fires (whom it pages), the alert reopened when its
    /// acknowledgement timed out, the next state. `taken`: the turns the
    /// step of [`Rules::round_robin_step`] had taken before this one (0 if
    /// none).
    /// `steps`: what the pass's decisions share (see [`Steps`]).
    pub fn escalate(&self, alert: &Alert, state: Escalation, taken: u64, now: Instant, steps: &mut Steps) -> Decision {
        let mut decision = Decision::default();
        let Some(policy) = self.policy(&alert.team) else {
            decision.timeline.push((
                TimelineKind::Escalated,
                detail_text(&json!({"error": format!("team {} is not in the rota files: nobody to page", alert.team)})),
            ));
            tracing::error!(alert = alert.id, team = %alert.team, "alert for a team not in the rota files: nobody paged");
            return decision;
        };
        match course(alert, state, &policy, now) {
            Course::Wait(next) => decision.next = next,
            Course::Fire { step, reopen } => {
                if let Some(timeout) = reopen {
                    decision.reopen = true;
                    decision.timeline.push((
                        TimelineKind::Reopened,
                        detail_text(&json!({
                            "reason": "acknowledgement timed out",
                            "acknowledged_by": alert.acknowledged_by,
                            "timeout": crate::config::human_duration(timeout),
                        })),
                    ));
                }
                self.fire(alert, &policy, step, taken, now, steps, &mut decision);
            }
        }
        decision
    }

    /// Whether any team announces anything (see [`Rules::announce`]).
    pub fn announces(&self) -> bool {
        self.schedule.teams.iter().any(|t| t.announce.is_some())
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

    /// Groups the due notifications into messages (one per destination,
    /// held back while a destination's throttle gap runs); `last_sent`:
    /// when each destination among them last had one.
    pub fn batch(&self, due: &[Due], last_sent: &BTreeMap<(Method, String), Instant>, now: Instant) -> Batches {
        paging::batch(
            due,
            &self.throttle,
            |method, to| last_sent.get(&(method, to.to_owned())).copied(),
            now,
        )
    }

    /// The ledger rows to append for the stretch after `since` (`None`: the
    /// first pass ever) up to about `now`, and the instant recorded up to.
    /// Before `started` (this engine's first pass) the daemon was down: the
    /// rows of that stretch are marked reconstructed.
    pub fn ledger(&self, since: Option<Instant>, started: Instant, now: Instant) -> (Vec<LedgerRow>, Instant) {
        // Recorded up to the last quarter hour (a row every pass would be
        // too many); the first pass ever starts the ledger at its `now`.
        let until = floor_to(now, LEDGER_STEP);
        match since {
            Some(since) if since < until => (self.ledger_rows(since, until, started), until),
            Some(since) => (Vec::new(), since),
            None => (Vec::new(), now),
        }
    }

    /// Hand-off notices for shifts starting after `since` (`None`: the first
    /// pass ever) up to `now`, and the instant to continue from next time.
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

/// The ledger is written up to the last multiple of this many seconds: a
/// restart leaves at most this much of the stretch before it reconstructed.
const LEDGER_STEP: i64 = 15 * 60;

/// The last multiple of `step` seconds (UTC) at or before `t`.
fn floor_to(t: Instant, step: i64) -> Instant {
    let secs = t.timestamp();
    chrono::DateTime::from_timestamp(secs - secs.rem_euclid(step), 0).unwrap_or(t)
}

/// An escalation's timeline entry: the step that fired, whom it reached
/// and how, and what went wrong. Its fields in this order, the optional
/// ones only when there is something to say.
#[derive(Serialize)]
struct Escalated<'a> {
    step: usize,
    round: u32,
    targets: Vec<String>,
    reached: Vec<Reached<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    nobody_on_call: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    shadow_copies: Vec<ShadowCopy<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    unreachable: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    next_step_at: Option<String>,
}

#[derive(Serialize)]
struct Reached<'a> {
    person: &'a str,
    via: &'a str,
    methods: Vec<PlannedMethod>,
}

#[derive(Serialize)]
struct PlannedMethod {
    method: Method,
    at: String,
    quiet_hours: bool,
}

#[derive(Serialize)]
struct ShadowCopy<'a> {
    person: &'a str,
    of: &'a str,
    methods: Vec<Method>,
}

/// Whom a step that fired reaches, and how.
struct Plan {
    /// Each person reached, by which target (its name), with the
    /// notifications planned for them.
    reached: Vec<(PersonId, String, Vec<Planned>)>,
    /// The people the step found whom the severity cannot reach.
    unreachable: Vec<PersonId>,
    /// Each shadow's copies: the shadow, whom they shadow, the notifications.
    shadows: Vec<(PersonId, PersonId, Vec<Planned>)>,
    /// The step's rotas with nobody on call.
    nobody: Vec<String>,
    /// The escalation's timeline entry, as JSON text.
    detail: String,
}

/// What the decisions of one pass share: whom a step reaches, and how,
/// for the alerts of one team and severity that a step fires for with the
/// same targets, at the pass's `now` (who is on call, their rules, quiet
/// hours, the timeline entry). A storm of alerts for one team asks the
/// rotas once, not once an alert. Made empty for each pass (it holds
/// nothing across `now`s or rules).
#[derive(Default)]
pub struct Steps {
    now: Option<Instant>,
    /// Each person's Web Push destinations (`webpush:ID`), read from the
    /// store for the pass: a `push` rule reaches them too.
    web_push: BTreeMap<String, Vec<String>>,
    /// By team: (severity, the step that fired, its plan).
    plans: BTreeMap<String, Vec<(String, Fired, Plan)>>,
}

impl Steps {
    /// For a pass that knows these Web Push subscriptions: (person,
    /// subscription id), as [`crate::engine::tx::PassTx::webpush_destinations`]
    /// answers.
    pub fn with_web_push(subscriptions: Vec<(String, i64)>) -> Steps {
        let mut web_push: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (person, id) in subscriptions {
            web_push
                .entry(person)
                .or_default()
                .push(format!("{}{id}", paging::WEB_PUSH_PREFIX));
        }
        Steps {
            web_push,
            ..Steps::default()
        }
    }

    /// The plan for `fired` of `alert` at `now`, worked out the first time.
    fn plan(&mut self, rules: &Rules, alert: &Alert, fired: &Fired, intensity: &Intensity, now: Instant) -> &Plan {
        if self.now != Some(now) {
            self.plans.clear();
            self.now = Some(now);
        }
        let plans = self.plans.entry(alert.team.clone()).or_default();
        let found = plans
            .iter()
            .position(|(severity, f, _)| *severity == alert.severity && f == fired);
        let at = match found {
            Some(at) => at,
            None => {
                plans.push((
                    alert.severity.clone(),
                    fired.clone(),
                    rules.reach(alert, fired, intensity, now, &self.web_push),
                ));
                plans.len() - 1
            }
        };
        &plans[at].2
    }
}

/// An instant as the timeline shows it: RFC 3339, to the second, UTC.
fn rfc3339(t: Instant) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn target_name(t: &Target) -> String {
    match t {
        Target::Rota(r) => format!("rota:{r}"),
        Target::User(u) => format!("user:{u}"),
        Target::Team(t) => format!("team:{t}"),
    }
}

/// What a due escalation does, before whom a step reaches is worked out.
enum Course {
    /// Nothing fires; the escalation's next state and when it is due
    /// (`None`: it is over).
    Wait(Option<(Escalation, Instant)>),
    /// A step fires (step, round); `reopen`: first the alert is opened
    /// again, its acknowledgement having timed out after this long.
    Fire {
        step: (usize, u32),
        reopen: Option<Duration>,
    },
}

/// The course of a due escalation of `alert` in `state` under `policy` at
/// `now`: one place for [`Rules::round_robin_step`] and [`Rules::escalate`].
fn course(alert: &Alert, state: Escalation, policy: &Policy, now: Instant) -> Course {
    match (alert.status, state) {
        (Status::Resolved, _) => Course::Wait(None),
        (Status::Acknowledged, state) => {
            let acked = alert.acknowledged_at.unwrap_or(now);
            match policy.ack_timeout {
                None => Course::Wait(None),
                Some(timeout) if acked + timeout > now => {
                    Course::Wait(Some((Escalation::Acknowledged, acked + timeout)))
                }
                Some(timeout) if state == Escalation::Acknowledged => Course::Fire {
                    step: (0, 0),
                    reopen: Some(timeout),
                },
                // Acknowledged so long ago that the timeout has passed
                // already (the daemon was down): wait it out once from
                // now, rather than reopening an alert nobody saw paged.
                Some(timeout) => Course::Wait(Some((Escalation::Acknowledged, now + timeout))),
            }
        }
        (Status::Open, _) if alert.held.as_ref().is_some_and(|h| h.until > now) => {
            let until = alert.held.as_ref().map(|h| h.until).unwrap_or(now);
            Course::Wait(Some((state, until)))
        }
        (Status::Open, Escalation::Acknowledged) => Course::Fire {
            step: (0, 0),
            reopen: None,
        },
        (Status::Open, Escalation::Paging { step, round }) => Course::Fire {
            step: (step, round),
            reopen: None,
        },
    }
}
