//! The log itself: appending batches through the one sequencer, signing
//! checkpoints (never one inconsistent with the last), and answering proofs
//! from stored subtree hashes.

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{PgConnection, PgPool};

use super::checkpoint::Checkpoint;
use super::entry::{Entry, EntryError, PendingEntry};
use super::merkle::{self, Frontier, Hash, NodeId, ProofError};
use super::note::{NoteError, NoteSigner, NoteVerifier};
use crate::db::ledger::{self as store, EntryRow, Head};

/// What can go wrong appending or proving.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Database failure.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// An entry could not be encoded.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// Signing failed.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// A proof was asked for sizes or indexes the log does not have.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// Stored state disagrees with itself: refuse to sign anything on top of it.
    #[error("ledger state is inconsistent, refusing to continue: {0}")]
    Inconsistent(String),
}

/// A signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The tree head.
    pub checkpoint: Checkpoint,
    /// The C2SP signed note, as served.
    pub note: String,
}

/// One appended entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedEntry {
    /// Its index.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
}

/// Result of one append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The new entries, in order.
    pub entries: Vec<AppendedEntry>,
    /// The checkpoint that includes them.
    pub checkpoint: SignedCheckpoint,
    /// When they were received (the same for the whole batch).
    pub received_at: DateTime<Utc>,
}

/// The log: its origin (the signing key's name) and its key.
#[derive(Debug, Clone)]
pub struct Ledger {
    signer: NoteSigner,
}

impl Ledger {
    /// A log signing with `signer`; its origin is the key's name.
    pub fn new(signer: NoteSigner) -> Self {
        Self { signer }
    }

    /// The origin line of every checkpoint.
    pub fn origin(&self) -> &str {
        self.signer.name()
    }

    /// The public key monitors verify checkpoints with.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    fn sign(&self, size: u64, root: Hash) -> Result<SignedCheckpoint, NoteError> {
        let checkpoint = Checkpoint { origin: self.origin().to_owned(), size, root };
        let note = self.signer.sign(&checkpoint.body())?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// Appends a batch in its own transaction: all of it or none of it.
    pub async fn append(&self, pool: &PgPool, pending: &[PendingEntry]) -> Result<Appended, LedgerError> {
        let mut tx = pool.begin().await?;
        let head = store::lock_head(&mut tx).await?;
        let appended = self.append_locked(&mut tx, &head, pending).await?;
        tx.commit().await?;
        Ok(appended)
    }

    /// Appends inside the caller's transaction, which must hold the head lock
    /// ([`store::lock_head`]) taken as `head`. The caller commits.
    pub async fn append_locked(
        &self,
        conn: &mut PgConnection,
        head: &Head,
        pending: &[PendingEntry],
    ) -> Result<Appended, LedgerError> {
        let mut frontier = load_frontier(conn, head).await?;
        // PostgreSQL keeps microseconds; entries must say exactly what is stored.
        let received_at = Utc::now().trunc_subsecs(6);
        let mut rows = Vec::with_capacity(pending.len());
        let mut nodes = Vec::with_capacity(pending.len() * 2);
        for record in pending {
            let index = frontier.size();
            let bytes = Entry::new(record, index, received_at).to_canonical_bytes()?;
            let leaf_hash = merkle::leaf_hash(&bytes);
            nodes.extend(frontier.push(leaf_hash));
            rows.push(EntryRow {
                index,
                leaf_hash,
                bytes,
                provider: record.provider.to_string(),
                kind: record.kind.clone(),
                natural_key: record.natural_key.clone(),
                received_at,
                supersedes: record.supersedes,
            });
        }
        if rows.is_empty() {
            let checkpoint = self.current_or_sign(conn, head).await?;
            return Ok(Appended { entries: Vec::new(), checkpoint, received_at });
        }
        store::insert_entries(conn, &rows).await?;
        store::insert_nodes(conn, &nodes).await?;
        let signed = self.sign(frontier.size(), frontier.root())?;
        let id = store::insert_checkpoint(conn, frontier.size(), &frontier.root(), &signed.note).await?;
        let new_head = Head { size: frontier.size(), root: frontier.root(), checkpoint_id: Some(id) };
        if !store::advance_head(conn, head.size, &new_head).await? {
            return Err(LedgerError::Inconsistent("the head moved while it was locked".into()));
        }
        let entries = rows.iter().map(|row| AppendedEntry { index: row.index, leaf_hash: row.leaf_hash }).collect();
        Ok(Appended { entries, checkpoint: signed, received_at })
    }

