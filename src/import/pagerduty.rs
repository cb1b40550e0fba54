//! PagerDuty, from its REST API v2 (`https://api.pagerduty.com`).
//!
//! Requests carry `Authorization: Token token=...` (the API token from the
//! variable named by `--token-env`) and `Accept:
//! application/vnd.pagerduty+json;version=2`; listings are paged with
//! `offset` and `limit` until an answer says `more: false`. What is read:
//! `GET /schedules` (unless `--schedule` names them), `GET /schedules/{id}`
//! for each (with `since` and `until` under `--verify`, so the same answer
//! holds `final_schedule`), `GET /schedules/{id}/overrides`, `GET /users`
//! with their contact methods and notification rules, `GET /teams` and
//! `GET /escalation_policies`.
//!
//! How it maps (docs/import.md has the table):
//! - a schedule is a rota of the team of its first PagerDuty team (or of
//!   `--team-map`), in the schedule's zone;
//! - its layers, which the API lists last-first (the first listed wins),
//!   are the rota's layers in our order (the last wins);
//! - a layer's turns run every `rotation_turn_length_seconds` of wall-clock
//!   time from `rotation_virtual_start`; the layer is on from `start` to
//!   `end`. We write `start` as the layer's `start` when a turn begins
//!   there (with `first` the member PagerDuty has on call then), and
//!   otherwise as two layers: the turn in progress at `start`, cut short by
//!   the layer's `start`, then the rotation from the next hand-off;
//! - daily and weekly restrictions are `active` windows (a daily one on
//!   every day, a weekly one across days), to the minute;
//! - overrides are full-cover overrides of the rota; an escalation policy's
//!   rules are steps, each after the previous rule's delay, `num_loops` is
//!   `repeat`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDateTime, Weekday};
use chrono_tz::Tz;
use serde_json::Value;

use super::fetch::{Fetcher, ImportError, NextPage, Obj};
use super::plan::{Escalation, Layer, Names, Override, Person, Plan, Rota, Step, Target, Team, Window, slug};
use super::{CommonArgs, Context, Source};
use crate::domain::compare::Shift;
use crate::domain::time::{Span, resolve_local, to_local};

const NAME: &str = "PagerDuty";
/// How far ahead overrides are read when `--verify` does not say.
const OVERRIDES_AHEAD_DAYS: i64 = 365;
/// Items asked for a page (PagerDuty's largest).
const PAGE: usize = 100;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The environment variable holding a PagerDuty REST API token (never
    /// the token itself: command lines are seen by others).
    #[arg(long, value_name = "NAME")]
    pub token_env: Option<String>,
    /// The API's base URL.
    #[arg(long, value_name = "URL", default_value = "https://api.pagerduty.com")]
    pub api_url: String,
    /// Only this schedule (repeat for several). Default: every schedule.
    #[arg(long = "schedule", value_name = "ID")]
    pub schedules: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub struct PagerDuty {
    args: Args,
    /// Each schedule's answer, kept for its `final_schedule`.
    schedules: BTreeMap<String, Value>,
}

impl PagerDuty {
    pub fn new(args: Args) -> PagerDuty {
        PagerDuty {
            args,
            schedules: BTreeMap::new(),
        }
    }
}

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn rfc(t: crate::domain::time::Instant) -> String {
    crate::domain::time::Rfc3339::new(t).as_str().to_string()
}

/// Every item of a PagerDuty listing (offset/limit/more).
fn list(
    fetch: &mut Fetcher,
    path: &str,
    extra: &[(&str, &str)],
    key: &str,
    what: &str,
) -> Result<Vec<Value>, ImportError> {
    let limit = PAGE.to_string();
    let mut first = q(extra);
    first.push(("limit".into(), limit.clone()));
    let extra = q(extra);
    let next = move |page: &Value, so_far: usize| -> Option<NextPage> {
        if page.get("more").and_then(Value::as_bool) != Some(true) {
            return None;
        }
        let mut query = extra.clone();
        query.push(("offset".into(), so_far.to_string()));
        query.push(("limit".into(), limit.clone()));
        Some(NextPage::Query(query))
    };
    fetch.list(path, &first, key, what, &next)
}

fn zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

/// `HH:MM:SS` → seconds after midnight.
fn time_of_day(text: &str) -> Option<i64> {
    let mut parts = text.split(':').map(|p| p.parse::<i64>().ok());
    let h = parts.next()??;
    let m = parts.next()??;
    let s = parts.next().unwrap_or(Some(0))?;
    ((0..24).contains(&h) && (0..60).contains(&m) && (0..60).contains(&s)).then_some(h * 3600 + m * 60 + s)
}

fn weekday(n: i64) -> Weekday {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ][n.rem_euclid(7) as usize]
}

