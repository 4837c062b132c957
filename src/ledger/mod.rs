//! The ledger: canonical entries in an RFC 6962 Merkle log, signed C2SP
//! checkpoints, tiles, proofs and verification.

pub mod checkpoint;
pub mod entry;
pub mod keys;
pub mod log;
pub mod merkle;
pub mod note;
pub mod tiles;
pub mod tlog_proof;
pub mod verify;

pub use log::{Appended, Ledger, LedgerError, SignedCheckpoint};
