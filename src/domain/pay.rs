//! Paying people for on-call: the pay rules and [`tally`], which turns a
//! month's on-call intervals and pages into one row per person (or per person
//! and rota).
//!
//! `tally` does not know where the intervals come from: `oncall pay --source
//! schedule` takes them from the rotas ([`schedule_intervals`]), the ledger
//! from what the daemon recorded. Either way an [`Interval`] is one person on
//! call on one rota for a span, overrides already applied, and a [`Page`] is one
//! page that reached a person.
//!
//! How a month is paid (`docs/pay.md` says the same for people):
//! - Everything is counted on UTC instants, to the second, so days of 23 and 25
//!   hours count what they really last. The month is a [`Span`] the caller
//!   computes in the payroll zone ([`month_span`]); intervals are clipped to it.
//! - Each second a person is on call on a rota has a rate: the base rate (the
//!   person's own rate if they have one, else the rota's), changed by the day:
//!   on a public holiday of the person's region (a date in the rota's zone) the
//!   holiday's effect; otherwise the first time rule (weekday and time of day in
//!   the rota's zone) that matches; otherwise the base rate.
//! - A second covered by several rotas for one person is paid once, at the
//!   highest of their rates; on a tie the rota first in (team, rota) order. With
//!   rows per rota, the second is counted under the rota that paid it.
//! - Flat fees: a rota's `shift_fee` for every shift that starts in the month
//!   (a shift is an unbroken stretch of one person on one rota); a call-out fee
//!   for every call-out (pages acknowledged out of hours, whose paid periods
//!   overlap, are one call-out), plus its time at the call-out rate, at least
//!   the minimum.
//! - The monthly cap limits a person's total (hours, fees and call-outs).
//! - Money is exact ([`Money`]) until a row is printed; then it is rounded once
//!   to the currency's minor unit, half away from zero.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;

use super::rota::PersonId;
use super::schedule::{Person, Schedule};
use super::time::{Instant, Span, merge_spans, resolve_local, subtract_spans, to_local};
use super::window::{ActiveWindow, active_spans, is_active};

/// One millionth: rates, fees and multipliers are written with up to six
/// decimals and kept as whole millionths.
pub const MICRO: i64 = 1_000_000;

/// Exact money: one unit is 1 / (10^12 * 3600) of the currency's major unit.
/// A rate in millionths, times a multiplier in millionths, times whole seconds,
/// is a whole number of these, so nothing is rounded before the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub i128);

/// [`Money`] units in one major unit of the currency.
const PER_MAJOR: i128 = (MICRO as i128) * (MICRO as i128) * 3600;

impl Money {
    pub const ZERO: Money = Money(0);

    /// An amount written in millionths of the major unit (a fee, a cap).
    pub fn from_micros(micros: i64) -> Money {
        Money(i128::from(micros) * PER_MAJOR / i128::from(MICRO))
    }

    /// The amount in minor units (`digits` decimals), rounded half away from
    /// zero. `digits` is at most 6.
    pub fn round(self, digits: u32) -> i128 {
        let unit = PER_MAJOR / 10i128.pow(digits);
        let (q, r) = (self.0 / unit, self.0 % unit);
        if 2 * r.abs() >= unit { q + self.0.signum() } else { q }
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, other: Money) -> Money {
        Money(self.0 + other.0)
    }
}

impl std::ops::AddAssign for Money {
    fn add_assign(&mut self, other: Money) {
        self.0 += other.0;
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, other: Money) -> Money {
        Money(self.0 - other.0)
    }
}

/// An hourly rate, exact: 10^-12 of the major unit per hour, so that
/// `rate * seconds` is [`Money`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(pub i128);

impl Rate {
    /// A rate written in millionths of the major unit per hour.
    pub fn from_micros(micros: i64) -> Rate {
        Rate(i128::from(micros) * i128::from(MICRO))
    }

    /// What `seconds` at this rate earn.
    pub fn times(self, seconds: i64) -> Money {
        Money(self.0 * i128::from(seconds))
    }
}

/// The currency amounts are paid in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Currency {
    /// ISO 4217 code, e.g. `EUR`.
    pub code: String,
    /// Decimals of the minor unit: 2 for EUR, 0 for JPY. At most 6.
    pub digits: u32,
}

