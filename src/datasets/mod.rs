//! Datasets: everything the site shows, downloadable. One dataset per record
//! kind (the disclosures as filed, latest versions or the full amendment chain),
//! the ledger entries themselves, and the derived tables behind the pages. Each
//! is exported as CSV, NDJSON or Parquet, streamed, pinned to a checkpoint.

pub mod cell;
pub mod concentration;
pub mod datapackage;
pub mod derived;
pub mod encode;
pub mod filter;
pub mod pandas;
pub mod reports;
pub mod rows;
pub mod schema;
pub mod snapshot;
pub mod source;
pub mod summaries;
pub mod table;
#[cfg(test)]
pub(crate) mod testing;
pub mod versions;

use crate::records::RecordKind;
use schema::Field;

/// Where a dataset's rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The filed records of one kind, streamed from the ledger.
    Records(RecordKind),
    /// The ledger entries, streamed.
    Entries,
    /// A table derived from the latest records (small; computed from the projection's summaries).
    Derived(table::Table),
    /// The compliance report (obligations weighed against the ledger's acceptance times).
    Compliance,
    /// Third-party reports about providers, with their answer status.
    Reports,
    /// The providers' answers to reports.
    ReportAnswers,
}

/// A downloadable dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dataset {
    /// URL and file name part.
    pub name: &'static str,
    /// Heading.
    pub title: &'static str,
    /// What it holds.
    pub description: &'static str,
    /// Where the rows come from.
    pub source: Source,
}

impl Dataset {
    /// Its columns, in order.
    pub fn fields(&self) -> Vec<Field> {
        match self.source {
            Source::Records(kind) => {
                let mut fields = schema::entry_columns();
                fields.extend(record_fields(kind));
                fields
            }
            Source::Entries => schema::entries_fields(),
            Source::Derived(table) => table.fields(),
            Source::Compliance => schema::compliance_fields(),
            Source::Reports => schema::report_fields(),
            Source::ReportAnswers => schema::report_answer_fields(),
        }
    }

    /// The file name of this dataset at a tree size.
    pub fn file_name(&self, tree_size: u64, format: Format) -> String {
        format!("gatelog_{}_{tree_size}.{}", self.name, format.extension())
    }
}

pub fn record_fields(kind: RecordKind) -> Vec<Field> {
    match kind {
        RecordKind::QueueTime => schema::queue_time_fields(),
        RecordKind::Acceptance => schema::acceptance_fields(),
        RecordKind::Price => schema::price_fields(),
        RecordKind::Lockup => schema::lockup_fields(),
        RecordKind::Capacity => schema::capacity_fields(),
        RecordKind::Energy => schema::energy_fields(),
    }
}

