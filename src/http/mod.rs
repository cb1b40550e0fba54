//! The HTTP layer: the axum router, authentication, and the one place that
//! knows status codes. Handlers parse, ask the store or the domain, answer.
//!
//! Errors are JSON `{"error": "...", "field": "..."}` with 400, 401, 404,
//! 413, 415 or 422; a rejected request changes nothing. The exceptions
//! answer people and SMS providers: action links (`act`) answer small HTML
//! pages (403 forged, 410 expired, 404 no alert), inbound SMS (`sms`) and
//! a phone call's key (`voice`) TwiML; a test page's confirm link and
//! Twilio callbacks (`proofs`) likewise.

mod act;
mod api;
mod calendar;
mod html;
mod intake;
mod limit;
pub use limit::{GUESS_BURST, GUESS_EVERY, Guesses, Limiter, TEST_PAGE_BURST, TEST_PAGE_EVERY};
pub mod listen;
pub mod overrides;
pub mod proofs;
mod sms;
mod status;
mod voice;

use std::net::IpAddr;
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
use crate::live::{InForce, Live};
use crate::store::{Store, StoreError};

/// What every handler can reach.
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The paging engine; woken when an alert comes in or changes.
    pub engine: Arc<Engine>,
    /// The configuration in force (rota files and overrides), reloaded.
    pub in_force: Arc<InForce>,
    /// `status_page_public`, which nothing reads since `/status` redirects
    /// into the web pages (issue 19).
    pub status_public: bool,
    pub api_token: Option<String>,
    /// A second API token accepted too, during a rotation.
    pub api_token_next: Option<String>,
    /// The intake's per-team rate limit; `None`: no limit.
    pub intake_limit: Option<limit::Limiter>,
    /// Test pages started, per person ([`limit::Limiter::test_pages`]).
    pub test_pages: limit::Limiter,
    /// The wrong integration keys each client may send (always on).
    pub guesses: limit::Guesses,
    pub severities: Severities,
    pub clock: Arc<dyn Clock>,
    /// Held by a heartbeat ping (record the ping, resolve the alert) and by
    /// the heartbeat check (read the pings, raise alerts), so that neither
    /// sees the other half done: else a check that read the pings just before
    /// a ping could raise an alert just after that ping's resolve. The lock
    /// is in the process: on SQLite one daemon owns the database, so that is
    /// enough. On PostgreSQL the check runs on the leader only (see
    /// `jobs::Leadership`) while a ping may land on any daemon, so the lock
    /// does not close that window across daemons: a ping on a follower in
    /// the milliseconds between the leader's read and its trigger can still
    /// meet an alert raised for the silence it just ended.
    pub heartbeat_lock: tokio::sync::Mutex<()>,
    /// Makes and checks the signed acknowledge / resolve links; knows the
    /// public URL.
    pub links: Links,
    /// What inbound SMS webhooks are checked against; `None` turns inbound
    /// SMS off (404).
    pub inbound_sms: Option<InboundSms>,
    /// The web interface's settings and limits.
    pub web: crate::web::Web,
    /// What a phone call's webhooks are checked against (the `[voice]`
    /// account and auth token, the same shape as SMS's); `None`: no
    /// `[voice]` (404).
    pub inbound_voice: Option<InboundSms>,
    /// The SMS channel that texts phone verification codes
    /// (`crate::phone_verify`); `None`: no `[sms]`, or verification off, so
    /// no code is sent (entries are still checked).
    pub phone_sms: Option<Arc<crate::notify::SmsChannel>>,
    /// Held by a run of `jobs::send_phone_codes`, sends included, so that
    /// two runs (the start's and a reload's) do not overlap.
    pub phone_codes: tokio::sync::Mutex<()>,
}

