//! `oncall override add | list | rm | export`: a client of the running
//! daemon's overrides API (the daemon owns the database), with the API
//! token from `ONCALL_API_TOKEN`.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum Action {
    /// Someone covers a rota from --from to --to (the team's local time, like
    /// 2026-12-24T00:00, or RFC 3339), at once.
    Add {
        #[arg(long)]
        team: String,
        #[arg(long)]
        rota: String,
        /// Who covers.
        #[arg(long)]
        user: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// Cover only where this person is on call (a swap).
        #[arg(long)]
        instead_of: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        /// Who makes the change (for the audit). Default: $USER.
        #[arg(long, env = "USER")]
        by: String,
    },
    /// The overrides made at run time that are not over yet.
    List {
        #[arg(long)]
        team: Option<String>,
        /// Those already over too.
        #[arg(long)]
        all: bool,
    },
    /// Delete an override (it stays in the audit trail).
    Rm {
        id: i64,
        /// Who deletes it. Default: $USER.
        #[arg(long, env = "USER")]
        by: String,
    },
    /// A team's run-time overrides as a cover file, to save in schedules/ as a
    /// file of its own (e.g. > schedules/TEAM-overrides.yaml) and commit.
    Export {
        #[arg(long)]
        team: String,
    },
}

pub fn run(action: Action, url: &str, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let Ok(token) = std::env::var("ONCALL_API_TOKEN") else {
        writeln!(err, "oncall override: set ONCALL_API_TOKEN to the daemon's API token")?;
        return Ok(ExitCode::from(2));
    };
    let base = url.trim_end_matches('/').to_string();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let answer: anyhow::Result<(u16, String)> = runtime.block_on(async move {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        let request = match &action {
            Action::Add {
                team,
                rota,
                user,
                from,
                to,
                instead_of,
                reason,
                by,
            } => client.post(format!("{base}/v1/overrides")).json(&json!({
                "team": team, "rota": rota, "user": user, "from": from, "to": to,
                "instead_of": instead_of, "reason": reason, "by": by,
            })),
            Action::List { team, all } => {
                let mut url = reqwest::Url::parse(&format!("{base}/v1/overrides"))?;
                if let Some(t) = team {
                    url.query_pairs_mut().append_pair("team", t);
                }
                if *all {
                    url.query_pairs_mut().append_pair("all", "true");
                }
                client.get(url)
            }
            Action::Rm { id, by } => {
                let mut url = reqwest::Url::parse(&format!("{base}/v1/overrides/{id}"))?;
                url.query_pairs_mut().append_pair("by", by);
                client.delete(url)
            }
            Action::Export { team } => {
                let mut url = reqwest::Url::parse(&format!("{base}/v1/overrides/export"))?;
                url.query_pairs_mut().append_pair("team", team);
                client.get(url)
            }
        };
        let response = request.bearer_auth(&token).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    });
    let (status, body) = match answer {
        Ok(a) => a,
        Err(e) => {
            writeln!(err, "oncall override: cannot reach the daemon at {url}: {e}")?;
            return Ok(ExitCode::from(1));
        }
    };
    if !(200..300).contains(&status) {
        let message = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or(body);
        writeln!(err, "oncall override: {status}: {message}")?;
        return Ok(ExitCode::from(1));
    }
    let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let line = |o: &Value| {
        format!(
            "{:>4}  {}/{}  {}  {} .. {}{}  by {}{}",
            o["id"],
            o["team"].as_str().unwrap_or(""),
            o["rota"].as_str().unwrap_or(""),
            o["user"].as_str().unwrap_or(""),
            o["from"].as_str().unwrap_or(""),
            o["to"].as_str().unwrap_or(""),
            o["instead_of"]
                .as_str()
                .map(|p| format!(" instead of {p}"))
                .unwrap_or_default(),
            o["created_by"].as_str().unwrap_or(""),
            o["reason"].as_str().map(|r| format!(" ({r})")).unwrap_or_default(),
        )
    };
    if value.is_null() {
        // The YAML export.
        write!(out, "{body}")?;
    } else if let Some(o) = value.get("override") {
        writeln!(out, "added override {}", line(o).trim_start())?;
    } else if let Some(o) = value.get("deleted") {
        writeln!(out, "deleted override {}", line(o).trim_start())?;
    } else if let Some(list) = value["overrides"].as_array() {
        if list.is_empty() {
            writeln!(out, "no run-time overrides")?;
        }
        for o in list {
            writeln!(out, "{}", line(o))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
