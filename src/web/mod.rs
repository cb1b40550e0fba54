//! The web interface for people: server-rendered HTML pages, signed in as a
//! person, mounted on the daemon's router beside the API
//! ([`crate::http::router`] merges [`router`]).
//!
//! - `layout.rs`: the page chrome written once (one inline stylesheet, the
//!   navigation, the headers, the escaper re-exported), so every page looks
//!   and protects itself alike.
//! - `session.rs`: who is signed in ([`session::Me`], an extractor that
//!   sends anyone else to the sign-in page) and what a form POST must carry
//!   to be taken ([`session::Posted`]: the session, a same-origin `Origin`
//!   or `Referer`, the session's CSRF token).
//!
//! A page module adds its routes to [`router`], a line each.

pub mod alerts;
pub mod layout;
pub mod me;
pub mod push;
pub mod session;
pub mod signin;
pub mod team;
pub mod timeline;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::http::{Limiter, Shared};
use crate::notify::WebPushChannel;
use crate::notify::email::EmailChannel;
use crate::settings::{RateLimit, Settings};

/// The web pages' routes; the state is the daemon's.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/", get(signin::home))
        .route("/signin", get(signin::confirm).post(signin::sign_in))
        .route("/signin/email", post(signin::email_link))
        .route("/signout", post(signin::sign_out))
        .route("/alerts", get(alerts::page))
        .route("/alerts/{id}/{action}", post(alerts::act))
        .route("/wallboard", get(alerts::wallboard))
        .route("/timeline", get(team::index))
        .route("/teams/{team}", get(team::team))
        .route("/teams/{team}/{rota}", get(team::rota))
        .route("/me", get(me::page).post(me::add_override))
        .route("/me/phone", post(me::verify_phone))
        .route("/me/phone/code", post(me::new_phone_code))
        .route("/me/test-page", post(me::test_page))
        .route("/me/push", post(push::subscribe))
        .route("/me/push/{id}/remove", post(push::unsubscribe))
        .route("/sw.js", get(push::service_worker))
        .route("/manifest.webmanifest", get(push::manifest))
        .route("/icon.svg", get(push::icon))
}

/// "Email me my link" requests one client may make at once, then one more
/// every minute.
pub const EMAIL_LINK_PER_CLIENT: RateLimit = RateLimit {
    per_second: 1.0 / 60.0,
    burst: 5,
};
/// Sign-in emails one person may be sent at once, then one more every ten
/// minutes (whoever asks: their inbox is not to be filled by others).
pub const EMAIL_LINK_PER_PERSON: RateLimit = RateLimit {
    per_second: 1.0 / 600.0,
    burst: 3,
};

/// What the web pages need beyond the daemon's state.
pub struct Web {
    /// How long a session lasts after signing in.
    pub session_lifetime: chrono::Duration,
    /// Whether the session cookie is `Secure`: when the public URL is https.
    pub secure_cookie: bool,
    /// Sends "email me my link"; `None` without `[email]`.
    pub mailer: Option<Arc<EmailChannel>>,
    /// "Email me my link" per client address, and emails per person.
    pub email_per_client: Limiter,
    pub email_per_person: Limiter,
    /// Web Push (`[webpush]`): the key browsers subscribe with, and the
    /// test push a new subscription gets; `None` without it.
    pub webpush: Option<Arc<WebPushChannel>>,
}

impl Web {
    /// The defaults, with no mailer (for a daemon assembled by hand).
    pub fn plain() -> Web {
        Web {
            session_lifetime: crate::settings::DEFAULT_SESSION_LIFETIME,
            secure_cookie: false,
            mailer: None,
            email_per_client: Limiter::new(EMAIL_LINK_PER_CLIENT),
            email_per_person: Limiter::new(EMAIL_LINK_PER_PERSON),
            webpush: None,
        }
    }

    pub fn new(settings: &Settings) -> anyhow::Result<Web> {
        let mailer = match &settings.notify.email {
            Some(config) => Some(Arc::new(EmailChannel::new(config)?)),
            None => None,
        };
        Ok(Web {
            session_lifetime: settings.session_lifetime,
            secure_cookie: settings
                .public_url
                .as_deref()
                .is_some_and(|u| u.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"))),
            mailer,
            email_per_client: Limiter::new(EMAIL_LINK_PER_CLIENT),
            email_per_person: Limiter::new(EMAIL_LINK_PER_PERSON),
            webpush: None,
        })
    }
}
