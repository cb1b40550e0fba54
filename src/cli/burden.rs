//! `oncall burden` and `oncall cover`: who carries the on-call load.
//!
//! Burden counts, per team and person over a window, the hours on call (and
//! how many fell on weekends and public holidays: `pay.yaml`'s holidays, if
//! there is one), the pages received, and the pages at night in the
//! person's own zone; it flags anyone whose hours are well above their
//! team's average. Cover suggests who could take a stretch of a team's
//! rotas: the team's people not on call then, least burdened first.
//!
//! The hours come from the daemon's ledger (what happened) or from the
//! rotas (`--source schedule`: what is planned), as for `oncall pay`; the
//! counting is `domain::pay::tally`'s, so the two commands agree.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use chrono::Timelike;

use super::SchedulesArg;
use super::pay::Source;
use super::{load_clean, unknown_team};
use crate::config;
use crate::domain::pay::{self, By, Currency, Page, PayRules, format_hours};
use crate::domain::schedule::Schedule;
use crate::domain::time::{Instant, Span};
use crate::payroll::from_ledger;

/// Pages between these local hours are night pages.
const NIGHT_FROM: u32 = 22;
const NIGHT_TO: u32 = 7;

pub struct BurdenArgs {
    pub schedules: SchedulesArg,
    pub database: crate::store::Database,
    pub span: Span,
    pub team: Option<String>,
    pub source: Source,
    /// Flag anyone above this multiple of their team's average hours.
    pub threshold: f64,
}

/// One person's share of one team's on-call in the window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Share {
    pub team: String,
    pub person: String,
    pub seconds: i64,
    pub weekend: i64,
    pub holiday: i64,
    /// Seconds shadowing (learning the rota): apart, never in `seconds`.
    pub shadow: i64,
    pub pages: u32,
    pub night_pages: u32,
    /// Hours against the team's average (1.0 = average).
    pub ratio: f64,
}

/// Every person's share of every team (of `team`, if given), in team order,
/// most burdened first.
fn shares(loaded: &config::Loaded, args: &BurdenArgs, err: &mut dyn Write) -> anyhow::Result<Option<Vec<Share>>> {
    let schedule = &loaded.schedule;
    // pay.yaml's holidays and payroll zone if there is one; money is not
    // counted here.
    let rules = config::pay::decode(loaded).rules.unwrap_or_else(|| {
        PayRules::new(Currency {
            code: "XXX".into(),
            digits: 0,
        })
    });
    let (intervals, pages) = match args.source {
        Source::Schedule => (
            pay::schedule_intervals(schedule, args.span, args.team.as_deref()),
            Vec::new(),
        ),
        Source::Ledger => {
            let span = Span::new(args.span.start - chrono::Duration::days(35), args.span.end);
            match crate::store::read_ledger(&args.database, span) {
                Ok(ledger) => from_ledger(schedule, &rules, &ledger, args.team.as_deref()),
                Err(e) => {
                    writeln!(err, "oncall: {e} (or use --source schedule)")?;
                    return Ok(None);
                }
            }
        }
    };
    Ok(Some(count(schedule, &rules, args.span, &intervals, &pages)))
}

/// Every person's share of every team within `span`, from the on-call
/// `intervals` and the `pages` (from the rotas or the ledger), in team
/// order, most burdened first: what `oncall burden` prints and the web's
/// Me page shows.
pub fn count(
    schedule: &Schedule,
    rules: &PayRules,
    span: Span,
    intervals: &[pay::Interval],
    pages: &[Page],
) -> Vec<Share> {
    let rows = pay::tally(rules, span, &schedule.people, intervals, &[], By::Rota);
    let mut by_team: BTreeMap<(String, String), Share> = BTreeMap::new();
    for row in rows {
        let Some(team) = row.teams.first() else { continue };
        let share = by_team.entry((team.clone(), row.person.clone())).or_default();
        share.team = team.clone();
        share.person = row.person.clone();
        share.seconds += row.totals.seconds.total;
        share.weekend += row.totals.seconds.weekend;
        share.holiday += row.totals.seconds.holiday;
        share.shadow += row.totals.shadow_seconds;
    }
    // Pages are the person's, whatever the team: counted on each of their
    // rows in the window.
    let in_window: Vec<&Page> = pages.iter().filter(|p| span.contains(p.at)).collect();
    for share in by_team.values_mut() {
        let theirs: Vec<&&Page> = in_window.iter().filter(|p| p.person == share.person).collect();
        share.pages = theirs.len() as u32;
        let tz = schedule
            .people
            .get(&share.person)
            .and_then(|p| p.timezone)
            .unwrap_or(rules.payroll_tz);
        share.night_pages = theirs
            .iter()
            .filter(|p| {
                let hour = p.at.with_timezone(&tz).hour();
                !(NIGHT_TO..NIGHT_FROM).contains(&hour)
            })
            .count() as u32;
    }
    let mut out: Vec<Share> = by_team.into_values().collect();
    let mut totals: BTreeMap<String, (i64, usize)> = BTreeMap::new();
    // Someone who only shadowed carries none of the burden: not in the
    // average.
    for s in out.iter().filter(|s| s.seconds > 0 || s.shadow == 0) {
        let t = totals.entry(s.team.clone()).or_default();
        t.0 += s.seconds;
        t.1 += 1;
    }
    for s in &mut out {
        let (sum, n) = totals.get(&s.team).copied().unwrap_or((0, 1));
        let average = sum as f64 / n as f64;
        s.ratio = if average > 0.0 { s.seconds as f64 / average } else { 0.0 };
    }
    out.sort_by(|a, b| {
        a.team
            .cmp(&b.team)
            .then(b.seconds.cmp(&a.seconds))
            .then(a.person.cmp(&b.person))
    });
    out
}

