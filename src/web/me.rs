//! `/me`: the person signed in, their on-call at a glance.
//!
//! - their next shifts ([`AHEAD`]), each in full: a shift is looked at over
//!   `AROUND` more either side, and one that runs past even that says so
//!   ("continues after ...") rather than being cut silently;
//! - their hours and expected pay this month so far, from the daemon's
//!   ledger priced by `pay.yaml` (`pay::tally`, what `oncall pay --source
//!   ledger` counts), and their burden against their teams' average
//!   (`cli::burden::count`, what `oncall burden` prints);
//! - whom they shadow;
//! - the devices they get Web Push on, and the button that turns it on for
//!   this one (`push.rs`);
//! - for each shift, who could cover it (`cli::burden::candidates`, the
//!   `oncall cover` suggestions) and a form that hands it over: an override
//!   through the overrides API's own checks and store
//!   (`http::overrides::check` and `apply`), made `by` the person signed in,
//!   so the audit trail names them.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Duration;
use serde::Deserialize;

use super::layout::{self, Nav, escape};
use super::session::{Me, Posted};
use crate::cli::burden;
use crate::domain::pay::{self, By, Month};
use crate::domain::schedule::Schedule;
use crate::domain::time::{Instant, Span, to_local};
use crate::http::Shared;
use crate::payroll::from_ledger;

/// How far ahead "my next shifts" looks.
pub const AHEAD: Duration = Duration::days(28);
/// How much further either side a shift is followed to its real edges.
const AROUND: Duration = Duration::days(14);

#[derive(Debug, Default, Deserialize)]
pub struct MeQuery {
    /// The override just added, to say so.
    added: Option<i64>,
    /// What the last push form did (`on`, `test-failed`, `removed`).
    push: Option<String>,
}

/// One of my shifts: its team, rota, span, and whether it runs on past
/// what was looked at (before, after).
struct Mine {
    team: String,
    rota: String,
    span: Span,
    cut: (bool, bool),
}

/// My shifts overlapping `[now, now + AHEAD)`, whole, in time order.
fn my_shifts(schedule: &Schedule, person: &str, now: Instant) -> Vec<Mine> {
    let range = Span::new(now - AROUND, now + AHEAD + AROUND);
    let ahead = Span::new(now, now + AHEAD);
    let mut out: Vec<Mine> = schedule
        .shifts(range, None)
        .into_iter()
        .filter(|s| s.tile.user.as_deref() == Some(person) && !s.tile.span.intersect(&ahead).is_empty())
        .map(|s| Mine {
            cut: (s.tile.span.start == range.start, s.tile.span.end == range.end),
            team: s.team,
            rota: s.rota,
            span: s.tile.span,
        })
        .collect();
    out.sort_by_key(|m| m.span.start);
    out
}

fn when(schedule: &Schedule, person: &str, t: Instant, fallback: chrono_tz::Tz) -> String {
    let tz = schedule.people.get(person).and_then(|p| p.timezone).unwrap_or(fallback);
    format!("{} {}", to_local(tz, t).format("%a %-d %b %Y %H:%M"), tz.name())
}

fn hours(seconds: i64) -> String {
    format!("{:.1}", seconds as f64 / 3600.0)
}

