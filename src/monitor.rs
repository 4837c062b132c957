//! `gatelog monitor`: follow a remote Gatelog's signed checkpoints and alert when
//! one does not extend the last one seen (a fork, a rollback or a rewrite).
//!
//! A log can show different histories to different people, or quietly rewrite
//! its past, and every single checkpoint would still carry a good signature. What
//! gives it away is two signed checkpoints that cannot both be true: a smaller tree
//! after a larger one, two roots for one size, or a newer tree the log cannot prove
//! extends an older one ([RFC 9162 §2.1.4](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4)).
//! The monitor keeps every checkpoint it has accepted in a state file and checks
//! each new one against the latest; on an alert it keeps the state as it was and
//! hands back both signed notes, which together prove the log misbehaved.
//!
//! [`open_checkpoint`] and [`compare`] decide; they are pure. [`run`] does the I/O.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::merkle::{self, Hash};
use crate::ledger::note::NoteVerifier;

/// Longest a single request to the log may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest checkpoint or proof response read (both are a few kilobytes at most).
const MAX_RESPONSE: u64 = 1024 * 1024;

/// Why two checkpoints of one log cannot both be honest (or why one is not the log's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Alert {
    /// The checkpoint is not a note signed by the log's key.
    #[error("bad signature: the checkpoint is not signed by {vkey}: {reason}")]
    BadSignature {
        /// The key the log is known by.
        vkey: String,
        /// What is wrong with the note.
        reason: String,
    },
    /// The signed body is not a checkpoint.
    #[error("malformed checkpoint signed by the log's key: {0}")]
    Malformed(String),
    /// The checkpoint names another log.
    #[error("origin changed: the checkpoint is for {found:?}, the log followed is {expected:?}")]
    OriginChanged {
        /// The origin seen so far.
        expected: String,
        /// The origin now served.
        found: String,
    },
    /// The tree shrank.
    #[error("rollback: the log now serves size {to}, but it signed size {from} before")]
    Rollback {
        /// Size seen before.
        from: u64,
        /// Smaller size now served.
        to: u64,
    },
    /// Two different roots were signed for one size.
    #[error("fork: two different roots signed for tree size {size}")]
    SameSizeFork { size: u64 },
    /// The newer tree is not proved to extend the older one.
    #[error("fork: the tree of size {to} does not extend the tree of size {from} seen before ({reason})")]
    NotAnExtension {
        /// Size seen before.
        from: u64,
        /// Larger size now served.
        to: u64,
        /// Why the consistency proof failed.
        reason: String,
    },
    /// Fewer of the trusted witnesses than required cosigned the log's witnessed checkpoint.
    #[error("not witnessed: {found} of the {trusted} trusted witnesses cosigned checkpoint {size}, {quorum} required")]
    BelowQuorum {
        /// The witnessed checkpoint's size.
        size: u64,
        /// Valid cosignatures by trusted witnesses.
        found: usize,
        /// Witnesses trusted.
        trusted: usize,
        /// Cosignatures required.
        quorum: usize,
    },
}

/// What a new checkpoint means next to the latest one accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was seen before: the checkpoint is trusted on first sight.
    FirstSight { size: u64 },
    /// The same tree as before.
    Unchanged { size: u64 },
    /// The tree grew and the proof shows the old tree is a prefix of the new one.
    Consistent {
        /// Older size.
        from: u64,
        /// Newer size.
        to: u64,
    },
    /// The tree grew: call [`compare`] again with the log's consistency proof between these sizes.
    NeedProof {
        /// Older size.
        from: u64,
        /// Newer size.
        to: u64,
    },
    /// The two checkpoints cannot both be honest.
    Alert(Alert),
}

/// Checks a served note: signed by `vkey`, a checkpoint body, for `origin` if one is known.
pub fn open_checkpoint(note: &str, vkey: &NoteVerifier, origin: Option<&str>) -> Result<Checkpoint, Alert> {
    let body = vkey.open(note).map_err(|e| Alert::BadSignature { vkey: vkey.to_string(), reason: e.to_string() })?;
    let checkpoint = Checkpoint::parse(body).map_err(|e| Alert::Malformed(e.to_string()))?;
    if let Some(expected) = origin
        && checkpoint.origin != expected
    {
        return Err(Alert::OriginChanged { expected: expected.to_owned(), found: checkpoint.origin });
    }
    Ok(checkpoint)
}

