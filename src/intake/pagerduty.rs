//! PagerDuty's Events API v2: see [`pagerduty()`].

use serde_json::{Map, Value};

use super::{
    FULL_SUMMARY, IntakeError, Obj, action_name, check_dedup_key, full_summary, names, quote, truncate_summary,
};
use crate::domain::alert::{Action, Event};
use crate::domain::severity::Severities;

/// The levels `payload.severity` may take.
pub const PAGERDUTY_SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

/// An Events API v2 event, checked, before it is given a team and a dedup key.
#[derive(Clone, Debug, PartialEq)]
pub struct PagerDutyEvent {
    /// As sent; the caller checks it against the team's intake key.
    pub routing_key: String,
    pub action: Action,
    /// As sent; `None` for a trigger without one (never for acknowledge or
    /// resolve).
    pub dedup_key: Option<String>,
    /// `payload.summary`, trimmed and cut to 1024 characters; empty for
    /// acknowledge and resolve.
    pub summary: String,
    /// `payload.severity` in lower case, one of [`PAGERDUTY_SEVERITIES`];
    /// `None` for acknowledge and resolve.
    pub severity: Option<String>,
    /// `payload.source`, trimmed; `None` for acknowledge and resolve.
    pub source: Option<String>,
    /// An object of the optional fields sent (see [`pagerduty()`]).
    pub details: Value,
}

impl PagerDutyEvent {
    /// The event for `team`, its severity mapped. `dedup_key` is used only
    /// when the event carried none (a trigger without a key): pass a freshly
    /// generated one, and answer with the resulting event's `dedup_key`.
    pub fn into_event(self, team: &str, severities: &Severities, dedup_key: String) -> Event {
        Event {
            team: team.to_string(),
            action: self.action,
            dedup_key: self.dedup_key.unwrap_or(dedup_key),
            summary: self.summary,
            severity: severities.map(self.severity.as_deref()).to_string(),
            source: self.source,
            details: self.details,
            intake: names::PAGERDUTY.to_string(),
            held: None,
        }
    }
}

