//! The daemon's metrics, for `GET /metrics` in Prometheus' text format
//! (version 0.0.4): counters and histograms kept in memory since the start
//! (Prometheus handles restarts), and gauges the HTTP layer reads from the
//! store and the rotas at each scrape.
//!
//! Labels never carry a secret or a destination: sources, severities,
//! channels, teams and rotas only.
//!
//! Written here rather than with a crate (looked at for issue 17):
//! `prometheus-client` writes OpenMetrics text (ending in `# EOF`, its own
//! content type), not the 0.0.4 format `/metrics` has always served, and
//! our gauges, read from the store at each scrape, would need its collector
//! plumbing; `metrics-exporter-prometheus` installs one process-wide
//! recorder (with its own HTTP listener and push gateway by default), while
//! each engine keeps its own counts and several run in one test process.
//! The writer below is short, and a real Prometheus scrapes it in
//! `tests/it/real_prometheus.rs`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::domain::paging::Method;

/// Upper bounds of the delivery latency buckets, in seconds.
const DELIVERY_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Upper bounds of the engine pass buckets, in seconds.
const PASS_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Clone, Debug)]
struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative); the last is +Inf.
    counts: Vec<u64>,
    sum: f64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    fn observe(&mut self, value: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i] += 1;
        self.sum += value;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count;
            let le = match self.bounds.get(i) {
                Some(b) => b.to_string(),
                None => "+Inf".into(),
            };
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}");
        }
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

#[derive(Debug)]
struct Inner {
    /// (intake source, severity) → alert events received.
    received: BTreeMap<(String, String), u64>,
    sent: BTreeMap<Method, u64>,
    failed: BTreeMap<Method, u64>,
    delivery: BTreeMap<Method, Histogram>,
    escalation_steps: u64,
    pass: Histogram,
    reloads_ok: u64,
    reloads_failed: u64,
    /// Whether the last reload worked (1 before any).
    last_reload_ok: bool,
}

/// What the daemon counts while it runs.
#[derive(Debug)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            inner: Mutex::new(Inner {
                received: BTreeMap::new(),
                sent: BTreeMap::new(),
                failed: BTreeMap::new(),
                delivery: BTreeMap::new(),
                escalation_steps: 0,
                pass: Histogram::new(PASS_BUCKETS),
                reloads_ok: 0,
                reloads_failed: 0,
                last_reload_ok: true,
            }),
        }
    }
}

