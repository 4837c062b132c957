//! Provider-signed records: a provider may sign each record it files with its
//! own Ed25519 key, so that an entry shows not only that a holder of the
//! provider's API token submitted it, but that the provider itself vouches for it.
//!
//! What is signed is the domain-separation line `gatelog-record/v1\n` followed by
//! the RFC 8785 canonical JSON of the record *as validated* (every field the way
//! Gatelog normalises it, decimals as strings), with its `kind` and the
//! `provider` slug added:
//!
//! ```text
//! gatelog-record/v1\n{"as_of":"2026-11-01","kind":"capacity","newcomer_set_aside":8,"provider":"nordic-hpc",...}
//! ```
//!
//! Keys are C2SP signed-note Ed25519 keys (`<name>+<hex id>+<base64(0x01 ‖ key)>`,
//! see [`crate::ledger::note`]) whose name is the provider's slug, so a key can
//! only ever vouch for its own provider's records.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::Signer;
use serde_json::Value;

use super::{Record, Slug};
use crate::ledger::note::{NoteSigner, NoteVerifier};

/// The line every signed message starts with, so a record signature can never be
/// mistaken for (or replayed as) a signature over anything else.
pub const DOMAIN: &str = "gatelog-record/v1\n";

/// Why a signature or key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not base64 of 64 bytes.
    #[error("must be the base64 of a 64-byte Ed25519 signature")]
    Malformed,
    /// The key text is not an Ed25519 signed-note verifier key.
    #[error("not an Ed25519 verifier key (<name>+<hex id>+<base64 key>): {0}")]
    Key(String),
    /// The key is named for someone else.
    #[error("the key is named {key:?}, but the record is {provider}'s: a provider's key must be named by its slug")]
    WrongName {
        /// The key's name.
        key: String,
        provider: String,
    },
    /// A well-formed signature that does not verify.
    #[error("does not verify against key {0} (sign the record as validated, with its kind and provider)")]
    Invalid(String),
    /// The record could not be written as canonical JSON.
    #[error("the record has no canonical form: {0}")]
    Canonical(String),
}

/// An Ed25519 signature over a record.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordSignature([u8; 64]);

impl RecordSignature {
    /// Parses the base64 text form (standard alphabet, padded).
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let bytes = BASE64.decode(text.trim()).map_err(|_| SignatureError::Malformed)?;
        Ok(Self(bytes.try_into().map_err(|_| SignatureError::Malformed)?))
    }

    /// The base64 text form.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }
}

impl fmt::Debug for RecordSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordSignature({})", self.to_base64())
    }
}

/// The bytes a record's signature covers: [`DOMAIN`], then the canonical JSON of
/// `record` (the entry form: its fields without `kind`) with `kind` and `provider` added.
pub fn message(provider: &Slug, kind: &str, record: &Value) -> Result<Vec<u8>, SignatureError> {
    let Value::Object(fields) = record else {
        return Err(SignatureError::Canonical("a record is a JSON object".into()));
    };
    let mut signed = fields.clone();
    signed.insert("kind".into(), Value::String(kind.to_owned()));
    signed.insert("provider".into(), Value::String(provider.to_string()));
    let canonical = serde_json_canonicalizer::to_vec(&Value::Object(signed))
        .map_err(|e| SignatureError::Canonical(e.to_string()))?;
    let mut bytes = DOMAIN.as_bytes().to_vec();
    bytes.extend_from_slice(&canonical);
    Ok(bytes)
}

/// A provider's public key, as registered and as written into entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderKey {
    note: NoteVerifier,
    public: ed25519_dalek::VerifyingKey,
}

impl ProviderKey {
    /// Parses a signed-note verifier key (`<name>+<hex id>+<base64(0x01 ‖ key)>`).
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let text = text.trim();
        let note = NoteVerifier::parse(text).map_err(|e| SignatureError::Key(e.to_string()))?;
        // NoteVerifier checked the shape, type byte and key ID; the raw key is the part after the second '+'.
        let encoded = text.splitn(3, '+').nth(2).unwrap_or_default();
        let public = raw_key(encoded)?;
        let public =
            ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|e| SignatureError::Key(e.to_string()))?;
        Ok(Self { note, public })
    }

    /// Parses a key that must belong to `provider` (its name is the provider's slug).
    pub fn for_provider(text: &str, provider: &Slug) -> Result<Self, SignatureError> {
        let key = Self::parse(text)?;
        key.check_owner(provider)?;
        Ok(key)
    }

    /// Refuses the key unless it is named `provider`.
    pub fn check_owner(&self, provider: &Slug) -> Result<(), SignatureError> {
        if self.name() != provider.as_str() {
            return Err(SignatureError::WrongName { key: self.name().to_owned(), provider: provider.to_string() });
        }
        Ok(())
    }

    /// The key's name (a provider slug, for keys that pass [`ProviderKey::for_provider`]).
    pub fn name(&self) -> &str {
        self.note.name()
    }

    /// `<name>+<hex id>`: short enough to show, enough to tell keys apart.
    pub fn label(&self) -> String {
        format!("{}+{:08x}", self.name(), self.note.key_id())
    }

    /// Checks `signature` over `provider`'s `record` of `kind` (entry form, without `kind`).
    /// The key must be named `provider`.
    pub fn verify(
        &self,
        provider: &Slug,
        kind: &str,
        record: &Value,
        signature: &RecordSignature,
    ) -> Result<(), SignatureError> {
        self.check_owner(provider)?;
        let message = message(provider, kind, record)?;
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        // verify_strict refuses the malleable and small-order edge cases plain verify lets through.
        self.public.verify_strict(&message, &signature).map_err(|_| SignatureError::Invalid(self.label()))
    }
}

