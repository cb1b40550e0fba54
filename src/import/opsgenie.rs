//! Opsgenie, from its REST API v2 (`https://api.opsgenie.com`, or
//! `https://api.eu.opsgenie.com` for accounts in the EU).
//!
//! Requests carry `Authorization: GenieKey ...` (the API key from the
//! variable named by `--key-env`); listings are followed through their
//! `paging.next` links. What is read: `GET /v2/schedules?expand=rotation`
//! (or `GET /v2/schedules/{id}` for each `--schedule`), `GET
//! /v2/schedules/{id}/overrides`, `GET /v2/users` and each imported user's
//! contacts and notification rules, `GET /v2/teams` and the members of the
//! teams that take turns, `GET /v2/escalations`; with `--verify`, `GET
//! /v2/schedules/{id}/timeline` for the window.
//!
//! How it maps (docs/import.md has the table):
//! - every rotation of a schedule is on call at the same time as the
//!   others, so each rotation is a rota of its own (one layer), in the team
//!   of the schedule's `ownerTeam` (or of `--team-map`), in the schedule's
//!   zone; escalation rules that page the schedule page all its rotas;
//! - turns run every `length` hours, days or weeks of wall-clock time from
//!   `startDate`; `endDate` is the layer's `end`; a `team` participant is a
//!   group of its members;
//! - a `time-of-day` restriction is a daily window, each
//!   `weekday-and-time-of-day` restriction a window across days;
//! - an override is a full-cover override of each rotation it names (of
//!   every rotation of the schedule when it names none);
//! - escalation rules, whose delays count from the alert, are steps each
//!   after the previous one; `repeat.count` is `repeat`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Weekday;
use chrono_tz::Tz;
use serde_json::Value;

use super::fetch::{Fetcher, ImportError, NextPage, Obj};
use super::plan::{
    Escalation, Layer, Names, Override, Person, Plan, Rota, Step, Target, Team, TeamPlaces, TimeOfDay, Window, slug,
};
use super::{CommonArgs, Context, Source};
use crate::domain::compare::Shift;
use crate::domain::time::{Instant, Rfc3339, Span, to_local};

const NAME: &str = "Opsgenie";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The environment variable holding an Opsgenie API key (never the key
    /// itself: command lines are seen by others).
    #[arg(long, value_name = "NAME")]
    pub key_env: Option<String>,
    /// The API's base URL: https://api.opsgenie.com (US) or
    /// https://api.eu.opsgenie.com (EU).
    // The help text shows the URLs as written (clap prints the comment).
    #[allow(rustdoc::bare_urls)]
    #[arg(long, value_name = "URL", default_value = "https://api.opsgenie.com")]
    pub api_url: String,
    /// Only this schedule, by id (repeat for several). Default: every schedule.
    #[arg(long = "schedule", value_name = "ID")]
    pub schedules: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub struct Opsgenie {
    args: Args,
    /// Opsgenie team id → the user ids of its members (teams that take turns).
    team_members: BTreeMap<String, Vec<String>>,
    /// Rotation id → (our team, our rota).
    rotation_rota: BTreeMap<String, (String, String)>,
}

impl Opsgenie {
    pub fn new(args: Args) -> Opsgenie {
        Opsgenie {
            args,
            team_members: BTreeMap::new(),
            rotation_rota: BTreeMap::new(),
        }
    }
}

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn rfc(t: Instant) -> String {
    Rfc3339::new(t).as_str().to_string()
}

/// Every item of an Opsgenie listing, following `paging.next`.
fn list(fetch: &mut Fetcher, path: &str, query: &[(&str, &str)], what: &str) -> Result<Vec<Value>, ImportError> {
    let next = |page: &Value, _: usize| -> Option<NextPage> {
        page.get("paging")
            .and_then(|p| p.get("next"))
            .and_then(Value::as_str)
            .map(|u| NextPage::Url(u.to_string()))
    };
    fetch.list(path, &q(query), "data", what, &next)
}

/// The `data` of a single object's answer.
fn data(answer: &Value, what: &str) -> Result<Value, ImportError> {
    answer
        .get("data")
        .cloned()
        .ok_or_else(|| ImportError::new(format!("{what}: the answer has no `data` (not the documented shape)")))
}

fn day(name: &str, what: &str) -> Result<Weekday, ImportError> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "monday" => Weekday::Mon,
        "tuesday" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        "sunday" => Weekday::Sun,
        _ => {
            return Err(ImportError::new(format!(
                "{what}: `{name}` is not a day (monday ... sunday)"
            )));
        }
    })
}

