//! Grafana OnCall, from its HTTP API v1 (`--url` is the OnCall API's base,
//! such as `https://oncall-prod-us-central-0.grafana.net/oncall`; the paths
//! are under `/api/v1/`).
//!
//! Requests carry `Authorization: ...` with the API token itself (from the
//! variable named by `--token-env`); listings are followed through their
//! `next` links. What is read: `GET /api/v1/schedules/` (or each
//! `--schedule`), `GET /api/v1/on_call_shifts/`, `GET /api/v1/users/`, `GET
//! /api/v1/personal_notification_rules/`, `GET /api/v1/teams/`, `GET
//! /api/v1/escalation_chains/` and `GET /api/v1/escalation_policies/`; with
//! `--verify`, `GET /api/v1/schedules/{id}/final_shifts` for the window.
//!
//! How it maps (docs/import.md has the table):
//! - a schedule is a rota of the team of its `team_id` (or of
//!   `--team-map`), in the schedule's `time_zone`; its shifts are the
//!   rota's layers, lowest `level` first, so that the highest level wins
//!   where they overlap, as in Grafana OnCall;
//! - a `rolling_users` shift takes turns of `interval` hours, days or weeks
//!   from `start`, one list of users (a group) a turn, from
//!   `start_rotation_from_user_index`; a weekly one with `by_day` hands over
//!   when the week begins (`week_start`), at the shift's time of day;
//!   a `recurrent_event` is the same with one group of all its `users`;
//! - events shorter than the turn, or only on `by_day`, are `active`
//!   windows of the week; `until` is the layer's `end`, at the end of the
//!   last event; a `single_event` is a layer from its start to its end;
//! - `override` shifts are full-cover overrides of the rota;
//! - an escalation chain's policies are steps: `wait` adds to the next
//!   step's `after`, `notify_persons` and `notify_on_call_from_schedule` are
//!   its targets, `repeat_escalation` is `repeat`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Weekday};
use chrono_tz::Tz;
use serde_json::Value;

use super::fetch::{Fetcher, ImportError, NextPage, Obj};
use super::plan::{
    Escalation, Layer, Names, Override, Person, Plan, Rota, Step, Target, Team, TeamPlaces, Window, slug, start_from,
};
use super::{CommonArgs, Context, Source};
use crate::domain::compare::Shift;
use crate::domain::time::{Span, resolve_local, to_local};

const NAME: &str = "Grafana OnCall";
/// Grafana OnCall runs a chain again at most this many times.
const REPEATS: u32 = 5;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The Grafana OnCall API's base URL (the part before /api/v1/).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The environment variable holding a Grafana OnCall API token (never
    /// the token itself: command lines are seen by others).
    #[arg(long, value_name = "NAME")]
    pub token_env: Option<String>,
    /// Only this schedule, by id (repeat for several). Default: every schedule.
    #[arg(long = "schedule", value_name = "ID")]
    pub schedules: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub struct GrafanaOnCall {
    args: Args,
}

impl GrafanaOnCall {
    pub fn new(args: Args) -> GrafanaOnCall {
        GrafanaOnCall { args }
    }
}

/// The API's paths end in `/`; saved answers are files named without it.
fn path(fetch: &Fetcher, p: &str) -> String {
    match fetch {
        Fetcher::Http(_) => format!("{p}/"),
        Fetcher::Dir(_) => p.to_string(),
    }
}

fn list(fetch: &mut Fetcher, p: &str, query: &[(String, String)], what: &str) -> Result<Vec<Value>, ImportError> {
    let next = |page: &Value, _: usize| -> Option<NextPage> {
        page.get("next")
            .and_then(Value::as_str)
            .map(|u| NextPage::Url(u.to_string()))
    };
    let full = path(fetch, p);
    fetch.list(&full, query, "results", what, &next)
}

fn weekday(code: &str, what: &str) -> Result<Weekday, ImportError> {
    Ok(match code {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return Err(ImportError::new(format!("{what}: `{code}` is not a day (MO ... SU)"))),
    })
}

fn local_time(text: &str, field: &str, what: &str) -> Result<NaiveDateTime, ImportError> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").map_err(|_| {
        ImportError::new(format!(
            "{what}: `{field}` is `{text}`, not yyyy-MM-ddTHH:mm:ss (not the documented shape)"
        ))
    })
}

