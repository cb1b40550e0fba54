//! Grafana alerting's webhook: see [`grafana()`].

use super::IntakeError;
use super::alertmanager::{Flavor, parse_group};
use crate::domain::alert::Event;
use crate::domain::severity::Severities;

/// Grafana alerting's webhook contact point (Grafana 9 and later, or 8 with
/// unified alerting on; payload `version` "1").
///
/// Grafana's alerting is an Alertmanager inside Grafana, and its webhook body
/// is Alertmanager's with more fields: `orgId`, `title`, `state`, `message`
/// at the top, and `values`, `valueString`, `silenceURL`, `dashboardURL`,
/// `panelURL` (and `imageURL` with screenshots) on each alert. So the rules
/// are those of [`alertmanager()`](super::alertmanager()): one event per
/// entry of `alerts`, dedup key `groupKey + "/" + fingerprint` (derived from
/// the labels when an older Grafana sends no fingerprint), summary from the
/// `summary` or `description` annotation (what Grafana's rule editor calls
/// *Summary* and *Description*), severity from the `severity` label, and in
/// the details, besides Alertmanager's, the alert's `values`, `valueString`
/// and the Grafana links.
///
/// Differences: the `version` is not checked (Grafana sends "1"); a body of
/// Grafana's legacy dashboard alerting (`ruleId`, `evalMatches`, no
/// `alerts`) is rejected with a message saying so. Grafana rules carry no
/// severity unless given a `severity` label, so most Grafana alerts get the
/// installation's default severity.
pub fn grafana(body: &[u8], team: &str, severities: &Severities) -> Result<Vec<Event>, IntakeError> {
    parse_group(body, team, severities, Flavor::Grafana)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::domain::alert::Action;
    use crate::intake::testing::{err, rejects_bad_bodies};

    /// What Grafana 10 sends to a webhook contact point for a rule firing on
    /// two instances.
    const FIRING: &str = r#"{
  "receiver": "oncall-platform",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {
        "alertname": "High CPU usage",
        "grafana_folder": "Platform",
        "instance": "web-1:9100",
        "severity": "warning",
        "team": "platform"
      },
      "annotations": {
        "description": "CPU usage on web-1:9100 has been above 90% for 10 minutes.",
        "runbook_url": "https://wiki.example.com/runbooks/high-cpu",
        "summary": "CPU above 90% on web-1:9100"
      },
      "startsAt": "2024-03-05T14:10:00Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "https://grafana.example.com/alerting/grafana/bdg3k1q9x2ww0e/view?orgId=1",
      "fingerprint": "2e3a8f1c0b9d7e64",
      "silenceURL": "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DHigh+CPU+usage&matcher=grafana_folder%3DPlatform&matcher=instance%3Dweb-1%3A9100&matcher=severity%3Dwarning&matcher=team%3Dplatform&orgId=1",
      "dashboardURL": "https://grafana.example.com/d/rYdddlPWk?orgId=1",
      "panelURL": "https://grafana.example.com/d/rYdddlPWk?orgId=1&viewPanel=3",
      "values": {
        "A": 93.41,
        "C": 1
      },
      "valueString": "[ var='A' labels={instance=web-1:9100} value=93.41 ], [ var='C' labels={instance=web-1:9100} value=1 ]"
    },
    {
      "status": "firing",
      "labels": {
        "alertname": "High CPU usage",
        "grafana_folder": "Platform",
        "instance": "web-2:9100",
        "severity": "warning",
        "team": "platform"
      },
      "annotations": {
        "description": "CPU usage on web-2:9100 has been above 90% for 10 minutes.",
        "runbook_url": "https://wiki.example.com/runbooks/high-cpu",
        "summary": "CPU above 90% on web-2:9100"
      },
      "startsAt": "2024-03-05T14:11:00Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "https://grafana.example.com/alerting/grafana/bdg3k1q9x2ww0e/view?orgId=1",
      "fingerprint": "9c41d07be25f3a18",
      "silenceURL": "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DHigh+CPU+usage&matcher=grafana_folder%3DPlatform&matcher=instance%3Dweb-2%3A9100&matcher=severity%3Dwarning&matcher=team%3Dplatform&orgId=1",
      "dashboardURL": "https://grafana.example.com/d/rYdddlPWk?orgId=1",
      "panelURL": "https://grafana.example.com/d/rYdddlPWk?orgId=1&viewPanel=3",
      "values": {
        "A": 91.07,
        "C": 1
      },
      "valueString": "[ var='A' labels={instance=web-2:9100} value=91.07 ], [ var='C' labels={instance=web-2:9100} value=1 ]"
    }
  ],
  "groupLabels": {
    "alertname": "High CPU usage",
    "grafana_folder": "Platform"
  },
  "commonLabels": {
    "alertname": "High CPU usage",
    "grafana_folder": "Platform",
    "severity": "warning",
    "team": "platform"
  },
  "commonAnnotations": {
    "runbook_url": "https://wiki.example.com/runbooks/high-cpu"
  },
  "externalURL": "https://grafana.example.com/",
  "version": "1",
  "groupKey": "{}/{__grafana_autogenerated__=\"true\"}/{__grafana_receiver__=\"oncall-platform\"}:{alertname=\"High CPU usage\", grafana_folder=\"Platform\"}",
  "truncatedAlerts": 0,
  "orgId": 1,
  "title": "[FIRING:2] High CPU usage Platform (warning platform)",
  "state": "alerting",
  "message": "**Firing**\n\nValue: A=93.41, C=1\nLabels:\n - alertname = High CPU usage\n - grafana_folder = Platform\n - instance = web-1:9100\n - severity = warning\n - team = platform\nAnnotations:\n - description = CPU usage on web-1:9100 has been above 90% for 10 minutes.\n - runbook_url = https://wiki.example.com/runbooks/high-cpu\n - summary = CPU above 90% on web-1:9100\nSource: https://grafana.example.com/alerting/grafana/bdg3k1q9x2ww0e/view?orgId=1\nSilence: https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DHigh+CPU+usage&matcher=grafana_folder%3DPlatform&matcher=instance%3Dweb-1%3A9100&matcher=severity%3Dwarning&matcher=team%3Dplatform&orgId=1\nDashboard: https://grafana.example.com/d/rYdddlPWk?orgId=1\nPanel: https://grafana.example.com/d/rYdddlPWk?orgId=1&viewPanel=3\n\nValue: A=91.07, C=1\nLabels:\n - alertname = High CPU usage\n - grafana_folder = Platform\n - instance = web-2:9100\n - severity = warning\n - team = platform\nAnnotations:\n - description = CPU usage on web-2:9100 has been above 90% for 10 minutes.\n - runbook_url = https://wiki.example.com/runbooks/high-cpu\n - summary = CPU above 90% on web-2:9100\nSource: https://grafana.example.com/alerting/grafana/bdg3k1q9x2ww0e/view?orgId=1\nSilence: https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DHigh+CPU+usage&matcher=grafana_folder%3DPlatform&matcher=instance%3Dweb-2%3A9100&matcher=severity%3Dwarning&matcher=team%3Dplatform&orgId=1\nDashboard: https://grafana.example.com/d/rYdddlPWk?orgId=1\nPanel: https://grafana.example.com/d/rYdddlPWk?orgId=1&viewPanel=3\n"
}"#;

    /// The next notification: web-1 is back to normal.
    const ONE_RESOLVED: &str = r#"{
  "receiver": "oncall-platform",
  "status": "firing",
  "alerts": [
    {
      "status": "resolved",
      "labels": {
        "alertname": "High CPU usage",
        "grafana_folder": "Platform",
        "instance": "web-1:9100",
        "severity": "warning",
        "team": "platform"
      },
      "annotations": {
        "description": "CPU usage on web-1:9100 has been above 90% for 10 minutes.",
        "runbook_url": "https://wiki.example.com/runbooks/high-cpu",
        "summary": "CPU above 90% on web-1:9100"
      },
      "startsAt": "2024-03-05T14:10:00Z",
      "endsAt": "2024-03-05T14:32:00Z",
      "generatorURL": "https://grafana.example.com/alerting/grafana/bdg3k1q9x2ww0e/view?orgId=1",
      "fingerprint": "2e3a8f1c0b9d7e64",
      "silenceURL": "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DHigh+CPU+usage&matcher=grafana_folder%3DPlatform&matcher=instance%3Dweb-1%3A9100&matcher=severity%3Dwarning&matcher=team%3Dplatform&orgId=1",
      "dashboardURL": "https://grafana.example.com/d/rYdddlPWk?orgId=1",
      "panelURL": "https://grafana.example.com/d/rYdddlPWk?orgId=1&viewPanel=3",
      "values": null,
      "valueString": ""
    },
    {
      "status": "firing",
      "labels": {
        "alertname": "High CPU usage",
        "grafana_folder": "Platform",
        "instance": "web-2:9100",
        "severity": "warning",
        "team": "platform"
      },
      "annotations": {
        "description": "CPU usage on web-2:9100 has been above 90% for 10 minutes.",
        "runbook_url": "https://wiki.example.com/runbooks/high-cpu",
        "summary": "CPU above 90% on web-2:9100"
      },
      "startsAt": "2024-03-05T14:11:00Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "https://grafana.example.com/alerting/grafana/bdg3k1q9x2ww0e/view?orgId=1",
      "fingerprint": "9c41d07be25f3a18",
      "silenceURL": "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DHigh+CPU+usage&matcher=grafana_folder%3DPlatform&matcher=instance%3Dweb-2%3A9100&matcher=severity%3Dwarning&matcher=team%3Dplatform&orgId=1",
      "dashboardURL": "https://grafana.example.com/d/rYdddlPWk?orgId=1",
      "panelURL": "https://grafana.example.com/d/rYdddlPWk?orgId=1&viewPanel=3",
      "values": {
        "A": 94.2,
        "C": 1
      },
      "valueString": "[ var='A' labels={instance=web-2:9100} value=94.2 ], [ var='C' labels={instance=web-2:9100} value=1 ]"
    }
  ],
  "groupLabels": {
    "alertname": "High CPU usage",
    "grafana_folder": "Platform"
  },
  "commonLabels": {
    "alertname": "High CPU usage",
    "grafana_folder": "Platform",
    "severity": "warning",
    "team": "platform"
  },
  "commonAnnotations": {
    "runbook_url": "https://wiki.example.com/runbooks/high-cpu"
  },
  "externalURL": "https://grafana.example.com/",
  "version": "1",
  "groupKey": "{}/{__grafana_autogenerated__=\"true\"}/{__grafana_receiver__=\"oncall-platform\"}:{alertname=\"High CPU usage\", grafana_folder=\"Platform\"}",
  "truncatedAlerts": 0,
  "orgId": 1,
  "title": "[FIRING:1, RESOLVED:1] High CPU usage Platform (warning platform)",
  "state": "alerting",
  "message": "**Firing**\n\nValue: A=94.2, C=1\n(...)\n\n**Resolved**\n\nValue: [no value]\n(...)\n"
}"#;

    /// Grafana's legacy alerting (Grafana 8 and before, with the old alerts).
    const LEGACY: &str = r#"{
  "dashboardId": 1,
  "evalMatches": [
    {"value": 93.41, "metric": "web-1", "tags": {}}
  ],
  "message": "CPU above 90%",
  "orgId": 1,
  "panelId": 3,
  "ruleId": 7,
  "ruleName": "High CPU usage",
  "ruleUrl": "https://grafana.example.com/d/rYdddlPWk?tab=alert&viewPanel=3&orgId=1",
  "state": "alerting",
  "tags": {},
  "title": "[Alerting] High CPU usage"
}"#;

    const GROUP: &str = "{}/{__grafana_autogenerated__=\"true\"}/{__grafana_receiver__=\"oncall-platform\"}:{alertname=\"High CPU usage\", grafana_folder=\"Platform\"}";

    fn parse(body: &str) -> Result<Vec<Event>, IntakeError> {
        grafana(body.as_bytes(), "platform", &Severities::default())
    }

    fn edited(edit: impl FnOnce(&mut Value)) -> Result<Vec<Event>, IntakeError> {
        let mut body: Value = serde_json::from_str(FIRING).unwrap();
        edit(&mut body);
        parse(&body.to_string())
    }

    #[test]
    fn a_firing_rule_on_two_instances_gives_two_events() {
        let events = parse(FIRING).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0],
            Event {
                team: "platform".into(),
                action: Action::Trigger,
                dedup_key: format!("{GROUP}/2e3a8f1c0b9d7e64"),
                summary: "CPU above 90% on web-1:9100".into(),
                severity: "minor".into(),
                source: Some("web-1:9100".into()),
                details: json!({
                    "labels": {
                        "alertname": "High CPU usage",
                        "grafana_folder": "Platform",
                        "instance": "web-1:9100",
                        "severity": "warning",
                        "team": "platform"
                    },
                    "annotations": {
                        "description": "CPU usage on web-1:9100 has been above 90% for 10 minutes.",
                        "runbook_url": "https://wiki.example.com/runbooks/high-cpu",
                        "summary": "CPU above 90% on web-1:9100"
                    },
                    "startsAt": "2024-03-05T14:10:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "https://grafana.example.com/alerting/grafana/bdg3k1q9x2ww0e/view?orgId=1",
                    "values": {"A": 93.41, "C": 1},
                    "valueString": "[ var='A' labels={instance=web-1:9100} value=93.41 ], [ var='C' labels={instance=web-1:9100} value=1 ]",
                    "silenceURL": "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DHigh+CPU+usage&matcher=grafana_folder%3DPlatform&matcher=instance%3Dweb-1%3A9100&matcher=severity%3Dwarning&matcher=team%3Dplatform&orgId=1",
                    "dashboardURL": "https://grafana.example.com/d/rYdddlPWk?orgId=1",
                    "panelURL": "https://grafana.example.com/d/rYdddlPWk?orgId=1&viewPanel=3",
                    "fingerprint": "2e3a8f1c0b9d7e64",
                    "externalURL": "https://grafana.example.com/"
                }),
                intake: "grafana".into(),
                held: None,
            }
        );
        assert_eq!(events[1].dedup_key, format!("{GROUP}/9c41d07be25f3a18"));
        assert_eq!(events[1].source.as_deref(), Some("web-2:9100"));
    }

    #[test]
    fn a_resolved_alert_resolves_only_itself() {
        let firing = parse(FIRING).unwrap();
        let next = parse(ONE_RESOLVED).unwrap();
        assert_eq!(
            (next[0].action, &next[0].dedup_key),
            (Action::Resolve, &firing[0].dedup_key)
        );
        assert_eq!(
            (next[1].action, &next[1].dedup_key),
            (Action::Trigger, &firing[1].dedup_key)
        );
        assert!(next[0].details.get("values").is_none(), "null values are left out");
    }

    #[test]
    fn severity_label_is_mapped_and_its_absence_gives_the_default() {
        let with = |level: &str| {
            edited(|b| b["alerts"][0]["labels"]["severity"] = json!(level)).unwrap()[0]
                .severity
                .clone()
        };
        assert_eq!(with("critical"), "critical");
        assert_eq!(with("high"), "major");
        assert_eq!(with("warning"), "minor");
        let e = edited(|b| {
            b["alerts"][0]["labels"] = json!({"alertname": "DatasourceNoData", "grafana_folder": "Platform"});
        })
        .unwrap();
        assert_eq!(e[0].severity, "major");
        assert_eq!(e[0].summary, "CPU above 90% on web-1:9100", "annotations still apply");
        assert_eq!(
            e[0].source.as_deref(),
            Some("oncall-platform"),
            "no instance or job: the contact point"
        );
    }

    #[test]
    fn version_is_not_checked() {
        assert_eq!(edited(|b| b["version"] = json!("2")).unwrap().len(), 2);
        assert_eq!(
            edited(|b| {
                b.as_object_mut().unwrap().remove("version");
            })
            .unwrap()
            .len(),
            2
        );
    }

    #[test]
    fn legacy_alerting_is_rejected_with_a_reason() {
        assert_eq!(
            parse(LEGACY).unwrap_err(),
            err(
                Some("alerts"),
                "'alerts' is missing: this looks like a payload of Grafana's legacy alerting (with 'evalMatches'), \
                 which is not supported; use a webhook contact point of Grafana alerting"
            )
        );
    }

    #[test]
    fn without_a_fingerprint_one_is_derived_from_the_labels() {
        let events = edited(|b| {
            b["alerts"][0].as_object_mut().unwrap().remove("fingerprint");
        })
        .unwrap();
        let labels = [
            ("alertname", "High CPU usage"),
            ("grafana_folder", "Platform"),
            ("instance", "web-1:9100"),
            ("severity", "warning"),
            ("team", "platform"),
        ];
        let derived = crate::intake::label_fingerprint(&labels.into_iter().collect());
        assert_eq!(events[0].dedup_key, format!("{GROUP}/{derived}"));
    }

    #[test]
    fn bad_input() {
        assert_eq!(
            edited(|b| b["alerts"][1]["status"] = json!("alerting")).unwrap_err(),
            err(
                Some("alerts[1].status"),
                "'alerts[1].status' must be \"firing\" or \"resolved\", not \"alerting\""
            )
        );
        assert_eq!(
            edited(|b| b["alerts"][0]["labels"]["instance"] = json!(null)).unwrap_err(),
            err(
                Some("alerts[0].labels.instance"),
                "'alerts[0].labels.instance' must be a string, not null"
            )
        );
        assert_eq!(
            edited(|b| {
                b.as_object_mut().unwrap().remove("groupKey");
            })
            .unwrap_err(),
            err(Some("groupKey"), "'groupKey' is missing or blank")
        );
        assert_eq!(
            edited(|b| b["alerts"] = json!(vec![b["alerts"][0].clone(); 1001])).unwrap_err(),
            err(
                Some("alerts"),
                "too many alerts (1001); at most 1000 are accepted in one body"
            )
        );
        assert_eq!(
            edited(|b| b["alerts"] = json!("none")).unwrap_err(),
            err(Some("alerts"), "'alerts' must be an array, not a string")
        );
    }

    #[test]
    fn bad_bodies() {
        rejects_bad_bodies(|body| grafana(body, "platform", &Severities::default()));
    }
}
