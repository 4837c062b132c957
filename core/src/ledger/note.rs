//! C2SP `signed-note` with Ed25519 keys (<https://c2sp.org/signed-note>).
//!
//! A note is UTF-8 text ending in a newline, a blank line, then one line per
//! signature: `— <key name> <base64(key ID ‖ signature)>`. The key ID is the first
//! four bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key), 0x01 being the
//! Ed25519 signature type. Verifier keys are written `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`,
//! and signer keys, as Go's `golang.org/x/mod/sumdb/note` writes them, `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ seed)>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer, Verifier};
use sha2::{Digest, Sha256};

/// The signature type byte of Ed25519 keys.
const ALG_ED25519: u8 = 0x01;
/// Every signature line starts with an em dash and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// What is wrong with a key, note or signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The key text is not in the expected format.
    #[error("malformed key: {0}")]
    MalformedKey(String),
    /// The note text is not a signed note.
    #[error("malformed note: {0}")]
    MalformedNote(String),
    /// No signature by the expected key.
    #[error("the note carries no signature by key {0}")]
    NotSigned(String),
    /// A signature by the expected key does not verify.
    #[error("the signature by key {0} does not verify")]
    BadSignature(String),
}

/// A key name: non-empty, no whitespace, no `+`.
pub(crate) fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::MalformedKey(format!("key name {name:?} must be non-empty, without spaces or '+'")));
    }
    Ok(())
}

fn key_id(name: &str, public: &ed25519_dalek::VerifyingKey) -> u32 {
    typed_key_id(name, ALG_ED25519, public.as_bytes())
}

/// First four bytes of SHA-256(name ‖ 0x0A ‖ type ‖ public key), big-endian: the key
/// ID of signed-note keys (type 0x01) and of cosigner keys (type 0x04) alike.
pub(crate) fn typed_key_id(name: &str, alg: u8, public: &[u8]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', alg]);
    hasher.update(public);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// 32 bytes from the OS for a new Ed25519 key.
pub(crate) fn random_seed() -> Result<[u8; 32], NoteError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| NoteError::MalformedKey(format!("no OS randomness for a new key: {e}")))?;
    Ok(seed)
}

/// A log's signing key.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("NoteSigner").field("name", &self.name).field("vkey", &self.verifier().to_string()).finish()
    }
}

impl NoteSigner {
    /// A fresh random key with the given name.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Self { name: name.to_owned(), key: ed25519_dalek::SigningKey::from_bytes(&random_seed()?) })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| NoteError::MalformedKey("a signing key starts with PRIVATE+KEY+".into()))?;
        let (name, id, key) = split_key(rest)?;
        let bytes = decode_typed_key(key)?;
        let seed: [u8; 32] =
            bytes.try_into().map_err(|_| NoteError::MalformedKey("an Ed25519 seed is 32 bytes".into()))?;
        let signer = Self { name: name.to_owned(), key: ed25519_dalek::SigningKey::from_bytes(&seed) };
        if signer.key_id() != id {
            return Err(NoteError::MalformedKey("the key ID does not match the key".into()));
        }
        Ok(signer)
    }

    /// The key in the text form [`NoteSigner::parse`] reads.
    pub fn to_private_text(&self) -> String {
        let mut typed = vec![ALG_ED25519];
        typed.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.key_id(), BASE64.encode(typed))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID.
    pub fn key_id(&self) -> u32 {
        key_id(&self.name, &self.key.verifying_key())
    }

    /// The public half.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier { name: self.name.clone(), key: self.key.verifying_key() }
    }

    /// Signs `body` (which must end in a newline) and returns the whole note text.
    pub fn sign(&self, body: &str) -> Result<String, NoteError> {
        check_body(body)?;
        let signature = self.key.sign(body.as_bytes());
        let mut blob = self.key_id().to_be_bytes().to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!("{body}\n{SIGNATURE_PREFIX}{} {}\n", self.name, BASE64.encode(blob)))
    }
}

/// A verifier key, as published for monitors and witnesses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: ed25519_dalek::VerifyingKey,
}

impl NoteVerifier {
    /// Parses `<name>+<hex id>+<base64(0x01 ‖ public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, id, key) = split_key(text.trim())?;
        let bytes = decode_typed_key(key)?;
        let public: [u8; 32] =
            bytes.try_into().map_err(|_| NoteError::MalformedKey("an Ed25519 public key is 32 bytes".into()))?;
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|e| NoteError::MalformedKey(e.to_string()))?;
        let verifier = Self { name: name.to_owned(), key };
        if key_id(name, &verifier.key) != id {
            return Err(NoteError::MalformedKey("the key ID does not match the key".into()));
        }
        Ok(verifier)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID.
    pub fn key_id(&self) -> u32 {
        key_id(&self.name, &self.key)
    }

    /// Checks that `note` carries a valid signature by this key; returns the signed body.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let parsed = parse_note(note)?;
        let mut found = false;
        for line in &parsed.signatures {
            if line.name != self.name || line.key_id != self.key_id() {
                continue;
            }
            found = true;
            let signature = ed25519_dalek::Signature::from_slice(&line.signature)
                .map_err(|_| NoteError::BadSignature(self.to_string()))?;
            if self.key.verify(parsed.body.as_bytes(), &signature).is_ok() {
                return Ok(parsed.body);
            }
        }
        Err(if found { NoteError::BadSignature(self.to_string()) } else { NoteError::NotSigned(self.to_string()) })
    }
}

