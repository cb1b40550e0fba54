//! Reads the `schedules/` folder into a [`Schedule`], checking everything.
//!
//! Loading never stops at the first problem: every file is read, every
//! problem is collected as a [`Diagnostic`] with its `file:line:col`, and the
//! caller decides what to do (`oncall check` prints them all; the other
//! commands refuse to answer from rota files with errors). [`validate`]
//! then checks what only the installation can (its severities, the
//! integration keys as read): `oncall serve` and `oncall check` both take
//! the files by it, so that `check` reports whatever `serve` refuses.
//!
//! The files, in the order they are read:
//! - any file with a top-level `people:` (by convention `people.yaml`);
//! - team files: `team:`, `timezone:`, `rotas:` and optionally `overrides:`,
//!   `escalation:`, an intake key;
//! - cover files: `team:` and `overrides:` only, for a team defined elsewhere;
//!   their overrides come after the team file's, in file-name order.

mod decode;
pub mod diag;
pub mod pay;
pub mod text;
mod validate;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Duration;

pub use decode::short_key;
pub use diag::{Diagnostic, Severity};
pub use validate::{Refusal, Validated, validate, validate_with_devices};
pub use yaml::Pos;

use crate::domain::paging::{self, Intensity};
use crate::domain::schedule::Schedule;
use crate::domain::severity::Severities;
use crate::domain::time::{Instant, Span};

/// Where a rota was written, for messages about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub pos: Pos,
}

/// The result of reading the rota files.
#[derive(Debug, Default)]
pub struct Loaded {
    pub schedule: Schedule,
    pub diagnostics: Vec<Diagnostic>,
    /// (team, rota) → where it is defined.
    pub rota_origins: BTreeMap<(String, String), Origin>,
    /// person → where they are defined.
    pub person_origins: BTreeMap<String, Origin>,
    /// How many files were read.
    pub files: usize,
    /// The pay rules files (`currency:` and so on at the top), parsed but not
    /// decoded: `pay::decode` reads them against the schedule.
    pub pay_files: Vec<(String, yaml::Node)>,
    /// Where the values only [`validate`] can check were written.
    pub places: Places,
}

/// Where the values that the rota files cannot check alone were written, so
/// that [`validate`], which checks them against the installation (its
/// severities) and the integration keys as read, points at them.
#[derive(Debug, Default)]
pub struct Places {
    /// team → where its team file names it.
    pub teams: BTreeMap<String, Origin>,
    /// (team, heartbeat) → where its `severity` is written.
    pub heartbeat_severities: BTreeMap<(String, String), Origin>,
    /// team → where each of its `announce` `severities` is written, in order.
    pub announce_severities: BTreeMap<String, Vec<Origin>>,
    /// (team, which key) → where the key, its variable or its file is
    /// written.
    pub intake_keys: BTreeMap<(String, KeyRole), Origin>,
    /// person → where their `notify` is written, when it has a rule for
    /// `push` and they have no `push` topic: a Web Push device of theirs,
    /// which only the store knows, may still carry it (see
    /// [`paging_warnings`]).
    pub push_rules: BTreeMap<String, Origin>,
}

/// Which of a team's integration keys: the key, or the next one accepted
/// beside it during a rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyRole {
    Current,
    Next,
}

impl KeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Current => "current",
            KeyRole::Next => "next",
        }
    }
}

impl Loaded {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Error)
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}

/// Why the folder could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the schedules folder {path}")]
    Folder { path: String, source: std::io::Error },
    #[error("cannot read {path}")]
    File { path: String, source: std::io::Error },
    #[error("no rota files (*.yaml or *.yml) in {path}")]
    Empty { path: String },
}

/// Reads every `*.yaml` / `*.yml` file of `dir` (not its subfolders).
pub fn load_dir(dir: &Path) -> Result<Loaded, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Folder {
        path: dir.display().to_string(),
        source,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| LoadError::Folder {
            path: dir.display().to_string(),
            source,
        })?;
        let path = entry.path();
        let yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
        if yaml && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(LoadError::Empty {
            path: dir.display().to_string(),
        });
    }
    let mut sources = Vec::with_capacity(paths.len());
    for path in paths {
        let shown = path.display().to_string();
        let bytes = std::fs::read(&path).map_err(|source| LoadError::File {
            path: shown.clone(),
            source,
        })?;
        sources.push((shown, bytes));
    }
    Ok(load_sources(&sources))
}

