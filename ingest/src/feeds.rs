//! The feed collector: polls published JSON or CSV feeds on a schedule, maps each
//! row to a record (feed fields to record fields, plus constants), checks every
//! record as the server would, and posts them through the push API. Conditional
//! requests (ETag, Last-Modified) skip unchanged feeds; the server's dedup makes a
//! re-pulled feed create nothing. A failing or changed feed is reported with its
//! name, row and field, and the other feeds keep running.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::client::{Client, MAX_BATCH};

/// The config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The Gatelog site the records go to, e.g. `https://gatelog.example.org`.
    pub site: String,
    /// The feeds.
    #[serde(rename = "feed")]
    pub feeds: Vec<Feed>,
}

/// A feed's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedFormat {
    /// A JSON array of objects (or one inside the document, see `records_at`).
    Json,
    /// CSV with a header row.
    Csv,
}

/// One feed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feed {
    /// Name used in reports.
    pub name: String,
    /// Where it is published.
    pub url: String,
    /// JSON or CSV.
    pub format: FeedFormat,
    /// The record kind every row becomes.
    pub kind: String,
    /// The provider's API token…
    pub token: Option<String>,
    /// …or the environment variable holding it.
    pub token_env: Option<String>,
    /// Seconds between polls.
    #[serde(default = "default_every")]
    pub every_seconds: u64,
    /// For JSON: dotted path to the array of rows (empty: the document is the array).
    #[serde(default)]
    pub records_at: String,
    /// Record field ← feed field.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Record field ← fixed value.
    #[serde(default)]
    pub constants: BTreeMap<String, toml::Value>,
}

fn default_every() -> u64 {
    3600
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let config: Self = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if config.feeds.is_empty() {
            return Err(format!("{}: no [[feed]] tables", path.display()));
        }
        for feed in &config.feeds {
            let kinds: Vec<&str> = gatelog::records::RecordKind::OPTIONS.iter().map(|(n, _)| *n).collect();
            if !kinds.contains(&feed.kind.as_str()) {
                return Err(format!("feed {}: kind {:?} is not one of {}", feed.name, feed.kind, kinds.join(", ")));
            }
            if feed.token.is_none() && feed.token_env.is_none() {
                return Err(format!("feed {}: set token or token_env", feed.name));
            }
            if feed.fields.is_empty() && feed.constants.is_empty() {
                return Err(format!("feed {}: no [feed.fields] mapping", feed.name));
            }
        }
        Ok(config)
    }
}

impl Feed {
    fn token(&self) -> Result<String, String> {
        if let Some(token) = &self.token {
            return Ok(token.clone());
        }
        let name = self.token_env.clone().unwrap_or_default();
        std::env::var(&name).map_err(|_| format!("feed {}: the token variable {name} is not set", self.name))
    }
}

/// What one poll did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Polled {
    /// 304: unchanged since the last poll.
    NotModified,
    /// Posted: (records, created, amended, duplicate).
    Posted(usize, usize, usize, usize),
    /// Nothing sent; why.
    Failed(String),
}

/// Between polls: what the feed's server said last time.
#[derive(Debug, Clone, Default)]
pub struct FeedState {
    etag: Option<String>,
    last_modified: Option<String>,
}

/// Fetch retries within one poll, and the first backoff (doubling).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts per poll.
    pub attempts: u32,
    /// First wait between attempts.
    pub backoff: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self { attempts: 4, backoff: Duration::from_secs(2), timeout: Duration::from_secs(30) }
    }
}

fn fetch(feed: &Feed, state: &FeedState, retry: Retry) -> Result<Option<(String, FeedState)>, String> {
    let config = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(retry.timeout)).build();
    let agent = ureq::Agent::new_with_config(config);
    let mut wait = retry.backoff;
    let mut last = String::new();
    for attempt in 1..=retry.attempts {
        let mut request = agent.get(&feed.url);
        if let Some(etag) = &state.etag {
            request = request.header("If-None-Match", etag);
        }
        if let Some(modified) = &state.last_modified {
            request = request.header("If-Modified-Since", modified);
        }
        match request.call() {
            Ok(mut response) => {
                let status = response.status().as_u16();
                if status == 304 {
                    return Ok(None);
                }
                let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let next = FeedState { etag: header("etag"), last_modified: header("last-modified") };
                if (200..300).contains(&status) {
                    let body = response
                        .body_mut()
                        .with_config()
                        .limit(512 * 1024 * 1024)
                        .read_to_string()
                        .map_err(|e| format!("reading the body: {e}"))?;
                    return Ok(Some((body, next)));
                }
                last = format!("HTTP {status}");
                if status < 500 && status != 429 {
                    return Err(last);
                }
            }
            Err(error) => last = error.to_string(),
        }
        if attempt < retry.attempts {
            std::thread::sleep(wait);
            wait = wait.saturating_mul(2);
        }
    }
    Err(format!("{last} after {} attempts", retry.attempts))
}

