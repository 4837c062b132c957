//! What a collector pushed, for its one human line and its JSON report: every
//! batch's outcome counts summed, and the ledger's size after the last.

use crate::client::{Client, ClientError, MAX_BATCH};

/// The outcome of sending a run's records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Records sent.
    pub records: usize,
    /// New entries.
    pub created: u64,
    /// Entries that amend an earlier version (the figures of a period changed).
    pub amended: u64,
    /// Records the ledger already held as they are.
    pub unchanged: u64,
    /// The ledger's tree size after the last batch.
    pub tree_size: u64,
}

impl Pushed {
    /// For the human line: `36 records sent: 30 created, 2 amended, 4 unchanged (tree size 1234)`.
    pub fn human(&self) -> String {
        format!(
            "{} records sent: {} created, {} amended, {} unchanged (tree size {})",
            self.records, self.created, self.amended, self.unchanged, self.tree_size
        )
    }

    /// For the JSON report.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"records": self.records, "created": self.created, "amended": self.amended,
            "unchanged": self.unchanged, "tree_size": self.tree_size})
    }
}

/// Sends `records` in batches of at most [`MAX_BATCH`]. On an error, the batches
/// before it are in (the ledger keeps them) and the error says which failed.
pub fn push(client: &Client, records: &[serde_json::Value]) -> Result<Pushed, ClientError> {
    let mut pushed = Pushed::default();
    for chunk in records.chunks(MAX_BATCH) {
        let posted = client.post(chunk)?;
        let summary = posted.summary();
        pushed.records += chunk.len();
        pushed.created += summary.created as u64;
        pushed.amended += summary.amended as u64;
        pushed.unchanged += summary.duplicate as u64;
        pushed.tree_size = posted.tree_size();
    }
    Ok(pushed)
}
