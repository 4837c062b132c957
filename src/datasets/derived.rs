//! The derived tables: the same figures the pages show, as rows. Computed from the
//! projection's provider summaries and digests ([`Summaries`]); an export narrowed by
//! resource, region or dates builds each provider's summary from the latest records the
//! filter keeps, through the same buckets ([`ProviderSummary::of_records`]), so there is one
//! code path from records to figures whatever the filter.

use std::collections::BTreeMap;

use super::cell::Cell;
use super::filter::ExportFilter;
use super::source::{ExportError, RowSink};
use super::summaries::Summaries;
use super::table::Table;
use crate::analytics::Filter;
use crate::analytics::compliance::PeriodStatus;
use crate::analytics::grades::Grade;
use crate::projection::summary::ProviderSummary;

impl Table {
    /// The rows of the providers in `summaries` (of `only`, if given), by slug. With
    /// `narrowed` (a filtered export), each provider's rows come from its summary there
    /// (none if absent), and lock-up shares from its whole summary's capacity.
    pub fn rows_of(
        self,
        summaries: &Summaries,
        only: Option<&str>,
        narrowed: Option<&BTreeMap<String, ProviderSummary>>,
    ) -> Vec<Vec<Cell>> {
        let chosen = |slug: &String| only.is_none_or(|only| only == slug);
        if self == Self::Grades {
            let Some(window) = summaries.window() else { return Vec::new() };
            return summaries
                .digests
                .iter()
                .filter(|(slug, digest)| chosen(slug) && digest.records > 0)
                .flat_map(|(slug, digest)| grade_rows(slug, &digest.grade_with(window, summaries.methodology)))
                .collect();
        }
        if self.spans_providers() {
            // The market spans every provider: never narrowed to one (the filter refuses it).
            return super::concentration::rows(self, summaries);
        }
        let empty = ProviderSummary::default();
        summaries
            .providers
            .iter()
            .filter(|(slug, _)| chosen(slug))
            .flat_map(|(slug, all)| {
                let shown = narrowed.map_or(all, |narrowed| narrowed.get(slug).unwrap_or(&empty));
                self.provider_rows(slug, shown, all)
            })
            .collect()
    }

    /// One provider's rows: `shown` summarises the records the export covers, `all` every
    /// latest record of the provider (lock-up shares need every capacity filing before the
    /// deal, not only those in the filter). Grades are not per summary: see [`grade_rows`].
    fn provider_rows(self, slug: &str, shown: &ProviderSummary, all: &ProviderSummary) -> Vec<Vec<Cell>> {
        let text = |s: &str| Cell::Text(s.to_owned());
        match self {
            Self::QueuePercentiles => shown
                .queue
                .iter()
                .map(|p| {
                    vec![
                        text(slug),
                        text(&p.tier),
                        Cell::Date(p.period_start),
                        Cell::Number(p.p50_seconds),
                        Cell::Number(p.p90_seconds),
                        Cell::Int(p.jobs as i64),
                    ]
                })
                .collect(),
            Self::AcceptanceRates => shown
                .acceptance
                .iter()
                .map(|r| {
                    vec![
                        text(slug),
                        text(&r.category),
                        Cell::Int(r.received as i64),
                        Cell::Int(r.accepted as i64),
                        Cell::Int(r.rejected as i64),
                        r.rate().map_or(Cell::Null, Cell::Number),
                    ]
                })
                .collect(),
            Self::PriceSeries => shown
                .prices
                .iter()
                .map(|p| {
                    vec![
                        text(slug),
                        text(&p.series),
                        text(&p.currency),
                        Cell::Date(p.month),
                        Cell::Number(p.price),
                        p.cost_basis.map_or(Cell::Null, Cell::Number),
                    ]
                })
                .collect(),
            Self::LockupShares => all
                .figures(None)
                .lockups
                .into_iter()
                .filter(|s| shown.lockups.contains(&s.lockup))
                .map(|s| {
                    let l = s.lockup;
                    vec![
                        text(slug),
                        Cell::Text(l.counterparty),
                        Cell::Text(l.resource.to_string()),
                        Cell::Text(l.region.to_string()),
                        Cell::Int(l.accelerators as i64),
                        Cell::Date(l.start_date),
                        l.end_date.map_or(Cell::Null, Cell::Date),
                        Cell::Text(l.exclusivity.as_str().to_owned()),
                        s.share.map_or(Cell::Null, Cell::Number),
                    ]
                })
                .collect(),
            Self::Grades | Self::BuyerShares | Self::MarketConcentration => Vec::new(),
        }
    }
}

