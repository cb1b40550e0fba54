//! `oncall pay`: the month's pay export, as CSV or JSON lines.
//!
//! The command reads the rota files and `pay.yaml`, takes the month's on-call
//! intervals from a source (the rotas, or the daemon's ledger), and prints
//! the export ([`crate::payroll::render`], which the daemon's monthly export
//! uses too).

use std::io::Write;
use std::process::ExitCode;

use clap::ValueEnum;

use super::{SchedulesArg, load_clean, unknown_team};
use crate::config;
use crate::domain::pay::{By, Month};
use crate::domain::time::Span;
use crate::payroll;

/// A month as written on the command line: `2026-03`.
pub fn parse_month(s: &str) -> Result<Month, String> {
    Month::parse(s)
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
    pub database: crate::store::Database,
    pub month: Month,
    pub format: payroll::Format,
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
    let Some(span) = args.month.span(rules.payroll_tz) else {
        writeln!(err, "oncall pay: --month is out of range")?;
        return Ok(ExitCode::from(2));
    };
    let ledger = match args.source {
        Source::Schedule => None,
        Source::Ledger => {
            let lookback = Span::new(span.start - payroll::LEDGER_LOOKBACK, span.end);
            match crate::store::read_ledger(&args.database, lookback) {
                Ok(ledger) => Some(ledger),
                Err(e) => {
                    writeln!(err, "oncall pay: {e}")?;
                    return Ok(ExitCode::from(1));
                }
            }
        }
    };
    if let Some(ledger) = &ledger {
        match ledger.recorded_until {
            Some(until) if until >= span.end => {}
            Some(until) => writeln!(
                err,
                "oncall pay: the ledger is recorded up to {} only: {} is not over (or the daemon has not caught up), so later hours are missing",
                until.format("%Y-%m-%dT%H:%M:%SZ"),
                args.month.label()
            )?,
            None => writeln!(
                err,
                "oncall pay: the ledger is empty: the daemon has recorded nothing yet"
            )?,
        }
        if let Some(from) = ledger.recorded_from
            && from > span.start
        {
            writeln!(
                err,
                "oncall pay: the ledger begins at {}: the daemon recorded nothing of {} before that",
                from.format("%Y-%m-%dT%H:%M:%SZ"),
                args.month.label()
            )?;
        }
    }
    let request = payroll::Request {
        month: args.month,
        format: args.format,
        team: args.team.as_deref(),
        by: match args.by {
            Some(ByArg::Rota) => By::Rota,
            None => By::Person,
        },
    };
    let input = match &ledger {
        Some(ledger) => payroll::Input::Ledger(ledger),
        None => payroll::Input::Schedule,
    };
    let Some(text) = payroll::render(&loaded.schedule, &rules, &request, input) else {
        writeln!(err, "oncall pay: --month is out of range")?;
        return Ok(ExitCode::from(2));
    };
    out.write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