impl std::fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut typed = vec![ALG_ED25519];
        typed.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.key_id(), BASE64.encode(typed))
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLine {
    /// Key name.
    pub name: String,
    /// Key ID from the first four bytes.
    pub key_id: u32,
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

impl SignatureLine {
    /// The line as it appears in a note, without its newline.
    pub fn to_line(&self) -> String {
        let mut blob = self.key_id.to_be_bytes().to_vec();
        blob.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}", self.name, BASE64.encode(blob))
    }
}

/// A note split into its body and signature lines (signatures not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedNote<'a> {
    /// The signed text, ending in a newline.
    pub body: &'a str,
    /// Every signature line, in order.
    pub signatures: Vec<SignatureLine>,
}

/// Splits a note at its last blank line and parses the signature lines.
pub fn parse_note(note: &str) -> Result<ParsedNote<'_>, NoteError> {
    let malformed = |why: &str| NoteError::MalformedNote(why.to_owned());
    if !note.ends_with('\n') {
        return Err(malformed("a note ends with a newline"));
    }
    let split = note.rfind("\n\n").ok_or_else(|| malformed("no blank line before the signatures"))?;
    let body = &note[..=split];
    check_body(body)?;
    let mut signatures = Vec::new();
    for line in note[split + 2..].lines() {
        signatures.push(parse_signature_line(line)?);
    }
    if signatures.is_empty() {
        return Err(malformed("no signature lines"));
    }
    Ok(ParsedNote { body, signatures })
}

/// Parses one `— <name> <base64(key ID ‖ signature)>` line (without its newline).
pub fn parse_signature_line(line: &str) -> Result<SignatureLine, NoteError> {
    let malformed = |why: &str| NoteError::MalformedNote(why.to_owned());
    let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(|| malformed("a signature line starts with '— '"))?;
    let (name, blob) = rest.split_once(' ').ok_or_else(|| malformed("a signature line is '— <name> <base64>'"))?;
    check_name(name).map_err(|_| malformed("bad key name in a signature line"))?;
    let blob = BASE64.decode(blob).map_err(|_| malformed("signature is not base64"))?;
    if blob.len() < 5 {
        return Err(malformed("signature too short"));
    }
    Ok(SignatureLine {
        name: name.to_owned(),
        key_id: u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]),
        signature: blob[4..].to_vec(),
    })
}

fn check_body(body: &str) -> Result<(), NoteError> {
    if !body.ends_with('\n') {
        return Err(NoteError::MalformedNote("the text must end with a newline".into()));
    }
    if body.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::MalformedNote("the text must not contain control characters".into()));
    }
    Ok(())
}

/// Splits `<name>+<hex key ID>+<key>` (the ID not yet checked against the key).
pub(crate) fn split_key(text: &str) -> Result<(&str, u32, &str), NoteError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::MalformedKey("expected <name>+<key id>+<key>".into()));
    };
    check_name(name)?;
    if id.len() != 8 {
        return Err(NoteError::MalformedKey("the key ID is 8 hex digits".into()));
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| NoteError::MalformedKey("the key ID is 8 hex digits".into()))?;
    Ok((name, id, key))
}

fn decode_typed_key(key: &str) -> Result<Vec<u8>, NoteError> {
    let bytes = BASE64.decode(key).map_err(|_| NoteError::MalformedKey("the key is not base64".into()))?;
    match bytes.split_first() {
        Some((&ALG_ED25519, rest)) => Ok(rest.to_vec()),
        _ => Err(NoteError::MalformedKey("only Ed25519 keys (type 0x01) are supported".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example key pair of Go's `golang.org/x/mod/sumdb/note` documentation.
    const GO_SIGNER: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VERIFIER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
then you don't know what your problem is.\n\
\n\
\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn the_go_reference_keys_and_note_interoperate() {
        let signer = NoteSigner::parse(GO_SIGNER).expect("signer");
        assert_eq!(signer.verifier().to_string(), GO_VERIFIER);
        assert_eq!(signer.to_private_text(), GO_SIGNER);
        let verifier = NoteVerifier::parse(GO_VERIFIER).expect("verifier");
        let body = verifier.open(GO_NOTE).expect("the published note verifies");
        assert!(body.starts_with("If you think cryptography"));
        // Ed25519 is deterministic: signing the same text reproduces the published note.
        assert_eq!(signer.sign(body).expect("sign"), GO_NOTE);
    }

    #[test]
    fn a_changed_body_or_another_key_is_refused() {
        let signer = NoteSigner::generate("example.com/log").expect("key");
        let note = signer.sign("example.com/log\n5\nAAAA\n").expect("sign");
        let verifier = signer.verifier();
        assert!(verifier.open(&note).is_ok());
        let tampered = note.replacen("\n5\n", "\n6\n", 1);
        assert_eq!(verifier.open(&tampered), Err(NoteError::BadSignature(verifier.to_string())));
        let other = NoteSigner::generate("example.com/log").expect("key").verifier();
        assert_eq!(other.open(&note), Err(NoteError::NotSigned(other.to_string())));
    }

    #[test]
    fn malformed_keys_say_why() {
        assert!(NoteSigner::parse("nonsense").is_err());
        assert!(NoteVerifier::parse("name+zzzz+AAAA").is_err());
        let signer = NoteSigner::generate("a").expect("key");
        let wrong_id = signer.verifier().to_string().replacen('+', "+0", 1);
        assert!(NoteVerifier::parse(&wrong_id).is_err());
        assert!(NoteSigner::generate("has space").is_err());
        assert!(NoteSigner::generate("has+plus").is_err());
    }
}
