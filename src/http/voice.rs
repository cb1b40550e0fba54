//! A phone call's webhooks (`notify/voice.rs` places the call): Twilio
//! posts the key a person pressed to `POST /v1/voice/{token}` and reads our
//! answer as TwiML, and posts how the call ended to
//! `POST /v1/voice/{token}/status`. The token names the person and the
//! alerts the call was about (`Links::voice_token`).
//!
//! Every request must carry Twilio's `X-Twilio-Signature` over the URL
//! Twilio was given (`public_url` + the path) and the parameters, checked
//! as for inbound SMS (`sms::signature_matches`, the one check) with the
//! `[voice]` auth token, and name our account (`AccountSid`); else 403 and
//! nothing changes. The token must be one this daemon's link secret made
//! (403 otherwise).
//!
//! Keys: 1 acknowledges every alert of the call as the person (each call
//! acts once, by its `CallSid`, as an SMS by its `MessageSid`: the
//! signature has no timestamp); 2 makes each alert's next escalation step
//! due now; 3 (or anything else) reads the call again. The status
//! `no-answer`, `busy`, `failed` or `canceled`, or `AnsweredBy` a machine
//! (with `machine_detection`), counts as not reached: the call is given up
//! and the person's next method for that step goes now
//! (`Engine::not_reached`); a second report of the same call changes
//! nothing.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Shared;
use super::act::{Acted, Once, act};
use super::sms::{field, plain, signed_form};
use crate::domain::alert::AlertId;
use crate::links::{Action, VOICE_PATH};
use crate::notify::render::{self, Spoken};
use crate::notify::voice::twiml;

/// How long a call's id is remembered once it acknowledged, so that a
/// replay of its signed request does nothing.
const SPENT_CALL_KEPT: chrono::Duration = chrono::Duration::days(30);

/// The call statuses that mean nobody was reached.
const NOT_REACHED: [&str; 4] = ["no-answer", "busy", "failed", "canceled"];

fn say(text: &str) -> Response {
    twiml_response(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Say>{}</Say><Hangup/></Response>\n",
        crate::html::escape(text)
    ))
}

