//! The rota timeline, drawn on the server as HTML and CSS: a horizontal
//! time axis over a window (a day, a week or a month of the viewer's zone),
//! and for each rota one row per layer, the final row (who is on call, gaps
//! in red, hand-off times labelled) and a thin band per shadow; overrides
//! are drawn over the layer they replace; "now" is a line.
//!
//! Pure: it is told the schedule, the window and `now`, and reads no clock.
//! The final row and the shadow bands are [`Rota::expand_borrowed`] and
//! [`Rota::shadow_tiles`] over the window, what `oncall shifts --gaps
//! --shadows` prints for it, so the picture equals the command. Every drawn
//! piece carries `data-k`, its kind (`layer`, `override`, `final`, `gap`,
//! `shadow`), `data-p`, the person (a layer's crew: ids with spaces),
//! `data-s` and `data-e`, its start and end (RFC 3339 UTC), and `data-layer`
//! (layers, overrides) or `data-of` (shadows), for the browser tests and
//! for anyone scripting the page; the "now" line is `data-k=now`.
//!
//! Positions are percentages of the window, computed from UTC instants, so
//! a day with a clock change is 23 or 25 hours wide and the hand-offs sit
//! where they really happen.

use std::fmt::Write as _;

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;

use crate::domain::rota::{Override, Rota};
use crate::domain::schedule::{Schedule, Team};
use crate::domain::time::{Instant, Rfc3339, Span, merge_spans, resolve_local, subtract_spans, to_local};
use crate::html::escape;

/// The longest window `from`/`to` may ask for: a month and a bit. Longer
/// ones are refused (a ten-year page would be megabytes and say nothing).
pub const MAX_DAYS: i64 = 62;

/// How much of time one page shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Day,
    Week,
    Month,
    /// `from` and `to` given (days of the viewer's zone, `to` excluded).
    Custom,
}

impl View {
    pub fn name(self) -> &'static str {
        match self {
            View::Day => "day",
            View::Week => "week",
            View::Month => "month",
            View::Custom => "custom",
        }
    }
}

/// The window a page shows: local days of `tz`, `first` up to `last`
/// (excluded), as instants in `span`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub view: View,
    pub tz: Tz,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub span: Span,
}

/// What a page was asked for, as written in its query (`view`, `at`,
/// `from`, `to`); the zone is parsed by the caller.
#[derive(Clone, Debug, Default)]
pub struct Ask<'a> {
    pub view: Option<&'a str>,
    pub at: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
}

/// Days before this year or after that one are refused: far outside any
/// rota, and chrono's dates end somewhere.
const YEARS: std::ops::RangeInclusive<i32> = 1970..=2200;

