//! The HTTP layer: the axum router, authentication, and the one place that
//! knows status codes. Handlers parse, ask the store or the domain, answer.
//!
//! Errors are JSON `{"error": "...", "field": "..."}` with 400, 401, 404,
//! 413, 415 or 422; a rejected request changes nothing. The exceptions
//! answer people and SMS providers: action links (`act`) answer small HTML
//! pages (403 forged, 410 expired, 404 no alert), inbound SMS (`sms`) TwiML.

mod act;
mod api;
mod html;
mod intake;
mod sms;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::clock::Clock;
use crate::domain::alert::{Action, Event};
use crate::domain::schedule::Schedule;
use crate::domain::severity::Severities;
use crate::domain::time::Instant;
use crate::engine::Engine;
use crate::links::Links;
use crate::store::{Store, StoreError};

/// What every handler can reach.
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The paging engine; woken when an alert comes in or changes.
    pub engine: Arc<Engine>,
    pub schedule: Arc<Schedule>,
    /// (integration key, team), from the team files.
    pub intake_keys: Vec<(String, String)>,
    pub api_token: Option<String>,
    pub severities: Severities,
    pub clock: Arc<dyn Clock>,
    /// Held by a heartbeat ping (record the ping, resolve the alert) and by
    /// the heartbeat check (read the pings, raise alerts), so that neither
    /// sees the other half done: else a check that read the pings just before
    /// a ping could raise an alert just after that ping's resolve. One daemon
    /// owns a database, so a lock in the process is enough.
    pub heartbeat_lock: tokio::sync::Mutex<()>,
    /// Makes and checks the signed acknowledge / resolve links; knows the
    /// public URL.
    pub links: Links,
    /// The SMS provider's auth token, which signs inbound SMS webhooks;
    /// `None` turns inbound SMS off (404).
    pub sms_auth_token: Option<String>,
}

pub type Shared = Arc<AppState>;

pub fn router(state: Shared, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/v2/enqueue", post(intake::pagerduty))
        .route("/v1/alertmanager", post(intake::alertmanager))
        .route("/v1/grafana", post(intake::grafana))
        .route("/v1/alerts", post(intake::plain).get(api::list_alerts))
        .route("/v1/alerts/{id}", get(api::get_alert))
        .route("/v1/alerts/{id}/ack", post(api::acknowledge))
        .route("/v1/alerts/{id}/resolve", post(api::resolve))
        .route("/v1/alerts/{id}/lead", post(api::hand_lead))
        .route("/v1/oncall", get(api::oncall))
        .route("/v1/drills", post(api::drill))
        .route("/v1/heartbeat/{name}", post(intake::heartbeat))
        .route("/v1/act/{token}", get(act::show).post(act::perform))
        .route("/v1/sms/inbound", post(sms::inbound))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

async fn readyz(State(state): State<Shared>) -> Response {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "teams": state.schedule.teams.len()})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "store": e.to_string()})),
        )
            .into_response(),
    }
}

/// A JSON error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.message});
        if let Some(f) = self.field {
            body["field"] = json!(f);
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "store failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store could not take this request; retry",
        )
    }
}

/// The bearer token of a request, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Compares secrets without leaking where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl AppState {
    /// Marks the triggers among `events` that arrive at `now` inside their
    /// team's maintenance window as held; the store keeps the hold only on a
    /// trigger that opens a new alert (an alert already open is already
    /// being handled).
    pub fn hold(&self, events: &mut [Event], now: Instant) {
        for event in events.iter_mut().filter(|e| e.action == Action::Trigger) {
            if let Some(team) = self.schedule.team(&event.team) {
                event.held = team.hold_at(now);
            }
        }
    }

    /// The team whose integration key this is. Every key is compared, so the
    /// time taken does not say which one nearly matched.
    pub fn team_for_key(&self, key: &str) -> Option<&str> {
        let mut found = None;
        for (k, team) in &self.intake_keys {
            if same_secret(k, key) {
                found = Some(team.as_str());
            }
        }
        found
    }

    /// Checks the API token of a request.
    pub fn authorize_api(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(token) = &self.api_token else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "the API is off: set ONCALL_API_TOKEN (or api_token_file in oncall.toml) and restart",
            ));
        };
        match bearer(headers) {
            Some(given) if same_secret(token, given) => Ok(()),
            Some(_) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong API token")),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "send the API token as `Authorization: Bearer TOKEN`",
            )),
        }
    }
}
