//! The path after `/tile/` in a request: `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`.
#![no_main]

use gatelog_core::ledger::tiles::{TilePath, split_bundle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(path) = std::str::from_utf8(data)
        && let Ok(tile) = TilePath::parse(path)
    {
        // Every tile has exactly one path: what parses is what we would have written.
        let written = tile.to_string();
        assert_eq!(written.strip_prefix("tile/"), Some(path), "a tile path has one spelling");
        assert!((1..=256).contains(&tile.width()));
    }
    // Entry bundles come back from mirrors and CDNs: splitting must never read past the end.
    if let Some(entries) = split_bundle(data) {
        let total: usize = entries.iter().map(|e| e.len() + 2).sum();
        assert_eq!(total, data.len(), "a bundle is its entries and their length prefixes, nothing else");
    }
});
