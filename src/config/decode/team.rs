//! A team file's own keys: its integration keys (and two teams given one),
//! `heartbeats`, `maintenance`, `handoff_notices` and `announce`. Its rotas
//! are `rota.rs`'s, its escalation policy `escalation.rs`'s.

use std::collections::BTreeMap;

use chrono::{Duration, SecondsFormat};
use chrono_tz::Tz;

use super::super::diag::{Diagnostic, Severity};
use super::super::yaml::{Node, Pos, Value};
use super::fields::{Cx, Fields, duration, fields, instant, list, mapping_entries, name_ok, string};
use crate::domain::heartbeat::Heartbeat;
use crate::domain::schedule::{Announce, HandoffNotices, IntakeKey, MIN_INTAKE_KEY_CHARS, Maintenance};
use crate::domain::time::Span;

pub(super) const TOP_KEYS_TEAM: &[&str] = &[
    "team",
    "timezone",
    "rotas",
    "overrides",
    "escalation",
    "intake_key",
    "intake_key_env",
    "intake_key_file",
    "next_intake_key",
    "next_intake_key_env",
    "next_intake_key_file",
    "description",
    "heartbeats",
    "maintenance",
    "handoff_notices",
    "announce",
];
const HEARTBEAT_KEYS: &[&str] = &["interval", "grace", "summary", "severity"];
const MAINTENANCE_KEYS: &[&str] = &["from", "to", "reason"];
const ANNOUNCE_KEYS: &[&str] = &["to", "severities"];

/// A team's integration key as `{name}_env` (a variable), `{name}_file` (an
/// absolute path, read at each reload) or `{name}` (the key itself): one of
/// them at most; with where it was written. A key written in the file must
/// be long enough to be secret (one read from a variable or a file is
/// checked when it is read, by `config::validate`).
pub(super) fn key_source(cx: &mut Cx, top: &Fields<'_>, name: &str) -> Option<(IntakeKey, Pos)> {
    let (env_key, file_key) = (format!("{name}_env"), format!("{name}_file"));
    let given: Vec<(&str, &Node)> = [env_key.as_str(), file_key.as_str(), name]
        .into_iter()
        .filter_map(|k| top.get(k).map(|n| (k, n)))
        .collect();
    if let [_, (_, extra), ..] = given.as_slice() {
        cx.error(
            extra.pos,
            format!("give one of `{env_key}`, `{file_key}` or `{name}`, not several"),
        );
        return None;
    }
    let (key, node) = given.first()?;
    let text = string(cx, node, key)?;
    let source = if *key == env_key {
        IntakeKey::Env(text.to_string())
    } else if *key == file_key {
        let path = std::path::PathBuf::from(text);
        if !path.is_absolute() {
            cx.error(
                node.pos,
                format!("{file_key} should be an absolute path, like /run/credentials/oncall.service/{name}"),
            );
            return None;
        }
        IntakeKey::File(path)
    } else {
        if let Some(problem) = short_key(text) {
            cx.error(node.pos, format!("this integration key {problem}"));
        }
        IntakeKey::Literal(text.to_string())
    };
    Some((source, node.pos))
}

/// What is wrong with an integration key too short to be secret, to follow
/// the words for the key: "is N characters long: use at least ...". Never
/// the key itself.
pub fn short_key(key: &str) -> Option<String> {
    let n = key.chars().count();
    (n < MIN_INTAKE_KEY_CHARS).then(|| {
        format!(
            "is {n} character{} long: use at least {MIN_INTAKE_KEY_CHARS} random characters (`openssl rand -hex 16` makes 32)",
            if n == 1 { "" } else { "s" }
        )
    })
}

/// Two teams given one key (the same key written, or the same variable or
/// file named): an error at the later one, naming the first. A key picks
/// its team, so one key cannot serve two.
pub(super) fn shared_keys(diags: &mut Vec<Diagnostic>, keys: &[(String, &str, Pos, IntakeKey)]) {
    for (i, (team, file, pos, source)) in keys.iter().enumerate() {
        let Some((first, first_file, first_pos, _)) = keys[..i].iter().find(|(t, _, _, s)| t != team && s == source)
        else {
            continue;
        };
        let what = match source {
            IntakeKey::Literal(_) => "has the same integration key as",
            IntakeKey::Env(_) => "reads its integration key from the same variable as",
            IntakeKey::File(_) => "reads its integration key from the same file as",
        };
        diags.push(Diagnostic {
            file: file.to_string(),
            pos: *pos,
            severity: Severity::Error,
            message: format!(
                "team {team} {what} team {first} ({first_file}:{}:{}): give each team its own",
                first_pos.line, first_pos.col
            ),
        });
    }
}

