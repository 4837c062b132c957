//! Ingest: a provider's batch of validated records, deduplicated and amended
//! against the ledger, appended in one transaction under the sequencer lock,
//! and answered with a receipt per record.
//!
//! "Latest version" is the projection's rule ([`crate::projection::fold`]), read from its
//! table, so the `supersedes` ingest writes and the projection agree by construction.
//!
//! Outcomes, per record, in order:
//! - `created`: no latest version has its natural key; appended.
//! - `amended`: the latest version with its natural key differs; appended with `supersedes`.
//! - `duplicate`: the latest version with its natural key is identical; nothing appended,
//!   the existing entry's receipt is returned. This makes retrying a batch always safe.
//!   Only the record is compared: a record already in the log unsigned stays so when
//!   it is sent again signed (file a changed record to get a signed entry).

pub use gatelog_core::formats;

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use crate::db::ledger as store;
use crate::db::projection;
use crate::ledger::entry::{EntrySignature, PendingEntry};
use crate::ledger::merkle::Hash;
use crate::ledger::{Ledger, LedgerError, log};
use crate::records::{Record, Slug};

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// New natural key: appended.
    Created,
    /// Changed content for a known natural key: appended, superseding the latest.
    Amended,
    /// Same content as the latest entry for its natural key: nothing appended.
    Duplicate,
}

/// One record's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordResult {
    /// What happened.
    pub outcome: Outcome,
    /// The entry that holds it (new, or the existing one for a duplicate); for a dry run,
    /// the index it would get.
    pub entry_index: u64,
    /// The entry it supersedes, for an amendment.
    pub supersedes: Option<u64>,
}

/// A batch's result.
#[derive(Debug, Clone)]
pub struct BatchResult {
    /// Per record, in submission order.
    pub records: Vec<RecordResult>,
    /// Tree size after the batch (for a dry run, the size now).
    pub tree_size: u64,
}

/// The latest entry for one natural key.
struct Latest {
    index: u64,
    /// Its record as decoded today; `None` if it no longer decodes (then anything filed
    /// for the key differs from it, and is an amendment).
    record: Option<Record>,
}

/// The latest version of each (kind, natural key) of a provider, decoded, so the
/// `supersedes` written next is the projection's rule by construction. The caller's
/// transaction must see a current projection ([`projection::ensure_current`]).
async fn latest_entries(
    conn: &mut PgConnection,
    provider: &Slug,
    keys: &[(String, String)],
) -> Result<HashMap<(String, String), Latest>, LedgerError> {
    let rows = crate::db::latest_versions::of_keys(conn, provider.as_str(), keys).await?;
    let mut latest = HashMap::with_capacity(rows.len());
    for row in rows {
        let mut entry: Value = serde_json::from_slice(&row.entry)
            .map_err(|e| LedgerError::Inconsistent(format!("entry {} is not JSON: {e}", row.idx)))?;
        let record = Record::from_entry(&row.kind, entry["record"].take()).ok();
        latest.insert((row.kind, row.natural_key), Latest { index: row.idx as u64, record });
    }
    Ok(latest)
}

/// Classifies and (unless `dry_run`) appends a provider's batch, all or nothing.
pub async fn submit(
    pool: &PgPool,
    ledger: &Ledger,
    provider: &Slug,
    records: &[Record],
    dry_run: bool,
) -> Result<BatchResult, LedgerError> {
    submit_signed(pool, ledger, provider, records, &[], dry_run).await
}

/// [`submit`], with the provider's signature of each record, already checked
/// (`signatures[i]` belongs to `records[i]`; missing or `None`: unsigned).
pub async fn submit_signed(
    pool: &PgPool,
    ledger: &Ledger,
    provider: &Slug,
    records: &[Record],
    signatures: &[Option<EntrySignature>],
    dry_run: bool,
) -> Result<BatchResult, LedgerError> {
    let mut tx = pool.begin().await?;
    let head = lock_for_batch(&mut tx, dry_run).await?;
    let mut batch = Batch::open(&mut tx, &head, provider, records).await?;
    let results: Vec<RecordResult> = records
        .iter()
        .enumerate()
        .map(|(position, record)| batch.classify(record, signatures.get(position).cloned().flatten()))
        .collect();
    if dry_run {
        tx.rollback().await?;
        return Ok(BatchResult { records: results, tree_size: head.size });
    }
    let appended = batch.append(&mut tx, ledger, &head).await?;
    tx.commit().await?;
    let tree_size = appended.map_or(head.size, |a| a.checkpoint.checkpoint.size);
    Ok(BatchResult { records: results, tree_size })
}

