//! The rota loader and validator, as `oncall check` runs them: the input is up
//! to four rota files separated by NUL bytes (a file may be anything, valid
//! UTF-8 or not), read, decoded, pay rules checked and, when there are no
//! errors, the coverage and paging warnings computed over the next 90 days.
//! Any input must give diagnostics, never a panic or a hang.
#![no_main]

use chrono::{Duration, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use oncall::config;
use oncall::settings::{File, Overrides, Settings};

fuzz_target!(|data: &[u8]| {
    let sources: Vec<(String, Vec<u8>)> = data
        .split(|b| *b == 0)
        .take(4)
        .enumerate()
        .map(|(i, bytes)| (format!("f{i}.yaml"), bytes.to_vec()))
        .collect();
    let loaded = config::load_sources(&sources);
    let pay = config::pay::decode(&loaded);
    if loaded.has_errors() || pay.diagnostics.iter().any(|d| d.severity == config::Severity::Error) {
        return;
    }
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    config::coverage_warnings(&loaded, now, Duration::days(90));
    let settings = Settings::resolve(File::default(), Overrides::default()).expect("default settings");
    config::paging_warnings(&loaded, &settings.severities, &settings.intensities, &Default::default());
});
