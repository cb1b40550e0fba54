//! `pay.yaml`: the pay rules, decoded against the rotas and people they name.
//!
//! The rota loader recognises a pay file by its top-level keys (`PAY_MARKERS`)
//! and keeps its YAML tree; [`decode`] turns it into [`PayRules`] once the
//! schedule is known, with the same `file:line:col` diagnostics and "did you
//! mean" as the rota files. `docs/pay.md` describes every key.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};

use super::decode::{Cx, duration, fields, list, mapping_entries, string, timezone, window};
use super::diag::{Diagnostic, Severity, did_you_mean};
use super::yaml::{Node, Value};
use super::{Loaded, Origin};
use crate::domain::pay::{
    Callout, Currency, Effect, MICRO, PayRules, PersonPay, RotaPay, TimeRule, default_working_hours,
};
use crate::domain::schedule::Schedule;

const TOP_KEYS: &[&str] = &[
    "currency",
    "minor_unit",
    "payroll_timezone",
    "levels",
    "rotas",
    "rules",
    "holidays",
    "default_region",
    "per_person",
    "callout",
    "working_hours",
    "cap",
    "shadow_rate",
    "description",
];
const LEVEL_KEYS: &[&str] = &["rate", "description"];
const ROTA_KEYS: &[&str] = &["level", "rate", "shift_fee", "description"];
const RULE_KEYS: &[&str] = &["name", "when", "multiplier", "rate", "description"];
const HOLIDAY_KEYS: &[&str] = &["multiplier", "rate", "regions"];
const PERSON_KEYS: &[&str] = &["rate", "cap"];
const CALLOUT_KEYS: &[&str] = &["fee", "rate", "minimum"];

/// Minor-unit digits of common currencies (ISO 4217); others need
/// `minor_unit`.
const DIGITS: &[(&str, u32)] = &[
    ("AUD", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PLN", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("USD", 2),
    ("ZAR", 2),
];

/// The pay rules read from the folder.
#[derive(Debug, Default)]
pub struct PayLoaded {
    /// `None` when there is no pay file or it has errors.
    pub rules: Option<PayRules>,
    pub diagnostics: Vec<Diagnostic>,
    /// Where the rules were read from.
    pub file: Option<String>,
}

impl PayLoaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }
}

/// Decodes the pay file of `loaded`, if there is one. Names of rotas and
/// people are checked against the schedule only when the rota files have no
/// errors (a rota with errors is missing from it, and would be reported twice).
pub fn decode(loaded: &Loaded) -> PayLoaded {
    let mut out = PayLoaded::default();
    let check_names = !loaded.has_errors();
    let mut first: Option<&str> = None;
    for (file, node) in &loaded.pay_files {
        let mut cx = Cx {
            file,
            diags: &mut out.diagnostics,
        };
        if let Some(first) = first {
            cx.error(
                node.pos,
                format!("pay rules are already in {first}: keep them in one file"),
            );
            continue;
        }
        first = Some(file);
        out.file = Some(file.clone());
        out.rules = decode_file(&mut cx, loaded, check_names, node);
    }
    if out.has_errors() {
        out.rules = None;
    }
    out.diagnostics.sort_by(|a, b| (&a.file, a.pos).cmp(&(&b.file, b.pos)));
    out
}

