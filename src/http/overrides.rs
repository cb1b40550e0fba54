//! Overrides at run time, for the cover that cannot wait for a merged pull
//! request: `POST /v1/overrides`, `GET /v1/overrides`, `DELETE
//! /v1/overrides/{id}`, and `GET /v1/overrides/export` (YAML to commit into
//! the team's file). All need the API token; each change names who made it
//! (`by`), and deleted overrides stay in the store as the audit trail.
//!
//! An override takes effect at once: the rotas in force (the API, the
//! calendar feeds) and the engine's next pass use it.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Shared};
use crate::config::diag::did_you_mean;
use crate::domain::time::{Instant, Span, resolve_local};
use crate::store::{NewOverride, StoredOverride};

/// The longest override accepted.
const MAX_LENGTH: chrono::Duration = chrono::Duration::days(366);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    team: String,
    rota: String,
    user: String,
    from: String,
    to: String,
    instead_of: Option<String>,
    reason: Option<String>,
    by: String,
}

/// A time as given: RFC 3339 with an offset, or local wall-clock time in
/// the team's zone (`2026-12-24T00:00`).
fn time(text: &str, tz: Tz, field: &str) -> Result<Instant, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(text.trim(), format) {
            return Ok(resolve_local(tz, local));
        }
    }
    Err(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("`{text}` is not a time: write 2026-12-24T00:00 (the team's local time) or 2026-12-24T00:00:00Z"),
    )
    .field(field))
}

fn unknown(what: &str, name: &str, known: Vec<&str>, field: &str) -> ApiError {
    let hint = match did_you_mean(name, known.iter().copied()) {
        Some(close) => format!("; did you mean `{close}`?"),
        None => format!(": known are {}", known.join(", ")),
    };
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("unknown {what} `{name}`{hint}"),
    )
    .field(field)
}

fn parse(state: &Shared, body: &[u8]) -> Result<NewOverride, ApiError> {
    let r: Request = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the body should be {{\"team\", \"rota\", \"user\", \"from\", \"to\", \"by\"}} (and optionally \"instead_of\", \"reason\"): {e}"
            ),
        )
    })?;
    let schedule = state.schedule();
    let team = schedule.team(&r.team).ok_or_else(|| {
        unknown(
            "team",
            &r.team,
            schedule.teams.iter().map(|t| t.name.as_str()).collect(),
            "team",
        )
    })?;
    if !team.rotas.iter().any(|x| x.name == r.rota) {
        return Err(unknown(
            &format!("rota of {}", team.name),
            &r.rota,
            team.rotas.iter().map(|x| x.name.as_str()).collect(),
            "rota",
        ));
    }
    let people: Vec<&str> = schedule.people.keys().map(String::as_str).collect();
    if !schedule.people.contains_key(&r.user) {
        return Err(unknown("person", &r.user, people, "user"));
    }
    if let Some(p) = &r.instead_of
        && !schedule.people.contains_key(p)
    {
        return Err(unknown("person", p, people, "instead_of"));
    }
    if r.by.trim().is_empty() {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "say who makes it: `by`").field("by"));
    }
    let (from, to) = (time(&r.from, team.tz, "from")?, time(&r.to, team.tz, "to")?);
    if to <= from {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the override ends ({}) before it starts ({})",
                rfc3339(to),
                rfc3339(from)
            ),
        )
        .field("to"));
    }
    if to <= state.clock.now() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the override ends ({}) in the past: it would change nothing",
                rfc3339(to)
            ),
        )
        .field("to"));
    }
    if to - from > MAX_LENGTH {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "an override lasts at most 366 days: change the rota file for longer",
        )
        .field("to"));
    }
    Ok(NewOverride {
        team: team.name.clone(),
        rota: r.rota,
        user: r.user,
        span: Span::new(from, to),
        instead_of: r.instead_of,
        reason: r.reason.filter(|s| !s.trim().is_empty()),
        by: r.by.trim().to_string(),
    })
}

fn rfc3339(t: Instant) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `POST /v1/overrides`: 201 with the override.
pub async fn add(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    state.authorize_api(&headers)?;
    let new = parse(&state, &body)?;
    let now = state.clock.now();
    let stored = state.store.add_override(new, now).await?;
    crate::app::overrides_changed(&state).await?;
    tracing::info!(id = stored.id, team = %stored.team, rota = %stored.rota, user = %stored.user, by = %stored.created_by, "override added");
    state.engine.wake();
    Ok((StatusCode::CREATED, Json(json!({"override": stored}))).into_response())
}

#[derive(Deserialize)]
pub struct ListQuery {
    team: Option<String>,
    /// Include those already over.
    #[serde(default)]
    all: bool,
}

async fn listed(state: &Shared, q: &ListQuery) -> Result<Vec<StoredOverride>, ApiError> {
    let now = state.clock.now();
    Ok(state
        .store
        .overrides()
        .await?
        .into_iter()
        .filter(|o| q.team.as_ref().is_none_or(|t| &o.team == t))
        .filter(|o| q.all || o.to > now)
        .collect())
}

/// `GET /v1/overrides[?team=T][&all=true]`: the overrides not over yet
/// (every one with `all`), oldest first.
pub async fn list(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    state.authorize_api(&headers)?;
    Ok(Json(json!({"overrides": listed(&state, &q).await?})))
}

#[derive(Deserialize)]
pub struct DeleteQuery {
    by: Option<String>,
}

/// `DELETE /v1/overrides/{id}?by=NAME`.
pub async fn delete(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<DeleteQuery>,
) -> Result<Json<Value>, ApiError> {
    state.authorize_api(&headers)?;
    let by = q
        .by
        .filter(|b| !b.trim().is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "say who deletes it: `?by=NAME`").field("by"))?;
    let now = state.clock.now();
    let Some(gone) = state.store.delete_override(id, by.clone(), now).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no override {id} (or it was deleted already)"),
        ));
    };
    crate::app::overrides_changed(&state).await?;
    tracing::info!(id, by = %by, "override deleted");
    state.engine.wake();
    Ok(Json(json!({"deleted": gone})))
}

/// `GET /v1/overrides/export?team=T`: the team's overrides not over yet as
/// the `overrides:` list of its rota file, to commit.
pub async fn export(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    state.authorize_api(&headers)?;
    let Some(team) = q.team.clone() else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "name the team: ?team=NAME").field("team"));
    };
    let overrides = listed(&state, &q).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        yaml(&team, &overrides),
    )
        .into_response())
}

/// The `overrides:` YAML of `overrides`, one flow mapping a line, with who
/// made each and when as a comment.
pub fn yaml(team: &str, overrides: &[StoredOverride]) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut out = format!("# Run-time overrides of team {team}, to add to its file.\noverrides:\n");
    for o in overrides {
        out.push_str(&format!(
            "  # made by {} at {} (id {})\n  - {{rota: {}, user: {}, from: {}, to: {}",
            o.created_by.replace('\n', " "),
            rfc3339(o.created_at),
            o.id,
            quote(&o.rota),
            quote(&o.user),
            rfc3339(o.from),
            rfc3339(o.to)
        ));
        if let Some(p) = &o.instead_of {
            out.push_str(&format!(", instead_of: {}", quote(p)));
        }
        if let Some(r) = &o.reason {
            out.push_str(&format!(", reason: {}", quote(r)));
        }
        out.push_str("}\n");
    }
    out
}
