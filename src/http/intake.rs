//! The alert intake endpoints: authenticate the integration key, parse the
//! source's body, commit the events, answer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, KeyRefused, Peer, Shared, bearer};
use crate::domain::alert::{Action, Event, Outcome};
use crate::domain::heartbeat;
use crate::domain::severity::Severities;
use crate::intake::{self, IntakeError};

/// The body, or why it cannot be read (413 for too large).
fn body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as Content-Type: application/json",
        ));
    }
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large")
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, format!("cannot read the body: {e}"))
        }
    })
}

fn bad(e: IntakeError) -> ApiError {
    let err = ApiError::new(StatusCode::BAD_REQUEST, e.message);
    match e.field {
        Some(f) => err.field(f),
        None => err,
    }
}

/// The team of a bearer-authenticated intake request from `peer`.
fn team_of(state: &Shared, headers: &HeaderMap, peer: &Peer) -> Result<String, ApiError> {
    let Some(key) = bearer(headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "send the team's integration key as `Authorization: Bearer KEY`",
        ));
    };
    let team = state.authenticate(key, peer.0).map_err(|refused| match refused {
        KeyRefused::Unknown => ApiError::new(StatusCode::NOT_FOUND, "unknown integration key"),
        KeyRefused::Slowed(seconds) => ApiError::too_many_guesses(seconds),
    })?;
    state.admit(&team)?;
    Ok(team)
}

/// A dedup key for an event that came without one: unique. A random number
/// drawn once per process (so keys never repeat across restarts or between
/// daemons on one database) and a counter. It does not read the wall clock:
/// `clock.rs` is the only module that does.
pub(super) fn generated_key() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PROCESS: OnceLock<u64> = OnceLock::new();
    static N: AtomicU64 = AtomicU64::new(0);
    let process = *PROCESS.get_or_init(|| {
        let mut bytes = [0u8; 8];
        // Without the system's randomness (never seen on Linux), the
        // process id still keeps two daemons' keys apart.
        match getrandom::fill(&mut bytes) {
            Ok(()) => u64::from_le_bytes(bytes),
            Err(_) => u64::from(std::process::id()),
        }
    });
    format!("oncall-{process:016x}-{:x}", N.fetch_add(1, Ordering::Relaxed))
}

async fn commit(state: &Shared, mut events: Vec<Event>) -> Result<Vec<Outcome>, ApiError> {
    let now = state.clock.now();
    state.hold(&mut events, now);
    let counted: Vec<(String, String)> = events.iter().map(|e| (e.intake.clone(), e.severity.clone())).collect();
    let outcomes = state.store.ingest(events, now).await?;
    let metrics = state.engine.metrics();
    for (source, severity) in &counted {
        metrics.received(source, severity);
    }
    if outcomes
        .iter()
        .any(|o| !matches!(o, Outcome::Deduplicated(_) | Outcome::Unchanged))
    {
        state.engine.wake();
    }
    Ok(outcomes)
}

/// `POST /v1/heartbeat/{name}`: the job `name` of the key's team checked in.
/// Records the ping and resolves the heartbeat's overdue alert, if open.
pub async fn heartbeat(
    State(state): State<Shared>,
    peer: Peer,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let team = team_of(&state, &headers, &peer)?;
    let known = state
        .schedule()
        .team(&team)
        .is_some_and(|t| t.heartbeats.iter().any(|h| h.name == name));
    if !known {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("team {team} has no heartbeat `{name}`: declare it under `heartbeats:` in its team file"),
        ));
    }
    // With the check shut out, so that it cannot read the ping before this
    // one and raise an alert after this resolve (see `AppState::heartbeat_lock`).
    let _guard = state.heartbeat_lock.lock().await;
    let now = state.clock.now();
    state.store.heartbeat_ping(team.clone(), name.clone(), now).await?;
    let resolve = Event {
        team,
        action: Action::Resolve,
        dedup_key: heartbeat::dedup_key(&name),
        summary: String::new(),
        severity: state.severities.map(None).to_string(),
        source: None,
        details: json!({}),
        intake: intake::names::HEARTBEAT.to_string(),
        held: None,
    };
    let outcome = state
        .store
        .ingest(vec![resolve], now)
        .await?
        .pop()
        .unwrap_or(Outcome::Unchanged);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "accepted", "heartbeat": name, "at": now, "outcome": outcome})),
    )
        .into_response())
}

