//! The daemon's settings: `oncall.toml` (optional), overridden by the
//! environment (`ONCALL_*`), overridden by command-line flags. Secrets can
//! come from the environment or from a file, so they stay out of the config.
//!
//! With nothing at all, the daemon runs on its embedded default: SQLite in
//! `./oncall.db`, rotas from `./schedules`, listening on 127.0.0.1:8080.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::domain::paging::{Intensity, Method, Throttle};
use crate::domain::severity::Severities;
use crate::notify;
use crate::payroll;
use crate::store::Database;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE: &str = "oncall.db";
pub const DEFAULT_SCHEDULES: &str = "schedules";
/// Largest webhook body accepted (bigger: 413).
pub const DEFAULT_MAX_BODY_BYTES: usize = 512 * 1024;
/// How long a request's line and headers may take to arrive: far more than
/// any sender on any link needs for a few hundred bytes, short enough that
/// a connection that sends nothing does not hold its descriptor long.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a kept-alive connection may wait for its next request, and a
/// request body for its next bytes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Inbound connections open at once, at most (lower if the open-files
/// limit leaves less room: `http::listen::connection_cap`). Far above what
/// monitoring systems and people's browsers open; each connection costs
/// memory as well as a descriptor.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Everything `oncall serve` needs, resolved.
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub schedules: PathBuf,
    /// A SQLite file or a PostgreSQL server (its password printed as `***`).
    pub database: Database,
    /// The token for `/v1/...` API calls; `None` disables the API.
    pub api_token: Option<String>,
    /// A second API token accepted as well, while clients move to it (a
    /// rotation: add it, move the clients, make it the token).
    pub api_token_next: Option<String>,
    /// Each team's intake: requests a second its keys may make, on average
    /// (`None`: no limit).
    pub intake_rate: Option<RateLimit>,
    pub max_body_bytes: usize,
    /// The timeouts and the cap of inbound connections (`max_connections`
    /// as configured; the open-files limit may lower it at start).
    pub connections: crate::http::listen::Limits,
    pub severities: Severities,
    pub log_json: bool,
    /// The channels that deliver notices, with their secrets resolved.
    pub notify: notify::Config,
    /// How hard each severity pages, by severity name (every name present).
    pub intensities: BTreeMap<String, Intensity>,
    /// The least time between two messages to one destination.
    pub throttle: Throttle,
    /// Whether `serve` runs the paging engine's loop. Tests that step the
    /// engine themselves (`Engine::run_once`) turn it off; not in the file.
    pub run_engine: bool,
    /// Whether `serve` texts verification codes to new phone numbers
    /// (`crate::phone_verify`; on, with `[sms]`). Tests that count texts
    /// and are not about verification turn it off; not in the file.
    pub verify_phones: bool,
    /// Where people and providers reach the daemon, e.g.
    /// `https://oncall.example.com` (no trailing `/`): the base of the
    /// acknowledge / resolve links in pages and of the inbound SMS URL that
    /// Twilio signs. `None`: pages carry no links, inbound SMS is off.
    pub public_url: Option<String>,
    /// The monthly pay export.
    pub pay_export: payroll::ExportSettings,
    /// Whether the old status page showed (read-only) to anyone who could
    /// reach it. Still read, so that files that set it load; `/status` now
    /// redirects into the web pages, which need a session (issue 19).
    pub status_page_public: bool,
    /// How long a web session lasts after signing in (`session_lifetime`,
    /// default [`DEFAULT_SESSION_LIFETIME`]).
    pub session_lifetime: chrono::Duration,
    /// The key that signs action links; `None` until the daemon starts,
    /// which then uses the one kept next to the database (`crate::links`).
    pub link_secret: Option<String>,
}

