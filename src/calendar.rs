//! Calendar feeds (RFC 5545 iCalendar): a person's shifts, or a team's, a
//! year ahead, for Google Calendar, Outlook and Apple Calendar to subscribe
//! to. Each shift is one event whose UID is made of its team, rota, person
//! and start, so a calendar that fetches the feed again updates the events
//! it has (an override that shortens a shift changes its end, not its UID)
//! rather than adding copies. The UID is a pure function of those four, so
//! it is the same on every fetch and after a restart; each name is
//! percent-encoded down to letters, digits, `_` and `.` before the parts are
//! joined with `-`, so two different tuples never share a UID (names may
//! hold `-`: team `ops-eu` rota `primary` and team `ops` rota `eu-primary`
//! must stay two events).
//!
//! Written here rather than with the `icalendar` crate (looked at for issue
//! 17): what matters in a feed is ours to decide anyway (the UIDs above,
//! which events a window holds, `DTSTAMP`), the writer that remains is
//! escaping and folding at 75 octets (a few lines, unit-tested), and the
//! crate would add a parser we do not need (its default feature) for the
//! same output. `tests/ics_events.py` reads our feeds with an independent
//! iCalendar parser.

use std::fmt::Write as _;

use chrono::Duration;

use crate::domain::schedule::{Schedule, ShadowShift, Shift};
use crate::domain::time::{Instant, Span};

/// How far back the feed starts (so the shift in progress is there).
pub const BEHIND: Duration = Duration::days(7);
/// How far ahead it goes.
pub const AHEAD: Duration = Duration::days(366);
/// Shifts are expanded this much beyond the feed's window, so that one
/// crossing its edges keeps its real start and end (and so its UID).
pub const MARGIN: Duration = Duration::days(62);