impl fmt::Display for ProviderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.note.fmt(f)
    }
}

/// A provider's private key, for signing records before they are submitted.
pub struct RecordSigner {
    provider: Slug,
    key: ed25519_dalek::SigningKey,
    public: ProviderKey,
}

impl fmt::Debug for RecordSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key.
        f.debug_struct("RecordSigner").field("vkey", &self.public.to_string()).finish()
    }
}

impl RecordSigner {
    /// Uses a signed-note signing key (as `gatelog provider keygen` writes it) whose name is a provider slug.
    pub fn new(signer: &NoteSigner) -> Result<Self, SignatureError> {
        let provider = Slug::parse(signer.name()).map_err(|e| {
            SignatureError::Key(format!("the key name {:?} is not a provider slug: {e}", signer.name()))
        })?;
        // The seed is only reachable through the key's text form: `PRIVATE+KEY+<name>+<id>+<base64(0x01 ‖ seed)>`.
        let text = signer.to_private_text();
        let seed = raw_key(text.splitn(5, '+').nth(4).unwrap_or_default())?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let public = ProviderKey::parse(&signer.verifier().to_string())?;
        Ok(Self { provider, key, public })
    }

    /// The provider this key signs for.
    pub fn provider(&self) -> &Slug {
        &self.provider
    }

    /// The public key to register with `gatelog provider key add`.
    pub fn public_key(&self) -> &ProviderKey {
        &self.public
    }

    /// Signs `provider`'s record; refuses to sign for another provider than the key's.
    pub fn sign(&self, provider: &Slug, record: &Record) -> Result<RecordSignature, SignatureError> {
        self.public.check_owner(provider)?;
        let message = message(provider, record.kind().as_str(), &record.to_json())?;
        Ok(RecordSignature(self.key.sign(&message).to_bytes()))
    }
}

