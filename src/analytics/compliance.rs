//! The compliance report: for every reporting obligation (which kind, how
//! often, how many days after the period ends it is due), each period's status
//! — filed on time, filed late (by how many days), missing, or not yet due —
//! and how often and when its filings were amended. Pure: obligations and
//! filings (with the ledger's acceptance times) in, statuses out.

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
    /// Its kind.
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
        if kind == RecordKind::Lockup {
            return None;
        }
        Some(Self { provider: provider.to_owned(), kind, date: date?.parse().ok()?, received_at, amends })
    }

    /// The date a record's JSON places it at, as [`Filing::of_entry`] reads it.
    pub fn date_of(record: &serde_json::Value) -> Option<&str> {
        ["period_start", "effective_date", "as_of"].iter().find_map(|key| record.get(*key)?.as_str())
    }
}

/// Every filing, grouped by provider and kind (what each obligation is weighed against).
/// Cheap to extend: a new checkpoint copies only the groups its entries touch.
#[derive(Debug, Clone, Default)]
pub struct Filings(std::collections::HashMap<(String, RecordKind), std::sync::Arc<Vec<Filing>>>);

impl Filings {
    /// One provider's filings of one kind, in ledger order.
    pub fn of(&self, provider: &str, kind: RecordKind) -> &[Filing] {
        self.0.get(&(provider.to_owned(), kind)).map_or(&[], |list| list.as_slice())
    }

    /// Adds filings (in ledger order).
    pub fn extend(&mut self, filings: impl IntoIterator<Item = Filing>) {
        for filing in filings {
            let list = self.0.entry((filing.provider.clone(), filing.kind)).or_default();
            std::sync::Arc::make_mut(list).push(filing);
        }
    }

    /// How many filings there are.
    pub fn len(&self) -> usize {
        self.0.values().map(|list| list.len()).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(|list| list.is_empty())
    }
}

impl FromIterator<Filing> for Filings {
    fn from_iter<I: IntoIterator<Item = Filing>>(filings: I) -> Self {
        let mut out = Self::default();
        out.extend(filings);
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

    /// Days late, if late.
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
    /// Kind.
    pub kind: RecordKind,
    /// Cadence of the obligation.
    pub cadence: Cadence,
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Last day of the period.
    pub period_last_day: NaiveDate,
    /// Last day on which filing is on time.
    pub deadline: NaiveDate,
    /// Its status.
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
        let mine: Vec<&Filing> = filings.of(&o.provider, o.kind).iter().collect();
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
}
