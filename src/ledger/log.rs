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
use crate::db::projection::{self, ProjectionError, Work};
use crate::projection::fold::TypedEntry;

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
    /// The projection could not fold the batch (the append is rolled back with it).
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The tree head.
    pub checkpoint: Checkpoint,
    /// The C2SP signed note, as served.
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedEntry {
    pub index: u64,
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
    /// What folding them into the projection took.
    pub projection: Work,
}

/// The log: its origin (the signing key's name) and its key.
#[derive(Debug, Clone)]
pub struct Ledger {
    signer: NoteSigner,
    clock: Clock,
}

/// Where entries' acceptance times come from.
#[derive(Debug, Clone, Default)]
enum Clock {
    /// The wall clock: always, except while the demo lays out its synthetic history.
    #[default]
    Wall,
    /// A time the caller sets before each append.
    Simulated(std::sync::Arc<std::sync::Mutex<DateTime<Utc>>>),
}

impl Ledger {
    /// A log signing with `signer`; its origin is the key's name.
    pub fn new(signer: NoteSigner) -> Self {
        Self { signer, clock: Clock::Wall }
    }

    /// A copy of this log that stamps entries with the time in `clock` (set by the caller
    /// before each append) instead of the wall clock. Only the demo loader uses it, so its
    /// synthetic providers have a two-year filing history; the ingest API never does.
    pub fn with_simulated_clock(&self, clock: std::sync::Arc<std::sync::Mutex<DateTime<Utc>>>) -> Self {
        Self { signer: self.signer.clone(), clock: Clock::Simulated(clock) }
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
        let now = match &self.clock {
            Clock::Wall => Utc::now(),
            Clock::Simulated(time) => time.lock().map(|t| *t).unwrap_or_else(|_| Utc::now()),
        };
        let received_at = now.trunc_subsecs(6);
        let mut rows = Vec::with_capacity(pending.len());
        let mut nodes = Vec::with_capacity(pending.len() * 2);
        for record in pending {
            let index = frontier.size();
            let bytes = Entry::new(record, index, received_at).to_new_bytes()?;
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
            return Ok(Appended { entries: Vec::new(), checkpoint, received_at, projection: Work::default() });
        }
        store::insert_entries(conn, &rows).await?;
        crate::db::filings::record(conn, &rows).await?;
        // The projection moves in the same transaction: the checkpoint signed below is never
        // ahead of the published state (issue 16). Decoded from the bytes just written, as
        // `verify figures` and a catch-up decode them, so all three fold the same thing.
        let typed = rows
            .iter()
            .map(|row| {
                TypedEntry::decode(&row.bytes)
                    .map_err(|reason| LedgerError::Inconsistent(format!("entry {} just written: {reason}", row.index)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let work = projection::apply(conn, &typed).await?;
        store::insert_nodes(conn, &nodes).await?;
        let signed = self.sign(frontier.size(), frontier.root())?;
        let id = store::insert_checkpoint(conn, frontier.size(), &frontier.root(), &signed.note).await?;
        let new_head = Head { size: frontier.size(), root: frontier.root(), checkpoint_id: Some(id) };
        if !store::advance_head(conn, head.size, &new_head).await? {
            return Err(LedgerError::Inconsistent("the head moved while it was locked".into()));
        }
        let entries = rows.iter().map(|row| AppendedEntry { index: row.index, leaf_hash: row.leaf_hash }).collect();
        Ok(Appended { entries, checkpoint: signed, received_at, projection: work })
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

/// Inclusion proofs for many entries in one tree, from one fetch of stored hashes.
pub async fn inclusion_proofs(
    conn: &mut PgConnection,
    indexes: &[u64],
    size: u64,
) -> Result<Vec<Vec<Hash>>, LedgerError> {
    let plans: Vec<merkle::ProofPlan> =
        indexes.iter().map(|index| merkle::inclusion_proof_plan(*index, size)).collect::<Result<_, _>>()?;
    // One fetch for every proof: the plans' subtrees, deduplicated as for a single proof.
    let stored = store::read_nodes(conn, &merkle::plan_nodes(&plans.concat())).await?;
    plans
        .iter()
        .map(|plan| {
            merkle::assemble(plan, &stored)
                .map_err(|missing| LedgerError::Inconsistent(format!("stored node {missing:?} is missing")))
        })
        .collect()
}

/// Consistency proof between two tree sizes.
pub async fn consistency_proof(conn: &mut PgConnection, old: u64, new: u64) -> Result<Vec<Hash>, LedgerError> {
    prove(conn, &merkle::consistency_proof_plan(old, new)?).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::merkle::{verify_consistency, verify_inclusion};
    use crate::ledger::verify::verify_database;
    use crate::testing::{TestDb, sample_batch, sample_pending, test_ledger};

    async fn size(pool: &PgPool) -> u64 {
        store::head(&mut pool.acquire().await.expect("conn")).await.expect("head").size
    }

    #[tokio::test]
    async fn thousands_of_entries_append_prove_and_verify() {
        let db = TestDb::new().await;
        let ledger = test_ledger();
        let mut checkpoints = vec![ledger.ensure_checkpoint(&db.pool).await.expect("empty checkpoint")];
        let mut next = 0u64;
        for batch in [1u64, 1, 7, 256, 1000, 255, 2, 1500] {
            let appended = ledger.append(&db.pool, &sample_batch(next, batch)).await.expect("append");
            assert_eq!(appended.entries.first().map(|e| e.index), Some(next));
            assert_eq!(appended.entries.len() as u64, batch);
            next += batch;
            assert_eq!(appended.checkpoint.checkpoint.size, next);
            ledger.verifier().open(&appended.checkpoint.note).expect("signed by the log");
            checkpoints.push(appended.checkpoint);
        }
        let mut conn = db.pool.acquire().await.expect("conn");
        let latest = checkpoints.last().expect("some").checkpoint.clone();
        for index in [0, 1, 2, 255, 256, 1264, 2000, next - 1] {
            let row = store::entry(&mut conn, index).await.expect("query").expect("entry");
            let proof = inclusion_proof(&mut conn, index, latest.size).await.expect("proof");
            verify_inclusion(index, latest.size, &merkle::leaf_hash(&row.bytes), &proof, &latest.root)
                .expect("inclusion verifies");
        }
        for pair in checkpoints.windows(2) {
            let (old, new) = (&pair[0].checkpoint, &pair[1].checkpoint);
            let proof = consistency_proof(&mut conn, old.size, new.size).await.expect("proof");
            verify_consistency(old.size, new.size, &old.root, &new.root, &proof).expect("consistent");
        }
        let report = verify_database(&mut conn, &[ledger.verifier()]).await.expect("verify");
        assert!(report.ok(), "{report}");
        assert_eq!(report.entries, next);
        assert_eq!(report.checkpoints, checkpoints.len() as u64);
    }

    #[tokio::test]
    async fn direct_sql_cannot_change_the_ledger() {
        let db = TestDb::new().await;
        let ledger = test_ledger();
        ledger.append(&db.pool, &sample_batch(0, 5)).await.expect("append");
        for statement in [
            "UPDATE ledger_entries SET kind = 'price' WHERE idx = 1",
            "DELETE FROM ledger_entries WHERE idx = 4",
            "TRUNCATE ledger_entries CASCADE",
            "UPDATE ledger_nodes SET hash = sha256('x'::bytea) WHERE level = 0 AND idx = 0",
            "DELETE FROM ledger_nodes",
            "DELETE FROM ledger_checkpoints",
            "UPDATE ledger_checkpoints SET note = 'forged'",
            "DELETE FROM ledger_head",
            "UPDATE ledger_head SET tree_size = 2",
            "UPDATE ledger_head SET root_hash = sha256('x'::bytea)",
        ] {
            let error = sqlx::query(statement).execute(&db.pool).await.expect_err(statement).to_string();
            assert!(error.contains("append-only") || error.contains("only moves forward"), "{statement}: {error}");
        }
        assert_eq!(size(&db.pool).await, 5);
        let mut conn = db.pool.acquire().await.expect("conn");
        assert!(verify_database(&mut conn, &[ledger.verifier()]).await.expect("verify").ok());
    }

    /// Corruption behind the triggers' back (as a superuser could) is found and located.
    #[tokio::test]
    async fn verify_names_what_was_corrupted() {
        let db = TestDb::new().await;
        let ledger = test_ledger();
        ledger.append(&db.pool, &sample_batch(0, 40)).await.expect("append");
        let mut conn = db.pool.acquire().await.expect("conn");
        sqlx::query("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
            .execute(&mut *conn)
            .await
            .expect("disable");
        sqlx::query("ALTER TABLE ledger_nodes DISABLE TRIGGER ledger_nodes_append_only")
            .execute(&mut *conn)
            .await
            .expect("disable");
        sqlx::query("UPDATE ledger_entries SET entry = convert_to(replace(convert_from(entry, 'UTF8'), '\"total\":117', '\"total\":999'), 'UTF8') WHERE idx = 17")
            .execute(&mut *conn)
            .await
            .expect("tamper entry 17");
        sqlx::query("UPDATE ledger_nodes SET hash = sha256('forged'::bytea) WHERE level = 2 AND idx = 3")
            .execute(&mut *conn)
            .await
            .expect("tamper node");
        let report = verify_database(&mut conn, &[ledger.verifier()]).await.expect("verify");
        assert!(!report.ok());
        let text = report.to_string();
        assert!(text.contains("entry 17: stored leaf hash"), "{text}");
        assert!(text.contains("subtree (level 2, index 3)"), "{text}");
        assert!(text.contains("(size 40): size 40 has root"), "{text}");
    }

    #[tokio::test]
    async fn a_missing_stored_hash_is_reported() {
        let db = TestDb::new().await;
        let ledger = test_ledger();
        ledger.append(&db.pool, &sample_batch(0, 9)).await.expect("append");
        let mut conn = db.pool.acquire().await.expect("conn");
        sqlx::query("ALTER TABLE ledger_nodes DISABLE TRIGGER ledger_nodes_append_only")
            .execute(&mut *conn)
            .await
            .expect("disable");
        sqlx::query("DELETE FROM ledger_nodes WHERE level = 1 AND idx = 2").execute(&mut *conn).await.expect("delete");
        let report = verify_database(&mut conn, &[ledger.verifier()]).await.expect("verify");
        assert!(report.to_string().contains("subtree (level 1, index 2) is missing"), "{report}");
    }

    #[tokio::test]
    async fn appends_fail_closed_on_inconsistent_stored_hashes() {
        let db = TestDb::new().await;
        let ledger = test_ledger();
        ledger.append(&db.pool, &sample_batch(0, 6)).await.expect("append");
        sqlx::query("ALTER TABLE ledger_nodes DISABLE TRIGGER ledger_nodes_append_only")
            .execute(&db.pool)
            .await
            .expect("disable");
        // Size 6 = subtrees (2,0) and (1,2): corrupt the second.
        sqlx::query("UPDATE ledger_nodes SET hash = sha256('forged'::bytea) WHERE level = 1 AND idx = 2")
            .execute(&db.pool)
            .await
            .expect("tamper");
        let error = ledger.append(&db.pool, &sample_batch(6, 3)).await.expect_err("must refuse");
        assert!(matches!(error, LedgerError::Inconsistent(_)), "{error}");
        assert_eq!(size(&db.pool).await, 6, "nothing was appended");
    }

    #[tokio::test]
    async fn a_batch_is_written_whole_or_not_at_all() {
        let db = TestDb::new().await;
        let ledger = test_ledger();
        let mut batch = sample_batch(0, 10);
        batch[6].record = serde_json::json!({"notes": "x".repeat(70_000)});
        let error = ledger.append(&db.pool, &batch).await.expect_err("oversized entry");
        assert!(matches!(error, LedgerError::Entry(EntryError::TooLarge { index: 6, .. })), "{error}");
        assert_eq!(size(&db.pool).await, 0);
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM ledger_entries").fetch_one(&db.pool).await.expect("count");
        assert_eq!(count, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_are_serialised() {
        let db = TestDb::new().await;
        let ledger = test_ledger();
        let mut tasks = Vec::new();
        for writer in 0..4u64 {
            let (pool, ledger) = (db.pool.clone(), ledger.clone());
            tasks.push(tokio::spawn(async move {
                for round in 0..10u64 {
                    ledger
                        .append(
                            &pool,
                            &[sample_pending(writer * 100 + round), sample_pending(writer * 100 + round + 50)],
                        )
                        .await
                        .expect("append");
                }
            }));
        }
        for task in tasks {
            task.await.expect("writer");
        }
        assert_eq!(size(&db.pool).await, 80);
        let mut conn = db.pool.acquire().await.expect("conn");
        let report = verify_database(&mut conn, &[ledger.verifier()]).await.expect("verify");
        assert!(report.ok(), "{report}");
    }

    #[tokio::test]
    async fn a_new_key_re_signs_the_head_and_verify_needs_both_keys() {
        let db = TestDb::new().await;
        let (old, new) = (test_ledger(), test_ledger());
        old.append(&db.pool, &sample_batch(0, 3)).await.expect("append");
        let resigned = new.ensure_checkpoint(&db.pool).await.expect("re-sign");
        assert_eq!(resigned.checkpoint.size, 3);
        new.verifier().open(&resigned.note).expect("signed by the new key");
        let mut conn = db.pool.acquire().await.expect("conn");
        assert!(verify_database(&mut conn, &[old.verifier(), new.verifier()]).await.expect("verify").ok());
        let only_new = verify_database(&mut conn, &[new.verifier()]).await.expect("verify");
        assert!(only_new.to_string().contains("not signed by any trusted key"), "{only_new}");
    }
}
