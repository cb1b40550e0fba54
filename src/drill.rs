//! `oncall drill`: a practice page through the real path, and a report of
//! who was reached, by which method, how long after the alert, and who
//! acknowledged. It talks to the running daemon over its API (the daemon
//! owns the database): `POST /v1/drills`, then `GET /v1/alerts/{id}` until
//! someone acknowledges or the wait is over, then resolves the drill alert.
//! A method reached that no confirmed test page proved in 90 days
//! (`GET /v1/proven`) is flagged `[unproven]`.

use std::io::Write;
use std::time::Duration as StdDuration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// How often the report is refreshed while waiting.
const POLL: StdDuration = StdDuration::from_millis(500);

pub struct Drill {
    /// The daemon's address, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    pub token: String,
    pub team: String,
    pub severity: Option<String>,
    /// How long to wait for an acknowledgement.
    pub wait: StdDuration,
}

/// What the drill found; `acknowledged` is what makes it a success.
#[derive(Debug, Default)]
pub struct Outcome {
    pub reached: usize,
    pub acknowledged: bool,
}

/// Asks the running daemon at `base` to start something (`what`: "the
/// drill", "the test page") with a POST of `request` to `path`: its
/// answer, or an error saying the daemon cannot be reached or why it
/// refused.
pub(crate) async fn start(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    request: Value,
    what: &str,
) -> anyhow::Result<Value> {
    let answer = client
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&request)
        .send()
        .await
        .with_context(|| format!("cannot reach the daemon at {base} (is `oncall serve` running? --url)"))?;
    let status = answer.status();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "the daemon refused {what} ({status}): {}",
            body["error"].as_str().unwrap_or("no reason given")
        );
    }
    Ok(body)
}

impl Drill {
    pub async fn run(&self, out: &mut dyn Write) -> anyhow::Result<Outcome> {
        let client = reqwest::Client::builder().timeout(StdDuration::from_secs(10)).build()?;
        let base = self.url.trim_end_matches('/');
        let body = start(
            &client,
            base,
            "/v1/drills",
            &self.token,
            json!({"team": self.team, "severity": self.severity}),
            "the drill",
        )
        .await?;
        let id = body["alert_id"]
            .as_i64()
            .context("the daemon's answer has no alert_id")?;
        writeln!(
            out,
            "drill: alert {id} for {} ({}), acknowledge it from the page to finish",
            self.team,
            body["severity"].as_str().unwrap_or("?")
        )?;
        let deadline = tokio::time::Instant::now() + self.wait;
        let detail = loop {
            let detail = self.fetch(&client, base, id).await?;
            let acked = detail["alert"]["status"] != "open";
            if acked || tokio::time::Instant::now() >= deadline {
                break detail;
            }
            tokio::time::sleep(POLL).await;
        };
        // Which reached methods are unproven (no confirmed test page in 90
        // days): flagged, not withheld. An older daemon without it: none.
        let proven = match client
            .get(format!("{base}/v1/proven"))
            .bearer_auth(&self.token)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => r.json().await.unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let outcome = report(&detail, &proven, out)?;
        let resolved = client
            .post(format!("{base}/v1/alerts/{id}/resolve"))
            .bearer_auth(&self.token)
            .json(&json!({"by": "oncall drill"}))
            .send()
            .await;
        match resolved {
            Ok(r) if r.status().is_success() => writeln!(out, "the drill alert {id} is resolved")?,
            _ => writeln!(out, "could not resolve the drill alert {id}: resolve it by hand")?,
        }
        Ok(outcome)
    }

    async fn fetch(&self, client: &reqwest::Client, base: &str, id: i64) -> anyhow::Result<Value> {
        let r = client
            .get(format!("{base}/v1/alerts/{id}"))
            .bearer_auth(&self.token)
            .send()
            .await
            .context("lost the daemon while waiting")?;
        if !r.status().is_success() {
            bail!("cannot read alert {id}: {}", r.status());
        }
        Ok(r.json().await?)
    }
}

