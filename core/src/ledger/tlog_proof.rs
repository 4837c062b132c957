//! C2SP `tlog-proof@v1` (<https://c2sp.org/tlog-proof>): an offline proof that an
//! entry is in the log, as one text file (extension `.tlog-proof`).
//!
//! The rules implemented here, as the spec (and the specs it builds on) state them:
//!
//! - The file is lines, each ended by a newline (U+000A). Base64 is RFC 4648 §4,
//!   the standard alphabet with padding.
//! - Line 1 is exactly `c2sp.org/tlog-proof@v1`.
//! - Line 2 may be `extra <base64>`: opaque extra data the proof's own signatures do
//!   not cover. It is left out when there is none. Gatelog puts the entry bytes
//!   there, so a kept file holds all that is needed to recompute the leaf hash; a
//!   verifier trusts them only because the leaf hash they give is then proven.
//! - Then `index <n>`: the entry's zero-based index in decimal, without leading
//!   zeros (so `0` for the first entry).
//! - Then zero or more lines, one base64 SHA-256 hash each: the RFC 6962 §2.1.1
//!   inclusion proof, from the leaf's sibling up to a child of the root.
//! - Then an empty line, and the log's checkpoint verbatim: a C2SP signed note
//!   (<https://c2sp.org/signed-note>) whose text is a tlog-checkpoint (origin, tree
//!   size, base64 root hash, optional non-empty extension lines), then an empty
//!   line, then one `— <key name> <base64(key ID ‖ signature)>` line per
//!   signature, each ended by a newline, so the file ends in exactly one newline.
//!   Witness cosignatures (<https://c2sp.org/tlog-cosignature>, signature type 0x04,
//!   signature = 8-byte big-endian timestamp ‖ Ed25519 over
//!   `cosignature/v1\ntime <t>\n` + checkpoint text) are further signature lines.
//! - A signed note holds no ASCII control character but the newline; this parser
//!   applies that to the whole file (no `\r`, no tab).
//!
//! Strictness, for one spelling per proof: unknown or repeated lines, an empty
//! `extra`, non-canonical base64, a hash that is not 32 bytes, a checkpoint
//! with an empty line in its text, or anything after the last signature line are
//! refused. A verifier must accept notes of at least 16 signatures (signed-note);
//! this one accepts up to [`MAX_SIGNATURES`].
//!
//! Verification follows the signed-note rules: signature lines whose key name and
//! key ID match no trusted key are ignored; a line that matches a trusted key must
//! verify, or the proof is refused.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};

use super::checkpoint::Checkpoint;
use super::merkle::{self, Hash};
use super::note::{NoteError, NoteVerifier, ParsedNote, parse_note};
use crate::ledger::cosignature::CosignerVerifier;

/// The first line of every proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// The file extension the spec recommends (without the dot).
pub const EXTENSION: &str = "tlog-proof";
/// The media type Gatelog serves proofs as. The spec registers none; this one
/// follows the file extension.
pub const MEDIA_TYPE: &str = "application/tlog-proof";
/// Most proof hashes: a tree of at most 2^64 leaves needs at most 64.
pub const MAX_PROOF_HASHES: usize = 64;
/// Most signature lines on the checkpoint (signed-note asks for at least 16).
pub const MAX_SIGNATURES: usize = 64;
/// Largest proof file accepted, in bytes.
pub const MAX_BYTES: usize = 1 << 20;

const EXTRA_PREFIX: &str = "extra ";
const INDEX_PREFIX: &str = "index ";

