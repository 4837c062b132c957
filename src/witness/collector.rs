//! Collects cosignatures on the log's newest checkpoint from every configured
//! witness, and remembers how each witness last answered (for `/ledger`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::client::{self, Answer, WitnessConfig, WitnessError};
use super::protocol::AddCheckpoint;
use crate::db;
use crate::db::cosignatures::StoredCosignature;
use crate::ledger::LedgerError;

/// How one witness last answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastAttempt {
    /// When we asked.
    pub at: DateTime<Utc>,
    /// The tree size we asked it to cosign.
    pub size: u64,
    /// `None` if it cosigned; otherwise why not.
    pub problem: Option<String>,
}

/// The configured witnesses and their last answers, shared by the collector and the pages.
#[derive(Debug, Clone, Default)]
pub struct Witnesses {
    /// Configured witnesses, in the order given.
    pub configured: Arc<Vec<WitnessConfig>>,
    last: Arc<Mutex<BTreeMap<String, LastAttempt>>>,
}

/// What one collection round did for one witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It already had cosigned this checkpoint.
    AlreadyCosigned,
    /// It cosigned now.
    Cosigned,
    /// It refused or failed.
    Failed(String),
}

/// Why a collection round could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A consistency proof could not be built.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl Witnesses {
    /// The given witnesses, none asked yet.
    pub fn new(configured: Vec<WitnessConfig>) -> Self {
        Self { configured: Arc::new(configured), last: Arc::default() }
    }

    /// How `witness` (by vkey) last answered.
    pub fn last_attempt(&self, witness: &str) -> Option<LastAttempt> {
        self.last.lock().ok()?.get(witness).cloned()
    }

    fn record(&self, witness: &WitnessConfig, size: u64, problem: Option<String>) {
        if let Ok(mut last) = self.last.lock() {
            last.insert(witness.verifier.to_string(), LastAttempt { at: Utc::now(), size, problem });
        }
    }

    /// One round: asks every witness that has not cosigned the newest checkpoint.
    pub async fn collect(&self, pool: &PgPool) -> Result<Vec<(String, Outcome)>, CollectError> {
        let mut outcomes = Vec::new();
        if self.configured.is_empty() {
            return Ok(outcomes);
        }
        let mut conn = pool.acquire().await?;
        let Some(checkpoint) = db::ledger::latest_checkpoint(&mut conn).await? else {
            return Ok(outcomes);
        };
        let have = db::cosignatures::of_checkpoint(&mut conn, checkpoint.id).await?;
        // No connection is held while a witness answers (up to its timeout).
        drop(conn);
        // The signed body, as the note parser splits it (the note was signed by us).
        let body = crate::ledger::note::parse_note(&checkpoint.note)
            .map_or_else(|_| checkpoint.note.clone(), |note| note.body.to_owned());
        for witness in self.configured.iter() {
            let vkey = witness.verifier.to_string();
            if have.iter().any(|c| c.witness == vkey) {
                outcomes.push((vkey, Outcome::AlreadyCosigned));
                continue;
            }
            let mut old = db::cosignatures::latest_size(&mut *pool.acquire().await?, &vkey).await?.unwrap_or(0);
            let mut outcome = Outcome::Failed("no answer".into());
            // The witness may know a size we do not expect (a lost row, another log
            // instance): one retry from the size its 409 names.
            for _attempt in 0..2 {
                if old > checkpoint.size {
                    outcome = Outcome::Failed(format!(
                        "the witness has cosigned size {old}, larger than our newest checkpoint ({}): investigate",
                        checkpoint.size
                    ));
                    break;
                }
                let proof = if old == 0 || old == checkpoint.size {
                    Vec::new()
                } else {
                    crate::ledger::log::consistency_proof(&mut *pool.acquire().await?, old, checkpoint.size).await?
                };
                let request = AddCheckpoint { old_size: old, proof, checkpoint: checkpoint.note.clone() };
                let (config, body_text) = (witness.clone(), body.clone());
                let answer = tokio::task::spawn_blocking(move || client::add_checkpoint(&config, &request, &body_text))
                    .await
                    .unwrap_or_else(|e| {
                        Err(WitnessError::Unreachable { url: witness.url.clone(), reason: e.to_string() })
                    });
                match answer {
                    Ok(Answer::Cosigned(cosignature)) => {
                        let stored = StoredCosignature {
                            checkpoint_id: checkpoint.id,
                            witness: vkey.clone(),
                            witness_name: witness.verifier.name().to_owned(),
                            tree_size: checkpoint.size,
                            line: cosignature.line,
                            cosigned_at: cosignature.time,
                        };
                        db::cosignatures::insert(&mut *pool.acquire().await?, &stored).await?;
                        outcome = Outcome::Cosigned;
                        break;
                    }
                    Ok(Answer::Conflict(size)) => {
                        outcome = Outcome::Failed(format!("the witness's latest size is {size}, not {old}"));
                        old = size;
                    }
                    Err(e) => {
                        outcome = Outcome::Failed(e.to_string());
                        break;
                    }
                }
            }
            match &outcome {
                Outcome::Failed(why) => {
                    tracing::warn!(witness = witness.verifier.name(), size = checkpoint.size, why, "no cosignature");
                    self.record(witness, checkpoint.size, Some(why.clone()));
                }
                _ => self.record(witness, checkpoint.size, None),
            }
            outcomes.push((vkey, outcome));
        }
        Ok(outcomes)
    }
}

/// A note with the given cosignature lines appended to its own signatures.
pub fn with_cosignatures(note: &str, cosignatures: &[StoredCosignature]) -> String {
    let mut out = note.to_owned();
    for cosignature in cosignatures {
        out.push_str(&cosignature.line);
        out.push('\n');
    }
    out
}
