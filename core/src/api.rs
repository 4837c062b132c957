//! The push API's wire shapes that its clients read too: the body limit, the answer to a
//! batch, and the error detail of the JSON envelope. The handlers are the server's
//! `gatelog::api::records`.

use serde::{Deserialize, Serialize};

/// Largest request body, in bytes (8 MiB).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// One precise complaint about the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Record index (0-based) or line number, when the input is a batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The field concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    pub reason: String,
}

/// One record's result in the response.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordJson {
    /// Where it was: array index (JSON) or line number (NDJSON, CSV).
    pub position: usize,
    /// Its kind.
    pub kind: String,
    /// What it is about (its natural key).
    pub natural_key: String,
    /// `created`, `amended` or `duplicate`.
    pub outcome: String,
    /// The entry holding it (for a dry run: the index it would get).
    pub entry_index: u64,
    /// The entry it amends.
    pub supersedes: Option<u64>,
    /// Leaf hash, hex (absent in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaf_hash: Option<String>,
    /// Inclusion proof against `checkpoint`, hex (absent in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<Vec<String>>,
    /// Where to fetch this entry's receipt as a C2SP `tlog-proof@v1` file, to keep
    /// (absent in a dry run). Fetched later, it is proven against a newer checkpoint
    /// that carries the witnesses' cosignatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlog_proof: Option<String>,
}

/// Counts of outcomes.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Summary {
    /// New records.
    pub created: usize,
    /// Amendments.
    pub amended: usize,
    /// Duplicates (nothing written).
    pub duplicate: usize,
}

/// The response to a batch.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchJson {
    /// Whether this was a dry run (nothing written).
    pub dry_run: bool,
    /// The provider the records were filed for.
    pub provider: String,
    /// Outcome counts.
    pub summary: Summary,
    /// Tree size after the batch.
    pub tree_size: u64,
    /// The signed checkpoint every proof leads to (absent in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// Per record, in order.
    pub records: Vec<RecordJson>,
}