pub fn burden(args: BurdenArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let Some(loaded) = load_clean(&args.schedules, err)? else {
        return Ok(ExitCode::from(1));
    };
    if let Some(code) = unknown_team(&loaded.schedule, args.team.as_deref(), err)? {
        return Ok(code);
    }
    let Some(shares) = shares(&loaded, &args, err)? else {
        return Ok(ExitCode::from(1));
    };
    writeln!(
        out,
        "on-call burden from {} to {}",
        rfc3339(args.span.start),
        rfc3339(args.span.end)
    )?;
    writeln!(
        out,
        "{:<10}  {:<10}  {:>10}  {:>9}  {:>9}  {:>9}  {:>5}  {:>11}  {:>6}",
        "TEAM", "PERSON", "HOURS", "WEEKEND", "HOLIDAY", "SHADOW", "PAGES", "NIGHT PAGES", "SHARE"
    )?;
    let mut flagged = Vec::new();
    for s in &shares {
        let flag = s.ratio > args.threshold;
        writeln!(
            out,
            "{:<10}  {:<10}  {:>10}  {:>9}  {:>9}  {:>9}  {:>5}  {:>11}  {:>5.2}x{}",
            s.team,
            s.person,
            hours(s.seconds),
            hours(s.weekend),
            hours(s.holiday),
            hours(s.shadow),
            s.pages,
            s.night_pages,
            s.ratio,
            if flag { "  << above the team average" } else { "" }
        )?;
        if flag {
            flagged.push(format!("{} on {}", s.person, s.team));
        }
    }
    if !flagged.is_empty() {
        writeln!(
            out,
            "carrying more than {:.2}x their team's average: {} (consider overrides; `oncall cover` suggests who)",
            args.threshold,
            flagged.join(", ")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub struct CoverArgs {
    pub burden: BurdenArgs,
    /// The stretch that needs cover.
    pub need: Span,
}

/// Suggests who could cover `need` on the team: its people not on call on
/// any of the team's rotas then, least burdened (over the window) first.
pub fn cover(args: CoverArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let Some(loaded) = load_clean(&args.burden.schedules, err)? else {
        return Ok(ExitCode::from(1));
    };
    let Some(team) = args.burden.team.clone() else {
        writeln!(err, "oncall cover: give --team")?;
        return Ok(ExitCode::from(2));
    };
    if let Some(code) = unknown_team(&loaded.schedule, Some(&team), err)? {
        return Ok(code);
    }
    let Some(shares) = shares(&loaded, &args.burden, err)? else {
        return Ok(ExitCode::from(1));
    };
    let schedule = &loaded.schedule;
    let candidates = candidates(schedule, &team, args.need, &shares);
    writeln!(
        out,
        "cover for {team} from {} to {}: who is free then, least on call from {} to {} first",
        rfc3339(args.need.start),
        rfc3339(args.need.end),
        rfc3339(args.burden.span.start),
        rfc3339(args.burden.span.end)
    )?;
    if candidates.is_empty() {
        writeln!(out, "nobody on {team}'s rotas is free then")?;
        return Ok(ExitCode::from(1));
    }
    for (seconds, person) in candidates {
        let name = schedule.people.get(person).map(|p| p.name.as_str()).unwrap_or(person);
        writeln!(out, "  {person:<10} {name:<20} {} h on call", hours(seconds))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Who could cover `need` on `team`: its people not on call on any rota
/// then, with the seconds each carried in `shares`, least first.
pub fn candidates<'a>(schedule: &'a Schedule, team: &'a str, need: Span, shares: &[Share]) -> Vec<(i64, &'a String)> {
    let members: std::collections::BTreeSet<&String> = schedule
        .rotas(Some(team))
        .flat_map(|(_, r)| r.layers.iter().flat_map(|l| l.people()))
        .collect();
    let busy: std::collections::BTreeSet<String> = schedule
        .shifts(need, None)
        .into_iter()
        .filter_map(|s| s.tile.user)
        .collect();
    let mut candidates: Vec<(i64, &String)> = members
        .into_iter()
        .filter(|p| !busy.contains(*p))
        .map(|p| {
            let carried = shares.iter().filter(|s| &s.person == p).map(|s| s.seconds).sum::<i64>();
            (carried, p)
        })
        .collect();
    candidates.sort();
    candidates
}

fn hours(seconds: i64) -> String {
    let text = format_hours(seconds);
    // Six decimals are for payroll; people read two.
    match text.split_once('.') {
        Some((whole, frac)) => format!("{whole}.{}", &frac[..frac.len().min(2)]),
        None => text,
    }
}

fn rfc3339(t: Instant) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
