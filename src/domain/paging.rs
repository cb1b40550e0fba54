//! Paging decisions: whom an alert's escalation step reaches, by which
//! contact methods and when, how loudly for its severity, when the next step
//! is due, how failed deliveries are retried, and how a storm of pages to one
//! destination is throttled into bundles.
//!
//! Everything here is a pure function of its inputs and `now`. The engine
//! (`src/engine/`) reads the store, calls these, and writes what they
//! decide; a restart loses nothing because every input lives in the store.
//!
//! One alert's escalation, as a state machine ([`Escalation`]):
//! - `Paging { step, round }` with a due time: when due, step `step` fires
//!   (its targets are paged), and the next step (or the next round, up to
//!   the policy's `repeat`) is scheduled after its delay;
//! - `Acknowledged` until the acknowledgement times out: then the alert is
//!   reopened and the chain starts again from the first step;
//! - done: the alert is resolved, or the chain ran out.

use std::collections::BTreeMap;

use chrono::Duration;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub use super::contact::{Method, Preferences, Rule};
use super::escalation::{Policy, Target};
use super::rota::PersonId;
use super::schedule::{Person, Schedule};
use super::time::{Instant, Span};
use super::window::{ActiveWindow, active_spans};

/// The delays of the default rules, by position: the first method at once,
/// the second after 2 minutes, the rest after 5.
const DEFAULT_DELAYS: [i64; 4] = [0, 2, 5, 5];

/// The destination of a Web Push subscription kept in the store:
/// `webpush:ID`. Subscriptions are made at run time on the person's page,
/// not written in `people.yaml`; a `push` rule reaches each of them as well
/// as the person's ntfy topic.
pub const WEB_PUSH_PREFIX: &str = "webpush:";

/// Without written rules: every contact method the person has (among
/// `allowed`), quickest first, each a little later than the one before.
pub fn default_rules(person: &Person, allowed: &[Method]) -> Vec<Rule> {
    default_rules_with(person, false, allowed)
}

/// [`default_rules`] for a person who may have Web Push subscriptions
/// (`web_push`): with one, `push` is among their methods even without an
/// ntfy topic.
fn default_rules_with(person: &Person, web_push: bool, allowed: &[Method]) -> Vec<Rule> {
    Method::DEFAULT_ORDER
        .into_iter()
        .filter(|m| allowed.contains(m) && (person.contact(*m).is_some() || (web_push && *m == Method::Push)))
        .zip(DEFAULT_DELAYS)
        .map(|(method, minutes)| Rule {
            method,
            after: Duration::minutes(minutes),
        })
        .collect()
}

/// How hard a severity tries: which methods it may use, whether it waits
/// out the recipient's quiet hours, whether it escalates past the first step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intensity {
    pub methods: Vec<Method>,
    pub respect_quiet_hours: bool,
    pub escalate: bool,
}

impl Intensity {
    /// The lowest severity: email (and webhooks) only, never during quiet
    /// hours, no escalation. Every other severity: every method, at any
    /// hour, escalating; but phone calls (`voice`) only for the highest of
    /// the `ranks` severities.
    pub fn default_for(rank: usize, ranks: usize) -> Intensity {
        if rank == 0 {
            Intensity {
                methods: vec![Method::Email, Method::Webhook],
                respect_quiet_hours: true,
                escalate: false,
            }
        } else {
            Intensity {
                methods: Method::ALL
                    .into_iter()
                    .filter(|m| *m != Method::Voice || rank + 1 >= ranks)
                    .collect(),
                respect_quiet_hours: false,
                escalate: true,
            }
        }
    }
}

/// One notification to send: the outbox row the engine writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub person: PersonId,
    pub method: Method,
    /// The destination (address, number, push topic, URL).
    pub to: String,
    pub due: Instant,
    /// Deferred to the end of the person's quiet hours.
    pub quiet: bool,
}

/// The notifications that reach `person` for an alert of `severity` when a
/// step fires at `now`: their rules for that severity, only the methods the
/// severity may use and the person has, delayed past quiet hours if the
/// severity respects them. Empty: the person cannot be reached this way.
pub fn plan_person(
    person: &Person,
    severity: &str,
    intensity: &Intensity,
    fallback_tz: Tz,
    now: Instant,
) -> Vec<Planned> {
    plan_person_with(person, &[], severity, intensity, fallback_tz, now)
}

