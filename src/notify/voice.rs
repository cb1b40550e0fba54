//! Phone calls through Twilio's Programmable Voice API: one form-encoded
//! `POST {base_url}/2010-04-01/Accounts/{account_sid}/Calls.json` with `To`,
//! `From`, the call's instructions as TwiML (`Twiml`), and where to report
//! how the call ended (`StatusCallback`, for the `completed` event),
//! authenticated with HTTP basic auth (`account_sid:auth_token`). Twilio
//! answers 201 with the call as JSON; its `sid` (`CA...`) is the receipt.
//! Failures are classified as for SMS (`web::refused`).
//!
//! The call reads the page twice ([`render::voice`]), then gathers one key
//! (`<Gather numDigits="1">`), which Twilio posts to the daemon at
//! `{public_url}/v1/voice/{token}` (`src/http/voice.rs`): 1 acknowledges, 2
//! escalates now, 3 repeats. The token ([`Links::voice_token`]) names the
//! person and the alerts. A call placed is a delivery; a call that then
//! reaches nobody (no answer, busy, failed, an answering machine) is
//! reported to the status callback and given up there, so that the
//! person's next method goes at once.

use std::time::Duration;

use serde::Deserialize;

use super::render::{self, Spoken};
use super::{Channel, ConfigError, Method, Notice, Receipt, SendError, SendFuture, VoiceConfig, web};
use crate::html::escape;
use crate::links::{Links, VOICE_PATH};

pub struct VoiceChannel {
    client: reqwest::Client,
    url: String,
    account_sid: String,
    auth_token: String,
    from: String,
    machine_detection: bool,
    timeout: Duration,
    links: Links,
}

/// The parts of Twilio's answers we read, success or refusal.
#[derive(Deserialize)]
struct Answer {
    sid: Option<String>,
    code: Option<serde_json::Value>,
    message: Option<String>,
}

/// The TwiML of a call: `script` read twice, then (with `gather`, the URL
/// the key goes to) the menu of keys; without a key, goodbye.
pub fn twiml(script: &str, gather: Option<&str>) -> String {
    let script = escape(script);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>");
    out.push_str(&format!(
        "<Say>{script}</Say><Pause length=\"1\"/><Say>Again. {script}</Say>"
    ));
    if let Some(action) = gather {
        out.push_str(&format!(
            "<Gather numDigits=\"1\" timeout=\"10\" method=\"POST\" action=\"{}\"><Say>{}</Say></Gather>",
            escape(action),
            render::VOICE_MENU
        ));
        out.push_str("<Say>No key was pressed. Goodbye.</Say>");
    }
    out.push_str("</Response>\n");
    out
}

impl VoiceChannel {
    /// `[voice]` as resolved (what it leaves out taken from `[sms]`), and
    /// the daemon's links: a call needs `public_url` for Twilio to post the
    /// key pressed and the call's end back.
    pub fn new(config: &VoiceConfig, links: Links) -> Result<VoiceChannel, ConfigError> {
        let base = web::base_url(
            "voice",
            "base_url",
            config.base_url.as_deref().unwrap_or(super::sms::DEFAULT_BASE_URL),
        )?;
        let account_sid = config.account_sid.clone().unwrap_or_default();
        if account_sid.is_empty() || !account_sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ConfigError::new(
                "voice",
                format!("account_sid: `{account_sid}` is not an account SID (letters and digits; or set it in [sms])"),
            ));
        }
        let Some(auth_token) = config.auth_token.clone().filter(|t| !t.is_empty()) else {
            return Err(ConfigError::new(
                "voice",
                "no auth token: set auth_token_file (or auth_token) in [voice] or [sms]",
            ));
        };
        let from = config.from.clone().unwrap_or_default();
        if from.trim().is_empty() {
            return Err(ConfigError::new(
                "voice",
                "from: the calling number is empty (set it in [voice] or [sms])",
            ));
        }
        if links.public_url().is_none() {
            return Err(ConfigError::new(
                "voice",
                "a phone call needs public_url: Twilio posts the key pressed and how the call ended there",
            ));
        }
        let timeout = super::timeout("voice", config.timeout_secs)?;
        Ok(VoiceChannel {
            client: web::client("voice", timeout)?,
            url: format!("{base}/2010-04-01/Accounts/{account_sid}/Calls.json"),
            account_sid,
            auth_token,
            from,
            machine_detection: config.machine_detection,
            timeout,
            links,
        })
    }

    async fn deliver(&self, notice: &Notice) -> Result<Receipt, SendError> {
        let to = notice.to.trim();
        if to.is_empty() {
            return Err(SendError::Permanent(format!("{} has no phone number", notice.person)));
        }
        let super::What::Page { alerts } = &notice.what else {
            return Err(SendError::Permanent("a phone call carries pages only".into()));
        };
        if alerts.is_empty() {
            return Err(SendError::Permanent("a page without alerts".into()));
        }
        let spoken: Vec<Spoken> = alerts.iter().map(Spoken::from).collect();
        let ids: Vec<_> = alerts.iter().map(|a| a.id).collect();
        let public = self.links.public_url().unwrap_or_default();
        let token = self.links.voice_token(&notice.person, &ids);
        let gather = format!("{public}{VOICE_PATH}{token}");
        // A shadow's copy is to listen to: no keys to act in another's name.
        let shadow = alerts.iter().any(|a| a.shadow_of.is_some());
        let twiml = twiml(&render::voice(&spoken), (!shadow).then_some(gather.as_str()));
        let status = format!("{gather}/status");
        let mut form = vec![
            ("To", to),
            ("From", self.from.as_str()),
            ("Twiml", twiml.as_str()),
            ("StatusCallback", status.as_str()),
            ("StatusCallbackEvent", "completed"),
            ("StatusCallbackMethod", "POST"),
        ];
        if self.machine_detection {
            form.push(("MachineDetection", "Enable"));
        }
        let response = self
            .client
            .post(&self.url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(|e| web::failed("the Calls API", e))?;
        let status = response.status();
        if status.is_success() {
            // The call is placed: sending again would call twice.
            let answer = response.json::<Answer>().await.ok();
            return Ok(Receipt {
                reference: answer.and_then(|a| a.sid),
            });
        }
        let text = web::body_text(response).await;
        let detail = match serde_json::from_str::<Answer>(&text) {
            Ok(Answer {
                message: Some(message),
                code,
                ..
            }) => match code {
                Some(code) => format!("{message} (error {code})"),
                None => message,
            },
            _ => text,
        };
        Err(web::refused("the Calls API", status, &detail))
    }
}

impl Channel for VoiceChannel {
    fn method(&self) -> Method {
        Method::Voice
    }

    fn send<'a>(&'a self, notice: &'a Notice) -> SendFuture<'a> {
        Box::pin(self.deliver(notice))
    }
}

impl std::fmt::Debug for VoiceChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("VoiceChannel")
            .field("url", &self.url)
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
