//! Machine-readable endpoints: the C2SP read API of the ledger and its JSON
//! conveniences (the ingest API joins them later). Errors use the JSON envelope.

pub mod auth;
pub mod extract;
pub mod ledger;
pub mod openapi;
pub mod per_ip;
pub mod records;
pub mod reports;

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod reports_tests;
