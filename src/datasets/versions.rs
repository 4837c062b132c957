//! The versions a snapshot names: its format ([`FORMATS`], what its files hold and how they
//! are encoded) and the methodology its grades were computed with, read from and written to
//! its `datapackage.json`.

use super::Format;
use crate::analytics::methodology::{self, Methodology, UnknownMethodology};

/// One version of the snapshot format: what a snapshot's files hold and how they are encoded.
#[derive(Debug, PartialEq)]
pub struct SnapshotFormat {
    /// Its number.
    pub version: u32,
    /// The day it took effect (ISO 8601).
    pub introduced: &'static str,
    /// The dataset encodings whose bytes it changed for the same rows: files of an earlier
    /// format in these encodings are compared by decoded rows ([`rows`](super::rows)), not bytes.
    pub reencoded: &'static [Format],
    /// What changed from the format before.
    pub what_changed: &'static str,
}

/// Every snapshot format, oldest first. Append one whenever the files of a dataset a snapshot
/// already lists change for the same entries (columns, encodings, the package's layout);
/// adding a dataset needs no new format (a snapshot lists the datasets it holds).
pub const FORMATS: &[SnapshotFormat] = &[
    SnapshotFormat {
        version: 1,
        introduced: "2026-11-25",
        reencoded: &[],
        what_changed: "Snapshots written before formats were numbered (25 November to 1 December 2026): \
                       datapackage.json names no format. Over that week the Data Package went from v1 (CSV \
                       resources only) to v2 (every file a resource), Parquet files gained pandas' metadata \
                       and the energy, buyer_shares and market_concentration datasets appeared.",
    },
    SnapshotFormat {
        version: 2,
        introduced: "2026-12-01",
        reencoded: &[Format::Csv, Format::Ndjson, Format::Parquet],
        what_changed: "datapackage.json names the snapshot format and the methodology version (property \
                       `gatelog`); the grades table gains a methodology column. Format 1 spans the encodings \
                       of its week, so its files are compared by rows in every encoding.",
    },
];

/// The format this build writes.
pub const CURRENT_FORMAT: u32 = FORMATS[FORMATS.len() - 1].version;

/// Whether a file in `format` of a snapshot of format `since` has the bytes this build
/// writes for the same rows (no later format re-encoded it).
pub fn bytes_comparable(since: u32, format: Format) -> bool {
    !FORMATS.iter().filter(|f| f.version > since).any(|f| f.reencoded.contains(&format))
}

/// What a snapshot says it is: its format and the methodology its grades were computed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    /// Snapshot format ([`FORMATS`]).
    pub format: u32,
    /// Methodology version ([`methodology::VERSIONS`]).
    pub methodology: u32,
}

/// A snapshot this build cannot check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Written by a newer gatelog.
    #[error(
        "snapshot format {0} is newer than this gatelog knows (formats 1 to {current}); check it with a newer gatelog",
        current = CURRENT_FORMAT
    )]
    NewerFormat(u32),
    /// Its grades were computed with a methodology this build does not have.
    #[error(
        "the snapshot's grades were computed with an {0}: they cannot be recomputed; check it with a newer gatelog"
    )]
    Methodology(#[from] UnknownMethodology),
    /// The `gatelog` property is not what any format writes.
    #[error("datapackage.json: malformed `gatelog` property: {0}")]
    Malformed(String),
}

impl Versions {
    /// What this build writes.
    pub const CURRENT: Self = Self { format: CURRENT_FORMAT, methodology: methodology::CURRENT.version };

    /// Read from a `datapackage.json`: its `gatelog` property, or format 1 and methodology 1
    /// if it has none (written before versions were recorded; the weights had never changed).
    pub fn of_package(package: &serde_json::Value) -> Result<Self, VersionError> {
        let Some(named) = package.get("gatelog") else { return Ok(Self { format: 1, methodology: 1 }) };
        let number = |key: &str| {
            named[key]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n >= 1)
                .ok_or_else(|| VersionError::Malformed(format!("{key} is not a version number: {}", named[key])))
        };
        let versions = Self { format: number("snapshot_format")?, methodology: number("methodology_version")? };
        if versions.format > CURRENT_FORMAT {
            return Err(VersionError::NewerFormat(versions.format));
        }
        Ok(versions)
    }

    /// The methodology it names.
    pub fn methodology(&self) -> Result<&'static Methodology, VersionError> {
        Ok(methodology::find(self.methodology)?)
    }

    /// The `gatelog` property of a package of these versions (format 1 had none).
    pub fn property(&self) -> Option<serde_json::Value> {
        (self.format >= 2)
            .then(|| serde_json::json!({"snapshot_format": self.format, "methodology_version": self.methodology}))
    }
}
