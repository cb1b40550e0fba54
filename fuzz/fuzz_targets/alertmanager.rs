//! The Alertmanager webhook body parser: any body must give events or an
//! `IntakeError`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oncall::domain::severity::Severities;

fuzz_target!(|data: &[u8]| {
    if let Ok(events) = oncall::intake::alertmanager(data, "payments", &Severities::default()) {
        for event in events {
            // What the store writes.
            serde_json::to_string(&event.details).expect("details serialize");
        }
    }
});
