//! Inbound SMS: a responder replies `ACK 42` to a page and the alert is
//! acknowledged in their name. Twilio (or a compatible provider) posts each
//! message it receives to `POST /v1/sms/inbound` as a form (`From`, `To`,
//! `Body`, `MessageSid`, `AccountSid`, ...) and reads our answer as TwiML.
//!
//! Every request must carry Twilio's signature, `X-Twilio-Signature`:
//! Base64(HMAC-SHA1(auth token, URL + every POST parameter's name and value,
//! sorted by name, no separators)), where URL is the address Twilio was told
//! to call: the configured `public_url` + `/v1/sms/inbound`. A request
//! without it, or with a wrong one, is 403 and changes nothing.
//!
//! The signature has no timestamp and no separators, so a recorded request
//! verifies for ever, and can be re-cut: `MessageSid=SMb...&NumMedia=0`
//! signs the same as `MessageSid=SMb...NumMedia0`, or as `Me=ssageSidSMb...`
//! (no `MessageSid` at all). Hence: a request must name our account
//! (`AccountSid`, else 403) and carry one `MessageSid` of Twilio's form
//! (`SM` or `MM` and 32 hex digits, else 400), and that id acts once. A
//! re-cut can only move where names end, so it cannot produce another
//! well-formed id.
//!
//! The sender is the person whose `phone` in `people.yaml` is `From`; any
//! other number gets one generic answer that says nothing about alerts. A
//! person acts only on alerts that paged them (a page notification of
//! theirs, not a shadow copy); on another alert the reply says so and
//! nothing changes.
//!
//! `VERIFY 123456` confirms the sender's number with the code texted to it
//! (`crate::phone_verify`): the sender is known by the same rule, and the
//! code is checked as on `/me`.

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
use crate::domain::alert::{AlertId, Status};
use crate::engine::outbox::{NoticeKind, Notification};
use crate::html::escape;
use crate::links::Action;
use crate::store::StoreError;

/// The path Twilio is configured to call, after `public_url`.
pub const INBOUND_PATH: &str = "/v1/sms/inbound";

/// The header that carries Twilio's signature.
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// How long a handled message's id is remembered, so that a replay of its
/// signed request does nothing.
const SPENT_SMS_KEPT: chrono::Duration = chrono::Duration::days(30);

const USAGE: &str = "Reply ACK 42 to acknowledge alert 42, or RES 42 to resolve it.";
const UNKNOWN_NUMBER: &str = "This number is not registered with oncall.";
const STORE_FAILED: &str = "oncall could not record that just now; send it again.";

/// The fields a request may carry once: Twilio never repeats them, and a
/// second one could only come from re-cutting a signed request.
const ONCE: [&str; 4] = ["AccountSid", "MessageSid", "From", "Body"];

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
pub(super) fn signature_matches(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let Ok(given) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    twilio_mac(auth_token, url, params).verify_slice(&given).is_ok()
}

/// Whether `sid` is a message id as Twilio makes them: `SM` (a text) or
/// `MM` (with media), then 32 hex digits.
fn message_sid(sid: &str) -> bool {
    sid.len() == 34
        && (sid.starts_with("SM") || sid.starts_with("MM"))
        && sid.bytes().skip(2).all(|b| b.is_ascii_hexdigit())
}

/// The (first) value of the parameter `name`, or "".
pub(super) fn field<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
}

/// Whether `person` was paged for the alert whose notifications these are:
/// a page of theirs (a shadow copy, which carries no way to act, does not
/// count), sent or not yet.
fn paged(notifications: &[Notification], person: &str) -> bool {
    notifications.iter().any(|n| {
        n.kind == NoticeKind::Page
            && n.person == person
            && n.payload.as_ref().is_none_or(|p| p.get("shadow_of").is_none())
    })
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

pub(super) fn plain(status: StatusCode, message: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message).into_response()
}

/// A Twilio webhook's form, read and checked: the body (413 when too
/// large), and its `X-Twilio-Signature` over `public_url` + `path` under
/// the account's auth token (403 without it or wrong). `what` names the
/// webhook in the log. Every Twilio webhook of the daemon (inbound SMS,
/// a call's keys and status, a test page's status) starts here.
pub(super) fn signed_form(
    inbound: &super::InboundSms,
    public_url: &str,
    path: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    what: &str,
) -> Result<Vec<(String, String)>, Box<Response>> {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(Box::new(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is too large\n",
            )));
        }
        Err(_) => return Err(Box::new(plain(StatusCode::BAD_REQUEST, "cannot read the body\n"))),
    };
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let url = format!("{public_url}{path}");
    let signed = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sig| signature_matches(&inbound.auth_token, &url, &params, sig));
    if !signed {
        tracing::warn!(url = %url, "{what} refused: missing or wrong X-Twilio-Signature (is public_url the address Twilio calls?)");
        return Err(Box::new(plain(
            StatusCode::FORBIDDEN,
            "missing or wrong X-Twilio-Signature\n",
        )));
    }
    Ok(params)
}

