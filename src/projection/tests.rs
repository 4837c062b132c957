//! The projection's promise: figures merged from bucket summaries are exactly the figures
//! computed from all of a provider's latest records at once, and the fold's rule for the
//! latest version agrees with what ingest writes into `supersedes`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::fold::{Conflict, Fold, TypedEntry};
use super::summary::{ProviderSummary, reporting_window};
use crate::analytics::capacity::capacity_over_time;
use crate::analytics::completeness::completeness;
use crate::analytics::headline::{ProviderInputs, headline};
use crate::analytics::prices::{latest_prices, price_series};
use crate::analytics::tables::{acceptance_by_category, lockup_shares, queue_series};
use crate::analytics::{Disclosures, grades};
use crate::records::Record;

const DATES: [&str; 6] = ["2025-01-01", "2025-01-15", "2025-02-01", "2025-03-31", "2026-01-01", "2026-07-04"];
const PLACES: [&str; 2] = ["a", "b"];

/// Squeezes a valid record's dates and places into a few values, so records share
/// buckets, groups and natural keys often (as real filings do).
fn squeezed(mut record: Value, date: usize, place: usize, other: usize) -> Value {
    let date = NaiveDate::parse_from_str(DATES[date % DATES.len()], "%Y-%m-%d").expect("date");
    for field in ["period_start", "effective_date", "as_of", "start_date"] {
        if record.get(field).is_some() {
            record[field] = json!(date.to_string());
        }
    }
    if record.get("period_end").is_some() {
        record["period_end"] = json!((date + chrono::Days::new(30)).to_string());
    }
    if record.get("end_date").and_then(Value::as_str).is_some() {
        record["end_date"] = json!((date + chrono::Days::new(90 + other as u64)).to_string());
    }
    for field in ["resource", "region"] {
        if record.get(field).is_some() {
            record[field] = json!(PLACES[(place + other) % PLACES.len()]);
        }
    }
    // Few sites, so energy filings share natural keys as the other kinds do.
    if record.get("site").is_some() {
        record["site"] = json!(PLACES[other % PLACES.len()]);
    }
    if record.get("disclosure_date").is_some() {
        record["disclosure_date"] = json!(date.to_string());
    }
    record
}

fn records() -> impl Strategy<Value = Vec<(usize, Record)>> {
    prop::collection::vec((0..2_usize, crate::records::arbitrary::record(), 0..6_usize, 0..2_usize, 0..3_usize), 0..48)
        .prop_map(|filings| {
            filings
                .into_iter()
                .filter_map(|(provider, record, date, place, other)| {
                    Record::parse(squeezed(record, date, place, other)).ok().map(|r| (provider, r))
                })
                .collect()
        })
}

/// Entries as ingest would write them: an amendment supersedes the latest version of its key.
fn entries(filings: &[(usize, Record)]) -> Vec<TypedEntry> {
    let mut latest: BTreeMap<(usize, String, String), u64> = BTreeMap::new();
    filings
        .iter()
        .enumerate()
        .map(|(index, (provider, record))| {
            let slot = (*provider, record.kind().as_str().to_owned(), record.natural_key());
            let supersedes = latest.insert(slot, index as u64);
            TypedEntry {
                index: index as u64,
                provider: format!("p{provider}"),
                kind: record.kind().as_str().to_owned(),
                received_at: chrono::DateTime::UNIX_EPOCH,
                supersedes,
                record: Ok(record.clone()),
            }
        })
        .collect()
}

