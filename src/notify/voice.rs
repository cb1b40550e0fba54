//! Phone calls through Twilio's Programmable Voice API: one form-encoded
//! `POST {base_url}/2010-04-01/Accounts/{account_sid}/Calls.json` with `To`,
//! `From`, the call's instructions as TwiML (`Twiml`), and where to report
//! how the call ended (`StatusCallback`, for the `completed` event),
//! through the account's client (`twilio::Twilio`, shared with SMS:
//! authentication, the receipt, the errors). Twilio answers 201 with the
//! call as JSON; its `sid` (`CA...`) is the receipt.
//!
//! The call reads the page twice ([`render::voice`]), then gathers one key
//! (`<Gather numDigits="1">`), which Twilio posts to the daemon at
//! `{public_url}/v1/voice/{token}` (`src/http/voice.rs`): 1 acknowledges, 2
//! escalates now, 3 repeats. The token ([`Links::voice_token`]) names the
//! person and the alerts. A call placed is a delivery; a call that then
//! reaches nobody (no answer, busy, failed, an answering machine) is
//! reported to the status callback and given up there, so that the
//! person's next method goes at once.

use super::render::{self, Spoken};
use super::twilio::Twilio;
use super::{Channel, ConfigError, Method, Notice, Receipt, SendError, SendFuture, VoiceConfig};
use crate::html::escape;
use crate::links::{Links, VOICE_PATH};

pub struct VoiceChannel {
    twilio: Twilio,
    from: String,
    machine_detection: bool,
    links: Links,
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
        let twilio = Twilio::new(
            "voice",
            config.base_url.as_deref(),
            config.account_sid.as_deref().unwrap_or_default(),
            "; or set it in [sms]",
            config.auth_token.clone(),
            config.timeout_secs,
        )?;
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
        Ok(VoiceChannel {
            twilio,
            from,
            machine_detection: config.machine_detection,
            links,
        })
    }

    async fn deliver(&self, notice: &Notice) -> Result<Receipt, SendError> {
        let to = notice.to.trim();
        if to.is_empty() {
            return Err(SendError::Permanent(format!("{} has no phone number", notice.person)));
        }
        if let super::What::Test(t) = &notice.what {
            return self.test_call(to, t).await;
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
        self.twilio.create("Calls.json", "the Calls API", &form).await
    }
}

impl VoiceChannel {
    /// A test call: says it is a test, not an alert, and asks for key 1
    /// (posted to the proof's own address, which acknowledges nothing);
    /// how the call ended goes to the proof's status address.
    async fn test_call(&self, to: &str, t: &super::TestNotice) -> Result<Receipt, SendError> {
        let (Some(gather), Some(status)) = (t.voice_url(), t.status_url()) else {
            return Err(SendError::Permanent("a test call needs public_url".into()));
        };
        let twiml = test_twiml(&gather);
        let form = [
            ("To", to),
            ("From", self.from.as_str()),
            ("Twiml", twiml.as_str()),
            ("StatusCallback", status.as_str()),
            ("StatusCallbackEvent", "completed"),
            ("StatusCallbackMethod", "POST"),
        ];
        self.twilio.create("Calls.json", "the Calls API", &form).await
    }
}

/// The TwiML of a test call: what it is, then key 1 to confirm, posted to
/// `gather`.
pub fn test_twiml(gather: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Say>{}</Say>\
         <Gather numDigits=\"1\" timeout=\"10\" method=\"POST\" action=\"{}\"><Say>{}</Say></Gather>\
         <Say>No key was pressed. Goodbye.</Say></Response>\n",
        escape(render::TEST_SPOKEN),
        escape(gather),
        escape(render::TEST_SPOKEN_MENU)
    )
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
            .field("url", &self.twilio.url("Calls.json"))
            .field("from", &self.from)
            .field("timeout", &self.twilio.timeout())
            .finish_non_exhaustive()
    }
}
