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
//!   so the audit trail names them;
//! - my phone number, verified (since when), or unverified: then proven if
//!   a test SMS or call to it was confirmed in [`PROVEN_FOR`], else unproven
//!   (pages still go to it); with "Verify your phone": the code from the
//!   SMS (`POST /me/phone`) and "send me a new code" (`POST /me/phone/code`),
//!   by `crate::phone_verify`.
//! - their contact methods, each with when a test page by it was last
//!   confirmed (or "unproven": never, or not in [`PROVEN_FOR`]), and a
//!   "Test my pages" button (`POST /me/test-page`, `http::proofs::start`)
//!   whose result, per method, the page shows after.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Duration;
use serde::Deserialize;

use super::layout::{self, Nav, escape};
use super::session::{Me, Posted};
use crate::cli::burden;
use crate::domain::paging::Method;
use crate::domain::pay::{self, By, Month};
use crate::domain::schedule::Schedule;
use crate::domain::time::{Instant, Span, to_local};
use crate::http::Shared;
use crate::payroll::from_ledger;
use crate::store::proof::Confirmed;

/// How far ahead "my next shifts" looks.
pub const AHEAD: Duration = Duration::days(28);
/// How much further either side a shift is followed to its real edges.
const AROUND: Duration = Duration::days(14);

#[derive(Debug, Default, Deserialize)]
pub struct MeQuery {
    /// The override just added, to say so.
    added: Option<i64>,
    /// What was just done to my phone's verification: `verified`, `sent`.
    phone: Option<String>,
    /// The test page just sent, to show how it went.
    tested: Option<i64>,
    /// What the last push form did (`on`, `test-failed`, `removed`).
    push: Option<String>,
}

