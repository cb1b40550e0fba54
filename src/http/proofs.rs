//! Test pages (issue 20, "contact methods proven"): the API that sends one
//! and reports on it, the signed links and provider callbacks that record
//! what became of it.
//!
//! - `POST /v1/people/{person}/test-page` (the API token, or that person's
//!   own token; body `{"method": "sms"}` or nothing for every method):
//!   queues a test notification to each destination of the person whose
//!   method has a channel, through the outbox like a page, and answers 202
//!   with the test's id. `GET /v1/test-pages/{id}`: per method and
//!   destination, sent / delivered / confirmed with their times.
//! - `GET /v1/proofs/{token}` shows a page with a button; `POST` confirms
//!   (once: the second changes nothing). The token is signed like an
//!   action link ([`Links::proof_token`](crate::links::Links::proof_token):
//!   the proof and an expiry).
//! - `POST /v1/proofs/{token}/status`: Twilio's status callback of the test
//!   SMS (`MessageStatus`) or call (`CallStatus`, `AnsweredBy`), signed
//!   (`X-Twilio-Signature`, checked as inbound SMS is, with the method's
//!   auth token) and for our account; else 403 and nothing changes.
//! - `POST /v1/proofs/{token}/voice`: the key pressed on a test call, signed
//!   the same way; 1 confirms. It acts on no alert: a test call's key goes
//!   here, never to `/v1/voice/`.
//!
//! - `GET /v1/proven` (the API token): each person's methods with their
//!   destination, last confirmation and whether that is within
//!   [`PROVEN_FOR`] (what `oncall drill` flags).
//!
//! A reply `YES` to a test SMS confirms it too (`sms.rs`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::act::{cross_site, refused, store_failed};
use super::html::page;
use super::sms::{field, plain, signed_form};
use super::{ApiError, Caller, InboundSms, Shared};
use crate::domain::paging::Method;
use crate::domain::time::Instant;
use crate::html::escape;
use crate::links::PROOF_PATH;
use crate::store::proof::{NewTest, Proof, ProofEvent, TestPage};

/// Starts a test page to `person` by `method` (every method with a channel
/// and a destination when `None`), asked `by`: its id and its targets.
pub async fn start(
    state: &Shared,
    person: &str,
    method: Option<Method>,
    by: &str,
) -> Result<(i64, Vec<(Method, String)>), ApiError> {
    let schedule = state.schedule();
    let Some(p) = schedule.people.get(person) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no person `{person}` in people.yaml"),
        ));
    };
    let channels = state.engine.methods();
    let mut targets = Vec::new();
    let mut missing = Vec::new();
    for m in Method::ALL {
        if method.is_some_and(|want| want != m) {
            continue;
        }
        match p.contact(m) {
            Some(to) if channels.contains(&m) => targets.push((m, to.to_string())),
            Some(_) => missing.push(format!("{m}: no [{m}] channel is configured")),
            None if method.is_some() => missing.push(format!("{m}: {person} has no destination for it in people.yaml")),
            None => {}
        }
        // `push` is also each device the person turned Web Push on for.
        if m == Method::Push && state.web.webpush.is_some() {
            let devices = state.store.webpush_subscriptions(Some(person.to_string())).await?;
            targets.extend(
                devices
                    .iter()
                    .map(|d| (m, format!("{}{}", crate::domain::paging::WEB_PUSH_PREFIX, d.id))),
            );
        }
    }
    if targets.is_empty() {
        let why = if missing.is_empty() {
            format!("{person} has no contact method in people.yaml")
        } else {
            missing.join("; ")
        };
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("nothing to test: {why}")).field("method"));
    }
    let now = state.clock.now();
    // Counted only once there is something to send (a refusal above costs nothing).
    state
        .test_pages
        .take(person, now)
        .map_err(|seconds| ApiError::too_many_test_pages(person, seconds))?;
    let id = state
        .store
        .start_test(
            NewTest {
                person: person.to_string(),
                by: by.to_string(),
                targets: targets.clone(),
            },
            now,
        )
        .await?;
    tracing::info!(test = id, person, by, methods = ?targets.iter().map(|t| t.0).collect::<Vec<_>>(), "test page queued");
    state.engine.wake();
    Ok((id, targets))
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    method: Option<String>,
}

