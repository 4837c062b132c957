//! The two reads of a dashboard (latest records; buckets' points) give the same table.

use chrono::NaiveDate;
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::projection::points::BucketPoints;
use crate::records::Record;
use crate::testing::TestApp;
use crate::web::metrics::{METRICS, kind_of, table};

/// Every cell of a table as (text, link), row by row.
fn cells(table: &crate::web::metrics::MetricTable) -> Vec<Vec<(String, Option<String>)>> {
    table.rows.iter().map(|row| row.iter().map(|c| (c.text.clone(), c.href.clone())).collect()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dashboard_from_points_equals_the_dashboard_from_records() {
    let app = TestApp::with_demo().await;
    // Amend a few records and add a second version of a price series later in a month, so
    // the points hold superseded and newest versions side by side.
    let token = app.provider_token("corvid-gpu").await;
    let late = json!([
        {"kind": "price", "effective_date": "2026-03-28", "resource": "nvidia-h100-80gb", "region": "us-central",
         "pricing_model": "on_demand", "price_per_accelerator_hour": "9.99", "currency": "EUR"},
        {"kind": "capacity", "as_of": "2026-03-28", "resource": "nvidia-h100-80gb", "region": "us-central",
         "total_accelerators": 4096, "newcomer_set_aside": 256},
    ]);
    app.post("/api/v1/records", "application/json", late.to_string(), Some(&token), &[])
        .await
        .assert_status(axum::http::StatusCode::CREATED);
    let snapshot = crate::web::page_data::current(&app.state).await.expect("snapshot");
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    let windows = [
        (None, None),
        (date("2026-01-01"), None),
        (None, date("2026-03-15")),
        (date("2025-11-17"), date("2026-03-28")),
        (date("2026-03-28"), date("2026-03-28")),
        (date("2031-01-01"), None),
    ];
    let mut compared = 0;
    for (metric, _) in METRICS {
        let kind = kind_of(metric);
        for (from, to) in windows {
            let filter = Filter { from, to, ..Filter::default() };
            let points = from_points(&app.state, kind, &filter).await.expect("points");
            let filtered = crate::web::metrics::latest(&app.state, kind, &filter).await.expect("records");
            let all_capacity =
                crate::web::metrics::latest(&app.state, RecordKind::Capacity, &Filter::default()).await.expect("all");
            let records = Rows::from_records(filtered, &all_capacity).expect("rows");
            let (a, b) =
                (table(metric, &snapshot, &points).expect("a"), table(metric, &snapshot, &records).expect("b"));
            assert_eq!(cells(&a), cells(&b), "{metric} from {from:?} to {to:?}");
            // And the same chart.
            let figures = |rows: &Rows| {
                let names = std::collections::HashMap::new();
                crate::web::metric_charts::dashboard_chart(metric, &filter, rows, &names)
                    .map(|chart| (chart.caption, chart.figures))
            };
            assert_eq!(figures(&points), figures(&records), "{metric} chart from {from:?} to {to:?}");
            compared += a.rows.len();
        }
    }
    assert!(compared > 100, "the demo should give many rows to compare, got {compared}");
}

fn queue(provider: usize, month: u32, day: u32, tier: &str, p50: u64, p90: u64, jobs: u64) -> (String, Record) {
    let record = Record::parse(json!({"kind": "queue_time",
        "period_start": format!("2026-{month:02}-{day:02}"), "period_end": format!("2026-{:02}-01", month + 1),
        "resource": "h100", "region": format!("r{day}"), "tier": tier, "jobs": jobs,
        "p50_seconds": p50, "p90_seconds": p90, "p99_seconds": p90}))
    .expect("valid");
    (format!("p{provider}"), record)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Medians, job sums and record counts per provider and tier from points equal the
    /// analytics' (polars) figures over the same records, for any window.
    #[test]
    fn queue_rows_from_points_equal_the_analytics(
        records in proptest::collection::vec(
            (0usize..3, 1u32..6, 1u32..28, prop::sample::select(vec!["on_demand", "newcomer", "reserved"]),
             0u64..100_000, 0u64..100_000, 0u64..1_000_000_000_000), 1..60),
        from in proptest::option::of(1u32..6),
        to in proptest::option::of(1u32..6),
    ) {
        let records: Vec<(String, Record)> = records
            .into_iter()
            .map(|(p, m, d, tier, p50, extra, jobs)| queue(p, m, d, tier, p50, p50 + extra, jobs))
            .collect();
        let window = (
            from.and_then(|m| NaiveDate::from_ymd_opt(2026, m, 10)),
            to.and_then(|m| NaiveDate::from_ymd_opt(2026, m, 20)),
        );
        let mut by_bucket: BTreeMap<(String, NaiveDate), Vec<Record>> = BTreeMap::new();
        let mut filtered = Disclosures::default();
        for (provider, record) in &records {
            let date = crate::projection::bucket::date_of(record);
            by_bucket.entry((provider.clone(), crate::projection::bucket::month_of(date))).or_default().push(record.clone());
            if window.0.is_none_or(|f| date >= f) && window.1.is_none_or(|t| date <= t) {
                push(&mut filtered, provider, record.clone());
            }
        }
        let mut fold = PointsFold::new(RecordKind::QueueTime, window);
        for ((provider, _), members) in &by_bucket {
            fold.add(provider, BucketPoints::of(members).to_bytes()).expect("test value");
        }
        let from_points = fold.finish().expect("test value").queue;
        let from_records = Rows::from_records(filtered, &Disclosures::default()).expect("test value").queue;
        let shown = |rows: &[TierSummary]| -> Vec<(String, String, u64, u64, u64, u64)> {
            rows.iter().map(|r| (r.provider.clone(), r.tier.clone(), r.records, r.p50_seconds.to_bits(),
                r.p90_seconds.to_bits(), r.jobs)).collect()
        };
        prop_assert_eq!(shown(&from_points), shown(&from_records));
    }
}

#[test]
fn the_median_interpolates_an_even_count_and_sorts_first() {
    assert_eq!(median(&mut [5.0]), 5.0);
    assert_eq!(median(&mut [9.0, 1.0, 5.0]), 5.0);
    assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    assert!(median(&mut []).is_nan());
}