/// The `[sms]` settings an inbound SMS webhook must match.
#[derive(Clone)]
pub struct InboundSms {
    /// The provider's auth token, which signs the webhooks.
    pub auth_token: String,
    /// The account the webhooks must be for (their `AccountSid`).
    pub account_sid: String,
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
        .route("/v1/voice/{token}", post(voice::gather))
        .route("/v1/voice/{token}/status", post(voice::status))
        .route("/v1/people/{person}/test-page", post(proofs::test_page))
        .route("/v1/test-pages/{id}", get(proofs::get_test))
        .route("/v1/proven", get(proofs::proven))
        .route("/v1/proofs/{token}", get(proofs::show).post(proofs::confirm))
        .route("/v1/proofs/{token}/status", post(proofs::status))
        .route("/v1/proofs/{token}/voice", post(proofs::voice))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/overrides", post(overrides::add).get(overrides::list))
        .route("/v1/overrides/export", get(overrides::export))
        .route("/v1/overrides/{id}", axum::routing::delete(overrides::delete))
        .route("/status", get(status::page))
        .route("/v1/calendar", get(calendar::link))
        .route("/v1/calendar/{file}", get(calendar::person))
        .route("/v1/calendar/team/{file}", get(calendar::team))
        .merge(crate::web::router())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(move |req, next| {
            drain_refused(max_body_bytes, req, next)
        }))
        .with_state(state)
}

/// The most of a refused body read (and dropped) before answering, and for
/// how long.
const DRAIN_AT_MOST: u64 = 64 << 20;
const DRAIN_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// A body whose `Content-Length` is over the limit is refused by its
/// handler (413, in that endpoint's own words). But a server that answers
/// and closes while the sender is still writing the body makes the sender's
/// kernel see a reset, which can throw the answer away: the sender gets
/// "connection reset" instead of 413 (seen with a 10 MB field). So the rest
/// of such a body is read and dropped first (up to `DRAIN_AT_MOST` bytes,
/// within `DRAIN_WITHIN`), as web servers do, and the handler gets a body
/// one byte over the limit in its place, which it refuses as it would have
/// the real one.
async fn drain_refused(max: usize, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use futures_util::StreamExt;
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(length) = announced.filter(|&n| n > max as u64) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let mut stream = body.into_data_stream();
    let mut read = 0u64;
    let _ = tokio::time::timeout(DRAIN_WITHIN, async {
        while read < DRAIN_AT_MOST.min(length) {
            match stream.next().await {
                Some(Ok(chunk)) => read += chunk.len() as u64,
                _ => break,
            }
        }
    })
    .await;
    let stand_in = axum::body::Body::from(vec![0u8; max + 1]);
    next.run(axum::extract::Request::from_parts(parts, stand_in)).await
}

/// How far ahead `/metrics` counts schedule gaps.
pub const GAPS_AHEAD: chrono::Duration = chrono::Duration::days(7);

/// `GET /metrics`: Prometheus' text format (see `crate::metrics`).
async fn metrics(State(state): State<Shared>) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let unresolved = state.store.unresolved_counts().await?;
    let window = crate::domain::time::Span::new(now, now + GAPS_AHEAD);
    let mut gaps: std::collections::BTreeMap<(String, String), i64> = state
        .schedule()
        .rotas(None)
        .map(|(t, r)| ((t.name.clone(), r.name.clone()), 0))
        .collect();
    for shift in state.schedule().shifts(window, None) {
        if shift.tile.user.is_none() {
            *gaps.entry((shift.team.clone(), shift.rota.clone())).or_default() +=
                shift.tile.span.duration().num_seconds();
        }
    }
    let gauges = crate::metrics::Gauges {
        unresolved,
        gaps_ahead: gaps.into_iter().map(|((t, r), s)| (t, r, s)).collect(),
        gaps_window: GAPS_AHEAD.num_seconds(),
    };
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.engine.metrics().render(&gauges),
    )
        .into_response())
}

async fn readyz(State(state): State<Shared>) -> Response {
    match state.store.ping().await {
        Ok(()) => {
            let reload = state.in_force.status();
            let config = match &reload.failed {
                None => json!({"status": "ok", "loaded_at": reload.loaded_at}),
                Some((at, errors)) => json!({
                    "status": "reload failed: the last good rota files stay in force",
                    "loaded_at": reload.loaded_at,
                    "failed_at": at,
                    "errors": errors,
                }),
            };
            (
                StatusCode::OK,
                Json(json!({"status": "ready", "teams": state.schedule().teams.len(), "config": config})),
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "store": e.to_string()})),
        )
            .into_response(),
    }
}

