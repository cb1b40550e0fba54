//! What the HTTP channels (SMS, push, webhook) share: the client, and how
//! an answer or a failure becomes a [`SendError`]. The rule, as in
//! Alertmanager's notifiers: the receiver being down, slow or busy (no
//! connection, a timeout, 408, 429, 5xx) may pass, so retry; any other
//! refusal (4xx, or a redirect, which is not followed) is about this
//! message or the settings and will not change by itself.

use std::time::Duration;

use reqwest::{StatusCode, Url};

use super::{ConfigError, SendError};

/// How much of a refusal's body goes into the error, in characters.
const DETAIL_MAX_CHARS: usize = 300;

pub(crate) fn client(section: &'static str, timeout: Duration) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .user_agent(concat!("oncall/", env!("CARGO_PKG_VERSION")))
        // The whole exchange, body included, so a receiver that accepts the
        // connection and then says nothing cannot hold a sender.
        .timeout(timeout)
        .connect_timeout(timeout)
        // A redirect is an answer like any other: following it would resend
        // the message (and its credentials) somewhere nobody configured.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ConfigError::new(section, format!("cannot build an HTTP client: {}", chain(&e))))
}

/// An `http://` or `https://` base address, without a trailing `/`.
pub(crate) fn base_url(section: &'static str, key: &str, text: &str) -> Result<String, ConfigError> {
    let trimmed = text.trim_end_matches('/');
    match Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(trimmed.to_string()),
        _ => Err(ConfigError::new(
            section,
            format!("{key}: `{text}` is not an http:// or https:// address"),
        )),
    }
}

/// A request that got no answer. The URL is left out of the message: a
/// webhook's URL or a push topic is often the secret that authorises it, and
/// this message ends up in the alert's timeline.
pub(crate) fn failed(receiver: &str, err: reqwest::Error) -> SendError {
    let err = err.without_url();
    if err.is_builder() {
        return SendError::Permanent(format!("cannot make a request to {receiver}: {}", chain(&err)));
    }
    if err.is_timeout() {
        return SendError::Retryable(format!("{receiver} did not answer in time: {}", chain(&err)));
    }
    SendError::Retryable(format!("{receiver} could not be reached: {}", chain(&err)))
}

/// A request the receiver refused with `status`; `detail` is what it said.
pub(crate) fn refused(receiver: &str, status: StatusCode, detail: &str) -> SendError {
    let detail = short(detail);
    let message = if detail.is_empty() {
        format!("{receiver} answered {status}")
    } else {
        format!("{receiver} answered {status}: {detail}")
    };
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT || status.is_server_error() {
        SendError::Retryable(message)
    } else {
        SendError::Permanent(message)
    }
}

/// A refusal's body. Reading it may fail (the receiver hung up): then there
/// is nothing to add.
pub(crate) async fn body_text(response: reqwest::Response) -> String {
    response.text().await.unwrap_or_default()
}

/// Text from a receiver, short and on one line, for an error message.
pub(crate) fn short(text: &str) -> String {
    let text = super::render::one_line(text);
    if text.chars().count() <= DETAIL_MAX_CHARS {
        text
    } else {
        let mut cut: String = text.chars().take(DETAIL_MAX_CHARS).collect();
        cut.push_str("...");
        cut
    }
}

/// An error and its sources: `error sending request: ... : Connection refused`.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let next = e.to_string();
        // Some errors repeat their source in their own message.
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let cases = [
            (301, false),
            (400, false),
            (401, false),
            (403, false),
            (404, false),
            (408, true),
            (413, false),
            (429, true),
            (500, true),
            (502, true),
            (503, true),
        ];
        for (code, retry) in cases {
            let e = refused("ntfy", StatusCode::from_u16(code).unwrap(), "said no");
            assert_eq!(e.retryable(), retry, "{code}: {e}");
        }
        assert_eq!(
            refused("ntfy", StatusCode::FORBIDDEN, "").to_string(),
            "ntfy answered 403 Forbidden"
        );
        assert_eq!(
            refused("ntfy", StatusCode::BAD_GATEWAY, "down").to_string(),
            "ntfy answered 502 Bad Gateway: down (will retry)"
        );
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            base_url("sms", "base_url", "https://api.twilio.com/").unwrap(),
            "https://api.twilio.com"
        );
        assert_eq!(
            base_url("push", "server", "http://127.0.0.1:8090").unwrap(),
            "http://127.0.0.1:8090"
        );
        for bad in ["api.twilio.com", "ftp://x", "", "https://"] {
            assert!(base_url("sms", "base_url", bad).is_err(), "{bad}");
        }
    }
}
