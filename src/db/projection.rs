//! The projection's tables (`projection_latest`, `projection_buckets`, `projection_providers`,
//! `projection_head`; see their migration): the rule of [`crate::projection::fold`] kept in
//! PostgreSQL. [`apply`] runs inside every append's transaction, so the published state is
//! never behind a signed checkpoint, survives restarts and is the same for every `serve`
//! process on the database (issue 16). Its work is bounded by the batch and the buckets the
//! batch touches: a fixed handful of statements per batch, whatever the ledger's size.
//!
//! [`catch_up`] folds entries the projection has not seen yet (a ledger from before it
//! existed, or one folded under other decoding rules: [`PROJECTION_VERSION`]). The read
//! functions at the end are what pages, dashboards and datasets read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool, Row};

use crate::analytics::concentration::{self, BuyerMonth};
use crate::db::ledger as store;
use crate::projection::bucket::{BucketSummary, date_of, month_of};
use crate::projection::fold::{Conflict, TypedEntry};
use crate::projection::points::BucketPoints;
use crate::projection::summary::{Digest, ProviderSummary};
use crate::records::{Record, RecordKind};

/// The version of the decoding rules the stored projection was folded with. Bump it when a
/// change to record parsing, natural keys or bucket summaries would fold the same entries
/// differently: the next start-up (or append) empties the tables and folds from entry 0.
/// Version 2: buckets carry the dashboards' points. Version 3: the `energy` kind (digests
/// count six kinds; version 2's rows hold five and no longer decode). Version 4: the
/// market's buyer totals (`projection_buyers`, filled by the refold). A test fingerprints
/// the stored forms so a change to them cannot land without a bump.
pub const PROJECTION_VERSION: i32 = 4;

/// Entries folded per transaction when catching up: each chunk holds the sequencer lock
/// for a moment (appends wait, never interleave), and its work is bounded.
const CHUNK: u64 = 10_000;

/// Why the projection could not be kept or rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// Database failure.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored entry or summary cannot be read back.
    #[error("projection: entry {index}: {reason}")]
    Stored {
        /// The entry (or, for a summary, the first entry of the batch being folded).
        index: u64,
        reason: String,
    },
    /// Computing the summaries failed (polars, or a panic in the computation).
    #[error("projection: computing summaries failed: {0}")]
    Computation(String),
    /// The batch does not continue the folded entries (a bug: every path folds in order).
    #[error("projection: folded up to tree size {folded}, but the batch starts at entry {batch}")]
    OutOfStep {
        /// Tree size the projection has folded.
        folded: u64,
        /// The batch's first index.
        batch: u64,
    },
}

/// What one [`apply`] did. Tests count work, not time: none of these may grow with a
/// provider's history or the ledger's size, only with the batch and the buckets it touches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Entries folded.
    pub entries: u64,
    /// `projection_latest` rows deleted (superseded) or inserted (new latest versions).
    pub rows_written: u64,
    /// Bucket summaries recomputed (written, or deleted when left empty).
    pub buckets_recomputed: u64,
    /// Stored records decoded to recompute them (the batch's own are decoded once, before).
    pub records_decoded: u64,
    /// Providers whose digest was merged again.
    pub providers_merged: u64,
    /// Buyer totals written (`projection_buyers`: one per buyer of each lock-up bucket touched).
    pub buyers_written: u64,
    /// Entries whose `supersedes` disagrees with the rule ([`Conflict`]): left out and
    /// logged (`Fold::left_out` in memory).
    pub conflicts: u64,
}

/// Counts of a provider's latest versions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProviderCounts {
    /// Latest versions, readable or not.
    pub records: u64,
    /// Of which amended at least once (more than one entry carries the record).
    pub amended: u64,
    /// Of which no longer decode under today's rules.
    pub unreadable: u64,
}

/// Filters for [`latest_records`]; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatestQuery {
    /// Provider slug.
    pub provider: Option<String>,
    pub kind: Option<RecordKind>,
    /// Resource (accelerator type).
    pub resource: Option<String>,
    pub region: Option<String>,
    /// Earliest record date (inclusive; see [`crate::projection::bucket::date_of`]).
    pub from: Option<NaiveDate>,
    /// Latest record date (inclusive).
    pub to: Option<NaiveDate>,
}

