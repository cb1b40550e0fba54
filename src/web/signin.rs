//! Signing in and out, without a password store: a person's sign-in link
//! is the status link they already have (`/signin?person=P&token=T`, the
//! token an HMAC of the person under the link secret,
//! `Links::status_token`), handed out by `oncall link PERSON` or emailed to
//! them from the sign-in page. Opening it shows a button; pressing it
//! (a POST, so a mail scanner fetching the link signs nobody in) starts a
//! session: a random secret in the cookie, its digest in the store, for
//! `session_lifetime`. Signing out ends the session in the store.
//!
//! "Email me my link" answers the same words and status whoever is named,
//! known or not, and sends in the background, so neither the answer nor
//! its time says whether a person exists. It is limited per client
//! (429, whoever is named) and per person (silently: no email past it).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::layout::{self, Nav, escape};
use super::session::{self, COOKIE, Me, Posted};
use crate::http::{Peer, Shared};
use crate::store::{CredentialKind, NewCredential};

/// `GET /`: someone signed in goes to the alerts (or where they were going);
/// anyone else gets the sign-in page.
pub async fn home(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let next = q.get("next").map(String::as_str).filter(|p| session::local_path(p));
    match session::lookup(&state, &headers).await {
        Ok(Some(_)) => layout::see_other(next.unwrap_or("/alerts")),
        Ok(None) => sign_in_page(StatusCode::OK, None),
        Err(response) => response,
    }
}

/// The sign-in page, with `said` (text) above the form.
fn sign_in_page(status: StatusCode, said: Option<&str>) -> Response {
    let mut body = String::new();
    if let Some(said) = said {
        body.push_str(&format!("<p class=\"card\" role=\"status\">{}</p>\n", escape(said)));
    }
    body.push_str(
        "<p>Open your own sign-in link to sign in. An administrator can give it to you \
         (<code>oncall link YOUR-ID</code>), or have it emailed to the address in the people file:</p>\n\
         <form method=\"post\" action=\"/signin/email\"><label>Your id or email address \
         <input name=\"who\" autocomplete=\"username\" required maxlength=\"200\"></label> \
         <button>Email me my link</button></form>\n",
    );
    layout::document(status, None, Nav::Other, "Sign in", &body)
}

#[derive(Deserialize)]
pub struct LinkQuery {
    person: Option<String>,
    token: Option<String>,
    next: Option<String>,
}

/// Whether `person` and `token` are a sign-in link of someone in the
/// people file (the token checked first, in constant time).
fn valid_link(state: &Shared, person: &str, token: &str) -> bool {
    state.links.status_token_ok(person, token) && state.schedule().people.contains_key(person)
}

fn bad_link() -> Response {
    layout::error(
        StatusCode::FORBIDDEN,
        None,
        "This sign-in link is not valid",
        "It is not a link this oncall made for that person, it was cut short, or the link secret changed. \
         Ask for your link again.",
    )
}

/// `GET /signin?person=P&token=T`: a button that signs in as the person.
/// Changes nothing.
pub async fn confirm(State(state): State<Shared>, Query(q): Query<LinkQuery>) -> Response {
    let (Some(person), Some(token)) = (&q.person, &q.token) else {
        return layout::see_other("/");
    };
    if !valid_link(&state, person, token) {
        return bad_link();
    }
    let next = q
        .next
        .as_deref()
        .filter(|p| session::local_path(p))
        .unwrap_or("/alerts");
    let body = format!(
        "<form method=\"post\" action=\"/signin\"><input type=\"hidden\" name=\"person\" value=\"{}\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\"><input type=\"hidden\" name=\"next\" value=\"{}\">\
         <button>Sign in as {}</button></form>\n<p class=\"muted\">The session lasts {} hours, or until you sign out.</p>",
        escape(person),
        escape(token),
        escape(next),
        escape(&session::display_name(&state, person)),
        state.web.session_lifetime.num_hours(),
    );
    layout::document(StatusCode::OK, None, Nav::Other, "Sign in", &body)
}

#[derive(Deserialize)]
pub struct SignInForm {
    person: String,
    token: String,
    next: Option<String>,
}

