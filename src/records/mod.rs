//! What providers report, parsed once at the edge into domain types.
//! (The record kinds themselves arrive with the ingest issue; identifiers live here now.)

pub mod slug;

pub use slug::Slug;
