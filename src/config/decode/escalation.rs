//! A team's escalation policy: its steps, their targets (a rota, a person,
//! another team), repeats and timeouts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;

use super::super::text;
use super::super::yaml::{Node, Value};
use super::fields::{Cx, duration, fields, list, string, unknown_rota, unknown_team};
use super::people::known_person;
use crate::domain::escalation::{Policy, Step, Target};
use crate::domain::schedule::Person;

const STEP_KEYS: &[&str] = &["after", "notify", "round_robin"];
const POLICY_KEYS: &[&str] = &["steps", "repeat", "repeat_after", "ack_timeout"];

pub(super) fn decode_policy(
    cx: &mut Cx,
    people: &BTreeMap<String, Person>,
    teams: &BTreeMap<String, BTreeSet<String>>,
    team: &str,
    node: &Node,
) -> Option<Policy> {
    // Either a list of steps, or `{steps: [...], repeat: N, ...}`.
    let mut repeat_after = None;
    let mut ack_timeout = None;
    let (steps_node, repeat) = match &node.value {
        Value::Seq(_) => (node, 0),
        _ => {
            let f = fields(cx, node, "`escalation`", POLICY_KEYS)?;
            let steps = f.required(cx, "steps", "`escalation`")?;
            let repeat = match f.get("repeat") {
                None => 0,
                Some(n) => match string(cx, n, "repeat")?.parse::<u32>() {
                    Ok(r) if r <= 100 => r,
                    _ => {
                        cx.error(n.pos, "`repeat` should be a whole number from 0 to 100");
                        return None;
                    }
                },
            };
            repeat_after = f.get("repeat_after").and_then(|n| duration(cx, n, "repeat_after"));
            ack_timeout = f.get("ack_timeout").and_then(|n| duration(cx, n, "ack_timeout"));
            (steps, repeat)
        }
    };
    let items = list(cx, steps_node, "escalation steps")?;
    if items.is_empty() {
        cx.error(steps_node.pos, "an escalation policy needs at least one step");
        return None;
    }
    let mut steps = Vec::new();
    let mut ok = true;
    for item in items {
        match decode_step(cx, people, teams, team, item) {
            Some(step) => steps.push(step),
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    Some(Policy {
        steps,
        repeat,
        repeat_after,
        ack_timeout,
    })
}

fn decode_step(
    cx: &mut Cx,
    people: &BTreeMap<String, Person>,
    teams: &BTreeMap<String, BTreeSet<String>>,
    team: &str,
    item: &Node,
) -> Option<Step> {
    let f = fields(cx, item, "an escalation step", STEP_KEYS)?;
    let after = match f.get("after") {
        None => Some(Duration::zero()),
        Some(n) => string(cx, n, "after").and_then(|s| match text::parse_duration(s) {
            Ok(d) => Some(d),
            Err(message) => {
                cx.error(n.pos, message);
                None
            }
        }),
    };
    let targets = f
        .required(cx, "notify", "an escalation step")
        .and_then(|n| list(cx, n, "`notify`"));
    let mut out = Vec::new();
    let mut ok = true;
    for t in targets.unwrap_or_default() {
        match decode_target(cx, people, teams, team, t) {
            Some(target) => out.push(target),
            None => ok = false,
        }
    }
    if targets.is_some_and(|t| t.is_empty()) {
        cx.error(
            f.key_pos("notify"),
            "an escalation step needs at least one target in `notify`",
        );
        ok = false;
    }
    let round_robin = match f.get("round_robin") {
        None => false,
        Some(n) => match string(cx, n, "round_robin") {
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                cx.error(n.pos, format!("`round_robin` should be true or false, found `{other}`"));
                ok = false;
                false
            }
            None => false,
        },
    };
    let (after, _) = (after?, targets?);
    ok.then_some(Step {
        after,
        targets: out,
        round_robin,
    })
}

fn decode_target(
    cx: &mut Cx,
    people: &BTreeMap<String, Person>,
    teams: &BTreeMap<String, BTreeSet<String>>,
    team: &str,
    node: &Node,
) -> Option<Target> {
    let s = string(cx, node, "a target")?;
    match s.split_once(':') {
        Some(("rota", r)) => {
            let rotas = teams.get(team);
            if rotas.is_some_and(|rotas| rotas.contains(r)) {
                return Some(Target::Rota(r.to_string()));
            }
            cx.error(
                node.pos,
                unknown_rota(r, team, rotas.into_iter().flatten().map(String::as_str)),
            );
            None
        }
        Some(("user", u)) => known_person(cx, people, node, u).then(|| Target::User(u.to_string())),
        Some(("team", other)) => {
            if teams.contains_key(other) {
                return Some(Target::Team(other.to_string()));
            }
            cx.error(node.pos, unknown_team(other, teams.keys().map(String::as_str)));
            None
        }
        _ => {
            cx.error(
                node.pos,
                format!("`{s}` is not a target: write rota:NAME, user:NAME or team:NAME"),
            );
            None
        }
    }
}