/// `POST /signin`: starts a session for the link's person, from a page of
/// this site only.
pub async fn sign_in(State(state): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if !session::same_origin(&state, &headers) {
        return layout::error(
            StatusCode::FORBIDDEN,
            None,
            "Refused",
            "This request did not come from this site's sign-in page, so nobody was signed in.",
        );
    }
    let Ok(form) = serde_urlencoded::from_bytes::<SignInForm>(&body) else {
        return layout::error(
            StatusCode::BAD_REQUEST,
            None,
            "That form is not right",
            "Open your sign-in link again.",
        );
    };
    if !valid_link(&state, &form.person, &form.token) {
        return bad_link();
    }
    let secret = match session::new_secret() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "no randomness for a session");
            return layout::error(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "Try again",
                "No session could be made.",
            );
        }
    };
    let now = state.clock.now();
    let lifetime = state.web.session_lifetime;
    let new = NewCredential {
        kind: CredentialKind::Session,
        digest: session::digest(&secret),
        person: form.person.clone(),
        label: None,
        expires: Some(now + lifetime),
    };
    if let Err(e) = state.store.add_credential(new, now).await {
        return session::store_failed(e);
    }
    tracing::info!(person = %form.person, "signed in");
    let next = form
        .next
        .as_deref()
        .filter(|p| session::local_path(p))
        .unwrap_or("/alerts");
    let mut response = layout::see_other(next);
    let cookie = format!(
        "{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        lifetime.num_seconds(),
        if state.web.secure_cookie { "; Secure" } else { "" }
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// No fields but the CSRF token.
#[derive(Deserialize)]
pub struct Nothing {}

/// `POST /signout`: ends the session in the store and clears the cookie.
pub async fn sign_out(State(state): State<Shared>, Posted(me, _): Posted<Nothing>) -> Response {
    signed_out(&state, &me).await
}

async fn signed_out(state: &Shared, me: &Me) -> Response {
    if let Err(e) = state
        .store
        .end_credential(CredentialKind::Session, me.session, state.clock.now())
        .await
    {
        return session::store_failed(e);
    }
    tracing::info!(person = %me.person, "signed out");
    let mut response = layout::see_other("/");
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("oncall_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

#[derive(Deserialize)]
pub struct EmailForm {
    who: Option<String>,
}

/// What "email me my link" answers, whoever was named.
pub const EMAIL_ANSWER: &str = "If that is someone in the people file with an email address, their sign-in link \
    is on its way to it. It can take a few minutes.";

/// `POST /signin/email` (`who`: an id or an email address): emails the
/// person their sign-in link. The same answer for everyone.
pub async fn email_link(
    State(state): State<Shared>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !session::same_origin(&state, &headers) {
        return layout::error(
            StatusCode::FORBIDDEN,
            None,
            "Refused",
            "This request did not come from this site's sign-in page.",
        );
    }
    let now = state.clock.now();
    let client = peer.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
    if let Err(seconds) = state.web.email_per_client.take(&client, now) {
        let mut response = sign_in_page(
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!("Too many requests from here: try again in {seconds} s.")),
        );
        response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        return response;
    }
    let who = serde_urlencoded::from_bytes::<EmailForm>(&body)
        .ok()
        .and_then(|f| f.who)
        .map(|w| w.trim().to_string())
        .unwrap_or_default();
    let schedule = state.schedule();
    let found = schedule.people.values().find(|p| {
        p.id == who
            || p.email
                .as_deref()
                .is_some_and(|e| !who.is_empty() && e.eq_ignore_ascii_case(&who))
    });
    if let Some(person) = found
        && let Some(address) = person.email.clone()
        && let Some(mailer) = state.web.mailer.clone()
        && state.links.public_url().is_some()
    {
        if state.web.email_per_person.take(&person.id, now).is_ok() {
            let link = sign_in_url(&state, &person.id);
            let (id, name) = (person.id.clone(), person.name.clone());
            // In the background: the answer takes as long for a stranger.
            tokio::spawn(async move {
                let text = format!(
                    "Hello {name},\n\nYour oncall sign-in link:\n\n{link}\n\nKeep it to yourself: it signs in as you. \
                     If you did not ask for it, you can ignore this email.\n"
                );
                match mailer.send_text(&address, "Your oncall sign-in link", &text).await {
                    Ok(_) => tracing::info!(person = %id, "sign-in link emailed"),
                    Err(e) => tracing::warn!(person = %id, error = %e, "the sign-in link could not be emailed"),
                }
            });
        } else {
            tracing::warn!(person = %person.id, "sign-in link not emailed: too many asked for");
        }
    }
    sign_in_page(StatusCode::OK, Some(EMAIL_ANSWER))
}

/// A person's sign-in link: the public URL's (or, without one, a path;
/// nothing is emailed without one).
pub fn sign_in_url(state: &Shared, person: &str) -> String {
    format!(
        "{}{}",
        state.links.public_url().unwrap_or(""),
        sign_in_path(state, person)
    )
}

/// `/signin?person=P&token=T`.
pub fn sign_in_path(state: &Shared, person: &str) -> String {
    format!(
        "/signin?person={}&token={}",
        session::percent(person),
        state.links.status_token(person)
    )
}
