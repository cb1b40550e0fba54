//! Alertmanager's webhook: see [`alertmanager()`], whose rules Grafana's shares.

use serde_json::{Map, Value};

use super::{
    FULL_SUMMARY, IntakeError, MAX_ALERTS, MAX_DEDUP_KEY_CHARS, Obj, full_summary, names, quote, truncate_summary,
};
use crate::domain::alert::{Action, Event};
use crate::domain::severity::Severities;

/// Prometheus Alertmanager's webhook (`webhook_configs`), payload version 4,
/// and the rules it shares with Grafana's.
///
/// Alertmanager sends one body per notification of an alert group: every
/// `group_interval` while the group changes, and again every
/// `repeat_interval`. The body lists all the group's alerts, the firing ones
/// and, with `send_resolved` (on by default), the ones resolved since the last
/// notification:
///
/// ```json
/// {
///   "version": "4",
///   "groupKey": "{}:{alertname=\"HighErrorRate\"}",
///   "truncatedAlerts": 0,
///   "status": "firing",
///   "receiver": "oncall-payments",
///   "groupLabels": {"alertname": "HighErrorRate"},
///   "commonLabels": {"alertname": "HighErrorRate", "severity": "critical"},
///   "commonAnnotations": {},
///   "externalURL": "http://alertmanager.example.com:9093",
///   "alerts": [
///     {
///       "status": "firing",
///       "labels": {"alertname": "HighErrorRate", "instance": "api-1:8080", "severity": "critical"},
///       "annotations": {"summary": "5xx rate above 5% on api-1:8080"},
///       "startsAt": "2024-03-05T14:02:31.482Z",
///       "endsAt": "0001-01-01T00:00:00Z",
///       "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=...",
///       "fingerprint": "ffcf0de44522df0d"
///     }
///   ]
/// }
/// ```
///
/// Each entry of `alerts` becomes one [`Event`]:
///
/// - `dedup_key`: `groupKey + "/" + fingerprint`, so there is one open alert
///   per group *and* alert: a new alert joining a firing group pages again,
///   and a resolved one resolves only itself (deduplicating on the summary, or
///   on the group alone, loses both). Without a `fingerprint` (senders other
///   than Alertmanager), the one Alertmanager would compute: FNV-1a 64 over
///   the labels sorted by name, each name and value followed by the byte
///   0xff, as 16 hex digits. When the key would be longer than 255 characters
///   (a route grouping by many labels), the group key is replaced by its own
///   FNV-1a 64 hash in 16 hex digits, which keeps the key stable.
/// - `action`: `firing` → trigger, `resolved` → resolve.
/// - `summary`: `annotations.summary`, else `annotations.description`, else
///   `labels.alertname`, else the group key (the first that is not blank).
/// - `severity`: `labels.severity` through [`Severities::map`].
/// - `source`: `labels.instance`, else `labels.job`, else `receiver`.
/// - `details`: `labels`, `annotations`, `startsAt`, `endsAt`,
///   `generatorURL`, the `fingerprint` used, and the body's `externalURL`, as
///   sent (those present); and `full_summary`, the whole summary when it was
///   cut.
///
/// Unknown fields are ignored, as Alertmanager may add some.
pub fn alertmanager(body: &[u8], team: &str, severities: &Severities) -> Result<Vec<Event>, IntakeError> {
    parse_group(body, team, severities, Flavor::Alertmanager)
}

/// Which sender; they differ in version and a few extra fields.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    Alertmanager,
    Grafana,
}

impl Flavor {
    fn intake(self) -> &'static str {
        match self {
            Flavor::Alertmanager => names::ALERTMANAGER,
            Flavor::Grafana => names::GRAFANA,
        }
    }

    /// The alerts' fields kept in the details besides labels and annotations.
    fn detail_keys(self) -> &'static [&'static str] {
        match self {
            Flavor::Alertmanager => &["startsAt", "endsAt", "generatorURL"],
            Flavor::Grafana => &[
                "startsAt",
                "endsAt",
                "generatorURL",
                "values",
                "valueString",
                "silenceURL",
                "dashboardURL",
                "panelURL",
                "imageURL",
            ],
        }
    }
}