/// PagerDuty's Events API v2 (`POST /v2/enqueue`), so that anything able to
/// page PagerDuty can page us: point it at our URL and give it the team's
/// intake key as the routing (integration) key.
///
/// A trigger:
///
/// ```json
/// {
///   "routing_key": "e93facc04764012d7bfb002500d5d1a6",
///   "event_action": "trigger",
///   "dedup_key": "db-primary/replication-lag",
///   "payload": {
///     "summary": "Replication lag above 30s on db-primary",
///     "source": "db-primary.example.com",
///     "severity": "critical",
///     "timestamp": "2024-03-05T14:02:31.482+0000",
///     "component": "postgres",
///     "group": "payments-db",
///     "class": "replication",
///     "custom_details": {"lag_seconds": 42}
///   },
///   "images": [],
///   "links": [{"href": "https://grafana.example.com/d/pg", "text": "Postgres dashboard"}],
///   "client": "Example Monitoring",
///   "client_url": "https://monitoring.example.com"
/// }
/// ```
///
/// and to acknowledge or resolve it,
/// `{"routing_key": "...", "event_action": "resolve", "dedup_key": "db-primary/replication-lag"}`.
///
/// The rules are PagerDuty's:
///
/// - `routing_key` is required (PagerDuty's are 32 characters; any non-blank
///   string is accepted here, and checking it against the team's intake key
///   is the caller's job).
/// - `event_action` is `trigger`, `acknowledge` or `resolve`.
/// - `dedup_key` is optional for a trigger (the caller generates one and
///   answers with it) and required to acknowledge or resolve; at most 255
///   characters.
/// - `payload` is required for a trigger, with `summary` (cut to 1024
///   characters, as PagerDuty does), `source` and `severity` (`critical`,
///   `error`, `warning` or `info`, in any case), and optionally `timestamp`,
///   `component`, `group`, `class` (strings) and `custom_details` (any JSON).
///   For acknowledge and resolve the payload is ignored, as PagerDuty does.
/// - `images` and `links` (arrays), `client` and `client_url` (strings) are
///   optional.
///
/// The event's details are an object of those optional fields that were sent:
/// `custom_details`, `timestamp`, `component`, `group`, `class`, `images`,
/// `links`, `client`, `client_url`; and `full_summary`, the whole summary
/// when it was cut. Severity: `critical` → the highest,
/// `error` → the middle, `warning` and `info` → the lowest (through
/// [`Severities::map`], so configured aliases apply). Unknown fields are
/// ignored, as PagerDuty does.
pub fn pagerduty(body: &[u8]) -> Result<PagerDutyEvent, IntakeError> {
    let map = super::parse_object(body)?;
    let root = Obj::root(&map);
    let routing_key = root.str_req("routing_key")?.to_string();
    let action = match root.str_req("event_action")? {
        "trigger" => Action::Trigger,
        "acknowledge" => Action::Acknowledge,
        "resolve" => Action::Resolve,
        other => {
            return Err(IntakeError::at(
                "event_action",
                format!(
                    "'event_action' must be one of trigger, acknowledge, resolve, not {}",
                    quote(other)
                ),
            ));
        }
    };
    let dedup_key = check_dedup_key("dedup_key", root.str_opt("dedup_key")?)?;
    let mut details = Map::new();
    let (summary, severity, source) = if action == Action::Trigger {
        let payload = match root.get("payload") {
            None => return Err(IntakeError::at("payload", "'payload' is missing; a trigger needs one")),
            Some(value) => Obj::at(value, "payload")?,
        };
        let sent_summary = payload.str_req("summary")?;
        let summary = truncate_summary(sent_summary);
        let source = payload.str_req("source")?.trim().to_string();
        let sent_severity = payload.str_req("severity")?;
        let severity = sent_severity.trim().to_lowercase();
        if !PAGERDUTY_SEVERITIES.contains(&severity.as_str()) {
            return Err(IntakeError::at(
                "payload.severity",
                format!(
                    "'payload.severity' must be one of critical, error, warning, info, not {}",
                    quote(sent_severity)
                ),
            ));
        }
        if let Some(value) = payload.get("custom_details") {
            details.insert("custom_details".into(), value.clone());
        }
        for key in ["timestamp", "component", "group", "class"] {
            if let Some(value) = payload.str_opt(key)? {
                details.insert(key.into(), Value::String(value.to_string()));
            }
        }
        if let Some(full) = full_summary(sent_summary) {
            details.insert(FULL_SUMMARY.into(), full);
        }
        (summary, Some(severity), Some(source))
    } else {
        if dedup_key.is_none() {
            return Err(IntakeError::at(
                "dedup_key",
                format!(
                    "'dedup_key' is missing or blank; it is required to {}",
                    action_name(action)
                ),
            ));
        }
        (String::new(), None, None)
    };
    for key in ["images", "links"] {
        if let Some(value) = root.kind_opt(key, "an array", Value::is_array)? {
            details.insert(key.into(), value.clone());
        }
    }
    for key in ["client", "client_url"] {
        if let Some(value) = root.str_opt(key)? {
            details.insert(key.into(), Value::String(value.to_string()));
        }
    }
    Ok(PagerDutyEvent {
        routing_key,
        action,
        dedup_key,
        summary,
        severity,
        source,
        details: Value::Object(details),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::intake::testing::{err, rejects_bad_bodies};

    /// A trigger as a monitoring tool's PagerDuty integration sends it.
    const TRIGGER: &str = r#"{
  "payload": {
    "summary": "Replication lag above 30s on db-primary.payments.example.com",
    "timestamp": "2024-03-05T14:02:31.482+0000",
    "severity": "critical",
    "source": "db-primary.payments.example.com",
    "component": "postgres",
    "group": "payments-db",
    "class": "replication",
    "custom_details": {
      "lag_seconds": 42.5,
      "replica": "db-replica-2.payments.example.com",
      "wal_receiver": {"status": "streaming", "received_lsn": "3/A2000148"}
    }
  },
  "routing_key": "e93facc04764012d7bfb002500d5d1a6",
  "dedup_key": "db-primary/replication-lag",
  "images": [
    {
      "src": "https://monitoring.example.com/graphs/replication-lag.png",
      "href": "https://monitoring.example.com/dashboards/postgres",
      "alt": "Replication lag over the last hour"
    }
  ],
  "links": [
    {
      "href": "https://wiki.example.com/runbooks/postgres/replication-lag",
      "text": "Runbook"
    }
  ],
  "event_action": "trigger",
  "client": "Example Monitoring",
  "client_url": "https://monitoring.example.com"
}"#;

    const ACKNOWLEDGE: &str = r#"{
  "routing_key": "e93facc04764012d7bfb002500d5d1a6",
  "dedup_key": "db-primary/replication-lag",
  "event_action": "acknowledge"
}"#;

    const RESOLVE: &str = r#"{
  "routing_key": "e93facc04764012d7bfb002500d5d1a6",
  "dedup_key": "db-primary/replication-lag",
  "event_action": "resolve"
}"#;

    fn edited(edit: impl FnOnce(&mut Value)) -> Result<PagerDutyEvent, IntakeError> {
        let mut body: Value = serde_json::from_str(TRIGGER).unwrap();
        edit(&mut body);
        pagerduty(body.to_string().as_bytes())
    }

    #[test]
    fn a_trigger() {
        let event = pagerduty(TRIGGER.as_bytes()).unwrap();
        assert_eq!(
            event,
            PagerDutyEvent {
                routing_key: "e93facc04764012d7bfb002500d5d1a6".into(),
                action: Action::Trigger,
                dedup_key: Some("db-primary/replication-lag".into()),
                summary: "Replication lag above 30s on db-primary.payments.example.com".into(),
                severity: Some("critical".into()),
                source: Some("db-primary.payments.example.com".into()),
                details: json!({
                    "custom_details": {
                        "lag_seconds": 42.5,
                        "replica": "db-replica-2.payments.example.com",
                        "wal_receiver": {"status": "streaming", "received_lsn": "3/A2000148"}
                    },
                    "timestamp": "2024-03-05T14:02:31.482+0000",
                    "component": "postgres",
                    "group": "payments-db",
                    "class": "replication",
                    "images": [{
                        "src": "https://monitoring.example.com/graphs/replication-lag.png",
                        "href": "https://monitoring.example.com/dashboards/postgres",
                        "alt": "Replication lag over the last hour"
                    }],
                    "links": [{"href": "https://wiki.example.com/runbooks/postgres/replication-lag", "text": "Runbook"}],
                    "client": "Example Monitoring",
                    "client_url": "https://monitoring.example.com"
                }),
            }
        );
        let e = event
            .clone()
            .into_event("payments", &Severities::default(), "generated".into());
        assert_eq!(e.team, "payments");
        assert_eq!(e.dedup_key, "db-primary/replication-lag", "the sent key wins");
        assert_eq!(e.severity, "critical");
        assert_eq!(e.source.as_deref(), Some("db-primary.payments.example.com"));
        assert_eq!(e.intake, "pagerduty");
        assert_eq!(e.details, event.details);
    }

    #[test]
    fn a_trigger_without_a_dedup_key_takes_the_generated_one() {
        let event = edited(|b| {
            b.as_object_mut().unwrap().remove("dedup_key");
        })
        .unwrap();
        assert_eq!(event.dedup_key, None);
        let e = event.into_event("payments", &Severities::default(), "0f8b7c1e".into());
        assert_eq!(e.dedup_key, "0f8b7c1e");
        assert_eq!(
            edited(|b| b["dedup_key"] = json!("")).unwrap().dedup_key,
            None,
            "blank counts as absent"
        );
    }

    #[test]
    fn acknowledge_and_resolve() {
        let ack = pagerduty(ACKNOWLEDGE.as_bytes()).unwrap();
        assert_eq!(
            ack,
            PagerDutyEvent {
                routing_key: "e93facc04764012d7bfb002500d5d1a6".into(),
                action: Action::Acknowledge,
                dedup_key: Some("db-primary/replication-lag".into()),
                summary: String::new(),
                severity: None,
                source: None,
                details: json!({}),
            }
        );
        let resolve = pagerduty(RESOLVE.as_bytes()).unwrap();
        assert_eq!(resolve.action, Action::Resolve);
        let e = resolve.into_event("payments", &Severities::default(), "unused".into());
        assert_eq!(
            (e.action, e.dedup_key.as_str()),
            (Action::Resolve, "db-primary/replication-lag")
        );
        // The payload of an acknowledge is ignored, even a broken one.
        let body = r#"{"routing_key": "k", "event_action": "acknowledge", "dedup_key": "x", "payload": 3}"#;
        assert_eq!(pagerduty(body.as_bytes()).unwrap().action, Action::Acknowledge);
    }

    #[test]
    fn severities_map_onto_the_installation() {
        let severity = |level: &str| {
            let event = edited(|b| b["payload"]["severity"] = json!(level)).unwrap();
            event
                .into_event("payments", &Severities::default(), String::new())
                .severity
        };
        assert_eq!(severity("critical"), "critical");
        assert_eq!(severity("error"), "major");
        assert_eq!(severity("warning"), "minor");
        assert_eq!(severity("info"), "minor");
        assert_eq!(severity("Critical"), "critical", "any case");
        assert_eq!(
            edited(|b| b["payload"]["severity"] = json!("ERROR"))
                .unwrap()
                .severity
                .as_deref(),
            Some("error")
        );
    }

    #[test]
    fn long_summaries_are_truncated_like_pagerduty_does() {
        let event = edited(|b| b["payload"]["summary"] = json!("lag ".repeat(500))).unwrap();
        assert_eq!(event.summary.chars().count(), 1024);
        assert!(event.summary.ends_with("lag lag…"));
    }

    #[test]
    fn missing_or_blank_required_fields() {
        let cases = [
            ("routing_key", "'routing_key' is missing or blank"),
            ("event_action", "'event_action' is missing or blank"),
            ("payload.summary", "'payload.summary' is missing or blank"),
            ("payload.source", "'payload.source' is missing or blank"),
            ("payload.severity", "'payload.severity' is missing or blank"),
        ];
        for (field, message) in cases {
            let remove = |b: &mut Value| match field.split_once('.') {
                Some((outer, inner)) => b[outer].as_object_mut().unwrap().remove(inner),
                None => b.as_object_mut().unwrap().remove(field),
            };
            assert_eq!(
                edited(|b| {
                    remove(b);
                })
                .unwrap_err(),
                err(Some(field), message)
            );
            let blank = |b: &mut Value| match field.split_once('.') {
                Some((outer, inner)) => b[outer][inner] = json!(" "),
                None => b[field] = json!(""),
            };
            assert_eq!(edited(blank).unwrap_err(), err(Some(field), message), "{field} blank");
        }
        assert_eq!(
            edited(|b| {
                b.as_object_mut().unwrap().remove("payload");
            })
            .unwrap_err(),
            err(Some("payload"), "'payload' is missing; a trigger needs one")
        );
        let body = r#"{"routing_key": "k", "event_action": "resolve"}"#;
        assert_eq!(
            pagerduty(body.as_bytes()).unwrap_err(),
            err(
                Some("dedup_key"),
                "'dedup_key' is missing or blank; it is required to resolve"
            )
        );
        let body = r#"{"routing_key": "k", "event_action": "acknowledge", "dedup_key": "  "}"#;
        assert_eq!(
            pagerduty(body.as_bytes()).unwrap_err(),
            err(
                Some("dedup_key"),
                "'dedup_key' is missing or blank; it is required to acknowledge"
            )
        );
    }

    #[test]
    fn invalid_values() {
        assert_eq!(
            edited(|b| b["event_action"] = json!("close")).unwrap_err(),
            err(
                Some("event_action"),
                "'event_action' must be one of trigger, acknowledge, resolve, not \"close\""
            )
        );
        assert_eq!(
            edited(|b| b["payload"]["severity"] = json!("sev1")).unwrap_err(),
            err(
                Some("payload.severity"),
                "'payload.severity' must be one of critical, error, warning, info, not \"sev1\""
            )
        );
        assert_eq!(
            edited(|b| b["dedup_key"] = json!("k".repeat(256))).unwrap_err(),
            err(
                Some("dedup_key"),
                "'dedup_key' is 256 characters long; at most 255 are accepted"
            )
        );
        assert_eq!(
            edited(|b| b["dedup_key"] = json!("ü".repeat(255))).unwrap().dedup_key,
            Some("ü".repeat(255))
        );
    }

    #[test]
    fn wrong_types() {
        let cases: [(&str, Value, &str); 10] = [
            ("routing_key", json!(42), "'routing_key' must be a string, not a number"),
            (
                "event_action",
                json!(["trigger"]),
                "'event_action' must be a string, not an array",
            ),
            ("dedup_key", json!(12345), "'dedup_key' must be a string, not a number"),
            (
                "payload",
                json!("disk full"),
                "'payload' must be an object, not a string",
            ),
            (
                "payload.summary",
                json!(1e300),
                "'payload.summary' must be a string, not a number",
            ),
            (
                "payload.severity",
                json!({"level": 1}),
                "'payload.severity' must be a string, not an object",
            ),
            (
                "payload.timestamp",
                json!(1709647351),
                "'payload.timestamp' must be a string, not a number",
            ),
            (
                "images",
                json!({"src": "x"}),
                "'images' must be an array, not an object",
            ),
            ("links", json!("https://x"), "'links' must be an array, not a string"),
            (
                "client_url",
                json!(false),
                "'client_url' must be a string, not a boolean",
            ),
        ];
        for (field, value, message) in cases {
            let set = |b: &mut Value| match field.split_once('.') {
                Some((outer, inner)) => b[outer][inner] = value.clone(),
                None => b[field] = value.clone(),
            };
            assert_eq!(edited(set).unwrap_err(), err(Some(field), message));
        }
    }

    #[test]
    fn custom_details_may_be_any_json_and_unknown_fields_are_ignored() {
        let event = edited(|b| {
            b["payload"]["custom_details"] = json!("free text");
            b["payload"]["timestamp"] = Value::Null;
            b["extra"] = json!({"ignored": true});
        })
        .unwrap();
        assert_eq!(event.details["custom_details"], json!("free text"));
        assert!(event.details.get("timestamp").is_none());
        assert!(event.details.get("extra").is_none());
        let huge = br#"{"routing_key": "k", "event_action": "trigger", "payload": {"summary": "s", "source": "h",
            "severity": "info", "custom_details": {"n": 123456789012345678901234567890}}}"#;
        assert_eq!(
            pagerduty(huge).unwrap().details["custom_details"]["n"],
            json!(1.2345678901234568e29)
        );
    }

    #[test]
    fn bad_bodies() {
        rejects_bad_bodies(pagerduty);
    }
}
