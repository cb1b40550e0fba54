//! Delivering notices to people: one [`Channel`] per contact method (email,
//! SMS, push, outgoing webhook), all behind one trait. The engine decides
//! *what* to send and *when*; a channel only renders a [`Notice`] for its
//! medium and hands it to the outside world, answering whether a failed
//! attempt may succeed if retried ([`SendError::Retryable`]) or never will
//! ([`SendError::Permanent`]).
//!
//! Channels never read the clock for decisions and never touch the store,
//! but for Web Push (`webpush.rs`), whose subscriptions the store keeps: it
//! reads a subscription's keys and removes one its push service says is
//! gone. `push` is both ntfy and Web Push ([`webpush::PushRoutes`]).
//!
//! [`render`] writes the words of every medium; `email.rs`, `sms.rs`,
//! `push.rs` and `webhook.rs` carry them; [`Channels`] holds the configured
//! ones by [`Method`], and takes the destination out of whatever they answer
//! ([`redact`]). See `docs/notifications.md` for what each message looks
//! like and how failures are classified.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::alert::AlertId;
use crate::domain::time::Instant;

pub mod email;
pub mod gsm;
pub mod push;
pub mod redact;
pub mod render;
pub mod sms;
mod twilio;
pub mod voice;
mod web;
pub mod webhook;
pub mod webpush;

pub use email::EmailChannel;
pub use push::PushChannel;
pub use sms::SmsChannel;
pub use voice::VoiceChannel;
pub use webhook::WebhookChannel;
pub use webpush::WebPushChannel;

pub use crate::domain::paging::Method;

/// How loudly to disturb: from the alert's severity rank (push priority,
/// email importance).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    Low,
    Normal,
    High,
}

/// One alert as a page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PagedAlert {
    pub id: AlertId,
    pub team: String,
    pub summary: String,
    pub severity: String,
    /// When it was first seen.
    pub since: Instant,
    pub occurrences: u64,
    /// A practice page (`oncall drill`): every rendering says so plainly.
    pub drill: bool,
    /// Signed links for this recipient: GET shows a confirmation page, POST
    /// acts. `None` when the daemon has no public URL configured.
    pub ack_url: Option<String>,
    pub resolve_url: Option<String>,
    /// The text to reply by SMS to acknowledge, e.g. `ACK 42`.
    pub reply_ack: String,
    pub reply_resolve: String,
    /// A shadow copy: the recipient shadows this person, who is the one
    /// paged. Every rendering says so, and a copy carries no action links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow_of: Option<String>,
    /// The alert's lead (who acknowledged first, or was handed it); `None`:
    /// nobody has acknowledged it.
    #[serde(default)]
    pub lead: Option<String>,
    /// The others the same escalation step pages (their names), for a phone
    /// call to say; empty when unknown (a round-robin step pages one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_paged: Vec<String>,
}

/// What a notice is about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    /// A page for one alert, or a bundle of several for one destination
    /// (throttling: "12 new alerts for payments").
    Page { alerts: Vec<PagedAlert> },
    /// An announcement to a team's shared space: an alert opened, was
    /// acknowledged (with its lead) or was resolved.
    Announce(Announcement),
    /// A shift starts (or starts tomorrow: `ahead` is true).
    Handoff {
        team: String,
        rota: String,
        start: Instant,
        end: Option<Instant>,
        ahead: bool,
    },
    /// A test page (`oncall test-page`, "Test my pages"): not an alert,
    /// and every rendering says so plainly.
    Test(TestNotice),
}

/// What a test page carries: the proof it is for, and where the person
/// confirms it and the provider reports on it. The outbox keeps only the
/// proof; the engine signs the links when it sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestNotice {
    pub proof: i64,
    /// The signed confirm link (GET shows a page, POST confirms); `None`
    /// without a public URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_url: Option<String>,
}

impl TestNotice {
    /// Where a provider posts the message's or call's status.
    pub fn status_url(&self) -> Option<String> {
        self.confirm_url.as_ref().map(|u| format!("{u}/status"))
    }

    /// Where a test call posts the key pressed.
    pub fn voice_url(&self) -> Option<String> {
        self.confirm_url.as_ref().map(|u| format!("{u}/voice"))
    }
}

