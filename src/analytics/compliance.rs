//! The compliance report: for every reporting obligation (which kind, how
//! often, how many days after the period ends it is due), each period's status
//! — filed on time, filed late (by how many days), missing, or not yet due —
//! and how often and when its filings were amended. Pure: obligations and the
//! filings' sums per provider, kind and date ([`Filings`], with the ledger's
//! acceptance times) in, statuses out.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};

use crate::records::RecordKind;

/// How often a kind must be filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Every calendar month.
    Monthly,
    /// Every calendar quarter.
    Quarterly,
}

impl Cadence {
    /// Every cadence with its name.
    pub const OPTIONS: [(&'static str, Self); 2] = [("monthly", Self::Monthly), ("quarterly", Self::Quarterly)];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monthly => "monthly",
            Self::Quarterly => "quarterly",
        }
    }

    /// The cadence called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::OPTIONS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    /// The first day of the period holding `date`.
    pub fn period_start(self, date: NaiveDate) -> NaiveDate {
        let month = match self {
            Self::Monthly => date.month(),
            Self::Quarterly => (date.month() - 1) / 3 * 3 + 1,
        };
        NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date)
    }

    /// The first day after the period starting at `start`.
    pub fn period_end(self, start: NaiveDate) -> NaiveDate {
        let months = match self {
            Self::Monthly => 1,
            Self::Quarterly => 3,
        };
        start.checked_add_months(Months::new(months)).unwrap_or(start)
    }
}

/// One provider's duty to file one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obligation {
    /// Provider slug.
    pub provider: String,
    /// What must be filed.
    pub kind: RecordKind,
    /// How often.
    pub cadence: Cadence,
    /// Days after the period's last day by which it is due.
    pub deadline_days: u32,
    /// The first period assessed is the one holding this date.
    pub since: NaiveDate,
}

/// A filing as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filing {
    /// Provider slug.
    pub provider: String,
    pub kind: RecordKind,
    /// The date that places it in a period (period start, effective date, as-of date).
    pub date: NaiveDate,
    /// When the ledger accepted it.
    pub received_at: DateTime<Utc>,
    /// Whether it amends an earlier filing.
    pub amends: bool,
}

impl Filing {
    /// The filing an entry makes, if its kind is filed per period (lock-ups are per deal)
    /// and the record names its date (period start, effective date or as-of date).
    pub fn of_entry(
        provider: &str,
        kind: &str,
        date: Option<&str>,
        received_at: DateTime<Utc>,
        amends: bool,
    ) -> Option<Self> {
        let kind = RecordKind::OPTIONS.iter().find(|(n, _)| *n == kind).map(|(_, k)| *k)?;
        // Lock-ups are filed per deal. No obligation covers energy (the obligations table
        // allows the four monthly duties, and the backfill of `projection_filings` counts
        // those alone), so its filings are not counted either.
        if matches!(kind, RecordKind::Lockup | RecordKind::Energy) {
            return None;
        }
        Some(Self { provider: provider.to_owned(), kind, date: Self::parse_date(date?)?, received_at, amends })
    }

    /// A date as records write it, `YYYY-MM-DD` (years 0001-9999): the one form that the
    /// backfill of `projection_filings` in SQL reads the same way (chrono alone would also
    /// take `2025-3-1`, PostgreSQL `March 1 2025`). Record parsers only ever write this form.
    pub fn parse_date(text: &str) -> Option<NaiveDate> {
        let bytes = text.as_bytes();
        let shape = bytes.len() == 10
            && bytes.iter().enumerate().all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() });
        if !shape || text.starts_with("0000") {
            return None;
        }
        text.parse().ok()
    }

    /// The fields that may hold the date placing a record in a period, in the order they are
    /// looked at: the first that holds a string is the date.
    pub const DATE_FIELDS: [&'static str; 3] = ["period_start", "effective_date", "as_of"];

    /// The date a record's JSON places it at, as [`Filing::of_entry`] reads it.
    pub fn date_of(record: &serde_json::Value) -> Option<&str> {
        Self::DATE_FIELDS.iter().find_map(|key| record.get(*key)?.as_str())
    }
}

