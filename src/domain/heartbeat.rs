//! Heartbeat monitors: a job that should check in every `interval` (a
//! nightly backup, a cron job) and pages when it has been silent for longer
//! than `interval + grace`.
//!
//! What this module owns: the configured shape of a heartbeat, what the store
//! remembers of one ([`Seen`]), and the decision of which are overdue. It is
//! told the time; the daemon's check (`jobs::check_heartbeats`) asks the clock,
//! reads the store and acts on the answer.

use chrono::Duration;

use super::time::Instant;

/// One heartbeat as a team file declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    pub name: String,
    /// How often the job pings when healthy.
    pub interval: Duration,
    /// Slack after a missed ping before anyone is paged.
    pub grace: Duration,
    /// The alert's summary; absent, one is made from the name.
    pub summary: Option<String>,
    /// A severity name (checked against the installation's at start-up);
    /// absent, the installation's default.
    pub severity: Option<String>,
}

impl Heartbeat {
    /// The dedup key of this heartbeat's alert: pings resolve it, and a
    /// trigger while it is open is the same alert.
    pub fn dedup_key(&self) -> String {
        dedup_key(&self.name)
    }

    pub fn summary(&self, team: &str) -> String {
        self.summary.clone().unwrap_or_else(|| {
            format!(
                "heartbeat {} of team {team} is overdue: no ping for more than {}",
                self.name,
                describe(self.interval + self.grace)
            )
        })
    }
}

/// The dedup key of the heartbeat `name`'s alert.
pub fn dedup_key(name: &str) -> String {
    format!("heartbeat:{name}")
}

/// What the store remembers of one heartbeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub team: String,
    pub name: String,
    /// When the daemon first saw it configured: a heartbeat never pinged
    /// counts from here, so adding one to a team file does not page at once.
    pub first_seen: Instant,
    pub last_ping: Option<Instant>,
    /// When the last overdue alert was raised for it: at most one alert per
    /// silence, so resolving that alert by hand does not bring it back.
    pub alerted: Option<Instant>,
}

impl Seen {
    /// Where the current silence started.
    pub fn since(&self) -> Instant {
        self.last_ping.unwrap_or(self.first_seen)
    }
}

/// One overdue heartbeat: what to page about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overdue<'a> {
    pub team: &'a str,
    pub heartbeat: &'a Heartbeat,
    /// The last ping, or when it was first seen.
    pub since: Instant,
    /// `since + interval + grace`: when it became overdue.
    pub deadline: Instant,
}

/// The heartbeats among `configured` (team, heartbeat) that are overdue at
/// `now` and not yet alerted for this silence: `since + interval + grace <
/// now`. A configured heartbeat the store has no record of is not overdue
/// (the caller records it as seen now). A record for a heartbeat no longer
/// configured is ignored.
pub fn overdue<'a>(configured: &[(&'a str, &'a Heartbeat)], seen: &[Seen], now: Instant) -> Vec<Overdue<'a>> {
    configured
        .iter()
        .filter_map(|&(team, heartbeat)| {
            let record = seen.iter().find(|s| s.team == team && s.name == heartbeat.name)?;
            let since = record.since();
            let deadline = since + heartbeat.interval + heartbeat.grace;
            // Strictly after: an alert comes after its silence's deadline,
            // which is after its start (interval > 0), so an alert at the
            // same second as the last ping belongs to the silence before it.
            let alerted = record.alerted.is_some_and(|a| a > since);
            (deadline < now && !alerted).then_some(Overdue {
                team,
                heartbeat,
                since,
                deadline,
            })
        })
        .collect()
}

/// `1h10m`, `1d`, `45s`: a duration as the rota files write it.
pub fn describe(d: Duration) -> String {
    let mut s = d.num_seconds().max(0);
    if s == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, secs) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= secs {
            out.push_str(&format!("{}{unit}", s / secs));
            s %= secs;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn at(s: &str) -> Instant {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn backup() -> Heartbeat {
        Heartbeat {
            name: "backup".into(),
            interval: Duration::hours(1),
            grace: Duration::minutes(10),
            summary: None,
            severity: None,
        }
    }

    fn seen(last_ping: Option<&str>, alerted: Option<&str>) -> Seen {
        Seen {
            team: "payments".into(),
            name: "backup".into(),
            first_seen: at("2026-06-01T00:00:00Z"),
            last_ping: last_ping.map(at),
            alerted: alerted.map(at),
        }
    }

    fn names(configured: &[(&str, &Heartbeat)], seen: &[Seen], now: &str) -> Vec<String> {
        overdue(configured, seen, at(now))
            .iter()
            .map(|o| format!("{}/{} since {}", o.team, o.heartbeat.name, o.since.format("%H:%M")))
            .collect()
    }

    #[test]
    fn overdue_only_after_interval_plus_grace() {
        let hb = backup();
        let configured = [("payments", &hb)];
        let s = [seen(Some("2026-06-01T12:00:00Z"), None)];
        assert!(
            names(&configured, &s, "2026-06-01T13:10:00Z").is_empty(),
            "at the deadline"
        );
        assert_eq!(
            names(&configured, &s, "2026-06-01T13:10:01Z"),
            ["payments/backup since 12:00"]
        );
    }

    #[test]
    fn never_pinged_counts_from_first_seen() {
        let hb = backup();
        let configured = [("payments", &hb)];
        let s = [seen(None, None)];
        assert!(names(&configured, &s, "2026-06-01T01:10:00Z").is_empty());
        assert_eq!(
            names(&configured, &s, "2026-06-01T01:11:00Z"),
            ["payments/backup since 00:00"]
        );
    }

    #[test]
    fn one_alert_per_silence() {
        let hb = backup();
        let configured = [("payments", &hb)];
        // Alerted after the last ping: not again.
        let s = [seen(Some("2026-06-01T12:00:00Z"), Some("2026-06-01T13:11:00Z"))];
        assert!(names(&configured, &s, "2026-06-01T20:00:00Z").is_empty());
        // A ping since the alert starts a new silence.
        let s = [seen(Some("2026-06-01T14:00:00Z"), Some("2026-06-01T13:11:00Z"))];
        assert_eq!(
            names(&configured, &s, "2026-06-01T15:11:00Z"),
            ["payments/backup since 14:00"]
        );
        // Even a ping in the same second as the alert.
        let s = [seen(Some("2026-06-01T13:11:00Z"), Some("2026-06-01T13:11:00Z"))];
        assert_eq!(
            names(&configured, &s, "2026-06-01T14:22:00Z"),
            ["payments/backup since 13:11"]
        );
    }

    #[test]
    fn unrecorded_and_unconfigured_are_ignored() {
        let hb = backup();
        let other_team = [("platform", &hb)];
        let s = [seen(None, None)];
        assert!(names(&other_team, &s, "2027-01-01T00:00:00Z").is_empty());
        assert!(names(&[], &s, "2027-01-01T00:00:00Z").is_empty());
    }

    #[test]
    fn describes_durations_as_written() {
        assert_eq!(describe(Duration::minutes(70)), "1h10m");
        assert_eq!(describe(Duration::days(8)), "1w1d");
        assert_eq!(describe(Duration::zero()), "0s");
    }
}
