//! Points: what the cross-provider dashboards need of one bucket's latest records, in a
//! compact binary form stored beside the bucket's summary.
//!
//! A dashboard over every resource and region (optionally a date window) spans every
//! provider's records of one kind. Reading those records (a million at 1M entries) costs
//! seconds and hundreds of MB; the summaries are not enough, since a median across months
//! needs every value. A point keeps only what the dashboard computes with: for a queue
//! time its tier, date, p50, p90 and jobs (28 bytes); for a price or capacity filing its
//! series, its date and the cells its row shows (the dashboard shows the newest of each
//! series, picked by date, with nothing to decode); for acceptance and lock-ups the record
//! itself, decoded when shown.
//!
//! The encoding is hand-written (little-endian integers, length-prefixed strings) because
//! decoding it must run at memory speed over hundreds of thousands of points; a point that
//! fails to decode is an error, never a silently shorter list.

use chrono::{Datelike, NaiveDate};

use rust_decimal::Decimal;

use crate::records::kinds::{Capacity, Price};
use crate::records::{Record, RecordKind};

use super::bucket::date_of;

/// One queue-time record as the queue dashboard uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePoint {
    /// The record's date (its period's start).
    pub date: NaiveDate,
    /// Reported median wait, seconds.
    pub p50_seconds: u64,
    /// Reported 90th-percentile wait, seconds.
    pub p90_seconds: u64,
    /// Jobs behind the percentiles.
    pub jobs: u64,
}

/// One record of another kind: enough to choose it without decoding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPoint {
    /// What the record is one value of: (resource, region, pricing model) for a price,
    /// (resource, region) for capacity, empty for kinds shown record by record.
    pub series: String,
    /// The record's date ([`date_of`]).
    pub date: NaiveDate,
    /// Capacity's total accelerators (lock-up shares need every filing's); 0 otherwise.
    pub amount: u64,
    /// For a price or capacity filing, what its dashboard row shows after the provider
    /// ([`price_cells`], [`capacity_cells`]): the dashboard picks the newest of each series
    /// and shows it without decoding anything. Empty for other kinds.
    pub cells: Vec<String>,
    /// For other kinds, the record as its canonical JSON (`Record::to_submission`), decoded
    /// when shown; empty for prices and capacity.
    pub json: Vec<u8>,
}

/// A price's cells in the prices dashboard, after the provider: resource, region, model,
/// price, cost basis, markup, effective date.
pub fn price_cells(price: &Price) -> Vec<String> {
    let markup = crate::analytics::prices::markup_percent(price);
    vec![
        price.resource.to_string(),
        price.region.to_string(),
        price.pricing_model.as_str().to_owned(),
        format!("{} {}", price.price_per_accelerator_hour, price.currency),
        price.cost_basis_per_accelerator_hour.map_or("not disclosed".to_owned(), |c| format!("{c} {}", price.currency)),
        markup.map_or("—".to_owned(), |m| format!("{m:.0} %")),
        price.effective_date.to_string(),
    ]
}

/// A capacity filing's cells in the capacity dashboard, after the provider: resource,
/// region, date, accelerators, newcomer set-aside, its share, utilisation.
pub fn capacity_cells(capacity: &Capacity) -> Vec<String> {
    let share = if capacity.total_accelerators > 0 {
        format!("{:.1} %", capacity.newcomer_set_aside as f64 * 100.0 / capacity.total_accelerators as f64)
    } else {
        "—".into()
    };
    vec![
        capacity.resource.to_string(),
        capacity.region.to_string(),
        capacity.as_of.to_string(),
        capacity.total_accelerators.to_string(),
        capacity.newcomer_set_aside.to_string(),
        share,
        capacity.utilisation.map_or("—".to_owned(), |u| format!("{:.0} %", u * Decimal::ONE_HUNDRED)),
    ]
}

impl RecordPoint {
    /// The record back, validated as at the edge.
    pub fn record(&self) -> Result<Record, PointsError> {
        record_of(&self.json)
    }
}

/// A record from its stored JSON, validated as at the edge.
fn record_of(json: &[u8]) -> Result<Record, PointsError> {
    let value: serde_json::Value = serde_json::from_slice(json).map_err(|e| PointsError::Record(e.to_string()))?;
    Record::parse(value).map_err(|errors| PointsError::Record(format!("{errors:?}")))
}

/// A bucket's points: queue times grouped by tier (in tier order), or the other kinds' records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketPoints {
    /// Queue times per tier.
    pub queue: Vec<(String, Vec<QueuePoint>)>,
    /// Records of the other kinds, in the order given.
    pub records: Vec<RecordPoint>,
}

