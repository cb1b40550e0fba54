//! People files: each person's contacts, notification rules, quiet hours
//! and `ready_for`, and the checks of a person named elsewhere.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;

use super::super::diag::{did_you_mean, shown};
use super::super::text;
use super::super::yaml::{Node, Pos, Value};
use super::fields::{Cx, fields, list, string, timezone, unknown_rota, unknown_team, window};
use crate::domain::paging::{Method, Preferences, Rule};
use crate::domain::schedule::Person;

const PERSON_KEYS: &[&str] = &[
    "name",
    "email",
    "phone",
    "push",
    "webhook",
    "timezone",
    "notify",
    "quiet_hours",
    "region",
    "ready_for",
];

/// Decodes one person. With them, where their `notify` is written if it has
/// a rule for `push` and they have no `push` topic (see
/// [`Places::push_rules`](crate::config::Places::push_rules)).
pub(super) fn decode_person(cx: &mut Cx, id: &str, node: &Node) -> Option<(Person, Option<Pos>)> {
    let f = fields(cx, node, &format!("person {id}"), PERSON_KEYS)?;
    let text = |cx: &mut Cx, key: &str| f.get(key).and_then(|n| string(cx, n, key)).map(str::to_string);
    let name = text(cx, "name").unwrap_or_else(|| id.to_string());
    let email = text(cx, "email");
    if let (Some(e), Some(n)) = (&email, f.get("email"))
        && (!e.contains('@') || e.starts_with('@') || e.ends_with('@') || e.contains(char::is_whitespace))
    {
        cx.error(n.pos, format!("`{e}` is not an email address"));
    }
    let phone = text(cx, "phone");
    if let (Some(p), Some(n)) = (&phone, f.get("phone")) {
        let digits = p.strip_prefix('+').unwrap_or("");
        if !(digits.len() >= 8
            && digits.len() <= 15
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0'))
        {
            cx.error(n.pos, format!("`{p}` is not an E.164 phone number: write it with the country code, like +447700900001 (quote it in YAML)"));
        }
    }
    let push = text(cx, "push");
    let webhook = text(cx, "webhook");
    if let (Some(w), Some(n)) = (&webhook, f.get("webhook"))
        && !(w.starts_with("https://") || w.starts_with("http://"))
    {
        cx.error(n.pos, format!("`{w}` is not a webhook URL: write it with https://"));
    }
    let timezone = f.get("timezone").and_then(|n| timezone(cx, n));
    let mut preferences = Preferences::default();
    if let Some(n) = f.get("notify") {
        match &n.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    let Some(severity) = string(cx, k, "a severity") else {
                        continue;
                    };
                    let rules = notify_rules(cx, v);
                    if severity == "default" {
                        preferences.rules = rules;
                    } else {
                        preferences.by_severity.insert(severity.to_string(), rules);
                    }
                }
            }
            _ => preferences.rules = notify_rules(cx, n),
        }
    }
    if let Some(n) = f.get("quiet_hours") {
        let items: Vec<&Node> = match &n.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![n],
        };
        preferences.quiet_hours = items.into_iter().filter_map(|item| window(cx, item, false)).collect();
        if timezone.is_none() {
            cx.warn(
                n.pos,
                format!(
                    "person {id} has quiet hours but no `timezone`: they are read in the zone of the team that pages"
                ),
            );
        }
    }
    let person = Person {
        id: id.to_string(),
        name,
        email,
        phone,
        push,
        webhook,
        timezone,
        preferences,
        region: text(cx, "region"),
        ready_for: f.get("ready_for").map(|n| {
            list(cx, n, "`ready_for`")
                .unwrap_or_default()
                .iter()
                .filter_map(|item| string(cx, item, "a rota in `ready_for`").map(str::to_string))
                .collect()
        }),
    };
    // A rule for a method the person has no destination for would never
    // reach them: say so where it is written. (But for `push`, which a Web
    // Push device may carry: `paging_warnings` says it, knowing the devices.)
    let mut push_rule = None;
    if let Some(n) = f.get("notify") {
        let all = person
            .preferences
            .rules
            .iter()
            .chain(person.preferences.by_severity.values().flatten());
        let mut missing: Vec<Method> = all.map(|r| r.method).filter(|m| person.contact(*m).is_none()).collect();
        missing.dedup();
        for m in missing {
            if m == Method::Push {
                push_rule = Some(n.pos);
                continue;
            }
            cx.warn(
                n.pos,
                format!(
                    "person {id} has a rule for `{m}` but no `{}` to send it to",
                    contact_key(m)
                ),
            );
        }
    }
    Some((person, push_rule))
}