/// `GET /me`.
pub async fn page(State(state): State<Shared>, me: Me, Query(q): Query<MeQuery>) -> Response {
    let now = state.clock.now();
    let live = state.in_force.live();
    let schedule = live.schedule.clone();
    let person = me.person.as_str();
    let zone_of_team = |team: &str| schedule.team(team).map_or(chrono_tz::UTC, |t| t.tz);
    let mut body = String::new();
    if let Some(id) = q.added {
        let _ = writeln!(
            body,
            "<p role=\"status\">Override {id} added, recorded as made by you.</p>"
        );
    }

    // The month so far, from the ledger, priced by pay.yaml.
    let rules = live.pay.clone();
    let payroll_tz = rules.as_ref().map_or(chrono_tz::UTC, |r| r.payroll_tz);
    let month = Month::of(payroll_tz, now);
    let so_far = month.span(payroll_tz).map(|m| Span::new(m.start, now.min(m.end)));
    body.push_str("<h2>This month so far</h2>\n");
    match (so_far, &rules) {
        (Some(span), Some(rules)) => {
            let lookback = Span::new(span.start - crate::payroll::LEDGER_LOOKBACK, span.end);
            match state.store.ledger(lookback).await {
                Ok(ledger) => {
                    let (intervals, pages) = from_ledger(&schedule, rules, &ledger, None);
                    let rows = pay::tally(rules, span, &schedule.people, &intervals, &pages, By::Person);
                    let mine = rows.iter().find(|r| r.person == person);
                    let (seconds, amount, shadow) = mine.map_or((0, pay::Money(0), 0), |r| {
                        (r.totals.seconds.total, r.totals.amount(), r.totals.shadow_seconds)
                    });
                    let _ = writeln!(
                        body,
                        "<p>{}: <strong>{} h</strong> on call{}, expected pay <strong>{}</strong> \
                         <span class=\"muted\">(from the daemon's ledger up to now, priced by pay.yaml)</span>.</p>",
                        month.label(),
                        hours(seconds),
                        if shadow > 0 {
                            format!(" and {} h shadowing", hours(shadow))
                        } else {
                            String::new()
                        },
                        escape(&format!("{} {}", rules.currency.format(amount), rules.currency.code)),
                    );
                    let shares = burden::count(&schedule, rules, span, &intervals, &pages);
                    burden_table(&mut body, &shares, person);
                }
                Err(e) => {
                    let _ = writeln!(
                        body,
                        "<p class=\"error\">The ledger cannot be read now: {}.</p>",
                        escape(&e.to_string())
                    );
                }
            }
        }
        _ => body.push_str(
            "<p class=\"muted\">No pay rules (no pay.yaml without errors in the rota folder): hours and pay are not counted.</p>\n",
        ),
    }

    // My shifts ahead, whole, each with who could cover it.
    let mine = my_shifts(&schedule, person, now);
    let _ = writeln!(
        body,
        "<h2>My next shifts</h2>\n<p class=\"muted\">The next {} days; each shift shown whole.</p>",
        AHEAD.num_days()
    );
    if mine.is_empty() {
        body.push_str("<p>None.</p>\n");
    }
    // The burden over the last 90 days orders who could cover.
    let recent = Span::new(now - Duration::days(90), now);
    let shares = live.pay.as_ref().map_or_else(Vec::new, |rules| {
        let intervals = pay::schedule_intervals(&schedule, recent, None);
        burden::count(&schedule, rules, recent, &intervals, &[])
    });
    for m in &mine {
        let tz = zone_of_team(&m.team);
        let from = if m.cut.0 {
            format!("before {}", when(&schedule, person, m.span.start, tz))
        } else {
            when(&schedule, person, m.span.start, tz)
        };
        let to = if m.cut.1 {
            format!("continues after {}", when(&schedule, person, m.span.end, tz))
        } else {
            when(&schedule, person, m.span.end, tz)
        };
        let _ = write!(
            body,
            "<div class=\"card\"><strong>{} / {}</strong>: {from} to {to} ({} h)",
            escape(&m.team),
            escape(&m.rota),
            hours(m.span.duration().num_seconds())
        );
        let need = Span::new(m.span.start.max(now), m.span.end);
        let candidates = burden::candidates(&schedule, &m.team, need, &shares);
        if candidates.is_empty() {
            body.push_str("<p class=\"muted\">Nobody on the team is free then.</p>");
        } else {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/me\">{}\
                 <input type=\"hidden\" name=\"team\" value=\"{}\"><input type=\"hidden\" name=\"rota\" value=\"{}\">\
                 <input type=\"hidden\" name=\"from\" value=\"{}\"><input type=\"hidden\" name=\"to\" value=\"{}\">\
                 <label>Can someone cover me? <select name=\"user\">",
                me.csrf_input(),
                escape(&m.team),
                escape(&m.rota),
                crate::domain::time::Rfc3339::new(need.start),
                crate::domain::time::Rfc3339::new(need.end),
            );
            for (seconds, p) in &candidates {
                let name = schedule.people.get(*p).map_or(p.as_str(), |x| x.name.as_str());
                let _ = write!(
                    body,
                    "<option value=\"{}\">{} ({} h on call in 90 days)</option>",
                    escape(p),
                    escape(name),
                    hours(*seconds)
                );
            }
            body.push_str(
                "</select></label> <label>Reason <input name=\"reason\" maxlength=\"200\"></label> \
                 <button>Hand this shift over</button></form>",
            );
        }
        body.push_str("</div>\n");
    }

    // Whom I shadow.
    let shadowing: Vec<_> = schedule
        .shadow_shifts(Span::new(now, now + AHEAD), None)
        .into_iter()
        .filter(|s| s.tile.user == person)
        .collect();
    body.push_str("<h2>Whom I shadow</h2>\n");
    if shadowing.is_empty() {
        body.push_str("<p>Nobody in the next 28 days.</p>\n");
    } else {
        body.push_str("<ul>\n");
        for s in &shadowing {
            let tz = zone_of_team(&s.team);
            let of = schedule
                .people
                .get(&s.tile.of)
                .map_or(s.tile.of.as_str(), |x| x.name.as_str());
            let _ = writeln!(
                body,
                "<li>{} on {} / {}, {} to {}</li>",
                escape(of),
                escape(&s.team),
                escape(&s.rota),
                when(&schedule, person, s.tile.span.start, tz),
                when(&schedule, person, s.tile.span.end, tz)
            );
        }
        body.push_str("</ul>\n");
    }

    // The devices I get pushes on, and the button that adds this one.
    body.push_str(&super::push::section(&state, &me, q.push.as_deref()).await);
    layout::page(&me, Nav::Me, "Me", &body)
}

