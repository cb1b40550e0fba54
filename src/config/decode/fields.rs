//! What the decoders share: the diagnostics of one file ([`Cx`]), a
//! mapping's keys checked against those allowed ([`Fields`]), and the small
//! values every part of a file is made of (text, lists, time zones, times,
//! durations, windows). `config::pay` reads its file with them too.

use chrono::{Duration, NaiveDateTime, Weekday};
use chrono_tz::Tz;

use super::super::Origin;
use super::super::diag::{Diagnostic, Severity, did_you_mean, shown};
use super::super::text::{self, DAY_WORDS, WrittenTime};
use super::super::yaml::{Node, Pos, Value};
use crate::domain::time::{Instant, resolve_local, to_local};
use crate::domain::window::ActiveWindow;

/// Collects the diagnostics of one file.
pub(in crate::config) struct Cx<'a> {
    pub(in crate::config) file: &'a str,
    pub(in crate::config) diags: &'a mut Vec<Diagnostic>,
}

impl Cx<'_> {
    pub(in crate::config) fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(pos, Severity::Error, message.into());
    }

    pub(in crate::config) fn warn(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(pos, Severity::Warning, message.into());
    }

    fn push(&mut self, pos: Pos, severity: Severity, message: String) {
        self.diags.push(Diagnostic {
            file: self.file.to_string(),
            pos,
            severity,
            message,
        });
    }

    pub(super) fn origin(&self, pos: Pos) -> Origin {
        Origin {
            file: self.file.to_string(),
            pos,
        }
    }
}

/// A mapping's entries by key, checked against the keys allowed there.
pub(in crate::config) struct Fields<'n> {
    pub(in crate::config) node: &'n Node,
    items: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    pub(in crate::config) fn get(&self, key: &str) -> Option<&'n Node> {
        self.items
            .iter()
            .find(|(k, ..)| *k == key)
            .map(|(_, _, v)| *v)
            .filter(|v| !v.is_null())
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(in crate::config) fn key_pos(&self, key: &str) -> Pos {
        self.items
            .iter()
            .find(|(k, ..)| *k == key)
            .map(|(_, k, _)| k.pos)
            .unwrap_or(self.node.pos)
    }

    pub(in crate::config) fn required(&self, cx: &mut Cx, key: &str, what: &str) -> Option<&'n Node> {
        let found = self.get(key);
        if found.is_none() {
            cx.error(self.node.pos, format!("{what} needs `{key}`"));
        }
        found
    }
}

pub(in crate::config) fn fields<'n>(cx: &mut Cx, node: &'n Node, what: &str, allowed: &[&str]) -> Option<Fields<'n>> {
    let Value::Map(entries) = &node.value else {
        cx.error(
            node.pos,
            format!("{what} should be a mapping of keys to values, found {}", node.kind()),
        );
        return None;
    };
    let mut items: Vec<(&'n str, &'n Node, &'n Node)> = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let Some(key) = k.as_str() else {
            cx.error(k.pos, format!("keys of {what} should be words, found {}", k.kind()));
            continue;
        };
        if let Some((_, first, _)) = items.iter().find(|(seen, ..)| *seen == key) {
            cx.error(
                k.pos,
                format!("duplicate key `{key}` in {what} (first at line {})", first.pos.line),
            );
            continue;
        }
        if !allowed.contains(&key) {
            match did_you_mean(key, allowed.iter().copied()) {
                Some(close) => cx.error(
                    k.pos,
                    format!("unknown key `{}` in {what}; did you mean `{close}`?", shown(key)),
                ),
                None => cx.error(
                    k.pos,
                    format!(
                        "unknown key `{}` in {what}; expected one of: {}",
                        shown(key),
                        allowed.join(", ")
                    ),
                ),
            }
            continue;
        }
        items.push((key, k, v));
    }
    Some(Fields { node, items })
}

pub(in crate::config) fn string<'n>(cx: &mut Cx, node: &'n Node, what: &str) -> Option<&'n str> {
    match node.as_str() {
        Some(s) if !node.is_null() => Some(s),
        _ => {
            cx.error(node.pos, format!("{what} should be text, found {}", node.kind()));
            None
        }
    }
}

pub(in crate::config) fn list<'n>(cx: &mut Cx, node: &'n Node, what: &str) -> Option<&'n [Node]> {
    match &node.value {
        Value::Seq(items) => Some(items),
        _ => {
            cx.error(node.pos, format!("{what} should be a list, found {}", node.kind()));
            None
        }
    }
}

