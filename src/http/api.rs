//! The API for people and tools: alerts, their timelines, acknowledging and
//! resolving, who is on call. Authenticated by the API token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Shared};
use axum::response::{IntoResponse, Response};

use crate::domain::alert::{Action, AlertId, Event, Outcome, Status};
use crate::engine::rules::DRILL_INTAKE;
use crate::store::LeadChange;

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
    state.authorize_api(&headers).await?;
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
    state.authorize_api(&headers).await?;
    let id = parse_id(&id)?;
    let Some((alert, timeline)) = state.store.alert(id).await? else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no alert {id}")));
    };
    // Delivery state without destinations: no phone number leaves here. A
    // shadow's copy says whom it shadows (`null` for a page of one's own).
    let notifications: Vec<Value> = state
        .store
        .notifications(id)
        .await?
        .into_iter()
        .map(|n| {
            let shadow_of = n.payload.as_ref().and_then(|p| p.get("shadow_of")).cloned();
            json!({
                "id": n.id, "person": n.person, "method": n.method, "state": n.state,
                "attempts": n.attempts, "due": n.due, "sent_at": n.sent_at, "last_error": n.last_error,
                "step": n.step.map(|(s, _)| s), "round": n.step.map(|(_, r)| r),
                "shadow_of": shadow_of,
            })
        })
        .collect();
    Ok(Json(
        json!({"alert": alert, "timeline": timeline, "notifications": notifications}),
    ))
}

/// `POST /v1/drills` `{"team": T, "severity": S}`: a practice page through
/// the real path, plainly marked as a drill. Severity defaults to the
/// highest, so the drill exercises every method and the escalation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillRequest {
    team: String,
    severity: Option<String>,
}

pub async fn drill(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    state.authorize_api(&headers).await?;
    let request: DrillRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body should be {{\"team\": \"name\", \"severity\": \"...\"}}: {e}"),
        )
    })?;
    let schedule = state.schedule();
    if schedule.team(&request.team).is_none() {
        let teams: Vec<&str> = schedule.teams.iter().map(|t| t.name.as_str()).collect();
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("no team `{}`: teams are {}", request.team, teams.join(", ")),
        )
        .field("team"));
    }
    let names = state.severities.names();
    let severity = match request.severity {
        Some(s) if state.severities.rank(&s).is_some() => s,
        Some(s) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("`{s}` is not a severity: {}", names.join(", ")),
            )
            .field("severity"));
        }
        None => names.last().cloned().unwrap_or_default(),
    };
    let now = state.clock.now();
    let event = Event {
        team: request.team.clone(),
        action: Action::Trigger,
        dedup_key: format!("drill-{}", super::intake::generated_key()),
        summary: format!("Practice page for {}: acknowledge it to finish the drill", request.team),
        severity: severity.clone(),
        source: Some("oncall drill".into()),
        details: json!({"drill": true}),
        intake: DRILL_INTAKE.into(),
        // A drill is never held: practising during maintenance is fine.
        held: None,
    };
    let outcomes = state.store.ingest(vec![event], now).await?;
    state.engine.metrics().received(DRILL_INTAKE, &severity);
    state.engine.wake();
    let id = match outcomes.first() {
        Some(Outcome::Created(id)) => *id,
        other => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the drill alert was not created ({other:?}); retry"),
            ));
        }
    };
    tracing::info!(alert = id, team = %request.team, severity = %severity, "drill started");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"alert_id": id, "team": request.team, "severity": severity})),
    )
        .into_response())
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
    let caller = state.authorize_api(&headers).await?;
    let id = parse_id(&id)?;
    let by = caller.by(by_whom(&body)?)?;
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

/// `POST /v1/alerts/{id}/lead` `{"lead": "bob", "by": "alice"}`: hands the
/// alert's lead to someone in the people file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeadRequest {
    lead: String,
    by: Option<String>,
}

pub async fn hand_lead(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = state.authorize_api(&headers).await?;
    let id = parse_id(&id)?;
    let request: LeadRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body should be {{\"lead\": \"person\", \"by\": \"person\"}}: {e}"),
        )
    })?;
    let schedule = state.schedule();
    let people = &schedule.people;
    if !people.contains_key(&request.lead) {
        let hint = match crate::config::diag::did_you_mean(&request.lead, people.keys().map(String::as_str)) {
            Some(close) => format!("; did you mean `{close}`?"),
            None => ": the lead must be someone in the people file".to_string(),
        };
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("unknown person `{}`{hint}", request.lead),
        )
        .field("lead"));
    }
    let now = state.clock.now();
    let by = caller.by(request.by)?;
    match state.store.hand_lead(id, request.lead, by, now).await? {
        LeadChange::Changed(alert) => {
            state.engine.wake();
            Ok(Json(json!({"alert": alert, "changed": true})))
        }
        LeadChange::Unchanged(alert) => Ok(Json(json!({"alert": alert, "changed": false}))),
        LeadChange::Resolved(alert) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "alert {id} is resolved: its lead stays {}",
                alert.lead.as_deref().unwrap_or("nobody (it was never acknowledged)")
            ),
        )),
        LeadChange::NoAlert => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no alert {id}"))),
    }
}

/// Who is on call now, per team and rota, a row a person (several for a
/// group's turn, one with no person for a gap), each with whoever shadows
/// them.
pub async fn oncall(State(state): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    state.authorize_api(&headers).await?;
    let now = state.clock.now();
    let schedule = state.schedule();
    let rows: Vec<Value> = schedule
        .rotas(None)
        .flat_map(|(team, rota)| {
            let people = rota.on_call(now);
            let users: Vec<Option<&String>> = if people.is_empty() {
                vec![None]
            } else {
                people.into_iter().map(Some).collect()
            };
            let shadows = rota.shadows_at(now);
            users.into_iter().map(move |user| {
                let mut row = json!({"team": team.name, "rota": rota.name, "user": user});
                let mine: Vec<Value> = shadows
                    .iter()
                    .filter(|(_, of)| Some(*of) == user)
                    .map(|(shadow, of)| json!({"user": shadow, "of": of}))
                    .collect();
                if !mine.is_empty() {
                    row["shadows"] = json!(mine);
                }
                row
            })
        })
        .collect();
    Ok(Json(json!({"at": now, "oncall": rows})))
}
