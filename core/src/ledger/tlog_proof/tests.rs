//! `tlog-proof@v1`: the spec's line forms byte for byte, strict refusals, round trips,
//! verification against policies, and an independent verifier (`tlog_tiles`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::ledger::cosignature::CosignerKey;
use crate::ledger::merkle::{leaf_hash, node_hash};
use crate::ledger::note::NoteSigner;

const ORIGIN: &str = "test.gatelog.invalid/log";

/// RFC 6962 §2.1 MTH, written from the RFC's recursion (not the production code's plan).
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => merkle::empty_root(),
        1 => leaves[0],
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// RFC 6962 §2.1.1 PATH(m, D[n]), leaf side first.
fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let n = leaves.len();
    let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

fn entries(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("entry {i}").into_bytes()).collect()
}

/// A log key named `name` from a fixed seed, so tests are reproducible.
fn signer(name: &str) -> NoteSigner {
    let seed = [1u8; 32];
    let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    let id = crate::ledger::note::typed_key_id(name, 0x01, public.as_bytes());
    let typed = [[1u8].as_slice(), &seed].concat();
    NoteSigner::parse(&format!("PRIVATE+KEY+{name}+{id:08x}+{}", BASE64.encode(typed))).expect("log key")
}

fn log_key() -> NoteSigner {
    signer(ORIGIN)
}

fn witness(n: u8) -> CosignerKey {
    CosignerKey::from_seed(&format!("witness{n}.test/w"), [10 + n; 32])
}

/// A signed checkpoint over `leaves`, cosigned by `witnesses`.
fn note(log: &NoteSigner, leaves: &[Hash], witnesses: &[CosignerKey]) -> String {
    let body = Checkpoint { origin: log.name().to_owned(), size: leaves.len() as u64, root: mth(leaves) }.body();
    let mut note = log.sign(&body).expect("sign");
    let time = Utc.timestamp_opt(1_790_000_000, 0).single().expect("time");
    for w in witnesses {
        note.push_str(&w.cosign(&body, time));
        note.push('\n');
    }
    note
}

/// A proof for entry `index` of a log of `n` entries.
fn fixture(n: usize, index: usize, witnesses: &[CosignerKey]) -> (TlogProof, Vec<u8>) {
    let data = entries(n);
    let leaves: Vec<Hash> = data.iter().map(|e| leaf_hash(e)).collect();
    let proof =
        TlogProof::new(index as u64, path(index, &leaves), &note(&log_key(), &leaves, witnesses)).expect("proof");
    (proof, data[index].clone())
}

fn policy(witnesses: &[CosignerKey], quorum: usize) -> Policy {
    Policy::new(vec![log_key().verifier()], witnesses.iter().map(CosignerKey::verifier).collect(), quorum)
        .expect("policy")
}

#[test]
fn the_text_has_the_specs_lines_in_order_and_ends_in_one_newline() {
    let (proof, _) = fixture(6, 5, &[witness(1)]);
    let hashes: Vec<String> = proof.proof().iter().map(|h| BASE64.encode(h)).collect();
    assert_eq!(hashes.len(), 2);
    let expected = format!("c2sp.org/tlog-proof@v1\nindex 5\n{}\n{}\n\n{}", hashes[0], hashes[1], proof.note());
    let text = proof.to_text();
    assert_eq!(text, expected);
    // The checkpoint part: origin, size, root, empty line, the log's line, the witness's line.
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines[0], "c2sp.org/tlog-proof@v1");
    assert_eq!(lines[1], "index 5");
    assert!(lines[2..4].iter().all(|l| l.len() == 44 && l.ends_with('=')));
    assert_eq!(lines[4], "");
    assert_eq!(lines[5], ORIGIN);
    assert_eq!(lines[6], "6");
    assert_eq!(BASE64.decode(lines[7]).expect("root").len(), 32);
    assert_eq!(lines[8], "");
    assert!(lines[9].starts_with(&format!("\u{2014} {ORIGIN} ")));
    assert!(lines[10].starts_with("\u{2014} witness1.test/w "));
    assert_eq!(lines[11], "", "the file ends with exactly one newline");
    assert_eq!(lines.len(), 12);
    assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
}

