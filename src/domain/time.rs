//! Instants, spans and the one rule for reading local wall-clock time.
//!
//! Everything the rest of the program stores or prints is a UTC instant. Local
//! time only appears where people write it (rota start, hand-off rules, active
//! windows, overrides without an offset) and is turned into an instant here, by
//! a single policy (RFC 5545 section 3.3.5):
//!
//! - a local time that does not exist because the clocks jumped forward (a DST
//!   gap) is read with the UTC offset in force *before* the gap, so 01:30 on the
//!   London spring-forward day is 01:30 GMT, which the clock shows as 02:30 BST;
//! - a local time that happens twice because the clocks went back is the
//!   *first* occurrence.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Offset, SecondsFormat, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// A point on the UTC time line, to the second.
pub type Instant = DateTime<Utc>;

/// A half-open interval of time `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub start: Instant,
    pub end: Instant,
}

impl Span {
    /// A span from `start` to `end`; empty when `end <= start`.
    pub fn new(start: Instant, end: Instant) -> Span {
        Span { start, end }
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    pub fn contains(&self, t: Instant) -> bool {
        self.start <= t && t < self.end
    }

    /// The overlap of two spans (possibly empty).
    pub fn intersect(&self, other: &Span) -> Span {
        Span::new(self.start.max(other.start), self.end.min(other.end))
    }

    pub fn duration(&self) -> Duration {
        if self.is_empty() {
            Duration::zero()
        } else {
            self.end - self.start
        }
    }
}

/// An instant written as RFC 3339 in UTC, to the second: `2026-12-25T03:00:00Z`,
/// the form everything printed uses. The same text as chrono's
/// `to_rfc3339_opts(SecondsFormat::Secs, true)`, written digit by digit into
/// a buffer on the stack: `oncall shifts` prints two a line over tens of
/// thousands of lines, and chrono's formatting machinery (and a `String`
/// each) was a large part of its time. Years outside 0000-9999, which
/// chrono writes with a sign, go through chrono.
#[derive(Clone, Debug)]
pub enum Rfc3339 {
    Short([u8; 20]),
    Long(String),
}

impl Rfc3339 {
    pub fn new(t: Instant) -> Rfc3339 {
        // The UTC fields as chrono keeps them (`date_naive` would add a zero
        // offset by date arithmetic; from the timestamp costs more).
        let n = t.naive_utc();
        let (date, time) = (n.date(), n.time());
        let year = date.year();
        if !(0..=9999).contains(&year) {
            return Rfc3339::Long(t.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
        // A leap second (as parsed from `...T23:59:60Z`) is second 59 with
        // a nanosecond count of a second or more; chrono prints it as :60.
        let second = time.second() + u32::from(time.nanosecond() >= 1_000_000_000);
        let mut b = *b"0000-00-00T00:00:00Z";
        let mut two = |at: usize, v: u32| {
            b[at] = b'0' + (v / 10) as u8;
            b[at + 1] = b'0' + (v % 10) as u8;
        };
        let year = year as u32;
        two(0, year / 100);
        two(2, year % 100);
        two(5, date.month());
        two(8, date.day());
        two(11, time.hour());
        two(14, time.minute());
        two(17, second);
        Rfc3339::Short(b)
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Rfc3339::Short(b) => b,
            Rfc3339::Long(s) => s.as_bytes(),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            // Only ASCII digits and separators were written.
            Rfc3339::Short(b) => std::str::from_utf8(b).unwrap_or_default(),
            Rfc3339::Long(s) => s,
        }
    }
}

impl std::fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The largest change of UTC offset a zone has ever made at once, with margin:
/// offsets run from -12:00 to +14:00, so two readings of one local time never lie
/// further apart than this.
pub const MAX_OFFSET_SPREAD: Duration = Duration::hours(26);

/// Half the width of the stretch around an instant that [`quiet_offset`]
/// checks: wide enough to hold every hand-off and window edge that a
/// look-up at that instant reads (a day of window, the offset spread).
pub const QUIET: Duration = Duration::hours(52);

/// The UTC offset at `t` if no clock change happens within [`QUIET`] either
/// side of it; then every local time near `t` exists exactly once, and reads
/// as `local - offset`.
///
/// Two checks suffice: in the IANA database (1900-2100, every zone) offset
/// changes are at least 167 hours apart, so a 104-hour stretch holds at most
/// one, and one change makes the offsets at its ends differ.
pub fn quiet_offset(tz: Tz, t: Instant) -> Option<i32> {
    let offset = offset_at(tz, t);
    (offset_at(tz, t - QUIET) == offset && offset_at(tz, t + QUIET) == offset).then_some(offset)
}

/// Reads a local wall-clock time in `tz` as an instant, by the policy above.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> Instant {
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        return t.with_timezone(&Utc);
    }
    // In a gap. The latest valid local time before it carries the offset in
    // force before the gap. Gaps are at most a day long (Pacific/Apia skipped
    // 2011-12-30), so stepping back an hour at a time finds it quickly.
    for hours in 1..=48 {
        if let Some(before) = tz.from_local_datetime(&(local - Duration::hours(hours))).latest() {
            let offset = before.offset().fix();
            return Utc.from_utc_datetime(&(local - Duration::seconds(offset.local_minus_utc() as i64)));
        }
    }
    // No zone has a gap this long; read it as UTC rather than fail.
    Utc.from_utc_datetime(&local)
}