/// A day `2026-03-29`, or a month `2026-03` (its first day).
pub fn parse_day(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    let bad = || format!("`{s}` is not a day: write it as YYYY-MM-DD (or a month, YYYY-MM), like 2026-03-29");
    let date = match s.len() {
        7 => {
            let month = crate::domain::pay::Month::parse(s).map_err(|_| bad())?;
            NaiveDate::from_ymd_opt(month.year, month.month, 1).ok_or_else(bad)?
        }
        10 => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    if !YEARS.contains(&date.year()) {
        return Err(format!(
            "`{s}` is out of range: the timeline shows {} to {}",
            YEARS.start(),
            YEARS.end()
        ));
    }
    Ok(date)
}

/// The local midnight starting `day` in `tz`.
fn midnight(tz: Tz, day: NaiveDate) -> Instant {
    resolve_local(tz, day.and_time(NaiveTime::MIN))
}

impl Window {
    /// The window `ask` names in `tz`; without `at`, the one holding `now`.
    /// An error is a sentence for a 400 page.
    pub fn parse(ask: &Ask<'_>, tz: Tz, now: Instant) -> Result<Window, String> {
        if ask.from.is_some() || ask.to.is_some() {
            let (Some(from), Some(to)) = (ask.from, ask.to) else {
                return Err("give both `from` and `to` (days, YYYY-MM-DD), or neither".into());
            };
            let (first, last) = (parse_day(from)?, parse_day(to)?);
            if last <= first {
                return Err(format!("`to` ({last}) must be after `from` ({first})"));
            }
            let days = (last - first).num_days();
            if days > MAX_DAYS {
                return Err(format!(
                    "the window from {first} to {last} is {days} days: the timeline shows at most {MAX_DAYS}"
                ));
            }
            return Ok(Window::of_days(View::Custom, tz, first, last));
        }
        let view = match ask.view.unwrap_or("week") {
            "day" => View::Day,
            "week" => View::Week,
            "month" => View::Month,
            other => {
                return Err(format!(
                    "`{other}` is not a view: ask for day, week or month (or give from and to)"
                ));
            }
        };
        let at = match ask.at {
            Some(s) => parse_day(s)?,
            None => to_local(tz, now).date(),
        };
        Ok(Window::of(view, tz, at))
    }

    /// The window of `view` holding the day `at` in `tz`: the day, its week
    /// (Monday to Monday), its month.
    pub fn of(view: View, tz: Tz, at: NaiveDate) -> Window {
        let (first, last) = match view {
            View::Day | View::Custom => (at, at + Duration::days(1)),
            View::Week => {
                let monday = at - Duration::days(at.weekday().num_days_from_monday().into());
                (monday, monday + Duration::days(7))
            }
            View::Month => {
                let first = at.with_day(1).unwrap_or(at);
                (first, first + Months::new(1))
            }
        };
        Window::of_days(view, tz, first, last)
    }

    fn of_days(view: View, tz: Tz, first: NaiveDate, last: NaiveDate) -> Window {
        Window {
            view,
            tz,
            first,
            last,
            span: Span::new(midnight(tz, first), midnight(tz, last)),
        }
    }

    /// The window before this one and the one after, as `at` days.
    pub fn neighbours(&self) -> (NaiveDate, NaiveDate) {
        match self.view {
            View::Day => (self.first - Duration::days(1), self.last),
            View::Week => (self.first - Duration::days(7), self.last),
            View::Month => (self.first - Months::new(1), self.last),
            View::Custom => {
                let len = self.last - self.first;
                (self.first - len, self.last)
            }
        }
    }

    /// "week of Mon 23 Mar 2026", for headings.
    pub fn label(&self) -> String {
        match self.view {
            View::Day => self.first.format("%A %-d %B %Y").to_string(),
            View::Week => format!("week of {}", self.first.format("%a %-d %b %Y")),
            View::Month => self.first.format("%B %Y").to_string(),
            View::Custom => format!(
                "{} to {}",
                self.first.format("%-d %b %Y"),
                (self.last - Duration::days(1)).format("%-d %b %Y")
            ),
        }
    }

    /// Where `t` sits across the window, in percent (clamped to 0-100).
    fn x(&self, t: Instant) -> f64 {
        let whole = (self.span.end - self.span.start).num_seconds().max(1) as f64;
        let into = (t - self.span.start).num_seconds() as f64;
        (into / whole * 100.0).clamp(0.0, 100.0)
    }
}

/// The inline CSS the timeline needs (the page puts it in its `<style>`).
pub const STYLE: &str = ".sc{overflow-x:auto;margin:0 0 1.2em}h2.h{font-size:1.05em;margin:.8em 0 .2em}h2.h .z{font-weight:400;font-size:.85em;margin-left:.8em}\
.tl{position:relative;min-width:36em;font-size:.85em}.tl.month{min-width:60em}\
.r{display:flex;border-top:1px solid #ddd}\
.l{flex:0 0 7em;padding:.25em .3em;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}\
.n{position:relative;flex:1;min-height:2.4em}\
.n>i{position:absolute;top:.15em;height:2.1em;box-sizing:border-box;overflow:hidden;white-space:nowrap;font-style:normal;\
padding:.1em .25em;border:1px solid #fff;border-radius:.2em;background:#dde6f3;color:#111;line-height:1}\
.n.f{display:flex}.n.f>i{position:relative;flex:none;margin-top:.15em}\
.n>i b{display:block;font-weight:400;font-size:.8em;margin-top:.15em}\
.c1{background:#d8ecd5!important}.c2{background:#f6e3c7!important}.c3{background:#e6dcf2!important}\
.c4{background:#d3ecec!important}.c5{background:#f4d9e1!important}.c6{background:#ecebcc!important}\
.n>i.k1{top:2.55em}.n>i.k2{top:4.95em}.n>i.k3{top:7.35em}.n>i.k4{top:9.75em}\
.n>i.g{background:#b3261e;color:#fff}\
.n>i.o{background:repeating-linear-gradient(135deg,#fff6bf 0 .4em,#f2e08a .4em .8em);border:2px solid #6b5900;z-index:1}\
.n>i.v{border:2px dashed #6b5900}\
.r.sh .n{min-height:.9em}.n>i.s{top:.2em;height:.5em;padding:0;background:#5b4b8a;border:0}\
.ax .n{min-height:1.6em}.n>u{position:absolute;top:0;height:100%;border-left:1px solid #999;padding-left:.15em;font-size:.8em;color:#444;white-space:nowrap;text-decoration:none}\
.now{position:absolute;top:0;bottom:0;width:0;border-left:2px solid #d00;z-index:2;pointer-events:none}\
.now span{position:absolute;top:-.1em;left:.2em;font-size:.75em;color:#b00;background:#fff;white-space:nowrap}\
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}\
nav.w a{margin-right:.8em}";

/// A small palette; a person keeps their colour across rows and pages.
fn colour(person: &str) -> usize {
    let h = person.bytes().fold(5381u32, |h, b| h.wrapping_mul(33) ^ u32::from(b));
    (h % 7) as usize
}

/// The name people read: the person's name if the people file has one.
fn name<'a>(schedule: &'a Schedule, id: &'a str) -> &'a str {
    schedule.people.get(id).map_or(id, |p| p.name.as_str())
}

/// Pieces narrower than this (percent of the window) are drawn without
/// text: it would not show, and a month of many rotas is many pieces.
const TEXT_FROM: f64 = 2.5;

/// One drawn piece. `text` is HTML (escaped by the caller), written only
/// where the piece is wide enough to show it; `extra` more attributes.
struct Piece<'a> {
    class: &'a str,
    kind: &'a str,
    person: Option<&'a str>,
    span: Span,
    text: &'a dyn Fn(&mut String),
    extra: &'a str,
}