fn decode_file(cx: &mut Cx, loaded: &Loaded, check_names: bool, node: &Node) -> Option<PayRules> {
    let schedule = &loaded.schedule;
    let top = fields(cx, node, "a pay file", TOP_KEYS)?;
    let currency = top.required(cx, "currency", "a pay file").and_then(|n| {
        let code = string(cx, n, "currency")?;
        if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
            cx.error(
                n.pos,
                format!("`{code}` is not a currency: write its ISO 4217 code, like EUR"),
            );
            return None;
        }
        Some((code.to_string(), n))
    });
    let minor_unit = top.get("minor_unit").and_then(|n| {
        let s = string(cx, n, "minor_unit")?;
        match s.parse::<u32>() {
            Ok(d) if d <= 6 => Some(d),
            _ => {
                cx.error(n.pos, "`minor_unit` should be the number of decimals, 0 to 6");
                None
            }
        }
    });
    let currency = currency.and_then(|(code, n)| {
        let known = DIGITS.iter().find(|(c, _)| *c == code).map(|(_, d)| *d);
        match minor_unit.or(known) {
            Some(digits) => Some(Currency { code, digits }),
            None => {
                cx.error(
                    n.pos,
                    format!("unknown currency `{code}`: give its decimals with `minor_unit` (2 for cents, 0 for none)"),
                );
                None
            }
        }
    });
    let payroll_tz = match top.get("payroll_timezone") {
        Some(n) => timezone(cx, n),
        None => Some(chrono_tz::UTC),
    };

    // Levels: name → rate.
    let mut levels: BTreeMap<String, i64> = BTreeMap::new();
    if let Some(n) = top.get("levels") {
        for (k, v) in mapping_entries(cx, n, "`levels`").unwrap_or_default() {
            let Some(name) = string(cx, k, "a level name") else {
                continue;
            };
            let what = format!("level {name}");
            let rate = match &v.value {
                Value::Map(_) => fields(cx, v, &what, LEVEL_KEYS)
                    .and_then(|f| f.required(cx, "rate", &what))
                    .and_then(|n| amount(cx, n, "rate")),
                _ => amount(cx, v, "rate"),
            };
            if let Some(rate) = rate {
                levels.insert(name.to_string(), rate);
            }
        }
    }

    // Rotas: `team/rota` → level or rate, and a shift fee.
    let mut rotas = BTreeMap::new();
    if let Some(n) = top.get("rotas") {
        for (k, v) in mapping_entries(cx, n, "`rotas`").unwrap_or_default() {
            let Some(key) = string(cx, k, "a rota") else { continue };
            let Some((team, rota)) = key.split_once('/') else {
                cx.error(
                    k.pos,
                    format!("`{key}` should name a rota as team/rota, like payments/primary"),
                );
                continue;
            };
            if check_names && !known_rota(cx, schedule, k, team, rota) {
                continue;
            }
            let what = format!("rota {key}");
            let Some(f) = fields(cx, v, &what, ROTA_KEYS) else {
                continue;
            };
            let level = f.get("level").and_then(|n| {
                let name = string(cx, n, "level")?;
                if let Some(rate) = levels.get(name) {
                    return Some((name.to_string(), *rate));
                }
                let message = match did_you_mean(name, levels.keys().map(String::as_str)) {
                    Some(close) => format!("unknown level `{name}`; did you mean `{close}`?"),
                    None if levels.is_empty() => format!("unknown level `{name}`: `levels` defines none"),
                    None => format!(
                        "unknown level `{name}`: `levels` has {}",
                        levels.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                };
                cx.error(n.pos, message);
                None
            });
            let rate = f.get("rate").and_then(|n| amount(cx, n, "rate"));
            let shift_fee = match f.get("shift_fee") {
                Some(n) => amount(cx, n, "shift_fee"),
                None => Some(0),
            };
            if f.get("level").is_some() && f.get("rate").is_some() {
                cx.error(
                    f.key_pos("rate"),
                    format!("{what} has both `level` and `rate`: keep one"),
                );
                continue;
            }
            if f.get("level").is_none() && f.get("rate").is_none() {
                cx.error(f.node.pos, format!("{what} needs `level` or `rate`"));
                continue;
            }
            let (rate, level) = match (level, rate) {
                (Some((name, rate)), None) => (rate, Some(name)),
                (None, Some(rate)) => (rate, None),
                _ => continue,
            };
            let Some(shift_fee) = shift_fee else { continue };
            rotas.insert((team.to_string(), rota.to_string()), RotaPay { rate, level, shift_fee });
        }
        if check_names {
            let pos = top.key_pos("rotas");
            for (t, r) in schedule.rotas(None) {
                if !rotas.contains_key(&(t.name.clone(), r.name.clone())) {
                    cx.warn(
                        pos,
                        format!(
                            "rota {}/{} has no rate in pay.yaml: its hours are counted but not paid",
                            t.name, r.name
                        ),
                    );
                }
            }
        }
    }

    // Time rules, in order.
    let mut rules = Vec::new();
    if let Some(n) = top.get("rules") {
        for (i, item) in list(cx, n, "`rules`").unwrap_or_default().iter().enumerate() {
            let Some(f) = fields(cx, item, &format!("rule {}", i + 1), RULE_KEYS) else {
                continue;
            };
            let name = match f.get("name") {
                Some(n) => string(cx, n, "name").map(str::to_string),
                None => Some(format!("rule {}", i + 1)),
            };
            let what = format!("rule {}", name.clone().unwrap_or_else(|| (i + 1).to_string()));
            let effect = effect(cx, &f, &what);
            let windows = f.required(cx, "when", &what).and_then(|n| {
                let items: Vec<&Node> = match &n.value {
                    Value::Seq(items) => items.iter().collect(),
                    _ => vec![n],
                };
                if items.is_empty() {
                    cx.error(n.pos, format!("`when` is empty: {what} would never apply"));
                    return None;
                }
                let windows: Vec<_> = items.iter().map(|w| window(cx, w, true)).collect();
                windows.into_iter().collect::<Option<Vec<_>>>()
            });
            if let (Some(name), Some(effect), Some(windows)) = (name, effect, windows) {
                rules.push(TimeRule { name, windows, effect });
            }
        }
    }

    // Holidays by region.
    let mut holidays: BTreeMap<String, BTreeSet<NaiveDate>> = BTreeMap::new();
    let mut holiday_effect = Some(Effect::Multiply(MICRO));
    if let Some(n) = top.get("holidays")
        && let Some(f) = fields(cx, n, "`holidays`", HOLIDAY_KEYS)
    {
        holiday_effect = effect(cx, &f, "`holidays`");
        let regions = f.required(cx, "regions", "`holidays`");
        for (k, v) in regions
            .and_then(|r| mapping_entries(cx, r, "`regions`"))
            .unwrap_or_default()
        {
            let Some(region) = string(cx, k, "a region") else {
                continue;
            };
            let dates = holidays.entry(region.to_string()).or_default();
            for d in list(cx, v, &format!("the holidays of {region}")).unwrap_or_default() {
                let Some(s) = string(cx, d, "a date") else { continue };
                match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
                    Ok(date) => {
                        if !dates.insert(date) {
                            cx.warn(d.pos, format!("{date} is listed twice for {region}"));
                        }
                    }
                    Err(_) => cx.error(d.pos, format!("`{s}` is not a date: write it like 2026-12-25")),
                }
            }
        }
    }
    let region_names: Vec<&str> = holidays.keys().map(String::as_str).collect();
    let default_region = top.get("default_region").and_then(|n| {
        let r = string(cx, n, "default_region")?;
        known_region(cx, &region_names, n, r).then(|| r.to_string())
    });
    if check_names && top.get("holidays").is_some() {
        // People name their region in people.yaml; say so where they are.
        for person in schedule.people.values() {
            let (Some(region), Some(origin)) = (&person.region, loaded.person_origins.get(&person.id)) else {
                continue;
            };
            if !holidays.contains_key(region) {
                let message = match did_you_mean(region, region_names.iter().copied()) {
                    Some(close) => format!(
                        "{}'s region `{region}` has no holidays in pay.yaml; did you mean `{close}`?",
                        person.id
                    ),
                    None => format!(
                        "{}'s region `{region}` has no holidays in pay.yaml: add it under `holidays: regions:`",
                        person.id
                    ),
                };
                push(cx, origin, message);
            }
        }
    }

    let mut people = BTreeMap::new();
    if let Some(n) = top.get("per_person") {
        for (k, v) in mapping_entries(cx, n, "`per_person`").unwrap_or_default() {
            let Some(id) = string(cx, k, "a person") else { continue };
            if check_names && !schedule.people.contains_key(id) {
                let message = match did_you_mean(id, schedule.people.keys().map(String::as_str)) {
                    Some(close) => format!("unknown person `{id}`; did you mean `{close}`?"),
                    None => format!("unknown person `{id}`: add them to people.yaml"),
                };
                cx.error(k.pos, message);
                continue;
            }
            let Some(f) = fields(cx, v, &format!("person {id}"), PERSON_KEYS) else {
                continue;
            };
            let rate = f.get("rate").map(|n| amount(cx, n, "rate"));
            let cap = f.get("cap").map(|n| amount(cx, n, "cap"));
            if rate.is_some_and(|r| r.is_none()) || cap.is_some_and(|c| c.is_none()) {
                continue;
            }
            people.insert(
                id.to_string(),
                PersonPay {
                    rate: rate.flatten(),
                    cap: cap.flatten(),
                },
            );
        }
    }

    let callout = match top.get("callout") {
        None => Some(None),
        Some(n) => fields(cx, n, "`callout`", CALLOUT_KEYS).and_then(|f| {
            let get = |cx: &mut Cx, key: &str| match f.get(key) {
                Some(n) => amount(cx, n, key),
                None => Some(0),
            };
            let (fee, rate) = (get(cx, "fee"), get(cx, "rate"));
            let minimum = match f.get("minimum") {
                Some(n) => duration(cx, n, "minimum"),
                None => Some(Duration::zero()),
            };
            Some(Some(Callout {
                fee: fee?,
                rate: rate?,
                minimum: minimum?,
            }))
        }),
    };
    let working_hours = match top.get("working_hours") {
        None => Some(default_working_hours()),
        Some(n) => {
            let items: Vec<&Node> = match &n.value {
                Value::Seq(items) => items.iter().collect(),
                _ => vec![n],
            };
            let windows: Vec<_> = items.iter().map(|w| window(cx, w, true)).collect();
            windows.into_iter().collect::<Option<Vec<_>>>()
        }
    };
    let cap = match top.get("cap") {
        Some(n) => amount(cx, n, "cap").map(Some),
        None => Some(None),
    };
    let shadow_rate = match top.get("shadow_rate") {
        Some(n) => amount(cx, n, "shadow_rate"),
        None => Some(0),
    };

    Some(PayRules {
        currency: currency?,
        payroll_tz: payroll_tz?,
        rotas,
        people,
        rules,
        holidays,
        holiday_effect: holiday_effect?,
        default_region,
        callout: callout?,
        working_hours: working_hours?,
        cap: cap?,
        shadow_rate: shadow_rate?,
    })
}

