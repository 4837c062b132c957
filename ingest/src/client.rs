//! The push API client every collector sends through: `POST /api/v1/records` with
//! the provider's token, in batches the server accepts whole or not at all, each
//! with an `Idempotency-Key` (this run's id and the body's hash) so a batch retried
//! after a lost answer is never applied twice. A later run sends new keys: the
//! server then answers from the ledger (duplicates) rather than replaying the first
//! answer. Server errors, rate limits and network failures are retried with backoff.

use std::time::Duration;

use gatelog::api::records::BatchJson;
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
    /// Retries ran out.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
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

    /// Posts one batch (at most [`MAX_BATCH`] records) and returns the server's answer.
    pub fn post(&self, records: &[serde_json::Value]) -> Result<BatchJson, ClientError> {
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
