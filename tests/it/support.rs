//! Helpers shared by the integration tests.

use chrono::{DateTime, Utc};
use oncall::config::{self, Loaded};
use oncall::domain::time::{Instant, Span};

/// People every test team can use.
pub const PEOPLE: &str = "people:
  alice: {name: Alice, email: alice@example.com}
  bob: {name: Bob, email: bob@example.com}
  carol: {name: Carol, email: carol@example.com}
  dave: {name: Dave, email: dave@example.com}
  erin: {name: Erin, email: erin@example.com}
";

pub fn at(s: &str) -> Instant {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

/// Loads one team `t` in zone `tz` whose file continues with `body`, and
/// panics with the diagnostics if it has errors.
pub fn team(tz: &str, body: &str) -> Loaded {
    let text = format!("team: t\ntimezone: {tz}\n{body}");
    let loaded = config::load_texts(&[("people.yaml", PEOPLE), ("t.yaml", &text)]);
    let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "unexpected errors:\n{}", errors.join("\n"));
    loaded
}

/// The shifts of every rota of `loaded` within `[from, to)`, one a line:
/// `rota  start .. end  (hours)  user`, gaps as `-`.
pub fn render(loaded: &Loaded, from: &str, to: &str) -> String {
    let mut out = String::new();
    for s in loaded.schedule.shifts(Span::new(at(from), at(to)), None) {
        let hours = s.tile.span.duration().num_seconds() as f64 / 3600.0;
        out.push_str(&format!(
            "{}  {} .. {}  ({hours}h)  {}\n",
            s.rota,
            s.tile.span.start.format("%Y-%m-%dT%H:%MZ"),
            s.tile.span.end.format("%Y-%m-%dT%H:%MZ"),
            s.tile.user.as_deref().unwrap_or("-"),
        ));
    }
    out
}

/// A real `oncall serve` started from `command`, once it serves: its
/// address (from the `address=` line of its log), and its log so far and
/// from then on, read by a thread of its own (so the daemon never blocks on
/// a full pipe) that ends when the daemon does.
pub struct Served {
    pub child: std::process::Child,
    pub address: String,
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
    pub drain: std::thread::JoinHandle<()>,
}

/// Spawns `command` (an `oncall serve ... --listen 127.0.0.1:0`) with its
/// log piped, and waits for it to serve; panics with the log if it exits
/// first.
pub fn serve(command: &mut std::process::Command) -> Served {
    use std::io::{BufRead, BufReader};
    let mut child = command.stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let address = loop {
        let Some(line) = lines.next() else {
            let status = child.wait().unwrap();
            panic!("the daemon exited ({status}) before serving:\n{log}");
        };
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.split("address=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let log = std::sync::Arc::new(std::sync::Mutex::new(log));
    let sink = std::sync::Arc::clone(&log);
    let drain = std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    Served {
        child,
        address,
        log,
        drain,
    }
}
