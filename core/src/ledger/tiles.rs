//! C2SP `tlog-tiles` paths and entry bundles (<https://c2sp.org/tlog-tiles>).
//!
//! A hash tile at level L, index N holds up to 256 consecutive hashes of tree
//! level 8·L; `tile/<L>/<N>` is a full tile and `tile/<L>/<N>.p/<W>` a partial one
//! of W hashes. `tile/entries/<N>[.p/<W>]` is an entry bundle: each entry prefixed
//! by its length as a big-endian u16. N is written in zero-padded groups of three
//! digits, every group but the last prefixed with `x` (1234067 → `x001/x234/067`).

use std::fmt;

/// Hashes (or entries) per full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels per tile level.
pub const TILE_HEIGHT: u8 = 8;
/// Highest tile level: 8·L must stay below the 64 levels of a u64-indexed tree.
pub const MAX_TILE_LEVEL: u8 = 7;

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileKind {
    /// Hashes of tree level 8·L.
    Hashes {
        /// The tile level L.
        level: u8,
    },
    /// Entry bundle.
    Entries,
}

/// A parsed tile path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TilePath {
    /// Hash tile or entry bundle.
    pub kind: TileKind,
    /// Tile index N.
    pub index: u64,
    /// `Some(W)` for a partial tile of W items (1..=255), `None` for a full one.
    pub partial: Option<u16>,
}

/// Why a tile path is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed tile path: {0}")]
pub struct TilePathError(pub String);

impl TilePath {
    /// Number of items in the tile.
    pub fn width(&self) -> u64 {
        self.partial.map_or(TILE_WIDTH, u64::from)
    }

    /// Parses the part after `tile/`, e.g. `0/x001/234.p/17` or `entries/005`.
    pub fn parse(path: &str) -> Result<Self, TilePathError> {
        let error = |why: &str| TilePathError(format!("{why} (in {path:?})"));
        let (first, rest) = path.split_once('/').ok_or_else(|| error("expected <level>/<index> or entries/<index>"))?;
        let kind = if first == "entries" {
            TileKind::Entries
        } else {
            if first.is_empty() || first.len() > 1 || !first.bytes().all(|b| b.is_ascii_digit()) {
                return Err(error("the level is a single digit 0-7"));
            }
            let level: u8 = first.parse().map_err(|_| error("bad level"))?;
            if level > MAX_TILE_LEVEL {
                return Err(error("the level is a single digit 0-7"));
            }
            TileKind::Hashes { level }
        };
        let (index_part, partial) = match rest.split_once(".p/") {
            Some((index, width)) => {
                if width.is_empty() || !width.bytes().all(|b| b.is_ascii_digit()) || width.starts_with('0') {
                    return Err(error("the partial width is a number 1-255 without leading zeros"));
                }
                let width: u16 = width.parse().map_err(|_| error("the partial width is 1-255"))?;
                if width == 0 || u64::from(width) >= TILE_WIDTH {
                    return Err(error("the partial width is 1-255"));
                }
                (index, Some(width))
            }
            None => (rest, None),
        };
        Ok(Self { kind, index: parse_index(index_part).ok_or_else(|| error("bad tile index"))?, partial })
    }
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hashes { level } => write!(f, "tile/{level}/")?,
            TileKind::Entries => write!(f, "tile/entries/")?,
        }
        f.write_str(&format_index(self.index))?;
        if let Some(width) = self.partial {
            write!(f, ".p/{width}")?;
        }
        Ok(())
    }
}

/// `x001/x234/067` for 1234067.
pub fn format_index(index: u64) -> String {
    let mut groups = Vec::new();
    let mut rest = index;
    loop {
        groups.push(rest % 1000);
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(i, g)| if i < last { format!("x{g:03}") } else { format!("{g:03}") })
        .collect::<Vec<_>>()
        .join("/")
}