fn push(cx: &mut Cx, origin: &Origin, message: String) {
    cx.diags.push(Diagnostic {
        file: origin.file.clone(),
        pos: origin.pos,
        severity: Severity::Error,
        message,
    });
}

/// `multiplier: 1.5` or `rate: 30.00`, exactly one.
fn effect(cx: &mut Cx, f: &super::decode::Fields, what: &str) -> Option<Effect> {
    match (f.get("multiplier"), f.get("rate")) {
        (Some(_), Some(_)) => {
            cx.error(
                f.key_pos("rate"),
                format!("{what} has both `multiplier` and `rate`: keep one"),
            );
            None
        }
        (Some(n), None) => amount(cx, n, "multiplier").map(Effect::Multiply),
        (None, Some(n)) => amount(cx, n, "rate").map(Effect::Rate),
        (None, None) => {
            cx.error(
                f.node.pos,
                format!("{what} needs `multiplier` (like 1.5) or `rate` (like 30.00)"),
            );
            None
        }
    }
}

fn known_rota(cx: &mut Cx, schedule: &Schedule, node: &Node, team: &str, rota: &str) -> bool {
    let Some(t) = schedule.team(team) else {
        let message = match did_you_mean(team, schedule.teams.iter().map(|t| t.name.as_str())) {
            Some(close) => format!("unknown team `{team}`; did you mean `{close}`?"),
            None => format!("unknown team `{team}`: no team file defines it"),
        };
        cx.error(node.pos, message);
        return false;
    };
    if t.rotas.iter().any(|r| r.name == rota) {
        return true;
    }
    let names: Vec<&str> = t.rotas.iter().map(|r| r.name.as_str()).collect();
    let message = match did_you_mean(rota, names.iter().copied()) {
        Some(close) => format!("unknown rota `{rota}` in team {team}; did you mean `{close}`?"),
        None => format!("unknown rota `{rota}` in team {team}: it has {}", names.join(", ")),
    };
    cx.error(node.pos, message);
    false
}