fn to_i64(value: u64) -> i64 {
    // Indexes and counts are bounded by the rows PostgreSQL can hold, far below 2^63.
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn kind_of(name: &str) -> Option<RecordKind> {
    RecordKind::OPTIONS.iter().find(|(text, _)| *text == name).map(|(_, kind)| *kind)
}

fn decode_error(reason: impl Into<String>) -> sqlx::Error {
    sqlx::Error::Decode(reason.into().into())
}

/// A latest version, as the rule needs it.
#[derive(Debug, Clone)]
struct Latest {
    index: u64,
    provider: String,
    kind: String,
    key: String,
    versions: u64,
    month: Option<NaiveDate>,
    unreadable: bool,
}

/// A bucket: provider, kind, month.
type BucketId = (String, RecordKind, NaiveDate);

/// The key an entry's version is filed under: [`crate::projection::fold`]'s rule (its
/// `TypedEntry::key`), which tests hold this to. A record that no longer decodes takes the
/// key of the version it amends, else one of its own.
fn key_of(entry: &TypedEntry, superseded: Option<&Latest>) -> String {
    match (&entry.record, superseded) {
        (Ok(record), _) => record.natural_key(),
        (Err(_), Some(version)) => version.key.clone(),
        (Err(_), None) => format!("unreadable entry {}", entry.index),
    }
}

/// The outcome of folding a batch in memory against the rows it reads.
#[derive(Debug, Default)]
struct Step {
    /// Stored latest versions the batch superseded.
    removed: Vec<Latest>,
    /// The batch's entries that are latest versions at its end, by index: position in the batch, version.
    added: BTreeMap<u64, (usize, Latest)>,
    conflicts: u64,
}

/// Folds `entries` (consecutive, in order) over the stored latest versions they can affect
/// (`stored`: those they supersede, and those holding the keys of their new records), with
/// exactly the checks of `Fold::apply`. A conflicting entry is left out and logged, as
/// `Fold::push` leaves it out.
fn fold_batch(entries: &[TypedEntry], stored: Vec<Latest>) -> Step {
    let mut by_index: HashMap<u64, Latest> = HashMap::with_capacity(stored.len() + entries.len());
    let mut by_key: HashMap<(String, String, String), u64> = HashMap::with_capacity(stored.len() + entries.len());
    for version in stored {
        by_key.insert((version.provider.clone(), version.kind.clone(), version.key.clone()), version.index);
        by_index.insert(version.index, version);
    }
    let mut step = Step::default();
    for (position, entry) in entries.iter().enumerate() {
        // Reports by others and providers' answers are shown apart, never folded into figures (issue 19).
        if crate::records::reports::is_third_party(&entry.kind) {
            continue;
        }
        let superseded = match entry.supersedes {
            Some(s) => match by_index.get(&s) {
                Some(version) => Some(version),
                None => {
                    conflict(&mut step, Conflict::NotLatest { index: entry.index, supersedes: s });
                    continue;
                }
            },
            None => None,
        };
        let key = key_of(entry, superseded);
        if let Some(old) = superseded
            && (old.provider != entry.provider || old.kind != entry.kind || old.key != key)
        {
            let reason =
                format!("{}/{}/{} against {}/{}/{}", old.provider, old.kind, old.key, entry.provider, entry.kind, key);
            conflict(&mut step, Conflict::OtherRecord { index: entry.index, supersedes: old.index, reason });
            continue;
        }
        let slot = (entry.provider.clone(), entry.kind.clone(), key.clone());
        if superseded.is_none()
            && let Some(latest) = by_key.get(&slot)
        {
            conflict(&mut step, Conflict::Duplicate { index: entry.index, latest: *latest });
            continue;
        }
        let versions = superseded.map_or(1, |old| old.versions + 1);
        if let Some(s) = entry.supersedes
            && let Some(old) = by_index.remove(&s)
            && step.added.remove(&s).is_none()
        {
            step.removed.push(old);
        }
        let version = Latest {
            index: entry.index,
            provider: entry.provider.clone(),
            kind: entry.kind.clone(),
            key,
            versions,
            month: entry.record.as_ref().ok().map(|record| month_of(date_of(record))),
            unreadable: entry.record.is_err(),
        };
        by_key.insert(slot, entry.index);
        by_index.insert(entry.index, version.clone());
        step.added.insert(entry.index, (position, version));
    }
    step
}

fn conflict(step: &mut Step, conflict: Conflict) {
    // The ledger takes any entry; the projection leaves out one whose `supersedes` disagrees
    // with the rule (ingest never writes one: it reads `supersedes` from this projection).
    tracing::warn!(%conflict, "entry left out of the projection");
    step.conflicts += 1;
}

/// Folds a batch just appended (consecutive entries, decoded once) into the projection, in
/// the caller's transaction, which holds the ledger head lock. A projection behind the
/// batch (an upgraded ledger nobody caught up yet, other decoding rules) is caught up first.
pub async fn apply(conn: &mut PgConnection, entries: &[TypedEntry]) -> Result<Work, ProjectionError> {
    let Some(first) = entries.first() else { return Ok(Work::default()) };
    ensure_current(conn, first.index).await?;
    apply_unchecked(conn, entries).await
}

/// [`apply`] on a projection known to have folded every entry before the batch.
async fn apply_unchecked(conn: &mut PgConnection, entries: &[TypedEntry]) -> Result<Work, ProjectionError> {
    let Some(first) = entries.first().map(|e| e.index) else { return Ok(Work::default()) };
    if let Some((position, entry)) = entries.iter().enumerate().find(|(i, e)| e.index != first + *i as u64) {
        return Err(ProjectionError::OutOfStep { folded: first + position as u64, batch: entry.index });
    }
    let end = first + entries.len() as u64;

    // 1. The stored latest versions the batch can affect: those it supersedes, and those
    //    with the keys its new records are filed under.
    let superseded: Vec<i64> = entries.iter().filter_map(|e| e.supersedes).filter(|s| *s < first).map(to_i64).collect();
    let (mut providers, mut kinds, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    for entry in entries.iter().filter(|e| e.supersedes.is_none()) {
        providers.push(entry.provider.as_str());
        kinds.push(entry.kind.as_str());
        keys.push(key_of(entry, None));
    }
    // Every lookup is a LATERAL subquery with LIMIT, which the planner cannot flatten into a
    // join: one index probe per wanted row, whatever the estimates. (A prepared statement's
    // generic plan cannot see how short the arrays are, and once chose to hash the whole
    // table, which grows with the ledger.)
    let rows = sqlx::query(
        "SELECT l.provider, l.kind, l.natural_key, l.idx, l.versions, l.month, l.unreadable IS NOT NULL AS unreadable
         FROM UNNEST($1::int8[]) AS wanted (idx)
         CROSS JOIN LATERAL (SELECT * FROM projection_latest l WHERE l.idx = wanted.idx LIMIT 1) l
         UNION
         SELECT l.provider, l.kind, l.natural_key, l.idx, l.versions, l.month, l.unreadable IS NOT NULL AS unreadable
         FROM UNNEST($2::text[], $3::text[], $4::text[]) AS wanted (provider, kind, natural_key)
         CROSS JOIN LATERAL (
             SELECT * FROM projection_latest l
             WHERE l.provider = wanted.provider AND l.kind = wanted.kind AND l.natural_key = wanted.natural_key
             LIMIT 1
         ) l",
    )
    .bind(&superseded)
    .bind(&providers)
    .bind(&kinds)
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await?;
    let stored = rows
        .iter()
        .map(|row| {
            Ok(Latest {
                provider: row.try_get("provider")?,
                kind: row.try_get("kind")?,
                key: row.try_get("natural_key")?,
                index: to_u64(row.try_get("idx")?),
                versions: to_u64(row.try_get("versions")?),
                month: row.try_get("month")?,
                unreadable: row.try_get("unreadable")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;

    // 2. The rule, in memory.
    let step = fold_batch(entries, stored);

    // 3. Latest versions: superseded rows out, the batch's surviving versions in.
    let removed: Vec<i64> = step.removed.iter().map(|v| to_i64(v.index)).collect();
    if !removed.is_empty() {
        sqlx::query("DELETE FROM projection_latest WHERE idx = ANY($1)").bind(&removed).execute(&mut *conn).await?;
    }
    insert_latest(conn, entries, &step.added).await?;

    // 4. The buckets whose latest records changed, recomputed from all their latest records.
    let mut touched: BTreeSet<BucketId> = BTreeSet::new();
    for version in step.removed.iter().chain(step.added.values().map(|(_, v)| v)) {
        if let (Some(month), Some(kind)) = (version.month, kind_of(&version.kind)) {
            touched.insert((version.provider.clone(), kind, month));
        }
    }
    let (records_decoded, summaries, buyers) = recompute_buckets(conn, entries, &step.added, &touched, first).await?;
    write_buckets(conn, &touched, &summaries).await?;
    let buyers_written = write_buyers(conn, &touched, &buyers).await?;

    // 5. Every provider the batch changed: its buckets merged again, its counts moved.
    let mut counts: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    for (version, sign) in step.removed.iter().map(|v| (v, -1)).chain(step.added.values().map(|(_, v)| (v, 1))) {
        let count = counts.entry(version.provider.as_str()).or_default();
        count.0 += sign;
        count.1 += if version.versions > 1 { sign } else { 0 };
        count.2 += if version.unreadable { sign } else { 0 };
    }
    merge_providers(conn, &counts, end).await?;

    let moved = sqlx::query("UPDATE projection_head SET tree_size = $2 WHERE tree_size = $1 AND version = $3")
        .bind(to_i64(first))
        .bind(to_i64(end))
        .bind(PROJECTION_VERSION)
        .execute(&mut *conn)
        .await?;
    if moved.rows_affected() != 1 {
        let folded = head(conn).await?;
        return Err(ProjectionError::OutOfStep { folded, batch: first });
    }
    Ok(Work {
        entries: entries.len() as u64,
        rows_written: (step.removed.len() + step.added.len()) as u64,
        buckets_recomputed: touched.len() as u64,
        records_decoded,
        providers_merged: counts.len() as u64,
        buyers_written,
        conflicts: step.conflicts,
    })
}

async fn insert_latest(
    conn: &mut PgConnection,
    entries: &[TypedEntry],
    added: &BTreeMap<u64, (usize, Latest)>,
) -> Result<(), sqlx::Error> {
    let n = added.len();
    let (mut providers, mut kinds, mut keys) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut indexes, mut versions, mut months) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut dates, mut resources, mut regions) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut reasons, mut times): (Vec<Option<&str>>, Vec<DateTime<Utc>>) =
        (Vec::with_capacity(n), Vec::with_capacity(n));
    for (position, version) in added.values() {
        let entry = &entries[*position];
        providers.push(version.provider.as_str());
        kinds.push(version.kind.as_str());
        keys.push(version.key.as_str());
        indexes.push(to_i64(version.index));
        versions.push(to_i64(version.versions));
        months.push(version.month);
        let (date, place) = match &entry.record {
            Ok(record) => (Some(date_of(record)), place_of(record)),
            Err(_) => (None, None),
        };
        dates.push(date);
        resources.push(place.map(|(resource, _)| resource));
        regions.push(place.map(|(_, region)| region));
        reasons.push(entry.record.as_ref().err().map(|u| u.reason.as_str()));
        times.push(entry.received_at);
    }
    sqlx::query(
        "INSERT INTO projection_latest
             (provider, kind, natural_key, idx, versions, month, record_date, resource, region, unreadable, received_at)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::date[], $7::date[],
                              $8::text[], $9::text[], $10::text[], $11::timestamptz[])",
    )
    .bind(&providers)
    .bind(&kinds)
    .bind(&keys)
    .bind(&indexes)
    .bind(&versions)
    .bind(&months)
    .bind(&dates)
    .bind(&resources)
    .bind(&regions)
    .bind(&reasons)
    .bind(&times)
    .execute(conn)
    .await?;
    Ok(())
}

/// The resource and region a record is about, if its kind has them.
fn place_of(record: &Record) -> Option<(&str, &str)> {
    match record {
        Record::QueueTime(r) => Some((r.resource.as_str(), r.region.as_str())),
        Record::Price(r) => Some((r.resource.as_str(), r.region.as_str())),
        Record::Lockup(r) => Some((r.resource.as_str(), r.region.as_str())),
        Record::Capacity(r) => Some((r.resource.as_str(), r.region.as_str())),
        Record::Acceptance(_) | Record::Energy(_) => None,
    }
}

/// Recomputed summaries of the touched buckets, and the buyer totals of the lock-up ones.
type Recomputed = (u64, BTreeMap<BucketId, (BucketSummary, BucketPoints)>, BTreeMap<BucketId, Vec<BuyerMonth>>);

/// The summaries of the touched buckets from their latest records in entry order (as
/// `Fold::buckets` sees them): the stored ones decoded from their entries in one query,
/// then the batch's own, already decoded; and each lock-up bucket's deals summed per buyer.
/// Returns how many stored records were decoded.
async fn recompute_buckets(
    conn: &mut PgConnection,
    entries: &[TypedEntry],
    added: &BTreeMap<u64, (usize, Latest)>,
    touched: &BTreeSet<BucketId>,
    first: u64,
) -> Result<Recomputed, ProjectionError> {
    if touched.is_empty() {
        return Ok((0, BTreeMap::new(), BTreeMap::new()));
    }
    let providers: Vec<&str> = touched.iter().map(|(p, _, _)| p.as_str()).collect();
    let kinds: Vec<&str> = touched.iter().map(|(_, k, _)| k.as_str()).collect();
    let months: Vec<NaiveDate> = touched.iter().map(|(_, _, m)| *m).collect();
    let rows = sqlx::query(
        // Index probes per bucket and per entry, whatever the plan (see the lookup in `apply_unchecked`).
        "SELECT l.idx, (SELECT e.entry FROM ledger_entries e WHERE e.idx = l.idx) AS entry
         FROM UNNEST($1::text[], $2::text[], $3::date[]) AS touched (provider, kind, month)
         CROSS JOIN LATERAL (
             SELECT idx FROM projection_latest l
             WHERE l.provider = touched.provider AND l.kind = touched.kind AND l.month = touched.month AND l.idx < $4
             OFFSET 0
         ) l
         ORDER BY l.idx",
    )
    .bind(&providers)
    .bind(&kinds)
    .bind(&months)
    .bind(to_i64(first))
    .fetch_all(&mut *conn)
    .await?;
    let stored = rows
        .iter()
        .map(|row| Ok((to_u64(row.try_get("idx")?), row.try_get::<Vec<u8>, _>("entry")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    drop(rows);
    let mut batch: Vec<(BucketId, Record)> = Vec::new();
    for (position, version) in added.values() {
        if let (Ok(record), Some(month)) = (&entries[*position].record, version.month) {
            batch.push(((version.provider.clone(), record.kind(), month), record.clone()));
        }
    }
    let touched = touched.clone();
    // Decoding and the summaries are CPU work (the summaries run polars): off the async
    // workers, as every other computation of figures.
    blocking(move || {
        let decoded = stored.len() as u64;
        let mut members: BTreeMap<BucketId, Vec<Record>> = touched.into_iter().map(|id| (id, Vec::new())).collect();
        for (index, bytes) in stored {
            let entry = TypedEntry::decode(&bytes).map_err(|reason| ProjectionError::Stored { index, reason })?;
            let record =
                entry.record.map_err(|unreadable| ProjectionError::Stored { index, reason: unreadable.reason })?;
            let id = (entry.provider, record.kind(), month_of(date_of(&record)));
            if let Some(list) = members.get_mut(&id) {
                list.push(record);
            }
        }
        for (id, record) in batch {
            if let Some(list) = members.get_mut(&id) {
                list.push(record);
            }
        }
        let buyers = members
            .iter()
            .filter(|((_, kind, _), _)| *kind == RecordKind::Lockup)
            .map(|(id, records)| {
                let deals = records.iter().filter_map(|r| match r {
                    Record::Lockup(l) => Some(l),
                    _ => None,
                });
                (id.clone(), concentration::buyer_months(deals))
            })
            .collect();
        let summaries = members
            .into_iter()
            .filter(|(_, records)| !records.is_empty())
            .map(|(id, records)| {
                let summary = BucketSummary::of(&records).map_err(|e| ProjectionError::Computation(e.to_string()))?;
                let points = BucketPoints::of(&records);
                Ok((id, (summary, points)))
            })
            .collect::<Result<_, ProjectionError>>()?;
        Ok((decoded, summaries, buyers))
    })
    .await
}

/// Replaces the buyer totals of the touched lock-up buckets (none left for a bucket left
/// empty); returns the rows written. No statement when the batch touched no lock-ups.
async fn write_buyers(
    conn: &mut PgConnection,
    touched: &BTreeSet<BucketId>,
    buyers: &BTreeMap<BucketId, Vec<BuyerMonth>>,
) -> Result<u64, sqlx::Error> {
    let lockups: Vec<&BucketId> = touched.iter().filter(|(_, kind, _)| *kind == RecordKind::Lockup).collect();
    if lockups.is_empty() {
        return Ok(0);
    }
    let providers: Vec<&str> = lockups.iter().map(|(p, _, _)| p.as_str()).collect();
    let months: Vec<NaiveDate> = lockups.iter().map(|(_, _, m)| *m).collect();
    sqlx::query(
        "DELETE FROM projection_buyers b
         USING UNNEST($1::text[], $2::date[]) AS touched (provider, month)
         WHERE b.provider = touched.provider AND b.month = touched.month",
    )
    .bind(&providers)
    .bind(&months)
    .execute(&mut *conn)
    .await?;
    let (mut providers, mut months, mut keys, mut totals) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((provider, _, month), of_bucket) in buyers {
        for buyer in of_bucket {
            providers.push(provider.as_str());
            months.push(*month);
            keys.push(buyer.key.as_str());
            totals.push(serde_json::to_vec(buyer).unwrap_or_default());
        }
    }
    if keys.is_empty() {
        return Ok(0);
    }
    sqlx::query(
        "INSERT INTO projection_buyers (provider, month, buyer, totals)
         SELECT * FROM UNNEST($1::text[], $2::date[], $3::text[], $4::bytea[])",
    )
    .bind(&providers)
    .bind(&months)
    .bind(&keys)
    .bind(&totals)
    .execute(conn)
    .await?;
    Ok(keys.len() as u64)
}

/// Runs pure computation on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ProjectionError> + Send + 'static,
) -> Result<T, ProjectionError> {
    tokio::task::spawn_blocking(work).await.map_err(|join| ProjectionError::Computation(join.to_string()))?
}

/// Writes the touched buckets' summaries (upserts, each found by its primary key) and
/// deletes those left empty.
async fn write_buckets(
    conn: &mut PgConnection,
    touched: &BTreeSet<BucketId>,
    summaries: &BTreeMap<BucketId, (BucketSummary, BucketPoints)>,
) -> Result<(), sqlx::Error> {
    let empty: Vec<&BucketId> = touched.iter().filter(|id| !summaries.contains_key(*id)).collect();
    if !empty.is_empty() {
        // Rare (a bucket whose only record was amended into one that no longer decodes).
        let providers: Vec<&str> = empty.iter().map(|(p, _, _)| p.as_str()).collect();
        let kinds: Vec<&str> = empty.iter().map(|(_, k, _)| k.as_str()).collect();
        let months: Vec<NaiveDate> = empty.iter().map(|(_, _, m)| *m).collect();
        sqlx::query(
            "DELETE FROM projection_buckets b
             USING UNNEST($1::text[], $2::text[], $3::date[]) AS gone (provider, kind, month)
             WHERE b.provider = gone.provider AND b.kind = gone.kind AND b.month = gone.month",
        )
        .bind(&providers)
        .bind(&kinds)
        .bind(&months)
        .execute(&mut *conn)
        .await?;
    }
    if summaries.is_empty() {
        return Ok(());
    }
    let providers: Vec<&str> = summaries.keys().map(|(p, _, _)| p.as_str()).collect();
    let kinds: Vec<&str> = summaries.keys().map(|(_, k, _)| k.as_str()).collect();
    let months: Vec<NaiveDate> = summaries.keys().map(|(_, _, m)| *m).collect();
    let bytes: Vec<Vec<u8>> = summaries
        .values()
        .map(|(summary, _)| summary.to_bytes().map_err(|e| sqlx::Error::Encode(e.into())))
        .collect::<Result<_, _>>()?;
    let points: Vec<Vec<u8>> = summaries.values().map(|(_, points)| points.to_bytes()).collect();
    sqlx::query(
        "INSERT INTO projection_buckets (provider, kind, month, summary, points)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::date[], $4::bytea[], $5::bytea[])
         ON CONFLICT (provider, kind, month) DO UPDATE SET summary = EXCLUDED.summary, points = EXCLUDED.points",
    )
    .bind(&providers)
    .bind(&kinds)
    .bind(&months)
    .bind(&bytes)
    .bind(&points)
    .execute(conn)
    .await?;
    Ok(())
}

/// Merges each changed provider's bucket summaries into its digest and moves its counts by
/// the deltas given (records, amended, unreadable).
async fn merge_providers(
    conn: &mut PgConnection,
    counts: &BTreeMap<&str, (i64, i64, i64)>,
    tree_size: u64,
) -> Result<(), ProjectionError> {
    if counts.is_empty() {
        return Ok(());
    }
    let slugs: Vec<&str> = counts.keys().copied().collect();
    let rows = sqlx::query(
        "SELECT b.provider, b.kind, b.month, b.summary FROM UNNEST($1::text[]) AS changed (provider)
         CROSS JOIN LATERAL (SELECT * FROM projection_buckets b WHERE b.provider = changed.provider OFFSET 0) b",
    )
    .bind(&slugs)
    .fetch_all(&mut *conn)
    .await?;
    let stored = rows
        .iter()
        .map(|row| Ok((row.try_get("provider")?, row.try_get("kind")?, row.try_get("month")?, row.try_get("summary")?)))
        .collect::<Result<Vec<(String, String, NaiveDate, Vec<u8>)>, sqlx::Error>>()?;
    drop(rows);
    let owned: Vec<String> = slugs.iter().map(|s| (*s).to_owned()).collect();
    let digests = blocking(move || {
        let mut buckets: BTreeMap<String, Vec<(RecordKind, NaiveDate, BucketSummary)>> = BTreeMap::new();
        for (provider, kind, month, bytes) in stored {
            let stored = |reason: String| ProjectionError::Stored {
                index: tree_size,
                reason: format!("bucket {provider}/{kind}/{month}: {reason}"),
            };
            let summary = BucketSummary::from_bytes(&bytes).map_err(|e| stored(e.to_string()))?;
            let kind = kind_of(&kind).ok_or_else(|| stored("unknown kind".into()))?;
            buckets.entry(provider).or_default().push((kind, month, summary));
        }
        owned
            .iter()
            .map(|slug| {
                let mut mine = buckets.remove(slug).unwrap_or_default();
                // In the order `Fold::summaries` merges them (the merge sorts what it builds,
                // but one order everywhere leaves nothing to chance).
                mine.sort_by_key(|(kind, month, _)| (*kind, *month));
                ProviderSummary::merge(slug, mine.iter().map(|(kind, month, summary)| (*kind, *month, summary)))
                    .digest()
                    .to_bytes()
                    .map_err(|e| ProjectionError::Computation(format!("digest of {slug}: {e}")))
            })
            .collect::<Result<Vec<Vec<u8>>, _>>()
    })
    .await?;
    let records: Vec<i64> = counts.values().map(|c| c.0).collect();
    let amended: Vec<i64> = counts.values().map(|c| c.1).collect();
    let unreadable: Vec<i64> = counts.values().map(|c| c.2).collect();
    // Counts move by deltas, which may be negative for a provider already there: update
    // those, then insert the rest (a proposed row must pass the CHECKs even when it
    // conflicts, so one upsert cannot carry the deltas). Nothing else writes meanwhile: the
    // caller holds the ledger head lock.
    sqlx::query(
        "UPDATE projection_providers p SET
             changed_at = $2,
             records = p.records + changed.records,
             amended = p.amended + changed.amended,
             unreadable = p.unreadable + changed.unreadable,
             digest = changed.digest
         FROM UNNEST($1::text[], $3::int8[], $4::int8[], $5::int8[], $6::bytea[])
             AS changed (provider, records, amended, unreadable, digest)
         WHERE p.provider = changed.provider",
    )
    .bind(&slugs)
    .bind(to_i64(tree_size))
    .bind(&records)
    .bind(&amended)
    .bind(&unreadable)
    .bind(&digests)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO projection_providers (provider, changed_at, records, amended, unreadable, digest)
         SELECT provider, $2::int8, records, amended, unreadable, digest
         FROM UNNEST($1::text[], $3::int8[], $4::int8[], $5::int8[], $6::bytea[])
             AS changed (provider, records, amended, unreadable, digest)
         WHERE NOT EXISTS (SELECT 1 FROM projection_providers p WHERE p.provider = changed.provider)",
    )
    .bind(&slugs)
    .bind(to_i64(tree_size))
    .bind(&records)
    .bind(&amended)
    .bind(&unreadable)
    .bind(&digests)
    .execute(conn)
    .await?;
    Ok(())
}

/// The stored head: tree size folded and the code version that folded it.
async fn head_state(conn: &mut PgConnection) -> Result<(u64, i32), sqlx::Error> {
    let row = sqlx::query("SELECT tree_size, version FROM projection_head").fetch_one(conn).await?;
    Ok((to_u64(row.try_get("tree_size")?), row.try_get("version")?))
}

/// Empties the projection, to fold again from entry 0 under this code's rules.
async fn reset(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("TRUNCATE projection_latest, projection_buckets, projection_providers, projection_buyers")
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE projection_head SET tree_size = 0, version = $1")
        .bind(PROJECTION_VERSION)
        .execute(conn)
        .await?;
    Ok(())
}

/// Folds up to `count` entries from `from` (read back from the ledger); returns how many.
async fn fold_chunk(conn: &mut PgConnection, from: u64, count: u64) -> Result<u64, ProjectionError> {
    let rows = sqlx::query("SELECT idx, entry FROM ledger_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx")
        .bind(to_i64(from))
        .bind(to_i64(from.saturating_add(count)))
        .fetch_all(&mut *conn)
        .await?;
    let entries = rows
        .iter()
        .map(|row| {
            let index = to_u64(row.try_get("idx")?);
            let bytes: &[u8] = row.try_get("entry")?;
            TypedEntry::decode(bytes).map_err(|reason| ProjectionError::Stored { index, reason })
        })
        .collect::<Result<Vec<_>, _>>()?;
    drop(rows);
    apply_unchecked(conn, &entries).await?;
    Ok(entries.len() as u64)
}

/// Whether the projection has folded exactly the first `tree_size` entries under this code's rules.
pub async fn is_current(conn: &mut PgConnection, tree_size: u64) -> Result<bool, sqlx::Error> {
    Ok(head_state(conn).await? == (tree_size, PROJECTION_VERSION))
}

/// Makes the projection fold exactly the first `tree_size` entries, in the caller's
/// transaction (which holds the ledger head lock): a no-op when it already does. Returns
/// the entries folded.
pub async fn ensure_current(conn: &mut PgConnection, tree_size: u64) -> Result<u64, ProjectionError> {
    let (mut folded, version) = head_state(conn).await?;
    if version != PROJECTION_VERSION {
        reset(conn).await?;
        folded = 0;
    }
    if folded > tree_size {
        return Err(ProjectionError::OutOfStep { folded, batch: tree_size });
    }
    let start = folded;
    while folded < tree_size {
        let n = fold_chunk(conn, folded, (tree_size - folded).min(CHUNK)).await?;
        if n == 0 {
            return Err(ProjectionError::Stored { index: folded, reason: "the entry is missing".into() });
        }
        folded += n;
    }
    if folded > start {
        tracing::info!(from = start, to = folded, "projection caught up in the append's transaction");
    }
    Ok(folded - start)
}

/// Folds every entry the projection has not seen (after an upgrade, or emptied first when
/// [`PROJECTION_VERSION`] changed), in chunks of 10,000 entries, each in a transaction of
/// its own under the ledger head lock, so appends wait a chunk at a time and never
/// interleave. A no-op when the projection is current. Returns the entries folded.
pub async fn catch_up(pool: &PgPool) -> Result<u64, ProjectionError> {
    catch_up_in_chunks(pool, CHUNK).await
}

async fn catch_up_in_chunks(pool: &PgPool, chunk: u64) -> Result<u64, ProjectionError> {
    let mut conn = pool.acquire().await?;
    let (folded, version) = head_state(&mut conn).await?;
    if version == PROJECTION_VERSION && folded == store::head(&mut conn).await?.size {
        return Ok(0);
    }
    drop(conn);
    let started = std::time::Instant::now();
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        let ledger = store::lock_head(&mut tx).await?;
        let (mut folded, version) = head_state(&mut tx).await?;
        if version != PROJECTION_VERSION {
            tracing::info!(
                stored = version,
                code = PROJECTION_VERSION,
                "projection folded under other rules: rebuilding"
            );
            reset(&mut tx).await?;
            folded = 0;
        }
        if folded > ledger.size {
            return Err(ProjectionError::OutOfStep { folded, batch: ledger.size });
        }
        if folded == ledger.size {
            tx.commit().await?;
            break;
        }
        let n = fold_chunk(&mut tx, folded, (ledger.size - folded).min(chunk)).await?;
        tx.commit().await?;
        total += n;
        tracing::info!(folded = folded + n, of = ledger.size, "projection catching up");
    }
    tracing::info!(entries = total, seconds = started.elapsed().as_secs_f64(), "projection caught up");
    Ok(total)
}

// ---- Reads -------------------------------------------------------------------------------

/// How many entries the projection has folded: the tree size its state is of.
pub async fn head(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    Ok(head_state(conn).await?.0)
}

/// Every provider's digest and counts, with the tree size of the batch that last changed
/// it; with `after`, only those changed by batches that ended past that tree size.
pub async fn digests_changed_since(
    conn: &mut PgConnection,
    after: Option<u64>,
) -> Result<Vec<(String, u64, Digest, ProviderCounts)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT provider, changed_at, digest, records, amended, unreadable FROM projection_providers
         WHERE $1::int8 IS NULL OR changed_at > $1 ORDER BY provider",
    )
    .bind(after.map(to_i64))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let provider: String = row.try_get("provider")?;
            let digest = Digest::from_bytes(row.try_get("digest")?)
                .map_err(|e| decode_error(format!("digest of {provider}: {e}")))?;
            let counts = ProviderCounts {
                records: to_u64(row.try_get("records")?),
                amended: to_u64(row.try_get("amended")?),
                unreadable: to_u64(row.try_get("unreadable")?),
            };
            Ok((provider, to_u64(row.try_get("changed_at")?), digest, counts))
        })
        .collect()
}

