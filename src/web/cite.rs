//! The "cite this" line every page with a figure ends with: what it is, its
//! permalink, the access date and the ledger checkpoint the figures come from,
//! so a quoted number can be traced back and re-derived.

use chrono::{DateTime, NaiveDate, Utc};

use super::page_data::PageData;
use crate::AppState;

/// A citation of one page at one checkpoint.
#[derive(Debug, Clone)]
pub struct Citation {
    /// What is cited ("scorecard of Corvid GPU").
    pub what: String,
    /// The page's absolute URL.
    pub url: String,
    /// The day the reader accessed it (UTC).
    pub accessed: NaiveDate,
    /// Checkpoint size the figures come from.
    pub tree_size: u64,
    /// Checkpoint root, hex.
    pub root_hex: String,
    /// When the checkpoint was signed.
    pub signed_at: DateTime<Utc>,
}

impl Citation {
    /// Cites the page at `path` (with its query, if any) as computed from `snapshot`.
    pub fn new(state: &AppState, snapshot: &PageData, what: impl Into<String>, path: &str) -> Self {
        Self::at(state, what, path, snapshot.tree_size, &snapshot.root_hex, snapshot.signed_at)
    }

    /// Cites the page at `path` as of an explicit checkpoint.
    pub fn at(
        state: &AppState,
        what: impl Into<String>,
        path: &str,
        tree_size: u64,
        root_hex: &str,
        signed_at: DateTime<Utc>,
    ) -> Self {
        Self {
            what: what.into(),
            url: format!("{}{path}", state.public_url),
            accessed: Utc::now().date_naive(),
            tree_size,
            root_hex: root_hex.to_owned(),
            signed_at,
        }
    }
}
