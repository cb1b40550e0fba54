//! The monthly pay export: [`crate::domain::pay::tally`]'s rows as CSV or
//! JSON lines, for `oncall pay` and for the daemon, which writes last
//! month's export early on the 1st ([`PayExport`]).
//!
//! The export is the same either way: the daemon's file for a month is what
//! `oncall pay --month M --source ledger` prints with the rota files and
//! `pay.yaml` as they are when it runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use clap::ValueEnum;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::clock::Clock;
use crate::config;
use crate::domain::pay::{self, By, Currency, Interval, Month, Page, PayRules, Row, format_hours};
use crate::domain::schedule::Schedule;
use crate::domain::time::{Instant, Span};
use crate::engine::ledger::Ledger;
use crate::notify::SendError;
use crate::notify::email::{EmailChannel, Report};
use crate::store::Store;

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated, with a header row.
    #[default]
    Csv,
    /// One JSON object a line.
    Json,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "jsonl",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/jsonl; charset=utf-8",
        }
    }
}

/// Where the intervals of the month come from.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// The rotas, overrides applied (no pages).
    Schedule,
    /// What the daemon recorded, from before the month starts (so a shift
    /// running into it is known to have started earlier).
    Ledger(&'a Ledger),
}

/// One export: a month, one team or all, a row per person or per rota.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub month: Month,
    pub format: Format,
    pub team: Option<&'a str>,
    pub by: By,
}

/// The export as text; `None` when the month cannot be placed in time.
pub fn render(schedule: &Schedule, rules: &PayRules, request: &Request<'_>, input: Input<'_>) -> Option<String> {
    let month = request.month.span(rules.payroll_tz)?;
    let (intervals, pages) = match input {
        Input::Schedule => (pay::schedule_intervals(schedule, month, request.team), Vec::new()),
        Input::Ledger(ledger) => from_ledger(schedule, rules, ledger, request.team),
    };
    let rows = pay::tally(rules, month, &schedule.people, &intervals, &pages, request.by);
    let label = request.month.label();
    let records = rows.iter().map(|r| record(&label, r, request.by, &rules.currency));
    let mut out = String::new();
    match request.format {
        Format::Json => {
            for r in records {
                out.push_str(&Value::Object(r).to_string());
                out.push('\n');
            }
        }
        Format::Csv => {
            let header = columns(request.by);
            // Written into memory, with `\n` ending each record (the
            // export's line ending since it was first written) and fields
            // quoted only where RFC 4180 needs it (a comma, a quote or a
            // line break), so that plain exports read as before.
            let mut csv = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .quote_style(csv::QuoteStyle::Necessary)
                .from_writer(Vec::new());
            let mut written = csv.write_record(&header);
            for r in records {
                written = written.and_then(|()| {
                    csv.write_record(header.iter().map(|c| match &r[*c] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }))
                });
            }
            // Into a Vec, with every record as long as the header: the
            // csv crate has nothing to refuse.
            written.expect("CSV into memory, records as long as the header");
            let bytes = csv.into_inner().expect("a Vec takes every write");
            out = String::from_utf8(bytes).expect("the csv crate writes our UTF-8 through unchanged");
        }
    }
    Some(out)
}

/// Ledger reads start this long before the month: a shift running into it
/// is then known to have started earlier (its fee is not this month's).
pub const LEDGER_LOOKBACK: Duration = Duration::days(35);