/// The ledger's head for a batch about to be classified in `tx`, locked unless a dry run
/// (the lock serialises batches, so two concurrent identical batches cannot both append).
/// The latest versions are read from the projection, so it must have folded every entry:
/// it has, unless this ledger was never caught up (or was folded under other rules); then
/// the rest is folded here, under the lock (a dry run takes it too; its work is rolled back).
pub async fn lock_for_batch(tx: &mut PgConnection, dry_run: bool) -> Result<store::Head, LedgerError> {
    let mut head = if dry_run { store::head(tx).await? } else { store::lock_head(tx).await? };
    if !projection::is_current(tx, head.size).await? {
        if dry_run {
            head = store::lock_head(tx).await?;
        }
        projection::ensure_current(tx, head.size).await?;
    }
    Ok(head)
}

/// One batch being classified, in the order its entries will be appended: each record
/// against the latest version of its natural key (or an earlier record of the batch), and
/// the entries to append. Reports and answers ([`crate::api`]) are classified by their own
/// rules and added with [`Batch::add`], so a provider's records and its answers share one
/// append and one run of indexes.
pub struct Batch {
    provider: Slug,
    latest: HashMap<(String, String), Latest>,
    first_index: u64,
    pending: Vec<PendingEntry>,
}

impl Batch {
    /// Looks up the latest versions of `records`' natural keys (records to classify later
    /// must be among them). `head` is the head from [`lock_for_batch`].
    pub async fn open(
        tx: &mut PgConnection,
        head: &store::Head,
        provider: &Slug,
        records: &[Record],
    ) -> Result<Self, LedgerError> {
        let latest = if records.is_empty() {
            HashMap::new()
        } else {
            let keys: Vec<(String, String)> =
                records.iter().map(|r| (r.kind().as_str().to_owned(), r.natural_key())).collect();
            latest_entries(tx, provider, &keys).await?
        };
        Ok(Self { provider: provider.clone(), latest, first_index: head.size, pending: Vec::new() })
    }

    /// The index the next appended entry gets.
    pub fn next_index(&self) -> u64 {
        self.first_index + self.pending.len() as u64
    }

    /// Classifies one of the provider's records (one given to [`Batch::open`]) and, unless
    /// it is a duplicate, adds it to the entries to append.
    pub fn classify(&mut self, record: &Record, signature: Option<EntrySignature>) -> RecordResult {
        let key = (record.kind().as_str().to_owned(), record.natural_key());
        let next_index = self.next_index();
        let result = match self.latest.get(&key) {
            // The same record, compared as records (typed values, never through a lossy number).
            Some(existing) if existing.record.as_ref() == Some(record) => {
                RecordResult { outcome: Outcome::Duplicate, entry_index: existing.index, supersedes: None }
            }
            Some(existing) => {
                RecordResult { outcome: Outcome::Amended, entry_index: next_index, supersedes: Some(existing.index) }
            }
            None => RecordResult { outcome: Outcome::Created, entry_index: next_index, supersedes: None },
        };
        if result.outcome != Outcome::Duplicate {
            self.pending.push(PendingEntry {
                provider: self.provider.clone(),
                kind: key.0.clone(),
                natural_key: key.1.clone(),
                record: record.to_json(),
                supersedes: result.supersedes,
                signature,
            });
            // A later record in the same batch with this key compares against this one.
            self.latest.insert(key, Latest { index: next_index, record: Some(record.clone()) });
        }
        result
    }

    /// Adds an entry classified elsewhere (a report or an answer); returns its index.
    pub fn add(&mut self, entry: PendingEntry) -> u64 {
        let index = self.next_index();
        self.pending.push(entry);
        index
    }

    /// Whether nothing is to be appended.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Appends the entries under the lock taken by [`lock_for_batch`] (`None`: there were none).
    pub async fn append(
        self,
        tx: &mut PgConnection,
        ledger: &Ledger,
        head: &store::Head,
    ) -> Result<Option<log::Appended>, LedgerError> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        Ok(Some(ledger.append_locked(tx, head, &self.pending).await?))
    }
}

