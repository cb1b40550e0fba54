//! What a change to the rota files does for people, gathered from two
//! loaded versions: the time each person gains and loses
//! ([`crate::domain::compare`] over the rotas' expansions), their hours and
//! pay for each month the window touches ([`pay::tally`], as the pay export
//! counts them), the gaps opened and closed, who can no longer be reached
//! for a severity (as `oncall check` decides it) and the escalation steps
//! changed. No I/O: the command loads, this compares, `render` prints.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use chrono_tz::Tz;

use crate::config::{self, Loaded};
use crate::domain::compare::{self, Side};
use crate::domain::escalation::{Policy, Step, Target};
use crate::domain::paging::{self, Intensity};
use crate::domain::pay::{self, By, Currency, Money, Month, PayRules};
use crate::domain::rota::PersonId;
use crate::domain::schedule::Schedule;
use crate::domain::severity::Severities;
use crate::domain::time::Span;

/// One version of the rota files, loaded without errors.
pub struct Version<'a> {
    /// How it is named in the output: a folder, or `REF:path/`.
    pub label: String,
    pub loaded: &'a Loaded,
    /// From its `pay.yaml`, if it has one.
    pub pay: Option<&'a PayRules>,
}

/// The installation's severities and how hard each pages (`oncall.toml`).
pub struct Paging<'a> {
    pub severities: &'a Severities,
    pub intensities: &'a BTreeMap<String, Intensity>,
}

/// A stretch of a rota, with the zone of its team for showing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stretch {
    pub team: String,
    pub rota: String,
    pub span: Span,
    pub tz: Tz,
}

/// A person's hours (and pay, where the version has pay rules) in a month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub seconds: i64,
    pub amount: Option<Money>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonthChange {
    pub month: Month,
    pub base: Tally,
    pub head: Tally,
}

/// What changes for one person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonChanges {
    pub id: PersonId,
    /// From people.yaml (head's, else base's); the id if neither has them.
    pub name: String,
    pub added: Vec<Stretch>,
    pub removed: Vec<Stretch>,
    pub months: Vec<MonthChange>,
}

/// A person on a rota whom a severity reaches in one version and not in
/// the other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    pub person: PersonId,
    pub severity: String,
    /// `true`: head cannot reach them (base could, or did not have them on
    /// a rota); `false`: base could not, head can (or has them on no rota).
    pub lost: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    Changed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }
}

/// One change to a team's escalation policy: a step, or one of the
/// policy's settings (`repeat`, `repeat_after`, `ack_timeout`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EscalationChange {
    pub team: String,
    /// `None` for a setting of the policy.
    pub step: Option<StepNumbers>,
    /// The setting's name, for a setting.
    pub setting: Option<&'static str>,
    pub change: Change,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A step's place (from 1) in each version that has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepNumbers {
    pub base: Option<usize>,
    pub head: Option<usize>,
}

/// Everything `oncall diff` prints.
#[derive(Clone, Debug)]
pub struct Report {
    pub base: String,
    pub head: String,
    pub window: Span,
    /// By person id.
    pub people: Vec<PersonChanges>,
    pub gaps_introduced: Vec<Stretch>,
    pub gaps_closed: Vec<Stretch>,
    /// By person, then severity (lowest first).
    pub reach: Vec<Reach>,
    /// By team, steps in order, then the settings.
    pub escalation: Vec<EscalationChange>,
    pub rotas_added: Vec<(String, String)>,
    pub rotas_removed: Vec<(String, String)>,
    /// The currency of the amounts; `None` when neither version has pay
    /// rules (hours only).
    pub currency: Option<Currency>,
    /// The zone the months run in (the payroll zone; UTC without pay rules).
    pub month_tz: Tz,
    /// Things to know to read the figures, e.g. a pay.yaml only one version has.
    pub notes: Vec<String>,
}

impl Report {
    /// Whether the change opens a gap: the exit status says so.
    pub fn gap_introduced(&self) -> bool {
        !self.gaps_introduced.is_empty()
    }

    /// Whether there is anything to say.
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
            && self.gaps_introduced.is_empty()
            && self.gaps_closed.is_empty()
            && self.reach.is_empty()
            && self.escalation.is_empty()
            && self.rotas_added.is_empty()
            && self.rotas_removed.is_empty()
    }
}