/// Why a text is not a well-formed `tlog-proof@v1`. Lines count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Over [`MAX_BYTES`].
    #[error("a proof is at most {MAX_BYTES} bytes; this one is {0}")]
    TooLarge(usize),
    /// A control character other than the newline (the file is not UTF-8 text lines).
    #[error("line {line}: control characters other than the newline are not allowed")]
    ControlCharacter {
        /// Where.
        line: usize,
    },
    /// The first line is not [`HEADER`].
    #[error("line 1 must be {HEADER:?}")]
    Header,
    /// The `extra` line is empty or not canonical base64.
    #[error("line {line}: the extra line is `extra <base64>` with non-empty, canonical base64")]
    Extra {
        /// Where.
        line: usize,
    },
    /// No `index` line where one belongs, or a malformed one.
    #[error("line {line}: expected `index <n>`, a decimal without leading zeros")]
    Index {
        /// Where.
        line: usize,
    },
    /// A proof line that is not the base64 of 32 bytes.
    #[error("line {line}: a proof line is one SHA-256 hash in canonical base64")]
    ProofHash {
        /// Where.
        line: usize,
    },
    /// More than [`MAX_PROOF_HASHES`] proof lines.
    #[error("at most {MAX_PROOF_HASHES} proof hashes")]
    TooManyHashes,
    /// No empty line before the checkpoint.
    #[error("no empty line followed by the checkpoint")]
    NoCheckpoint,
    /// The checkpoint is not a signed note with a tlog-checkpoint text.
    #[error("the checkpoint: {0}")]
    Checkpoint(String),
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("the checkpoint has more than {MAX_SIGNATURES} signature lines")]
    TooManySignatures,
}

/// A parsed `tlog-proof@v1`. Built only by [`TlogProof::new`] or [`TlogProof::parse`],
/// so it always formats to a text its parser accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    extra: Option<Vec<u8>>,
    index: u64,
    proof: Vec<Hash>,
    note: String,
    checkpoint: Checkpoint,
}

impl TlogProof {
    /// A proof for entry `index` against the signed checkpoint `note` (with any
    /// cosignature lines already in it), without extra data.
    pub fn new(index: u64, proof: Vec<Hash>, note: &str) -> Result<Self, ParseError> {
        if proof.len() > MAX_PROOF_HASHES {
            return Err(ParseError::TooManyHashes);
        }
        if let Some(at) = note.find(|c: char| c.is_ascii_control() && c != '\n') {
            return Err(ParseError::ControlCharacter { line: note[..at].matches('\n').count() + 1 });
        }
        let checkpoint = parse_checkpoint(note)?;
        Ok(Self { extra: None, index, proof, note: note.to_owned(), checkpoint })
    }

    /// The same proof carrying `extra` (refused if empty: the spec leaves the line out then).
    pub fn with_extra(mut self, extra: Vec<u8>) -> Result<Self, ParseError> {
        if extra.is_empty() {
            return Err(ParseError::Extra { line: 2 });
        }
        self.extra = Some(extra);
        Ok(self)
    }

