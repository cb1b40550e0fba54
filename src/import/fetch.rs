//! Reading a source's answers: over HTTP from its REST API, or from the same
//! answers saved as JSON files (`--from-dir`).
//!
//! A source names what it reads by path (`schedules/P1`), query and a
//! description of the object for error messages ("the Acme schedule
//! P1"). Over HTTP, the path is joined to the API's base URL, the source's
//! headers (its authentication) go with every request, a 429 is waited out
//! for as long as its `Retry-After` says (a bounded number of times, each
//! wait bounded), and any other failure is an [`ImportError`] naming the
//! object and the status. From a folder, the path with `.json` appended is
//! the file (`schedules/P1.json`), and the query is not used: a listing is
//! one file holding every item under the same key as a page.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// How many 429 answers in a row one request waits out before it fails.
const MAX_RETRIES: u32 = 5;
/// The longest single wait for a 429, whatever `Retry-After` says.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// A request that takes longer fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// A listing that runs on for more pages than this is refused, not followed
/// forever.
const MAX_PAGES: usize = 10_000;

/// The secret in the environment variable named by `flag` (`--token-env`,
/// `--key-env`), trimmed: secrets never come from the command line. `what`
/// names it for the error ("a PagerDuty API token").
pub fn secret_from_env(var: Option<&str>, flag: &str, what: &str) -> Result<String, ImportError> {
    let Some(var) = var else {
        return Err(ImportError::new(format!(
            "give {flag} NAME, the environment variable holding {what} (or --from-dir DIR)"
        )));
    };
    let secret = std::env::var(var).unwrap_or_default();
    if secret.trim().is_empty() {
        return Err(ImportError::new(format!(
            "the environment variable {var} ({flag}) is not set or empty"
        )));
    }
    Ok(secret.trim().to_string())
}

/// Why an import stopped. The text names the source object.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ImportError(pub String);

impl ImportError {
    pub fn new(text: impl Into<String>) -> ImportError {
        ImportError(text.into())
    }
}

/// Where the next page of a listing is.
pub enum NextPage {
    /// The same path with these query parameters instead.
    Query(Vec<(String, String)>),
    /// An absolute URL the source gave.
    Url(String),
}

pub enum Fetcher {
    Http(Http),
    Dir(PathBuf),
}

pub struct Http {
    pub base: String,
    pub headers: Vec<(String, String)>,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    /// Every wait for a 429, for the tests and the summary.
    pub waits: Vec<Duration>,
}

impl Fetcher {
    /// A client of the API at `base` sending `headers` with every request.
    pub fn http(base: &str, headers: Vec<(String, String)>) -> Result<Fetcher, ImportError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ImportError::new(format!("cannot start the HTTP client: {e}")))?;
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ImportError::new(format!("cannot start the HTTP client: {e}")))?;
        Ok(Fetcher::Http(Http {
            base: base.trim_end_matches('/').to_string(),
            headers,
            client,
            runtime,
            waits: Vec::new(),
        }))
    }

    /// One object: `path` with `query`, described as `what` in errors.
    pub fn get(&mut self, path: &str, query: &[(String, String)], what: &str) -> Result<Value, ImportError> {
        match self {
            Fetcher::Http(http) => {
                let url = format!("{}/{}", http.base, path.trim_start_matches('/'));
                http.get(&url, query, what)
            }
            Fetcher::Dir(dir) => {
                let file = dir.join(format!("{}.json", path.trim_start_matches('/')));
                let text = std::fs::read(&file)
                    .map_err(|e| ImportError::new(format!("{what}: cannot read {}: {e}", file.display())))?;
                serde_json::from_slice(&text)
                    .map_err(|e| ImportError::new(format!("{what}: {} is not JSON: {e}", file.display())))
            }
        }
    }

    /// Every item of a listing: the arrays under `key` of each page, the
    /// first page asked for with `query`, the next ones where `next` says
    /// (given the page just read and how many items came so far).
    pub fn list(
        &mut self,
        path: &str,
        query: &[(String, String)],
        key: &str,
        what: &str,
        next: &dyn Fn(&Value, usize) -> Option<NextPage>,
    ) -> Result<Vec<Value>, ImportError> {
        let mut items = Vec::new();
        let mut page = self.get(path, query, what)?;
        for _ in 0..MAX_PAGES {
            let Some(list) = page.get(key).and_then(Value::as_array) else {
                return Err(ImportError::new(format!(
                    "{what}: the answer has no `{key}` list (not the documented shape)"
                )));
            };
            items.extend(list.iter().cloned());
            let Fetcher::Http(http) = self else {
                return Ok(items);
            };
            page = match next(&page, items.len()) {
                None => return Ok(items),
                Some(NextPage::Query(q)) => {
                    let url = format!("{}/{}", http.base, path.trim_start_matches('/'));
                    http.get(&url, &q, what)?
                }
                Some(NextPage::Url(url)) => http.get(&url, &[], what)?,
            };
        }
        Err(ImportError::new(format!("{what}: more than {MAX_PAGES} pages")))
    }

    /// The waits for 429 answers so far (none when reading a folder).
    pub fn waits(&self) -> &[Duration] {
        match self {
            Fetcher::Http(http) => &http.waits,
            Fetcher::Dir(_) => &[],
        }
    }
}

