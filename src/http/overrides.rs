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

use serde_saphyr::{DoubleQuoted, FlowMap};

use super::{ApiError, Caller, Shared};
use crate::config::diag::did_you_mean;
use crate::domain::time::{Instant, Span, resolve_local};
use crate::store::{NewOverride, StoredOverride};

/// The longest override accepted.
const MAX_LENGTH: chrono::Duration = chrono::Duration::days(366);

/// An override asked for: the API's JSON body, or the web's form with
/// `by` the person signed in (`crate::web::me`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub team: String,
    pub rota: String,
    pub user: String,
    pub from: String,
    pub to: String,
    pub instead_of: Option<String>,
    pub reason: Option<String>,
    /// Who makes it; a person's token (or session) makes it as that person.
    pub by: Option<String>,
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

fn parse(state: &Shared, caller: &Caller, body: &[u8]) -> Result<NewOverride, ApiError> {
    let r: Request = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the body should be {{\"team\", \"rota\", \"user\", \"from\", \"to\", \"by\"}} (and optionally \"instead_of\", \"reason\"): {e}"
            ),
        )
    })?;
    check(state, caller, r)
}

/// The override `r` asks for, checked against the rotas in force and the
/// clock: the one set of checks, for the API and the web alike. `caller`
/// says who may be named as making it (a person signed in, or with their
/// own token, makes it as themselves).
pub fn check(state: &Shared, caller: &Caller, r: Request) -> Result<NewOverride, ApiError> {
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
    let Some(by) = caller.by(r.by)? else {
        // As when `by` was a field serde required.
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the body should be {\"team\", \"rota\", \"user\", \"from\", \"to\", \"by\"} (and optionally \"instead_of\", \"reason\"): missing field `by`",
        ));
    };
    if by.trim().is_empty() {
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
        by: by.trim().to_string(),
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
    let caller = state.authorize_api(&headers).await?;
    let new = parse(&state, &caller, &body)?;
    let stored = apply(&state, new).await?;
    Ok((StatusCode::CREATED, Json(json!({"override": stored}))).into_response())
}

/// Stores `new` (with who made it: the audit trail) and puts it in force at
/// once; the engine's next pass uses it.
pub async fn apply(state: &Shared, new: NewOverride) -> Result<StoredOverride, ApiError> {
    let now = state.clock.now();
    let stored = state.store.add_override(new, now).await?;
    state.in_force.overrides_changed().await?;
    tracing::info!(id = stored.id, team = %stored.team, rota = %stored.rota, user = %stored.user, by = %stored.created_by, "override added");
    state.engine.wake();
    Ok(stored)
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
    state.authorize_api(&headers).await?;
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
    let caller = state.authorize_api(&headers).await?;
    let by = caller
        .by(q.by.filter(|b| !b.trim().is_empty()))?
        .ok_or_else(|| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "say who deletes it: `?by=NAME`").field("by"))?;
    let now = state.clock.now();
    let Some(gone) = state.store.delete_override(id, by.clone(), now).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no override {id} (or it was deleted already)"),
        ));
    };
    state.in_force.overrides_changed().await?;
    tracing::info!(id, by = %by, "override deleted");
    state.engine.wake();
    Ok(Json(json!({"deleted": gone})))
}

