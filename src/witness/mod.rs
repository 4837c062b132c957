//! Witnesses: independent parties who cosign the log's checkpoints only if each
//! extends the last one they saw, so that the operator cannot show different
//! histories to different readers (C2SP `tlog-witness` and `tlog-cosignature`).
//!
//! - [`cosignature`]: the cosignature format and witness keys;
//! - [`protocol`]: the `add-checkpoint` request body;
//! - [`client`] and [`collector`]: the log asking its witnesses;
//! - [`server`]: a witness, as the tests and `gatelog witness serve` run it.

pub mod client;
pub mod collector;
pub mod protocol;
pub mod server;

pub use collector::Witnesses;
pub use gatelog_core::ledger::cosignature;

#[cfg(test)]
mod tests;
