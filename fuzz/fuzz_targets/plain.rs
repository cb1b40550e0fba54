//! The plain JSON body parser (`POST /v1/alerts`): any body must give an
//! event or an `IntakeError`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oncall::domain::severity::Severities;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = oncall::intake::plain(data, "payments", &Severities::default()) {
        let event = parsed.into_event("generated".into());
        // What the store writes.
        serde_json::to_string(&event.details).expect("details serialize");
    }
});