/// A provider's bucket summaries, by kind and month.
pub async fn buckets_of(
    conn: &mut PgConnection,
    provider: &str,
) -> Result<Vec<(RecordKind, NaiveDate, BucketSummary)>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT kind, month, summary FROM projection_buckets WHERE provider = $1 ORDER BY kind, month")
            .bind(provider)
            .fetch_all(conn)
            .await?;
    let mut out = rows
        .iter()
        .map(|row| {
            let name: String = row.try_get("kind")?;
            let month: NaiveDate = row.try_get("month")?;
            let kind = kind_of(&name).ok_or_else(|| decode_error(format!("bucket of unknown kind {name:?}")))?;
            let summary = BucketSummary::from_bytes(row.try_get("summary")?)
                .map_err(|e| decode_error(format!("bucket {provider}/{name}/{month}: {e}")))?;
            Ok((kind, month, summary))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // By the kind's order, not its name's.
    out.sort_by_key(|(kind, month, _)| (*kind, *month));
    Ok(out)
}

/// The latest versions that no longer decode (of one kind, if given): how many, and the
/// first `limit` in entry order as (index, provider, kind, reason).
pub async fn unreadable(
    conn: &mut PgConnection,
    kind: Option<&str>,
    limit: i64,
) -> Result<(u64, Vec<(u64, String, String, String)>), sqlx::Error> {
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM projection_latest WHERE unreadable IS NOT NULL AND ($1::text IS NULL OR kind = $1)",
    )
    .bind(kind)
    .fetch_one(&mut *conn)
    .await?;
    Ok((to_u64(count), unreadable_listed(conn, kind, limit).await?))
}