/// What a set of filings (of one provider and kind) amounts to for the report: how many
/// originals there are and when the first was accepted, how many amendments and when the
/// latest was. Sums of these combine (periods are sums of days), so the ledger is summed
/// up once per provider, kind and date (the table `projection_filings`, maintained in the
/// append transaction) and no report needs the filings themselves (issue 16).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilingCounts {
    /// Filings that amend nothing.
    pub originals: u32,
    /// When the earliest original was accepted.
    pub first_filed: Option<DateTime<Utc>>,
    /// Filings that amend an earlier one.
    pub amendments: u32,
    /// When the latest amendment was accepted.
    pub last_amended: Option<DateTime<Utc>>,
}

impl FilingCounts {
    /// One filing's counts.
    pub fn of(received_at: DateTime<Utc>, amends: bool) -> Self {
        if amends {
            Self { amendments: 1, last_amended: Some(received_at), ..Self::default() }
        } else {
            Self { originals: 1, first_filed: Some(received_at), ..Self::default() }
        }
    }

    /// Adds another set's counts (`None` times are left out of the earliest and latest).
    pub fn merge(&mut self, other: &Self) {
        fn pick(
            a: Option<DateTime<Utc>>,
            b: Option<DateTime<Utc>>,
            f: fn(DateTime<Utc>, DateTime<Utc>) -> DateTime<Utc>,
        ) -> Option<DateTime<Utc>> {
            match (a, b) {
                (Some(a), Some(b)) => Some(f(a, b)),
                (a, b) => a.or(b),
            }
        }
        self.originals = self.originals.saturating_add(other.originals);
        self.first_filed = pick(self.first_filed, other.first_filed, DateTime::min);
        self.amendments = self.amendments.saturating_add(other.amendments);
        self.last_amended = pick(self.last_amended, other.last_amended, DateTime::max);
    }

    /// Takes one filing back out: the counts stay exact; false if the earliest original or
    /// the latest amendment (whichever it was) may have been this one, so that the time of
    /// the ones left cannot be told from the sums (it must be read again).
    pub fn remove(&mut self, received_at: DateTime<Utc>, amends: bool) -> bool {
        let (count, time, outermost) = if amends {
            let latest = received_at >= self.last_amended.unwrap_or(received_at);
            (&mut self.amendments, &mut self.last_amended, latest)
        } else {
            let earliest = received_at <= self.first_filed.unwrap_or(received_at);
            (&mut self.originals, &mut self.first_filed, earliest)
        };
        let known = *count > 0;
        *count = count.saturating_sub(1);
        if *count == 0 {
            *time = None;
            return known;
        }
        known && !outermost
    }

    /// Whether no filing is counted.
    pub fn is_empty(&self) -> bool {
        self.originals == 0 && self.amendments == 0
    }
}

/// The filings of one provider, kind and record date, summed up (a row of `projection_filings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFilings {
    /// Provider slug.
    pub provider: String,
    pub kind: RecordKind,
    /// The date that places the filings in a period.
    pub date: NaiveDate,
    /// What they amount to.
    pub counts: FilingCounts,
}

/// Every filing, summed up per provider, kind and date (what each obligation is weighed
/// against): its size grows with the dates filed for, not with the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filings(HashMap<(String, RecordKind), BTreeMap<NaiveDate, FilingCounts>>);

/// The dates of a provider and kind with no filing.
static NO_DATES: BTreeMap<NaiveDate, FilingCounts> = BTreeMap::new();

impl Filings {
    /// One provider's filings of one kind, by date.
    pub fn of(&self, provider: &str, kind: RecordKind) -> &BTreeMap<NaiveDate, FilingCounts> {
        self.0.get(&(provider.to_owned(), kind)).unwrap_or(&NO_DATES)
    }

    /// One provider's filings of one kind for dates from `start` up to (not including) `end`.
    pub fn between(&self, provider: &str, kind: RecordKind, start: NaiveDate, end: NaiveDate) -> FilingCounts {
        let mut sum = FilingCounts::default();
        if start < end {
            for counts in self.of(provider, kind).range(start..end).map(|(_, c)| c) {
                sum.merge(counts);
            }
        }
        sum
    }