#[test]
fn the_extra_line_is_second_and_absent_without_extra_data() {
    let (proof, entry) = fixture(3, 0, &[]);
    assert!(!proof.to_text().contains("extra"));
    let with = proof.clone().with_extra(entry.clone()).expect("extra");
    let text = with.to_text();
    assert_eq!(text.split('\n').nth(1), Some(format!("extra {}", BASE64.encode(&entry)).as_str()));
    assert_eq!(text.split('\n').nth(2), Some("index 0"));
    assert_eq!(TlogProof::parse(&text), Ok(with.clone()));
    assert_eq!(with.extra(), Some(entry.as_slice()));
    assert_eq!(proof.with_extra(Vec::new()), Err(ParseError::Extra { line: 2 }));
}

#[test]
fn a_one_entry_log_has_no_proof_lines() {
    let (proof, entry) = fixture(1, 0, &[]);
    let text = proof.to_text();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 0\n\ntest.gatelog.invalid/log\n1\n"), "{text}");
    let parsed = TlogProof::parse(&text).expect("parses");
    assert!(parsed.proof().is_empty());
    parsed.verify(&entry, &policy(&[], 0)).expect("verifies");
}

/// The spec's own example, its elided signatures replaced by well-formed ones: the
/// proof part (extra, index 73894, five hashes) and the checkpoint text are its.
#[test]
fn the_specs_example_parses_and_formats_back_byte_for_byte() {
    let head = "c2sp.org/tlog-proof@v1\n\
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n\
index 73894\n\
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n\
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n\
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n\
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n\
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n\n";
    let body = "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n";
    let log = NoteSigner::generate("example.com/fancylog").expect("key");
    let mut note = log.sign(body).expect("sign");
    for w in 1..=3 {
        note.push_str(&witness(w).cosign(body, Utc::now()));
        note.push('\n');
    }
    let text = format!("{head}{note}");
    let parsed = TlogProof::parse(&text).expect("the spec's example parses");
    assert_eq!(parsed.index(), 73894);
    assert_eq!(parsed.proof().len(), 5);
    assert_eq!(parsed.checkpoint().size, 109482);
    assert!(parsed.extra().is_some_and(|e| e.starts_with(b"age-v1.2.1-darwin-arm64.tar.gz")));
    assert_eq!(parsed.to_text(), text);
}

#[test]
fn malformed_texts_are_refused_with_the_line_at_fault() {
    let (proof, entry) = fixture(5, 2, &[witness(1)]);
    let good = proof.clone().with_extra(entry).expect("extra").to_text();
    let lines: Vec<&str> = good.split('\n').collect();
    let with_line = |at: usize, replacement: &str| {
        let mut l = lines.clone();
        l[at] = replacement;
        l.join("\n")
    };
    let hash31 = BASE64.encode([0u8; 31]);
    let cases: Vec<(String, ParseError)> = vec![
        (good.replace("@v1", "@v2"), ParseError::Header),
        (format!("\n{good}"), ParseError::Header),
        (with_line(1, "extra "), ParseError::Extra { line: 2 }),
        (with_line(1, "extra AAA"), ParseError::Extra { line: 2 }),
        (with_line(1, "extra AB=="), ParseError::Extra { line: 2 }), // stray bits: not canonical
        (with_line(1, "extra  AAAA"), ParseError::Extra { line: 2 }),
        (with_line(1, "extras AAAA"), ParseError::Extra { line: 2 }),
        (with_line(2, "index 02"), ParseError::Index { line: 3 }),
        (with_line(2, "index -2"), ParseError::Index { line: 3 }),
        (with_line(2, "index +2"), ParseError::Index { line: 3 }),
        (with_line(2, "index  2"), ParseError::Index { line: 3 }),
        (with_line(2, "index 2 "), ParseError::Index { line: 3 }),
        (with_line(2, "Index 2"), ParseError::Index { line: 3 }),
        (with_line(2, "index"), ParseError::Index { line: 3 }),
        (with_line(2, "index 18446744073709551616"), ParseError::Index { line: 3 }),
        (with_line(3, &hash31), ParseError::ProofHash { line: 4 }),
        (with_line(3, "index 2"), ParseError::ProofHash { line: 4 }),
        (with_line(3, &lines[3].replace('=', "")), ParseError::ProofHash { line: 4 }),
        (with_line(3, &format!("{} ", lines[3])), ParseError::ProofHash { line: 4 }),
        (good.replacen("index 2\n", "", 1), ParseError::Index { line: 3 }),
        (good.replace('\n', "\r\n"), ParseError::ControlCharacter { line: 1 }),
        (good.replacen("index 2", "index\t2", 1), ParseError::ControlCharacter { line: 3 }),
        (good.replacen("\n\n", "\n", 1), ParseError::ProofHash { line: 7 }),
        (good.replacen("\n\n", "\n\n\n", 1), ParseError::Checkpoint(String::new())),
        (good.trim_end_matches('\n').to_owned(), ParseError::Checkpoint(String::new())),
        (format!("{good}\n"), ParseError::Checkpoint(String::new())),
        (format!("{good}trailing\n"), ParseError::Checkpoint(String::new())),
        ("c2sp.org/tlog-proof@v1\nindex 0\n".to_owned(), ParseError::NoCheckpoint),
        (String::new(), ParseError::NoCheckpoint),
    ];
    for (text, expected) in cases {
        match (TlogProof::parse(&text), expected) {
            (Err(ParseError::Checkpoint(_)), ParseError::Checkpoint(_)) => {}
            (got, expected) => assert_eq!(got.map(|p| p.to_text()), Err(expected), "{text:?}"),
        }
    }
}