/// What an announcement says: a snapshot of the alert when the event
/// happened (a late delivery still says what happened then).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// `opened`, `acknowledged` or `resolved`.
    pub event: String,
    pub alert: AlertId,
    pub team: String,
    pub severity: String,
    pub summary: String,
    pub lead: Option<String>,
    /// Who acknowledged or resolved it, if known.
    pub by: Option<String>,
    pub at: Instant,
    #[serde(default)]
    pub drill: bool,
}

/// Everything a channel needs to send one message to one destination.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// The outbox row this comes from: the same id on every retry, so a
    /// receiver can recognise a repeat (email Message-ID, webhook field).
    pub id: i64,
    pub method: Method,
    /// The destination as written in `people.yaml`: an address, an E.164
    /// number, a push destination (`ntfy:topic`), a webhook URL.
    pub to: String,
    /// The person's id and display name.
    pub person: String,
    pub name: String,
    pub urgency: Urgency,
    pub what: What,
}

/// Why a send failed, and whether trying again may help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The receiver was down, slow, or said "later" (connection refused,
    /// timeout, 429, 5xx, SMTP 4xx).
    #[error("{0} (will retry)")]
    Retryable(String),
    /// The receiver refused this message for good (bad address, 4xx,
    /// SMTP 5xx, no channel configured for the method).
    #[error("{0}")]
    Permanent(String),
    /// The receiver asked to be tried again after a while (a push
    /// service's 429 with `Retry-After`): retryable, not before then.
    #[error("{0} (will retry after {secs}s)", secs = .1.as_secs())]
    RetryAfter(String, Duration),
}

impl SendError {
    pub fn retryable(&self) -> bool {
        matches!(self, SendError::Retryable(_) | SendError::RetryAfter(..))
    }

    /// What went wrong, without the retry advice.
    pub fn message(&self) -> &str {
        match self {
            SendError::Retryable(m) | SendError::Permanent(m) | SendError::RetryAfter(m, _) => m,
        }
    }

    /// The same error without `destination` (nor any other address or
    /// number) in its message: see [`redact::redact`].
    pub fn redact(self, destination: &str) -> SendError {
        match self {
            SendError::Retryable(m) => SendError::Retryable(redact::redact(&m, destination)),
            SendError::Permanent(m) => SendError::Permanent(redact::redact(&m, destination)),
            SendError::RetryAfter(m, after) => SendError::RetryAfter(redact::redact(&m, destination), after),
        }
    }
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Receipt, SendError>> + Send + 'a>>;

/// What the receiver said when it took the message, for the timeline.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The provider's id for the message (Twilio's `sid`, ntfy's `id`, the
    /// SMTP server's reply), if it gave one.
    pub reference: Option<String>,
}

/// One contact method's delivery.
pub trait Channel: Send + Sync {
    fn method(&self) -> Method;
    fn send<'a>(&'a self, notice: &'a Notice) -> SendFuture<'a>;
}

/// The channels' settings: `[email]`, `[sms]`, `[push]` and `[webhook]` in
/// `oncall.toml`. A method with no settings cannot deliver: the engine logs
/// and records such notices as undeliverable rather than dropping them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub email: Option<EmailConfig>,
    pub sms: Option<SmsConfig>,
    /// Not built by [`Channels::from_config`]: a call's TwiML needs the
    /// daemon's links (see [`VoiceChannel::new`]).
    pub voice: Option<VoiceConfig>,
    pub push: Option<PushConfig>,
    /// Not built by [`Channels::from_config`]: it keeps its subscriptions in
    /// the store (see [`WebPushChannel::new`]).
    pub webpush: Option<WebPushConfig>,
    #[serde(default)]
    pub webhook: WebhookConfig,
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Plain connection upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS at all: only for a relay on loopback.
    None,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub host: String,
    /// Default: 587 for STARTTLS, 465 for implicit TLS, 25 without TLS.
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: Tls,
    pub username: Option<String>,
    /// Prefer `password_file` or `ONCALL_SMTP_PASSWORD`.
    pub password: Option<String>,
    pub password_file: Option<std::path::PathBuf>,
    /// The sender, e.g. `oncall <oncall@example.com>`.
    pub from: String,
    /// Seconds before a slow server counts as a retryable failure. Default 10.
    pub timeout_secs: Option<u64>,
}

