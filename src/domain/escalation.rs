//! Escalation policies as written in a team's file: who is paged, in what
//! order, after what delay. (The engine that runs them comes later; this is
//! the validated shape it will read.)

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
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Policy {
    pub steps: Vec<Step>,
    /// How many more times the whole chain runs if nobody acknowledges.
    pub repeat: u32,
}
