//! Ledger entries: the canonical JSON (RFC 8785) of
//! `{v, index, provider, kind, received_at, record, supersedes}`, plus `signature`
//! when the provider signed the record (absent otherwise, so unsigned entries are
//! exactly as they always were). These bytes are what is hashed, stored and served, byte for byte.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::records::Slug;
use crate::records::signature::{ProviderKey, RecordSignature, SignatureError};

/// Version of the entry format written into every entry as `v`.
pub const ENTRY_FORMAT_VERSION: u32 = 1;
/// Largest entry: C2SP entry bundles carry a 16-bit length.
pub const MAX_ENTRY_BYTES: usize = 65_535;

/// An entry as it is hashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    // Fields in sorted key order, as RFC 8785 writes them; see `is_canonical_fast`.
    /// Position in the log, from 0.
    pub index: u64,
    /// Record kind, e.g. `queue_time`.
    pub kind: String,
    /// The provider that submitted it (never another's).
    pub provider: Slug,
    /// When the log accepted it: RFC 3339, UTC, microseconds.
    pub received_at: String,
    /// The record itself, as validated at the edge.
    pub record: serde_json::Value,
    /// The provider's own signature over the record, if it signed it (see [`crate::records::signature`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<EntrySignature>,
    /// The entry this one amends, if any.
    pub supersedes: Option<u64>,
    /// Entry format version.
    pub v: u32,
}

/// A provider's signature as an entry carries it: the signature and the whole
/// public key, so anyone can check it from the public entry alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntrySignature {
    // Fields in sorted key order, as RFC 8785 writes them.
    /// Ed25519 signature, base64.
    pub sig: String,
    /// The provider's signed-note verifier key, `<slug>+<hex id>+<base64 key>`.
    pub vkey: String,
}

impl EntrySignature {
    /// The stored form of a signature checked against `key`.
    pub fn new(signature: &RecordSignature, key: &ProviderKey) -> Self {
        Self { sig: signature.to_base64(), vkey: key.to_string() }
    }
}

/// A record on its way into the log, already validated by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEntry {
    /// Submitting provider.
    pub provider: Slug,
    /// Record kind.
    pub kind: String,
    /// Natural key within (provider, kind): what the record is about.
    pub natural_key: String,
    pub record: serde_json::Value,
    /// The entry it amends, if any.
    pub supersedes: Option<u64>,
    /// The provider's signature over the record, already checked by the caller.
    pub signature: Option<EntrySignature>,
}

/// Why an entry cannot be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Canonical form exceeds [`MAX_ENTRY_BYTES`].
    #[error("entry {index} is {bytes} bytes in canonical form; the limit is {MAX_ENTRY_BYTES}")]
    TooLarge {
        /// Entry index.
        index: u64,
        /// Its size.
        bytes: usize,
    },
    /// Not valid entry JSON.
    #[error("entry is not valid: {0}")]
    Malformed(String),
    /// The record holds an integer that RFC 8785 would write as a different number
    /// (it writes numbers as IEEE doubles): appending it would store a value other than
    /// the one filed. The record parser's domains keep every field far below this.
    #[error("entry {index} holds the integer {value}, which canonical JSON cannot write exactly")]
    InexactNumber {
        /// Entry index.
        index: u64,
        /// The integer as given.
        value: String,
    },
    /// Valid JSON, but not in RFC 8785 canonical form.
    #[error("entry bytes are not in canonical (RFC 8785) form")]
    NotCanonical,
}

