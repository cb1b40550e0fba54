//! The small text values of the rota format: times, durations, times of day,
//! days and `every` periods. Each parser gets the whole input; any input must
//! give a value or a message, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oncall::config::text;

fuzz_target!(|data: &[u8]| {
    // Rota files are UTF-8 (the loader refuses anything else first).
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = text::parse_time(s);
    let _ = text::parse_duration(s);
    let _ = text::parse_time_of_day(s);
    let _ = text::parse_days(s);
    if let Ok(rule) = text::every_to_rrule(s) {
        assert!(rule.starts_with("FREQ="), "{rule}");
    }
    match text::parse_every(s) {
        Ok(text::Every::Rule(rule)) => assert!(rule.starts_with("FREQ="), "{rule}"),
        Ok(text::Every::Seconds(n)) => {
            assert!((text::MIN_TURN_SECONDS..=text::MAX_TURN_SECONDS).contains(&n), "{n}")
        }
        Err(_) => {}
    }
});