/// A Twilio-compatible Messages API.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// Default `https://api.twilio.com`.
    pub base_url: Option<String>,
    pub account_sid: String,
    /// Prefer `auth_token_file` or `ONCALL_SMS_AUTH_TOKEN`. Also verifies
    /// the signature of inbound SMS webhooks.
    pub auth_token: Option<String>,
    pub auth_token_file: Option<std::path::PathBuf>,
    /// The sending number, E.164.
    pub from: String,
    /// Seconds. Default 10.
    pub timeout_secs: Option<u64>,
}

/// Twilio's Programmable Voice Calls API. What is left out is taken from
/// `[sms]` (the same account, number and base URL).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceConfig {
    /// Default: `[sms]`'s, else `https://api.twilio.com`.
    pub base_url: Option<String>,
    pub account_sid: Option<String>,
    /// Also verifies the signature of the call's webhooks (the key pressed,
    /// the call's status).
    pub auth_token: Option<String>,
    pub auth_token_file: Option<std::path::PathBuf>,
    /// The calling number, E.164.
    pub from: Option<String>,
    /// Ask Twilio to tell a person from an answering machine
    /// (`MachineDetection=Enable`); a machine counts as not reached.
    #[serde(default)]
    pub machine_detection: bool,
    /// Seconds. Default 10.
    pub timeout_secs: Option<u64>,
}

/// ntfy's publish API.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// Default `https://ntfy.sh`.
    pub server: Option<String>,
    /// An access token for a protected server; prefer `ONCALL_PUSH_TOKEN`.
    pub token: Option<String>,
    pub token_file: Option<std::path::PathBuf>,
    /// Seconds. Default 10.
    pub timeout_secs: Option<u64>,
}

/// Web Push (`[webpush]`): the daemon's VAPID key pair and contact.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebPushConfig {
    /// Where a push service's operator can reach you: `mailto:...` or
    /// `https://...` (RFC 8292's `sub`).
    pub subject: String,
    /// The VAPID private key, base64url, as `oncall webpush keygen` prints
    /// it. Prefer `private_key_file` or `ONCALL_WEBPUSH_PRIVATE_KEY`.
    pub private_key: Option<String>,
    pub private_key_file: Option<std::path::PathBuf>,
    /// Take subscriptions whose endpoint is `http://` (a push service for
    /// tests on loopback). Default false: `https://` only.
    #[serde(default)]
    pub allow_http: bool,
    /// Seconds. Default 10.
    pub timeout_secs: Option<u64>,
}

/// Outgoing JSON webhooks (a person's `webhook:` URL; Slack-compatible).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Seconds. Default 10.
    pub timeout_secs: Option<u64>,
}

/// How long a channel waits for its receiver when `timeout_secs` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A channel's `timeout_secs`, or [`DEFAULT_TIMEOUT`]; 0 is refused (it would
/// fail every send).
fn timeout(section: &'static str, secs: Option<u64>) -> Result<Duration, ConfigError> {
    match secs {
        None => Ok(DEFAULT_TIMEOUT),
        Some(0) => Err(ConfigError::new(section, "timeout_secs must be at least 1")),
        Some(secs) => Ok(Duration::from_secs(secs)),
    }
}

/// A channel's settings that cannot work, found when the channels are built
/// (at start, before anything is sent).
#[derive(Debug, thiserror::Error)]
#[error("[{section}] {message}")]
pub struct ConfigError {
    /// The section of `oncall.toml`: `email`, `sms`, `push`, `webhook`.
    pub section: &'static str,
    pub message: String,
}

impl ConfigError {
    fn new(section: &'static str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            section,
            message: message.into(),
        }
    }
}

/// The configured channels, one per method at most.
#[derive(Clone, Default)]
pub struct Channels {
    by_method: BTreeMap<Method, Arc<dyn Channel>>,
}

impl fmt::Debug for Channels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channels").field("methods", &self.methods()).finish()
    }
}

