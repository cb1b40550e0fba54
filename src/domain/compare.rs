//! Comparing two lists of shifts: the time each person gains and loses on
//! each rota, and the gaps in cover opened and closed, within a window.
//!
//! The engine knows shifts only, as (team, rota, person, span), so that any
//! two lists compare alike: `oncall diff` compares two versions of the rota
//! files ([`Side::of_schedule`] expands each as `oncall shifts` does), and a
//! check of an importer can compare the shifts a vendor renders with ours.
//!
//! How two [`Side`]s compare within a window:
//! - Each side's shifts are clipped to the window, and one person's shifts
//!   on one rota are merged where they overlap or touch, so how a list cuts
//!   a stretch into shifts (a week as one, or as seven days) makes no
//!   difference.
//! - *Added* is time a person is on call on a rota in `head` and not in
//!   `base`; *removed* the reverse. A hand-off moved by an hour is an hour
//!   taken from one person and given to the next, not two whole shifts.
//! - A rota's gaps are the parts of the window that none of its shifts
//!   cover. A gap *introduced* is time that `head` leaves uncovered and
//!   `base` covered, or any gap of a rota only `head` has; a gap *closed* is
//!   time that `base` left uncovered and `head` covers, on a rota both have.
//!   A rota only `base` has opens and closes nothing: it is gone, and its
//!   people's time shows as removed.

use std::collections::{BTreeMap, BTreeSet};

use super::rota::PersonId;
use super::schedule::Schedule;
use super::time::{Span, merge_spans, subtract_spans};

/// One person on call on one rota for a span.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shift {
    pub team: String,
    pub rota: String,
    pub person: PersonId,
    pub span: Span,
}

/// A stretch of a rota with nobody on call.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gap {
    pub team: String,
    pub rota: String,
    pub span: Span,
}

/// One version of the shifts: the rotas it has (a rota without a shift in
/// the window is all gap) and their shifts. A rota named by a shift counts
/// as one of its rotas even if `rotas` leaves it out.
#[derive(Clone, Debug, Default)]
pub struct Side {
    pub rotas: BTreeSet<(String, String)>,
    pub shifts: Vec<Shift>,
}

impl Side {
    /// Every rota of `schedule` and its shifts within `window`, overrides
    /// applied: the expansion `oncall shifts` prints.
    pub fn of_schedule(schedule: &Schedule, window: Span) -> Side {
        let rotas = schedule
            .rotas(None)
            .map(|(t, r)| (t.name.clone(), r.name.clone()))
            .collect();
        let shifts = schedule
            .shifts(window, None)
            .into_iter()
            .filter_map(|s| {
                Some(Shift {
                    person: s.tile.user?,
                    team: s.team,
                    rota: s.rota,
                    span: s.tile.span,
                })
            })
            .collect();
        Side { rotas, shifts }
    }

    /// Each (team, rota, person)'s time within `window`, merged and sorted.
    fn time(&self, window: Span) -> BTreeMap<(&str, &str, &str), Vec<Span>> {
        let mut out: BTreeMap<(&str, &str, &str), Vec<Span>> = BTreeMap::new();
        for s in &self.shifts {
            let span = s.span.intersect(&window);
            if !span.is_empty() {
                out.entry((s.team.as_str(), s.rota.as_str(), s.person.as_str()))
                    .or_default()
                    .push(span);
            }
        }
        for spans in out.values_mut() {
            *spans = merge_spans(std::mem::take(spans));
        }
        out
    }

    /// Each rota's gaps within `window`, sorted.
    fn gaps(&self, window: Span) -> BTreeMap<(&str, &str), Vec<Span>> {
        let mut covered: BTreeMap<(&str, &str), Vec<Span>> = self
            .rotas
            .iter()
            .map(|(t, r)| ((t.as_str(), r.as_str()), Vec::new()))
            .collect();
        for s in &self.shifts {
            let span = s.span.intersect(&window);
            let cover = covered.entry((s.team.as_str(), s.rota.as_str())).or_default();
            if !span.is_empty() {
                cover.push(span);
            }
        }
        covered
            .into_iter()
            .map(|(rota, cover)| (rota, subtract_spans(&[window], &merge_spans(cover))))
            .collect()
    }
}

/// What `head` changes from `base`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Time on call in `head` only, by person, then time, team and rota.
    pub added: Vec<Shift>,
    /// Time on call in `base` only, in the same order.
    pub removed: Vec<Shift>,
    /// By team, rota and time.
    pub gaps_introduced: Vec<Gap>,
    pub gaps_closed: Vec<Gap>,
}

impl Comparison {
    /// Whether the two sides put the same people on the same rotas at the
    /// same times, with the same gaps.
    pub fn is_same(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.gaps_introduced.is_empty()
            && self.gaps_closed.is_empty()
    }
}