/// `POST /v1/sms/inbound`.
pub async fn inbound(State(state): State<Shared>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let (Some(inbound), Some(public_url)) = (state.inbound_sms.as_ref(), state.links.public_url()) else {
        return plain(
            StatusCode::NOT_FOUND,
            "inbound SMS is off: it needs [sms] with its auth token, and public_url\n",
        );
    };
    let params = match signed_form(inbound, public_url, INBOUND_PATH, &headers, body, "inbound SMS") {
        Ok(params) => params,
        Err(refused) => return *refused,
    };
    if ONCE
        .iter()
        .any(|name| params.iter().filter(|(n, _)| n == name).count() > 1)
    {
        tracing::warn!("inbound SMS refused: a repeated field");
        return plain(
            StatusCode::BAD_REQUEST,
            "AccountSid, MessageSid, From and Body may each appear once\n",
        );
    }
    let (from, text, sid) = (
        field(&params, "From"),
        field(&params, "Body"),
        field(&params, "MessageSid"),
    );
    if field(&params, "AccountSid") != inbound.account_sid {
        tracing::warn!("inbound SMS refused: its AccountSid is not [sms] account_sid");
        return plain(
            StatusCode::FORBIDDEN,
            "the message is not for this account: AccountSid is not [sms] account_sid\n",
        );
    }
    if !message_sid(sid) {
        tracing::warn!("inbound SMS refused: no MessageSid of Twilio's form");
        return plain(
            StatusCode::BAD_REQUEST,
            "MessageSid must be SM or MM and 32 hex digits: each message acts once, by its id\n",
        );
    }
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
    let now = state.clock.now();
    if let Some(code) = crate::phone_verify::sms_command(text) {
        tracing::info!(message_sid = %sid, person = %person.id, "inbound SMS: a phone verification code");
        return reply(&verify_reply(&state, &person.id, from, code, now).await);
    }
    if text.trim().trim_end_matches(['.', '!']).eq_ignore_ascii_case("yes") {
        return confirm_test(&state, &person.id, from).await;
    }
    let Some((action, id)) = parse_command(text) else {
        return reply(USAGE);
    };
    tracing::info!(message_sid = %sid, person = %person.id, alert = id, "inbound SMS");
    match allowed(&state, id, &person.id).await {
        Ok(Allowed::Yes) => {}
        Ok(Allowed::NoAlert) => return reply(&format!("No alert {id}. {USAGE}")),
        Ok(Allowed::NotPaged) => {
            tracing::info!(message_sid = %sid, person = %person.id, alert = id, "inbound SMS refused: the alert did not page the sender");
            return reply(&format!(
                "Alert {id} did not page you, so nothing was done. Reply ACK or RES with the number of an alert that paged you."
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "store failed");
            return reply(STORE_FAILED);
        }
    }
    // Twilio's signature has no timestamp: a captured request would verify
    // for ever, so each message (by its MessageSid) acts once.
    let once = Once {
        id: format!("sms:{sid}"),
        until: now + SPENT_SMS_KEPT,
    };
    let message = match act(&state, action, id, &person.id, now, Some(once)).await {
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
            STORE_FAILED.to_string()
        }
    };
    reply(&message)
}