/// Inverse of [`format_index`]; only the canonical spelling is accepted.
fn parse_index(text: &str) -> Option<u64> {
    let elements: Vec<&str> = text.split('/').collect();
    let (last, prefix) = elements.split_last()?;
    let mut value: u64 = 0;
    for (position, element) in prefix.iter().enumerate() {
        let digits = element.strip_prefix('x')?;
        let group = three_digits(digits)?;
        // A leading zero group would give a second spelling of the same number.
        if position == 0 && group == 0 {
            return None;
        }
        value = value.checked_mul(1000)?.checked_add(group)?;
    }
    value.checked_mul(1000)?.checked_add(three_digits(last)?)
}

fn three_digits(text: &str) -> Option<u64> {
    (text.len() == 3 && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

/// Appends one entry to a bundle: big-endian u16 length, then the bytes.
pub fn push_bundle_entry(bundle: &mut Vec<u8>, entry: &[u8]) {
    let length = u16::try_from(entry.len()).expect("entries are at most 65535 bytes (enforced at append)");
    bundle.extend_from_slice(&length.to_be_bytes());
    bundle.extend_from_slice(entry);
}

/// Splits an entry bundle back into entries; `None` if it is truncated.
pub fn split_bundle(mut bundle: &[u8]) -> Option<Vec<&[u8]>> {
    let mut entries = Vec::new();
    while !bundle.is_empty() {
        if bundle.len() < 2 {
            return None;
        }
        let length = usize::from(u16::from_be_bytes([bundle[0], bundle[1]]));
        let end = 2 + length;
        if bundle.len() < end {
            return None;
        }
        entries.push(&bundle[2..end]);
        bundle = &bundle[end..];
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_spec_example_index() {
        assert_eq!(format_index(1234067), "x001/x234/067");
        assert_eq!(format_index(0), "000");
        assert_eq!(format_index(1000), "x001/000");
        let tile = TilePath::parse("2/x001/x234/067.p/8").expect("valid");
        assert_eq!(tile, TilePath { kind: TileKind::Hashes { level: 2 }, index: 1234067, partial: Some(8) });
        assert_eq!(tile.to_string(), "tile/2/x001/x234/067.p/8");
    }

    #[test]
    fn non_canonical_or_malformed_paths_are_refused() {
        for bad in [
            "0",
            "0/",
            "0/67",
            "0/0067",
            "0/x000/067",
            "8/000",
            "00/000",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/08",
            "entries/abc",
            "0/x1/000",
            "x/000",
            "0/000/",
        ] {
            assert!(TilePath::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn paths_agree_with_the_go_tlog_layout() {
        for (level, index, width) in [(0u8, 0u64, 256u32), (1, 1234067, 17), (3, 999, 256), (0, 1000, 1)] {
            // Go's tlog paths carry the tile height (`tile/8/L/N`); C2SP's omit it.
            let go_path = tlog_tiles::Tile::new(TILE_HEIGHT, level, index, width, false).path();
            let theirs = go_path.replacen("tile/8/", "tile/", 1);
            let ours = TilePath {
                kind: TileKind::Hashes { level },
                index,
                partial: (u64::from(width) < TILE_WIDTH).then_some(width as u16),
            };
            assert_eq!(ours.to_string(), theirs);
            assert_eq!(TilePath::parse(theirs.trim_start_matches("tile/")), Ok(ours));
        }
    }

    proptest! {
        #[test]
        fn every_path_round_trips(level in 0u8..=7, index in any::<u64>(), width in 1u16..=256, entries in any::<bool>()) {
            let tile = TilePath {
                kind: if entries { TileKind::Entries } else { TileKind::Hashes { level } },
                index,
                partial: (width < 256).then_some(width),
            };
            let text = tile.to_string();
            prop_assert_eq!(TilePath::parse(text.trim_start_matches("tile/")), Ok(tile));
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = TilePath::parse(&text);
        }

        #[test]
        fn bundles_round_trip(entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20)) {
            let mut bundle = Vec::new();
            for entry in &entries {
                push_bundle_entry(&mut bundle, entry);
            }
            let split = split_bundle(&bundle).expect("well formed");
            prop_assert_eq!(split, entries.iter().map(Vec::as_slice).collect::<Vec<_>>());
        }
    }
}