/// `oncall.toml`, as written. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub listen: Option<String>,
    pub schedules: Option<PathBuf>,
    pub database: Option<PathBuf>,
    /// The API token itself (prefer `api_token_file` or `ONCALL_API_TOKEN`).
    pub api_token: Option<String>,
    /// A file holding the API token (e.g. a systemd credential).
    pub api_token_file: Option<PathBuf>,
    /// A second API token accepted too, during a rotation (prefer
    /// `api_token_next_file` or `ONCALL_API_TOKEN_NEXT`).
    pub api_token_next: Option<String>,
    pub api_token_next_file: Option<PathBuf>,
    /// Intake requests a second per team, on average; `0` turns the limit
    /// off. Default [`DEFAULT_INTAKE_RATE`].
    pub intake_rate: Option<f64>,
    /// Intake requests a team may make at once, above the rate. Default
    /// [`DEFAULT_INTAKE_BURST`].
    pub intake_burst: Option<u32>,
    pub max_body_bytes: Option<usize>,
    /// How long a request's line and headers may take, e.g. `"10s"`.
    /// Default [`DEFAULT_HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Option<String>,
    /// How long a kept-alive connection waits for its next request, and a
    /// request body for its next bytes. Default [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Option<String>,
    /// Inbound connections open at once. Default [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: Option<usize>,
    /// `"json"` for one JSON object a log line; default text.
    pub log_format: Option<String>,
    #[serde(default)]
    pub severities: SeverityFile,
    pub email: Option<notify::EmailConfig>,
    pub sms: Option<notify::SmsConfig>,
    pub voice: Option<notify::VoiceConfig>,
    pub push: Option<notify::PushConfig>,
    pub webpush: Option<notify::WebPushConfig>,
    #[serde(default)]
    pub webhook: notify::WebhookConfig,
    /// The daemon's address as people and providers reach it.
    pub public_url: Option<String>,
    /// The key that signs action links (prefer `link_secret_file` or
    /// `ONCALL_LINK_SECRET`; without any, one is generated and kept in
    /// `<database>.link-secret`).
    pub link_secret: Option<String>,
    pub link_secret_file: Option<PathBuf>,
    /// `[paging.SEVERITY]`: how hard each severity pages.
    #[serde(default)]
    pub paging: BTreeMap<String, IntensityFile>,
    /// `[throttle]`: the least time between two messages to one
    /// destination, per method (`sms = "1m"`; `"0s"` turns it off).
    #[serde(default)]
    pub throttle: BTreeMap<String, String>,
    /// Whether the old `/status` showed, read-only, without a person's
    /// status link; no longer used (`/status` redirects).
    pub status_page_public: Option<bool>,
    /// How long a web session lasts after signing in, e.g. `"12h"`.
    pub session_lifetime: Option<String>,
    /// `[pay_export]`: the monthly pay export the daemon writes.
    #[serde(default)]
    pub pay_export: PayExportFile,
}

/// `[pay_export]` in `oncall.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayExportFile {
    /// Default true (it does nothing without a pay.yaml).
    pub enabled: Option<bool>,
    /// Default: `pay` in the database's folder.
    pub directory: Option<PathBuf>,
    /// Addresses that get the files by email (needs `[email]`).
    #[serde(default)]
    pub email: Vec<String>,
    /// The time on the 1st, `HH:MM` in pay.yaml's payroll_timezone.
    /// Default `06:00`.
    pub at: Option<String>,
    /// `csv` (default) or `json`.
    pub format: Option<payroll::Format>,
}

/// `[paging.SEVERITY]` in `oncall.toml`; what is left out keeps the
/// default (see `Intensity::default_for`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntensityFile {
    /// Contact methods this severity may use: `push`, `sms`, `email`,
    /// `webhook`, `voice`.
    pub methods: Option<Vec<String>>,
    /// Whether to wait for the end of the recipient's quiet hours.
    pub quiet_hours: Option<bool>,
    /// Whether to go past the first escalation step.
    pub escalate: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityFile {
    /// 3 to 5 names, lowest first. Default: minor, major, critical.
    pub names: Option<Vec<String>>,
    /// For a source level nobody mapped. Default: the middle name.
    pub default: Option<String>,
    /// Extra mappings from a source's level to one of the names.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
}

/// The overrides from flags and the environment (clap reads both).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub schedules: Option<PathBuf>,
    pub database: Option<PathBuf>,
    pub api_token: Option<String>,
    /// `ONCALL_API_TOKEN_NEXT`.
    pub api_token_next: Option<String>,
    /// `ONCALL_INTAKE_RATE`.
    pub intake_rate: Option<String>,
    /// `ONCALL_HEADER_READ_TIMEOUT`.
    pub header_read_timeout: Option<String>,
    /// `ONCALL_IDLE_TIMEOUT`.
    pub idle_timeout: Option<String>,
    /// `ONCALL_MAX_CONNECTIONS`.
    pub max_connections: Option<String>,
    pub log_format: Option<String>,
    pub public_url: Option<String>,
    pub link_secret: Option<String>,
    /// `ONCALL_SMTP_PASSWORD`: the `[email]` password.
    pub smtp_password: Option<String>,
    /// `ONCALL_SMS_AUTH_TOKEN`: the `[sms]` auth token.
    pub sms_auth_token: Option<String>,
    /// `ONCALL_PUSH_TOKEN`: the `[push]` access token.
    pub push_token: Option<String>,
    /// `ONCALL_WEBPUSH_PRIVATE_KEY`: the `[webpush]` VAPID private key.
    pub webpush_private_key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{what}: {message}")]
    Invalid { what: String, message: String },
}

