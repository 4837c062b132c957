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
    /// Largest body read, in bytes (default: `--max-feed-bytes`, else [`DEFAULT_MAX_BYTES`]).
    pub max_bytes: Option<u64>,
    /// Hosts other than the feed's own that its redirects may lead to (default: none).
    #[serde(default)]
    pub follow_redirects_to: Vec<String>,
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
            let kinds: Vec<&str> = gatelog_core::records::RecordKind::OPTIONS.iter().map(|(n, _)| *n).collect();
            if !kinds.contains(&feed.kind.as_str()) {
                return Err(format!("feed {}: kind {:?} is not one of {}", feed.name, feed.kind, kinds.join(", ")));
            }
            if feed.token.is_none() && feed.token_env.is_none() {
                return Err(format!("feed {}: set token or token_env", feed.name));
            }
            if feed.fields.is_empty() && feed.constants.is_empty() {
                return Err(format!("feed {}: no [feed.fields] mapping", feed.name));
            }
            if feed.max_bytes == Some(0) {
                return Err(format!("feed {}: max_bytes must be above 0", feed.name));
            }
            if let Some(host) = feed
                .follow_redirects_to
                .iter()
                .find(|h| h.is_empty() || h.contains('/') || (h.contains(':') && !h.starts_with('[')))
            {
                return Err(format!("feed {}: follow_redirects_to takes host names, not {host:?}", feed.name));
            }
        }
        Ok(config)
    }

    /// Gives every feed without its own `max_bytes` this limit (the `--max-feed-bytes` flag).
    pub fn default_max_bytes(&mut self, limit: u64) {
        for feed in &mut self.feeds {
            feed.max_bytes.get_or_insert(limit);
        }
    }
}

impl Feed {
    /// A redirect may stay on the feed's host (any port) or go to a host its config names:
    /// what another host serves would be filed in the provider's name, and a hostile feed
    /// could point the collector at hosts on its own network.
    fn check_redirect(&self, to: &str) -> Result<(), FetchError> {
        let parse = |url: &str| url.parse::<ureq::http::Uri>().ok();
        let (from, target) = (parse(&self.url), parse(to));
        let scheme =
            |uri: &Option<ureq::http::Uri>| uri.as_ref().and_then(|u| u.scheme_str()).map(str::to_ascii_lowercase);
        // Once the feed is fetched over TLS, a plain-http hop would let anyone on the path rewrite it.
        if scheme(&from).as_deref() == Some("https") && scheme(&target).as_deref() != Some("https") {
            return Err(FetchError::Downgrade { to: to.to_owned() });
        }
        let host_of = |uri: &Option<ureq::http::Uri>| uri.as_ref().and_then(|u| u.host()).map(str::to_ascii_lowercase);
        let host = host_of(&target).unwrap_or_default();
        let allowed = host_of(&from).as_deref() == Some(host.as_str())
            || self.follow_redirects_to.iter().any(|h| h.eq_ignore_ascii_case(&host));
        if allowed { Ok(()) } else { Err(FetchError::ForeignRedirect { to: to.to_owned(), host }) }
    }

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

/// How much of a feed is read when neither the feed (`max_bytes`) nor `--max-feed-bytes` says:
/// far above any honest feed of figures, far below what would exhaust the collector's memory.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Redirects followed per fetch: enough for a moved feed (http → https → new path), not a loop.
pub const MAX_REDIRECTS: usize = 5;

/// Why a feed could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The body (after decompression) is longer than the limit.
    #[error("the feed is larger than the limit of {limit} bytes (set max_bytes for the feed or --max-feed-bytes)")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A redirect pointed to a host the feed's config does not name.
    #[error("redirected to {to}: {host} is not the feed's host (list it in follow_redirects_to to follow it)")]
    ForeignRedirect {
        /// Where the redirect pointed.
        to: String,
        host: String,
    },
    /// A redirect from https to plain http.
    #[error("redirected from https to plain http ({to}); refused")]
    Downgrade {
        /// Where the redirect pointed.
        to: String,
    },
    /// A redirect without a usable `Location`.
    #[error("HTTP {status} redirect without a usable Location ({location:?})")]
    BadRedirect {
        /// The redirect's status.
        status: u16,
        /// The header as sent.
        location: String,
    },
    /// Redirects ran past [`MAX_REDIRECTS`].
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    /// The feed's server answered with an error status.
    #[error("HTTP {0}")]
    Status(u16),
    /// The request failed (connection, timeout, TLS…).
    #[error("{0}")]
    Network(String),
    /// The body could not be read to its end.
    #[error("reading the body: {0}")]
    Body(String),
    /// The body is not UTF-8 text.
    #[error("the feed is not UTF-8 text: {0}")]
    NotUtf8(std::string::FromUtf8Error),
    /// Retries ran out on a transient failure.
    #[error("{last} after {attempts} attempts")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: Box<FetchError>,
    },
}