impl Currency {
    /// `amount`, rounded to the minor unit, as text: `1234.50`, `-0.05`, `1200`.
    pub fn format(&self, amount: Money) -> String {
        format_minor(amount.round(self.digits), self.digits)
    }
}

/// `minor` minor units with `digits` decimals as text.
pub fn format_minor(minor: i128, digits: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if digits == 0 {
        return format!("{sign}{abs}");
    }
    let unit = 10u128.pow(digits);
    format!("{sign}{}.{:0width$}", abs / unit, abs % unit, width = digits as usize)
}

/// Seconds as hours with six decimals (rounded half up): `167.000000`.
pub fn format_hours(seconds: i64) -> String {
    let micro_hours = (i128::from(seconds) * 1_000_000 * 2 + 3600) / (2 * 3600);
    format!("{}.{:06}", micro_hours / 1_000_000, micro_hours % 1_000_000)
}

/// How a time rule or a holiday changes the base rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The base rate times this many millionths (1.5 is 1_500_000).
    Multiply(i64),
    /// This rate instead, in millionths per hour, whatever the base.
    Rate(i64),
}

impl Effect {
    fn apply(self, base_micros: i64) -> Rate {
        match self {
            Effect::Multiply(m) => Rate(i128::from(base_micros) * i128::from(m)),
            Effect::Rate(r) => Rate::from_micros(r),
        }
    }
}

/// What a rota pays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotaPay {
    /// The base hourly rate, in millionths (from the rota's own `rate`, or its
    /// expectation level's).
    pub rate: i64,
    /// The level the rate came from, if any (for readers).
    pub level: Option<String>,
    /// A flat fee for each shift that starts in the month, in millionths.
    pub shift_fee: i64,
}

/// What is particular to one person.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonPay {
    /// Replaces the rota's base rate on every rota, in millionths per hour.
    pub rate: Option<i64>,
    /// Replaces the installation's monthly cap, in millionths.
    pub cap: Option<i64>,
}

/// A rule that changes the rate by weekday and time of day, in the rota's zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeRule {
    pub name: String,
    /// When it applies (the windows' union), as rota active windows are read.
    pub windows: Vec<ActiveWindow>,
    pub effect: Effect,
}

/// Pay for being called out: a page acknowledged outside working hours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Callout {
    /// Flat fee per call-out, in millionths.
    pub fee: i64,
    /// Hourly rate for the call-out's time, in millionths.
    pub rate: i64,
    /// A call-out is paid for at least this long.
    pub minimum: Duration,
}

/// Every rule of `pay.yaml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayRules {
    pub currency: Currency,
    /// The zone whose midnights bound the month.
    pub payroll_tz: Tz,
    /// (team, rota) → what it pays. A rota not listed pays nothing per hour.
    pub rotas: BTreeMap<(String, String), RotaPay>,
    pub people: BTreeMap<PersonId, PersonPay>,
    /// In order: the first that matches a second sets its rate.
    pub rules: Vec<TimeRule>,
    /// Region → its public holidays (dates in the rota's zone).
    pub holidays: BTreeMap<String, BTreeSet<NaiveDate>>,
    /// How a holiday changes the base rate (it replaces the time rules).
    pub holiday_effect: Effect,
    /// The region of people who do not name one.
    pub default_region: Option<String>,
    pub callout: Option<Callout>,
    /// When people work anyway, in their own zone: a page outside these
    /// windows is out of hours (and, acknowledged, a call-out).
    pub working_hours: Vec<ActiveWindow>,
    /// The most a person is paid in a month, in millionths.
    pub cap: Option<i64>,
    /// What an hour of shadowing pays, in millionths (default 0): flat, no
    /// time rules, no holidays, no shift fees.
    pub shadow_rate: i64,
}

impl PayRules {
    /// Rules that pay nothing, in `currency`: a start for tests and examples.
    pub fn new(currency: Currency) -> PayRules {
        PayRules {
            currency,
            payroll_tz: Tz::UTC,
            rotas: BTreeMap::new(),
            people: BTreeMap::new(),
            rules: Vec::new(),
            holidays: BTreeMap::new(),
            holiday_effect: Effect::Multiply(MICRO),
            default_region: None,
            callout: None,
            working_hours: default_working_hours(),
            cap: None,
            shadow_rate: 0,
        }
    }