impl Http {
    fn get(&mut self, url: &str, query: &[(String, String)], what: &str) -> Result<Value, ImportError> {
        let mut tries = 0;
        loop {
            let shown = shown_url(url, query);
            let mut request = self.client.get(&shown);
            for (name, value) in &self.headers {
                request = request.header(name.as_str(), value.as_str());
            }
            let answer = self.runtime.block_on(async {
                let response = request.send().await?;
                let status = response.status();
                // `Retry-After`, or the `ratelimit-reset` of the RateLimit
                // header fields (seconds until the limit resets) when an
                // answer has only that.
                let retry_after = ["retry-after", "ratelimit-reset"]
                    .iter()
                    .find_map(|h| response.headers().get(*h))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, retry_after, body))
            });
            let (status, retry_after, body) =
                answer.map_err(|e| ImportError::new(format!("{what}: GET {shown}: {e}")))?;
            if status.as_u16() == 429 && tries < MAX_RETRIES {
                tries += 1;
                // Retry-After in seconds (what these APIs send); a date or
                // nothing is waited as one second.
                let wait = retry_after
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map_or(Duration::from_secs(1), Duration::from_secs)
                    .min(MAX_WAIT);
                self.waits.push(wait);
                std::thread::sleep(wait);
                continue;
            }
            if !status.is_success() {
                let reason = match status.as_u16() {
                    401 => " (the token was refused: check it, and that it is an API token)",
                    403 => " (the token may not read this)",
                    404 => " (it does not exist, or the token cannot see it)",
                    429 => " (rate limited, and still so after waiting)",
                    _ => "",
                };
                let text = String::from_utf8_lossy(&body);
                let text: String = text.chars().take(300).collect();
                return Err(ImportError::new(format!(
                    "{what}: GET {shown}: {status}{reason}: {}",
                    text.trim()
                )));
            }
            return serde_json::from_slice(&body)
                .map_err(|e| ImportError::new(format!("{what}: GET {shown}: the answer is not JSON: {e}")));
        }
    }
}

fn shown_url(url: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return url.to_string();
    }
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        q.append_pair(k, v);
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", q.finish())
}

/// Reading fields of a source's JSON with errors that name the object and
/// the field: `the Acme schedule S1: `layers` is missing or not a list
/// (not the documented shape)`.
#[derive(Clone, Copy)]
pub struct Obj<'a> {
    pub value: &'a Value,
    pub what: &'a str,
}

impl<'a> Obj<'a> {
    pub fn new(value: &'a Value, what: &'a str) -> Obj<'a> {
        Obj { value, what }
    }

    fn missing(&self, field: &str, kind: &str) -> ImportError {
        ImportError::new(format!(
            "{}: `{field}` is missing or not {kind} (not the documented shape)",
            self.what
        ))
    }

    pub fn str(&self, field: &str) -> Result<&'a str, ImportError> {
        self.value
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| self.missing(field, "a string"))
    }

    /// A string, or `None` when absent or null.
    pub fn opt_str(&self, field: &str) -> Result<Option<&'a str>, ImportError> {
        match self.value.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.missing(field, "a string")),
        }
    }

    pub fn i64(&self, field: &str) -> Result<i64, ImportError> {
        self.value
            .get(field)
            .and_then(Value::as_i64)
            .ok_or_else(|| self.missing(field, "a whole number"))
    }

    pub fn opt_i64(&self, field: &str) -> Result<Option<i64>, ImportError> {
        match self.value.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.missing(field, "a whole number")),
        }
    }

    pub fn array(&self, field: &str) -> Result<&'a [Value], ImportError> {
        self.value
            .get(field)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .ok_or_else(|| self.missing(field, "a list"))
    }

    /// A list, empty when absent or null.
    pub fn opt_array(&self, field: &str) -> Result<&'a [Value], ImportError> {
        match self.value.get(field) {
            None | Some(Value::Null) => Ok(&[]),
            Some(v) => v
                .as_array()
                .map(Vec::as_slice)
                .ok_or_else(|| self.missing(field, "a list")),
        }
    }

    pub fn object(&self, field: &str) -> Result<&'a Value, ImportError> {
        self.value
            .get(field)
            .filter(|v| v.is_object())
            .ok_or_else(|| self.missing(field, "an object"))
    }

    /// An RFC 3339 time.
    pub fn time(&self, field: &str) -> Result<crate::domain::time::Instant, ImportError> {
        let text = self.str(field)?;
        parse_time(text).ok_or_else(|| {
            ImportError::new(format!(
                "{}: `{field}` is `{text}`, not an ISO 8601 time with an offset (not the documented shape)",
                self.what
            ))
        })
    }

    pub fn opt_time(&self, field: &str) -> Result<Option<crate::domain::time::Instant>, ImportError> {
        match self.opt_str(field)? {
            None => Ok(None),
            Some(_) => self.time(field).map(Some),
        }
    }
}

pub fn parse_time(text: &str) -> Option<crate::domain::time::Instant> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}
