//! What the public pages are computed from: the latest version of every record,
//! graded, at one checkpoint. Computed once per checkpoint and shared; when the
//! ledger grows, only the new entries are read and only the providers they
//! concern are recomputed, so the first view after an append stays cheap.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::AppState;
use crate::analytics::capacity::{CapacityPoint, capacity_over_time};
use crate::analytics::completeness::{KindCompleteness, completeness};
use crate::analytics::compliance::{Filing, Filings};
use crate::analytics::grades::{self, Grade};
use crate::analytics::headline::{Headline, ProviderInputs, headline};
use crate::analytics::metrics::{self, AcceptanceRate, LockupShare, QueuePoint};
use crate::analytics::prices::{LatestPrice, PricePoint, latest_prices, price_series};
use crate::analytics::{Disclosures, Filter};
use crate::db;
use crate::error::AppError;
use crate::providers::Provider;
use crate::records::{Record, RecordKind};

/// A provider's scorecard figures.
#[derive(Debug, Clone, Default)]
pub struct ProviderFigures {
    /// Queue-time series per tier and month.
    pub queue: Vec<QueuePoint>,
    /// Acceptance per applicant category.
    pub acceptance: Vec<AcceptanceRate>,
    /// Monthly median prices per resource and pricing model.
    pub prices: Vec<PricePoint>,
    /// Newest price per resource, region and pricing model.
    pub latest_prices: Vec<LatestPrice>,
    /// Capacity, set-aside and locked at each capacity filing.
    pub capacity: Vec<CapacityPoint>,
    /// Lock-ups with their capacity share, newest first.
    pub lockups: Vec<LockupShare>,
    /// Months filed per monthly duty over the reporting window.
    pub completeness: Vec<KindCompleteness>,
}

/// One provider's part of a snapshot.
#[derive(Debug, Clone, Default)]
pub struct ProviderData {
    /// Latest version of each of its records.
    pub disclosures: Disclosures,
    /// (kind, natural key) of its records that were amended.
    amended: BTreeSet<(String, String)>,
    /// Its scorecard figures.
    pub figures: ProviderFigures,
    /// Its grade (over the global window).
    pub grade: Option<Grade>,
}

/// The latest version of a record that no longer decodes under today's rules (filed
/// under older rules, or out of today's value domains). It is left out of every figure
/// and dataset and named on `/ledger` and `/data`; the entry itself stays public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableEntry {
    /// Entry index.
    pub index: u64,
    /// Provider slug.
    pub provider: String,
    /// Record kind as the entry names it.
    pub kind: String,
    /// Why it does not decode.
    pub reason: String,
}

/// Unreadable latest versions by (provider, kind, natural key).
pub type Unreadable = BTreeMap<(String, String, String), UnreadableEntry>;

/// Everything the pages show, at one checkpoint.
#[derive(Debug)]
pub struct Snapshot {
    /// Checkpoint size.
    pub tree_size: u64,
    /// Checkpoint root, hex.
    pub root_hex: String,
    /// Registered providers when computed (providers are registered outside the ledger).
    providers_version: (i64, i64, i64),
    /// When that checkpoint was signed.
    pub signed_at: DateTime<Utc>,
    /// Registered providers, by name.
    pub providers: Vec<Provider>,
    /// Per provider slug (shared between snapshots until a provider's data changes).
    pub data: HashMap<String, Arc<ProviderData>>,
    /// First and last month any disclosure covers.
    pub window: Option<(NaiveDate, NaiveDate)>,
    /// The home page's figures across every provider.
    pub headline: Headline,
    /// Every filing (original or amendment) up to this checkpoint, for the compliance
    /// report: extended from the previous snapshot's with the entries appended since.
    pub filings: Arc<Filings>,
    /// Latest versions that do not decode: left out of the figures, listed instead.
    pub unreadable: Arc<Unreadable>,
    /// Results computed from this snapshot on demand, kept until the next checkpoint.
    pub memo: Memo,
}

/// Results computed from a snapshot on demand (a dashboard table for one filter,
/// say), so repeated requests for the same view cost nothing until the ledger grows.
#[derive(Default)]
pub struct Memo(Mutex<HashMap<String, Arc<dyn std::any::Any + Send + Sync>>>);

impl Memo {
    /// Views kept per snapshot; past this the memo starts over (filters are unbounded).
    const CAPACITY: usize = 512;