/// The ledger's rows and pages as the tally takes them. A rota's zone is
/// its team's as configured now (the payroll zone for a team since
/// removed). A page is out of hours when it comes outside `working_hours`
/// in the person's own zone (the payroll zone if people.yaml gives none);
/// it counts as acknowledged by them only if they are the one who
/// acknowledged it.
pub fn from_ledger(
    schedule: &Schedule,
    rules: &PayRules,
    ledger: &Ledger,
    team: Option<&str>,
) -> (Vec<Interval>, Vec<Page>) {
    let tz_of = |t: &str| schedule.team(t).map(|t| t.tz).unwrap_or(rules.payroll_tz);
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
                .unwrap_or(rules.payroll_tz);
            let theirs = p.acknowledged_by.as_deref() == Some(p.person.as_str());
            Page {
                person: p.person.clone(),
                at: p.at,
                severity: p.severity.clone(),
                acknowledged_at: p.acknowledged_at.filter(|_| theirs),
                resolved_at: p.resolved_at,
                out_of_hours: rules.out_of_hours(tz, p.at),
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
    let kinds = [
        ("total", s.total),
        ("weekday", s.weekday),
        ("weekend", s.weekend),
        ("holiday", s.holiday),
    ];
    for (key, seconds) in kinds {
        m.insert(format!("hours_{key}"), json!(format_hours(seconds)));
    }
    for (key, seconds) in kinds {
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

/// The automatic export's settings (`[pay_export]` in oncall.toml).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSettings {
    pub enabled: bool,
    /// Where the files go.
    pub directory: PathBuf,
    /// Who gets them by email (needs `[email]`); empty: nobody.
    pub email: Vec<String>,
    /// The time on the 1st, in minutes after midnight in the payroll zone.
    pub at: u32,
    pub format: Format,
}

/// The store mark holding the last month exported ([`Month::index`]).
pub const CURSOR: &str = "pay_export";

/// What one look at the clock did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No pay rules (no `pay.yaml`): nothing to export.
    NoRules,
    /// Nothing due before `next`.
    Idle { next: Instant },
    /// `month` is due, but the ledger is recorded only up to `recorded`:
    /// the engine catches up first.
    Waiting { month: Month, recorded: Option<Instant> },
    /// Wrote `month`'s files (and emailed them, if asked).
    Wrote { month: Month, files: Vec<PathBuf> },
}

/// Why an export failed; it is tried again later.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExportError(String);

/// The daemon's monthly export: early on the 1st (at `at` in the payroll
/// zone), last month's pay export from the ledger, per person and per rota,
/// written to `directory` and optionally emailed. The last month done is a
/// mark in the store, so each month is written once, across restarts; one
/// missed while the daemon was down is written when it comes back. A crash
/// after the email but before the mark is set sends it again (at least
/// once).
pub struct PayExport {
    store: Arc<dyn Store>,
    schedules: PathBuf,
    settings: ExportSettings,
    email: Option<Arc<EmailChannel>>,
}

/// How long to wait before looking again, at most: the clock may jump.
const MAX_PAUSE: StdDuration = StdDuration::from_secs(3600);
/// After a failure (an SMTP server down, a rota file with errors).
const RETRY: StdDuration = StdDuration::from_secs(300);
/// While the engine catches up with the ledger.
const CATCH_UP: StdDuration = StdDuration::from_secs(30);

impl PayExport {
    pub fn new(
        store: Arc<dyn Store>,
        schedules: PathBuf,
        settings: ExportSettings,
        email: Option<Arc<EmailChannel>>,
    ) -> PayExport {
        PayExport {
            store,
            schedules,
            settings,
            email,
        }
    }

    /// Writes the month due at `now`, if one is. The rota files and
    /// `pay.yaml` are read as they are now (like `oncall pay`).
    pub async fn run_once(&self, now: Instant) -> Result<Outcome, ExportError> {
        let dir = self.schedules.clone();
        let loaded = tokio::task::spawn_blocking(move || config::load_dir(&dir))
            .await
            .map_err(|e| ExportError(e.to_string()))?
            .map_err(|e| ExportError(format!("reading {}: {e}", self.schedules.display())))?;
        if loaded.has_errors() {
            let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
            return Err(ExportError(format!(
                "the rota files have errors:\n{}",
                errors.join("\n")
            )));
        }
        let decoded = config::pay::decode(&loaded);
        if decoded.has_errors() {
            let errors: Vec<String> = decoded
                .diagnostics
                .iter()
                .filter(|d| d.severity == config::Severity::Error)
                .map(|d| d.to_string())
                .collect();
            return Err(ExportError(format!(
                "the pay rules have errors:\n{}",
                errors.join("\n")
            )));
        }
        let Some(rules) = decoded.rules else {
            return Ok(Outcome::NoRules);
        };
        let tz = rules.payroll_tz;
        let done = match self.store.cursor(CURSOR).await.map_err(store_error)? {
            Some(index) => Month::from_index(index).ok_or_else(|| ExportError(format!("bad {CURSOR} mark {index}")))?,
            None => {
                // The first start: the month before this one is not the
                // daemon's to export (it recorded none of it).
                let before = Month::of(tz, now).previous();
                self.store
                    .set_cursor(CURSOR, before.index())
                    .await
                    .map_err(store_error)?;
                before
            }
        };
        let Some(month) = pay::export_to_write(tz, self.settings.at, done, now) else {
            let next = pay::export_due(tz, self.settings.at, done.next())
                .ok_or_else(|| ExportError("the next export is out of range".into()))?;
            return Ok(Outcome::Idle { next });
        };
        let span = month
            .span(tz)
            .ok_or_else(|| ExportError(format!("{} is out of range", month.label())))?;
        let ledger = self
            .store
            .ledger(Span::new(span.start - LEDGER_LOOKBACK, span.end))
            .await
            .map_err(store_error)?;
        if ledger.recorded_until.is_none_or(|until| until < span.end) {
            return Ok(Outcome::Waiting {
                month,
                recorded: ledger.recorded_until,
            });
        }
        let format = self.settings.format;
        let mut files = Vec::new();
        let mut attachments = Vec::new();
        for (by, suffix) in [(By::Person, ""), (By::Rota, "-by-rota")] {
            let request = Request {
                month,
                format,
                team: None,
                by,
            };
            let body = render(&loaded.schedule, &rules, &request, Input::Ledger(&ledger))
                .ok_or_else(|| ExportError(format!("{} is out of range", month.label())))?;
            let name = format!("pay-{}{suffix}.{}", month.label(), format.extension());
            let path = self.settings.directory.join(&name);
            let (p, b) = (path.clone(), body.clone().into_bytes());
            tokio::task::spawn_blocking(move || write_atomically(&p, &b))
                .await
                .map_err(|e| ExportError(e.to_string()))?
                .map_err(|e| ExportError(format!("writing {}: {e}", path.display())))?;
            tracing::info!(month = %month.label(), file = %path.display(), "pay export written");
            files.push(path);
            attachments.push((name, body));
        }
        if !self.settings.email.is_empty() {
            self.mail(month, attachments).await?;
        }
        self.store
            .set_cursor(CURSOR, month.index())
            .await
            .map_err(store_error)?;
        Ok(Outcome::Wrote { month, files })
    }

    /// Emails the export, one message per file. A refusal that another try
    /// will meet again is logged, and the month counts as done (the files
    /// are on disk); anything else is tried again later.
    async fn mail(&self, month: Month, attachments: Vec<(String, String)>) -> Result<(), ExportError> {
        let Some(email) = &self.email else {
            return Err(ExportError("pay_export.email needs an [email] section".into()));
        };
        for (name, body) in attachments {
            let report = Report {
                id: format!("pay.{}.{name}", month.label()),
                subject: format!("On-call pay export for {}: {name}", month.label()),
                text: format!(
                    "The on-call pay export for {} is attached ({name}), from oncall's ledger.\n\
                     docs/pay.md explains every column.\n",
                    month.label()
                ),
                filename: name.clone(),
                content_type: self.settings.format.content_type(),
                body: body.into_bytes(),
            };
            match email.send_report(&self.settings.email, report).await {
                Ok(_) => {
                    tracing::info!(month = %month.label(), file = %name, to = self.settings.email.len(), "pay export emailed")
                }
                Err(SendError::Permanent(e)) => {
                    tracing::error!(month = %month.label(), file = %name, error = %e, "cannot email the pay export; it is in the export directory")
                }
                Err(e @ (SendError::Retryable(_) | SendError::RetryAfter(..))) => {
                    return Err(ExportError(format!("emailing {name}: {}", e.message())));
                }
            }
        }
        Ok(())
    }

    /// Runs [`PayExport::run_once`] whenever something may be due and
    /// `leading` says so (the daemon's leadership gate, `jobs::Leadership`),
    /// until the task is aborted.
    pub async fn run(self: Arc<Self>, clock: Arc<dyn Clock>, leading: impl Fn() -> bool) {
        if !self.settings.enabled {
            return;
        }
        // What was last said in the log, so it is said once.
        let mut said: Option<Outcome> = None;
        loop {
            if !leading() {
                // Another daemon on a shared database leads: it exports.
                tokio::time::sleep(FOLLOWER_PAUSE).await;
                continue;
            }
            let now = clock.now();
            let outcome = self.run_once(now).await;
            if let Ok(o @ (Outcome::Idle { .. } | Outcome::NoRules)) = &outcome
                && said.as_ref() != Some(o)
            {
                match o {
                    Outcome::Idle { next } => tracing::info!(
                        next = %next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        directory = %self.settings.directory.display(),
                        emailed_to = self.settings.email.len(),
                        "next monthly pay export"
                    ),
                    _ => tracing::info!("no pay.yaml in the schedules folder: no monthly pay export"),
                }
                said = Some(o.clone());
            }
            let pause = match outcome {
                Ok(Outcome::Wrote { .. }) => StdDuration::ZERO,
                Ok(Outcome::Idle { next }) => (next - now).to_std().unwrap_or(StdDuration::ZERO),
                Ok(Outcome::Waiting { .. }) => CATCH_UP,
                Ok(Outcome::NoRules) => MAX_PAUSE,
                Err(e) => {
                    tracing::error!(error = %e, "pay export failed; trying again in 5 minutes");
                    RETRY
                }
            };
            tokio::time::sleep(pause.min(MAX_PAUSE)).await;
        }
    }
}

/// How often a daemon that does not lead checks whether it has taken over
/// the export.
const FOLLOWER_PAUSE: StdDuration = StdDuration::from_secs(5);

fn store_error(e: crate::store::StoreError) -> ExportError {
    ExportError(e.to_string())
}

/// Writes `body` to `path` whole or not at all: a temporary file in the same
/// folder, synced, then renamed over `path`.
fn write_atomically(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("export");
    let temporary = dir.join(format!(".{name}.partial"));
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(body)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    // The rename itself, durably.
    std::fs::File::open(dir)?.sync_all()
}
