//! `gatelog verify log`: recompute everything from the entry bytes and compare it
//! with what is stored or served. The [`Audit`] is pure; [`verify_database`]
//! and [`verify_remote`] feed it from PostgreSQL or from a log's public tiles.
//! Both also check every provider signature an entry carries (the key is in the
//! entry); the database check also asks whether that key was registered for the provider.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use sqlx::{Connection, PgConnection};

use super::checkpoint::Checkpoint;
use super::entry::Entry;
use super::merkle::{self, Frontier, Hash, NodeId};
use super::note::NoteVerifier;
use super::tiles::{self, TILE_HEIGHT, TILE_WIDTH, TileKind, TilePath};
use crate::db::ledger as store;

/// Most differences reported one by one; the rest are counted.
const MAX_FINDINGS: usize = 1000;

/// The outcome of a verification.
#[derive(Debug, Default)]
pub struct Report {
    /// Entries re-hashed.
    pub entries: u64,
    /// Stored or served subtree hashes compared.
    pub nodes: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Entries carrying their provider's signature (each one checked).
    pub signed: u64,
    /// Entries whose record does not decode under today's rules (listed up to
    /// [`MAX_FINDINGS`]). Not an integrity failure: the site leaves them out of every
    /// figure and dataset and names them, and so does this report.
    pub unreadable: Vec<(u64, String)>,
    /// How many entries do not decode, in all.
    pub unreadable_count: u64,
    /// Every difference found, in the order found.
    pub findings: Vec<String>,
    /// Differences beyond [`MAX_FINDINGS`].
    pub more_findings: u64,
}

impl Report {
    /// True when nothing differs.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }

    fn find(&mut self, finding: String) {
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(finding);
        } else {
            self.more_findings += 1;
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "MISMATCH {finding}")?;
        }
        if self.more_findings > 0 {
            writeln!(f, "... and {} more", self.more_findings)?;
        }
        let verdict = if self.ok() {
            "OK".to_owned()
        } else {
            format!("FAILED ({} differences)", self.findings.len() as u64 + self.more_findings)
        };
        for (index, reason) in &self.unreadable {
            writeln!(f, "UNREADABLE entry {index}: {reason}")?;
        }
        if self.unreadable_count > 0 {
            writeln!(
                f,
                "{} entries hold a record that does not decode under today's rules: left out of every figure \
                 and dataset (they are in the ledger, and their hashes are checked)",
                self.unreadable_count
            )?;
        }
        let signed =
            if self.signed > 0 { format!(" ({} signed by their provider)", self.signed) } else { String::new() };
        write!(
            f,
            "verified {} entries{signed}, {} stored hashes, {} checkpoints: {verdict}",
            self.entries, self.nodes, self.checkpoints
        )
    }
}

/// Recomputes the tree from entry bytes, one entry at a time, in order.
#[derive(Debug)]
pub struct Audit {
    frontier: Frontier,
    leaves: Vec<Hash>,
    wanted_roots: BTreeSet<u64>,
    roots: HashMap<u64, Hash>,
    /// Levels computed so far for node checks: `levels[l]` holds level l.
    levels: Vec<Vec<Hash>>,
    next_node: Option<NodeId>,
    /// Leaf-level stored hashes were checked with the entries (see [`Audit::leaf_node`]).
    leaf_nodes_checked: bool,
    /// Registered provider keys as (provider slug, vkey), when known (see [`Audit::with_registered_keys`]).
    registered_keys: Option<HashSet<(String, String)>>,
    /// Where records go to be decoded on another thread (see [`Audit::decode_elsewhere`]),
    /// and the batch on its way there.
    decoder: Option<(std::sync::mpsc::SyncSender<Vec<Undecoded>>, Vec<Undecoded>)>,
    /// What has been found.
    pub report: Report,
}

/// A record on its way to be decoded: entry index, kind, record.
type Undecoded = (u64, String, serde_json::Value);

