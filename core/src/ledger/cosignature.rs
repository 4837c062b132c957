//! C2SP `tlog-cosignature` v1 with Ed25519 (<https://c2sp.org/tlog-cosignature>).
//!
//! A cosignature is a signed-note signature line by a witness over a checkpoint.
//! Its key ID uses signature type 0x04, and the signed message is
//! `cosignature/v1\ntime <T>\n` followed by the checkpoint body; the signature blob
//! is key ID (4 bytes) ‖ timestamp T (8 bytes, big-endian) ‖ Ed25519 signature.
//! Keys: verifier `<name>+<hex id>+<base64(0x04 ‖ public key)>`, and — as a Gatelog
//! convention for its own test and reference witness — private
//! `PRIVATE+KEY+<name>+<hex id>+<base64(0x04 ‖ seed)>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer, Verifier};

use crate::ledger::note::{NoteError, SignatureLine, check_name, parse_note, random_seed, split_key, typed_key_id};

/// The signature type byte of Ed25519 cosigner keys.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The message a cosignature signs.
pub fn signed_message(checkpoint_body: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{checkpoint_body}")
}

fn decode_cosigner_key(key: &str) -> Result<[u8; 32], NoteError> {
    let bytes = BASE64.decode(key).map_err(|_| NoteError::MalformedKey("the key is not base64".into()))?;
    match bytes.split_first() {
        Some((&ALG_COSIGNATURE_V1, rest)) => rest
            .try_into()
            .map_err(|_| NoteError::MalformedKey("an Ed25519 cosigner key is 32 bytes after its type byte".into())),
        Some((other, _)) => Err(NoteError::MalformedKey(format!(
            "a witness key has type 0x04 (cosignature/v1, Ed25519); this one has type 0x{other:02x}"
        ))),
        None => Err(NoteError::MalformedKey("the key is empty".into())),
    }
}

/// A witness's signing key.
#[derive(Clone)]
pub struct CosignerKey {
    name: String,
    key: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("CosignerKey").field("vkey", &self.verifier().to_string()).finish()
    }
}

impl CosignerKey {
    /// A fresh random key named `name` (a schema-less URL, say `witness.example/w1`).
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Self::from_seed(name, random_seed()?))
    }

    /// A key from a known seed (tests and known-answer vectors).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Self {
        Self { name: name.to_owned(), key: ed25519_dalek::SigningKey::from_bytes(&seed) }
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x04 ‖ seed)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| NoteError::MalformedKey("a witness signing key starts with PRIVATE+KEY+".into()))?;
        let (name, id, key) = split_key(rest)?;
        let key = Self::from_seed(name, decode_cosigner_key(key)?);
        if key.verifier().key_id() != id {
            return Err(NoteError::MalformedKey("the key ID does not match the key".into()));
        }
        Ok(key)
    }

    /// The text form [`CosignerKey::parse`] reads.
    pub fn to_private_text(&self) -> String {
        let mut typed = vec![ALG_COSIGNATURE_V1];
        typed.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.verifier().key_id(), BASE64.encode(typed))
    }

    /// The public half, as logs configure it.
    pub fn verifier(&self) -> CosignerVerifier {
        CosignerVerifier { name: self.name.clone(), key: self.key.verifying_key() }
    }

    /// Cosigns a checkpoint body at `time`; returns the signature line (no newline).
    pub fn cosign(&self, checkpoint_body: &str, time: DateTime<Utc>) -> String {
        let timestamp = u64::try_from(time.timestamp()).unwrap_or(0);
        let signature = self.key.sign(signed_message(checkpoint_body, timestamp).as_bytes());
        let mut blob = timestamp.to_be_bytes().to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        SignatureLine { name: self.name.clone(), key_id: self.verifier().key_id(), signature: blob }.to_line()
    }
}

/// A witness's public key, as a log or a client is configured with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignerVerifier {
    name: String,
    key: ed25519_dalek::VerifyingKey,
}

/// Why a cosignature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    /// The line is not a signature line.
    #[error(transparent)]
    Malformed(#[from] NoteError),
    /// The line is by another key.
    #[error("the cosignature is by {0}, not by this witness")]
    OtherKey(String),
    /// The blob is not timestamp ‖ 64-byte signature.
    #[error("a cosignature/v1 signature is 72 bytes (timestamp and Ed25519 signature), this one is {0}")]
    WrongLength(usize),
    /// The timestamp is beyond 2^63 - 1.
    #[error("the cosignature's timestamp is out of range")]
    BadTime,
    /// The signature does not verify over this checkpoint.
    #[error("the cosignature by {0} does not verify over this checkpoint")]
    BadSignature(String),
}

/// A verified cosignature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    /// The signature line as served (no newline).
    pub line: String,
    /// When the witness signed.
    pub time: DateTime<Utc>,
}

