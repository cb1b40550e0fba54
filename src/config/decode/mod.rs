//! The rota format's decoder: YAML trees in, domain values and diagnostics out.
//!
//! [`decode`] reads the files in order (people, then teams and their rotas,
//! then overrides and escalation policies, which refer to both); the parts
//! are decoded by what they are: `people.rs` (people, their notification
//! rules and `ready_for`), `team.rs` (a team file's own keys: integration
//! keys, heartbeats, maintenance, hand-off notices, `announce`), `rota.rs`
//! (rotas, layers, shadows, overrides), `escalation.rs` (policies, steps,
//! targets). `fields.rs` holds what they share: the diagnostics of a file,
//! a mapping's keys, and the small values (text, lists, time zones, times,
//! durations, windows), also used by `config::pay`.

mod escalation;
mod fields;
mod people;
mod rota;
mod team;

use std::collections::{BTreeMap, BTreeSet};

use chrono_tz::Tz;

pub(super) use fields::{Cx, Fields, duration, fields, list, mapping_entries, string, timezone, window};
pub use team::short_key;

use super::yaml::{self, Node, Pos, Value};
use super::{KeyRole, Loaded, Origin};
use crate::domain::schedule::{HandoffNotices, IntakeKey, Person, Schedule, Team};
use escalation::decode_policy;
use fields::{name_ok, unknown_team};
use people::{check_ready_for, decode_person};
use rota::{decode_overrides, decode_rota};
use team::{
    TOP_KEYS_TEAM, decode_announce, decode_handoff_notices, decode_heartbeats, decode_maintenance, key_source,
    shared_keys,
};