/// Reads rota files given as (name, contents), in that order. Pure: this is
/// what tests call.
pub fn load_sources(sources: &[(String, Vec<u8>)]) -> Loaded {
    decode::decode(sources)
}

/// Reads rota files given as text, for tests and examples.
pub fn load_texts(sources: &[(&str, &str)]) -> Loaded {
    let owned: Vec<(String, Vec<u8>)> = sources
        .iter()
        .map(|(n, t)| (n.to_string(), t.as_bytes().to_vec()))
        .collect();
    load_sources(&owned)
}

/// Warnings about the coming `horizon` from `now`: gaps in each rota's
/// coverage, and people nobody can reach.
pub fn coverage_warnings(loaded: &Loaded, now: Instant, horizon: Duration) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let range = Span::new(now, now + horizon);
    for (team, rota) in loaded.schedule.rotas(None) {
        let gaps = rota.gaps(range);
        let Some(first) = gaps.first() else { continue };
        let Some(origin) = loaded.rota_origins.get(&(team.name.clone(), rota.name.clone())) else {
            continue;
        };
        let total: Duration = gaps.iter().map(|g| g.duration()).sum();
        let more = match gaps.len() {
            1 => String::new(),
            n => format!(" and {} more gaps", n - 1),
        };
        out.push(Diagnostic {
            file: origin.file.clone(),
            pos: origin.pos,
            severity: Severity::Warning,
            message: format!(
                "rota {}/{} has nobody on call from {} to {}{} ({} in the next {} days)",
                team.name,
                rota.name,
                first.start.format("%Y-%m-%dT%H:%M:%SZ"),
                first.end.format("%Y-%m-%dT%H:%M:%SZ"),
                more,
                human_duration(total),
                horizon.num_days()
            ),
        });
    }
    for person in loaded.schedule.people.values() {
        if person.reachable() {
            continue;
        }
        if let Some(origin) = loaded.person_origins.get(&person.id) {
            let on = rotas_of(loaded, &person.id);
            let message = match on.first() {
                Some(first) => format!(
                    "{} is on {first}{} but has no way to be reached: give them an email, phone, push or webhook",
                    person.id,
                    if on.len() > 1 {
                        format!(" (and {} more)", on.len() - 1)
                    } else {
                        String::new()
                    }
                ),
                None => format!(
                    "{} has no way to be reached: give them an email, phone, push or webhook",
                    person.id
                ),
            };
            out.push(Diagnostic {
                file: origin.file.clone(),
                pos: origin.pos,
                severity: Severity::Warning,
                message,
            });
        }
    }
    out
}

/// The `team/rota` names a person is a member of (any layer, or an override).
pub fn rotas_of(loaded: &Loaded, id: &str) -> Vec<String> {
    loaded
        .schedule
        .rotas(None)
        .filter(|(_, r)| {
            r.layers.iter().any(|l| l.people().any(|m| m == id)) || r.overrides.iter().any(|o| o.user == id)
        })
        .map(|(t, r)| format!("{}/{}", t.name, r.name))
        .collect()
}