#[test]
fn the_checkpoint_part_is_held_to_signed_note_and_checkpoint_rules() {
    let (proof, _) = fixture(4, 1, &[]);
    let text = proof.to_text();
    let body_end = text.rfind("\n\n").expect("blank line");
    // An empty extension line inside the checkpoint text.
    let extended = format!("{}\n\nextension{}", &text[..body_end], &text[body_end..]);
    assert!(matches!(TlogProof::parse(&extended), Err(ParseError::Checkpoint(_))), "{extended:?}");
    // A body that is no checkpoint (origin missing).
    let no_origin = text.replacen(&format!("\n\n{ORIGIN}\n"), "\n\n", 1);
    assert!(matches!(TlogProof::parse(&no_origin), Err(ParseError::Checkpoint(_))));
    // More signature lines than the limit; 16 (signed-note's minimum) are fine.
    let line = text[body_end + 2..].lines().next().expect("signature").to_owned();
    let with_lines = |n: usize| format!("{}{}", text, std::iter::repeat_n(format!("{line}\n"), n).collect::<String>());
    assert!(TlogProof::parse(&with_lines(15)).is_ok());
    assert_eq!(TlogProof::parse(&with_lines(MAX_SIGNATURES)), Err(ParseError::TooManySignatures));
    // More proof hashes than any tree needs.
    let many = format!("{}\n", BASE64.encode([7u8; 32])).repeat(MAX_PROOF_HASHES + 1);
    let too_many = text.replacen("index 1\n", &format!("index 1\n{many}"), 1);
    assert_eq!(TlogProof::parse(&too_many), Err(ParseError::TooManyHashes));
    assert_eq!(TlogProof::parse(&"x".repeat(MAX_BYTES + 1)), Err(ParseError::TooLarge(MAX_BYTES + 1)));
}

#[test]
fn every_entry_of_small_logs_verifies_and_nothing_else_does() {
    let policy = policy(&[], 0);
    for n in 1..=17 {
        for index in 0..n {
            let (proof, entry) = fixture(n, index, &[]);
            let verified = proof.verify(&entry, &policy).expect("verifies");
            assert_eq!((verified.index, verified.tree_size), (index as u64, n as u64));
            assert_eq!(verified.origin, ORIGIN);
            assert_eq!(verified.leaf_hash, leaf_hash(&entry));
            let other = format!("entry {}", (index + 1) % (n + 1)).into_bytes();
            assert_eq!(proof.verify(&other, &policy), Err(VerifyError::Inclusion(merkle::VerifyError::RootMismatch)));
        }
    }
    // The same hashes claimed for the neighbouring index.
    let (proof, entry) = fixture(8, 3, &[]);
    let moved = TlogProof::new(4, proof.proof().to_vec(), proof.note()).expect("proof");
    assert!(matches!(moved.verify(&entry, &policy), Err(VerifyError::Inclusion(_))));
    let beyond = TlogProof::new(8, proof.proof().to_vec(), proof.note()).expect("proof");
    assert!(matches!(
        beyond.verify(&entry, &policy),
        Err(VerifyError::Inclusion(merkle::VerifyError::IndexOutOfRange { .. }))
    ));
}