/// Reads many local times of one zone as [`resolve_local`] does, by
/// arithmetic wherever the zone's offset is known to be constant around the
/// answer: expanding a year of hand-offs and active windows reads thousands
/// of local times, and each look-up in the zone's table of changes (two or
/// three binary searches for [`resolve_local`] and the checks around it) was
/// most of the cost of expanding a rota. Fastest when the times come in
/// increasing order.
///
/// It keeps a stretch of UTC over which the offset is constant, first learnt
/// around an answer from [`quiet_offset`] and then extended forwards by
/// probes [`QUIET`] x 2 apart: a stretch that short holds at most one change
/// (see [`quiet_offset`]), so equal offsets at its ends mean none. A local
/// time `local` then reads as `t = local - offset` when the stretch covers
/// [`MAX_OFFSET_SPREAD`] either side of `t`: no other offset can put another
/// instant on that wall-clock time, so `local` happens exactly once, at `t`.
#[derive(Clone, Debug)]
pub struct LocalReader {
    tz: Tz,
    /// `(from, to, offset)`, in seconds since 1970: the offset is `offset`
    /// seconds throughout `[from, to]`. Plain integers, as chrono's
    /// date arithmetic costs more than the look-up it saves.
    quiet: Option<(i64, i64, i64)>,
}

const SPREAD: i64 = MAX_OFFSET_SPREAD.num_seconds();
/// How many probes a [`LocalReader`] makes forwards at most before it goes
/// the long way (a look-up there costs about as much as five probes).
const PROBES: i64 = 8;

impl LocalReader {
    pub fn new(tz: Tz) -> LocalReader {
        LocalReader { tz, quiet: None }
    }

    /// `local` as an instant, by the policy of [`resolve_local`].
    pub fn resolve(&mut self, local: NaiveDateTime) -> Instant {
        if let Some(t) = self.quiet_instant(local) {
            return t;
        }
        let t = resolve_local(self.tz, local);
        self.learn(t);
        t
    }

    /// `local` as an instant if no clock change happens within
    /// [`MAX_OFFSET_SPREAD`] of it, as far as this reader knows (else `None`,
    /// and the caller goes the long way).
    pub fn quiet_instant(&mut self, local: NaiveDateTime) -> Option<Instant> {
        if local.nanosecond() != 0 {
            return None;
        }
        let t = self.quiet_seconds(local.and_utc().timestamp())?;
        DateTime::from_timestamp(t, 0)
    }

    /// [`LocalReader::quiet_instant`] in seconds since 1970, of the naive
    /// local clock and of UTC.
    pub fn quiet_seconds(&mut self, local: i64) -> Option<i64> {
        let (from, to, offset) = self.quiet?;
        let t = local.checked_sub(offset)?;
        if t.checked_sub(SPREAD)? < from {
            return None;
        }
        let need = t.checked_add(SPREAD)?;
        if need > to {
            // Probes further on, a few (a month of them, cheaper than the long
            // way), each no further than a stretch that holds one change at most.
            let step = 2 * QUIET.num_seconds();
            if need > to + PROBES * step {
                return None;
            }
            let mut to = to;
            while need > to {
                let next = to + step;
                if i64::from(offset_at(self.tz, DateTime::from_timestamp(next, 0)?)) != offset {
                    return None;
                }
                to = next;
                self.quiet = Some((from, to, offset));
            }
        }
        Some(t)
    }

