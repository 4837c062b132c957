//! The log's side of `tlog-witness`: submit a checkpoint with a consistency proof
//! from the size the witness last cosigned, and check the cosignature it returns.

use std::time::Duration;

use super::cosignature::{Cosignature, CosignerVerifier};
use super::protocol::{AddCheckpoint, parse_size};
use crate::ledger::note::NoteError;

/// How long one witness may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A configured witness: its verifier key and its submission prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessConfig {
    /// The witness's cosigner key (type 0x04).
    pub verifier: CosignerVerifier,
    /// The submission prefix, e.g. `https://witness.example/w1` (no trailing slash).
    pub url: String,
}

impl WitnessConfig {
    /// Parses `<vkey> <url>` (the form of `--witness` and `GATELOG_WITNESSES`).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (vkey, url) = text
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(|| NoteError::MalformedKey("a witness is '<vkey> <url>'".into()))?;
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(NoteError::MalformedKey(format!(
                "the witness URL {url:?} must start with http:// or https://"
            )));
        }
        Ok(Self { verifier: CosignerVerifier::parse(vkey)?, url: url.to_owned() })
    }
}

/// What a witness answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A verified cosignature.
    Cosigned(Cosignature),
    /// 409 with a size: the witness last cosigned a different size than we said.
    Conflict(u64),
}

/// Why a submission failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// The witness could not be reached.
    #[error("{url}: {reason}")]
    Unreachable {
        /// The add-checkpoint URL.
        url: String,
        reason: String,
    },
    /// The witness refused the checkpoint.
    #[error("{url} answered {status}: {message}")]
    Refused {
        /// The add-checkpoint URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The witness's explanation.
        message: String,
    },
    /// The answer was not a valid cosignature by this witness.
    #[error("{url}: {reason}")]
    BadAnswer {
        /// The add-checkpoint URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

/// Sends one `add-checkpoint` request (blocking: run it off the async workers).
/// `checkpoint_body` is the body the log signed, to check the cosignature against.
pub fn add_checkpoint(
    witness: &WitnessConfig,
    request: &AddCheckpoint,
    checkpoint_body: &str,
) -> Result<Answer, WitnessError> {
    let url = format!("{}/add-checkpoint", witness.url);
    let response = ureq::post(&url)
        .config()
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT))
        .build()
        .content_type("text/plain; charset=utf-8")
        .send(request.encode());
    let mut response = response.map_err(|e| WitnessError::Unreachable { url: url.clone(), reason: e.to_string() })?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .map_err(|e| WitnessError::Unreachable { url: url.clone(), reason: e.to_string() })?;
    match status {
        200 => {
            // Ignore lines by other keys; take the first valid one by this witness.
            let mut problems = Vec::new();
            for line in body.lines().filter(|l| !l.is_empty()) {
                match witness.verifier.verify_line(checkpoint_body, line) {
                    Ok(cosignature) => return Ok(Answer::Cosigned(cosignature)),
                    Err(e) => problems.push(e.to_string()),
                }
            }
            let reason = if problems.is_empty() { "an empty answer".to_owned() } else { problems.join("; ") };
            Err(WitnessError::BadAnswer { url, reason: format!("no valid cosignature by this witness: {reason}") })
        }
        409 => match parse_size(&body) {
            Some(size) => Ok(Answer::Conflict(size)),
            None => Err(WitnessError::Refused { url, status, message: body.trim().to_owned() }),
        },
        _ => Err(WitnessError::Refused { url, status, message: body.trim().chars().take(500).collect() }),
    }
}
