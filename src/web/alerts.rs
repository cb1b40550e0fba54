//! The alerts page (`/alerts`): open and acknowledged alerts, the most
//! severe first and, within a severity, the oldest first; each with its
//! timeline (opened, whom each step paged, each page handed over or failed
//! and why, who acknowledged, the lead) and forms to acknowledge, resolve
//! and hand over the lead, done as the person signed in. And the wallboard
//! (`/wallboard`): who is on call now on every rota, for a screen.
//!
//! Both refresh themselves every [`REFRESH_SECONDS`] with the layout's
//! script; without it they are the same pages, reloaded by hand.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Duration;
use serde::Deserialize;
use serde_json::Value;

use super::layout::{self, Nav, escape};
use super::session::{self, Me, Posted};
use crate::domain::alert::{Alert, Status, TimelineEntry};
use crate::domain::time::{Instant, Span};
use crate::http::Shared;
use crate::store::LeadChange;

/// How often the pages fetch themselves again (with script).
pub const REFRESH_SECONDS: u32 = 30;

/// The most alerts of each state shown.
const MOST: usize = 200;

/// How far ahead the wallboard looks for who is next.
const AHEAD: Duration = Duration::days(14);

fn time(t: Instant) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `GET /alerts`.
pub async fn page(State(state): State<Shared>, me: Me) -> Response {
    let mut alerts = Vec::new();
    for status in [Status::Open, Status::Acknowledged] {
        match state.store.alerts(Some(status), MOST).await {
            Ok(found) => alerts.extend(found),
            Err(e) => return session::store_failed(e),
        }
    }
    // The most severe first (an unknown severity last), then the oldest.
    let rank = |a: &Alert| state.severities.rank(&a.severity).map_or(-1, |r| r as i64);
    alerts.sort_by(|a, b| {
        rank(b)
            .cmp(&rank(a))
            .then(a.created_at.cmp(&b.created_at))
            .then(a.id.cmp(&b.id))
    });
    let now = state.clock.now();
    let mut body = format!(
        "<main data-refresh=\"{REFRESH_SECONDS}\"><p class=\"muted\">{} not resolved, as of {}.</p>\n",
        alerts.len(),
        time(now)
    );
    let people: Vec<(String, String)> = state
        .schedule()
        .people
        .values()
        .map(|p| (p.id.clone(), p.name.clone()))
        .collect();
    for alert in &alerts {
        let timeline = match state.store.alert(alert.id).await {
            Ok(Some((_, timeline))) => timeline,
            Ok(None) => continue,
            Err(e) => return session::store_failed(e),
        };
        card(&mut body, &me, alert, &timeline, &people);
    }
    body.push_str("</main>");
    layout::page(&me, Nav::Alerts, "Alerts", &body)
}

/// One alert: what, how bad, since when, its state and lead, the forms,
/// its timeline.
fn card(body: &mut String, me: &Me, a: &Alert, timeline: &[TimelineEntry], people: &[(String, String)]) {
    let state_text = match (&a.status, &a.acknowledged_by) {
        (Status::Acknowledged, Some(by)) => format!("acknowledged by {}", escape(by)),
        (Status::Acknowledged, None) => "acknowledged".into(),
        _ => "open".into(),
    };
    let lead = a.lead.as_deref().map_or_else(|| "nobody yet".to_string(), escape);
    let _ = write!(
        body,
        "<section class=\"card alert\" id=\"alert-{id}\" data-severity=\"{sev}\"><span class=\"{sev}\">{sev}</span> · {team} · alert {id} · since {since}<br>\
         <strong class=\"summary\">{summary}</strong><br><span class=\"muted\">{state_text}; lead: {lead}</span><div>",
        id = a.id,
        sev = escape(&a.severity),
        team = escape(&a.team),
        since = time(a.created_at),
        summary = escape(&a.summary),
    );
    let csrf = me.csrf_input();
    if a.status == Status::Open {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/alerts/{}/ack\">{csrf}<button>Acknowledge</button></form>",
            a.id
        );
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/alerts/{}/resolve\">{csrf}<button>Resolve</button></form>\
         <form method=\"post\" action=\"/alerts/{}/lead\">{csrf}<label>Lead <select name=\"lead\">",
        a.id, a.id
    );
    for (id, name) in people {
        let chosen = if a.lead.as_deref() == Some(id.as_str()) || (a.lead.is_none() && *id == me.person) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<option value=\"{}\"{chosen}>{}</option>",
            escape(id),
            escape(name)
        );
    }
    body.push_str("</select></label><button>Hand over the lead</button></form></div>\n<ol class=\"timeline\">");
    for entry in timeline {
        let _ = write!(
            body,
            "<li class=\"{kind}\"><time>{}</time> {kind}{}</li>",
            time(entry.at),
            detail(&entry.detail),
            kind = entry.kind.as_str(),
        );
    }
    body.push_str("</ol></section>\n");
}

