//! Rotas: their layers (members, start, hand-off rule, active windows,
//! exceptions), shadows, and the overrides of team and cover files.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDateTime, SecondsFormat};
use chrono_tz::Tz;

use super::super::diag::{did_you_mean, shown};
use super::super::text::{self, Every, WrittenTime};
use super::super::yaml::{Node, Pos, Value};
use super::fields::{
    Cx, Fields, days_and_weekdays, fields, instant, list, local_time, spans_days, string, unknown_rota, week_window,
    window,
};
use super::people::{known_person, not_ready};
use crate::domain::handoff::{Handoffs, RuleError};
use crate::domain::rota::{Crew, Layer, Override, Rota, Shadow};
use crate::domain::schedule::{Person, Team};
use crate::domain::time::{Span, resolve_local};
use crate::domain::window::ActiveWindow;

const LAYER_KEYS: &[&str] = &[
    "members", "first", "start", "end", "handoff", "every", "active", "except",
];
const ROTA_KEYS: &[&str] = &[
    "members",
    "first",
    "start",
    "end",
    "handoff",
    "every",
    "active",
    "except",
    "layers",
    "description",
    "shadows",
];
const OVERRIDE_KEYS: &[&str] = &["rota", "user", "from", "to", "instead_of", "reason"];
const SHADOW_KEYS: &[&str] = &["user", "of", "from", "to", "reason"];

pub(super) fn decode_rota(
    cx: &mut Cx,
    people: &BTreeMap<String, Person>,
    tz: Tz,
    (team, name): (&str, &str),
    node: &Node,
) -> Option<Rota> {
    let what = format!("rota {name}");
    let f = fields(cx, node, &what, ROTA_KEYS)?;
    let layers = if let Some(layers_node) = f.get("layers") {
        for key in LAYER_KEYS {
            if f.has(key) {
                cx.error(
                    f.key_pos(key),
                    format!("rota {name} has `layers`: put `{key}` inside each layer"),
                );
            }
        }
        let items = list(cx, layers_node, "`layers`")?;
        if items.is_empty() {
            cx.error(layers_node.pos, format!("rota {name} has an empty `layers` list"));
        }
        let layers: Vec<Option<Layer>> = items
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let lf = fields(cx, l, &format!("layer {} of rota {name}", i + 1), LAYER_KEYS)?;
                decode_layer(cx, people, tz, &lf, &format!("layer {} of rota {name}", i + 1))
            })
            .collect();
        layers.into_iter().collect::<Option<Vec<_>>>()?
    } else {
        vec![decode_layer(cx, people, tz, &f, &what)?]
    };
    // Members who are not ready for the rota (by their `ready_for`).
    let member_lists: Vec<&Node> = match f.get("layers").map(|n| &n.value) {
        Some(Value::Seq(items)) => items.iter().filter_map(|l| l.as_map_get("members")).collect(),
        _ => f.get("members").into_iter().collect(),
    };
    let mut warned = BTreeSet::new();
    for item in member_lists.into_iter().filter_map(|n| match &n.value {
        Value::Seq(items) => Some(items),
        _ => None,
    }) {
        // A member, or each person of a group.
        let persons = item.iter().flat_map(|member| match &member.value {
            Value::Seq(group) => group.iter().collect(),
            _ => vec![member],
        });
        for person in persons {
            if let Some(id) = person.as_str()
                && warned.insert(id)
            {
                not_ready(cx, people, person.pos, id, team, name);
            }
        }
    }
    let shadows = match f.get("shadows") {
        Some(n) => decode_shadows(cx, people, tz, &layers, name, n),
        None => Vec::new(),
    };
    Some(Rota {
        name: name.to_string(),
        tz,
        layers: layers.into_iter().map(std::sync::Arc::new).collect(),
        overrides: Vec::new(),
        shadows,
    })
}

