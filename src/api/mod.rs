//! Machine-readable endpoints: the C2SP read API of the ledger and its JSON
//! conveniences, and the push API (`records`, `reports`). Errors use the JSON envelope.

pub mod auth;
pub mod batch;
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
