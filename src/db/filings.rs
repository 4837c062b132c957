//! `projection_filings`: the ledger's filings summed up per provider, kind and record date
//! (how many originals and when the first was accepted, how many amendments and when the
//! latest was), which is all the compliance report needs of the ledger (issue 16).
//!
//! The table is derived, not part of the ledger: [`record`] adds each batch's filings in the
//! append transaction, so it always stands at the head; it is not append-only and can be
//! rebuilt from `ledger_entries` (its migration does that). [`at`] gives the sums at any tree
//! size; [`each`] reads the filings themselves, for older sizes and for tests.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use sqlx::{Connection, PgConnection, Row};

use crate::analytics::compliance::{Filing, FilingCounts, Filings};
use crate::db::ledger::EntryRow;
use crate::records::RecordKind;

/// Past the pinned size, how many entries [`at`] takes back out of the table's sums; a size
/// further back is summed up from the ledger instead.
const MAX_TAKEN_OUT: u64 = 50_000;

fn kind_of(name: &str) -> Option<RecordKind> {
    RecordKind::OPTIONS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Adds the filings among `rows` (entries being appended, in this transaction) to the sums.
pub async fn record(conn: &mut PgConnection, rows: &[EntryRow]) -> Result<(), sqlx::Error> {
    let sums: Filings = rows.iter().filter_map(filing_of).collect();
    if sums.is_empty() {
        return Ok(());
    }
    let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    let mut columns = Columns::default();
    for s in sums.summaries() {
        columns.providers.push(s.provider);
        columns.kinds.push(s.kind.as_str());
        columns.dates.push(s.date);
        columns.originals.push(count(s.counts.originals));
        columns.first_filed.push(s.counts.first_filed);
        columns.amendments.push(count(s.counts.amendments));
        columns.last_amended.push(s.counts.last_amended);
    }
    // One row per (provider, kind, date) in the batch (summed up above), so ON CONFLICT
    // meets each key at most once. LEAST and GREATEST skip NULLs.
    sqlx::query(
        "INSERT INTO projection_filings AS f
             (provider, kind, record_date, originals, first_filed, amendments, last_amended)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::date[], $4::int4[], $5::timestamptz[], $6::int4[], $7::timestamptz[])
         ON CONFLICT (provider, kind, record_date) DO UPDATE SET
             originals = f.originals + EXCLUDED.originals,
             first_filed = least(f.first_filed, EXCLUDED.first_filed),
             amendments = f.amendments + EXCLUDED.amendments,
             last_amended = greatest(f.last_amended, EXCLUDED.last_amended)",
    )
    .bind(&columns.providers)
    .bind(&columns.kinds)
    .bind(&columns.dates)
    .bind(&columns.originals)
    .bind(&columns.first_filed)
    .bind(&columns.amendments)
    .bind(&columns.last_amended)
    .execute(conn)
    .await?;
    Ok(())
}

/// The table's rows as arrays, for UNNEST.
#[derive(Default)]
struct Columns {
    providers: Vec<String>,
    kinds: Vec<&'static str>,
    dates: Vec<NaiveDate>,
    originals: Vec<i32>,
    first_filed: Vec<Option<DateTime<Utc>>>,
    amendments: Vec<i32>,
    last_amended: Vec<Option<DateTime<Utc>>>,
}

/// The filing an entry being appended makes, its date read from the entry's bytes.
fn filing_of(row: &EntryRow) -> Option<Filing> {
    let date = match serde_json::from_slice::<EntryDates>(&row.bytes) {
        Ok(dates) => dates.record.0,
        // Not an object with a record object: read it whole, as `Filing::date_of` does.
        Err(_) => {
            let entry: serde_json::Value = serde_json::from_slice(&row.bytes).ok()?;
            Filing::date_of(entry.get("record")?).map(str::to_owned)
        }
    };
    Filing::of_entry(&row.provider, &row.kind, date.as_deref(), row.received_at, row.supersedes.is_some())
}

/// Of an entry, only the date of its record: a batch of 10,000 entries is read for it in
/// the append transaction, so the rest of each record is skipped rather than built.
#[derive(serde::Deserialize)]
struct EntryDates {
    record: RecordDate,
}