fn hour_min(r: Obj, h: &str, m: &str) -> Result<TimeOfDay, ImportError> {
    let (hv, mv) = (r.opt_i64(h)?.unwrap_or(0), r.opt_i64(m)?.unwrap_or(0));
    if !(0..24).contains(&hv) || !(0..60).contains(&mv) {
        return Err(ImportError::new(format!(
            "{}: `{h}`/`{m}` is {hv}:{mv}, not a time of day",
            r.what
        )));
    }
    Ok((hv as u32, mv as u32))
}

/// A rotation's time restriction as windows: empty for always on.
fn windows(rot: Obj) -> Result<Vec<Window>, ImportError> {
    let Some(tr) = rot.value.get("timeRestriction").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let tr = Obj::new(tr, rot.what);
    match tr.str("type")? {
        "time-of-day" => {
            let r = Obj::new(tr.object("restriction")?, rot.what);
            let from = hour_min(r, "startHour", "startMin")?;
            let to = hour_min(r, "endHour", "endMin")?;
            if from == to {
                // Every hour of every day.
                return Ok(Vec::new());
            }
            let to = if to == (0, 0) { (24, 0) } else { to };
            Ok(vec![Window::Daily { from, to }])
        }
        "weekday-and-time-of-day" => {
            let mut out = Vec::new();
            for r in tr.array("restrictions")? {
                let r = Obj::new(r, rot.what);
                let from = (
                    day(r.str("startDay")?, rot.what)?,
                    hour_min(r, "startHour", "startMin")?,
                );
                let to = (day(r.str("endDay")?, rot.what)?, hour_min(r, "endHour", "endMin")?);
                if from == to {
                    // A whole week: no restriction at all.
                    return Ok(Vec::new());
                }
                out.push(Window::Weekly { from, to });
            }
            if out.is_empty() {
                return Err(ImportError::new(format!(
                    "{}: a weekday-and-time-of-day restriction with no `restrictions`",
                    rot.what
                )));
            }
            Ok(out)
        }
        other => Err(ImportError::new(format!(
            "{}: time restriction type `{other}`, not time-of-day or weekday-and-time-of-day",
            rot.what
        ))),
    }
}

