//! SMS through a Twilio-compatible Messages API: one form-encoded
//! `POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json` with
//! `To`, `From` and `Body`, authenticated with HTTP basic auth
//! (`account_sid:auth_token`). Twilio answers 201 with the message as JSON;
//! its `sid` is the receipt. A refusal's JSON carries `code` and `message`,
//! which go into the error.

use std::time::Duration;

use serde::Deserialize;

use super::{Channel, ConfigError, Method, Notice, Receipt, SendError, SendFuture, SmsConfig, render, web};

pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

pub struct SmsChannel {
    client: reqwest::Client,
    url: String,
    account_sid: String,
    auth_token: String,
    from: String,
    timeout: Duration,
}

/// The parts of Twilio's answers we read, success or refusal.
#[derive(Deserialize)]
struct Answer {
    sid: Option<String>,
    code: Option<serde_json::Value>,
    message: Option<String>,
}

impl SmsChannel {
    pub fn new(config: &SmsConfig) -> Result<SmsChannel, ConfigError> {
        let base = web::base_url(
            "sms",
            "base_url",
            config.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL),
        )?;
        // It becomes part of the path.
        if config.account_sid.is_empty() || !config.account_sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ConfigError::new(
                "sms",
                format!(
                    "account_sid: `{}` is not an account SID (letters and digits)",
                    config.account_sid
                ),
            ));
        }
        let Some(auth_token) = config.auth_token.clone().filter(|t| !t.is_empty()) else {
            return Err(ConfigError::new(
                "sms",
                "no auth token: set ONCALL_SMS_AUTH_TOKEN, or auth_token_file (or auth_token)",
            ));
        };
        if config.from.trim().is_empty() {
            return Err(ConfigError::new("sms", "from: the sending number is empty"));
        }
        let timeout = super::timeout("sms", config.timeout_secs)?;
        Ok(SmsChannel {
            client: web::client("sms", timeout)?,
            url: format!("{base}/2010-04-01/Accounts/{}/Messages.json", config.account_sid),
            account_sid: config.account_sid.clone(),
            auth_token,
            from: config.from.clone(),
            timeout,
        })
    }

    async fn deliver(&self, notice: &Notice) -> Result<Receipt, SendError> {
        let to = notice.to.trim();
        if to.is_empty() {
            return Err(SendError::Permanent(format!("{} has no phone number", notice.person)));
        }
        self.send_text(to, &render::sms(notice)).await
    }

    /// Sends `body` to the number `to` as it is: the same request as a
    /// page's, for texts that are not notices (a phone verification code,
    /// which must not sit in the outbox in clear).
    pub async fn send_text(&self, to: &str, body: &str) -> Result<Receipt, SendError> {
        let response = self
            .client
            .post(&self.url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&[("To", to), ("From", self.from.as_str()), ("Body", body)])
            .send()
            .await
            .map_err(|e| web::failed("the SMS API", e))?;
        let status = response.status();
        if status.is_success() {
            // The message is accepted: whatever happens to the rest of the
            // answer, sending again would send it twice.
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
        Err(web::refused("the SMS API", status, &detail))
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
            .field("url", &self.url)
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
