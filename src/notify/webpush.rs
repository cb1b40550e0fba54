//! Web Push to phones and browsers: RFC 8030 (a POST of the message to the
//! subscription's endpoint at its push service), its payload encrypted for
//! the device (RFC 8291, `aes128gcm`) and the request signed with the
//! daemon's VAPID key (RFC 8292). `web-push-native` builds the request;
//! our reqwest client sends it.
//!
//! A person subscribes from their page (`/me`, see `src/web/me.rs`); each
//! subscription is kept in the store, and a `push` rule pages it as
//! `webpush:ID` (see [`crate::domain::paging::WEB_PUSH_PREFIX`]). This is
//! the one channel that reads the store: the keys of a subscription live
//! there, not in `people.yaml`, and a subscription the push service says is
//! gone (404, 410) is removed there at once.
//!
//! The payload is JSON ([`Payload`]): the title and text as ntfy has them,
//! the alerts (id, team, severity, summary) and their signed action links,
//! which the service worker (`src/web/push_assets.rs`) turns into the
//! notification's Acknowledge and Resolve buttons.
//!
//! Answers: 2xx delivered (the `Location` the service gives, the message's
//! own URL, is the receipt); 404/410 the subscription is removed and the
//! send given up; 429 retried after `Retry-After` (bounded by
//! [`MAX_RETRY_AFTER`]), 5xx, 408 and no answer retried; any other refusal
//! (400, 401, 403, 413) given up.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Serialize;
use web_push_native::jwt_simple::algorithms::ES256KeyPair;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;
use web_push_native::{Auth, WebPushBuilder, p256};

use super::{Channel, ConfigError, Method, Notice, Receipt, SendError, SendFuture, Urgency, WebPushConfig, What};
use super::{render, web};
use crate::domain::paging::WEB_PUSH_PREFIX;
use crate::store::{Store, WebPushSubscription};

/// How long a push service keeps a page for a device that is offline
/// (`TTL`): an hour; by then the escalation has moved on and a page that
/// arrives later only confuses.
pub const PAGE_TTL: Duration = Duration::from_secs(3600);

/// How long a VAPID signature is valid (RFC 8292 allows at most 24 hours).
const VAPID_VALIDITY: Duration = Duration::from_secs(12 * 3600);

/// The longest `Retry-After` honoured: a service asking for more is retried
/// after this, within the notification's usual number of attempts.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Alerts listed in one payload: push services take about 4 KB.
const MAX_ALERTS: usize = 5;
/// The payload's largest size before it is encrypted, in bytes.
const MAX_PAYLOAD: usize = 3000;

pub struct WebPushChannel {
    client: reqwest::Client,
    key: ES256KeyPair,
    public_key: String,
    subject: String,
    allow_http: bool,
    store: Arc<dyn Store>,
    timeout: Duration,
}

/// What the service worker receives (decrypted).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Payload {
    pub title: String,
    pub body: String,
    /// `high` for the top severity, then `normal`, `low`.
    pub urgency: Urgency,
    /// Opened when the notification is tapped: the first alert's
    /// acknowledge page (it shows the alert and asks before acting).
    pub url: Option<String>,
    pub alerts: Vec<PayloadAlert>,
    /// A test push (on subscribing, or a test page): no alert.
    #[serde(default)]
    pub test: bool,
    /// A test page's signed confirm link (`/v1/proofs/<token>`): tapping
    /// the notification POSTs it, which confirms the method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct PayloadAlert {
    pub id: i64,
    pub team: String,
    pub severity: String,
    pub summary: String,
    /// The signed links: a POST acts (see `/v1/act/<token>`).
    pub acknowledge: Option<String>,
    pub resolve: Option<String>,
}

/// A new VAPID key pair for `oncall webpush keygen`: (private, public), both
/// base64url without padding (the private key is the P-256 scalar, the
/// public key the uncompressed point browsers take as
/// `applicationServerKey`).
pub fn keygen() -> (String, String) {
    let key = ES256KeyPair::generate();
    let private = b64(&key.to_bytes());
    let public = public_of(&key.to_bytes()).expect("a generated key is valid");
    (private, public)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url, with or without padding (browsers give it without).
fn unb64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .ok()
}