    /// The value stored under `key`, if it is a `T`.
    pub fn get<T: std::any::Any + Send + Sync>(&self, key: &str) -> Option<Arc<T>> {
        let value = self.0.lock().ok()?.get(key).cloned()?;
        value.downcast::<T>().ok()
    }

    /// Stores `value` under `key` and returns it.
    pub fn put<T: std::any::Any + Send + Sync>(&self, key: String, value: Arc<T>) -> Arc<T> {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= Self::CAPACITY {
                map.clear();
            }
            map.insert(key, value.clone());
        }
        value
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let size = self.0.lock().map_or(0, |m| m.len());
        f.debug_struct("Memo").field("entries", &size).finish()
    }
}

impl Snapshot {
    /// The ETag of every page computed from this snapshot: it changes when the
    /// ledger, the registered providers or the software change, and at midnight
    /// UTC (the citation line carries the access date), and only then.
    pub fn etag(&self) -> String {
        format!(
            "\"{}-{}-{}-{}-{}\"",
            &self.root_hex[..16],
            self.providers_version.0,
            self.providers_version.1 ^ self.providers_version.2,
            env!("CARGO_PKG_VERSION"),
            Utc::now().format("%Y%m%d")
        )
    }

    /// One provider's latest disclosures (empty if none).
    pub fn disclosures_of(&self, slug: &str) -> Disclosures {
        self.data.get(slug).map(|d| d.disclosures.clone()).unwrap_or_default()
    }

    /// A provider's grade.
    pub fn grade(&self, slug: &str) -> Option<&Grade> {
        self.data.get(slug).and_then(|d| d.grade.as_ref())
    }

    /// A provider's scorecard figures.
    pub fn figures(&self, slug: &str) -> Option<&ProviderFigures> {
        self.data.get(slug).map(|d| &d.figures)
    }

    /// How many of a provider's records were amended.
    pub fn amendments(&self, slug: &str) -> u64 {
        self.data.get(slug).map_or(0, |d| d.amended.len() as u64)
    }

    /// The unreadable latest versions of one kind (all kinds with `None`), in entry order.
    pub fn unreadable_of(&self, kind: Option<&str>) -> Vec<&UnreadableEntry> {
        let mut list: Vec<&UnreadableEntry> =
            self.unreadable.values().filter(|u| kind.is_none_or(|k| u.kind == k)).collect();
        list.sort_by_key(|u| u.index);
        list
    }

    /// Every provider's disclosures narrowed by `filter`, together.
    pub fn filtered(&self, filter: &Filter) -> Disclosures {
        let mut all = Disclosures::default();
        for data in self.data.values() {
            let part = data.disclosures.filtered(filter);
            all.queue_times.extend(part.queue_times);
            all.acceptance.extend(part.acceptance);
            all.prices.extend(part.prices);
            all.lockups.extend(part.lockups);
            all.capacity.extend(part.capacity);
        }
        all
    }

    /// Every resource and region named in any disclosure.
    pub fn resources_and_regions(&self) -> (Vec<String>, Vec<String>) {
        let (mut resources, mut regions) = (BTreeSet::new(), BTreeSet::new());
        for data in self.data.values() {
            let (r, g) = data.disclosures.resources_and_regions();
            resources.extend(r);
            regions.extend(g);
        }
        (resources.into_iter().collect(), regions.into_iter().collect())
    }
}

/// How long, by default, a request waits for a new checkpoint's snapshot before it is
/// served the previous one. Under steady ingest a checkpoint is signed per batch;
/// without a bound, page views queue behind each recomputation (p99 840 ms at four
/// checkpoints a second, docs/RELIABILITY.md). Every page names the checkpoint its
/// figures come from, so a page one checkpoint behind is stale, never wrong.
pub const DEFAULT_FRESH_WAIT: Duration = Duration::from_millis(250);