pub(super) fn parse_group(
    body: &[u8],
    team: &str,
    severities: &Severities,
    flavor: Flavor,
) -> Result<Vec<Event>, IntakeError> {
    let map = super::parse_object(body)?;
    let root = Obj::root(&map);
    match flavor {
        Flavor::Alertmanager => check_version(&root)?,
        Flavor::Grafana => check_not_legacy(&root)?,
    }
    let alerts = root.array_req("alerts")?;
    if alerts.len() > MAX_ALERTS {
        return Err(IntakeError::at(
            "alerts",
            format!(
                "too many alerts ({}); at most {MAX_ALERTS} are accepted in one body",
                alerts.len()
            ),
        ));
    }
    let group = Group {
        key: root.str_req("groupKey")?,
        receiver: root.nonblank_opt("receiver")?,
        external_url: root.get("externalURL"),
        team,
        severities,
        flavor,
    };
    alerts
        .iter()
        .enumerate()
        .map(|(i, alert)| group.event(i, alert))
        .collect()
}

fn check_version(root: &Obj) -> Result<(), IntakeError> {
    match root.get("version") {
        Some(Value::String(v)) if v == "4" => Ok(()),
        None => Err(IntakeError::at(
            "version",
            "'version' is missing; expected \"4\", an Alertmanager webhook payload of version 4",
        )),
        Some(Value::String(v)) if v == "1" && root.get("orgId").is_some() => Err(IntakeError::at(
            "version",
            "'version' must be \"4\", not \"1\": this looks like a Grafana webhook payload, for the Grafana intake",
        )),
        Some(Value::String(v)) => Err(IntakeError::at(
            "version",
            format!(
                "'version' must be \"4\" (Alertmanager webhook payload version 4), not {}",
                quote(v)
            ),
        )),
        Some(other) => Err(IntakeError::at(
            "version",
            format!("'version' must be the string \"4\", not {}", super::kind(other)),
        )),
    }
}

/// What the alerts of one body share.
struct Group<'a> {
    key: &'a str,
    receiver: Option<&'a str>,
    external_url: Option<&'a Value>,
    team: &'a str,
    severities: &'a Severities,
    flavor: Flavor,
}

impl Group<'_> {
    fn event(&self, index: usize, alert: &Value) -> Result<Event, IntakeError> {
        let path = format!("alerts[{index}]");
        let alert = Obj::at(alert, &path)?;
        let action = match alert.str_req("status")? {
            "firing" => Action::Trigger,
            "resolved" => Action::Resolve,
            other => {
                return Err(IntakeError::at(
                    &alert.path("status"),
                    format!(
                        "'{}' must be \"firing\" or \"resolved\", not {}",
                        alert.path("status"),
                        quote(other)
                    ),
                ));
            }
        };
        let labels = alert.string_map("labels")?;
        let annotations = alert.string_map("annotations")?;
        let fingerprint = match alert.nonblank_opt("fingerprint")? {
            Some(f) => f.to_string(),
            None => super::label_fingerprint(&labels),
        };
        let dedup_key = self.dedup_key(&fingerprint, &alert.path("fingerprint"))?;
        let nonblank = |s: &&str| !s.trim().is_empty();
        let summary = [
            annotations.get("summary"),
            annotations.get("description"),
            labels.get("alertname"),
        ]
        .into_iter()
        .flatten()
        .copied()
        .find(nonblank)
        .unwrap_or(self.key);
        let source = [
            labels.get("instance").copied(),
            labels.get("job").copied(),
            self.receiver,
        ]
        .into_iter()
        .flatten()
        .find(nonblank);

        let mut details = Map::new();
        let empty = || Value::Object(Map::new());
        details.insert("labels".into(), alert.get("labels").cloned().unwrap_or_else(empty));
        details.insert(
            "annotations".into(),
            alert.get("annotations").cloned().unwrap_or_else(empty),
        );
        for &key in self.flavor.detail_keys() {
            if let Some(value) = alert.get(key) {
                details.insert(key.into(), value.clone());
            }
        }
        details.insert("fingerprint".into(), Value::String(fingerprint));
        if let Some(url) = self.external_url {
            details.insert("externalURL".into(), url.clone());
        }
        if let Some(full) = full_summary(summary) {
            details.insert(FULL_SUMMARY.into(), full);
        }

        Ok(Event {
            team: self.team.to_string(),
            action,
            dedup_key,
            summary: truncate_summary(summary),
            severity: self.severities.map(labels.get("severity").copied()).to_string(),
            source: source.map(|s| s.trim().to_string()),
            details: Value::Object(details),
            intake: self.flavor.intake().to_string(),
            held: None,
        })
    }

    /// `groupKey/fingerprint`, the group key hashed if that is too long.
    fn dedup_key(&self, fingerprint: &str, field: &str) -> Result<String, IntakeError> {
        let key = format!("{}/{fingerprint}", self.key);
        if key.chars().count() <= MAX_DEDUP_KEY_CHARS {
            return Ok(key);
        }
        let hashed = format!(
            "{:016x}/{fingerprint}",
            super::fnv1a64(super::FNV_OFFSET, self.key.as_bytes())
        );
        if hashed.chars().count() <= MAX_DEDUP_KEY_CHARS {
            return Ok(hashed);
        }
        // 16 hex digits and the slash.
        let max = MAX_DEDUP_KEY_CHARS - 17;
        let n = fingerprint.chars().count();
        Err(IntakeError::at(
            field,
            format!("'{field}' is {n} characters long; at most {max} are accepted"),
        ))
    }
}

