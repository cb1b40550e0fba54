//! Active windows: the weekdays and times of day when a layer is on duty.
//!
//! A window is written in the rota's local time: `{days: [mon, tue], from:
//! "08:00", to: "20:00"}`. When `to` is not after `from` the window crosses
//! midnight and ends the next day (`from: "20:00", to: "08:00"` on `fri` runs
//! from Friday 20:00 to Saturday 08:00). A window may also run from a weekday
//! and time to a weekday and time (`from: "fri 18:00", to: "mon 08:00"`),
//! over several days: it starts on its one day and its `to` counts on from
//! that day's midnight, past 24:00. Window edges are read as instants by the
//! same DST policy as hand-offs.

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
    /// Minutes after the local midnight that starts the window's day: up to
    /// 1440 (24:00) for a window within the day, or one that crosses
    /// midnight (`to <= from`); beyond 1440, up to a week later, for one
    /// that ends on a later day (`2 * 1440 + 480` is 08:00 two days on).
    pub to: u32,
}

impl ActiveWindow {
    /// Whether the window starts on weekday `day`.
    pub fn on(&self, day: Weekday) -> bool {
        self.days[day.num_days_from_monday() as usize]
    }

    /// Where the window ends, in minutes after the midnight that starts its day.
    fn end(&self) -> u32 {
        if self.to > self.from { self.to } else { self.to + 1440 }
    }

    /// How many midnights the window runs past (0 within a day).
    fn nights(&self) -> u32 {
        (self.end() - 1) / 1440
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
        let start = at(date, self.from);
        let span = Span::new(start, at(date, self.end()));
        (!span.is_empty()).then_some(span)
    }
}

/// The union of the windows' occurrences within `range`, sorted and merged.
pub fn active_spans(tz: Tz, windows: &[ActiveWindow], range: Span) -> Vec<Span> {
    if range.is_empty() {
        return Vec::new();
    }
    // A window starting as many days before the range as it runs past
    // midnights can reach into it, and one more for a skipped day.
    let back = windows.iter().map(|w| w.nights() + 1).max().unwrap_or(0).max(2);
    let first = to_local(tz, range.start).date() - Duration::days(i64::from(back));
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
    // Otherwise every edge near `t` is plain local time, and an edge further
    // than the offset spread reads on the same side of `t` as its wall-clock
    // time does: compare wall clocks. `t` is `nights * 1440 + minute` into
    // the window that started `nights` days before its date, if any did.
    let x = to_local(tz, t);
    let minute = x.time().num_seconds_from_midnight() / 60;
    windows.iter().any(|w| {
        let mut day = Some(x.date());
        for nights in 0..=w.nights() {
            let Some(d) = day else { return false };
            let into = nights * 1440 + minute;
            if w.on(d.weekday()) && into >= w.from && into < w.end() {
                return true;
            }
            day = d.pred_opt();
        }
        false
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
