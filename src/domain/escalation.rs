//! Escalation policies as written in a team's file: who is paged, in what
//! order, after what delay. `paging` decides what running one means.

use chrono::Duration;

use super::rota::PersonId;

/// Whom one escalation step pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Whoever is on call on this rota of the team at that moment.
    Rota(String),
    User(PersonId),
    /// Everyone on any rota of that team.
    Team(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Delay after the previous step (after the alert, for the first).
    pub after: Duration,
    pub targets: Vec<Target>,
    /// Page one target per alert, in turn, instead of all of them.
    pub round_robin: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Policy {
    pub steps: Vec<Step>,
    /// How many more times the whole chain runs if nobody acknowledges.
    pub repeat: u32,
    /// The wait between the last step and the next run of the chain; `None`:
    /// the last step's delay (5 minutes if it has none).
    pub repeat_after: Option<Duration>,
    /// How long an acknowledgement holds: past it, an alert still not
    /// resolved is reopened and paged again from the first step.
    pub ack_timeout: Option<Duration>,
}
