//! How a person is reached: the contact methods ([`Method`]) and a
//! person's own rules for them ([`Preferences`], `notify:` and
//! `quiet_hours:` in `people.yaml`). Beside the person (`schedule::Person`
//! holds them); `paging` decides with them.

use std::collections::BTreeMap;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::window::ActiveWindow;

/// A way to reach a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Email,
    Sms,
    Push,
    Webhook,
    /// A phone call (to the person's `phone`) that reads the page and takes
    /// a key press: 1 acknowledges, 2 escalates at once.
    Voice,
}

impl Method {
    /// In the order the default notification rules use them: the quickest
    /// to be noticed first.
    pub const ALL: [Method; 5] = [Method::Push, Method::Sms, Method::Email, Method::Webhook, Method::Voice];

    /// The methods of the default notification rules, in their order. Not
    /// `voice`: a phone call is only made where a person's `notify:` rules
    /// ask for one.
    pub const DEFAULT_ORDER: [Method; 4] = [Method::Push, Method::Sms, Method::Email, Method::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Email => "email",
            Method::Sms => "sms",
            Method::Push => "push",
            Method::Webhook => "webhook",
            Method::Voice => "voice",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One notification rule of a person: use `method`, `after` the step
/// fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub method: Method,
    pub after: Duration,
}

/// How a person wants to be reached (`notify:` and `quiet_hours:` in
/// `people.yaml`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preferences {
    /// For every severity without its own list. Empty: the defaults
    /// (`paging::default_rules`).
    pub rules: Vec<Rule>,
    /// Per severity name.
    pub by_severity: BTreeMap<String, Vec<Rule>>,
    /// When not to be disturbed, in the person's own zone, for the
    /// severities that allow it.
    pub quiet_hours: Vec<ActiveWindow>,
}
