//! What a dashboard's table is computed from, by either of two reads of the projection:
//! the latest records themselves (a view narrowed to a resource or region, which the
//! indexes make small) or the buckets' points (a view over every resource and region,
//! which would otherwise read every latest record of the kind). Both give the same rows;
//! the tests check it, dashboard by dashboard.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::NaiveDate;
use futures_util::TryStreamExt;

use crate::AppState;
use crate::analytics::tables::{self, TierSummary};
use crate::analytics::{Disclosures, Filter, add};
use crate::error::AppError;
use crate::projection::bucket::{BucketSummary, month_of};
use crate::projection::points::{self, PointsView, RecordView, price_cells, series};
use crate::records::{Record, RecordKind};

/// The inputs of one dashboard's table.
#[derive(Debug, Default)]
pub struct Rows {
    /// Queue times per provider and tier (the queue dashboard).
    pub queue: Vec<TierSummary>,
    /// The records the other dashboards show (for prices and capacity at least the newest
    /// of each series in the window; every one for acceptance and lock-ups).
    pub disclosures: Disclosures,
    /// Capacity filings per provider as (as_of, total), for the lock-ups' shares: every
    /// filing, whatever the window.
    pub capacity: BTreeMap<String, Vec<(NaiveDate, u64)>>,
    /// For prices and capacity read from points: the rows already chosen and written, as
    /// (provider, cells after the provider's), in table order. `None` when the table is to be
    /// computed from `disclosures`.
    pub shown: Option<Vec<(String, Vec<String>)>>,
    /// The queue and prices dashboards' monthly values, for their charts (gathered in
    /// the same pass as the rest).
    pub monthly: Monthly,
}

impl Rows {
    /// From the latest records the filter keeps (`all_capacity`: every capacity record, for
    /// the lock-ups dashboard).
    pub fn from_records(filtered: Disclosures, all_capacity: &Disclosures) -> Result<Self, AppError> {
        let queue = tables::queue_by_provider_and_tier(&filtered)
            .map_err(|e| AppError::Unavailable(format!("analytics: {e}")))?;
        let mut capacity: BTreeMap<String, Vec<(NaiveDate, u64)>> = BTreeMap::new();
        for (provider, c) in &all_capacity.capacity {
            capacity.entry(provider.clone()).or_default().push((c.as_of, c.total_accelerators));
        }
        let mut monthly = Monthly::default();
        for (_, r) in &filtered.queue_times {
            monthly.queue(r.tier.as_str(), r.period_start, r.p50_seconds);
        }
        for (_, r) in &filtered.prices {
            let parts = [r.resource.as_str(), r.region.as_str(), r.pricing_model.as_str()];
            let cells = price_cells(r);
            if let (Some(series), Some(price)) = (series(RecordKind::Price, &parts), cells.get(3)) {
                monthly.price(&series, r.effective_date, price);
            }
        }
        Ok(Self { queue, disclosures: filtered, capacity, shown: None, monthly })
    }
}

/// From the buckets' points: the dashboard of `kind` over every resource and region, with
/// `filter`'s dates. Points arrive one provider after another and are folded as they come
/// (on the blocking pool), so memory holds one provider's queue values, the newest record
/// per series, and the records shown.
pub async fn from_points(state: &AppState, kind: RecordKind, filter: &Filter) -> Result<Rows, AppError> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<(String, Vec<u8>)>(64);
    let window = (filter.from, filter.to);
    let folding = tokio::task::spawn_blocking(move || {
        let mut fold = PointsFold::new(kind, window);
        while let Some((provider, bytes)) = receiver.blocking_recv() {
            fold.add(&provider, bytes)?;
        }
        fold.finish()
    });
    let mut conn = state.pool.acquire().await?;
    {
        let mut stream = std::pin::pin!(crate::db::projection::bucket_points(&mut conn, kind, filter.from, filter.to));
        while let Some(row) = stream.try_next().await? {
            if sender.send(row).await.is_err() {
                break; // the fold failed; its error is returned below
            }
        }
    }
    drop(sender);
    let mut rows = folding.await.map_err(|e| AppError::Unavailable(format!("dashboard failed: {e}")))??;
    if kind == RecordKind::Lockup {
        let providers: Vec<String> = rows.disclosures.lockups.iter().map(|(p, _)| p.clone()).collect();
        let summaries = crate::db::projection::bucket_summaries(&mut conn, RecordKind::Capacity, &providers).await?;
        for (provider, bytes) in summaries {
            let summary = BucketSummary::from_bytes(&bytes).map_err(unavailable)?;
            let filings = rows.capacity.entry(provider).or_default();
            filings.extend(summary.capacity.iter().map(|(as_of, total, _)| (*as_of, *total)));
        }
    }
    Ok(rows)
}