/// Why an integration key was not taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRefused {
    /// No team has it (404).
    Unknown,
    /// Not checked: the client sent too many unknown keys; it may try
    /// again in this many seconds (429).
    Slowed(u64),
}

/// The address of the client a request came from, when the server was given
/// it (`app::serve` is).
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Peer, Self::Rejection> {
        let info = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(Peer(info.map(|i| i.0.ip())))
    }
}

/// A JSON error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
    /// Seconds, for `Retry-After`.
    retry_after: Option<u64>,
}

impl ApiError {
    /// What went wrong, in words (for a page rather than JSON).
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 429: the caller may try again in `seconds`.
    pub fn too_many(seconds: u64) -> ApiError {
        ApiError {
            retry_after: Some(seconds),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many requests for this team's integration key: retry in {seconds} s"),
            )
        }
    }

    /// 429: `person` was sent test pages too often.
    pub fn too_many_test_pages(person: &str, seconds: u64) -> ApiError {
        ApiError {
            retry_after: Some(seconds),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many test pages for {person}: {} at once, then one every {} s; retry in {seconds} s",
                    limit::TEST_PAGE_BURST,
                    limit::TEST_PAGE_EVERY
                ),
            )
        }
    }

    /// 429 for a client that sent too many unknown integration keys.
    pub fn too_many_guesses(seconds: u64) -> ApiError {
        ApiError {
            retry_after: Some(seconds),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many unknown integration keys from this address: retry in {seconds} s"),
            )
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
        let mut response = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, s.into());
        }
        response
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

/// The bearer token of a request, if any: `Authorization: Bearer TOKEN`.
/// As RFC 7235 (section 2.1) has it, the scheme is case-insensitive
/// (`bearer`, `BEARER`) and one or more spaces separate it from the token,
/// which is one word (token68): anything else is no bearer credential.
/// The one place that reads the header, for the intake and the API alike.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    // Blanks around a field value are not part of it (RFC 9110, 5.5).
    let value = value.trim_matches([' ', '\t']);
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim_start_matches(' ');
    (!token.is_empty() && !token.contains([' ', '\t'])).then_some(token)
}

/// Compares secrets without leaking where they differ, or how long the
/// right one is: the SHA-256 digests (same length whatever was sent) are
/// compared in constant time.
fn same_secret(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    bool::from(a[..].ct_eq(&b[..]))
}

impl AppState {
    /// The configuration in force now.
    pub fn live(&self) -> Arc<Live> {
        self.in_force.live()
    }

    /// The rotas in force now.
    pub fn schedule(&self) -> Arc<Schedule> {
        self.live().schedule.clone()
    }

    /// Marks the triggers among `events` that arrive at `now` inside their
    /// team's maintenance window as held; the store keeps the hold only on a
    /// trigger that opens a new alert (an alert already open is already
    /// being handled).
    pub fn hold(&self, events: &mut [Event], now: Instant) {
        let schedule = self.schedule();
        for event in events.iter_mut().filter(|e| e.action == Action::Trigger) {
            if let Some(team) = schedule.team(&event.team) {
                event.held = team.hold_at(now);
            }
        }
    }

