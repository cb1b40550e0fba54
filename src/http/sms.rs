//! Inbound SMS: a responder replies `ACK 42` to a page and the alert is
//! acknowledged in their name. Twilio (or a compatible provider) posts each
//! message it receives to `POST /v1/sms/inbound` as a form (`From`, `To`,
//! `Body`, `MessageSid`, ...) and reads our answer as TwiML.
//!
//! Every request must carry Twilio's signature, `X-Twilio-Signature`:
//! Base64(HMAC-SHA1(auth token, URL + every POST parameter's name and value,
//! sorted by name, no separators)), where URL is the address Twilio was told
//! to call: the configured `public_url` + `/v1/sms/inbound`. A request
//! without it, or with a wrong one, is 403 and changes nothing. The sender
//! is the person whose `phone` in `people.yaml` is `From`; any other number
//! gets one generic answer that says nothing about alerts.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use super::Shared;
use super::act::{Acted, Once, act};
use super::html::escape;
use crate::domain::alert::{AlertId, Status};
use crate::links::Action;

/// The path Twilio is configured to call, after `public_url`.
pub const INBOUND_PATH: &str = "/v1/sms/inbound";

/// The header that carries Twilio's signature.
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// How long a handled message's id is remembered, so that a replay of its
/// signed request does nothing.
const SPENT_SMS_KEPT: chrono::Duration = chrono::Duration::days(30);

const USAGE: &str = "Reply ACK 42 to acknowledge alert 42, or RES 42 to resolve it.";
const UNKNOWN_NUMBER: &str = "This number is not registered with oncall.";

type HmacSha1 = Hmac<Sha1>;

/// The MAC of Twilio's scheme, ready to be finished or verified. Parameters
/// sort by name in byte order ("Unix-style case-sensitive"), a repeated name
/// by its values.
fn twilio_mac(auth_token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The signature Twilio sends for a POST of `params` to `url` (what
/// [`signature_matches`] compares with; the tests check it against Twilio's
/// published example).
#[cfg(test)]
fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(twilio_mac(auth_token, url, params).finalize().into_bytes())
}

/// Whether `signature` (the header's value) is Twilio's for this request;
/// compared in constant time.
fn signature_matches(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let Ok(given) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    twilio_mac(auth_token, url, params).verify_slice(&given).is_ok()
}

/// What a text message asks: `ACK 42`, `ack42`, `Res #42`, `resolve 42`,
/// `acknowledge 42.`; anything else is `None`.
fn parse_command(body: &str) -> Option<(Action, AlertId)> {
    let text = body.trim().trim_end_matches(['.', '!']).to_ascii_lowercase();
    let word_end = text.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (word, rest) = text.split_at(word_end);
    let action = match word {
        "ack" | "acknowledge" => Action::Acknowledge,
        "res" | "resolve" => Action::Resolve,
        _ => return None,
    };
    let rest = rest.trim_start();
    let digits = rest.strip_prefix('#').unwrap_or(rest).trim_start();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((action, digits.parse().ok()?))
}

/// A TwiML answer that sends `message` back to the sender.
fn reply(message: &str) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Message>{}</Message></Response>\n",
            escape(message)
        ),
    )
        .into_response()
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message).into_response()
}

