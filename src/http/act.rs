//! Acting on an alert from wherever the page arrived: the signed links of
//! `crate::links` (`/v1/act/{token}`), and the shared step that performs an
//! acknowledge or resolve for a person (also used by inbound SMS).
//!
//! `GET` only shows what the link would do, with a button: mail scanners and
//! link previews fetch every URL in a message, so a fetch must change
//! nothing. `POST` acts, with any body or none (ntfy's action buttons post
//! an empty one). The token is the credential; the person it names is
//! recorded as having acted.
//!
//! A link acts once: the store records it as spent in the transaction that
//! acts (`Store::act_once`), so a link replayed later (a forwarded email, a
//! browser's history, a proxy's log) cannot acknowledge the alert again
//! after an `ack_timeout` reopened it. A cross-site form or `no-cors` POST
//! (`Sec-Fetch-Site: cross-site` with `Sec-Fetch-Mode: navigate` or
//! `no-cors`) is refused: a page elsewhere cannot make a responder's browser
//! act, even with a link it learned. Apps that call the link themselves
//! (ntfy's buttons, scripts) send no such headers, or CORS ones.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::SecondsFormat;

use super::Shared;
use super::html::page;
use crate::domain::alert::{Alert, AlertId, Status};
use crate::domain::time::Instant;
use crate::html::escape;
use crate::links::{Action, Claim, LinkError};
use crate::store::{LinkAction, Spend, SpendLink, StoreError};

/// What asking the store to act did.
pub enum Acted {
    /// The alert changed: acknowledged (or resolved) by the person now.
    Done(Alert),
    /// Nothing to do: already acknowledged or resolved (by whom is in it).
    Already(Alert),
    NoAlert,
    /// The single-use link (or SMS) was used before, at that instant.
    Spent(Instant),
}

/// A single-use credential being used: its id, and until when it must be
/// remembered.
pub struct Once {
    pub id: String,
    pub until: Instant,
}

/// Acknowledges or resolves alert `id` as `person` at `now`; with `once`,
/// only if that credential was not used before (and it is used now).
pub async fn act(
    state: &Shared,
    action: Action,
    id: AlertId,
    person: &str,
    now: Instant,
    once: Option<Once>,
) -> Result<Acted, StoreError> {
    // The store answers with the alert whether or not it changed it; what it
    // was before, and who it names after, tell which.
    let Some((before, _)) = state.store.alert(id).await? else {
        return Ok(Acted::NoAlert);
    };
    let by = Some(person.to_string());
    let after = match once {
        Some(once) => {
            let link = SpendLink {
                link: once.id,
                expires: once.until,
                action: match action {
                    Action::Acknowledge => LinkAction::Acknowledge,
                    Action::Resolve => LinkAction::Resolve,
                },
                alert: id,
                by: person.to_string(),
            };
            match state.store.act_once(link, now).await? {
                Spend::Spent(at) => {
                    tracing::info!(
                        alert = id,
                        person,
                        action = action.as_str(),
                        "a used link was used again"
                    );
                    return Ok(Acted::Spent(at));
                }
                Spend::Fresh(after) => after.map(|a| *a),
            }
        }
        None => match action {
            Action::Acknowledge => state.store.acknowledge(id, by.clone(), now).await?,
            Action::Resolve => state.store.resolve(id, by.clone(), now).await?,
        },
    };
    state.engine.wake();
    let Some(alert) = after else {
        return Ok(Acted::NoAlert);
    };
    // Someone else acting in between leaves their name, not this one.
    let changed = match action {
        Action::Acknowledge => {
            before.status == Status::Open
                && alert.status == Status::Acknowledged
                && alert.acknowledged_by == by
                && alert.acknowledged_at == Some(now)
        }
        Action::Resolve => {
            before.status != Status::Resolved && alert.resolved_by == by && alert.resolved_at == Some(now)
        }
    };
    tracing::info!(
        alert = id,
        person,
        action = action.as_str(),
        changed,
        "acted on an alert"
    );
    Ok(if changed {
        Acted::Done(alert)
    } else {
        Acted::Already(alert)
    })
}

/// Whether a browser sent this request for a page of another site: a form
/// posted from there, or a `no-cors` fetch (Fetch Metadata headers).
pub(super) fn cross_site(headers: &HeaderMap) -> bool {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    get("sec-fetch-site").as_deref() == Some("cross-site")
        && matches!(get("sec-fetch-mode").as_deref(), Some("navigate" | "no-cors"))
}

fn time(t: Instant) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// "acknowledged by bob at 2026-06-01T12:05:00Z", for an alert that is.
fn by_whom(who: &Option<String>, at: Option<Instant>) -> String {
    let mut s = String::new();
    if let Some(who) = who {
        s.push_str(&format!(" by {who}"));
    }
    if let Some(at) = at {
        s.push_str(&format!(" at {}", time(at)));
    }
    s
}

/// The alert's state in words: "open", "acknowledged by bob at ...".
fn state_of(alert: &Alert) -> String {
    match alert.status {
        Status::Open => "open".into(),
        Status::Acknowledged => format!("acknowledged{}", by_whom(&alert.acknowledged_by, alert.acknowledged_at)),
        Status::Resolved => format!("resolved{}", by_whom(&alert.resolved_by, alert.resolved_at)),
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Acknowledge => "Acknowledge",
        Action::Resolve => "Resolve",
    }
}

