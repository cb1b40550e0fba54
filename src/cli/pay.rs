//! `oncall pay`: the month's pay export, as CSV or JSON lines.
//!
//! The command reads the rota files and `pay.yaml`, takes the month's on-call
//! intervals from a source (the rotas, or the daemon's ledger), and prints
//! [`crate::domain::pay::tally`]'s rows. Amounts are rounded here, once, to
//! the currency's minor unit.

use std::io::Write;
use std::process::ExitCode;

use chrono::{Datelike, Timelike};
use chrono_tz::Tz;
use clap::ValueEnum;
use serde_json::{Map, Value, json};

use super::{SchedulesArg, load_clean, unknown_team};
use crate::config;
use crate::domain::pay::{self, By, Currency, Interval, Page, Row, format_hours};
use crate::domain::schedule::Schedule;
use crate::domain::time::Span;
use crate::store::Ledger;
use crate::store::sqlite;

/// A month as written on the command line: `2026-03`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

pub fn parse_month(s: &str) -> Result<Month, String> {
    let bad = || format!("`{s}` is not a month: write it as YYYY-MM, like 2026-03");
    let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let year = y.parse().map_err(|_| bad())?;
    let month = m.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&month) {
        return Err(bad());
    }
    Ok(Month { year, month })
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum PayFormat {
    /// Comma-separated, with a header row.
    Csv,
    /// One JSON object a line.
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Source {
    /// The rotas, overrides applied: what was planned (a forecast for a month
    /// not yet over).
    Schedule,
    /// What the daemon recorded in its database (--database): the hours as
    /// they really were, and the pages received.
    Ledger,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ByArg {
    /// One row per person and rota.
    Rota,
}

pub struct PayArgs {
    pub schedules: SchedulesArg,
    /// The daemon's database, for `--source ledger`.
    pub database: std::path::PathBuf,
    pub month: Month,
    pub format: PayFormat,
    pub team: Option<String>,
    pub source: Source,
    pub by: Option<ByArg>,
}

pub fn run(args: PayArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let Some(loaded) = load_clean(&args.schedules, err)? else {
        return Ok(ExitCode::from(1));
    };
    let pay = config::pay::decode(&loaded);
    for d in &pay.diagnostics {
        if d.severity == config::Severity::Error {
            writeln!(err, "{d}")?;
        }
    }
    if pay.has_errors() {
        writeln!(err, "oncall pay: the pay rules have errors; `oncall check` lists them")?;
        return Ok(ExitCode::from(1));
    }
    let Some(rules) = pay.rules else {
        writeln!(
            err,
            "oncall pay: no pay rules in {}: add a pay.yaml (see docs/pay.md)",
            args.schedules.schedules.display()
        )?;
        return Ok(ExitCode::from(1));
    };
    if let Some(code) = unknown_team(&loaded.schedule, args.team.as_deref(), err)? {
        return Ok(code);
    }
    let Some(month) = pay::month_span(rules.payroll_tz, args.month.year, args.month.month) else {
        writeln!(err, "oncall pay: --month is out of range")?;
        return Ok(ExitCode::from(2));
    };
    let (intervals, pages) = match args.source {
        Source::Schedule => (
            pay::schedule_intervals(&loaded.schedule, month, args.team.as_deref()),
            Vec::new(),
        ),
        Source::Ledger => {
            // From well before the month: a shift running into it is known
            // to have started earlier (its fee is not this month's).
            let span = Span::new(month.start - chrono::Duration::days(35), month.end);
            let ledger = match sqlite::read_ledger(&args.database, span) {
                Ok(ledger) => ledger,
                Err(e) => {
                    writeln!(err, "oncall pay: {e}")?;
                    return Ok(ExitCode::from(1));
                }
            };
            from_ledger(&loaded.schedule, rules.payroll_tz, &ledger, args.team.as_deref())
        }
    };
    let by = match args.by {
        Some(ByArg::Rota) => By::Rota,
        None => By::Person,
    };
    let rows = pay::tally(&rules, month, &loaded.schedule.people, &intervals, &pages, by);
    let label = format!("{:04}-{:02}", args.month.year, args.month.month);
    let records: Vec<Map<String, Value>> = rows.iter().map(|r| record(&label, r, by, &rules.currency)).collect();
    match args.format {
        PayFormat::Json => {
            for r in &records {
                writeln!(out, "{}", Value::Object(r.clone()))?;
            }
        }
        PayFormat::Csv => {
            let header = columns(by);
            writeln!(out, "{}", header.join(","))?;
            for r in &records {
                let cells: Vec<String> = header
                    .iter()
                    .map(|c| match &r[*c] {
                        Value::String(s) => csv_cell(s),
                        other => other.to_string(),
                    })
                    .collect();
                writeln!(out, "{}", cells.join(","))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The ledger's rows and pages as the tally takes them. A rota's zone is
/// its team's as configured now (the payroll zone for a team since
/// removed). A page is out of hours when it comes outside Monday to Friday,
/// 09:00 to 17:00, in the person's own zone; it counts as acknowledged by
/// them only if they are the one who acknowledged it.
pub(super) fn from_ledger(
    schedule: &Schedule,
    payroll_tz: Tz,
    ledger: &Ledger,
    team: Option<&str>,
) -> (Vec<Interval>, Vec<Page>) {
    let tz_of = |t: &str| schedule.team(t).map(|t| t.tz).unwrap_or(payroll_tz);
    let intervals = ledger
        .rows
        .iter()
        .filter(|r| team.is_none_or(|t| r.team == t))
        .map(|r| Interval {
            person: r.person.clone(),
            team: r.team.clone(),
            rota: r.rota.clone(),
            tz: tz_of(&r.team),
            span: r.span,
            shadow: r.shadow_of.is_some(),
        })
        .collect();
    let pages = ledger
        .pages
        .iter()
        .map(|p| {
            let tz = schedule
                .people
                .get(&p.person)
                .and_then(|person| person.timezone)
                .unwrap_or(payroll_tz);
            let local = p.at.with_timezone(&tz);
            let minutes = local.hour() * 60 + local.minute();
            let working = local.weekday().num_days_from_monday() < 5 && (9 * 60..17 * 60).contains(&minutes);
            let theirs = p.acknowledged_by.as_deref() == Some(p.person.as_str());
            Page {
                person: p.person.clone(),
                at: p.at,
                severity: p.severity.clone(),
                acknowledged_at: p.acknowledged_at.filter(|_| theirs),
                resolved_at: p.resolved_at,
                out_of_hours: !working,
                team: None,
                rota: None,
            }
        })
        .collect();
    (intervals, pages)
}

/// The columns, in order.
fn columns(by: By) -> Vec<&'static str> {
    let mut c = vec!["month", "person", "name", "team"];
    if by == By::Rota {
        c.push("rota");
    }
    c.extend([
        "hours_total",
        "hours_weekday",
        "hours_weekend",
        "hours_holiday",
        "seconds_total",
        "seconds_weekday",
        "seconds_weekend",
        "seconds_holiday",
        "shifts",
        "pages",
        "pages_out_of_hours",
        "callouts",
        "callout_hours",
        "on_call_pay",
        "shift_fees",
        "callout_pay",
        "cap_deduction",
        "amount",
        "currency",
        // Last, so that readers of the columns by position keep working.
        "hours_shadow",
        "seconds_shadow",
        "shadow_pay",
    ]);
    c
}

fn record(month: &str, r: &Row, by: By, currency: &Currency) -> Map<String, Value> {
    let t = &r.totals;
    let s = &t.seconds;
    let mut m = Map::new();
    m.insert("month".into(), json!(month));
    m.insert("person".into(), json!(r.person));
    m.insert("name".into(), json!(r.name));
    m.insert("team".into(), json!(r.teams.join(",")));
    if by == By::Rota {
        m.insert("rota".into(), json!(r.rota.clone().unwrap_or_default()));
    }
    for (key, seconds) in [
        ("total", s.total),
        ("weekday", s.weekday),
        ("weekend", s.weekend),
        ("holiday", s.holiday),
    ] {
        m.insert(format!("hours_{key}"), json!(format_hours(seconds)));
    }
    for (key, seconds) in [
        ("total", s.total),
        ("weekday", s.weekday),
        ("weekend", s.weekend),
        ("holiday", s.holiday),
    ] {
        m.insert(format!("seconds_{key}"), json!(seconds));
    }
    m.insert("shifts".into(), json!(t.shifts));
    m.insert("pages".into(), json!(t.pages));
    m.insert("pages_out_of_hours".into(), json!(t.pages_out_of_hours));
    m.insert("callouts".into(), json!(t.callouts));
    m.insert("callout_hours".into(), json!(format_hours(t.callout_seconds)));
    m.insert("on_call_pay".into(), json!(currency.format(t.on_call)));
    m.insert("shift_fees".into(), json!(currency.format(t.shift_fees)));
    m.insert("callout_pay".into(), json!(currency.format(t.callout_pay)));
    m.insert("cap_deduction".into(), json!(currency.format(t.cap_deduction)));
    m.insert("amount".into(), json!(currency.format(t.amount())));
    m.insert("currency".into(), json!(currency.code));
    m.insert("hours_shadow".into(), json!(format_hours(t.shadow_seconds)));
    m.insert("seconds_shadow".into(), json!(t.shadow_seconds));
    m.insert("shadow_pay".into(), json!(currency.format(t.shadow_pay)));
    m
}

/// A CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