/// The answer to `VERIFY 123456` from `person`'s number `from`: the code
/// checked as on `/me` (wrong entries by either count together).
async fn verify_reply(
    state: &Shared,
    person: &str,
    from: &str,
    code: Option<String>,
    now: crate::domain::time::Instant,
) -> String {
    use crate::phone_verify::Checked;
    let Some(code) = code else {
        return "Reply VERIFY and the six digits of your code, e.g. VERIFY 123456.".to_string();
    };
    let when = |t: crate::domain::time::Instant| t.format("%Y-%m-%d %H:%M UTC").to_string();
    match crate::phone_verify::confirm(state, person, from, &code, now).await {
        Ok(Checked::Verified) => "Thank you: this number is verified for your oncall pages.".to_string(),
        Ok(Checked::AlreadyVerified(_)) => "This number is verified already.".to_string(),
        Ok(Checked::Wrong { left }) => format!(
            "That code is wrong. {left} {} left before verification of this number locks for an hour.",
            if left == 1 { "try" } else { "tries" }
        ),
        Ok(Checked::LockedNow { until }) => format!(
            "That code is wrong, the third time: verification of this number is locked until {}. Pages still come here.",
            when(until)
        ),
        Ok(Checked::Locked { until }) => format!(
            "Verification of this number is locked until {} after three wrong codes; nothing was checked. Pages still come here.",
            when(until)
        ),
        Ok(Checked::Expired) => "That code has expired: ask for a new one on your oncall page (Me).".to_string(),
        Ok(Checked::NoCode) => "No verification code was sent to this number.".to_string(),
        Err(e) => {
            tracing::error!(error = %e, "store failed");
            STORE_FAILED.to_string()
        }
    }
}

/// How long after a test SMS was sent a `YES` confirms it.
const TEST_REPLY_WITHIN: chrono::Duration = chrono::Duration::days(1);

/// `YES`: confirms the newest test SMS to this number (a test page, see
/// `proofs.rs`); it acts on no alert.
async fn confirm_test(state: &Shared, person: &str, from: &str) -> Response {
    let now = state.clock.now();
    let waiting = state
        .store
        .awaiting_reply(person.to_string(), from.to_string(), now - TEST_REPLY_WITHIN)
        .await;
    let confirmed = match waiting {
        Ok(Some(id)) => state
            .store
            .proof_event(id, crate::store::proof::ProofEvent::Confirmed("reply"), now)
            .await
            .map(|p| p.is_some()),
        Ok(None) => return reply("No test page is waiting for a reply. Nothing was done."),
        Err(e) => Err(e),
    };
    match confirmed {
        Ok(_) => {
            tracing::info!(person, "test SMS confirmed by a reply");
            reply("Thank you: texts to this number are confirmed.")
        }
        Err(e) => {
            tracing::error!(error = %e, "store failed");
            reply(STORE_FAILED)
        }
    }
}

/// Whether a person may act on an alert by SMS.
enum Allowed {
    Yes,
    NoAlert,
    NotPaged,
}

/// A phone is no credential for every alert: its person acts only on
/// alerts that paged them, as a link acts only on the alert it was made
/// for.
async fn allowed(state: &Shared, id: AlertId, person: &str) -> Result<Allowed, StoreError> {
    if paged(&state.store.notifications(id).await?, person) {
        return Ok(Allowed::Yes);
    }
    Ok(match state.store.alert(id).await? {
        None => Allowed::NoAlert,
        Some(_) => Allowed::NotPaged,
    })
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
    fn paged_means_a_page_of_the_person_not_a_shadow_copy() {
        let row = |person: &str, kind: NoticeKind, payload: Option<serde_json::Value>| Notification {
            id: 1,
            alert: Some(7),
            kind,
            person: person.into(),
            method: crate::notify::Method::Sms,
            to: "+15550100".into(),
            step: Some((0, 0)),
            due: chrono::DateTime::UNIX_EPOCH,
            state: "failed".into(),
            attempts: 1,
            last_error: None,
            sent_at: None,
            payload,
        };
        let shadow = Some(serde_json::json!({"shadow_of": "alice"}));
        assert!(paged(&[row("bob", NoticeKind::Page, None)], "bob"));
        assert!(!paged(&[row("alice", NoticeKind::Page, None)], "bob"));
        assert!(!paged(&[row("bob", NoticeKind::Page, shadow)], "bob"));
        assert!(!paged(&[row("bob", NoticeKind::Handoff, None)], "bob"));
        assert!(!paged(&[], "bob"));
    }

    #[test]
    fn message_sids() {
        for good in [
            "SM0123456789abcdef0123456789abcdef",
            "MM0123456789ABCDEF0123456789abcdef",
        ] {
            assert!(message_sid(good), "{good}");
        }
        for bad in [
            "",
            "SM",
            "SM0123456789abcdef0123456789abcde",
            "SM0123456789abcdef0123456789abcdefNumMedia0",
            "SM0123456789abcdef0123456789abcdeg",
            "AC0123456789abcdef0123456789abcdef",
            "sm0123456789abcdef0123456789abcdef",
            "SM0123456789abcdef0123456789abcdé",
        ] {
            assert!(!message_sid(bad), "{bad}");
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