/// Formats a timestamp the one way entries spell it.
pub fn format_received_at(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl Entry {
    /// Builds the entry for a pending record at a given index and time.
    pub fn new(pending: &PendingEntry, index: u64, received_at: DateTime<Utc>) -> Self {
        Self {
            v: ENTRY_FORMAT_VERSION,
            index,
            provider: pending.provider.clone(),
            kind: pending.kind.clone(),
            received_at: format_received_at(received_at),
            record: pending.record.clone(),
            signature: pending.signature.clone(),
            supersedes: pending.supersedes,
        }
    }

    /// Checks the provider's signature, if the entry carries one: the key must be named
    /// for the entry's provider and the signature must cover this record, kind and provider.
    /// Returns the key that signed it (`None` for an unsigned entry).
    pub fn check_signature(&self) -> Result<Option<ProviderKey>, SignatureError> {
        let Some(signed) = &self.signature else { return Ok(None) };
        let key = ProviderKey::for_provider(&signed.vkey, &self.provider)?;
        let signature = RecordSignature::parse(&signed.sig)?;
        key.verify(&self.provider, &self.kind, &self.record, &signature)?;
        Ok(Some(key))
    }

    /// The bytes of a new entry: its canonical form, refused if the record holds an
    /// integer canonical JSON would not write exactly. (Stored entries are read with
    /// [`Entry::from_canonical_bytes`], which has no such rule: what is in a ledger stays
    /// verifiable whatever rules came later.)
    pub fn to_new_bytes(&self) -> Result<Vec<u8>, EntryError> {
        if let Some(value) = first_inexact_integer(&self.record) {
            return Err(EntryError::InexactNumber { index: self.index, value });
        }
        self.to_canonical_bytes()
    }

    /// The canonical bytes, refusing entries over the size limit.
    pub fn to_canonical_bytes(&self) -> Result<Vec<u8>, EntryError> {
        let bytes = serde_json_canonicalizer::to_vec(self).map_err(|e| EntryError::Malformed(e.to_string()))?;
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge { index: self.index, bytes: bytes.len() });
        }
        Ok(bytes)
    }

    /// Parses entry bytes and checks they are exactly the canonical form.
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, EntryError> {
        let entry: Self = serde_json::from_slice(bytes).map_err(|e| EntryError::Malformed(e.to_string()))?;
        let canonical = match entry.is_canonical_fast(bytes) {
            Some(answer) => answer,
            None => entry.to_canonical_bytes()? == bytes,
        };
        if !canonical {
            return Err(EntryError::NotCanonical);
        }
        Ok(entry)
    }

    /// `verify` checks a million entries; this answers the canonical-form question
    /// without the full RFC 8785 writer when it safely can. With only integers in
    /// it, RFC 8785 output is exactly serde_json's compact output with sorted keys
    /// (the struct's fields are declared sorted, and `Value` objects are B-tree maps):
    /// both write integers as plain digits and escape the same characters the same
    /// way. A property test holds the two writers to that. Floats differ between the
    /// two (exponent spelling), and RFC 8785 sorts keys by UTF-16 code units where a
    /// B-tree sorts by UTF-8 bytes (they disagree beyond U+E000), so entries with a
    /// float or a non-ASCII key get `None`: use the full writer.
    fn is_canonical_fast(&self, bytes: &[u8]) -> Option<bool> {
        fn integers_only(value: &serde_json::Value) -> bool {
            match value {
                // Beyond 2^53 the two writers part: serde_json prints the digits, RFC 8785 the nearest double.
                serde_json::Value::Number(n) => {
                    n.as_u64().is_some_and(|n| n < SAFE) || n.as_i64().is_some_and(|n| n.unsigned_abs() < SAFE)
                }
                serde_json::Value::Array(items) => items.iter().all(integers_only),
                serde_json::Value::Object(map) => map.iter().all(|(key, value)| key.is_ascii() && integers_only(value)),
                _ => true,
            }
        }
        // RFC 8785 numbers are IEEE doubles: beyond 2^53 integers lose digits, so leave those to the full writer.
        const SAFE: u64 = 1 << 53;
        let small = |n: u64| n < SAFE;
        if !integers_only(&self.record) || !small(self.index) || !self.supersedes.is_none_or(small) {
            return None;
        }
        serde_json::to_vec(self).ok().map(|compact| compact == bytes)
    }
}

/// Largest integer RFC 8785 writes digit for digit (JavaScript's `Number.MAX_SAFE_INTEGER`).
/// Past it, even integers a double holds exactly come out as other digits: 2^60 is written
/// `1152921504606847000`, the shortest text that reads back as the same double.
pub const MAX_EXACT_INTEGER: u64 = (1 << 53) - 1;

