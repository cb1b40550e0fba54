//! SMS through a Twilio-compatible Messages API: one form-encoded
//! `POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json` with
//! `To`, `From` and `Body`, through the account's client (`twilio::Twilio`,
//! shared with phone calls: authentication, the receipt, the errors).

use super::twilio::Twilio;
use super::{Channel, ConfigError, Method, Notice, Receipt, SendError, SendFuture, SmsConfig, render};

pub use super::twilio::DEFAULT_BASE_URL;

pub struct SmsChannel {
    twilio: Twilio,
    from: String,
}

impl SmsChannel {
    pub fn new(config: &SmsConfig) -> Result<SmsChannel, ConfigError> {
        let twilio = Twilio::new(
            "sms",
            config.base_url.as_deref(),
            &config.account_sid,
            "",
            config.auth_token.clone(),
            config.timeout_secs,
        )?;
        if config.from.trim().is_empty() {
            return Err(ConfigError::new("sms", "from: the sending number is empty"));
        }
        Ok(SmsChannel {
            twilio,
            from: config.from.clone(),
        })
    }

    async fn deliver(&self, notice: &Notice) -> Result<Receipt, SendError> {
        let to = notice.to.trim();
        if to.is_empty() {
            return Err(SendError::Permanent(format!("{} has no phone number", notice.person)));
        }
        let body = render::sms(notice);
        let mut form = vec![("To", to), ("From", self.from.as_str()), ("Body", body.as_str())];
        // A test page asks Twilio to report its delivery (`delivered`,
        // `undelivered`, ...) to the daemon: that is its "delivered".
        let status = match &notice.what {
            super::What::Test(t) => t.status_url(),
            _ => None,
        };
        if let Some(url) = &status {
            form.push(("StatusCallback", url.as_str()));
        }
        self.twilio.create("Messages.json", "the SMS API", &form).await
    }

    /// Sends `body` to the number `to` as it is: the same request as a
    /// page's, for texts that are not notices (a phone verification code,
    /// which must not sit in the outbox in clear).
    pub async fn send_text(&self, to: &str, body: &str) -> Result<Receipt, SendError> {
        let form = [("To", to), ("From", self.from.as_str()), ("Body", body)];
        self.twilio.create("Messages.json", "the SMS API", &form).await
    }
}

impl Channel for SmsChannel {
    fn method(&self) -> Method {
        Method::Sms
    }

    fn send<'a>(&'a self, notice: &'a Notice) -> SendFuture<'a> {
        Box::pin(self.deliver(notice))
    }
}

impl std::fmt::Debug for SmsChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("SmsChannel")
            .field("url", &self.twilio.url("Messages.json"))
            .field("from", &self.from)
            .field("timeout", &self.twilio.timeout())
            .finish_non_exhaustive()
    }
}