/// Read at each scrape.
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    /// (team, severity, status) → alerts not resolved.
    pub unresolved: Vec<(String, String, String, u64)>,
    /// (team, rota) → seconds nobody is on call in the window ahead.
    pub gaps_ahead: Vec<(String, String, i64)>,
    /// How far ahead the gaps are counted, in seconds.
    pub gaps_window: i64,
}

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// An alert event accepted from `source` (`alertmanager`, `plain`, ...).
    pub fn received(&self, source: &str, severity: &str) {
        self.with(|m| {
            *m.received
                .entry((source.to_string(), severity.to_string()))
                .or_default() += 1
        });
    }

    /// A delivery attempt by `method` that took `seconds`.
    pub fn delivered(&self, method: Method, ok: bool, seconds: f64) {
        self.with(|m| {
            let counter = if ok { &mut m.sent } else { &mut m.failed };
            *counter.entry(method).or_default() += 1;
            m.delivery
                .entry(method)
                .or_insert_with(|| Histogram::new(DELIVERY_BUCKETS))
                .observe(seconds);
        });
    }

    /// A message for `method` with no channel configured to send it.
    pub fn undeliverable(&self, method: Method) {
        self.with(|m| *m.failed.entry(method).or_default() += 1);
    }

    /// `n` escalation steps fired.
    pub fn escalation_steps(&self, n: u64) {
        self.with(|m| m.escalation_steps += n);
    }

    /// A reload of the rota files, that worked or not.
    pub fn reloaded(&self, ok: bool) {
        self.with(|m| {
            if ok {
                m.reloads_ok += 1;
            } else {
                m.reloads_failed += 1;
            }
            m.last_reload_ok = ok;
        });
    }

    /// An engine pass (decide and claim, in the store) took `seconds`.
    pub fn pass(&self, seconds: f64) {
        self.with(|m| m.pass.observe(seconds));
    }

    /// Everything, in Prometheus' text format.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        self.with(|m| {
            header(
                &mut out,
                "oncall_alerts_received_total",
                "counter",
                "Alert events accepted, by intake source and severity.",
            );
            for ((source, severity), n) in &m.received {
                let _ = writeln!(
                    out,
                    "oncall_alerts_received_total{{source=\"{}\",severity=\"{}\"}} {n}",
                    escape(source),
                    escape(severity)
                );
            }
            header(
                &mut out,
                "oncall_notifications_sent_total",
                "counter",
                "Messages a channel accepted, by channel.",
            );
            for (method, n) in &m.sent {
                let _ = writeln!(out, "oncall_notifications_sent_total{{channel=\"{method}\"}} {n}");
            }
            header(
                &mut out,
                "oncall_notifications_failed_total",
                "counter",
                "Delivery attempts that failed (to be retried or given up), by channel.",
            );
            for (method, n) in &m.failed {
                let _ = writeln!(out, "oncall_notifications_failed_total{{channel=\"{method}\"}} {n}");
            }
            header(
                &mut out,
                "oncall_delivery_duration_seconds",
                "histogram",
                "How long a channel took to accept or refuse a message.",
            );
            for (method, h) in &m.delivery {
                h.write(
                    &mut out,
                    "oncall_delivery_duration_seconds",
                    &format!("channel=\"{method}\""),
                );
            }
            header(
                &mut out,
                "oncall_escalation_steps_total",
                "counter",
                "Escalation steps fired.",
            );
            let _ = writeln!(out, "oncall_escalation_steps_total {}", m.escalation_steps);
            header(
                &mut out,
                "oncall_engine_pass_duration_seconds",
                "histogram",
                "Engine passes: decide and claim, in one store transaction.",
            );
            m.pass.write(&mut out, "oncall_engine_pass_duration_seconds", "");
            header(&mut out, "oncall_config_reloads_total", "counter", "Reloads of the rota files (SIGHUP or a changed file), by result.");
            let _ = writeln!(out, "oncall_config_reloads_total{{result=\"ok\"}} {}", m.reloads_ok);
            let _ = writeln!(out, "oncall_config_reloads_total{{result=\"failed\"}} {}", m.reloads_failed);
            header(&mut out, "oncall_config_last_reload_ok", "gauge", "1 when the last reload worked (or none was tried), 0 when the rota files in force are older than a broken edit.");
            let _ = writeln!(out, "oncall_config_last_reload_ok {}", u8::from(m.last_reload_ok));
        });
        header(
            &mut out,
            "oncall_alerts_unresolved",
            "gauge",
            "Alerts open or acknowledged, by team, severity and status.",
        );
        for (team, severity, status, n) in &gauges.unresolved {
            let _ = writeln!(
                out,
                "oncall_alerts_unresolved{{team=\"{}\",severity=\"{}\",status=\"{}\"}} {n}",
                escape(team),
                escape(severity),
                escape(status)
            );
        }
        header(
            &mut out,
            "oncall_schedule_gap_seconds_ahead",
            "gauge",
            "Seconds with nobody on call in the window ahead (oncall_schedule_gap_window_seconds), by team and rota.",
        );
        for (team, rota, seconds) in &gauges.gaps_ahead {
            let _ = writeln!(
                out,
                "oncall_schedule_gap_seconds_ahead{{team=\"{}\",rota=\"{}\"}} {seconds}",
                escape(team),
                escape(rota)
            );
        }
        header(
            &mut out,
            "oncall_schedule_gap_window_seconds",
            "gauge",
            "How far ahead schedule gaps are counted.",
        );
        let _ = writeln!(out, "oncall_schedule_gap_window_seconds {}", gauges.gaps_window);
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value: backslash, double quote and line feed escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.received("plain", "crit\"ical\\");
        m.delivered(Method::Sms, true, 0.02);
        m.delivered(Method::Sms, false, 12.0);
        m.pass(0.003);
        let text = m.render(&Gauges::default());
        assert!(
            text.contains("oncall_alerts_received_total{source=\"plain\",severity=\"crit\\\"ical\\\\\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("oncall_delivery_duration_seconds_bucket{channel=\"sms\",le=\"0.01\"} 0\n"));
        assert!(text.contains("oncall_delivery_duration_seconds_bucket{channel=\"sms\",le=\"0.025\"} 1\n"));
        assert!(text.contains("oncall_delivery_duration_seconds_bucket{channel=\"sms\",le=\"10\"} 1\n"));
        assert!(text.contains("oncall_delivery_duration_seconds_bucket{channel=\"sms\",le=\"30\"} 2\n"));
        assert!(text.contains("oncall_delivery_duration_seconds_bucket{channel=\"sms\",le=\"+Inf\"} 2\n"));
        assert!(text.contains("oncall_delivery_duration_seconds_count{channel=\"sms\"} 2\n"));
        assert!(text.contains("oncall_notifications_failed_total{channel=\"sms\"} 1\n"));
        assert!(text.contains("oncall_engine_pass_duration_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("oncall_engine_pass_duration_seconds_count 1\n"));
    }
}