/// My share of each of my teams against its average.
fn burden_table(body: &mut String, shares: &[burden::Share], person: &str) {
    let mine: Vec<&burden::Share> = shares.iter().filter(|s| s.person == person).collect();
    if mine.is_empty() {
        body.push_str("<p>No on-call hours on any team this month yet.</p>\n");
        return;
    }
    body.push_str(
        "<table><tr><th scope=\"col\">Team</th><th scope=\"col\">My hours</th><th scope=\"col\">Team average</th><th scope=\"col\">Share</th></tr>\n",
    );
    for s in mine {
        let average = if s.ratio > 0.0 { s.seconds as f64 / s.ratio } else { 0.0 };
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}×{}</td></tr>",
            escape(&s.team),
            hours(s.seconds),
            hours(average as i64),
            s.ratio,
            if s.ratio > 1.5 {
                " (above the team's average)"
            } else {
                ""
            }
        );
    }
    body.push_str("</table>\n");
}

/// The hand-over form.
#[derive(Debug, Deserialize)]
pub struct CoverForm {
    team: String,
    rota: String,
    user: String,
    from: String,
    to: String,
    reason: Option<String>,
}

/// `POST /me`: an override in which `user` covers my shift (a swap
/// `instead_of` me where the layers put me on call, else a full cover),
/// checked and stored as the API does, made by me.
pub async fn add_override(State(state): State<Shared>, Posted(me, form): Posted<CoverForm>) -> Response {
    // A swap of me where the layers put me on call; where I am on call by
    // someone else's override, a swap of me would never apply, so a full
    // cover.
    let schedule = state.schedule();
    let scheduled = chrono::DateTime::parse_from_rfc3339(form.from.trim())
        .ok()
        .is_some_and(|from| {
            schedule
                .team(&form.team)
                .and_then(|t| t.rotas.iter().find(|r| r.name == form.rota))
                .and_then(|r| r.scheduled_at(from.to_utc()))
                .is_some_and(|crew| crew.contains(&me.person))
        });
    let request = crate::http::overrides::Request {
        team: form.team,
        rota: form.rota,
        user: form.user,
        from: form.from,
        to: form.to,
        instead_of: scheduled.then(|| me.person.clone()),
        reason: form.reason,
        by: None,
    };
    let caller = crate::http::Caller::Person(me.person.clone());
    let done = match crate::http::overrides::check(&state, &caller, request) {
        Ok(new) => crate::http::overrides::apply(&state, new).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(stored) => layout::see_other(&format!("/me?added={}", stored.id)),
        Err(e) => {
            let status = if e.status().is_server_error() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                e.status()
            };
            layout::error(
                status,
                Some(&me),
                "The override was not added",
                &format!("{}. Nothing was changed.", e.message()),
            )
        }
    }
}