fn unavailable(error: impl std::fmt::Display) -> AppError {
    AppError::Unavailable(format!("dashboard: {error}"))
}

/// One provider's queue values for one tier.
#[derive(Default)]
struct TierValues {
    p50: Vec<f64>,
    p90: Vec<f64>,
    jobs: u64,
}

/// The pure part of [`from_points`]: points in, rows out.
struct PointsFold {
    kind: RecordKind,
    window: (Option<NaiveDate>, Option<NaiveDate>),
    /// The provider whose buckets are held, and (prices, capacity) its buckets' bytes or
    /// (queue times) its values per tier.
    provider: Option<String>,
    held: Vec<Vec<u8>>,
    tiers: BTreeMap<String, TierValues>,
    rows: Rows,
}

impl PointsFold {
    fn new(kind: RecordKind, window: (Option<NaiveDate>, Option<NaiveDate>)) -> Self {
        Self { kind, window, provider: None, held: Vec::new(), tiers: BTreeMap::new(), rows: Rows::default() }
    }

    fn in_window(&self) -> impl Fn(NaiveDate) -> bool + use<> {
        let (from, to) = self.window;
        move |date| from.is_none_or(|f| date >= f) && to.is_none_or(|t| date <= t)
    }

    /// One bucket of `provider`, as stored (buckets of one provider arrive together).
    fn add(&mut self, provider: &str, bytes: Vec<u8>) -> Result<(), AppError> {
        if self.provider.as_deref() != Some(provider) {
            self.flush()?;
            self.provider = Some(provider.to_owned());
        }
        if matches!(self.kind, RecordKind::Price | RecordKind::Capacity) {
            // Chosen when the provider is complete: only the newest of each series is copied.
            self.held.push(bytes);
            return Ok(());
        }
        let view = PointsView::of(&bytes).map_err(unavailable)?;
        let in_window = self.in_window();
        for (tier, values) in &view.queue {
            for point in values.iter().filter(|p| in_window(p.date)) {
                let held = self.tiers.entry((*tier).to_owned()).or_default();
                held.p50.push(point.p50_seconds as f64);
                held.p90.push(point.p90_seconds as f64);
                held.jobs = add(held.jobs, point.jobs);
                self.rows.monthly.queue(tier, point.date, point.p50_seconds);
            }
        }
        for point in view.records.iter().filter(|p| in_window(p.date)) {
            push(&mut self.rows.disclosures, provider, point.record().map_err(unavailable)?);
        }
        Ok(())
    }