#[test]
fn the_log_key_and_origin_must_be_the_trusted_ones() {
    let (proof, entry) = fixture(4, 2, &[]);
    let stranger = NoteSigner::generate(ORIGIN).expect("key").verifier();
    let untrusted = Policy::new(vec![stranger.clone()], Vec::new(), 0).expect("policy");
    assert_eq!(proof.verify(&entry, &untrusted), Err(VerifyError::NoLogSignature));
    // With a rotated-in second key, the old one still verifies.
    let both = Policy::new(vec![stranger, log_key().verifier()], Vec::new(), 0).expect("policy");
    assert!(proof.verify(&entry, &both).is_ok());
    // A checkpoint whose origin is not the key's name.
    let leaves: Vec<Hash> = entries(4).iter().map(|e| leaf_hash(e)).collect();
    let body = Checkpoint { origin: "elsewhere.example/log".into(), size: 4, root: mth(&leaves) }.body();
    let foreign = TlogProof::new(2, path(2, &leaves), &log_key().sign(&body).expect("sign")).expect("proof");
    assert!(matches!(foreign.verify(&entry, &policy(&[], 0)), Err(VerifyError::Origin { .. })));
    // A trusted key's line that does not verify (the size changed under it).
    let tampered = proof.note().replacen("\n4\n", "\n5\n", 1);
    let tampered = TlogProof::new(2, proof.proof().to_vec(), &tampered).expect("proof");
    assert!(matches!(tampered.verify(&entry, &policy(&[], 0)), Err(VerifyError::LogSignature(_))));
}

#[test]
fn witness_quorums_count_distinct_trusted_cosigners() {
    let (w1, w2, w3) = (witness(1), witness(2), witness(3));
    let (proof, entry) = fixture(9, 7, &[w1.clone(), w2.clone()]);
    let verified = proof.verify(&entry, &policy(&[w1.clone(), w2.clone(), w3.clone()], 2)).expect("2 of 3");
    let names: Vec<&str> = verified.cosigned_by.iter().map(|c| c.witness.as_str()).collect();
    assert_eq!(names, ["witness1.test/w", "witness2.test/w"]);
    assert_eq!(verified.cosigned_by[0].time.timestamp(), 1_790_000_000);
    assert_eq!(
        proof.verify(&entry, &policy(&[w1.clone(), w2.clone(), w3.clone()], 3)),
        Err(VerifyError::Quorum { have: 2, need: 3 })
    );
    // An untrusted witness's line is ignored; naming w1 twice counts it once.
    let twice = Policy::new(vec![log_key().verifier()], vec![w1.verifier(), w1.verifier(), w3.verifier()], 3);
    assert_eq!(twice.err(), Some(PolicyError::Unreachable { quorum: 3, trusted: 2 }));
    let only_w3 = policy(std::slice::from_ref(&w3), 1);
    assert_eq!(proof.verify(&entry, &only_w3), Err(VerifyError::Quorum { have: 0, need: 1 }));
    // A trusted witness's cosignature over another checkpoint refuses the proof.
    let leaves: Vec<Hash> = entries(9).iter().map(|e| leaf_hash(e)).collect();
    let other_body = Checkpoint { origin: ORIGIN.into(), size: 8, root: mth(&leaves[..8]) }.body();
    let forged = format!("{}{}\n", proof.note(), w3.cosign(&other_body, Utc::now()));
    let forged = TlogProof::new(7, proof.proof().to_vec(), &forged).expect("proof");
    assert!(matches!(forged.verify(&entry, &only_w3), Err(VerifyError::Cosignature { .. })));
    assert_eq!(Policy::new(Vec::new(), Vec::new(), 0).err(), Some(PolicyError::NoLogKey));
}

/// The inclusion part checked by `tlog_tiles` (Go's `sumdb/tlog` ported to Rust), and
/// the log's signature by `ed25519-dalek` directly from the signed-note rules.
#[test]
fn an_independent_implementation_accepts_the_proofs() {
    for (n, index) in [(1, 0), (2, 1), (7, 3), (16, 15), (33, 32)] {
        let (proof, entry) = fixture(n, index, &[witness(1)]);
        let parsed = TlogProof::parse(&proof.to_text()).expect("parses");
        let hashes: Vec<tlog_tiles::Hash> = parsed.proof().iter().map(|h| tlog_tiles::Hash(*h)).collect();
        let checkpoint = tlog_tiles::Checkpoint::from_bytes(
            &parsed.note().as_bytes()[..=parsed.note().find("\n\n").expect("blank")],
        )
        .expect("tlog_tiles parses the checkpoint");
        tlog_tiles::check_record(
            &hashes,
            checkpoint.size(),
            *checkpoint.hash(),
            parsed.index(),
            tlog_tiles::record_hash(&entry),
        )
        .expect("tlog_tiles accepts the inclusion proof");
        independent_note_check(parsed.note(), &log_key());
    }
}

