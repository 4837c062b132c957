//! API tokens: `gl_<12 hex public id>_<40 hex secret>`. The `gl_` prefix makes a
//! leaked token easy to spot in secret scans; only SHA-256 of the whole token is
//! stored, and comparison is constant-time.

use sha2::{Digest, Sha256};

/// Every token starts with this.
pub const TOKEN_PREFIX: &str = "gl_";

/// A freshly issued token: the text (shown once) and what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The whole token, to hand to the provider.
    pub token: String,
    /// `gl_<id>`, stored and shown in lists.
    pub public_id: String,
    /// SHA-256 of the whole token.
    pub secret_hash: [u8; 32],
}

/// Why a presented token is not even shaped like one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a Gatelog token (expected gl_<id>_<secret>)")]
pub struct MalformedToken;

/// Issues a new random token.
pub fn issue() -> Result<IssuedToken, getrandom::Error> {
    let mut bytes = [0u8; 26];
    getrandom::fill(&mut bytes)?;
    let public_id = format!("{TOKEN_PREFIX}{}", hex::encode(&bytes[..6]));
    let token = format!("{public_id}_{}", hex::encode(&bytes[6..]));
    let secret_hash = hash(&token);
    Ok(IssuedToken { token, public_id, secret_hash })
}

/// SHA-256 of a token.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The public id of a presented token, checking its shape.
pub fn public_id(token: &str) -> Result<&str, MalformedToken> {
    let rest = token.strip_prefix(TOKEN_PREFIX).ok_or(MalformedToken)?;
    let (id, secret) = rest.split_once('_').ok_or(MalformedToken)?;
    let hex_of =
        |text: &str, len: usize| text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !hex_of(id, 12) || !hex_of(secret, 40) {
        return Err(MalformedToken);
    }
    Ok(&token[..TOKEN_PREFIX.len() + 12])
}

/// Compares a presented token with a stored hash in constant time.
pub fn matches(token: &str, stored: &[u8]) -> bool {
    let presented = hash(token);
    stored.len() == presented.len() && stored.iter().zip(presented.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_are_recognisable_and_verify() {
        let issued = issue().expect("randomness");
        assert!(issued.token.starts_with("gl_"));
        assert_eq!(issued.token.len(), 3 + 12 + 1 + 40);
        assert_eq!(public_id(&issued.token), Ok(issued.public_id.as_str()));
        assert!(matches(&issued.token, &issued.secret_hash));
        let mut wrong = issued.token.clone();
        wrong.replace_range(wrong.len() - 1.., if wrong.ends_with('0') { "1" } else { "0" });
        assert!(!matches(&wrong, &issued.secret_hash));
        assert_ne!(issue().expect("randomness").token, issued.token);
    }

    #[test]
    fn malformed_tokens_are_refused_before_any_lookup() {
        for bad in [
            "",
            "gl_",
            "Bearer x",
            "gl_zzzzzzzzzzzz_0000000000000000000000000000000000000000",
            "gl_0123456789ab_short",
            "xx_0123456789ab_0000000000000000000000000000000000000000",
        ] {
            assert_eq!(public_id(bad), Err(MalformedToken), "{bad}");
        }
    }
}
