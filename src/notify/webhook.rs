//! Outgoing webhooks: a JSON `POST` to the person's URL,
//! `{"text": "<one readable line>", "notice": <the notice>}`. Slack's (and
//! Mattermost's, Rocket.Chat's) incoming webhooks show `text` and ignore the
//! rest; a program reads `notice`, whose `id` is the same on every retry.
//! Any 2xx is delivered.

use std::time::Duration;

use reqwest::Url;
use serde::Serialize;

use super::{Channel, ConfigError, Method, Notice, Receipt, SendError, SendFuture, WebhookConfig, render, web};

pub struct WebhookChannel {
    client: reqwest::Client,
    timeout: Duration,
}

/// The body of every outgoing webhook.
#[derive(Serialize)]
pub struct Body<'a> {
    pub text: String,
    pub notice: &'a Notice,
}

impl<'a> Body<'a> {
    pub fn new(notice: &'a Notice) -> Body<'a> {
        Body {
            text: render::line(notice),
            notice,
        }
    }
}

impl WebhookChannel {
    pub fn new(config: &WebhookConfig) -> Result<WebhookChannel, ConfigError> {
        let timeout = super::timeout("webhook", config.timeout_secs)?;
        Ok(WebhookChannel {
            client: web::client("webhook", timeout)?,
            timeout,
        })
    }

    async fn deliver(&self, notice: &Notice) -> Result<Receipt, SendError> {
        let url = match Url::parse(notice.to.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => url,
            // Not the URL itself in the message: it may be the secret.
            _ => {
                return Err(SendError::Permanent(format!(
                    "the webhook destination of {} is not an http:// or https:// URL",
                    notice.person
                )));
            }
        };
        let response = self
            .client
            .post(url)
            .json(&Body::new(notice))
            .send()
            .await
            .map_err(|e| web::failed("the webhook", e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(Receipt::default());
        }
        let text = web::body_text(response).await;
        Err(web::refused("the webhook", status, &text))
    }
}

impl Channel for WebhookChannel {
    fn method(&self) -> Method {
        Method::Webhook
    }

    fn send<'a>(&'a self, notice: &'a Notice) -> SendFuture<'a> {
        Box::pin(self.deliver(notice))
    }
}

impl std::fmt::Debug for WebhookChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookChannel")
            .field("timeout", &self.timeout)
            .finish()
    }
}
