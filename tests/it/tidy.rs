//! Checks on the source tree itself.

use std::path::Path;

/// The invariant of ARCHITECTURE.md: `src/domain` does no I/O and never reads
/// the clock, so it can be tested with any `now` and cannot fail on the
/// outside world.
#[test]
fn domain_does_no_io_and_never_reads_the_clock() {
    let forbidden = [
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
        "std::fs",
        "std::net",
        "std::env",
        "std::process",
        "std::thread::sleep",
        "tokio",
        "rusqlite",
        "reqwest",
        "lettre",
        "axum",
        "println!",
        "eprintln!",
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    let mut checked = 0;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        checked += 1;
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                if code.contains(word) {
                    found.push(format!("{}:{}: uses `{word}`", path.display(), n + 1));
                }
            }
        }
    }
    assert!(checked >= 5, "expected the domain's files in {}", dir.display());
    assert!(found.is_empty(), "the domain must stay pure:\n{}", found.join("\n"));
}