/// A piece placed by its `left`.
fn piece(out: &mut String, window: &Window, p: &Piece<'_>) {
    piece_at(out, window, p, false)
}

/// Whether `text` may be written as an attribute value without quotes:
/// only characters of ours (person ids usually are).
fn bare(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'%' | b';'))
}

/// Writes ` name=value`, quoting and escaping `value` unless it is bare.
fn attribute(out: &mut String, name: &str, value: &str) {
    if bare(value) {
        let _ = write!(out, " {name}={value}");
    } else {
        let _ = write!(out, " {name}=\"{}\"", escape(value));
    }
}

/// A piece as an `<i>` in its row: `left` (unless `flow`: the row lays its
/// pieces end to end) and `width` in percent, the data attributes
/// (`data-k` the kind, `data-p` the person, `data-s` and `data-e` the start
/// and end), the text. Short names, and no quotes where none are needed:
/// a month of many rotas is thousands of pieces, and the page has a weight
/// budget.
fn piece_at(out: &mut String, window: &Window, p: &Piece<'_>, flow: bool) {
    // Edges rounded as written, so that pieces laid end to end add up to
    // the whole width.
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let left = round(window.x(p.span.start));
    let width = round(window.x(p.span.end)) - left;
    out.push_str("<i");
    attribute(out, "class", p.class);
    if flow {
        let _ = write!(out, " style=width:{width:.2}%");
    } else {
        let _ = write!(out, " style=left:{left:.2}%;width:{width:.2}%");
    }
    let _ = write!(out, " data-k={}", p.kind);
    if let Some(person) = p.person {
        attribute(out, "data-p", person);
    }
    let _ = write!(
        out,
        " data-s={} data-e={}{}>",
        Rfc3339::new(p.span.start),
        Rfc3339::new(p.span.end),
        p.extra
    );
    if width >= TEXT_FROM {
        (p.text)(out);
    }
    out.push_str("</i>");
}

/// The links a rota's heading offers, built by the caller (which knows the
/// URLs): to the rota's own page, and to show the page in the rota's zone.
pub struct RotaLinks {
    /// The rota's own timeline (none on that page itself).
    pub page: Option<String>,
    /// The same page in the rota's zone (none when already in it).
    pub in_rota_zone: Option<String>,
}

/// What rows each rota gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rows {
    /// A row per layer (overrides drawn over the layer they replace), the
    /// final row, the shadows.
    Layers,
    /// The final row and the shadows only: a whole team over a month (its
    /// rotas' pages have the layers).
    Final,
}

