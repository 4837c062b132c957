//! Signed notes and checkpoints as a monitor, witness or `verify log --from-url` receives
//! them from a server it does not trust, and verifier keys as an operator pastes them.
#![no_main]

use gatelog_core::ledger::checkpoint::Checkpoint;
use gatelog_core::ledger::note::{NoteVerifier, parse_note};
use libfuzzer_sys::fuzz_target;

/// Go's documented example verifier key: any note that opens under it must carry its signature.
const VERIFIER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(note) = parse_note(text) {
        assert!(note.body.ends_with('\n'), "a note's body ends with a newline");
        assert!(!note.signatures.is_empty(), "a parsed note has signatures");
        if let Ok(checkpoint) = Checkpoint::parse(note.body) {
            // A body that parses re-serialises to the same first three lines.
            let again = Checkpoint::parse(&checkpoint.body()).expect("our own body parses");
            assert_eq!(again, checkpoint);
            assert!(note.body.starts_with(&checkpoint.body()), "extension lines only follow the three lines");
        }
    }
    let verifier = NoteVerifier::parse(VERIFIER).expect("the documented key parses");
    if let Ok(body) = verifier.open(text) {
        assert!(text.starts_with(body), "the opened body is the note's own text");
    }
    if let Ok(key) = NoteVerifier::parse(text) {
        assert_eq!(NoteVerifier::parse(&key.to_string()), Ok(key), "a verifier key round-trips");
    }
    if let Ok(checkpoint) = Checkpoint::parse(text) {
        assert_eq!(Checkpoint::parse(&checkpoint.body()), Ok(checkpoint));
    }
});
