//! What the pages show at one checkpoint, read from the projection that the append
//! transaction maintains (`crate::db::projection`). Nothing here is computed from the
//! whole ledger: a new checkpoint reloads the digests of the providers it changed (a few
//! kilobytes each), regrades every provider only when the reporting window moved (from
//! the digests, not from records), and a scorecard merges its provider's bucket
//! summaries when first asked for. So a page is never behind the checkpoint it names by
//! more than one short load, memory is bounded by the number of providers (not the
//! ledger), and a restart serves at once: there is nothing to rebuild.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::AppState;
use crate::analytics::grades::Grade;
use crate::analytics::headline::{Headline, PeriodAcceptance, acceptance_by_month, headline};
use crate::analytics::tables::AcceptanceRate;
use crate::db;
use crate::error::AppError;
use crate::projection::bucket::BucketSummary;
use crate::projection::summary::{Digest, ProviderFigures, ProviderSummary, reporting_window};
use crate::providers::Provider;
use crate::records::RecordKind;

/// One provider's scorecard figures at a checkpoint.
#[derive(Debug, Clone, Default)]
pub struct ProviderData {
    pub figures: ProviderFigures,
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

/// Unreadable latest versions listed by name on the pages; past this many, only counted.
pub const UNREADABLE_LISTED: i64 = 200;

/// A provider's acceptance buckets: (month, sums per applicant category).
type AcceptanceMonths = Vec<(NaiveDate, Vec<AcceptanceRate>)>;

/// One provider's part of a checkpoint's state.
#[derive(Debug, Clone)]
struct ProviderPart {
    /// Tree size after the batch that last changed it (its summaries are keyed by it).
    changed_at: u64,
    /// The tree size of the first snapshot holding its newest entry (any entry: one the
    /// projection leaves out is still a filing), so what is computed from its filings is
    /// kept until this moves.
    filed_at: u64,
    digest: Arc<Digest>,
    counts: db::projection::ProviderCounts,
    grade: Option<Grade>,
    /// Its acceptance buckets' sums per category, by month (the home page's series).
    acceptance: Arc<AcceptanceMonths>,
}

/// The registry's version (`registry_version`, moved by triggers): registering a provider,
/// changing an obligation or a provider key does not touch the ledger, yet pages show
/// them, so pages are keyed by it too.
type Registry = i64;

/// Everything the pages show that spans providers, at one checkpoint.
#[derive(Debug)]
pub struct PageData {
    /// Checkpoint size.
    pub tree_size: u64,
    /// Checkpoint root, hex.
    pub root_hex: String,
    /// When that checkpoint was signed.
    pub signed_at: DateTime<Utc>,
    registry: Registry,
    /// Registered providers, by name.
    pub providers: Vec<Provider>,
    parts: HashMap<String, ProviderPart>,
    /// First and last date any disclosure covers (what grades and completeness span).
    pub window: Option<(NaiveDate, NaiveDate)>,
    /// The home page's figures across every provider.
    pub headline: Headline,
    /// Acceptance month by month across providers (the home page's chart).
    pub acceptance_by_month: Vec<PeriodAcceptance>,
    /// Latest versions that do not decode, counted, and the first of them by index.
    pub unreadable: (u64, Vec<UnreadableEntry>),
    /// Results computed from this checkpoint on demand, kept until the next one.
    pub memo: Memo,
    /// What loading it read.
    pub work: LoadWork,
}

/// What loading a snapshot read. Tests count work, not time: after an append, none of
/// these may grow with the number of providers or the ledger's size, only with the
/// providers the new entries concern.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadWork {
    /// Provider digests read.
    pub digests: u64,
    /// Acceptance buckets read.
    pub acceptance_buckets: u64,
    /// Providers named by the entries appended since the previous snapshot.
    pub appended_providers: u64,
    /// Whether the unreadable versions were listed again.
    pub unreadable_listed: bool,
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

impl PageData {
    /// The ETag of every page computed from this snapshot: it changes when the ledger, the
    /// registry (providers, obligations, provider keys) or the software change, and at
    /// midnight UTC (the citation line carries the access date), and only then.
    pub fn etag(&self) -> String {
        format!(
            "\"{}-{}-{}-{}\"",
            &self.root_hex[..16],
            self.registry,
            env!("CARGO_PKG_VERSION"),
            Utc::now().format("%Y%m%d")
        )
    }

    /// A provider's grade (none before anything is disclosed by anyone).
    pub fn grade(&self, slug: &str) -> Option<&Grade> {
        self.parts.get(slug).and_then(|p| p.grade.as_ref())
    }