/// A provider's grade as rows, one per component.
fn grade_rows(slug: &str, grade: &Grade) -> Vec<Vec<Cell>> {
    grade
        .components
        .iter()
        .map(|c| {
            vec![
                Cell::Text(slug.to_owned()),
                Cell::Text(grade.letter.to_string()),
                Cell::Number(grade.score),
                Cell::Text(c.component.label().to_owned()),
                Cell::Number(c.weight),
                Cell::Number(c.value),
                Cell::Text(c.detail.clone()),
                Cell::Int(i64::from(grade.methodology)),
            ]
        })
        .collect()
}

/// Writes `table`, narrowed by `filter`, from `summaries` into `sink`; tells the sink of each
/// latest version of the table's kinds (of the chosen provider) that it leaves out because
/// its record no longer decodes. Returns the rows written.
pub async fn render(
    table: Table,
    summaries: &Summaries,
    filter: &ExportFilter,
    sink: &mut impl RowSink,
) -> Result<u64, ExportError> {
    let only = filter.provider.as_deref();
    let narrowed = match table.filtered_kind() {
        Some(kind) if filter.place_and_time != Filter::default() => {
            let kept = summaries.latest_records(only, kind, &filter.place_and_time).await?;
            // Bucket summaries are computed with polars, which blocks: off the async workers.
            let narrowed = tokio::task::spawn_blocking(move || {
                kept.into_iter()
                    .map(|(slug, records)| {
                        let summary = ProviderSummary::of_records(&slug, &records)?;
                        Ok((slug, summary))
                    })
                    .collect::<Result<BTreeMap<_, _>, ExportError>>()
            })
            .await
            .map_err(|e| ExportError::Encode(format!("analytics failed: {e}")))??;
            Some(narrowed)
        }
        _ => None,
    };
    let rows = table.rows_of(summaries, only, narrowed.as_ref());
    sink.page_read();
    for left_out in &summaries.unreadable {
        let of_table = table.kinds().iter().any(|kind| kind.as_str() == left_out.kind);
        if of_table && only.is_none_or(|only| only == left_out.provider) {
            sink.unreadable(left_out.index, &left_out.reason);
        }
    }
    let count = rows.len() as u64;
    for row in rows {
        sink.push(row).await?;
    }
    Ok(count)
}

