//! The PagerDuty Events API v2 body parser: any body must give an event or an
//! `IntakeError`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oncall::domain::severity::Severities;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = oncall::intake::pagerduty(data) {
        let event = parsed.into_event("payments", &Severities::default(), "generated".into());
        // What the store writes.
        serde_json::to_string(&event.details).expect("details serialize");
    }
});
