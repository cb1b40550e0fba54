//! The API for people and tools: alerts, their timelines, acknowledging and
//! resolving, who is on call. Authenticated by the API token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Shared};
use crate::domain::alert::{AlertId, Status};

/// At most this many alerts a listing.
const MAX_LIST: usize = 1000;

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<usize>,
}

pub async fn list_alerts(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    state.authorize_api(&headers)?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("`{s}` is not a status: use open, acknowledged or resolved"),
            )
            .field("status")
        })?),
    };
    let alerts = state.store.alerts(status, q.limit.unwrap_or(100).min(MAX_LIST)).await?;
    Ok(Json(json!({"alerts": alerts})))
}

fn parse_id(id: &str) -> Result<AlertId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, format!("no alert `{id}`")))
}

pub async fn get_alert(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.authorize_api(&headers)?;
    let id = parse_id(&id)?;
    match state.store.alert(id).await? {
        Some((alert, timeline)) => Ok(Json(json!({"alert": alert, "timeline": timeline}))),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no alert {id}"))),
    }
}

/// The optional body of ack / resolve: who did it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ByWhom {
    by: Option<String>,
}

fn by_whom(body: &Bytes) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let parsed: ByWhom = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body should be {{\"by\": \"name\"}}: {e}"),
        )
    })?;
    Ok(parsed.by)
}

/// Acknowledge or resolve: the same request, a different store method.
#[derive(Clone, Copy)]
enum Change {
    Acknowledge,
    Resolve,
}

async fn change(
    state: Shared,
    headers: HeaderMap,
    id: String,
    body: Bytes,
    change: Change,
) -> Result<Json<Value>, ApiError> {
    state.authorize_api(&headers)?;
    let id = parse_id(&id)?;
    let by = by_whom(&body)?;
    let now = state.clock.now();
    let changed = match change {
        Change::Acknowledge => state.store.acknowledge(id, by, now).await?,
        Change::Resolve => state.store.resolve(id, by, now).await?,
    };
    state.engine.wake();
    match changed {
        Some(alert) => Ok(Json(json!({"alert": alert}))),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no alert {id}"))),
    }
}

pub async fn acknowledge(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    change(state, headers, id, body, Change::Acknowledge).await
}

pub async fn resolve(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    change(state, headers, id, body, Change::Resolve).await
}

/// Who is on call now, per team and rota.
pub async fn oncall(State(state): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    state.authorize_api(&headers)?;
    let now = state.clock.now();
    let rows: Vec<Value> = state
        .schedule
        .who(now, None)
        .into_iter()
        .map(|(team, rota, user)| json!({"team": team, "rota": rota, "user": user}))
        .collect();
    Ok(Json(json!({"at": now, "oncall": rows})))
}
