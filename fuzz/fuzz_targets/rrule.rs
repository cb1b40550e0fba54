//! Hand-off rules as the rota files give them: the input is lines of text,
//! `zone`, `start`, `rule`, then any `except` times. The rule is built as the
//! loader builds it, and asked what a rota asks of it (the hand-off in force
//! at instants from before the start to ten years on, and the instants of the
//! hand-offs around). Any input must give an answer or a `RuleError`, never a
//! panic or a hang.
#![no_main]

use chrono::Duration;
use chrono_tz::Tz;
use libfuzzer_sys::fuzz_target;
use oncall::config::text::{self, WrittenTime};
use oncall::domain::handoff::Handoffs;
use oncall::domain::time::{resolve_local, to_local};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let mut lines = s.lines();
    let (Some(zone), Some(start), Some(rule)) = (lines.next(), lines.next(), lines.next()) else {
        return;
    };
    let Ok(tz) = zone.trim().parse::<Tz>() else { return };
    let start = match text::parse_time(start) {
        Ok(WrittenTime::Local(t)) => t,
        Ok(WrittenTime::Exact(t)) => to_local(tz, t),
        Err(_) => return,
    };
    let except: Vec<_> = lines
        .filter_map(|l| match text::parse_time(l) {
            Ok(WrittenTime::Local(t)) => Some(t),
            _ => None,
        })
        .collect();
    let Ok(handoffs) = Handoffs::with_exceptions(tz, start, rule, &except) else {
        return;
    };
    let origin = resolve_local(tz, start);
    for offset in [
        Duration::days(-1),
        Duration::zero(),
        Duration::hours(1),
        Duration::days(1),
        Duration::days(8),
        Duration::days(400),
        Duration::days(3653),
    ] {
        let Some(t) = origin.checked_add_signed(offset) else {
            continue;
        };
        if let Some(j) = handoffs.index_at(t) {
            let this = handoffs.instant(j).expect("the hand-off in force has an instant");
            assert!(this <= t, "hand-off {j} at {this} is after {t}");
            if let Some(next) = handoffs.instant(j + 1) {
                assert!(next > t, "hand-off {} at {next} is not after {t}", j + 1);
            }
        }
    }
});
