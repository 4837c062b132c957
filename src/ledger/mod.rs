//! The ledger: canonical entries in an RFC 6962 Merkle log, signed C2SP
//! checkpoints, tiles, proofs and verification.

pub mod log;
pub mod verify;

pub use gatelog_core::ledger::{checkpoint, entry, keys, merkle, note, tiles, tlog_proof};

pub use log::{Appended, Ledger, LedgerError, SignedCheckpoint};