pub(in crate::config) fn timezone(cx: &mut Cx, node: &Node) -> Option<Tz> {
    let name = string(cx, node, "timezone")?;
    match name.parse::<Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
            match did_you_mean(name, names) {
                Some(close) => cx.error(
                    node.pos,
                    format!("unknown time zone `{}`; did you mean `{close}`?", shown(name)),
                ),
                None => cx.error(
                    node.pos,
                    format!(
                        "unknown time zone `{}`: use an IANA name such as Europe/London",
                        shown(name)
                    ),
                ),
            }
            None
        }
    }
}

pub(super) fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub(in crate::config) fn mapping_entries<'n>(cx: &mut Cx, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
    match &node.value {
        Value::Map(entries) => Some(entries),
        _ => {
            cx.error(node.pos, format!("{what} should be a mapping, found {}", node.kind()));
            None
        }
    }
}

/// A written time as local wall-clock time in `tz` (an exact time is
/// converted to the zone's wall clock).
pub(super) fn local_time(cx: &mut Cx, tz: Tz, node: &Node, what: &str) -> Option<NaiveDateTime> {
    let s = string(cx, node, what)?;
    match text::parse_time(s) {
        Ok(WrittenTime::Local(t)) => Some(t),
        Ok(WrittenTime::Exact(t)) => {
            let local = to_local(tz, t);
            if resolve_local(tz, local) != t {
                // The second pass through a repeated hour: as a wall-clock
                // time it would mean the first.
                cx.error(
                    node.pos,
                    format!(
                        "{what} {s} is the second {} of a repeated hour in {tz}; hand-offs are wall-clock times, so pick a time that happens once",
                        local.format("%H:%M")
                    ),
                );
                return None;
            }
            Some(local)
        }
        Err(message) => {
            cx.error(node.pos, message);
            None
        }
    }
}

const WINDOW_KEYS: &[&str] = &["days", "from", "to"];

/// One window; `days` may be left out (every day) unless `days_required`.
pub(in crate::config) fn window(cx: &mut Cx, node: &Node, days_required: bool) -> Option<ActiveWindow> {
    let f = fields(cx, node, "an active window", WINDOW_KEYS)?;
    let days_node = if days_required {
        Some(f.required(cx, "days", "an active window")?)
    } else {
        f.get("days")
    };
    let mut days = [days_node.is_none(); 7];
    let mut ok = true;
    let day_nodes: Vec<&Node> = match days_node.map(|n| &n.value) {
        None => Vec::new(),
        Some(Value::Seq(items)) => items.iter().collect(),
        Some(_) => days_node.into_iter().collect(),
    };
    if let Some(days_node) = days_node
        && day_nodes.is_empty()
    {
        cx.error(days_node.pos, "`days` is empty: the window would never open");
        ok = false;
    }
    for d in day_nodes {
        let Some(word) = string(cx, d, "a day") else {
            ok = false;
            continue;
        };
        match text::parse_days(word) {
            Ok(list) => list
                .iter()
                .for_each(|w: &Weekday| days[w.num_days_from_monday() as usize] = true),
            Err(message) => {
                let message = match did_you_mean(word, DAY_WORDS) {
                    Some(close) => format!("unknown day `{word}`; did you mean `{close}`?"),
                    None => message,
                };
                cx.error(d.pos, message);
                ok = false;
            }
        }
    }
    let mut time = |key: &str, default: u32| match f.get(key) {
        None => Some(default),
        Some(n) => match string(cx, n, key).map(text::parse_time_of_day) {
            Some(Ok(m)) => Some(m),
            Some(Err(message)) => {
                cx.error(n.pos, message);
                None
            }
            None => None,
        },
    };
    let (from, to) = (time("from", 0), time("to", 1440));
    let (from, to) = (from?, to?);
    if from == 1440 {
        cx.error(
            f.key_pos("from"),
            "an active window cannot start at 24:00: write 00:00 and the next day",
        );
        return None;
    }
    if from == to {
        cx.error(
            f.key_pos("to"),
            "an active window needs `from` and `to` to differ (for a whole day, leave both out)",
        );
        return None;
    }
    ok.then_some(ActiveWindow { days, from, to })
}

/// Whether `from` or `to` of the window `node` passes `test`.
fn either_end(node: &Node, test: impl Fn(&str) -> bool) -> bool {
    ["from", "to"]
        .iter()
        .any(|key| node.as_map_get(key).and_then(Node::as_str).is_some_and(&test))
}