    /// Makes sure the head has a checkpoint signed by this log's key (signing
    /// one at start-up, after a key change, or for the empty log), and returns it.
    pub async fn ensure_checkpoint(&self, pool: &PgPool) -> Result<SignedCheckpoint, LedgerError> {
        let mut tx = pool.begin().await?;
        let head = store::lock_head(&mut tx).await?;
        let checkpoint = self.current_or_sign(&mut tx, &head).await?;
        tx.commit().await?;
        Ok(checkpoint)
    }

    async fn current_or_sign(&self, conn: &mut PgConnection, head: &Head) -> Result<SignedCheckpoint, LedgerError> {
        if let Some(stored) = store::latest_checkpoint(conn).await?
            && let Ok(body) = self.verifier().open(&stored.note)
            && let Ok(checkpoint) = Checkpoint::parse(body)
            && checkpoint.origin == self.origin()
            && checkpoint.size == head.size
            && checkpoint.root == head.root
        {
            return Ok(SignedCheckpoint { checkpoint, note: stored.note });
        }
        // Re-derive the root from stored hashes before signing: fail closed.
        load_frontier(conn, head).await?;
        let signed = self.sign(head.size, head.root)?;
        let id = store::insert_checkpoint(conn, head.size, &head.root, &signed.note).await?;
        let new_head = Head { checkpoint_id: Some(id), ..head.clone() };
        if !store::advance_head(conn, head.size, &new_head).await? {
            return Err(LedgerError::Inconsistent("the head moved while it was locked".into()));
        }
        tracing::info!(size = head.size, "signed a checkpoint for the current tree");
        Ok(signed)
    }
}

/// Loads the right edge of the tree and checks that it reproduces the head's
/// root: a writer never extends (or signs) a tree it cannot account for.
async fn load_frontier(conn: &mut PgConnection, head: &Head) -> Result<Frontier, LedgerError> {
    let plan = merkle::tree_hash_plan(head.size);
    let stored = store::read_nodes(conn, &plan).await?;
    let hashes: Vec<Hash> = plan
        .iter()
        .map(|id| {
            stored.get(id).copied().ok_or_else(|| LedgerError::Inconsistent(format!("stored node {id:?} is missing")))
        })
        .collect::<Result<_, _>>()?;
    let frontier =
        Frontier::from_hashes(head.size, &hashes).ok_or_else(|| LedgerError::Inconsistent("frontier shape".into()))?;
    if frontier.root() != head.root {
        return Err(LedgerError::Inconsistent(format!(
            "stored hashes give root {} at size {}, but the head says {}",
            hex::encode(frontier.root()),
            head.size,
            hex::encode(head.root)
        )));
    }
    Ok(frontier)
}

/// Fetches every stored hash a plan needs in one query, then assembles the proof.
async fn prove(conn: &mut PgConnection, plan: &[Vec<NodeId>]) -> Result<Vec<Hash>, LedgerError> {
    let stored = store::read_nodes(conn, &merkle::plan_nodes(plan)).await?;
    merkle::assemble(plan, &stored)
        .map_err(|missing| LedgerError::Inconsistent(format!("stored node {missing:?} is missing")))
}

/// Inclusion proof for entry `index` in the tree of `size` entries.
pub async fn inclusion_proof(conn: &mut PgConnection, index: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
    prove(conn, &merkle::inclusion_proof_plan(index, size)?).await
}

/// Consistency proof between two tree sizes.
pub async fn consistency_proof(conn: &mut PgConnection, old: u64, new: u64) -> Result<Vec<Hash>, LedgerError> {
    prove(conn, &merkle::consistency_proof_plan(old, new)?).await
}