/// Records handed to the decoding thread at once.
const DECODE_BATCH: usize = 1024;

/// Decodes records as they come and lists the ones that fail, in entry order, with how
/// many failed in all (the list stops at [`MAX_FINDINGS`]).
fn decode_records(batches: impl IntoIterator<Item = Vec<Undecoded>>) -> (Vec<(u64, String)>, u64) {
    let (mut listed, mut count) = (Vec::new(), 0);
    for (index, kind, record) in batches.into_iter().flatten() {
        if let Err(unreadable) = crate::records::reports::check_entry(&kind, record) {
            count += 1;
            if listed.len() < MAX_FINDINGS {
                listed.push((index, unreadable.reason));
            }
        }
    }
    (listed, count)
}

impl Audit {
    /// An audit that will remember the root at each of `sizes` (the checkpoints to check).
    pub fn new(sizes: impl IntoIterator<Item = u64>) -> Self {
        let wanted_roots: BTreeSet<u64> = sizes.into_iter().collect();
        let mut roots = HashMap::new();
        if wanted_roots.contains(&0) {
            roots.insert(0, merkle::empty_root());
        }
        Self {
            frontier: Frontier::empty(),
            leaves: Vec::new(),
            wanted_roots,
            roots,
            levels: Vec::new(),
            next_node: None,
            leaf_nodes_checked: false,
            registered_keys: None,
            decoder: None,
            report: Report::default(),
        }
    }

    /// The same audit, also reporting entries signed with a key not registered for their provider.
    pub fn with_registered_keys(mut self, keys: impl IntoIterator<Item = (String, String)>) -> Self {
        self.registered_keys = Some(keys.into_iter().collect());
        self
    }

    /// Entries seen so far.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Feeds the next entry: its index as stored, its bytes, and the leaf hash stored beside it.
    pub fn entry(&mut self, index: u64, bytes: &[u8], stored_leaf: Option<&Hash>) {
        let expected = self.frontier.size();
        if index != expected {
            self.report.find(format!(
                "entry {expected}: expected next, found index {index} (entries missing or out of order)"
            ));
        }
        match Entry::from_canonical_bytes(bytes) {
            Ok(entry) => {
                if entry.index != index {
                    self.report.find(format!("entry {index}: its bytes say index {}", entry.index));
                }
                self.signature(index, &entry);
                self.decode(index, entry.kind, entry.record);
            }
            Err(error) => self.report.find(format!("entry {index}: {error}")),
        }
        let leaf = merkle::leaf_hash(bytes);
        if let Some(stored) = stored_leaf
            && stored != &leaf
        {
            self.report.find(format!(
                "entry {index}: stored leaf hash {} but the bytes hash to {}",
                hex::encode(stored),
                hex::encode(leaf)
            ));
        }
        self.frontier.push(leaf);
        self.leaves.push(leaf);
        self.report.entries += 1;
        let size = self.frontier.size();
        if self.wanted_roots.contains(&size) {
            self.roots.insert(size, self.frontier.root());
        }
    }

    /// Sends records to `sender` to be decoded on another thread instead of decoding them
    /// here: decoding costs about as much as hashing, and `verify` has two cores to use.
    /// The caller merges the other thread's findings ([`decode_records`]) after [`Audit::finish_decoding`].
    pub fn decode_elsewhere(mut self, sender: std::sync::mpsc::SyncSender<Vec<Undecoded>>) -> Self {
        self.decoder = Some((sender, Vec::with_capacity(DECODE_BATCH)));
        self
    }

    /// Sends what is still batched to the decoding thread and lets it finish.
    pub fn finish_decoding(&mut self) {
        if let Some((sender, batch)) = self.decoder.take() {
            let _ = sender.send(batch);
        }
    }