/// Every provider's latest records, the way the figures were computed before the projection.
fn disclosures_of(fold: &Fold) -> BTreeMap<String, Disclosures> {
    let mut all: BTreeMap<String, Disclosures> = BTreeMap::new();
    for version in fold.latest() {
        let provider = version.entry.provider.clone();
        let d = all.entry(provider.clone()).or_default();
        match version.entry.record.clone().expect("readable") {
            Record::QueueTime(r) => d.queue_times.push((provider, r)),
            Record::Acceptance(r) => d.acceptance.push((provider, r)),
            Record::Price(r) => d.prices.push((provider, r)),
            Record::Lockup(r) => d.lockups.push((provider, r)),
            Record::Capacity(r) => d.capacity.push((provider, r)),
            Record::Energy(r) => d.energy.push((provider, r)),
        }
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn merged_bucket_summaries_give_the_figures_of_all_records_at_once(filings in records()) {
        let mut fold = Fold::default();
        for entry in entries(&filings) {
            fold.apply(entry).expect("ingest's supersedes follow the rule");
        }
        let direct = disclosures_of(&fold);
        let summaries = fold.summaries().expect("summaries");
        prop_assert_eq!(direct.keys().collect::<Vec<_>>(), summaries.keys().collect::<Vec<_>>());
        let window = crate::analytics::reporting_window(direct.values());
        let digests: Vec<_> = summaries.values().map(|s| s.digest()).collect();
        prop_assert_eq!(window, reporting_window(&digests));
        for (provider, d) in &direct {
            let merged = summaries[provider].figures(window);
            prop_assert_eq!(&merged.queue, &queue_series(d).unwrap_or_default());
            prop_assert_eq!(&merged.acceptance, &acceptance_by_category(d));
            prop_assert_eq!(&merged.prices, &price_series(d));
            prop_assert_eq!(&merged.latest_prices, &latest_prices(d));
            prop_assert_eq!(&merged.capacity, &capacity_over_time(d));
            prop_assert_eq!(&merged.lockups, &lockup_shares(d));
            prop_assert_eq!(&merged.completeness, &window.map(|w| completeness(d, w)).unwrap_or_default());
            if let Some(window) = window {
                let digest = summaries[provider].digest();
                prop_assert_eq!(digest.grade(window), grades::grade(d, window).expect("grade"));
                // Through the stored form too: bit for bit.
                let stored = super::summary::Digest::from_bytes(&digest.to_bytes().expect("digest")).expect("read back");
                prop_assert_eq!(stored.grade(window), grades::grade(d, window).expect("grade"));
            }
        }
        let figures: Vec<_> = direct.values().map(|d| {
            let capacity = crate::analytics::tables::latest_capacity(d)
                .map(|(date, total, set_aside)| (date, total, set_aside, crate::analytics::tables::locked_on(d, date)));
            (queue_series(d).unwrap_or_default(), acceptance_by_category(d), capacity)
        }).collect();
        let direct_headline = headline(
            figures.iter().map(|(queue, acceptance, capacity)| ProviderInputs { queue, acceptance, capacity: *capacity }).collect::<Vec<_>>(),
        );
        prop_assert_eq!(headline(digests.iter().map(|d| d.headline_inputs()).collect::<Vec<_>>()), direct_headline);
    }

    #[test]
    fn bucket_summaries_survive_their_stored_form(filings in records()) {
        let mut fold = Fold::default();
        for entry in entries(&filings) {
            fold.apply(entry).expect("applies");
        }
        for summary in fold.buckets().expect("buckets").values() {
            let back = super::bucket::BucketSummary::from_bytes(&summary.to_bytes().expect("summary")).expect("read back");
            prop_assert_eq!(&back, summary);
        }
    }
}

fn date(i: usize) -> NaiveDate {
    NaiveDate::parse_from_str(DATES[i % DATES.len()], "%Y-%m-%d").expect("date")
}

fn filters() -> impl Strategy<Value = crate::analytics::Filter> {
    let place = || proptest::option::of(0..PLACES.len()).prop_map(|p| p.map(|p| PLACES[p].to_owned()));
    let day = || proptest::option::of(0..DATES.len()).prop_map(|d| d.map(date));
    (place(), place(), day(), day()).prop_map(|(resource, region, from, to)| crate::analytics::Filter {
        resource,
        region,
        from,
        to,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// One path from records to figures: a provider's records summarised through their
    /// buckets give its summary in the projection, and the records a filter keeps give the
    /// figures of the filtered disclosures (what a filtered export shows).
    #[test]
    fn a_summary_of_records_is_the_projection_and_the_filtered_figures(filings in records(), filter in filters()) {
        let mut fold = Fold::default();
        for entry in entries(&filings) {
            fold.apply(entry).expect("applies");
        }
        let summaries = fold.summaries().expect("summaries");
        for (provider, d) in disclosures_of(&fold) {
            let records: Vec<Record> = fold
                .latest()
                .into_iter()
                .filter(|v| v.entry.provider == provider)
                .map(|v| v.entry.record.clone().expect("readable"))
                .collect();
            prop_assert_eq!(&ProviderSummary::of_records(&provider, &records).expect("summary"), &summaries[&provider]);

            let kept: Vec<&Record> = records.iter().filter(|r| crate::datasets::filter::keeps(&filter, r)).collect();
            let narrowed = d.filtered(&filter);
            let counts = |kind| kept.iter().filter(|r| r.kind() == kind).count();
            prop_assert_eq!(counts(crate::records::RecordKind::QueueTime), narrowed.queue_times.len());
            prop_assert_eq!(counts(crate::records::RecordKind::Acceptance), narrowed.acceptance.len());
            prop_assert_eq!(counts(crate::records::RecordKind::Price), narrowed.prices.len());
            prop_assert_eq!(counts(crate::records::RecordKind::Lockup), narrowed.lockups.len());
            prop_assert_eq!(counts(crate::records::RecordKind::Capacity), narrowed.capacity.len());
            let merged = ProviderSummary::of_records(&provider, kept).expect("summary").figures(None);
            prop_assert_eq!(&merged.queue, &queue_series(&narrowed).unwrap_or_default());
            prop_assert_eq!(&merged.acceptance, &acceptance_by_category(&narrowed));
            prop_assert_eq!(&merged.prices, &price_series(&narrowed));
            prop_assert_eq!(&merged.latest_prices, &latest_prices(&narrowed));
            prop_assert_eq!(&merged.capacity, &capacity_over_time(&narrowed));
            prop_assert_eq!(&merged.lockups, &lockup_shares(&narrowed));
        }
    }
}

fn queue(p50: u64) -> Record {
    Record::parse(json!({"kind": "queue_time", "period_start": "2026-01-01", "period_end": "2026-02-01",
        "resource": "h100", "region": "eu-fi", "tier": "newcomer", "jobs": 3, "p50_seconds": p50,
        "p90_seconds": p50 * 2, "p99_seconds": p50 * 3}))
    .expect("valid")
}

fn entry(index: u64, supersedes: Option<u64>, record: Result<Record, &str>) -> TypedEntry {
    TypedEntry {
        index,
        provider: "p".into(),
        kind: "queue_time".into(),
        received_at: chrono::DateTime::UNIX_EPOCH,
        supersedes,
        record: record.map_err(|reason| crate::records::kinds::Unreadable { reason: reason.into() }),
    }
}

#[test]
fn an_amendment_replaces_the_latest_version_and_counts_versions() {
    let mut fold = Fold::default();
    assert_eq!(fold.apply(entry(0, None, Ok(queue(10)))), Ok(None));
    let replaced = fold.apply(entry(1, Some(0), Ok(queue(20)))).expect("amends");
    assert_eq!(replaced.map(|v| v.entry.index), Some(0));
    let latest = fold.latest();
    assert_eq!(latest.len(), 1);
    assert_eq!((latest[0].entry.index, latest[0].versions), (1, 2));
}

#[test]
fn supersedes_that_disagree_with_the_rule_are_conflicts() {
    let mut fold = Fold::default();
    fold.apply(entry(0, None, Ok(queue(10)))).expect("first");
    // Filed as new although the key has a latest version: left out, the fold moves on.
    assert_eq!(fold.apply(entry(1, None, Ok(queue(20)))), Err(Conflict::Duplicate { index: 1, latest: 0 }));
    fold.apply(entry(2, Some(0), Ok(queue(20)))).expect("amends");
    // Amends a version that was already amended.
    assert_eq!(fold.push(entry(3, Some(0), Ok(queue(30)))), Ok(()));
    assert_eq!(fold.left_out(), [Conflict::NotLatest { index: 3, supersedes: 0 }]);
    // Out of order: refused, and the fold does not move.
    assert!(matches!(fold.push(entry(5, Some(2), Ok(queue(30)))), Err(Conflict::OutOfOrder { .. })));
    assert_eq!(fold.size(), 4);
    let latest = fold.latest();
    assert_eq!((latest.len(), latest[0].entry.index, latest[0].versions), (1, 2, 2));
}

#[test]
fn an_unreadable_amendment_takes_its_versions_place_and_leaves_the_figures() {
    let mut fold = Fold::default();
    fold.apply(entry(0, None, Ok(queue(10)))).expect("first");
    fold.apply(entry(1, Some(0), Err("p50_seconds: too large"))).expect("amends");
    assert!(fold.buckets().expect("buckets").is_empty(), "the amended figure is not published in its place");
    // A readable amendment of the unreadable version is published again.
    fold.apply(entry(2, Some(1), Ok(queue(30)))).expect("amends the unreadable one");
    assert_eq!(fold.summaries().expect("summaries")["p"].records, 1);
    assert_eq!(fold.latest()[0].versions, 3);
}

/// The generator above must produce what it is meant to test: many records, sharing
/// buckets and natural keys (so amendments happen), for both providers.
#[test]
fn the_generated_filings_share_buckets_and_keys() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut filed, mut amendments, mut shared_buckets) = (0, 0, 0);
    for _ in 0..50 {
        let filings = records().new_tree(&mut runner).expect("tree").current();
        filed += filings.len();
        amendments += entries(&filings).iter().filter(|e| e.supersedes.is_some()).count();
        let mut fold = Fold::default();
        for entry in entries(&filings) {
            fold.apply(entry).expect("applies");
        }
        shared_buckets += fold.buckets().expect("buckets").values().filter(|b| b.records > 1).count();
    }
    assert!(filed > 50 * 10, "{filed} records in 50 cases");
    assert!(amendments > 20, "{amendments} amendments");
    assert!(shared_buckets > 50, "{shared_buckets} buckets with several records");
}

/// The published path: pages, grades and exports read a provider's figures from its bucket
/// summaries, so a failed computation there is an error, not a summary without queue times
/// (which would be graded 0 as "not disclosed") (issue 20).
#[test]
fn a_failed_summary_is_an_error_not_an_empty_series() {
    let d = crate::analytics::tables::tests::sample();
    let records: Vec<Record> = d.queue_times.iter().map(|(_, r)| Record::QueueTime(r.clone())).collect();
    let summary = ProviderSummary::of_records("p", &records).expect("summary");
    assert!(!summary.figures(None).queue.is_empty());
    crate::analytics::failure::inject(true);
    let failed = ProviderSummary::of_records("p", &records);
    crate::analytics::failure::inject(false);
    assert!(failed.is_err(), "a failure became figures: {failed:?}");
}