    /// A provider's digest, if it has disclosed anything readable.
    pub fn digest(&self, slug: &str) -> Option<&Digest> {
        self.parts.get(slug).map(|p| p.digest.as_ref())
    }

    /// How many of a provider's records were amended.
    pub fn amendments(&self, slug: &str) -> u64 {
        self.parts.get(slug).map_or(0, |p| p.counts.amended)
    }

    /// The unreadable latest versions listed, of one kind (all kinds with `None`), in entry order.
    pub fn unreadable_of(&self, kind: Option<&str>) -> Vec<&UnreadableEntry> {
        self.unreadable.1.iter().filter(|u| kind.is_none_or(|k| u.kind == k)).collect()
    }

    /// The registered provider with this slug.
    pub fn provider(&self, slug: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.slug.as_str() == slug)
    }

    /// The tree size after the batch that last changed a provider's latest records.
    pub fn changed_at(&self, slug: &str) -> Option<u64> {
        self.parts.get(slug).map(|p| p.changed_at)
    }

    /// What a provider's filings-derived figures at this snapshot are keyed by: the snapshot
    /// its newest entry first appeared in, and the registry's version (obligations live there).
    pub fn filings_key(&self, slug: &str) -> (u64, Registry) {
        (self.parts.get(slug).map_or(0, |p| p.filed_at), self.registry)
    }
}

/// How long, by default, a request waits for a new checkpoint's state before it is
/// served the previous one. Loading is short (the digests of the providers the new
/// entries changed), so this bound matters only when the database is slow.
pub const DEFAULT_FRESH_WAIT: Duration = Duration::from_millis(250);

/// Provider figures kept across checkpoints, keyed by what they depend on; bounded.
type FiguresCache = HashMap<(String, u64, Option<(NaiveDate, NaiveDate)>), Arc<ProviderData>>;

/// The cache: the last snapshot, replaced when the checkpoint or registry changes, and
/// providers' scorecard figures, kept until their provider changes.
#[derive(Debug, Clone)]
pub struct PageDataCache {
    latest: Arc<Mutex<Option<Arc<PageData>>>>,
    loading: Arc<tokio::sync::Mutex<()>>,
    figures: Arc<Mutex<FiguresCache>>,
    carried: Arc<Memo>,
    fresh_wait: Duration,
    /// Set when the server stops: nobody waits for a load any more.
    stopping: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for PageDataCache {
    fn default() -> Self {
        Self::with_fresh_wait(DEFAULT_FRESH_WAIT)
    }
}

/// Scorecards' figures kept at once (a few tens of kilobytes each).
const FIGURES_KEPT: usize = 256;

impl PageDataCache {
    /// An empty cache whose requests wait up to `fresh_wait` for a new checkpoint's state.
    pub fn with_fresh_wait(fresh_wait: Duration) -> Self {
        Self {
            latest: Arc::default(),
            loading: Arc::default(),
            figures: Arc::default(),
            carried: Arc::default(),
            fresh_wait,
            stopping: Arc::default(),
        }
    }