/// `GET /v1/overrides/export?team=T`: the team's overrides not over yet as
/// a cover file (`team:` and `overrides:`), to save in `schedules/` and
/// commit.
pub async fn export(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    state.authorize_api(&headers).await?;
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

/// The cover file of `overrides` (`team:` and `overrides:`), one flow
/// mapping a line, with who made each and when as a comment above it:
///
/// ```yaml
/// # Run-time overrides of team "payments": a cover file, saved in schedules/ as a file of its own.
/// team: "payments"
/// overrides:
///   # made by "alice" at 2026-06-01T12:00:00Z (id 1)
///   - {rota: "primary", user: "dave", from: "2026-06-01T23:00:00Z", to: "2026-06-02T23:00:00Z"}
/// ```
///
/// A file of its own, not text to append: a team file that has
/// `overrides:` already would then hold the key twice, which the loader
/// refuses. With no override, the list is `[]` (a bare `overrides:` is
/// null, which the loader refuses too).
///
/// The text is saved in `schedules/` and committed, and its strings come
/// from API callers, so none of them may end a line early: a `by` holding a
/// carriage return once ended its comment there, and what followed became
/// an override of its own (issue 16). Every string is written by
/// `serde-saphyr` as a double-quoted scalar (`DoubleQuoted`), which escapes
/// every control and line-break character (`\r`, `\n`, NEL, U+2028, U+2029,
/// the BOM); the comments hold the same double-quoted forms, so they end at
/// their own line's end. That crate was chosen because it can force double
/// quotes on every string and escapes the full set, where picking a style
/// per value (plain when it looks safe) is what let text through before;
/// `overrides_export_round_trips_any_strings` checks the result against
/// the loader the rota files go through.
pub fn yaml(team: &str, overrides: &[StoredOverride]) -> String {
    let mut out = format!(
        "# Run-time overrides of team {team_q}: a cover file, saved in schedules/ as a file of its own.\nteam: {team_q}\noverrides:{}\n",
        if overrides.is_empty() { " []" } else { "" },
        team_q = quoted(team),
    );
    for o in overrides {
        let entry = FlowMap(Entry {
            rota: DoubleQuoted(&o.rota),
            user: DoubleQuoted(&o.user),
            from: DoubleQuoted(rfc3339(o.from)),
            to: DoubleQuoted(rfc3339(o.to)),
            instead_of: o.instead_of.as_deref().map(DoubleQuoted),
            reason: o.reason.as_deref().map(DoubleQuoted),
        });
        out.push_str(&format!(
            "  # made by {} at {} (id {})\n  - {}\n",
            quoted(&o.created_by),
            rfc3339(o.created_at),
            o.id,
            emit(&entry)
        ));
    }
    out
}

/// One override of the export, its keys those of a rota file's override.
#[derive(serde::Serialize)]
struct Entry<'a> {
    rota: DoubleQuoted<&'a str>,
    user: DoubleQuoted<&'a str>,
    from: DoubleQuoted<String>,
    to: DoubleQuoted<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instead_of: Option<DoubleQuoted<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<DoubleQuoted<&'a str>>,
}

/// `s` as a YAML double-quoted scalar, on one line.
fn quoted(s: &str) -> String {
    emit(&DoubleQuoted(s))
}