    /// Whether a record decodes under today's rules; one that does not is listed (not an
    /// integrity failure: the site leaves it out of every figure and names it).
    fn decode(&mut self, index: u64, kind: String, record: serde_json::Value) {
        match &mut self.decoder {
            Some((sender, batch)) => {
                batch.push((index, kind, record));
                if batch.len() >= DECODE_BATCH {
                    // A failed send means the decoding thread died; its panic surfaces where it is joined.
                    let _ = sender.send(std::mem::replace(batch, Vec::with_capacity(DECODE_BATCH)));
                }
            }
            None => {
                let (listed, count) = decode_records([vec![(index, kind, record)]]);
                self.merge_decoded(listed, count);
            }
        }
    }

    /// Adds a decoding thread's findings to the report.
    pub fn merge_decoded(&mut self, listed: Vec<(u64, String)>, count: u64) {
        self.report.unreadable_count += count;
        let room = MAX_FINDINGS.saturating_sub(self.report.unreadable.len());
        self.report.unreadable.extend(listed.into_iter().take(room));
    }

    /// Checks the provider's signature an entry carries, if any.
    fn signature(&mut self, index: u64, entry: &Entry) {
        match entry.check_signature() {
            Ok(None) => {}
            Ok(Some(key)) => {
                self.report.signed += 1;
                if let Some(registered) = &self.registered_keys
                    && !registered.contains(&(entry.provider.to_string(), key.to_string()))
                {
                    self.report.find(format!(
                        "entry {index}: signed with key {}, which was never registered for provider {}",
                        key.label(),
                        entry.provider
                    ));
                }
            }
            Err(error) => self.report.find(format!("entry {index}: provider signature: {error}")),
        }
    }

    /// Compares the stored level-0 hash of the entry just fed (read alongside it).
    pub fn leaf_node(&mut self, index: u64, stored: Option<&Hash>) {
        self.leaf_nodes_checked = true;
        let Some(recomputed) = self.leaves.last().copied() else { return };
        match stored {
            None => self.report.find(format!("stored hash of subtree (level 0, index {index}) is missing")),
            Some(hash) if hash != &recomputed => self.report.find(format!(
                "stored hash of subtree (level 0, index {index}): {} but the entries give {}",
                hex::encode(hash),
                hex::encode(recomputed)
            )),
            Some(_) => self.report.nodes += 1,
        }
    }