/// The first integer in `value` that canonical JSON would not write digit for digit, as text.
fn first_inexact_integer(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Number(n) => {
            let exact = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u <= MAX_EXACT_INTEGER,
                (None, Some(i)) => i.unsigned_abs() <= MAX_EXACT_INTEGER,
                // A float: not a record field (the parser refuses them); the writer decides.
                (None, None) => true,
            };
            (!exact).then(|| n.to_string())
        }
        serde_json::Value::Array(items) => items.iter().find_map(first_inexact_integer),
        serde_json::Value::Object(map) => map.values().find_map(first_inexact_integer),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn pending(record: serde_json::Value) -> PendingEntry {
        PendingEntry {
            provider: Slug::parse("nordic-hpc").expect("slug"),
            kind: "capacity".into(),
            natural_key: "2026-11-01|nvidia-h100|eu-fi".into(),
            record,
            supersedes: None,
            signature: None,
        }
    }

    #[test]
    fn canonical_bytes_sort_keys_and_drop_whitespace() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T10:00:00.5Z").expect("time").with_timezone(&Utc);
        let entry = Entry::new(&pending(json!({"total": 512, "as_of": "2026-11-01"})), 3, at);
        let bytes = entry.to_canonical_bytes().expect("fits");
        assert_eq!(
            String::from_utf8(bytes.clone()).expect("utf8"),
            r#"{"index":3,"kind":"capacity","provider":"nordic-hpc","received_at":"2026-11-25T10:00:00.500000Z","record":{"as_of":"2026-11-01","total":512},"supersedes":null,"v":1}"#
        );
        assert_eq!(Entry::from_canonical_bytes(&bytes), Ok(entry));
    }

    #[test]
    fn a_signature_sits_in_sorted_key_position_and_round_trips() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z").expect("time").with_timezone(&Utc);
        let mut signed = pending(json!({"total": 512}));
        signed.signature = Some(EntrySignature { sig: "c2ln+/=".into(), vkey: "nordic-hpc+0000abcd+AQ/+=".into() });
        let entry = Entry::new(&signed, 4, at);
        let bytes = entry.to_canonical_bytes().expect("fits");
        assert_eq!(
            String::from_utf8(bytes.clone()).expect("utf8"),
            r#"{"index":4,"kind":"capacity","provider":"nordic-hpc","received_at":"2026-11-25T10:00:00.000000Z","record":{"total":512},"signature":{"sig":"c2ln+/=","vkey":"nordic-hpc+0000abcd+AQ/+="},"supersedes":null,"v":1}"#
        );
        assert_eq!(entry.is_canonical_fast(&bytes), Some(true));
        assert_eq!(Entry::from_canonical_bytes(&bytes), Ok(entry));
        let stray = br#"{"index":0,"kind":"k","provider":"a","received_at":"x","record":{},"signature":{"sig":"","vkey":"","x":1},"supersedes":null,"v":1}"#;
        assert!(matches!(Entry::from_canonical_bytes(stray), Err(EntryError::Malformed(_))));
    }

    #[test]
    fn non_canonical_bytes_are_refused() {
        let spaced = br#"{"v": 1,"index":0,"provider":"a","kind":"k","received_at":"x","record":{},"supersedes":null}"#;
        assert_eq!(Entry::from_canonical_bytes(spaced), Err(EntryError::NotCanonical));
        let unknown =
            br#"{"extra":1,"index":0,"kind":"k","provider":"a","received_at":"x","record":{},"supersedes":null,"v":1}"#;
        assert!(matches!(Entry::from_canonical_bytes(unknown), Err(EntryError::Malformed(_))));
    }

    /// The bug behind issue 15: 2^53 + 1 was stored as 2^53, and the fast check took the
    /// digits as canonical. Now the append refuses it and the fast check defers.
    #[test]
    fn integers_a_double_cannot_hold_are_refused_not_rounded() {
        let entry = Entry::new(&pending(json!({"jobs": 9_007_199_254_740_993_u64})), 0, Utc::now());
        assert!(matches!(entry.to_new_bytes(), Err(EntryError::InexactNumber { .. })));
        let digits = serde_json::to_vec(&entry).expect("json");
        assert_eq!(entry.is_canonical_fast(&digits), None);
        assert!(Entry::from_canonical_bytes(&digits).is_err());
        let largest_exact = Entry::new(&pending(json!({"jobs": MAX_EXACT_INTEGER})), 0, Utc::now());
        let bytes = largest_exact.to_new_bytes().expect("2^53 - 1 is written exactly");
        assert!(String::from_utf8_lossy(&bytes).contains("9007199254740991"));
        assert_eq!(Entry::from_canonical_bytes(&bytes), Ok(largest_exact));
        // A ledger that already holds a rounded number still reads and verifies.
        let mut old = Entry::new(&pending(json!({"jobs": 1_u64 << 60})), 1, Utc::now());
        let stored = old.to_canonical_bytes().expect("the writer rounds it");
        old.record = json!({"jobs": 1_152_921_504_606_847_000_u64});
        assert_eq!(Entry::from_canonical_bytes(&stored), Ok(old));
    }

    #[test]
    fn oversized_entries_are_refused() {
        let entry = Entry::new(&pending(json!({"notes": "x".repeat(70_000)})), 9, Utc::now());
        assert!(matches!(entry.to_canonical_bytes(), Err(EntryError::TooLarge { index: 9, .. })));
    }

    fn integer_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            // The whole range, not only small numbers: near 2^53 and beyond is where writers part.
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            ((1u64 << 53) - 4..(1u64 << 53) + 4).prop_map(|n| json!(n)),
            (0u32..64).prop_map(|shift| json!(1u64 << shift)),
            "\\PC{0,16}".prop_map(serde_json::Value::String),
            "[\\x00-\\x1f\"\\\\/\\u{7f}-\\u{a0}\\u{2028}\\u{2029}\\u{fffd}\\u{1f600}]{0,8}"
                .prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(3, 20, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map("[ -~]{0,6}|\\PC{0,3}", inner, 0..5)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The fast canonical check agrees with the RFC 8785 writer on every integer-only
        /// entry it answers for, and whatever is written reads back as the same entry.
        #[test]
        fn the_fast_check_agrees_with_the_full_writer(record in integer_json(), index in 0u64..(1 << 53)) {
            let entry = Entry::new(&pending(record), index, Utc::now());
            let Ok(canonical) = entry.to_new_bytes() else {
                prop_assert!(first_inexact_integer(&entry.record).is_some(), "refused without an inexact integer");
                return Ok(());
            };
            if let Some(answer) = entry.is_canonical_fast(&canonical) {
                prop_assert!(answer, "the fast check rejected canonical bytes");
                prop_assert_eq!(serde_json::to_vec(&entry).expect("json"), canonical.clone());
            }
            // Exact: the bytes decode to the very entry that was written, numbers included.
            prop_assert_eq!(Entry::from_canonical_bytes(&canonical), Ok(entry));
        }

        /// An integer is written exactly or refused, never changed.
        #[test]
        fn integers_are_written_exactly_or_refused(n in prop_oneof![any::<u64>().prop_map(|n| json!(n)), any::<i64>().prop_map(|n| json!(n))]) {
            let entry = Entry::new(&pending(json!({"n": n})), 0, Utc::now());
            match entry.to_new_bytes() {
                Ok(bytes) => {
                    let back = Entry::from_canonical_bytes(&bytes).expect("reads back");
                    prop_assert_eq!(&back.record["n"], &n, "stored {} for {}", String::from_utf8_lossy(&bytes), n);
                }
                Err(error) => prop_assert!(matches!(error, EntryError::InexactNumber { .. }), "{error}"),
            }
        }

        #[test]
        fn canonical_form_is_stable(text in "\\PC{0,50}", number in any::<i32>(), index in 0u64..(1 << 53)) {
            let entry = Entry::new(&pending(json!({"text": text, "n": number, "nested": {"b": [1, 2], "a": null}})), index, Utc::now());
            let bytes = entry.to_canonical_bytes().expect("small");
            prop_assert_eq!(Entry::from_canonical_bytes(&bytes), Ok(entry));
        }
    }
}
