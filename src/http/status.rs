//! The status page, `GET /status`: who is on call now and next for each
//! team, the alerts not resolved (with Acknowledge and Resolve buttons),
//! the person's own shifts ahead, and a month of one rota. Plain HTML with
//! a little inline CSS, nothing to load: fast on a phone at 3 a.m.
//!
//! Reading it needs a person's status token (`?person=P&token=T`, handed
//! out by `GET /v1/calendar?person=P` as `status_url`), unless the operator
//! made it public (`status_page_public = true`), in which case it shows
//! without buttons. The buttons always act as the person: each is a form
//! that POSTs to a signed, expiring action link (`/v1/act/...`) bound to
//! the alert, the action and the person; the link is the token, so a page
//! on another site cannot forge one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime, SecondsFormat};
use serde::Deserialize;

use super::Shared;
use super::html::page_with_style;
use crate::domain::alert::Status;
use crate::domain::pay::Month;
use crate::domain::rota::Crew;
use crate::domain::schedule::Schedule;
use crate::domain::time::{Instant, Span, resolve_local, to_local};
use crate::html::escape;
use crate::links::Action;

/// How long the buttons' links stay valid: reload the page after that.
const BUTTON_LIFETIME: Duration = Duration::hours(1);
/// How far ahead "next" and a person's shifts are looked for.
const AHEAD: Duration = Duration::days(14);

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60em;margin:1em auto;padding:0 .8em;line-height:1.35}\
table{border-collapse:collapse;width:100%;margin-bottom:1em}th,td{text-align:left;padding:.3em .4em;border-bottom:1px solid #ddd;vertical-align:top}\
.critical{color:#b00;font-weight:bold}.major{color:#a50}.note{color:#555}form{display:inline}\
button{font-size:1em;padding:.35em .9em;margin:.3em .3em 0 0;cursor:pointer}nav a{margin-right:.8em}\
.alert{border:1px solid #ccc;border-radius:.4em;padding:.5em .6em;margin:.5em 0}";

#[derive(Deserialize)]
pub struct StatusQuery {
    person: Option<String>,
    token: Option<String>,
    /// `team/rota` for the month view.
    rota: Option<String>,
    /// `YYYY-MM` for the month view.
    month: Option<String>,
}

/// `GET /status`.
pub async fn page(State(state): State<Shared>, Query(q): Query<StatusQuery>) -> Response {
    let person = match (&q.person, &q.token) {
        (Some(p), Some(t)) if state.links.status_token_ok(p, t) => Some(p.clone()),
        (None, None) if state.status_public => None,
        (Some(_), Some(_)) => {
            return page_with_style(
                StatusCode::FORBIDDEN,
                "Wrong status link",
                "<p>This link is not valid (or the daemon's link secret changed). Ask for your status link again.</p>",
                STYLE,
            );
        }
        _ => {
            return page_with_style(
                StatusCode::FORBIDDEN,
                "Status link needed",
                "<p>Open your own status link: the API gives it (<code>GET /v1/calendar?person=ID</code>, <code>status_url</code>).</p>",
                STYLE,
            );
        }
    };
    let now = state.clock.now();
    let schedule = state.schedule();
    let alerts = match state.store.alerts(None, 200).await {
        Ok(all) => all
            .into_iter()
            .filter(|a| a.status != Status::Resolved)
            .collect::<Vec<_>>(),
        Err(e) => {
            return page_with_style(
                StatusCode::SERVICE_UNAVAILABLE,
                "The store cannot be read",
                &format!("<p>{}</p>", escape(&e.to_string())),
                STYLE,
            );
        }
    };
    let mut body = String::new();
    let who_line = match &person {
        Some(p) => format!(
            "{} ({})",
            escape(
                &schedule
                    .people
                    .get(p)
                    .map(|x| x.name.clone())
                    .unwrap_or_else(|| p.clone())
            ),
            escape(p)
        ),
        None => "anyone (read-only)".into(),
    };
    let _ = writeln!(
        body,
        "<p class=\"note\">As of {} UTC, for {who_line}. Times are UTC.</p>",
        now.format("%Y-%m-%d %H:%M")
    );
    // What needs someone first, then who is on.
    alerts_table(&mut body, &state, &alerts, person.as_deref(), now);
    on_call(&mut body, &schedule, now);
    if let Some(p) = &person {
        own_shifts(&mut body, &schedule, p, now);
    }
    month_view(&mut body, &schedule, &q, now);
    page_with_style(StatusCode::OK, "On call", &body, STYLE)
}

fn name(schedule: &Schedule, id: &str) -> String {
    schedule
        .people
        .get(id)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| id.to_string())
}

/// The people of a turn by name, escaped: "Alice", or "Alice and Bob" for a
/// group on call together.
fn names(schedule: &Schedule, crew: &Crew) -> String {
    let names: Vec<String> = crew.iter().map(|id| escape(&name(schedule, id))).collect();
    names.join(" and ")
}

fn hm(t: Instant) -> String {
    t.format("%a %d %b %H:%M").to_string()
}

fn on_call(body: &mut String, schedule: &Schedule, now: Instant) {
    let _ = writeln!(
        body,
        "<h2>On call now</h2>\n<table><tr><th>Rota</th><th>Now</th><th>Until</th><th>Next</th></tr>"
    );
    for (team, rota) in schedule.rotas(None) {
        // By turn: a group's people together.
        let tiles = rota.turns(Span::new(now, now + AHEAD));
        let current = tiles.first();
        let next = tiles.iter().skip(1).find(|t| t.user.is_some());
        let who = |t: Option<&crate::domain::rota::Tile<Crew>>| match t.and_then(|t| t.user.as_ref()) {
            Some(crew) => names(schedule, crew),
            None => "<strong>nobody</strong>".into(),
        };
        let until = current
            .filter(|t| t.span.end < now + AHEAD)
            .map(|t| hm(t.span.end))
            .unwrap_or_else(|| "—".into());
        let next_text = match next {
            Some(t) => format!("{} from {}", who(Some(t)), hm(t.span.start)),
            None => "—".into(),
        };
        let _ = writeln!(
            body,
            "<tr><td>{} {}</td><td>{}</td><td>{until}</td><td>{next_text}</td></tr>",
            escape(&team.name),
            escape(&rota.name),
            who(current)
        );
    }
    body.push_str("</table>\n");
}

fn alerts_table(
    body: &mut String,
    state: &Shared,
    alerts: &[crate::domain::alert::Alert],
    person: Option<&str>,
    now: Instant,
) {
    let _ = writeln!(body, "<h2>Alerts not resolved ({})</h2>", alerts.len());
    if alerts.is_empty() {
        body.push_str("<p>None.</p>\n");
        return;
    }
    // One block an alert, not a table row: it fits a phone's width.
    for a in alerts {
        let state_text = match (&a.status, &a.acknowledged_by) {
            (Status::Acknowledged, Some(by)) => format!("acknowledged by {}", escape(by)),
            (Status::Acknowledged, None) => "acknowledged".into(),
            _ => format!("open since {}", hm(a.created_at)),
        };
        let mut buttons = String::new();
        if let Some(p) = person {
            let until = now + BUTTON_LIFETIME;
            if a.status == Status::Open {
                let token = state.links.token(Action::Acknowledge, a.id, p, until);
                let _ = write!(
                    buttons,
                    "<form method=\"post\" action=\"/v1/act/{token}\"><button>Acknowledge</button></form>"
                );
            }
            let token = state.links.token(Action::Resolve, a.id, p, until);
            let _ = write!(
                buttons,
                "<form method=\"post\" action=\"/v1/act/{token}\"><button>Resolve</button></form>"
            );
        }
        let _ = writeln!(
            body,
            "<div class=\"alert\"><span class=\"{sev}\">{sev}</span> · {} · alert {}<br><strong>{}</strong><br>\
             <span class=\"note\">{state_text}</span><div>{buttons}</div></div>",
            escape(&a.team),
            a.id,
            escape(&a.summary),
            sev = escape(&a.severity),
        );
    }
}

fn own_shifts(body: &mut String, schedule: &Schedule, person: &str, now: Instant) {
    let _ = writeln!(body, "<h2>Your shifts, the next 14 days</h2>");
    let mine: Vec<_> = schedule
        .shifts(Span::new(now, now + AHEAD), None)
        .into_iter()
        .filter(|s| s.tile.user.as_deref() == Some(person))
        .collect();
    if mine.is_empty() {
        body.push_str("<p>None.</p>\n");
        return;
    }
    body.push_str("<table><tr><th>Team</th><th>Rota</th><th>From</th><th>To</th><th>Hours</th></tr>\n");
    for s in mine {
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>",
            escape(&s.team),
            escape(&s.rota),
            hm(s.tile.span.start),
            hm(s.tile.span.end),
            s.tile.span.duration().num_seconds() as f64 / 3600.0
        );
    }
    body.push_str("</table>\n");
}

/// A month of one rota: each local day, who is on call during it (in the
/// rota's zone), in order.
fn month_view(body: &mut String, schedule: &Schedule, q: &StatusQuery, now: Instant) {
    let chosen = q.rota.as_deref().and_then(|r| r.split_once('/'));
    let Some((team, rota)) = schedule
        .rotas(None)
        .find(|(t, r)| chosen.is_none_or(|(ct, cr)| t.name == ct && r.name == cr))
    else {
        return;
    };
    let month = q
        .month
        .as_deref()
        .and_then(|m| Month::parse(m).ok())
        .unwrap_or_else(|| Month::of(rota.tz, now));
    let Some(span) = month.span(rota.tz) else { return };
    let _ = writeln!(
        body,
        "<h2>{} {} in {} ({})</h2>",
        escape(&team.name),
        escape(&rota.name),
        month.label(),
        escape(rota.tz.name())
    );
    // Links to the other rotas and months, keeping the person and token.
    let keep: String = match (&q.person, &q.token) {
        (Some(p), Some(t)) => format!("person={}&amp;token={}&amp;", escape(p), escape(t)),
        _ => String::new(),
    };
    body.push_str("<nav>");
    for (t, r) in schedule.rotas(None) {
        let _ = write!(
            body,
            "<a href=\"?{keep}rota={}/{}&amp;month={}\">{}/{}</a>",
            escape(&t.name),
            escape(&r.name),
            month.label(),
            escape(&t.name),
            escape(&r.name)
        );
    }
    let _ = writeln!(
        body,
        " <a href=\"?{keep}rota={}/{}&amp;month={}\">&larr; {}</a><a href=\"?{keep}rota={}/{}&amp;month={}\">{} &rarr;</a></nav>",
        escape(&team.name),
        escape(&rota.name),
        month.previous().label(),
        month.previous().label(),
        escape(&team.name),
        escape(&rota.name),
        month.next().label(),
        month.next().label()
    );
    let mut days: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
    for tile in rota.turns(span) {
        let mut day = to_local(rota.tz, tile.span.start).date();
        let who = match &tile.user {
            Some(crew) => names(schedule, crew),
            None => "<strong>nobody</strong>".into(),
        };
        loop {
            let day_start = resolve_local(rota.tz, day.and_time(NaiveTime::MIN));
            if day_start >= tile.span.end {
                break;
            }
            let names = days.entry(day).or_default();
            if names.last() != Some(&who) {
                names.push(who.clone());
            }
            day = day.succ_opt().unwrap_or(day);
            if day.month() != month.month {
                break;
            }
        }
    }
    body.push_str("<table><tr><th>Day</th><th>On call</th></tr>\n");
    for (day, names) in days {
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td></tr>",
            day.format("%a %d"),
            names.join(", then ")
        );
    }
    body.push_str("</table>\n");
    let _ = writeln!(
        body,
        "<p class=\"note\">Generated {}.</p>",
        now.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
}