/// Decodes `base64(0x01 ‖ 32 bytes)`.
fn raw_key(encoded: &str) -> Result<[u8; 32], SignatureError> {
    let bytes = BASE64.decode(encoded).map_err(|_| SignatureError::Key("the key is not base64".into()))?;
    match bytes.split_first() {
        Some((0x01, rest)) => rest.try_into().map_err(|_| SignatureError::Key("an Ed25519 key is 32 bytes".into())),
        _ => Err(SignatureError::Key("only Ed25519 keys (type 0x01) are supported".into())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sha2::{Digest, Sha256};

    use super::*;

    /// A signing key from a fixed seed, written as signed-note text and read back
    /// (so its key ID is checked by [`NoteSigner::parse`]).
    fn signer_from_seed(name: &str, seed: [u8; 32]) -> NoteSigner {
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        let mut hasher = Sha256::new();
        hasher.update(name.as_bytes());
        hasher.update([b'\n', 0x01]);
        hasher.update(public.as_bytes());
        let digest = hasher.finalize();
        let id = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        let mut typed = vec![0x01];
        typed.extend_from_slice(&seed);
        NoteSigner::parse(&format!("PRIVATE+KEY+{name}+{id:08x}+{}", BASE64.encode(typed))).expect("signer")
    }

    fn capacity() -> Record {
        Record::parse(json!({"kind": "capacity", "as_of": "2026-11-01", "resource": "nvidia-h100-80gb",
            "region": "eu-fi", "total_accelerators": 512, "newcomer_set_aside": 32, "utilisation": "0.80"}))
        .expect("valid record")
    }

    fn slug(text: &str) -> Slug {
        Slug::parse(text).expect("slug")
    }

    #[test]
    fn a_signed_record_verifies_with_its_key() {
        let signer = RecordSigner::new(&NoteSigner::generate("nordic-hpc").expect("key")).expect("signer");
        let record = capacity();
        let signature = signer.sign(&slug("nordic-hpc"), &record).expect("sign");
        let key = ProviderKey::for_provider(&signer.public_key().to_string(), &slug("nordic-hpc")).expect("key");
        key.verify(&slug("nordic-hpc"), "capacity", &record.to_json(), &signature).expect("verifies");
        let reparsed = RecordSignature::parse(&signature.to_base64()).expect("round trip");
        assert_eq!(reparsed, signature);
    }

    #[test]
    fn a_changed_field_kind_or_provider_fails() {
        let signer = RecordSigner::new(&NoteSigner::generate("nordic-hpc").expect("key")).expect("signer");
        let record = capacity();
        let signature = signer.sign(&slug("nordic-hpc"), &record).expect("sign");
        let key = signer.public_key();
        let mut tampered = record.to_json();
        tampered["total_accelerators"] = json!(513);
        assert!(matches!(
            key.verify(&slug("nordic-hpc"), "capacity", &tampered, &signature),
            Err(SignatureError::Invalid(_))
        ));
        assert!(matches!(
            key.verify(&slug("nordic-hpc"), "price", &record.to_json(), &signature),
            Err(SignatureError::Invalid(_))
        ));
        let mut flipped = signature.0;
        flipped[10] ^= 1;
        assert!(key.verify(&slug("nordic-hpc"), "capacity", &record.to_json(), &RecordSignature(flipped)).is_err());
    }

    #[test]
    fn another_key_of_the_same_name_fails() {
        let record = capacity();
        let signer = RecordSigner::new(&NoteSigner::generate("nordic-hpc").expect("key")).expect("signer");
        let signature = signer.sign(&slug("nordic-hpc"), &record).expect("sign");
        let other = RecordSigner::new(&NoteSigner::generate("nordic-hpc").expect("key")).expect("signer");
        assert_eq!(
            other.public_key().verify(&slug("nordic-hpc"), "capacity", &record.to_json(), &signature),
            Err(SignatureError::Invalid(other.public_key().label()))
        );
    }

    #[test]
    fn a_key_named_for_another_provider_is_refused() {
        let signer = RecordSigner::new(&NoteSigner::generate("nimbus-gpu").expect("key")).expect("signer");
        let wrong = SignatureError::WrongName { key: "nimbus-gpu".into(), provider: "nordic-hpc".into() };
        assert_eq!(signer.sign(&slug("nordic-hpc"), &capacity()).expect_err("refused"), wrong);
        let vkey = signer.public_key().to_string();
        assert_eq!(ProviderKey::for_provider(&vkey, &slug("nordic-hpc")).expect_err("refused"), wrong);
        // Even a valid signature by nimbus-gpu's key does not count for nordic-hpc's record.
        let signature = signer.sign(&slug("nimbus-gpu"), &capacity()).expect("sign");
        assert_eq!(
            signer.public_key().verify(&slug("nordic-hpc"), "capacity", &capacity().to_json(), &signature),
            Err(wrong)
        );
        // And a key whose name is no slug cannot sign records at all.
        assert!(RecordSigner::new(&NoteSigner::generate("example.com/log").expect("key")).is_err());
    }

    #[test]
    fn malformed_signatures_and_keys_are_refused() {
        assert_eq!(RecordSignature::parse("not base64!"), Err(SignatureError::Malformed));
        assert_eq!(RecordSignature::parse(&BASE64.encode([0u8; 63])), Err(SignatureError::Malformed));
        assert!(matches!(ProviderKey::parse("nordic-hpc+00000000+AAAA"), Err(SignatureError::Key(_))));
    }

    /// A known answer, checked here with ed25519-dalek directly over the message
    /// bytes exactly as the module documentation spells them.
    #[test]
    fn known_answer_over_the_documented_bytes() {
        let note = signer_from_seed("nordic-hpc", [0x42; 32]);
        let signer = RecordSigner::new(&note).expect("signer");
        let signature = signer.sign(&slug("nordic-hpc"), &capacity()).expect("sign");
        let documented = concat!(
            "gatelog-record/v1\n",
            r#"{"as_of":"2026-11-01","kind":"capacity","newcomer_set_aside":32,"provider":"nordic-hpc","#,
            r#""region":"eu-fi","resource":"nvidia-h100-80gb","total_accelerators":512,"utilisation":"0.8"}"#
        );
        // As validated: the "0.80" submitted is the decimal 0.8, written "0.8".
        let bytes = message(&slug("nordic-hpc"), "capacity", &capacity().to_json()).expect("message");
        assert_eq!(String::from_utf8(bytes).expect("utf8"), documented);
        assert_eq!(signer.public_key().to_string(), KAT_VKEY);
        assert_eq!(signature.to_base64(), KAT_SIGNATURE);
        let public = ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]).verifying_key();
        let bytes: [u8; 64] = BASE64.decode(KAT_SIGNATURE).expect("base64").try_into().expect("64 bytes");
        public.verify_strict(documented.as_bytes(), &ed25519_dalek::Signature::from_bytes(&bytes)).expect("verifies");
    }

    /// Seed 0x42 × 32, key name `nordic-hpc`. The signature was also computed independently
    /// (Python `cryptography`, Ed25519 over the documented bytes) and agrees.
    const KAT_VKEY: &str = "nordic-hpc+77e74366+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS";
    const KAT_SIGNATURE: &str =
        "gmvOVJdffJhJ0mHSnC5ClKgexvIiMS/qjIzh5qiAXQDOHkYlMdHW89YNxgI0xwozA7XHoi4lPVtVzfwn5aDrBA==";
}