fn known_region(cx: &mut Cx, regions: &[&str], node: &Node, region: &str) -> bool {
    if regions.contains(&region) {
        return true;
    }
    let message = match did_you_mean(region, regions.iter().copied()) {
        Some(close) => format!("unknown region `{region}`; did you mean `{close}`?"),
        None => format!("unknown region `{region}`: `holidays: regions:` lists none by that name"),
    };
    cx.error(node.pos, message);
    false
}

/// A non-negative decimal with at most six decimals (`12.50`, `1.5`, `30`),
/// in millionths.
fn amount(cx: &mut Cx, node: &Node, what: &str) -> Option<i64> {
    let s = string(cx, node, what)?;
    match parse_amount(s) {
        Some(v) => Some(v),
        None => {
            cx.error(
                node.pos,
                format!("`{s}` is not a {what}: write a number like 12.50 (at most six decimals, no sign or currency)"),
            );
            None
        }
    }
}

/// `12.50` → 12_500_000.
pub fn parse_amount(s: &str) -> Option<i64> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > 6 || whole.len() > 12 {
        return None;
    }
    if s.contains('.') && frac.is_empty() {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<6}").parse().ok()?;
    whole.checked_mul(MICRO)?.checked_add(frac)
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("12.50"), Some(12_500_000));
        assert_eq!(parse_amount("1.5"), Some(1_500_000));
        assert_eq!(parse_amount("30"), Some(30_000_000));
        assert_eq!(parse_amount("0.000001"), Some(1));
        assert_eq!(parse_amount("0.0000001"), None);
        assert_eq!(parse_amount("-1"), None);
        assert_eq!(parse_amount("1,5"), None);
        assert_eq!(parse_amount("1."), None);
        assert_eq!(parse_amount(".5"), None);
    }
}
