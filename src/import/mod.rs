//! `oncall import`: rota files from another on-call tool's REST API (or its
//! answers saved as JSON files), and `--verify`, the proof that they put the
//! same people on call as the tool does.
//!
//! The shape of every import is the same, whatever the source:
//! 1. the source ([`Source`]) reads the tool's objects through a
//!    [`fetch::Fetcher`] and maps them into a [`plan::Plan`]: people, teams,
//!    rotas and their layers, active windows, overrides, escalation steps,
//!    and every [`plan::Approximation`] it had to make;
//! 2. with `--verify`, the source also reads the tool's own final on-call
//!    for the window, as shifts in our names;
//! 3. [`mod@write`] renders the plan as files into a folder beside `--out`,
//!    which is loaded as `oncall check` loads a folder (an error there is
//!    the importer's bug, and nothing is written);
//! 4. the folder replaces `--out` by a rename; the approximations go to
//!    stderr (they are in `IMPORT.md` too);
//! 5. [`verify`] expands the written files as `oncall shifts` does and
//!    compares them with the tool's shifts ([`crate::domain::compare`]).
//!
//! Nothing is written when anything before step 4 fails. Sources register
//! in one place, [`SourceCmd`] and `SourceCmd::open`: a new source is a
//! variant with its own flags and a line there.

pub mod fetch;
pub mod grafana_oncall;
pub mod opsgenie;
pub mod pagerduty;
pub mod plan;
pub mod verify;
pub mod write;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Duration;

use crate::domain::compare::Shift;
use crate::domain::time::{Instant, Span};
use fetch::{Fetcher, ImportError};
use plan::Plan;

/// What every source needs from the command line beside its own flags.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// The folder to write: people.yaml, a file per team, IMPORT.md. Refused
    /// if it exists and is not empty, unless --force.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace --out even if it holds files.
    #[arg(long)]
    pub force: bool,
    /// Read the source's answers from JSON files saved in DIR instead of its
    /// API (file names in docs/import.md).
    #[arg(long, value_name = "DIR")]
    pub from_dir: Option<PathBuf>,
    /// A file of `SOURCE_ID: team-name` lines naming the team a source team
    /// or schedule goes to (a schedule's line wins over its team's).
    #[arg(long, value_name = "FILE")]
    pub team_map: Option<PathBuf>,
    /// Also fetch the source's final on-call for this long (e.g. 90d) and
    /// compare it with the written files; exit 1 on any difference.
    #[arg(long, value_name = "DURATION")]
    pub verify: Option<String>,
    /// When the import looks from: overrides ending before it are left out,
    /// and --verify starts there. RFC 3339. Default: now.
    #[arg(long, value_parser = parse_instant)]
    pub from: Option<Instant>,
}

fn parse_instant(s: &str) -> Result<Instant, String> {
    fetch::parse_time(s).ok_or_else(|| format!("`{s}` is not an RFC 3339 time; write it like 2027-02-01T00:00:00Z"))
}

/// The sources, each with its own flags. To add one: a variant here, a
/// line in `SourceCmd::open`, and a module implementing [`Source`].
#[derive(clap::Subcommand, Debug)]
pub enum SourceCmd {
    /// From PagerDuty's REST API v2: users, teams, schedules with their
    /// layers, restrictions and overrides, escalation policies.
    Pagerduty(pagerduty::Args),
    /// From Opsgenie's REST API v2 (US or EU instance): users, teams,
    /// schedules with their rotations, restrictions and overrides,
    /// escalations.
    Opsgenie(opsgenie::Args),
    /// From Grafana OnCall's HTTP API v1: users, teams, schedules with their
    /// on-call shifts and overrides, escalation chains.
    GrafanaOncall(grafana_oncall::Args),
}

impl SourceCmd {
    fn open(self) -> Result<(Box<dyn Source>, CommonArgs), ImportError> {
        match self {
            SourceCmd::Pagerduty(args) => {
                let common = args.common.clone();
                Ok((Box::new(pagerduty::PagerDuty::new(args)), common))
            }
            SourceCmd::Opsgenie(args) => {
                let common = args.common.clone();
                Ok((Box::new(opsgenie::Opsgenie::new(args)), common))
            }
            SourceCmd::GrafanaOncall(args) => {
                let common = args.common.clone();
                Ok((Box::new(grafana_oncall::GrafanaOnCall::new(args)), common))
            }
        }
    }
}

/// What a source is told besides its own flags.
pub struct Context {
    /// Overrides that end before it are left out.
    pub from: Instant,
    /// The window of `--verify`, when given: the source reads its rendered
    /// on-call for it.
    pub verify: Option<Span>,
    /// Source team or schedule id → our team name.
    pub team_map: BTreeMap<String, String>,
}

/// One tool that `oncall import` reads.
pub trait Source {
    /// The tool's name, as people know it ("PagerDuty").
    fn name(&self) -> &'static str;
    /// A client of the tool's API: its base URL, its authentication header
    /// from the environment variable named on the command line.
    fn connect(&self) -> Result<Fetcher, ImportError>;
    /// Reads the tool's objects and maps them.
    fn plan(&mut self, fetch: &mut Fetcher, cx: &Context) -> Result<Plan, ImportError>;
    /// The tool's own final on-call of each rota of `plan` within `window`,
    /// in our team, rota and person names (a person the plan does not have
    /// keeps a name that says where it came from, so it shows as a
    /// difference).
    fn rendered(&mut self, fetch: &mut Fetcher, plan: &Plan, window: Span) -> Result<Vec<Shift>, ImportError>;
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: SourceCmd,
}

