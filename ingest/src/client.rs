//! The push API client every collector sends through: `POST /api/v1/records` with
//! the provider's token, in batches the server accepts whole or not at all, each
//! with an `Idempotency-Key` (this run's id and the body's hash) so a batch retried
//! after a lost answer is never applied twice. A later run sends new keys: the
//! server then answers from the ledger (duplicates) rather than replaying the first
//! answer. Server errors, rate limits and network failures are retried with backoff.
//! A batch the server finds too large (413: its byte limit is lower than ours, or a
//! proxy's is) is split in half and each half sent, down to single records.

use std::time::Duration;

use gatelog_core::api::{BatchJson, Summary};
use sha2::{Digest, Sha256};

/// The largest batch the server takes.
pub const MAX_BATCH: usize = 10_000;

/// Why a batch was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused the batch (nothing of it was written).
    #[error("the server refused the batch ({status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The error envelope's message and details.
        message: String,
    },
    /// One record is too large for the server even on its own, so splitting cannot help.
    /// The records before it in the batch are in; those after it were not sent.
    #[error("record {index} of the batch is too large for the server even alone (413): {message}")]
    RecordTooLarge {
        /// Its index in the batch given to [`Client::post`].
        index: usize,
        /// The server's message.
        message: String,
    },
    /// Retries ran out.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
}

/// The server's answers to one batch, in order: one per part it was sent as (several when
/// the server answered 413 and the batch was split). Each part's receipts prove inclusion
/// against that part's own checkpoint, so they are kept apart rather than merged.
#[derive(Debug)]
pub struct Posted {
    /// (index of the part's first record in the batch, the server's answer to the part).
    pub parts: Vec<(usize, BatchJson)>,
}

impl Posted {
    /// Outcome counts over every part.
    pub fn summary(&self) -> Summary {
        let mut total = Summary::default();
        for (_, answer) in &self.parts {
            total.created += answer.summary.created;
            total.amended += answer.summary.amended;
            total.duplicate += answer.summary.duplicate;
        }
        total
    }

    /// The tree size after the last part.
    pub fn tree_size(&self) -> u64 {
        self.parts.last().map_or(0, |(_, answer)| answer.tree_size)
    }
}

/// A push API client for one provider.
pub struct Client {
    base: String,
    run: String,
    token: String,
    agent: ureq::Agent,
    /// Attempts per batch.
    pub attempts: u32,
    /// First backoff; doubles per retry.
    pub backoff: Duration,
}

impl Client {
    /// A client for the site at `base` (e.g. `http://127.0.0.1:8080`) with a provider token.
    pub fn new(base: &str, token: &str) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build();
        let run = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
        );
        Self {
            run,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            agent: ureq::Agent::new_with_config(config),
            attempts: 5,
            backoff: Duration::from_millis(500),
        }
    }

    /// Posts one batch (at most [`MAX_BATCH`] records) and returns the server's answers. On
    /// 413 the batch is halved and each half posted the same way; a single record refused
    /// with 413 is an error, so this ends after at most `2 × records.len()` requests.
    pub fn post(&self, records: &[serde_json::Value]) -> Result<Posted, ClientError> {
        let mut parts = Vec::new();
        self.post_split(records, 0, &mut parts)?;
        Ok(Posted { parts })
    }

    /// Posts `records` (starting at `first` in the caller's batch), appending each accepted part.
    fn post_split(
        &self,
        records: &[serde_json::Value],
        first: usize,
        parts: &mut Vec<(usize, BatchJson)>,
    ) -> Result<(), ClientError> {
        match self.post_once(records) {
            Ok(answer) => {
                parts.push((first, answer));
                Ok(())
            }
            Err(ClientError::Refused { status: 413, message }) if records.len() <= 1 => {
                Err(ClientError::RecordTooLarge { index: first, message })
            }
            Err(ClientError::Refused { status: 413, .. }) => {
                let (left, right) = records.split_at(records.len() / 2);
                self.post_split(left, first, parts)?;
                self.post_split(right, first + left.len(), parts)
            }
            Err(other) => Err(other),
        }
    }

    /// One request for the whole of `records`, retried on server errors, rate limits and network failures.
    fn post_once(&self, records: &[serde_json::Value]) -> Result<BatchJson, ClientError> {
        let body = serde_json::to_vec(records).unwrap_or_default();
        let mut hasher = Sha256::new();
        hasher.update(self.run.as_bytes());
        hasher.update(&body);
        let key = hex::encode(hasher.finalize());
        let url = format!("{}/api/v1/records", self.base);
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            let sent = self
                .agent
                .post(&url)
                .header("Authorization", format!("Bearer {}", self.token))
                .header("Idempotency-Key", &key)
                .header("Content-Type", "application/json")
                .send(&body[..]);
            match sent {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    let text =
                        response.body_mut().with_config().limit(256 * 1024 * 1024).read_to_string().unwrap_or_default();
                    if (200..300).contains(&status) {
                        return serde_json::from_str(&text)
                            .map_err(|e| ClientError::Refused { status, message: format!("unreadable answer: {e}") });
                    }
                    if status == 429 || status >= 500 {
                        last = format!("HTTP {status}");
                        if let Some(seconds) = retry_after {
                            wait = wait.max(Duration::from_secs(seconds));
                        }
                    } else {
                        let message = serde_json::from_str::<serde_json::Value>(&text)
                            .map(|v| {
                                let details: Vec<String> = v["error"]["details"]
                                    .as_array()
                                    .map(|d| {
                                        d.iter()
                                            .take(10)
                                            .map(|x| {
                                                format!(
                                                    "record {} {}: {}",
                                                    x["index"].as_u64().map_or("?".into(), |i| i.to_string()),
                                                    x["field"].as_str().unwrap_or(""),
                                                    x["reason"].as_str().unwrap_or("")
                                                )
                                            })
                                            .collect()
                                    })
                                    .unwrap_or_default();
                                format!("{} {}", v["error"]["message"].as_str().unwrap_or(&text), details.join("; "))
                            })
                            .unwrap_or(text);
                        return Err(ClientError::Refused { status, message: message.trim().to_owned() });
                    }
                }
                Err(error) => last = error.to_string(),
            }
            if attempt < self.attempts {
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2).min(Duration::from_secs(60));
            }
        }
        Err(ClientError::GaveUp { attempts: self.attempts, last })
    }
}
