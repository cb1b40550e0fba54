//! `--verify`: the written rota files against the source's own rendering.
//!
//! Our side is the files as written, expanded by the code `oncall shifts`
//! uses ([`Side::of_schedule`]); the source's side is its final on-call for
//! the same window. [`compare`] (the engine of `oncall diff`) gives the time
//! each person is on call in one and not the other; each such stretch is a
//! difference, printed in UTC and in the team's zone.

use std::collections::BTreeSet;
use std::io::Write;

use crate::domain::compare::{Shift, Side, compare};
use crate::domain::schedule::Schedule;
use crate::domain::time::{Rfc3339, Span};

use super::plan::Plan;

pub struct Report {
    pub window: Span,
    pub schedules: usize,
    /// The source's shifts within the window.
    pub shifts: usize,
    /// `(shift, in_source)`: time on call in the source only (`true`) or in
    /// the written files only (`false`), by person and time.
    pub differences: Vec<(Shift, bool)>,
}

pub fn verify(plan: &Plan, schedule: &Schedule, rendered: Vec<Shift>, window: Span) -> Report {
    let rotas: BTreeSet<(String, String)> = plan
        .teams
        .iter()
        .flat_map(|t| t.rotas.iter().map(move |r| (t.name.clone(), r.name.clone())))
        .collect();
    let mut ours = Side::of_schedule(schedule, window);
    ours.shifts
        .retain(|s| rotas.contains(&(s.team.clone(), s.rota.clone())));
    ours.rotas.retain(|r| rotas.contains(r));
    let shifts = rendered
        .iter()
        .filter(|s| !s.span.intersect(&window).is_empty())
        .count();
    let theirs = Side {
        rotas: rotas.clone(),
        shifts: rendered,
    };
    let c = compare(&theirs, &ours, window);
    let mut differences: Vec<(Shift, bool)> = c
        .removed
        .into_iter()
        .map(|s| (s, true))
        .chain(c.added.into_iter().map(|s| (s, false)))
        .collect();
    differences.sort_by(|(a, _), (b, _)| {
        (&a.team, &a.rota, a.span.start, &a.person).cmp(&(&b.team, &b.rota, b.span.start, &b.person))
    });
    Report {
        window,
        schedules: rotas.len(),
        shifts,
        differences,
    }
}

pub fn print(report: &Report, plan: &Plan, schedule: &Schedule, out: &mut dyn Write) -> std::io::Result<()> {
    let days = report.window.duration().num_days();
    for (s, in_source) in &report.differences {
        let tz = schedule.teams.iter().find(|t| t.name == s.team).map(|t| t.tz);
        let local = |t| match tz {
            Some(tz) => t_in(tz, t),
            None => String::new(),
        };
        let (yes, no) = if *in_source {
            (plan.source.as_str(), "the import")
        } else {
            ("the import", plan.source.as_str())
        };
        writeln!(
            out,
            "difference: {}/{}: {} is on call in {yes}, not in {no}, from {} to {} ({} to {} {})",
            s.team,
            s.rota,
            s.person,
            Rfc3339::new(s.span.start).as_str(),
            Rfc3339::new(s.span.end).as_str(),
            local(s.span.start),
            local(s.span.end),
            tz.map_or("", |tz| tz.name()),
        )?;
    }
    writeln!(
        out,
        "verified: {} schedules, {} shifts over {days} days, {} differences",
        report.schedules,
        report.shifts,
        report.differences.len()
    )
}

fn t_in(tz: chrono_tz::Tz, t: crate::domain::time::Instant) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z").to_string()
}
