//! Calendar feeds: `GET /v1/calendar/{person}.ics?token=T` and
//! `GET /v1/calendar/team/{team}.ics?token=T` (see [`crate::calendar`]),
//! each protected by its own secret token in the URL, since calendar apps
//! cannot send headers; and `GET /v1/calendar?person=P` (or `team=T`) with
//! the API token, which hands out a feed's URL.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Caller, Shared};
use crate::calendar::{self, Feed};

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /v1/calendar/{person}.ics?token=T`. The token is checked first:
/// without it, the answer does not say whether the person exists.
pub async fn person(
    State(state): State<Shared>,
    Path(file): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, ApiError> {
    let person = ics_name(&file)?;
    check_token(&state, &format!("person:{person}"), q.token.as_deref())?;
    if !state.schedule().people.contains_key(person) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no person `{person}` in people.yaml"),
        ));
    }
    feed(&state, Feed::Person(person), person)
}

/// `GET /v1/calendar/team/{team}.ics?token=T`, the token checked first.
pub async fn team(
    State(state): State<Shared>,
    Path(file): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, ApiError> {
    let team = ics_name(&file)?;
    check_token(&state, &format!("team:{team}"), q.token.as_deref())?;
    if state.schedule().team(team).is_none() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no team `{team}`")));
    }
    feed(&state, Feed::Team(team), team)
}

fn ics_name(file: &str) -> Result<&str, ApiError> {
    file.strip_suffix(".ics")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "a calendar feed's path ends in .ics"))
}

fn check_token(state: &Shared, subject: &str, token: Option<&str>) -> Result<(), ApiError> {
    match token {
        Some(t) if state.links.calendar_token_ok(subject, t) => Ok(()),
        Some(_) => Err(ApiError::new(StatusCode::FORBIDDEN, "wrong calendar token")),
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "a calendar feed needs its token: ask the API for its URL (GET /v1/calendar?person=...)",
        )),
    }
}

fn feed(state: &Shared, feed: Feed<'_>, name: &str) -> Result<Response, ApiError> {
    let body = calendar::render(&state.schedule(), feed, state.clock.now());
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{name}.ics\"")),
            (header::CACHE_CONTROL, "private, max-age=300".to_string()),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct LinkQuery {
    person: Option<String>,
    team: Option<String>,
}

/// `GET /v1/calendar?person=P` or `?team=T`, with the API token: the feed's
/// URL (a path when no `public_url` is set).
pub async fn link(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<LinkQuery>,
) -> Result<Json<Value>, ApiError> {
    let caller = state.authorize_api(&headers).await?;
    let base = state.links.public_url().unwrap_or("");
    let (path, subject) = match (&q.person, &q.team) {
        (Some(p), None) => {
            // A person's link signs in as them: a person's token gets only
            // its own person's, or it would act as anyone.
            if let Caller::Person(me) = &caller
                && me != p
            {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("this token is {me}'s: it gets {me}'s links only"),
                )
                .field("person"));
            }
            if !state.schedule().people.contains_key(p) {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("no person `{p}` in people.yaml"),
                ));
            }
            (format!("/v1/calendar/{p}.ics"), format!("person:{p}"))
        }
        (None, Some(t)) => {
            if state.schedule().team(t).is_none() {
                return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no team `{t}`")));
            }
            (format!("/v1/calendar/team/{t}.ics"), format!("team:{t}"))
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "ask for one feed: ?person=ID or ?team=NAME",
            ));
        }
    };
    let token = state.links.calendar_token(&subject);
    let url = format!("{base}{path}?token={token}");
    Ok(Json(match &q.person {
        Some(p) => json!({
            "url": url,
            "status_url": format!("{base}/status?person={p}&token={}", state.links.status_token(p)),
        }),
        None => json!({"url": url}),
    }))
}
