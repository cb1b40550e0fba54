//! The grammar of a hand-off rule (RFC 5545 section 3.3.10, `recur`), checked
//! before the `rrule` crate sees the text.
//!
//! The crate's parser assumes well-formed input: it slices a `BYDAY` entry two
//! bytes from its end, which panics inside a multi-byte character (`лO`). A
//! rota file is written by people and, in the daemon, reloaded while it pages,
//! so the crate is only ever handed text that matches the grammar: ASCII
//! `NAME=VALUE` parts separated by `;`, each name known and given once, each
//! value of its documented form. What passes here may still be refused by the
//! crate (a `BYHOUR` of 99), as an ordinary error.
//!
//! Names and keywords are matched without regard to case, as the crate does.

/// The weekdays of `BYDAY` and `WKST`.
const WEEKDAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
const FREQUENCIES: [&str; 7] = ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"];

/// Checks `rule` (without an `RRULE:` prefix) against the `recur` grammar.
/// The error names the part that is wrong and what was expected.
pub fn check(rule: &str) -> Result<(), String> {
    if let Some(c) = rule.chars().find(|c| !c.is_ascii() || c.is_ascii_control()) {
        let shown = if c.is_control() {
            c.escape_default().to_string()
        } else {
            c.to_string()
        };
        return Err(format!(
            "`{shown}` (U+{:04X}) is not allowed in a rule: a rule is ASCII text such as FREQ=WEEKLY;BYDAY=MO",
            u32::from(c)
        ));
    }
    if rule.is_empty() {
        return Err("the rule is empty: write one such as FREQ=WEEKLY;BYDAY=MO".into());
    }
    let mut seen: Vec<String> = Vec::new();
    for part in rule.split(';') {
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!("`{part}` is not a NAME=VALUE part of a rule"));
        };
        let name = name.to_ascii_uppercase();
        if seen.contains(&name) {
            return Err(format!("{name} is given twice"));
        }
        check_value(&name, value).map_err(|expected| format!("`{part}`: {expected}"))?;
        seen.push(name);
    }
    if !seen.iter().any(|n| n == "FREQ") {
        return Err("the rule has no FREQ (such as FREQ=WEEKLY)".into());
    }
    Ok(())
}

/// Checks one part's value; the error says what the value should look like.
fn check_value(name: &str, value: &str) -> Result<(), String> {
    let list = |max_digits: usize, signed: bool, what: &str| {
        if value.split(',').all(|v| number(v, max_digits, signed)) {
            Ok(())
        } else {
            Err(format!("expected {what}"))
        }
    };
    match name {
        "FREQ" => {
            if FREQUENCIES.iter().any(|f| f.eq_ignore_ascii_case(value)) {
                Ok(())
            } else {
                Err(format!("expected one of {}", FREQUENCIES.join(", ")))
            }
        }
        "UNTIL" => {
            if until(value) {
                Ok(())
            } else {
                Err("expected a date such as 20270101 or a time such as 20270101T090000 or 20270101T090000Z".into())
            }
        }
        "COUNT" | "INTERVAL" => list_of_one(value, 9, "a whole number"),
        "BYSECOND" | "BYMINUTE" | "BYHOUR" | "BYMONTH" => {
            list(2, false, "a comma-separated list of numbers, such as 0,30")
        }
        "BYMONTHDAY" | "BYWEEKNO" => list(2, true, "a comma-separated list of numbers, such as 1,-1"),
        "BYYEARDAY" | "BYSETPOS" => list(3, true, "a comma-separated list of numbers, such as 1,-1"),
        "BYDAY" => {
            if value.split(',').all(weekday_num) {
                Ok(())
            } else {
                Err("expected a comma-separated list of weekdays (MO, TU, WE, TH, FR, SA, SU), each maybe with an ordinal, such as MO,-1FR".into())
            }
        }
        "WKST" => {
            if weekday(value) {
                Ok(())
            } else {
                Err("expected a weekday (MO, TU, WE, TH, FR, SA, SU)".into())
            }
        }
        _ => Err(format!(
            "{name} is not a rule part (FREQ, UNTIL, COUNT, INTERVAL, BYSECOND, BYMINUTE, BYHOUR, BYDAY, BYMONTHDAY, BYYEARDAY, BYWEEKNO, BYMONTH, BYSETPOS, WKST)"
        )),
    }
}

fn list_of_one(value: &str, max_digits: usize, what: &str) -> Result<(), String> {
    if number(value, max_digits, false) {
        Ok(())
    } else {
        Err(format!("expected {what}"))
    }
}

