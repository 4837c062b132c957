//! Column definitions of every dataset: name, type, description, unit,
//! constraints and enum values. One source for the exports' headers and types,
//! the data dictionary page and the Frictionless `datapackage.json`.

use crate::records::domain::{self, Amount, Count, Lines};
use crate::records::kinds::{ApplicantCategory, Exclusivity, PricingModel, Tier, Track};

/// The values a reported field may take, from [`crate::records::domain`]: what the
/// record parser enforces, printed in the dictionary, `datapackage.json` and OpenAPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// A whole number in a range.
    Count(Count),
    /// A decimal in a range, with at most so many places.
    Amount(Amount),
    /// A date in [`domain::DATES`].
    Date,
    /// Text of at most so many characters, on one line or several.
    Text(usize, Lines),
}

impl Domain {
    /// The rule in words, for the data dictionary.
    pub fn describe(&self) -> String {
        match self {
            Self::Count(c) => format!("A whole number from {} to {}.", c.min, c.max),
            Self::Amount(a) => {
                format!("A decimal from {} to {}, with at most {} digits after the point.", a.min, a.max, a.max_places)
            }
            Self::Date => format!("A date from {} to {}.", domain::DATES.start(), domain::DATES.end()),
            Self::Text(max, Lines::One) => {
                format!("At most {max} characters on one line; no control or invisible formatting characters.")
            }
            Self::Text(max, Lines::Many) => format!(
                "At most {max} characters; line breaks allowed, no other control or invisible formatting characters."
            ),
        }
    }
}

/// A column's type, as Table Schema names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Text.
    String,
    /// Whole number.
    Integer,
    /// Floating-point number (derived figures only; reported money is never a float).
    Number,
    /// Exact decimal, written as text in CSV so spreadsheets do not round it.
    Decimal,
    /// Calendar date, ISO 8601.
    Date,
    /// Instant, RFC 3339 UTC.
    DateTime,
    /// `true` or `false`.
    Boolean,
}

/// Decimal columns in Parquet: 38 digits, 12 after the point (money and fractions fit exactly).
pub const DECIMAL_PRECISION: usize = 38;
/// Digits after the point of Parquet decimals.
pub const DECIMAL_SCALE: u32 = 12;

impl FieldType {
    /// The Table Schema type name (decimals are `number` there, with `decimalChar`).
    pub fn table_schema(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number | Self::Decimal => "number",
            Self::Date => "date",
            Self::DateTime => "datetime",
            Self::Boolean => "boolean",
        }
    }

    /// How the data dictionary names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::String => "text",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Decimal => "exact decimal",
            Self::Date => "date (YYYY-MM-DD)",
            Self::DateTime => "date-time (UTC)",
            Self::Boolean => "true or false",
        }
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Column name.
    pub name: &'static str,
    pub kind: FieldType,
    /// What it means.
    pub description: &'static str,
    /// Unit, if it has one.
    pub unit: Option<&'static str>,
    /// Whether every row has a value.
    pub required: bool,
    /// Smallest allowed value, for numbers.
    pub minimum: Option<i64>,
    /// Allowed values, for enumerations.
    pub choices: Vec<&'static str>,
    /// The domain of a reported field (range, precision, length).
    pub domain: Option<Domain>,
}

impl Field {
    fn new(name: &'static str, kind: FieldType, description: &'static str) -> Self {
        Self { name, kind, description, unit: None, required: true, minimum: None, choices: Vec::new(), domain: None }
    }

    fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    fn unit(mut self, unit: &'static str) -> Self {
        self.unit = Some(unit);
        self
    }

    fn min(mut self, minimum: i64) -> Self {
        self.minimum = Some(minimum);
        self
    }

    fn count(mut self, count: Count) -> Self {
        self.minimum = i64::try_from(count.min).ok();
        self.domain = Some(Domain::Count(count));
        self
    }

    fn amount(mut self, amount: Amount) -> Self {
        self.domain = Some(Domain::Amount(amount));
        self
    }