    /// Learns the stretch around `t`, if no clock change is near it.
    pub fn learn(&mut self, t: Instant) {
        if let Some(offset) = quiet_offset(self.tz, t) {
            let (t, quiet) = (t.timestamp(), QUIET.num_seconds());
            self.quiet = Some((t - quiet, t + quiet, i64::from(offset)));
        }
    }
}

/// The wall-clock time in `tz` at instant `t`.
pub fn to_local(tz: Tz, t: Instant) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

/// The UTC offset, in seconds, in force in `tz` at instant `t`.
pub fn offset_at(tz: Tz, t: Instant) -> i32 {
    tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc()
}

/// Sorts spans and merges those that overlap or touch.
pub fn merge_spans(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// `a` without `b` (both sorted lists of disjoint spans).
pub fn subtract_spans(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for x in a {
        let mut cursor = x.start;
        for y in b.iter().filter(|y| y.end > x.start && y.start < x.end) {
            if y.start > cursor {
                out.push(Span::new(cursor, y.start));
            }
            cursor = cursor.max(y.end);
        }
        if cursor < x.end {
            out.push(Span::new(cursor, x.end));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    /// Issue 17: the hand-written RFC 3339 text is chrono's, byte for byte,
    /// at every field's edges, for leap seconds, sub-second instants (cut,
    /// not rounded) and years chrono writes with a sign.
    #[test]
    fn issue17_rfc3339_is_chronos_text() {
        let chrono = |t: Instant| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut samples: Vec<Instant> = [
            "0000-01-01T00:00:00Z",
            "0001-02-28T23:59:59Z",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "2000-02-29T12:34:56Z",
            "2016-12-31T23:59:60Z",
            "2026-12-25T03:00:00.999999999Z",
            "2099-09-09T09:09:09Z",
            "9999-12-31T23:59:59Z",
        ]
        .iter()
        .map(|s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
        .collect();
        samples.push(Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap() + Duration::seconds(1));
        samples.push(Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap() - Duration::seconds(1));
        samples.push(Utc.with_ymd_and_hms(-44, 3, 15, 12, 0, 0).unwrap());
        // Every day of 1999-2001 and of 2099-2101 (not a leap year), at a
        // second that moves through the clock; every 97 days from 0000 to 9999.
        for year in [1999, 2099] {
            let mut t = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap();
            for k in 0..3 * 366 {
                samples.push(t);
                t += Duration::seconds(86_400 + 7 * 3_600 + 13 * 60 + 17 + k % 2);
            }
        }
        let mut t = Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap();
        while t.year() < 10_000 {
            samples.push(t);
            t += Duration::seconds(97 * 86_400 + 3_599);
        }
        for t in samples {
            assert_eq!(Rfc3339::new(t).as_str(), chrono(t), "{t:?}");
            assert_eq!(Rfc3339::new(t).to_string(), chrono(t));
            assert_eq!(Rfc3339::new(t).as_bytes(), chrono(t).as_bytes());
        }
    }

    /// Issue 17: the reader's arithmetic gives what `resolve_local` gives,
    /// through gaps and folds (London, New York, Lord Howe's 30 minutes,
    /// Chatham at +12:45, Apia's skipped day, Sao Paulo's midnight changes),
    /// walking forwards in small and large steps and jumping back now and
    /// then, as the expansion of hand-offs and windows does.
    #[test]
    fn issue17_local_reader_agrees_with_resolve_local() {
        use chrono_tz::{America, Asia, Australia, Europe, Pacific};
        let zones = [
            Europe::London,
            America::New_York,
            Australia::Lord_Howe,
            Pacific::Chatham,
            Pacific::Apia,
            America::Sao_Paulo,
            Asia::Kolkata,
        ];
        let (mut quick, mut all) = (0, 0);
        for tz in zones {
            let mut reader = LocalReader::new(tz);
            let mut local = NaiveDate::from_ymd_opt(2010, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap();
            let mut k: i64 = 0;
            while local.year() < 2014 {
                let mut fresh = reader.clone();
                if fresh.quiet_instant(local).is_some() {
                    quick += 1;
                }
                all += 1;
                assert_eq!(reader.resolve(local), resolve_local(tz, local), "{tz} {local}");
                // Steps of 7 minutes to 8 days, a step back every 29th.
                k += 1;
                let step = Duration::minutes([15, 30, 45, 60, 90, 1_440, 7, 11_520][(k % 8) as usize]);
                local = if k % 29 == 0 {
                    local - Duration::hours(30)
                } else {
                    local + step
                };
            }
        }
        // And most of them by arithmetic.
        assert!(quick * 10 > all * 9, "{quick} of {all}");
    }

    /// Issue 17: a reader that learnt its stretch just after a clock change
    /// (or just before one) reads the local times around the change as
    /// `resolve_local` does: the first of a repeated time lies before the
    /// stretch, and a skipped time reads with the offset before the gap.
    #[test]
    fn issue17_local_reader_at_the_edges_of_a_clock_change() {
        use chrono_tz::{America, Australia, Europe, Pacific};
        for tz in [Europe::London, America::New_York, Australia::Lord_Howe, Pacific::Apia] {
            let mut changes = Vec::new();
            let mut t = Utc.with_ymd_and_hms(2011, 1, 1, 0, 0, 0).unwrap();
            while t.year() < 2013 {
                let next = t + Duration::hours(1);
                if offset_at(tz, next) != offset_at(tz, t) {
                    // The first second of the new offset.
                    let (mut lo, mut hi) = (t, next);
                    while hi - lo > Duration::seconds(1) {
                        let mid = lo + (hi - lo) / 2;
                        if offset_at(tz, mid) == offset_at(tz, t) {
                            lo = mid;
                        } else {
                            hi = mid;
                        }
                    }
                    changes.push(hi);
                }
                t = next;
            }
            assert!(changes.len() >= 4, "{tz}: {changes:?}");
            for c in changes {
                for learnt_at in [c + QUIET + Duration::seconds(1), c - QUIET - Duration::seconds(2)] {
                    let mut learnt = LocalReader::new(tz);
                    learnt.learn(learnt_at);
                    assert!(learnt.quiet.is_some(), "{tz} {learnt_at}");
                    let around = to_local(tz, c);
                    let mut local = around - Duration::hours(30);
                    while local < around + Duration::hours(30) {
                        let mut reader = learnt.clone();
                        assert_eq!(
                            reader.resolve(local),
                            resolve_local(tz, local),
                            "{tz}: {local}, learnt at {learnt_at}"
                        );
                        local += Duration::minutes(5);
                    }
                }
            }
        }
    }

    #[test]
    fn gap_uses_offset_before() {
        let t = resolve_local(chrono_tz::Europe::London, local("2026-03-29T01:30"));
        assert_eq!(t.to_rfc3339(), "2026-03-29T01:30:00+00:00");
        let t = resolve_local(chrono_tz::America::New_York, local("2026-03-08T02:30"));
        assert_eq!(t.to_rfc3339(), "2026-03-08T07:30:00+00:00");
    }

    #[test]
    fn fold_is_first_occurrence() {
        let t = resolve_local(chrono_tz::Europe::London, local("2026-10-25T01:30"));
        assert_eq!(t.to_rfc3339(), "2026-10-25T00:30:00+00:00");
    }

    #[test]
    fn clock_changes_are_far_enough_apart_for_quiet_offset() {
        // `quiet_offset` relies on offset changes being more than 2 * QUIET
        // apart. Checked here for the zones the tests use, 2000-2040, hourly;
        // the full database was checked once, 1900-2100 at 15 minutes (167 h).
        use chrono_tz::{America, Asia, Australia, Europe, Pacific};
        let zones = [
            Europe::London,
            America::New_York,
            Australia::Lord_Howe,
            Pacific::Apia,
            Pacific::Chatham,
            Asia::Gaza,
        ];
        let start = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
        for tz in zones {
            let mut last_change: Option<Instant> = None;
            let mut previous = offset_at(tz, start);
            let mut t = start;
            while t.year() < 2040 {
                t += Duration::hours(1);
                let offset = offset_at(tz, t);
                if offset != previous {
                    if let Some(last) = last_change {
                        assert!(t - last > QUIET * 2, "{tz}: changes at {last} and {t}");
                    }
                    last_change = Some(t);
                    previous = offset;
                }
            }
        }
    }

    #[test]
    fn apia_skipped_day() {
        // 2011-12-30 never happened in Apia: -10:00 until then, +14:00 after.
        let t = resolve_local(chrono_tz::Pacific::Apia, local("2011-12-30T09:00"));
        assert_eq!(t.to_rfc3339(), "2011-12-30T19:00:00+00:00");
        let d = NaiveDate::from_ymd_opt(2011, 12, 31)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        assert_eq!(
            resolve_local(chrono_tz::Pacific::Apia, d).to_rfc3339(),
            "2011-12-30T19:00:00+00:00"
        );
    }
}