/// Compares a new checkpoint with the latest one accepted (both already opened).
///
/// `proof` is the log's consistency proof from the previous size to the new one;
/// pass `None` first, and fetch it only if the answer is [`Outcome::NeedProof`].
pub fn compare(previous: Option<&Checkpoint>, current: &Checkpoint, proof: Option<&[Hash]>) -> Outcome {
    let Some(previous) = previous else {
        return Outcome::FirstSight { size: current.size };
    };
    let (from, to) = (previous.size, current.size);
    if to < from {
        return Outcome::Alert(Alert::Rollback { from, to });
    }
    if to == from {
        return if previous.root == current.root {
            Outcome::Unchanged { size: to }
        } else {
            Outcome::Alert(Alert::SameSizeFork { size: to })
        };
    }
    // Every tree extends the empty one, with an empty proof (RFC 9162 §2.1.4.1).
    let proof = match proof {
        Some(proof) => proof,
        None if from == 0 => &[],
        None => return Outcome::NeedProof { from, to },
    };
    match merkle::verify_consistency(from, to, &previous.root, &current.root, proof) {
        Ok(()) => Outcome::Consistent { from, to },
        Err(error) => Outcome::Alert(Alert::NotAnExtension { from, to, reason: error.to_string() }),
    }
}

/// One accepted checkpoint, as kept in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash, base64 (as in the checkpoint body).
    pub root: String,
    /// The whole signed note, exactly as served: the evidence if the log later contradicts it.
    pub note: String,
    /// When the monitor first saw it.
    pub seen_at: DateTime<Utc>,
    /// The log's address it was fetched from.
    pub url: String,
}

/// Everything the monitor remembers about one log (the `--state` file, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorState {
    /// The log's verifier key (C2SP vkey).
    pub vkey: String,
    /// The log's origin line.
    pub origin: String,
    /// Every checkpoint accepted, oldest first; sizes only grow.
    pub checkpoints: Vec<SeenCheckpoint>,
}

impl MonitorState {
    /// Reads the state file; `Ok(None)` if there is none yet.
    pub fn load(path: &Path) -> Result<Option<Self>, MonitorError> {
        let unreadable = |reason: String| MonitorError::State { path: path.to_owned(), reason };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(unreadable(error.to_string())),
        };
        let state: Self = serde_json::from_str(&text).map_err(|e| unreadable(format!("not a monitor state: {e}")))?;
        state.latest().map_err(unreadable)?;
        Ok(Some(state))
    }

    /// Writes the state file atomically and durably ([`crate::fsutil::write_atomically`]).
    pub fn save(&self, path: &Path) -> Result<(), MonitorError> {
        let failed = |reason: String| MonitorError::State { path: path.to_owned(), reason };
        let mut text = serde_json::to_string_pretty(self).map_err(|e| failed(e.to_string()))?;
        text.push('\n');
        crate::fsutil::write_atomically(path, text.as_bytes()).map_err(|e| failed(e.to_string()))
    }

    /// The latest accepted checkpoint, decoded, with its record.
    pub fn latest(&self) -> Result<Option<(Checkpoint, &SeenCheckpoint)>, String> {
        let Some(seen) = self.checkpoints.last() else { return Ok(None) };
        let root = BASE64.decode(&seen.root).ok().and_then(|bytes| Hash::try_from(bytes).ok());
        let root =
            root.ok_or_else(|| format!("checkpoint of size {}: root is not a base64 SHA-256 hash", seen.size))?;
        Ok(Some((Checkpoint { origin: self.origin.clone(), size: seen.size, root }, seen)))
    }
}

/// The evidence of an alert: the last checkpoint accepted and the one that contradicts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub alert: Alert,
    /// The last accepted checkpoint, if any.
    pub trusted: Option<SeenCheckpoint>,
    /// The note just served.
    pub served: String,
    /// Where it was served from.
    pub url: String,
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "ALERT: {}", self.alert)?;
        if let Some(trusted) = &self.trusted {
            writeln!(
                f,
                "\nlast checkpoint accepted (size {}, seen {} at {}):\n{}",
                trusted.size,
                trusted.seen_at.to_rfc3339(),
                trusted.url,
                trusted.note
            )?;
        }
        write!(f, "\ncheckpoint now served at {}:\n{}", self.url, self.served)
    }
}

