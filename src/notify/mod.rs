//! Delivering notices to people: one [`Channel`] per contact method (email,
//! SMS, push, outgoing webhook), all behind one trait. The engine decides
//! *what* to send and *when*; a channel only renders a [`Notice`] for its
//! medium and hands it to the outside world, answering whether a failed
//! attempt may succeed if retried ([`SendError::Retryable`]) or never will
//! ([`SendError::Permanent`]).
//!
//! Channels never read the clock for decisions and never touch the store.
//!
//! [`render`] writes the words of every medium.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::domain::alert::AlertId;
use crate::domain::time::Instant;

pub mod render;

/// A way to reach a person, as named in `people.yaml` and in notification
/// rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Email,
    Sms,
    Push,
    Webhook,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::Push, Method::Sms, Method::Email, Method::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Email => "email",
            Method::Sms => "sms",
            Method::Push => "push",
            Method::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "email" => Some(Method::Email),
            "sms" => Some(Method::Sms),
            "push" => Some(Method::Push),
            "webhook" => Some(Method::Webhook),
            _ => None,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
}

/// What a notice is about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    /// A page for one alert, or a bundle of several for one destination
    /// (throttling: "12 new alerts for payments").
    Page { alerts: Vec<PagedAlert> },
    /// A shift starts (or starts tomorrow: `ahead` is true).
    Handoff {
        team: String,
        rota: String,
        start: Instant,
        end: Option<Instant>,
        ahead: bool,
    },
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
}

impl SendError {
    pub fn retryable(&self) -> bool {
        matches!(self, SendError::Retryable(_))
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
    pub push: Option<PushConfig>,
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

/// Outgoing JSON webhooks (a person's `webhook:` URL; Slack-compatible).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Seconds. Default 10.
    pub timeout_secs: Option<u64>,
}