fn answer(outcomes: Vec<Outcome>) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(json!({"status": "accepted", "outcomes": outcomes})),
    )
        .into_response()
}

/// The parser of a source that sends a group of alerts per body.
type GroupParser = fn(&[u8], &str, &Severities) -> Result<Vec<Event>, IntakeError>;

async fn grouped(
    state: Shared,
    peer: Peer,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
    parse: GroupParser,
) -> Result<Response, ApiError> {
    let team = team_of(&state, &headers, &peer)?;
    let bytes = body(&headers, raw)?;
    let events = parse(&bytes, &team, &state.severities).map_err(bad)?;
    Ok(answer(commit(&state, events).await?))
}

pub async fn alertmanager(
    State(state): State<Shared>,
    peer: Peer,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    grouped(state, peer, headers, raw, intake::alertmanager).await
}

pub async fn grafana(
    State(state): State<Shared>,
    peer: Peer,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    grouped(state, peer, headers, raw, intake::grafana).await
}

pub async fn plain(
    State(state): State<Shared>,
    peer: Peer,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let team = team_of(&state, &headers, &peer)?;
    let bytes = body(&headers, raw)?;
    let parsed = intake::plain(&bytes, &team, &state.severities).map_err(bad)?;
    let mut event = parsed.event;
    event.dedup_key = parsed.dedup_key.unwrap_or_else(generated_key);
    let dedup_key = event.dedup_key.clone();
    let outcome = commit(&state, vec![event]).await?.pop().unwrap_or(Outcome::Unchanged);
    let alert_id = match outcome {
        Outcome::Created(id) | Outcome::Deduplicated(id) | Outcome::Acknowledged(id) | Outcome::Resolved(id) => {
            Some(id)
        }
        Outcome::Unchanged => None,
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "accepted", "dedup_key": dedup_key, "alert_id": alert_id, "outcome": outcome})),
    )
        .into_response())
}

/// PagerDuty Events API v2: answers as PagerDuty does, so its clients work.
pub async fn pagerduty(
    State(state): State<Shared>,
    peer: Peer,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    match pagerduty_inner(&state, &peer, &headers, raw).await {
        Ok(dedup_key) => (
            StatusCode::ACCEPTED,
            Json(json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key})),
        )
            .into_response(),
        Err(e) => {
            // PagerDuty's error shape, plus ours.
            let mut body = json!({
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": [e.message.clone()],
                "error": e.message,
            });
            if let Some(f) = e.field {
                body["field"] = json!(f);
            }
            let mut response = (e.status, Json(body)).into_response();
            if let Some(s) = e.retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, s.into());
            }
            response
        }
    }
}

async fn pagerduty_inner(
    state: &Shared,
    peer: &Peer,
    headers: &HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<String, ApiError> {
    let bytes = body(headers, raw)?;
    let parsed = intake::pagerduty(&bytes).map_err(bad)?;
    let team = state
        .authenticate(&parsed.routing_key, peer.0)
        .map_err(|refused| match refused {
            KeyRefused::Unknown => ApiError::new(StatusCode::NOT_FOUND, "unknown routing_key").field("routing_key"),
            KeyRefused::Slowed(seconds) => ApiError::too_many_guesses(seconds).field("routing_key"),
        })?;
    state.admit(&team)?;
    if parsed.action != Action::Trigger && parsed.dedup_key.is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "'dedup_key' is required to acknowledge or resolve",
        )
        .field("dedup_key"));
    }
    let key = parsed.dedup_key.clone().unwrap_or_else(generated_key);
    let event = parsed.into_event(&team, &state.severities, key.clone());
    commit(state, vec![event]).await?;
    Ok(key)
}