/// A rota's `shadows`: who is learning it, following whom, when.
fn decode_shadows(
    cx: &mut Cx,
    people: &BTreeMap<String, Person>,
    tz: Tz,
    layers: &[Layer],
    rota: &str,
    node: &Node,
) -> Vec<Shadow> {
    let Some(items) = list(cx, node, "`shadows`") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let what = "a shadow";
        let Some(f) = fields(cx, item, what, SHADOW_KEYS) else {
            continue;
        };
        let person = |cx: &mut Cx, key: &str| {
            let n = f.get(key)?;
            let id = string(cx, n, key)?;
            known_person(cx, people, n, id).then(|| id.to_string())
        };
        let Some(user) = f.required(cx, "user", what).and(person(cx, "user")) else {
            continue;
        };
        let of = person(cx, "of");
        if f.has("of") && of.is_none() {
            continue;
        }
        if of.as_deref() == Some(user.as_str()) {
            cx.error(f.key_pos("of"), format!("{user} cannot shadow themselves"));
            continue;
        }
        if let Some(of) = &of
            && !layers.iter().any(|l| l.people().any(|m| m == of))
        {
            cx.warn(
                f.key_pos("of"),
                format!(
                    "{of} is not a member of rota {rota}: {user} shadows them only while an override puts them on call"
                ),
            );
        }
        let from = f.get("from").map(|n| instant(cx, tz, n, "from"));
        let to = f.get("to").map(|n| instant(cx, tz, n, "to"));
        let span = match (from, to) {
            (None, None) => None,
            (Some(Some(from)), Some(Some(to))) if from < to => Some(Span::new(from, to)),
            (Some(Some(from)), Some(Some(to))) => {
                cx.error(
                    f.key_pos("to"),
                    format!(
                        "this shadow ends ({}) at or before its start ({})",
                        to.to_rfc3339_opts(SecondsFormat::Secs, true),
                        from.to_rfc3339_opts(SecondsFormat::Secs, true)
                    ),
                );
                continue;
            }
            (Some(_), None) | (None, Some(_)) => {
                let missing = if f.has("from") { "to" } else { "from" };
                cx.error(
                    f.node.pos,
                    format!("a shadow with a period needs both `from` and `to` (add `{missing}`, or remove both to shadow every shift)"),
                );
                continue;
            }
            _ => continue,
        };
        out.push(Shadow { user, of, span });
    }
    out
}

