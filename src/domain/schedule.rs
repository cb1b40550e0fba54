//! Every team's rotas together, with the people they name: the answer to
//! "who is on call" for the whole installation.

use std::collections::BTreeMap;

use chrono_tz::Tz;

use super::alert::Hold;
use super::contact::{Method, Preferences};
use super::escalation::Policy;
use super::heartbeat::Heartbeat;
use super::rota::{Override, PersonId, Rota, ShadowTile, Tile};
use super::time::{Instant, Span};

/// Someone who can be paged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    pub email: Option<String>,
    /// E.164, e.g. `+447700900001`.
    pub phone: Option<String>,
    /// A push destination, e.g. `ntfy:alice-7f3a`.
    pub push: Option<String>,
    /// An outgoing webhook URL (JSON; Slack-compatible).
    pub webhook: Option<String>,
    /// The person's own zone, for quiet hours and reports.
    pub timezone: Option<Tz>,
    /// Notification rules and quiet hours.
    pub preferences: Preferences,
    /// Where the person works, for public holidays (`pay.yaml` lists them).
    pub region: Option<String>,
    /// The rotas the person is ready to be on call for (`team/rota`, or
    /// `team` for all of its rotas); `None`: not said, so any.
    pub ready_for: Option<Vec<String>>,
}

impl Person {
    /// Whether the person is ready to be on call on `team`'s rota `rota`:
    /// yes unless they have a `ready_for` list that names neither the rota
    /// nor its team.
    pub fn ready_for(&self, team: &str, rota: &str) -> bool {
        self.ready_for.as_ref().is_none_or(|list| {
            list.iter()
                .any(|r| r == team || r.split_once('/') == Some((team, rota)))
        })
    }

    /// Whether there is any way to reach this person.
    pub fn reachable(&self) -> bool {
        Method::ALL.into_iter().any(|m| self.contact(m).is_some())
    }

    /// The person's destination for `method`, if they have one.
    pub fn contact(&self, method: Method) -> Option<&str> {
        match method {
            Method::Email => self.email.as_deref(),
            Method::Sms | Method::Voice => self.phone.as_deref(),
            Method::Push => self.push.as_deref(),
            Method::Webhook => self.webhook.as_deref(),
        }
    }
}

/// The fewest characters an integration key may have: a key is a bearer
/// secret, and a short one is guessed (16, as for the API token).
pub const MIN_INTAKE_KEY_CHARS: usize = 16;

/// Where a team's integration key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntakeKey {
    /// The name of an environment variable holding the key.
    Env(String),
    /// The key itself (for tests and demos).
    Literal(String),
    /// A file holding the key (trimmed), read again at each reload: a key
    /// rotated in the file is in force without a restart.
    File(std::path::PathBuf),
}

#[derive(Clone, Debug)]
pub struct Team {
    pub name: String,
    pub tz: Tz,
    pub rotas: Vec<Rota>,
    pub intake_key: Option<IntakeKey>,
    /// A second key accepted as well, while senders move to it (a rotation
    /// without downtime: add it, move the senders, make it the key).
    pub next_intake_key: Option<IntakeKey>,
    pub escalation: Option<Policy>,
    /// Jobs that must check in, in file order.
    pub heartbeats: Vec<Heartbeat>,
    /// When alerts for this team are held rather than paged, in file order.
    pub maintenance: Vec<Maintenance>,
    /// Which hand-off notices the team's people get.
    pub handoff_notices: HandoffNotices,
    /// Where the team's alerts are announced, if anywhere.
    pub announce: Option<Announce>,
}

/// A team's announcements (`announce:` in the team file): a short message to
/// each destination when an alert of one of `severities` opens, is
/// acknowledged and is resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    /// Webhook URLs (Slack-compatible JSON), in the order written.
    pub to: Vec<String>,
    /// Severity names; checked against the installation's when the daemon
    /// starts (the rota files do not know them).
    pub severities: Vec<String>,
}

/// Which hand-off notices a team's people get (`handoff_notices:` in the
/// team file): when a shift starts, and a day before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandoffNotices {
    pub at_start: bool,
    pub day_before: bool,
}

impl Default for HandoffNotices {
    fn default() -> HandoffNotices {
        HandoffNotices {
            at_start: true,
            day_before: false,
        }
    }
}

/// A planned stretch of work during which the team's new alerts are stored
/// but held (not paged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Maintenance {
    pub span: Span,
    pub reason: String,
}

impl Team {
    /// The hold for an alert opened at `now`, if `now` is inside one of the
    /// team's maintenance windows; where windows overlap, the one that ends
    /// last, so the hold lasts as long as any window does.
    pub fn hold_at(&self, now: Instant) -> Option<Hold> {
        self.maintenance
            .iter()
            .filter(|m| m.span.contains(now))
            .max_by_key(|m| m.span.end)
            .map(|m| Hold {
                until: m.span.end,
                reason: m.reason.clone(),
            })
    }
}

/// An override made at run time, for one rota of one team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotaOverride {
    pub team: String,
    pub rota: String,
    pub cover: Override,
}