/// The timeline of `rotas` (of `team`) over `window`, as an HTML fragment:
/// one chart (scrolling sideways on a narrow screen) with the axis on top,
/// each rota's heading and rows, and the "now" line across them all where
/// `now` is inside the window. `links(rota)` gives each rota's heading
/// links.
pub fn render(
    schedule: &Schedule,
    team: &Team,
    rotas: &[&Rota],
    window: &Window,
    now: Instant,
    rows: Rows,
    links: &dyn Fn(&Rota) -> RotaLinks,
) -> String {
    let mut out = String::with_capacity(8192 * rotas.len().max(1));
    let _ = write!(
        out,
        "<p class=\"muted\">Times in {}.</p><div class=\"sc\"><div class=\"tl{}\">",
        escape(window.tz.name()),
        if window.view == View::Month { " month" } else { "" },
    );
    axis(&mut out, window);
    for rota in rotas {
        rota_block(&mut out, schedule, team, rota, window, rows, &links(rota));
    }
    if window.span.contains(now) {
        let _ = write!(
            out,
            "<div class=\"now\" style=\"left:calc(7em + (100% - 7em) * {:.5})\" data-k=now data-s={}><span>now {}</span></div>",
            window.x(now) / 100.0,
            Rfc3339::new(now),
            to_local(window.tz, now).format("%H:%M")
        );
    }
    out.push_str("</div></div>\n");
    out
}