    /// The held provider's rows, computed and its points let go.
    fn flush(&mut self) -> Result<(), AppError> {
        let Some(provider) = self.provider.take() else { return Ok(()) };
        for (tier, mut values) in std::mem::take(&mut self.tiers) {
            self.rows.queue.push(TierSummary {
                provider: provider.clone(),
                tier,
                records: values.p50.len() as u64,
                p50_seconds: median(&mut values.p50),
                p90_seconds: median(&mut values.p90),
                jobs: values.jobs,
            });
        }
        if !matches!(self.kind, RecordKind::Price | RecordKind::Capacity) {
            return Ok(());
        }
        let held = std::mem::take(&mut self.held);
        // The newest point in the window per series; on equal dates the first in entry
        // order (buckets arrive by month, points within one in entry order), as the tables
        // choose among records.
        let mut newest: BTreeMap<&str, RecordView<'_>> = BTreeMap::new();
        let in_window = self.in_window();
        for bytes in &held {
            for point in PointsView::of(bytes).map_err(unavailable)?.records {
                if self.kind == RecordKind::Price
                    && in_window(point.date)
                    && let Some(price) = point.cell(3).map_err(unavailable)?
                {
                    self.rows.monthly.price(point.series, point.date, price);
                }
                if in_window(point.date) && newest.get(point.series).is_none_or(|n| n.date < point.date) {
                    newest.insert(point.series, point);
                }
            }
        }
        let shown = self.rows.shown.get_or_insert_with(Vec::new);
        for point in newest.values() {
            shown.push((provider.clone(), point.cells().map_err(unavailable)?));
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Rows, AppError> {
        self.flush()?;
        // Providers arrive in the database's collation; the tables are in byte order.
        // Series keys join their parts with a separator below every character a slug or
        // model can hold, so within a provider they sort as the tables' (parts…); the sort
        // is stable, keeping that order.
        self.rows.queue.sort_by(|a, b| (&a.provider, &a.tier).cmp(&(&b.provider, &b.tier)));
        if matches!(self.kind, RecordKind::Price | RecordKind::Capacity) {
            self.rows.shown.get_or_insert_with(Vec::new).sort_by(|a, b| a.0.cmp(&b.0));
        }
        Ok(self.rows)
    }
}

fn push(disclosures: &mut Disclosures, provider: &str, record: Record) {
    let provider = provider.to_owned();
    match record {
        Record::QueueTime(r) => disclosures.queue_times.push((provider, r)),
        Record::Acceptance(r) => disclosures.acceptance.push((provider, r)),
        Record::Price(r) => disclosures.prices.push((provider, r)),
        Record::Lockup(r) => disclosures.lockups.push((provider, r)),
        Record::Capacity(r) => disclosures.capacity.push((provider, r)),
        Record::Energy(r) => disclosures.energy.push((provider, r)),
    }
}

/// The median as the analytics compute it (linear interpolation between the two middle
/// values of an even count); `values` is sorted in place.
pub(super) fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_unstable_by(f64::total_cmp);
    let position = (values.len() - 1) as f64 * 0.5;
    let low = position.floor() as usize;
    let fraction = position - low as f64;
    match values.get(low + 1) {
        Some(high) if fraction > 0.0 => values[low] + (high - values[low]) * fraction,
        _ => values[low],
    }
}

#[cfg(test)]
#[path = "metric_rows_tests.rs"]
mod tests;

/// Values per series and month: what a line of medians is computed from.
pub(super) type SeriesMonths = BTreeMap<String, BTreeMap<NaiveDate, Vec<f64>>>;

fn push_value(series: &mut SeriesMonths, name: &str, date: NaiveDate, value: f64) {
    // Looked up by &str first: a dashboard adds hundreds of thousands of values to a few series.
    let months = match series.get_mut(name) {
        Some(months) => months,
        None => series.entry(name.to_owned()).or_default(),
    };
    months.entry(month_of(date)).or_default().push(value);
}

/// The monthly values of the queue and prices dashboards, gathered record by record (or
/// point by point) while the table's inputs are read.
#[derive(Debug, Default)]
pub struct Monthly {
    /// Reported median waits in hours, per tier and month.
    pub(super) queue: SeriesMonths,
    /// Prices per currency, then per `resource · pricing model` and month.
    pub(super) prices: BTreeMap<String, SeriesMonths>,
    /// Scratch for a price's series name (no allocation per price).
    name: String,
}

impl Monthly {
    /// One queue-time record's reported median wait.
    pub fn queue(&mut self, tier: &str, date: NaiveDate, p50_seconds: u64) {
        push_value(&mut self.queue, tier, date, p50_seconds as f64 / 3600.0);
    }

    /// One price, from its series key (resource, region, model) and its price cell: points
    /// keep a price as the cells its row shows, so records and points both go through
    /// [`crate::projection::points::price_cells`] and read the same value back.
    pub fn price(&mut self, series: &str, date: NaiveDate, price_cell: &str) {
        let mut parts = series.split('\u{1f}');
        let (Some(resource), _, Some(model)) = (parts.next(), parts.next(), parts.next()) else { return };
        let Some((amount, currency)) = price_cell.split_once(' ') else { return };
        let Ok(amount) = amount.parse::<f64>() else { return };
        self.name.clear();
        let _ = write!(self.name, "{resource} · {model}");
        let by_currency = match self.prices.get_mut(currency) {
            Some(series) => series,
            None => self.prices.entry(currency.to_owned()).or_default(),
        };
        push_value(by_currency, &self.name, date, amount);
    }
}

/// The latest capacity filing in the window per provider, resource and region, as
/// (provider, cells after the provider's), in table order (the capacity table and chart).
pub(super) fn capacity_rows(input: &Rows) -> std::borrow::Cow<'_, [(String, Vec<String>)]> {
    if let Some(shown) = &input.shown {
        return shown.as_slice().into();
    }
    let mut latest: std::collections::BTreeMap<(&str, &str, &str), &crate::records::kinds::Capacity> =
        Default::default();
    for (p, c) in &input.disclosures.capacity {
        let key = (p.as_str(), c.resource.as_str(), c.region.as_str());
        if latest.get(&key).is_none_or(|current| current.as_of < c.as_of) {
            latest.insert(key, c);
        }
    }
    latest.iter().map(|((p, _, _), c)| ((*p).to_owned(), points::capacity_cells(c))).collect::<Vec<_>>().into()
}
