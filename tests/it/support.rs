//! Helpers shared by the integration tests.

use chrono::{DateTime, Utc};
use oncall::config::{self, Loaded};
use oncall::domain::time::{Instant, Span};

/// People every test team can use.
pub const PEOPLE: &str = "people:
  alice: {name: Alice, email: alice@example.com}
  bob: {name: Bob, email: bob@example.com}
  carol: {name: Carol, email: carol@example.com}
  dave: {name: Dave, email: dave@example.com}
  erin: {name: Erin, email: erin@example.com}
";

pub fn at(s: &str) -> Instant {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

/// Loads one team `t` in zone `tz` whose file continues with `body`, and
/// panics with the diagnostics if it has errors.
pub fn team(tz: &str, body: &str) -> Loaded {
    let text = format!("team: t\ntimezone: {tz}\n{body}");
    let loaded = config::load_texts(&[("people.yaml", PEOPLE), ("t.yaml", &text)]);
    let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "unexpected errors:\n{}", errors.join("\n"));
    loaded
}

/// The shifts of every rota of `loaded` within `[from, to)`, one a line:
/// `rota  start .. end  (hours)  user`, gaps as `-`.
pub fn render(loaded: &Loaded, from: &str, to: &str) -> String {
    let mut out = String::new();
    for s in loaded.schedule.shifts(Span::new(at(from), at(to)), None) {
        let hours = s.tile.span.duration().num_seconds() as f64 / 3600.0;
        out.push_str(&format!(
            "{}  {} .. {}  ({hours}h)  {}\n",
            s.rota,
            s.tile.span.start.format("%Y-%m-%dT%H:%MZ"),
            s.tile.span.end.format("%Y-%m-%dT%H:%MZ"),
            s.tile.user.as_deref().unwrap_or("-"),
        ));
    }
    out
}
