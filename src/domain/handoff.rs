//! The instants at which a rota hands over from one member to the next.
//!
//! A rota's first hand-off is its `start`; the following ones are the
//! occurrences of an RFC 5545 RRULE after it, or, for a turn of a whole
//! number of seconds ([`Handoffs::every`]), the local times `start + k x
//! turn`. Hand-off `j` gives the shift to member `j mod n`.
//!
//! The rule is evaluated in *naive local time*: the `rrule` crate is driven in
//! UTC, where no clock ever jumps, and each naive occurrence is read as local
//! time by [`resolve_local`]. That keeps the DST policy in one place, and
//! avoids the crate's own behaviour around DST (it rejects a DTSTART in a gap
//! and repeats instants on a DST day).
//!
//! Once read as instants, hand-offs can come out of order: a hand-off inside a
//! DST gap is read with the offset before the gap and may land after the next
//! one. We keep the rule's order and say a hand-off happens at the latest of
//! its own instant and every earlier one's (a running maximum); a hand-off that
//! would go back in time yields an empty shift. So the member order never
//! slips because of a clock change.
//!
//! Looking up a hand-off never walks the rule from its start, which would cost
//! time in proportion to the rota's age. Most rotas (DAILY, WEEKLY, HOURLY,
//! MINUTELY rules with plain BYDAY/BYHOUR/BYMINUTE/BYSECOND filters, no COUNT or
//! UNTIL) repeat exactly every `lcm(interval, 1 week)` of naive time; for them
//! the occurrences of the first period are computed once and every other one
//! is arithmetic. Other rules (MONTHLY, YEARLY, COUNT, UNTIL, BYSETPOS, ...)
//! keep a list of occurrences, pulled from the rule's iterator as far as a
//! question needs, and binary-search it.
//!
//! A walk through many hand-offs in order (a layer's shifts over a window,
//! [`Handoffs::instant_with`]) reads their local times with a
//! [`LocalReader`]: by arithmetic, in seconds, away from clock changes, and
//! the long way above only near one.

use std::sync::Mutex;

use chrono::{Datelike, Duration, NaiveDateTime, TimeZone, Timelike};
use chrono_tz::Tz;
use rrule::{Frequency, NWeekday, RRule, RRuleSet, RRuleSetIter, Unvalidated};

use super::rule_grammar;
use super::time::{Instant, LocalReader, MAX_OFFSET_SPREAD, offset_at, quiet_offset, resolve_local, to_local};

/// More occurrences than this in one period and the rule is kept as a list.
const MAX_SLOTS: usize = 20_000;
/// A listed rule never holds more occurrences than this.
const MAX_LISTED: usize = 2_000_000;
/// A listed rule may hand off at most this many times in a year (about
/// hourly), and a rota may start from [`EARLIEST_START`] to [`LATEST_START`]:
/// so a listed rule reaches today within `MAX_LISTED` occurrences, and
/// a question costs a bounded walk, never a silent end of the rota.
pub const MAX_LISTED_PER_YEAR: usize = 10_000;
pub const EARLIEST_START: i32 = 1970;
pub const LATEST_START: i32 = 2199;

/// Why a hand-off rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("invalid RRULE: {0}")]
    Invalid(String),
    #[error("FREQ=SECONDLY is not supported: shifts that short cannot be staffed")]
    Secondly,
    #[error("the rule never hands off after the rota's start")]
    NeverHandsOff,
    #[error(
        "the rule hands off more than {MAX_LISTED_PER_YEAR} times in its first year; a rule this dense is only supported as a plain repetition (`every: 30m`, or FREQ=MINUTELY or HOURLY with no filters but BYDAY, BYHOUR and BYMINUTE)"
    )]
    TooDense,
    #[error("a rota must start between {EARLIEST_START} and {LATEST_START}")]
    StartOutOfRange,
}

/// The hand-off instants of one rota layer.
#[derive(Debug)]
pub struct Handoffs {
    tz: Tz,
    start: NaiveDateTime,
    /// `start` as an instant.
    start_instant: Instant,
    rule: Occurrences,
    /// 1 when the rule's first occurrence is the start itself (it is hand-off 0
    /// already, not hand-off 1).
    skip: u64,
    /// Indices of rule occurrences that are *not* hand-offs (EXDATE-style
    /// exclusions), sorted: the member on call keeps the shift until the next
    /// hand-off.
    except: Vec<u64>,
}