    /// The team whose integration key `key` is, sent by `client` (its
    /// address, when the server knows it): checked within the client's
    /// budget of wrong keys ([`limit::Guesses`]). Once that is spent, only
    /// the keys of the teams the client sent before are taken; any other
    /// key is refused unchecked, with the seconds until one more is checked.
    pub fn authenticate(&self, key: &str, client: Option<IpAddr>) -> Result<String, KeyRefused> {
        let now = self.clock.now();
        let Some(client) = client else {
            return self.team_for_key(key).ok_or(KeyRefused::Unknown);
        };
        if let Some((known, wait)) = self.guesses.spent(client, now) {
            // Every key compared all the same: the time taken says nothing.
            return self
                .team_for_key(key)
                .filter(|team| known.contains(team))
                .ok_or(KeyRefused::Slowed(wait));
        }
        match self.team_for_key(key) {
            Some(team) => {
                self.guesses.succeeded(client, &team, now);
                Ok(team)
            }
            None => {
                if self.guesses.failed(client, now) {
                    tracing::warn!(
                        %client, every = ?limit::GUESS_EVERY.to_std().unwrap_or_default(),
                        "too many unknown integration keys from one client: the others it sends are refused (429) until its budget comes back"
                    );
                }
                Err(KeyRefused::Unknown)
            }
        }
    }

    /// The team whose integration key this is. Every key is compared, so the
    /// time taken does not say which one nearly matched.
    pub fn team_for_key(&self, key: &str) -> Option<String> {
        let live = self.live();
        let mut found = None;
        for (k, team) in &live.intake_keys {
            if same_secret(k, key) {
                found = Some(team.clone());
            }
        }
        found
    }

    /// Spends one of `team`'s intake requests (429 if none is left).
    pub fn admit(&self, team: &str) -> Result<(), ApiError> {
        match &self.intake_limit {
            Some(limiter) => limiter.take(team, self.clock.now()).map_err(|seconds| {
                tracing::warn!(team, retry_after = seconds, "intake rate limit reached: answered 429");
                ApiError::too_many(seconds)
            }),
            None => Ok(()),
        }
    }

    /// Who a request to the API comes from: the shared API token (or the
    /// next one, during a rotation), or a person's own token (`oncall token
    /// create`), looked up by its digest at each request so that a revoked
    /// one is refused at once. 401 otherwise.
    pub async fn authorize_api(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        const OFF: &str = "the API is off: set ONCALL_API_TOKEN (or api_token_file in oncall.toml) and restart, \
                           or send a person's token (`oncall token create`)";
        let Some(given) = bearer(headers) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                match self.api_token {
                    None => OFF,
                    Some(_) => "send the API token as `Authorization: Bearer TOKEN`",
                },
            ));
        };
        if let Some(token) = &self.api_token
            // Both compared, so the time taken does not say which matched.
            && (same_secret(token, given)
                | self
                    .api_token_next
                    .as_deref()
                    .is_some_and(|next| same_secret(next, given)))
        {
            return Ok(Caller::Shared);
        }
        // Only the digest is stored; looking it up says nothing about how
        // near another token the one sent is.
        let digest = crate::web::session::digest(given);
        match self
            .store
            .credential(crate::store::CredentialKind::Token, digest, self.clock.now())
            .await?
        {
            Some(token) => Ok(Caller::Person(token.person)),
            None if self.api_token.is_none() => Err(ApiError::new(StatusCode::UNAUTHORIZED, OFF)),
            None => Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong API token")),
        }
    }
}

/// Who a request to the API comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The shared API token: it acts as whoever the request names (`by`).
    Shared,
    /// A person's own token: it acts as that person only.
    Person(String),
}

impl Caller {
    /// Who does what the request asks, for the audit (`by`): the person of
    /// a person's token; else whoever the request names (`said`). A
    /// person's token naming someone else is refused (403), so that nobody
    /// acts as another person with their own token.
    pub fn by(&self, said: Option<String>) -> Result<Option<String>, ApiError> {
        match self {
            Caller::Shared => Ok(said),
            Caller::Person(person) => match said {
                Some(other) if other.trim() != person => Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("this token is {person}'s: it acts as {person} only, not as `{other}`"),
                )
                .field("by")),
                _ => Ok(Some(person.clone())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(same_secret("payments-key-0123456789", "payments-key-0123456789"));
        for other in [
            "payments-key-012345678",
            "payments-key-01234567890",
            "Payments-key-0123456789",
            "",
        ] {
            assert!(!same_secret("payments-key-0123456789", other), "{other:?}");
        }
    }
}
