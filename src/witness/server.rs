//! A witness: the server side of `tlog-witness`. Gatelog's tests run it as the real
//! HTTP peer of the log's witness client, and `gatelog witness serve` runs it for
//! anyone who wants to witness a Gatelog (or any C2SP log) themselves.
//!
//! For each log it knows (by origin and key) it keeps the latest checkpoint it
//! cosigned, and cosigns a new one only if it extends that one: never two
//! inconsistent trees, never a smaller tree after a larger one. The check and
//! the update happen under one lock, and the state is written to disk (temp file,
//! fsync, rename, directory fsync: [`crate::fsutil::write_atomically`]) before the cosignature is returned.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::cosignature::CosignerKey;
use super::protocol::{AddCheckpoint, SIZE_CONTENT_TYPE};
use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::merkle::{self, Hash};
use crate::ledger::note::{NoteVerifier, parse_note};

/// Largest request body a witness reads: a note plus 63 proof lines fit easily.
const MAX_BODY: usize = 64 * 1024;

/// The latest checkpoint cosigned for one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cosigned {
    /// Tree size.
    pub size: u64,
    /// Root hash, base64.
    pub root: String,
}

/// A request the witness refused although the log's signature on it was valid: evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The log's origin.
    pub origin: String,
    /// HTTP status returned.
    pub status: u16,
    pub reason: String,
    /// The signed checkpoint that was refused.
    pub checkpoint: String,
}

/// A witness: its key, the logs it follows, and what it has cosigned.
#[derive(Debug)]
pub struct Witness {
    key: CosignerKey,
    logs: BTreeMap<String, NoteVerifier>,
    state: Mutex<BTreeMap<String, Cosigned>>,
    state_file: Option<PathBuf>,
    refusals: Mutex<Vec<Refusal>>,
}

/// Why a witness could not start.
#[derive(Debug, thiserror::Error)]
pub enum WitnessSetupError {
    /// The state file exists but cannot be read or parsed.
    #[error("witness state {path}: {reason}")]
    State { path: PathBuf, reason: String },
}

impl Witness {
    /// A witness signing with `key` for the logs whose verifier keys are given (a
    /// log's origin is its key's name). With `state_file`, what it cosigned survives
    /// restarts: a witness that forgets could be made to cosign a fork.
    pub fn new(
        key: CosignerKey,
        logs: impl IntoIterator<Item = NoteVerifier>,
        state_file: Option<PathBuf>,
    ) -> Result<Self, WitnessSetupError> {
        let state = match &state_file {
            Some(path) if path.exists() => {
                let failed = |reason: String| WitnessSetupError::State { path: path.clone(), reason };
                let text = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
                serde_json::from_slice(&text).map_err(|e| failed(e.to_string()))?
            }
            _ => BTreeMap::new(),
        };
        Ok(Self {
            key,
            logs: logs.into_iter().map(|k| (k.name().to_owned(), k)).collect(),
            state: Mutex::new(state),
            state_file,
            refusals: Mutex::new(Vec::new()),
        })
    }

    /// The latest checkpoint cosigned for `origin`.
    pub fn latest(&self, origin: &str) -> Option<Cosigned> {
        self.state.lock().ok()?.get(origin).cloned()
    }

    /// Every refusal of a validly signed checkpoint so far.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.refusals.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Handles one `add-checkpoint` body: the status, content type and body to answer with.
    pub fn add_checkpoint(&self, body: &[u8]) -> (StatusCode, &'static str, String) {
        let text = "text/plain; charset=utf-8";
        let Ok(body) = std::str::from_utf8(body) else {
            return (StatusCode::BAD_REQUEST, text, "the body is not UTF-8\n".into());
        };
        let request = match AddCheckpoint::parse(body) {
            Ok(request) => request,
            Err(e) => return (StatusCode::BAD_REQUEST, text, format!("{e}\n")),
        };
        let Ok(note) = parse_note(&request.checkpoint) else {
            return (StatusCode::BAD_REQUEST, text, "the checkpoint is not a signed note\n".into());
        };
        let origin = note.body.split('\n').next().unwrap_or_default().to_owned();
        let Some(log) = self.logs.get(&origin) else {
            return (StatusCode::NOT_FOUND, text, format!("unknown log origin {origin:?}\n"));
        };
        let Ok(signed_body) = log.open(&request.checkpoint) else {
            return (StatusCode::FORBIDDEN, text, "no signature by a known key of this log verifies\n".into());
        };
        let checkpoint = match Checkpoint::parse(signed_body) {
            Ok(checkpoint) => checkpoint,
            Err(e) => return (StatusCode::BAD_REQUEST, text, format!("{e}\n")),
        };
        if request.old_size > checkpoint.size {
            return (StatusCode::BAD_REQUEST, text, "the old size is larger than the checkpoint's\n".into());
        }
        let Ok(mut state) = self.state.lock() else {
            return (StatusCode::INTERNAL_SERVER_ERROR, text, "witness state unavailable\n".into());
        };
        let known = state.get(&origin).cloned();
        let known_size = known.as_ref().map_or(0, |k| k.size);
        if request.old_size != known_size {
            return (StatusCode::CONFLICT, SIZE_CONTENT_TYPE, format!("{known_size}\n"));
        }
        let refuse = |status: StatusCode, reason: String| {
            tracing::warn!(origin, %status, reason, "refused a validly signed checkpoint");
            if let Ok(mut refusals) = self.refusals.lock() {
                refusals.push(Refusal {
                    origin: origin.clone(),
                    status: status.as_u16(),
                    reason: reason.clone(),
                    checkpoint: request.checkpoint.clone(),
                });
            }
            (status, text, format!("{reason}\n"))
        };
        let known_root: Option<Hash> =
            known.as_ref().and_then(|k| BASE64.decode(&k.root).ok()).and_then(|b| b.try_into().ok());
        match known_root {
            Some(root) if known_size == checkpoint.size && root != checkpoint.root => {
                return refuse(
                    StatusCode::CONFLICT,
                    format!("a different root for size {known_size} was cosigned before: this log has forked"),
                );
            }
            Some(_) if known_size == checkpoint.size => {}
            Some(root) => {
                if let Err(e) =
                    merkle::verify_consistency(known_size, checkpoint.size, &root, &checkpoint.root, &request.proof)
                {
                    return refuse(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("size {} does not extend the cosigned size {known_size}: {e}", checkpoint.size),
                    );
                }
            }
            None if !request.proof.is_empty() => {
                return refuse(StatusCode::UNPROCESSABLE_ENTITY, "the proof must be empty when old is 0".into());
            }
            None => {}
        }
        let mut updated = state.clone();
        updated.insert(origin.clone(), Cosigned { size: checkpoint.size, root: BASE64.encode(checkpoint.root) });
        if let Err(e) = self.persist(&updated) {
            return (StatusCode::INTERNAL_SERVER_ERROR, text, format!("could not record the checkpoint: {e}\n"));
        }
        *state = updated;
        let line = self.key.cosign(signed_body, Utc::now());
        (StatusCode::OK, text, format!("{line}\n"))
    }

    fn persist(&self, state: &BTreeMap<String, Cosigned>) -> std::io::Result<()> {
        let Some(path) = &self.state_file else { return Ok(()) };
        crate::fsutil::write_atomically(path, &serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?)
    }
}

/// `POST /add-checkpoint` (the submission prefix is the server's root).
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(witness)
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: axum::body::Bytes) -> Response {
    let (status, content_type, text) = witness.add_checkpoint(&body);
    (status, [(header::CONTENT_TYPE, content_type)], text).into_response()
}