/// Stored points that do not decode (a bug or a damaged row, never data to skip).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PointsError {
    /// The bytes end early or hold an impossible value.
    #[error("stored dashboard points are malformed: {0}")]
    Malformed(&'static str),
    /// A stored record no longer parses.
    #[error("a stored dashboard record does not parse: {0}")]
    Record(String),
}

/// Format version, first byte of every encoding.
const VERSION: u8 = 2;

impl BucketPoints {
    /// The points of one bucket's latest records (all of one provider, kind and month).
    pub fn of<'a>(records: impl IntoIterator<Item = &'a Record>) -> Self {
        let mut out = Self::default();
        let mut tiers: std::collections::BTreeMap<String, Vec<QueuePoint>> = std::collections::BTreeMap::new();
        for record in records {
            let date = date_of(record);
            let (series, amount, cells) = match record {
                Record::QueueTime(r) => {
                    tiers.entry(r.tier.as_str().to_owned()).or_default().push(QueuePoint {
                        date,
                        p50_seconds: r.p50_seconds,
                        p90_seconds: r.p90_seconds,
                        jobs: r.jobs,
                    });
                    continue;
                }
                Record::Price(r) => {
                    let series = series_of(&[r.resource.as_str(), r.region.as_str(), r.pricing_model.as_str()]);
                    (series, 0, price_cells(r))
                }
                Record::Capacity(r) => {
                    let series = series_of(&[r.resource.as_str(), r.region.as_str()]);
                    (series, r.total_accelerators, capacity_cells(r))
                }
                Record::Acceptance(_) | Record::Lockup(_) | Record::Energy(_) => (String::new(), 0, Vec::new()),
            };
            let json = match cells.is_empty() {
                // A JSON value's text (what `serde_json::to_vec` writes), which cannot fail.
                true => record.to_submission().to_string().into_bytes(),
                false => Vec::new(),
            };
            out.records.push(RecordPoint { series, date, amount, cells, json });
        }
        out.queue = tiers.into_iter().collect();
        out
    }

    /// The stored form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        put_u64(&mut out, self.queue.len() as u64);
        for (tier, points) in &self.queue {
            put_bytes(&mut out, tier.as_bytes());
            put_u64(&mut out, points.len() as u64);
            for p in points {
                put_date(&mut out, p.date);
                put_u64(&mut out, p.p50_seconds);
                put_u64(&mut out, p.p90_seconds);
                put_u64(&mut out, p.jobs);
            }
        }
        put_u64(&mut out, self.records.len() as u64);
        for p in &self.records {
            put_bytes(&mut out, p.series.as_bytes());
            put_date(&mut out, p.date);
            put_u64(&mut out, p.amount);
            put_u64(&mut out, p.cells.len() as u64);
            for cell in &p.cells {
                put_bytes(&mut out, cell.as_bytes());
            }
            put_bytes(&mut out, &p.json);
        }
        out
    }

    /// Reads the stored form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PointsError> {
        let view = PointsView::of(bytes)?;
        let queue = view.queue.into_iter().map(|(tier, points)| (tier.to_owned(), points)).collect();
        let records = view.records.iter().map(RecordView::to_owned).collect::<Result<_, _>>()?;
        Ok(Self { queue, records })
    }
}

/// The stored form read in place: text and cells borrow the bytes, so a reader that keeps
/// a few points of many (the newest of each series) allocates only for those.
#[derive(Debug)]
pub struct PointsView<'a> {
    /// Queue times per tier.
    pub queue: Vec<(&'a str, Vec<QueuePoint>)>,
    /// Records of the other kinds.
    pub records: Vec<RecordView<'a>>,
}

/// A [`RecordPoint`] read in place.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// See [`RecordPoint::series`].
    pub series: &'a str,
    /// See [`RecordPoint::date`].
    pub date: NaiveDate,
    /// See [`RecordPoint::amount`].
    pub amount: u64,
    /// How many cells, and their encoding (each a length-prefixed UTF-8 text, checked).
    cells: (usize, &'a [u8]),
    /// See [`RecordPoint::json`].
    pub json: &'a [u8],
}