impl Source for Opsgenie {
    fn name(&self) -> &'static str {
        NAME
    }

    fn connect(&self) -> Result<Fetcher, ImportError> {
        let key = super::fetch::secret_from_env(self.args.key_env.as_deref(), "--key-env", "an Opsgenie API key")?;
        Fetcher::http(
            &format!("{}/v2", self.args.api_url.trim_end_matches('/')),
            vec![("Authorization".into(), format!("GenieKey {key}"))],
        )
    }

    fn plan(&mut self, fetch: &mut Fetcher, cx: &Context) -> Result<Plan, ImportError> {
        let mut plan = Plan {
            source: NAME.into(),
            ..Plan::default()
        };
        let mut schedules: Vec<Value> = if self.args.schedules.is_empty() {
            list(
                fetch,
                "schedules",
                &[("expand", "rotation")],
                "the Opsgenie schedules (GET /v2/schedules)",
            )?
        } else {
            let mut out = Vec::new();
            for id in &self.args.schedules {
                let what = format!("the Opsgenie schedule {id}");
                out.push(data(&fetch.get(&format!("schedules/{id}"), &[], &what)?, &what)?);
            }
            out
        };
        let mut by_id = BTreeMap::new();
        for s in schedules.drain(..) {
            let id = Obj::new(&s, "an Opsgenie schedule").str("id")?.to_string();
            by_id.insert(id, s);
        }
        let schedules = by_id;

        // Where each schedule goes, and who it needs.
        let mut places = TeamPlaces::default();
        let mut schedule_team: BTreeMap<String, (String, Tz)> = BTreeMap::new();
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        let mut turn_teams: BTreeSet<String> = BTreeSet::new();
        for (id, s) in &schedules {
            let what = format!("the Opsgenie schedule {id}");
            let o = Obj::new(s, &what);
            let name = o.str("name")?;
            let tz_name = o.str("timezone")?;
            let tz: Tz = tz_name.parse().map_err(|_| {
                ImportError::new(format!(
                    "the Opsgenie schedule {id} ({name}): time zone `{tz_name}` is not an IANA zone oncall knows"
                ))
            })?;
            let owner = match o.value.get("ownerTeam").filter(|v| !v.is_null()) {
                Some(t) => Some((
                    Obj::new(t, &what).str("id")?.to_string(),
                    Obj::new(t, &what).opt_str("name")?.unwrap_or("").to_string(),
                )),
                None => None,
            };
            let wanted_team = cx
                .team_map
                .get(id)
                .or_else(|| owner.as_ref().and_then(|(t, _)| cx.team_map.get(t)))
                .cloned()
                .unwrap_or_else(|| match &owner {
                    Some((tid, tname)) => slug(tname, &slug(tid, "team")),
                    None => slug(name, "team"),
                });
            let label = match &owner {
                Some((tid, _)) => format!("team {tid}"),
                None => format!("schedule {id}, which has no owner team"),
            };
            let team = places.place(&wanted_team, tz, &format!("schedule {id}"), &label, &mut plan);
            schedule_team.insert(id.clone(), (team, tz));
            for rot in o.opt_array("rotations")? {
                for p in Obj::new(rot, &what).array("participants")? {
                    let p = Obj::new(p, &what);
                    match p.str("type")? {
                        "user" => {
                            wanted.insert(p.str("id")?.to_string());
                        }
                        "team" => {
                            turn_teams.insert(p.str("id")?.to_string());
                        }
                        _ => {}
                    }
                }
            }
        }
        for tid in &turn_teams {
            let what = format!("the Opsgenie team {tid}");
            let t = data(&fetch.get(&format!("teams/{tid}"), &[], &what)?, &what)?;
            let mut members = Vec::new();
            for m in Obj::new(&t, &what).opt_array("members")? {
                let user = Obj::new(m, &what).object("user")?;
                let uid = Obj::new(user, &what).str("id")?.to_string();
                wanted.insert(uid.clone());
                members.push(uid);
            }
            self.team_members.insert(tid.clone(), members);
        }
        let mut overrides: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for id in schedules.keys() {
            let what = format!("the overrides of the Opsgenie schedule {id}");
            let answer = fetch.get(&format!("schedules/{id}/overrides"), &[], &what)?;
            let list = Obj::new(&answer, &what).array("data")?.to_vec();
            for ov in &list {
                let u = Obj::new(Obj::new(ov, &what).object("user")?, &what);
                wanted.insert(u.str("id")?.to_string());
            }
            overrides.insert(id.clone(), list);
        }
        let mut escalations = list(
            fetch,
            "escalations",
            &[],
            "the Opsgenie escalations (GET /v2/escalations)",
        )?;
        escalations.sort_by(|a, b| {
            let id = |v: &Value| v.get("id").and_then(Value::as_str).unwrap_or("").to_string();
            id(a).cmp(&id(b))
        });
        for e in &escalations {
            let what = "an Opsgenie escalation";
            for r in Obj::new(e, what).opt_array("rules")? {
                let rec = Obj::new(Obj::new(r, what).object("recipient")?, what);
                if rec.str("type")? == "user" {
                    wanted.insert(rec.str("id")?.to_string());
                }
            }
        }

        // People, in Opsgenie id order so that names clash the same way
        // every time.
        let users = list(fetch, "users", &[], "the Opsgenie users (GET /v2/users)")?;
        let mut users_by_id: BTreeMap<String, Value> = BTreeMap::new();
        for u in users {
            let id = Obj::new(&u, "an Opsgenie user in GET /v2/users").str("id")?.to_string();
            users_by_id.insert(id, u);
        }
        let mut names = Names::default();
        for uid in &wanted {
            let Some(u) = users_by_id.get(uid) else {
                return Err(ImportError::new(format!(
                    "the Opsgenie user {uid} is on a schedule, an override or an escalation but not in GET /v2/users"
                )));
            };
            let person = person(fetch, u, uid, &mut names, &mut plan)?;
            plan.people.push(person);
        }

        // Teams, and a rota for each rotation.
        let mut teams: BTreeMap<String, Team> = BTreeMap::new();
        let mut rota_names: BTreeMap<String, Names> = BTreeMap::new();
        let mut schedule_rotas: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (id, s) in &schedules {
            let (team_name, tz) = schedule_team[id].clone();
            let what = format!("the Opsgenie schedule {id}");
            let o = Obj::new(s, &what);
            let sname = o.str("name")?.to_string();
            let rotations = o.opt_array("rotations")?;
            let mut made: Vec<(String, String)> = Vec::new();
            for rot in rotations {
                let rid = Obj::new(rot, &what).str("id")?.to_string();
                let rwhat = format!("rotation {rid} of the Opsgenie schedule {id}");
                let r = Obj::new(rot, &rwhat);
                let rname = r.opt_str("name")?.unwrap_or("").to_string();
                let Some(layer) = self.layer(r, &rid, &rname, tz, cx, &mut plan)? else {
                    continue;
                };
                let wanted_name = if rotations.len() == 1 {
                    slug(&sname, "rota")
                } else {
                    format!("{}-{}", slug(&sname, "rota"), slug(&rname, "rotation"))
                };
                let rota_name = rota_names.entry(team_name.clone()).or_default().claim(&wanted_name);
                self.rotation_rota
                    .insert(rid.clone(), (team_name.clone(), rota_name.clone()));
                made.push((rid.clone(), rota_name.clone()));
                let team = teams.entry(team_name.clone()).or_insert_with(|| Team {
                    name: team_name.clone(),
                    timezone: tz,
                    source: places.sources.get(&team_name).cloned().unwrap_or_default(),
                    rotas: Vec::new(),
                    overrides: Vec::new(),
                    escalation: None,
                });
                team.rotas.push(Rota {
                    name: rota_name,
                    source_id: format!("{id} rotation {rid}"),
                    source_name: if rname.is_empty() {
                        sname.clone()
                    } else {
                        format!("{sname} / {rname}")
                    },
                    layers: vec![layer],
                });
            }
            if made.is_empty() {
                plan.approximate(
                    format!("schedule {id}"),
                    format!("\"{sname}\" has no rotation in force from {}", rfc(cx.from)),
                    "not imported",
                );
                continue;
            }
            schedule_rotas.insert(id.clone(), made.iter().map(|(_, r)| r.clone()).collect());
            let team = teams.get_mut(&team_name).expect("the team of a rota just made");
            for ov in &overrides[id] {
                let what = format!("an override of the Opsgenie schedule {id}");
                let v = Obj::new(ov, &what);
                let alias = v.opt_str("alias")?.unwrap_or("").to_string();
                let (from, to) = (v.time("startDate")?, v.time("endDate")?);
                let u = Obj::new(v.object("user")?, &what);
                if u.str("type")? != "user" {
                    plan.approximate(
                        format!("override {alias} of schedule {id}"),
                        format!("puts a {} on call, not a user", u.str("type")?),
                        "left out",
                    );
                    continue;
                }
                let uid = u.str("id")?;
                if to <= cx.from || to <= from {
                    continue;
                }
                let named: Vec<String> = v
                    .opt_array("rotations")?
                    .iter()
                    .map(|r| Obj::new(r, &what).str("id").map(str::to_string))
                    .collect::<Result<_, _>>()?;
                for (rid, rota) in &made {
                    if named.is_empty() || named.contains(rid) {
                        team.overrides.push(Override {
                            rota: rota.clone(),
                            from,
                            to,
                            user: plan.person_for(uid).unwrap_or(uid).to_string(),
                            source_id: format!("override {alias}"),
                        });
                    }
                }
            }
        }

        // Escalations: the first (by id) of each team.
        let team_of_source: BTreeMap<String, String> = schedules
            .iter()
            .filter_map(|(id, s)| {
                let owner = s.get("ownerTeam")?.get("id")?.as_str()?.to_string();
                Some((owner, schedule_team.get(id)?.0.clone()))
            })
            .collect();
        for e in &escalations {
            let eid = Obj::new(e, "an Opsgenie escalation").str("id")?.to_string();
            let what = format!("the Opsgenie escalation {eid}");
            let o = Obj::new(e, &what);
            let ename = o.opt_str("name")?.unwrap_or("").to_string();
            let owner = o
                .value
                .get("ownerTeam")
                .and_then(|t| t.get("id"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let mut rules: Vec<(i64, Obj)> = Vec::new();
            for r in o.opt_array("rules")? {
                let r = Obj::new(r, &what);
                let delay = Obj::new(r.object("delay")?, &what);
                let amount = delay.i64("timeAmount")?;
                let minutes = match delay.opt_str("timeUnit")?.unwrap_or("minutes") {
                    "minutes" => amount,
                    "hours" => amount * 60,
                    "days" => amount * 1440,
                    other => {
                        return Err(ImportError::new(format!("{what}: delay unit `{other}`")));
                    }
                };
                rules.push((minutes.max(0), r));
            }
            rules.sort_by_key(|(m, _)| *m);
            // The team: that of the first schedule it pages, else its owner's.
            let home = rules
                .iter()
                .find_map(|(_, r)| {
                    let rec = r.value.get("recipient")?;
                    (rec.get("type")?.as_str()? == "schedule")
                        .then(|| schedule_team.get(rec.get("id")?.as_str()?).map(|(t, _)| t.clone()))
                        .flatten()
                })
                .or_else(|| owner.as_ref().and_then(|t| team_of_source.get(t).cloned()));
            let Some(home) = home.filter(|h| teams.contains_key(h)) else {
                plan.approximate(
                    format!("escalation {eid}"),
                    format!("\"{ename}\" pages no schedule that was imported, and its team has none"),
                    "not imported (a team's escalation policy pages its own rotas)",
                );
                continue;
            };
            if teams[&home].escalation.is_some() {
                plan.approximate(
                    format!("escalation {eid}"),
                    format!("\"{ename}\" is a second escalation for team {home}"),
                    "not imported (a team has one escalation policy; the first by id was)",
                );
                continue;
            }
            let mut steps: Vec<Step> = Vec::new();
            let mut last_delay = 0;
            for (i, (delay, r)) in rules.iter().enumerate() {
                let n = i + 1;
                if let Some(cond) = r.opt_str("condition")?
                    && cond != "if-not-acked"
                {
                    plan.approximate(
                        format!("escalation {eid}"),
                        format!("rule {n} has condition {cond}"),
                        "written as a step: oncall escalates until someone acknowledges",
                    );
                }
                if let Some(nt) = r.opt_str("notifyType")?
                    && nt != "default"
                {
                    plan.approximate(
                        format!("escalation {eid}"),
                        format!("rule {n} notifies `{nt}` of its recipient"),
                        "written as notifying the recipient itself",
                    );
                }
                let rec = Obj::new(r.object("recipient")?, &what);
                let rid = rec.opt_str("id")?.unwrap_or("").to_string();
                let mut notify = Vec::new();
                match rec.str("type")? {
                    "user" => notify.push(Target::User(plan.person_for(&rid).unwrap_or(&rid).to_string())),
                    "schedule" => match (schedule_team.get(&rid), schedule_rotas.get(&rid)) {
                        (Some((t, _)), Some(rotas)) if *t == home => {
                            notify.extend(rotas.iter().map(|r| Target::Rota(r.clone())))
                        }
                        (Some((t, _)), Some(_)) => {
                            plan.approximate(
                                format!("escalation {eid}"),
                                format!("rule {n} pages schedule {rid} of team {t}"),
                                format!("written as team:{t} (everyone on call on any of its rotas)"),
                            );
                            notify.push(Target::Team(t.clone()));
                        }
                        _ => plan.approximate(
                            format!("escalation {eid}"),
                            format!("rule {n} pages schedule {rid}, which was not imported"),
                            "left out",
                        ),
                    },
                    "team" => match team_of_source.get(&rid) {
                        Some(t) => {
                            plan.approximate(
                                format!("escalation {eid}"),
                                format!("rule {n} pages team {rid}"),
                                format!("written as team:{t} (everyone on call on any of its rotas)"),
                            );
                            notify.push(Target::Team(t.clone()));
                        }
                        None => plan.approximate(
                            format!("escalation {eid}"),
                            format!("rule {n} pages team {rid}, which has no imported schedule"),
                            "left out",
                        ),
                    },
                    other => plan.approximate(
                        format!("escalation {eid}"),
                        format!("rule {n} pages a recipient of type {other}"),
                        "left out",
                    ),
                }
                if notify.is_empty() {
                    continue;
                }
                // Rules with the same delay fire together: one step.
                match steps.last_mut() {
                    Some(step) if *delay == last_delay => step.notify.extend(notify),
                    _ => {
                        steps.push(Step {
                            after_minutes: (*delay - last_delay) as u64,
                            notify,
                        });
                        last_delay = *delay;
                    }
                }
            }
            for s in &mut steps {
                s.notify.sort();
                s.notify.dedup();
            }
            if steps.is_empty() {
                continue;
            }
            let mut repeat = 0;
            if let Some(rep) = o.value.get("repeat").filter(|v| !v.is_null()) {
                let rep = Obj::new(rep, &what);
                let count = rep.opt_i64("count")?.unwrap_or(0);
                repeat = count.clamp(0, 100) as u32;
                if i64::from(repeat) != count {
                    plan.approximate(
                        format!("escalation {eid}"),
                        format!("repeat count is {count}"),
                        format!("written as repeat: {repeat} (0 to 100)"),
                    );
                }
                let wait = rep.opt_i64("waitInterval")?.unwrap_or(0);
                if repeat > 0 && wait > 0 {
                    plan.approximate(
                        format!("escalation {eid}"),
                        format!("repeats after waiting {wait} minutes"),
                        "written as repeat: oncall runs the chain again right after its last step",
                    );
                }
            }
            if let Some(team) = teams.get_mut(&home) {
                team.escalation = Some(Escalation {
                    source_id: eid.clone(),
                    source_name: ename,
                    steps,
                    repeat,
                });
            }
        }
        plan.teams = teams.into_values().collect();
        Ok(plan)
    }

    fn rendered(&mut self, fetch: &mut Fetcher, plan: &Plan, window: Span) -> Result<Vec<Shift>, ImportError> {
        let schedules: BTreeSet<String> = plan
            .teams
            .iter()
            .flat_map(|t| t.rotas.iter())
            .filter_map(|r| r.source_id.split(' ').next().map(str::to_string))
            .collect();
        let seconds = (window.end - window.start).num_seconds();
        let days = (seconds + 86_399) / 86_400;
        let mut out = Vec::new();
        for id in schedules {
            let what = format!("the timeline of the Opsgenie schedule {id}");
            let answer = fetch.get(
                &format!("schedules/{id}/timeline"),
                &q(&[
                    ("date", &rfc(window.start)),
                    ("interval", &days.to_string()),
                    ("intervalUnit", "days"),
                ]),
                &what,
            )?;
            let d = data(&answer, &what)?;
            let fin = Obj::new(&d, &what).object("finalTimeline")?;
            for row in Obj::new(fin, &what).opt_array("rotations")? {
                let row = Obj::new(row, &what);
                let Some((team, rota)) = self.rotation_rota.get(row.str("id")?) else {
                    continue;
                };
                for p in row.opt_array("periods")? {
                    let p = Obj::new(p, &what);
                    let span = Span::new(p.time("startDate")?, p.time("endDate")?).intersect(&window);
                    if span.is_empty() {
                        continue;
                    }
                    let Some(rec) = p.value.get("recipient").filter(|v| !v.is_null()) else {
                        continue;
                    };
                    let rec = Obj::new(rec, &what);
                    let rid = rec.opt_str("id")?.unwrap_or("").to_string();
                    let people: Vec<String> = match rec.str("type")? {
                        "user" => vec![rid],
                        "team" => self
                            .team_members
                            .get(&rid)
                            .cloned()
                            .unwrap_or_else(|| vec![format!("team {rid}")]),
                        _ => continue,
                    };
                    for uid in people {
                        out.push(Shift {
                            team: team.clone(),
                            rota: rota.clone(),
                            person: plan
                                .person_for(&uid)
                                .map_or_else(|| format!("opsgenie-user-{uid}"), str::to_string),
                            span,
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Opsgenie {
    /// One rotation as one layer; `None` when it ended before the import.
    fn layer(
        &self,
        r: Obj,
        rid: &str,
        rname: &str,
        tz: Tz,
        cx: &Context,
        plan: &mut Plan,
    ) -> Result<Option<Layer>, ImportError> {
        let start = r.time("startDate")?;
        let end = r.opt_time("endDate")?;
        if end.is_some_and(|e| e <= start || e <= cx.from) {
            return Ok(None);
        }
        let length = r.opt_i64("length")?.unwrap_or(1);
        let unit = match r.str("type")? {
            "hourly" => 3_600,
            "daily" => 86_400,
            "weekly" => 604_800,
            other => {
                return Err(ImportError::new(format!(
                    "{}: type `{other}`, not hourly, daily or weekly",
                    r.what
                )));
            }
        };
        if length < 1 {
            return Err(ImportError::new(format!(
                "{}: length {length} is not 1 or more",
                r.what
            )));
        }
        let mut members: Vec<Vec<String>> = Vec::new();
        for (i, p) in r.array("participants")?.iter().enumerate() {
            let p = Obj::new(p, r.what);
            match p.str("type")? {
                "user" => {
                    let uid = p.str("id")?;
                    members.push(vec![plan.person_for(uid).unwrap_or(uid).to_string()]);
                }
                "team" => {
                    let tid = p.str("id")?;
                    let group: Vec<String> = self
                        .team_members
                        .get(tid)
                        .map(|m| m.iter().map(|u| plan.person_for(u).unwrap_or(u).to_string()).collect())
                        .unwrap_or_default();
                    if group.is_empty() {
                        plan.approximate(
                            format!("rotation {rid}"),
                            format!("participant {} is team {tid}, which has no members", i + 1),
                            "left out of the turns",
                        );
                    } else {
                        members.push(group);
                    }
                }
                other => plan.approximate(
                    format!("rotation {rid}"),
                    format!(
                        "participant {} is {}",
                        i + 1,
                        if other == "none" {
                            "`none` (a turn with nobody on call)".to_string()
                        } else {
                            format!("of type {other}")
                        }
                    ),
                    "left out of the turns: the next participant's turn comes one turn early",
                ),
            }
        }
        if members.is_empty() {
            plan.approximate(format!("rotation {rid}"), "has nobody to put on call", "left out");
            return Ok(None);
        }
        Ok(Some(Layer {
            comment: format!("rotation {rid} \"{rname}\""),
            members,
            first: None,
            start: to_local(tz, start),
            end,
            every_seconds: unit * length,
            active: windows(r)?,
        }))
    }
}

/// An Opsgenie user as a person: email and phone from their contacts. A
/// user with no contact at all cannot be paged, and stops the import.
fn person(
    fetch: &mut Fetcher,
    u: &Value,
    uid: &str,
    names: &mut Names,
    plan: &mut Plan,
) -> Result<Person, ImportError> {
    let what = format!("the Opsgenie user {uid}");
    let o = Obj::new(u, &what);
    let username = o.str("username")?.to_string();
    let name = o.opt_str("fullName")?.unwrap_or(&username).to_string();
    let id = names.claim(&slug(&name, &slug(uid, "person")));
    let cwhat = format!("the contacts of the Opsgenie user {uid} ({username})");
    let contacts = data(&fetch.get(&format!("users/{uid}/contacts"), &[], &cwhat)?, &cwhat)?;
    let contacts = contacts
        .as_array()
        .ok_or_else(|| ImportError::new(format!("{cwhat}: `data` is not a list (not the documented shape)")))?;
    let enabled: Vec<&Value> = contacts
        .iter()
        .filter(|c| c.get("enabled").and_then(Value::as_bool) != Some(false))
        .collect();
    if enabled.is_empty() {
        // As from the other sources: one person nobody can reach does not
        // stop a team's move; it is said here, in IMPORT.md and by `check`.
        plan.approximate(
            format!("user {uid}"),
            format!("\"{name}\" ({username}) has no enabled contact methods"),
            "written without email or phone: `oncall check` warns that nobody can reach them",
        );
    }
    let mut email = None;
    let mut phone: Option<String> = None;
    let mut phone_is_sms = false;
    for c in enabled {
        let c = Obj::new(c, &cwhat);
        let method = c.str("method")?;
        let to = c.str("to")?;
        match method {
            "email" if email.is_none() => email = Some(to.to_string()),
            "sms" | "voice" => {
                let digits: String = to.chars().filter(|ch| !matches!(ch, '-' | ' ' | '+')).collect();
                let e164 = (8..=15).contains(&digits.len())
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && !digits.starts_with('0');
                if !e164 {
                    plan.approximate(
                        format!("user {uid}"),
                        format!("the {method} number {to} is not E.164"),
                        "left out",
                    );
                } else if phone.is_none() || method == "sms" && !phone_is_sms {
                    // Pages go by SMS: a number that takes texts first.
                    phone_is_sms = method == "sms";
                    phone = Some(format!("+{digits}"));
                }
            }
            "mobile" => plan.approximate(
                format!("user {uid}"),
                "a mobile contact (the Opsgenie app)",
                "not imported: give them a `push:` destination by hand",
            ),
            _ => {}
        }
    }
    let rwhat = format!("the notification rules of the Opsgenie user {uid}");
    let rules = data(
        &fetch.get(&format!("users/{uid}/notification-rules"), &[], &rwhat)?,
        &rwhat,
    )?;
    let n = rules.as_array().map_or(0, Vec::len);
    if n > 0 {
        plan.approximate(
            format!("user {uid}"),
            format!("{n} notification rule(s)"),
            "not imported: oncall reaches a person every way people.yaml gives",
        );
    }
    let timezone = plan.person_zone(uid, o.opt_str("timeZone")?);
    Ok(Person {
        id,
        source_id: uid.to_string(),
        name,
        email,
        phone,
        timezone,
    })
}