/// `POST /v1/sms/inbound`.
pub async fn inbound(State(state): State<Shared>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let (Some(auth_token), Some(public_url)) = (state.sms_auth_token.as_deref(), state.links.public_url()) else {
        return plain(
            StatusCode::NOT_FOUND,
            "inbound SMS is off: it needs [sms] with its auth token, and public_url\n",
        );
    };
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return plain(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large\n");
        }
        Err(_) => return plain(StatusCode::BAD_REQUEST, "cannot read the body\n"),
    };
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let url = format!("{public_url}{INBOUND_PATH}");
    let signed = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sig| signature_matches(auth_token, &url, &params, sig));
    if !signed {
        tracing::warn!(url = %url, "inbound SMS refused: missing or wrong X-Twilio-Signature (is public_url the address Twilio calls?)");
        return plain(StatusCode::FORBIDDEN, "missing or wrong X-Twilio-Signature\n");
    }
    let field = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let (from, text, sid) = (field("From"), field("Body"), field("MessageSid"));
    let schedule = state.schedule();
    let mut senders = schedule
        .people
        .values()
        .filter(|p| !from.is_empty() && p.phone.as_deref() == Some(from));
    let (Some(person), None) = (senders.next(), senders.next()) else {
        // Unknown, or shared by several people: either way nobody to act as.
        tracing::info!(message_sid = %sid, "inbound SMS from a number that is not exactly one person's");
        return reply(UNKNOWN_NUMBER);
    };
    let Some((action, id)) = parse_command(text) else {
        return reply(USAGE);
    };
    let now = state.clock.now();
    tracing::info!(message_sid = %sid, person = %person.id, alert = id, "inbound SMS");
    // Twilio's signature has no timestamp: a captured request would verify
    // for ever, so each message (by its MessageSid) acts once.
    let once = (!sid.is_empty()).then(|| Once {
        id: format!("sms:{sid}"),
        until: now + SPENT_SMS_KEPT,
    });
    let message = match act(&state, action, id, &person.id, now, once).await {
        Ok(Acted::Done(_)) => match action {
            Action::Acknowledge => format!("Acknowledged alert {id}"),
            Action::Resolve => format!("Resolved alert {id}"),
        },
        Ok(Acted::Already(alert)) => match alert.status {
            Status::Resolved => format!("Alert {id} is already resolved"),
            _ => format!(
                "Alert {id} was already acknowledged{}",
                alert.acknowledged_by.map(|b| format!(" by {b}")).unwrap_or_default()
            ),
        },
        Ok(Acted::NoAlert) => format!("No alert {id}. {USAGE}"),
        Ok(Acted::Spent(_)) => format!("That message about alert {id} was handled already"),
        Err(e) => {
            tracing::error!(error = %e, "store failed");
            "oncall could not record that just now; send it again.".to_string()
        }
    };
    reply(&message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    /// The worked example of Twilio's security documentation ("Validating
    /// signatures"): auth token 12345, a Gather's digits posted to
    /// https://mycompany.com/myapp.php?foo=1&bar=2, and the signature it
    /// publishes for them. Twice: the current page's numbers, and the older
    /// helper library's.
    #[test]
    fn twilios_published_examples() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        for (caller, expected) in [
            ("+12349013030", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
            ("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        ] {
            // Deliberately not in sorted order.
            let p = params(&[
                ("To", "+18005551212"),
                ("Digits", "1234"),
                ("From", caller),
                ("CallSid", "CA1234567890ABCDE"),
                ("Caller", caller),
            ]);
            assert_eq!(twilio_signature("12345", url, &p), expected);
            assert!(signature_matches("12345", url, &p, expected));
            assert!(!signature_matches("12346", url, &p, expected));
            assert!(!signature_matches("12345", &format!("{url}&baz=3"), &p, expected));
            let mut other = p.clone();
            other[1].1 = "1235".into();
            assert!(!signature_matches("12345", url, &other, expected));
        }
    }

    #[test]
    fn junk_signatures_do_not_match() {
        let p = params(&[("Body", "ACK 1")]);
        for sig in ["", "not base64!", "AAAA"] {
            assert!(!signature_matches("t", "https://x", &p, sig), "{sig:?}");
        }
    }

    #[test]
    fn commands() {
        use Action::*;
        let cases: &[(&str, Option<(Action, AlertId)>)] = &[
            ("ACK 42", Some((Acknowledge, 42))),
            ("ack42", Some((Acknowledge, 42))),
            ("  Ack   #42 \n", Some((Acknowledge, 42))),
            ("acknowledge 7.", Some((Acknowledge, 7))),
            ("RES 42", Some((Resolve, 42))),
            ("resolve 42", Some((Resolve, 42))),
            ("Resolve#9", Some((Resolve, 9))),
            ("ACK", None),
            ("ACK forty-two", None),
            ("ACK 42 43", None),
            ("ACK -1", None),
            ("ACKNOWLEDGED 42", None),
            ("please ack 42", None),
            ("STOP", None),
            ("", None),
            ("ACK 99999999999999999999999", None),
        ];
        for (body, expected) in cases {
            assert_eq!(parse_command(body), *expected, "{body:?}");
        }
    }
}
