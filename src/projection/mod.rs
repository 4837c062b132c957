//! The projection: the ledger's entries folded into what the site publishes.
//!
//! One rule decides the latest version of every record ([`fold`]); the latest versions
//! are grouped into per-provider, per-kind, per-month buckets whose summaries
//! ([`bucket`]) merge into each provider's figures ([`summary`]). The same pure functions
//! run in two places: in the append transaction, over the buckets a batch touches
//! (`crate::db::projection`, so the published state is never behind a signed checkpoint
//! and survives restarts), and in memory over fetched entries (`gatelog verify figures`,
//! which needs no database). docs/LEDGER.md states the rule; docs/SCALING.md the design.

pub mod bucket;
pub mod exact;
pub mod fold;
pub mod points;
pub mod summary;

#[cfg(test)]
mod tests;