#[allow(clippy::too_many_arguments)]
fn rota_block(
    out: &mut String,
    schedule: &Schedule,
    team: &Team,
    rota: &Rota,
    window: &Window,
    rows: Rows,
    links: &RotaLinks,
) {
    let range = window.span;
    let heading = match &links.page {
        Some(url) => format!(
            "<a href=\"{}\">{} / {}</a>",
            escape(url),
            escape(&team.name),
            escape(&rota.name)
        ),
        None => format!("{} / {}", escape(&team.name), escape(&rota.name)),
    };
    let zone_link = match &links.in_rota_zone {
        Some(url) => format!(
            " <a class=\"z\" href=\"{}\">in the rota's zone ({})</a>",
            escape(url),
            escape(rota.tz.name())
        ),
        None => String::new(),
    };
    let _ = write!(out, "<h2 class=\"h\">{heading}{zone_link}</h2>");
    // The hand-off time, in the viewer's zone; a piece that starts with the
    // window has none.
    let label = |out: &mut String, t: Instant| {
        if t > range.start {
            let _ = write!(out, "<b>{}</b>", to_local(window.tz, t).format("%H:%M"));
        }
    };

    if rows == Rows::Layers {
        // Each layer's stretches, and where it is the layer in force (no
        // later layer on): where an override replaces it.
        let layer_tiles: Vec<_> = rota.layers.iter().map(|l| l.tiles(range)).collect();
        let on: Vec<Vec<Span>> = layer_tiles
            .iter()
            .map(|tiles| merge_spans(tiles.iter().map(|t| t.span).collect()))
            .collect();
        for (i, tiles) in layer_tiles.iter().enumerate() {
            let later = merge_spans(on[i + 1..].iter().flatten().copied().collect());
            let on_top = subtract_spans(&on[i], &later);
            let _ = write!(
                out,
                "<div class=\"r\"><div class=\"l\">Layer {}</div><div class=\"n\">",
                i + 1
            );
            let extra = format!(" data-layer={}", i + 1);
            for tile in tiles {
                let Some(crew) = &tile.user else { continue };
                let ids: Vec<&str> = crew.people().map(String::as_str).collect();
                let text = |out: &mut String| {
                    let names: Vec<String> = ids.iter().map(|id| escape(name(schedule, id))).collect();
                    out.push_str(&names.join(" + "));
                    label(out, tile.span.start);
                };
                piece(
                    out,
                    window,
                    &Piece {
                        class: &format!("c{}", colour(ids[0])),
                        kind: "layer",
                        person: Some(&ids.join(" ")),
                        span: tile.span,
                        text: &text,
                        extra: &extra,
                    },
                );
            }
            for o in &rota.overrides {
                for span in replaced(o, &on_top, tiles, range) {
                    let text = |out: &mut String| {
                        out.push_str(&escape(name(schedule, &o.user)));
                        match &o.instead_of {
                            Some(p) => {
                                let _ = write!(out, "<b>for {}</b>", escape(name(schedule, p)));
                            }
                            None => out.push_str("<b>override</b>"),
                        }
                    };
                    piece(
                        out,
                        window,
                        &Piece {
                            class: "o",
                            kind: "override",
                            person: Some(&o.user),
                            span,
                            text: &text,
                            extra: &extra,
                        },
                    );
                }
            }
            out.push_str("</div></div>");
        }
    }

    // The final row: each person's stretches and the gaps, as `oncall
    // shifts` gives them; a group's turn stacks its people.
    let tiles = rota.expand_borrowed(range);
    let mut lanes: Vec<Instant> = Vec::new();
    let mut placed = Vec::with_capacity(tiles.len());
    for tile in &tiles {
        let lane = match lanes.iter().position(|end| *end <= tile.span.start) {
            Some(k) => k,
            None => {
                lanes.push(tile.span.start);
                lanes.len() - 1
            }
        };
        lanes[lane] = tile.span.end;
        placed.push(lane);
    }
    // One lane: the pieces tile the window, end to end, and need no `left`.
    let flow = lanes.len() <= 1;
    out.push_str("<div class=\"r\"><div class=\"l\">On call</div><div class=\"n");
    out.push_str(if flow { " f\"" } else { "\"" });
    if lanes.len() > 1 {
        let _ = write!(out, " style=\"min-height:{:.1}em\"", 2.4 * lanes.len() as f64);
    }
    out.push('>');
    let mut extra = String::new();
    for (tile, lane) in tiles.iter().zip(placed) {
        extra.clear();
        if lane > 0 {
            // Overrides the class's `top`: the piece's own lane.
            let _ = write!(extra, " data-lane={lane}");
        }
        match tile.user {
            Some(id) => {
                // Outlined where someone covers by override: the layers
                // schedule somebody else then.
                let covered = rota.scheduled_at(tile.span.start).is_none_or(|crew| !crew.contains(id));
                let class = format!(
                    "c{}{}{}",
                    colour(id),
                    if covered { " v" } else { "" },
                    if lane > 0 {
                        format!(" k{}", lane.min(4))
                    } else {
                        String::new()
                    }
                );
                let text = |out: &mut String| {
                    out.push_str(&escape(name(schedule, id)));
                    label(out, tile.span.start);
                };
                piece_at(
                    out,
                    window,
                    &Piece {
                        class: &class,
                        kind: "final",
                        person: Some(id),
                        span: tile.span,
                        text: &text,
                        extra: &extra,
                    },
                    flow,
                );
            }
            None => {
                let text = |out: &mut String| {
                    out.push_str("nobody");
                    label(out, tile.span.start);
                };
                piece_at(
                    out,
                    window,
                    &Piece {
                        class: "g",
                        kind: "gap",
                        person: None,
                        span: tile.span,
                        text: &text,
                        extra: &extra,
                    },
                    flow,
                );
            }
        }
    }
    out.push_str("</div></div>");

    // The shadows: a thin band each, under the final row, their words for
    // screen readers only.
    let shadows = rota.shadow_tiles(range);
    if !shadows.is_empty() {
        out.push_str("<div class=\"r sh\"><div class=\"l\">Shadows</div><div class=\"n\">");
        for s in &shadows {
            let extra = format!(" data-of=\"{}\"", escape(&s.of));
            let text = |out: &mut String| {
                let _ = write!(
                    out,
                    "<span class=\"vh\">{} shadows {}</span>",
                    escape(name(schedule, &s.user)),
                    escape(name(schedule, &s.of))
                );
            };
            piece(
                out,
                window,
                &Piece {
                    class: "s",
                    kind: "shadow",
                    person: Some(&s.user),
                    span: s.span,
                    text: &text,
                    extra: &extra,
                },
            );
        }
        out.push_str("</div></div>");
    }
}