    /// Whether a page at `t` to someone in zone `tz` is out of hours.
    pub fn out_of_hours(&self, tz: Tz, t: Instant) -> bool {
        !is_active(tz, &self.working_hours, t)
    }
}

/// Monday to Friday, 09:00 to 17:00.
pub fn default_working_hours() -> Vec<ActiveWindow> {
    let mut days = [true; 7];
    days[5] = false;
    days[6] = false;
    vec![ActiveWindow {
        days,
        from: 9 * 60,
        to: 17 * 60,
    }]
}

/// One person on call on one rota for a while, overrides applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interval {
    pub person: PersonId,
    pub team: String,
    pub rota: String,
    /// The rota's zone: weekdays, times of day and holidays are read in it.
    pub tz: Tz,
    /// May reach outside the month; only the part inside is paid. A shift fee
    /// is due when the (merged) shift starts inside the month.
    pub span: Span,
    /// Shadowing (learning the rota), not on call: counted and paid apart.
    pub shadow: bool,
}

/// A page that reached a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub person: PersonId,
    pub at: Instant,
    pub severity: String,
    pub acknowledged_at: Option<Instant>,
    /// When the alert was resolved; the call-out lasts from the
    /// acknowledgement to here (at least the minimum).
    pub resolved_at: Option<Instant>,
    /// Outside the person's working hours (the caller decides, in the
    /// person's zone).
    pub out_of_hours: bool,
    /// The rota that paged them, if known: with rows per rota, the page is
    /// counted there (else on the person's row without a rota).
    pub team: Option<String>,
    pub rota: Option<String>,
}

/// One row per person, or one per person and rota.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Person,
    Rota,
}

/// Seconds on call, by kind of day. `weekday + weekend + holiday == total`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seconds {
    pub total: i64,
    pub weekday: i64,
    pub weekend: i64,
    pub holiday: i64,
}

/// A kind of day, in the rota's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayKind {
    Weekday,
    Weekend,
    Holiday,
}

impl Seconds {
    fn add(&mut self, kind: DayKind, seconds: i64) {
        self.total += seconds;
        match kind {
            DayKind::Weekday => self.weekday += seconds,
            DayKind::Weekend => self.weekend += seconds,
            DayKind::Holiday => self.holiday += seconds,
        }
    }
}

/// What a row adds up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub seconds: Seconds,
    /// Shifts that started in the month.
    pub shifts: u32,
    pub pages: u32,
    pub pages_out_of_hours: u32,
    pub callouts: u32,
    /// Paid call-out time (each at least the minimum; overlaps once).
    pub callout_seconds: i64,
    /// Pay for the hours on call.
    pub on_call: Money,
    pub shift_fees: Money,
    /// Call-out fees and call-out time.
    pub callout_pay: Money,
    /// What the monthly cap took off (zero or positive).
    pub cap_deduction: Money,
    /// Seconds shadowing, not on call (never counted in `seconds`).
    pub shadow_seconds: i64,
    /// Pay for them, at `shadow_rate`.
    pub shadow_pay: Money,
}

impl Totals {
    /// What is paid: everything, less the cap's deduction.
    pub fn amount(&self) -> Money {
        self.on_call + self.shift_fees + self.callout_pay + self.shadow_pay - self.cap_deduction
    }

    fn absorb(&mut self, o: &Totals) {
        self.seconds.total += o.seconds.total;
        self.seconds.weekday += o.seconds.weekday;
        self.seconds.weekend += o.seconds.weekend;
        self.seconds.holiday += o.seconds.holiday;
        self.shifts += o.shifts;
        self.pages += o.pages;
        self.pages_out_of_hours += o.pages_out_of_hours;
        self.callouts += o.callouts;
        self.callout_seconds += o.callout_seconds;
        self.on_call += o.on_call;
        self.shift_fees += o.shift_fees;
        self.callout_pay += o.callout_pay;
        self.cap_deduction += o.cap_deduction;
        self.shadow_seconds += o.shadow_seconds;
        self.shadow_pay += o.shadow_pay;
    }
}