impl<'a> PointsView<'a> {
    /// Reads `bytes`, checking every length, date and text.
    pub fn of(bytes: &'a [u8]) -> Result<Self, PointsError> {
        let mut r = Reader(bytes);
        if r.take(1)? != [VERSION] {
            return Err(PointsError::Malformed("unknown version"));
        }
        let mut queue = Vec::new();
        for _ in 0..r.count(8)? {
            let tier = r.str()?;
            let n = r.count(28)?;
            let mut points = Vec::with_capacity(n);
            for _ in 0..n {
                points.push(QueuePoint {
                    date: r.date()?,
                    p50_seconds: r.u64()?,
                    p90_seconds: r.u64()?,
                    jobs: r.u64()?,
                });
            }
            queue.push((tier, points));
        }
        let mut records = Vec::new();
        for _ in 0..r.count(36)? {
            let series = r.str()?;
            let (date, amount) = (r.date()?, r.u64()?);
            let n = r.count(8)?;
            let before = r.0;
            for _ in 0..n {
                r.str()?;
            }
            let cells = (n, &before[..before.len() - r.0.len()]);
            let json = r.bytes()?;
            records.push(RecordView { series, date, amount, cells, json });
        }
        if !r.0.is_empty() {
            return Err(PointsError::Malformed("trailing bytes"));
        }
        Ok(Self { queue, records })
    }
}

impl<'a> RecordView<'a> {
    /// The record back (kinds stored with their JSON), validated as at the edge.
    pub fn record(&self) -> Result<Record, PointsError> {
        record_of(self.json)
    }

    /// The cells, as text.
    pub fn cells(&self) -> Result<Vec<String>, PointsError> {
        let mut r = Reader(self.cells.1);
        (0..self.cells.0).map(|_| r.str().map(str::to_owned)).collect()
    }

    /// Cell `n` in place, or `None` past the last (a reader of one cell of many points
    /// allocates nothing).
    pub fn cell(&self, n: usize) -> Result<Option<&'a str>, PointsError> {
        let mut r = Reader(self.cells.1);
        for i in 0..self.cells.0 {
            let cell = r.str()?;
            if i == n {
                return Ok(Some(cell));
            }
        }
        Ok(None)
    }

    pub fn to_owned(&self) -> Result<RecordPoint, PointsError> {
        Ok(RecordPoint {
            series: self.series.to_owned(),
            date: self.date,
            amount: self.amount,
            cells: self.cells()?,
            json: self.json.to_vec(),
        })
    }
}

/// A series key from its parts (the separator cannot occur in slugs or model names).
fn series_of(parts: &[&str]) -> String {
    parts.join("\u{1f}")
}

/// The series key of a record of `kind` with these parts, as [`BucketPoints::of`] writes it.
pub fn series(kind: RecordKind, parts: &[&str]) -> Option<String> {
    matches!(kind, RecordKind::Price | RecordKind::Capacity).then(|| series_of(parts))
}

fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_date(out: &mut Vec<u8>, date: NaiveDate) {
    out.extend_from_slice(&date.num_days_from_ce().to_le_bytes());
}