/// Warnings about people's notification rules against the installation's
/// severities and their Web Push devices (`web_push`, as the store lists
/// them): rules for `push` with neither a `push` topic nor a device to send
/// them to, rules for a severity that does not exist, and people on a rota
/// whom some severity can never reach (its methods and theirs do not meet,
/// counting their devices for `push`). The severities the files name
/// elsewhere are [`validate`]'s errors.
pub fn paging_warnings(
    loaded: &Loaded,
    severities: &Severities,
    intensities: &BTreeMap<String, Intensity>,
    web_push: &BTreeMap<String, Vec<String>>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for person in loaded.schedule.people.values() {
        let Some(origin) = loaded.person_origins.get(&person.id) else {
            continue;
        };
        let devices = web_push.get(&person.id).map_or(&[][..], Vec::as_slice);
        if let Some(at) = loaded.places.push_rules.get(&person.id)
            && devices.is_empty()
        {
            out.push(Diagnostic {
                file: at.file.clone(),
                pos: at.pos,
                severity: Severity::Warning,
                message: format!(
                    "person {} has a rule for `push` but no `push` to send it to (and no Web Push device subscribed)",
                    person.id
                ),
            });
        }
        let mut warn = |message: String| {
            out.push(Diagnostic {
                file: origin.file.clone(),
                pos: origin.pos,
                severity: Severity::Warning,
                message,
            })
        };
        for name in person.preferences.by_severity.keys() {
            if severities.rank(name).is_none() {
                warn(format!(
                    "{} has notification rules for `{name}`, which is not a severity: {}",
                    person.id,
                    severities.names().join(", ")
                ));
            }
        }
        let on = rotas_of(loaded, &person.id);
        if on.is_empty() || !person.reachable() && devices.is_empty() {
            continue;
        }
        for name in severities.names() {
            let Some(intensity) = intensities.get(name) else {
                continue;
            };
            if !paging::can_reach_with(person, devices, name, intensity) {
                let methods: Vec<&str> = intensity.methods.iter().map(|m| m.as_str()).collect();
                warn(format!(
                    "{} (on {}) can never be reached for `{name}` alerts: those go by {} only, and {}'s rules and contacts give none of those",
                    person.id,
                    on[0],
                    methods.join(", "),
                    person.id
                ));
            }
        }
    }
    out
}

/// How long a confirmed test page proves a method for `oncall check`.
pub const PROVEN_FOR_DAYS: i64 = 90;

/// Warnings about people on a rota whose methods for the top severity's
/// pages have not been confirmed by a test page (`oncall test-page`) in
/// [`PROVEN_FOR_DAYS`] days, from `confirmed` (the store's last
/// confirmations). `web_push`: each person's Web Push destinations, which
/// their `push` rules page too. A method is paged all the same: this only
/// says it is unproven.
pub fn proof_warnings(
    loaded: &Loaded,
    severities: &Severities,
    intensities: &BTreeMap<String, Intensity>,
    confirmed: &[crate::store::proof::Confirmed],
    web_push: &BTreeMap<String, Vec<String>>,
    now: Instant,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Some(top) = severities.names().last() else {
        return out;
    };
    let Some(intensity) = intensities.get(top) else {
        return out;
    };
    let horizon = now - Duration::days(PROVEN_FOR_DAYS);
    for person in loaded.schedule.people.values() {
        let Some(origin) = loaded.person_origins.get(&person.id) else {
            continue;
        };
        let on = rotas_of(loaded, &person.id);
        if on.is_empty() {
            continue;
        }
        let mut seen = std::collections::BTreeSet::new();
        let devices = web_push.get(&person.id).map_or(&[][..], Vec::as_slice);
        for planned in paging::plan_person_with(person, devices, top, intensity, chrono_tz::UTC, now) {
            if !seen.insert((planned.method, planned.to.clone())) {
                continue;
            }
            let last = crate::store::proof::last_confirmed(confirmed, &person.id, planned.method, &planned.to);
            let when = match last {
                Some(t) if t >= horizon => continue,
                Some(t) => format!("last confirmed {}", crate::domain::time::Rfc3339::new(t)),
                None => "never confirmed".to_string(),
            };
            out.push(Diagnostic {
                file: origin.file.clone(),
                pos: origin.pos,
                severity: Severity::Warning,
                message: format!(
                    "{} (on {}): {}{} for `{top}` pages is unproven: no test page by it confirmed in {PROVEN_FOR_DAYS} days ({when}); run `oncall test-page {} --method {}`",
                    person.id,
                    on[0],
                    planned.method,
                    if planned.to.starts_with(paging::WEB_PUSH_PREFIX) {
                        format!(" (Web Push device {})", &planned.to[paging::WEB_PUSH_PREFIX.len()..])
                    } else {
                        String::new()
                    },
                    person.id,
                    planned.method
                ),
            });
        }
    }
    out
}

/// `3d 4h`, `45m`: a duration for people.
pub fn human_duration(d: Duration) -> String {
    let s = d.num_seconds();
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days}d"));
    }
    if hours > 0 {
        parts.push(format!("{hours}h"));
    }
    if minutes > 0 || parts.is_empty() {
        parts.push(format!("{minutes}m"));
    }
    parts.join(" ")
}