/// The first `limit` latest versions that no longer decode (of one kind, if given), in entry
/// order, as (index, provider, kind, reason): through their partial index, without counting
/// them (a count runs over the whole table when its statistics are stale, as after a bulk
/// load; the providers' counts already hold it).
pub async fn unreadable_listed(
    conn: &mut PgConnection,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<(u64, String, String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT idx, provider, kind, unreadable FROM projection_latest
         WHERE unreadable IS NOT NULL AND ($1::text IS NULL OR kind = $1) ORDER BY idx LIMIT $2",
    )
    .bind(kind)
    .bind(limit.max(0))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let index = to_u64(row.try_get("idx")?);
            Ok((index, row.try_get("provider")?, row.try_get("kind")?, row.try_get("unreadable")?))
        })
        .collect()
}

/// The latest readable versions matching `query`, in entry order, as (provider, index, record).
pub async fn latest_records(
    conn: &mut PgConnection,
    query: &LatestQuery,
) -> Result<Vec<(String, u64, Record)>, sqlx::Error> {
    // Only the filters given go into the statement (fixed fragments, values bound): a
    // generic plan for `$1 IS NULL OR column = $1` could not use the indexes.
    // The entry is read by a correlated subquery: a primary-key probe per match, never a
    // pass over the ledger.
    let mut sql = String::from(
        "SELECT l.provider, l.idx, (SELECT e.entry FROM ledger_entries e WHERE e.idx = l.idx) AS entry
         FROM projection_latest l WHERE l.unreadable IS NULL",
    );
    let mut n = 0;
    let mut filter = |sql: &mut String, fragment: &str| {
        n += 1;
        sql.push_str(&format!(" AND {fragment} ${n}"));
    };
    let kind = query.kind.map(RecordKind::as_str);
    let texts = [("l.provider =", query.provider.as_deref()), ("l.kind =", kind)];
    let places = [("l.resource =", query.resource.as_deref()), ("l.region =", query.region.as_deref())];
    for (fragment, value) in texts.iter().chain(places.iter()) {
        if value.is_some() {
            filter(&mut sql, fragment);
        }
    }
    let dates = [("l.record_date >=", query.from), ("l.record_date <=", query.to)];
    for (fragment, value) in &dates {
        if value.is_some() {
            filter(&mut sql, fragment);
        }
    }
    sql.push_str(" ORDER BY l.idx");
    let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in texts.iter().chain(places.iter()).filter_map(|(_, v)| *v) {
        statement = statement.bind(value);
    }
    for value in dates.iter().filter_map(|(_, v)| *v) {
        statement = statement.bind(value);
    }
    let rows = statement.fetch_all(conn).await?;
    rows.iter().map(latest_record).collect()
}