/// Compares `base` and `head` within `window`.
pub fn build(base: &Version<'_>, head: &Version<'_>, paging: &Paging<'_>, window: Span) -> Report {
    let (b, h) = (&base.loaded.schedule, &head.loaded.schedule);
    let (base_side, head_side) = (Side::of_schedule(b, window), Side::of_schedule(h, window));
    let comparison = compare::compare(&base_side, &head_side, window);
    let tz_of = |s: &Schedule, other: &Schedule, team: &str| {
        s.team(team).or_else(|| other.team(team)).map_or(Tz::UTC, |t| t.tz)
    };
    let stretch = |s: &Schedule, other: &Schedule, team: &str, rota: &str, span: Span| Stretch {
        team: team.to_string(),
        rota: rota.to_string(),
        span,
        tz: tz_of(s, other, team),
    };

    let mut people: BTreeMap<PersonId, PersonChanges> = BTreeMap::new();
    let name_of = |id: &str| {
        h.people
            .get(id)
            .or_else(|| b.people.get(id))
            .map_or_else(|| id.to_string(), |p| p.name.clone())
    };
    for s in &comparison.added {
        let st = stretch(h, b, &s.team, &s.rota, s.span);
        entry(&mut people, &s.person, name_of).added.push(st);
    }
    for s in &comparison.removed {
        let st = stretch(b, h, &s.team, &s.rota, s.span);
        entry(&mut people, &s.person, name_of).removed.push(st);
    }

    // Hours and pay, month by month, each version under its own pay rules.
    let mut notes = Vec::new();
    let currency = head.pay.or(base.pay).map(|r| r.currency.clone());
    let month_tz = head.pay.or(base.pay).map_or(Tz::UTC, |r| r.payroll_tz);
    let mut base_pay = base.pay;
    match (base.pay, head.pay) {
        (Some(bp), Some(hp)) if bp.currency.code != hp.currency.code => {
            notes.push(format!(
                "pay.yaml's currency changes from {} to {}: pay before is not compared",
                bp.currency.code, hp.currency.code
            ));
            base_pay = None;
        }
        (None, Some(_)) => notes.push(format!("{} has no pay.yaml: pay before is not known", base.label)),
        (Some(_), None) => notes.push(format!("{} has no pay.yaml: pay after is not known", head.label)),
        _ => {}
    }
    let last = window.end - Duration::seconds(1);
    let mut month = Month::of(month_tz, window.start);
    while month <= Month::of(month_tz, last) {
        let Some(span) = month.span(month_tz) else { break };
        let before = month_tally(b, base_pay, span);
        let after = month_tally(h, head.pay, span);
        let ids: BTreeSet<&PersonId> = before.keys().chain(after.keys()).collect();
        for id in ids {
            let base = before.get(id).copied().unwrap_or(Tally {
                seconds: 0,
                amount: base_pay.map(|_| Money::default()),
            });
            let head = after.get(id).copied().unwrap_or(Tally {
                seconds: 0,
                amount: head.pay.map(|_| Money::default()),
            });
            let amounts_differ = matches!((base.amount, head.amount), (Some(x), Some(y)) if x != y);
            if base.seconds != head.seconds || amounts_differ {
                entry(&mut people, id, name_of)
                    .months
                    .push(MonthChange { month, base, head });
            }
        }
        month = month.next();
    }

    let gaps = |list: &[compare::Gap]| -> Vec<Stretch> {
        list.iter().map(|g| stretch(h, b, &g.team, &g.rota, g.span)).collect()
    };
    let rotas_added = head_side.rotas.difference(&base_side.rotas).cloned().collect();
    let rotas_removed = base_side.rotas.difference(&head_side.rotas).cloned().collect();
    Report {
        base: base.label.clone(),
        head: head.label.clone(),
        window,
        people: people.into_values().collect(),
        gaps_introduced: gaps(&comparison.gaps_introduced),
        gaps_closed: gaps(&comparison.gaps_closed),
        reach: reach(base.loaded, head.loaded, paging),
        escalation: escalation(b, h),
        rotas_added,
        rotas_removed,
        currency,
        month_tz,
        notes,
    }
}

/// `id`'s changes in `people`, a new entry if need be.
fn entry<'a>(
    people: &'a mut BTreeMap<PersonId, PersonChanges>,
    id: &str,
    name_of: impl Fn(&str) -> String,
) -> &'a mut PersonChanges {
    people.entry(id.to_string()).or_insert_with(|| PersonChanges {
        id: id.to_string(),
        name: name_of(id),
        added: Vec::new(),
        removed: Vec::new(),
        months: Vec::new(),
    })
}