#[derive(Debug)]
enum Occurrences {
    /// Occurrence `m` is `base + (m / k) * period + slots[m % k]`.
    Periodic {
        base: NaiveDateTime,
        period: Duration,
        slots: Vec<Duration>,
        /// The same in seconds (of the naive clock, from 1970), for walks
        /// through many hand-offs.
        seconds: PeriodicSeconds,
    },
    /// Occurrences listed from the rule, grown on demand.
    Listed(Box<Mutex<Listed>>),
}

#[derive(Debug)]
struct PeriodicSeconds {
    base: i64,
    period: i64,
    slots: Vec<i64>,
}

/// A rule's occurrences, pulled from its iterator as far as asked.
struct Listed {
    iter: RRuleSetIter,
    items: Vec<NaiveDateTime>,
    /// The rule has no occurrences after the last of `items`.
    exhausted: bool,
}

impl std::fmt::Debug for Listed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listed")
            .field("items", &self.items.len())
            .field("exhausted", &self.exhausted)
            .finish()
    }
}

impl Handoffs {
    /// Hand-offs from `start` (local time in `tz`) following `rrule`
    /// (e.g. `FREQ=WEEKLY;BYDAY=MO`, with or without the `RRULE:` prefix).
    pub fn new(tz: Tz, start: NaiveDateTime, rrule: &str) -> Result<Handoffs, RuleError> {
        Self::with_exceptions(tz, start, rrule, &[])
    }

    /// As [`Handoffs::new`], skipping the hand-offs at the given local times.
    pub fn with_exceptions(
        tz: Tz,
        start: NaiveDateTime,
        rrule: &str,
        except: &[NaiveDateTime],
    ) -> Result<Handoffs, RuleError> {
        if !(EARLIEST_START..=LATEST_START).contains(&start.year()) {
            return Err(RuleError::StartOutOfRange);
        }
        let text = rrule.trim();
        let text = text.strip_prefix("RRULE:").unwrap_or(text);
        // The crate's parser can panic on text outside the grammar.
        rule_grammar::check(text).map_err(RuleError::Invalid)?;
        let text = until_as_naive(text);
        let parsed: RRule<Unvalidated> = text
            .parse()
            .map_err(|e: rrule::RRuleError| RuleError::Invalid(e.to_string()))?;
        let dtstart = rrule::Tz::UTC.from_utc_datetime(&start);
        let rule = parsed
            .validate(dtstart)
            .map_err(|e| RuleError::Invalid(e.to_string()))?;
        if rule.get_freq() == Frequency::Secondly {
            return Err(RuleError::Secondly);
        }
        let periodic = periodic_step(&rule);
        let set = RRuleSet::new(dtstart).rrule(rule);
        let rule = match periodic {
            Some(period) => {
                let slots: Vec<Duration> = (&set)
                    .into_iter()
                    .map(|d| d.naive_utc())
                    .take_while(|d| *d < start + period)
                    .take(MAX_SLOTS + 1)
                    .map(|d| d - start)
                    .collect();
                if slots.is_empty() {
                    return Err(RuleError::NeverHandsOff);
                }
                if slots.len() > MAX_SLOTS {
                    Occurrences::Listed(Box::new(Mutex::new(Listed::new(set))))
                } else {
                    let seconds = PeriodicSeconds {
                        base: start.and_utc().timestamp(),
                        period: period.num_seconds(),
                        slots: slots.iter().map(Duration::num_seconds).collect(),
                    };
                    Occurrences::Periodic {
                        base: start,
                        period,
                        slots,
                        seconds,
                    }
                }
            }
            None => Occurrences::Listed(Box::new(Mutex::new(Listed::new(set)))),
        };
        if let Occurrences::Listed(listed) = &rule {
            let mut listed = listed.lock().unwrap_or_else(|e| e.into_inner());
            let year_on = start + Duration::days(366);
            if listed.count_at_or_before_at_most(year_on, MAX_LISTED_PER_YEAR) > MAX_LISTED_PER_YEAR {
                return Err(RuleError::TooDense);
            }
        }
        Self::finish(tz, start, rule, except)
    }