/// The feed's rows as JSON objects (CSV cells as strings).
fn rows(feed: &Feed, body: &str) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, String> {
    match feed.format {
        FeedFormat::Json => {
            let document: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
            let mut at = &document;
            for part in feed.records_at.split('.').filter(|p| !p.is_empty()) {
                at = at.get(part).ok_or_else(|| format!("no {:?} in the document (records_at)", feed.records_at))?;
            }
            let list = at.as_array().ok_or_else(|| format!("{:?} is not an array", feed.records_at))?;
            list.iter()
                .enumerate()
                .map(|(i, v)| v.as_object().cloned().ok_or_else(|| format!("row {}: not an object", i + 1)))
                .collect()
        }
        FeedFormat::Csv => {
            let mut reader = csv::Reader::from_reader(body.as_bytes());
            let header = reader.headers().map_err(|e| format!("CSV header: {e}"))?.clone();
            reader
                .records()
                .enumerate()
                .map(|(i, r)| {
                    let r = r.map_err(|e| format!("row {}: {e}", i + 1))?;
                    Ok(header
                        .iter()
                        .zip(r.iter())
                        .filter(|(_, v)| !v.trim().is_empty())
                        .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.trim().to_owned())))
                        .collect())
                })
                .collect()
        }
    }
}

/// Maps rows to records and checks each as the server would; every problem names
/// the row (1-based) and the record field.
pub fn map_rows(feed: &Feed, body: &str) -> Result<Vec<serde_json::Value>, Vec<String>> {
    let rows = rows(feed, body).map_err(|e| vec![format!("feed {}: {e}", feed.name)])?;
    let mut records = Vec::with_capacity(rows.len());
    let mut problems = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let mut record = serde_json::Map::new();
        let mut missing = Vec::new();
        record.insert("kind".into(), serde_json::Value::String(feed.kind.clone()));
        for (field, value) in &feed.constants {
            let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
            record.insert(field.clone(), value);
        }
        for (field, source) in &feed.fields {
            match row.get(source) {
                Some(value) => {
                    record.insert(field.clone(), value.clone());
                }
                None => {
                    missing.push(field.as_str());
                    problems.push(format!(
                        "feed {}, row {}, field {field}: the feed has no {source:?} (did the feed change shape?)",
                        feed.name,
                        i + 1
                    ));
                }
            }
        }
        let value = serde_json::Value::Object(record);
        match gatelog::records::Record::parse(value) {
            Ok(parsed) => records.push(parsed.to_submission()),
            Err(errors) => {
                for e in errors.into_iter().filter(|e| !missing.contains(&e.field.as_str())) {
                    problems.push(format!("feed {}, row {}, field {}: {}", feed.name, i + 1, e.field, e.reason));
                }
            }
        }
    }
    if problems.is_empty() { Ok(records) } else { Err(problems) }
}

/// Polls one feed: fetch (conditionally), map, check, post. Nothing is sent unless every row maps.
pub fn poll(feed: &Feed, site: &str, state: &mut FeedState, retry: Retry) -> Polled {
    let token = match feed.token() {
        Ok(token) => token,
        Err(e) => return Polled::Failed(e),
    };
    let (body, next) = match fetch(feed, state, retry) {
        Ok(None) => return Polled::NotModified,
        Ok(Some(fetched)) => fetched,
        Err(e) => return Polled::Failed(format!("feed {}: fetching {}: {e}", feed.name, feed.url)),
    };
    let records = match map_rows(feed, &body) {
        Ok(records) => records,
        Err(problems) => {
            let more = problems.len().saturating_sub(10);
            let mut text = problems.into_iter().take(10).collect::<Vec<_>>().join("\n");
            if more > 0 {
                text.push_str(&format!("\n… and {more} more problems"));
            }
            return Polled::Failed(text);
        }
    };
    let client = Client::new(site, &token);
    let (mut created, mut amended, mut duplicate) = (0, 0, 0);
    for chunk in records.chunks(MAX_BATCH) {
        match client.post(chunk) {
            Ok(answer) => {
                created += answer.summary.created;
                amended += answer.summary.amended;
                duplicate += answer.summary.duplicate;
            }
            Err(e) => return Polled::Failed(format!("feed {}: {e}", feed.name)),
        }
    }
    // Remember the validators only once the records are in: a failed post re-fetches next time.
    *state = next;
    Polled::Posted(records.len(), created, amended, duplicate)
}

/// Runs every feed on its schedule (forever, or one round with `once`), reporting each
/// poll on stderr. Returns how many polls failed (for `once`).
pub fn run(config: &Config, once: bool, retry: Retry) -> usize {
    let mut states: Vec<FeedState> = vec![FeedState::default(); config.feeds.len()];
    let mut due: Vec<Instant> = vec![Instant::now(); config.feeds.len()];
    let mut failures = 0;
    loop {
        for (i, feed) in config.feeds.iter().enumerate() {
            if Instant::now() < due[i] {
                continue;
            }
            match poll(feed, &config.site, &mut states[i], retry) {
                Polled::NotModified => eprintln!("feed {}: not modified", feed.name),
                Polled::Posted(n, created, amended, duplicate) => eprintln!(
                    "feed {}: {n} records: {created} created, {amended} amended, {duplicate} unchanged",
                    feed.name
                ),
                Polled::Failed(reason) => {
                    failures += 1;
                    eprintln!("{reason}");
                }
            }
            due[i] = Instant::now() + Duration::from_secs(feed.every_seconds.max(1));
        }
        if once {
            return failures;
        }
        let next = due.iter().min().copied().unwrap_or_else(Instant::now);
        std::thread::sleep(next.saturating_duration_since(Instant::now()).max(Duration::from_millis(100)));
    }
}
