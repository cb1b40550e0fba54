//! Parsers for the small text values of the rota format: times, durations,
//! weekdays. Each returns a message a person can act on.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc, Weekday};

use super::diag::shown;

/// A time as written in a rota file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrittenTime {
    /// No offset: wall-clock time in the team's zone.
    Local(NaiveDateTime),
    /// RFC 3339 with `Z` or an offset: an exact instant.
    Exact(DateTime<Utc>),
}

/// `2026-01-05T09:00`, `2026-01-05T09:00:30`, `2026-01-05` (midnight), or
/// RFC 3339 with an offset (`2026-01-05T09:00:00+01:00`, `...Z`).
pub fn parse_time(s: &str) -> Result<WrittenTime, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(WrittenTime::Exact(t.with_timezone(&Utc)));
    }
    // RFC 3339 without seconds (`2026-01-05T09:00Z`), which people write too.
    // (An ASCII byte at 16 is a character of its own, so both slices are
    // whole characters.)
    if matches!(s.as_bytes().get(16), Some(b'Z' | b'z' | b'+' | b'-')) {
        let with_seconds = format!("{}:00{}", &s[..16], &s[16..]);
        if let Ok(t) = DateTime::parse_from_rfc3339(&with_seconds) {
            return Ok(WrittenTime::Exact(t.with_timezone(&Utc)));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(WrittenTime::Local(t));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(WrittenTime::Local(d.and_hms_opt(0, 0, 0).expect("midnight exists")));
    }
    Err(format!(
        "`{}` is not a time: write local time as 2026-01-05T09:00, or an exact time as 2026-01-05T09:00:00Z",
        shown(s)
    ))
}

/// The longest duration a rota file may give: 100 years.
const MAX_DURATION_SECONDS: i64 = 100 * 366 * 86_400;

/// `15m`, `1h`, `2h30m`, `1d`, `1w`, `30s`, `0`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    let bad = || {
        format!(
            "`{}` is not a duration: write it like 30s, 15m, 2h, 1h30m, 1d or 1w",
            shown(text)
        )
    };
    if text == "0" {
        return Ok(Duration::zero());
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        if number.is_empty() {
            return Err(bad());
        }
        total = number
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(unit))
            .and_then(|v| total.checked_add(v))
            .unwrap_or(i64::MAX);
        number.clear();
    }
    if !number.is_empty() || text.is_empty() {
        return Err(bad());
    }
    if total > MAX_DURATION_SECONDS {
        return Err(format!(
            "`{}` is too long: a duration is at most 100 years",
            shown(text)
        ));
    }
    Ok(Duration::seconds(total))
}

/// `HH:MM` as minutes after midnight; `24:00` is 1440.
pub fn parse_time_of_day(s: &str) -> Result<u32, String> {
    let bad = || format!("`{}` is not a time of day: write it as HH:MM, 00:00 to 24:00", shown(s));
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// `mon 09:00` (a weekday, any case or the full name, then `HH:MM`): the
/// weekday and the minutes after its midnight; `fri 24:00` is 1440.
pub fn parse_day_and_time(s: &str) -> Result<(Weekday, u32), String> {
    let bad = || format!("`{}` is not a weekday and time: write it like mon 09:00", shown(s));
    let mut words = s.split_whitespace();
    let (Some(day), Some(time), None) = (words.next(), words.next(), words.next()) else {
        return Err(bad());
    };
    let day = match parse_days(day).as_deref() {
        Ok([one]) => *one,
        Ok(_) => {
            return Err(format!(
                "`{}` is several days: a window from a weekday to a weekday names one day at each end, like mon 09:00",
                shown(day)
            ));
        }
        Err(message) => return Err(message.clone()),
    };
    Ok((day, parse_time_of_day(time)?))
}

pub const DAY_WORDS: [&str; 10] = [
    "mon", "tue", "wed", "thu", "fri", "sat", "sun", "weekdays", "weekends", "everyday",
];

/// A weekday name (`mon`, `Monday`), or `weekdays`, `weekends`, `everyday`.
pub fn parse_days(s: &str) -> Result<Vec<Weekday>, String> {
    use Weekday::*;
    let lower = s.trim().to_lowercase();
    let days = match lower.as_str() {
        "weekdays" => vec![Mon, Tue, Wed, Thu, Fri],
        "weekends" | "weekend" => vec![Sat, Sun],
        "everyday" | "daily" => vec![Mon, Tue, Wed, Thu, Fri, Sat, Sun],
        _ => match lower.parse::<Weekday>() {
            Ok(d) => vec![d],
            Err(_) => {
                return Err(format!(
                    "`{}` is not a day: use mon, tue, wed, thu, fri, sat, sun, weekdays, weekends or everyday",
                    shown(s)
                ));
            }
        },
    };
    Ok(days)
}

/// What `every:` says: a hand-off rule, or a turn length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Every {
    /// One number and one unit of weeks, days, hours or minutes: the RRULE
    /// it is short for ([`every_to_rrule`]).
    Rule(String),
    /// Seconds, or several parts (`90000s`, `1d2h`, `1h30m`): a turn of
    /// this many seconds of wall-clock time.
    Seconds(i64),
}