    /// Hand-offs from `start` (local time in `tz`) every `turn` seconds of
    /// wall-clock time: hand-off `k` is at the local time `start + k x turn`,
    /// read by the one DST policy, as for a rule (so `every: 25h`, whose rule
    /// is `FREQ=HOURLY;INTERVAL=25`, and a turn of 90 000 seconds hand off
    /// at the same instants). Skips the hand-offs at the local times `except`.
    pub fn every(tz: Tz, start: NaiveDateTime, turn: i64, except: &[NaiveDateTime]) -> Result<Handoffs, RuleError> {
        if !(EARLIEST_START..=LATEST_START).contains(&start.year()) {
            return Err(RuleError::StartOutOfRange);
        }
        if turn < 60 {
            return Err(RuleError::Secondly);
        }
        // One occurrence a period, at its start: `start` itself is occurrence 0.
        let rule = Occurrences::Periodic {
            base: start,
            period: Duration::seconds(turn),
            slots: vec![Duration::zero()],
            seconds: PeriodicSeconds {
                base: start.and_utc().timestamp(),
                period: turn,
                slots: vec![0],
            },
        };
        Self::finish(tz, start, rule, except)
    }

    /// The hand-offs of `rule`'s occurrences from `start`, without those at
    /// `except`.
    fn finish(
        tz: Tz,
        start: NaiveDateTime,
        rule: Occurrences,
        except: &[NaiveDateTime],
    ) -> Result<Handoffs, RuleError> {
        let mut handoffs = Handoffs {
            start_instant: resolve_local(tz, start),
            tz,
            start,
            rule,
            skip: 0,
            except: Vec::new(),
        };
        handoffs.skip = u64::from(handoffs.occurrence(0) == Some(start));
        let mut excluded: Vec<u64> = except
            .iter()
            .filter(|n| **n > start)
            .filter_map(|n| handoffs.occurrence_index(*n))
            .collect();
        excluded.sort_unstable();
        excluded.dedup();
        handoffs.except = excluded;
        if handoffs.naive(1).is_none() {
            return Err(RuleError::NeverHandsOff);
        }
        Ok(handoffs)
    }

    /// Whether the rule hands off at naive local time `n` (after the start).
    pub fn is_rule_handoff(&self, n: NaiveDateTime) -> bool {
        n > self.start && self.occurrence_index(n).is_some()
    }

    /// The time zone the rule is read in.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The naive local time of hand-off `j`, or `None` if the rule ended
    /// before it.
    pub fn naive(&self, j: u64) -> Option<NaiveDateTime> {
        if j == 0 {
            return Some(self.start);
        }
        // Occurrence m is hand-off m + 1 - skip, once the excluded
        // occurrences at or before it are stepped over.
        let mut m = j - 1 + self.skip;
        for e in &self.except {
            if *e <= m {
                m += 1;
            }
        }
        self.occurrence(m)
    }

    /// [`Handoffs::naive`] in seconds of the naive clock from 1970, by
    /// integer arithmetic for a periodic rule.
    fn naive_seconds(&self, j: u64) -> Option<i64> {
        let Occurrences::Periodic { seconds, slots, .. } = &self.rule else {
            return self.naive(j).map(|n| n.and_utc().timestamp());
        };
        if j == 0 || self.start.nanosecond() != 0 {
            return self.naive(j).map(|n| n.and_utc().timestamp());
        }
        let mut m = j - 1 + self.skip;
        for e in &self.except {
            if *e <= m {
                m += 1;
            }
        }
        // As `occurrence` (a quotient beyond i32 is past chrono's range there).
        let k = slots.len() as u64;
        let q = i64::from(i32::try_from(m / k).ok()?);
        seconds
            .base
            .checked_add(seconds.period.checked_mul(q)?)?
            .checked_add(seconds.slots[(m % k) as usize])
    }