/// How long a confirmed test page proves a method: older, it is flagged
/// unproven again (as `oncall check` warns).
pub const PROVEN_FOR: Duration = Duration::days(90);

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

    match q.phone.as_deref() {
        Some("verified") => body.push_str("<p role=\"status\">Your phone number is verified.</p>\n"),
        Some("sent") => body.push_str("<p role=\"status\">A new code is on its way by SMS.</p>\n"),
        _ => {}
    }
    // The last confirmed test pages, read once for my phone and my methods.
    let confirmed = state.store.confirmed().await;
    if let Err(e) = my_phone(
        &mut body,
        &state,
        &me,
        &schedule,
        confirmed.as_deref().unwrap_or(&[]),
        now,
    )
    .await
    {
        return super::session::store_failed(e);
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

    contact_methods(&state, &me, &confirmed, q.tested, now, &mut body).await;

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

/// My phone number: verified (when), or unverified and then proven by a
/// confirmed test SMS or call, or unproven (pages still go to it); locked
/// after wrong codes; and the forms that verify it.
async fn my_phone(
    body: &mut String,
    state: &Shared,
    me: &Me,
    schedule: &Schedule,
    confirmed: &[Confirmed],
    now: Instant,
) -> Result<(), crate::store::StoreError> {
    let person = me.person.as_str();
    let Some(phone) = my_number(schedule, person) else {
        return Ok(());
    };
    let at = |t: Instant| when(schedule, person, t, chrono_tz::UTC);
    let row = state
        .store
        .phone_verification(person.to_string(), phone.clone())
        .await?;
    body.push_str("<h2>My phone</h2>\n");
    if let Some(verified) = row.as_ref().and_then(|r| r.verified_at) {
        let _ = writeln!(
            body,
            "<p>{}: <strong>verified</strong> since {}.</p>",
            escape(&phone),
            at(verified)
        );
        return Ok(());
    }
    // Unverified, but a confirmed test SMS (or call) to it within
    // PROVEN_FOR proves it as much: say so, as the contact methods below do.
    let proven = [Method::Sms, Method::Voice]
        .into_iter()
        .filter_map(|m| crate::store::proof::last_confirmed(confirmed, person, m, &phone).map(|t| (t, m)))
        .filter(|(t, _)| *t + PROVEN_FOR > now)
        .max_by_key(|(t, _)| *t);
    match proven {
        Some((t, method)) => {
            let _ = writeln!(
                body,
                "<p>{}: <strong>unverified</strong> (no code entered), but proven: a test {} to it was \
                 confirmed at {}.</p>",
                escape(&phone),
                if method == Method::Voice { "call" } else { "SMS" },
                at(t)
            );
        }
        None => {
            let _ = writeln!(
                body,
                "<p>{}: <strong>unverified</strong> <span class=\"unproven\">(unproven: pages still go to it, \
                 but nobody has shown that they arrive)</span>.</p>",
                escape(&phone)
            );
        }
    }
    let row = row.unwrap_or_default();
    if let Some(until) = row.locked_until.filter(|until| now < *until) {
        let _ = writeln!(
            body,
            "<p class=\"error\">Verification is locked until {} after three wrong codes. Pages still go to this number.</p>",
            at(until)
        );
    } else if let (Some(sent), Some(expires)) = (row.sent_at, row.expires_at.filter(|e| now < *e)) {
        let _ = writeln!(
            body,
            "<p class=\"muted\">A code was texted to it at {}; it counts until {}.</p>",
            at(sent),
            at(expires)
        );
    }
    if state.phone_sms.is_none() {
        body.push_str(
            "<p class=\"muted\">This oncall texts no verification codes (no [sms] settings), \
             so the number cannot be verified here.</p>\n",
        );
        return Ok(());
    }
    let _ = writeln!(
        body,
        "<h3>Verify your phone</h3>\n\
         <form method=\"post\" action=\"/me/phone\">{csrf}<label>Code from the SMS \
         <input name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"12\" required></label> \
         <button>Verify</button></form>\n\
         <form method=\"post\" action=\"/me/phone/code\">{csrf}<button>Send me a new code</button></form>\n\
         <p class=\"muted\">Or reply to the SMS with VERIFY and the code.</p>",
        csrf = me.csrf_input()
    );
    Ok(())
}

/// My phone number in `people.yaml`, if I have one.
fn my_number(schedule: &Schedule, person: &str) -> Option<String> {
    schedule
        .people
        .get(person)?
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

/// The code form.
#[derive(Debug, Deserialize)]
pub struct CodeForm {
    code: String,
}

/// `POST /me/phone`: a verification code for my number, checked as an SMS
/// reply is (wrong entries by either count together).
pub async fn verify_phone(State(state): State<Shared>, Posted(me, form): Posted<CodeForm>) -> Response {
    use crate::phone_verify::{Checked, MAX_WRONG, code_of, confirm};
    let schedule = state.schedule();
    let Some(phone) = my_number(&schedule, &me.person) else {
        return layout::error(
            StatusCode::BAD_REQUEST,
            Some(&me),
            "No phone number",
            "people.yaml gives you no phone number to verify; nothing was changed.",
        );
    };
    let Some(code) = code_of(&form.code) else {
        return layout::error(
            StatusCode::BAD_REQUEST,
            Some(&me),
            "That is not a code",
            "A code is the six digits in the SMS; this was not counted as a try.",
        );
    };
    let now = state.clock.now();
    let at = |t: Instant| when(&schedule, &me.person, t, chrono_tz::UTC);
    match confirm(&state, &me.person, &phone, &code, now).await {
        Ok(Checked::Verified | Checked::AlreadyVerified(_)) => layout::see_other("/me?phone=verified"),
        Ok(Checked::Wrong { left }) => layout::error(
            StatusCode::BAD_REQUEST,
            Some(&me),
            "Wrong code",
            &format!(
                "That code is wrong. {left} {} left: {MAX_WRONG} wrong codes lock verification of this number for an hour.",
                if left == 1 { "try" } else { "tries" }
            ),
        ),
        Ok(Checked::LockedNow { until } | Checked::Locked { until }) => layout::error(
            StatusCode::TOO_MANY_REQUESTS,
            Some(&me),
            "Verification locked",
            &format!(
                "After {MAX_WRONG} wrong codes, verification of this number is locked until {}; nothing was checked now. \
                 Pages still go to this number.",
                at(until)
            ),
        ),
        Ok(Checked::Expired) => layout::error(
            StatusCode::BAD_REQUEST,
            Some(&me),
            "Code expired",
            "That code has expired: ask for a new one.",
        ),
        Ok(Checked::NoCode) => layout::error(
            StatusCode::BAD_REQUEST,
            Some(&me),
            "No code",
            "No code was sent to this number yet: ask for one.",
        ),
        Err(e) => super::session::store_failed(e),
    }
}

/// The "send me a new code" form: nothing but the CSRF token.
#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// `POST /me/phone/code`: a new code to my number (at most one an hour).
pub async fn new_phone_code(State(state): State<Shared>, Posted(me, _): Posted<NoFields>) -> Response {
    use crate::phone_verify::{Offered, Start, offer};
    let schedule = state.schedule();
    let Some(phone) = my_number(&schedule, &me.person) else {
        return layout::error(
            StatusCode::BAD_REQUEST,
            Some(&me),
            "No phone number",
            "people.yaml gives you no phone number to verify; nothing was sent.",
        );
    };
    let now = state.clock.now();
    match offer(&state, &me.person, &phone, now, true).await {
        Ok(Offered::Sent) => layout::see_other("/me?phone=sent"),
        Ok(Offered::Not(Start::Verified(_))) => layout::see_other("/me?phone=verified"),
        Ok(Offered::Not(Start::TooSoon { next } | Start::Pending { expires: next })) => layout::error(
            StatusCode::TOO_MANY_REQUESTS,
            Some(&me),
            "Not yet",
            &format!(
                "A code went to this number less than an hour ago; the next can go at {}.",
                when(&schedule, &me.person, next, chrono_tz::UTC)
            ),
        ),
        Ok(Offered::Not(Start::Send)) => layout::see_other("/me?phone=sent"),
        Ok(Offered::NoSms) => layout::error(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(&me),
            "No SMS",
            "This oncall has no SMS settings ([sms]), so it cannot text a code.",
        ),
        Ok(Offered::Failed(why)) => layout::error(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(&me),
            "Not sent",
            &format!("The SMS could not be sent ({why}); try again later."),
        ),
        Err(e) => super::session::store_failed(e),
    }
}

/// My contact methods: each with its last confirmed test page, the "Test
/// my pages" button, and how the test just sent went.
async fn contact_methods(
    state: &Shared,
    me: &Me,
    confirmed: &Result<Vec<Confirmed>, crate::store::StoreError>,
    tested: Option<i64>,
    now: Instant,
    body: &mut String,
) {
    let schedule = state.schedule();
    let Some(p) = schedule.people.get(&me.person) else {
        return;
    };
    body.push_str("<h2>My contact methods</h2>\n");
    let confirmed: &[Confirmed] = match confirmed {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(
                body,
                "<p class=\"error\">The store cannot be read now: {}.</p>",
                escape(&e.to_string())
            );
            &[]
        }
    };
    body.push_str(
        "<p class=\"muted\">A method is paged whether or not it is proven; a test page proves it reaches you.</p>\n\
         <table><tr><th scope=\"col\">Method</th><th scope=\"col\">Destination</th><th scope=\"col\">Last confirmed</th></tr>\n",
    );
    // Each device with Web Push on is a destination of `push` too.
    let devices: Vec<String> = match (
        &state.web.webpush,
        state.store.webpush_subscriptions(Some(me.person.clone())).await,
    ) {
        (Some(_), Ok(subs)) => subs
            .iter()
            .map(|d| format!("{}{}", crate::domain::paging::WEB_PUSH_PREFIX, d.id))
            .collect(),
        _ => Vec::new(),
    };
    let destinations = Method::ALL
        .into_iter()
        .filter_map(|m| Some((m, p.contact(m)?)))
        .chain(devices.iter().map(|d| (Method::Push, d.as_str())));
    for (m, to) in destinations {
        let last = crate::store::proof::last_confirmed(confirmed, &me.person, m, to);
        let cell = match last {
            Some(t) if t + PROVEN_FOR > now => crate::domain::time::Rfc3339::new(t).to_string(),
            Some(t) => format!(
                "{} <strong>unproven</strong> (over {} days ago)",
                crate::domain::time::Rfc3339::new(t),
                PROVEN_FOR.num_days()
            ),
            None => "never <strong>unproven</strong>".to_string(),
        };
        let _ = writeln!(body, "<tr><td>{m}</td><td>{}</td><td>{cell}</td></tr>", escape(to));
    }
    body.push_str("</table>\n");
    let _ = writeln!(
        body,
        "<form method=\"post\" action=\"/me/test-page\">{}<button>Test my pages</button></form>",
        me.csrf_input()
    );
    let Some(id) = tested else { return };
    match state.store.test_page(id).await {
        Ok(Some(test)) if test.person == me.person => {
            let _ = writeln!(
                body,
                "<p role=\"status\">Test page {id} sent: open the link (or press 1, or reply YES) in each to confirm it. \
                 Reload to see how it went.</p>\n<table><tr><th scope=\"col\">Method</th><th scope=\"col\">Sent</th>\
                 <th scope=\"col\">Delivered</th><th scope=\"col\">Confirmed</th></tr>"
            );
            let t =
                |t: Option<Instant>| t.map_or("-".to_string(), |t| crate::domain::time::Rfc3339::new(t).to_string());
            for pr in &test.proofs {
                let sent = match (pr.state.as_str(), &pr.error) {
                    ("failed", Some(e)) => format!("failed: {e}"),
                    ("sent", _) => t(pr.sent_at),
                    (state, _) => state.to_string(),
                };
                let _ = writeln!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    pr.method,
                    escape(&sent),
                    escape(&t(pr.delivered())),
                    escape(&t(pr.confirmed_at))
                );
            }
            body.push_str("</table>\n");
        }
        _ => {}
    }
}

/// The "Test my pages" form: nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub struct TestForm {}

/// `POST /me/test-page`: a test page to me by each of my methods.
pub async fn test_page(State(state): State<Shared>, Posted(me, _): Posted<TestForm>) -> Response {
    match crate::http::proofs::start(&state, &me.person, None, &me.person).await {
        Ok((id, _)) => layout::see_other(&format!("/me?tested={id}")),
        Err(e) => {
            let status = if e.status().is_server_error() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                e.status()
            };
            layout::error(status, Some(&me), "No test page was sent", &format!("{}.", e.message()))
        }
    }
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
