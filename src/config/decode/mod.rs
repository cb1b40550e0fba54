//! The rota format's decoder: YAML trees in, domain values and diagnostics out.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDateTime, SecondsFormat, Weekday};
use chrono_tz::Tz;

use super::diag::{Diagnostic, Severity, did_you_mean, shown};
use super::text::{self, DAY_WORDS, WrittenTime};
use super::yaml::{self, Node, Pos, Value};
use super::{Loaded, Origin};
use crate::domain::escalation::{Policy, Step, Target};
use crate::domain::handoff::{Handoffs, RuleError};
use crate::domain::heartbeat::Heartbeat;
use crate::domain::paging::{Method, Preferences, Rule};
use crate::domain::rota::{Layer, Override, Rota, Shadow};
use crate::domain::schedule::{
    Announce, HandoffNotices, IntakeKey, MIN_INTAKE_KEY_CHARS, Maintenance, Person, Schedule, Team,
};
use crate::domain::time::{Instant, Span, resolve_local, to_local};
use crate::domain::window::ActiveWindow;

const TOP_KEYS_TEAM: &[&str] = &[
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
const LAYER_KEYS: &[&str] = &["members", "start", "handoff", "every", "active", "except"];
const ROTA_KEYS: &[&str] = &[
    "members",
    "start",
    "handoff",
    "every",
    "active",
    "except",
    "layers",
    "description",
    "shadows",
];
const OVERRIDE_KEYS: &[&str] = &["rota", "user", "from", "to", "instead_of", "reason"];
const WINDOW_KEYS: &[&str] = &["days", "from", "to"];
const STEP_KEYS: &[&str] = &["after", "notify", "round_robin"];
const POLICY_KEYS: &[&str] = &["steps", "repeat", "repeat_after", "ack_timeout"];
const HEARTBEAT_KEYS: &[&str] = &["interval", "grace", "summary", "severity"];
const MAINTENANCE_KEYS: &[&str] = &["from", "to", "reason"];
const SHADOW_KEYS: &[&str] = &["user", "of", "from", "to", "reason"];
const ANNOUNCE_KEYS: &[&str] = &["to", "severities"];

/// Collects the diagnostics of one file.
pub(super) struct Cx<'a> {
    pub(super) file: &'a str,
    pub(super) diags: &'a mut Vec<Diagnostic>,
}

impl Cx<'_> {
    pub(super) fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(pos, Severity::Error, message.into());
    }

    pub(super) fn warn(&mut self, pos: Pos, message: impl Into<String>) {
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

    fn origin(&self, pos: Pos) -> Origin {
        Origin {
            file: self.file.to_string(),
            pos,
        }
    }
}

/// A mapping's entries by key, checked against the keys allowed there.
pub(super) struct Fields<'n> {
    pub(super) node: &'n Node,
    items: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    pub(super) fn get(&self, key: &str) -> Option<&'n Node> {
        self.items
            .iter()
            .find(|(k, ..)| *k == key)
            .map(|(_, _, v)| *v)
            .filter(|v| !v.is_null())
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(super) fn key_pos(&self, key: &str) -> Pos {
        self.items
            .iter()
            .find(|(k, ..)| *k == key)
            .map(|(_, k, _)| k.pos)
            .unwrap_or(self.node.pos)
    }

    pub(super) fn required(&self, cx: &mut Cx, key: &str, what: &str) -> Option<&'n Node> {
        let found = self.get(key);
        if found.is_none() {
            cx.error(self.node.pos, format!("{what} needs `{key}`"));
        }
        found
    }
}

pub(super) fn fields<'n>(cx: &mut Cx, node: &'n Node, what: &str, allowed: &[&str]) -> Option<Fields<'n>> {
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

/// A team's integration key as `{name}_env` (a variable), `{name}_file` (an
/// absolute path, read at each reload) or `{name}` (the key itself): one of
/// them at most; with where it was written. A key written in the file must
/// be long enough to be secret (one read from a variable or a file is
/// checked when the daemon reads it).
fn key_source(cx: &mut Cx, top: &Fields<'_>, name: &str) -> Option<(IntakeKey, Pos)> {
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
fn shared_keys(diags: &mut Vec<Diagnostic>, keys: &[(String, &str, Pos, IntakeKey)]) {
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

pub(super) fn string<'n>(cx: &mut Cx, node: &'n Node, what: &str) -> Option<&'n str> {
    match node.as_str() {
        Some(s) if !node.is_null() => Some(s),
        _ => {
            cx.error(node.pos, format!("{what} should be text, found {}", node.kind()));
            None
        }
    }
}