fn decode_layer(cx: &mut Cx, people: &BTreeMap<String, Person>, tz: Tz, f: &Fields, what: &str) -> Option<Layer> {
    let members = f
        .required(cx, "members", what)
        .and_then(|n| members(cx, people, n, what));
    let start = f
        .required(cx, "start", what)
        .and_then(|n| local_time(cx, tz, n, "start"));
    // An instant, as an override's `to`: the layer is off from then on.
    let end = match f.get("end") {
        Some(n) => instant(cx, tz, n, "end").map(Some),
        None => Some(None),
    };
    let rule = match (f.get("handoff"), f.get("every")) {
        (Some(_), Some(every)) => {
            cx.error(every.pos, format!("{what} has both `handoff` and `every`: keep one"));
            None
        }
        (Some(h), None) => string(cx, h, "handoff").map(|s| (Every::Rule(s.to_string()), h.pos)),
        (None, Some(e)) => match string(cx, e, "every").map(text::parse_every) {
            Some(Ok(rule)) => Some((rule, e.pos)),
            Some(Err(message)) => {
                cx.error(e.pos, message);
                None
            }
            None => None,
        },
        (None, None) => {
            cx.error(
                f.node.pos,
                format!("{what} needs `handoff` (an RRULE such as FREQ=WEEKLY;BYDAY=MO) or `every` (such as 1w)"),
            );
            None
        }
    };
    let active = match f.get("active") {
        Some(n) => windows(cx, n),
        None => Some(Vec::new()),
    };
    let except = match f.get("except") {
        Some(n) => list(cx, n, "`except`").and_then(|items| {
            let times: Vec<Option<(NaiveDateTime, Pos)>> = items
                .iter()
                .map(|i| local_time(cx, tz, i, "an `except` entry").map(|t| (t, i.pos)))
                .collect();
            times.into_iter().collect::<Option<Vec<_>>>()
        }),
        None => Some(Vec::new()),
    };
    let Some(start) = start else {
        // Still say what is wrong with the rule itself.
        if let Some((rule, pos)) = &rule
            && let Err(e @ RuleError::Invalid(_)) = handoffs(tz, NaiveDateTime::default(), rule, &[])
        {
            cx.error(*pos, format!("{what}: {e}"));
        }
        return None;
    };
    let (rule, rule_pos) = rule?;
    let skipped: Vec<NaiveDateTime> = except.iter().flatten().map(|(t, _)| *t).collect();
    let handoffs = match handoffs(tz, start, &rule, &skipped) {
        Ok(h) => h,
        Err(e @ RuleError::StartOutOfRange) => {
            cx.error(f.get("start").map_or(f.node.pos, |n| n.pos), format!("{what}: {e}"));
            return None;
        }
        Err(e) => {
            cx.error(rule_pos, format!("{what}: {e}"));
            return None;
        }
    };
    for (t, pos) in except.iter().flatten() {
        if !handoffs.is_rule_handoff(*t) {
            cx.warn(
                *pos,
                format!(
                    "{what} has no hand-off at {} to skip, so this `except` does nothing",
                    t.format("%Y-%m-%dT%H:%M")
                ),
            );
        }
    }
    let end = end?;
    if let Some(end) = end
        && end <= resolve_local(tz, start)
    {
        cx.error(
            f.key_pos("end"),
            format!(
                "{what} ends ({}) at or before its start ({})",
                end.to_rfc3339_opts(SecondsFormat::Secs, true),
                resolve_local(tz, start).to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        );
        return None;
    }
    let (mut members, active) = (members?, active?);
    if let Some(n) = f.get("first") {
        let id = string(cx, n, "first")?;
        let Some(at) = members.iter().position(|crew| crew.iter().any(|m| m == id)) else {
            let everyone: Vec<&str> = members.iter().flatten().map(String::as_str).collect();
            let message = match did_you_mean(id, everyone.iter().copied()) {
                Some(close) => format!("`{}` is not a member of {what}; did you mean `{close}`?", shown(id)),
                None => format!(
                    "{} is not a member of {what}: `first` names the member on call from `start`, one of {}",
                    shown(id),
                    everyone.join(", ")
                ),
            };
            cx.error(n.pos, message);
            return None;
        };
        // The rotation starts at `first` (the first member that is, or whose
        // group holds, that person) and goes on in the order written: the
        // members from there, then those before. Hand-off j is then member j
        // of the turned list, as without `first`.
        members.rotate_left(at);
    }
    Some(Layer {
        members,
        handoffs,
        active,
        end,
    })
}

/// A layer's hand-offs, with a panic of the rule parser contained here, at
/// the decoding boundary, as an ordinary error on the rule's position: the
/// rule's grammar is checked before the `rrule` crate sees it, and this keeps
/// a parser bug the grammar misses from crashing `check`, `who` or a reload.
fn handoffs(tz: Tz, start: NaiveDateTime, rule: &Every, except: &[NaiveDateTime]) -> Result<Handoffs, RuleError> {
    let rule = match rule {
        Every::Rule(rule) => rule,
        Every::Seconds(turn) => return Handoffs::every(tz, start, *turn, except),
    };
    std::panic::catch_unwind(|| Handoffs::with_exceptions(tz, start, rule, except)).unwrap_or_else(|_| {
        Err(RuleError::Invalid(
            "the rule parser failed on this rule; write it as FREQ=...;BYDAY=... parts (RFC 5545)".into(),
        ))
    })
}

/// `members`: each a person id, or a list of them (a group, on call
/// together in its turn).
fn members(cx: &mut Cx, people: &BTreeMap<String, Person>, node: &Node, what: &str) -> Option<Vec<Crew>> {
    let items = list(cx, node, "`members`")?;
    if items.is_empty() {
        cx.error(node.pos, format!("{what} has no members"));
        return None;
    }
    let mut out: Vec<Crew> = Vec::new();
    let mut ok = true;
    for item in items {
        let persons: Vec<&Node> = match &item.value {
            Value::Seq(group) if group.is_empty() => {
                cx.error(
                    item.pos,
                    format!("a group in the members of {what} is empty: list the people on call together in it"),
                );
                ok = false;
                continue;
            }
            Value::Seq(group) => group.iter().collect(),
            _ => vec![item],
        };
        let mut crew: Crew = Vec::with_capacity(persons.len());
        for person in persons {
            let Some(id) = string(cx, person, "a member") else {
                ok = false;
                continue;
            };
            ok &= known_person(cx, people, person, id);
            if crew.iter().any(|m| m == id) {
                cx.error(
                    person.pos,
                    format!("{} is listed twice in one group of {what}", shown(id)),
                );
                ok = false;
                continue;
            }
            if out.iter().flatten().any(|m| m == id) {
                cx.warn(
                    person.pos,
                    format!(
                        "{} is listed more than once in the members of {what}, so takes more than one turn each round",
                        shown(id)
                    ),
                );
            }
            crew.push(id.to_string());
        }
        out.push(crew);
    }
    ok.then_some(out)
}

fn windows(cx: &mut Cx, node: &Node) -> Option<Vec<ActiveWindow>> {
    let items = list(cx, node, "`active`")?;
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        // A window from a weekday to a weekday only here: not in quiet hours
        // or pay rules, whose pages do not describe it.
        let w = match item.as_map_get("days") {
            _ if spans_days(item) => week_window(cx, item),
            Some(days) if days_and_weekdays(item) => {
                cx.error(
                    days.pos,
                    "a window from a weekday and time to a weekday and time has no `days`: remove `days`, or write `from` and `to` as times of day",
                );
                None
            }
            _ => window(cx, item, true),
        };
        match w {
            Some(w) => out.push(w),
            None => ok = false,
        }
    }
    if ok && out.is_empty() {
        cx.error(
            node.pos,
            "`active` is empty: the layer would never be on; remove `active` to make it always on",
        );
        return None;
    }
    ok.then_some(out)
}