/// One line of the export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub person: PersonId,
    /// From people.yaml; the id if the person is not there (any more).
    pub name: String,
    /// The teams of the row: with rows per person, every team the person was
    /// on call for (sorted); with rows per rota, the rota's team, or none on
    /// the row that holds what belongs to no rota.
    pub teams: Vec<String>,
    /// With rows per rota: the rota (`None` on the row that holds pages
    /// without a rota and the cap's deduction).
    pub rota: Option<String>,
    pub totals: Totals,
}

/// A calendar month, as payroll counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1-12.
    pub month: u32,
}

impl Month {
    /// Months since year 0: a number that orders months and survives a
    /// restart (kept as the export's cursor).
    pub fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }

    pub fn from_index(index: i64) -> Option<Month> {
        let year = i32::try_from(index.div_euclid(12)).ok()?;
        Some(Month {
            year,
            month: index.rem_euclid(12) as u32 + 1,
        })
    }

    pub fn next(self) -> Month {
        Month::from_index(self.index() + 1).unwrap_or(self)
    }

    pub fn previous(self) -> Month {
        Month::from_index(self.index() - 1).unwrap_or(self)
    }

    /// The month that `t` falls in, in `tz`.
    pub fn of(tz: Tz, t: Instant) -> Month {
        let local = to_local(tz, t);
        Month {
            year: local.year(),
            month: local.month(),
        }
    }

    /// Its span in `tz` (see [`month_span`]).
    pub fn span(self, tz: Tz) -> Option<Span> {
        month_span(tz, self.year, self.month)
    }

    /// `2026-03`, as written on a command line or in a URL.
    pub fn parse(s: &str) -> Result<Month, String> {
        let bad = || format!("`{s}` is not a month: write it as YYYY-MM, like 2026-03");
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Month { year, month })
    }

    /// `2026-03`.
    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// When the automatic export of `month` is due: on the 1st of the next
/// month at `at` (minutes after local midnight) in `tz`. A time the clocks
/// skip is read as the instant they jump to.
pub fn export_due(tz: Tz, at: u32, month: Month) -> Option<Instant> {
    let next = month.next();
    let first = NaiveDate::from_ymd_opt(next.year, next.month, 1)?;
    let time = NaiveTime::from_num_seconds_from_midnight_opt(at.min(24 * 60 - 1) * 60, 0)?;
    Some(resolve_local(tz, first.and_time(time)))
}

/// The month the automatic export should write at `now`, if any: the first
/// after `done` (the last one written) whose export is due.
pub fn export_to_write(tz: Tz, at: u32, done: Month, now: Instant) -> Option<Month> {
    let next = done.next();
    (export_due(tz, at, next)? <= now).then_some(next)
}

/// The instants that bound month `month` (1-12) of `year` in `tz`: from its
/// first local midnight to the next month's.
pub fn month_span(tz: Tz, year: i32, month: u32) -> Option<Span> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    Some(Span::new(
        resolve_local(tz, first.and_time(NaiveTime::MIN)),
        resolve_local(tz, next.and_time(NaiveTime::MIN)),
    ))
}

/// The intervals of `month` from the rotas (of `team`, if given), overrides
/// applied. The rotas are expanded from a day before the month, so that a shift
/// running into the month is seen to have started before it.
pub fn schedule_intervals(schedule: &Schedule, month: Span, team: Option<&str>) -> Vec<Interval> {
    let range = Span::new(month.start - Duration::days(1), month.end);
    schedule
        .rotas(team)
        .flat_map(|(t, r)| {
            let on_call = r.expand(range).into_iter().filter_map(move |tile| {
                Some(Interval {
                    person: tile.user?,
                    team: t.name.clone(),
                    rota: r.name.clone(),
                    tz: t.tz,
                    span: tile.span,
                    shadow: false,
                })
            });
            let shadowing = r.shadow_tiles(range).into_iter().map(move |tile| Interval {
                person: tile.user,
                team: t.name.clone(),
                rota: r.name.clone(),
                tz: t.tz,
                span: tile.span,
                shadow: true,
            });
            on_call.chain(shadowing)
        })
        .collect()
}

/// A stretch of a rota's calendar with one kind of day and one rule.
#[derive(Clone, Copy, Debug)]
struct Segment {
    span: Span,
    kind: DayKind,
    /// The time rule in force (`None`: none, or a holiday).
    rule: Option<usize>,
}