    /// The recomputed root at `size`, if it was asked for (or is the current size).
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        if size == self.frontier.size() { Some(self.frontier.root()) } else { self.roots.get(&size).copied() }
    }

    /// Checks a checkpoint note: signature by one of `keys`, origin, and root against the recomputed tree.
    pub fn checkpoint(
        &mut self,
        label: &str,
        note: &str,
        keys: &[NoteVerifier],
        origin: Option<&str>,
    ) -> Option<Checkpoint> {
        self.report.checkpoints += 1;
        let Some(body) = keys.iter().find_map(|key| key.open(note).ok()) else {
            self.report.find(format!(
                "{label}: not signed by any trusted key ({})",
                keys.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ));
            return None;
        };
        let checkpoint = match Checkpoint::parse(body) {
            Ok(checkpoint) => checkpoint,
            Err(error) => {
                self.report.find(format!("{label}: {error}"));
                return None;
            }
        };
        if let Some(origin) = origin
            && checkpoint.origin != origin
        {
            self.report.find(format!("{label}: origin {:?}, expected {origin:?}", checkpoint.origin));
        }
        self.compare_root(label, checkpoint.size, &checkpoint.root);
        Some(checkpoint)
    }

    /// Compares a claimed root at `size` with the recomputed one.
    pub fn compare_root(&mut self, label: &str, size: u64, root: &Hash) {
        match self.root_at(size) {
            None if size > self.size() => {
                self.report.find(format!("{label}: claims size {size}, but only {} entries exist", self.size()))
            }
            None => self.report.find(format!("{label}: size {size} was not recomputed")),
            Some(recomputed) if &recomputed != root => self.report.find(format!(
                "{label}: size {size} has root {}, but the entries give {}",
                hex::encode(root),
                hex::encode(recomputed)
            )),
            Some(_) => {}
        }
    }

    fn level(&mut self, level: u8) -> &[Hash] {
        if self.levels.is_empty() {
            self.levels.push(std::mem::take(&mut self.leaves));
        }
        while self.levels.len() <= usize::from(level) {
            let below = self.levels.last().map(Vec::as_slice).unwrap_or_default();
            let above: Vec<Hash> = below.chunks_exact(2).map(|pair| merkle::node_hash(&pair[0], &pair[1])).collect();
            self.levels.push(above);
        }
        &self.levels[usize::from(level)]
    }

    /// Compares one stored subtree hash; call in (level, index) order after every entry.
    pub fn node(&mut self, id: NodeId, stored: &Hash) {
        self.report.nodes += 1;
        self.expect_node(id);
        let recomputed = self.level(id.level).get(id.index as usize).copied();
        match recomputed {
            Some(hash) if &hash == stored => {}
            Some(hash) => self.report.find(format!(
                "stored hash of subtree (level {}, index {}): {} but the entries give {}",
                id.level,
                id.index,
                hex::encode(stored),
                hex::encode(hash)
            )),
            None => self
                .report
                .find(format!("stored hash of subtree (level {}, index {}) is beyond the tree", id.level, id.index)),
        }
    }

    /// Reports every complete subtree that should be stored but was not seen before `id`.
    fn expect_node(&mut self, id: NodeId) {
        let size = self.size();
        let first = NodeId::new(u8::from(self.leaf_nodes_checked), 0);
        let mut next = self.next_node.unwrap_or(first);
        while next < id {
            let count = if next.level < 64 { size >> next.level } else { 0 };
            if next.index < count {
                self.report
                    .find(format!("stored hash of subtree (level {}, index {}) is missing", next.level, next.index));
                next.index += 1;
            } else {
                next = NodeId::new(next.level + 1, 0);
                if next.level >= 64 {
                    break;
                }
            }
        }
        self.next_node = Some(NodeId::new(id.level, id.index + 1));
    }

    /// Call after the last stored node: reports any still missing.
    pub fn end_of_nodes(&mut self) {
        let top = 64 - self.size().leading_zeros() as u8;
        self.expect_node(NodeId::new(top, 0));
    }

    /// Every hash of tree level `level` from `start`, for comparing served tiles.
    pub fn level_slice(&mut self, level: u8, start: u64, count: u64) -> Vec<Hash> {
        self.level(level).iter().skip(start as usize).take(count as usize).copied().collect()
    }
}

/// Rows handed to the hashing thread at a time.
const CHUNK: usize = 4096;

/// Work for the hashing thread.
enum Work {
    Entries(Vec<store::AuditRow>),
    Nodes(Vec<(NodeId, Hash)>),
}

