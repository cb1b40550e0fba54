//! Push notifications through ntfy's publish API: `POST {server}/{topic}`
//! with the message as the body and the rest in headers (`Title`,
//! `Priority` 1-5, `Tags`, `Click`, `Actions`). A person's push destination
//! is `ntfy:TOPIC`. ntfy answers with the message as JSON; its `id` is the
//! receipt.
//!
//! The action buttons are ntfy `http` actions: tapping one POSTs to the
//! alert's signed acknowledge (or resolve) link, which acts without opening
//! anything; `Click` opens the acknowledge link's confirmation page.

use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

use super::{Channel, ConfigError, Method, Notice, PushConfig, Receipt, SendError, SendFuture, Urgency, What};
use super::{render, web};

pub const DEFAULT_SERVER: &str = "https://ntfy.sh";

/// ntfy shows at most three action buttons.
const MAX_ACTIONS: usize = 3;

pub struct PushChannel {
    client: reqwest::Client,
    server: String,
    token: Option<String>,
    timeout: Duration,
}

#[derive(Deserialize)]
struct Answer {
    id: Option<String>,
    error: Option<String>,
}

impl PushChannel {
    pub fn new(config: &PushConfig) -> Result<PushChannel, ConfigError> {
        let server = web::base_url("push", "server", config.server.as_deref().unwrap_or(DEFAULT_SERVER))?;
        let timeout = super::timeout("push", config.timeout_secs)?;
        let token = config.token.clone().filter(|t| !t.is_empty());
        if let Some(t) = &token
            && HeaderValue::from_str(&format!("Bearer {t}")).is_err()
        {
            return Err(ConfigError::new(
                "push",
                "the token has characters a header cannot carry",
            ));
        }
        Ok(PushChannel {
            client: web::client("push", timeout)?,
            server,
            token,
            timeout,
        })
    }

    async fn deliver(&self, notice: &Notice) -> Result<Receipt, SendError> {
        let topic = topic(&notice.to, &notice.person)?;
        let response = self
            .client
            .post(format!("{}/{topic}", self.server))
            .headers(headers(notice, self.token.as_deref()))
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(render::push(notice).message)
            .send()
            .await
            .map_err(|e| web::failed("ntfy", e))?;
        let status = response.status();
        if status.is_success() {
            // Published: sending again would notify twice.
            let answer = response.json::<Answer>().await.ok();
            return Ok(Receipt {
                reference: answer.and_then(|a| a.id),
            });
        }
        let text = web::body_text(response).await;
        let detail = match serde_json::from_str::<Answer>(&text) {
            Ok(Answer { error: Some(error), .. }) => error,
            _ => text,
        };
        Err(web::refused("ntfy", status, &detail))
    }
}

/// The topic of `ntfy:TOPIC`. ntfy's topics are 1-64 letters, digits, `-`
/// and `_`. The errors name the person, not the destination: a topic is
/// the secret that lets anyone read its messages.
fn topic<'a>(to: &'a str, person: &str) -> Result<&'a str, SendError> {
    let topic = to
        .strip_prefix("ntfy:")
        .ok_or_else(|| SendError::Permanent(format!("the push destination of {person} is not `ntfy:TOPIC`")))?;
    let valid =
        (1..=64).contains(&topic.len()) && topic.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(topic)
    } else {
        Err(SendError::Permanent(format!(
            "the push destination of {person}: a topic is 1 to 64 letters, digits, `-` or `_`"
        )))
    }
}

/// ntfy's priorities: 5 "urgent" (vibrates long, breaks through Do Not
/// Disturb), 4 "high", 3 "default".
pub fn priority(urgency: Urgency) -> u8 {
    match urgency {
        Urgency::High => 5,
        Urgency::Normal => 4,
        Urgency::Low => 3,
    }
}

/// Every header of the publish request but the content type.
pub fn headers(notice: &Notice, token: Option<&str>) -> HeaderMap {
    let push = render::push(notice);
    let mut h = HeaderMap::new();
    let mut set = |name: &'static str, value: HeaderValue| {
        h.insert(HeaderName::from_static(name), value);
    };
    set("title", text_header(&push.title));
    set("priority", HeaderValue::from(u16::from(priority(notice.urgency))));
    set("tags", text_header(&tags(notice).join(",")));
    if let What::Page { alerts } = &notice.what
        && let [a] = alerts.as_slice()
        && let Some(url) = &a.ack_url
        && let Ok(value) = HeaderValue::from_str(url)
    {
        set("click", value);
    }
    let actions = actions(notice);
    if !actions.is_empty() {
        set("actions", text_header(&actions));
    }
    if let Some(token) = token
        && let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}"))
    {
        let mut value = value;
        value.set_sensitive(true);
        set("authorization", value);
    }
    h
}