/// `value` as YAML on one line (the serializer ends a document with a line
/// break, dropped here). Only our own wrappers of strings are emitted, which
/// cannot fail to serialize.
fn emit(value: &impl serde::Serialize) -> String {
    let options = serde_saphyr::ser_options! { quote_all: true };
    let text = serde_saphyr::to_string_with_options(value, options).expect("strings serialize as YAML");
    text.trim_end_matches('\n').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::{self, Node, Value};
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(day: u32, hour: u32) -> Instant {
        Utc.with_ymd_and_hms(2026, 6, day, hour, 0, 0).unwrap()
    }

    fn stored(id: i64, rota: &str, user: &str, by: &str) -> StoredOverride {
        StoredOverride {
            id,
            team: "payments".into(),
            rota: rota.into(),
            user: user.into(),
            from: at(1, 23),
            to: at(2, 23),
            instead_of: None,
            reason: None,
            created_by: by.into(),
            created_at: at(1, 12),
        }
    }

    #[test]
    fn the_export_reads_as_a_rota_files_overrides() {
        let mut o = stored(1, "primary", "dave", "alice");
        o.instead_of = Some("carol".into());
        o.reason = Some("covering: carol's \"sick\" day #2".into());
        expect_test::expect![[r#"
            # Run-time overrides of team "payments": a cover file, saved in schedules/ as a file of its own.
            team: "payments"
            overrides:
              # made by "alice" at 2026-06-01T12:00:00Z (id 1)
              - {rota: "primary", user: "dave", from: "2026-06-01T23:00:00Z", to: "2026-06-02T23:00:00Z", instead_of: "carol", reason: "covering: carol's \"sick\" day #2"}
              # made by "bob" at 2026-06-01T12:00:00Z (id 2)
              - {rota: "primary", user: "erin", from: "2026-06-01T23:00:00Z", to: "2026-06-02T23:00:00Z"}
        "#]]
        .assert_eq(&yaml("payments", &[o, stored(2, "primary", "erin", "bob")]));
    }

    /// The `overrides` list of an export, each override's keys and values
    /// as the project's YAML reader sees them.
    fn read_back(text: &str) -> Vec<Vec<(String, String)>> {
        let root = yaml::parse(text)
            .unwrap_or_else(|e| panic!("{e:?} in:\n{text}"))
            .unwrap();
        let Value::Map(top) = &root.value else { panic!("{text}") };
        assert_eq!(top.len(), 2, "{text}");
        assert_eq!(top[0].0.as_str(), Some("team"));
        assert!(matches!(top[0].1.value, Value::Scalar { plain: false, .. }), "{text}");
        assert_eq!(top[1].0.as_str(), Some("overrides"));
        let Value::Seq(items) = &top[1].1.value else {
            panic!("{text}")
        };
        items
            .iter()
            .map(|item: &Node| {
                let Value::Map(fields) = &item.value else {
                    panic!("{text}")
                };
                fields
                    .iter()
                    .map(|(k, v)| match &v.value {
                        Value::Scalar { text, plain: false } => (k.as_str().unwrap().to_string(), text.clone()),
                        other => panic!("{other:?} is not a quoted string"),
                    })
                    .collect()
            })
            .collect()
    }

    fn fields(o: &StoredOverride) -> Vec<(String, String)> {
        let mut out = vec![
            ("rota".to_string(), o.rota.clone()),
            ("user".to_string(), o.user.clone()),
            ("from".to_string(), rfc3339(o.from)),
            ("to".to_string(), rfc3339(o.to)),
        ];
        if let Some(p) = &o.instead_of {
            out.push(("instead_of".to_string(), p.clone()));
        }
        if let Some(r) = &o.reason {
            out.push(("reason".to_string(), r.clone()));
        }
        out
    }

    /// Issue 16: a carriage return in `by` ended the comment it was written
    /// in (YAML breaks lines at CR as at LF), and the rest became an
    /// override of its own.
    #[test]
    fn issue16_a_carriage_return_in_by_smuggles_no_override_into_the_export() {
        let by = "mallory\r  - {rota: primary, user: carol, from: 2026-06-10T00:00, to: 2026-06-11T00:00} #";
        let text = yaml("payments", &[stored(1, "primary", "dave", by)]);
        assert_eq!(read_back(&text), [fields(&stored(1, "primary", "dave", by))], "{text}");
        assert!(!text.contains('\r'), "{text:?}");
        assert!(
            text.contains("# made by \"mallory\\r  - {rota: primary, user: carol,"),
            "{text}"
        );
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[\r\n\t\u{85}\u{2028}\u{2029}\u{feff}\u{0}\u{7f}\u{fffe}\u{ffff} #:,'\"\\{}\\[\\]&*!|>%@`?a-z-]{0,40}",
        ]
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9._-]{0,12}"
    }

    /// A team file with an `overrides:` list of its own, as the example
    /// `schedules/payments.yaml` has.
    const TEAM_WITH_OVERRIDES: &str = "team: payments\ntimezone: UTC\nrotas:\n  primary:\n    members: [alice]\n    start: 2026-01-05T09:00\n    every: 1w\noverrides:\n  - {rota: primary, user: alice, from: 2026-07-01T00:00, to: 2026-07-02T00:00}\n";

    /// With no override the export is still a cover file the loader takes
    /// (`overrides: []`, not a bare `overrides:`, which reads as null).
    #[test]
    fn an_empty_export_loads_beside_a_team_file_with_overrides() {
        let text = yaml("payments", &[]);
        assert!(text.ends_with("overrides: []\n"), "{text}");
        assert_eq!(read_back(&text), Vec::<Vec<(String, String)>>::new());
        let people = "people:\n  alice: {name: Alice}\n";
        let loaded = crate::config::load_texts(&[
            ("people.yaml", people),
            ("payments.yaml", TEAM_WITH_OVERRIDES),
            ("payments-overrides.yaml", &text),
        ]);
        let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
    }

    proptest! {
        /// Every string of an export reads back as it was, whatever it
        /// holds, through the project's YAML reader; and the export saved
        /// as a cover file (as docs/http.md says to) gives the loader
        /// exactly its overrides, nothing hidden in a comment.
        #[test]
        fn overrides_export_round_trips_any_strings(
            team in any_text(),
            entries in proptest::collection::vec(
                (any_text(), any_text(), proptest::option::of(any_text()), proptest::option::of(any_text()), any_text()),
                0..4,
            ),
            by in any_text(),
            reason in proptest::option::of(any_text()),
        ) {
            let overrides: Vec<StoredOverride> = entries
                .iter()
                .enumerate()
                .map(|(i, (rota, user, instead_of, reason, by))| {
                    let mut o = stored(i as i64 + 1, rota, user, by);
                    o.team = team.clone();
                    o.instead_of = instead_of.clone();
                    o.reason = reason.clone();
                    o
                })
                .collect();
            let text = yaml(&team, &overrides);
            let expected: Vec<Vec<(String, String)>> = overrides.iter().map(fields).collect();
            prop_assert_eq!(read_back(&text), expected);

            // Through the loader: real names, the rest arbitrary.
            // The export saved beside a team file that has overrides of
            // its own (as docs/http.md says to).
            let mut o = stored(1, "primary", "dave", &by);
            o.reason = reason.clone();
            let people = "people:\n  alice: {name: Alice}\n  dave: {name: Dave}\n";
            let cover = yaml("payments", &[o]);
            let loaded = crate::config::load_texts(&[
                ("people.yaml", people),
                ("payments.yaml", TEAM_WITH_OVERRIDES),
                ("payments-overrides.yaml", &cover),
            ]);
            let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
            prop_assert!(errors.is_empty(), "{:?} in:\n{}", errors, cover);
            let rota = &loaded.schedule.team("payments").unwrap().rotas[0];
            prop_assert_eq!(rota.overrides.len(), 2, "{}", cover);
            prop_assert_eq!(rota.overrides[1].span, Span::new(at(1, 23), at(2, 23)));
            prop_assert_eq!(rota.overrides[1].user.as_str(), "dave");
        }

        /// Names as rota files allow them go through the loader as well.
        #[test]
        fn overrides_export_of_any_names_loads(rota in name(), user in name(), by in any_text()) {
            let people = format!("people:\n  {user}: {{name: Someone}}\n");
            let text = yaml("payments", &[stored(1, &rota, &user, &by)]);
            let file = format!(
                "team: payments\ntimezone: UTC\nrotas:\n  {rota}:\n    members: [{user}]\n    start: 2026-01-05T09:00\n    every: 1w\n"
            );
            let loaded = crate::config::load_texts(&[
                ("people.yaml", &people),
                ("payments.yaml", &file),
                ("payments-overrides.yaml", &text),
            ]);
            let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
            prop_assert!(errors.is_empty(), "{:?} in:\n{}", errors, text);
            let rota = &loaded.schedule.team("payments").unwrap().rotas[0];
            prop_assert_eq!(rota.overrides.len(), 1);
            prop_assert_eq!(&rota.overrides[0].user, &user);
        }
    }
}