/// The first of [`Filing::DATE_FIELDS`] holding a string, as [`Filing::date_of`] picks it
/// (a repeated field counts with its last value, as in a `serde_json::Value`).
struct RecordDate(Option<String>);

impl<'de> Deserialize<'de> for RecordDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = RecordDate;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a record object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecordDate, A::Error> {
                let mut found: [Option<String>; Filing::DATE_FIELDS.len()] = Default::default();
                while let Some(DateField(field)) = map.next_key()? {
                    match field {
                        Some(i) => found[i] = map.next_value::<serde_json::Value>()?.as_str().map(str::to_owned),
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(RecordDate(found.into_iter().flatten().next()))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// A record's field name: which of [`Filing::DATE_FIELDS`] it is, if any.
struct DateField(Option<usize>);

impl<'de> Deserialize<'de> for DateField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl Visitor<'_> for Name {
            type Value = DateField;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<DateField, E> {
                Ok(DateField(Filing::DATE_FIELDS.iter().position(|field| *field == name)))
            }
        }
        deserializer.deserialize_str(Name)
    }
}

/// The sums as the table holds them (at the head): every provider's, or one provider's.
pub async fn summaries(conn: &mut PgConnection, provider: Option<&str>) -> Result<Filings, sqlx::Error> {
    macro_rules! select {
        ($where:literal) => {
            concat!(
                "SELECT provider, kind, record_date, originals, first_filed, amendments, last_amended
                 FROM projection_filings ",
                $where
            )
        };
    }
    let mut rows = match provider {
        None => sqlx::query(select!("")).fetch(conn),
        Some(only) => sqlx::query(select!("WHERE provider = $1")).bind(only).fetch(conn),
    };
    let mut out = Filings::default();
    while let Some(row) = rows.try_next().await? {
        let kind: String = row.try_get("kind")?;
        let Some(kind) = kind_of(&kind) else { continue };
        let (originals, amendments): (i32, i32) = (row.try_get("originals")?, row.try_get("amendments")?);
        let counts = FilingCounts {
            originals: originals.max(0) as u32,
            first_filed: row.try_get("first_filed")?,
            amendments: amendments.max(0) as u32,
            last_amended: row.try_get("last_amended")?,
        };
        let provider: String = row.try_get("provider")?;
        out.merge(&provider, kind, row.try_get("record_date")?, &counts);
    }
    Ok(out)
}

/// The sums of the filings among the first `tree_size` entries (of one provider, if given),
/// read in one snapshot of the database (its own REPEATABLE READ transaction: call it outside
/// one). At the head they are the table; a little behind it (a page's checkpoint while the
/// next is being appended), the table less the entries appended since, with the earliest and
/// latest times of the dates those entries may have held re-read; further back, the ledger
/// summed up as it is streamed.
pub async fn at(conn: &mut PgConnection, tree_size: u64, provider: Option<&str>) -> Result<Filings, sqlx::Error> {
    at_within(conn, tree_size, provider, MAX_TAKEN_OUT).await
}

/// [`at`], taking at most `max_taken_out` entries out of the table's sums.
async fn at_within(
    conn: &mut PgConnection,
    tree_size: u64,
    provider: Option<&str>,
    max_taken_out: u64,
) -> Result<Filings, sqlx::Error> {
    let mut view = conn.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
    let conn: &mut PgConnection = &mut view;
    let head = crate::db::ledger::head(conn).await?.size;
    let only: Option<Vec<String>> = provider.map(|p| vec![p.to_owned()]);
    let mut filings = Filings::default();
    // A size past the head: entries loaded without an append, so no table was kept for them.
    if head < tree_size || head - tree_size > max_taken_out {
        each(conn, 0..tree_size, only.as_deref(), |filing| filings.add(&filing)).await?;
    } else {
        filings = summaries(conn, provider).await?;
        let mut unsure = BTreeSet::new();
        // At the head (a page's first view after an append, the usual case) there is nothing
        // to take out: no statement for it.
        if tree_size < head {
            each(conn, tree_size..head, only.as_deref(), |filing| {
                if !filings.remove(&filing) {
                    unsure.insert((filing.provider, filing.kind, filing.date));
                }
            })
            .await?;
        }
        if !unsure.is_empty() {
            let providers: Vec<String> =
                unsure.iter().map(|(p, _, _)| p.clone()).collect::<BTreeSet<_>>().into_iter().collect();
            let mut exact = Filings::default();
            each(conn, 0..tree_size, Some(&providers), |filing| exact.add(&filing)).await?;
            for (provider, kind, date) in unsure {
                let counts = exact.of(&provider, kind).get(&date).copied().unwrap_or_default();
                filings.set(&provider, kind, date, counts);
            }
        }
    }
    view.commit().await?;
    Ok(filings)
}