/// Whether the window `node` is written as one from a weekday and time to a
/// weekday and time: no `days`, and a letter in `from` or `to`.
pub(in crate::config) fn spans_days(node: &Node) -> bool {
    node.as_map_get("days").is_none() && either_end(node, |s| s.chars().any(char::is_alphabetic))
}

/// Whether the window `node` has `days` and a `from` or `to` that starts
/// with a weekday (`mon 09:00`): the two forms mixed.
pub(in crate::config) fn days_and_weekdays(node: &Node) -> bool {
    node.as_map_get("days").is_some()
        && either_end(node, |s| {
            s.split_whitespace()
                .next()
                .is_some_and(|word| text::parse_days(word).is_ok_and(|days| days.len() == 1))
        })
}

/// A window from a weekday and time to a weekday and time (`{from: "fri
/// 18:00", to: "mon 08:00"}`): it starts on `from`'s day and ends at the
/// first `to` after it, up to a week later.
pub(in crate::config) fn week_window(cx: &mut Cx, node: &Node) -> Option<ActiveWindow> {
    let what = "an active window from a weekday and time to a weekday and time";
    let f = fields(cx, node, "an active window", WINDOW_KEYS)?;
    let end = |cx: &mut Cx, key: &str| {
        let n = f.required(cx, key, what)?;
        match string(cx, n, key).map(text::parse_day_and_time) {
            Some(Ok(at)) => Some(at),
            Some(Err(message)) => {
                let word = string(cx, n, key)
                    .and_then(|s| s.split_whitespace().next())
                    .unwrap_or("");
                let message = match text::parse_days(word).err().and(did_you_mean(word, DAY_WORDS)) {
                    Some(close) => format!("unknown day `{}`; did you mean `{close}`?", shown(word)),
                    None => message,
                };
                cx.error(n.pos, message);
                None
            }
            None => None,
        }
    };
    let (from, to) = (end(cx, "from"), end(cx, "to"));
    let ((from_day, from), (to_day, to)) = (from?, to?);
    if from == 1440 {
        cx.error(
            f.key_pos("from"),
            "an active window cannot start at 24:00: write 00:00 and the next day",
        );
        return None;
    }
    // 24:00 is 00:00 of the next day; then count the days from `from`'s.
    let (to_day, to) = if to == 1440 { (to_day.succ(), 0) } else { (to_day, to) };
    let mut days_on = (7 + to_day.num_days_from_monday() - from_day.num_days_from_monday()) % 7;
    if days_on == 0 && to == from {
        cx.error(
            f.key_pos("to"),
            "an active window needs `from` and `to` to differ (to be always on, leave out `active`)",
        );
        return None;
    }
    if days_on == 0 && to < from {
        days_on = 7;
    }
    let mut days = [false; 7];
    days[from_day.num_days_from_monday() as usize] = true;
    Some(ActiveWindow {
        days,
        from,
        to: days_on * 1440 + to,
    })
}

/// A written time as an instant: local time in `tz` (by the one DST rule),
/// or exact with an offset.
pub(super) fn instant(cx: &mut Cx, tz: Tz, node: &Node, what: &str) -> Option<Instant> {
    let s = string(cx, node, what)?;
    match text::parse_time(s) {
        Ok(WrittenTime::Local(t)) => Some(resolve_local(tz, t)),
        Ok(WrittenTime::Exact(t)) => Some(t),
        Err(message) => {
            cx.error(node.pos, message);
            None
        }
    }
}

pub(in crate::config) fn duration(cx: &mut Cx, node: &Node, what: &str) -> Option<Duration> {
    let s = string(cx, node, what)?;
    match text::parse_duration(s) {
        Ok(d) => Some(d),
        Err(message) => {
            cx.error(node.pos, message);
            None
        }
    }
}

pub(super) fn unknown_rota<'a>(name: &str, team: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let known: Vec<&str> = known.into_iter().collect();
    match did_you_mean(name, known.iter().copied()) {
        Some(close) => format!("unknown rota `{name}` in team {team}; did you mean `{close}`?"),
        None if known.is_empty() => format!("unknown rota `{name}`: team {team} has no rotas"),
        None => format!("unknown rota `{name}` in team {team}: it has {}", known.join(", ")),
    }
}

pub(super) fn unknown_team<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    match did_you_mean(name, known) {
        Some(close) => format!("unknown team `{name}`; did you mean `{close}`?"),
        None => format!("unknown team `{name}`: no team file defines it"),
    }
}