/// Verifies the ledger in the database: every entry (and its provider signature, against
/// the registered keys), every stored hash, every checkpoint and the head.
///
/// Reading rows and hashing them run on two threads (the database stream here, the
/// [`Audit`] on a blocking thread), joined by a bounded channel so memory stays flat.
///
/// Every table is read in one read-only REPEATABLE READ transaction, so from one snapshot:
/// a log that grows while it is verified is checked as it stood when the check began, not
/// as old checkpoints and head beside newer entries and hashes (issue 15).
pub async fn verify_database(conn: &mut PgConnection, keys: &[NoteVerifier]) -> Result<Report, sqlx::Error> {
    let mut view = conn.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
    let conn: &mut PgConnection = &mut view;
    let checkpoints = store::all_checkpoints(conn).await?;
    let head = store::head(conn).await?;
    let registered = crate::db::provider_keys::all(conn).await?;
    let sizes: Vec<u64> = checkpoints.iter().map(|c| c.size).chain([head.size]).collect();
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Work>(8);
    let worker = tokio::task::spawn_blocking(move || {
        let (to_decode, decoding) = std::sync::mpsc::sync_channel::<Vec<Undecoded>>(8);
        let decoder = std::thread::spawn(move || decode_records(decoding));
        let mut audit = Audit::new(sizes).with_registered_keys(registered).decode_elsewhere(to_decode);
        for work in receiver {
            match work {
                Work::Entries(rows) => rows.iter().for_each(|row| {
                    audit.entry(row.index, &row.bytes, Some(&row.leaf_hash));
                    audit.leaf_node(row.index, row.level0.as_ref());
                }),
                Work::Nodes(nodes) => nodes.iter().for_each(|(id, hash)| audit.node(*id, hash)),
            }
        }
        audit.end_of_nodes();
        audit.finish_decoding();
        match decoder.join() {
            Ok((listed, count)) => audit.merge_decoded(listed, count),
            Err(_) => audit.report.find("the thread decoding records failed".into()),
        }
        audit
    });
    // A send fails only if the worker died; its panic surfaces at the join below.
    let mut entries = Vec::with_capacity(CHUNK);
    store::for_each_audit_row(conn, |row| {
        entries.push(row);
        if entries.len() == CHUNK {
            let _ = sender.send(Work::Entries(std::mem::replace(&mut entries, Vec::with_capacity(CHUNK))));
        }
    })
    .await?;
    let _ = sender.send(Work::Entries(entries));
    let mut nodes = Vec::with_capacity(CHUNK);
    store::for_each_inner_node(conn, |id, hash| {
        nodes.push((id, hash));
        if nodes.len() == CHUNK {
            let _ = sender.send(Work::Nodes(std::mem::replace(&mut nodes, Vec::with_capacity(CHUNK))));
        }
    })
    .await?;
    let _ = sender.send(Work::Nodes(nodes));
    drop(sender);
    // Every row is read: end the transaction now rather than sit idle in it while the
    // hashing catches up (PostgreSQL ends sessions idle in a transaction for too long).
    view.rollback().await?;
    let mut audit =
        worker.await.map_err(|join| sqlx::Error::Protocol(format!("verification thread failed: {join}")))?;
    for stored in &checkpoints {
        let label = format!("checkpoint #{} (size {})", stored.id, stored.size);
        if let Some(checkpoint) = audit.checkpoint(&label, &stored.note, keys, None)
            && (checkpoint.size != stored.size || checkpoint.root != stored.root)
        {
            audit.report.find(format!(
                "{label}: the signed note says size {} root {}, the row says size {} root {}",
                checkpoint.size,
                hex::encode(checkpoint.root),
                stored.size,
                hex::encode(stored.root)
            ));
        }
    }
    if head.size != audit.size() {
        audit.report.find(format!("head: says {} entries, but {} exist", head.size, audit.size()));
    }
    audit.compare_root("head", head.size, &head.root);
    Ok(audit.report)
}

/// Why a remote log could not be read (as opposed to read and found wrong).
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// HTTP failure.
    #[error("fetching {url}: {reason}")]
    Fetch {
        /// What was fetched.
        url: String,
        reason: String,
    },
}

pub(crate) fn fetch(base: &str, path: &str) -> Result<Vec<u8>, RemoteError> {
    let url = format!("{}/{path}", base.trim_end_matches('/'));
    // A stalled server must not hang a verification for ever; a full entry bundle is 16 MB at most.
    let mut response = ureq::get(&url)
        .config()
        .timeout_global(Some(std::time::Duration::from_secs(120)))
        .build()
        .call()
        .map_err(|e| RemoteError::Fetch { url: url.clone(), reason: e.to_string() })?;
    response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .map_err(|e| RemoteError::Fetch { url, reason: e.to_string() })
}

