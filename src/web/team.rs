//! The timeline pages: `/timeline` (every team and rota, who is on call
//! now, links), `/teams/{team}` (all of a team's rotas) and
//! `/teams/{team}/{rota}` (one rota), drawn by [`super::timeline`].
//!
//! The query: `view` (`day`, `week`, the default, or `month`), `at` (a day
//! `YYYY-MM-DD`, or a month `YYYY-MM`; default today), or `from` and `to`
//! (days, at most [`timeline::MAX_DAYS`] apart) instead; `tz` (an IANA
//! zone; default the viewer's own zone from `people.yaml`, else the team's).
//! Anything else wrong (an unknown team or rota, a month like `2026-13`, a
//! window of ten years, an unknown zone) is a 4xx page saying what, never
//! a 500; names are escaped wherever they are shown.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono_tz::Tz;
use serde::Deserialize;

use super::layout::{self, Nav, escape};
use super::session::Me;
use super::timeline::{self, Ask, RotaLinks, Rows, View, Window};
use crate::domain::rota::Rota;
use crate::domain::schedule::{Schedule, Team};
use crate::http::Shared;

#[derive(Debug, Default, Deserialize)]
pub struct TimelineQuery {
    view: Option<String>,
    at: Option<String>,
    from: Option<String>,
    to: Option<String>,
    tz: Option<String>,
}

/// The CSS of the timeline pages, after the layout's.
pub fn with_style(body: &str) -> String {
    format!("<style>{}</style>{body}", timeline::STYLE)
}

/// A path segment, percent-encoded (team and rota names may hold anything
/// the rota files allow).
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn query_value(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The viewer's zone: theirs in `people.yaml`, else `fallback`.
fn own_zone(schedule: &Schedule, me: &Me, fallback: Tz) -> Tz {
    schedule
        .people
        .get(&me.person)
        .and_then(|p| p.timezone)
        .unwrap_or(fallback)
}

/// `GET /timeline`: every team, its rotas and who is on call on each now.
pub async fn index(State(state): State<Shared>, me: Me) -> Response {
    let now = state.clock.now();
    let schedule = state.schedule();
    let mut body = String::from(
        "<p>Pick a team or a rota to see its timeline.</p>\n<table><tr><th scope=\"col\">Team</th><th scope=\"col\">Rota</th><th scope=\"col\">On call now</th></tr>\n",
    );
    for (team, rota) in schedule.rotas(None) {
        let people = rota.on_call(now);
        let who = if people.is_empty() {
            "<strong class=\"error\">nobody</strong>".to_string()
        } else {
            people
                .iter()
                .map(|p| escape(schedule.people.get(*p).map_or(p.as_str(), |x| x.name.as_str())))
                .collect::<Vec<_>>()
                .join(" and ")
        };
        let _ = writeln!(
            body,
            "<tr><td><a href=\"/teams/{t}\">{}</a></td><td><a href=\"/teams/{t}/{r}\">{}</a></td><td>{who}</td></tr>",
            escape(&team.name),
            escape(&rota.name),
            t = segment(&team.name),
            r = segment(&rota.name),
        );
    }
    body.push_str("</table>\n");
    layout::page(&me, Nav::Timeline, "Timeline", &body)
}

/// `GET /teams/{team}`.
pub async fn team(
    State(state): State<Shared>,
    me: Me,
    Path(team): Path<String>,
    Query(q): Query<TimelineQuery>,
) -> Response {
    show(&state, &me, &team, None, &q)
}

/// `GET /teams/{team}/{rota}`.
pub async fn rota(
    State(state): State<Shared>,
    me: Me,
    Path((team, rota)): Path<(String, String)>,
    Query(q): Query<TimelineQuery>,
) -> Response {
    show(&state, &me, &team, Some(&rota), &q)
}

fn show(state: &Shared, me: &Me, team_name: &str, rota_name: Option<&str>, q: &TimelineQuery) -> Response {
    let now = state.clock.now();
    let schedule = state.schedule();
    let not_found = |what: String| layout::error(StatusCode::NOT_FOUND, Some(me), "Not found", &what);
    let Some(team) = schedule.team(team_name) else {
        return not_found(format!("There is no team named “{team_name}”."));
    };
    let rotas: Vec<&Rota> = match rota_name {
        Some(name) => match team.rotas.iter().find(|r| r.name == name) {
            Some(r) => vec![r],
            None => {
                return not_found(format!("Team {} has no rota named “{name}”.", team.name));
            }
        },
        None => team.rotas.iter().collect(),
    };
    let own = own_zone(&schedule, me, team.tz);
    let tz = match q.tz.as_deref() {
        Some(name) => match name.parse::<Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                return layout::error(
                    StatusCode::BAD_REQUEST,
                    Some(me),
                    "Not a time zone",
                    &format!("“{name}” is not a time zone: give an IANA name, like Europe/London."),
                );
            }
        },
        None => own,
    };
    let ask = Ask {
        view: q.view.as_deref(),
        at: q.at.as_deref(),
        from: q.from.as_deref(),
        to: q.to.as_deref(),
    };
    let window = match Window::parse(&ask, tz, now) {
        Ok(w) => w,
        Err(why) => {
            return layout::error(
                StatusCode::BAD_REQUEST,
                Some(me),
                "Not a window the timeline shows",
                &why,
            );
        }
    };
    let body = page_body(&schedule, team, rota_name, &rotas, &window, q.tz.as_deref(), own, now);
    let title = match rota_name {
        Some(r) => format!("{} / {}: {}", team.name, r, window.label()),
        None => format!("{}: {}", team.name, window.label()),
    };
    layout::page(me, Nav::Timeline, &title, &with_style(&body))
}