    /// The server is stopping: requests waiting for a load are answered now (with the held
    /// snapshot, or 503), so they do not hold up the shutdown.
    pub fn stop(&self) {
        self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The snapshot held now, whatever its checkpoint.
    pub fn latest(&self) -> Option<Arc<PageData>> {
        self.latest.lock().ok().and_then(|guard| guard.clone())
    }

    /// Forgets everything held (the next request loads from scratch).
    pub fn clear(&self) {
        if let Ok(mut guard) = self.latest.lock() {
            *guard = None;
        }
        if let Ok(mut figures) = self.figures.lock() {
            figures.clear();
        }
        if let Ok(mut carried) = self.carried.0.lock() {
            carried.clear();
        }
    }

    /// Values kept across checkpoints (bounded like a [`Memo`]): each is stored with what it
    /// was computed from, and whoever reads it checks that against the current inputs.
    pub fn carried(&self) -> &Memo {
        &self.carried
    }

    fn store(&self, snapshot: Arc<PageData>) {
        if let Ok(mut guard) = self.latest.lock() {
            // Never replace a newer snapshot with an older one.
            if guard.as_ref().is_none_or(|held| held.tree_size <= snapshot.tree_size) {
                *guard = Some(snapshot);
            }
        }
    }
}

/// What a snapshot is computed for: the checkpoint and a version of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    root_hex: String,
    registry: Registry,
}

impl Key {
    fn matches(&self, snapshot: &PageData) -> bool {
        snapshot.root_hex == self.root_hex && snapshot.registry == self.registry
    }
}

async fn current_key(conn: &mut sqlx::PgConnection) -> Result<Key, AppError> {
    // One short statement per page request: the head's root and the registry's version.
    let row = db::ledger::head_root_and_registry(conn).await?;
    let (root, registry) = row.ok_or_else(|| AppError::Unavailable("no checkpoint yet".into()))?;
    Ok(Key { root_hex: hex::encode(root), registry })
}

/// The snapshot of the current checkpoint. Held: returned at once. Otherwise it is loaded
/// (one load at a time; others wait for it up to the cache's `fresh_wait`, then get the
/// held snapshot, which names its own checkpoint). With nothing held, they wait for the load.
pub async fn current(state: &AppState) -> Result<Arc<PageData>, AppError> {
    let cache = &state.snapshots;
    let key = {
        let mut conn = state.pool.acquire().await?;
        current_key(&mut conn).await?
    };
    if let Some(hit) = cache.latest().filter(|h| key.matches(h)) {
        return Ok(hit);
    }
    let held = cache.latest();
    if cache.is_stopping() {
        return held.ok_or_else(|| AppError::Unavailable("the server is stopping".into()));
    }
    // The load runs in its own task: a request that stops waiting does not cancel it.
    let loading = tokio::spawn({
        let state = state.clone();
        async move {
            let cache = &state.snapshots;
            let _one_at_a_time = cache.loading.lock().await;
            if let Some(hit) = cache.latest().filter(|h| key.matches(h)) {
                return Ok(hit);
            }
            let loaded = Arc::new(load(&state, cache.latest()).await?);
            cache.store(loaded.clone());
            Ok::<_, AppError>(loaded)
        }
    });
    let joined = |result: Result<Result<Arc<PageData>, AppError>, tokio::task::JoinError>| {
        result.map_err(|e| AppError::Unavailable(format!("loading the page figures failed: {e}")))?
    };
    match held {
        Some(stale) => match tokio::time::timeout(cache.fresh_wait, loading).await {
            Ok(result) => joined(result),
            Err(_) => Ok(cache.latest().unwrap_or(stale)),
        },
        None => joined(loading.await),
    }
}

/// What a page kept per checkpoint under `key` (an HTML page) starts from: the current
/// snapshot to compute it from (`Continue`), or the answer already (`Break`): 304 to a
/// client holding this checkpoint's version, or the page kept when it was first rendered.
pub async fn kept_or_current(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    key: &str,
) -> Result<std::ops::ControlFlow<axum::response::Response, Arc<PageData>>, AppError> {
    use std::ops::ControlFlow::{Break, Continue};
    let snapshot = current(state).await?;
    if let Some(fresh) = super::not_modified(headers, &snapshot) {
        return Ok(Break(fresh));
    }
    Ok(match super::kept(headers, &snapshot, key, "text/html; charset=utf-8") {
        Some(page) => Break(page),
        None => Continue(snapshot),
    })
}

/// Loads the state at the projection's head, reusing what `previous` holds for providers
/// that have not changed since.
async fn load(state: &AppState, previous: Option<Arc<PageData>>) -> Result<PageData, AppError> {
    // One consistent view: the projection, the checkpoint and the registry as of one moment.
    let mut tx = db::begin_consistent_read(&state.pool).await?;
    let size = db::projection::head(&mut tx).await?;
    let checkpoint = db::ledger::checkpoint_at(&mut tx, size)
        .await?
        .ok_or_else(|| AppError::Unavailable(format!("no checkpoint signed at the projection's size {size}")))?;
    let registry = db::providers::registry_version(&mut tx).await?;
    let reuse = previous.filter(|p| p.tree_size <= size);
    // The registry's version moves with every change to the providers (a trigger): an
    // append alone leaves the list as the previous snapshot read it.
    let providers = match reuse.as_ref().filter(|p| p.registry == registry) {
        Some(previous) => previous.providers.clone(),
        None => db::providers::list(&mut tx).await?,
    };
    let changed = db::projection::digests_changed_since(&mut tx, reuse.as_ref().map(|p| p.tree_size)).await?;
    // The providers named by the entries appended since the previous snapshot (a range of
    // the entries' primary key: as many rows as new entries, whatever the ledger's size).
    let appended: Option<Vec<String>> = match reuse.as_ref() {
        Some(previous) => Some(db::ledger::providers_between(&mut tx, previous.tree_size, size).await?),
        None => None,
    };
    // The changed providers' acceptance buckets (one row per provider and month): the home
    // page's monthly series is folded from these, never from the entries.
    let changed_slugs: Vec<String> = changed.iter().map(|(provider, ..)| provider.clone()).collect();
    let acceptance_rows = db::projection::bucket_summaries(&mut tx, RecordKind::Acceptance, &changed_slugs).await?;
    let mut work = LoadWork {
        digests: changed.len() as u64,
        acceptance_buckets: acceptance_rows.len() as u64,
        appended_providers: appended.as_ref().map_or(0, |a| a.len() as u64),
        unreadable_listed: false,
    };
    let mut acceptance = acceptance_months(acceptance_rows)?;
    // Every provider's counts name its unreadable latest versions, so their total is known
    // without a statement. The listing is read again only when a changed provider counts
    // one now or did before (with none anywhere, the usual case, nothing is read); it goes
    // through the partial index of unreadable versions, never a count over every latest
    // version (a pass over `projection_latest` whenever its statistics are stale, as after a
    // bulk load: ~10 ms at 100,000 entries on every new checkpoint).
    let held_before =
        |slug: &str| reuse.as_ref().and_then(|p| p.parts.get(slug)).map_or(0, |part| part.counts.unreadable);
    let listing_moved = reuse.is_none()
        || changed.iter().any(|(provider, _, _, counts)| counts.unreadable > 0 || held_before(provider) > 0);
    let listed = match reuse.as_ref().filter(|_| !listing_moved) {
        Some(previous) => previous.unreadable.1.clone(),
        None => {
            let unreadable_anywhere = changed.iter().any(|(_, _, _, counts)| counts.unreadable > 0)
                || reuse.as_ref().is_some_and(|previous| {
                    previous.parts.iter().any(|(slug, part)| {
                        part.counts.unreadable > 0 && !changed.iter().any(|(provider, ..)| provider == slug)
                    })
                });
            work.unreadable_listed = unreadable_anywhere;
            if unreadable_anywhere {
                db::projection::unreadable_listed(&mut tx, None, UNREADABLE_LISTED)
                    .await?
                    .into_iter()
                    .map(|(index, provider, kind, reason)| UnreadableEntry { index, provider, kind, reason })
                    .collect()
            } else {
                Vec::new()
            }
        }
    };
    tx.commit().await?;

    let mut parts: HashMap<String, ProviderPart> = reuse.as_ref().map(|p| p.parts.clone()).unwrap_or_default();
    let mut touched = Vec::with_capacity(changed.len());
    for (provider, changed_at, digest, counts) in changed {
        touched.push(provider.clone());
        let months = Arc::new(acceptance.remove(&provider).unwrap_or_default());
        let filed_at = parts.get(&provider).map_or(size, |p| p.filed_at);
        parts.insert(
            provider,
            ProviderPart { changed_at, filed_at, digest: Arc::new(digest), counts, grade: None, acceptance: months },
        );
    }
    // A provider with new entries has new filings, whether or not the projection folded them.
    for provider in appended.iter().flatten() {
        if let Some(part) = parts.get_mut(provider) {
            part.filed_at = size;
        }
    }
    // A registered provider that has filed nothing (readable) yet is graded too (it scores
    // zero: disclosure is the duty graded) and has a scorecard, never a 404.
    for provider in &providers {
        parts.entry(provider.slug.to_string()).or_insert_with(|| ProviderPart {
            changed_at: 0,
            filed_at: size,
            digest: Arc::new(Digest { provider: provider.slug.to_string(), ..Digest::default() }),
            counts: db::projection::ProviderCounts::default(),
            grade: None,
            acceptance: Arc::default(),
        });
    }
    let window = reporting_window(parts.values().map(|p| p.digest.as_ref()));
    // Grades span the window: if it moved, every provider is regraded (from its digest).
    let regrade_all = reuse.as_ref().is_none_or(|p| p.window != window);
    for (slug, part) in parts.iter_mut() {
        if regrade_all || part.grade.is_none() || touched.contains(slug) {
            part.grade = window.map(|w| part.digest.grade(w));
        }
    }
    let by_slug: BTreeMap<&str, &ProviderPart> = parts.iter().map(|(slug, part)| (slug.as_str(), part)).collect();
    let headline = headline(by_slug.values().map(|p| p.digest.headline_inputs()).collect::<Vec<_>>());
    let acceptance_by_month =
        acceptance_by_month(parts.values().flat_map(|p| p.acceptance.iter().map(|(month, r)| (*month, r.as_slice()))));
    let unreadable_count = parts.values().map(|p| p.counts.unreadable).sum();
    Ok(PageData {
        tree_size: size,
        root_hex: hex::encode(checkpoint.root),
        signed_at: checkpoint.signed_at,
        registry,
        providers,
        parts,
        window,
        headline,
        acceptance_by_month,
        unreadable: (unreadable_count, listed),
        memo: Memo::default(),
        work,
    })
}

/// Stored acceptance bucket summaries as each provider's (month, sums per category); a bucket
/// holds one month's records, so its first date names its month.
fn acceptance_months(stored: Vec<(String, Vec<u8>)>) -> Result<HashMap<String, AcceptanceMonths>, AppError> {
    let mut out: HashMap<String, AcceptanceMonths> = HashMap::new();
    for (provider, bytes) in stored {
        let summary = BucketSummary::from_bytes(&bytes)
            .map_err(|e| AppError::Unavailable(format!("acceptance bucket of {provider}: {e}")))?;
        if let Some((first, _)) = summary.dates {
            out.entry(provider).or_default().push((first, summary.acceptance));
        }
    }
    Ok(out)
}

/// A provider's scorecard figures at `snapshot`: merged from its bucket summaries when first
/// asked for, then kept until the provider changes (or the window moves).
pub async fn provider_data(state: &AppState, snapshot: &PageData, slug: &str) -> Result<Arc<ProviderData>, AppError> {
    let Some(part) = snapshot.parts.get(slug) else {
        // Registered, nothing disclosed yet (or nothing readable): empty figures, not a 404.
        return Ok(Arc::default());
    };
    let key = (slug.to_owned(), part.changed_at, snapshot.window);
    let cache = &state.snapshots.figures;
    if let Some(held) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(held);
    }
    let buckets = {
        let mut conn = state.pool.acquire().await?;
        db::projection::buckets_of(&mut conn, slug).await?
    };
    let summary = ProviderSummary::merge(slug, buckets.iter().map(|(kind, month, bucket)| (*kind, *month, bucket)));
    let data = Arc::new(ProviderData { figures: summary.figures(snapshot.window) });
    if let Ok(mut held) = cache.lock() {
        if held.len() >= FIGURES_KEPT {
            held.clear();
        }
        held.insert(key, data.clone());
    }
    Ok(data)
}