/// Each person's hours and pay in `month` as `oncall pay --source schedule`
/// counts them: the rotas' intervals priced by [`pay::tally`]. Without pay
/// rules, the hours alone (priced at nothing, by rules with no rates).
fn month_tally(schedule: &Schedule, rules: Option<&PayRules>, month: Span) -> BTreeMap<PersonId, Tally> {
    let unpriced;
    let priced = match rules {
        Some(r) => r,
        None => {
            unpriced = PayRules::new(Currency {
                code: String::new(),
                digits: 0,
            });
            &unpriced
        }
    };
    let intervals = pay::schedule_intervals(schedule, month, None);
    pay::tally(priced, month, &schedule.people, &intervals, &[], By::Person)
        .into_iter()
        .map(|row| {
            let tally = Tally {
                seconds: row.totals.seconds.total,
                amount: rules.map(|_| row.totals.amount()),
            };
            (row.person, tally)
        })
        .collect()
}

/// The people on a rota whom a severity cannot reach, in `loaded`, as
/// (person, severity's rank, severity).
fn unreachable(loaded: &Loaded, paging: &Paging<'_>) -> BTreeSet<(PersonId, usize, String)> {
    let mut out = BTreeSet::new();
    for person in loaded.schedule.people.values() {
        if config::rotas_of(loaded, &person.id).is_empty() {
            continue;
        }
        for (rank, name) in paging.severities.names().iter().enumerate() {
            let Some(intensity) = paging.intensities.get(name) else {
                continue;
            };
            if !paging::can_reach(person, name, intensity) {
                out.insert((person.id.clone(), rank, name.clone()));
            }
        }
    }
    out
}

fn reach(base: &Loaded, head: &Loaded, paging: &Paging<'_>) -> Vec<Reach> {
    let (before, after) = (unreachable(base, paging), unreachable(head, paging));
    let mut out: Vec<(PersonId, usize, Reach)> = Vec::new();
    for (set, other, lost) in [(&after, &before, true), (&before, &after, false)] {
        for (person, rank, severity) in set.difference(other) {
            out.push((
                person.clone(),
                *rank,
                Reach {
                    person: person.clone(),
                    severity: severity.clone(),
                    lost,
                },
            ));
        }
    }
    out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    out.into_iter().map(|(_, _, r)| r).collect()
}

/// The escalation changes of every team either version has, by team name.
fn escalation(base: &Schedule, head: &Schedule) -> Vec<EscalationChange> {
    let names: BTreeSet<&str> = base.teams.iter().chain(&head.teams).map(|t| t.name.as_str()).collect();
    let none = Policy::default();
    let policy = |s: &'_ Schedule, name: &str| -> Option<Policy> { s.team(name).and_then(|t| t.escalation.clone()) };
    let mut out = Vec::new();
    for name in names {
        let (b, h) = (policy(base, name), policy(head, name));
        let (b, h) = (b.as_ref().unwrap_or(&none), h.as_ref().unwrap_or(&none));
        if b != h {
            out.extend(policy_changes(name, b, h));
        }
    }
    out
}