/// Grafana's legacy alerting sent another shape altogether (its unified
/// alerting sends Alertmanager's, read here).
fn check_not_legacy(root: &Obj) -> Result<(), IntakeError> {
    if root.get("alerts").is_none() && (root.get("evalMatches").is_some() || root.get("ruleId").is_some()) {
        return Err(IntakeError::at(
            "alerts",
            "'alerts' is missing: this looks like a payload of Grafana's legacy alerting (with 'evalMatches'), \
             which is not supported; use a webhook contact point of Grafana alerting",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::intake::testing::{err, rejects_bad_bodies};

    /// What Alertmanager 0.25 sends for a group of two firing alerts.
    const FIRING: &str = r#"{
  "receiver": "oncall-payments",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {
        "alertname": "HighErrorRate",
        "instance": "api-1.payments.svc:8080",
        "job": "payments-api",
        "service": "payments",
        "severity": "critical"
      },
      "annotations": {
        "description": "api-1.payments.svc:8080 has answered 7.2% of requests with a 5xx over the last 5 minutes.",
        "runbook_url": "https://wiki.example.com/runbooks/payments/high-error-rate",
        "summary": "5xx rate above 5% on api-1.payments.svc:8080"
      },
      "startsAt": "2024-03-05T14:02:31.482Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=sum+by%28instance%29+%28rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29+%3E+0.05&g0.tab=1",
      "fingerprint": "173b5bd44521c045"
    },
    {
      "status": "firing",
      "labels": {
        "alertname": "HighErrorRate",
        "instance": "api-2.payments.svc:8080",
        "job": "payments-api",
        "service": "payments",
        "severity": "critical"
      },
      "annotations": {
        "description": "api-2.payments.svc:8080 has answered 6.1% of requests with a 5xx over the last 5 minutes.",
        "runbook_url": "https://wiki.example.com/runbooks/payments/high-error-rate",
        "summary": "5xx rate above 5% on api-2.payments.svc:8080"
      },
      "startsAt": "2024-03-05T14:03:01.482Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=sum+by%28instance%29+%28rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29+%3E+0.05&g0.tab=1",
      "fingerprint": "44442fb22dd863ca"
    }
  ],
  "groupLabels": {
    "alertname": "HighErrorRate"
  },
  "commonLabels": {
    "alertname": "HighErrorRate",
    "job": "payments-api",
    "service": "payments",
    "severity": "critical"
  },
  "commonAnnotations": {
    "runbook_url": "https://wiki.example.com/runbooks/payments/high-error-rate"
  },
  "externalURL": "http://alertmanager.example.com:9093",
  "version": "4",
  "groupKey": "{}/{service=\"payments\"}:{alertname=\"HighErrorRate\"}",
  "truncatedAlerts": 0
}"#;

    /// The next notification of the same group: api-1 recovered, api-2 still
    /// firing.
    const ONE_RESOLVED: &str = r#"{
  "receiver": "oncall-payments",
  "status": "firing",
  "alerts": [
    {
      "status": "resolved",
      "labels": {
        "alertname": "HighErrorRate",
        "instance": "api-1.payments.svc:8080",
        "job": "payments-api",
        "service": "payments",
        "severity": "critical"
      },
      "annotations": {
        "description": "api-1.payments.svc:8080 has answered 0.4% of requests with a 5xx over the last 5 minutes.",
        "runbook_url": "https://wiki.example.com/runbooks/payments/high-error-rate",
        "summary": "5xx rate above 5% on api-1.payments.svc:8080"
      },
      "startsAt": "2024-03-05T14:02:31.482Z",
      "endsAt": "2024-03-05T14:17:31.482Z",
      "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=sum+by%28instance%29+%28rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29+%3E+0.05&g0.tab=1",
      "fingerprint": "173b5bd44521c045"
    },
    {
      "status": "firing",
      "labels": {
        "alertname": "HighErrorRate",
        "instance": "api-2.payments.svc:8080",
        "job": "payments-api",
        "service": "payments",
        "severity": "critical"
      },
      "annotations": {
        "description": "api-2.payments.svc:8080 has answered 6.8% of requests with a 5xx over the last 5 minutes.",
        "runbook_url": "https://wiki.example.com/runbooks/payments/high-error-rate",
        "summary": "5xx rate above 5% on api-2.payments.svc:8080"
      },
      "startsAt": "2024-03-05T14:03:01.482Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=sum+by%28instance%29+%28rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29+%3E+0.05&g0.tab=1",
      "fingerprint": "44442fb22dd863ca"
    }
  ],
  "groupLabels": {
    "alertname": "HighErrorRate"
  },
  "commonLabels": {
    "alertname": "HighErrorRate",
    "job": "payments-api",
    "service": "payments",
    "severity": "critical"
  },
  "commonAnnotations": {
    "runbook_url": "https://wiki.example.com/runbooks/payments/high-error-rate"
  },
  "externalURL": "http://alertmanager.example.com:9093",
  "version": "4",
  "groupKey": "{}/{service=\"payments\"}:{alertname=\"HighErrorRate\"}",
  "truncatedAlerts": 0
}"#;

    const GROUP: &str = "{}/{service=\"payments\"}:{alertname=\"HighErrorRate\"}";

    fn parse(body: &str) -> Result<Vec<Event>, IntakeError> {
        alertmanager(body.as_bytes(), "payments", &Severities::default())
    }

    /// `FIRING` with its JSON changed by `edit`.
    fn edited(edit: impl FnOnce(&mut Value)) -> Result<Vec<Event>, IntakeError> {
        let mut body: Value = serde_json::from_str(FIRING).unwrap();
        edit(&mut body);
        parse(&body.to_string())
    }

    #[test]
    fn a_firing_group_of_two_gives_two_events() {
        let events = parse(FIRING).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0],
            Event {
                team: "payments".into(),
                action: Action::Trigger,
                dedup_key: format!("{GROUP}/173b5bd44521c045"),
                summary: "5xx rate above 5% on api-1.payments.svc:8080".into(),
                severity: "critical".into(),
                source: Some("api-1.payments.svc:8080".into()),
                details: json!({
                    "labels": {
                        "alertname": "HighErrorRate",
                        "instance": "api-1.payments.svc:8080",
                        "job": "payments-api",
                        "service": "payments",
                        "severity": "critical"
                    },
                    "annotations": {
                        "description": "api-1.payments.svc:8080 has answered 7.2% of requests with a 5xx over the last 5 minutes.",
                        "runbook_url": "https://wiki.example.com/runbooks/payments/high-error-rate",
                        "summary": "5xx rate above 5% on api-1.payments.svc:8080"
                    },
                    "startsAt": "2024-03-05T14:02:31.482Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=sum+by%28instance%29+%28rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29+%3E+0.05&g0.tab=1",
                    "fingerprint": "173b5bd44521c045",
                    "externalURL": "http://alertmanager.example.com:9093"
                }),
                held: None,
                intake: "alertmanager".into(),
            }
        );
        assert_eq!(events[1].action, Action::Trigger);
        assert_eq!(events[1].dedup_key, format!("{GROUP}/44442fb22dd863ca"));
        assert_eq!(events[1].summary, "5xx rate above 5% on api-2.payments.svc:8080");
        assert_ne!(
            events[0].dedup_key, events[1].dedup_key,
            "one alert per fingerprint, not per group"
        );
    }

    #[test]
    fn a_resolved_alert_resolves_only_itself() {
        let firing = parse(FIRING).unwrap();
        let next = parse(ONE_RESOLVED).unwrap();
        assert_eq!(next[0].action, Action::Resolve);
        assert_eq!(next[0].dedup_key, firing[0].dedup_key);
        assert_eq!(next[1].action, Action::Trigger);
        assert_eq!(next[1].dedup_key, firing[1].dedup_key);
    }

    #[test]
    fn the_same_alert_in_another_group_is_another_alert() {
        let other = edited(|b| b["groupKey"] = json!("{}/{service=\"checkout\"}:{alertname=\"HighErrorRate\"}"));
        assert_ne!(other.unwrap()[0].dedup_key, parse(FIRING).unwrap()[0].dedup_key);
    }

    #[test]
    fn without_a_fingerprint_the_one_alertmanager_would_compute() {
        let events = edited(|b| {
            b["alerts"][0].as_object_mut().unwrap().remove("fingerprint");
            b["alerts"][1]["fingerprint"] = json!("");
            b["alerts"][0]["labels"] = json!({"name": "garland, briggs", "fear": "love is not enough"});
            b["alerts"][1]["labels"] = json!({"fear": "love is not enough", "name": "garland, briggs"});
        })
        .unwrap();
        // prometheus/common's test vector for these labels: 5799056148416392346.
        assert_eq!(events[0].dedup_key, format!("{GROUP}/507a62d79ee76c9a"));
        assert_eq!(events[1].dedup_key, events[0].dedup_key, "label order does not matter");
        assert_eq!(events[0].details["fingerprint"], json!("507a62d79ee76c9a"));
    }

    #[test]
    fn the_derived_fingerprint_is_alertmanagers() {
        let derived = edited(|b| {
            for alert in b["alerts"].as_array_mut().unwrap() {
                alert.as_object_mut().unwrap().remove("fingerprint");
            }
        })
        .unwrap();
        assert_eq!(derived, parse(FIRING).unwrap());
    }

    #[test]
    fn a_long_group_key_is_hashed() {
        let long = format!(
            "{{}}:{{{}}}",
            (0..40)
                .map(|i| format!("label{i}=\"value{i}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        let events = edited(|b| b["groupKey"] = json!(long)).unwrap();
        let hash = format!(
            "{:016x}",
            crate::intake::fnv1a64(crate::intake::FNV_OFFSET, long.as_bytes())
        );
        assert_eq!(events[0].dedup_key, format!("{hash}/173b5bd44521c045"));
        assert_eq!(events[1].dedup_key, format!("{hash}/44442fb22dd863ca"));
        assert_eq!(edited(|b| b["groupKey"] = json!(long)).unwrap(), events, "stable");
        assert_eq!(
            edited(|b| b["alerts"][1]["fingerprint"] = json!("f".repeat(300))).unwrap_err(),
            err(
                Some("alerts[1].fingerprint"),
                "'alerts[1].fingerprint' is 300 characters long; at most 238 are accepted"
            )
        );
    }

    #[test]
    fn summary_falls_back_to_description_then_alertname_then_group_key() {
        let e = edited(|b| b["alerts"][0]["annotations"]["summary"] = json!("  ")).unwrap();
        assert_eq!(
            e[0].summary,
            "api-1.payments.svc:8080 has answered 7.2% of requests with a 5xx over the last 5 minutes."
        );
        let e = edited(|b| b["alerts"][0]["annotations"] = json!({})).unwrap();
        assert_eq!(e[0].summary, "HighErrorRate");
        let e = edited(|b| {
            b["alerts"][0]["annotations"] = json!({});
            b["alerts"][0]["labels"] = json!({"instance": "api-1"});
        })
        .unwrap();
        assert_eq!(e[0].summary, GROUP);
        let e = edited(|b| b["alerts"][0]["annotations"]["summary"] = json!("x".repeat(2000))).unwrap();
        assert_eq!(e[0].summary, format!("{}…", "x".repeat(1023)));
    }

    #[test]
    fn severity_label_is_mapped() {
        let with = |level: Value| {
            edited(|b| b["alerts"][0]["labels"]["severity"] = level).unwrap()[0]
                .severity
                .clone()
        };
        assert_eq!(with(json!("critical")), "critical");
        assert_eq!(with(json!("warning")), "minor");
        assert_eq!(with(json!("info")), "minor");
        assert_eq!(with(json!("Page")), "critical");
        assert_eq!(with(json!("something-else")), "major");
        let e = edited(|b| {
            b["alerts"][0]["labels"].as_object_mut().unwrap().remove("severity");
        })
        .unwrap();
        assert_eq!(e[0].severity, "major", "no label: the default");
        let five = ["p5", "p4", "p3", "p2", "p1"].map(String::from).to_vec();
        let aliases = [("sev1".to_string(), "p1".to_string())].into_iter().collect();
        let severities = Severities::new(five, aliases, Some("p4".into())).unwrap();
        let body = FIRING.replace("\"severity\": \"critical\"", "\"severity\": \"sev1\"");
        assert_eq!(
            alertmanager(body.as_bytes(), "payments", &severities).unwrap()[0].severity,
            "p1"
        );
        let body = FIRING.replace("\"severity\": \"critical\"", "\"severity\": \"warning\"");
        assert_eq!(
            alertmanager(body.as_bytes(), "payments", &severities).unwrap()[0].severity,
            "p5"
        );
    }

    #[test]
    fn source_is_instance_then_job_then_receiver() {
        let e = edited(|b| {
            b["alerts"][0]["labels"].as_object_mut().unwrap().remove("instance");
            b["alerts"][1]["labels"] = json!({"alertname": "Watchdog"});
        })
        .unwrap();
        assert_eq!(e[0].source.as_deref(), Some("payments-api"));
        assert_eq!(e[1].source.as_deref(), Some("oncall-payments"));
    }

    #[test]
    fn an_empty_group_gives_no_events() {
        assert_eq!(edited(|b| b["alerts"] = json!([])).unwrap(), vec![]);
    }

    #[test]
    fn version_must_be_4() {
        assert_eq!(
            edited(|b| b["version"] = json!("3")).unwrap_err(),
            err(
                Some("version"),
                "'version' must be \"4\" (Alertmanager webhook payload version 4), not \"3\""
            )
        );
        assert_eq!(
            edited(|b| b["version"] = json!(4)).unwrap_err(),
            err(Some("version"), "'version' must be the string \"4\", not a number")
        );
        assert_eq!(
            edited(|b| {
                b.as_object_mut().unwrap().remove("version");
            })
            .unwrap_err(),
            err(
                Some("version"),
                "'version' is missing; expected \"4\", an Alertmanager webhook payload of version 4"
            )
        );
        assert_eq!(
            edited(|b| {
                b["version"] = json!("1");
                b["orgId"] = json!(1);
            })
            .unwrap_err(),
            err(
                Some("version"),
                "'version' must be \"4\", not \"1\": this looks like a Grafana webhook payload, for the Grafana intake"
            )
        );
    }

    #[test]
    fn bad_alerts() {
        assert_eq!(
            edited(|b| {
                b.as_object_mut().unwrap().remove("alerts");
            })
            .unwrap_err(),
            err(Some("alerts"), "'alerts' is missing")
        );
        assert_eq!(
            edited(|b| b["alerts"] = json!({"status": "firing"})).unwrap_err(),
            err(Some("alerts"), "'alerts' must be an array, not an object")
        );
        assert_eq!(
            edited(|b| b["alerts"][1] = json!("HighErrorRate")).unwrap_err(),
            err(Some("alerts[1]"), "'alerts[1]' must be an object, not a string")
        );
    }

    #[test]
    fn too_many_alerts() {
        let ok = edited(|b| b["alerts"] = json!(vec![b["alerts"][0].clone(); 1000])).unwrap();
        assert_eq!(ok.len(), 1000);
        assert_eq!(
            edited(|b| b["alerts"] = json!(vec![b["alerts"][0].clone(); 1001])).unwrap_err(),
            err(
                Some("alerts"),
                "too many alerts (1001); at most 1000 are accepted in one body"
            )
        );
    }

    #[test]
    fn bad_group_key() {
        assert_eq!(
            edited(|b| b["groupKey"] = json!("")).unwrap_err(),
            err(Some("groupKey"), "'groupKey' is missing or blank")
        );
        assert_eq!(
            edited(|b| b["groupKey"] = json!(12)).unwrap_err(),
            err(Some("groupKey"), "'groupKey' must be a string, not a number")
        );
    }

    #[test]
    fn bad_status() {
        assert_eq!(
            edited(|b| b["alerts"][1]["status"] = json!("pending")).unwrap_err(),
            err(
                Some("alerts[1].status"),
                "'alerts[1].status' must be \"firing\" or \"resolved\", not \"pending\""
            )
        );
        assert_eq!(
            edited(|b| {
                b["alerts"][0].as_object_mut().unwrap().remove("status");
            })
            .unwrap_err(),
            err(Some("alerts[0].status"), "'alerts[0].status' is missing or blank")
        );
        assert_eq!(
            edited(|b| b["alerts"][0]["status"] = json!(true)).unwrap_err(),
            err(
                Some("alerts[0].status"),
                "'alerts[0].status' must be a string, not a boolean"
            )
        );
    }

    #[test]
    fn bad_labels_and_annotations() {
        assert_eq!(
            edited(|b| b["alerts"][1]["labels"] = json!(["alertname", "HighErrorRate"])).unwrap_err(),
            err(
                Some("alerts[1].labels"),
                "'alerts[1].labels' must be an object, not an array"
            )
        );
        assert_eq!(
            edited(|b| b["alerts"][0]["labels"]["severity"] = json!(1)).unwrap_err(),
            err(
                Some("alerts[0].labels.severity"),
                "'alerts[0].labels.severity' must be a string, not a number"
            )
        );
        assert_eq!(
            edited(|b| b["alerts"][0]["annotations"]["summary"] = json!({"text": "x"})).unwrap_err(),
            err(
                Some("alerts[0].annotations.summary"),
                "'alerts[0].annotations.summary' must be a string, not an object"
            )
        );
        let e = edited(|b| {
            b["alerts"][0]["labels"] = Value::Null;
            b["alerts"][0]["annotations"] = Value::Null;
        })
        .unwrap();
        assert_eq!(e[0].details["labels"], json!({}), "null counts as absent");
        assert_eq!(e[0].summary, GROUP);
    }

    #[test]
    fn bad_fingerprint_and_receiver() {
        assert_eq!(
            edited(|b| b["alerts"][0]["fingerprint"] = json!(123)).unwrap_err(),
            err(
                Some("alerts[0].fingerprint"),
                "'alerts[0].fingerprint' must be a string, not a number"
            )
        );
        assert_eq!(
            edited(|b| b["receiver"] = json!(["a"])).unwrap_err(),
            err(Some("receiver"), "'receiver' must be a string, not an array")
        );
    }

    #[test]
    fn bad_bodies() {
        rejects_bad_bodies(|body| alertmanager(body, "payments", &Severities::default()));
    }
}
