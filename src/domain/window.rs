//! Active windows: the weekdays and times of day when a layer is on duty.
//!
//! A window is written in the rota's local time: `{days: [mon, tue], from:
//! "08:00", to: "20:00"}`. When `to` is not after `from` the window crosses
//! midnight and ends the next day (`from: "20:00", to: "08:00"` on `fri` runs
//! from Friday 20:00 to Saturday 08:00). Window edges are read as instants by
//! the same DST policy as hand-offs.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Timelike, Weekday};
use chrono_tz::Tz;

use super::time::{Instant, LocalReader, Span, quiet_offset, to_local};

/// One active window. `to` may be 24:00, written as `minutes == 1440`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveWindow {
    /// The weekdays on which the window *starts*, Monday first.
    pub days: [bool; 7],
    /// Minutes after local midnight.
    pub from: u32,
    /// Minutes after local midnight, up to 1440 (24:00).
    pub to: u32,
}

impl ActiveWindow {
    /// Whether the window starts on weekday `day`.
    pub fn on(&self, day: Weekday) -> bool {
        self.days[day.num_days_from_monday() as usize]
    }

    /// The window's occurrence that starts on local date `date`, if any, its
    /// edges read by `reader` (of the rota's zone).
    fn on_date(&self, reader: &mut LocalReader, date: NaiveDate) -> Option<Span> {
        if !self.on(date.weekday()) {
            return None;
        }
        let mut at = |date: NaiveDate, minutes: u32| {
            let day = date + Duration::days(i64::from(minutes / 1440));
            let time = NaiveTime::from_num_seconds_from_midnight_opt(minutes % 1440 * 60, 0).unwrap_or(NaiveTime::MIN);
            reader.resolve(day.and_time(time))
        };
        let end = if self.to > self.from { self.to } else { self.to + 1440 };
        let start = at(date, self.from);
        let span = Span::new(start, at(date, end));
        (!span.is_empty()).then_some(span)
    }
}

/// The union of the windows' occurrences within `range`, sorted and merged.
pub fn active_spans(tz: Tz, windows: &[ActiveWindow], range: Span) -> Vec<Span> {
    if range.is_empty() {
        return Vec::new();
    }
    // A window starting up to two days before the range can reach into it
    // (one day for crossing midnight, one for a skipped day).
    let first = to_local(tz, range.start).date() - Duration::days(2);
    let last = to_local(tz, range.end).date() + Duration::days(1);
    let mut spans = Vec::new();
    let mut reader = LocalReader::new(tz);
    let mut date = first;
    while date <= last {
        for w in windows {
            if let Some(span) = w.on_date(&mut reader, date) {
                let clipped = span.intersect(&range);
                if !clipped.is_empty() {
                    spans.push(clipped);
                }
            }
        }
        date += Duration::days(1);
    }
    union(spans)
}

/// Whether any window is active at `t`.
pub fn is_active(tz: Tz, windows: &[ActiveWindow], t: Instant) -> bool {
    if quiet_offset(tz, t).is_none() {
        // A clock change nearby: go through the instants of the edges.
        return !active_spans(tz, windows, Span::new(t, t + Duration::seconds(1))).is_empty();
    }
    // Otherwise every edge near `t` is plain local time: compare wall clocks.
    let x = to_local(tz, t);
    let minute = x.time().num_seconds_from_midnight() / 60;
    let (today, yesterday) = (x.date().weekday(), x.date().pred_opt().map(|d| d.weekday()));
    windows.iter().any(|w| {
        let crosses = w.to <= w.from;
        let started_today = w.on(today) && minute >= w.from && (crosses || minute < w.to);
        let from_yesterday = crosses && minute < w.to && yesterday.is_some_and(|d| w.on(d));
        started_today || from_yesterday
    })
}

/// Sorts spans and merges those that overlap or touch.
pub fn union(mut spans: Vec<Span>) -> Vec<Span> {
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
