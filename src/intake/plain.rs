//! Plain JSON for scripts: see [`plain()`].

use serde_json::Value;

use super::{IntakeError, Obj, action_name, check_dedup_key, keep_full_summary, names, quote, truncate_summary};
use crate::config::diag::did_you_mean;
use crate::domain::alert::{Action, Event};
use crate::domain::severity::Severities;

/// The fields of a plain body.
pub const PLAIN_FIELDS: [&str; 6] = ["summary", "severity", "dedup_key", "details", "source", "action"];

/// A plain event, its team and severity filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct PlainEvent {
    /// The key sent, `None` when none was.
    pub dedup_key: Option<String>,
    /// The event; its `dedup_key` is the key sent, or empty when none was:
    /// fill it in (or use [`PlainEvent::into_event`]).
    pub event: Event,
}

impl PlainEvent {
    /// The event, with `generated` as its dedup key when none was sent.
    pub fn into_event(self, generated: String) -> Event {
        let mut event = self.event;
        if self.dedup_key.is_none() {
            event.dedup_key = generated;
        }
        event
    }
}

/// Plain JSON (`POST /v1/alerts`), for scripts and `curl`:
///
/// ```sh
/// curl -sS https://oncall.example.com/v1/alerts \
///   -H "Authorization: Bearer $ONCALL_INTAKE_KEY" -H 'Content-Type: application/json' \
///   -d '{"summary": "Nightly backup of db-1 failed", "severity": "major",
///        "dedup_key": "backup/db-1", "source": "cron@db-1", "details": {"exit_code": 2}}'
/// ```
///
/// | Field | | |
/// |---|---|---|
/// | `summary` | string | required to trigger; trimmed, cut to 1024 characters (the whole text kept in `details.full_summary`) |
/// | `severity` | string | optional; mapped through [`Severities::map`], so the installation's own names (`minor`, `major`, `critical` by default) and the usual levels (`critical`, `error`, `warning`, `info`...) work; absent, the default |
/// | `dedup_key` | string | optional to trigger (the caller generates one and answers with it), required to acknowledge or resolve; at most 255 characters |
/// | `details` | any JSON | optional, kept as sent (`null` when absent) |
/// | `source` | string | optional |
/// | `action` | string | `trigger` (the default), `acknowledge` or `resolve` |
///
/// Any other field is rejected, naming it, so that a typo (`sumary`) is not
/// silently ignored. A `null` counts as absent, and a blank `dedup_key`,
/// `severity` or `source` too. To acknowledge or resolve, `summary` may be
/// left out (the event's summary is then empty).
pub fn plain(body: &[u8], team: &str, severities: &Severities) -> Result<PlainEvent, IntakeError> {
    let map = super::parse_object(body)?;
    if let Some(key) = map.keys().find(|k| !PLAIN_FIELDS.contains(&k.as_str())) {
        return Err(unknown_field(key));
    }
    let root = Obj::root(&map);
    let action = match root.nonblank_opt("action")?.map(str::trim) {
        None | Some("trigger") => Action::Trigger,
        Some("acknowledge") => Action::Acknowledge,
        Some("resolve") => Action::Resolve,
        Some(other) => {
            return Err(IntakeError::at(
                "action",
                format!(
                    "'action' must be one of trigger, acknowledge, resolve, not {}",
                    quote(other)
                ),
            ));
        }
    };
    let sent_summary = match action {
        Action::Trigger => root.str_req("summary")?,
        _ => root.str_opt("summary")?.unwrap_or_default(),
    };
    let summary = truncate_summary(sent_summary);
    let dedup_key = check_dedup_key("dedup_key", root.str_opt("dedup_key")?)?;
    if action != Action::Trigger && dedup_key.is_none() {
        return Err(IntakeError::at(
            "dedup_key",
            format!(
                "'dedup_key' is missing or blank; it is required to {}",
                action_name(action)
            ),
        ));
    }
    let severity = severities.map(root.nonblank_opt("severity")?).to_string();
    let source = root.nonblank_opt("source")?.map(|s| s.trim().to_string());
    let mut details = root.get("details").cloned().unwrap_or(Value::Null);
    keep_full_summary(&mut details, sent_summary);
    let event = Event {
        team: team.to_string(),
        action,
        dedup_key: dedup_key.clone().unwrap_or_default(),
        summary,
        severity,
        source,
        details,
        intake: names::PLAIN.to_string(),
        held: None,
    };
    Ok(PlainEvent { dedup_key, event })
}