    fn occurrence(&self, m: u64) -> Option<NaiveDateTime> {
        match &self.rule {
            Occurrences::Periodic {
                base, period, slots, ..
            } => {
                let k = slots.len() as u64;
                let q = i32::try_from(m / k).ok()?;
                base.checked_add_signed(period.checked_mul(q)?)?
                    .checked_add_signed(slots[(m % k) as usize])
            }
            Occurrences::Listed(listed) => {
                let mut listed = listed.lock().unwrap_or_else(|e| e.into_inner());
                listed.get(m as usize)
            }
        }
    }

    /// The instant of hand-off `j` as read by the DST policy alone.
    fn raw(&self, j: u64) -> Option<Instant> {
        self.naive(j).map(|n| resolve_local(self.tz, n))
    }

    /// The instant of hand-off `j`: the latest of its own and every earlier
    /// hand-off's (see the module docs), or `None` if the rule ended.
    pub fn instant(&self, j: u64) -> Option<Instant> {
        if j == 0 {
            return Some(self.start_instant);
        }
        let raw = self.raw(j)?;
        // Only a hand-off read shortly after the clocks jumped forward can be
        // overtaken by an earlier one that fell in the gap.
        if j == 0 || offset_at(self.tz, raw - MAX_OFFSET_SPREAD) >= offset_at(self.tz, raw) {
            return Some(raw);
        }
        let naive = self.naive(j)?;
        let mut latest = raw;
        let mut i = j;
        while i > 0 {
            i -= 1;
            let Some(n) = self.naive(i) else { break };
            if n < naive - MAX_OFFSET_SPREAD {
                break;
            }
            latest = latest.max(resolve_local(self.tz, n));
        }
        Some(latest)
    }

    /// [`Handoffs::instant`], reading local time with `reader`: for a walk
    /// through many hand-offs, in order (a layer's shifts over a window).
    pub fn instant_with(&self, j: u64, reader: &mut LocalReader) -> Option<Instant> {
        if j == 0 {
            return Some(self.start_instant);
        }
        // No clock change within the offset spread of the hand-off: it reads
        // as plain local time, and so do the earlier ones near it, in order;
        // none overtakes it (the check at the top of `instant`).
        if let Some(t) = self
            .naive_seconds(j)
            .and_then(|n| reader.quiet_seconds(n))
            .and_then(|t| Instant::from_timestamp(t, 0))
        {
            return Some(t);
        }
        let t = self.instant(j)?;
        reader.learn(t);
        Some(t)
    }

    /// The index of the hand-off in force at `t` (the last one at or before
    /// `t`), or `None` before the first hand-off.
    pub fn index_at(&self, t: Instant) -> Option<u64> {
        if t < self.start_instant {
            return None;
        }
        let x = to_local(self.tz, t);
        let mut j = self.count_at_or_before(x);
        if quiet_offset(self.tz, t).is_some() {
            // No clock change near `t`: every hand-off within the offset
            // spread of `x` reads as plain local time, in order.
            return Some(j);
        }
        // `j` is right unless a hand-off lies within the spread of offsets of
        // `x`; then compare instants.
        while j > 0 {
            let n = self.naive(j)?;
            if x - n > MAX_OFFSET_SPREAD || self.instant(j)? <= t {
                break;
            }
            j -= 1;
        }
        while let Some(n) = self.naive(j + 1) {
            if n - x > MAX_OFFSET_SPREAD {
                break;
            }
            match self.instant(j + 1) {
                Some(next) if next <= t => j += 1,
                _ => break,
            }
        }
        Some(j)
    }

    /// How many hand-offs after the start have a naive time at or before `x`.
    fn count_at_or_before(&self, x: NaiveDateTime) -> u64 {
        if x < self.start {
            return 0;
        }
        let occurrences = self.raw_count_at_or_before(x);
        let excluded = self.except.partition_point(|e| *e < occurrences) as u64;
        occurrences.saturating_sub(self.skip).saturating_sub(excluded)
    }