/// The public key (uncompressed point, base64url) of a private scalar.
fn public_of(private: &[u8]) -> Option<String> {
    let secret = p256::SecretKey::from_slice(private).ok()?;
    Some(b64(secret.public_key().to_encoded_point(false).as_bytes()))
}

/// Why a subscription a browser sent cannot be used, or `Ok`: the
/// endpoint an `https://` URL (`http://` too with `allow_http`), the
/// `p256dh` key a P-256 point, `auth` 16 bytes.
pub fn check_subscription(endpoint: &str, p256dh: &str, auth: &str, allow_http: bool) -> Result<(), String> {
    let url = reqwest::Url::parse(endpoint).map_err(|_| "the endpoint is not a URL".to_string())?;
    let scheme_ok = url.scheme() == "https" || (allow_http && url.scheme() == "http");
    if !scheme_ok || !url.has_host() || endpoint.len() > 2000 {
        return Err(if allow_http {
            "the endpoint must be an http:// or https:// URL of at most 2000 characters".into()
        } else {
            "the endpoint must be an https:// URL of at most 2000 characters".into()
        });
    }
    let key = unb64(p256dh).ok_or("p256dh is not base64url")?;
    p256::PublicKey::from_sec1_bytes(&key).map_err(|_| "p256dh is not a P-256 public key".to_string())?;
    let secret = unb64(auth).ok_or("auth is not base64url")?;
    if secret.len() != 16 {
        return Err("auth is not 16 bytes".into());
    }
    Ok(())
}

impl WebPushChannel {
    /// `[webpush]` with its private key resolved, and the store that keeps
    /// the subscriptions.
    pub fn new(config: &WebPushConfig, store: Arc<dyn Store>) -> Result<WebPushChannel, ConfigError> {
        let subject = config.subject.trim().to_string();
        if !(subject.starts_with("mailto:") || subject.starts_with("https://")) || subject.len() < 10 {
            return Err(ConfigError::new(
                "webpush",
                format!("subject: `{subject}` is not a mailto: or https: address push services can reach you at"),
            ));
        }
        let Some(private) = config.private_key.as_deref().filter(|k| !k.trim().is_empty()) else {
            return Err(ConfigError::new(
                "webpush",
                "no private key: set private_key_file (or private_key); `oncall webpush keygen` makes a pair",
            ));
        };
        let bad = || {
            ConfigError::new(
                "webpush",
                "the private key is not a P-256 key in base64url (as `oncall webpush keygen` prints it)",
            )
        };
        let bytes = unb64(private).ok_or_else(bad)?;
        let public_key = public_of(&bytes).ok_or_else(bad)?;
        let key = ES256KeyPair::from_bytes(&bytes).map_err(|_| bad())?;
        let timeout = super::timeout("webpush", config.timeout_secs)?;
        Ok(WebPushChannel {
            client: web::client("webpush", timeout)?,
            key,
            public_key,
            subject,
            allow_http: config.allow_http,
            store,
            timeout,
        })
    }

    /// The VAPID public key, base64url: the `applicationServerKey` a
    /// browser subscribes with.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// Whether subscriptions at `http://` endpoints are taken.
    pub fn allow_http(&self) -> bool {
        self.allow_http
    }

    /// Sends the test push a new subscription gets.
    pub async fn send_test(&self, sub: &WebPushSubscription, name: &str) -> Result<Receipt, SendError> {
        let payload = Payload {
            title: "oncall: push works".into(),
            body: format!("Pages for {name} will arrive on this device."),
            urgency: Urgency::Normal,
            url: None,
            alerts: Vec::new(),
            test: true,
            confirm: None,
        };
        let body = serde_json::to_vec(&payload).expect("a payload is JSON");
        self.send_to(sub, &body, Urgency::Normal, PAGE_TTL).await
    }

