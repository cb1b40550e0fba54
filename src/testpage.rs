//! `oncall test-page PERSON [--method M]`: a test page to a person through
//! the running daemon's outbox (`POST /v1/people/{person}/test-page`), then
//! a report, per method and destination, of when it was sent, delivered
//! and confirmed by the person (`GET /v1/test-pages/{id}` until every
//! method is confirmed or failed, or the wait is over). Like `oncall
//! drill`, it talks to the daemon over its API: the API token, or the
//! person's own token.

use std::io::Write;
use std::time::Duration as StdDuration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// How often the report is refreshed while waiting.
const POLL: StdDuration = StdDuration::from_millis(500);

pub struct TestPage {
    /// The daemon's address, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    pub token: String,
    pub person: String,
    pub method: Option<String>,
    /// How long to wait for the confirmations.
    pub wait: StdDuration,
}

/// Whether a proof has nothing more to wait for: confirmed, or failed.
fn settled(p: &Value) -> bool {
    !p["confirmed_at"].is_null() || p["state"] == "failed"
}

impl TestPage {
    /// Sends the test and prints the report; `Ok(true)` when every method
    /// was confirmed.
    pub async fn run(&self, out: &mut dyn Write) -> anyhow::Result<bool> {
        let client = reqwest::Client::builder().timeout(StdDuration::from_secs(10)).build()?;
        let base = self.url.trim_end_matches('/');
        let person: String = form_urlencoded::byte_serialize(self.person.as_bytes()).collect();
        let body = crate::drill::start(
            &client,
            base,
            &format!("/v1/people/{person}/test-page"),
            &self.token,
            json!({"method": self.method}),
            "the test page",
        )
        .await?;
        let id = body["test"].as_i64().context("the daemon's answer has no test id")?;
        let methods: Vec<&str> = body["methods"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["method"].as_str())
            .collect();
        writeln!(
            out,
            "test page {id} to {} by {}: confirm each (open its link, press 1 on the call, reply YES to the SMS)",
            self.person,
            methods.join(", ")
        )?;
        let deadline = tokio::time::Instant::now() + self.wait;
        let test = loop {
            let r = client
                .get(format!("{base}/v1/test-pages/{id}"))
                .bearer_auth(&self.token)
                .send()
                .await
                .context("lost the daemon while waiting")?;
            if !r.status().is_success() {
                bail!("cannot read test page {id}: {}", r.status());
            }
            let test: Value = r.json().await?;
            let all = test["proofs"].as_array().is_some_and(|p| p.iter().all(settled));
            if all || tokio::time::Instant::now() >= deadline {
                break test;
            }
            tokio::time::sleep(POLL).await;
        };
        report(&test, out)
    }
}

/// The table: one line per method and destination; `Ok(true)` when every
/// one was confirmed.
fn report(test: &Value, out: &mut dyn Write) -> anyhow::Result<bool> {
    let cell = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let mut rows = vec![[
        "METHOD".to_string(),
        "TO".into(),
        "SENT".into(),
        "DELIVERED".into(),
        "CONFIRMED".into(),
    ]];
    let mut all = true;
    let proofs = test["proofs"].as_array().cloned().unwrap_or_default();
    for p in &proofs {
        let sent = match p["state"].as_str() {
            Some("sent") => cell(&p["sent_at"]),
            Some("failed") => format!("FAILED: {}", p["error"].as_str().unwrap_or("?")),
            Some(other) => other.to_string(),
            None => "-".into(),
        };
        let delivered = match (&p["delivered_at"], p["status"].as_str()) {
            (Value::String(t), _) => t.clone(),
            (_, Some(status)) => format!("no: {status}"),
            _ => "-".into(),
        };
        let confirmed = match (&p["confirmed_at"], p["confirmed_by"].as_str()) {
            (Value::String(t), Some(by)) => format!("{t} ({by})"),
            (Value::String(t), None) => t.clone(),
            _ => {
                all = false;
                "no".into()
            }
        };
        rows.push([cell(&p["method"]), cell(&p["to"]), sent, delivered, confirmed]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    if !all {
        writeln!(
            out,
            "not every method was confirmed in time: an unconfirmed method is still paged, but flagged unproven"
        )?;
    }
    Ok(all && !proofs.is_empty())
}