/// Every dataset, in the order `/data` lists them.
pub const CATALOG: [Dataset; 17] = [
    Dataset {
        name: "queue_times",
        title: "Queue times",
        description: "Wait times per provider, period, resource, region and access tier, as filed.",
        source: Source::Records(RecordKind::QueueTime),
    },
    Dataset {
        name: "acceptance",
        title: "Acceptance",
        description: "Applications received, accepted and rejected per period, track and applicant category, as filed.",
        source: Source::Records(RecordKind::Acceptance),
    },
    Dataset {
        name: "prices",
        title: "Prices",
        description: "Prices per accelerator-hour with the disclosed cost basis, as filed (money exact, as text).",
        source: Source::Records(RecordKind::Price),
    },
    Dataset {
        name: "lockups",
        title: "Lock-ups",
        description: "Exclusive and preferential capacity deals, as filed.",
        source: Source::Records(RecordKind::Lockup),
    },
    Dataset {
        name: "capacity",
        title: "Capacity",
        description: "Installed accelerators and the newcomer set-aside per resource and region, as filed.",
        source: Source::Records(RecordKind::Capacity),
    },
    Dataset {
        name: "energy",
        title: "Energy",
        description: "Energy used and grid carbon intensity (location- and market-based) per site or region and period, as filed.",
        source: Source::Records(RecordKind::Energy),
    },
    Dataset {
        name: "entries",
        title: "Ledger entries",
        description: "Every entry of the ledger: index, provider, kind, time, leaf hash and the exact canonical JSON that was hashed.",
        source: Source::Entries,
    },
    Dataset {
        name: "queue_time_percentiles",
        title: "Queue-time percentiles",
        description: "Median and p90 wait per provider, tier and month (medians across resources and regions), as on the scorecards.",
        source: Source::Derived(table::Table::QueuePercentiles),
    },
    Dataset {
        name: "acceptance_rates",
        title: "Acceptance rates",
        description: "Acceptance per provider and applicant category, with the derived rate, as on the scorecards.",
        source: Source::Derived(table::Table::AcceptanceRates),
    },
    Dataset {
        name: "price_series",
        title: "Price series",
        description: "Monthly median price per provider, resource and pricing model, with the cost basis where disclosed.",
        source: Source::Derived(table::Table::PriceSeries),
    },
    Dataset {
        name: "lockup_shares",
        title: "Lock-up shares",
        description: "Every deal with its share of the provider's capacity at the deal's start.",
        source: Source::Derived(table::Table::LockupShares),
    },
    Dataset {
        name: "buyer_shares",
        title: "Buyer shares",
        description: "Per month and buyer (counterparty names normalised across providers): accelerators held under deals in force on the month's last day and their share of all capacity disclosed by every provider then, as on /counterparties.",
        source: Source::Derived(table::Table::BuyerShares),
    },
    Dataset {
        name: "market_concentration",
        title: "Market concentration",
        description: "Per month: all disclosed capacity, deals in force by exclusivity, buyers, and the Herfindahl–Hirschman index of the buyers' shares.",
        source: Source::Derived(table::Table::MarketConcentration),
    },
    Dataset {
        name: "grades",
        title: "Grades",
        description: "Each provider's grade, score and the six components it was computed from.",
        source: Source::Derived(table::Table::Grades),
    },
    Dataset {
        name: "compliance",
        title: "Compliance report",
        description: "Per provider, obligation and period: filed on time, late (with days), missing or not yet due, and amendments.",
        source: Source::Compliance,
    },
    Dataset {
        name: "reports",
        title: "Reports by others",
        description: "Sourced reports by registered reporters about a provider's lock-ups or prices, with the provider's latest answer or the days left unanswered as of the checkpoint. Reports are not disclosures and are kept out of every figure.",
        source: Source::Reports,
    },
    Dataset {
        name: "report_answers",
        title: "Answers to reports",
        description: "Each provider's answers to reports about it: confirm (naming its own disclosure), dispute (with a statement) or correct (with the corrected fields).",
        source: Source::ReportAnswers,
    },
];

/// The dataset called `name`.
pub fn find(name: &str) -> Option<Dataset> {
    CATALOG.iter().find(|d| d.name == name).copied()
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV, UTF-8, header row.
    Csv,
    /// One JSON object per line.
    Ndjson,
    /// Apache Parquet with typed columns.
    Parquet,
}

impl Format {
    /// Every format.
    pub const ALL: [Self; 3] = [Self::Csv, Self::Ndjson, Self::Parquet];

    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
            Self::Parquet => "parquet",
        }
    }

    /// HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8; header=present",
            Self::Ndjson => "application/x-ndjson",
            Self::Parquet => "application/vnd.apache.parquet",
        }
    }

    /// The format with extension `ext`.
    pub fn from_extension(ext: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.extension() == ext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_file_names_carry_the_tree_size() {
        let mut names: Vec<&str> = CATALOG.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len());
        let prices = find("prices").expect("prices");
        assert_eq!(prices.file_name(4715, Format::Csv), "gatelog_prices_4715.csv");
        assert_eq!(Format::from_extension("parquet"), Some(Format::Parquet));
        assert_eq!(Format::from_extension("xlsx"), None);
    }

    /// Every field a record can carry has a column, and every column is a field a record can carry.
    #[test]
    fn record_columns_match_what_records_hold() {
        for example in crate::records::kinds::examples() {
            let record = crate::records::Record::parse(example.clone()).expect("example parses");
            let kind = record.kind();
            let json = record.to_json();
            let columns: Vec<&str> = record_fields(kind).iter().map(|f| f.name).collect();
            for key in json.as_object().expect("object").keys().filter(|k| *k != "kind") {
                assert!(columns.contains(&key.as_str()), "{} has no column for {key}", kind.as_str());
            }
        }
        for kind in RecordKind::OPTIONS.iter().map(|(_, k)| *k) {
            let columns: Vec<&str> = record_fields(kind).iter().map(|f| f.name).collect();
            let full = crate::records::kinds::examples()
                .into_iter()
                .filter_map(|e| crate::records::Record::parse(e).ok())
                .filter(|r| r.kind() == kind)
                .flat_map(|r| {
                    r.to_json().as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()
                })
                .collect::<std::collections::BTreeSet<_>>();
            for column in columns {
                assert!(full.contains(column), "{}: column {column} never appears in the examples", kind.as_str());
            }
        }
    }
}