/// `POST /v1/people/{person}/test-page`.
pub async fn test_page(
    State(state): State<Shared>,
    Path(person): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = state.authorize_api(&headers).await?;
    let by = match &caller {
        Caller::Shared => "api".to_string(),
        Caller::Person(p) if *p == person => p.clone(),
        Caller::Person(p) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("this token is {p}'s: it tests {p}'s pages only, not {person}'s"),
            ));
        }
    };
    let request: TestRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TestRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("the body should be {{\"method\": \"sms\"}} or empty: {e}"),
            )
        })?
    };
    let method = match request.method.as_deref() {
        None => None,
        Some(m) => Some(Method::parse(m).ok_or_else(|| {
            let all: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("`{m}` is not a method: {}", all.join(", ")),
            )
            .field("method")
        })?),
    };
    let (id, targets) = start(&state, &person, method, &by).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "test": id,
            "person": person,
            "methods": targets.iter().map(|(m, to)| json!({"method": m, "to": to})).collect::<Vec<_>>(),
        })),
    )
        .into_response())
}

fn at(t: Option<Instant>) -> Value {
    t.map_or(Value::Null, |t| json!(t))
}

/// A proof as the API shows it.
pub fn proof_json(p: &Proof) -> Value {
    json!({
        "method": p.method,
        "to": p.destination,
        "state": p.state,
        "sent_at": at(p.sent_at.filter(|_| p.state == "sent")),
        "error": p.error,
        "delivered_at": at(p.delivered()),
        "status": p.status,
        "confirmed_at": at(p.confirmed_at),
        "confirmed_by": p.confirmed_by,
    })
}

fn test_json(t: &TestPage) -> Value {
    json!({
        "test": t.id,
        "person": t.person,
        "requested_by": t.by,
        "requested_at": t.requested_at,
        "proofs": t.proofs.iter().map(proof_json).collect::<Vec<_>>(),
    })
}

/// `GET /v1/test-pages/{id}`.
pub async fn get_test(
    State(state): State<Shared>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = state.authorize_api(&headers).await?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, format!("no test page {id}"));
    let test = state.store.test_page(id).await?.ok_or_else(not_found)?;
    // Another person's test is none of a person's token's business.
    if let Caller::Person(p) = &caller
        && *p != test.person
    {
        return Err(not_found());
    }
    Ok(Json(test_json(&test)))
}

/// How long a confirmed test page proves a method (as `oncall check`).
pub const PROVEN_FOR: chrono::Duration = chrono::Duration::days(crate::config::PROVEN_FOR_DAYS);

/// `GET /v1/proven`.
pub async fn proven(State(state): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let caller = state.authorize_api(&headers).await?;
    let confirmed = state.store.confirmed().await?;
    let now = state.clock.now();
    let schedule = state.schedule();
    let mut people = serde_json::Map::new();
    for p in schedule.people.values() {
        if let Caller::Person(me) = &caller
            && *me != p.id
        {
            continue;
        }
        let mut methods = serde_json::Map::new();
        for m in Method::ALL {
            let Some(to) = p.contact(m) else { continue };
            let last = crate::store::proof::last_confirmed(&confirmed, &p.id, m, to);
            methods.insert(
                m.as_str().to_string(),
                json!({"to": to, "confirmed_at": at(last), "proven": last.is_some_and(|t| t + PROVEN_FOR > now)}),
            );
        }
        people.insert(p.id.clone(), Value::Object(methods));
    }
    Ok(Json(json!({"people": people})))
}

/// The proof a token names, checked: signed by us, not expired.
async fn claimed(state: &Shared, token: &str) -> Result<Proof, Response> {
    let now = state.clock.now();
    let id = state.links.proof_claim(token, now).map_err(refused)?;
    match state.store.proof(id).await {
        Ok(Some(p)) => Ok(p),
        Ok(_) => Err(page(
            StatusCode::NOT_FOUND,
            "No such test page",
            "<p>This test page is not in oncall's database.</p>",
        )),
        Err(e) => Err(store_failed(e)),
    }
}

fn what(p: &Proof) -> String {
    format!("{} to {}", p.method, p.destination)
}

/// `GET /v1/proofs/{token}`: what the test was, and a button to confirm.
pub async fn show(State(state): State<Shared>, Path(token): Path<String>) -> Response {
    let p = match claimed(&state, &token).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let body = match p.confirmed_at {
        Some(t) => format!(
            "<p>The test page by {} was confirmed at {}. Nothing more to do.</p>",
            escape(&what(&p)),
            escape(&t.to_rfc3339())
        ),
        None => format!(
            "<p>This was a test page by {}, not an alert. Confirm that it reached you, so that oncall counts \
             this method as proven.</p>\n<form method=\"post\" action=\"\"><button type=\"submit\">It reached \
             me</button></form>",
            escape(&what(&p))
        ),
    };
    page(StatusCode::OK, "Test page", &body)
}