/// Where override `o` replaces layer `tiles` within `range`: the layer is
/// the one in force (`on_top`), and a swap applies only where its
/// `instead_of` is in the layer's crew.
fn replaced(
    o: &Override,
    on_top: &[Span],
    tiles: &[crate::domain::rota::Tile<crate::domain::rota::OnDuty<'_>>],
    range: Span,
) -> Vec<Span> {
    let span = o.span.intersect(&range);
    if span.is_empty() {
        return Vec::new();
    }
    let mine: Vec<Span> = match &o.instead_of {
        None => on_top.to_vec(),
        Some(p) => {
            let theirs: Vec<Span> = tiles
                .iter()
                .filter(|t| t.user.as_ref().is_some_and(|c| c.contains(p)))
                .map(|t| t.span)
                .collect();
            // Within the layer's stretches of `p`, where the layer is on top.
            theirs
                .iter()
                .flat_map(|s| on_top.iter().map(move |t| s.intersect(t)))
                .filter(|s| !s.is_empty())
                .collect()
        }
    };
    mine.iter()
        .map(|s| s.intersect(&span))
        .filter(|s| !s.is_empty())
        .collect()
}

/// The time axis: local midnights (week, month, custom) or every three
/// local hours (day), labelled in the viewer's zone.
fn axis(out: &mut String, window: &Window) {
    out.push_str("<div class=\"r ax\" aria-hidden=\"true\"><div class=\"l\"></div><div class=\"n\">");
    let mut ticks: Vec<(Instant, String)> = Vec::new();
    match window.view {
        View::Day => {
            for h in (0..24).step_by(3) {
                let Some(time) = NaiveTime::from_hms_opt(h, 0, 0) else {
                    continue;
                };
                let t = resolve_local(window.tz, window.first.and_time(time));
                ticks.push((t, to_local(window.tz, t).format("%H:%M").to_string()));
            }
        }
        _ => {
            let mut day = window.first;
            while day < window.last {
                let label = match window.view {
                    View::Month => day.format("%-d").to_string(),
                    _ => day.format("%a %-d").to_string(),
                };
                let label = if day.weekday() == Weekday::Mon && window.view == View::Month {
                    format!("Mo {label}")
                } else {
                    label
                };
                ticks.push((midnight(window.tz, day), label));
                day += Duration::days(1);
            }
        }
    }
    ticks.dedup_by_key(|(t, _)| *t);
    for (t, label) in ticks {
        let _ = write!(out, "<u style=left:{:.2}%>{label}</u>", window.x(t));
    }
    out.push_str("</div></div>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_texts;

    fn at(s: &str) -> Instant {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn london() -> Tz {
        "Europe/London".parse().unwrap()
    }

    fn schedule() -> Schedule {
        let people = "people:\n  alice: {name: Alice}\n  bob: {name: \"<b>Bob</b>\"}\n  carol: {name: Carol}\n  dave: {name: Dave}\n";
        let team = "team: ops\ntimezone: Europe/London\nrotas:\n  primary:\n    layers:\n      - {members: [alice, bob], start: 2026-03-23T09:00, every: 1d}\n      - {members: [carol], start: 2026-03-23T09:00, every: 1w, active: [{days: weekdays, from: \"12:00\", to: \"14:00\"}]}\n    shadows:\n      - {user: dave, of: alice}\noverrides:\n  - {rota: primary, user: dave, from: 2026-03-25T00:00, to: 2026-03-25T06:00}\n";
        let loaded = load_texts(&[("people.yaml", people), ("ops.yaml", team)]);
        let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        loaded.schedule
    }

    /// The values of attribute `name` (quoted or not), in order.
    fn attr<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
        let key = format!(" {name}=");
        html.split(key.as_str())
            .skip(1)
            .map(|s| match s.strip_prefix('"') {
                Some(quoted) => quoted.split('"').next().unwrap(),
                None => s.split([' ', '>']).next().unwrap(),
            })
            .collect()
    }

    #[test]
    fn windows_are_local_days_and_a_day_with_a_clock_change_is_23_hours() {
        let now = at("2026-03-29T12:00:00Z");
        let day = Window::parse(
            &Ask {
                view: Some("day"),
                ..Ask::default()
            },
            london(),
            now,
        )
        .unwrap();
        assert_eq!(
            day.span,
            Span::new(at("2026-03-29T00:00:00Z"), at("2026-03-29T23:00:00Z"))
        );
        let week = Window::parse(
            &Ask {
                at: Some("2026-03-29"),
                ..Ask::default()
            },
            london(),
            now,
        )
        .unwrap();
        assert_eq!(week.first, NaiveDate::from_ymd_opt(2026, 3, 23).unwrap());
        assert_eq!(week.span.end, at("2026-03-29T23:00:00Z"));
        let month = Window::parse(
            &Ask {
                view: Some("month"),
                at: Some("2026-03"),
                ..Ask::default()
            },
            london(),
            now,
        )
        .unwrap();
        assert_eq!(
            month.span,
            Span::new(at("2026-03-01T00:00:00Z"), at("2026-03-31T23:00:00Z"))
        );
        assert_eq!(month.neighbours().0, NaiveDate::from_ymd_opt(2026, 2, 1).unwrap());
        assert_eq!(month.neighbours().1, NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
    }

    #[test]
    fn bad_windows_are_sentences() {
        let now = at("2026-03-29T12:00:00Z");
        let err = |ask: Ask<'_>| Window::parse(&ask, london(), now).unwrap_err();
        assert!(
            err(Ask {
                at: Some("2026-13"),
                ..Ask::default()
            })
            .contains("is not a day")
        );
        assert!(
            err(Ask {
                view: Some("decade"),
                ..Ask::default()
            })
            .contains("is not a view")
        );
        assert!(
            err(Ask {
                from: Some("2026-01-01"),
                to: Some("2036-01-01"),
                ..Ask::default()
            })
            .contains("at most 62")
        );
        assert!(
            err(Ask {
                at: Some("9999-01-01"),
                ..Ask::default()
            })
            .contains("out of range")
        );
        assert!(
            err(Ask {
                from: Some("2026-01-01"),
                ..Ask::default()
            })
            .contains("both")
        );
    }

    #[test]
    fn the_final_row_and_the_shadows_are_the_shifts_of_the_window() {
        let schedule = schedule();
        let team = &schedule.teams[0];
        let rota = &team.rotas[0];
        let window = Window::of(View::Week, london(), NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
        let now = at("2026-03-25T03:00:00Z");
        let html = render(&schedule, team, &[rota], &window, now, Rows::Layers, &|_| RotaLinks {
            page: None,
            in_rota_zone: None,
        });
        let pieces: Vec<&str> = html.split("<i ").skip(1).collect();
        let one = |p: &str, name: &str| attr(&format!(" {p}"), name).first().map(|s| s.to_string());
        let kinds = attr(&html, "data-k");
        let drawn: Vec<(String, String, String)> = pieces
            .iter()
            .filter(|p| matches!(one(p, "data-k").as_deref(), Some("final" | "gap")))
            .map(|p| {
                (
                    one(p, "data-p").unwrap_or_default(),
                    one(p, "data-s").unwrap(),
                    one(p, "data-e").unwrap(),
                )
            })
            .collect();
        let expected: Vec<(String, String, String)> = schedule
            .shifts(window.span, None)
            .into_iter()
            .map(|s| {
                (
                    s.tile.user.unwrap_or_default(),
                    Rfc3339::new(s.tile.span.start).to_string(),
                    Rfc3339::new(s.tile.span.end).to_string(),
                )
            })
            .collect();
        assert_eq!(drawn, expected);
        assert!(kinds.contains(&"override"), "{html}");
        assert_eq!(
            kinds.iter().filter(|k| **k == "shadow").count(),
            schedule.shadow_shifts(window.span, None).len()
        );
        assert!(kinds.contains(&"now"));
        // A name with markup is text.
        assert!(html.contains("&lt;b&gt;Bob&lt;/b&gt;"));
        assert!(!html.contains("<b>Bob</b>"));
    }

    #[test]
    fn an_override_is_drawn_over_the_layer_it_replaces() {
        let schedule = schedule();
        let team = &schedule.teams[0];
        let rota = &team.rotas[0];
        let window = Window::of(View::Day, london(), NaiveDate::from_ymd_opt(2026, 3, 25).unwrap());
        let html = render(
            &schedule,
            team,
            &[rota],
            &window,
            at("2026-01-01T00:00:00Z"),
            Rows::Layers,
            &|_| RotaLinks {
                page: None,
                in_rota_zone: None,
            },
        );
        let overrides: Vec<&str> = html.split("<i ").filter(|d| d.contains("data-k=override")).collect();
        // 00:00-06:00 on the 25th, when only the first layer is on.
        assert_eq!(overrides.len(), 1, "{html}");
        assert!(overrides[0].contains("data-layer=1"));
        assert!(overrides[0].contains("data-s=2026-03-25T00:00:00Z data-e=2026-03-25T06:00:00Z"));
        assert!(!html.contains("data-k=now"), "now is outside the window");
    }
}
