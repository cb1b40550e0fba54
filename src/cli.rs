//! The command line: `check`, `who`, `shifts`, `pay`, `diff` and the rest.
//! Parses arguments, loads the rota files, asks the domain, prints. Exit
//! codes: 0 ok, 1 failure (including rota files with errors), 2 usage;
//! `diff` says 1 for a gap introduced and 2 for rota files with errors.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::{self, Loaded, Refusal, Severity};
use crate::domain::schedule::Schedule;
use crate::domain::time::{Instant, Rfc3339, Span};
use crate::settings::{Overrides, Settings};
use crate::store::Database;

pub mod burden;
mod diff;
mod overrides;
mod pay;
mod people;

/// How far `check` looks ahead for gaps.
const CHECK_HORIZON_DAYS: i64 = 90;
/// How far `who` looks either side of the instant for the edges of a shift.
const WHO_LOOK_AROUND_DAYS: i64 = 90;

#[derive(Parser, Debug)]
#[command(
    name = "oncall",
    version,
    about = "On-call rotas, paging and pay-hours, from YAML files in schedules/"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args, Debug, Clone)]
pub struct SchedulesArg {
    /// The folder of rota files.
    #[arg(long, env = "ONCALL_SCHEDULES", default_value = "schedules")]
    pub schedules: PathBuf,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns, for people.
    Table,
    /// One JSON object a line, for scripts.
    Json,
}