/// The month cut into [`Segment`]s for one zone and one set of holidays,
/// sorted and tiling the month.
fn calendar(rules: &PayRules, tz: Tz, holidays: Option<&BTreeSet<NaiveDate>>, month: Span) -> Vec<Segment> {
    let rule_spans: Vec<Vec<Span>> = rules
        .rules
        .iter()
        .map(|r| active_spans(tz, &r.windows, month))
        .collect();
    let midnight = |d: NaiveDate| resolve_local(tz, d.and_time(NaiveTime::MIN));
    let mut out = Vec::new();
    let last = to_local(tz, month.end).date() + Duration::days(1);
    let mut date = to_local(tz, month.start).date() - Duration::days(1);
    while date <= last {
        let next = date + Duration::days(1);
        let day = Span::new(midnight(date), midnight(next)).intersect(&month);
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        if day.is_empty() {
            // Nothing of this date is in the month.
        } else if holidays.is_some_and(|h| h.contains(&date)) {
            out.push(Segment {
                span: day,
                kind: DayKind::Holiday,
                rule: None,
            });
        } else {
            let kind = if weekend { DayKind::Weekend } else { DayKind::Weekday };
            let mut rest = vec![day];
            for (i, spans) in rule_spans.iter().enumerate() {
                for span in intersect_all(&rest, spans) {
                    out.push(Segment {
                        span,
                        kind,
                        rule: Some(i),
                    });
                }
                rest = subtract_spans(&rest, spans);
            }
            out.extend(rest.into_iter().map(|span| Segment { span, kind, rule: None }));
        }
        date = next;
    }
    out.sort_by_key(|s| s.span.start);
    out
}

/// The overlaps of two sorted lists of disjoint spans.
fn intersect_all(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            let s = x.intersect(y);
            if !s.is_empty() {
                out.push(s);
            }
        }
    }
    out.sort();
    out
}

/// A priced stretch of one rota for one person.
struct Piece {
    span: Span,
    rate: Rate,
    kind: DayKind,
    slot: usize,
}

/// One person's intervals on one rota, with the rota's zone.
type RotaSpans = (Tz, Vec<Span>);

/// A person's rows in the making: one accumulator per (team, rota), and
/// `None` for what belongs to no rota.
type Slots = BTreeMap<Option<(String, String)>, Totals>;