/// The page for a link that cannot be used.
pub(super) fn refused(e: LinkError) -> Response {
    match e {
        LinkError::Malformed => page(
            StatusCode::FORBIDDEN,
            "This link is incomplete",
            "<p>The link is cut short or damaged. Open it again from the page you received, \
             copying the whole address.</p>",
        ),
        LinkError::BadSignature => page(
            StatusCode::FORBIDDEN,
            "This link is not valid",
            "<p>It was not made by this oncall installation, was altered, or was made before \
             the installation's link secret changed.</p>",
        ),
        LinkError::Expired { at } => page(
            StatusCode::GONE,
            "This link has expired",
            &format!(
                "<p>It worked until {}. Use a newer page, or the oncall API.</p>",
                escape(&time(at))
            ),
        ),
    }
}

fn no_alert(id: AlertId) -> Response {
    page(
        StatusCode::NOT_FOUND,
        &format!("No alert {id}"),
        "<p>This installation has no such alert.</p>",
    )
}

pub(super) fn store_failed(e: StoreError) -> Response {
    tracing::error!(error = %e, "store failed");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "<p>oncall could not reach its database just now. Nothing was changed; try again in a moment.</p>",
    )
}

/// The alert's facts, as a definition list.
fn facts(alert: &Alert) -> String {
    format!(
        "<dl>\n<dt>Summary</dt><dd>{}</dd>\n<dt>Severity</dt><dd>{}</dd>\n<dt>Team</dt><dd>{}</dd>\n\
         <dt>Status</dt><dd>{}</dd>\n<dt>First seen</dt><dd>{}</dd>\n<dt>Occurrences</dt><dd>{}</dd>\n</dl>",
        escape(&alert.summary),
        escape(&alert.severity),
        escape(&alert.team),
        escape(&state_of(alert)),
        escape(&time(alert.created_at)),
        alert.occurrences,
    )
}

/// The person's display name, `Alice Smith (alice)`, or the id alone.
fn who(state: &Shared, person: &str) -> String {
    match state.schedule().people.get(person) {
        Some(p) if p.name != person => format!("{} ({person})", p.name),
        _ => person.to_string(),
    }
}

/// `GET /v1/act/{token}`: what the link would do, and a button to do it.
/// Changes nothing.
pub async fn show(State(state): State<Shared>, Path(token): Path<String>) -> Response {
    let now = state.clock.now();
    let claim = match state.links.verify(&token, now) {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    let alert = match state.store.alert(claim.alert).await {
        Ok(Some((alert, _))) => alert,
        Ok(None) => return no_alert(claim.alert),
        Err(e) => return store_failed(e),
    };
    let Claim { action, alert: id, .. } = claim;
    let title = format!("{} alert {id} — {}", verb(action), alert.summary);
    let nothing_to_do = match action {
        Action::Acknowledge => alert.status != Status::Open,
        Action::Resolve => alert.status == Status::Resolved,
    };
    let mut body = facts(&alert);
    if nothing_to_do {
        body.push_str(&format!(
            "\n<p>Nothing to do: the alert is already {}.</p>",
            escape(&state_of(&alert))
        ));
    } else {
        // An empty action posts back to this very URL, whatever proxy or
        // prefix the daemon sits behind.
        body.push_str(&format!(
            "\n<form method=\"post\" action=\"\"><button type=\"submit\">{} as {}</button></form>\n\
             <p class=\"note\">This link works until {}.</p>",
            verb(action),
            escape(&who(&state, &claim.person)),
            escape(&time(claim.expires)),
        ));
    }
    page(StatusCode::OK, &title, &body)
}

/// `POST /v1/act/{token}`: does what the link says, as the person it names,
/// once. The body, if any, is ignored.
pub async fn perform(State(state): State<Shared>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let now = state.clock.now();
    let claim = match state.links.verify(&token, now) {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    if cross_site(&headers) {
        tracing::warn!(alert = claim.alert, "action link posted from another site: refused");
        return page(
            StatusCode::FORBIDDEN,
            "Open the link itself",
            "<p>This request came from a page of another site, so nothing was done. Open the link from \
             the page you received and press its button.</p>",
        );
    }
    let once = Once {
        id: crate::links::link_id(&token).to_string(),
        until: claim.expires,
    };
    let acted = match act(&state, claim.action, claim.alert, &claim.person, now, Some(once)).await {
        Ok(a) => a,
        Err(e) => return store_failed(e),
    };
    let id = claim.alert;
    match acted {
        Acted::NoAlert => no_alert(id),
        Acted::Spent(at) => page(
            StatusCode::GONE,
            "This link was used already",
            &format!(
                "<p>It acted on alert {id} at {}; a link works once. Use a newer page, or the oncall API.</p>",
                escape(&time(at))
            ),
        ),
        Acted::Done(alert) => {
            let done = match claim.action {
                Action::Acknowledge => "Acknowledged",
                Action::Resolve => "Resolved",
            };
            page(
                StatusCode::OK,
                &format!("{done} by {}", claim.person),
                &format!("<p>Alert {id} — {}</p>\n{}", escape(&alert.summary), facts(&alert)),
            )
        }
        Acted::Already(alert) => {
            let already = match alert.status {
                Status::Resolved => "Already resolved",
                _ => "Already acknowledged",
            };
            page(
                StatusCode::OK,
                already,
                &format!(
                    "<p>Alert {id} — {}: nothing changed.</p>\n{}",
                    escape(&alert.summary),
                    facts(&alert)
                ),
            )
        }
    }
}