/// What `head` adds to and takes from `base` within `window` (see the
/// module docs). Pure, and the same for the same sides whatever the order
/// of their shifts.
pub fn compare(base: &Side, head: &Side, window: Span) -> Comparison {
    let mut out = Comparison::default();
    if window.is_empty() {
        return out;
    }
    let (before, after) = (base.time(window), head.time(window));
    let keys: BTreeSet<_> = before.keys().chain(after.keys()).copied().collect();
    let none = Vec::new();
    for key @ (team, rota, person) in keys {
        let (b, a) = (before.get(&key).unwrap_or(&none), after.get(&key).unwrap_or(&none));
        let shift = |span| Shift {
            team: team.to_string(),
            rota: rota.to_string(),
            person: person.to_string(),
            span,
        };
        out.added.extend(subtract_spans(a, b).into_iter().map(shift));
        out.removed.extend(subtract_spans(b, a).into_iter().map(shift));
    }
    let by_person = |s: &Shift| {
        (
            s.person.clone(),
            s.span.start,
            s.team.clone(),
            s.rota.clone(),
            s.span.end,
        )
    };
    out.added.sort_by_key(by_person);
    out.removed.sort_by_key(by_person);

    let (before, after) = (base.gaps(window), head.gaps(window));
    for (&(team, rota), a) in &after {
        let gap = |span| Gap {
            team: team.to_string(),
            rota: rota.to_string(),
            span,
        };
        match before.get(&(team, rota)) {
            Some(b) => {
                out.gaps_introduced.extend(subtract_spans(a, b).into_iter().map(gap));
                out.gaps_closed.extend(subtract_spans(b, a).into_iter().map(gap));
            }
            None => out.gaps_introduced.extend(a.iter().copied().map(gap)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::Instant;
    use chrono::{Duration, TimeZone, Utc};

    /// Hours after 2026-03-02T00:00Z.
    fn h(hours: i64) -> Instant {
        Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap() + Duration::hours(hours)
    }

    fn shift(rota: &str, person: &str, from: i64, to: i64) -> Shift {
        Shift {
            team: "t".into(),
            rota: rota.into(),
            person: person.into(),
            span: Span::new(h(from), h(to)),
        }
    }

    fn side(shifts: &[Shift]) -> Side {
        Side {
            rotas: BTreeSet::new(),
            shifts: shifts.to_vec(),
        }
    }

    fn gap(rota: &str, from: i64, to: i64) -> Gap {
        Gap {
            team: "t".into(),
            rota: rota.into(),
            span: Span::new(h(from), h(to)),
        }
    }

    #[test]
    fn the_same_shifts_cut_differently_compare_equal() {
        let week = side(&[shift("r", "alice", 0, 168)]);
        let days = side(
            &(0..7)
                .rev()
                .map(|d| shift("r", "alice", d * 24, d * 24 + 24))
                .collect::<Vec<_>>(),
        );
        let c = compare(&week, &days, Span::new(h(0), h(168)));
        assert!(c.is_same(), "{c:?}");
    }

    #[test]
    fn a_moved_hand_off_is_an_hour_each_way_not_two_shifts() {
        let base = side(&[shift("r", "alice", 0, 24), shift("r", "bob", 24, 48)]);
        let head = side(&[shift("r", "alice", 0, 25), shift("r", "bob", 25, 48)]);
        let c = compare(&base, &head, Span::new(h(0), h(48)));
        assert_eq!(c.added, vec![shift("r", "alice", 24, 25)]);
        assert_eq!(c.removed, vec![shift("r", "bob", 24, 25)]);
        assert!(c.gaps_introduced.is_empty() && c.gaps_closed.is_empty(), "{c:?}");
    }

    #[test]
    fn gaps_opened_and_closed_within_the_window_only() {
        let base = side(&[shift("r", "alice", 0, 10), shift("r", "bob", 20, 30)]);
        let head = side(&[shift("r", "alice", 0, 15), shift("r", "bob", 25, 30)]);
        // Clipped to [5, 28): alice's extra hours close part of the gap, bob's
        // lost hours open another.
        let c = compare(&base, &head, Span::new(h(5), h(28)));
        assert_eq!(c.gaps_closed, vec![gap("r", 10, 15)]);
        assert_eq!(c.gaps_introduced, vec![gap("r", 20, 25)]);
        assert_eq!(c.added, vec![shift("r", "alice", 10, 15)]);
        assert_eq!(c.removed, vec![shift("r", "bob", 20, 25)]);
    }

    #[test]
    fn a_new_rota_brings_its_gaps_and_a_removed_one_takes_them() {
        let mut base = side(&[shift("old", "alice", 0, 5)]);
        base.rotas.insert(("t".into(), "empty".into()));
        let head = side(&[shift("new", "alice", 0, 5)]);
        let c = compare(&base, &head, Span::new(h(0), h(10)));
        assert_eq!(c.gaps_introduced, vec![gap("new", 5, 10)]);
        assert!(c.gaps_closed.is_empty(), "{c:?}");
        assert_eq!(c.removed, vec![shift("old", "alice", 0, 5)]);
        assert_eq!(c.added, vec![shift("new", "alice", 0, 5)]);
    }

    #[test]
    fn a_rota_without_shifts_is_all_gap() {
        let mut head = side(&[]);
        head.rotas.insert(("t".into(), "r".into()));
        let base = side(&[shift("r", "alice", 0, 10)]);
        let c = compare(&base, &head, Span::new(h(0), h(10)));
        assert_eq!(c.gaps_introduced, vec![gap("r", 0, 10)]);
    }

    #[test]
    fn two_layers_of_one_rota_cover_together() {
        // Overlapping shifts of two people on one rota (a vendor's layers,
        // unflattened) cover the union.
        let base = side(&[shift("r", "alice", 0, 10)]);
        let head = side(&[shift("r", "alice", 0, 6), shift("r", "bob", 4, 10)]);
        let c = compare(&base, &head, Span::new(h(0), h(10)));
        assert!(c.gaps_introduced.is_empty(), "{c:?}");
        assert_eq!(c.added, vec![shift("r", "bob", 4, 10)]);
        assert_eq!(c.removed, vec![shift("r", "alice", 6, 10)]);
    }
}