/// The days from `a`'s week to `b`'s, weeks beginning on `ws`, in weeks.
fn weeks_between(a: NaiveDate, b: NaiveDate, ws: Weekday) -> i64 {
    let week_of = |d: NaiveDate| {
        d - Duration::days(
            (i64::from(d.weekday().num_days_from_monday()) - i64::from(ws.num_days_from_monday())).rem_euclid(7),
        )
    };
    (week_of(b) - week_of(a)).num_days().div_euclid(7)
}

/// What of a recurring shift decides its events.
struct Rule {
    start: NaiveDateTime,
    /// Hours, days or weeks, in seconds.
    unit: i64,
    interval: i64,
    by_day: Option<Vec<Weekday>>,
    week_start: Weekday,
}

impl Rule {
    /// The events' starts from `start` up to `limit` (included), wall-clock.
    fn occurrences(&self, limit: NaiveDateTime) -> Vec<NaiveDateTime> {
        let mut out = Vec::new();
        let period = Duration::seconds(self.unit * self.interval);
        if self.unit == 604_800 && self.by_day.is_some() {
            let days = self.by_day.as_deref().unwrap_or(&[]);
            let mut d = self.start.date();
            while d.and_time(self.start.time()) <= limit && out.len() < 100_000 {
                let t = d.and_time(self.start.time());
                if t >= self.start
                    && days.contains(&d.weekday())
                    && weeks_between(self.start.date(), d, self.week_start) % self.interval == 0
                {
                    out.push(t);
                }
                d += Duration::days(1);
            }
            return out;
        }
        let mut t = self.start;
        while t <= limit && out.len() < 100_000 {
            if self.by_day.as_ref().is_none_or(|days| days.contains(&t.weekday())) {
                out.push(t);
            }
            t += period;
        }
        out
    }
}