/// The shortest turn `every:` may give (`FREQ=SECONDLY` is refused too).
pub const MIN_TURN_SECONDS: i64 = 60;
/// The longest turn `every:` may give, as for `1000w`.
pub const MAX_TURN_SECONDS: i64 = 1000 * 604_800;

/// `every:` as written: `1w`, `2w`, `1d`, `12h`, `30m` are the RRULEs of
/// [`every_to_rrule`]; a number of seconds (`90000s`) or several parts, the
/// units in the order w, d, h, m, s, each at most once (`1d2h`, `1h30m`,
/// `2h0m5s`), is a turn of that many seconds.
pub fn parse_every(s: &str) -> Result<Every, String> {
    let text = s.trim();
    let parts = every_parts(text);
    match parts.as_deref() {
        Some([(_, unit)]) if *unit != 's' => every_to_rrule(text).map(Every::Rule),
        Some(parts) => {
            let total = parts
                .iter()
                .try_fold(0i64, |sum, (n, unit)| {
                    let seconds = match unit {
                        'w' => 604_800,
                        'd' => 86_400,
                        'h' => 3_600,
                        'm' => 60,
                        _ => 1,
                    };
                    n.checked_mul(seconds).and_then(|v| sum.checked_add(v))
                })
                .unwrap_or(i64::MAX);
            if total < MIN_TURN_SECONDS {
                return Err(format!(
                    "`{}` is shorter than a minute: shifts that short cannot be staffed",
                    shown(text)
                ));
            }
            if total > MAX_TURN_SECONDS {
                return Err(format!("`{}` is longer than 1000 weeks", shown(text)));
            }
            Ok(Every::Seconds(total))
        }
        None => every_to_rrule(text).map(Every::Rule),
    }
}

/// `every:`'s number-and-unit parts, if it is made of them (units in the
/// order w, d, h, m, s, each at most once); numbers too large for an `i64`
/// count as `i64::MAX`.
fn every_parts(text: &str) -> Option<Vec<(i64, char)>> {
    const UNITS: [char; 5] = ['w', 'd', 'h', 'm', 's'];
    let mut parts = Vec::new();
    let mut rest = text;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let unit = rest[digits..].chars().next()?;
        let at = UNITS[next_unit..].iter().position(|u| *u == unit)?;
        next_unit += at + 1;
        parts.push((rest[..digits].parse().unwrap_or(i64::MAX), unit));
        rest = &rest[digits + unit.len_utf8()..];
    }
    (!parts.is_empty()).then_some(parts)
}