/// Selects the filings of the entries in an index range (of some providers, with `$3`), in
/// ledger order: the date placing each in a period is the first of the record's date fields
/// holding a string ([`Filing::date_of`]); parsed, with the kind, by [`Filing::of_entry`].
macro_rules! filings_query {
    ($providers:literal) => {
        concat!(
            "SELECT provider, kind, received_at, supersedes IS NOT NULL AS amends,
                    coalesce(CASE jsonb_typeof(r -> 'period_start') WHEN 'string' THEN r ->> 'period_start' END,
                             CASE jsonb_typeof(r -> 'effective_date') WHEN 'string' THEN r ->> 'effective_date' END,
                             CASE jsonb_typeof(r -> 'as_of') WHEN 'string' THEN r ->> 'as_of' END) AS record_date
             FROM (SELECT idx, provider, kind, received_at, supersedes,
                          convert_from(entry, 'UTF8')::jsonb -> 'record' AS r
                   FROM ledger_entries WHERE idx >= $1 AND idx < $2 AND kind <> 'lockup' ",
            $providers,
            ") e ORDER BY idx"
        )
    };
}

/// Calls `f` with each filing among the entries `indexes` (of `providers` only, if given), in
/// ledger order, as they are read: nothing but the current row is held.
pub async fn each(
    conn: &mut PgConnection,
    indexes: Range<u64>,
    providers: Option<&[String]>,
    mut f: impl FnMut(Filing),
) -> Result<(), sqlx::Error> {
    let (start, end) = (to_i64(indexes.start), to_i64(indexes.end));
    let query = match providers {
        None => sqlx::query(filings_query!("")).bind(start).bind(end),
        Some(only) => sqlx::query(filings_query!("AND provider = ANY($3)")).bind(start).bind(end).bind(only),
    };
    let mut rows = query.fetch(conn);
    while let Some(row) = rows.try_next().await? {
        let (provider, kind): (String, String) = (row.try_get("provider")?, row.try_get("kind")?);
        let date: Option<String> = row.try_get("record_date")?;
        let (received_at, amends) = (row.try_get("received_at")?, row.try_get("amends")?);
        if let Some(filing) = Filing::of_entry(&provider, &kind, date.as_deref(), received_at, amends) {
            f(filing);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{TestApp, TestDb};

    async fn ledger_filings(conn: &mut PgConnection, tree_size: u64) -> Filings {
        crate::db::obligations::filings(conn, tree_size).await.expect("filings").into_iter().collect()
    }

    async fn head(conn: &mut PgConnection) -> u64 {
        crate::db::ledger::head(conn).await.expect("head").size
    }

    /// The demo world (with its amendments), then more amendments through the API: the table
    /// kept by the appends holds the sums of every filing in the ledger, and the sums at an
    /// earlier size (the table less what came since, or the ledger summed up) are those of
    /// the filings up to it.
    #[tokio::test]
    async fn appends_keep_the_sums_of_every_filing_in_the_ledger() {
        let app = TestApp::with_demo().await;
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let before = head(&mut conn).await;
        let token = app.provider_token("corvid-gpu").await;
        // Two amendments of the same period (the second at a later time), a new original.
        for p50 in [999_998, 999_999] {
            let amended = json!({"kind": "queue_time", "period_start": "2024-11-01", "period_end": "2024-12-01",
                "resource": "nvidia-h100-80gb", "region": "us-central", "tier": "newcomer", "jobs": 5,
                "p50_seconds": p50, "p90_seconds": 999_999, "p99_seconds": 999_999});
            app.post("/api/v1/records", "application/json", format!("[{amended}]"), Some(&token), &[])
                .await
                .assert_status(axum::http::StatusCode::CREATED);
        }
        let new = json!({"kind": "capacity", "as_of": "2030-01-01", "resource": "nvidia-h100-80gb",
            "region": "us-central", "total_accelerators": 10, "newcomer_set_aside": 1, "utilisation": "0.5"});
        app.post("/api/v1/records", "application/json", format!("[{new}]"), Some(&token), &[])
            .await
            .assert_status(axum::http::StatusCode::CREATED);
        let size = head(&mut conn).await;
        assert_eq!(size, before + 3);
        let table = summaries(&mut conn, None).await.expect("table");
        assert!(table.len() > 1000, "the demo's filings: {}", table.len());
        assert_eq!(table, ledger_filings(&mut conn, size).await);
        assert_eq!(at(&mut conn, size, None).await.expect("at head"), table);
        for earlier in [before, before + 1, before + 2, 0, 1, 500] {
            assert_eq!(
                at(&mut conn, earlier, None).await.expect("at"),
                ledger_filings(&mut conn, earlier).await,
                "{earlier}"
            );
        }
        // One provider's sums.
        for earlier in [size, before + 1, 500] {
            let all = ledger_filings(&mut conn, earlier).await;
            let corvid: Filings = all.summaries().filter(|s| s.provider == "corvid-gpu").collect();
            assert!(!corvid.is_empty());
            assert_eq!(at(&mut conn, earlier, Some("corvid-gpu")).await.expect("at"), corvid, "{earlier}");
        }
        // Summed up from the ledger instead of taken out of the table.
        for earlier in [before + 1, 500] {
            let folded = at_within(&mut conn, earlier, None, 0).await.expect("at");
            assert_eq!(folded, ledger_filings(&mut conn, earlier).await, "{earlier}");
        }
    }

    /// The migration's backfill, run over a ledger written by appends, gives the table the
    /// appends kept: the demo world, and entries whose dates only an old or careless writer
    /// would give (appended raw, as no record parser lets them through today).
    #[tokio::test]
    async fn the_migration_backfills_what_the_appends_keep() {
        let app = TestApp::with_demo().await;
        let odd = [
            json!({"period_start": "2025-02-30", "as_of": "2025-03-01"}),
            json!({"period_start": 5, "effective_date": null, "as_of": "2025-03-01"}),
            json!({"effective_date": "soon"}),
            json!({"as_of": "2025-3-1"}),
            json!({"as_of": "0000-01-01"}),
            json!({"period_start": "2024-02-29"}),
            json!({"resource": "no date"}),
        ];
        let pending: Vec<_> = odd
            .into_iter()
            .enumerate()
            .map(|(i, record)| crate::ledger::entry::PendingEntry {
                provider: crate::records::Slug::parse("odd-dates").expect("slug"),
                kind: "capacity".into(),
                natural_key: format!("odd {i}"),
                record,
                supersedes: None,
                signature: None,
            })
            .collect();
        app.ledger().append(&app.db.pool, &pending).await.expect("append");
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let odd = summaries(&mut conn, None).await.expect("table");
        let odd: Vec<(NaiveDate, u32)> =
            odd.of("odd-dates", RecordKind::Capacity).iter().map(|(date, c)| (*date, c.originals)).collect();
        let date = |text: &str| text.parse::<NaiveDate>().expect("date");
        assert_eq!(odd, [(date("2024-02-29"), 1), (date("2025-03-01"), 1)], "real dates written YYYY-MM-DD only");
        let kept = summaries(&mut conn, None).await.expect("table");
        sqlx::raw_sql(include_str!("../../migrations/20261201000002_projection_filings.down.sql"))
            .execute(&mut *conn)
            .await
            .expect("down");
        sqlx::raw_sql(include_str!("../../migrations/20261201000002_projection_filings.up.sql"))
            .execute(&mut *conn)
            .await
            .expect("up");
        let backfilled = summaries(&mut conn, None).await.expect("table");
        assert!(!kept.is_empty());
        assert_eq!(backfilled, kept);
    }

    /// An entry's date is read from its bytes as `Filing::date_of` reads it from its JSON:
    /// the first date field holding a string; no date, or a lock-up, is no filing.
    #[test]
    fn the_date_is_the_first_date_field_holding_a_string() {
        let row = |kind: &str, record: serde_json::Value| EntryRow {
            index: 7,
            leaf_hash: [0; 32],
            bytes: serde_json::to_vec(&json!({"index": 7, "kind": kind, "record": record, "v": 1})).expect("json"),
            provider: "p".into(),
            kind: kind.into(),
            natural_key: "k".into(),
            received_at: "2026-01-05T12:00:00Z".parse().expect("time"),
            supersedes: Some(3),
        };
        let date = |kind: &str, record: serde_json::Value| filing_of(&row(kind, record)).map(|f| f.date.to_string());
        assert_eq!(
            date("price", json!({"effective_date": "2026-01-02", "x": [1, {"as_of": 2}]})).as_deref(),
            Some("2026-01-02")
        );
        assert_eq!(date("capacity", json!({"period_start": 5, "as_of": "2026-03-01"})).as_deref(), Some("2026-03-01"));
        assert_eq!(
            date("queue_time", json!({"period_start": null, "effective_date": "2026-04-01"})).as_deref(),
            Some("2026-04-01")
        );
        assert_eq!(date("queue_time", json!({"period_start": "2026-13-01"})), None, "not a date");
        assert_eq!(date("queue_time", json!({"resource": "x"})), None);
        assert_eq!(date("queue_time", json!(["2026-01-01"])), None, "a record that is not an object");
        assert_eq!(date("lockup", json!({"as_of": "2026-01-01"})), None, "lock-ups are per deal");
        assert_eq!(date("mystery", json!({"as_of": "2026-01-01"})), None);
        for record in [
            json!({"as_of": "2026-01-01", "b": "é\u{1F600}\"\\"}),
            json!({"a\"s_of": "1999-01-01", "as_of": "2026-01-01"}),
        ] {
            let from_value = Filing::date_of(&record).map(str::to_owned);
            assert_eq!(date("capacity", record), from_value);
        }
        let filing = filing_of(&row("price", json!({"effective_date": "2026-01-02"}))).expect("filing");
        assert!(filing.amends);
    }

    /// What the hook adds to the append of a 10,000-record batch, with the batch's filings on
    /// one date (as an import of a month's history) and on 10,000 dates (the worst case: a row
    /// per record). `cargo test --release --lib db::filings::tests::hook_cost -- --ignored --nocapture`
    #[tokio::test]
    #[ignore = "a measurement, not a check"]
    async fn hook_cost() {
        const BATCH: u64 = 10_000;
        const ROUNDS: u32 = 4;
        let db = TestDb::new().await;
        let ledger = crate::testing::test_ledger();
        ledger.ensure_checkpoint(&db.pool).await.expect("checkpoint");
        let mut conn = db.pool.acquire().await.expect("conn");
        let base = NaiveDate::from_ymd_opt(1990, 1, 1).expect("date");
        for (shape, dates) in [("one date", 1u64), ("10,000 dates", BATCH)] {
            let (mut append, mut hook) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
            for round in 0..u64::from(ROUNDS) {
                let pending: Vec<_> = (0..BATCH)
                    .map(|i| {
                        let date = base + chrono::Days::new(i % dates);
                        let region = format!("region-{}-{}", round, i);
                        crate::ledger::entry::PendingEntry {
                            provider: crate::records::Slug::parse("nimbus-gpu").expect("slug"),
                            kind: "queue_time".into(),
                            natural_key: format!("{date}|{region}"),
                            record: json!({"period_start": date, "period_end": date, "resource": "nvidia-h100-80gb",
                                "region": region, "tier": "standard", "jobs": 5, "p50_seconds": i,
                                "p90_seconds": i + 1, "p99_seconds": i + 2}),
                            supersedes: None,
                            signature: None,
                        }
                    })
                    .collect();
                let started = std::time::Instant::now();
                let appended = ledger.append(&db.pool, &pending).await.expect("append");
                append += started.elapsed();
                let indexes: Vec<u64> = appended.entries.iter().map(|e| e.index).collect();
                let rows = crate::db::ledger::entries_by_index(&mut conn, &indexes).await.expect("rows");
                // The same rows again, in a transaction rolled back: the hook alone.
                let mut tx = conn.begin().await.expect("begin");
                let started = std::time::Instant::now();
                record(&mut tx, &rows).await.expect("record");
                hook += started.elapsed();
                tx.rollback().await.expect("rollback");
            }
            eprintln!(
                "{shape}: append of {BATCH} records {:?}, of which the hook {:?}",
                append / ROUNDS,
                hook / ROUNDS
            );
        }
    }
}