    /// Counts one filing in.
    pub fn add(&mut self, filing: &Filing) {
        self.merge(&filing.provider, filing.kind, filing.date, &FilingCounts::of(filing.received_at, filing.amends));
    }

    /// Adds filings.
    pub fn extend(&mut self, filings: impl IntoIterator<Item = Filing>) {
        for filing in filings {
            self.add(&filing);
        }
    }

    /// Adds the counts of one provider, kind and date.
    pub fn merge(&mut self, provider: &str, kind: RecordKind, date: NaiveDate, counts: &FilingCounts) {
        if counts.is_empty() {
            return;
        }
        self.0.entry((provider.to_owned(), kind)).or_default().entry(date).or_default().merge(counts);
    }

    /// Sets the counts of one provider, kind and date (none if `counts` is empty).
    pub fn set(&mut self, provider: &str, kind: RecordKind, date: NaiveDate, counts: FilingCounts) {
        let key = (provider.to_owned(), kind);
        if counts.is_empty() {
            if let Some(dates) = self.0.get_mut(&key) {
                dates.remove(&date);
                if dates.is_empty() {
                    self.0.remove(&key);
                }
            }
        } else {
            self.0.entry(key).or_default().insert(date, counts);
        }
    }

    /// Takes one filing back out (the sums of an earlier tree size, from a later one's and the
    /// filings appended in between). False if its date's earliest or latest time must be read
    /// again ([`FilingCounts::remove`]), or if it was not counted in.
    pub fn remove(&mut self, filing: &Filing) -> bool {
        let key = (filing.provider.clone(), filing.kind);
        let Some(dates) = self.0.get_mut(&key) else { return false };
        let Some(counts) = dates.get_mut(&filing.date) else { return false };
        let exact = counts.remove(filing.received_at, filing.amends);
        if counts.is_empty() {
            dates.remove(&filing.date);
            if dates.is_empty() {
                self.0.remove(&key);
            }
        }
        exact
    }

    /// Every provider, kind and date with its counts (in no particular order).
    pub fn summaries(&self) -> impl Iterator<Item = DateFilings> + '_ {
        self.0.iter().flat_map(|((provider, kind), dates)| {
            dates.iter().map(|(date, counts)| DateFilings {
                provider: provider.clone(),
                kind: *kind,
                date: *date,
                counts: *counts,
            })
        })
    }

    /// How many filings are counted.
    pub fn len(&self) -> usize {
        self.0.values().flat_map(|dates| dates.values()).map(|c| c.originals as usize + c.amendments as usize).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Filing> for Filings {
    fn from_iter<I: IntoIterator<Item = Filing>>(filings: I) -> Self {
        let mut out = Self::default();
        out.extend(filings);
        out
    }
}

impl FromIterator<DateFilings> for Filings {
    fn from_iter<I: IntoIterator<Item = DateFilings>>(summaries: I) -> Self {
        let mut out = Self::default();
        for s in summaries {
            out.merge(&s.provider, s.kind, s.date, &s.counts);
        }
        out
    }
}

/// A period's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Filed by the deadline.
    OnTime,
    /// Filed this many days after the deadline.
    Late(i64),
    /// Nothing filed, and the deadline has passed.
    Missing,
    /// Nothing filed yet, and the deadline has not passed.
    NotYetDue,
}

impl Status {
    /// The status as the report writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnTime => "on_time",
            Self::Late(_) => "late",
            Self::Missing => "missing",
            Self::NotYetDue => "not_yet_due",
        }
    }

    pub fn days_late(self) -> Option<i64> {
        match self {
            Self::Late(days) => Some(days),
            _ => None,
        }
    }
}

/// One provider, kind and period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodStatus {
    /// Provider slug.
    pub provider: String,
    pub kind: RecordKind,
    /// Cadence of the obligation.
    pub cadence: Cadence,
    /// First day of the period.
    pub period_start: NaiveDate,
    pub period_last_day: NaiveDate,
    /// Last day on which filing is on time.
    pub deadline: NaiveDate,
    pub status: Status,
    /// When the first filing for the period was accepted.
    pub first_filed: Option<DateTime<Utc>>,
    /// Filings for the period (originals).
    pub filings: u32,
    /// Amendments of the period's filings.
    pub amendments: u32,
    /// When the latest amendment was accepted.
    pub last_amended: Option<DateTime<Utc>>,
}