pub(super) fn decode_overrides(
    cx: &mut Cx,
    people: &BTreeMap<String, Person>,
    team: &mut Team,
    declared: &BTreeSet<String>,
    node: &Node,
) {
    let Some(items) = list(cx, node, "`overrides`") else {
        return;
    };
    for item in items {
        let Some(f) = fields(cx, item, "an override", OVERRIDE_KEYS) else {
            continue;
        };
        let rota_node = f.required(cx, "rota", "an override");
        let rota_name = rota_node.and_then(|n| string(cx, n, "rota"));
        let user = f.required(cx, "user", "an override").and_then(|n| {
            let id = string(cx, n, "user")?;
            known_person(cx, people, n, id).then(|| id.to_string())
        });
        let instead_of = match f.get("instead_of") {
            None => Some(None),
            Some(n) => {
                string(cx, n, "instead_of").and_then(|id| known_person(cx, people, n, id).then(|| Some(id.to_string())))
            }
        };
        let tz = team.tz;
        let instant = |cx: &mut Cx, key: &str| {
            let n = f.required(cx, key, "an override")?;
            let s = string(cx, n, key)?;
            match text::parse_time(s) {
                Ok(WrittenTime::Local(t)) => Some(resolve_local(tz, t)),
                Ok(WrittenTime::Exact(t)) => Some(t),
                Err(message) => {
                    cx.error(n.pos, message);
                    None
                }
            }
        };
        let (from, to) = (instant(cx, "from"), instant(cx, "to"));
        if let (Some(from), Some(to)) = (from, to)
            && from >= to
        {
            cx.error(
                f.key_pos("to"),
                format!(
                    "this override ends ({}) at or before its start ({})",
                    to.to_rfc3339_opts(SecondsFormat::Secs, true),
                    from.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
            );
            continue;
        }
        let (Some(rota_name), Some(rota_node)) = (rota_name, rota_node) else {
            continue;
        };
        let Some(rota) = team.rotas.iter_mut().find(|r| r.name == rota_name) else {
            if !declared.contains(rota_name) {
                cx.error(
                    rota_node.pos,
                    unknown_rota(rota_name, &team.name, declared.iter().map(String::as_str)),
                );
            }
            continue;
        };
        let (Some(user), Some(instead_of), Some(from), Some(to)) = (user, instead_of, from, to) else {
            continue;
        };
        if let Some(x) = &instead_of
            && !rota.layers.iter().any(|l| l.people().any(|m| m == x))
        {
            cx.warn(
                f.key_pos("instead_of"),
                format!("{x} is not a member of rota {}, so this swap never applies", rota.name),
            );
        }
        if let Some(n) = f.get("user") {
            not_ready(cx, people, n.pos, &user, &team.name, &rota.name);
        }
        rota.overrides.push(Override {
            span: Span::new(from, to),
            user,
            instead_of,
        });
    }
}
