//! C2SP `tlog-checkpoint` bodies (<https://c2sp.org/tlog-checkpoint>):
//! the origin line, the tree size in decimal, the base64 root hash, each
//! ending in a newline. Wrapped in a [signed note](super::note) when published.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::merkle::Hash;

/// A tree head: which log, how many entries, what root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, e.g. `gatelog.example/ledger`.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// RFC 6962 root hash of those entries.
    pub root: Hash,
}

/// Why a checkpoint body does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed checkpoint: {0}")]
pub struct CheckpointError(pub String);

impl Checkpoint {
    /// The body text, as signed.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, BASE64.encode(self.root))
    }

    /// Parses a body (extension lines after the third are allowed and ignored).
    pub fn parse(body: &str) -> Result<Self, CheckpointError> {
        let error = |why: &str| CheckpointError(why.to_owned());
        if !body.ends_with('\n') {
            return Err(error("the body ends with a newline"));
        }
        let mut lines = body.split_terminator('\n');
        let origin = lines.next().filter(|line| !line.is_empty()).ok_or_else(|| error("missing origin line"))?;
        let size = lines.next().ok_or_else(|| error("missing tree size line"))?;
        // Decimal without sign or leading zeros, so each size has one spelling.
        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) || (size.len() > 1 && size.starts_with('0')) {
            return Err(error("the tree size is a decimal number without leading zeros"));
        }
        let size = size.parse().map_err(|_| error("the tree size does not fit in 64 bits"))?;
        let root = lines.next().ok_or_else(|| error("missing root hash line"))?;
        let root = BASE64.decode(root).map_err(|_| error("the root hash is not base64"))?;
        let root: Hash = root.try_into().map_err(|_| error("the root hash is not 32 bytes"))?;
        Ok(Self { origin: origin.to_owned(), size, root })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_body_has_the_three_lines_of_the_spec() {
        let checkpoint = Checkpoint { origin: "example.com/log".into(), size: 10, root: [0u8; 32] };
        assert_eq!(checkpoint.body(), "example.com/log\n10\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    }

    #[test]
    fn an_independent_parser_reads_our_bodies() {
        let checkpoint = Checkpoint { origin: "gatelog.example/ledger".into(), size: 1234, root: [7u8; 32] };
        let theirs = tlog_tiles::Checkpoint::from_bytes(checkpoint.body().as_bytes()).expect("tlog_tiles parses it");
        assert_eq!(theirs.origin(), "gatelog.example/ledger");
        assert_eq!(theirs.size(), 1234);
        assert_eq!(theirs.hash().0, [7u8; 32]);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for bad in [
            "",
            "origin\n",
            "origin\n01\nAAAA\n",
            "origin\n-1\nAAAA\n",
            "origin\n1\nnot base64\n",
            "origin\n1\nAAAA\n",
            "\n1\nAAAA\n",
        ] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    proptest! {
        #[test]
        fn bodies_round_trip(origin in "[a-z0-9./-]{1,40}", size in any::<u64>(), root in any::<[u8; 32]>()) {
            let checkpoint = Checkpoint { origin, size, root };
            prop_assert_eq!(Checkpoint::parse(&checkpoint.body()), Ok(checkpoint));
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,200}") {
            let _ = Checkpoint::parse(&text);
        }
    }
}