fn unknown_field(key: &str) -> IntakeError {
    const MAX: usize = 64;
    let short: String = key.chars().take(MAX).collect();
    let truncated = short.len() < key.len();
    let near = if truncated {
        None
    } else {
        did_you_mean(key, PLAIN_FIELDS)
    };
    let hint = match near {
        Some(near) => format!("did you mean '{near}'?"),
        None => format!("the fields are {}", PLAIN_FIELDS.join(", ")),
    };
    let field = if truncated { format!("{short}…") } else { short };
    IntakeError::new(Some(field), format!("unknown field {}; {hint}", quote(key)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::intake::testing::{err, rejects_bad_bodies};

    /// What the `curl` example of [`plain()`] sends.
    const CURL: &str = r#"{"summary": "Nightly backup of db-1 failed", "severity": "major",
       "dedup_key": "backup/db-1", "source": "cron@db-1", "details": {"exit_code": 2}}"#;

    fn parse(body: &str) -> Result<PlainEvent, IntakeError> {
        plain(body.as_bytes(), "payments", &Severities::default())
    }

    #[test]
    fn a_curl_body() {
        assert_eq!(
            parse(CURL).unwrap(),
            PlainEvent {
                dedup_key: Some("backup/db-1".into()),
                event: Event {
                    team: "payments".into(),
                    action: Action::Trigger,
                    dedup_key: "backup/db-1".into(),
                    summary: "Nightly backup of db-1 failed".into(),
                    severity: "major".into(),
                    source: Some("cron@db-1".into()),
                    details: json!({"exit_code": 2}),
                    held: None,
                    intake: "plain".into(),
                },
            }
        );
        assert_eq!(
            parse(CURL).unwrap().into_event("unused".into()).dedup_key,
            "backup/db-1"
        );
    }

    #[test]
    fn just_a_summary() {
        let p = parse(r#"{"summary": "  disk full on web-3\n"}"#).unwrap();
        assert_eq!(p.dedup_key, None);
        assert_eq!(p.event.dedup_key, "", "the caller fills it in");
        assert_eq!(p.event.summary, "disk full on web-3");
        assert_eq!(p.event.severity, "major", "the default");
        assert_eq!(p.event.source, None);
        assert_eq!(p.event.details, Value::Null);
        assert_eq!(p.event.action, Action::Trigger);
        assert_eq!(p.into_event("3f2a9c".into()).dedup_key, "3f2a9c");
        let p =
            parse(r#"{"summary": "s", "severity": null, "dedup_key": "", "source": " ", "details": null}"#).unwrap();
        assert_eq!(
            (p.dedup_key, p.event.source, p.event.severity.as_str()),
            (None, None, "major")
        );
    }

    #[test]
    fn severity_is_mapped() {
        let severity = |level: &str| {
            parse(&json!({"summary": "s", "severity": level}).to_string())
                .unwrap()
                .event
                .severity
        };
        assert_eq!(severity("critical"), "critical");
        assert_eq!(severity("MINOR"), "minor");
        assert_eq!(severity("warning"), "minor");
        assert_eq!(severity("error"), "major");
        assert_eq!(severity("whatever"), "major");
    }

    #[test]
    fn acknowledge_and_resolve_need_a_key_but_no_summary() {
        let p = parse(r#"{"action": "resolve", "dedup_key": "backup/db-1"}"#).unwrap();
        assert_eq!(p.event.action, Action::Resolve);
        assert_eq!(p.event.dedup_key, "backup/db-1");
        assert_eq!(p.event.summary, "");
        let p = parse(r#"{"action": "acknowledge", "dedup_key": "backup/db-1", "summary": "on it"}"#).unwrap();
        assert_eq!(
            (p.event.action, p.event.summary.as_str()),
            (Action::Acknowledge, "on it")
        );
        assert_eq!(
            parse(r#"{"action": "resolve", "summary": "backup ok"}"#).unwrap_err(),
            err(
                Some("dedup_key"),
                "'dedup_key' is missing or blank; it is required to resolve"
            )
        );
        assert_eq!(
            parse(r#"{"action": "close", "dedup_key": "k"}"#).unwrap_err(),
            err(
                Some("action"),
                "'action' must be one of trigger, acknowledge, resolve, not \"close\""
            )
        );
    }

    #[test]
    fn unknown_fields_are_named() {
        assert_eq!(
            parse(r#"{"sumary": "disk full"}"#).unwrap_err(),
            err(Some("sumary"), "unknown field \"sumary\"; did you mean 'summary'?")
        );
        assert_eq!(
            parse(r#"{"summary": "disk full", "Severity": "critical"}"#).unwrap_err(),
            err(Some("Severity"), "unknown field \"Severity\"; did you mean 'severity'?")
        );
        assert_eq!(
            parse(r#"{"summary": "disk full", "priority": "P1"}"#).unwrap_err(),
            err(
                Some("priority"),
                "unknown field \"priority\"; the fields are summary, severity, dedup_key, details, source, action"
            )
        );
        let long = "x".repeat(100);
        let e = parse(&json!({"summary": "s", long.clone(): 1}).to_string()).unwrap_err();
        assert_eq!(e.field, Some(format!("{}…", "x".repeat(64))));
    }

    #[test]
    fn missing_blank_or_mistyped_summary() {
        for body in [
            r#"{}"#,
            r#"{"summary": ""}"#,
            r#"{"summary": " \n "}"#,
            r#"{"summary": null}"#,
        ] {
            assert_eq!(
                parse(body).unwrap_err(),
                err(Some("summary"), "'summary' is missing or blank"),
                "{body}"
            );
        }
        assert_eq!(
            parse(r#"{"summary": 42}"#).unwrap_err(),
            err(Some("summary"), "'summary' must be a string, not a number")
        );
        assert_eq!(
            parse(r#"{"summary": 123456789012345678901234567890}"#).unwrap_err(),
            err(Some("summary"), "'summary' must be a string, not a number")
        );
        assert_eq!(
            parse(r#"{"summary": ["disk", "full"]}"#).unwrap_err(),
            err(Some("summary"), "'summary' must be a string, not an array")
        );
    }

    #[test]
    fn mistyped_optional_fields() {
        let cases = [
            (
                r#"{"summary": "s", "severity": 1}"#,
                "severity",
                "'severity' must be a string, not a number",
            ),
            (
                r#"{"summary": "s", "dedup_key": 7}"#,
                "dedup_key",
                "'dedup_key' must be a string, not a number",
            ),
            (
                r#"{"summary": "s", "source": {}}"#,
                "source",
                "'source' must be a string, not an object",
            ),
            (
                r#"{"summary": "s", "action": true}"#,
                "action",
                "'action' must be a string, not a boolean",
            ),
        ];
        for (body, field, message) in cases {
            assert_eq!(parse(body).unwrap_err(), err(Some(field), message), "{body}");
        }
    }

    #[test]
    fn limits() {
        let long = parse(&json!({"summary": "é".repeat(5000)}).to_string()).unwrap();
        assert_eq!(long.event.summary, format!("{}…", "é".repeat(1023)));
        assert_eq!(
            parse(&json!({"summary": "s", "dedup_key": "k".repeat(256)}).to_string()).unwrap_err(),
            err(
                Some("dedup_key"),
                "'dedup_key' is 256 characters long; at most 255 are accepted"
            )
        );
        let deep = format!(
            r#"{{"summary": "s", "details": {}1{}}}"#,
            "[".repeat(120),
            "]".repeat(120)
        );
        let mut details = &parse(&deep).unwrap().event.details;
        for _ in 0..120 {
            details = &details[0];
        }
        assert_eq!(details, &json!(1), "120 levels deep is fine; 128 is serde_json's limit");
    }

    #[test]
    fn details_may_be_any_json() {
        for details in [
            json!("free text"),
            json!(3.5),
            json!([1, "two"]),
            json!({"a": {"b": null}}),
        ] {
            let p = parse(&json!({"summary": "s", "details": details.clone()}).to_string()).unwrap();
            assert_eq!(p.event.details, details);
        }
    }

    #[test]
    fn bad_bodies() {
        rejects_bad_bodies(|body| plain(body, "payments", &Severities::default()));
    }
}