/// A layer's restrictions as windows: empty for always on.
fn windows(layer: Obj, id: &str, plan: &mut Plan) -> Result<Vec<Window>, ImportError> {
    let mut out = Vec::new();
    for (i, r) in layer.opt_array("restrictions")?.iter().enumerate() {
        let r = Obj::new(r, layer.what);
        let kind = r.str("type")?;
        let start_text = r.str("start_time_of_day")?;
        let start = time_of_day(start_text).ok_or_else(|| {
            ImportError::new(format!(
                "{}: restrictions[{i}].start_time_of_day is `{start_text}`, not HH:MM:SS (not the documented shape)",
                layer.what
            ))
        })?;
        let duration = r.i64("duration_seconds")?;
        if duration <= 0 {
            return Err(ImportError::new(format!(
                "{}: restrictions[{i}].duration_seconds is {duration}, not positive",
                layer.what
            )));
        }
        // Our windows are to the minute.
        let (start_m, dur_m) = ((start + 30) / 60, (duration + 30) / 60);
        if start % 60 != 0 || duration % 60 != 0 {
            plan.approximate(
                format!("layer {id}"),
                format!("restriction {i} starts at {start_text} for {duration} seconds"),
                "written to the nearest minute (active windows are to the minute)",
            );
        }
        match kind {
            "daily_restriction" => {
                if dur_m >= 1440 {
                    return Ok(Vec::new());
                }
                let from = (start_m / 60 % 24, start_m % 60);
                let end = (start_m + dur_m) % 1440;
                let to = if end == 0 { (24, 0) } else { (end / 60, end % 60) };
                out.push(Window::Daily {
                    from: (from.0 as u32, from.1 as u32),
                    to: (to.0 as u32, to.1 as u32),
                });
            }
            "weekly_restriction" => {
                if dur_m >= 7 * 1440 {
                    return Ok(Vec::new());
                }
                let day = r.i64("start_day_of_week")?;
                if !(1..=7).contains(&day) {
                    return Err(ImportError::new(format!(
                        "{}: restrictions[{i}].start_day_of_week is {day}, not 1 (Monday) to 7",
                        layer.what
                    )));
                }
                let s = (day - 1) * 1440 + start_m;
                let e = (s + dur_m) % (7 * 1440);
                let at = |m: i64| (weekday(m / 1440), ((m % 1440 / 60) as u32, (m % 60) as u32));
                out.push(Window::Weekly { from: at(s), to: at(e) });
            }
            other => {
                return Err(ImportError::new(format!(
                    "{}: restrictions[{i}].type is `{other}`, not daily_restriction or weekly_restriction",
                    layer.what
                )));
            }
        }
    }
    Ok(out)
}

/// The people of a schedule layer or override, by their PagerDuty ids.
fn user_id<'a>(v: &'a Value, what: &str) -> Result<&'a str, ImportError> {
    v.get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ImportError::new(format!("{what}: a user without an `id` (not the documented shape)")))
}