/// The status of every period of every obligation, from the period holding `since` to the
/// last period that has ended by `as_of`, plus the current period if something was filed for it.
/// Ordered by provider, kind and period.
pub fn report(obligations: &[Obligation], filings: &Filings, as_of: DateTime<Utc>) -> Vec<PeriodStatus> {
    let today = as_of.date_naive();
    let mut out = Vec::new();
    for o in obligations {
        let mut start = o.cadence.period_start(o.since);
        loop {
            let end = o.cadence.period_end(start);
            if end <= start {
                break;
            }
            let filed = filings.between(&o.provider, o.kind, start, end);
            let ended = end <= today;
            if !ended && filed.is_empty() {
                break;
            }
            let last_day = end - Days::new(1);
            let deadline = last_day + Days::new(u64::from(o.deadline_days));
            let status = match filed.first_filed {
                Some(at) if at.date_naive() <= deadline => Status::OnTime,
                Some(at) => Status::Late((at.date_naive() - deadline).num_days()),
                None if today > deadline => Status::Missing,
                None => Status::NotYetDue,
            };
            out.push(PeriodStatus {
                provider: o.provider.clone(),
                kind: o.kind,
                cadence: o.cadence,
                period_start: start,
                period_last_day: last_day,
                deadline,
                status,
                first_filed: filed.first_filed,
                filings: filed.originals,
                amendments: filed.amendments,
                last_amended: filed.last_amended,
            });
            if !ended {
                break;
            }
            start = end;
        }
    }
    out.sort_by(|a, b| {
        (a.provider.as_str(), a.kind.as_str(), a.period_start).cmp(&(
            b.provider.as_str(),
            b.kind.as_str(),
            b.period_start,
        ))
    });
    out
}