impl Source for GrafanaOnCall {
    fn name(&self) -> &'static str {
        NAME
    }

    fn connect(&self) -> Result<Fetcher, ImportError> {
        let Some(url) = &self.args.url else {
            return Err(ImportError::new(
                "give --url URL, the Grafana OnCall API's base URL (or --from-dir DIR)",
            ));
        };
        let token = super::fetch::secret_from_env(
            self.args.token_env.as_deref(),
            "--token-env",
            "a Grafana OnCall API token",
        )?;
        Fetcher::http(
            &format!("{}/api/v1", url.trim_end_matches('/')),
            vec![("Authorization".into(), token)],
        )
    }

    fn plan(&mut self, fetch: &mut Fetcher, cx: &Context) -> Result<Plan, ImportError> {
        let mut plan = Plan {
            source: NAME.into(),
            ..Plan::default()
        };
        let schedules: Vec<Value> = if self.args.schedules.is_empty() {
            list(
                fetch,
                "schedules",
                &[],
                "the Grafana OnCall schedules (GET /api/v1/schedules/)",
            )?
        } else {
            let mut out = Vec::new();
            for id in &self.args.schedules {
                let what = format!("the Grafana OnCall schedule {id}");
                let p = path(fetch, &format!("schedules/{id}"));
                out.push(fetch.get(&p, &[], &what)?);
            }
            out
        };
        let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
        for s in schedules {
            let id = Obj::new(&s, "a Grafana OnCall schedule").str("id")?.to_string();
            by_id.insert(id, s);
        }
        let shifts = list(
            fetch,
            "on_call_shifts",
            &[],
            "the Grafana OnCall shifts (GET /api/v1/on_call_shifts/)",
        )?;
        let mut shift_by_id: BTreeMap<String, Value> = BTreeMap::new();
        for s in shifts {
            let id = Obj::new(&s, "a Grafana OnCall shift").str("id")?.to_string();
            shift_by_id.insert(id, s);
        }
        let teams = list(fetch, "teams", &[], "the Grafana OnCall teams (GET /api/v1/teams/)")?;
        let mut team_names: BTreeMap<String, String> = BTreeMap::new();
        for t in &teams {
            let o = Obj::new(t, "a Grafana OnCall team");
            team_names.insert(o.str("id")?.to_string(), o.str("name")?.to_string());
        }

        // Where each schedule goes, its shifts, and who they need.
        let mut places = TeamPlaces::default();
        let mut schedule_team: BTreeMap<String, (String, Tz)> = BTreeMap::new();
        let mut schedule_shifts: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        for (id, s) in &by_id {
            let what = format!("the Grafana OnCall schedule {id}");
            let o = Obj::new(s, &what);
            let name = o.str("name")?;
            let kind = o.opt_str("type")?.unwrap_or("calendar");
            if kind == "ical" {
                plan.approximate(
                    format!("schedule {id}"),
                    format!("\"{name}\" is an iCal schedule (its shifts live in an outside calendar)"),
                    "not imported",
                );
                continue;
            }
            let tz_name = o.opt_str("time_zone")?.unwrap_or("UTC");
            let tz: Tz = tz_name.parse().map_err(|_| {
                ImportError::new(format!(
                    "the Grafana OnCall schedule {id} ({name}): time zone `{tz_name}` is not an IANA zone oncall knows"
                ))
            })?;
            let team_id = o.opt_str("team_id")?.map(str::to_string);
            let wanted_team = cx
                .team_map
                .get(id)
                .or_else(|| team_id.as_ref().and_then(|t| cx.team_map.get(t)))
                .cloned()
                .unwrap_or_else(|| match &team_id {
                    Some(t) => slug(team_names.get(t).map_or(t.as_str(), String::as_str), "team"),
                    None => slug(name, "team"),
                });
            let label = match &team_id {
                Some(t) => format!("team {t}"),
                None => format!("schedule {id}, which has no team"),
            };
            let team = places.place(&wanted_team, tz, &format!("schedule {id}"), &label, &mut plan);
            schedule_team.insert(id.clone(), (team, tz));
            let ids: Vec<String> = match o.value.get("shifts").filter(|v| !v.is_null()) {
                Some(_) => o
                    .array("shifts")?
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_string).ok_or_else(|| {
                            ImportError::new(format!(
                                "{what}: `shifts` holds a non-string (not the documented shape)"
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?,
                None => shift_by_id
                    .iter()
                    .filter(|(_, v)| v.get("schedule").and_then(Value::as_str) == Some(id.as_str()))
                    .map(|(k, _)| k.clone())
                    .collect(),
            };
            let mut mine = Vec::new();
            for sid in ids {
                let Some(shift) = shift_by_id.get(&sid) else {
                    return Err(ImportError::new(format!(
                        "{what} names shift {sid}, which is not in GET /api/v1/on_call_shifts/"
                    )));
                };
                let so = Obj::new(shift, &what);
                for u in so.opt_array("users")? {
                    wanted.insert(u.as_str().unwrap_or_default().to_string());
                }
                for g in so.opt_array("rolling_users")? {
                    for u in g.as_array().map(Vec::as_slice).unwrap_or(&[]) {
                        wanted.insert(u.as_str().unwrap_or_default().to_string());
                    }
                }
                mine.push(shift.clone());
            }
            schedule_shifts.insert(id.clone(), mine);
        }
        let chains = list(
            fetch,
            "escalation_chains",
            &[],
            "the Grafana OnCall escalation chains (GET /api/v1/escalation_chains/)",
        )?;
        let policies = list(
            fetch,
            "escalation_policies",
            &[],
            "the Grafana OnCall escalation policies (GET /api/v1/escalation_policies/)",
        )?;
        for p in &policies {
            for u in Obj::new(p, "a Grafana OnCall escalation policy").opt_array("persons_to_notify")? {
                wanted.insert(u.as_str().unwrap_or_default().to_string());
            }
        }

        // People.
        let users = list(fetch, "users", &[], "the Grafana OnCall users (GET /api/v1/users/)")?;
        let mut users_by_id: BTreeMap<String, Value> = BTreeMap::new();
        for u in users {
            let id = Obj::new(&u, "a Grafana OnCall user in GET /api/v1/users/")
                .str("id")?
                .to_string();
            users_by_id.insert(id, u);
        }
        let rules = list(
            fetch,
            "personal_notification_rules",
            &[],
            "the Grafana OnCall notification rules (GET /api/v1/personal_notification_rules/)",
        )?;
        let mut names = Names::default();
        for uid in &wanted {
            let Some(u) = users_by_id.get(uid) else {
                return Err(ImportError::new(format!(
                    "the Grafana OnCall user {uid} is on a shift or an escalation policy but not in GET /api/v1/users/"
                )));
            };
            let mine: Vec<&Value> = rules
                .iter()
                .filter(|r| r.get("user_id").and_then(Value::as_str) == Some(uid.as_str()))
                .collect();
            let person = person(u, uid, &mine, &mut names, &mut plan)?;
            plan.people.push(person);
        }

        // Teams, rotas, overrides.
        let mut teams: BTreeMap<String, Team> = BTreeMap::new();
        let mut rota_names: BTreeMap<String, Names> = BTreeMap::new();
        let mut rota_of: BTreeMap<String, String> = BTreeMap::new();
        for (id, shifts) in &schedule_shifts {
            let (team_name, tz) = schedule_team[id].clone();
            let sname = by_id[id].get("name").and_then(Value::as_str).unwrap_or("").to_string();
            let rota_name = rota_names
                .entry(team_name.clone())
                .or_default()
                .claim(&slug(&sname, "rota"));
            let mut ordered: Vec<(i64, usize, &Value)> = Vec::new();
            let mut overrides = Vec::new();
            for (i, shift) in shifts.iter().enumerate() {
                let hid = shift.get("id").and_then(Value::as_str).unwrap_or("");
                let what = format!("shift {hid} of the Grafana OnCall schedule {id}");
                let o = Obj::new(shift, &what);
                if o.str("type")? == "override" {
                    overrides.extend(override_of(o, hid, &rota_name, tz, cx, &mut plan)?);
                } else {
                    ordered.push((o.opt_i64("level")?.unwrap_or(0), i, shift));
                }
            }
            ordered.sort_by_key(|(level, i, _)| (*level, *i));
            for pair in ordered.windows(2) {
                if pair[0].0 == pair[1].0 {
                    let hid = |v: &Value| v.get("id").and_then(Value::as_str).unwrap_or("").to_string();
                    plan.approximate(
                        format!("schedule {id}"),
                        format!(
                            "shifts {} and {} share level {}: where their events overlap Grafana OnCall puts both on call",
                            hid(pair[0].2),
                            hid(pair[1].2),
                            pair[0].0
                        ),
                        "written as layers in that order: where they overlap, the later one's people are on call",
                    );
                }
            }
            let mut layers = Vec::new();
            for (_, _, shift) in &ordered {
                let hid = shift.get("id").and_then(Value::as_str).unwrap_or("").to_string();
                let what = format!("shift {hid} of the Grafana OnCall schedule {id}");
                layers.extend(shift_layers(Obj::new(shift, &what), &hid, tz, cx, &mut plan)?);
            }
            if layers.is_empty() {
                plan.approximate(
                    format!("schedule {id}"),
                    format!(
                        "\"{sname}\" has no shift in force from {}",
                        crate::domain::time::Rfc3339::new(cx.from).as_str()
                    ),
                    "not imported",
                );
                continue;
            }
            rota_of.insert(id.clone(), rota_name.clone());
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
                source_id: id.clone(),
                source_name: sname,
                layers,
            });
            team.overrides.extend(overrides);
        }

        // Escalation chains: the first (by id) of each team.
        let mut chains: Vec<(String, Value)> = chains
            .into_iter()
            .map(|c| {
                Obj::new(&c, "a Grafana OnCall escalation chain")
                    .str("id")
                    .map(|id| (id.to_string(), c.clone()))
            })
            .collect::<Result<_, _>>()?;
        chains.sort_by(|a, b| a.0.cmp(&b.0));
        for (cid, chain) in chains {
            let what = format!("the Grafana OnCall escalation chain {cid}");
            let o = Obj::new(&chain, &what);
            let cname = o.opt_str("name")?.unwrap_or("").to_string();
            let mut mine: Vec<(i64, Obj)> = Vec::new();
            for p in &policies {
                let po = Obj::new(p, &what);
                if po.opt_str("escalation_chain_id")? == Some(cid.as_str()) {
                    mine.push((po.opt_i64("position")?.unwrap_or(0), po));
                }
            }
            mine.sort_by_key(|(pos, _)| *pos);
            let chain_team = o.opt_str("team_id")?.and_then(|t| {
                by_id
                    .iter()
                    .find(|(_, s)| s.get("team_id").and_then(Value::as_str) == Some(t))
                    .and_then(|(sid, _)| schedule_team.get(sid).map(|(team, _)| team.clone()))
            });
            let home = mine
                .iter()
                .find_map(|(_, p)| {
                    let sid = p.value.get("notify_on_call_from_schedule")?.as_str()?;
                    rota_of.contains_key(sid).then(|| schedule_team[sid].0.clone())
                })
                .or(chain_team);
            let Some(home) = home.filter(|h| teams.contains_key(h)) else {
                plan.approximate(
                    format!("escalation chain {cid}"),
                    format!("\"{cname}\" pages no schedule that was imported, and its team has none"),
                    "not imported (a team's escalation policy pages its own rotas)",
                );
                continue;
            };
            if teams[&home].escalation.is_some() {
                plan.approximate(
                    format!("escalation chain {cid}"),
                    format!("\"{cname}\" is a second chain for team {home}"),
                    "not imported (a team has one escalation policy; the first by id was)",
                );
                continue;
            }
            let mut steps: Vec<Step> = Vec::new();
            let mut wait_seconds: i64 = 0;
            let mut repeat = 0;
            for (_, p) in &mine {
                let pid = p.opt_str("id")?.unwrap_or("").to_string();
                let note = |plan: &mut Plan, what: String, how: &str| {
                    plan.approximate(format!("escalation policy {pid} of chain {cid}"), what, how.to_string())
                };
                let mut notify = Vec::new();
                match p.str("type")? {
                    "wait" => {
                        wait_seconds += p.opt_i64("duration")?.unwrap_or(0).max(0);
                        continue;
                    }
                    "notify_persons" | "notify_person_next_each_time" => {
                        if p.str("type")? == "notify_person_next_each_time" {
                            note(
                                &mut plan,
                                "notifies the next of its users each time".into(),
                                "written as notifying all of them",
                            );
                        }
                        for u in p.opt_array("persons_to_notify")? {
                            let u = u.as_str().unwrap_or_default();
                            notify.push(Target::User(plan.person_for(u).unwrap_or(u).to_string()));
                        }
                    }
                    "notify_on_call_from_schedule" => {
                        let sid = p.str("notify_on_call_from_schedule")?;
                        match (rota_of.get(sid), schedule_team.get(sid)) {
                            (Some(rota), Some((t, _))) if *t == home => notify.push(Target::Rota(rota.clone())),
                            (Some(_), Some((t, _))) => {
                                note(
                                    &mut plan,
                                    format!("pages schedule {sid} of team {t}"),
                                    "written as team:TEAM (everyone on call on any of its rotas)",
                                );
                                notify.push(Target::Team(t.clone()));
                            }
                            _ => note(
                                &mut plan,
                                format!("pages schedule {sid}, which was not imported"),
                                "left out",
                            ),
                        }
                    }
                    "repeat_escalation" => {
                        repeat = REPEATS;
                        note(
                            &mut plan,
                            "repeats the chain from the beginning".into(),
                            "written as repeat: 5 (Grafana OnCall repeats at most 5 times)",
                        );
                        continue;
                    }
                    other => {
                        note(&mut plan, format!("is of type {other}"), "left out");
                        continue;
                    }
                }
                if p.value.get("important").and_then(Value::as_bool) == Some(true) {
                    note(
                        &mut plan,
                        "is important (the users' important notification rules)".into(),
                        "written as an ordinary step",
                    );
                }
                if notify.is_empty() {
                    continue;
                }
                if wait_seconds % 60 != 0 {
                    note(
                        &mut plan,
                        format!("waits {wait_seconds} seconds before it"),
                        "rounded up to whole minutes",
                    );
                }
                let after = (wait_seconds + 59) / 60;
                wait_seconds = 0;
                match steps.last_mut() {
                    Some(step) if after == 0 => step.notify.extend(notify),
                    _ => steps.push(Step {
                        after_minutes: after as u64,
                        notify,
                    }),
                }
            }
            for s in &mut steps {
                s.notify.sort();
                s.notify.dedup();
            }
            if steps.is_empty() {
                continue;
            }
            if let Some(team) = teams.get_mut(&home) {
                team.escalation = Some(Escalation {
                    source_id: cid.clone(),
                    source_name: cname,
                    steps,
                    repeat,
                });
            }
        }
        plan.teams = teams.into_values().collect();
        Ok(plan)
    }

    fn rendered(&mut self, fetch: &mut Fetcher, plan: &Plan, window: Span) -> Result<Vec<Shift>, ImportError> {
        let start_date = window.start.date_naive().to_string();
        let end_date = (window.end - Duration::seconds(1)).date_naive().to_string();
        let mut out = Vec::new();
        for team in &plan.teams {
            for rota in &team.rotas {
                let id = &rota.source_id;
                let what = format!("the final shifts of the Grafana OnCall schedule {id}");
                let next = |page: &Value, _: usize| -> Option<NextPage> {
                    page.get("next")
                        .and_then(Value::as_str)
                        .map(|u| NextPage::Url(u.to_string()))
                };
                let rows = fetch.list(
                    &format!("schedules/{id}/final_shifts"),
                    &[
                        ("start_date".into(), start_date.clone()),
                        ("end_date".into(), end_date.clone()),
                    ],
                    "results",
                    &what,
                    &next,
                )?;
                for r in rows {
                    let r = Obj::new(&r, &what);
                    let span = Span::new(r.time("shift_start")?, r.time("shift_end")?).intersect(&window);
                    if span.is_empty() {
                        continue;
                    }
                    let uid = r.str("user_pk")?;
                    out.push(Shift {
                        team: team.name.clone(),
                        rota: rota.name.clone(),
                        person: plan
                            .person_for(uid)
                            .map_or_else(|| format!("grafana-oncall-user-{uid}"), str::to_string),
                        span,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// A shift's zone, when it differs from the schedule's: its times are read
/// there and written in the schedule's wall-clock time.
fn shift_zone(o: Obj, hid: &str, tz: Tz, plan: &mut Plan, exact: bool) -> Result<Tz, ImportError> {
    match o.opt_str("time_zone")? {
        None => Ok(tz),
        Some(z) => {
            let stz: Tz = z.parse().map_err(|_| {
                ImportError::new(format!("{}: time zone `{z}` is not an IANA zone oncall knows", o.what))
            })?;
            if stz != tz && !exact {
                plan.approximate(
                    format!("shift {hid}"),
                    format!("is in {z}, its schedule in {}", tz.name()),
                    format!(
                        "written in {}'s wall-clock time from its start: exact while the two zones' offsets stay as they were then",
                        tz.name()
                    ),
                );
            }
            Ok(stz)
        }
    }
}

fn override_of(
    o: Obj,
    hid: &str,
    rota: &str,
    tz: Tz,
    cx: &Context,
    plan: &mut Plan,
) -> Result<Vec<Override>, ImportError> {
    let stz = shift_zone(o, hid, tz, plan, true)?;
    let start = resolve_local(stz, local_time(o.str("start")?, "start", o.what)?);
    let end = start + Duration::seconds(o.i64("duration")?);
    if end <= cx.from || end <= start {
        return Ok(Vec::new());
    }
    let mut users: Vec<String> = o
        .opt_array("users")?
        .iter()
        .filter_map(|u| u.as_str().map(str::to_string))
        .collect();
    for g in o.opt_array("rolling_users")? {
        users.extend(
            g.as_array()
                .into_iter()
                .flatten()
                .filter_map(|u| u.as_str().map(str::to_string)),
        );
    }
    let Some(first) = users.first() else {
        plan.approximate(format!("shift {hid}"), "an override with nobody in it", "left out");
        return Ok(Vec::new());
    };
    if users.len() > 1 {
        plan.approximate(
            format!("shift {hid}"),
            format!("an override putting {} users on call together", users.len()),
            "written as an override by the first of them",
        );
    }
    Ok(vec![Override {
        rota: rota.to_string(),
        from: start,
        to: end,
        user: plan.person_for(first).unwrap_or(first).to_string(),
        source_id: format!("override shift {hid}"),
    }])
}

/// One shift as layers (two when a weekly turn starts mid-week).
fn shift_layers(o: Obj, hid: &str, tz: Tz, cx: &Context, plan: &mut Plan) -> Result<Vec<Layer>, ImportError> {
    let kind = o.str("type")?;
    let sname = o.opt_str("name")?.unwrap_or("").to_string();
    let comment = format!(
        "shift {hid} \"{sname}\" ({kind}, level {})",
        o.opt_i64("level")?.unwrap_or(0)
    );
    let stz = shift_zone(o, hid, tz, plan, false)?;
    let written = local_time(o.str("start")?, "start", o.what)?;
    let start = to_local(tz, resolve_local(stz, written));
    let duration = o.i64("duration")?;
    if duration < 60 {
        return Err(ImportError::new(format!(
            "{}: duration is {duration} seconds; oncall's shifts are a minute or more",
            o.what
        )));
    }
    let person = |plan: &Plan, u: &Value| -> String {
        let u = u.as_str().unwrap_or_default();
        plan.person_for(u).unwrap_or(u).to_string()
    };
    let mut groups: Vec<Vec<String>> = match kind {
        "rolling_users" => o
            .opt_array("rolling_users")?
            .iter()
            .map(|g| {
                g.as_array()
                    .into_iter()
                    .flatten()
                    .map(|u| person(plan, u))
                    .collect::<Vec<_>>()
            })
            .filter(|g: &Vec<String>| !g.is_empty())
            .collect(),
        "recurrent_event" | "single_event" => {
            let g: Vec<String> = o.opt_array("users")?.iter().map(|u| person(plan, u)).collect();
            if g.is_empty() { Vec::new() } else { vec![g] }
        }
        other => {
            return Err(ImportError::new(format!(
                "{}: type `{other}`, not rolling_users, recurrent_event, single_event or override",
                o.what
            )));
        }
    };
    for g in &mut groups {
        let mut seen = BTreeSet::new();
        g.retain(|p| seen.insert(p.clone()));
    }
    if groups.is_empty() {
        plan.approximate(format!("shift {hid}"), "puts nobody on call", "left out");
        return Ok(Vec::new());
    }
    if kind == "single_event" {
        let end = resolve_local(tz, start + Duration::seconds(duration));
        if end <= cx.from {
            return Ok(Vec::new());
        }
        return Ok(vec![Layer {
            comment,
            members: groups,
            first: None,
            start,
            end: Some(end),
            every_seconds: 604_800,
            active: Vec::new(),
        }]);
    }
    let unit = match o.str("frequency")? {
        "hourly" => 3_600,
        "daily" => 86_400,
        "weekly" => 604_800,
        other => {
            plan.approximate(
                format!("shift {hid}"),
                format!("recurs with frequency {other}"),
                "not imported: turns of months cannot be written; write this layer by hand",
            );
            return Ok(Vec::new());
        }
    };
    let interval = o.opt_i64("interval")?.unwrap_or(1).max(1);
    let by_day = match o.value.get("by_day").filter(|v| !v.is_null()) {
        None => None,
        Some(_) => {
            let days: Vec<Weekday> = o
                .array("by_day")?
                .iter()
                .map(|d| weekday(d.as_str().unwrap_or_default(), o.what))
                .collect::<Result<_, _>>()?;
            (!days.is_empty()).then_some(days)
        }
    };
    let week_start = weekday(o.opt_str("week_start")?.unwrap_or("SU"), o.what)?;
    for field in ["by_month", "by_monthday"] {
        if o.opt_array(field)?.iter().next().is_some() {
            plan.approximate(
                format!("shift {hid}"),
                format!("limits its events with {field}"),
                format!("not written: the layer is on in every month and day as if it had no {field}"),
            );
        }
    }
    let rule = Rule {
        start,
        unit,
        interval,
        by_day: by_day.clone(),
        week_start,
    };
    let period = unit * interval;
    let end = match o.opt_str("until")? {
        None => None,
        Some(text) => {
            let until = to_local(tz, resolve_local(stz, local_time(text, "until", o.what)?));
            match rule.occurrences(until).last() {
                None => return Ok(Vec::new()),
                Some(&last) => Some(resolve_local(tz, last + Duration::seconds(duration))),
            }
        }
    };
    if end.is_some_and(|e| e <= cx.from) {
        return Ok(Vec::new());
    }
    // The events of two weeks give the week's pattern when it repeats weekly.
    let repeats_weekly = match unit {
        3_600 => 168 % interval == 0,
        86_400 => 7 % interval == 0,
        _ => interval == 1,
    };
    let covers = by_day.is_none() && duration >= period;
    if by_day.is_none() && duration > period {
        plan.approximate(
            format!("shift {hid}"),
            format!("its events last {duration} seconds, longer than the {period} between them"),
            "written as turns of the time between them: where two events overlap, the later one's people are on call",
        );
    }
    let mut active = Vec::new();
    if !covers {
        if repeats_weekly && duration < 604_800 {
            let events = rule.occurrences(start + Duration::days(14));
            let mut per_time: BTreeMap<(u32, u32), BTreeSet<u32>> = BTreeMap::new();
            let mut weekly = Vec::new();
            let mut seconds = false;
            for e in events {
                let stop = e + Duration::seconds(duration);
                seconds |= e.second() != 0 || stop.second() != 0;
                let from = (e.weekday(), (e.hour(), e.minute()));
                let to = (stop.weekday(), (stop.hour(), stop.minute()));
                if weekly.contains(&(from, to)) {
                    continue;
                }
                weekly.push((from, to));
                if duration < 86_400 {
                    per_time
                        .entry(from.1)
                        .or_default()
                        .insert(from.0.num_days_from_monday());
                }
            }
            if seconds {
                plan.approximate(
                    format!("shift {hid}"),
                    "its events start or end on a second that is not a whole minute",
                    "written to the minute",
                );
            }
            let daily: BTreeSet<(u32, u32)> = per_time
                .iter()
                .filter(|(_, days)| days.len() == 7)
                .map(|(t, _)| *t)
                .collect();
            for (from, to) in weekly {
                if daily.contains(&from.1) {
                    let w = Window::Daily {
                        from: from.1,
                        to: if to.1 == (0, 0) { (24, 0) } else { to.1 },
                    };
                    if !active.contains(&w) {
                        active.push(w);
                    }
                } else {
                    active.push(Window::Weekly { from, to });
                }
            }
        } else {
            plan.approximate(
                format!("shift {hid}"),
                format!(
                    "its events ({duration} seconds every {interval} {}) do not repeat every week",
                    match unit {
                        3_600 => "hour(s)",
                        86_400 => "day(s)",
                        _ => "week(s)",
                    }
                ),
                "written as always on from each turn's start (active windows repeat every week)",
            );
        }
    }
    sort_windows(&mut active);
    let layer = |members: Vec<Vec<String>>, first, start, end, comment: String| Layer {
        comment,
        members,
        first,
        start,
        end,
        every_seconds: period,
        active: active.clone(),
    };
    let from_index = if kind == "rolling_users" {
        o.opt_i64("start_rotation_from_user_index")?.unwrap_or(0).max(0) as usize
    } else {
        0
    };
    let n = groups.len();
    // Weekly turns with `by_day` change when the week begins, at the
    // shift's time of day: the turn under way at `start`, then the rotation
    // from the next week's beginning.
    if unit == 604_800 && by_day.is_some() && n > 1 {
        let ahead = (i64::from(week_start.num_days_from_monday()) - i64::from(start.weekday().num_days_from_monday()))
            .rem_euclid(7);
        if ahead != 0 {
            let boundary = start + Duration::days(ahead);
            let b = resolve_local(tz, boundary);
            let cut = end.map_or(b, |e| e.min(b));
            let mut out = vec![layer(
                vec![groups[from_index % n].clone()],
                None,
                start,
                Some(cut),
                format!("{comment}, the turn under way at its start"),
            )];
            if end.is_none_or(|e| e > b) {
                let (members, first) = start_from(&groups, (from_index + 1) % n);
                out.push(layer(members, first, boundary, end, comment));
            }
            return Ok(out);
        }
    }
    let (members, first) = start_from(&groups, from_index % n);
    Ok(vec![layer(members, first, start, end, comment)])
}

/// Puts windows in week order (daily ones first) and joins a window across
/// days to the one that begins where it ends, for files that read well.
fn sort_windows(active: &mut Vec<Window>) {
    let key = |w: &Window| match *w {
        Window::Daily { from, .. } => (0, 0, from),
        Window::Weekly { from: (d, t), .. } => (1, d.num_days_from_monday(), t),
    };
    active.sort_by_key(key);
    let mut out: Vec<Window> = Vec::new();
    for w in active.drain(..) {
        if let (Some(Window::Weekly { from, to: prev_to }), Window::Weekly { from: next_from, to }) =
            (out.last_mut(), w)
            && *prev_to == next_from
            && to != *from
        {
            *prev_to = to;
            continue;
        }
        out.push(w);
    }
    *active = out;
}

/// A Grafana OnCall user as a person: their email; the phone number is not
/// in the API. A user without an email is written without one, and listed.
fn person(u: &Value, uid: &str, rules: &[&Value], names: &mut Names, plan: &mut Plan) -> Result<Person, ImportError> {
    let what = format!("the Grafana OnCall user {uid}");
    let o = Obj::new(u, &what);
    let username = o.opt_str("username")?.unwrap_or(uid).to_string();
    let name = o
        .opt_str("name")?
        .filter(|n| !n.is_empty())
        .unwrap_or(&username)
        .to_string();
    let id = names.claim(&slug(&username, &slug(uid, "person")));
    let email = o.opt_str("email")?.filter(|e| !e.trim().is_empty()).map(str::to_string);
    if email.is_none() {
        // As from the other sources: one person nobody can reach does not
        // stop a team's move; it is said here, in IMPORT.md and by `check`.
        plan.approximate(
            format!("user {uid}"),
            format!("\"{name}\" ({username}) has no email, the only contact method the API gives"),
            "written without email: `oncall check` warns that nobody can reach them",
        );
    }
    let phoned = rules.iter().any(|r| {
        matches!(
            r.get("type").and_then(Value::as_str),
            Some("notify_by_sms" | "notify_by_phone_call")
        )
    });
    if phoned {
        plan.approximate(
            format!("user {uid}"),
            "is notified by SMS or phone call, but the API does not give the number",
            "written without `phone:`: add it by hand",
        );
    }
    if rules
        .iter()
        .any(|r| r.get("type").and_then(Value::as_str) == Some("notify_by_mobile_app"))
    {
        plan.approximate(
            format!("user {uid}"),
            "is notified by the Grafana OnCall mobile app",
            "not imported: give them a `push:` destination by hand",
        );
    }
    let timezone = plan.person_zone(uid, o.opt_str("timezone")?);
    Ok(Person {
        id,
        source_id: uid.to_string(),
        name,
        email,
        phone: None,
        timezone,
    })
}