/// Checks a note's log signature from the signed-note spec alone.
fn independent_note_check(note: &str, key: &NoteSigner) {
    use ed25519_dalek::Verifier;
    use sha2::{Digest, Sha256};
    let split = note.rfind("\n\n").expect("blank line");
    let (text, signatures) = (&note[..=split], &note[split + 2..]);
    let public = key.verifier().to_string();
    let raw = BASE64.decode(public.rsplit('+').next().expect("key")).expect("base64");
    let public = ed25519_dalek::VerifyingKey::from_bytes(raw[1..].try_into().expect("32 bytes")).expect("key");
    let digest = Sha256::digest([key.name().as_bytes(), b"\n\x01", public.as_bytes()].concat());
    let line =
        signatures.lines().find(|l| l.starts_with(&format!("\u{2014} {} ", key.name()))).expect("the log's line");
    let blob = BASE64.decode(line.rsplit(' ').next().expect("blob")).expect("base64");
    assert_eq!(&blob[..4], &digest[..4], "key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]");
    let signature = ed25519_dalek::Signature::from_slice(&blob[4..]).expect("64 bytes");
    public.verify(text.as_bytes(), &signature).expect("the log's signature verifies over the checkpoint text");
}

fn arb_proof() -> impl Strategy<Value = TlogProof> {
    (
        "[a-z0-9./-]{1,30}",
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<u64>(),
        proptest::collection::vec(any::<[u8; 32]>(), 0..=MAX_PROOF_HASHES),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 1..200)),
        0u8..4,
    )
        .prop_map(|(origin, size, root, index, proof, extra, cosigners)| {
            let body = Checkpoint { origin: origin.clone(), size, root }.body();
            let log = signer(&origin);
            let mut note = log.sign(&body).expect("sign");
            for w in 0..cosigners {
                note.push_str(&witness(w).cosign(&body, Utc::now()));
                note.push('\n');
            }
            let proof = TlogProof::new(index, proof, &note).expect("proof");
            match extra {
                Some(extra) => proof.with_extra(extra).expect("extra"),
                None => proof,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn formatting_then_parsing_gives_the_same_proof(proof in arb_proof()) {
        let text = proof.to_text();
        prop_assert_eq!(TlogProof::parse(&text), Ok(proof));
    }

    /// One spelling per proof: any edit of a valid text either is refused or
    /// parses to a proof that formats back to exactly the edited text.
    #[test]
    fn an_edited_text_is_refused_or_canonical(
        proof in arb_proof(),
        at in any::<prop::sample::Index>(),
        byte in prop::sample::select(b"\n\r\t =+/0129Aaeix\xE2\x80\x94".to_vec()),
        edit in 0u8..3,
    ) {
        let mut bytes = proof.to_text().into_bytes();
        let i = at.index(bytes.len());
        match edit {
            0 => { bytes.remove(i); }
            1 => bytes.insert(i, byte),
            _ => bytes[i] = byte,
        }
        if let Ok(text) = String::from_utf8(bytes)
            && let Ok(parsed) = TlogProof::parse(&text)
        {
            prop_assert_eq!(parsed.to_text(), text);
        }
    }

    #[test]
    fn parsing_never_panics(text in "\\PC{0,400}") {
        let _ = TlogProof::parse(&text);
    }

    #[test]
    fn parsing_a_proof_like_text_never_panics(
        lines in proptest::collection::vec(prop::sample::select(vec![
            "c2sp.org/tlog-proof@v1", "extra AAAA", "extra ", "index 0", "index 7", "",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "a.example/log", "3",
            "\u{2014} a.example/log AAAAAQ==", "\u{2014} ", "\u{2014} x y z",
        ]), 0..16),
    ) {
        let text = lines.join("\n");
        let _ = TlogProof::parse(&text);
        let _ = TlogProof::parse(&format!("{text}\n"));
    }
}