/// A row of (provider, index, entry bytes) as (provider, index, its record).
fn latest_record(row: &sqlx::postgres::PgRow) -> Result<(String, u64, Record), sqlx::Error> {
    let index = to_u64(row.try_get("idx")?);
    let entry = TypedEntry::decode(row.try_get("entry")?).map_err(|e| decode_error(format!("entry {index}: {e}")))?;
    let record = entry.record.map_err(|e| decode_error(format!("entry {index}: {e}")))?;
    Ok((row.try_get("provider")?, index, record))
}

/// The dashboard points of every bucket of `kind` whose month can hold a date in
/// `from..=to` (either end open), as (provider, stored points), one provider's buckets after
/// another: a reader can finish with a provider before the next arrives, so it never holds
/// more than one provider's points.
pub fn bucket_points<'c>(
    conn: &'c mut PgConnection,
    kind: RecordKind,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> impl futures_util::Stream<Item = Result<(String, Vec<u8>), sqlx::Error>> + 'c {
    use futures_util::TryStreamExt;
    // Open ends become dates before and after any record's (PostgreSQL's date range is
    // narrower than chrono's), so the plan is always one index range scan.
    let first = from.map_or(NaiveDate::from_ymd_opt(1, 1, 1), |d| Some(month_of(d)));
    let last = to.or(NaiveDate::from_ymd_opt(9999, 12, 31));
    sqlx::query(
        "SELECT provider, points FROM projection_buckets
         WHERE kind = $1 AND month >= $2 AND month <= $3
         ORDER BY kind, provider, month",
    )
    .bind(kind.as_str())
    .bind(first)
    .bind(last)
    .fetch(conn)
    .and_then(|row| async move { Ok((row.try_get("provider")?, row.try_get("points")?)) })
}

