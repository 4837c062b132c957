//! Gatelog's shared core: the record types, request-body parsing and the pure ledger code
//! (no database, HTTP server or runtime), so the collectors and the fuzz targets parse and
//! check exactly what the server does without building it.

pub mod api;
pub mod formats;
pub mod fsutil;
pub mod ledger;
pub mod records;