/// The cache: the last snapshot, replaced when the checkpoint changes. One
/// computation runs at a time, in its own task (the start-up warm-up and a first
/// visitor do not both compute, and a request that stops waiting does not cancel it).
#[derive(Debug, Clone)]
pub struct SnapshotCache {
    latest: Arc<Mutex<Option<Arc<Snapshot>>>>,
    computing: Arc<tokio::sync::Mutex<()>>,
    finished: Arc<tokio::sync::Notify>,
    fresh_wait: Duration,
    /// Set when the server stops: nobody waits for a computation any more.
    stopping: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for SnapshotCache {
    fn default() -> Self {
        Self::with_fresh_wait(DEFAULT_FRESH_WAIT)
    }
}

impl SnapshotCache {
    /// An empty cache whose requests wait up to `fresh_wait` for a new checkpoint's figures.
    pub fn with_fresh_wait(fresh_wait: Duration) -> Self {
        Self {
            latest: Arc::default(),
            computing: Arc::default(),
            finished: Arc::default(),
            fresh_wait,
            stopping: Arc::default(),
        }
    }

    /// The server is stopping: requests waiting for figures are answered now (with the
    /// held snapshot, or 503), so they do not hold up the shutdown (issue 15).
    pub fn stop(&self) {
        self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        self.finished.notify_waiters();
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The snapshot held now, whatever its checkpoint.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.latest.lock().ok().and_then(|guard| guard.clone())
    }

    /// Forgets the held snapshot (the next request rebuilds from scratch).
    pub fn clear(&self) {
        if let Ok(mut guard) = self.latest.lock() {
            *guard = None;
        }
    }

    fn store(&self, snapshot: Arc<Snapshot>) {
        if let Ok(mut guard) = self.latest.lock() {
            // Never replace a newer snapshot with an older one.
            if guard.as_ref().is_none_or(|held| held.tree_size <= snapshot.tree_size) {
                *guard = Some(snapshot);
            }
        }
    }
}

/// Puts `record` in place of the provider's earlier version with the same natural key.
/// Returns true if there was one (an amendment).
fn upsert(d: &mut Disclosures, provider: &str, record: Record) -> bool {
    fn put<T>(list: &mut Vec<(String, T)>, provider: &str, key: &str, value: T, key_of: impl Fn(&T) -> String) -> bool {
        match list.iter_mut().find(|(_, existing)| key_of(existing) == key) {
            Some(slot) => {
                slot.1 = value;
                true
            }
            None => {
                list.push((provider.to_owned(), value));
                false
            }
        }
    }
    let key = record.natural_key();
    let natural = |r: Record| r.natural_key();
    match record {
        Record::QueueTime(r) => put(&mut d.queue_times, provider, &key, r, |x| natural(Record::QueueTime(x.clone()))),
        Record::Acceptance(r) => put(&mut d.acceptance, provider, &key, r, |x| natural(Record::Acceptance(x.clone()))),
        Record::Price(r) => put(&mut d.prices, provider, &key, r, |x| natural(Record::Price(x.clone()))),
        Record::Lockup(r) => put(&mut d.lockups, provider, &key, r, |x| natural(Record::Lockup(x.clone()))),
        Record::Capacity(r) => put(&mut d.capacity, provider, &key, r, |x| natural(Record::Capacity(x.clone()))),
    }
}

/// Takes out the provider's record of `kind` with natural key `key`, if it holds one
/// (its latest version no longer decodes, so no version of it is published).
fn remove(d: &mut Disclosures, kind: &str, key: &str) {
    fn drop_key<T: Clone>(list: &mut Vec<(String, T)>, key: &str, wrap: impl Fn(T) -> Record) {
        list.retain(|(_, existing)| wrap(existing.clone()).natural_key() != key);
    }
    match RecordKind::OPTIONS.iter().find(|(name, _)| *name == kind).map(|(_, k)| *k) {
        Some(RecordKind::QueueTime) => drop_key(&mut d.queue_times, key, Record::QueueTime),
        Some(RecordKind::Acceptance) => drop_key(&mut d.acceptance, key, Record::Acceptance),
        Some(RecordKind::Price) => drop_key(&mut d.prices, key, Record::Price),
        Some(RecordKind::Lockup) => drop_key(&mut d.lockups, key, Record::Lockup),
        Some(RecordKind::Capacity) => drop_key(&mut d.capacity, key, Record::Capacity),
        None => {}
    }
}

/// Recomputes a provider's figures and grade.
fn refresh(data: &mut ProviderData, window: Option<(NaiveDate, NaiveDate)>) {
    let d = &data.disclosures;
    data.figures = ProviderFigures {
        queue: metrics::queue_series(d).unwrap_or_default(),
        acceptance: metrics::acceptance_by_category(d).unwrap_or_default(),
        prices: price_series(d),
        latest_prices: latest_prices(d),
        capacity: capacity_over_time(d),
        lockups: metrics::lockup_shares(d),
        completeness: window.map(|w| completeness(d, w)).unwrap_or_default(),
    };
    data.grade = window.map(|w| grades::grade(&data.disclosures, w));
}

/// What a snapshot is computed for: the checkpoint and a version of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    root_hex: String,
    providers_version: (i64, i64, i64),
}