/// The compliance report as rows, narrowed by provider, kind and period start.
pub fn compliance_rows(periods: &[PeriodStatus], filter: &ExportFilter) -> Vec<Vec<Cell>> {
    let place = &filter.place_and_time;
    periods
        .iter()
        .filter(|p| filter.provider.as_deref().is_none_or(|only| p.provider == only))
        .filter(|p| filter.kind.is_none_or(|k| p.kind == k))
        .filter(|p| place.from.is_none_or(|f| p.period_start >= f) && place.to.is_none_or(|t| p.period_start <= t))
        .map(|p| {
            vec![
                Cell::Text(p.provider.clone()),
                Cell::Text(p.kind.as_str().to_owned()),
                Cell::Text(p.cadence.as_str().to_owned()),
                Cell::Date(p.period_start),
                Cell::Date(p.period_last_day),
                Cell::Date(p.deadline),
                Cell::Text(p.status.as_str().to_owned()),
                p.status.days_late().map_or(Cell::Null, Cell::Int),
                p.first_filed.map_or(Cell::Null, Cell::DateTime),
                Cell::Int(i64::from(p.filings)),
                Cell::Int(i64::from(p.amendments)),
                p.last_amended.map_or(Cell::Null, Cell::DateTime),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::Disclosures;
    use crate::analytics::tables::tests::sample;
    use crate::records::Record;

    /// `d`'s records filed by one provider, `slug`, and folded into the projection's summaries
    /// (amendments as ingest would write them). Polars blocks: not on an async worker.
    fn summaries_of(slug: &str, d: &Disclosures) -> Summaries {
        use crate::projection::fold::{Fold, TypedEntry};
        let queue = d.queue_times.iter().map(|(_, r)| Record::QueueTime(r.clone()));
        let acceptance = d.acceptance.iter().map(|(_, r)| Record::Acceptance(r.clone()));
        let prices = d.prices.iter().map(|(_, r)| Record::Price(r.clone()));
        let lockups = d.lockups.iter().map(|(_, r)| Record::Lockup(r.clone()));
        let capacity = d.capacity.iter().map(|(_, r)| Record::Capacity(r.clone()));
        let mut fold = Fold::default();
        let mut latest = std::collections::HashMap::new();
        for (index, record) in queue.chain(acceptance).chain(prices).chain(lockups).chain(capacity).enumerate() {
            let index = index as u64;
            let entry = TypedEntry {
                index,
                provider: slug.to_owned(),
                kind: record.kind().as_str().to_owned(),
                received_at: chrono::DateTime::UNIX_EPOCH,
                supersedes: latest.insert((record.kind(), record.natural_key()), index),
                record: Ok(record),
            };
            fold.apply(entry).expect("follows the rule");
        }
        Summaries::of_fold(std::sync::Arc::new(fold)).expect("summaries")
    }

    #[test]
    fn rows_match_their_columns_and_the_hand_computed_figures() {
        let summaries = summaries_of("p", &sample());
        for table in
            [Table::QueuePercentiles, Table::AcceptanceRates, Table::PriceSeries, Table::LockupShares, Table::Grades]
        {
            let rows = table.rows_of(&summaries, None, None);
            for row in &rows {
                assert_eq!(row.len(), table.fields().len(), "{table:?}");
            }
        }
        let rates = Table::AcceptanceRates.rows_of(&summaries, None, None);
        let student = rates.iter().find(|r| r[1] == Cell::Text("student".into())).expect("student");
        assert_eq!(student[5], Cell::Number(6.0 / 16.0));
        let civic = rates.iter().find(|r| r[1] == Cell::Text("civic".into())).expect("civic");
        assert_eq!(civic[5], Cell::Null, "nothing decided: no rate");
        let grades = Table::Grades.rows_of(&summaries, None, None);
        assert_eq!(grades.len(), 6);
        assert_eq!(grades[0][1], Cell::Text("D".into()));
        assert!(Table::Grades.rows_of(&summaries, Some("someone-else"), None).is_empty());
    }

    /// The old way, kept as the oracle: a table's rows computed directly from each
    /// provider's latest disclosures narrowed by `place` (lock-up shares over all of them).
    fn direct_rows(table: Table, providers: &BTreeMap<String, Disclosures>, place: &Filter) -> Vec<Vec<Cell>> {
        use crate::analytics::{prices, tables};
        let text = |s: &str| Cell::Text(s.to_owned());
        let mut rows = Vec::new();
        for (slug, all) in providers {
            let d = all.filtered(place);
            match table {
                Table::QueuePercentiles => rows.extend(tables::queue_series(&d).expect("queue").into_iter().map(|p| {
                    let cells = [Cell::Number(p.p50_seconds), Cell::Number(p.p90_seconds), Cell::Int(p.jobs as i64)];
                    [text(slug), Cell::Text(p.tier), Cell::Date(p.period_start)].into_iter().chain(cells).collect()
                })),
                Table::AcceptanceRates => rows.extend(tables::acceptance_by_category(&d).into_iter().map(|r| {
                    let rate = r.rate().map_or(Cell::Null, Cell::Number);
                    let counts = [r.received, r.accepted, r.rejected].map(|n| Cell::Int(n as i64));
                    [text(slug), Cell::Text(r.category)].into_iter().chain(counts).chain([rate]).collect()
                })),
                Table::PriceSeries => rows.extend(prices::price_series(&d).into_iter().map(|p| {
                    let basis = p.cost_basis.map_or(Cell::Null, Cell::Number);
                    vec![
                        text(slug),
                        Cell::Text(p.series),
                        Cell::Text(p.currency),
                        Cell::Date(p.month),
                        Cell::Number(p.price),
                        basis,
                    ]
                })),
                Table::LockupShares => {
                    let kept = tables::lockup_shares(all)
                        .into_iter()
                        .filter(|s| d.lockups.iter().any(|(_, l)| *l == s.lockup));
                    rows.extend(kept.map(|s| {
                        let l = s.lockup;
                        vec![
                            text(slug),
                            Cell::Text(l.counterparty),
                            Cell::Text(l.resource.to_string()),
                            Cell::Text(l.region.to_string()),
                            Cell::Int(l.accelerators as i64),
                            Cell::Date(l.start_date),
                            l.end_date.map_or(Cell::Null, Cell::Date),
                            Cell::Text(l.exclusivity.as_str().to_owned()),
                            s.share.map_or(Cell::Null, Cell::Number),
                        ]
                    }))
                }
                Table::Grades | Table::BuyerShares | Table::MarketConcentration => {}
            }
        }
        rows
    }

    /// A filtered export (resource, region, dates, provider) is the figures computed directly
    /// from the latest records the filter keeps, row for row, in the demo world with its
    /// amendments and an unreadable amendment; lock-up shares still over every capacity filing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_filtered_export_is_the_figures_of_the_filtered_records() {
        use crate::datasets::testing::{Collect, amend_unreadably, filters_for, fold_of};
        use crate::datasets::{CATALOG, Source};
        let app = crate::testing::TestApp::with_demo().await;
        amend_unreadably(&app).await;
        let size = app.tree_size().await;
        let summaries = Summaries::load(&app.db.pool, size).await.expect("the projection");
        let mut latest: BTreeMap<String, Disclosures> = BTreeMap::new();
        for version in fold_of(&app.db.pool, size).await.latest() {
            let (provider, d) =
                (version.entry.provider.clone(), latest.entry(version.entry.provider.clone()).or_default());
            match version.entry.record.clone() {
                Ok(Record::QueueTime(r)) => d.queue_times.push((provider, r)),
                Ok(Record::Acceptance(r)) => d.acceptance.push((provider, r)),
                Ok(Record::Price(r)) => d.prices.push((provider, r)),
                Ok(Record::Lockup(r)) => d.lockups.push((provider, r)),
                Ok(Record::Capacity(r)) => d.capacity.push((provider, r)),
                Ok(Record::Energy(r)) => d.energy.push((provider, r)),
                Err(_) => {}
            }
        }
        let mut narrowed_and_nonempty = 0;
        for dataset in CATALOG.iter() {
            let Source::Derived(table) = dataset.source else { continue };
            for filter in filters_for(dataset).into_iter().filter(|f| f.place_and_time != Filter::default()) {
                let mut sink = Collect::default();
                render(table, &summaries, &filter, &mut sink).await.expect("render");
                let chosen: BTreeMap<String, Disclosures> = latest
                    .iter()
                    .filter(|(slug, _)| filter.provider.as_deref().is_none_or(|only| only == *slug))
                    .map(|(slug, d)| (slug.clone(), d.clone()))
                    .collect();
                let place = filter.place_and_time.clone();
                let expected =
                    tokio::task::spawn_blocking(move || direct_rows(table, &chosen, &place)).await.expect("join");
                assert_eq!(sink.rows, expected, "{} {filter:?}", dataset.name);
                let unfiltered = summaries.providers.values().map(|s| s.records).sum::<u64>();
                if !expected.is_empty() && (expected.len() as u64) < unfiltered {
                    narrowed_and_nonempty += 1;
                }
            }
        }
        assert!(narrowed_and_nonempty >= 8, "{narrowed_and_nonempty} filtered exports with rows");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_filter_narrows_the_derived_rows() {
        use crate::datasets::testing::Collect;
        let summaries = tokio::task::spawn_blocking(|| summaries_of("p", &sample())).await.expect("join");
        let all = Table::QueuePercentiles.rows_of(&summaries, None, None).len();
        let february = ExportFilter {
            place_and_time: Filter { from: Some("2026-02-01".parse().expect("date")), ..Filter::default() },
            ..ExportFilter::default()
        };
        let mut narrowed = Collect::default();
        render(Table::QueuePercentiles, &summaries, &february, &mut narrowed).await.expect("render");
        assert!(narrowed.rows.len() < all && !narrowed.rows.is_empty());
        assert!(narrowed.rows.iter().all(|r| r[2] == Cell::Date("2026-02-01".parse().expect("date"))));
    }
}