pub(super) fn list<'n>(cx: &mut Cx, node: &'n Node, what: &str) -> Option<&'n [Node]> {
    match &node.value {
        Value::Seq(items) => Some(items),
        _ => {
            cx.error(node.pos, format!("{what} should be a list, found {}", node.kind()));
            None
        }
    }
}

pub(super) fn timezone(cx: &mut Cx, node: &Node) -> Option<Tz> {
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

fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// What each file turned out to be.
enum Kind<'n> {
    People(Fields<'n>),
    Team(Fields<'n>),
    Cover(Fields<'n>),
}

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
        } else if super::pay::MARKERS.iter().any(|k| has(k)) {
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
            if let Some(person) = decode_person(&mut cx, id, v) {
                if let Some(node) = v.as_map_get("ready_for") {
                    ready_nodes.push((*file, node));
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
        for (source, pos) in intake_key.iter().chain(&next_intake_key) {
            key_places.push((name.to_string(), *file, *pos, source.clone()));
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
        let heartbeats = match top.get("heartbeats") {
            Some(node) => decode_heartbeats(&mut cx, name, node),
            None => Vec::new(),
        };
        let maintenance = match top.get("maintenance") {
            Some(node) => decode_maintenance(&mut cx, tz, node),
            None => Vec::new(),
        };
        let handoff_notices = match top.get("handoff_notices") {
            Some(node) => decode_handoff_notices(&mut cx, node),
            None => HandoffNotices::default(),
        };
        let announce = top.get("announce").and_then(|node| decode_announce(&mut cx, node));
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

pub(super) fn mapping_entries<'n>(cx: &mut Cx, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
    match &node.value {
        Value::Map(entries) => Some(entries),
        _ => {
            cx.error(node.pos, format!("{what} should be a mapping, found {}", node.kind()));
            None
        }
    }
}

fn decode_person(cx: &mut Cx, id: &str, node: &Node) -> Option<Person> {
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
    // reach them: say so where it is written.
    if let Some(n) = f.get("notify") {
        let all = person
            .preferences
            .rules
            .iter()
            .chain(person.preferences.by_severity.values().flatten());
        let mut missing: Vec<Method> = all.map(|r| r.method).filter(|m| person.contact(*m).is_none()).collect();
        missing.dedup();
        for m in missing {
            cx.warn(
                n.pos,
                format!(
                    "person {id} has a rule for `{m}` but no `{}` to send it to",
                    contact_key(m)
                ),
            );
        }
    }
    Some(person)
}

fn contact_key(m: Method) -> &'static str {
    match m {
        Method::Email => "email",
        Method::Sms => "phone",
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

fn decode_rota(
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
        for member in item {
            if let Some(id) = member.as_str()
                && warned.insert(id)
            {
                not_ready(cx, people, member.pos, id, team, name);
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

/// Warns when `id` has a `ready_for` list that does not name `team/rota`.
fn not_ready(cx: &mut Cx, people: &BTreeMap<String, Person>, pos: Pos, id: &str, team: &str, rota: &str) {
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
            && !layers.iter().any(|l| l.members.contains(of))
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

/// A team's `announce`: webhook URLs and the severities announced.
fn decode_announce(cx: &mut Cx, node: &Node) -> Option<Announce> {
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
    if let Some(n) = f.get("severities") {
        let items: Vec<&Node> = match &n.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![n],
        };
        for item in items {
            if let Some(name) = string(cx, item, "a severity") {
                severities.push(name.to_string());
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
    Some(Announce { to, severities })
}

/// Checks the entries of a `ready_for` list: `team/rota` or `team`, of a
/// team file.
fn check_ready_for(cx: &mut Cx, team_rotas: &BTreeMap<String, BTreeSet<String>>, node: &Node) {
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

fn decode_layer(cx: &mut Cx, people: &BTreeMap<String, Person>, tz: Tz, f: &Fields, what: &str) -> Option<Layer> {
    let members = f
        .required(cx, "members", what)
        .and_then(|n| members(cx, people, n, what));
    let start = f
        .required(cx, "start", what)
        .and_then(|n| local_time(cx, tz, n, "start"));
    let rule = match (f.get("handoff"), f.get("every")) {
        (Some(_), Some(every)) => {
            cx.error(every.pos, format!("{what} has both `handoff` and `every`: keep one"));
            None
        }
        (Some(h), None) => string(cx, h, "handoff").map(|s| (s.to_string(), h.pos)),
        (None, Some(e)) => match string(cx, e, "every").map(text::every_to_rrule) {
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
    let (members, active) = (members?, active?);
    Some(Layer {
        members,
        handoffs,
        active,
    })
}

/// A layer's hand-offs, with a panic of the rule parser contained here, at
/// the decoding boundary, as an ordinary error on the rule's position: the
/// rule's grammar is checked before the `rrule` crate sees it, and this keeps
/// a parser bug the grammar misses from crashing `check`, `who` or a reload.
fn handoffs(tz: Tz, start: NaiveDateTime, rule: &str, except: &[NaiveDateTime]) -> Result<Handoffs, RuleError> {
    std::panic::catch_unwind(|| Handoffs::with_exceptions(tz, start, rule, except)).unwrap_or_else(|_| {
        Err(RuleError::Invalid(
            "the rule parser failed on this rule; write it as FREQ=...;BYDAY=... parts (RFC 5545)".into(),
        ))
    })
}

fn members(cx: &mut Cx, people: &BTreeMap<String, Person>, node: &Node, what: &str) -> Option<Vec<String>> {
    let items = list(cx, node, "`members`")?;
    if items.is_empty() {
        cx.error(node.pos, format!("{what} has no members"));
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        let Some(id) = string(cx, item, "a member") else {
            ok = false;
            continue;
        };
        ok &= known_person(cx, people, item, id);
        if out.iter().any(|m| m == id) {
            cx.warn(
                item.pos,
                format!(
                    "{} is listed more than once in the members of {what}, so takes more than one turn each round",
                    shown(id)
                ),
            );
        }
        out.push(id.to_string());
    }
    ok.then_some(out)
}

fn known_person(cx: &mut Cx, people: &BTreeMap<String, Person>, node: &Node, id: &str) -> bool {
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

/// A written time as local wall-clock time in `tz` (an exact time is
/// converted to the zone's wall clock).
fn local_time(cx: &mut Cx, tz: Tz, node: &Node, what: &str) -> Option<NaiveDateTime> {
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

fn windows(cx: &mut Cx, node: &Node) -> Option<Vec<ActiveWindow>> {
    let items = list(cx, node, "`active`")?;
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        match window(cx, item, true) {
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

/// One window; `days` may be left out (every day) unless `days_required`.
pub(super) fn window(cx: &mut Cx, node: &Node, days_required: bool) -> Option<ActiveWindow> {
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

/// A written time as an instant: local time in `tz` (by the one DST rule),
/// or exact with an offset.
fn instant(cx: &mut Cx, tz: Tz, node: &Node, what: &str) -> Option<Instant> {
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

pub(super) fn duration(cx: &mut Cx, node: &Node, what: &str) -> Option<Duration> {
    let s = string(cx, node, what)?;
    match text::parse_duration(s) {
        Ok(d) => Some(d),
        Err(message) => {
            cx.error(node.pos, message);
            None
        }
    }
}

/// `heartbeats:`, a mapping of name to `{interval, grace, summary,
/// severity}`. Severity names are checked against the installation's
/// severities when the daemon starts: the rota files do not know them.
fn decode_heartbeats(cx: &mut Cx, team: &str, node: &Node) -> Vec<Heartbeat> {
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
        out.push(Heartbeat {
            name: name.to_string(),
            interval,
            grace,
            summary,
            severity,
        });
    }
    out
}

/// `handoff_notices:`, a list of `start` and `day_before` (empty: none).
fn decode_handoff_notices(cx: &mut Cx, node: &Node) -> HandoffNotices {
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
fn decode_maintenance(cx: &mut Cx, tz: Tz, node: &Node) -> Vec<Maintenance> {
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

fn decode_overrides(
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
            && !rota.layers.iter().any(|l| l.members.contains(x))
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

fn unknown_rota<'a>(name: &str, team: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let known: Vec<&str> = known.into_iter().collect();
    match did_you_mean(name, known.iter().copied()) {
        Some(close) => format!("unknown rota `{name}` in team {team}; did you mean `{close}`?"),
        None if known.is_empty() => format!("unknown rota `{name}`: team {team} has no rotas"),
        None => format!("unknown rota `{name}` in team {team}: it has {}", known.join(", ")),
    }
}

fn unknown_team<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    match did_you_mean(name, known) {
        Some(close) => format!("unknown team `{name}`; did you mean `{close}`?"),
        None => format!("unknown team `{name}`: no team file defines it"),
    }
}

fn decode_policy(
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