#[cfg(test)]
#[path = "page_data_tests.rs"]
mod tests;

#[cfg(test)]
mod unreadable_listing {
    use axum::http::StatusCode;
    use serde_json::{Value, json};

    use super::current;
    use crate::records::Record;
    use crate::testing::{TestApp, raw_entry};

    /// The unreadable latest versions are listed from the database only while the providers'
    /// counts hold one: the list must follow the counts both ways, across snapshots that
    /// reuse the previous one's parts.
    #[tokio::test]
    async fn unreadable_versions_are_listed_exactly_while_a_provider_counts_one() {
        let app = TestApp::new().await;
        let token = app.provider_token("old-cloud").await;
        let examples = crate::records::kinds::examples();
        let body = Value::Array(examples.clone()).to_string();
        app.post("/api/v1/records", "application/json", body, Some(&token), &[])
            .await
            .assert_status(StatusCode::CREATED);
        assert_eq!(current(&app.state).await.expect("snapshot").unreadable, (0, Vec::new()));

        // An amendment past the parser that no longer decodes, then a readable one of it.
        let queue = Record::parse(examples[0].clone()).expect("valid");
        let mut bad = queue.to_json();
        bad["jobs"] = json!(9_007_199_254_740_991_u64);
        let ledger = app.ledger();
        let appended = ledger
            .append(&app.db.pool, &[raw_entry("old-cloud", "queue_time", &queue.natural_key(), bad, Some(0))])
            .await
            .expect("append");
        let index = appended.entries[0].index;
        let (count, listed) = current(&app.state).await.expect("snapshot").unreadable.clone();
        assert_eq!(count, 1);
        assert_eq!(listed.iter().map(|u| u.index).collect::<Vec<_>>(), [index]);

        let mut good = queue.to_json();
        good["jobs"] = json!(7);
        ledger
            .append(&app.db.pool, &[raw_entry("old-cloud", "queue_time", &queue.natural_key(), good, Some(index))])
            .await
            .expect("append");
        let snapshot = current(&app.state).await.expect("snapshot");
        assert_eq!(snapshot.unreadable, (0, Vec::new()));
        assert_eq!(snapshot.parts["old-cloud"].counts.unreadable, 0);
    }
}