/// [`plan_person`] for a person with Web Push subscriptions (`web_push`,
/// their destinations, see [`WEB_PUSH_PREFIX`]): each `push` rule becomes
/// one notification for the ntfy topic (if they have one) and one for
/// each subscription, all due at the same time. Someone with a
/// subscription and no topic is reachable by `push`.
pub fn plan_person_with(
    person: &Person,
    web_push: &[String],
    severity: &str,
    intensity: &Intensity,
    fallback_tz: Tz,
    now: Instant,
) -> Vec<Planned> {
    let prefs = &person.preferences;
    let written = prefs
        .by_severity
        .get(severity)
        .filter(|r| !r.is_empty())
        .unwrap_or(&prefs.rules);
    let rules: Vec<Rule> = if written.is_empty() {
        default_rules_with(person, !web_push.is_empty(), &intensity.methods)
    } else {
        written
            .iter()
            .filter(|r| intensity.methods.contains(&r.method))
            .copied()
            .collect()
    };
    let tz = person.timezone.unwrap_or(fallback_tz);
    rules
        .into_iter()
        .flat_map(|rule| {
            let mut to: Vec<String> = person.contact(rule.method).map(str::to_string).into_iter().collect();
            if rule.method == Method::Push {
                to.extend(web_push.iter().cloned());
            }
            let mut due = now + rule.after;
            let mut quiet = false;
            if !to.is_empty()
                && intensity.respect_quiet_hours
                && let Some(end) = quiet_until(tz, &prefs.quiet_hours, due)
            {
                due = end;
                quiet = true;
            }
            to.into_iter().map(move |to| Planned {
                person: person.id.clone(),
                method: rule.method,
                to,
                due,
                quiet,
            })
        })
        .collect()
}

/// Whether anything reaches `person` for an alert of `severity`: some rule
/// of theirs uses a method the severity may use and they have a contact
/// for. When the step fires does not matter (quiet hours delay a
/// notification, never drop it). `oncall check` warns where not; `oncall
/// diff` compares it between two versions of the files.
pub fn can_reach(person: &Person, severity: &str, intensity: &Intensity) -> bool {
    can_reach_with(person, &[], severity, intensity)
}

/// [`can_reach`] for a person with Web Push subscriptions (`web_push`, see
/// [`plan_person_with`]).
pub fn can_reach_with(person: &Person, web_push: &[String], severity: &str, intensity: &Intensity) -> bool {
    !plan_person_with(person, web_push, severity, intensity, Tz::UTC, Instant::default()).is_empty()
}

/// If `t` is inside quiet hours, when they end.
pub fn quiet_until(tz: Tz, quiet: &[ActiveWindow], t: Instant) -> Option<Instant> {
    if quiet.is_empty() {
        return None;
    }
    // Quiet stretches that touch each other are merged by `active_spans`;
    // a week ahead covers any set of windows that is not always on.
    let spans = active_spans(tz, quiet, Span::new(t - Duration::days(2), t + Duration::days(8)));
    spans.iter().find(|s| s.contains(t)).map(|s| s.end)
}

/// Where one alert's escalation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Escalation {
    /// Step `step` of round `round` (0 = the first run of the chain) fires
    /// at the due time.
    Paging { step: usize, round: u32 },
    /// Acknowledged; at the due time the acknowledgement times out.
    Acknowledged,
}

impl Escalation {
    pub const START: Escalation = Escalation::Paging { step: 0, round: 0 };
}

/// What firing one step decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fired {
    pub step: usize,
    pub round: u32,
    /// The step's targets, or the one chosen by round-robin.
    pub targets: Vec<Target>,
    /// The next step and when it is due; `None`: the chain is over.
    pub next: Option<(Escalation, Instant)>,
}

/// How long after the last step the chain starts again when the policy
/// repeats and the last step has no delay of its own.
pub const DEFAULT_REPEAT_AFTER: Duration = Duration::minutes(5);