    /// How many rule occurrences have a naive time at or before `x`.
    fn raw_count_at_or_before(&self, x: NaiveDateTime) -> u64 {
        if x < self.start {
            return 0;
        }
        match &self.rule {
            Occurrences::Periodic {
                base, period, slots, ..
            } => {
                let elapsed = (x - *base).num_seconds();
                let q = elapsed.div_euclid(period.num_seconds());
                let Ok(q32) = i32::try_from(q) else { return 0 };
                let period_start = *base + *period * q32;
                let r = slots.partition_point(|s| period_start + *s <= x) as u64;
                q as u64 * slots.len() as u64 + r
            }
            Occurrences::Listed(listed) => {
                let mut listed = listed.lock().unwrap_or_else(|e| e.into_inner());
                listed.count_at_or_before(x)
            }
        }
    }

    /// The index of the rule occurrence at naive time `n`, if `n` is one.
    fn occurrence_index(&self, n: NaiveDateTime) -> Option<u64> {
        let c = self.raw_count_at_or_before(n);
        (c > 0 && self.occurrence(c - 1) == Some(n)).then(|| c - 1)
    }
}

/// The rule with its UNTIL, if any, written as the crate's UTC form: rules
/// are evaluated in naive local time (see the module docs), so UNTIL is a
/// local wall-clock time, with or without a trailing `Z`. A date alone means
/// the end of that day.
fn until_as_naive(rule: &str) -> String {
    rule.split(';')
        .map(|part| match part.split_once('=') {
            Some((key, value)) if key.eq_ignore_ascii_case("UNTIL") => {
                let value = value.trim_end_matches(['Z', 'z']);
                if value.len() == 8 {
                    format!("UNTIL={value}T235959Z")
                } else {
                    format!("UNTIL={value}Z")
                }
            }
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// The period after which a rule's naive occurrences repeat exactly, if it has one.
fn periodic_step(rule: &RRule) -> Option<Duration> {
    let unit = match rule.get_freq() {
        Frequency::Weekly => 7 * 86_400,
        Frequency::Daily => 86_400,
        Frequency::Hourly => 3_600,
        Frequency::Minutely => 60,
        _ => return None,
    };
    let plain = rule.get_count().is_none()
        && rule.get_until().is_none()
        && rule.get_by_set_pos().is_empty()
        && rule.get_by_month().is_empty()
        && rule.get_by_month_day().is_empty()
        && rule.get_by_year_day().is_empty()
        && rule.get_by_week_no().is_empty()
        && rule.get_by_weekday().iter().all(|d| matches!(d, NWeekday::Every(_)));
    if !plain {
        return None;
    }
    // Day-of-week, hour, minute and second filters repeat every week; the
    // interval repeats every `interval * unit`; both repeat at their lcm.
    let step = i64::from(rule.get_interval()) * unit;
    let week = 7 * 86_400;
    Some(Duration::seconds(step / gcd(step, week) * week))
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl Listed {
    fn new(set: RRuleSet) -> Listed {
        Listed {
            iter: (&set).into_iter(),
            items: Vec::new(),
            exhausted: false,
        }
    }

    /// Pulls one more occurrence; false when the rule has ended.
    fn pull(&mut self) -> bool {
        if self.exhausted || self.items.len() >= MAX_LISTED {
            self.exhausted = true;
            return false;
        }
        match self.iter.next() {
            Some(d) => {
                self.items.push(d.naive_utc());
                true
            }
            None => {
                self.exhausted = true;
                false
            }
        }
    }

    fn get(&mut self, m: usize) -> Option<NaiveDateTime> {
        while self.items.len() <= m && self.pull() {}
        self.items.get(m).copied()
    }

    /// How many occurrences are at or before `x`, counting no further than
    /// `limit + 1`.
    fn count_at_or_before_at_most(&mut self, x: NaiveDateTime, limit: usize) -> usize {
        while self.items.len() <= limit && self.items.last().is_none_or(|last| *last <= x) && self.pull() {}
        self.items.partition_point(|d| *d <= x)
    }

    fn count_at_or_before(&mut self, x: NaiveDateTime) -> u64 {
        while self.items.last().is_none_or(|last| *last <= x) && self.pull() {}
        self.items.partition_point(|d| *d <= x) as u64
    }
}
