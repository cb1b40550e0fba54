//! `oncall diff`: what a change to the rota files does for people, for a
//! merge request's review.
//!
//! Two versions of the rota folder (`--base`: a folder, or a git commit of
//! the repository holding `--head`; `--head`: a folder, by default the one
//! the daemon reads) are loaded as every command loads them, each with its
//! own `pay.yaml`; [`report::build`] compares them within a window and
//! [`render`] prints the result. Exit status: 0 when the change opens no
//! gap in cover, 1 when it does (so CI can ask for a second approval), 2
//! on a usage error or when a version cannot be loaded (its errors are
//! printed as `file:line:col`, after the version's name).

mod git;
mod render;
mod report;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Duration;
use clap::ValueEnum;

use super::{parse_instant, rfc3339};
use crate::config::{self, Loaded, Severity};
use crate::domain::pay::PayRules;
use crate::domain::time::{Instant, Span};
use crate::settings::{Overrides, Settings};

/// How far the comparison looks by default, from `--from`.
pub const DEFAULT_DAYS: i64 = 90;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns, for people.
    Table,
    /// Ready to post as a merge request's comment.
    Markdown,
    /// One JSON document, for scripts (shape in docs/diff.md).
    Json,
}

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The version to compare with: a folder, or a git commit (branch, tag,
    /// origin/main, HEAD~1) of the repository holding --head, read with
    /// `git`. A folder of that name wins.
    #[arg(long, value_name = "REF|DIR")]
    pub base: String,
    /// The changed version, a folder. Default: the daemon's (`schedules` in
    /// --config, else ./schedules).
    #[arg(long, value_name = "DIR", env = "ONCALL_SCHEDULES")]
    pub head: Option<PathBuf>,
    /// RFC 3339, e.g. 2026-12-01T00:00:00Z. Default: now.
    #[arg(long, value_parser = parse_instant)]
    pub from: Option<Instant>,
    /// RFC 3339. Default: 90 days after --from.
    #[arg(long, value_parser = parse_instant)]
    pub to: Option<Instant>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The daemon's oncall.toml: its severities and how hard each pages
    /// (who can be reached), and its `schedules` folder.
    #[arg(long, env = "ONCALL_CONFIG")]
    pub config: Option<PathBuf>,
}

/// A version loaded without errors, with its pay rules.
struct Ready {
    label: String,
    loaded: Loaded,
    pay: Option<PayRules>,
}

impl Ready {
    fn version(&self) -> report::Version<'_> {
        report::Version {
            label: self.label.clone(),
            loaded: &self.loaded,
            pay: self.pay.as_ref(),
        }
    }
}

pub fn run(args: DiffArgs, now: Instant, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let from = args.from.unwrap_or(now);
    let to = args.to.unwrap_or(from + Duration::days(DEFAULT_DAYS));
    if to <= from {
        writeln!(
            err,
            "oncall diff: --to ({}) must be after --from ({})",
            rfc3339(to),
            rfc3339(from)
        )?;
        return Ok(ExitCode::from(2));
    }
    let overrides = Overrides {
        schedules: args.head.clone(),
        ..Overrides::default()
    };
    let settings = match Settings::load(args.config.as_deref(), overrides) {
        Ok(s) => s,
        Err(e) => {
            writeln!(err, "oncall diff: {e}")?;
            return Ok(ExitCode::from(2));
        }
    };
    let head_dir = settings.schedules.clone();
    let base = if Path::new(&args.base).is_dir() {
        load_folder("base", Path::new(&args.base), err)?
    } else {
        match git::read_folder(&head_dir, &args.base) {
            Ok((label, sources)) => checked("base", label, config::load_sources(&sources), err)?,
            Err(e) => {
                writeln!(err, "oncall diff: --base: {e}")?;
                return Ok(ExitCode::from(2));
            }
        }
    };
    let head = load_folder("head", &head_dir, err)?;
    let (Some(base), Some(head)) = (base, head) else {
        return Ok(ExitCode::from(2));
    };
    let paging = report::Paging {
        severities: &settings.severities,
        intensities: &settings.intensities,
    };
    let report = report::build(&base.version(), &head.version(), &paging, Span::new(from, to));
    let text = match args.format {
        Format::Table => render::table(&report),
        Format::Markdown => render::markdown(&report),
        Format::Json => render::json(&report),
    };
    out.write_all(text.as_bytes())?;
    Ok(if report.gap_introduced() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The folder `dir` as version `side`, or `None` after saying why not.
fn load_folder(side: &str, dir: &Path, err: &mut dyn Write) -> anyhow::Result<Option<Ready>> {
    match config::load_dir(dir) {
        Ok(loaded) => checked(side, dir.display().to_string(), loaded, err),
        Err(e) => {
            writeln!(err, "oncall diff: {side}: {:#}", anyhow::Error::from(e))?;
            Ok(None)
        }
    }
}

/// `loaded` with its pay rules, or `None` after printing its errors (the
/// rota files', then pay.yaml's), each after the version's name.
fn checked(side: &str, label: String, loaded: Loaded, err: &mut dyn Write) -> anyhow::Result<Option<Ready>> {
    let pay = config::pay::decode(&loaded);
    let errors: Vec<_> = loaded
        .errors()
        .chain(pay.diagnostics.iter().filter(|d| d.severity == Severity::Error))
        .collect();
    if errors.is_empty() {
        return Ok(Some(Ready {
            label,
            loaded,
            pay: pay.rules,
        }));
    }
    for d in &errors {
        writeln!(err, "{side}: {d}")?;
    }
    writeln!(
        err,
        "oncall diff: the {side} version ({label}) has {} error(s); `oncall check` lists them",
        errors.len()
    )?;
    Ok(None)
}