/// Fires step `step` of round `round` at `now`. `turn` counts the alerts
/// that reached this step before (for round-robin steps).
pub fn fire(policy: &Policy, step: usize, round: u32, intensity: &Intensity, turn: u64, now: Instant) -> Fired {
    let step = step.min(policy.steps.len().saturating_sub(1));
    let current = &policy.steps[step];
    let targets = if current.round_robin && !current.targets.is_empty() {
        let i = (turn % current.targets.len() as u64) as usize;
        vec![current.targets[i].clone()]
    } else {
        current.targets.clone()
    };
    let next = if !intensity.escalate {
        None
    } else if step + 1 < policy.steps.len() {
        Some((
            Escalation::Paging { step: step + 1, round },
            now + policy.steps[step + 1].after,
        ))
    } else if round < policy.repeat {
        let delay = policy.repeat_after.unwrap_or(if current.after > Duration::zero() {
            current.after
        } else {
            DEFAULT_REPEAT_AFTER
        });
        Some((
            Escalation::Paging {
                step: 0,
                round: round + 1,
            },
            now + delay,
        ))
    } else {
        None
    };
    Fired {
        step,
        round,
        targets,
        next,
    }
}

/// The shadow copies of a step's pages: everyone who shadows, on one of
/// `team`'s rotas at `now`, a person the step reaches (`reached`), each once,
/// with the person they shadow. Shadows follow pages, never targets: a step
/// that does not reach the person they shadow sends them nothing, and
/// someone the step reaches in their own right gets the page, not a copy.
pub fn shadow_copies<'s>(
    schedule: &'s Schedule,
    team: &str,
    reached: &[&PersonId],
    now: Instant,
) -> Vec<(&'s Person, PersonId)> {
    let mut out: Vec<(&Person, PersonId)> = Vec::new();
    for (_, rota) in schedule.rotas(Some(team)) {
        for (shadow, of) in rota.shadows_at(now) {
            if !reached.contains(&of) || reached.contains(&shadow) || out.iter().any(|(p, _)| p.id == *shadow) {
                continue;
            }
            if let Some(person) = schedule.people.get(shadow) {
                out.push((person, of.clone()));
            }
        }
    }
    out
}

/// The people `targets` of `team` name at `now`, each once, in target
/// order, with the target that named them first. A rota with nobody on
/// call names nobody (the caller records the gap).
pub fn recipients<'s>(
    schedule: &'s Schedule,
    team: &str,
    targets: &[Target],
    now: Instant,
) -> Vec<(&'s Person, Target)> {
    let mut out: Vec<(&Person, Target)> = Vec::new();
    let mut add = |id: &PersonId, target: &Target| {
        if let Some(p) = schedule.people.get(id)
            && !out.iter().any(|(q, _)| q.id == p.id)
        {
            out.push((p, target.clone()));
        }
    };
    for target in targets {
        match target {
            Target::Rota(rota) => {
                for (_, r) in schedule.rotas(Some(team)).filter(|(_, r)| &r.name == rota) {
                    // A group's turn: everyone in it.
                    for id in r.on_call(now) {
                        add(id, target);
                    }
                }
            }
            Target::User(id) => add(id, target),
            Target::Team(other) => {
                // Everyone on any of that team's rotas, on call now or not:
                // the all-hands step.
                for (_, r) in schedule.rotas(Some(other)) {
                    for id in r.layers.iter().flat_map(|l| l.people()) {
                        add(id, target);
                    }
                }
            }
        }
    }
    out
}

/// How retries of one notification are spaced: exponential from `first`,
/// at most `max` apart, `attempts` in all before the next contact method
/// is tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            first: Duration::seconds(10),
            max: Duration::minutes(5),
            attempts: 6,
        }
    }
}

impl Backoff {
    /// When to try notification `id` again after its `attempts`-th failed
    /// attempt at `now`; `None` when it has had all its attempts. The jitter
    /// (up to a quarter of the delay, either way) is a hash of the id and
    /// the attempt, so retries of a storm spread out without a random source.
    pub fn retry_at(&self, id: i64, attempts: u32, now: Instant) -> Option<Instant> {
        if attempts >= self.attempts {
            return None;
        }
        let doubling = 2i32.saturating_pow(attempts.saturating_sub(1).min(20));
        let base = (self.first * doubling).min(self.max);
        let spread = base.num_milliseconds() / 2;
        let jitter = if spread > 0 {
            (mix(id as u64 ^ (u64::from(attempts) << 48)) % (spread as u64 + 1)) as i64 - spread / 2
        } else {
            0
        };
        Some(now + base + Duration::milliseconds(jitter))
    }
}