/// The `Tags` of a notice: an emoji short code ntfy shows in front of the
/// title, then words shown under the message.
fn tags(notice: &Notice) -> Vec<String> {
    let mut tags = Vec::new();
    match &notice.what {
        What::Page { alerts } => {
            tags.push(
                match notice.urgency {
                    Urgency::High => "rotating_light",
                    Urgency::Normal => "warning",
                    Urgency::Low => "information_source",
                }
                .to_string(),
            );
            if alerts.iter().any(|a| a.drill) {
                tags.push("drill".into());
            }
            if alerts.iter().any(|a| a.shadow_of.is_some()) {
                tags.push("shadow".into());
            }
            for a in alerts {
                for tag in [&a.severity, &a.team] {
                    let tag = tag_text(tag);
                    if !tag.is_empty() && !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
            }
        }
        What::Announce(a) => {
            tags.push("loudspeaker".into());
            tags.push(tag_text(&a.team));
        }
        What::Handoff { team, .. } => {
            tags.push("calendar".into());
            tags.push(tag_text(team));
        }
        What::Test(_) => {
            tags.push("white_check_mark".into());
            tags.push("test".into());
        }
    }
    tags
}

/// A tag cannot hold the `,` that separates them.
fn tag_text(s: &str) -> String {
    render::one_line(&s.replace(',', " "))
}

/// The `Actions` header: for one alert, Acknowledge and Resolve buttons that
/// clear the notification; for a bundle, an Acknowledge button for each of
/// its first three alerts (the notification stays for the others).
pub fn actions(notice: &Notice) -> String {
    if let What::Test(t) = &notice.what {
        // Confirming is a POST to the signed link, as acting on an alert.
        return t
            .confirm_url
            .as_deref()
            .and_then(|url| http_action("Confirm", url, true))
            .unwrap_or_default();
    }
    let What::Page { alerts } = &notice.what else {
        return String::new();
    };
    let mut actions = Vec::new();
    if let [a] = alerts.as_slice() {
        for (label, url) in [("Acknowledge", &a.ack_url), ("Resolve", &a.resolve_url)] {
            if let Some(action) = url.as_deref().and_then(|url| http_action(label, url, true)) {
                actions.push(action);
            }
        }
    } else {
        for a in alerts {
            if actions.len() == MAX_ACTIONS {
                break;
            }
            let label = format!("Ack {}", a.id);
            if let Some(action) = a.ack_url.as_deref().and_then(|url| http_action(&label, url, false)) {
                actions.push(action);
            }
        }
    }
    actions.join("; ")
}

/// One `http` action in ntfy's short header format:
/// `http, <label>, <url>, method=POST, clear=true`. A URL that cannot be
/// written in that format (both kinds of quotes) gets no button.
fn http_action(label: &str, url: &str, clear: bool) -> Option<String> {
    let mut action = format!("http, {}, {}, method=POST", quoted(label)?, quoted(url)?);
    if clear {
        action.push_str(", clear=true");
    }
    Some(action)
}

/// A value of ntfy's action format, quoted when ntfy would otherwise read
/// it differently: a `,` or `;` ends a value, a leading quote starts a
/// quoted one, and a leading `word=` is a key.
fn quoted(value: &str) -> Option<String> {
    let value = render::one_line(value);
    let looks_like_key = value.find('=').is_some_and(|i| {
        let key = value[..i].trim_end();
        !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    });
    let plain = !value.contains([',', ';']) && !value.starts_with(['"', '\'']) && !looks_like_key;
    if plain {
        Some(value)
    } else if value.contains('\\') {
        // A backslash could escape the closing quote.
        None
    } else if !value.contains('"') {
        Some(format!("\"{value}\""))
    } else if !value.contains('\'') {
        Some(format!("'{value}'"))
    } else {
        None
    }
}

/// A header value from text: as is when it is printable ASCII, else as an
/// RFC 2047 encoded word, which ntfy decodes (many HTTP stacks mangle raw
/// UTF-8 in headers).
fn text_header(text: &str) -> HeaderValue {
    let text = render::one_line(text);
    if text.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        && let Ok(value) = HeaderValue::from_str(&text)
    {
        return value;
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    HeaderValue::from_str(&format!("=?UTF-8?B?{encoded}?=")).expect("base64 is printable ASCII")
}

impl Channel for PushChannel {
    fn method(&self) -> Method {
        Method::Push
    }

    fn send<'a>(&'a self, notice: &'a Notice) -> SendFuture<'a> {
        Box::pin(self.deliver(notice))
    }
}

impl std::fmt::Debug for PushChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("PushChannel")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "..."))
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::PagedAlert;
    use chrono::TimeZone;

    fn alert(id: i64) -> PagedAlert {
        PagedAlert {
            also_paged: Vec::new(),
            id,
            team: "payments".into(),
            summary: format!("Disk full on db-{id}"),
            severity: "critical".into(),
            since: chrono::Utc.with_ymd_and_hms(2026, 3, 4, 8, 55, 0).unwrap(),
            occurrences: 1,
            drill: false,
            ack_url: Some(format!("https://oncall.example.com/a/{id}/ack?sig=x")),
            resolve_url: Some(format!("https://oncall.example.com/a/{id}/resolve?sig=y")),
            reply_ack: format!("ACK {id}"),
            reply_resolve: format!("RES {id}"),
            shadow_of: None,
            lead: None,
        }
    }

    fn notice(alerts: Vec<PagedAlert>) -> Notice {
        Notice {
            id: 3,
            method: Method::Push,
            to: "ntfy:alice-pager".into(),
            person: "alice".into(),
            name: "Alice".into(),
            urgency: Urgency::High,
            what: What::Page { alerts },
        }
    }

    #[test]
    fn one_alert_has_two_buttons_that_clear() {
        assert_eq!(
            actions(&notice(vec![alert(42)])),
            "http, Acknowledge, https://oncall.example.com/a/42/ack?sig=x, method=POST, clear=true; \
             http, Resolve, https://oncall.example.com/a/42/resolve?sig=y, method=POST, clear=true"
        );
    }

    #[test]
    fn a_bundle_has_three_ack_buttons() {
        let n = notice((1..=5).map(alert).collect());
        assert_eq!(
            actions(&n),
            "http, Ack 1, https://oncall.example.com/a/1/ack?sig=x, method=POST; \
             http, Ack 2, https://oncall.example.com/a/2/ack?sig=x, method=POST; \
             http, Ack 3, https://oncall.example.com/a/3/ack?sig=x, method=POST"
        );
        assert!(!headers(&n, None).contains_key("click"));
    }

    #[test]
    fn separators_in_urls_are_quoted() {
        let mut a = alert(42);
        a.ack_url = Some("https://x/ack?a=1;b=2,c".into());
        a.resolve_url = Some("https://x/\"';".into());
        assert_eq!(
            actions(&notice(vec![a])),
            "http, Acknowledge, \"https://x/ack?a=1;b=2,c\", method=POST, clear=true"
        );
        assert_eq!(quoted("clear=true").as_deref(), Some("\"clear=true\""));
        assert_eq!(quoted("'quoted").as_deref(), Some("\"'quoted\""));
        assert_eq!(quoted("https://x/?a=b").as_deref(), Some("https://x/?a=b"));
    }

    #[test]
    fn headers_of_a_page() {
        let mut a = alert(42);
        a.summary = "Disque plein sur db-1 — urgent".into();
        let h = headers(&notice(vec![a]), Some("tk_secret"));
        let get = |name: &str| h.get(name).unwrap().to_str().unwrap().to_string();
        assert_eq!(get("priority"), "5");
        assert_eq!(get("tags"), "rotating_light,critical,payments");
        assert_eq!(get("click"), "https://oncall.example.com/a/42/ack?sig=x");
        assert_eq!(get("authorization"), "Bearer tk_secret");
        // Not ASCII: an RFC 2047 encoded word.
        let title = get("title");
        let encoded = title.strip_prefix("=?UTF-8?B?").unwrap().strip_suffix("?=").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "[critical] payments: Disque plein sur db-1 — urgent (alert 42)"
        );
    }

    #[test]
    fn priorities() {
        assert_eq!([Urgency::High, Urgency::Normal, Urgency::Low].map(priority), [5, 4, 3]);
    }

    #[test]
    fn destinations() {
        assert_eq!(topic("ntfy:alice-pager_1", "alice").unwrap(), "alice-pager_1");
        for bad in [
            "alice",
            "ntfy:",
            "ntfy:a/b",
            "ntfy:../x",
            "ntfy:a b",
            "https://ntfy.sh/a",
        ] {
            let err = topic(bad, "alice").unwrap_err();
            assert!(!err.retryable(), "{bad}: {err}");
            assert!(err.to_string().starts_with("the push destination of alice"), "{err}");
        }
    }
}