    /// The extra data, unauthenticated.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// The entry's index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The inclusion proof, leaf side first.
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }

    /// The signed checkpoint note, verbatim.
    pub fn note(&self) -> &str {
        &self.note
    }

    /// The checkpoint's text, parsed (not yet verified).
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.note.len() + 64 + 45 * self.proof.len());
        out.push_str(HEADER);
        out.push('\n');
        if let Some(extra) = &self.extra {
            out.push_str(EXTRA_PREFIX);
            out.push_str(&BASE64.encode(extra));
            out.push('\n');
        }
        out.push_str(INDEX_PREFIX);
        out.push_str(&self.index.to_string());
        out.push('\n');
        for hash in &self.proof {
            out.push_str(&BASE64.encode(hash));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.note);
        out
    }

    /// Parses a proof file, refusing anything the rules above do not allow.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if text.len() > MAX_BYTES {
            return Err(ParseError::TooLarge(text.len()));
        }
        if let Some(at) = text.find(|c: char| c.is_ascii_control() && c != '\n') {
            return Err(ParseError::ControlCharacter { line: text[..at].matches('\n').count() + 1 });
        }
        // Nothing before the checkpoint is empty, so the first empty line ends the proof part.
        let split = text.find("\n\n").ok_or(ParseError::NoCheckpoint)?;
        let (head, note) = (&text[..split], &text[split + 2..]);
        let mut lines = head.split('\n').enumerate().map(|(i, line)| (i + 1, line)).peekable();

        if lines.next().map(|(_, line)| line) != Some(HEADER) {
            return Err(ParseError::Header);
        }
        let extra = match lines.peek() {
            Some(&(line, text)) if text.starts_with("extra") => {
                lines.next();
                let data = text.strip_prefix(EXTRA_PREFIX).and_then(decode_canonical);
                Some(data.filter(|d| !d.is_empty()).ok_or(ParseError::Extra { line })?)
            }
            _ => None,
        };
        let (line, index) = lines.next().ok_or(ParseError::Index { line: if extra.is_some() { 3 } else { 2 } })?;
        let index = index.strip_prefix(INDEX_PREFIX).and_then(parse_decimal).ok_or(ParseError::Index { line })?;
        let mut proof = Vec::new();
        for (line, text) in lines {
            if proof.len() == MAX_PROOF_HASHES {
                return Err(ParseError::TooManyHashes);
            }
            let hash = decode_canonical(text).and_then(|b| Hash::try_from(b).ok());
            proof.push(hash.ok_or(ParseError::ProofHash { line })?);
        }
        let checkpoint = parse_checkpoint(note)?;
        Ok(Self { extra, index, proof, note: note.to_owned(), checkpoint })
    }

    /// Checks the proof for `entry` (the entry's bytes, as hashed into the leaf)
    /// against `policy`: the log's signature, the inclusion proof up to the signed
    /// root, and enough trusted witness cosignatures.
    pub fn verify(&self, entry: &[u8], policy: &Policy) -> Result<Verified, VerifyError> {
        let parsed = parse_note(&self.note).map_err(VerifyError::LogSignature)?;
        let mut log_key = None;
        for key in &policy.logs {
            match key.open(&self.note) {
                Ok(_) => {
                    log_key = Some(key);
                    break;
                }
                Err(NoteError::NotSigned(_)) => continue,
                Err(error) => return Err(VerifyError::LogSignature(error)),
            }
        }
        let log_key = log_key.ok_or(VerifyError::NoLogSignature)?;
        let checkpoint = &self.checkpoint;
        // Gatelog's origin is its key's name; a checkpoint of another log signed by the same key is not ours.
        if checkpoint.origin != log_key.name() {
            return Err(VerifyError::Origin { expected: log_key.name().to_owned(), found: checkpoint.origin.clone() });
        }
        let leaf = merkle::leaf_hash(entry);
        merkle::verify_inclusion(self.index, checkpoint.size, &leaf, &self.proof, &checkpoint.root)
            .map_err(VerifyError::Inclusion)?;
        let cosigned_by = cosignatures(&parsed, &policy.witnesses)?;
        if cosigned_by.len() < policy.quorum {
            return Err(VerifyError::Quorum { have: cosigned_by.len(), need: policy.quorum });
        }
        Ok(Verified {
            index: self.index,
            origin: checkpoint.origin.clone(),
            tree_size: checkpoint.size,
            root: checkpoint.root,
            leaf_hash: leaf,
            cosigned_by,
        })
    }
}

/// The signed note's text must be a tlog-checkpoint, with no empty line in it.
fn parse_checkpoint(note: &str) -> Result<Checkpoint, ParseError> {
    let parsed = parse_note(note).map_err(|e| ParseError::Checkpoint(e.to_string()))?;
    if parsed.signatures.len() > MAX_SIGNATURES {
        return Err(ParseError::TooManySignatures);
    }
    // parse_note splits at the last empty line; a checkpoint's own lines are never empty.
    if parsed.body.contains("\n\n") || parsed.body.starts_with('\n') {
        return Err(ParseError::Checkpoint("a checkpoint line is empty".into()));
    }
    // `str::lines` would let a `\r\n` through; the caller refused control characters already.
    let signature_part = &note[parsed.body.len() + 1..];
    if signature_part.split_terminator('\n').count() != parsed.signatures.len() {
        return Err(ParseError::Checkpoint("every signature line ends with one newline".into()));
    }
    Checkpoint::parse(parsed.body).map_err(|e| ParseError::Checkpoint(e.to_string()))
}