/// Counts per status for a set of periods: (on time, late, missing, not yet due, amended periods).
pub fn tally<'a>(periods: impl IntoIterator<Item = &'a PeriodStatus>) -> (u32, u32, u32, u32, u32) {
    let mut t = (0, 0, 0, 0, 0);
    for p in periods {
        match p.status {
            Status::OnTime => t.0 += 1,
            Status::Late(_) => t.1 += 1,
            Status::Missing => t.2 += 1,
            Status::NotYetDue => t.3 += 1,
        }
        if p.amendments > 0 {
            t.4 += 1;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    fn at(text: &str) -> DateTime<Utc> {
        format!("{text}T12:00:00Z").parse().expect("time")
    }

    fn filing(date_text: &str, received: &str, amends: bool) -> Filing {
        Filing {
            provider: "p".into(),
            kind: RecordKind::QueueTime,
            date: date(date_text),
            received_at: at(received),
            amends,
        }
    }

    fn monthly(since: &str) -> Obligation {
        Obligation {
            provider: "p".into(),
            kind: RecordKind::QueueTime,
            cadence: Cadence::Monthly,
            deadline_days: 15,
            since: date(since),
        }
    }

    /// January on time (on the deadline day itself), February late by one day, March
    /// missing, April amended twice, May not yet due on the report date.
    #[test]
    fn on_time_late_by_one_day_missing_amended_twice_and_not_yet_due() {
        let filings = [
            filing("2026-01-01", "2026-02-15", false),
            filing("2026-02-01", "2026-03-16", false),
            filing("2026-04-01", "2026-05-02", false),
            filing("2026-04-01", "2026-05-20", true),
            filing("2026-04-01", "2026-06-03", true),
        ];
        let periods = report(&[monthly("2026-01-10")], &filings.into_iter().collect(), at("2026-06-10"));
        let summary: Vec<(String, &str, Option<i64>, u32)> = periods
            .iter()
            .map(|p| (p.period_start.to_string(), p.status.as_str(), p.status.days_late(), p.amendments))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("2026-01-01".into(), "on_time", None, 0),
                ("2026-02-01".into(), "late", Some(1), 0),
                ("2026-03-01".into(), "missing", None, 0),
                ("2026-04-01".into(), "on_time", None, 2),
                ("2026-05-01".into(), "not_yet_due", None, 0),
            ]
        );
        assert_eq!(periods[0].deadline, date("2026-02-15"));
        assert_eq!(periods[1].deadline, date("2026-03-15"));
        assert_eq!(periods[3].last_amended, Some(at("2026-06-03")));
        assert_eq!(tally(&periods), (2, 1, 1, 1, 1));
    }

    #[test]
    fn quarterly_periods_and_other_providers_filings_do_not_count() {
        let mut other = filing("2026-01-01", "2026-01-05", false);
        other.provider = "q".into();
        let obligation = Obligation { cadence: Cadence::Quarterly, deadline_days: 30, ..monthly("2026-02-01") };
        let filings = [other, filing("2026-03-01", "2026-04-30", false)];
        let periods = report(&[obligation], &filings.into_iter().collect(), at("2026-08-01"));
        let summary: Vec<(String, String, &str)> =
            periods.iter().map(|p| (p.period_start.to_string(), p.deadline.to_string(), p.status.as_str())).collect();
        assert_eq!(
            summary,
            vec![
                ("2026-01-01".into(), "2026-04-30".into(), "on_time"),
                ("2026-04-01".into(), "2026-07-30".into(), "missing"),
            ]
        );
        assert_eq!(Cadence::Quarterly.period_start(date("2026-11-25")), date("2026-10-01"));
    }
    /// The report as it was computed before filings were summed up per date (issue 16):
    /// every filing kept and scanned per period. The oracle of the property below.
    fn report_from_every_filing(
        obligations: &[Obligation],
        filings: &[Filing],
        as_of: DateTime<Utc>,
    ) -> Vec<PeriodStatus> {
        let today = as_of.date_naive();
        let mut out = Vec::new();
        for o in obligations {
            let mine: Vec<&Filing> = filings.iter().filter(|f| f.provider == o.provider && f.kind == o.kind).collect();
            let mut start = o.cadence.period_start(o.since);
            loop {
                let end = o.cadence.period_end(start);
                if end <= start {
                    break;
                }
                let in_period: Vec<&&Filing> = mine.iter().filter(|f| f.date >= start && f.date < end).collect();
                let ended = end <= today;
                if !ended && in_period.is_empty() {
                    break;
                }
                let last_day = end - Days::new(1);
                let deadline = last_day + Days::new(u64::from(o.deadline_days));
                let originals: Vec<&&&Filing> = in_period.iter().filter(|f| !f.amends).collect();
                let first_filed = originals.iter().map(|f| f.received_at).min();
                let status = match first_filed {
                    Some(at) if at.date_naive() <= deadline => Status::OnTime,
                    Some(at) => Status::Late((at.date_naive() - deadline).num_days()),
                    None if today > deadline => Status::Missing,
                    None => Status::NotYetDue,
                };
                let amendments: Vec<&&&Filing> = in_period.iter().filter(|f| f.amends).collect();
                out.push(PeriodStatus {
                    provider: o.provider.clone(),
                    kind: o.kind,
                    cadence: o.cadence,
                    period_start: start,
                    period_last_day: last_day,
                    deadline,
                    status,
                    first_filed,
                    filings: originals.len() as u32,
                    amendments: amendments.len() as u32,
                    last_amended: amendments.iter().map(|f| f.received_at).max(),
                });
                if !ended {
                    break;
                }
                start = end;
            }
        }
        out.sort_by(|a, b| {
            (a.provider.as_str(), a.kind.as_str(), a.period_start).cmp(&(
                b.provider.as_str(),
                b.kind.as_str(),
                b.period_start,
            ))
        });
        out
    }

    const KINDS: [RecordKind; 2] = [RecordKind::QueueTime, RecordKind::Price];

    /// Filings of two providers and two kinds over about two years, accepted within a few
    /// months of their date (so some late), often on the same date and at the same time.
    fn filings() -> impl Strategy<Value = Vec<Filing>> {
        let one = (0..2usize, 0..2usize, 0..700u64, 0..120u64, 0..3u32, any::<bool>()).prop_map(
            |(provider, kind, day, delay, second, amends)| {
                let date = date("2025-01-01") + Days::new(day);
                let received_at =
                    date.and_hms_opt(12, 0, second).expect("time").and_utc() + chrono::Duration::days(delay as i64);
                Filing { provider: ["p", "q"][provider].into(), kind: KINDS[kind], date, received_at, amends }
            },
        );
        proptest::collection::vec(one, 0..200)
    }

    fn obligations() -> impl Strategy<Value = Vec<Obligation>> {
        let one = (0..3usize, 0..2usize, any::<bool>(), 0..60u32, 0..400u64).prop_map(
            |(provider, kind, quarterly, deadline_days, since)| Obligation {
                // "r" files nothing.
                provider: ["p", "q", "r"][provider].into(),
                kind: KINDS[kind],
                cadence: if quarterly { Cadence::Quarterly } else { Cadence::Monthly },
                deadline_days,
                since: date("2024-11-15") + Days::new(since),
            },
        );
        proptest::collection::vec(one, 0..5)
    }

    proptest::proptest! {
        #[test]
        fn the_report_from_sums_per_date_is_the_report_from_every_filing(
            filings in filings(),
            obligations in obligations(),
            as_of in 0..900u64,
        ) {
            let as_of = (date("2025-01-01") + Days::new(as_of)).and_hms_opt(9, 0, 0).expect("time").and_utc();
            let summed: Filings = filings.iter().cloned().collect();
            prop_assert_eq!(summed.len(), filings.len());
            // Sums of sums: per date, as the table stores them, then merged again.
            let resummed: Filings = summed.summaries().collect();
            prop_assert_eq!(&resummed, &summed);
            prop_assert_eq!(
                report(&obligations, &summed, as_of),
                report_from_every_filing(&obligations, &filings, as_of)
            );
        }

        /// Taking the last filings back out gives the sums of the first ones: the counts
        /// always, the times wherever `remove` says they are still known.
        #[test]
        fn taking_filings_out_gives_the_sums_of_the_rest(filings in filings(), keep in 0..200usize) {
            let keep = keep.min(filings.len());
            let mut sums: Filings = filings.iter().cloned().collect();
            let mut unsure = Vec::new();
            for filing in &filings[keep..] {
                if !sums.remove(filing) {
                    unsure.push((filing.provider.clone(), filing.kind, filing.date));
                }
            }
            let expected: Filings = filings[..keep].iter().cloned().collect();
            prop_assert_eq!(sums.len(), expected.len());
            for s in expected.summaries() {
                let got = sums.of(&s.provider, s.kind).get(&s.date).copied().unwrap_or_default();
                prop_assert_eq!(got.originals, s.counts.originals);
                prop_assert_eq!(got.amendments, s.counts.amendments);
                if !unsure.contains(&(s.provider.clone(), s.kind, s.date)) {
                    prop_assert_eq!(got, s.counts);
                }
            }
        }
    }

    #[test]
    fn a_filing_date_is_a_real_date_written_yyyy_mm_dd() {
        assert_eq!(Filing::parse_date("2024-02-29"), Some(date("2024-02-29")));
        for odd in ["2025-02-30", "2025-3-1", " 2025-03-01", "2025-03-01 ", "0000-01-01", "+2025-03-01", "20250301", ""]
        {
            assert_eq!(Filing::parse_date(odd), None, "{odd:?}");
        }
    }

    #[test]
    fn a_filing_that_was_never_counted_cannot_be_taken_out() {
        let mut sums: Filings = [filing("2026-01-01", "2026-01-05", false)].into_iter().collect();
        assert!(!sums.remove(&filing("2026-01-01", "2026-01-06", true)));
        assert!(!sums.remove(&filing("2026-02-01", "2026-02-06", false)));
        // The only original: nothing left, nothing unknown.
        assert!(sums.remove(&filing("2026-01-01", "2026-01-05", false)));
        assert!(sums.is_empty());
    }
}