/// Why monitoring stopped.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The log contradicted itself or served a checkpoint that is not its own (exit 1).
    #[error("ALERT: {}", .0.alert)]
    Alert(Box<Evidence>),
    /// The log could not be reached or answered nonsense (exit 2).
    #[error("could not check: fetching {url}: {reason}")]
    Fetch {
        /// What was fetched.
        url: String,
        reason: String,
    },
    /// The state file could not be read or written (exit 2).
    #[error("could not check: state file {}: {reason}", path.display())]
    State { path: PathBuf, reason: String },
    /// No usable verifier key (exit 2).
    #[error("could not check: {0}")]
    Key(String),
}

impl MonitorError {
    /// The process exit code: 1 for an alert, 2 when the log could not be checked.
    pub fn exit_code(&self) -> u8 {
        if matches!(self, Self::Alert(_)) { 1 } else { 2 }
    }
}

/// What `gatelog monitor` was asked to do.
#[derive(Debug, Clone)]
pub struct MonitorOptions {
    /// The log's base address.
    pub url: String,
    /// The state file.
    pub state: PathBuf,
    /// The log's verifier key from the command line, if given.
    pub vkey: Option<NoteVerifier>,
    /// Check again after this long, until an alert or an error; `None`: check once.
    pub every: Option<Duration>,
    /// Witnesses whose cosignatures count (empty: cosignatures are not checked).
    pub witnesses: Vec<crate::witness::cosignature::CosignerVerifier>,
    /// How many of them must have cosigned the log's witnessed checkpoint.
    pub quorum: usize,
}

/// Runs the monitor: one check, or one every `options.every`. Each accepted new
/// checkpoint (and, for a single check, an unchanged one) is described to `progress`.
pub fn run(options: &MonitorOptions, mut progress: impl FnMut(&str)) -> Result<(), MonitorError> {
    let mut state = MonitorState::load(&options.state)?;
    let vkey = trusted_key(options.vkey.as_ref(), state.as_ref())?;
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(HTTP_TIMEOUT)).build().into();
    let base = options.url.trim_end_matches('/');
    loop {
        let outcome = check(&agent, base, &vkey, &mut state, &options.state)?;
        let line = match outcome {
            Outcome::FirstSight { size } => {
                Some(format!("size {size}: first checkpoint seen, trusted from now on ({})", options.state.display()))
            }
            Outcome::Consistent { from, to } => Some(format!("size {from} -> {to}: consistent")),
            Outcome::Unchanged { size } if options.every.is_none() => Some(format!("size {size}: unchanged")),
            _ => None,
        };
        if let Some(line) = line {
            progress(&line);
        }
        if !options.witnesses.is_empty()
            && let Some(state) = state.as_ref()
            && let Some(line) = check_witnessed(&agent, base, &vkey, state, options)?
        {
            progress(&line);
        }
        match options.every {
            Some(every) => std::thread::sleep(every),
            None => return Ok(()),
        }
    }
}

/// The key to check with: the flag's or the state's, which must agree.
fn trusted_key(flag: Option<&NoteVerifier>, state: Option<&MonitorState>) -> Result<NoteVerifier, MonitorError> {
    let stored = match state {
        Some(state) => Some(
            NoteVerifier::parse(&state.vkey)
                .map_err(|e| MonitorError::Key(format!("the state file's vkey is invalid: {e}")))?,
        ),
        None => None,
    };
    match (flag, stored) {
        (Some(flag), Some(stored)) if *flag != stored => Err(MonitorError::Key(format!(
            "--vkey {flag} differs from the key in the state file ({stored}); refusing to follow a log under a new \
             key (use a new --state file if the key change is legitimate)"
        ))),
        (_, Some(stored)) => Ok(stored),
        (Some(flag), None) => Ok(flag.clone()),
        (None, None) => Err(MonitorError::Key(
            "the first run needs the log's verifier key: --vkey VKEY (obtained out of band, not from the log)".into(),
        )),
    }
}