/// A fixed 64-bit mixer (SplitMix64's finaliser): spreads nearby ids apart.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// At most one message per `gap` to one destination of a method: a storm
/// of alerts sends the first page at once and bundles the rest into one
/// message when the gap has passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Throttle {
    pub gap: BTreeMap<Method, Duration>,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle {
            gap: [
                (Method::Sms, Duration::minutes(1)),
                (Method::Push, Duration::seconds(20)),
                (Method::Email, Duration::minutes(1)),
                (Method::Webhook, Duration::seconds(5)),
                (Method::Voice, Duration::minutes(1)),
            ]
            .into(),
        }
    }
}

/// A notification that is due, as the throttle sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub id: i64,
    pub method: Method,
    pub to: String,
}

/// The throttle's answer for one pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batches {
    /// Notification ids to send now, one message per group (several ids: a
    /// bundle), in order of their first id.
    pub send: Vec<Vec<i64>>,
    /// Notification ids held back, and until when.
    pub hold: Vec<(i64, Instant)>,
}

/// Groups the due notifications by destination. A destination that had a
/// message less than its gap ago waits until the gap has passed; otherwise
/// everything due for it goes in one message. `last_sent` answers when a
/// destination last had a message.
pub fn batch(
    due: &[Due],
    throttle: &Throttle,
    last_sent: impl Fn(Method, &str) -> Option<Instant>,
    now: Instant,
) -> Batches {
    let mut groups: BTreeMap<(Method, &str), Vec<i64>> = BTreeMap::new();
    for d in due {
        groups.entry((d.method, d.to.as_str())).or_default().push(d.id);
    }
    let mut out = Batches::default();
    for ((method, to), ids) in groups {
        let gap = throttle.gap.get(&method).copied().unwrap_or_else(Duration::zero);
        match last_sent(method, to) {
            Some(last) if last + gap > now => {
                out.hold.extend(ids.into_iter().map(|id| (id, last + gap)));
            }
            _ => out.send.push(ids),
        }
    }
    out.send.sort_by_key(|ids| ids[0]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(push: Option<&str>, rules: Vec<Rule>) -> Person {
        Person {
            id: "alice".into(),
            name: "Alice".into(),
            email: Some("alice@example.com".into()),
            phone: None,
            push: push.map(str::to_string),
            webhook: None,
            timezone: None,
            preferences: Preferences {
                rules,
                ..Preferences::default()
            },
            region: None,
            ready_for: None,
        }
    }

    fn planned(p: &Person, web_push: &[String]) -> Vec<(Method, String, i64)> {
        let now = Instant::default();
        plan_person_with(p, web_push, "critical", &Intensity::default_for(2, 3), Tz::UTC, now)
            .into_iter()
            .map(|x| (x.method, x.to, (x.due - now).num_minutes()))
            .collect()
    }

    #[test]
    fn push_is_the_ntfy_topic_and_each_web_push_subscription() {
        let devices = vec!["webpush:7".to_string(), "webpush:9".to_string()];
        let rules = vec![
            Rule {
                method: Method::Push,
                after: Duration::zero(),
            },
            Rule {
                method: Method::Email,
                after: Duration::minutes(5),
            },
        ];
        let p = person(Some("ntfy:alice-1"), rules.clone());
        assert_eq!(
            planned(&p, &devices),
            [
                (Method::Push, "ntfy:alice-1".into(), 0),
                (Method::Push, "webpush:7".into(), 0),
                (Method::Push, "webpush:9".into(), 0),
                (Method::Email, "alice@example.com".into(), 5),
            ]
        );
        // Without a topic, the subscriptions alone; without either, none.
        let p = person(None, rules);
        assert_eq!(planned(&p, &devices[..1]).len(), 2);
        assert_eq!(planned(&p, &[]), [(Method::Email, "alice@example.com".into(), 5)]);
    }

    #[test]
    fn a_subscription_puts_push_first_in_the_default_rules() {
        let p = person(None, Vec::new());
        assert_eq!(planned(&p, &[]), [(Method::Email, "alice@example.com".into(), 0)]);
        assert_eq!(
            planned(&p, &["webpush:3".into()]),
            [
                (Method::Push, "webpush:3".into(), 0),
                (Method::Email, "alice@example.com".into(), 2),
            ]
        );
    }
}