impl Key {
    fn matches(&self, snapshot: &Snapshot) -> bool {
        snapshot.root_hex == self.root_hex && snapshot.providers_version == self.providers_version
    }
}

async fn current_key(state: &AppState) -> Result<Key, AppError> {
    let mut conn = state.pool.acquire().await?;
    let checkpoint = db::ledger::latest_checkpoint(&mut conn)
        .await?
        .ok_or_else(|| AppError::Unavailable("no checkpoint yet".into()))?;
    Ok(Key { root_hex: hex::encode(checkpoint.root), providers_version: providers_version(&mut conn).await? })
}

// Registering a provider does not touch the ledger, so it is part of the cache key.
// Obligations too (the compliance report depends on them): a checksum of every row.
async fn providers_version(conn: &mut sqlx::PgConnection) -> Result<(i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM providers), (SELECT coalesce(max(id), 0) FROM providers),
                (SELECT coalesce(sum(hashtext(concat_ws('|', provider_id, kind, cadence, deadline_days, since))), 0)::bigint
                 FROM reporting_obligations)",
    )
    .fetch_one(conn)
    .await
}

/// The snapshot for the current checkpoint. If the held one is older, a computation
/// is started (unless one runs) and the request waits for it up to the cache's
/// `fresh_wait`; past that it gets the held snapshot, which names its own checkpoint.
/// With nothing held yet, it waits for the computation however long it takes.
pub async fn current(state: &AppState) -> Result<Arc<Snapshot>, AppError> {
    let cache = &state.snapshots;
    let key = current_key(state).await?;
    let deadline = tokio::time::Instant::now() + cache.fresh_wait;
    loop {
        let held = cache.latest();
        if let Some(hit) = held.as_ref().filter(|h| key.matches(h)) {
            return Ok(hit.clone());
        }
        // Listen before starting or checking, so that a computation finishing in
        // between is not missed.
        let finished = cache.finished.notified();
        tokio::pin!(finished);
        finished.as_mut().enable();
        if cache.is_stopping() {
            return held.ok_or_else(|| AppError::Unavailable("the server is stopping".into()));
        }
        if let Ok(guard) = cache.computing.clone().try_lock_owned() {
            let (state, done) = (state.clone(), cache.finished.clone());
            tokio::spawn(async move {
                if let Err(error) = compute(&state).await {
                    tracing::error!(%error, "page snapshot not computed");
                }
                drop(guard);
                done.notify_waiters();
            });
        }
        match held {
            Some(stale) => {
                if tokio::time::timeout_at(deadline, finished).await.is_err() {
                    return Ok(cache.latest().unwrap_or(stale));
                }
            }
            None => {
                finished.await;
                if cache.latest().is_none() && !cache.is_stopping() {
                    return Err(AppError::Unavailable(
                        "the page data could not be computed; see the server log".into(),
                    ));
                }
            }
        }
    }
}

