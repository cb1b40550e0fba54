//! The source-neutral plan of an import: what `oncall import` will write,
//! whichever tool it came from. A source ([`super::Source`]) fills it from
//! the vendor's answers; [`super::write`] turns it into rota files. Every
//! value here is already in our terms (person ids, team and rota names,
//! local times of the team's zone); the source ids are kept beside them so
//! that the written files can name where each piece came from.

use chrono::{NaiveDateTime, Weekday};
use chrono_tz::Tz;

use crate::domain::time::Instant;

/// Everything one import writes.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The tool's name as people know it ("PagerDuty"), for comments.
    pub source: String,
    pub people: Vec<Person>,
    pub teams: Vec<Team>,
    pub approximations: Vec<Approximation>,
}

/// Something the rota format cannot say exactly as the source does: which
/// source object, what of it, and how the import wrote it instead.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Approximation {
    /// The source object's id, with its kind ("schedule PABC123").
    pub source_id: String,
    pub what: String,
    pub how: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// Our person id (letters, digits, `-`, `_`, `.`).
    pub id: String,
    /// The source's id of the person, for the comment and for mapping the
    /// source's rendered shifts back to people.
    pub source_id: String,
    pub name: String,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub timezone: Option<Tz>,
}

#[derive(Clone, Debug)]
pub struct Team {
    /// Our team name; also the file name (`NAME.yaml`).
    pub name: String,
    pub timezone: Tz,
    /// The source object(s) the team came from, for the file's first comment.
    pub source: String,
    pub rotas: Vec<Rota>,
    pub overrides: Vec<Override>,
    pub escalation: Option<Escalation>,
}

/// A rota: one source schedule.
#[derive(Clone, Debug)]
pub struct Rota {
    pub name: String,
    /// The source schedule's id and name, written in a comment above it and
    /// used to fetch its rendered shifts for `--verify`.
    pub source_id: String,
    pub source_name: String,
    /// In our order: the last layer that is on wins.
    pub layers: Vec<Layer>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Written in a comment above the layer (source id and name).
    pub comment: String,
    /// Turn order; each entry a group of person ids on call together (most
    /// often one person).
    pub members: Vec<Vec<String>>,
    /// The member on call from `start`, when not the first.
    pub first: Option<String>,
    /// Hand-off 0, local wall-clock time of the team's zone.
    pub start: NaiveDateTime,
    /// When the layer stops, an exact instant.
    pub end: Option<Instant>,
    /// The turn length in seconds of wall-clock time.
    pub every_seconds: i64,
    /// Empty: always on.
    pub active: Vec<Window>,
}