/// Whose shifts a feed holds.
#[derive(Clone, Copy, Debug)]
pub enum Feed<'a> {
    Person(&'a str),
    Team(&'a str),
}

/// The window of the feed made at `now`.
pub fn window(now: Instant) -> Span {
    Span::new(now - BEHIND, now + AHEAD)
}

/// The shifts of the feed at `now`: every shift (not gaps) overlapping the
/// window, whole, in time order.
pub fn shifts(schedule: &Schedule, feed: Feed<'_>, now: Instant) -> Vec<Shift> {
    let window = window(now);
    let range = Span::new(window.start - MARGIN, window.end + MARGIN);
    let team = match feed {
        Feed::Team(t) => Some(t),
        Feed::Person(_) => None,
    };
    let mut out: Vec<Shift> = schedule
        .shifts(range, team)
        .into_iter()
        .filter(|s| match (&s.tile.user, feed) {
            (None, _) => false,
            (Some(user), Feed::Person(p)) => user == p,
            (Some(_), Feed::Team(_)) => true,
        })
        .filter(|s| s.tile.span.start < window.end && window.start < s.tile.span.end)
        .collect();
    out.sort_by(|a, b| (a.tile.span.start, &a.team, &a.rota).cmp(&(b.tile.span.start, &b.team, &b.rota)));
    out
}

/// The shadow stretches of the feed at `now` (someone learning the rota
/// alongside whoever is on call), whole, in time order.
pub fn shadows(schedule: &Schedule, feed: Feed<'_>, now: Instant) -> Vec<ShadowShift> {
    let window = window(now);
    let range = Span::new(window.start - MARGIN, window.end + MARGIN);
    let team = match feed {
        Feed::Team(t) => Some(t),
        Feed::Person(_) => None,
    };
    let mut out: Vec<ShadowShift> = schedule
        .shadow_shifts(range, team)
        .into_iter()
        .filter(|s| match feed {
            Feed::Person(p) => s.tile.user == p,
            Feed::Team(_) => true,
        })
        .filter(|s| s.tile.span.start < window.end && window.start < s.tile.span.end)
        .collect();
    out.sort_by(|a, b| (a.tile.span.start, &a.team, &a.rota).cmp(&(b.tile.span.start, &b.team, &b.rota)));
    out
}

/// The feed as iCalendar text (CRLF line ends, long lines folded).
pub fn render(schedule: &Schedule, feed: Feed<'_>, now: Instant) -> String {
    let name = |id: &str| {
        schedule
            .people
            .get(id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let title = match feed {
        Feed::Person(p) => format!("On call: {}", name(p)),
        Feed::Team(t) => format!("On call: team {t}"),
    };
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".into(),
        "PRODID:-//oncall//on-call schedules//EN".into(),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
        format!("X-WR-CALNAME:{}", text(&title)),
        "X-PUBLISHED-TTL:PT1H".into(),
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H".into(),
    ];
    let stamp = utc(now);
    for s in shifts(schedule, feed, now) {
        let Some(user) = &s.tile.user else { continue };
        let summary = match feed {
            Feed::Person(_) => format!("On call: {} {}", s.team, s.rota),
            Feed::Team(_) => format!("{} on call: {} {}", name(user), s.team, s.rota),
        };
        let hours = s.tile.span.duration().num_seconds() as f64 / 3600.0;
        let description = format!(
            "{} ({user}) is on call for {} {}, {hours:.2} hours.",
            name(user),
            s.team,
            s.rota
        );
        let uid = format!("shift-{}", uid_of(&s.team, &s.rota, user, s.tile.span));
        event(&mut lines, &uid, &stamp, s.tile.span, &summary, &description);
    }
    for s in shadows(schedule, feed, now) {
        let (user, of) = (&s.tile.user, &s.tile.of);
        let summary = match feed {
            Feed::Person(_) => format!("Shadowing {}: {} {}", name(of), s.team, s.rota),
            Feed::Team(_) => format!("{} shadowing {}: {} {}", name(user), name(of), s.team, s.rota),
        };
        let description = format!(
            "{} ({user}) shadows {} on {} {}: a copy of every page, never escalated to.",
            name(user),
            name(of),
            s.team,
            s.rota
        );
        let uid = format!("shadow-{}", uid_of(&s.team, &s.rota, user, s.tile.span));
        event(&mut lines, &uid, &stamp, s.tile.span, &summary, &description);
    }
    lines.push("END:VCALENDAR".into());
    let mut out = String::new();
    for line in lines {
        fold(&mut out, &line);
    }
    out
}

/// `team-rota-person-START`: the same for a shift whatever its end. No part
/// holds a `-` of its own ([`uid_part`] encodes it), so the `-` between
/// them can only be a separator and the tuple reads back unambiguously.
fn uid_of(team: &str, rota: &str, person: &str, span: Span) -> String {
    format!(
        "{}-{}-{}-{}",
        uid_part(team),
        uid_part(rota),
        uid_part(person),
        span.start.timestamp()
    )
}

/// One VEVENT: `uid` (made `@oncall`), its times, summary and description.
fn event(lines: &mut Vec<String>, uid: &str, stamp: &str, span: Span, summary: &str, description: &str) {
    lines.extend([
        "BEGIN:VEVENT".to_string(),
        format!("UID:{uid}@oncall"),
        format!("DTSTAMP:{stamp}"),
        format!("DTSTART:{}", utc(span.start)),
        format!("DTEND:{}", utc(span.end)),
        format!("SUMMARY:{}", text(summary)),
        format!("DESCRIPTION:{}", text(description)),
        "TRANSP:TRANSPARENT".into(),
        "END:VEVENT".into(),
    ]);
}

/// `20261225T030000Z`.
fn utc(t: Instant) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value: backslash, semicolon, comma and line breaks escaped.
fn text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\\n")
        .replace('\n', "\\n")
}

/// A UID piece: letters, digits, `_` and `.` kept, anything else as `%XX`,
/// `-` (the separator between pieces) and `%` included, so that distinct
/// names give distinct pieces and no piece contains a separator.
fn uid_part(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_.".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Appends `line` folded at 75 octets (RFC 5545 3.1), never inside a
/// character, with CRLF.
fn fold(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_at_75_octets_between_characters() {
        let mut out = String::new();
        let line = format!("SUMMARY:{}", "é".repeat(60));
        fold(&mut out, &line);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets: {l}", l.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded, format!("{line}\r\n"));
    }

    #[test]
    fn text_and_uids_are_escaped() {
        assert_eq!(text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        assert_eq!(uid_part("follow the-sun"), "follow%20the%2Dsun");
        assert_eq!(uid_part("a%2Db"), "a%252Db");
    }

    /// Issue 16: with `-` kept in the pieces, team `ops-eu` rota `primary`
    /// and team `ops` rota `eu-primary` gave one UID to two shifts.
    #[test]
    fn issue16_uids_of_names_with_dashes_do_not_collide() {
        let t = Instant::from_timestamp(1_780_000_000, 0).unwrap();
        let span = Span::new(t, t + Duration::hours(8));
        let uids = [
            uid_of("ops-eu", "primary", "alice", span),
            uid_of("ops", "eu-primary", "alice", span),
            uid_of("ops", "eu", "primary-alice", span),
            uid_of("ops-eu-primary", "x", "alice", span),
        ];
        let distinct: std::collections::BTreeSet<&String> = uids.iter().collect();
        assert_eq!(distinct.len(), uids.len(), "{uids:?}");
        assert_eq!(uids[0], "ops%2Deu-primary-alice-1780000000");
        // A pure function of the tuple: the same on every call.
        assert_eq!(uids[0], uid_of("ops-eu", "primary", "alice", span));
    }
}
