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

pub mod layout;
pub mod me;
pub mod session;
pub mod team;
pub mod timeline;

use axum::Router;
use axum::routing::get;

use crate::http::Shared;

/// The web pages' routes; the state is the daemon's.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/", get(session::home))
        .route("/timeline", get(team::index))
        .route("/teams/{team}", get(team::team))
        .route("/teams/{team}/{rota}", get(team::rota))
        .route("/me", get(me::page).post(me::add_override))
}
