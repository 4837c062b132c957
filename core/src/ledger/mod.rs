//! The pure half of the ledger: canonical entries, the RFC 6962 Merkle tree, C2SP signed
//! notes, checkpoints, cosignatures, tiles and `tlog-proof` receipts. The log itself
//! (storage, appends) is the server's `gatelog::ledger`.

pub mod checkpoint;
pub mod cosignature;
pub mod entry;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod tiles;
pub mod tlog_proof;