/// The pay rows of `month` for `intervals` and `pages` under `rules`, sorted
/// by person (then team and rota). People with neither interval nor page in
/// the month have no row. Pure: the same inputs give the same rows.
pub fn tally(
    rules: &PayRules,
    month: Span,
    people: &BTreeMap<PersonId, Person>,
    intervals: &[Interval],
    pages: &[Page],
    by: By,
) -> Vec<Row> {
    // Each person's rotas, with their intervals merged into shifts.
    let mut shifts: BTreeMap<&str, BTreeMap<(&str, &str), RotaSpans>> = BTreeMap::new();
    // Shadowing, apart: each person's spans per (team, rota).
    let mut shadowing: BTreeMap<&str, BTreeMap<(&str, &str), Vec<Span>>> = BTreeMap::new();
    for i in intervals
        .iter()
        .filter(|i| i.shadow && !i.span.intersect(&month).is_empty())
    {
        shadowing
            .entry(i.person.as_str())
            .or_default()
            .entry((i.team.as_str(), i.rota.as_str()))
            .or_default()
            .push(i.span.intersect(&month));
    }
    for i in intervals.iter().filter(|i| !i.shadow && !i.span.is_empty()) {
        let entry = shifts
            .entry(i.person.as_str())
            .or_default()
            .entry((i.team.as_str(), i.rota.as_str()))
            .or_insert((i.tz, Vec::new()));
        entry.1.push(i.span);
    }
    let mut pages_of: BTreeMap<&str, Vec<&Page>> = BTreeMap::new();
    for p in pages.iter().filter(|p| month.contains(p.at)) {
        pages_of.entry(p.person.as_str()).or_default().push(p);
    }
    let everyone: BTreeSet<&str> = shifts
        .keys()
        .chain(pages_of.keys())
        .chain(shadowing.keys())
        .copied()
        .collect();
    let in_month = |spans: &RotaSpans| spans.1.iter().any(|s| !s.intersect(&month).is_empty());

    let mut calendars: HashMap<(Tz, Option<&str>), Vec<Segment>> = HashMap::new();
    let mut rows = Vec::new();
    for person in everyone {
        let on_call = shifts.get(person).is_some_and(|rotas| rotas.values().any(in_month));
        if !on_call && !pages_of.contains_key(person) && !shadowing.contains_key(person) {
            continue;
        }
        let known = people.get(person);
        let region = known
            .and_then(|p| p.region.as_deref())
            .or(rules.default_region.as_deref());
        let own = rules.people.get(person);
        let mut slots: Slots = BTreeMap::new();

        // Hours: price every stretch of every rota, then pay each second once.
        let mut pieces = Vec::new();
        let mut keys: Vec<(String, String)> = Vec::new();
        for ((team, rota), (tz, spans)) in shifts.get(person).into_iter().flatten() {
            // Intervals outside the month still tell where a shift started;
            // a rota the person did not hold in the month has no row.
            let merged = merge_spans(spans.clone());
            if merged.iter().all(|s| s.intersect(&month).is_empty()) {
                continue;
            }
            let slot = keys.len();
            keys.push((team.to_string(), rota.to_string()));
            let pay = rules.rotas.get(&(team.to_string(), rota.to_string()));
            let base = own.and_then(|o| o.rate).or(pay.map(|p| p.rate)).unwrap_or(0);
            let fee = pay.map_or(0, |p| p.shift_fee);
            let totals = slots.entry(Some(keys[slot].clone())).or_default();
            let holidays = region.and_then(|r| rules.holidays.get(r));
            let segments = calendars
                .entry((*tz, region.filter(|_| holidays.is_some())))
                .or_insert_with(|| calendar(rules, *tz, holidays, month));
            for shift in merged {
                if month.contains(shift.start) {
                    totals.shifts += 1;
                    totals.shift_fees += Money::from_micros(fee);
                }
                let part = shift.intersect(&month);
                if part.is_empty() {
                    continue;
                }
                let first = segments.partition_point(|s| s.span.end <= part.start);
                for seg in segments[first..].iter().take_while(|s| s.span.start < part.end) {
                    let span = seg.span.intersect(&part);
                    if span.is_empty() {
                        continue;
                    }
                    let effect = match seg.kind {
                        DayKind::Holiday => Some(rules.holiday_effect),
                        _ => seg.rule.map(|i| rules.rules[i].effect),
                    };
                    let rate = effect.map_or(Rate::from_micros(base), |e| e.apply(base));
                    pieces.push(Piece {
                        span,
                        rate,
                        kind: seg.kind,
                        slot,
                    });
                }
            }
        }
        for (piece, seconds) in pay_once(pieces) {
            let totals = slots.entry(Some(keys[piece.slot].clone())).or_default();
            totals.seconds.add(piece.kind, seconds);
            totals.on_call += piece.rate.times(seconds);
        }

        // Shadowing: each second once, never while on call (on-call pay is
        // the higher), counted under the first rota in (team, rota) order.
        let mut taken: Vec<Span> = merge_spans(
            shifts
                .get(person)
                .into_iter()
                .flatten()
                .flat_map(|(_, (_, spans))| spans.iter().map(|s| s.intersect(&month)))
                .filter(|s| !s.is_empty())
                .collect(),
        );
        for ((team, rota), spans) in shadowing.get(person).into_iter().flatten() {
            let mine = subtract_spans(&merge_spans(spans.clone()), &taken);
            let seconds: i64 = mine.iter().map(|s| s.duration().num_seconds()).sum();
            if seconds == 0 {
                continue;
            }
            let totals = slots.entry(Some((team.to_string(), rota.to_string()))).or_default();
            totals.shadow_seconds += seconds;
            totals.shadow_pay += Rate::from_micros(rules.shadow_rate).times(seconds);
            taken = merge_spans(taken.into_iter().chain(mine).collect());
        }

        // Pages and call-outs.
        let mut periods = Vec::new();
        for p in pages_of.get(person).into_iter().flatten() {
            let slot = match (&p.team, &p.rota) {
                (Some(t), Some(r)) => Some((t.clone(), r.clone())),
                _ => None,
            };
            let totals = slots.entry(slot.clone()).or_default();
            totals.pages += 1;
            if !p.out_of_hours {
                continue;
            }
            totals.pages_out_of_hours += 1;
            let Some(ack) = p.acknowledged_at.filter(|a| *a >= p.at) else {
                continue;
            };
            let minimum = rules.callout.as_ref().map_or(Duration::zero(), |c| c.minimum);
            let end = p.resolved_at.unwrap_or(ack).max(ack + minimum);
            periods.push((Span::new(ack, end), slot));
        }
        periods.sort_by_key(|(span, _)| span.start);
        let mut group: Option<(Span, Option<(String, String)>)> = None;
        let close = |group: Option<(Span, Option<(String, String)>)>, slots: &mut Slots| {
            if let Some((span, slot)) = group {
                let seconds = span.duration().num_seconds();
                let totals = slots.entry(slot).or_default();
                totals.callouts += 1;
                totals.callout_seconds += seconds;
                if let Some(c) = &rules.callout {
                    totals.callout_pay += Money::from_micros(c.fee) + Rate::from_micros(c.rate).times(seconds);
                }
            }
        };
        for (span, slot) in periods {
            group = match group {
                Some((g, s)) if span.start < g.end => Some((Span::new(g.start, g.end.max(span.end)), s)),
                other => {
                    close(other, &mut slots);
                    Some((span, slot))
                }
            };
        }
        close(group, &mut slots);

        // The cap, on the person's whole month.
        let cap = own.and_then(|o| o.cap).or(rules.cap);
        if let Some(cap) = cap {
            let total = slots.values().fold(Money::ZERO, |sum, t| sum + t.amount());
            let cap = Money::from_micros(cap);
            if total > cap {
                slots.entry(None).or_default().cap_deduction = total - cap;
            }
        }

        let name = known.map_or_else(|| person.to_string(), |p| p.name.clone());
        match by {
            By::Person => {
                let mut totals = Totals::default();
                let mut teams = BTreeSet::new();
                for (key, t) in &slots {
                    totals.absorb(t);
                    if let Some((team, _)) = key {
                        teams.insert(team.clone());
                    }
                }
                rows.push(Row {
                    person: person.to_string(),
                    name,
                    teams: teams.into_iter().collect(),
                    rota: None,
                    totals,
                });
            }
            By::Rota => {
                // Rotas in (team, rota) order, then what belongs to none.
                let (rotas, rest): (Vec<_>, Vec<_>) = slots.into_iter().partition(|(k, _)| k.is_some());
                for (key, totals) in rotas.into_iter().chain(rest) {
                    let (teams, rota) = match key {
                        Some((team, rota)) => (vec![team], Some(rota)),
                        None => (Vec::new(), None),
                    };
                    rows.push(Row {
                        person: person.to_string(),
                        name: name.clone(),
                        teams,
                        rota,
                        totals,
                    });
                }
            }
        }
    }
    rows
}