impl CosignerVerifier {
    /// Parses `<name>+<hex id>+<base64(0x04 ‖ public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, id, key) = split_key(text.trim())?;
        let public = decode_cosigner_key(key)?;
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|e| NoteError::MalformedKey(e.to_string()))?;
        let verifier = Self { name: name.to_owned(), key };
        if verifier.key_id() != id {
            return Err(NoteError::MalformedKey("the key ID does not match the key".into()));
        }
        Ok(verifier)
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID (signature type 0x04).
    pub fn key_id(&self) -> u32 {
        typed_key_id(&self.name, ALG_COSIGNATURE_V1, self.key.as_bytes())
    }

    /// Checks one signature line over `checkpoint_body`.
    pub fn verify_line(&self, checkpoint_body: &str, line: &str) -> Result<Cosignature, CosignatureError> {
        let parsed = crate::ledger::note::parse_signature_line(line.trim_end_matches('\n'))?;
        if parsed.name != self.name || parsed.key_id != self.key_id() {
            return Err(CosignatureError::OtherKey(format!("{}+{:08x}", parsed.name, parsed.key_id)));
        }
        if parsed.signature.len() != 72 {
            return Err(CosignatureError::WrongLength(parsed.signature.len()));
        }
        let (time, signature) = parsed.signature.split_at(8);
        let timestamp = u64::from_be_bytes(time.try_into().map_err(|_| CosignatureError::WrongLength(0))?);
        let seconds = i64::try_from(timestamp).map_err(|_| CosignatureError::BadTime)?;
        let time = DateTime::from_timestamp(seconds, 0).ok_or(CosignatureError::BadTime)?;
        let signature = ed25519_dalek::Signature::from_slice(signature)
            .map_err(|_| CosignatureError::BadSignature(self.to_string()))?;
        self.key
            .verify(signed_message(checkpoint_body, timestamp).as_bytes(), &signature)
            .map_err(|_| CosignatureError::BadSignature(self.to_string()))?;
        Ok(Cosignature { line: parsed.to_line(), time })
    }

    /// The first valid cosignature by this witness among a note's signature lines.
    pub fn find_in(&self, note: &str) -> Option<Cosignature> {
        let parsed = parse_note(note).ok()?;
        parsed.signatures.iter().find_map(|line| self.verify_line(parsed.body, &line.to_line()).ok())
    }
}

impl std::fmt::Display for CosignerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut typed = vec![ALG_COSIGNATURE_V1];
        typed.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.key_id(), BASE64.encode(typed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use sha2::{Digest, Sha256};

    const BODY: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn the_key_id_and_message_follow_the_spec_byte_for_byte() {
        let key = CosignerKey::from_seed("witness.example/w1", [7u8; 32]);
        let public = key.key.verifying_key();
        // Key ID computed here from the spec's formula, independently of typed_key_id.
        let digest = Sha256::digest([b"witness.example/w1\n\x04".as_slice(), public.as_bytes()].concat());
        assert_eq!(key.verifier().key_id(), u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]));

        let time = Utc.timestamp_opt(1_679_315_147, 0).single().expect("time");
        let line = key.cosign(BODY, time);
        let blob = BASE64.decode(line.rsplit(' ').next().expect("blob")).expect("base64");
        assert_eq!(blob.len(), 4 + 8 + 64);
        assert_eq!(&blob[4..12], &1_679_315_147u64.to_be_bytes());
        // The signed message is the spec's example text: header, time line, then the body.
        let message = format!("cosignature/v1\ntime 1679315147\n{BODY}");
        let signature = ed25519_dalek::Signature::from_slice(&blob[12..]).expect("signature");
        public.verify(message.as_bytes(), &signature).expect("ed25519-dalek verifies the spec's message");
        let verified = key.verifier().verify_line(BODY, &line).expect("verifies");
        assert_eq!(verified.time, time);
    }

    #[test]
    fn keys_round_trip_and_refuse_other_types() {
        let key = CosignerKey::generate("witness.example/w2").expect("key");
        let again = CosignerKey::parse(&key.to_private_text()).expect("private key parses");
        assert_eq!(again.verifier(), key.verifier());
        let vkey = key.verifier().to_string();
        assert_eq!(CosignerVerifier::parse(&vkey), Ok(key.verifier()));
        // A log's own (type 0x01) vkey is not a witness key.
        let log = crate::ledger::note::NoteSigner::generate("log.example").expect("log key");
        let error = CosignerVerifier::parse(&log.verifier().to_string()).expect_err("type 0x01 refused");
        assert!(error.to_string().contains("type 0x04"), "{error}");
    }

    #[test]
    fn a_cosignature_over_another_checkpoint_or_by_another_key_fails() {
        let key = CosignerKey::generate("w.example/a").expect("key");
        let line = key.cosign(BODY, Utc::now());
        let other_body = BODY.replace("20852163", "20852164");
        assert!(matches!(key.verifier().verify_line(&other_body, &line), Err(CosignatureError::BadSignature(_))));
        let stranger = CosignerKey::generate("w.example/a").expect("key").verifier();
        assert!(matches!(stranger.verify_line(BODY, &line), Err(CosignatureError::OtherKey(_))));
    }

    #[test]
    fn a_cosigned_note_is_found_among_the_log_signature() {
        let log = crate::ledger::note::NoteSigner::generate("example.com/behind-the-sofa").expect("log key");
        let note = log.sign(BODY).expect("sign");
        let witness = CosignerKey::generate("w.example/b").expect("key");
        let cosigned = format!("{note}{}\n", witness.cosign(BODY, Utc::now()));
        assert!(witness.verifier().find_in(&cosigned).is_some());
        assert!(witness.verifier().find_in(&note).is_none());
        // The log's signature still verifies on the cosigned note.
        assert!(log.verifier().open(&cosigned).is_ok());
    }
}