fn at(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()?.parse().ok()
}

/// ` [unproven]` when `proven` (`GET /v1/proven`) says `person`'s `method`
/// has no confirmed test page in 90 days.
fn flag(proven: &Value, person: &str, method: &str) -> &'static str {
    match proven["people"][person][method]["proven"].as_bool() {
        Some(false) => " [unproven]",
        _ => "",
    }
}

/// Prints the drill's timeline for people: one line per person and method,
/// each method flagged where it is unproven.
fn report(detail: &Value, proven: &Value, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let created = at(&detail["alert"]["created_at"]);
    let after = |t: &Value| match (created, at(t)) {
        (Some(c), Some(t)) => format!("{}s", (t - c).num_seconds()),
        _ => "?".into(),
    };
    let mut outcome = Outcome::default();
    for entry in detail["timeline"].as_array().into_iter().flatten() {
        let d = &entry["detail"];
        let when = after(&entry["at"]);
        match entry["kind"].as_str().unwrap_or("") {
            "escalated" => {
                for r in d["reached"].as_array().into_iter().flatten() {
                    let methods: Vec<&str> = r["methods"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|m| m["method"].as_str())
                        .collect();
                    writeln!(
                        out,
                        "  +{when:>5}  step {}  {} ({}) by {}",
                        d["step"],
                        r["person"].as_str().unwrap_or("?"),
                        r["via"].as_str().unwrap_or("?"),
                        methods.join(", ")
                    )?;
                }
                for rota in d["nobody_on_call"].as_array().into_iter().flatten() {
                    writeln!(out, "  +{when:>5}  step {}  nobody on call on {rota}", d["step"])?;
                }
                for p in d["unreachable"].as_array().into_iter().flatten() {
                    writeln!(out, "  +{when:>5}  step {}  {p} has no way to be reached", d["step"])?;
                }
            }
            "notified" if d.get("announce").is_some() => {
                writeln!(
                    out,
                    "  +{when:>5}  announced by {}",
                    d["method"].as_str().unwrap_or("?")
                )?;
            }
            "notified" if d.get("shadow_of").is_some() => {
                writeln!(
                    out,
                    "  +{when:>5}  shadow copy to {} (shadowing {}) by {}",
                    d["person"].as_str().unwrap_or("?"),
                    d["shadow_of"].as_str().unwrap_or("?"),
                    d["method"].as_str().unwrap_or("?")
                )?;
            }
            "notified" => {
                outcome.reached += 1;
                let (person, method) = (d["person"].as_str().unwrap_or("?"), d["method"].as_str().unwrap_or("?"));
                writeln!(
                    out,
                    "  +{when:>5}  reached {person} by {method} (attempt {}){}",
                    d["attempt"],
                    flag(proven, person, method)
                )?;
            }
            "notify_failed" => writeln!(
                out,
                "  +{when:>5}  FAILED  {} by {}: {}",
                d["person"].as_str().unwrap_or("?"),
                d["method"].as_str().unwrap_or("?"),
                d["error"].as_str().unwrap_or("?")
            )?,
            "acknowledged" => {
                outcome.acknowledged = true;
                writeln!(
                    out,
                    "  +{when:>5}  acknowledged by {}; lead: {}",
                    d["by"].as_str().unwrap_or("someone"),
                    d["lead"].as_str().unwrap_or(crate::notify::render::NO_LEAD)
                )?;
            }
            _ => {}
        }
    }
    if outcome.reached == 0 {
        writeln!(
            out,
            "nobody was reached: check the channels in oncall.toml and people's contacts (oncall check)"
        )?;
    } else if !outcome.acknowledged {
        writeln!(
            out,
            "reached {} time(s), but nobody acknowledged in time: the alert has no lead",
            outcome.reached
        )?;
    }
    Ok(outcome)
}