    async fn deliver(&self, notice: &Notice) -> Result<Receipt, SendError> {
        let id: i64 = notice
            .to
            .strip_prefix(WEB_PUSH_PREFIX)
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| SendError::Permanent(format!("`{}` is not a Web Push subscription", notice.to)))?;
        let sub = match self.store.webpush_subscription(id).await {
            Ok(Some(sub)) => sub,
            Ok(None) => {
                return Err(SendError::Permanent(format!(
                    "Web Push subscription {id} of {} was removed",
                    notice.person
                )));
            }
            Err(e) => {
                return Err(SendError::Retryable(format!(
                    "cannot read Web Push subscription {id}: {e}"
                )));
            }
        };
        let body = serde_json::to_vec(&payload(notice)).expect("a payload is JSON");
        self.send_to(&sub, &body, notice.urgency, PAGE_TTL).await
    }

    /// One push of `body` to `sub`, its answer classified (see the module
    /// documentation); a subscription the service says is gone is removed.
    async fn send_to(
        &self,
        sub: &WebPushSubscription,
        body: &[u8],
        urgency: Urgency,
        ttl: Duration,
    ) -> Result<Receipt, SendError> {
        let endpoint = sub
            .endpoint
            .parse()
            .map_err(|_| SendError::Permanent(format!("the endpoint of subscription {} is not a URL", sub.id)))?;
        let bad_keys = || SendError::Permanent(format!("the keys of subscription {} are not valid", sub.id));
        let ua_public = unb64(&sub.p256dh)
            .and_then(|k| p256::PublicKey::from_sec1_bytes(&k).ok())
            .ok_or_else(bad_keys)?;
        let auth = unb64(&sub.auth).filter(|a| a.len() == 16).ok_or_else(bad_keys)?;
        let request = WebPushBuilder::new(endpoint, ua_public, Auth::clone_from_slice(&auth))
            .with_valid_duration(VAPID_VALIDITY)
            .with_vapid(&self.key, &self.subject)
            .build(body.to_vec())
            .map_err(|e| SendError::Permanent(format!("cannot encrypt or sign the push: {e}")))?;
        let mut request = reqwest::Request::try_from(request)
            .map_err(|e| SendError::Permanent(format!("cannot make the push request: {}", web::chain(&e))))?;
        let headers = request.headers_mut();
        // The builder's TTL is the signature's validity: ours is shorter.
        headers.insert(HeaderName::from_static("ttl"), HeaderValue::from(ttl.as_secs()));
        headers.insert(
            HeaderName::from_static("urgency"),
            HeaderValue::from_static(urgency_header(urgency)),
        );
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| web::failed("the push service", e))?;
        let status = response.status();
        if status.is_success() {
            // RFC 8030 5: the service answers 201 with the message's URL.
            let reference = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .unwrap_or_else(|| status.as_u16().to_string());
            return Ok(Receipt {
                reference: Some(reference),
            });
        }
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            let removed = self.store.remove_webpush(sub.id, None).await;
            tracing::info!(
                person = %sub.person, subscription = sub.id, %status, removed = ?removed.as_ref().ok(),
                "Web Push: the push service says the subscription is gone; removed it"
            );
            return Err(SendError::Permanent(format!(
                "the push service answered {status}: the subscription expired or was turned off; subscription {} is removed",
                sub.id
            )));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let after = retry_after(response.headers().get(reqwest::header::RETRY_AFTER));
            return Err(SendError::RetryAfter(
                format!("the push service answered {status}"),
                after.unwrap_or(Duration::ZERO).min(MAX_RETRY_AFTER),
            ));
        }
        let text = web::body_text(response).await;
        Err(web::refused("the push service", status, &text))
    }
}

/// RFC 8030 5.3's `Urgency`: `high` wakes a phone from power saving.
pub fn urgency_header(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::High => "high",
        Urgency::Normal => "normal",
        Urgency::Low => "low",
    }
}

/// `Retry-After` in seconds, the form push services use. (An HTTP date
/// would need the wall clock, which a channel does not read: it is taken
/// as no wait, and the usual back-off applies.)
fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let seconds = value?.to_str().ok()?.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(seconds))
}