    fn dated(mut self) -> Self {
        self.domain = Some(Domain::Date);
        self
    }

    fn text(mut self, max: usize, lines: Lines) -> Self {
        self.domain = Some(Domain::Text(max, lines));
        self
    }

    fn choices<T>(mut self, options: &[(&'static str, T)]) -> Self {
        self.choices = options.iter().map(|(name, _)| *name).collect();
        self
    }
}

use FieldType::{Boolean, Date, DateTime, Decimal, Integer, Number, String as Text};

/// Columns every record dataset starts with: where the record sits in the ledger.
pub fn entry_columns() -> Vec<Field> {
    vec![
        Field::new("entry_index", Integer, "Index of the ledger entry holding this record version.").min(0),
        Field::new("provider", Text, "Slug of the provider that filed it."),
        Field::new("received_at", DateTime, "When the ledger accepted it."),
        Field::new("supersedes", Integer, "Entry index of the version this one amends.").optional().min(0),
        Field::new(
            "superseded_by",
            Integer,
            "Entry index of the version that amends this one (only with include_superseded=true).",
        )
        .optional()
        .min(0),
    ]
}

fn resource() -> Field {
    Field::new("resource", Text, "Accelerator type, e.g. nvidia-h100-80gb.")
}

fn region() -> Field {
    Field::new("region", Text, "Region, e.g. eu-de.")
}

fn period() -> [Field; 2] {
    [
        Field::new("period_start", Date, "First day of the period.").dated(),
        Field::new("period_end", Date, "Day after the last day of the period (1 to 92 days after the start).").dated(),
    ]
}

/// Fields of a queue-time record.
pub fn queue_time_fields() -> Vec<Field> {
    let mut fields = period().to_vec();
    fields.extend([
        resource(),
        region(),
        Field::new("tier", Text, "Access tier the jobs queued in.").choices(Tier::OPTIONS),
        Field::new("jobs", Integer, "Jobs started in the period.").count(domain::JOBS),
        Field::new("p50_seconds", Integer, "Median wait from submission to start.")
            .unit("seconds")
            .count(domain::WAIT_SECONDS),
        Field::new("p90_seconds", Integer, "90th percentile wait (at least p50).")
            .unit("seconds")
            .count(domain::WAIT_SECONDS),
        Field::new("p99_seconds", Integer, "99th percentile wait (at least p90).")
            .unit("seconds")
            .count(domain::WAIT_SECONDS),
        Field::new("mean_seconds", Integer, "Mean wait.").unit("seconds").optional().count(domain::WAIT_SECONDS),
        Field::new("max_seconds", Integer, "Longest wait (at least p99).")
            .unit("seconds")
            .optional()
            .count(domain::WAIT_SECONDS),
    ]);
    fields
}

/// Fields of an acceptance record.
pub fn acceptance_fields() -> Vec<Field> {
    let mut fields = period().to_vec();
    fields.extend([
        Field::new("track", Text, "Access programme applied to.").choices(Track::OPTIONS),
        Field::new("applicant_category", Text, "Who applied.").choices(ApplicantCategory::OPTIONS),
        Field::new("received", Integer, "Applications received.").unit("applications").count(domain::APPLICATIONS),
        Field::new("accepted", Integer, "Applications accepted (accepted + rejected ≤ received).")
            .unit("applications")
            .count(domain::APPLICATIONS),
        Field::new("rejected", Integer, "Applications rejected.").unit("applications").count(domain::APPLICATIONS),
        Field::new("accelerator_hours_requested", Integer, "Accelerator-hours requested.")
            .unit("accelerator-hours")
            .optional()
            .count(domain::ACCELERATOR_HOURS),
        Field::new("accelerator_hours_granted", Integer, "Accelerator-hours granted.")
            .unit("accelerator-hours")
            .optional()
            .count(domain::ACCELERATOR_HOURS),
    ]);
    fields
}

/// Fields of a price record.
pub fn price_fields() -> Vec<Field> {
    vec![
        Field::new("effective_date", Date, "Date from which the price applies.").dated(),
        resource(),
        region(),
        Field::new("pricing_model", Text, "How the capacity is priced.").choices(PricingModel::OPTIONS),
        Field::new("price_per_accelerator_hour", Decimal, "Price of one accelerator for one hour, exactly as filed.")
            .unit("currency per accelerator-hour")
            .amount(domain::PRICE_PER_HOUR),
        Field::new("currency", Text, "ISO 4217 currency of both amounts."),
        Field::new("cost_basis_per_accelerator_hour", Decimal, "Disclosed cost of one accelerator-hour.")
            .unit("currency per accelerator-hour")
            .optional()
            .amount(domain::PRICE_PER_HOUR),
    ]
}

/// Fields of a lock-up record.
pub fn lockup_fields() -> Vec<Field> {
    vec![
        Field::new("counterparty", Text, "Who gets the capacity.")
            .text(crate::records::kinds::MAX_COUNTERPARTY, Lines::One),
        resource(),
        region(),
        Field::new("accelerators", Integer, "Accelerators locked up.")
            .unit("accelerators")
            .count(domain::LOCKED_ACCELERATORS),
        Field::new("start_date", Date, "First day of the deal.").dated(),
        Field::new("end_date", Date, "Day after the last day of the deal, if it ends.").optional().dated(),
        Field::new("exclusivity", Text, "How exclusive the deal is.").choices(Exclusivity::OPTIONS),
        Field::new("contract_value", Decimal, "Contract value, if disclosed.")
            .unit("contract_currency")
            .optional()
            .amount(domain::CONTRACT_VALUE),
        Field::new("contract_currency", Text, "ISO 4217 currency of the contract value.").optional(),
        Field::new("source_url", Text, "Where the deal was reported (http or https).")
            .optional()
            .text(crate::records::kinds::MAX_URL, Lines::One),
        Field::new("notes", Text, "Free-text notes.").optional().text(crate::records::kinds::MAX_NOTES, Lines::Many),
        Field::new("disclosure_date", Date, "When the provider disclosed the deal.").dated(),
    ]
}

/// Fields of a capacity record.
pub fn capacity_fields() -> Vec<Field> {
    vec![
        Field::new("as_of", Date, "Date the figures describe.").dated(),
        resource(),
        region(),
        Field::new("total_accelerators", Integer, "Accelerators installed.")
            .unit("accelerators")
            .count(domain::ACCELERATORS),
        Field::new("newcomer_set_aside", Integer, "Accelerators reserved for newcomers (≤ total).")
            .unit("accelerators")
            .count(domain::ACCELERATORS),
        Field::new("utilisation", Decimal, "Average utilisation, 0 to 1.")
            .unit("fraction")
            .optional()
            .amount(domain::FRACTION),
    ]
}

/// Columns of the energy dataset.
pub fn energy_fields() -> Vec<Field> {
    let mut fields = period().to_vec();
    fields.extend([
        region(),
        Field::new("site", Text, "Site within the region, when the provider reports per site.").optional(),
        Field::new("energy_mwh", Decimal, "Energy used in the period by the whole facility, cooling included.")
            .unit("MWh")
            .amount(domain::ENERGY_MWH),
        Field::new(
            "grid_intensity_location_gco2e_per_kwh",
            Decimal,
            "Location-based carbon intensity of the grid that supplied it: the grid's average.",
        )
        .unit("gCO2e/kWh")
        .amount(domain::GRID_INTENSITY),
        Field::new(
            "grid_intensity_market_gco2e_per_kwh",
            Decimal,
            "Market-based carbon intensity, counting the provider's energy contracts, where it has them.",
        )
        .unit("gCO2e/kWh")
        .optional()
        .amount(domain::GRID_INTENSITY),
        Field::new("renewable_share", Decimal, "Share of the energy from renewable sources, 0 to 1.")
            .unit("fraction")
            .amount(domain::FRACTION),
        Field::new("pue", Decimal, "Power usage effectiveness: facility energy divided by IT energy.")
            .unit("ratio")
            .optional()
            .amount(domain::PUE),
    ]);
    fields
}

/// Columns of the entries dataset.
pub fn entries_fields() -> Vec<Field> {
    let mut kind = Field::new("kind", Text, "Record kind: a provider's own, or a third-party report or its answer.")
        .choices(crate::records::RecordKind::OPTIONS);
    kind.choices.extend([crate::records::reports::REPORT, crate::records::reports::ANSWER]);
    vec![
        Field::new("entry_index", Integer, "Position in the log, from 0.").min(0),
        Field::new("provider", Text, "Slug of the provider that filed it (of the reporter, for a report)."),
        kind,
        Field::new("received_at", DateTime, "When the ledger accepted it."),
        Field::new("supersedes", Integer, "Entry index this entry amends.").optional().min(0),
        Field::new("leaf_hash", Text, "RFC 6962 leaf hash: SHA-256 of 0x00 then the entry bytes, hex."),
        Field::new("entry", Text, "The entry's canonical JSON (RFC 8785), exactly the hashed bytes."),
        Field::new(
            "provider_signed",
            Boolean,
            "Whether the provider signed the record with its own registered key (the signature and key are in \
             the entry's `signature`); false: submitted with the provider's API token only.",
        ),
    ]
}

/// Columns of the queue-time percentiles table.
pub fn queue_percentile_fields() -> Vec<Field> {
    vec![
        Field::new("provider", Text, "Provider slug."),
        Field::new("tier", Text, "Access tier.").choices(Tier::OPTIONS),
        Field::new("month", Date, "First day of the month."),
        Field::new("p50_seconds", Number, "Median across resources and regions of the reported median waits.")
            .unit("seconds"),
        Field::new("p90_seconds", Number, "Median across resources and regions of the reported p90 waits.")
            .unit("seconds"),
        Field::new("jobs", Integer, "Jobs, summed.").min(0),
    ]
}

/// Columns of the acceptance-rates table.
pub fn acceptance_rate_fields() -> Vec<Field> {
    vec![
        Field::new("provider", Text, "Provider slug."),
        Field::new("applicant_category", Text, "Who applied.").choices(ApplicantCategory::OPTIONS),
        Field::new("received", Integer, "Applications received, all tracks and periods.").min(0),
        Field::new("accepted", Integer, "Applications accepted.").min(0),
        Field::new("rejected", Integer, "Applications rejected.").min(0),
        Field::new("acceptance_rate", Number, "accepted ÷ (accepted + rejected); empty when nothing was decided.")
            .unit("fraction")
            .optional(),
    ]
}

/// Columns of the price-series table.
pub fn price_series_fields() -> Vec<Field> {
    vec![
        Field::new("provider", Text, "Provider slug."),
        Field::new("series", Text, "Resource and pricing model."),
        Field::new("currency", Text, "ISO 4217 currency."),
        Field::new("month", Date, "First day of the month."),
        Field::new("price", Number, "Median price per accelerator-hour across regions that month.")
            .unit("currency per accelerator-hour"),
        Field::new("cost_basis", Number, "Median disclosed cost basis, if any was disclosed.")
            .unit("currency per accelerator-hour")
            .optional(),
    ]
}

/// Columns of the lock-up shares table.
pub fn lockup_share_fields() -> Vec<Field> {
    vec![
        Field::new("provider", Text, "Provider slug."),
        Field::new("counterparty", Text, "Who gets the capacity."),
        Field::new("resource", Text, "Accelerator type."),
        Field::new("region", Text, "Region."),
        Field::new("accelerators", Integer, "Accelerators locked up.").unit("accelerators").min(1),
        Field::new("start_date", Date, "First day of the deal."),
        Field::new("end_date", Date, "Day after the last day, if it ends.").optional(),
        Field::new("exclusivity", Text, "How exclusive the deal is.").choices(Exclusivity::OPTIONS),
        Field::new(
            "capacity_share",
            Number,
            "Accelerators ÷ the provider's capacity filed on or before the start date; empty if none was filed.",
        )
        .unit("fraction")
        .optional(),
    ]
}

/// Columns of the buyer shares table.
pub fn buyer_share_fields() -> Vec<Field> {
    vec![
        Field::new("month", Date, "First day of the month; figures are as on its last day."),
        Field::new(
            "counterparty",
            Text,
            "The buyer's normalised name (lower case, legal form dropped): one buyer across providers and spellings.",
        ),
        Field::new("slug", Text, "The buyer's page: /counterparties/{slug}."),
        Field::new("name", Text, "The name most of its deals were filed under."),
        Field::new(
            "accelerators",
            Integer,
            "Accelerators its deals in force hold (start ≤ day < end), at providers that have filed capacity by then.",
        )
        .unit("accelerators")
        .min(1),
        Field::new(
            "disclosed_capacity",
            Integer,
            "All capacity disclosed then: every provider's latest capacity filing on or before the day, summed.",
        )
        .unit("accelerators")
        .min(0),
        Field::new("share", Number, "accelerators ÷ disclosed_capacity; empty when nothing was disclosed.")
            .unit("fraction")
            .optional(),
    ]
}

/// Columns of the market concentration table.
pub fn market_concentration_fields() -> Vec<Field> {
    vec![
        Field::new("month", Date, "First day of the month; figures are as on its last day."),
        Field::new("disclosed_capacity", Integer, "Every provider's latest capacity filing on or before the month's last day, summed.").unit("accelerators").min(0),
        Field::new("providers", Integer, "Providers that had filed capacity by then.").min(0),
        Field::new("exclusive_accelerators", Integer, "Accelerators held under exclusive deals in force.").unit("accelerators").min(0),
        Field::new("priority_accelerators", Integer, "Accelerators held under priority deals in force.").unit("accelerators").min(0),
        Field::new("right_of_first_refusal_accelerators", Integer, "Accelerators held under rights of first refusal in force.").unit("accelerators").min(0),
        Field::new("buyers", Integer, "Buyers holding capacity under deals in force.").min(0),
        Field::new("hhi", Number, "Herfindahl–Hirschman index: the sum of the buyers' squared percentage shares of disclosed capacity (0 to 10,000); empty when nothing was disclosed.").unit("points").optional(),
    ]
}

/// Columns of the grades table.
pub fn grade_fields() -> Vec<Field> {
    vec![
        Field::new("provider", Text, "Provider slug."),
        Field::new("grade", Text, "Letter: A ≥ 80, B ≥ 65, C ≥ 50, D ≥ 35, F below.").choices(&[
            ("A", ()),
            ("B", ()),
            ("C", ()),
            ("D", ()),
            ("F", ()),
        ]),
        Field::new("score", Number, "Weighted score, 0 to 100.").unit("points"),
        Field::new("component", Text, "Graded component."),
        Field::new("weight", Number, "Weight of the component.").unit("points"),
        Field::new("value", Number, "Component value, 0 to 1.").unit("fraction"),
        Field::new("detail", Text, "The figures the value was computed from."),
        Field::new("methodology", Integer, "Methodology version the grade was computed with (see /methodology).")
            .min(1),
    ]
}

/// Columns of the compliance report.
pub fn compliance_fields() -> Vec<Field> {
    vec![
        Field::new("provider", Text, "Provider slug."),
        Field::new("kind", Text, "What must be filed (lock-ups are filed per deal, not per period).").choices(&[
            ("queue_time", ()),
            ("acceptance", ()),
            ("price", ()),
            ("capacity", ()),
        ]),
        Field::new("cadence", Text, "How often.").choices(&crate::analytics::compliance::Cadence::OPTIONS),
        Field::new("period_start", Date, "First day of the period."),
        Field::new("period_last_day", Date, "Last day of the period."),
        Field::new("deadline", Date, "Last day on which filing is on time."),
        Field::new("status", Text, "How the period was filed, as of the checkpoint.").choices(&[
            ("on_time", ()),
            ("late", ()),
            ("missing", ()),
            ("not_yet_due", ()),
        ]),
        Field::new("days_late", Integer, "Days after the deadline the first filing was accepted.")
            .unit("days")
            .optional()
            .min(1),
        Field::new("first_filed", DateTime, "When the ledger accepted the period's first filing.").optional(),
        Field::new("filings", Integer, "Original filings for the period.").min(0),
        Field::new("amendments", Integer, "Amendments of the period's filings.").min(0),
        Field::new("last_amended", DateTime, "When the latest amendment was accepted.").optional(),
    ]
}

/// How an unanswered report's status reads.
pub const UNANSWERED: &str = "unanswered";

/// Columns of the reports dataset (one row per report entry, amended ones included).
pub fn report_fields() -> Vec<Field> {
    use crate::records::reports::{self, ReportedKind};
    let mut status = Field::new(
        "answer_status",
        Text,
        "The provider's latest answer as of the checkpoint: confirm, dispute, correct, or unanswered.",
    )
    .choices(reports::Response::OPTIONS);
    status.choices.push(UNANSWERED);
    vec![
        Field::new("entry_index", Integer, "Index of the ledger entry holding the report.").min(0),
        Field::new("reporter", Text, "Slug of the reporter that filed it."),
        Field::new("about", Text, "Slug of the provider it is about."),
        Field::new("reported_kind", Text, "What it reports.").choices(ReportedKind::OPTIONS),
        Field::new("published_date", Date, "When the source was published.").dated(),
        Field::new("received_at", DateTime, "When the ledger accepted it."),
        Field::new("first_source", Text, "The first source URL."),
        Field::new("source_count", Integer, "How many source URLs it cites (1 to 5).").min(1),
        Field::new("sources", Text, "Every source URL, separated by single spaces."),
        Field::new("quotation", Text, "A short quotation from the source, or a note on it.")
            .text(reports::MAX_QUOTATION, Lines::Many),
        Field::new("fields", Text, "The fields of the reported kind it gives, as a JSON object.").optional(),
        Field::new("supersedes", Integer, "Entry index of the report this one amends.").optional().min(0),
        status,
        Field::new("answer_entry", Integer, "Entry index of the latest answer.").optional().min(0),
        Field::new(
            "days_unanswered",
            Integer,
            "Whole days from its acceptance to the checkpoint, if it has no answer.",
        )
        .optional()
        .min(0),
    ]
}

/// Columns of the report answers dataset (one row per answer entry; a later answer to the
/// same report supersedes an earlier one).
pub fn report_answer_fields() -> Vec<Field> {
    use crate::records::reports::{self, Response};
    vec![
        Field::new("entry_index", Integer, "Index of the ledger entry holding the answer.").min(0),
        Field::new("report_index", Integer, "Entry index of the report it answers.").min(0),
        Field::new("provider", Text, "Slug of the provider answering (the one the report is about)."),
        Field::new("received_at", DateTime, "When the ledger accepted it."),
        Field::new("response", Text, "Confirm (disclosed in its own entry), dispute, or correct.")
            .choices(Response::OPTIONS),
        Field::new("disclosure_entry", Integer, "For a confirmation: the provider's own entry disclosing it.")
            .optional()
            .min(0),
        Field::new("statement", Text, "The provider's statement (required to dispute).")
            .optional()
            .text(reports::MAX_STATEMENT, Lines::Many),
        Field::new("corrections", Text, "For a correction: the corrected fields, as a JSON object.").optional(),
    ]
}

#[cfg(test)]
mod tests {
    /// Reports and answers are entries too: an entries column that left them out made every
    /// snapshot with one fail Frictionless validation.
    #[test]
    fn the_entries_kind_column_allows_every_kind_the_ledger_accepts() {
        let fields = super::entries_fields();
        let kind = fields.iter().find(|f| f.name == "kind").expect("kind");
        for (name, _) in crate::records::RecordKind::OPTIONS {
            assert!(kind.choices.contains(name), "{name}");
        }
        for name in [crate::records::reports::REPORT, crate::records::reports::ANSWER] {
            assert!(kind.choices.contains(&name), "{name}");
        }
    }
}
