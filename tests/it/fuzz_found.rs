//! What the fuzz targets (`fuzz/`, see docs/fuzzing.md) found, replayed
//! without the fuzzer: each input is also a seed in `fuzz/corpus/<target>/`,
//! read from there. Each test is named after what its input found.

use oncall::config::{self, text};

use crate::support::PEOPLE;

fn seed(target: &str, name: &str) -> Vec<u8> {
    let path = format!("{}/fuzz/corpus/{target}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `rrule`, `found-multibyte-after-minutes`: `parse_time` looked for an
/// offset after `YYYY-MM-DDTHH:MM` by slicing the 17th byte, which was the
/// middle of `ä`, and panicked. A rota file's `start:` took the same path
/// (in `oncall check`, and in the daemon on reload).
#[test]
fn a_multibyte_character_after_the_minutes_is_not_a_time_and_no_panic() {
    let input = String::from_utf8(seed("rrule", "found-multibyte-after-minutes")).unwrap();
    let line = input.lines().nth(3).unwrap();
    assert_eq!(line.as_bytes()[16], 0xc3, "the seed still puts `ä` astride byte 17");
    for s in [line, "2026-01-05T09:00ä", "2026-01-05T09:0ä"] {
        assert_eq!(
            text::parse_time(s),
            Err(format!(
                "`{s}` is not a time: write local time as 2026-01-05T09:00, or an exact time as 2026-01-05T09:00:00Z"
            ))
        );
    }
    let team = "team: t\ntimezone: UTC\nrotas:\n  r: {members: [alice], start: 2026-01-05T09:00ä, every: 1w}\n";
    let loaded = config::load_texts(&[("people.yaml", PEOPLE), ("t.yaml", team)]);
    let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
    assert_eq!(
        errors,
        [
            "t.yaml:4:32: error: `2026-01-05T09:00ä` is not a time: write local time as 2026-01-05T09:00, or an exact time as 2026-01-05T09:00:00Z"
        ]
    );
}

/// `rrule`, `found-nonascii-weekday` (issue 16): the `rrule` crate sliced the
/// weekday `лO` two bytes from its end, inside `л`, and panicked; `oncall
/// check` and `who` crashed with exit 101. The rule's grammar is now checked
/// before the crate sees it, so the rule is an ordinary error at its position.
#[test]
fn issue16_a_non_ascii_weekday_is_an_error_not_a_panic() {
    use oncall::domain::handoff::{Handoffs, RuleError};
    use oncall::domain::time::to_local;

    let input = String::from_utf8(seed("rrule", "found-nonascii-weekday")).unwrap();
    let lines: Vec<&str> = input.lines().collect();
    let tz: chrono_tz::Tz = lines[0].parse().unwrap();
    let start = match text::parse_time(lines[1]).unwrap() {
        text::WrittenTime::Local(t) => t,
        text::WrittenTime::Exact(t) => to_local(tz, t),
    };
    assert!(
        lines[2].contains("BYDAY=лO"),
        "the seed still holds the weekday that panicked"
    );
    assert!(matches!(
        Handoffs::with_exceptions(tz, start, lines[2], &[]),
        Err(RuleError::Invalid(_))
    ));

    let team = "team: t\ntimezone: Australia/Lord_Howe\nrotas:\n  r: {members: [alice], start: 2027-01-02T00:00, handoff: \"FREQ=MONTHLY;BYDAY=лO\"}\n";
    let loaded = config::load_texts(&[("people.yaml", PEOPLE), ("t.yaml", team)]);
    let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
    assert_eq!(
        errors,
        [
            "t.yaml:4:59: error: rota r: invalid RRULE: `л` (U+043B) is not allowed in a rule: a rule is ASCII text such as FREQ=WEEKLY;BYDAY=MO"
        ]
    );
}