/// The payload of a notice: what ntfy would show, and for a page its alerts
/// (at most `MAX_ALERTS`) with their links, cut to fit `MAX_PAYLOAD`.
pub fn payload(notice: &Notice) -> Payload {
    let push = render::push(notice);
    let alerts: Vec<PayloadAlert> = match &notice.what {
        What::Page { alerts } => alerts
            .iter()
            .take(MAX_ALERTS)
            .map(|a| PayloadAlert {
                id: a.id,
                team: a.team.clone(),
                severity: a.severity.clone(),
                summary: cut(&a.summary, 300),
                acknowledge: a.ack_url.clone(),
                resolve: a.resolve_url.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut p = Payload {
        title: cut(&push.title, 200),
        body: cut(&push.message, 1000),
        urgency: notice.urgency,
        url: alerts.first().and_then(|a| a.acknowledge.clone()),
        alerts,
        test: false,
        confirm: None,
    };
    if let What::Test(t) = &notice.what {
        p.test = true;
        p.url = t.confirm_url.clone();
        p.confirm = t.confirm_url.clone();
    }
    while p.alerts.len() > 1 && serde_json::to_vec(&p).map_or(0, |v| v.len()) > MAX_PAYLOAD {
        p.alerts.pop();
    }
    p
}

/// `text` cut to `max` characters.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max - 3).collect();
        s.push_str("...");
        s
    }
}

impl Channel for WebPushChannel {
    fn method(&self) -> Method {
        Method::Push
    }

    fn send<'a>(&'a self, notice: &'a Notice) -> SendFuture<'a> {
        Box::pin(self.deliver(notice))
    }
}

impl std::fmt::Debug for WebPushChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("WebPushChannel")
            .field("public_key", &self.public_key)
            .field("subject", &self.subject)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// `push` as a method: the ntfy topic (`ntfy:...`) through the ntfy
/// channel, a subscription (`webpush:ID`) through Web Push, each as
/// configured.
pub struct PushRoutes {
    pub ntfy: Option<Arc<dyn Channel>>,
    pub webpush: Option<Arc<dyn Channel>>,
}

impl Channel for PushRoutes {
    fn method(&self) -> Method {
        Method::Push
    }

    fn send<'a>(&'a self, notice: &'a Notice) -> SendFuture<'a> {
        let (channel, section) = if notice.to.starts_with(WEB_PUSH_PREFIX) {
            (&self.webpush, "webpush")
        } else {
            (&self.ntfy, "push")
        };
        match channel {
            Some(c) => c.send(notice),
            None => Box::pin(async move {
                Err(SendError::Permanent(format!(
                    "no {section} channel is configured (see the [{section}] section of oncall.toml)"
                )))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_made_by_keygen_are_taken_back() {
        let (private, public) = keygen();
        assert_eq!(public_of(&unb64(&private).unwrap()).unwrap(), public);
        // An uncompressed P-256 point: 65 bytes, starting with 4.
        let point = unb64(&public).unwrap();
        assert_eq!((point.len(), point[0]), (65, 4));
    }

    #[test]
    fn subscriptions_are_checked() {
        let (_, public) = keygen();
        let auth = b64(&[7u8; 16]);
        assert_eq!(
            check_subscription("https://push.example/x", &public, &auth, false),
            Ok(())
        );
        assert!(check_subscription("http://127.0.0.1:1/x", &public, &auth, false).is_err());
        assert_eq!(check_subscription("http://127.0.0.1:1/x", &public, &auth, true), Ok(()));
        assert!(check_subscription("https://push.example/x", "AAAA", &auth, false).is_err());
        assert!(check_subscription("https://push.example/x", &public, &b64(&[7u8; 15]), false).is_err());
        assert!(check_subscription("not a url", &public, &auth, false).is_err());
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(
            retry_after(Some(&HeaderValue::from_static("7"))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(retry_after(Some(&HeaderValue::from_static("soon"))), None);
        assert_eq!(
            retry_after(Some(&HeaderValue::from_static("Wed, 21 Oct 2026 07:28:00 GMT"))),
            None
        );
        assert_eq!(retry_after(None), None);
    }

    #[test]
    fn urgency_follows_severity_rank() {
        assert_eq!(
            [Urgency::High, Urgency::Normal, Urgency::Low].map(urgency_header),
            ["high", "normal", "low"]
        );
    }
}
