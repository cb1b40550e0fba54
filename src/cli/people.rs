//! `oncall token create | list | revoke` and `oncall link`: what an admin
//! gives a person so that they act as themselves. Both work beside the
//! running daemon with the settings `oncall serve` resolves (its
//! `oncall.toml`, flags and environment): tokens straight in its database
//! (the daemon looks a token up at each request, so a revoked one is
//! refused at once), links with its link secret and public URL.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::clock::Clock;
use crate::settings::Settings;
use crate::store::{CredentialKind, Database, NewCredential};

/// Where the daemon's settings come from, as `oncall serve` reads them.
#[derive(Args, Debug)]
pub struct DaemonArgs {
    /// The daemon's oncall.toml (optional).
    #[arg(long, global = true, env = "ONCALL_CONFIG")]
    pub config: Option<PathBuf>,
    /// The daemon's database (SQLite file or postgres:// URL).
    #[arg(long, global = true, env = "ONCALL_DATABASE")]
    pub database: Option<PathBuf>,
    /// The daemon's folder of rota files (for its people file).
    #[arg(long, global = true, env = "ONCALL_SCHEDULES")]
    pub schedules: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Action {
    /// A new API token for PERSON: the API takes it as `Authorization:
    /// Bearer TOKEN` and records what it does as done by PERSON. Printed
    /// once; the database keeps only its SHA-256 digest.
    Create {
        person: String,
        /// What the token is for (shown by `list`), e.g. "laptop".
        #[arg(long)]
        name: Option<String>,
    },
    /// The tokens not revoked: id, person, name, created (never the token).
    List,
    /// Revokes token ID: refused from the next request on.
    Revoke { id: i64 },
}

/// The prefix of every person's token, so that a leaked one is recognised
/// (by secret scanners, by people) for what it is.
pub const TOKEN_PREFIX: &str = "oncall_";

fn settings(daemon: DaemonArgs, public_url: Option<String>) -> anyhow::Result<Settings> {
    let overrides = super::daemon_overrides(
        std::env::var("ONCALL_LISTEN").ok(),
        daemon.schedules,
        daemon.database,
        public_url.or_else(|| std::env::var("ONCALL_PUBLIC_URL").ok()),
    );
    Ok(Settings::load(daemon.config.as_deref(), overrides)?)
}

/// Whether `person` is in the daemon's people file; `Some(exit)` after
/// saying why not.
fn known_person(
    command: &str,
    settings: &Settings,
    person: &str,
    err: &mut dyn Write,
) -> anyhow::Result<Option<ExitCode>> {
    let schedules = super::SchedulesArg {
        schedules: settings.schedules.clone(),
    };
    let Some(loaded) = super::load_clean(&schedules, err)? else {
        return Ok(Some(ExitCode::from(1)));
    };
    let people = &loaded.schedule.people;
    if people.contains_key(person) {
        return Ok(None);
    }
    let hint = match crate::config::diag::did_you_mean(person, people.keys().map(String::as_str)) {
        Some(close) => format!("; did you mean `{close}`?"),
        None => String::new(),
    };
    writeln!(
        err,
        "oncall {command}: no person `{person}` in the people file of {}{hint}",
        settings.schedules.display()
    )?;
    Ok(Some(ExitCode::from(1)))
}

pub fn token(
    action: Action,
    daemon: DaemonArgs,
    clock: &dyn Clock,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let settings = settings(daemon, None)?;
    let database = &settings.database;
    let now = clock.now();
    match action {
        Action::Create { person, name } => {
            if let Some(code) = known_person("token create", &settings, &person, err)? {
                return Ok(code);
            }
            let token = format!("{TOKEN_PREFIX}{}", crate::web::session::new_secret()?);
            let new = NewCredential {
                kind: CredentialKind::Token,
                digest: crate::web::session::digest(&token),
                person: person.clone(),
                label: name.filter(|n| !n.trim().is_empty()),
                expires: None,
            };
            match crate::store::add_credential_beside(database, new, now) {
                Ok(made) => {
                    // The token alone on stdout, for a script to keep.
                    writeln!(out, "{token}")?;
                    writeln!(
                        err,
                        "token {} for {person}: shown this once (the database keeps only its digest); revoke it with `oncall token revoke {}`",
                        made.id, made.id
                    )?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => failed("token create", e, err),
            }
        }
        Action::List => match crate::store::credentials_beside(database, CredentialKind::Token) {
            Ok(tokens) => {
                writeln!(out, "{:<6} {:<16} {:<20} CREATED", "ID", "PERSON", "NAME")?;
                for t in tokens {
                    writeln!(
                        out,
                        "{:<6} {:<16} {:<20} {}",
                        t.id,
                        t.person,
                        t.label.as_deref().unwrap_or("-"),
                        super::rfc3339(t.created_at)
                    )?;
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => failed("token list", e, err),
        },
        Action::Revoke { id } => match crate::store::end_credential_beside(database, CredentialKind::Token, id, now) {
            Ok(Some(t)) => {
                writeln!(out, "revoked token {id} of {}", t.person)?;
                Ok(ExitCode::SUCCESS)
            }
            Ok(None) => {
                writeln!(
                    err,
                    "oncall token revoke: no token {id} (or it was revoked already); `oncall token list` shows them"
                )?;
                Ok(ExitCode::from(1))
            }
            Err(e) => failed("token revoke", e, err),
        },
    }
}

fn failed(command: &str, e: crate::store::StoreError, err: &mut dyn Write) -> anyhow::Result<ExitCode> {
    writeln!(err, "oncall {command}: {e}")?;
    Ok(ExitCode::from(1))
}

/// `oncall link PERSON`: the person's sign-in link, made with the daemon's
/// link secret and public URL.
pub fn link(
    person: &str,
    public_url: Option<String>,
    daemon: DaemonArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let settings = settings(daemon, public_url)?;
    let Some(public_url) = settings.public_url.clone() else {
        writeln!(
            err,
            "oncall link: no public URL: set public_url in oncall.toml, ONCALL_PUBLIC_URL or --public-url (where people reach the daemon)"
        )?;
        return Ok(ExitCode::from(2));
    };
    if let Some(code) = known_person("link", &settings, person, err)? {
        return Ok(code);
    }
    let secret = match (&settings.link_secret, &settings.database) {
        (Some(secret), _) => secret.as_bytes().to_vec(),
        // The file the daemon made on its first start; read, never made
        // here: a new one would sign links the daemon does not take.
        (None, Database::Sqlite(path)) => {
            let file = crate::links::secret_path(path);
            match std::fs::read_to_string(&file) {
                Ok(text) if !text.trim().is_empty() => text.trim().as_bytes().to_vec(),
                Ok(_) | Err(_) => {
                    writeln!(
                        err,
                        "oncall link: no link secret: set link_secret (or link_secret_file, ONCALL_LINK_SECRET) as for `oncall serve`, \
                         or start the daemon once on {} (it makes {})",
                        path.display(),
                        file.display()
                    )?;
                    return Ok(ExitCode::from(2));
                }
            }
        }
        (None, Database::Postgres(_)) => {
            writeln!(err, "oncall link: set link_secret as for `oncall serve`")?;
            return Ok(ExitCode::from(2));
        }
    };
    let links = crate::links::Links::new(secret, Some(public_url));
    writeln!(out, "{}", crate::web::signin::link(&links, person))?;
    Ok(ExitCode::SUCCESS)
}