/// Computes the snapshot of the current checkpoint (from the held one and the
/// entries appended since, or from scratch) and stores it.
async fn compute(state: &AppState) -> Result<Arc<Snapshot>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let checkpoint = db::ledger::latest_checkpoint(&mut conn)
        .await?
        .ok_or_else(|| AppError::Unavailable("no checkpoint yet".into()))?;
    let root_hex = hex::encode(checkpoint.root);
    let providers_version = providers_version(&mut conn).await?;
    let key = Key { root_hex: root_hex.clone(), providers_version };
    let cached = state.snapshots.latest();
    if let Some(hit) = cached.as_ref().filter(|c| key.matches(c)) {
        return Ok(hit.clone());
    }
    let providers = db::providers::list(&mut conn).await?;
    // An append only extends the log, so the entries past the cached size are all that changed.
    let (base, changes, filings) = match cached.filter(|c| c.tree_size <= checkpoint.size) {
        Some(previous) => {
            let new = db::records::appended(&mut conn, previous.tree_size, checkpoint.size).await?;
            let mut filings = (*previous.filings).clone();
            filings.extend(new.iter().filter_map(|r| {
                Filing::of_entry(&r.provider, &r.kind, Filing::date_of(&r.record), r.received_at, r.amends)
            }));
            (Some(previous), new, filings)
        }
        None => {
            let filings: Filings = db::obligations::filings(&mut conn, checkpoint.size).await?.into_iter().collect();
            let all = db::records::latest_at(&mut conn, None, checkpoint.size).await?;
            let rebuilt = all
                .into_iter()
                .map(|r| db::records::NewRecord {
                    index: r.index,
                    provider: r.provider,
                    kind: r.kind,
                    natural_key: r.natural_key,
                    record: r.record,
                    amends: r.amendments > 0,
                    received_at: r.received_at,
                })
                .collect();
            (None, rebuilt, filings)
        }
    };
    drop(conn);
    let slugs: Vec<String> = providers.iter().map(|p| p.slug.to_string()).collect();
    // The analytics are CPU work (and polars blocks): keep them off the async workers.
    let (data, window, headline, unreadable) = tokio::task::spawn_blocking(move || {
        let mut data: HashMap<String, Arc<ProviderData>> = base.as_ref().map(|b| b.data.clone()).unwrap_or_default();
        let mut unreadable: Unreadable = base.as_ref().map(|b| (*b.unreadable).clone()).unwrap_or_default();
        let mut touched: BTreeSet<String> = BTreeSet::new();
        let mut working: HashMap<String, ProviderData> = HashMap::new();
        for change in changes {
            let entry = working
                .entry(change.provider.clone())
                .or_insert_with(|| data.get(&change.provider).map(|d| (**d).clone()).unwrap_or_default());
            let slot = (change.provider.clone(), change.kind.clone(), change.natural_key.clone());
            match Record::from_entry(&change.kind, change.record) {
                Ok(record) => {
                    unreadable.remove(&slot);
                    if upsert(&mut entry.disclosures, &change.provider, record) || change.amends {
                        entry.amended.insert((change.kind, change.natural_key));
                    }
                }
                Err(error) => {
                    // One policy for an entry that no longer decodes: named, counted, left out,
                    // and the version it amends is not published in its place.
                    remove(&mut entry.disclosures, &change.kind, &change.natural_key);
                    if change.amends {
                        entry.amended.insert((change.kind.clone(), change.natural_key.clone()));
                    }
                    let index = change.index;
                    let (provider, kind) = (change.provider.clone(), change.kind);
                    unreadable.insert(slot, UnreadableEntry { index, provider, kind, reason: error.reason });
                }
            }
            touched.insert(change.provider);
        }
        for (slug, provider_data) in working {
            data.insert(slug, Arc::new(provider_data));
        }
        for slug in &slugs {
            data.entry(slug.clone()).or_default();
        }
        let window = crate::analytics::reporting_window(data.values().map(|d| &d.disclosures));
        // Grades depend on the window: if it moved, every provider is regraded.
        let regrade_all = base.as_ref().is_none_or(|b| b.window != window);
        for (slug, provider_data) in data.iter_mut() {
            if regrade_all || touched.contains(slug) || provider_data.grade.is_none() && window.is_some() {
                let mut fresh = (**provider_data).clone();
                refresh(&mut fresh, window);
                *provider_data = Arc::new(fresh);
            }
        }
        let inputs = data.values().map(|d| ProviderInputs {
            queue: &d.figures.queue,
            acceptance: &d.figures.acceptance,
            capacity: d.figures.capacity.last().map(|c| (c.as_of, c.total, c.set_aside, c.locked)),
        });
        let headline = headline(inputs);
        (data, window, headline, unreadable)
    })
    .await
    .map_err(|e| AppError::Unavailable(format!("analytics failed: {e}")))?;
    let snapshot = Arc::new(Snapshot {
        tree_size: checkpoint.size,
        root_hex,
        providers_version,
        signed_at: checkpoint.signed_at,
        providers,
        data,
        window,
        headline,
        filings: Arc::new(filings),
        unreadable: Arc::new(unreadable),
        memo: Memo::default(),
    });
    state.snapshots.store(snapshot.clone());
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::current;
    use crate::testing::TestApp;

    #[tokio::test]
    async fn the_snapshot_is_reused_until_the_ledger_or_the_providers_change() {
        let app = TestApp::new().await;
        let first = current(&app.state).await.expect("snapshot");
        let again = current(&app.state).await.expect("snapshot");
        assert!(Arc::ptr_eq(&first, &again), "same checkpoint, same snapshot");
        app.provider_token("new-provider").await;
        let after_registration = current(&app.state).await.expect("snapshot");
        assert!(!Arc::ptr_eq(&first, &after_registration));
        assert_eq!(after_registration.providers.len(), 1);
        app.ledger().append(&app.db.pool, &crate::testing::sample_batch(0, 3)).await.expect("append");
        let after_append = current(&app.state).await.expect("snapshot");
        assert_eq!(after_append.tree_size, 3);
    }

    /// While a new checkpoint's figures are being computed, a view waits at most its
    /// budget and then gets the previous checkpoint's; once computed, views get the new ones.
    #[tokio::test]
    async fn a_view_does_not_wait_past_its_budget_for_new_figures() {
        let app = TestApp::with_demo().await;
        let budget = std::time::Duration::from_millis(100);
        let state = app.state.clone().with_fresh_wait(budget);
        let before = current(&state).await.expect("first snapshot: waited for, whatever the budget");
        app.ledger().append(&app.db.pool, &crate::testing::sample_batch(0, 3)).await.expect("append");
        // A long computation is under way (we hold its lock, so none can start or finish).
        let computing = state.snapshots.computing.clone().lock_owned().await;
        let started = std::time::Instant::now();
        let served = current(&state).await.expect("snapshot");
        let waited = started.elapsed();
        assert!(Arc::ptr_eq(&served, &before), "the previous checkpoint's figures");
        assert!(waited >= budget && waited < budget * 10, "waited {waited:?} for a budget of {budget:?}");
        drop(computing);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let now = current(&state).await.expect("snapshot");
            if now.tree_size == before.tree_size + 3 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the new figures were never computed");
        }
    }

    /// Updating from the appended entries gives the same figures as building from scratch.
    #[tokio::test]
    async fn incremental_updates_match_a_full_rebuild() {
        let app = TestApp::new().await;
        crate::demo::load(&app.db.pool, &app.ledger(), crate::demo::DEFAULT_SEED).await.expect("demo");
        let before = current(&app.state).await.expect("snapshot");
        let token = app.provider_token("corvid-gpu").await;
        // An amendment of a queue-time filing and a new capacity filing.
        let amended = json!({"kind": "queue_time", "period_start": "2024-11-01", "period_end": "2024-12-01", "resource": "nvidia-h100-80gb",
            "region": "us-central", "tier": "newcomer", "jobs": 5, "p50_seconds": 999999, "p90_seconds": 999999, "p99_seconds": 999999});
        let body = format!("[{amended}]");
        app.post("/api/v1/records", "application/json", body, Some(&token), &[])
            .await
            .assert_status(axum::http::StatusCode::CREATED);
        let incremental = current(&app.state).await.expect("snapshot");
        assert_eq!(incremental.tree_size, before.tree_size + 1);
        app.state.snapshots.clear();
        let rebuilt = current(&app.state).await.expect("snapshot");
        for provider in &rebuilt.providers {
            let slug = provider.slug.as_str();
            assert_eq!(incremental.grade(slug), rebuilt.grade(slug), "{slug}");
            assert_eq!(incremental.amendments(slug), rebuilt.amendments(slug), "{slug}");
            assert_eq!(
                incremental.figures(slug).map(|f| f.queue.clone()),
                rebuilt.figures(slug).map(|f| f.queue.clone()),
                "{slug}"
            );
        }
        assert!(incremental.amendments("corvid-gpu") > before.amendments("corvid-gpu"));
        // The compliance report's filings, extended per checkpoint, equal a pass over the ledger.
        assert_eq!(incremental.filings.len(), before.filings.len() + 1);
        assert_eq!(incremental.filings.len(), rebuilt.filings.len());
        for provider in &rebuilt.providers {
            for (_, kind) in crate::records::RecordKind::OPTIONS {
                let slug = provider.slug.as_str();
                assert_eq!(incremental.filings.of(slug, *kind), rebuilt.filings.of(slug, *kind), "{slug} {kind:?}");
            }
        }
    }
}