fn contact_key(m: Method) -> &'static str {
    match m {
        Method::Email => "email",
        Method::Sms | Method::Voice => "phone",
        Method::Push => "push",
        Method::Webhook => "webhook",
    }
}

/// A list of notification rules: `push`, `sms after 2m`, ...
fn notify_rules(cx: &mut Cx, node: &Node) -> Vec<Rule> {
    let Some(items) = list(cx, node, "`notify`") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(s) = string(cx, item, "a notification rule") else {
            continue;
        };
        let (word, after) = match s.split_once(" after ") {
            Some((w, d)) => (w.trim(), Some(d.trim())),
            None => (s.trim(), None),
        };
        let Some(method) = Method::parse(word) else {
            let names: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
            let message = match did_you_mean(word, names.iter().copied()) {
                Some(close) => format!("unknown contact method `{word}`; did you mean `{close}`?"),
                None => format!(
                    "unknown contact method `{word}`: write one of {}, optionally followed by `after 2m`",
                    names.join(", ")
                ),
            };
            cx.error(item.pos, message);
            continue;
        };
        let after = match after.map(text::parse_duration) {
            None => Duration::zero(),
            Some(Ok(d)) => d,
            Some(Err(message)) => {
                cx.error(item.pos, message);
                continue;
            }
        };
        out.push(Rule { method, after });
    }
    out
}

/// Warns when `id` has a `ready_for` list that does not name `team/rota`.
pub(super) fn not_ready(cx: &mut Cx, people: &BTreeMap<String, Person>, pos: Pos, id: &str, team: &str, rota: &str) {
    let Some(person) = people.get(id) else { return };
    if person.ready_for(team, rota) {
        return;
    }
    let listed = person.ready_for.as_deref().unwrap_or_default();
    cx.warn(
        pos,
        format!(
            "{id} is not ready for {team}/{rota}: their `ready_for` in the people file {}; add {team}/{rota} there when they are, or list them under the rota's `shadows` meanwhile",
            if listed.is_empty() {
                "is empty".to_string()
            } else {
                format!("lists {}", listed.join(", "))
            }
        ),
    );
}

/// Checks the entries of a `ready_for` list: `team/rota` or `team`, of a
/// team file.
pub(super) fn check_ready_for(cx: &mut Cx, team_rotas: &BTreeMap<String, BTreeSet<String>>, node: &Node) {
    let Value::Seq(items) = &node.value else { return };
    for item in items {
        let Some(entry) = item.as_str() else { continue };
        let (team, rota) = match entry.split_once('/') {
            Some((t, r)) => (t, Some(r)),
            None => (entry, None),
        };
        let Some(rotas) = team_rotas.get(team) else {
            cx.error(
                item.pos,
                format!(
                    "in `ready_for`: {}",
                    unknown_team(team, team_rotas.keys().map(String::as_str))
                ),
            );
            continue;
        };
        if let Some(rota) = rota
            && !rotas.contains(rota)
        {
            cx.error(
                item.pos,
                format!(
                    "in `ready_for`: {}",
                    unknown_rota(rota, team, rotas.iter().map(String::as_str))
                ),
            );
        }
    }
}

pub(super) fn known_person(cx: &mut Cx, people: &BTreeMap<String, Person>, node: &Node, id: &str) -> bool {
    if people.contains_key(id) {
        return true;
    }
    match did_you_mean(id, people.keys().map(String::as_str)) {
        Some(close) => cx.error(
            node.pos,
            format!("unknown person `{}`; did you mean `{close}`?", shown(id)),
        ),
        None => cx.error(
            node.pos,
            format!("unknown person `{}`: add them to people.yaml", shown(id)),
        ),
    }
    false
}
