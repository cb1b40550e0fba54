//! What SMS and phone calls share: Twilio's REST API for one account. A
//! resource is created by one form-encoded `POST
//! {base_url}/2010-04-01/Accounts/{account_sid}/{resource}` authenticated
//! with HTTP basic auth (`account_sid:auth_token`); Twilio answers 201 with
//! the new resource as JSON, whose `sid` is the receipt. A refusal's JSON
//! carries `code` and `message`, which go into the error; failures are
//! classified by [`web::refused`] and [`web::failed`].

use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, Receipt, SendError, web};

pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// One Twilio account's API, for one section of `oncall.toml`.
pub(crate) struct Twilio {
    client: reqwest::Client,
    /// `{base_url}/2010-04-01/Accounts/{account_sid}/`.
    account_url: String,
    account_sid: String,
    auth_token: String,
    timeout: Duration,
}

/// The parts of Twilio's answers we read, success or refusal.
#[derive(Deserialize)]
struct Answer {
    sid: Option<String>,
    code: Option<serde_json::Value>,
    message: Option<String>,
}

impl Twilio {
    /// `section` names the settings in errors; `account_hint` is added to
    /// the account SID's error (where else it may be set).
    pub(crate) fn new(
        section: &'static str,
        base_url: Option<&str>,
        account_sid: &str,
        account_hint: &str,
        auth_token: Option<String>,
        timeout_secs: Option<u64>,
    ) -> Result<Twilio, ConfigError> {
        let base = web::base_url(section, "base_url", base_url.unwrap_or(DEFAULT_BASE_URL))?;
        // It becomes part of the path.
        if account_sid.is_empty() || !account_sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ConfigError::new(
                section,
                format!("account_sid: `{account_sid}` is not an account SID (letters and digits{account_hint})"),
            ));
        }
        let Some(auth_token) = auth_token.filter(|t| !t.is_empty()) else {
            let where_ = match section {
                "sms" => "set ONCALL_SMS_AUTH_TOKEN, or auth_token_file (or auth_token)",
                _ => "set auth_token_file (or auth_token) in [voice] or [sms]",
            };
            return Err(ConfigError::new(section, format!("no auth token: {where_}")));
        };
        let timeout = super::timeout(section, timeout_secs)?;
        Ok(Twilio {
            client: web::client(section, timeout)?,
            account_url: format!("{base}/2010-04-01/Accounts/{account_sid}/"),
            account_sid: account_sid.to_string(),
            auth_token,
            timeout,
        })
    }

    /// The address of `resource` (`Messages.json`, `Calls.json`).
    pub(crate) fn url(&self, resource: &str) -> String {
        format!("{}{resource}", self.account_url)
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Creates `resource` with `form`; `receiver` names the API in errors
    /// (`the SMS API`).
    pub(crate) async fn create(
        &self,
        resource: &str,
        receiver: &str,
        form: &[(&str, &str)],
    ) -> Result<Receipt, SendError> {
        let response = self
            .client
            .post(self.url(resource))
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(form)
            .send()
            .await
            .map_err(|e| web::failed(receiver, e))?;
        let status = response.status();
        if status.is_success() {
            // The message is accepted (the call placed): whatever happens
            // to the rest of the answer, sending again would send it twice.
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
        Err(web::refused(receiver, status, &detail))
    }
}