fn twiml_response(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Whether `sid` is a call id as Twilio makes them: `CA`, then 32 hex digits.
fn call_sid(sid: &str) -> bool {
    sid.len() == 34 && sid.starts_with("CA") && sid.bytes().skip(2).all(|b| b.is_ascii_hexdigit())
}

/// A request that passed the checks: whom the call was for, its alerts,
/// and its parameters.
struct Checked {
    person: String,
    alerts: Vec<AlertId>,
    params: Vec<(String, String)>,
}

/// The checks both webhooks share: voice on, the body, Twilio's signature
/// over `public_url` + `path`, our account, a token we made.
fn check(
    state: &Shared,
    token: &str,
    path: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Checked, Box<Response>> {
    let (Some(inbound), Some(public_url)) = (state.inbound_voice.as_ref(), state.links.public_url()) else {
        return Err(Box::new(plain(
            StatusCode::NOT_FOUND,
            "phone calls are off: they need [voice] with its auth token, and public_url\n",
        )));
    };
    let params = signed_form(inbound, public_url, path, headers, body, "voice webhook")?;
    if params.iter().filter(|(n, _)| n == "AccountSid").count() != 1
        || field(&params, "AccountSid") != inbound.account_sid
    {
        tracing::warn!("voice webhook refused: its AccountSid is not [voice] account_sid");
        return Err(Box::new(plain(
            StatusCode::FORBIDDEN,
            "the call is not for this account: AccountSid is not [voice] account_sid\n",
        )));
    }
    let Some((person, alerts)) = state.links.voice_claim(token) else {
        tracing::warn!("voice webhook refused: a token this daemon did not make");
        return Err(Box::new(plain(
            StatusCode::FORBIDDEN,
            "not a call this daemon placed\n",
        )));
    };
    Ok(Checked { person, alerts, params })
}

/// `POST /v1/voice/{token}`: the key pressed.
pub async fn gather(
    State(state): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let path = format!("{VOICE_PATH}{token}");
    let c = match check(&state, &token, &path, &headers, body) {
        Ok(c) => c,
        Err(refused) => return *refused,
    };
    let sid = field(&c.params, "CallSid");
    if !call_sid(sid) {
        return plain(StatusCode::BAD_REQUEST, "CallSid must be CA and 32 hex digits\n");
    }
    let now = state.clock.now();
    let digits = field(&c.params, "Digits");
    tracing::info!(call_sid = %sid, person = %c.person, alerts = ?c.alerts, digits, "voice: key pressed");
    match digits {
        "1" => {
            let mut said = Vec::new();
            for &id in &c.alerts {
                let once = Once {
                    id: format!("voice:{sid}:{id}"),
                    until: now + SPENT_CALL_KEPT,
                };
                said.push(
                    match act(&state, Action::Acknowledge, id, &c.person, now, Some(once)).await {
                        Ok(Acted::Done(_)) => format!("Alert {id} acknowledged."),
                        Ok(Acted::Already(a)) => format!(
                            "Alert {id} was already {}.",
                            if a.status == crate::domain::alert::Status::Resolved {
                                "resolved"
                            } else {
                                "acknowledged"
                            }
                        ),
                        Ok(Acted::NoAlert) => format!("There is no alert {id}."),
                        Ok(Acted::Spent(_)) => format!("This call acknowledged alert {id} already."),
                        Err(e) => {
                            tracing::error!(error = %e, "store failed");
                            format!("oncall could not record that for alert {id}; use the link or reply by SMS.")
                        }
                    },
                );
            }
            said.push("Goodbye.".into());
            say(&said.join(" "))
        }
        "2" => match state.engine.escalate_now(c.alerts.clone(), now).await {
            Ok(0) => say("There is no further step to escalate to now. Goodbye."),
            Ok(_) => say("Escalating now: the next step is being paged. Goodbye."),
            Err(e) => {
                tracing::error!(error = %e, "store failed");
                say("oncall could not escalate just now. Goodbye.")
            }
        },
        _ => {
            let mut spoken = Vec::new();
            for &id in &c.alerts {
                match state.store.alert(id).await {
                    Ok(Some((a, _))) => spoken.push(Spoken {
                        id,
                        team: a.team,
                        severity: a.severity,
                        summary: a.summary,
                        drill: a.intake == crate::engine::rules::DRILL_INTAKE,
                        shadow_of: None,
                        // Not known here: the repeat leaves it out.
                        also_paged: Vec::new(),
                    }),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "store failed");
                        return say("oncall could not read the alert just now. Goodbye.");
                    }
                }
            }
            let public = state.links.public_url().unwrap_or_default();
            twiml_response(twiml(&render::voice(&spoken), Some(&format!("{public}{path}"))))
        }
    }
}

/// `POST /v1/voice/{token}/status`: how the call ended.
pub async fn status(
    State(state): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let path = format!("{VOICE_PATH}{token}/status");
    let c = match check(&state, &token, &path, &headers, body) {
        Ok(c) => c,
        Err(refused) => return *refused,
    };
    let call = field(&c.params, "CallStatus");
    let answered_by = field(&c.params, "AnsweredBy");
    let reason = if NOT_REACHED.contains(&call) {
        Some(format!("the call was not answered: {call}"))
    } else if answered_by.starts_with("machine") || answered_by == "fax" {
        Some(format!("the call was answered by a machine ({answered_by})"))
    } else {
        None
    };
    tracing::info!(person = %c.person, alerts = ?c.alerts, call_status = call, answered_by, "voice: call ended");
    if let Some(reason) = reason {
        let now = state.clock.now();
        if let Err(e) = state.engine.not_reached(c.person, c.alerts, reason, now).await {
            tracing::error!(error = %e, "store failed");
            // Not recorded: say so, rather than that it was.
            return plain(StatusCode::SERVICE_UNAVAILABLE, "cannot record that just now\n");
        }
    }
    StatusCode::NO_CONTENT.into_response()
}
