//! What providers report, parsed once at the edge into domain types: slugs,
//! the five record kinds of v1 with their rules and natural keys, and the
//! field reader that names every problem, and providers' own signatures over them.

#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
pub mod currency;
pub mod domain;
pub mod fields;
pub mod kinds;
pub mod reports;
pub mod signature;
pub mod slug;

pub use fields::FieldError;
pub use kinds::{Record, RecordKind};
pub use slug::Slug;