/// Where pieces overlap, only the best paid one (highest rate, then lowest
/// slot) is paid: each returned piece with the seconds it is paid for.
fn pay_once(mut pieces: Vec<Piece>) -> Vec<(Piece, i64)> {
    pieces.sort_by_key(|p| p.span.start);
    let mut bounds: Vec<Instant> = pieces.iter().flat_map(|p| [p.span.start, p.span.end]).collect();
    bounds.sort();
    bounds.dedup();
    let mut paid = vec![0i64; pieces.len()];
    let mut active: Vec<usize> = Vec::new();
    let mut next = 0;
    for w in bounds.windows(2) {
        let (a, b) = (w[0], w[1]);
        active.retain(|&i| pieces[i].span.end > a);
        while next < pieces.len() && pieces[next].span.start <= a {
            if pieces[next].span.end > a {
                active.push(next);
            }
            next += 1;
        }
        let best = active.iter().copied().max_by(|&i, &j| {
            (pieces[i].rate, std::cmp::Reverse(pieces[i].slot))
                .cmp(&(pieces[j].rate, std::cmp::Reverse(pieces[j].slot)))
        });
        if let Some(i) = best {
            paid[i] += (b - a).num_seconds();
        }
    }
    pieces.into_iter().zip(paid).filter(|(_, s)| *s > 0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Instant {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn months_count_across_years() {
        let dec = Month { year: 2026, month: 12 };
        assert_eq!(dec.next(), Month { year: 2027, month: 1 });
        assert_eq!(dec.next().previous(), dec);
        assert_eq!(Month::from_index(dec.index()), Some(dec));
        assert_eq!(dec.label(), "2026-12");
        // 23:30 UTC on the 31st of October is already November in Sydney.
        let t = at("2026-10-31T23:30:00Z");
        assert_eq!(Month::of(Tz::UTC, t), Month { year: 2026, month: 10 });
        assert_eq!(
            Month::of(chrono_tz::Australia::Sydney, t),
            Month { year: 2026, month: 11 }
        );
    }

    /// Data-driven: (payroll zone, export time, last month written, now) →
    /// the month to write.
    #[test]
    fn the_export_is_due_on_the_first_at_the_local_time() {
        let oct = Month { year: 2026, month: 10 };
        let nov = Month { year: 2026, month: 11 };
        let cases: &[(Tz, u32, Month, &str, Option<Month>)] = &[
            // 06:00 in London on 1 November 2026 is 06:00 UTC (GMT again).
            (
                chrono_tz::Europe::London,
                360,
                oct.previous(),
                "2026-11-01T05:59:59Z",
                None,
            ),
            (
                chrono_tz::Europe::London,
                360,
                oct.previous(),
                "2026-11-01T06:00:00Z",
                Some(oct),
            ),
            // Written already: nothing until December.
            (chrono_tz::Europe::London, 360, oct, "2026-11-30T23:00:00Z", None),
            (chrono_tz::Europe::London, 360, oct, "2026-12-01T06:00:00Z", Some(nov)),
            // Down for two months: the oldest first, one at a time.
            (
                chrono_tz::Europe::London,
                360,
                oct.previous(),
                "2027-01-15T12:00:00Z",
                Some(oct),
            ),
            // New York in summer time: 06:00 EDT on 1 October is 10:00 UTC.
            (
                chrono_tz::America::New_York,
                360,
                oct.previous().previous(),
                "2026-10-01T09:59:59Z",
                None,
            ),
            (
                chrono_tz::America::New_York,
                360,
                oct.previous().previous(),
                "2026-10-01T10:00:00Z",
                Some(oct.previous()),
            ),
            // Auckland is ahead of UTC: its 1 December 06:00 is 30 November 17:00 UTC.
            (
                chrono_tz::Pacific::Auckland,
                360,
                oct,
                "2026-11-30T17:00:00Z",
                Some(nov),
            ),
            (chrono_tz::Pacific::Auckland, 360, oct, "2026-11-30T16:59:59Z", None),
        ];
        for (i, (tz, minutes, done, now, want)) in cases.iter().enumerate() {
            assert_eq!(
                export_to_write(*tz, *minutes, *done, at(now)),
                *want,
                "case {i}: {tz} {now}"
            );
        }
    }

    #[test]
    fn rounding_is_half_away_from_zero_once() {
        // 1/3 of an hour at 0.01 per hour: 0.00333..., rounds to 0.00.
        assert_eq!(Rate::from_micros(10_000).times(1200).round(2), 0);
        assert_eq!(Money::from_micros(5_000).round(2), 1);
        assert_eq!(Money(-Money::from_micros(5_000).0).round(2), -1);
        assert_eq!(Money::from_micros(4_999).round(2), 0);
        assert_eq!(format_minor(-5, 2), "-0.05");
        assert_eq!(format_minor(1200, 0), "1200");
        assert_eq!(format_hours(3600 * 167), "167.000000");
        assert_eq!(format_hours(1), "0.000278");
    }

    #[test]
    fn overlapping_pieces_are_paid_once_at_the_higher_rate() {
        let t = |h: i64| Instant::default() + Duration::hours(h);
        let piece = |from, to, rate, slot| Piece {
            span: Span::new(t(from), t(to)),
            rate: Rate(rate),
            kind: DayKind::Weekday,
            slot,
        };
        let paid: Vec<(usize, i64)> = pay_once(vec![piece(0, 10, 1, 0), piece(5, 15, 2, 1), piece(12, 20, 2, 0)])
            .into_iter()
            .map(|(p, s)| (p.slot, s / 3600))
            .collect();
        // [12, 15) is a tie: the lower slot (first in team, rota order) wins.
        assert_eq!(paid, vec![(0, 5), (1, 7), (0, 8)]);
    }
}