/// One check: fetch, open, compare, and record the checkpoint if it is accepted.
fn check(
    agent: &ureq::Agent,
    base: &str,
    vkey: &NoteVerifier,
    state: &mut Option<MonitorState>,
    path: &Path,
) -> Result<Outcome, MonitorError> {
    let url = format!("{base}/checkpoint");
    let note = String::from_utf8_lossy(&fetch(agent, &url)?).into_owned();
    let previous = match state.as_ref() {
        Some(state) => state.latest().map_err(|reason| MonitorError::State { path: path.to_owned(), reason })?,
        None => None,
    };
    let trusted = previous.as_ref().map(|(_, seen)| (*seen).clone());
    let alert = |alert: Alert| {
        MonitorError::Alert(Box::new(Evidence {
            alert,
            trusted: trusted.clone(),
            served: note.clone(),
            url: url.clone(),
        }))
    };
    let origin = state.as_ref().map(|state| state.origin.as_str());
    let current = open_checkpoint(&note, vkey, origin).map_err(alert)?;
    let previous = previous.map(|(checkpoint, _)| checkpoint);
    let mut outcome = compare(previous.as_ref(), &current, None);
    if let Outcome::NeedProof { from, to } = outcome {
        let proof = fetch_consistency(agent, base, from, to)?;
        outcome = compare(previous.as_ref(), &current, Some(&proof));
    }
    match &outcome {
        Outcome::Alert(found) => return Err(alert(found.clone())),
        Outcome::Unchanged { .. } | Outcome::NeedProof { .. } => return Ok(outcome),
        Outcome::FirstSight { .. } | Outcome::Consistent { .. } => {}
    }
    let seen = SeenCheckpoint {
        size: current.size,
        root: BASE64.encode(current.root),
        note,
        seen_at: Utc::now(),
        url: base.to_owned(),
    };
    let state = state.get_or_insert_with(|| MonitorState {
        vkey: vkey.to_string(),
        origin: current.origin.clone(),
        checkpoints: Vec::new(),
    });
    state.checkpoints.push(seen);
    state.save(path)?;
    Ok(outcome)
}

/// Checks the log's newest witnessed checkpoint (`/checkpoint/witnessed`): signed by the
/// log, cosigned by at least `quorum` of the trusted witnesses, and consistent with the
/// newest checkpoint this monitor accepted. Returns a line to report when all holds.
fn check_witnessed(
    agent: &ureq::Agent,
    base: &str,
    vkey: &NoteVerifier,
    state: &MonitorState,
    options: &MonitorOptions,
) -> Result<Option<String>, MonitorError> {
    let url = format!("{base}/checkpoint/witnessed");
    let note = String::from_utf8_lossy(&fetch(agent, &url)?).into_owned();
    let accepted = state
        .latest()
        .map_err(|reason| MonitorError::State { path: options.state.clone(), reason })?
        .ok_or_else(|| MonitorError::State { path: options.state.clone(), reason: "no checkpoint accepted".into() })?;
    let alert = |alert: Alert| {
        MonitorError::Alert(Box::new(Evidence {
            alert,
            trusted: Some(accepted.1.clone()),
            served: note.clone(),
            url: url.clone(),
        }))
    };
    let witnessed = open_checkpoint(&note, vkey, Some(&state.origin)).map_err(alert)?;
    let found = options.witnesses.iter().filter(|w| w.find_in(&note).is_some()).count();
    if found < options.quorum {
        return Err(alert(Alert::BelowQuorum {
            size: witnessed.size,
            found,
            trusted: options.witnesses.len(),
            quorum: options.quorum,
        }));
    }
    // The witnessed tree and the accepted one must be one history, whichever is larger.
    let (older, newer) =
        if witnessed.size <= accepted.0.size { (&witnessed, &accepted.0) } else { (&accepted.0, &witnessed) };
    let mut outcome = compare(Some(older), newer, None);
    if let Outcome::NeedProof { from, to } = outcome {
        let proof = fetch_consistency(agent, base, from, to)?;
        outcome = compare(Some(older), newer, Some(&proof));
    }
    if let Outcome::Alert(found) = outcome {
        return Err(alert(found));
    }
    Ok(Some(format!(
        "witnessed size {}: cosigned by {found} of {} trusted witnesses (quorum {}), consistent with size {}",
        witnessed.size,
        options.witnesses.len(),
        options.quorum,
        accepted.0.size
    )))
}

/// The consistency proof endpoint's answer (see `api::ledger::ConsistencyJson`).
#[derive(Debug, Deserialize)]
struct ConsistencyResponse {
    from: u64,
    to: u64,
    proof: Vec<String>,
}