/// Each trusted witness with a valid cosignature, with its time; a line by a trusted
/// witness that does not verify refuses the whole proof.
fn cosignatures(note: &ParsedNote<'_>, witnesses: &[CosignerVerifier]) -> Result<Vec<Cosigned>, VerifyError> {
    let mut out = Vec::new();
    for witness in witnesses {
        let mut time = None;
        for line in note.signatures.iter().filter(|l| l.name == witness.name() && l.key_id == witness.key_id()) {
            let cosignature = witness.verify_line(note.body, &line.to_line()).map_err(|error| {
                VerifyError::Cosignature { witness: witness.to_string(), reason: error.to_string() }
            })?;
            time.get_or_insert(cosignature.time);
        }
        if let Some(time) = time {
            out.push(Cosigned { witness: witness.name().to_owned(), time });
        }
    }
    Ok(out)
}

fn decode_canonical(text: &str) -> Option<Vec<u8>> {
    let bytes = BASE64.decode(text).ok()?;
    // The standard engine already refuses bad padding and stray bits; this keeps one spelling.
    (BASE64.encode(&bytes) == text).then_some(bytes)
}

fn parse_decimal(text: &str) -> Option<u64> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text.len() == 1 || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// What a verifier trusts: the log's keys, the witnesses' keys, and how many of
/// those witnesses must have cosigned.
#[derive(Debug, Clone)]
pub struct Policy {
    logs: Vec<NoteVerifier>,
    witnesses: Vec<CosignerVerifier>,
    quorum: usize,
}

/// A policy that cannot be met or names nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("a policy needs at least one log key")]
    NoLogKey,
    /// More witnesses required than trusted.
    #[error("{quorum} witness cosignatures required but only {trusted} witnesses trusted")]
    Unreachable {
        /// Required.
        quorum: usize,
        /// Distinct trusted witnesses.
        trusted: usize,
    },
}

impl Policy {
    /// Trust checkpoints signed by any of `logs`, cosigned by at least `quorum` of `witnesses`.
    pub fn new(
        logs: Vec<NoteVerifier>,
        mut witnesses: Vec<CosignerVerifier>,
        quorum: usize,
    ) -> Result<Self, PolicyError> {
        if logs.is_empty() {
            return Err(PolicyError::NoLogKey);
        }
        // The same witness named twice counts once.
        let mut seen = std::collections::HashSet::new();
        witnesses.retain(|w| seen.insert(w.to_string()));
        if quorum > witnesses.len() {
            return Err(PolicyError::Unreachable { quorum, trusted: witnesses.len() });
        }
        Ok(Self { logs, witnesses, quorum })
    }
}

/// A trusted witness's cosignature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The witness's name.
    pub witness: String,
    /// When it cosigned (the time inside the cosignature).
    pub time: DateTime<Utc>,
}

/// What a verified proof establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The entry's index.
    pub index: u64,
    /// The log's origin.
    pub origin: String,
    /// The size of the checkpointed tree.
    pub tree_size: u64,
    pub root: Hash,
    /// SHA-256(0x00 ‖ entry).
    pub leaf_hash: Hash,
    /// The trusted witnesses that cosigned the checkpoint.
    pub cosigned_by: Vec<Cosigned>,
}

/// Why a well-formed proof is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No signature line by a trusted log key.
    #[error("the checkpoint carries no signature by a trusted log key")]
    NoLogSignature,
    /// A trusted log key's line does not verify.
    #[error("log signature: {0}")]
    LogSignature(NoteError),
    /// The checkpoint is of another log.
    #[error("the checkpoint's origin is {found:?}, the trusted log's is {expected:?}")]
    Origin {
        /// The trusted key's name.
        expected: String,
        /// The checkpoint's origin line.
        found: String,
    },
    /// The entry is not proven under the signed root.
    #[error("inclusion proof: {0}")]
    Inclusion(merkle::VerifyError),
    /// A trusted witness's line does not verify.
    #[error("cosignature by {witness}: {reason}")]
    Cosignature {
        /// The witness's vkey.
        witness: String,
        reason: String,
    },
    /// Too few trusted witnesses cosigned.
    #[error("{have} trusted witness cosignatures, {need} required")]
    Quorum {
        /// Valid cosignatures by distinct trusted witnesses.
        have: usize,
        /// Required by the policy.
        need: usize,
    },
}

#[cfg(test)]
mod tests;