/// The steps matched in order (the longest common run of equal steps, so a
/// step inserted shows as one added step, not every later one changed);
/// between matches, unmatched steps pair up as changed, the rest are added
/// or removed. Then the settings.
fn policy_changes(team: &str, b: &Policy, h: &Policy) -> Vec<EscalationChange> {
    let mut out = Vec::new();
    let change = |step, change, before: Option<&Step>, after: Option<&Step>| EscalationChange {
        team: team.to_string(),
        step: Some(step),
        setting: None,
        change,
        before: before.map(describe_step),
        after: after.map(describe_step),
    };
    let (n, m) = (b.steps.len(), h.steps.len());
    // common[i][j]: the longest common run of b.steps[i..] and h.steps[j..].
    let mut common = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = if b.steps[i] == h.steps[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && b.steps[i] == h.steps[j] {
            i += 1;
            j += 1;
            continue;
        }
        // The unmatched run up to the next match.
        let (i0, j0) = (i, j);
        while i < n || j < m {
            if i < n && j < m && b.steps[i] == h.steps[j] && common[i][j] == common[i + 1][j + 1] + 1 {
                break;
            }
            if j == m || (i < n && common[i + 1][j] >= common[i][j + 1]) {
                i += 1;
            } else {
                j += 1;
            }
        }
        let (removed, added) = (i0..i, j0..j);
        let paired = removed.len().min(added.len());
        for k in 0..paired {
            let numbers = StepNumbers {
                base: Some(i0 + k + 1),
                head: Some(j0 + k + 1),
            };
            out.push(change(
                numbers,
                Change::Changed,
                Some(&b.steps[i0 + k]),
                Some(&h.steps[j0 + k]),
            ));
        }
        for x in i0 + paired..i {
            let numbers = StepNumbers {
                base: Some(x + 1),
                head: None,
            };
            out.push(change(numbers, Change::Removed, Some(&b.steps[x]), None));
        }
        for y in j0 + paired..j {
            let numbers = StepNumbers {
                base: None,
                head: Some(y + 1),
            };
            out.push(change(numbers, Change::Added, None, Some(&h.steps[y])));
        }
    }
    let duration = |d: Option<Duration>, none: &str| d.map_or_else(|| none.to_string(), config::human_duration);
    let settings = [
        ("repeat", b.repeat.to_string(), h.repeat.to_string()),
        (
            "repeat_after",
            duration(b.repeat_after, "the last step's delay"),
            duration(h.repeat_after, "the last step's delay"),
        ),
        (
            "ack_timeout",
            duration(b.ack_timeout, "none"),
            duration(h.ack_timeout, "none"),
        ),
    ];
    for (setting, before, after) in settings {
        if before != after {
            out.push(EscalationChange {
                team: team.to_string(),
                step: None,
                setting: Some(setting),
                change: Change::Changed,
                before: Some(before),
                after: Some(after),
            });
        }
    }
    out
}

/// A step as the rota file says it: `after 15m: rota:primary, user:frank`.
pub fn describe_step(step: &Step) -> String {
    let targets: Vec<String> = step
        .targets
        .iter()
        .map(|t| match t {
            Target::Rota(r) => format!("rota:{r}"),
            Target::User(u) => format!("user:{u}"),
            Target::Team(t) => format!("team:{t}"),
        })
        .collect();
    let when = if step.after.is_zero() {
        "at once".to_string()
    } else {
        format!("after {}", config::human_duration(step.after))
    };
    let turn = if step.round_robin { " (round robin)" } else { "" };
    format!("{when}: {}{turn}", targets.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(after: i64, targets: &[&str]) -> Step {
        Step {
            after: Duration::minutes(after),
            targets: targets.iter().map(|t| Target::Rota(t.to_string())).collect(),
            round_robin: false,
        }
    }

    fn policy(steps: &[Step]) -> Policy {
        Policy {
            steps: steps.to_vec(),
            ..Policy::default()
        }
    }

    fn summary(changes: &[EscalationChange]) -> Vec<String> {
        changes
            .iter()
            .map(|c| {
                let n = c.step.map(|s| (s.base, s.head));
                format!(
                    "{} {:?} {:?} -> {:?}",
                    c.change.as_str(),
                    n,
                    c.before.as_deref(),
                    c.after.as_deref()
                )
            })
            .collect()
    }

    #[test]
    fn a_step_inserted_is_one_step_added() {
        let (a, b, c, x) = (step(0, &["a"]), step(10, &["b"]), step(20, &["c"]), step(5, &["x"]));
        let before = policy(&[a.clone(), b.clone(), c.clone()]);
        let after = policy(&[a, x, b, c]);
        assert_eq!(
            summary(&policy_changes("t", &before, &after)),
            ["added Some((None, Some(2))) None -> Some(\"after 5m: rota:x\")"]
        );
    }

    #[test]
    fn steps_changed_removed_and_settings() {
        let (a, b, c) = (step(0, &["a"]), step(10, &["b"]), step(20, &["c"]));
        let before = Policy {
            steps: vec![a.clone(), b, c],
            repeat: 1,
            repeat_after: None,
            ack_timeout: Some(Duration::minutes(30)),
        };
        let after = policy(&[a, step(15, &["b"])]);
        assert_eq!(
            summary(&policy_changes("t", &before, &after)),
            [
                "changed Some((Some(2), Some(2))) Some(\"after 10m: rota:b\") -> Some(\"after 15m: rota:b\")",
                "removed Some((Some(3), None)) Some(\"after 20m: rota:c\") -> None",
                "changed None Some(\"1\") -> Some(\"0\")",
                "changed None Some(\"30m\") -> Some(\"none\")",
            ]
        );
    }
}