/// A channel whose answers name no destination: the one place where what a
/// provider said is cleaned before the engine stores and logs it.
struct Redacting(Arc<dyn Channel>);

impl Channel for Redacting {
    fn method(&self) -> Method {
        self.0.method()
    }

    fn send<'a>(&'a self, notice: &'a Notice) -> SendFuture<'a> {
        Box::pin(async move {
            match self.0.send(notice).await {
                // An SMTP server's acceptance may name the recipient too.
                Ok(receipt) => Ok(Receipt {
                    reference: receipt.reference.map(|r| redact::redact(&r, &notice.to)),
                }),
                Err(e) => Err(e.redact(&notice.to)),
            }
        })
    }
}

impl Channels {
    /// These channels (tests give fakes), each behind [`redact`]. A later
    /// channel for the same method replaces an earlier one.
    pub fn new(channels: Vec<Arc<dyn Channel>>) -> Channels {
        Channels {
            by_method: channels
                .into_iter()
                .map(|c| (c.method(), Arc::new(Redacting(c)) as Arc<dyn Channel>))
                .collect(),
        }
    }

    /// A channel for each section of the settings (secrets already resolved
    /// by `Settings::resolve`). Outgoing webhooks need no settings, so that
    /// channel is always there.
    pub fn from_config(config: &Config) -> Result<Channels, ConfigError> {
        let mut channels: Vec<Arc<dyn Channel>> = Vec::new();
        if let Some(email) = &config.email {
            channels.push(Arc::new(EmailChannel::new(email)?));
        }
        if let Some(sms) = &config.sms {
            channels.push(Arc::new(SmsChannel::new(sms)?));
        }
        if let Some(push) = &config.push {
            channels.push(Arc::new(PushChannel::new(push)?));
        }
        channels.push(Arc::new(WebhookChannel::new(&config.webhook)?));
        Ok(Channels::new(channels))
    }

    /// Adds Web Push to `push`: a destination `webpush:ID` goes to it, any
    /// other to the ntfy channel there was (if any).
    pub fn add_webpush(&mut self, channel: Arc<dyn Channel>) {
        let ntfy = self.by_method.remove(&Method::Push);
        self.add(Arc::new(webpush::PushRoutes {
            ntfy,
            webpush: Some(channel),
        }));
    }

    /// Adds a channel (behind [`redact`]), replacing any of its method.
    pub fn add(&mut self, channel: Arc<dyn Channel>) {
        self.by_method
            .insert(channel.method(), Arc::new(Redacting(channel)) as Arc<dyn Channel>);
    }

    pub fn get(&self, method: Method) -> Option<Arc<dyn Channel>> {
        self.by_method.get(&method).cloned()
    }

    /// The methods that can deliver, in [`Method`] order.
    pub fn methods(&self) -> Vec<Method> {
        self.by_method.keys().copied().collect()
    }