fn fetch_consistency(agent: &ureq::Agent, base: &str, from: u64, to: u64) -> Result<Vec<Hash>, MonitorError> {
    let url = format!("{base}/api/v1/ledger/proof/consistency?from={from}&to={to}");
    let bytes = fetch(agent, &url)?;
    let bad = |reason: String| MonitorError::Fetch { url: url.clone(), reason };
    let response: ConsistencyResponse =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a consistency proof: {e}")))?;
    if (response.from, response.to) != (from, to) {
        return Err(bad(format!("asked for {from} -> {to}, got a proof for {} -> {}", response.from, response.to)));
    }
    response
        .proof
        .iter()
        .map(|text| hex::decode(text).ok().and_then(|bytes| Hash::try_from(bytes).ok()))
        .collect::<Option<Vec<Hash>>>()
        .ok_or_else(|| bad("a proof hash is not 32 bytes of hex".into()))
}

fn fetch(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, MonitorError> {
    let failed = |reason: String| MonitorError::Fetch { url: url.to_owned(), reason };
    let mut response = agent.get(url).call().map_err(|e| failed(e.to_string()))?;
    response.body_mut().with_config().limit(MAX_RESPONSE).read_to_vec().map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::ledger::merkle::{Frontier, NodeId};
    use crate::ledger::note::NoteSigner;

    const ORIGIN: &str = "monitor.test/log";

    /// A tree of the given entries, every completed subtree stored, as the log stores them.
    struct Tree {
        frontier: Frontier,
        stored: HashMap<NodeId, Hash>,
    }

    impl Tree {
        fn of<'a>(entries: impl IntoIterator<Item = &'a str>) -> Self {
            let mut tree = Self { frontier: Frontier::empty(), stored: HashMap::new() };
            for entry in entries {
                tree.stored.extend(tree.frontier.push(merkle::leaf_hash(entry.as_bytes())));
            }
            tree
        }

        fn checkpoint(&self, size: u64) -> Checkpoint {
            let root = merkle::assemble(&[merkle::tree_hash_plan(size)], &self.stored).expect("complete")[0];
            Checkpoint { origin: ORIGIN.into(), size, root }
        }

        fn consistency(&self, old: u64, new: u64) -> Vec<Hash> {
            let plan = merkle::consistency_proof_plan(old, new).expect("ordered");
            merkle::assemble(&plan, &self.stored).expect("complete")
        }
    }

    fn entries(prefix: &str, count: usize) -> Vec<String> {
        (0..count).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn the_first_checkpoint_is_trusted_on_first_sight() {
        let tree = Tree::of(entries("a", 5).iter().map(String::as_str));
        assert_eq!(compare(None, &tree.checkpoint(5), None), Outcome::FirstSight { size: 5 });
    }

    #[test]
    fn an_extension_with_a_valid_proof_is_consistent() {
        let tree = Tree::of(entries("a", 131).iter().map(String::as_str));
        let (old, new) = (tree.checkpoint(120), tree.checkpoint(131));
        assert_eq!(compare(Some(&old), &new, None), Outcome::NeedProof { from: 120, to: 131 });
        let proof = tree.consistency(120, 131);
        assert_eq!(compare(Some(&old), &new, Some(&proof)), Outcome::Consistent { from: 120, to: 131 });
        assert_eq!(compare(Some(&new), &new, None), Outcome::Unchanged { size: 131 });
        // Growing from the empty tree needs no proof at all.
        assert_eq!(compare(Some(&tree.checkpoint(0)), &new, None), Outcome::Consistent { from: 0, to: 131 });
    }

    #[test]
    fn a_smaller_tree_is_a_rollback() {
        let tree = Tree::of(entries("a", 10).iter().map(String::as_str));
        assert_eq!(
            compare(Some(&tree.checkpoint(10)), &tree.checkpoint(7), None),
            Outcome::Alert(Alert::Rollback { from: 10, to: 7 })
        );
    }

    #[test]
    fn two_roots_for_one_size_are_a_fork() {
        let honest = Tree::of(entries("a", 8).iter().map(String::as_str));
        let mut rewritten = entries("a", 8);
        rewritten[3] = "rewritten".into();
        let forked = Tree::of(rewritten.iter().map(String::as_str));
        assert_eq!(
            compare(Some(&honest.checkpoint(8)), &forked.checkpoint(8), None),
            Outcome::Alert(Alert::SameSizeFork { size: 8 })
        );
    }

    #[test]
    fn a_larger_tree_that_does_not_extend_the_old_one_is_a_fork() {
        let honest = Tree::of(entries("a", 6).iter().map(String::as_str));
        let mut rewritten = entries("a", 13);
        rewritten[2] = "rewritten".into();
        let forked = Tree::of(rewritten.iter().map(String::as_str));
        let (old, new) = (honest.checkpoint(6), forked.checkpoint(13));
        // The forked log's own proof, honest for its tree, cannot link it to the old root...
        let proof = forked.consistency(6, 13);
        let Outcome::Alert(Alert::NotAnExtension { from: 6, to: 13, .. }) = compare(Some(&old), &new, Some(&proof))
        else {
            panic!("a rewritten history must not verify");
        };
        // ...nor can a truncated or padded one.
        for bad in [&proof[1..], &[proof.as_slice(), &[[0u8; 32]]].concat()] {
            assert!(matches!(compare(Some(&old), &new, Some(bad)), Outcome::Alert(Alert::NotAnExtension { .. })));
        }
    }

    #[test]
    fn only_notes_signed_by_the_key_and_for_the_origin_open() {
        let signer = NoteSigner::generate(ORIGIN).expect("key");
        let checkpoint = Tree::of(["x", "y"]).checkpoint(2);
        let note = signer.sign(&checkpoint.body()).expect("sign");
        let vkey = signer.verifier();
        assert_eq!(open_checkpoint(&note, &vkey, Some(ORIGIN)), Ok(checkpoint.clone()));
        assert_eq!(open_checkpoint(&note, &vkey, None), Ok(checkpoint));

        let impostor = NoteSigner::generate(ORIGIN).expect("key").verifier();
        assert!(matches!(open_checkpoint(&note, &impostor, Some(ORIGIN)), Err(Alert::BadSignature { .. })));
        let tampered = note.replacen("\n2\n", "\n3\n", 1);
        assert!(matches!(open_checkpoint(&tampered, &vkey, Some(ORIGIN)), Err(Alert::BadSignature { .. })));
        assert!(matches!(open_checkpoint("<html>oops</html>", &vkey, None), Err(Alert::BadSignature { .. })));
        assert_eq!(
            open_checkpoint(&note, &vkey, Some("other.test/log")),
            Err(Alert::OriginChanged { expected: "other.test/log".into(), found: ORIGIN.into() })
        );
        let garbage = signer.sign("not a checkpoint\n").expect("sign");
        assert!(matches!(open_checkpoint(&garbage, &vkey, None), Err(Alert::Malformed(_))));
    }

    #[test]
    fn the_state_round_trips_through_an_atomic_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        assert_eq!(MonitorState::load(&path).expect("no file yet"), None);
        let checkpoint = Tree::of(["x"]).checkpoint(1);
        let state = MonitorState {
            vkey: NoteSigner::generate(ORIGIN).expect("key").verifier().to_string(),
            origin: ORIGIN.into(),
            checkpoints: vec![SeenCheckpoint {
                size: 1,
                root: BASE64.encode(checkpoint.root),
                note: "note\n".into(),
                seen_at: Utc::now(),
                url: "http://log.test".into(),
            }],
        };
        state.save(&path).expect("save");
        let loaded = MonitorState::load(&path).expect("read").expect("present");
        assert_eq!(loaded, state);
        assert_eq!(loaded.latest().expect("valid").map(|(c, _)| c), Some(checkpoint));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");

        std::fs::write(&path, "{").expect("write");
        assert!(matches!(MonitorState::load(&path), Err(MonitorError::State { .. })));
    }

    #[test]
    fn the_key_comes_from_the_flag_or_the_state_and_they_must_agree() {
        let ours = NoteSigner::generate(ORIGIN).expect("key").verifier();
        let theirs = NoteSigner::generate(ORIGIN).expect("key").verifier();
        let state = MonitorState { vkey: ours.to_string(), origin: ORIGIN.into(), checkpoints: Vec::new() };
        assert_eq!(trusted_key(Some(&ours), None).expect("flag"), ours);
        assert_eq!(trusted_key(None, Some(&state)).expect("state"), ours);
        assert_eq!(trusted_key(Some(&ours), Some(&state)).expect("both"), ours);
        let refused = trusted_key(Some(&theirs), Some(&state)).expect_err("a different key is refused");
        assert!(refused.to_string().contains("differs"), "{refused}");
        assert_eq!(trusted_key(None, None).expect_err("no key").exit_code(), 2);
    }
}