impl Source for PagerDuty {
    fn name(&self) -> &'static str {
        NAME
    }

    fn connect(&self) -> Result<Fetcher, ImportError> {
        let token =
            super::fetch::secret_from_env(self.args.token_env.as_deref(), "--token-env", "a PagerDuty API token")?;
        Fetcher::http(
            &self.args.api_url,
            vec![
                ("Authorization".into(), format!("Token token={}", token)),
                ("Accept".into(), "application/vnd.pagerduty+json;version=2".into()),
            ],
        )
    }

    fn plan(&mut self, fetch: &mut Fetcher, cx: &Context) -> Result<Plan, ImportError> {
        let mut plan = Plan {
            source: NAME.into(),
            ..Plan::default()
        };
        // The schedules.
        let mut ids: Vec<String> = if self.args.schedules.is_empty() {
            list(
                fetch,
                "schedules",
                &[],
                "schedules",
                "the PagerDuty schedules (GET /schedules)",
            )?
            .iter()
            .map(|s| {
                Obj::new(s, "a PagerDuty schedule in GET /schedules")
                    .str("id")
                    .map(str::to_string)
            })
            .collect::<Result<_, _>>()?
        } else {
            self.args.schedules.clone()
        };
        ids.sort();
        ids.dedup();
        let window = cx.verify.map(|w| (rfc(w.start), rfc(w.end)));
        for id in &ids {
            let what = format!("the PagerDuty schedule {id}");
            let query = match &window {
                Some((since, until)) => q(&[("since", since), ("until", until)]),
                None => Vec::new(),
            };
            let answer = fetch.get(&format!("schedules/{id}"), &query, &what)?;
            let schedule = Obj::new(&answer, &what).object("schedule")?.clone();
            self.schedules.insert(id.clone(), schedule);
        }

        let users = list(
            fetch,
            "users",
            &[("include[]", "contact_methods"), ("include[]", "notification_rules")],
            "users",
            "the PagerDuty users (GET /users)",
        )?;
        let mut users_by_id: BTreeMap<String, Value> = BTreeMap::new();
        for u in users {
            let id = Obj::new(&u, "a PagerDuty user in GET /users").str("id")?.to_string();
            users_by_id.insert(id, u);
        }
        let teams = list(fetch, "teams", &[], "teams", "the PagerDuty teams (GET /teams)")?;
        let mut team_names: BTreeMap<String, String> = BTreeMap::new();
        for t in &teams {
            let o = Obj::new(t, "a PagerDuty team in GET /teams");
            team_names.insert(o.str("id")?.to_string(), o.str("name")?.to_string());
        }
        let policies = list(
            fetch,
            "escalation_policies",
            &[],
            "escalation_policies",
            "the PagerDuty escalation policies (GET /escalation_policies)",
        )?;

        // The people every imported object names, with our ids.
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        let mut schedule_team: BTreeMap<String, (String, Tz)> = BTreeMap::new();
        let mut team_zone: BTreeMap<String, Tz> = BTreeMap::new();
        let mut team_source: BTreeMap<String, String> = BTreeMap::new();
        for (id, s) in &self.schedules {
            let what = format!("the PagerDuty schedule {id}");
            let o = Obj::new(s, &what);
            let name = o.str("name")?;
            let tz_name = o.str("time_zone")?;
            let tz = zone(tz_name).ok_or_else(|| {
                ImportError::new(format!(
                    "the PagerDuty schedule {id} ({name}): time zone `{tz_name}` is not an IANA zone oncall knows"
                ))
            })?;
            let first_team = o.opt_array("teams")?.first();
            let team_id = match first_team {
                Some(t) => Some(Obj::new(t, &what).str("id")?.to_string()),
                None => None,
            };
            let wanted_team = cx
                .team_map
                .get(id)
                .or_else(|| team_id.as_ref().and_then(|t| cx.team_map.get(t)))
                .cloned()
                .unwrap_or_else(|| match &team_id {
                    Some(t) => slug(team_names.get(t).map_or(t.as_str(), String::as_str), "team"),
                    None => slug(name, "team"),
                });
            // A team has one zone: a schedule in another goes to a team of
            // its own.
            let team = match team_zone.get(&wanted_team) {
                None => {
                    team_zone.insert(wanted_team.clone(), tz);
                    wanted_team
                }
                Some(&z) if z == tz => wanted_team,
                Some(&z) => {
                    let other = format!("{wanted_team}-{}", slug(tz.name(), "zone"));
                    plan.approximate(
                        format!("schedule {id}"),
                        format!(
                            "is in {}, the other schedules of team {wanted_team} in {}",
                            tz.name(),
                            z.name()
                        ),
                        format!("written in team {other} (a team has one time zone)"),
                    );
                    team_zone.entry(other.clone()).or_insert(tz);
                    other
                }
            };
            let label = match &team_id {
                Some(t) => format!("team {t}"),
                None => format!("schedule {id}, which has no team"),
            };
            team_source.entry(team.clone()).or_insert(label);
            schedule_team.insert(id.clone(), (team, tz));
            for layer in o.array("schedule_layers")? {
                for u in Obj::new(layer, &what).array("users")? {
                    let user = Obj::new(u, &what).object("user")?;
                    wanted.insert(user_id(user, &what)?.to_string());
                }
            }
        }
        // Overrides, read per schedule from the start of the import.
        let ahead = cx.verify.map_or(cx.from + Duration::days(OVERRIDES_AHEAD_DAYS), |w| {
            w.end.max(cx.from + Duration::days(OVERRIDES_AHEAD_DAYS))
        });
        let mut overrides: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for id in self.schedules.keys() {
            let what = format!("the overrides of the PagerDuty schedule {id}");
            let answer = fetch.get(
                &format!("schedules/{id}/overrides"),
                &q(&[("since", &rfc(cx.from)), ("until", &rfc(ahead))]),
                &what,
            )?;
            let list = Obj::new(&answer, &what).array("overrides")?.to_vec();
            for o in &list {
                let user = Obj::new(o, &what).object("user")?;
                wanted.insert(user_id(user, &what)?.to_string());
            }
            overrides.insert(id.clone(), list);
        }
        // Escalation policies that page an imported schedule.
        let mut policy_team: Vec<(String, String, Value)> = Vec::new();
        let mut sorted_policies: Vec<(String, Value)> = Vec::new();
        for p in policies {
            let id = Obj::new(&p, "a PagerDuty escalation policy").str("id")?.to_string();
            sorted_policies.push((id, p));
        }
        sorted_policies.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, p) in sorted_policies {
            let what = format!("the PagerDuty escalation policy {id}");
            let o = Obj::new(&p, &what);
            let mut home = None;
            for rule in o.array("escalation_rules")? {
                for t in Obj::new(rule, &what).array("targets")? {
                    let t = Obj::new(t, &what);
                    let tid = t.str("id")?;
                    match t.str("type")? {
                        "schedule_reference" | "schedule" => {
                            if home.is_none() {
                                home = schedule_team.get(tid).map(|(team, _)| team.clone());
                            }
                        }
                        "user_reference" | "user" => {}
                        other => {
                            return Err(ImportError::new(format!(
                                "{what}: a target of type `{other}`, not a schedule or a user"
                            )));
                        }
                    }
                }
            }
            match home {
                Some(team) => {
                    for rule in o.array("escalation_rules")? {
                        for t in Obj::new(rule, &what).array("targets")? {
                            let t = Obj::new(t, &what);
                            if matches!(t.str("type")?, "user_reference" | "user") {
                                wanted.insert(t.str("id")?.to_string());
                            }
                        }
                    }
                    policy_team.push((id, team, p.clone()));
                }
                None if self.args.schedules.is_empty() => plan.approximate(
                    format!("escalation policy {id}"),
                    format!(
                        "\"{}\" pages no schedule that was imported",
                        o.opt_str("name")?.unwrap_or("")
                    ),
                    "not imported (a team's escalation policy pages its own rotas)",
                ),
                None => {}
            }
        }

        // People, in PagerDuty id order so that names clash the same way
        // every time.
        let mut names = Names::default();
        for uid in &wanted {
            let Some(u) = users_by_id.get(uid) else {
                return Err(ImportError::new(format!(
                    "the PagerDuty user {uid} is on a schedule, an override or a policy but not in GET /users"
                )));
            };
            let person = person(u, uid, &mut names, &mut plan)?;
            plan.people.push(person);
        }

        // Teams and their rotas.
        let mut teams: BTreeMap<String, Team> = BTreeMap::new();
        let mut rota_names: BTreeMap<String, Names> = BTreeMap::new();
        let mut rota_of: BTreeMap<String, String> = BTreeMap::new();
        for (id, s) in &self.schedules {
            let (team_name, tz) = schedule_team[id].clone();
            let what = format!("the PagerDuty schedule {id}");
            let o = Obj::new(s, &what);
            let name = o.str("name")?.to_string();
            let rota_name = rota_names
                .entry(team_name.clone())
                .or_default()
                .claim(&slug(&name, "rota"));
            // Listed last-first: the first listed is the top layer, which
            // wins; ours wins last. The layers' approximations are gathered
            // apart, as the plan's people are borrowed meanwhile.
            let mut scratch = Plan::default();
            let mut layers = Vec::new();
            for layer in o.array("schedule_layers")?.iter().rev() {
                layers.extend(self::layers(layer, id, tz, cx, &plan, &mut scratch)?);
            }
            plan.approximations.extend(scratch.approximations);
            if layers.is_empty() {
                plan.approximate(
                    format!("schedule {id}"),
                    format!("\"{name}\" has no layer in force from {}", rfc(cx.from)),
                    "not imported",
                );
                continue;
            }
            rota_of.insert(id.clone(), rota_name.clone());
            let team = teams.entry(team_name.clone()).or_insert_with(|| Team {
                name: team_name.clone(),
                timezone: tz,
                source: team_source.get(&team_name).cloned().unwrap_or_default(),
                rotas: Vec::new(),
                overrides: Vec::new(),
                escalation: None,
            });
            team.rotas.push(Rota {
                name: rota_name.clone(),
                source_id: id.clone(),
                source_name: name.clone(),
                layers,
            });
            for ov in &overrides[id] {
                let what = format!("the PagerDuty override of schedule {id}");
                let v = Obj::new(ov, &what);
                let oid = v.str("id")?;
                let (from, to) = (v.time("start")?, v.time("end")?);
                let uid = user_id(v.object("user")?, &what)?;
                if to <= cx.from || to <= from {
                    continue;
                }
                team.overrides.push(Override {
                    rota: rota_name.clone(),
                    from,
                    to,
                    user: plan.person_for(uid).unwrap_or(uid).to_string(),
                    source_id: format!("override {oid}"),
                });
            }
            // Written in order of start, so where two overlap the later
            // start is on call (the later one wins in rota files);
            // PagerDuty does not document which of two overlapping
            // overrides it puts on call, so say so.
            let mut mine: Vec<&Override> = team.overrides.iter().filter(|o| o.rota == rota_name).collect();
            mine.sort();
            for pair in mine.windows(2) {
                if pair[1].from < pair[0].to {
                    plan.approximations.push(super::plan::Approximation {
                        source_id: pair[1].source_id.clone(),
                        what: format!("overlaps {} of schedule {id}", pair[0].source_id),
                        how: "the one starting later is on call where they overlap".into(),
                    });
                }
            }
        }
        // Escalation policies, the first (by id) of each team.
        for (id, team_name, p) in policy_team {
            let what = format!("the PagerDuty escalation policy {id}");
            let o = Obj::new(&p, &what);
            let name = o.opt_str("name")?.unwrap_or("").to_string();
            let Some(team) = teams.get(&team_name) else { continue };
            if team.escalation.is_some() {
                plan.approximate(
                    format!("escalation policy {id}"),
                    format!("\"{name}\" is a second policy for team {team_name}"),
                    "not imported (a team has one escalation policy; the first by id was)",
                );
                continue;
            }
            let mut steps = Vec::new();
            let mut delay = 0;
            for (i, rule) in o.array("escalation_rules")?.iter().enumerate() {
                let r = Obj::new(rule, &what);
                let mut notify = Vec::new();
                for t in r.array("targets")? {
                    let t = Obj::new(t, &what);
                    let tid = t.str("id")?;
                    if matches!(t.str("type")?, "user_reference" | "user") {
                        notify.push(Target::User(plan.person_for(tid).unwrap_or(tid).to_string()));
                        continue;
                    }
                    match (schedule_team.get(tid), rota_of.get(tid)) {
                        (Some((t_team, _)), Some(rota)) if *t_team == team_name => {
                            notify.push(Target::Rota(rota.clone()))
                        }
                        (Some((t_team, _)), Some(_)) => {
                            plan.approximate(
                                format!("escalation policy {id}"),
                                format!("rule {} pages schedule {tid} of team {t_team}", i + 1),
                                format!("written as team:{t_team} (everyone on call on any of its rotas)"),
                            );
                            notify.push(Target::Team(t_team.clone()));
                        }
                        _ => plan.approximate(
                            format!("escalation policy {id}"),
                            format!("rule {} pages schedule {tid}, which was not imported", i + 1),
                            "left out of the step",
                        ),
                    }
                }
                notify.sort();
                notify.dedup();
                let after = delay;
                delay = r.opt_i64("escalation_delay_in_minutes")?.unwrap_or(0).max(0) as u64;
                if notify.is_empty() {
                    plan.approximate(
                        format!("escalation policy {id}"),
                        format!("rule {} pages nobody that was imported", i + 1),
                        "left out",
                    );
                    continue;
                }
                steps.push(Step {
                    after_minutes: after,
                    notify,
                });
            }
            if steps.is_empty() {
                continue;
            }
            let loops = o.opt_i64("num_loops")?.unwrap_or(0);
            let repeat = loops.clamp(0, 100) as u32;
            if i64::from(repeat) != loops {
                plan.approximate(
                    format!("escalation policy {id}"),
                    format!("num_loops is {loops}"),
                    format!("written as repeat: {repeat} (0 to 100)"),
                );
            }
            if let Some(team) = teams.get_mut(&team_name) {
                team.escalation = Some(Escalation {
                    source_id: id.clone(),
                    source_name: name,
                    steps,
                    repeat,
                });
            }
        }
        plan.teams = teams.into_values().collect();
        Ok(plan)
    }

    fn rendered(&mut self, _fetch: &mut Fetcher, plan: &Plan, window: Span) -> Result<Vec<Shift>, ImportError> {
        let mut out = Vec::new();
        for team in &plan.teams {
            for rota in &team.rotas {
                let id = &rota.source_id;
                let what = format!("the PagerDuty schedule {id} (final_schedule)");
                let Some(s) = self.schedules.get(id) else { continue };
                let fin = Obj::new(s, &what).object("final_schedule")?;
                for e in Obj::new(fin, &what).array("rendered_schedule_entries")? {
                    let e = Obj::new(e, &what);
                    let span = Span::new(e.time("start")?, e.time("end")?).intersect(&window);
                    let user = match e.value.get("user") {
                        None | Some(Value::Null) => continue,
                        Some(u) => user_id(u, &what)?,
                    };
                    if span.is_empty() {
                        continue;
                    }
                    out.push(Shift {
                        team: team.name.clone(),
                        rota: rota.name.clone(),
                        person: plan
                            .person_for(user)
                            .map_or_else(|| format!("pagerduty-user-{user}"), str::to_string),
                        span,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// A PagerDuty user as a person: email and phone from their contact methods.
fn person(u: &Value, uid: &str, names: &mut Names, plan: &mut Plan) -> Result<Person, ImportError> {
    let what = format!("the PagerDuty user {uid}");
    let o = Obj::new(u, &what);
    let name = o.str("name")?.to_string();
    let id = names.claim(&slug(&name, &slug(uid, "person")));
    let mut email = None;
    let mut phone = None;
    let mut phone_is_sms = false;
    let methods = o.array("contact_methods")?;
    for m in methods {
        let m = Obj::new(m, &what);
        let kind = m.str("type")?;
        match kind {
            "email_contact_method" if email.is_none() => {
                email = Some(m.str("address")?.to_string());
            }
            "sms_contact_method" | "phone_contact_method" => {
                let number = format!("+{}{}", m.i64("country_code")?, m.str("address")?);
                let digits = &number[1..];
                let e164 = (8..=15).contains(&digits.len())
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && !digits.starts_with('0');
                if !e164 {
                    plan.approximate(
                        format!("user {uid}"),
                        format!("the phone number {number} is not E.164"),
                        "left out",
                    );
                } else if phone.is_none() || kind == "sms_contact_method" && !phone_is_sms {
                    // Pages go by SMS: a number that takes texts first.
                    phone_is_sms = kind == "sms_contact_method";
                    phone = Some(number);
                }
            }
            "push_notification_contact_method" => plan.approximate(
                format!("user {uid}"),
                "a push notification contact method (the PagerDuty app)",
                "not imported: give them a `push:` destination by hand",
            ),
            other if other.ends_with("_reference") => {
                return Err(ImportError::new(format!(
                    "{what}: contact methods came as references (`{other}`), not objects: the answer to GET /users?include[]=contact_methods is not the documented shape"
                )));
            }
            _ => {}
        }
    }
    if methods.is_empty() {
        plan.approximate(
            format!("user {uid}"),
            format!("\"{name}\" has no contact methods"),
            "written without email or phone: `oncall check` warns that nobody can reach them",
        );
    }
    let rules = o.opt_array("notification_rules")?;
    if !rules.is_empty() {
        plan.approximate(
            format!("user {uid}"),
            format!("{} notification rule(s)", rules.len()),
            "not imported: oncall reaches a person every way people.yaml gives",
        );
    }
    let timezone = plan.person_zone(uid, o.opt_str("time_zone")?);
    Ok(Person {
        id,
        source_id: uid.to_string(),
        name,
        email,
        phone,
        timezone,
    })
}

/// One PagerDuty layer as one or two of ours (see the module docs).
fn layers(
    layer: &Value,
    schedule: &str,
    tz: Tz,
    cx: &Context,
    people: &Plan,
    notes: &mut Plan,
) -> Result<Vec<Layer>, ImportError> {
    let what = format!("the PagerDuty schedule {schedule}");
    let o = Obj::new(layer, &what);
    let id = o.str("id")?.to_string();
    let lname = o.opt_str("name")?.unwrap_or("").to_string();
    let what = format!("layer {id} of the PagerDuty schedule {schedule}");
    let o = Obj::new(layer, &what);
    let start = o.time("start")?;
    let end = o.opt_time("end")?;
    let virtual_start = o.time("rotation_virtual_start")?;
    let turn = o.i64("rotation_turn_length_seconds")?;
    if turn < 60 {
        return Err(ImportError::new(format!(
            "{what}: rotation_turn_length_seconds is {turn}; oncall's turns are a minute or more"
        )));
    }
    let mut members: Vec<String> = Vec::new();
    for u in o.array("users")? {
        let uid = user_id(Obj::new(u, &what).object("user")?, &what)?;
        members.push(people.person_for(uid).unwrap_or(uid).to_string());
    }
    if end.is_some_and(|e| e <= start || e <= cx.from) {
        return Ok(Vec::new());
    }
    if members.is_empty() {
        notes.approximate(format!("layer {id}"), "has no users", "left out");
        return Ok(Vec::new());
    }
    let active = windows(o, &id, notes)?;
    let n = members.len() as i64;
    let (v_local, s_local) = (to_local(tz, virtual_start), to_local(tz, start));
    let k = (s_local - v_local).num_seconds().div_euclid(turn);
    let at = |k: i64| -> NaiveDateTime { v_local + Duration::seconds(k * turn) };
    let comment = format!("layer {id} \"{lname}\"");
    let rotation = |from_k: i64, start: NaiveDateTime, end, comment: String| {
        let idx = from_k.rem_euclid(n) as usize;
        let who = &members[idx];
        // `first` names a person; one listed more than once starts at their
        // first place, so then the list is written from the turn instead.
        let (list, first) = if members.iter().position(|m| m == who) == Some(idx) {
            (members.clone(), (idx != 0).then(|| who.clone()))
        } else {
            let mut l = members[idx..].to_vec();
            l.extend_from_slice(&members[..idx]);
            (l, None)
        };
        Layer {
            comment,
            members: list.into_iter().map(|m| vec![m]).collect(),
            first,
            start,
            end,
            every_seconds: turn,
            active: active.clone(),
        }
    };
    if at(k) == s_local {
        return Ok(vec![rotation(k, s_local, end, comment)]);
    }
    // The turn under way at `start`, then the rotation from the next
    // hand-off.
    let next = resolve_local(tz, at(k + 1));
    let mut out = vec![Layer {
        members: vec![vec![members[k.rem_euclid(n) as usize].clone()]],
        first: None,
        ..rotation(
            k,
            s_local,
            Some(end.map_or(next, |e| e.min(next))),
            format!("{comment}, the turn under way at the layer's start"),
        )
    }];
    if end.is_none_or(|e| e > next) {
        out.push(rotation(k + 1, at(k + 1), end, comment));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use serde_json::json;

    fn restricted(restrictions: Value) -> (Vec<Window>, Plan) {
        let layer = json!({ "restrictions": restrictions });
        let mut plan = Plan::default();
        let w = windows(Obj::new(&layer, "layer L"), "L", &mut plan).unwrap();
        (w, plan)
    }

    #[test]
    fn restrictions_are_windows_to_the_minute() {
        let daily = |start: &str, secs: i64| json!([{"type": "daily_restriction", "start_time_of_day": start, "duration_seconds": secs}]);
        let (w, plan) = restricted(daily("20:00:00", 43_200));
        assert_eq!(
            w,
            [Window::Daily {
                from: (20, 0),
                to: (8, 0)
            }]
        );
        assert!(plan.approximations.is_empty());
        assert_eq!(
            restricted(daily("08:00:00", 57_600)).0,
            [Window::Daily {
                from: (8, 0),
                to: (24, 0)
            }]
        );
        // A day or more covers every instant.
        assert!(restricted(daily("08:00:00", 86_400)).0.is_empty());
        // Seconds are rounded, and said.
        let (w, plan) = restricted(daily("12:31:23", 3_600));
        assert_eq!(
            w,
            [Window::Daily {
                from: (12, 31),
                to: (13, 31)
            }]
        );
        assert_eq!(plan.approximations.len(), 1, "{:?}", plan.approximations);

        let weekly = json!([{"type": "weekly_restriction", "start_day_of_week": 5, "start_time_of_day": "18:00:00", "duration_seconds": 62 * 3600}]);
        assert_eq!(
            restricted(weekly).0,
            [Window::Weekly {
                from: (Weekday::Fri, (18, 0)),
                to: (Weekday::Mon, (8, 0))
            }]
        );
        let whole = json!([{"type": "weekly_restriction", "start_day_of_week": 1, "start_time_of_day": "00:00:00", "duration_seconds": 604_800}]);
        assert!(restricted(whole).0.is_empty());
        let layer = json!({ "restrictions": [{"type": "monthly_restriction", "start_time_of_day": "00:00:00", "duration_seconds": 60}] });
        let e = windows(Obj::new(&layer, "layer L"), "L", &mut Plan::default()).unwrap_err();
        assert!(e.0.contains("`monthly_restriction`"), "{e}");
    }

    fn cx() -> Context {
        Context {
            from: "2027-02-01T00:00:00Z".parse().unwrap(),
            verify: None,
            team_map: BTreeMap::new(),
        }
    }

    fn local(d: (i32, u32, u32), h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(d.0, d.1, d.2)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    fn layer(start: &str, virtual_start: &str, users: &[&str]) -> Value {
        json!({
            "id": "PL", "name": "L", "start": start, "end": null,
            "rotation_virtual_start": virtual_start, "rotation_turn_length_seconds": 86_400,
            "users": users.iter().map(|u| json!({"user": {"id": u}})).collect::<Vec<_>>(),
            "restrictions": [],
        })
    }

    #[test]
    fn a_start_on_a_hand_off_names_the_member_then_with_first() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        let l = layer(
            "2027-01-03T09:00:00+01:00",
            "2027-01-01T09:00:00+01:00",
            &["A", "B", "C"],
        );
        let out = layers(&l, "S", tz, &cx(), &Plan::default(), &mut Plan::default()).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].start, local((2027, 1, 3), 9, 0));
        assert_eq!(out[0].first.as_deref(), Some("C"));
        assert_eq!(out[0].members, [["A"], ["B"], ["C"]]);
    }

    #[test]
    fn a_start_inside_a_turn_is_that_turn_then_the_rotation() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        // Day 37 from the virtual start: B's turn (index 1), then the second A.
        let l = layer(
            "2027-02-07T15:00:00+01:00",
            "2027-01-01T09:00:00+01:00",
            &["A", "B", "A", "C"],
        );
        let out = layers(&l, "S", tz, &cx(), &Plan::default(), &mut Plan::default()).unwrap();
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0].members, [["B"]]);
        assert_eq!(out[0].start, local((2027, 2, 7), 15, 0));
        assert_eq!(out[0].end, Some("2027-02-08T08:00:00Z".parse().unwrap()));
        // A is listed twice and `first: A` would start at the first A: the
        // list is written from the turn instead.
        assert_eq!(out[1].members, [["A"], ["C"], ["A"], ["B"]]);
        assert_eq!(out[1].first, None);
        assert_eq!(out[1].start, local((2027, 2, 8), 9, 0));
    }

    #[test]
    fn a_layer_ended_before_the_import_is_left_out() {
        let tz: Tz = "UTC".parse().unwrap();
        let mut l = layer("2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z", &["A"]);
        l["end"] = json!("2027-01-20T00:00:00Z");
        assert!(
            layers(&l, "S", tz, &cx(), &Plan::default(), &mut Plan::default())
                .unwrap()
                .is_empty()
        );
    }
}