/// A receipt: everything needed to prove offline that an entry is in the log.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Receipt {
    /// The entry's index.
    pub entry_index: u64,
    /// SHA-256(0x00 ‖ entry bytes), hex.
    pub leaf_hash: String,
    /// The exact entry bytes, base64.
    pub entry_base64: String,
    /// The signed checkpoint note the proof leads to.
    pub checkpoint: String,
    /// Inclusion proof, leaf upwards, hex.
    pub inclusion_proof: Vec<String>,
}

/// Receipts for `indexes` against the latest checkpoint, fetching every stored hash in one query.
pub async fn receipts(
    conn: &mut PgConnection,
    indexes: &[u64],
) -> Result<(store::StoredCheckpoint, Vec<Receipt>), LedgerError> {
    let checkpoint =
        store::latest_checkpoint(conn).await?.ok_or_else(|| LedgerError::Inconsistent("no checkpoint".into()))?;
    let proofs: Vec<Vec<Hash>> = log::inclusion_proofs(conn, indexes, checkpoint.size).await?;
    let rows = store::entries_by_index(conn, indexes).await?;
    let by_index: HashMap<u64, store::EntryRow> = rows.into_iter().map(|row| (row.index, row)).collect();
    let mut receipts = Vec::with_capacity(indexes.len());
    for (index, proof) in indexes.iter().zip(proofs) {
        let row = by_index.get(index).ok_or_else(|| LedgerError::Inconsistent(format!("entry {index} is missing")))?;
        receipts.push(Receipt {
            entry_index: *index,
            leaf_hash: hex::encode(row.leaf_hash),
            entry_base64: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &row.bytes),
            checkpoint: checkpoint.note.clone(),
            inclusion_proof: proof.iter().map(hex::encode).collect(),
        });
    }
    Ok((checkpoint, receipts))
}

/// What a verified receipt proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    /// The entry's index.
    pub entry_index: u64,
    /// Who filed it.
    pub provider: String,
    pub kind: String,
    /// When the log received it.
    pub received_at: String,
    /// The log's origin.
    pub origin: String,
    /// The checkpoint size it is proven against.
    pub tree_size: u64,
}

/// Checks a receipt offline: the checkpoint's signature by one of `keys`, the
/// leaf hash of the entry bytes, and the inclusion proof up to the signed root.
pub fn verify_receipt(
    receipt: &Receipt,
    keys: &[crate::ledger::note::NoteVerifier],
) -> Result<VerifiedReceipt, String> {
    use crate::ledger::{checkpoint::Checkpoint, entry::Entry, merkle};
    use base64::Engine;
    let body = keys
        .iter()
        .find_map(|key| key.open(&receipt.checkpoint).ok())
        .ok_or("the checkpoint is not signed by the given key")?;
    let checkpoint = Checkpoint::parse(body).map_err(|e| e.to_string())?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&receipt.entry_base64)
        .map_err(|_| "entry_base64 is not base64")?;
    let entry = Entry::from_canonical_bytes(&bytes).map_err(|e| e.to_string())?;
    if entry.index != receipt.entry_index {
        return Err(format!("the entry bytes say index {}, the receipt {}", entry.index, receipt.entry_index));
    }
    let leaf = merkle::leaf_hash(&bytes);
    if hex::encode(leaf) != receipt.leaf_hash {
        return Err("the leaf hash does not match the entry bytes".into());
    }
    let proof: Vec<Hash> = receipt
        .inclusion_proof
        .iter()
        .map(|h| hex::decode(h).ok().and_then(|b| b.try_into().ok()).ok_or("a proof hash is not 32 bytes of hex"))
        .collect::<Result<_, _>>()?;
    merkle::verify_inclusion(receipt.entry_index, checkpoint.size, &leaf, &proof, &checkpoint.root)
        .map_err(|e| format!("inclusion proof: {e}"))?;
    Ok(VerifiedReceipt {
        entry_index: entry.index,
        provider: entry.provider.to_string(),
        kind: entry.kind,
        received_at: entry.received_at,
        origin: checkpoint.origin,
        tree_size: checkpoint.size,
    })
}

#[cfg(test)]
mod tests;