/// The unread rest of an encoding.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PointsError> {
        if self.0.len() < n {
            return Err(PointsError::Malformed("ends early"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, PointsError> {
        let bytes = self.take(8)?;
        Ok(u64::from_le_bytes(bytes.try_into().map_err(|_| PointsError::Malformed("ends early"))?))
    }

    /// A count of items at least `min_size` bytes each: never more than the bytes left
    /// could hold, so a damaged count cannot make a huge allocation.
    fn count(&mut self, min_size: usize) -> Result<usize, PointsError> {
        let n = self.u64()?;
        if n > (self.0.len() / min_size.max(1)) as u64 {
            return Err(PointsError::Malformed("count larger than the bytes left"));
        }
        Ok(n as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8], PointsError> {
        let n = self.count(1)?;
        self.take(n)
    }

    fn str(&mut self) -> Result<&'a str, PointsError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| PointsError::Malformed("text is not UTF-8"))
    }

    fn date(&mut self) -> Result<NaiveDate, PointsError> {
        let bytes = self.take(4)?;
        let days = i32::from_le_bytes(bytes.try_into().map_err(|_| PointsError::Malformed("ends early"))?);
        NaiveDate::from_num_days_from_ce_opt(days).ok_or(PointsError::Malformed("date out of range"))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn parse(value: serde_json::Value) -> Record {
        Record::parse(value).expect("valid test record")
    }

    fn queue(day: u32, tier: &str, p50: u64, jobs: u64) -> Record {
        parse(json!({"kind": "queue_time", "period_start": format!("2026-03-{day:02}"),
            "period_end": "2026-04-01", "resource": "h100", "region": "eu-de", "tier": tier,
            "jobs": jobs, "p50_seconds": p50, "p90_seconds": p50 * 3, "p99_seconds": p50 * 9}))
    }

    #[test]
    fn queue_times_are_grouped_by_tier_and_other_kinds_keep_their_record() {
        let price = parse(json!({"kind": "price", "effective_date": "2026-03-05", "resource": "h100",
            "region": "eu-de", "pricing_model": "on_demand", "price_per_accelerator_hour": "2.10",
            "currency": "EUR"}));
        let capacity = parse(json!({"kind": "capacity", "as_of": "2026-03-09", "resource": "h100",
            "region": "eu-de", "total_accelerators": 640, "newcomer_set_aside": 40}));
        let records = [queue(1, "on_demand", 100, 5), queue(1, "newcomer", 900, 2), queue(2, "on_demand", 300, 7)];
        let points = BucketPoints::of(records.iter().chain([&price, &capacity]));
        let tiers: Vec<(&str, usize)> = points.queue.iter().map(|(t, p)| (t.as_str(), p.len())).collect();
        assert_eq!(tiers, [("newcomer", 1), ("on_demand", 2)]);
        assert_eq!(points.records.len(), 2);
        assert_eq!(
            points.records[0].series,
            series(RecordKind::Price, &["h100", "eu-de", "on_demand"]).expect("test value")
        );
        let (Record::Price(p), Record::Capacity(c)) = (&price, &capacity) else { unreachable!() };
        assert_eq!(points.records[0].cells, price_cells(p));
        assert_eq!(points.records[0].cells[3], "2.1 EUR");
        let bytes = points.to_bytes();
        let view = PointsView::of(&bytes).expect("test value");
        assert_eq!(view.records[0].cell(3), Ok(Some("2.1 EUR")));
        assert_eq!(view.records[0].cell(7), Ok(None));
        assert_eq!((points.records[1].amount, &points.records[1].cells), (640, &capacity_cells(c)));
        assert_eq!(points.records[1].cells[5], "6.2 %");
        assert!(points.records.iter().all(|p| p.json.is_empty()), "rows shown from their cells, nothing to decode");
        let deal = parse(json!({"kind": "lockup", "counterparty": "Frontier Lab", "resource": "h100",
            "region": "eu-de", "accelerators": 256, "exclusivity": "exclusive", "start_date": "2026-03-02",
            "disclosure_date": "2026-03-03"}));
        let kept = BucketPoints::of([&deal]);
        assert_eq!(kept.records[0].record().expect("test value"), deal);
        assert_eq!(BucketPoints::from_bytes(&points.to_bytes()).expect("test value"), points);
    }

    #[test]
    fn damaged_bytes_are_an_error_not_fewer_points() {
        let points = BucketPoints::of(&[queue(1, "on_demand", 100, 5), queue(3, "on_demand", 200, 5)]);
        let bytes = points.to_bytes();
        for cut in 0..bytes.len() {
            assert!(BucketPoints::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(BucketPoints::from_bytes(&longer).is_err());
        // A count claiming more items than the bytes could hold is refused before allocating.
        let mut huge = vec![VERSION];
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(BucketPoints::from_bytes(&huge), Err(PointsError::Malformed("count larger than the bytes left")));
    }

    proptest! {
        #[test]
        fn the_stored_form_reads_back_exactly(
            queue in proptest::collection::vec(("[a-z_]{1,12}", proptest::collection::vec(
                (0i32..3_000_000, any::<u64>(), any::<u64>(), any::<u64>()), 0..6)), 0..4),
            records in proptest::collection::vec(
                (".{0,8}", 0i32..3_000_000, any::<u64>(), proptest::collection::vec(".{0,6}", 0..4),
                 proptest::collection::vec(any::<u8>(), 0..40)), 0..6),
        ) {
            let day = |d: i32| NaiveDate::from_num_days_from_ce_opt(d).expect("test value");
            let points = BucketPoints {
                queue: queue.into_iter().map(|(tier, ps)| (tier, ps.into_iter().map(|(d, p50, p90, jobs)|
                    QueuePoint { date: day(d), p50_seconds: p50, p90_seconds: p90, jobs }).collect())).collect(),
                records: records.into_iter().map(|(series, d, amount, cells, json)|
                    RecordPoint { series, date: day(d), amount, cells, json }).collect(),
            };
            prop_assert_eq!(BucketPoints::from_bytes(&points.to_bytes()).expect("test value"), points);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = BucketPoints::from_bytes(&bytes);
        }
    }
}