impl FetchError {
    /// Worth another attempt: the feed's server may be back, the network may heal. A feed too
    /// large or redirected elsewhere will be the same a second later.
    fn is_transient(&self) -> bool {
        match self {
            Self::Status(status) => *status >= 500 || *status == 429,
            Self::Network(_) | Self::Body(_) => true,
            _ => false,
        }
    }
}

/// A fetched feed: the body and the validators for the next conditional poll.
type Fetched = (String, FeedState);

fn fetch(feed: &Feed, state: &FeedState, retry: Retry) -> Result<Option<Fetched>, FetchError> {
    // Redirects are followed by hand (below), so that each hop's host is checked first.
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(retry.timeout))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let mut wait = retry.backoff;
    let mut last = FetchError::Network("no attempt made".into());
    for attempt in 1..=retry.attempts {
        match fetch_once(&agent, feed, state) {
            Ok(fetched) => return Ok(fetched),
            Err(error) if error.is_transient() => last = error,
            Err(error) => return Err(error),
        }
        if attempt < retry.attempts {
            std::thread::sleep(wait);
            wait = wait.saturating_mul(2);
        }
    }
    Err(FetchError::GaveUp { attempts: retry.attempts, last: Box::new(last) })
}

/// One attempt: GET the feed, following at most [`MAX_REDIRECTS`] redirects to allowed hosts.
/// `None` when the feed's server answers 304 (unchanged since `state`).
fn fetch_once(agent: &ureq::Agent, feed: &Feed, state: &FeedState) -> Result<Option<Fetched>, FetchError> {
    let mut url = feed.url.clone();
    for _ in 0..=MAX_REDIRECTS {
        let mut request = agent.get(&url);
        if let Some(etag) = &state.etag {
            request = request.header("If-None-Match", etag);
        }
        if let Some(modified) = &state.last_modified {
            request = request.header("If-Modified-Since", modified);
        }
        let mut response = request.call().map_err(|e| FetchError::Network(e.to_string()))?;
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        if matches!(status, 301 | 302 | 303 | 307 | 308) {
            let location = header("location").unwrap_or_default();
            url = redirect_target(&url, &location)
                .ok_or_else(|| FetchError::BadRedirect { status, location: location.clone() })?;
            feed.check_redirect(&url)?;
            continue;
        }
        if status == 304 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(FetchError::Status(status));
        }
        let next = FeedState { etag: header("etag"), last_modified: header("last-modified") };
        let limit = feed.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
        // A declared length over the limit is refused before a byte of the body is read.
        if header("content-length").and_then(|v| v.parse::<u64>().ok()).is_some_and(|n| n > limit) {
            return Err(FetchError::TooLarge { limit });
        }
        return read_bounded(response.body_mut(), limit).map(|body| Some((body, next)));
    }
    Err(FetchError::TooManyRedirects)
}