/// The page below its title: the window's navigation, the timeline, the key.
#[allow(clippy::too_many_arguments)]
pub fn page_body(
    schedule: &Schedule,
    team: &Team,
    rota_name: Option<&str>,
    rotas: &[&Rota],
    window: &Window,
    tz_asked: Option<&str>,
    own: Tz,
    now: crate::domain::time::Instant,
) -> String {
    let base = match rota_name {
        Some(r) => format!("/teams/{}/{}", segment(&team.name), segment(r)),
        None => format!("/teams/{}", segment(&team.name)),
    };
    // A link to this page with another view, day or zone (`None`: the
    // viewer's own zone, no `tz`).
    let link = |view: View, at: chrono::NaiveDate, tz: Option<&str>| {
        let mut url = format!("{base}?view={}&at={}", view.name(), at.format("%Y-%m-%d"));
        if let Some(tz) = tz {
            url.push_str("&tz=");
            url.push_str(&query_value(tz));
        }
        url
    };
    let view = match window.view {
        View::Custom => View::Week,
        v => v,
    };
    let (previous, next) = window.neighbours();
    let today = crate::domain::time::to_local(window.tz, now).date();
    let mut body = String::new();
    let _ = write!(
        body,
        "<nav class=\"w\" aria-label=\"Window\"><a href=\"{}\" rel=\"prev\">&larr; previous</a><a href=\"{}\">today</a><a href=\"{}\" rel=\"next\">next &rarr;</a> · ",
        escape(&link(view, previous, tz_asked)),
        escape(&link(view, today, tz_asked)),
        escape(&link(view, next, tz_asked)),
    );
    for v in [View::Day, View::Week, View::Month] {
        let here = if v == window.view { " aria-current=\"page\"" } else { "" };
        let _ = write!(
            body,
            "<a href=\"{}\"{here}>{}</a>",
            escape(&link(v, window.first, tz_asked)),
            v.name()
        );
    }
    body.push_str("</nav>\n");
    if window.tz != own {
        let _ = writeln!(
            body,
            "<p class=\"muted\">Shown in {}; <a href=\"{}\">back to your zone ({})</a>.</p>",
            escape(window.tz.name()),
            escape(&link(view, window.first, None)),
            escape(own.name())
        );
    }
    let links = |rota: &Rota| RotaLinks {
        page: rota_name
            .is_none()
            .then(|| format!("/teams/{}/{}", segment(&team.name), segment(&rota.name))),
        in_rota_zone: (rota.tz != window.tz).then(|| link(view, window.first, Some(rota.tz.name()))),
    };
    // A whole team over a month is the final rows: its rotas' pages have
    // the layers (and the page stays light).
    let rows = if rota_name.is_none() && window.span.duration() > chrono::Duration::days(8) {
        body.push_str("<p class=\"muted\">Over a month, each rota's final row; open a rota for its layers.</p>\n");
        Rows::Final
    } else {
        Rows::Layers
    };
    body.push_str(&timeline::render(schedule, team, rotas, window, now, rows, &links));
    body.push_str(
        "<p class=\"muted\">Key: a row per layer (later layers win where they are on), then who is on call; \
         hatched: an override, drawn over the layer it replaces; red: nobody on call; the thin band: someone \
         shadowing; the red line: now. Shifts are cut at the window's edges: previous and next show more.</p>\n",
    );
    body
}
