//! The rota files as the daemon takes them: the one place that decides
//! whether `oncall serve` starts on a schedules folder (and whether a reload
//! puts it in force), and what `oncall check` reports, so that the two never
//! disagree.
//!
//! Beyond the files' own errors (`decode`'s), some values can only be
//! checked against the installation: the severities that heartbeats and
//! `announce` name (the installation's `[severities]`, in `oncall.toml`),
//! and the integration keys read from a variable or a file (too short, or
//! another team's). [`validate`] checks them and points at the place each
//! is written. A key whose variable is unset or whose file cannot be read is
//! not a refusal: the daemon starts without it (the team cannot page) and
//! says so in its log, so `oncall check`, often run where the secrets are
//! not, stays quiet about it.

use std::collections::BTreeMap;

use super::diag::{Diagnostic, Severity};
use super::{KeyRole, LoadError, Loaded, Origin, paging_warnings};
use crate::domain::paging::Intensity;
use crate::domain::schedule::IntakeKey;
use crate::domain::severity::Severities;

/// Defines [`Refusal`] and [`Refusal::ALL`] from one list, so that the list
/// cannot miss a variant.
macro_rules! refusals {
    ($($(#[$doc:meta])* $variant:ident,)*) => {
        /// Why the daemon refuses a schedules folder: each reason has a
        /// variant, and every refusal [`validate`] makes carries one.
        /// `tests/it/refusals.rs` feeds a folder with each to `oncall serve`,
        /// a reload and `oncall check` (its table is a `match` on this type,
        /// so a new variant does not compile without a case).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Refusal {
            $($(#[$doc])* $variant,)*
        }

        impl Refusal {
            /// Every refusal.
            pub const ALL: &'static [Refusal] = &[$(Refusal::$variant,)*];
        }
    };
}

refusals! {
    /// The folder cannot be read (missing, not a folder, no permission).
    Folder,
    /// The folder holds no `*.yaml` or `*.yml` file.
    NoFiles,
    /// A rota file cannot be read.
    File,
    /// An error of the rota files themselves, found by reading them
    /// (`Loaded::errors`: syntax, keys, people, rotas, overrides, policies,
    /// keys written in a file, ...).
    RotaFile,
    /// A heartbeat's `severity` is not one of the installation's.
    HeartbeatSeverity,
    /// An `announce` `severities` entry is not one of the installation's.
    AnnounceSeverity,
    /// An integration key read from a variable or a file is too short to be
    /// secret.
    ShortKey,
    /// An integration key read from a variable or a file is another team's
    /// too.
    SharedKey,
}

impl From<&LoadError> for Refusal {
    fn from(e: &LoadError) -> Refusal {
        match e {
            LoadError::Folder { .. } => Refusal::Folder,
            LoadError::Empty { .. } => Refusal::NoFiles,
            LoadError::File { .. } => Refusal::File,
        }
    }
}

/// What [`validate`] found.
#[derive(Debug, Default)]
pub struct Validated {
    /// Every reason the daemon refuses the files, each at its place: the
    /// files' own errors ([`Refusal::RotaFile`]) if there are any, else the
    /// installation's checks'.
    pub refusals: Vec<(Refusal, Diagnostic)>,
    /// Warnings about paging (see [`paging_warnings`]); only for files
    /// without errors of their own.
    pub warnings: Vec<Diagnostic>,
    /// (key, team): every integration key read.
    pub intake_keys: Vec<(String, String)>,
    /// Teams without a key: (team, and for a key written but not read,
    /// which key and why). Not refusals: such a team cannot page.
    pub keyless: Vec<(String, Option<(KeyRole, String)>)>,
}

impl Validated {
    /// Whether the daemon refuses the files.
    pub fn refused(&self) -> bool {
        !self.refusals.is_empty()
    }
}

/// Checks `loaded` as the daemon takes it, with the installation's
/// `severities` and `intensities`: the files' own errors; if there are
/// none, the severities the files name and the integration keys as read
/// (each problem at its place), and the paging warnings.
pub fn validate(loaded: &Loaded, severities: &Severities, intensities: &BTreeMap<String, Intensity>) -> Validated {
    validate_with_devices(loaded, severities, intensities, &BTreeMap::new())
}

/// [`validate`] with each person's Web Push devices (`web_push`, as the
/// store lists them), which their `push` rules page too: someone the files
/// give no way to be reached by `push` is not warned about when a device
/// of theirs is subscribed. (`oncall check` reads them from the store, and
/// so does the daemon before it logs the warnings of the files it loads.)
pub fn validate_with_devices(
    loaded: &Loaded,
    severities: &Severities,
    intensities: &BTreeMap<String, Intensity>,
    web_push: &BTreeMap<String, Vec<String>>,
) -> Validated {
    let mut out = Validated::default();
    if loaded.has_errors() {
        // Their schedule is partial: checking it further would report
        // the same mistakes again in other words.
        out.refusals = loaded.errors().map(|d| (Refusal::RotaFile, d.clone())).collect();
        return out;
    }
    out.warnings = paging_warnings(loaded, severities, intensities, web_push);
    let places = &loaded.places;
    let team_origin = |team: &str| places.teams.get(team).cloned().unwrap_or_default();
    let mut refusals = Vec::new();
    let mut refuse = |refusal: Refusal, origin: Origin, message: String| {
        refusals.push((
            refusal,
            Diagnostic {
                file: origin.file,
                pos: origin.pos,
                severity: Severity::Error,
                message,
            },
        ))
    };
    let names = || severities.names().join(", ");
    for team in &loaded.schedule.teams {
        for hb in &team.heartbeats {
            if let Some(s) = &hb.severity
                && severities.rank(s).is_none()
            {
                let at = places.heartbeat_severities.get(&(team.name.clone(), hb.name.clone()));
                refuse(
                    Refusal::HeartbeatSeverity,
                    at.cloned().unwrap_or_else(|| team_origin(&team.name)),
                    format!(
                        "team {}: heartbeat {} has severity `{s}`, which is not one of this installation's: {}",
                        team.name,
                        hb.name,
                        names()
                    ),
                );
            }
        }
        let written = places.announce_severities.get(&team.name);
        for (i, s) in team.announce.iter().flat_map(|a| &a.severities).enumerate() {
            if severities.rank(s).is_none() {
                let at = written.and_then(|w| w.get(i));
                refuse(
                    Refusal::AnnounceSeverity,
                    at.cloned().unwrap_or_else(|| team_origin(&team.name)),
                    format!(
                        "team {}: `announce` has severity `{s}`, which is not one of this installation's: {}",
                        team.name,
                        names()
                    ),
                );
            }
        }
    }
    // Beside `intake_keys`: the team, the key in words, whether it was
    // written in the team file, where it is written.
    let mut described: Vec<(&str, String, bool, Origin)> = Vec::new();
    for team in &loaded.schedule.teams {
        let Some(source) = &team.intake_key else {
            out.keyless.push((team.name.clone(), None));
            continue;
        };
        for (role, source) in [
            (KeyRole::Current, Some(source)),
            (KeyRole::Next, team.next_intake_key.as_ref()),
        ] {
            let Some(source) = source else { continue };
            let at = places
                .intake_keys
                .get(&(team.name.clone(), role))
                .cloned()
                .unwrap_or_else(|| team_origin(&team.name));
            let what = describe_key(role, source);
            match read_intake_key(source) {
                Ok(key) => {
                    // A key written in the file was checked with the file;
                    // one from a variable or a file only now.
                    if let Some(problem) = super::short_key(&key) {
                        refuse(
                            Refusal::ShortKey,
                            at.clone(),
                            format!("team {}: {what} {problem}", team.name),
                        );
                    }
                    out.intake_keys.push((key, team.name.clone()));
                    described.push((&team.name, what, matches!(source, IntakeKey::Literal(_)), at));
                }
                Err(why) => {
                    // Not a refusal (the daemon runs, the team cannot page
                    // in), but `check` says so where the key is named.
                    out.warnings.push(Diagnostic {
                        file: at.file.clone(),
                        pos: at.pos,
                        severity: Severity::Warning,
                        message: format!(
                            "team {}: {what} cannot be read ({why}): the team cannot receive alerts",
                            team.name
                        ),
                    });
                    out.keyless.push((team.name.clone(), Some((role, why))));
                }
            }
        }
    }
    for (refusal, origin, message) in shared_keys(&out.intake_keys, &described) {
        refuse(refusal, origin, message);
    }
    // In the order of the files, as `oncall check` prints the rest.
    refusals.sort_by(|(_, a), (_, b)| (&a.file, a.pos).cmp(&(&b.file, b.pos)));
    out.refusals = refusals;
    out
}

/// "the integration key in /path", "the next integration key in the
/// variable X": a key for people, never its value.
fn describe_key(role: KeyRole, source: &IntakeKey) -> String {
    let which = match role {
        KeyRole::Current => "",
        KeyRole::Next => "next ",
    };
    match source {
        IntakeKey::Literal(_) => format!("the {which}integration key written in its team file"),
        IntakeKey::Env(var) => format!("the {which}integration key in the variable {var}"),
        IntakeKey::File(path) => format!("the {which}integration key in {}", path.display()),
    }
}

/// Keys that are another team's too, once read: one key picks one team.
/// Said of the key read from a variable or a file rather than one written
/// in a team file (two written ones are an error of the files already).
fn shared_keys(
    keys: &[(String, String)],
    described: &[(&str, String, bool, Origin)],
) -> Vec<(Refusal, Origin, String)> {
    let mut out = Vec::new();
    for (j, (key, team)) in keys.iter().enumerate() {
        let Some(i) = keys[..j].iter().position(|(k, t)| k == key && t != team) else {
            continue;
        };
        let (said, other) = if described[j].2 && !described[i].2 {
            (i, j)
        } else {
            (j, i)
        };
        out.push((
            Refusal::SharedKey,
            described[said].3.clone(),
            format!(
                "team {}: {} is team {}'s too: give each team its own",
                described[said].0, described[said].1, described[other].0
            ),
        ));
    }
    out
}

/// The integration key from where the team file says it is, or why there
/// is none. Never the key's value in the error.
fn read_intake_key(source: &IntakeKey) -> Result<String, String> {
    let key = match source {
        IntakeKey::Literal(k) => k.clone(),
        IntakeKey::Env(var) => std::env::var(var).map_err(|_| format!("the variable {var} is not set"))?,
        IntakeKey::File(path) => crate::secret_file::read(path).map_err(|e| e.to_string())?,
    };
    if key.is_empty() {
        return Err("it is empty".into());
    }
    Ok(key)
}