/// A timeline entry's detail in words: `key: value` pairs, escaped.
fn detail(detail: &Value) -> String {
    fn text(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| format!("{k}: {}", text(v)))
                .collect::<Vec<_>>()
                .join(", "),
            Value::Null => "none".into(),
            other => other.to_string(),
        }
    }
    match detail {
        Value::Object(map) if map.is_empty() => String::new(),
        Value::Null => String::new(),
        other => format!(" — {}", escape(&text(other))),
    }
}

/// The fields of the lead form (the others have none but `csrf`).
#[derive(Deserialize)]
pub struct ActForm {
    lead: Option<String>,
}

/// `POST /alerts/{id}/{ack|resolve|lead}`: done as the person signed in,
/// then back to the alert.
pub async fn act(
    State(state): State<Shared>,
    Path((id, action)): Path<(String, String)>,
    Posted(me, form): Posted<ActForm>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return layout::error(
            StatusCode::NOT_FOUND,
            Some(&me),
            "No such alert",
            &format!("There is no alert `{id}`."),
        );
    };
    let now = state.clock.now();
    let by = Some(me.person.clone());
    let done = match action.as_str() {
        "ack" => state.store.acknowledge(id, by, now).await.map(|a| a.is_some()),
        "resolve" => state.store.resolve(id, by, now).await.map(|a| a.is_some()),
        "lead" => {
            let lead = form.lead.unwrap_or_default();
            if !state.schedule().people.contains_key(&lead) {
                return layout::error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(&me),
                    "No such person",
                    &format!("`{lead}` is not in the people file; nothing was changed."),
                );
            }
            match state.store.hand_lead(id, lead, by, now).await {
                Ok(LeadChange::NoAlert) => Ok(false),
                Ok(LeadChange::Resolved(_)) => {
                    return layout::error(
                        StatusCode::CONFLICT,
                        Some(&me),
                        "Already resolved",
                        &format!("Alert {id} is resolved: its lead stays as it was."),
                    );
                }
                Ok(_) => Ok(true),
                Err(e) => Err(e),
            }
        }
        other => {
            return layout::error(
                StatusCode::NOT_FOUND,
                Some(&me),
                "No such action",
                &format!("`{other}` is not an action: ack, resolve or lead."),
            );
        }
    };
    match done {
        Ok(true) => {
            state.engine.wake();
            tracing::info!(alert = id, person = %me.person, action = %action, "acted from the web");
            layout::see_other(&format!("/alerts#alert-{id}"))
        }
        Ok(false) => layout::error(
            StatusCode::NOT_FOUND,
            Some(&me),
            "No such alert",
            &format!("There is no alert {id}."),
        ),
        Err(e) => session::store_failed(e),
    }
}

/// `GET /wallboard`: who is on call now on every rota, until when, and who
/// is next.
pub async fn wallboard(State(state): State<Shared>, me: Me) -> Response {
    let now = state.clock.now();
    let schedule = state.schedule();
    let name = |id: &str| escape(schedule.people.get(id).map_or(id, |p| p.name.as_str()));
    let mut body = format!(
        "<main data-refresh=\"{REFRESH_SECONDS}\"><p class=\"muted\">As of {}.</p>\n\
         <table class=\"wallboard\"><tr><th>Team</th><th>Rota</th><th>On call now</th><th>Until</th><th>Next</th></tr>\n",
        time(now)
    );
    for (team, rota) in schedule.rotas(None) {
        let tiles = rota.turns(Span::new(now, now + AHEAD));
        let who =
            |t: Option<&crate::domain::rota::Tile<crate::domain::rota::Crew>>| match t.and_then(|t| t.user.as_ref()) {
                Some(crew) => crew.iter().map(|p| name(p)).collect::<Vec<_>>().join(" and "),
                None => "<strong class=\"critical\">nobody</strong>".into(),
            };
        let current = tiles.first();
        let until = current
            .filter(|t| t.span.end < now + AHEAD)
            .map_or_else(|| "—".to_string(), |t| time(t.span.end));
        let next = tiles.iter().skip(1).find(|t| t.user.is_some());
        let next_text = next.map_or_else(
            || "—".to_string(),
            |t| format!("{} from {}", who(Some(t)), time(t.span.start)),
        );
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td><td class=\"now\">{}</td><td>{until}</td><td>{next_text}</td></tr>",
            escape(&team.name),
            escape(&rota.name),
            who(current)
        );
    }
    body.push_str("</table></main>");
    layout::page(&me, Nav::Wallboard, "Who is on call", &body)
}