    /// Sends through the channel of the notice's method; without one the
    /// notice can never be delivered ([`SendError::Permanent`]).
    pub async fn send(&self, notice: &Notice) -> Result<Receipt, SendError> {
        match self.by_method.get(&notice.method) {
            Some(channel) => channel.send(notice).await,
            None => Err(SendError::Permanent(format!(
                "no {} channel is configured (see the [{}] section of oncall.toml)",
                notice.method, notice.method
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(Method);

    impl Channel for Fake {
        fn method(&self) -> Method {
            self.0
        }
        fn send<'a>(&'a self, _notice: &'a Notice) -> SendFuture<'a> {
            Box::pin(async {
                Ok(Receipt {
                    reference: Some("fake".into()),
                })
            })
        }
    }

    fn notice(method: Method) -> Notice {
        Notice {
            id: 1,
            method,
            to: "+15550100".into(),
            person: "alice".into(),
            name: "Alice".into(),
            urgency: Urgency::High,
            what: What::Page { alerts: vec![] },
        }
    }

    #[tokio::test]
    async fn a_method_without_a_channel_is_permanent() {
        let channels = Channels::new(vec![Arc::new(Fake(Method::Sms))]);
        assert_eq!(channels.methods(), [Method::Sms]);
        assert!(channels.get(Method::Email).is_none());
        assert_eq!(
            channels.send(&notice(Method::Sms)).await.unwrap().reference.as_deref(),
            Some("fake")
        );
        let err = channels.send(&notice(Method::Email)).await.unwrap_err();
        assert!(!err.retryable(), "{err}");
        assert!(err.to_string().contains("no email channel"), "{err}");
    }

    /// A provider that repeats the destination in whatever it answers.
    struct Echo(Method, bool);

    impl Channel for Echo {
        fn method(&self) -> Method {
            self.0
        }
        fn send<'a>(&'a self, notice: &'a Notice) -> SendFuture<'a> {
            Box::pin(async move {
                if self.1 {
                    Ok(Receipt {
                        reference: Some(format!("250 2.1.5 <{}> OK", notice.to)),
                    })
                } else {
                    Err(SendError::Retryable(format!("{} is busy", notice.to)))
                }
            })
        }
    }

    #[tokio::test]
    async fn what_a_channel_answers_leaves_without_the_destination() {
        let refusing = Channels::new(vec![Arc::new(Echo(Method::Sms, false))]);
        let err = refusing.send(&notice(Method::Sms)).await.unwrap_err();
        assert_eq!(err, SendError::Retryable("<recipient> is busy".into()));
        // Also through `get`, as the engine sends.
        let err = refusing
            .get(Method::Sms)
            .unwrap()
            .send(&notice(Method::Sms))
            .await
            .unwrap_err();
        assert_eq!(err.message(), "<recipient> is busy");
        let accepting = Channels::new(vec![Arc::new(Echo(Method::Sms, true))]);
        let receipt = accepting.send(&notice(Method::Sms)).await.unwrap();
        assert_eq!(receipt.reference.as_deref(), Some("250 2.1.5 <recipient> OK"));
    }

    #[test]
    fn from_config_builds_what_is_configured() {
        let config: Config = toml::from_str(
            r#"
[email]
host = "127.0.0.1"
tls = "none"
from = "oncall <oncall@example.com>"

[push]
timeout_secs = 3
"#,
        )
        .unwrap();
        let channels = Channels::from_config(&config).unwrap();
        assert_eq!(channels.methods(), [Method::Email, Method::Push, Method::Webhook]);
        // TLS settings build (with the platform's roots) without connecting.
        for tls in ["starttls", "implicit"] {
            let config: Config = toml::from_str(&format!(
                "[email]\nhost = \"smtp.example.com\"\ntls = \"{tls}\"\nfrom = \"oncall@example.com\"\n"
            ))
            .unwrap();
            assert!(
                Channels::from_config(&config).unwrap().get(Method::Email).is_some(),
                "{tls}"
            );
        }
        assert_eq!(format!("{channels:?}"), "Channels { methods: [Email, Push, Webhook] }");
    }

    #[test]
    fn settings_that_cannot_work_are_named() {
        let cases = [
            (
                "[email]\nhost = \"smtp.example.com\"\nfrom = \"not an address\"\n",
                "[email] from: `not an address` is not an address",
            ),
            (
                "[email]\nhost = \"smtp.example.com\"\nfrom = \"a@example.com\"\nusername = \"a\"\n",
                "[email] a username needs a password",
            ),
            (
                "[sms]\naccount_sid = \"AC1\"\nfrom = \"+15550100\"\n",
                "[sms] no auth token",
            ),
            (
                "[sms]\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+15550100\"\nbase_url = \"ftp://x\"\n",
                "[sms] base_url",
            ),
            ("[push]\nserver = \"ntfy.example.com\"\n", "[push] server"),
            (
                "[webhook]\ntimeout_secs = 0\n",
                "[webhook] timeout_secs must be at least 1",
            ),
        ];
        let mut wrong = Vec::new();
        for (toml_text, expected) in cases {
            let config: Config = toml::from_str(toml_text).unwrap();
            match Channels::from_config(&config) {
                Ok(_) => wrong.push(format!("accepted:\n{toml_text}")),
                Err(e) if e.to_string().starts_with(expected) => {}
                Err(e) => wrong.push(format!("{toml_text}\n  said: {e}\n  want: {expected}...")),
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