/// What each file turned out to be.
enum Kind<'n> {
    People(Fields<'n>),
    Team(Fields<'n>),
    Cover(Fields<'n>),
}

/// Top-level keys that make a file a pay file (it has no `team:` or
/// `people:`), read by `config::pay` once the rotas are known.
pub(in crate::config) const PAY_MARKERS: &[&str] = &[
    "currency",
    "minor_unit",
    "payroll_timezone",
    "levels",
    "rules",
    "holidays",
    "default_region",
    "per_person",
    "callout",
    "working_hours",
    "cap",
    "shadow_rate",
];
pub(super) fn decode(sources: &[(String, Vec<u8>)]) -> Loaded {
    let mut loaded = Loaded {
        files: sources.len(),
        ..Loaded::default()
    };
    let mut diags = Vec::new();
    let mut docs: Vec<(&str, Node)> = Vec::new();
    for (file, bytes) in sources {
        let mut cx = Cx {
            file,
            diags: &mut diags,
        };
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let before = &bytes[..e.valid_up_to()];
                let line = before.iter().filter(|b| **b == b'\n').count() + 1;
                let col = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
                cx.error(Pos { line, col }, "the file is not valid UTF-8");
                continue;
            }
        };
        match yaml::parse(text) {
            Ok(Some(node)) => docs.push((file, node)),
            Ok(None) => cx.warn(Pos { line: 1, col: 1 }, "the file is empty"),
            Err(e) => cx.error(e.pos, format!("YAML syntax: {}", e.message)),
        }
    }

    let mut kinds = Vec::new();
    for (file, node) in &docs {
        let mut cx = Cx {
            file,
            diags: &mut diags,
        };
        let Value::Map(entries) = &node.value else {
            cx.error(
                node.pos,
                "a rota file should be a mapping starting with `team:` or `people:`",
            );
            continue;
        };
        let has = |key: &str| entries.iter().any(|(k, _)| k.as_str() == Some(key));
        let kind = if has("people") {
            fields(&mut cx, node, "a people file", &["people"]).map(Kind::People)
        } else if has("team") && (has("rotas") || has("timezone")) {
            fields(&mut cx, node, "a team file", TOP_KEYS_TEAM).map(Kind::Team)
        } else if has("team") {
            fields(&mut cx, node, "a cover file", &["team", "overrides"]).map(Kind::Cover)
        } else if PAY_MARKERS.iter().any(|k| has(k)) {
            // Pay rules: read by `config::pay` once the rotas are known.
            loaded.pay_files.push((file.to_string(), node.clone()));
            None
        } else {
            cx.error(
                node.pos,
                "expected `team:` (a team's rotas) or `people:` (everyone who can be paged) at the top of the file",
            );
            None
        };
        if let Some(kind) = kind {
            kinds.push((*file, kind));
        }
    }

    // People first: everything else refers to them.
    let mut people: BTreeMap<String, Person> = BTreeMap::new();
    // Each person's `ready_for` list, checked once every rota is known.
    let mut ready_nodes: Vec<(&str, &Node)> = Vec::new();
    for (file, kind) in &kinds {
        let Kind::People(top) = kind else { continue };
        let mut cx = Cx {
            file,
            diags: &mut diags,
        };
        let Some(list) = top.required(&mut cx, "people", "a people file") else {
            continue;
        };
        let Some(entries) = mapping_entries(&mut cx, list, "`people`") else {
            continue;
        };
        for (k, v) in entries {
            let Some(id) = k.as_str() else { continue };
            if !name_ok(id) {
                cx.error(
                    k.pos,
                    format!("`{id}` is not a usable person id: use letters, digits, `-`, `_` or `.`"),
                );
                continue;
            }
            if let Some(origin) = loaded.person_origins.get(id) {
                cx.error(
                    k.pos,
                    format!("{id} is already listed at {}:{}", origin.file, origin.pos.line),
                );
                continue;
            }
            if let Some((person, push_rule)) = decode_person(&mut cx, id, v) {
                if let Some(node) = v.as_map_get("ready_for") {
                    ready_nodes.push((*file, node));
                }
                if let Some(pos) = push_rule {
                    loaded.places.push_rules.insert(id.to_string(), cx.origin(pos));
                }
                loaded.person_origins.insert(id.to_string(), cx.origin(k.pos));
                people.insert(id.to_string(), person);
            }
        }
    }
    // Teams and their rotas.
    let mut teams: Vec<Team> = Vec::new();
    // Every rota name written, including rotas with errors, so that references
    // to them do not add "unknown rota" errors on top of their own.
    let mut declared_rotas: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut team_files: BTreeMap<String, Origin> = BTreeMap::new();
    // Every team's keys as written (team, file, place, source), to find one
    // given to two teams.
    let mut key_places: Vec<(String, &str, Pos, IntakeKey)> = Vec::new();
    for (file, kind) in &kinds {
        let Kind::Team(top) = kind else { continue };
        let mut cx = Cx {
            file,
            diags: &mut diags,
        };
        let name_node = top.required(&mut cx, "team", "a team file");
        let name = name_node.and_then(|n| string(&mut cx, n, "team"));
        let tz = top
            .required(&mut cx, "timezone", "a team file")
            .and_then(|n| timezone(&mut cx, n));
        let (Some(name), Some(name_node)) = (name, name_node) else {
            continue;
        };
        if !name_ok(name) {
            cx.error(
                name_node.pos,
                format!("`{name}` is not a usable team name: use letters, digits, `-`, `_` or `.`"),
            );
            continue;
        }
        if let Some(origin) = team_files.get(name) {
            cx.error(
                name_node.pos,
                format!("team {name} is already defined at {}:{}", origin.file, origin.pos.line),
            );
            continue;
        }
        team_files.insert(name.to_string(), cx.origin(name_node.pos));
        // With an unknown zone, read the rotas in UTC anyway to report their
        // own problems; the team is not used (the file has an error).
        let tz = tz.unwrap_or(Tz::UTC);
        let mut rotas = Vec::new();
        let declared = declared_rotas.entry(name.to_string()).or_default();
        if let Some(rotas_node) = top.required(&mut cx, "rotas", "a team file")
            && let Some(entries) = mapping_entries(&mut cx, rotas_node, "`rotas`")
        {
            let mut seen: BTreeMap<&str, Pos> = BTreeMap::new();
            for (k, v) in entries {
                let Some(rota_name) = string(&mut cx, k, "a rota name") else {
                    continue;
                };
                if let Some(first) = seen.get(rota_name) {
                    cx.error(
                        k.pos,
                        format!(
                            "duplicate rota `{rota_name}` in team {name} (first at line {})",
                            first.line
                        ),
                    );
                    continue;
                }
                seen.insert(rota_name, k.pos);
                declared.insert(rota_name.to_string());
                if !name_ok(rota_name) {
                    cx.error(
                        k.pos,
                        format!("`{rota_name}` is not a usable rota name: use letters, digits, `-`, `_` or `.`"),
                    );
                    continue;
                }
                if let Some(rota) = decode_rota(&mut cx, &people, tz, (name, rota_name), v) {
                    loaded
                        .rota_origins
                        .insert((name.to_string(), rota_name.to_string()), cx.origin(k.pos));
                    rotas.push(rota);
                }
            }
            if entries.is_empty() {
                cx.error(rotas_node.pos, format!("team {name} has no rotas"));
            }
        }
        let intake_key = key_source(&mut cx, top, "intake_key");
        let next_intake_key = key_source(&mut cx, top, "next_intake_key");
        for (role, (source, pos)) in [(KeyRole::Current, &intake_key), (KeyRole::Next, &next_intake_key)]
            .into_iter()
            .filter_map(|(role, key)| Some((role, key.as_ref()?)))
        {
            key_places.push((name.to_string(), *file, *pos, source.clone()));
            loaded
                .places
                .intake_keys
                .insert((name.to_string(), role), cx.origin(*pos));
        }
        let (intake_key, next_intake_key) = (intake_key.map(|(k, _)| k), next_intake_key.map(|(k, _)| k));
        if next_intake_key.is_some()
            && intake_key.is_none()
            && let Some(node) = ["next_intake_key_env", "next_intake_key_file", "next_intake_key"]
                .iter()
                .find_map(|k| top.get(k))
        {
            cx.error(
                node.pos,
                "a next integration key needs a current one (`intake_key_env`, `intake_key_file` or `intake_key`)",
            );
        }
        let mut heartbeats = Vec::new();
        if let Some(node) = top.get("heartbeats") {
            for (heartbeat, severity) in decode_heartbeats(&mut cx, name, node) {
                if let Some(pos) = severity {
                    loaded
                        .places
                        .heartbeat_severities
                        .insert((name.to_string(), heartbeat.name.clone()), cx.origin(pos));
                }
                heartbeats.push(heartbeat);
            }
        }
        let maintenance = match top.get("maintenance") {
            Some(node) => decode_maintenance(&mut cx, tz, node),
            None => Vec::new(),
        };
        let handoff_notices = match top.get("handoff_notices") {
            Some(node) => decode_handoff_notices(&mut cx, node),
            None => HandoffNotices::default(),
        };
        let announce = top.get("announce").and_then(|node| decode_announce(&mut cx, node));
        let announce = announce.map(|(announce, places)| {
            let origins = places.into_iter().map(|pos| cx.origin(pos)).collect();
            loaded.places.announce_severities.insert(name.to_string(), origins);
            announce
        });
        teams.push(Team {
            name: name.to_string(),
            tz,
            rotas,
            intake_key,
            next_intake_key,
            escalation: None,
            heartbeats,
            maintenance,
            handoff_notices,
            announce,
        });
    }

    shared_keys(&mut diags, &key_places);
    loaded.places.teams = team_files;

    // Overrides and escalation policies refer to rotas and teams. A team
    // file's overrides come first, then its cover files' in file-name order,
    // so that cover arranged later wins where they overlap.
    let team_rotas = declared_rotas;
    let (team_kinds, cover_kinds): (Vec<_>, Vec<_>) = kinds.iter().partition(|(_, k)| matches!(k, Kind::Team(_)));
    for (file, kind) in team_kinds.into_iter().chain(cover_kinds) {
        let (Kind::Team(top) | Kind::Cover(top)) = kind else {
            continue;
        };
        let is_cover = matches!(kind, Kind::Cover(_));
        let mut cx = Cx {
            file,
            diags: &mut diags,
        };
        let Some(name_node) = top.get("team") else {
            cx.error(top.node.pos, "a cover file needs `team`");
            continue;
        };
        let Some(name) = name_node.as_str() else { continue };
        let Some(team) = teams.iter_mut().find(|t| t.name == name) else {
            if is_cover {
                cx.error(name_node.pos, unknown_team(name, team_rotas.keys().map(String::as_str)));
            }
            continue;
        };
        if let Some(node) = top.get("overrides") {
            decode_overrides(&mut cx, &people, team, &team_rotas[name], node);
        }
        if let Some(node) = top.get("escalation") {
            team.escalation = decode_policy(&mut cx, &people, &team_rotas, name, node);
        }
    }

    // `ready_for` names rotas of any team file.
    for (file, node) in ready_nodes {
        let mut cx = Cx {
            file,
            diags: &mut diags,
        };
        check_ready_for(&mut cx, &team_rotas, node);
    }

    loaded.schedule = Schedule { people, teams };
    loaded.diagnostics = diags;
    loaded
        .diagnostics
        .sort_by(|a, b| (&a.file, a.pos).cmp(&(&b.file, b.pos)));
    loaded
}