/// Reads `--team-map`: `SOURCE_ID: team-name` a line, `#` comments.
pub fn read_team_map(path: &Path) -> Result<BTreeMap<String, String>, ImportError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ImportError::new(format!("--team-map {}: {e}", path.display())))?;
    let mut map = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let Some((id, team)) = line.split_once(':') else {
            return Err(ImportError::new(format!(
                "{}:{}: write `SOURCE_ID: team-name`",
                path.display(),
                n + 1
            )));
        };
        let (id, team) = (id.trim(), team.trim().trim_matches('"'));
        if team.is_empty() || !team.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(ImportError::new(format!(
                "{}:{}: `{team}` is not a team name (letters, digits, -, _ and .)",
                path.display(),
                n + 1
            )));
        }
        map.insert(id.to_string(), team.to_string());
    }
    Ok(map)
}

/// `oncall import SOURCE ...`.
pub fn run(args: ImportArgs, now: Instant, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let (mut source, common) = match args.source.open() {
        Ok(x) => x,
        Err(e) => {
            writeln!(err, "oncall import: {e}")?;
            return Ok(ExitCode::from(2));
        }
    };
    let from = common.from.unwrap_or(now);
    let verify = match &common.verify {
        None => None,
        Some(text) => match crate::config::text::parse_duration(text) {
            Ok(d) if d > Duration::zero() => Some(Span::new(from, from + d)),
            _ => {
                writeln!(err, "oncall import: --verify `{text}` is not a duration like 90d")?;
                return Ok(ExitCode::from(2));
            }
        },
    };
    match import(source.as_mut(), &common, from, verify, out, err) {
        Ok(code) => Ok(code),
        Err(e) => {
            writeln!(err, "oncall import: {e}")?;
            writeln!(err, "oncall import: nothing was written to {}", common.out.display())?;
            Ok(ExitCode::from(1))
        }
    }
}

fn import(
    source: &mut dyn Source,
    common: &CommonArgs,
    from: Instant,
    verify: Option<Span>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, ImportError> {
    let io = |e: std::io::Error| ImportError::new(e.to_string());
    write::check_out(&common.out, common.force)?;
    let team_map = match &common.team_map {
        Some(path) => read_team_map(path)?,
        None => BTreeMap::new(),
    };
    let mut fetch = match &common.from_dir {
        Some(dir) => Fetcher::Dir(dir.clone()),
        None => source.connect()?,
    };
    let cx = Context { from, verify, team_map };
    let mut plan = source.plan(&mut fetch, &cx)?;
    plan.sort();
    let rendered = match verify {
        Some(window) => Some(source.rendered(&mut fetch, &plan, window)?),
        None => None,
    };
    let files = write::render(&plan);
    let staged = write::stage(&common.out, &files)?;
    // The written files, read back as every command reads them: an error
    // here is a bug of the importer, and nothing is put in place.
    let loaded = crate::config::load_dir(&staged.dir).map_err(|e| ImportError::new(e.to_string()))?;
    if loaded.has_errors() {
        let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
        return Err(ImportError::new(format!(
            "the files written are not valid rota files (a bug of oncall import; please report it):\n{}",
            errors.join("\n")
        )));
    }
    write::put_in_place(staged)?;
    for line in write::approximation_lines(&plan) {
        writeln!(err, "approximated: {line}").map_err(io)?;
    }
    let rotas: usize = plan.teams.iter().map(|t| t.rotas.len()).sum();
    writeln!(
        out,
        "imported from {}: {} people, {} team(s), {} rota(s), {} approximation(s) (IMPORT.md) into {}",
        plan.source,
        plan.people.len(),
        plan.teams.len(),
        rotas,
        plan.approximations.len(),
        common.out.display()
    )
    .map_err(io)?;
    let (Some(window), Some(rendered)) = (verify, rendered) else {
        return Ok(ExitCode::SUCCESS);
    };
    let report = verify::verify(&plan, &loaded.schedule, rendered, window);
    verify::print(&report, &plan, &loaded.schedule, out).map_err(io)?;
    Ok(if report.differences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_maps_read_and_refused() {
        let dir = std::env::temp_dir().join(format!("oncall-team-map-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("map");
        std::fs::write(&file, "# teams\nPT01: platform\nPS07: \"infra\"  # the 25h one\n\n").unwrap();
        let map = read_team_map(&file).unwrap();
        assert_eq!(map.get("PT01").map(String::as_str), Some("platform"));
        assert_eq!(map.get("PS07").map(String::as_str), Some("infra"));
        std::fs::write(&file, "PT01: two words\n").unwrap();
        let e = read_team_map(&file).unwrap_err();
        assert!(
            e.0.ends_with("map:1: `two words` is not a team name (letters, digits, -, _ and .)"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