#[derive(Subcommand, Debug)]
pub enum WebpushAction {
    /// A new VAPID key pair: the private key for `[webpush]`, and its public
    /// key (browsers subscribe with it).
    Keygen,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: take alerts in over HTTP, keep them in the database.
    /// Stops cleanly on SIGTERM or SIGINT.
    Serve {
        /// oncall.toml (optional: without it, the embedded defaults).
        #[arg(long, env = "ONCALL_CONFIG")]
        config: Option<PathBuf>,
        /// Address to listen on. Default 127.0.0.1:8080.
        #[arg(long, env = "ONCALL_LISTEN")]
        listen: Option<String>,
        /// The folder of rota files. Default ./schedules.
        #[arg(long, env = "ONCALL_SCHEDULES")]
        schedules: Option<PathBuf>,
        /// The SQLite database file, or a PostgreSQL server's
        /// postgres://USER@HOST/DB URL (several daemons). Default ./oncall.db.
        #[arg(long, env = "ONCALL_DATABASE")]
        database: Option<PathBuf>,
        /// Where people and providers reach the daemon, e.g.
        /// https://oncall.example.com: the base of the acknowledge links in
        /// pages and of the inbound SMS webhook. Default: none (no links).
        // The help text shows the URL as written (clap prints the comment).
        #[allow(rustdoc::bare_urls)]
        #[arg(long, env = "ONCALL_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Copy the daemon's database to a new file, safely while it runs (a
    /// consistent snapshot of the last commit, checked before it is
    /// reported). See docs/operations.md for restoring.
    Backup {
        /// The daemon's SQLite file.
        #[arg(long, env = "ONCALL_DATABASE", default_value = "oncall.db")]
        database: PathBuf,
        /// The backup file to create (it must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Copy a SQLite database into a new PostgreSQL database (moving to
    /// several daemons): every table, ids kept, in one transaction that
    /// commits only if each table's row count matches. Stop the daemon
    /// first. See docs/postgres.md.
    MigrateStore {
        /// The SQLite database: `sqlite:PATH` (or just the path).
        #[arg(long)]
        from: String,
        /// The PostgreSQL database: postgres://USER@HOST/DB (it must be
        /// empty; it is migrated first).
        #[arg(long)]
        to: String,
    },
    /// Overrides at run time, through the running daemon: add, list, rm,
    /// export (docs/http.md). Needs ONCALL_API_TOKEN.
    Override {
        #[command(subcommand)]
        action: overrides::Action,
        /// The running daemon.
        #[arg(long, global = true, env = "ONCALL_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
    },
    /// Per-person API tokens, in the daemon's database beside it: create
    /// (printed once; stored hashed), list, revoke (refused at once). A
    /// person's token acts as that person (docs/http.md).
    Token {
        #[command(subcommand)]
        action: people::Action,
        #[command(flatten)]
        daemon: people::DaemonArgs,
    },
    /// Web Push: `keygen` prints a new VAPID key pair for `[webpush]` in
    /// oncall.toml (docs/notifications.md).
    Webpush {
        #[command(subcommand)]
        action: WebpushAction,
    },
    /// A person's sign-in link for the web interface (docs/web.md), made
    /// with the daemon's link secret and public URL.
    Link {
        person: String,
        /// Where people reach the daemon (else public_url / ONCALL_PUBLIC_URL).
        #[arg(long)]
        public_url: Option<String>,
        #[command(flatten)]
        daemon: people::DaemonArgs,
    },
    /// Practise: a test page for a team through the running daemon, marked as
    /// a drill; reports who was reached, how, how fast, and who acknowledged,
    /// then resolves it. Exit 0 when someone acknowledged in time.
    Drill {
        /// The team to page.
        #[arg(long)]
        team: String,
        /// The severity (default: the highest, so every method is tried).
        #[arg(long)]
        severity: Option<String>,
        /// The running daemon.
        #[arg(long, env = "ONCALL_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// How long to wait for an acknowledgement, e.g. 5m.
        #[arg(long, default_value = "5m")]
        wait: String,
    },
    /// Prove a person's contact methods: a test page (not an alert) through
    /// the running daemon to each of their methods (or --method), then, per
    /// method, when it was sent, delivered and confirmed by the person.
    /// Exit 0 when every method was confirmed in time. Needs
    /// ONCALL_API_TOKEN: the API token, or that person's own token.
    TestPage {
        /// The person's id in people.yaml.
        person: String,
        /// Only this method: email, sms, push, webhook, voice.
        #[arg(long)]
        method: Option<String>,
        /// The running daemon.
        #[arg(long, env = "ONCALL_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// How long to wait for the confirmations, e.g. 5m.
        #[arg(long, default_value = "5m")]
        wait: String,
    },
    /// Validate every rota file as `oncall serve` takes them: errors (all
    /// that serve refuses) as file:line:col, warnings for gaps in the next 90
    /// days and people nobody can reach. Exit 1 on any error.
    Check {
        /// The folder of rota files. Default: the config's `schedules`, else
        /// ./schedules (as `oncall serve`).
        #[arg(long, env = "ONCALL_SCHEDULES")]
        schedules: Option<PathBuf>,
        /// The daemon's oncall.toml, for its severities, paging settings and
        /// folder, read as `oncall serve` reads it.
        #[arg(long, env = "ONCALL_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Who is on call now (or at --at), per team and rota.
    Who {
        #[command(flatten)]
        schedules: SchedulesArg,
        /// RFC 3339 time, e.g. 2026-12-25T03:00:00Z. Default: now.
        #[arg(long, value_parser = parse_instant)]
        at: Option<Instant>,
        /// Only this team.
        #[arg(long)]
        team: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// The daemon's database, for the overrides made at run time (read
        /// beside the running daemon; none if the file does not exist).
        #[arg(long, env = "ONCALL_DATABASE", default_value = "oncall.db")]
        database: PathBuf,
    },
    /// The shifts between --from and --to, contiguous shifts of one person merged.
    Shifts {
        #[command(flatten)]
        schedules: SchedulesArg,
        /// RFC 3339 time, e.g. 2026-12-01T00:00:00Z.
        #[arg(long, value_parser = parse_instant)]
        from: Instant,
        /// RFC 3339 time, after --from.
        #[arg(long, value_parser = parse_instant)]
        to: Instant,
        /// Only this team.
        #[arg(long)]
        team: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Also list gaps (nobody on call) in JSON, with "user": null. The
        /// table always shows them.
        #[arg(long)]
        gaps: bool,
        /// The daemon's database, for the overrides made at run time (read
        /// beside the running daemon; none if the file does not exist).
        #[arg(long, env = "ONCALL_DATABASE", default_value = "oncall.db")]
        database: PathBuf,
        /// Also list shadows (people learning a rota, never on call) in
        /// JSON, each with "shadow_of". The table always shows them.
        #[arg(long)]
        shadows: bool,
    },
    /// Who carries the on-call load: hours (weekend, holiday), pages, night
    /// pages per team and person, flagging anyone well above their team's
    /// average.
    Burden {
        #[command(flatten)]
        schedules: SchedulesArg,
        /// RFC 3339. Default: 90 days before --to.
        #[arg(long, value_parser = parse_instant)]
        from: Option<Instant>,
        /// RFC 3339. Default: now.
        #[arg(long, value_parser = parse_instant)]
        to: Option<Instant>,
        #[arg(long)]
        team: Option<String>,
        /// `ledger` (what happened, the default) or `schedule` (the rotas).
        #[arg(long, value_enum, default_value_t = pay::Source::Ledger)]
        source: pay::Source,
        #[arg(long, env = "ONCALL_DATABASE", default_value = "oncall.db")]
        database: PathBuf,
        /// Flag anyone above this multiple of their team's average hours.
        #[arg(long, default_value_t = 1.5)]
        threshold: f64,
    },
    /// Who could cover a stretch of a team's rotas: its people free then,
    /// least burdened over the 90 days before first.
    Cover {
        #[command(flatten)]
        schedules: SchedulesArg,
        #[arg(long)]
        team: String,
        /// RFC 3339: the stretch that needs cover.
        #[arg(long, value_parser = parse_instant)]
        from: Instant,
        #[arg(long, value_parser = parse_instant)]
        to: Instant,
        /// Where past hours come from: `ledger` (default) or `schedule`.
        #[arg(long, value_enum, default_value_t = pay::Source::Ledger)]
        source: pay::Source,
        #[arg(long, env = "ONCALL_DATABASE", default_value = "oncall.db")]
        database: PathBuf,
    },
    /// What a change to the rota files does for people, for review: time on
    /// call, pay, gaps in cover. Exit 1 when it opens a gap.
    ///
    /// Compares two versions of the rota folder (--base: a folder or a git
    /// commit; --head: a folder) within a window: time on call added and
    /// removed per person (UTC and the team's zone), hours and pay for each
    /// month touched (each version's pay.yaml), gaps in cover introduced or
    /// closed, people a severity can no longer reach, escalation steps
    /// changed. Exit status: 0 no gap introduced; 1 a gap introduced (so CI
    /// can ask for a second approval); 2 usage, or a version that cannot be
    /// loaded (its errors as file:line:col after `base:` or `head:`). See
    /// docs/diff.md, with CI examples.
    Diff(diff::DiffArgs),
    /// Rota files from another on-call tool (PagerDuty, Opsgenie, Grafana OnCall), read from its REST
    /// API or from its answers saved as JSON files: people.yaml, a file per
    /// team, IMPORT.md listing whatever could not be written exactly. With
    /// --verify 90d, compares the tool's own final on-call with the written
    /// files and exits 1 on any difference. See docs/import.md.
    Import(crate::import::ImportArgs),
    /// The pay export of a month from pay.yaml's rules: one row per person
    /// (or per person and rota), hours to the second, amounts rounded once.
    /// See docs/pay.md.
    Pay {
        #[command(flatten)]
        schedules: SchedulesArg,
        /// The month, YYYY-MM; it runs between midnights of pay.yaml's
        /// payroll_timezone.
        #[arg(long, value_parser = pay::parse_month)]
        month: crate::domain::pay::Month,
        #[arg(long, value_enum, default_value_t = crate::payroll::Format::Csv)]
        format: crate::payroll::Format,
        /// Only this team's rotas.
        #[arg(long)]
        team: Option<String>,
        /// Where the hours come from: `ledger` (the default), what the daemon
        /// recorded in --database; `schedule`, planned from the rotas (a
        /// forecast for a month not over).
        #[arg(long, value_enum, default_value_t = pay::Source::Ledger)]
        source: pay::Source,
        /// The daemon's database (for --source ledger); it may be running.
        #[arg(long, env = "ONCALL_DATABASE", default_value = "oncall.db")]
        database: PathBuf,
        /// `rota`: one row per person and rota instead of per person.
        #[arg(long, value_enum)]
        by: Option<pay::ByArg>,
    },
}

fn parse_instant(s: &str) -> Result<Instant, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 time ({e}); write it like 2026-12-25T03:00:00Z"))
}

fn rfc3339(t: Instant) -> String {
    Rfc3339::new(t).as_str().to_string()
}

/// How much of a command's output is gathered before it is written.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// Runs one command. Output goes to `out`, problems to `err`.
pub fn run(args: Args, clock: &dyn Clock, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Serve {
            config,
            listen,
            schedules,
            database,
            public_url,
        } => {
            let overrides = daemon_overrides(listen, schedules, database, public_url);
            let settings = Settings::load(config.as_deref(), overrides)?;
            serve(settings)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Drill {
            team,
            severity,
            url,
            wait,
        } => {
            let Ok(token) = std::env::var("ONCALL_API_TOKEN") else {
                writeln!(err, "oncall drill: set ONCALL_API_TOKEN to the daemon's API token")?;
                return Ok(ExitCode::from(2));
            };
            let wait = match config::text::parse_duration(&wait) {
                Ok(d) => d.to_std().unwrap_or_default(),
                Err(e) => {
                    writeln!(err, "oncall drill: --wait: {e}")?;
                    return Ok(ExitCode::from(2));
                }
            };
            let drill = crate::drill::Drill {
                url,
                token,
                team,
                severity,
                wait,
            };
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let outcome = runtime.block_on(drill.run(out))?;
            Ok(if outcome.acknowledged {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::TestPage {
            person,
            method,
            url,
            wait,
        } => {
            let Ok(token) = std::env::var("ONCALL_API_TOKEN") else {
                writeln!(
                    err,
                    "oncall test-page: set ONCALL_API_TOKEN to the daemon's API token or the person's own token"
                )?;
                return Ok(ExitCode::from(2));
            };
            let wait = match config::text::parse_duration(&wait) {
                Ok(d) => d.to_std().unwrap_or_default(),
                Err(e) => {
                    writeln!(err, "oncall test-page: --wait: {e}")?;
                    return Ok(ExitCode::from(2));
                }
            };
            let test = crate::testpage::TestPage {
                url,
                token,
                person,
                method,
                wait,
            };
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let confirmed = runtime.block_on(test.run(out))?;
            Ok(if confirmed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Diff(args) => diff::run(args, clock.now(), out, err),
        Command::Import(args) => crate::import::run(args, clock.now(), out, err),
        Command::Check { schedules, config } => {
            // Resolved as `serve` resolves them (its flags from the
            // environment only): the folder and severities the daemon uses.
            let overrides = daemon_overrides(
                std::env::var("ONCALL_LISTEN").ok(),
                schedules,
                std::env::var_os("ONCALL_DATABASE").map(PathBuf::from),
                std::env::var("ONCALL_PUBLIC_URL").ok(),
            );
            let settings = Settings::load(config.as_deref(), overrides)?;
            check(&settings, clock.now(), out, err)
        }
        Command::Burden {
            schedules,
            from,
            to,
            team,
            source,
            database,
            threshold,
        } => {
            let to = to.unwrap_or_else(|| clock.now());
            let from = from.unwrap_or(to - Duration::days(90));
            if from >= to {
                writeln!(err, "oncall burden: --from must be before --to")?;
                return Ok(ExitCode::from(2));
            }
            let Some(database) = database_arg("burden", &database, err)? else {
                return Ok(ExitCode::from(2));
            };
            burden::burden(
                burden::BurdenArgs {
                    schedules,
                    database,
                    span: Span::new(from, to),
                    team,
                    source,
                    threshold,
                },
                out,
                err,
            )
        }
        Command::Cover {
            schedules,
            team,
            from,
            to,
            source,
            database,
        } => {
            if from >= to {
                writeln!(err, "oncall cover: --from must be before --to")?;
                return Ok(ExitCode::from(2));
            }
            let Some(database) = database_arg("cover", &database, err)? else {
                return Ok(ExitCode::from(2));
            };
            burden::cover(
                burden::CoverArgs {
                    burden: burden::BurdenArgs {
                        schedules,
                        database,
                        span: Span::new(from - Duration::days(90), from),
                        team: Some(team),
                        source,
                        threshold: 1.5,
                    },
                    need: Span::new(from, to),
                },
                out,
                err,
            )
        }
        Command::Override { action, url } => overrides::run(action, &url, out, err),
        Command::Token { action, daemon } => people::token(action, daemon, clock, out, err),
        Command::Webpush {
            action: WebpushAction::Keygen,
        } => {
            let (private, public) = crate::notify::webpush::keygen();
            writeln!(
                out,
                "# For [webpush] in oncall.toml. The private key is a secret: put it in a file\n\
                 # (private_key_file) or ONCALL_WEBPUSH_PRIVATE_KEY rather than here.\n\
                 private_key = \"{private}\"\n\
                 # The public key (browsers subscribe with it; the daemon derives it): {public}"
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Link {
            person,
            public_url,
            daemon,
        } => people::link(&person, public_url, daemon, out, err),
        Command::MigrateStore { from, to } => {
            let from = Path::new(from.strip_prefix("sqlite:").unwrap_or(&from));
            let path = match Database::parse(from) {
                Ok(Database::Sqlite(path)) => path,
                Ok(Database::Postgres(_)) => {
                    writeln!(err, "oncall migrate-store: --from must be a SQLite file (sqlite:PATH)")?;
                    return Ok(ExitCode::from(2));
                }
                Err(e) => {
                    writeln!(err, "oncall migrate-store: --from: {e}")?;
                    return Ok(ExitCode::from(2));
                }
            };
            let to = match Database::parse(Path::new(&to)) {
                Ok(Database::Postgres(target)) => target,
                Ok(Database::Sqlite(_)) => {
                    writeln!(err, "oncall migrate-store: --to must be a postgres:// URL")?;
                    return Ok(ExitCode::from(2));
                }
                Err(e) => {
                    writeln!(err, "oncall migrate-store: --to: {e}")?;
                    return Ok(ExitCode::from(2));
                }
            };
            match crate::store::copy::sqlite_to_postgres(&path, &to) {
                Ok(counts) => {
                    for (table, in_sqlite, in_postgres) in counts {
                        writeln!(out, "{table}: {in_sqlite} rows in SQLite, {in_postgres} in PostgreSQL")?;
                    }
                    writeln!(
                        out,
                        "copied {} into PostgreSQL; every table's count matches",
                        path.display()
                    )?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    writeln!(err, "oncall migrate-store: {e}")?;
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Backup { database, to } => {
            let database = match Database::parse(&database) {
                Ok(Database::Sqlite(path)) => path,
                Ok(Database::Postgres(target)) => {
                    writeln!(
                        err,
                        "oncall backup: {target} is a PostgreSQL database: back it up with pg_dump (oncall backup copies a SQLite file)"
                    )?;
                    return Ok(ExitCode::from(2));
                }
                Err(e) => {
                    writeln!(err, "oncall backup: --database: {e}")?;
                    return Ok(ExitCode::from(2));
                }
            };
            match crate::store::sqlite::backup(&database, &to) {
                Ok(summary) => {
                    writeln!(
                        out,
                        "backed up {} to {}: schema version {}, {} alerts, {} ledger rows; integrity check ok",
                        database.display(),
                        to.display(),
                        summary.schema_version,
                        summary.alerts,
                        summary.ledger_rows
                    )?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    writeln!(err, "oncall backup: {e}")?;
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Pay {
            schedules,
            month,
            format,
            team,
            source,
            by,
            database,
        } => {
            let Some(database) = database_arg("pay", &database, err)? else {
                return Ok(ExitCode::from(2));
            };
            pay::run(
                pay::PayArgs {
                    schedules,
                    database,
                    month,
                    format,
                    team,
                    source,
                    by,
                },
                out,
                err,
            )
        }
        Command::Who {
            schedules,
            at,
            team,
            format,
            database,
        } => {
            let Some(database) = database_arg("who", &database, err)? else {
                return Ok(ExitCode::from(2));
            };
            let Some(mut loaded) = load_clean(&schedules, err)? else {
                return Ok(ExitCode::from(1));
            };
            if !with_run_time_overrides(&mut loaded, &database, err)? {
                return Ok(ExitCode::from(1));
            }
            if let Some(code) = unknown_team(&loaded.schedule, team.as_deref(), err)? {
                return Ok(code);
            }
            who(
                &loaded.schedule,
                at.unwrap_or_else(|| clock.now()),
                team.as_deref(),
                format,
                out,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Shifts {
            schedules,
            from,
            to,
            team,
            format,
            gaps,
            shadows,
            database,
        } => {
            if to <= from {
                writeln!(
                    err,
                    "oncall: --to ({}) must be after --from ({})",
                    rfc3339(to),
                    rfc3339(from)
                )?;
                return Ok(ExitCode::from(2));
            }
            let Some(database) = database_arg("shifts", &database, err)? else {
                return Ok(ExitCode::from(2));
            };
            let Some(mut loaded) = load_clean(&schedules, err)? else {
                return Ok(ExitCode::from(1));
            };
            if !with_run_time_overrides(&mut loaded, &database, err)? {
                return Ok(ExitCode::from(1));
            }
            if let Some(code) = unknown_team(&loaded.schedule, team.as_deref(), err)? {
                return Ok(code);
            }
            shifts(
                &loaded.schedule,
                Span::new(from, to),
                team.as_deref(),
                format,
                (gaps, shadows),
                out,
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Adds the overrides made at run time (kept in the daemon's database) after
/// the rota files' own, as the daemon does. `false` (after saying why) when
/// the database cannot be read.
fn with_run_time_overrides(loaded: &mut Loaded, database: &Database, err: &mut dyn Write) -> anyhow::Result<bool> {
    match crate::store::read_overrides(database) {
        Ok(list) if list.is_empty() => Ok(true),
        Ok(list) => {
            let extra: Vec<_> = list.iter().map(|o| o.rota_override()).collect();
            loaded.schedule = loaded.schedule.with_overrides(&extra);
            Ok(true)
        }
        Err(e) => {
            writeln!(err, "oncall: the run-time overrides: {e}")?;
            Ok(false)
        }
    }
}

/// A command's `--database`, parsed as `serve` reads its `database`
/// setting; `None` after saying why (a usage error).
fn database_arg(command: &str, database: &Path, err: &mut dyn Write) -> std::io::Result<Option<Database>> {
    match Database::parse(database) {
        Ok(database) => Ok(Some(database)),
        Err(e) => {
            writeln!(err, "oncall {command}: --database: {e}")?;
            Ok(None)
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    init_logging(settings.log_json);
    // Before anything is opened: the limit sizes the connection cap.
    match crate::http::listen::raise_open_files_limit() {
        Ok((before, now)) if before < now => {
            tracing::info!(
                open_files_limit = now,
                raised_from = before,
                "open files limit raised to the hard limit"
            )
        }
        Ok((_, now)) => tracing::info!(open_files_limit = now, "open files limit (the hard limit)"),
        Err(e) => tracing::warn!(
            error = %e,
            open_files_limit = crate::http::listen::open_files_limit().0,
            "cannot raise the open files limit to the hard limit"
        ),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        // Listening for the signals from here on: one during start-up stops
        // the daemon cleanly once it has started.
        let shutdown = shutdown_signal()?;
        crate::app::run(listener, shutdown, Arc::new(SystemClock), settings).await
    })
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ONCALL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second call (tests) keeps the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Takes over SIGTERM and SIGINT now, and returns what completes when one
/// arrives.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: finishing in-flight requests"),
            _ = int.recv() => tracing::info!("SIGINT: finishing in-flight requests"),
        }
    })
}

/// The settings `oncall serve` takes from its flags (given here, clap read
/// their variables) and from the environment: secrets come only from there,
/// never the command line.
fn daemon_overrides(
    listen: Option<String>,
    schedules: Option<PathBuf>,
    database: Option<PathBuf>,
    public_url: Option<String>,
) -> Overrides {
    Overrides {
        listen,
        schedules,
        database,
        api_token: std::env::var("ONCALL_API_TOKEN").ok(),
        api_token_next: std::env::var("ONCALL_API_TOKEN_NEXT").ok(),
        intake_rate: std::env::var("ONCALL_INTAKE_RATE").ok(),
        header_read_timeout: std::env::var("ONCALL_HEADER_READ_TIMEOUT").ok(),
        idle_timeout: std::env::var("ONCALL_IDLE_TIMEOUT").ok(),
        max_connections: std::env::var("ONCALL_MAX_CONNECTIONS").ok(),
        log_format: std::env::var("ONCALL_LOG_FORMAT").ok(),
        public_url,
        link_secret: std::env::var("ONCALL_LINK_SECRET").ok(),
        smtp_password: std::env::var("ONCALL_SMTP_PASSWORD").ok(),
        sms_auth_token: std::env::var("ONCALL_SMS_AUTH_TOKEN").ok(),
        push_token: std::env::var("ONCALL_PUSH_TOKEN").ok(),
        webpush_private_key: std::env::var("ONCALL_WEBPUSH_PRIVATE_KEY").ok(),
    }
}

fn load(schedules: &SchedulesArg) -> anyhow::Result<Loaded> {
    config::load_dir(&schedules.schedules).context("loading rota files")
}

/// The rota files, or `None` (after printing why) if they have errors.
fn load_clean(schedules: &SchedulesArg, err: &mut dyn Write) -> anyhow::Result<Option<Loaded>> {
    let loaded = load(schedules)?;
    if !loaded.has_errors() {
        return Ok(Some(loaded));
    }
    for d in loaded.errors() {
        writeln!(err, "{d}")?;
    }
    writeln!(
        err,
        "oncall: the rota files in {} have errors; `oncall check` lists them",
        schedules.schedules.display()
    )?;
    Ok(None)
}

fn unknown_team(schedule: &Schedule, team: Option<&str>, err: &mut dyn Write) -> anyhow::Result<Option<ExitCode>> {
    let Some(name) = team else { return Ok(None) };
    if schedule.team(name).is_some() {
        return Ok(None);
    }
    let names: Vec<&str> = schedule.teams.iter().map(|t| t.name.as_str()).collect();
    writeln!(err, "oncall: no team `{name}`; teams are: {}", names.join(", "))?;
    Ok(Some(ExitCode::from(1)))
}

/// `oncall check` with the daemon's `settings`: its folder, its severities.
fn check(settings: &Settings, now: Instant, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let loaded = config::load_dir(&settings.schedules).context("loading rota files")?;
    let mut diagnostics = loaded.diagnostics.clone();
    // pay.yaml, if there is one.
    diagnostics.extend(config::pay::decode(&loaded).diagnostics);
    // Whatever the daemon refuses, as it refuses it (the files' own errors
    // are above already, with their warnings).
    // The daemon's store, read-only, when it can be read: whether methods
    // were proven by a test page, and the Web Push devices that reach people.
    let store = proofs_read(&settings.database);
    let no_devices = std::collections::BTreeMap::new();
    let web_push = store.as_ref().map_or(&no_devices, |(_, web_push)| web_push);
    let validated = config::validate_with_devices(&loaded, &settings.severities, &settings.intensities, web_push);
    diagnostics.extend(
        validated
            .refusals
            .into_iter()
            .filter(|(why, _)| *why != Refusal::RotaFile)
            .map(|(_, d)| d),
    );
    let has_errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
    if !has_errors {
        diagnostics.extend(config::coverage_warnings(
            &loaded,
            now,
            Duration::days(CHECK_HORIZON_DAYS),
        ));
        diagnostics.extend(validated.warnings);
    }
    // Whether people's methods for the top severity were proven by a test
    // page.
    let mut notes = Vec::new();
    if !has_errors {
        match &store {
            Ok((confirmed, web_push)) => diagnostics.extend(config::proof_warnings(
                &loaded,
                &settings.severities,
                &settings.intensities,
                confirmed,
                web_push,
                now,
            )),
            Err(why) => notes.push(format!(
                "note: {why}: whether contact methods were proven by a test page (oncall test-page) is not checked"
            )),
        }
    }
    for d in &diagnostics {
        writeln!(err, "{d}")?;
    }
    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = diagnostics.len() - errors;
    let rotas = loaded.schedule.rotas(None).count();
    if errors > 0 {
        writeln!(
            err,
            "{errors} error(s), {warnings} warning(s) in {} file(s)",
            loaded.files
        )?;
        return Ok(ExitCode::from(1));
    }
    writeln!(
        out,
        "ok: {} file(s), {} team(s), {} rota(s), {} people; {warnings} warning(s)",
        loaded.files,
        loaded.schedule.teams.len(),
        rotas,
        loaded.schedule.people.len()
    )?;
    // Beside the summary: what was not checked is no problem in the files.
    for note in &notes {
        writeln!(out, "{note}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What `check` needs of the store: the last confirmations, and each
/// person's Web Push devices; or why they cannot be read (no database yet,
/// or it cannot be opened).
type Proofs = (
    Vec<crate::store::proof::Confirmed>,
    std::collections::BTreeMap<String, Vec<String>>,
);

fn proofs_read(database: &crate::store::Database) -> Result<Proofs, String> {
    if let crate::store::Database::Sqlite(path) = database
        && !path.exists()
    {
        return Err(format!("no store at {}", path.display()));
    }
    let unreadable = |e: crate::store::StoreError| format!("the store cannot be read ({e})");
    let confirmed = crate::store::read_confirmed(database).map_err(unreadable)?;
    let web_push = crate::store::read_webpush_destinations(database).map_err(unreadable)?;
    Ok((confirmed, web_push))
}

fn who(
    schedule: &Schedule,
    at: Instant,
    team: Option<&str>,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let around = Duration::days(WHO_LOOK_AROUND_DAYS);
    let rows = schedule.who_with_shift(at, around, team);
    let shadows = schedule.shadows_with_shift(at, around, team);
    let edge = |t: Instant, limit: Instant| (t != limit).then(|| rfc3339(t));
    let person = |u: &str| match schedule.people.get(u) {
        Some(p) if p.name != u => format!("{u} ({})", p.name),
        _ => u.to_string(),
    };
    match format {
        Format::Json => {
            for r in &rows {
                let name = r
                    .user
                    .as_ref()
                    .and_then(|u| schedule.people.get(u))
                    .map(|p| p.name.clone());
                let mut line = json!({
                    "team": r.team, "rota": r.rota, "user": r.user, "name": name,
                    "since": edge(r.span.start, at - around), "until": edge(r.span.end, at + around),
                    "at": rfc3339(at),
                });
                let mine: Vec<serde_json::Value> = shadows
                    .iter()
                    .filter(|s| s.team == r.team && s.rota == r.rota && Some(&s.tile.of) == r.user.as_ref())
                    .map(|s| {
                        json!({
                            "user": s.tile.user,
                            "name": schedule.people.get(&s.tile.user).map(|p| p.name.clone()),
                            "of": s.tile.of,
                            "since": edge(s.tile.span.start, at - around),
                            "until": edge(s.tile.span.end, at + around),
                        })
                    })
                    .collect();
                if !mine.is_empty() {
                    line["shadows"] = json!(mine);
                }
                writeln!(out, "{line}")?;
            }
        }
        Format::Table => {
            let mut table = vec![vec![
                "TEAM".into(),
                "ROTA".into(),
                "ON CALL".into(),
                "SINCE (UTC)".into(),
                "UNTIL (UTC)".into(),
            ]];
            let since = |t: Instant| edge(t, at - around).unwrap_or_else(|| format!("before {}", rfc3339(at - around)));
            let until = |t: Instant| edge(t, at + around).unwrap_or_else(|| format!("after {}", rfc3339(at + around)));
            for r in &rows {
                let who = match &r.user {
                    Some(u) => person(u),
                    None => "(nobody)".into(),
                };
                table.push(vec![
                    r.team.clone(),
                    r.rota.clone(),
                    who,
                    since(r.span.start),
                    until(r.span.end),
                ]);
                // Shadows under the person they follow: never on call.
                let mine = shadows
                    .iter()
                    .filter(|s| s.team == r.team && s.rota == r.rota && Some(&s.tile.of) == r.user.as_ref());
                for s in mine {
                    table.push(vec![
                        String::new(),
                        String::new(),
                        format!("{} shadowing {}", person(&s.tile.user), s.tile.of),
                        since(s.tile.span.start),
                        until(s.tile.span.end),
                    ]);
                }
            }
            writeln!(out, "on call at {}", rfc3339(at))?;
            print_table(out, &table)?;
        }
    }
    Ok(())
}

/// Writes a rota's lines of `oncall shifts --format json`: `{"team", "rota",
/// "user", "start", "end"}` in this order, and `"shadow_of"` last on a
/// shadow's line. The text is serde_json's for such a struct, byte for byte
/// (`tests::issue17_json_lines_are_serde_jsons_text` holds them equal),
/// written without serializing a map a line: the team and rota part once
/// per rota, names through serde_json's escaping only when they need it,
/// times as they are. Serializing each line (a `serde_json::Value` before
/// issue 17) was much of the command's time over a year of many rotas.
struct RotaLines {
    prefix: Vec<u8>,
    /// The last end written, as text: most shifts start where the one
    /// before ended.
    last_end: Option<(Instant, Rfc3339)>,
}

impl RotaLines {
    fn new(team: &str, rota: &str) -> std::io::Result<RotaLines> {
        let mut prefix = br#"{"team":"#.to_vec();
        json_str(&mut prefix, team)?;
        prefix.extend_from_slice(br#","rota":"#);
        json_str(&mut prefix, rota)?;
        prefix.extend_from_slice(br#","user":"#);
        Ok(RotaLines { prefix, last_end: None })
    }

    fn write(
        &mut self,
        out: &mut impl Write,
        user: Option<&str>,
        span: Span,
        shadow_of: Option<&str>,
    ) -> std::io::Result<()> {
        out.write_all(&self.prefix)?;
        match user {
            Some(u) => json_str(out, u)?,
            None => out.write_all(b"null")?,
        }
        out.write_all(br#","start":""#)?;
        match &self.last_end {
            Some((t, text)) if *t == span.start => out.write_all(text.as_bytes())?,
            _ => out.write_all(Rfc3339::new(span.start).as_bytes())?,
        }
        out.write_all(br#"","end":""#)?;
        let end = Rfc3339::new(span.end);
        out.write_all(end.as_bytes())?;
        self.last_end = Some((span.end, end));
        out.write_all(b"\"")?;
        if let Some(of) = shadow_of {
            out.write_all(br#","shadow_of":"#)?;
            json_str(out, of)?;
        }
        out.write_all(b"}\n")
    }
}

/// `s` as a JSON string, as serde_json writes it: as it is between quotes
/// unless it holds a character JSON must escape.
fn json_str(out: &mut impl Write, s: &str) -> std::io::Result<()> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.write_all(b"\"")?;
        out.write_all(s.as_bytes())?;
        out.write_all(b"\"")
    } else {
        serde_json::to_writer(out, s).map_err(std::io::Error::from)
    }
}

fn shifts(
    schedule: &Schedule,
    range: Span,
    team: Option<&str>,
    format: Format,
    (gaps, with_shadows): (bool, bool),
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    // Tens of thousands of lines for a year of a large installation: one
    // buffer, written out in large pieces rather than a system call a line.
    let mut out = std::io::BufWriter::with_capacity(OUTPUT_BUFFER, out);
    // Rota by rota, in team and rota order: its shifts, then its shadows'
    // stretches. The tiles borrow the names from the schedule.
    let rotas = schedule.rotas(team).map(|(t, r)| {
        let shadows = if with_shadows || format == Format::Table {
            r.shadow_tiles(range)
        } else {
            Vec::new()
        };
        (t.name.as_str(), r.name.as_str(), r.expand_borrowed(range), shadows)
    });
    match format {
        Format::Json => {
            for (team, rota, tiles, shadows) in rotas {
                let mut lines = RotaLines::new(team, rota)?;
                for tile in tiles.iter().filter(|t| gaps || t.user.is_some()) {
                    lines.write(&mut out, tile.user.map(String::as_str), tile.span, None)?;
                }
                for sh in &shadows {
                    lines.write(&mut out, Some(&sh.user), sh.span, Some(&sh.of))?;
                }
            }
        }
        Format::Table => {
            let mut table = vec![vec![
                "TEAM".into(),
                "ROTA".into(),
                "START (UTC)".into(),
                "END (UTC)".into(),
                "HOURS".into(),
                "ON CALL".into(),
            ]];
            let hours = |span: Span| format!("{:.2}", span.duration().num_seconds() as f64 / 3600.0);
            for (team, rota, tiles, shadows) in rotas {
                for tile in &tiles {
                    table.push(vec![
                        team.to_string(),
                        rota.to_string(),
                        rfc3339(tile.span.start),
                        rfc3339(tile.span.end),
                        hours(tile.span),
                        tile.user.map_or("(nobody)", String::as_str).to_string(),
                    ]);
                }
                for sh in &shadows {
                    table.push(vec![
                        team.to_string(),
                        rota.to_string(),
                        rfc3339(sh.span.start),
                        rfc3339(sh.span.end),
                        hours(sh.span),
                        format!("{} (shadow of {})", sh.user, sh.of),
                    ]);
                }
            }
            print_table(&mut out, &table)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn print_table<W: Write + ?Sized>(out: &mut W, rows: &[Vec<String>]) -> std::io::Result<()> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut line = String::new();
    for row in rows {
        line.clear();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                use std::fmt::Write as _;
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line as serde_json writes it: what `RotaLines` must write.
    #[derive(serde::Serialize)]
    struct ShiftLine<'a> {
        team: &'a str,
        rota: &'a str,
        user: Option<&'a str>,
        start: &'a str,
        end: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        shadow_of: Option<&'a str>,
    }

    fn at(s: &str) -> Instant {
        parse_instant(s).unwrap()
    }

    /// Issue 17: the hand-written JSON lines are serde_json's text, names
    /// that need escaping and times chrono writes with a sign included.
    #[test]
    fn issue17_json_lines_are_serde_jsons_text() {
        let names = [
            "payments",
            "a.b-c_d",
            "qu\"ote",
            "back\\slash",
            "tab\there",
            "nl\n",
            "\u{1}",
            "Zoë 東京",
            "del\u{7f}",
        ];
        let spans = [
            Span::new(at("2026-03-29T01:00:00Z"), at("2026-03-29T02:30:00Z")),
            Span::new(at("1999-12-31T23:59:59Z"), at("2000-01-01T00:00:00Z")),
            Span::new(
                at("9999-12-31T00:00:00Z"),
                at("9999-12-31T00:00:00Z") + Duration::days(400),
            ),
        ];
        for (k, team) in names.iter().enumerate() {
            let rota = names[(k + 3) % names.len()];
            let mut lines = RotaLines::new(team, rota).unwrap();
            for (i, span) in spans.iter().enumerate() {
                let user = names[(k + i) % names.len()];
                for (user, shadow_of) in [(Some(user), None), (None, None), (Some(user), Some(names[i]))] {
                    let mut ours = Vec::new();
                    lines.write(&mut ours, user, *span, shadow_of).unwrap();
                    let (start, end) = (rfc3339(span.start), rfc3339(span.end));
                    let line = ShiftLine {
                        team,
                        rota,
                        user,
                        start: &start,
                        end: &end,
                        shadow_of,
                    };
                    let serde = serde_json::to_string(&line).unwrap() + "\n";
                    assert_eq!(String::from_utf8(ours).unwrap(), serde);
                }
            }
        }
    }

    /// Counts the writes that reach it.
    #[derive(Default)]
    struct Counting {
        writes: usize,
        bytes: Vec<u8>,
    }

    impl Write for Counting {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.writes += 1;
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Issue 17: `shifts` gathers its output and writes it in large pieces,
    /// not a write (a system call on stdout) a line or more, in both formats.
    #[test]
    fn issue17_shifts_writes_its_output_in_large_pieces() {
        let loaded = config::load_texts(&[
            (
                "people.yaml",
                "people:\n  alice: {email: a@example.com}\n  bob: {email: b@example.com}\n",
            ),
            (
                "t.yaml",
                "team: t\ntimezone: Europe/London\nrotas:\n  r: {members: [alice, bob], start: 2026-01-01T00:00, every: 1h}\n",
            ),
        ]);
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        let march = Span::new(at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z"));
        for format in [Format::Json, Format::Table] {
            let mut out = Counting::default();
            shifts(&loaded.schedule, march, None, format, (false, false), &mut out).unwrap();
            let lines = out.bytes.iter().filter(|b| **b == b'\n').count();
            // An hour each, one fewer on the day the clocks go forward; and
            // the table's header.
            assert_eq!(lines, 743 + usize::from(format == Format::Table), "{format:?}");
            assert!(
                out.writes <= 1 + out.bytes.len() / OUTPUT_BUFFER,
                "{format:?}: {} writes for {} bytes in {lines} lines",
                out.writes,
                out.bytes.len()
            );
        }
    }
}