/// The short form of a hand-off rule: `every: 1w` is `FREQ=WEEKLY`, `2w` is
/// `FREQ=WEEKLY;INTERVAL=2`, `1d` daily, `12h` every twelve hours of wall time.
pub fn every_to_rrule(s: &str) -> Result<String, String> {
    let text = s.trim();
    let bad = || {
        format!(
            "`{}` is not a hand-off period: write it like 1w, 2w, 1d, 12h or 30m",
            shown(text)
        )
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = text.split_at(split);
    let n: u32 = n.parse().map_err(|_| bad())?;
    if n == 0 || n > 1000 {
        return Err(bad());
    }
    let freq = match unit {
        "w" => "WEEKLY",
        "d" => "DAILY",
        "h" => "HOURLY",
        "m" => "MINUTELY",
        _ => return Err(bad()),
    };
    Ok(if n == 1 {
        format!("FREQ={freq}")
    } else {
        format!("FREQ={freq};INTERVAL={n}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::minutes(15));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::minutes(90));
        assert!(parse_duration("15 minutes").is_err());
        assert!(parse_duration("m").is_err());
        assert_eq!(
            parse_duration("99999999999999999999d"),
            Err("`99999999999999999999d` is too long: a duration is at most 100 years".into())
        );
        assert_eq!(
            parse_duration("1000000000w"),
            Err("`1000000000w` is too long: a duration is at most 100 years".into())
        );
        assert!(parse_duration("5200w").is_ok());
    }

    #[test]
    fn times() {
        let exact = WrittenTime::Exact("2026-01-05T08:00:00Z".parse().unwrap());
        assert_eq!(parse_time("2026-01-05T09:00+01:00"), Ok(exact));
        assert_eq!(parse_time("2026-01-05T08:00Z"), Ok(exact));
        assert!(matches!(parse_time("2026-01-05T09:00"), Ok(WrittenTime::Local(_))));
        assert!(parse_time("2026-01-05T09").is_err());
    }

    #[test]
    fn times_of_day() {
        assert_eq!(parse_time_of_day("08:00"), Ok(480));
        assert_eq!(parse_time_of_day("24:00"), Ok(1440));
        assert!(parse_time_of_day("24:30").is_err());
        assert!(parse_time_of_day("8").is_err());
    }

    #[test]
    fn days_and_times() {
        assert_eq!(parse_day_and_time("mon 09:00"), Ok((Weekday::Mon, 540)));
        assert_eq!(parse_day_and_time(" Friday  24:00 "), Ok((Weekday::Fri, 1440)));
        assert_eq!(parse_day_and_time("SUN 8:30"), Ok((Weekday::Sun, 510)));
        assert_eq!(
            parse_day_and_time("mon"),
            Err("`mon` is not a weekday and time: write it like mon 09:00".into())
        );
        assert_eq!(
            parse_day_and_time("mon 09:00 utc"),
            Err("`mon 09:00 utc` is not a weekday and time: write it like mon 09:00".into())
        );
        assert!(
            parse_day_and_time("weekdays 09:00")
                .unwrap_err()
                .contains("several days")
        );
        assert!(parse_day_and_time("funday 09:00").unwrap_err().contains("is not a day"));
        assert!(
            parse_day_and_time("mon 25:00")
                .unwrap_err()
                .contains("not a time of day")
        );
    }

    #[test]
    fn every() {
        assert_eq!(every_to_rrule("1w").unwrap(), "FREQ=WEEKLY");
        assert_eq!(every_to_rrule("12h").unwrap(), "FREQ=HOURLY;INTERVAL=12");
        assert!(every_to_rrule("1y").is_err());
    }

    #[test]
    fn every_in_seconds_and_parts() {
        // One unit of w, d, h or m is still the RRULE, as before.
        assert_eq!(parse_every("2w"), Ok(Every::Rule("FREQ=WEEKLY;INTERVAL=2".into())));
        assert_eq!(parse_every("30m"), Ok(Every::Rule("FREQ=MINUTELY;INTERVAL=30".into())));
        assert_eq!(parse_every("90000s"), Ok(Every::Seconds(90_000)));
        assert_eq!(parse_every("1d1h"), Ok(Every::Seconds(90_000)));
        assert_eq!(parse_every("1w1d1h1m1s"), Ok(Every::Seconds(694_861)));
        assert_eq!(parse_every("60s"), Ok(Every::Seconds(60)));
        assert_eq!(parse_every("0h1m"), Ok(Every::Seconds(60)));
        assert_eq!(
            parse_every("59s"),
            Err("`59s` is shorter than a minute: shifts that short cannot be staffed".into())
        );
        assert_eq!(
            parse_every("0s"),
            Err("`0s` is shorter than a minute: shifts that short cannot be staffed".into())
        );
        assert_eq!(parse_every("999w7d"), Ok(Every::Seconds(MAX_TURN_SECONDS)));
        assert_eq!(
            parse_every("999w7d1s"),
            Err("`999w7d1s` is longer than 1000 weeks".into())
        );
        assert_eq!(
            parse_every("99999999999999999999s"),
            Err("`99999999999999999999s` is longer than 1000 weeks".into())
        );
        // Units out of order, twice, unknown, or a number without one.
        for bad in ["1h1d", "1h1h", "1y", "1d 2h", "d", "1d2", "", "1.5h"] {
            assert_eq!(
                parse_every(bad),
                Err(format!(
                    "`{bad}` is not a hand-off period: write it like 1w, 2w, 1d, 12h or 30m"
                )),
                "{bad}"
            );
        }
        // One unit beyond 1000 is refused as before.
        assert!(matches!(parse_every("1001d"), Err(e) if e.contains("not a hand-off period")));
    }
}
