//! The body of a C2SP `tlog-witness` `add-checkpoint` request
//! (<https://c2sp.org/tlog-witness>): `old <size>`, up to 63 base64 consistency
//! proof lines, a blank line, then the signed checkpoint note.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::ledger::merkle::Hash;

/// Most consistency proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;
/// Content type of a 409 response body: the witness's latest size and a newline.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// An `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the witness last cosigned for this log (0 if none).
    pub old_size: u64,
    /// Consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

/// Why a request body is malformed (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed add-checkpoint request: {0}")]
pub struct RequestError(pub String);

impl AddCheckpoint {
    /// The request body.
    pub fn encode(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            body.push_str(&BASE64.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.checkpoint);
        body
    }

    /// Parses a request body.
    pub fn parse(body: &str) -> Result<Self, RequestError> {
        let error = |why: &str| RequestError(why.to_owned());
        let (head, checkpoint) = body.split_once("\n\n").ok_or_else(|| error("no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old =
            lines.next().and_then(|l| l.strip_prefix("old ")).ok_or_else(|| error("the first line is 'old <size>'"))?;
        if old.is_empty() || !old.bytes().all(|b| b.is_ascii_digit()) || (old.len() > 1 && old.starts_with('0')) {
            return Err(error("the old size is a decimal number without leading zeros"));
        }
        let old_size = old.parse().map_err(|_| error("the old size does not fit in 64 bits"))?;
        let mut proof = Vec::new();
        for line in lines {
            let bytes = BASE64.decode(line).map_err(|_| error("a proof line is not base64"))?;
            proof.push(bytes.try_into().map_err(|_| error("a proof line is not a 32-byte hash"))?);
            if proof.len() > MAX_PROOF_LINES {
                return Err(error("more than 63 consistency proof lines"));
            }
        }
        if checkpoint.is_empty() {
            return Err(error("no checkpoint after the blank line"));
        }
        Ok(Self { old_size, proof, checkpoint: checkpoint.to_owned() })
    }
}

/// Reads a 409 body: the witness's latest cosigned size.
pub fn parse_size(body: &str) -> Option<u64> {
    let digits = body.strip_suffix('\n').unwrap_or(body);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_spec_example_shape_round_trips() {
        let request = AddCheckpoint {
            old_size: 20_852_014,
            proof: vec![[1u8; 32], [2u8; 32]],
            checkpoint: "example.com/behind-the-sofa\n20852163\nAAAA\n\n\u{2014} example.com/behind-the-sofa AAAA\n"
                .into(),
        };
        let body = request.encode();
        assert!(body.starts_with("old 20852014\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n"));
        assert_eq!(AddCheckpoint::parse(&body), Ok(request));
        let empty = AddCheckpoint { old_size: 0, proof: vec![], checkpoint: "x\n".into() };
        assert_eq!(empty.encode(), "old 0\n\nx\n");
        assert_eq!(AddCheckpoint::parse("old 0\n\nx\n"), Ok(empty));
    }

    #[test]
    fn malformed_requests_say_why() {
        for bad in ["", "old 1\nx\n", "old 01\n\nx\n", "new 1\n\nx\n", "old 1\nnot base64\n\nx\n", "old 1\nAAAA\n\nx\n"]
        {
            assert!(AddCheckpoint::parse(bad).is_err(), "{bad:?}");
        }
        let too_long = format!("old 1\n{}\ncheckpoint\n", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n".repeat(64));
        assert!(AddCheckpoint::parse(&too_long).is_err());
    }

    #[test]
    fn sizes_in_409_bodies() {
        assert_eq!(parse_size("42\n"), Some(42));
        assert_eq!(parse_size("0\n"), Some(0));
        assert_eq!(parse_size("forty\n"), None);
        assert_eq!(parse_size(""), None);
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,300}") {
            let _ = AddCheckpoint::parse(&text);
        }
    }
}