/// `POST /v1/proofs/{token}`: confirms the test, once.
pub async fn confirm(State(state): State<Shared>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let p = match claimed(&state, &token).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if cross_site(&headers) {
        return page(
            StatusCode::FORBIDDEN,
            "Open the link itself",
            "<p>This request came from a page of another site, so nothing was done.</p>",
        );
    }
    match state
        .store
        .proof_event(p.id, ProofEvent::Confirmed("link"), state.clock.now())
        .await
    {
        Ok(Some((p, changed))) => {
            if changed {
                tracing::info!(proof = p.id, person = %p.person, method = %p.method, "test page confirmed by its link");
            }
            page(
                StatusCode::OK,
                "Confirmed",
                &format!(
                    "<p>Thank you: {} is confirmed{}.</p>",
                    escape(&what(&p)),
                    if changed { "" } else { " (it was already)" }
                ),
            )
        }
        Ok(None) => page(StatusCode::NOT_FOUND, "No such test page", "<p>It is gone.</p>"),
        Err(e) => store_failed(e),
    }
}

/// The Twilio checks of a callback: the method's settings, the signature
/// over `public_url` + `path`, our account. `Err`: the answer (nothing
/// changed).
fn twilio_checked(
    state: &Shared,
    method: Method,
    path: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<(String, String)>, Box<Response>> {
    let inbound: Option<&InboundSms> = match method {
        Method::Sms => state.inbound_sms.as_ref(),
        Method::Voice => state.inbound_voice.as_ref(),
        _ => None,
    };
    let (Some(inbound), Some(public_url)) = (inbound, state.links.public_url()) else {
        return Err(Box::new(plain(
            StatusCode::NOT_FOUND,
            "no provider callbacks for this test: they need [sms] or [voice] with its auth token, and public_url\n",
        )));
    };
    let params = signed_form(inbound, public_url, path, headers, body, "test page callback")?;
    if params.iter().filter(|(n, _)| n == "AccountSid").count() != 1
        || field(&params, "AccountSid") != inbound.account_sid
    {
        tracing::warn!("test page callback refused: not our AccountSid");
        return Err(Box::new(plain(
            StatusCode::FORBIDDEN,
            "AccountSid is not this installation's\n",
        )));
    }
    Ok(params)
}

/// `POST /v1/proofs/{token}/status`: how the test SMS or call went.
pub async fn status(
    State(state): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let p = match claimed(&state, &token).await {
        Ok(p) => p,
        Err(_) => return plain(StatusCode::FORBIDDEN, "not a test page this daemon sent\n"),
    };
    let path = format!("{PROOF_PATH}{token}/status");
    let params = match twilio_checked(&state, p.method, &path, &headers, body) {
        Ok(params) => params,
        Err(r) => return *r,
    };
    let event = match p.method {
        Method::Sms => match field(&params, "MessageStatus") {
            "delivered" => Some(ProofEvent::Delivered("delivered".into())),
            s @ ("undelivered" | "failed") => Some(ProofEvent::NotDelivered(s.into())),
            // queued, sending, sent: not yet.
            _ => None,
        },
        _ => {
            let machine = field(&params, "AnsweredBy").starts_with("machine");
            match field(&params, "CallStatus") {
                "completed" if !machine => Some(ProofEvent::Delivered("completed".into())),
                "completed" => Some(ProofEvent::NotDelivered("answered by a machine".into())),
                "" => None,
                s => Some(ProofEvent::NotDelivered(s.into())),
            }
        }
    };
    if let Some(event) = event {
        tracing::info!(proof = p.id, method = %p.method, ?event, "test page status");
        if let Err(e) = state.store.proof_event(p.id, event, state.clock.now()).await {
            tracing::error!(error = %e, "store failed");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store could not take this; retry\n",
            );
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

fn twiml(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// `POST /v1/proofs/{token}/voice`: the key pressed on a test call.
pub async fn voice(
    State(state): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let p = match claimed(&state, &token).await {
        Ok(p) if p.method == Method::Voice => p,
        _ => return plain(StatusCode::FORBIDDEN, "not a test call this daemon placed\n"),
    };
    let path = format!("{PROOF_PATH}{token}/voice");
    let params = match twilio_checked(&state, Method::Voice, &path, &headers, body) {
        Ok(params) => params,
        Err(r) => return *r,
    };
    if field(&params, "Digits") != "1" {
        let public = state.links.public_url().unwrap_or_default();
        return twiml(crate::notify::voice::test_twiml(&format!("{public}{path}")));
    }
    let said = match state
        .store
        .proof_event(p.id, ProofEvent::Confirmed("key"), state.clock.now())
        .await
    {
        Ok(_) => {
            tracing::info!(proof = p.id, person = %p.person, "test call confirmed by key 1");
            "Thank you. Calls to this number are confirmed. Goodbye."
        }
        Err(e) => {
            tracing::error!(error = %e, "store failed");
            "oncall could not record that just now. Use the link instead. Goodbye."
        }
    };
    twiml(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Say>{}</Say><Hangup/></Response>\n",
        escape(said)
    ))
}