/// Verifies a remote Gatelog from its public endpoints alone, as an outside
/// monitor would: the signed checkpoint, every entry bundle (with the provider
/// signatures entries carry), every hash tile.
pub fn verify_remote(base: &str, keys: &[NoteVerifier]) -> Result<Report, RemoteError> {
    let note = String::from_utf8_lossy(&fetch(base, "checkpoint")?).into_owned();
    // Learn the claimed size first (unverified), then recompute and check the signature and root.
    let size = tiles_size_hint(&note);
    let mut audit = Audit::new([size]);
    let mut index = 0u64;
    while index < size {
        let tile = TilePath {
            kind: TileKind::Entries,
            index: index / TILE_WIDTH,
            partial: partial_width(size, index / TILE_WIDTH),
        };
        let bundle = fetch(base, &tile.to_string())?;
        let Some(entries) = tiles::split_bundle(&bundle) else {
            audit.report.find(format!("{tile}: truncated entry bundle"));
            break;
        };
        if entries.len() as u64 != tile.width() {
            audit.report.find(format!("{tile}: {} entries, expected {}", entries.len(), tile.width()));
        }
        for bytes in entries {
            audit.entry(index, bytes, None);
            index += 1;
        }
        if index < size && !index.is_multiple_of(TILE_WIDTH) {
            break;
        }
    }
    audit.checkpoint("checkpoint", &note, keys, None);
    // Every hash tile, at every tile level, against the recomputed tree.
    for level in 0..=tiles::MAX_TILE_LEVEL {
        let tree_level = level * TILE_HEIGHT;
        let count = size >> tree_level;
        if count == 0 {
            break;
        }
        for tile_index in 0..count.div_ceil(TILE_WIDTH) {
            let start = tile_index * TILE_WIDTH;
            let width = (count - start).min(TILE_WIDTH);
            let tile = TilePath {
                kind: TileKind::Hashes { level },
                index: tile_index,
                partial: (width < TILE_WIDTH).then_some(width as u16),
            };
            let data = fetch(base, &tile.to_string())?;
            let expected: Vec<u8> = audit.level_slice(tree_level, start, width).concat();
            audit.report.nodes += width;
            if data != expected {
                audit.report.find(format!("{tile}: served hashes differ from the ones the entries give"));
            }
        }
    }
    Ok(audit.report)
}

fn partial_width(size: u64, tile_index: u64) -> Option<u16> {
    let width = (size - tile_index * TILE_WIDTH).min(TILE_WIDTH);
    (width < TILE_WIDTH).then_some(width as u16)
}