/// The bucket summaries of `kind` of the providers named, as (provider, stored summary).
pub async fn bucket_summaries(
    conn: &mut PgConnection,
    kind: RecordKind,
    providers: &[String],
) -> Result<Vec<(String, Vec<u8>)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT provider, summary FROM projection_buckets WHERE kind = $1 AND provider = ANY($2) ORDER BY provider, month",
    )
    .bind(kind.as_str())
    .bind(providers)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| Ok((row.try_get("provider")?, row.try_get("summary")?))).collect()
}

/// Every resource and region the latest readable records name, each list distinct and sorted.
pub async fn places(conn: &mut PgConnection) -> Result<(Vec<String>, Vec<String>), sqlx::Error> {
    // A loose index scan over (kind, resource, region): one index probe per distinct
    // combination (a few hundred), not a pass over a million rows.
    let rows = sqlx::query(
        "WITH RECURSIVE place (kind, resource, region) AS (
             (SELECT kind, resource, region FROM projection_latest
              WHERE unreadable IS NULL AND resource IS NOT NULL AND region IS NOT NULL
              ORDER BY kind, resource, region LIMIT 1)
             UNION ALL
             SELECT next.kind, next.resource, next.region FROM place, LATERAL (
                 SELECT kind, resource, region FROM projection_latest l
                 WHERE l.unreadable IS NULL AND l.resource IS NOT NULL AND l.region IS NOT NULL
                   AND (l.kind, l.resource, l.region) > (place.kind, place.resource, place.region)
                 ORDER BY kind, resource, region LIMIT 1
             ) next
         )
         SELECT resource, region FROM place",
    )
    .fetch_all(conn)
    .await?;
    let (mut resources, mut regions) = (BTreeSet::new(), BTreeSet::new());
    for row in &rows {
        resources.insert(row.try_get::<String, _>("resource")?);
        regions.insert(row.try_get::<String, _>("region")?);
    }
    Ok((resources.into_iter().collect(), regions.into_iter().collect()))
}