/// Reads at most `limit` bytes of the (decompressed) body, counting as they arrive: a feed that
/// sends more, with a false or no Content-Length, is refused after `limit + 1` bytes.
fn read_bounded(body: &mut ureq::Body, limit: u64) -> Result<String, FetchError> {
    use std::io::Read;
    let mut bytes = Vec::new();
    body.as_reader()
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FetchError::Body(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(FetchError::TooLarge { limit });
    }
    String::from_utf8(bytes).map_err(FetchError::NotUtf8)
}

/// The absolute http(s) URL a `Location` points to from `base`: absolute, scheme-relative,
/// absolute-path or relative-path references (RFC 3986 §5.2, without dot-segment removal,
/// which the feed's server does).
fn redirect_target(base: &str, location: &str) -> Option<String> {
    use ureq::http::Uri;
    let base: Uri = base.parse().ok()?;
    let scheme = base.scheme_str()?;
    let authority = base.authority()?;
    let location = location.trim();
    let absolute = if location.is_empty() {
        return None;
    } else if location.starts_with("//") {
        format!("{scheme}:{location}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else if has_scheme(location) {
        location.to_owned()
    } else {
        let directory = base.path().rsplit_once('/').map_or("", |(dir, _)| dir);
        format!("{scheme}://{authority}{directory}/{location}")
    };
    let target: Uri = absolute.parse().ok()?;
    (matches!(target.scheme_str(), Some("http" | "https")) && target.host().is_some()).then_some(absolute)
}

/// Whether a reference starts with a scheme (`name:` before any `/`, `?` or `#`, RFC 3986 §3.1),
/// so that `file:///…` is taken as the absolute URL it is, and refused, not as a relative path.
fn has_scheme(reference: &str) -> bool {
    let end = reference.find(['/', '?', '#']).unwrap_or(reference.len());
    reference[..end].split_once(':').is_some_and(|(name, _)| {
        name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
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
        match gatelog_core::records::Record::parse(value) {
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
            Ok(posted) => {
                let summary = posted.summary();
                created += summary.created;
                amended += summary.amended;
                duplicate += summary.duplicate;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(url: &str, allowed: &[&str]) -> Feed {
        let mut feed: Feed = toml::from_str(&format!(
            "name = \"f\"\nurl = \"{url}\"\nformat = \"json\"\nkind = \"price\"\ntoken = \"gl_x\""
        ))
        .expect("feed");
        feed.follow_redirects_to = allowed.iter().map(|h| (*h).to_owned()).collect();
        feed
    }

    #[test]
    fn redirect_targets_resolve_every_reference_form() {
        let base = "https://feeds.example/v1/queues.json";
        let cases = [
            ("https://other.example/x.json", Some("https://other.example/x.json")),
            ("//cdn.example/q.json", Some("https://cdn.example/q.json")),
            ("/v2/queues.json", Some("https://feeds.example/v2/queues.json")),
            ("latest.json", Some("https://feeds.example/v1/latest.json")),
            ("file:///etc/passwd", None),
            ("", None),
        ];
        for (location, expected) in cases {
            assert_eq!(redirect_target(base, location).as_deref(), expected, "{location}");
        }
    }

    #[test]
    fn redirects_stay_on_the_feeds_host_unless_another_is_named() {
        let own = feed("https://feeds.example/q.json", &[]);
        assert!(own.check_redirect("https://FEEDS.example:8443/new.json").is_ok());
        assert!(matches!(own.check_redirect("https://cdn.example/q.json"), Err(FetchError::ForeignRedirect { .. })));
        assert!(matches!(own.check_redirect("http://feeds.example/q.json"), Err(FetchError::Downgrade { .. })));
        let named = feed("https://feeds.example/q.json", &["CDN.example"]);
        assert!(named.check_redirect("https://cdn.example/q.json").is_ok());
        assert!(matches!(
            named.check_redirect("https://cdn.example.evil/q.json"),
            Err(FetchError::ForeignRedirect { .. })
        ));
    }
}