/// `[+|-]` then 1 to `max_digits` digits.
fn number(s: &str, max_digits: usize, signed: bool) -> bool {
    let digits = match s.strip_prefix(['+', '-']) {
        Some(rest) if signed => rest,
        Some(_) => return false,
        None => s,
    };
    (1..=max_digits).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn weekday(s: &str) -> bool {
    WEEKDAYS.iter().any(|d| d.eq_ignore_ascii_case(s))
}

/// `[[+|-]ordwk]weekday`, the ordinal one or two digits.
fn weekday_num(s: &str) -> bool {
    if s.len() < 2 {
        return false;
    }
    // ASCII already checked, so the split is on a character boundary.
    let (ordinal, day) = s.split_at(s.len() - 2);
    weekday(day) && (ordinal.is_empty() || number(ordinal, 2, true))
}

/// `date` or `date-time`: 8 digits, then maybe `T`, 6 digits and `Z`.
fn until(s: &str) -> bool {
    let s = s.strip_suffix(['Z', 'z']).unwrap_or(s);
    let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
    match s.split_once(['T', 't']) {
        Some((date, time)) => digits(date, 8) && digits(time, 6),
        None => digits(s, 8),
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn rules_people_write_pass() {
        for rule in [
            "FREQ=WEEKLY;BYDAY=MO",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=SU",
            "FREQ=MONTHLY;BYDAY=-1FR",
            "FREQ=MONTHLY;BYDAY=+2MO;COUNT=12",
            "FREQ=DAILY;BYHOUR=9,17;BYMINUTE=0,30",
            "FREQ=YEARLY;BYYEARDAY=-366,1;BYSETPOS=1",
            "FREQ=MONTHLY;BYMONTHDAY=1,-1;BYMONTH=1,12",
            "FREQ=WEEKLY;UNTIL=20271231",
            "FREQ=WEEKLY;UNTIL=20271231T235959Z",
            "freq=weekly;byday=mo",
        ] {
            assert_eq!(check(rule), Ok(()), "{rule}");
        }
    }

    /// Issue 16: `BYDAY=лO` made the `rrule` crate slice inside `л` and panic.
    #[test]
    fn issue16_a_non_ascii_weekday_is_refused_before_the_crate_sees_it() {
        assert_eq!(
            check("FREQ=MONTHLY;BYDAY=лO,-1FR;COUNT=485"),
            Err("`л` (U+043B) is not allowed in a rule: a rule is ASCII text such as FREQ=WEEKLY;BYDAY=MO".into())
        );
    }

    #[test]
    fn each_malformed_part_is_named() {
        for (rule, error) in [
            ("", "the rule is empty: write one such as FREQ=WEEKLY;BYDAY=MO"),
            ("BYDAY=MO", "the rule has no FREQ (such as FREQ=WEEKLY)"),
            ("FREQ=WEEKLY;FREQ=DAILY", "FREQ is given twice"),
            ("FREQ=WEEKLY;", "`` is not a NAME=VALUE part of a rule"),
            (
                "FREQ=FORTNIGHTLY",
                "`FREQ=FORTNIGHTLY`: expected one of SECONDLY, MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY, YEARLY",
            ),
            (
                "FREQ=WEEKLY;BYDAY=M",
                "`BYDAY=M`: expected a comma-separated list of weekdays (MO, TU, WE, TH, FR, SA, SU), each maybe with an ordinal, such as MO,-1FR",
            ),
            (
                "FREQ=WEEKLY;BYDAY=123MO",
                "`BYDAY=123MO`: expected a comma-separated list of weekdays (MO, TU, WE, TH, FR, SA, SU), each maybe with an ordinal, such as MO,-1FR",
            ),
            (
                "FREQ=WEEKLY;BYDAY=MO,",
                "`BYDAY=MO,`: expected a comma-separated list of weekdays (MO, TU, WE, TH, FR, SA, SU), each maybe with an ordinal, such as MO,-1FR",
            ),
            (
                "FREQ=WEEKLY;BYHOUR=-1",
                "`BYHOUR=-1`: expected a comma-separated list of numbers, such as 0,30",
            ),
            (
                "FREQ=WEEKLY;COUNT=99999999999",
                "`COUNT=99999999999`: expected a whole number",
            ),
            (
                "FREQ=WEEKLY;UNTIL=2027-01-01",
                "`UNTIL=2027-01-01`: expected a date such as 20270101 or a time such as 20270101T090000 or 20270101T090000Z",
            ),
            (
                "FREQ=WEEKLY;WKST=XX",
                "`WKST=XX`: expected a weekday (MO, TU, WE, TH, FR, SA, SU)",
            ),
            (
                "FREQ=WEEKLY;BYEASTER=0",
                "`BYEASTER=0`: BYEASTER is not a rule part (FREQ, UNTIL, COUNT, INTERVAL, BYSECOND, BYMINUTE, BYHOUR, BYDAY, BYMONTHDAY, BYYEARDAY, BYWEEKNO, BYMONTH, BYSETPOS, WKST)",
            ),
            (
                "FREQ=WEEKLY\nRRULE:FREQ=DAILY",
                "`\\n` (U+000A) is not allowed in a rule: a rule is ASCII text such as FREQ=WEEKLY;BYDAY=MO",
            ),
        ] {
            assert_eq!(check(rule), Err(error.to_string()), "{rule:?}");
        }
    }
}