/// Every provider's buyer totals (`projection_buyers`), as (provider, totals): a few rows per
/// provider and month of deals, whatever the number of deals.
pub async fn buyer_totals(conn: &mut PgConnection) -> Result<Vec<(String, BuyerMonth)>, sqlx::Error> {
    let rows = sqlx::query("SELECT provider, totals FROM projection_buyers ORDER BY provider, month, buyer")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            let provider: String = row.try_get("provider")?;
            let totals = serde_json::from_slice(row.try_get("totals")?)
                .map_err(|e| decode_error(format!("buyer totals of {provider}: {e}")))?;
            Ok((provider, totals))
        })
        .collect()
}

/// The latest readable lock-ups in the buckets holding deals of `buyer` (a normalised name),
/// in entry order, as (provider, index, record): the buckets are found through the buyer's
/// totals, so this reads that buyer's months, not every deal. (A bucket also holds other
/// buyers' deals: the caller keeps the buyer's own.)
pub async fn lockups_of_buyer(conn: &mut PgConnection, buyer: &str) -> Result<Vec<(String, u64, Record)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT l.provider, l.idx, (SELECT e.entry FROM ledger_entries e WHERE e.idx = l.idx) AS entry
         FROM projection_buyers b
         CROSS JOIN LATERAL (
             SELECT l.provider, l.idx FROM projection_latest l
             WHERE l.month = b.month AND l.provider = b.provider AND l.kind = 'lockup' AND l.unreadable IS NULL
             OFFSET 0
         ) l
         WHERE b.buyer = $1
         ORDER BY l.idx",
    )
    .bind(buyer)
    .fetch_all(conn)
    .await?;
    rows.iter().map(latest_record).collect()
}

#[cfg(test)]
mod tests;
