//! The daemon's settings: `oncall.toml` (optional), overridden by the
//! environment (`ONCALL_*`), overridden by command-line flags. Secrets can
//! come from the environment or from a file, so they stay out of the config.
//!
//! With nothing at all, the daemon runs on its embedded default: SQLite in
//! `./oncall.db`, rotas from `./schedules`, listening on 127.0.0.1:8080.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::severity::Severities;
use crate::notify;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE: &str = "oncall.db";
pub const DEFAULT_SCHEDULES: &str = "schedules";
/// Largest webhook body accepted (bigger: 413).
pub const DEFAULT_MAX_BODY_BYTES: usize = 512 * 1024;

/// Everything `oncall serve` needs, resolved.
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub schedules: PathBuf,
    pub database: PathBuf,
    /// The token for `/v1/...` API calls; `None` disables the API.
    pub api_token: Option<String>,
    pub max_body_bytes: usize,
    pub severities: Severities,
    pub log_json: bool,
    /// The channels that deliver notices, with their secrets resolved.
    pub notify: notify::Config,
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
    pub max_body_bytes: Option<usize>,
    /// `"json"` for one JSON object a log line; default text.
    pub log_format: Option<String>,
    #[serde(default)]
    pub severities: SeverityFile,
    pub email: Option<notify::EmailConfig>,
    pub sms: Option<notify::SmsConfig>,
    pub push: Option<notify::PushConfig>,
    #[serde(default)]
    pub webhook: notify::WebhookConfig,
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
    pub log_format: Option<String>,
    /// `ONCALL_SMTP_PASSWORD`: the `[email]` password.
    pub smtp_password: Option<String>,
    /// `ONCALL_SMS_AUTH_TOKEN`: the `[sms]` auth token.
    pub sms_auth_token: Option<String>,
    /// `ONCALL_PUSH_TOKEN`: the `[push]` access token.
    pub push_token: Option<String>,
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
        if let Some(t) = &api_token
            && t.len() < 16
        {
            return Err(SettingsError::Invalid {
                what: "api_token".into(),
                message: "use at least 16 characters (e.g. `openssl rand -hex 32`)".into(),
            });
        }
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
            push: file.push,
            webhook: file.webhook,
        };
        if let Some(c) = &mut notify.email {
            c.password = secret(o.smtp_password, c.password.take(), c.password_file.as_deref())?;
        }
        if let Some(c) = &mut notify.sms {
            c.auth_token = secret(o.sms_auth_token, c.auth_token.take(), c.auth_token_file.as_deref())?;
        }
        if let Some(c) = &mut notify.push {
            c.token = secret(o.push_token, c.token.take(), c.token_file.as_deref())?;
        }
        Ok(Settings {
            listen,
            schedules: o
                .schedules
                .or(file.schedules)
                .unwrap_or_else(|| DEFAULT_SCHEDULES.into()),
            database: o.database.or(file.database).unwrap_or_else(|| DEFAULT_DATABASE.into()),
            api_token,
            max_body_bytes: file.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
            severities,
            log_json,
            notify,
        })
    }
}

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
            let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
                path: path.display().to_string(),
                source,
            })?;
            Some(text.trim().to_string())
        }
        (None, None, None) => None,
    };
    Ok(secret.filter(|t| !t.is_empty()))
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
        assert_eq!(s.database, PathBuf::from("oncall.db"));
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
        assert_eq!(s.database, PathBuf::from("/var/lib/oncall/oncall.db"));
    }

    #[test]
    fn the_example_in_deploy_is_valid_and_says_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/oncall.toml");
        let s = Settings::load(Some(&path), Overrides::default()).unwrap();
        let defaults = Settings::resolve(File::default(), Overrides::default()).unwrap();
        assert_eq!(s.listen, defaults.listen);
        assert_eq!(s.database, defaults.database);
        assert_eq!(s.max_body_bytes, defaults.max_body_bytes);
        assert_eq!(s.severities, defaults.severities);
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
    fn mistakes_are_named() {
        let err = toml::from_str::<File>("listn = \"x\"").unwrap_err().to_string();
        assert!(err.contains("listn"), "{err}");
        let file: File = toml::from_str("[severities]\nnames = [\"low\", \"high\"]\n").unwrap();
        let err = Settings::resolve(file, Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("3 to 5"), "{err}");
    }
}