/// The whole installation's rotas.
#[derive(Clone, Debug, Default)]
pub struct Schedule {
    pub people: BTreeMap<PersonId, Person>,
    pub teams: Vec<Team>,
}

/// Someone on call on one rota at one instant (or nobody).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnCall {
    pub team: String,
    pub rota: String,
    /// `None`: nobody (a gap).
    pub user: Option<PersonId>,
    /// The stretch this person (or gap) holds around the instant, within the
    /// look-around the caller gave.
    pub span: Span,
}

/// A stretch of someone shadowing on one rota.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowShift {
    pub team: String,
    pub rota: String,
    pub tile: ShadowTile,
}

/// One shift (or gap) of one rota.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shift {
    pub team: String,
    pub rota: String,
    pub tile: Tile,
}

impl Schedule {
    /// This schedule with `extra` after each rota's own overrides, in the
    /// order given (so they win where they overlap the files' ones). One
    /// for a rota that does not exist (any more) is left out.
    pub fn with_overrides(&self, extra: &[RotaOverride]) -> Schedule {
        let mut out = self.clone();
        for o in extra {
            if let Some(rota) = out
                .teams
                .iter_mut()
                .find(|t| t.name == o.team)
                .and_then(|t| t.rotas.iter_mut().find(|r| r.name == o.rota))
            {
                rota.overrides.push(o.cover.clone());
            }
        }
        out
    }

    /// The rotas of the team named `team`, or of every team when `None`.
    pub fn rotas<'a>(&'a self, team: Option<&'a str>) -> impl Iterator<Item = (&'a Team, &'a Rota)> + 'a {
        self.teams
            .iter()
            .filter(move |t| team.is_none_or(|name| t.name == name))
            .flat_map(|t| t.rotas.iter().map(move |r| (t, r)))
    }

    pub fn team(&self, name: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.name == name)
    }

    /// Who is on call at `at` on every rota (of `team`, if given), as
    /// (team, rota, person), a row a person (several for a group's turn); a
    /// rota with nobody on call is one row without a person.
    pub fn who<'a>(&'a self, at: Instant, team: Option<&'a str>) -> Vec<(&'a str, &'a str, Option<&'a PersonId>)> {
        self.rotas(team)
            .flat_map(|(t, r)| {
                let people = r.on_call(at);
                let rows: Vec<Option<&PersonId>> = if people.is_empty() {
                    vec![None]
                } else {
                    people.into_iter().map(Some).collect()
                };
                rows.into_iter().map(move |p| (t.name.as_str(), r.name.as_str(), p))
            })
            .collect()
    }

    /// Who is on call at `at`, with the shift they are in, looking at most
    /// `around` either side for its edges: a row a person on call (several
    /// for a group's turn, in seat order), or one for a gap.
    pub fn who_with_shift(&self, at: Instant, around: chrono::Duration, team: Option<&str>) -> Vec<OnCall> {
        let range = Span::new(at - around, at + around);
        self.rotas(team)
            .flat_map(|(t, r)| {
                let mut rows: Vec<(Option<PersonId>, Span)> = r
                    .expand(range)
                    .into_iter()
                    .filter(|x| x.span.contains(at))
                    .map(|tile| (tile.user, tile.span))
                    .collect();
                if rows.is_empty() {
                    rows.push((None, range));
                }
                // Seat order: the order of the crew at `at`.
                let crew = r.on_call(at);
                rows.sort_by_key(|(user, _)| user.as_ref().and_then(|u| crew.iter().position(|p| *p == u)));
                rows.into_iter().map(move |(user, span)| OnCall {
                    team: t.name.clone(),
                    rota: r.name.clone(),
                    user,
                    span,
                })
            })
            .collect()
    }

    /// Every rota's shifts and gaps within `range` (of `team`, if given), in
    /// team, rota and time order: each person's stretches ([`Rota::expand`]),
    /// so a group's turn is a shift for each of its people.
    pub fn shifts(&self, range: Span, team: Option<&str>) -> Vec<Shift> {
        self.rotas(team)
            .flat_map(|(t, r)| {
                r.expand(range).into_iter().map(move |tile| Shift {
                    team: t.name.clone(),
                    rota: r.name.clone(),
                    tile,
                })
            })
            .collect()
    }

    /// Every rota's shadow stretches within `range` (of `team`, if given),
    /// in team, rota, shadow and time order.
    pub fn shadow_shifts(&self, range: Span, team: Option<&str>) -> Vec<ShadowShift> {
        self.rotas(team)
            .flat_map(|(t, r)| {
                r.shadow_tiles(range).into_iter().map(move |tile| ShadowShift {
                    team: t.name.clone(),
                    rota: r.name.clone(),
                    tile,
                })
            })
            .collect()
    }

    /// The shadows at `at` whose stretch contains it (of `team`, if given),
    /// looking at most `around` either side for its edges.
    pub fn shadows_with_shift(&self, at: Instant, around: chrono::Duration, team: Option<&str>) -> Vec<ShadowShift> {
        self.shadow_shifts(Span::new(at - around, at + around), team)
            .into_iter()
            .filter(|s| s.tile.span.contains(at))
            .collect()
    }
}