/// A time of day to the minute, `(hour, minute)`, `(24, 0)` allowed as an end.
pub type TimeOfDay = (u32, u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Every day, from one time of day to another (across midnight when `to`
    /// is not after `from`).
    Daily { from: TimeOfDay, to: TimeOfDay },
    /// From a weekday and time to the next given weekday and time.
    Weekly {
        from: (Weekday, TimeOfDay),
        to: (Weekday, TimeOfDay),
    },
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Override {
    pub rota: String,
    pub from: Instant,
    pub to: Instant,
    pub user: String,
    /// Written as the override's `reason`, naming the source object.
    pub source_id: String,
}

#[derive(Clone, Debug)]
pub struct Escalation {
    /// Written in a comment above the policy.
    pub source_id: String,
    pub source_name: String,
    pub steps: Vec<Step>,
    pub repeat: u32,
}

#[derive(Clone, Debug)]
pub struct Step {
    /// After the previous step (after the alert, for the first).
    pub after_minutes: u64,
    pub notify: Vec<Target>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Rota(String),
    User(String),
    Team(String),
}

impl Plan {
    /// A source person's time zone, if it is one oncall knows; an unknown
    /// one is left out and listed as an approximation of `user {uid}`.
    pub fn person_zone(&mut self, uid: &str, zone: Option<&str>) -> Option<Tz> {
        let z = zone?;
        let parsed = z.parse::<Tz>().ok();
        if parsed.is_none() {
            self.approximate(
                format!("user {uid}"),
                format!("time zone `{z}` is not an IANA zone oncall knows"),
                "left out",
            );
        }
        parsed
    }

    pub fn approximate(&mut self, source_id: impl Into<String>, what: impl Into<String>, how: impl Into<String>) {
        self.approximations.push(Approximation {
            source_id: source_id.into(),
            what: what.into(),
            how: how.into(),
        });
    }

    /// Our person id for a source person id.
    pub fn person_for(&self, source_id: &str) -> Option<&str> {
        self.people
            .iter()
            .find(|p| p.source_id == source_id)
            .map(|p| p.id.as_str())
    }

    /// Puts everything in one order, whatever order the source answered
    /// in, so that the same source gives the same files byte for byte.
    pub fn sort(&mut self) {
        self.people.sort_by(|a, b| a.id.cmp(&b.id));
        self.teams.sort_by(|a, b| a.name.cmp(&b.name));
        for team in &mut self.teams {
            team.rotas.sort_by(|a, b| a.name.cmp(&b.name));
            team.overrides.sort();
        }
        self.approximations.sort();
        self.approximations.dedup();
    }
}

/// `text` as an id of ours: lower case, runs of anything but letters and
/// digits as one `-`, no `-` at either end; `fallback` when nothing is left.
pub fn slug(text: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() { fallback.to_string() } else { out }
}

/// Hands out names unique within one namespace: the second `primary` is
/// `primary-2`, and so on.
#[derive(Default)]
pub struct Names(std::collections::BTreeSet<String>);

impl Names {
    pub fn claim(&mut self, wanted: &str) -> String {
        let mut name = wanted.to_string();
        let mut n = 2;
        while !self.0.insert(name.clone()) {
            name = format!("{wanted}-{n}");
            n += 1;
        }
        name
    }
}

/// Places source schedules in our teams, where a team has one time zone: a
/// schedule whose zone differs from the zone its team already has goes to
/// a team of its own, `TEAM-ZONE`, and the plan says so.
#[derive(Default)]
pub struct TeamPlaces {
    zones: std::collections::BTreeMap<String, Tz>,
    /// Our team name → the source object(s) it came from, for its file.
    pub sources: std::collections::BTreeMap<String, String>,
}

impl TeamPlaces {
    /// The team that `schedule` (a description such as "schedule P1"), in
    /// zone `tz`, goes to, when it would go to `wanted`; `label` names the
    /// source object the team comes from.
    pub fn place(&mut self, wanted: &str, tz: Tz, schedule: &str, label: &str, plan: &mut Plan) -> String {
        let team = match self.zones.get(wanted) {
            None => {
                self.zones.insert(wanted.to_string(), tz);
                wanted.to_string()
            }
            Some(&z) if z == tz => wanted.to_string(),
            Some(&z) => {
                let other = format!("{wanted}-{}", slug(tz.name(), "zone"));
                plan.approximate(
                    schedule,
                    format!(
                        "is in {}, the other schedules of team {wanted} in {}",
                        tz.name(),
                        z.name()
                    ),
                    format!("written in team {other} (a team has one time zone)"),
                );
                self.zones.entry(other.clone()).or_insert(tz);
                other
            }
        };
        self.sources.entry(team.clone()).or_insert_with(|| label.to_string());
        team
    }
}

/// The members of a rotation written to start from the turn of
/// `members[idx]`: with `first` when that names the turn unambiguously (its
/// first person is at no earlier place in the list), otherwise the list
/// itself is written from that turn.
pub fn start_from(members: &[Vec<String>], idx: usize) -> (Vec<Vec<String>>, Option<String>) {
    if idx == 0 || members.is_empty() {
        return (members.to_vec(), None);
    }
    let idx = idx % members.len();
    let who = &members[idx][0];
    if !members[..idx].iter().any(|g| g.contains(who)) {
        return (members.to_vec(), Some(who.clone()));
    }
    let mut list = members[idx..].to_vec();
    list.extend_from_slice(&members[..idx]);
    (list, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_unique_names() {
        assert_eq!(slug("Alice O'Brien ", "x"), "alice-o-brien");
        assert_eq!(slug("--Ops/Primary--", "x"), "ops-primary");
        assert_eq!(slug("日本", "person-1"), "person-1");
        let mut names = Names::default();
        assert_eq!(names.claim("ops"), "ops");
        assert_eq!(names.claim("ops"), "ops-2");
        assert_eq!(names.claim("ops"), "ops-3");
    }

    #[test]
    fn a_rotation_starts_from_a_turn_by_first_or_by_rewriting_the_list() {
        let m = |v: &[&[&str]]| -> Vec<Vec<String>> {
            v.iter().map(|g| g.iter().map(|p| p.to_string()).collect()).collect()
        };
        let list = m(&[&["a", "b"], &["c"], &["b", "d"]]);
        assert_eq!(start_from(&list, 0), (list.clone(), None));
        assert_eq!(start_from(&list, 1), (list.clone(), Some("c".to_string())));
        // b is in the first group too: `first: b` would start there.
        assert_eq!(start_from(&list, 2), (m(&[&["b", "d"], &["a", "b"], &["c"]]), None));
    }
}