impl Settings {
    /// Reads `config` (if given, it must exist) and applies `overrides`.
    pub fn load(config: Option<&Path>, overrides: Overrides) -> Result<Settings, SettingsError> {
        let file = match config {
            Some(path) => read_file(path)?,
            None => File::default(),
        };
        Settings::resolve(file, overrides)
    }

    pub fn resolve(file: File, o: Overrides) -> Result<Settings, SettingsError> {
        let listen_text = o.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen = listen_text.parse().map_err(|_| SettingsError::Invalid {
            what: "listen".into(),
            message: format!("`{listen_text}` is not an address like 127.0.0.1:8080"),
        })?;
        let api_token = secret(o.api_token, file.api_token, file.api_token_file.as_deref())?;
        let api_token_next = secret(
            o.api_token_next,
            file.api_token_next,
            file.api_token_next_file.as_deref(),
        )?;
        for (what, token) in [("api_token", &api_token), ("api_token_next", &api_token_next)] {
            if let Some(t) = token
                && t.len() < 16
            {
                return Err(SettingsError::Invalid {
                    what: what.into(),
                    message: "use at least 16 characters (e.g. `openssl rand -hex 32`)".into(),
                });
            }
        }
        if api_token_next.is_some() && api_token.is_none() {
            return Err(SettingsError::Invalid {
                what: "api_token_next".into(),
                message: "a next API token needs a current one (api_token)".into(),
            });
        }
        let intake_rate = intake_rate(o.intake_rate, file.intake_rate, file.intake_burst)?;
        let connections = connections(
            (o.header_read_timeout, file.header_read_timeout),
            (o.idle_timeout, file.idle_timeout),
            (o.max_connections, file.max_connections),
        )?;
        let link_secret = secret(o.link_secret, file.link_secret, file.link_secret_file.as_deref())?;
        if let Some(s) = &link_secret
            && s.len() < MIN_LINK_SECRET_LEN
        {
            return Err(SettingsError::Invalid {
                what: "link_secret".into(),
                message: format!(
                    "use at least {MIN_LINK_SECRET_LEN} characters (e.g. `openssl rand -hex 32`), or none: the daemon then makes one"
                ),
            });
        }
        let public_url = match o.public_url.or(file.public_url).filter(|u| !u.is_empty()) {
            Some(u) => Some(public_url(&u)?),
            None => None,
        };
        let severities = Severities::new(
            file.severities
                .names
                .unwrap_or_else(|| Severities::default().names().to_vec()),
            file.severities.map,
            file.severities.default,
        )
        .map_err(|e| SettingsError::Invalid {
            what: "severities".into(),
            message: e.to_string(),
        })?;
        let mut intensities: BTreeMap<String, Intensity> = severities
            .names()
            .iter()
            .enumerate()
            .map(|(rank, name)| (name.clone(), Intensity::default_for(rank, severities.names().len())))
            .collect();
        for (name, written) in file.paging {
            let invalid = |message: String| SettingsError::Invalid {
                what: format!("paging.{name}"),
                message,
            };
            let Some(intensity) = intensities.get_mut(&name) else {
                return Err(invalid(format!(
                    "`{name}` is not one of the severities: {}",
                    severities.names().join(", ")
                )));
            };
            if let Some(methods) = written.methods {
                intensity.methods = methods
                    .iter()
                    .map(|m| {
                        Method::parse(m).ok_or_else(|| {
                            invalid(format!(
                                "unknown contact method `{m}`: use push, sms, email, webhook, voice"
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?;
            }
            if let Some(q) = written.quiet_hours {
                intensity.respect_quiet_hours = q;
            }
            if let Some(e) = written.escalate {
                intensity.escalate = e;
            }
        }
        let mut throttle = Throttle::default();
        for (method, gap) in &file.throttle {
            let invalid = |message: String| SettingsError::Invalid {
                what: format!("throttle.{method}"),
                message,
            };
            let m = Method::parse(method).ok_or_else(|| {
                invalid(format!(
                    "unknown contact method `{method}`: use push, sms, email, webhook, voice"
                ))
            })?;
            let gap = crate::config::text::parse_duration(gap).map_err(invalid)?;
            throttle.gap.insert(m, gap);
        }
        let log_format = o.log_format.or(file.log_format).unwrap_or_else(|| "text".into());
        let log_json = match log_format.as_str() {
            "json" => true,
            "text" => false,
            other => {
                return Err(SettingsError::Invalid {
                    what: "log_format".into(),
                    message: format!("`{other}` is not `text` or `json`"),
                });
            }
        };
        // The channels' secrets, final: `Settings.notify` is what they use.
        let mut notify = notify::Config {
            email: file.email,
            sms: file.sms,
            voice: file.voice,
            push: file.push,
            webpush: file.webpush,
            webhook: file.webhook,
        };
        if let Some(c) = &mut notify.email {
            c.password = secret(o.smtp_password, c.password.take(), c.password_file.as_deref())?;
        }
        if let Some(c) = &mut notify.sms {
            c.auth_token = secret(o.sms_auth_token, c.auth_token.take(), c.auth_token_file.as_deref())?;
        }
        if let Some(c) = &mut notify.voice {
            // A phone call goes through the same Twilio account as the SMS
            // unless `[voice]` names its own.
            c.auth_token = secret(None, c.auth_token.take(), c.auth_token_file.as_deref())?;
            if let Some(sms) = &notify.sms {
                c.account_sid = c.account_sid.take().or_else(|| Some(sms.account_sid.clone()));
                c.auth_token = c.auth_token.take().or_else(|| sms.auth_token.clone());
                c.from = c.from.take().or_else(|| Some(sms.from.clone()));
                c.base_url = c.base_url.take().or_else(|| sms.base_url.clone());
            }
        }
        if let Some(c) = &mut notify.push {
            c.token = secret(o.push_token, c.token.take(), c.token_file.as_deref())?;
        }
        if let Some(c) = &mut notify.webpush {
            c.private_key = secret(
                o.webpush_private_key,
                c.private_key.take(),
                c.private_key_file.as_deref(),
            )?;
        }
        let database = o.database.or(file.database).unwrap_or_else(|| DEFAULT_DATABASE.into());
        let database = Database::parse(&database).map_err(|e| SettingsError::Invalid {
            what: "database".into(),
            message: e.to_string(),
        })?;
        if matches!(database, Database::Postgres(_)) && link_secret.is_none() {
            // A link signed by one daemon is followed on another: they must
            // share the key, and none can be kept beside a file.
            return Err(SettingsError::Invalid {
                what: "link_secret".into(),
                message: "with a PostgreSQL database every daemon must sign links with the same key: set \
                          link_secret_file or ONCALL_LINK_SECRET (e.g. `openssl rand -hex 32`)"
                    .into(),
            });
        }
        let pay_export = pay_export(file.pay_export, &database, notify.email.is_some())?;
        let session_lifetime = match &file.session_lifetime {
            None => DEFAULT_SESSION_LIFETIME,
            Some(text) => crate::config::text::parse_duration(text)
                .ok()
                .filter(|d| *d >= chrono::Duration::minutes(1) && *d <= chrono::Duration::days(31))
                .ok_or_else(|| SettingsError::Invalid {
                    what: "session_lifetime".into(),
                    message: format!("`{text}` is not a duration from 1m to 31d (like 12h)"),
                })?,
        };
        Ok(Settings {
            listen,
            schedules: o
                .schedules
                .or(file.schedules)
                .unwrap_or_else(|| DEFAULT_SCHEDULES.into()),
            database,
            api_token,
            api_token_next,
            intake_rate,
            max_body_bytes: file.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
            connections,
            severities,
            log_json,
            notify,
            intensities,
            throttle,
            run_engine: true,
            verify_phones: true,
            public_url,
            link_secret,
            pay_export,
            status_page_public: file.status_page_public.unwrap_or(false),
            session_lifetime,
        })
    }
}

/// How long a web session lasts by default: a working day and a night on
/// call, not a week.
pub const DEFAULT_SESSION_LIFETIME: chrono::Duration = chrono::Duration::hours(12);

/// The default time of the monthly export on the 1st.
pub const DEFAULT_PAY_EXPORT_AT: &str = "06:00";

fn pay_export(
    file: PayExportFile,
    database: &Database,
    has_email: bool,
) -> Result<payroll::ExportSettings, SettingsError> {
    let invalid = |key: &str, message: String| SettingsError::Invalid {
        what: format!("pay_export.{key}"),
        message,
    };
    let at_text = file.at.unwrap_or_else(|| DEFAULT_PAY_EXPORT_AT.to_string());
    let at = chrono::NaiveTime::parse_from_str(at_text.trim(), "%H:%M")
        .map_err(|_| invalid("at", format!("`{at_text}` is not a time like 06:00")))?;
    for address in &file.email {
        if address.parse::<lettre::Address>().is_err() {
            return Err(invalid("email", format!("`{address}` is not an email address")));
        }
    }
    if !file.email.is_empty() && !has_email {
        return Err(invalid(
            "email",
            "sending the export by email needs an [email] section (the SMTP server)".into(),
        ));
    }
    let directory = file.directory.unwrap_or_else(|| match database {
        Database::Sqlite(path) => path
            .parent()
            .map(|p| p.join("pay"))
            .unwrap_or_else(|| PathBuf::from("pay")),
        // No folder of its own: the working directory's `pay`.
        Database::Postgres(_) => PathBuf::from("pay"),
    });
    Ok(payroll::ExportSettings {
        enabled: file.enabled.unwrap_or(true),
        directory,
        email: file.email,
        at: chrono::Timelike::num_seconds_from_midnight(&at) / 60,
        format: file.format.unwrap_or_default(),
    })
}

/// Intake requests a second per team, by default: far above what a
/// monitoring system sends (Alertmanager groups), low enough that one
/// runaway sender cannot fill the disk or starve the other teams.
pub const DEFAULT_INTAKE_RATE: f64 = 50.0;
/// Intake requests a team may send at once, by default.
pub const DEFAULT_INTAKE_BURST: u32 = 500;

/// A token bucket's settings: `per_second` on average, `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

fn intake_rate(env: Option<String>, rate: Option<f64>, burst: Option<u32>) -> Result<Option<RateLimit>, SettingsError> {
    let invalid = |what: &str, message: String| SettingsError::Invalid {
        what: what.into(),
        message,
    };
    let rate = match env {
        Some(text) => Some(text.trim().parse::<f64>().map_err(|_| {
            invalid(
                "ONCALL_INTAKE_RATE",
                format!("`{text}` is not a number of requests a second"),
            )
        })?),
        None => rate,
    }
    .unwrap_or(DEFAULT_INTAKE_RATE);
    if !rate.is_finite() || rate < 0.0 {
        return Err(invalid(
            "intake_rate",
            format!("`{rate}` is not a number of requests a second (0 turns the limit off)"),
        ));
    }
    let burst = burst.unwrap_or(DEFAULT_INTAKE_BURST);
    if burst == 0 {
        return Err(invalid("intake_burst", "use at least 1".into()));
    }
    Ok((rate > 0.0).then_some(RateLimit {
        per_second: rate,
        burst,
    }))
}

/// The connection settings: each from the environment (first of each
/// pair), else the file, else its default.
fn connections(
    header_read_timeout: (Option<String>, Option<String>),
    idle_timeout: (Option<String>, Option<String>),
    max_connections: (Option<String>, Option<usize>),
) -> Result<crate::http::listen::Limits, SettingsError> {
    let timeout = |what: &str, (env, file): (Option<String>, Option<String>), default: Duration| {
        let (text, what) = match (env, file) {
            (Some(t), _) => (t, format!("ONCALL_{}", what.to_uppercase())),
            (None, Some(t)) => (t, what.to_string()),
            (None, None) => return Ok(default),
        };
        let invalid = |message: String| SettingsError::Invalid {
            what: what.clone(),
            message,
        };
        let d = crate::config::text::parse_duration(&text).map_err(invalid)?;
        match d.to_std() {
            Ok(d) if d >= Duration::from_secs(1) => Ok(d),
            _ => Err(invalid(format!(
                "`{text}` is too short: use at least 1s (a connection gets that long to send)"
            ))),
        }
    };
    let header_read_timeout = timeout("header_read_timeout", header_read_timeout, DEFAULT_HEADER_READ_TIMEOUT)?;
    let idle_timeout = timeout("idle_timeout", idle_timeout, DEFAULT_IDLE_TIMEOUT)?;
    let max_connections = match max_connections {
        (Some(text), _) => {
            text.trim()
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| SettingsError::Invalid {
                    what: "ONCALL_MAX_CONNECTIONS".into(),
                    message: format!("`{text}` is not a number of connections (at least 1)"),
                })?
        }
        (None, Some(0)) => {
            return Err(SettingsError::Invalid {
                what: "max_connections".into(),
                message: "use at least 1".into(),
            });
        }
        (None, Some(n)) => n,
        (None, None) => DEFAULT_MAX_CONNECTIONS,
    };
    Ok(crate::http::listen::Limits {
        header_read_timeout,
        idle_timeout,
        max_connections,
    })
}

/// Shortest link secret accepted from the configuration.
pub const MIN_LINK_SECRET_LEN: usize = 32;

/// A secret, from the first of: the environment (`from_env`), the value in
/// the file, the file named by its `*_file` setting (trimmed, so a trailing
/// newline does not count). Empty means none.
fn secret(
    from_env: Option<String>,
    value: Option<String>,
    file: Option<&Path>,
) -> Result<Option<String>, SettingsError> {
    let secret = match (from_env, value, file) {
        (Some(t), _, _) => Some(t),
        (None, Some(t), _) => Some(t),
        (None, None, Some(path)) => {
            let text = crate::secret_file::read(path).map_err(|source| SettingsError::Read {
                path: path.display().to_string(),
                source,
            })?;
            Some(text)
        }
        (None, None, None) => None,
    };
    Ok(secret.filter(|t| !t.is_empty()))
}

/// `public_url` checked: `http(s)://host[:port][/prefix]`, nothing after the
/// path; returned without a trailing `/`.
fn public_url(url: &str) -> Result<String, SettingsError> {
    let invalid = |message: &str| SettingsError::Invalid {
        what: "public_url".into(),
        message: format!("`{url}` {message}"),
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid("must start with https:// (or http://), like https://oncall.example.com"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err(invalid("has no host, like https://oncall.example.com"));
    }
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "must be the address only, with no query, fragment or spaces, like https://oncall.example.com",
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn read_file(path: &Path) -> Result<File, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
        path: path.display().to_string(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| SettingsError::Parse {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_anything() {
        let s = Settings::resolve(File::default(), Overrides::default()).unwrap();
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(s.database, Database::Sqlite(PathBuf::from("oncall.db")));
        assert!(s.api_token.is_none());
    }

    #[test]
    fn flags_and_environment_win_over_the_file() {
        let file: File =
            toml::from_str("listen = \"127.0.0.1:9000\"\ndatabase = \"/var/lib/oncall/oncall.db\"\n").unwrap();
        let o = Overrides {
            listen: Some("127.0.0.1:9100".into()),
            ..Overrides::default()
        };
        let s = Settings::resolve(file, o).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(s.database, Database::Sqlite(PathBuf::from("/var/lib/oncall/oncall.db")));
    }

    #[test]
    fn the_example_in_deploy_is_valid_and_says_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/oncall.toml");
        let s = Settings::load(Some(&path), Overrides::default()).unwrap();
        let defaults = Settings::resolve(File::default(), Overrides::default()).unwrap();
        assert_eq!(s.listen, defaults.listen);
        assert_eq!(s.database, defaults.database);
        assert_eq!(s.max_body_bytes, defaults.max_body_bytes);
        assert_eq!(s.connections, defaults.connections);
        assert_eq!(s.severities, defaults.severities);
        assert_eq!(s.public_url, defaults.public_url);
        assert_eq!(s.link_secret, defaults.link_secret);
        assert_eq!(s.pay_export, defaults.pay_export);
        assert_eq!(s.status_page_public, defaults.status_page_public);
    }

    #[test]
    fn the_pay_export_goes_next_to_the_database_and_emails_only_with_email() {
        let file: File = toml::from_str("database = \"/var/lib/oncall/oncall.db\"\n").unwrap();
        let s = Settings::resolve(file, Overrides::default()).unwrap();
        assert_eq!(s.pay_export.directory, Path::new("/var/lib/oncall/pay"));
        assert_eq!((s.pay_export.at, s.pay_export.enabled), (6 * 60, true));
        let defaults = Settings::resolve(File::default(), Overrides::default()).unwrap();
        assert_eq!(defaults.pay_export.directory, Path::new("pay"));
        let file: File = toml::from_str("[pay_export]\nat = \"01:30\"\nformat = \"json\"\n").unwrap();
        let s = Settings::resolve(file, Overrides::default()).unwrap();
        assert_eq!(
            (s.pay_export.at, s.pay_export.format),
            (90, crate::payroll::Format::Json)
        );
        for (toml, says) in [
            (
                "[pay_export]\nat = \"6am\"\n",
                "pay_export.at: `6am` is not a time like 06:00",
            ),
            (
                "[pay_export]\nemail = [\"payroll@example.com\"]\n",
                "pay_export.email: sending the export by email needs an [email] section (the SMTP server)",
            ),
            (
                "[pay_export]\nemail = [\"payroll\"]\n",
                "pay_export.email: `payroll` is not an email address",
            ),
        ] {
            let file: File = toml::from_str(toml).unwrap();
            let err = Settings::resolve(file, Overrides::default()).unwrap_err().to_string();
            assert_eq!(err, says);
        }
    }

    #[test]
    fn a_postgres_database_needs_a_shared_link_secret() {
        let file = || -> File { toml::from_str("database = \"postgres://oncall@db.internal/oncall\"\n").unwrap() };
        let error = Settings::resolve(file(), Overrides::default()).unwrap_err().to_string();
        assert!(error.contains("link_secret") && error.contains("same key"), "{error}");
        let o = Overrides {
            link_secret: Some("x".repeat(40)),
            ..Overrides::default()
        };
        let s = Settings::resolve(file(), o).unwrap();
        assert!(matches!(s.database, Database::Postgres(_)), "{:?}", s.database);
        assert_eq!(s.pay_export.directory, PathBuf::from("pay"));
    }

    #[test]
    fn a_database_setting_that_is_no_file_and_no_postgres_url_is_refused() {
        let file: File = toml::from_str("database = \"mysql://oncall:hunter2@db.internal/oncall\"\n").unwrap();
        let error = Settings::resolve(file, Overrides::default()).unwrap_err().to_string();
        assert!(
            error.starts_with("database: `mysql://` is not a database oncall can use"),
            "{error}"
        );
        // From the environment or the flag, a URL with a bad port.
        let o = Overrides {
            database: Some("postgres://oncall:hunter2@db.internal:99999/oncall".into()),
            link_secret: Some("x".repeat(40)),
            ..Overrides::default()
        };
        let error = Settings::resolve(File::default(), o).unwrap_err().to_string();
        assert!(
            error.starts_with("database: `postgres://oncall:***@db.internal:99999/oncall` is not a PostgreSQL URL")
                && error.contains("port"),
            "{error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn public_url_and_link_secret() {
        let file: File = toml::from_str(
            "public_url = \"https://oncall.example.com/\"\nlink_secret = \"0123456789abcdef0123456789abcdef\"\n",
        )
        .unwrap();
        let s = Settings::resolve(file, Overrides::default()).unwrap();
        assert_eq!(s.public_url.as_deref(), Some("https://oncall.example.com"));
        assert_eq!(s.link_secret.as_deref(), Some("0123456789abcdef0123456789abcdef"));
        // The environment wins over the file.
        let file: File = toml::from_str("public_url = \"https://a.example.com\"\n").unwrap();
        let o = Overrides {
            public_url: Some("http://b.example.com:8080/oncall".into()),
            link_secret: Some("x".repeat(40)),
            ..Overrides::default()
        };
        let s = Settings::resolve(file, o).unwrap();
        assert_eq!(s.public_url.as_deref(), Some("http://b.example.com:8080/oncall"));
        assert_eq!(s.link_secret, Some("x".repeat(40)));
        for (bad, says) in [
            ("oncall.example.com", "must start with https://"),
            ("https://", "has no host"),
            ("https://oncall.example.com/?a=1", "no query"),
        ] {
            let o = Overrides {
                public_url: Some(bad.into()),
                ..Overrides::default()
            };
            let err = Settings::resolve(File::default(), o).unwrap_err().to_string();
            assert!(err.starts_with("public_url: ") && err.contains(says), "{bad}: {err}");
        }
        let o = Overrides {
            link_secret: Some("short".into()),
            ..Overrides::default()
        };
        let err = Settings::resolve(File::default(), o).unwrap_err().to_string();
        assert!(err.contains("at least 32 characters"), "{err}");
    }

    #[test]
    fn paging_intensity_defaults_and_overrides() {
        let s = Settings::resolve(File::default(), Overrides::default()).unwrap();
        assert!(!s.intensities["minor"].escalate);
        assert!(s.intensities["minor"].respect_quiet_hours);
        // Every method for the highest severity, phone calls included (issue
        // 20); the others in between all but phone calls.
        assert_eq!(
            s.intensities["critical"].methods,
            [Method::Push, Method::Sms, Method::Email, Method::Webhook, Method::Voice]
        );
        assert_eq!(
            s.intensities["major"].methods,
            [Method::Push, Method::Sms, Method::Email, Method::Webhook]
        );
        let file: File = toml::from_str("[paging.major]\nmethods = [\"push\"]\nquiet_hours = true\n").unwrap();
        let s = Settings::resolve(file, Overrides::default()).unwrap();
        assert_eq!(s.intensities["major"].methods, vec![Method::Push]);
        assert!(s.intensities["major"].respect_quiet_hours);
        assert!(s.intensities["major"].escalate);
        let file: File = toml::from_str("[throttle]\nsms = \"2m\"\npush = \"0s\"\n").unwrap();
        let s = Settings::resolve(file, Overrides::default()).unwrap();
        assert_eq!(s.throttle.gap[&Method::Sms], chrono::Duration::minutes(2));
        assert_eq!(s.throttle.gap[&Method::Push], chrono::Duration::zero());
        assert_eq!(s.throttle.gap[&Method::Email], chrono::Duration::minutes(1));
        let file: File = toml::from_str("[throttle]\nsms = \"soon\"\n").unwrap();
        let err = Settings::resolve(file, Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("throttle.sms"), "{err}");
        let file: File = toml::from_str("[paging.urgent]\nescalate = false\n").unwrap();
        let err = Settings::resolve(file, Overrides::default()).unwrap_err().to_string();
        assert!(
            err.contains("paging.urgent") && err.contains("minor, major, critical"),
            "{err}"
        );
        let file: File = toml::from_str("[paging.major]\nmethods = [\"pager\"]\n").unwrap();
        let err = Settings::resolve(file, Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("pager"), "{err}");
    }

    #[test]
    fn channel_secrets_come_from_the_environment_the_file_or_a_file() {
        let dir = std::env::temp_dir().join(format!("oncall-settings-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let password_file = dir.join("smtp-password");
        std::fs::write(&password_file, "from-a-file\n").unwrap();
        let text = format!(
            r#"
[email]
host = "smtp.example.com"
from = "oncall@example.com"
password_file = "{}"

[sms]
account_sid = "AC1"
from = "+15550100"
auth_token = "in-the-config"

[push]
token_file = "{}"
"#,
            password_file.display(),
            password_file.display()
        );
        let file = || toml::from_str::<File>(&text).unwrap();

        // Nothing in the environment: the file's values, *_file read and trimmed.
        let s = Settings::resolve(file(), Overrides::default()).unwrap();
        assert_eq!(s.notify.email.unwrap().password.as_deref(), Some("from-a-file"));
        assert_eq!(s.notify.sms.unwrap().auth_token.as_deref(), Some("in-the-config"));
        assert_eq!(s.notify.push.unwrap().token.as_deref(), Some("from-a-file"));

        // The environment wins over both.
        let o = Overrides {
            smtp_password: Some("env-smtp".into()),
            sms_auth_token: Some("env-sms".into()),
            push_token: Some("env-push".into()),
            ..Overrides::default()
        };
        let s = Settings::resolve(file(), o).unwrap();
        assert_eq!(s.notify.email.unwrap().password.as_deref(), Some("env-smtp"));
        assert_eq!(s.notify.sms.unwrap().auth_token.as_deref(), Some("env-sms"));
        assert_eq!(s.notify.push.unwrap().token.as_deref(), Some("env-push"));

        // A secret for a channel that is not configured configures nothing.
        let o = Overrides {
            sms_auth_token: Some("env-sms".into()),
            ..Overrides::default()
        };
        assert!(Settings::resolve(File::default(), o).unwrap().notify.sms.is_none());

        // A *_file that cannot be read is named.
        std::fs::remove_file(&password_file).unwrap();
        let err = Settings::resolve(file(), Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("smtp-password"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn connection_timeouts_and_cap_from_the_file_or_the_environment() {
        let s = Settings::resolve(File::default(), Overrides::default()).unwrap();
        assert_eq!(s.connections.header_read_timeout, DEFAULT_HEADER_READ_TIMEOUT);
        assert_eq!(s.connections.idle_timeout, DEFAULT_IDLE_TIMEOUT);
        assert_eq!(s.connections.max_connections, DEFAULT_MAX_CONNECTIONS);
        let file = || -> File {
            toml::from_str("header_read_timeout = \"5s\"\nidle_timeout = \"2m\"\nmax_connections = 100\n").unwrap()
        };
        let s = Settings::resolve(file(), Overrides::default()).unwrap();
        assert_eq!(s.connections.header_read_timeout, Duration::from_secs(5));
        assert_eq!(s.connections.idle_timeout, Duration::from_secs(120));
        assert_eq!(s.connections.max_connections, 100);
        let o = Overrides {
            header_read_timeout: Some("3s".into()),
            idle_timeout: Some("30s".into()),
            max_connections: Some("50".into()),
            ..Overrides::default()
        };
        let s = Settings::resolve(file(), o).unwrap();
        assert_eq!(s.connections.header_read_timeout, Duration::from_secs(3));
        assert_eq!(s.connections.idle_timeout, Duration::from_secs(30));
        assert_eq!(s.connections.max_connections, 50);
        for (o, says) in [
            (
                Overrides {
                    header_read_timeout: Some("0".into()),
                    ..Overrides::default()
                },
                "ONCALL_HEADER_READ_TIMEOUT: `0` is too short: use at least 1s",
            ),
            (
                Overrides {
                    idle_timeout: Some("soon".into()),
                    ..Overrides::default()
                },
                "ONCALL_IDLE_TIMEOUT: `soon` is not a duration",
            ),
            (
                Overrides {
                    max_connections: Some("lots".into()),
                    ..Overrides::default()
                },
                "ONCALL_MAX_CONNECTIONS: `lots` is not a number of connections",
            ),
        ] {
            let err = Settings::resolve(File::default(), o).unwrap_err().to_string();
            assert!(err.starts_with(says), "{err}");
        }
        let file: File = toml::from_str("max_connections = 0\n").unwrap();
        let err = Settings::resolve(file, Overrides::default()).unwrap_err().to_string();
        assert_eq!(err, "max_connections: use at least 1");
    }

    #[test]
    fn mistakes_are_named() {
        let err = toml::from_str::<File>("listn = \"x\"").unwrap_err().to_string();
        assert!(err.contains("listn"), "{err}");
        let file: File = toml::from_str("[severities]\nnames = [\"low\", \"high\"]\n").unwrap();
        let err = Settings::resolve(file, Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("3 to 5"), "{err}");
    }
}