/// A team's `announce`: webhook URLs and the severities announced, with
/// where each severity is written (`config::validate` checks them against
/// the installation's).
pub(super) fn decode_announce(cx: &mut Cx, node: &Node) -> Option<(Announce, Vec<Pos>)> {
    let f = fields(cx, node, "`announce`", ANNOUNCE_KEYS)?;
    let to_node = f.required(cx, "to", "`announce`")?;
    let items: Vec<&Node> = match &to_node.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![to_node],
    };
    let mut to = Vec::new();
    let written = items.len();
    for item in items {
        let Some(url) = string(cx, item, "an announcement destination") else {
            continue;
        };
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            cx.error(
                item.pos,
                format!("`{url}` is not a webhook URL: write it with https:// (a Slack-compatible incoming webhook, or any that takes JSON)"),
            );
            continue;
        }
        to.push(url.to_string());
    }
    if written == 0 {
        cx.error(to_node.pos, "`announce` needs at least one webhook URL in `to`");
    }
    if to.is_empty() {
        return None;
    }
    let mut severities = Vec::new();
    let mut places = Vec::new();
    if let Some(n) = f.get("severities") {
        let items: Vec<&Node> = match &n.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![n],
        };
        for item in items {
            if let Some(name) = string(cx, item, "a severity") {
                severities.push(name.to_string());
                places.push(item.pos);
            }
        }
        if severities.is_empty() {
            cx.error(
                n.pos,
                "`severities` is empty: nothing would be announced; list the severities to announce, or remove the key for all",
            );
            return None;
        }
    }
    Some((Announce { to, severities }, places))
}

/// `heartbeats:`, a mapping of name to `{interval, grace, summary,
/// severity}`, each with where its severity is written. Severity names are
/// checked against the installation's severities by `config::validate`
/// (the daemon, `oncall check`): the rota files do not know them.
pub(super) fn decode_heartbeats(cx: &mut Cx, team: &str, node: &Node) -> Vec<(Heartbeat, Option<Pos>)> {
    let Some(entries) = mapping_entries(cx, node, "`heartbeats`") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen: BTreeMap<&str, Pos> = BTreeMap::new();
    for (k, v) in entries {
        let Some(name) = string(cx, k, "a heartbeat name") else {
            continue;
        };
        if let Some(first) = seen.get(name) {
            cx.error(
                k.pos,
                format!(
                    "duplicate heartbeat `{name}` in team {team} (first at line {})",
                    first.line
                ),
            );
            continue;
        }
        seen.insert(name, k.pos);
        if !name_ok(name) {
            cx.error(
                k.pos,
                format!("`{name}` is not a usable heartbeat name: use letters, digits, `-`, `_` or `.`"),
            );
            continue;
        }
        let what = format!("heartbeat {name}");
        let Some(f) = fields(cx, v, &what, HEARTBEAT_KEYS) else {
            continue;
        };
        let interval = f
            .required(cx, "interval", &what)
            .and_then(|n| duration(cx, n, "interval"));
        if interval.is_some_and(|d| d <= Duration::zero()) {
            cx.error(
                f.key_pos("interval"),
                format!("{what} needs an `interval` longer than 0, such as 24h"),
            );
            continue;
        }
        let grace = match f.get("grace") {
            Some(n) => duration(cx, n, "grace"),
            None => Some(Duration::zero()),
        };
        let summary = match f.get("summary") {
            Some(n) => string(cx, n, "summary").map(|s| Some(s.to_string())),
            None => Some(None),
        };
        let severity = match f.get("severity") {
            Some(n) => string(cx, n, "severity").map(|s| Some(s.to_string())),
            None => Some(None),
        };
        let (Some(interval), Some(grace), Some(summary), Some(severity)) = (interval, grace, summary, severity) else {
            continue;
        };
        let heartbeat = Heartbeat {
            name: name.to_string(),
            interval,
            grace,
            summary,
            severity,
        };
        out.push((heartbeat, f.get("severity").map(|n| n.pos)));
    }
    out
}

/// `handoff_notices:`, a list of `start` and `day_before` (empty: none).
pub(super) fn decode_handoff_notices(cx: &mut Cx, node: &Node) -> HandoffNotices {
    let mut notices = HandoffNotices {
        at_start: false,
        day_before: false,
    };
    for item in list(cx, node, "`handoff_notices`").unwrap_or_default() {
        match string(cx, item, "a hand-off notice") {
            Some("start") => notices.at_start = true,
            Some("day_before") => notices.day_before = true,
            Some(other) => cx.error(
                item.pos,
                format!("unknown hand-off notice `{other}`: write `start` and/or `day_before` (or [] for none)"),
            ),
            None => {}
        }
    }
    notices
}

/// `maintenance:`, a list of `{from, to, reason}`; times as in overrides.
pub(super) fn decode_maintenance(cx: &mut Cx, tz: Tz, node: &Node) -> Vec<Maintenance> {
    let Some(items) = list(cx, node, "`maintenance`") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let what = "a maintenance window";
        let Some(f) = fields(cx, item, what, MAINTENANCE_KEYS) else {
            continue;
        };
        let from = f.required(cx, "from", what).and_then(|n| instant(cx, tz, n, "from"));
        let to = f.required(cx, "to", what).and_then(|n| instant(cx, tz, n, "to"));
        let reason = f.required(cx, "reason", what).and_then(|n| string(cx, n, "reason"));
        let (Some(from), Some(to), Some(reason)) = (from, to, reason) else {
            continue;
        };
        if from >= to {
            cx.error(
                f.key_pos("to"),
                format!(
                    "this maintenance window ends ({}) at or before its start ({})",
                    to.to_rfc3339_opts(SecondsFormat::Secs, true),
                    from.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
            );
            continue;
        }
        out.push(Maintenance {
            span: Span::new(from, to),
            reason: reason.to_string(),
        });
    }
    out
}