/// The size a checkpoint note claims, read before its signature is checked
/// (the signature is checked once the entries are recomputed).
fn tiles_size_hint(note: &str) -> u64 {
    note.lines().nth(1).and_then(|line| line.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ledger::entry::{EntrySignature, PendingEntry};
    use crate::ledger::note::NoteSigner;
    use crate::records::signature::RecordSigner;
    use crate::records::{Record, Slug};
    use crate::testing::TestApp;

    fn capacity(total: u64) -> serde_json::Value {
        json!({"kind": "capacity", "as_of": "2026-11-01", "resource": "a100", "region": "eu-fi",
               "total_accelerators": total, "newcomer_set_aside": 0})
    }

    /// An entry of `provider` holding `record`, carrying `signature` as given (unchecked, as a faulty log might).
    fn pending(provider: &Slug, record: &Record, signature: EntrySignature) -> PendingEntry {
        PendingEntry {
            provider: provider.clone(),
            kind: record.kind().as_str().into(),
            natural_key: record.natural_key(),
            record: record.to_json(),
            supersedes: None,
            signature: Some(signature),
        }
    }

    /// Issue 15: a verification running while batches are appended reads one view of the log,
    /// so a log that grows under it is not reported as a broken one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn verifying_while_batches_are_appended_finds_no_difference() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};

        use crate::testing::{TestDb, sample_batch, test_ledger};

        let db = TestDb::new().await;
        let ledger = test_ledger();
        ledger.append(&db.pool, &sample_batch(0, 600)).await.expect("append");
        let stop = Arc::new(AtomicBool::new(false));
        let appender = tokio::spawn({
            let (pool, ledger, stop) = (db.pool.clone(), ledger.clone(), stop.clone());
            async move {
                let mut next = 600;
                while !stop.load(Ordering::Relaxed) {
                    ledger.append(&pool, &sample_batch(next, 3)).await.expect("append");
                    next += 3;
                }
                next
            }
        });
        let mut conn = db.pool.acquire().await.expect("conn");
        let mut sizes = Vec::new();
        for round in 0..15 {
            let report = verify_database(&mut conn, &[ledger.verifier()]).await.expect("verify");
            assert!(report.ok(), "round {round}: {report}");
            sizes.push(report.entries);
        }
        stop.store(true, Ordering::Relaxed);
        let appended = appender.await.expect("appender");
        sizes.dedup();
        assert!(sizes.len() > 5, "the log grew while it was verified: sizes {sizes:?}, {appended} at the end");
    }

    #[tokio::test]
    async fn wrong_and_unregistered_provider_signatures_are_findings_naming_the_entry() {
        let app = TestApp::new().await;
        app.provider_token("nordic-hpc").await;
        let provider = Slug::parse("nordic-hpc").expect("slug");
        let signer = RecordSigner::new(&NoteSigner::generate("nordic-hpc").expect("key")).expect("signer");
        let mut conn = app.db.pool.acquire().await.expect("conn");
        crate::db::provider_keys::add(&mut conn, &provider, signer.public_key()).await.expect("add");
        let (one, two) = (Record::parse(capacity(1)).expect("record"), Record::parse(capacity(2)).expect("record"));
        let good = EntrySignature::new(&signer.sign(&provider, &one).expect("sign"), signer.public_key());
        // Entry 1: record two with the signature of record one.
        let wrong = EntrySignature::new(&signer.sign(&provider, &one).expect("sign"), signer.public_key());
        // Entry 2: a valid signature by a key nobody registered.
        let stranger = RecordSigner::new(&NoteSigner::generate("nordic-hpc").expect("key")).expect("signer");
        let unregistered = EntrySignature::new(&stranger.sign(&provider, &two).expect("sign"), stranger.public_key());
        // Entry 3: a key named for another provider.
        let other = RecordSigner::new(&NoteSigner::generate("nimbus-gpu").expect("key")).expect("signer");
        let other_slug = Slug::parse("nimbus-gpu").expect("slug");
        let misnamed = EntrySignature::new(&other.sign(&other_slug, &two).expect("sign"), other.public_key());
        let batch = [
            pending(&provider, &one, good),
            pending(&provider, &two, wrong),
            pending(&provider, &two, unregistered),
            pending(&provider, &two, misnamed),
        ];
        app.ledger().append(&app.db.pool, &batch).await.expect("append");

        let report = verify_database(&mut conn, &[app.ledger().verifier()]).await.expect("verify");
        assert_eq!(report.findings.len(), 3, "{report}");
        assert!(report.findings[0].starts_with("entry 1: provider signature: does not verify"), "{report}");
        assert!(report.findings[1].starts_with("entry 2: signed with key nordic-hpc+"), "{report}");
        assert!(report.findings[1].contains("never registered"), "{report}");
        assert!(report.findings[2].starts_with("entry 3: provider signature: the key is named \"nimbus-gpu\""));
        assert_eq!(report.signed, 2, "entries 0 and 2 carry signatures that verify");

        // An outside monitor, with the entries alone, finds the signatures that do not verify.
        let mut audit = Audit::new([]);
        for index in 0..4 {
            let row = crate::db::ledger::entry(&mut conn, index).await.expect("query").expect("entry");
            audit.entry(index, &row.bytes, None);
        }
        let findings: Vec<&str> = audit.report.findings.iter().map(String::as_str).collect();
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert!(findings[0].starts_with("entry 1:") && findings[1].starts_with("entry 3:"), "{findings:?}");
    }
}
