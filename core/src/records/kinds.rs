//! The record kinds of v1 (see PRODUCT.md, "What providers report"): their
//! fields, rules and natural keys. Each is parsed from a JSON object (or a CSV
//! row turned into one) by [`Record::parse`], which reports every bad field.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::Slug;
use super::currency::is_currency;
use super::domain::{self, Lines};
use super::fields::{FieldError, Fields};

/// Shortest and longest reporting period, in days (`[start, end)`).
pub const PERIOD_DAYS: std::ops::RangeInclusive<i64> = 1..=92;
/// Longest counterparty name.
pub const MAX_COUNTERPARTY: usize = 200;
/// Longest lock-up notes.
pub const MAX_NOTES: usize = 2_000;
/// Longest source URL.
pub const MAX_URL: usize = 2_000;

macro_rules! choices {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
        pub enum $name { $($(#[$vdoc])* #[doc = concat!("`", $text, "`")] #[serde(rename = $text)] $variant),+ }

        impl $name {
            /// Every value with its name, as written in records.
            pub const OPTIONS: &'static [(&'static str, $name)] = &[$(($text, $name::$variant)),+];

            /// The name written in records.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
    };
}

choices!(
    /// How a job got its place in the queue.
    Tier { OnDemand = "on_demand", Spot = "spot", Reserved = "reserved", Allocation = "allocation", Newcomer = "newcomer" }
);
choices!(
    /// The access programme an application went to.
    Track { General = "general", NewcomerSetAside = "newcomer_set_aside", Research = "research", Startup = "startup", Civic = "civic" }
);
choices!(
    /// Who applied.
    ApplicantCategory {
        Student = "student", Academic = "academic", Civic = "civic", FirstTimeFounder = "first_time_founder",
        Startup = "startup", Enterprise = "enterprise", Other = "other",
    }
);
choices!(
    /// How capacity is priced.
    PricingModel { OnDemand = "on_demand", Spot = "spot", Reserved1y = "reserved_1y", Reserved3y = "reserved_3y", Newcomer = "newcomer" }
);
choices!(
    /// How exclusive a capacity deal is.
    Exclusivity { Exclusive = "exclusive", Priority = "priority", RightOfFirstRefusal = "right_of_first_refusal" }
);
choices!(
    RecordKind {
        QueueTime = "queue_time", Acceptance = "acceptance", Price = "price", Lockup = "lockup", Capacity = "capacity",
        Energy = "energy",
    }
);

/// Wait times for one period, resource, region and tier.
/// Natural key: (period_start, period_end, resource, region, tier).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueTime {
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Day after the last day of the period.
    pub period_end: NaiveDate,
    /// Accelerator type, e.g. `nvidia-h100-80gb`.
    #[schema(value_type = String, example = "nvidia-h100-80gb")]
    pub resource: Slug,
    /// Region, e.g. `eu-de`.
    #[schema(value_type = String, example = "eu-de")]
    pub region: Slug,
    /// Access tier.
    pub tier: Tier,
    /// Jobs started in the period (at least 1).
    pub jobs: u64,
    /// Median wait, seconds.
    pub p50_seconds: u64,
    /// 90th percentile wait, seconds.
    pub p90_seconds: u64,
    /// 99th percentile wait, seconds.
    pub p99_seconds: u64,
    /// Mean wait, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_seconds: Option<u64>,
    /// Longest wait, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_seconds: Option<u64>,
}

/// Applications and outcomes for one period, track and applicant category.
/// Natural key: (period_start, period_end, track, applicant_category). Rates are derived, never reported.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Acceptance {
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Day after the last day of the period.
    pub period_end: NaiveDate,
    /// Access track.
    pub track: Track,
    /// Applicant category.
    pub applicant_category: ApplicantCategory,
    /// Applications received.
    pub received: u64,
    /// Applications accepted.
    pub accepted: u64,
    /// Applications rejected.
    pub rejected: u64,
    /// Accelerator-hours requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accelerator_hours_requested: Option<u64>,
    /// Accelerator-hours granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accelerator_hours_granted: Option<u64>,
}

/// A price from an effective date. Natural key: (effective_date, resource, region, pricing_model).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Price {
    /// Date from which the price applies.
    pub effective_date: NaiveDate,
    /// Accelerator type.
    #[schema(value_type = String, example = "nvidia-h100-80gb")]
    pub resource: Slug,
    /// Region.
    #[schema(value_type = String, example = "eu-de")]
    pub region: Slug,
    /// Pricing model.
    pub pricing_model: PricingModel,
    /// Price per accelerator-hour (decimal).
    pub price_per_accelerator_hour: Decimal,
    /// ISO 4217 currency of both amounts.
    pub currency: String,
    /// Disclosed cost basis per accelerator-hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_basis_per_accelerator_hour: Option<Decimal>,
}

/// An exclusive or preferential capacity deal.
/// Natural key: (counterparty, resource, region, start_date).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Lockup {
    /// Who gets the capacity.
    pub counterparty: String,
    /// Accelerator type.
    #[schema(value_type = String, example = "nvidia-h100-80gb")]
    pub resource: Slug,
    /// Region.
    #[schema(value_type = String, example = "eu-de")]
    pub region: Slug,
    /// Accelerators locked up.
    pub accelerators: u64,
    /// First day of the deal.
    pub start_date: NaiveDate,
    /// Day after the last day, if it ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
    /// How exclusive it is.
    pub exclusivity: Exclusivity,
    /// Contract value (decimal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_value: Option<Decimal>,
    /// Currency of the contract value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_currency: Option<String>,
    /// Where the deal was reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// Free-text notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// When the provider disclosed it.
    pub disclosure_date: NaiveDate,
}

/// Installed capacity as of a date. Natural key: (as_of, resource, region).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Capacity {
    /// Date the figures describe.
    pub as_of: NaiveDate,
    /// Accelerator type.
    #[schema(value_type = String, example = "nvidia-h100-80gb")]
    pub resource: Slug,
    /// Region.
    #[schema(value_type = String, example = "eu-de")]
    pub region: Slug,
    /// Accelerators installed.
    pub total_accelerators: u64,
    /// Accelerators reserved for newcomers (≤ total).
    pub newcomer_set_aside: u64,
    /// Average utilisation, 0..=1 (decimal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilisation: Option<Decimal>,
}

/// Energy used at one site or region over one period, and the carbon intensity of the
/// grid that supplied it. Natural key: (period_start, period_end, region, site).
/// Emissions and carbon per accelerator-hour are derived, never reported.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Energy {
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Day after the last day of the period.
    pub period_end: NaiveDate,
    /// Region, e.g. `eu-de`.
    #[schema(value_type = String, example = "eu-de")]
    pub region: Slug,
    /// Site within the region, when the provider reports per site.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "frankfurt-1")]
    pub site: Option<Slug>,
    /// Energy used in the period, MWh (decimal; the whole facility, cooling included).
    pub energy_mwh: Decimal,
    /// Location-based grid carbon intensity, gCO2e/kWh (decimal): the grid's average.
    pub grid_intensity_location_gco2e_per_kwh: Decimal,
    /// Market-based grid carbon intensity, gCO2e/kWh (decimal), where the provider has contracts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid_intensity_market_gco2e_per_kwh: Option<Decimal>,
    /// Share of the energy from renewable sources, 0..=1 (decimal).
    pub renewable_share: Decimal,
    /// Power usage effectiveness, facility energy / IT energy, 1..=3 (decimal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pue: Option<Decimal>,
}

/// Why a stored record no longer decodes (see [`Record::from_entry`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable under today's rules: {reason}")]
pub struct Unreadable {
    /// Every field that fails, with why.
    pub reason: String,
}

/// A validated record of any kind. (Decimals serialise as strings: the crate's `serde-str` feature.)
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Queue times.
    QueueTime(QueueTime),
    /// Acceptance counts.
    Acceptance(Acceptance),
    Price(Price),
    /// A lock-up deal.
    Lockup(Lockup),
    Capacity(Capacity),
    /// Energy and grid carbon intensity.
    Energy(Energy),
}

impl Record {
    pub fn kind(&self) -> RecordKind {
        match self {
            Self::QueueTime(_) => RecordKind::QueueTime,
            Self::Acceptance(_) => RecordKind::Acceptance,
            Self::Price(_) => RecordKind::Price,
            Self::Lockup(_) => RecordKind::Lockup,
            Self::Capacity(_) => RecordKind::Capacity,
            Self::Energy(_) => RecordKind::Energy,
        }
    }

    /// What the record is about, within its provider and kind; a later record with
    /// the same key amends this one. Fields joined by `|` (no field can contain one
    /// except a counterparty, whose `|` are doubled).
    pub fn natural_key(&self) -> String {
        match self {
            Self::QueueTime(r) => {
                format!("{}|{}|{}|{}|{}", r.period_start, r.period_end, r.resource, r.region, r.tier.as_str())
            }
            Self::Acceptance(r) => {
                format!("{}|{}|{}|{}", r.period_start, r.period_end, r.track.as_str(), r.applicant_category.as_str())
            }
            Self::Price(r) => format!("{}|{}|{}|{}", r.effective_date, r.resource, r.region, r.pricing_model.as_str()),
            Self::Lockup(r) => {
                format!("{}|{}|{}|{}", r.counterparty.replace('|', "||"), r.resource, r.region, r.start_date)
            }
            Self::Capacity(r) => format!("{}|{}|{}", r.as_of, r.resource, r.region),
            Self::Energy(r) => {
                format!("{}|{}|{}|{}", r.period_start, r.period_end, r.region, r.site.as_ref().map_or("", Slug::as_str))
            }
        }
    }

    /// The record as it goes into a ledger entry (without `kind`, which the entry carries).
    pub fn to_json(&self) -> Value {
        let value = match self {
            Self::QueueTime(r) => serde_json::to_value(r),
            Self::Acceptance(r) => serde_json::to_value(r),
            Self::Price(r) => serde_json::to_value(r),
            Self::Lockup(r) => serde_json::to_value(r),
            Self::Capacity(r) => serde_json::to_value(r),
            Self::Energy(r) => serde_json::to_value(r),
        };
        value.unwrap_or(Value::Null)
    }

    /// The record as a client sends it: its fields and `kind`.
    pub fn to_submission(&self) -> Value {
        let mut value = self.to_json();
        if let Value::Object(map) = &mut value {
            map.insert("kind".into(), Value::String(self.kind().as_str().to_owned()));
        }
        value
    }

    /// Parses a JSON object carrying `kind` and the kind's fields.
    pub fn parse(value: Value) -> Result<Self, Vec<FieldError>> {
        let Value::Object(mut map) = value else {
            return Err(vec![FieldError { field: String::new(), reason: "a record must be a JSON object".into() }]);
        };
        let kind = match map.remove("kind") {
            Some(Value::String(kind)) => kind,
            Some(_) => return Err(vec![FieldError { field: "kind".into(), reason: "must be a string".into() }]),
            None => return Err(vec![FieldError { field: "kind".into(), reason: "is required".into() }]),
        };
        let Some(kind) = RecordKind::OPTIONS.iter().find(|(name, _)| *name == kind).map(|(_, k)| *k) else {
            let names: Vec<&str> = RecordKind::OPTIONS.iter().map(|(name, _)| *name).collect();
            return Err(vec![FieldError {
                field: "kind".into(),
                reason: format!("must be one of {}, got {kind:?}", names.join(", ")),
            }]);
        };
        Self::parse_kind(kind, map)
    }

    /// Decodes the record of a stored ledger entry under today's rules. The one way
    /// every reader (pages, datasets, re-derivation, the duplicate check) turns an
    /// entry back into a record: an entry that fails here (written under older rules,
    /// or out of today's domain) is unreadable, counted and named as such, and left
    /// out of every figure, never guessed at.
    pub fn from_entry(kind: &str, record: Value) -> Result<Self, Unreadable> {
        let unreadable = |reason: String| Unreadable { reason };
        let kind = RecordKind::OPTIONS
            .iter()
            .find(|(name, _)| *name == kind)
            .map(|(_, k)| *k)
            .ok_or_else(|| unreadable(format!("unknown kind {kind:?}")))?;
        let Value::Object(map) = record else {
            return Err(unreadable("the record is not a JSON object".into()));
        };
        Self::parse_kind(kind, map).map_err(|errors| {
            unreadable(
                errors
                    .iter()
                    .map(|e| if e.field.is_empty() { e.reason.clone() } else { format!("{}: {}", e.field, e.reason) })
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }

    /// Parses the fields of a record of a known kind (a CSV row, say).
    pub fn parse_kind(kind: RecordKind, map: Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(map);
        let record = match kind {
            RecordKind::QueueTime => parse_queue_time(&mut f).map(Self::QueueTime),
            RecordKind::Acceptance => parse_acceptance(&mut f).map(Self::Acceptance),
            RecordKind::Price => parse_price(&mut f).map(Self::Price),
            RecordKind::Lockup => parse_lockup(&mut f).map(Self::Lockup),
            RecordKind::Capacity => parse_capacity(&mut f).map(Self::Capacity),
            RecordKind::Energy => parse_energy(&mut f).map(Self::Energy),
        };
        let errors = f.finish();
        match record {
            Some(record) if errors.is_empty() => Ok(record),
            _ if errors.is_empty() => Err(vec![FieldError { field: String::new(), reason: "invalid record".into() }]),
            _ => Err(errors),
        }
    }
}

fn period(f: &mut Fields) -> Option<(NaiveDate, NaiveDate)> {
    let (start, end) = (f.date("period_start"), f.date("period_end"));
    let (start, end) = (start?, end?);
    let days = (end - start).num_days();
    if end <= start {
        f.error("period_end", format!("must be after period_start ({start}); periods are [start, end)"));
        None
    } else if !PERIOD_DAYS.contains(&days) {
        f.error(
            "period_end",
            format!("the period must be {} to {} days long, got {days}", PERIOD_DAYS.start(), PERIOD_DAYS.end()),
        );
        None
    } else {
        Some((start, end))
    }
}

fn currency(f: &mut Fields, field: &str, value: Option<String>) -> Option<String> {
    let code = value?;
    if is_currency(&code) {
        Some(code)
    } else {
        f.error(field, format!("must be an ISO 4217 currency code such as EUR or USD, got {code:?}"));
        None
    }
}

fn parse_queue_time(f: &mut Fields) -> Option<QueueTime> {
    let period = period(f);
    let resource = f.slug("resource");
    let region = f.slug("region");
    let tier = f.choice("tier", Tier::OPTIONS);
    let jobs = f.count("jobs", domain::JOBS);
    let p50 = f.count("p50_seconds", domain::WAIT_SECONDS);
    let p90 = f.count("p90_seconds", domain::WAIT_SECONDS);
    let p99 = f.count("p99_seconds", domain::WAIT_SECONDS);
    let mean = f.optional_count("mean_seconds", domain::WAIT_SECONDS);
    let max = f.optional_count("max_seconds", domain::WAIT_SECONDS);
    let (p50, p90, p99) = (p50?, p90?, p99?);
    if p50 > p90 {
        f.error("p90_seconds", format!("must be at least p50_seconds ({p50}), got {p90}"));
    }
    if p90 > p99 {
        f.error("p99_seconds", format!("must be at least p90_seconds ({p90}), got {p99}"));
    }
    if let Some(max) = max
        && max < p99
    {
        f.error("max_seconds", format!("must be at least p99_seconds ({p99}), got {max}"));
    }
    let (period_start, period_end) = period?;
    Some(QueueTime {
        period_start,
        period_end,
        resource: resource?,
        region: region?,
        tier: tier?,
        jobs: jobs?,
        p50_seconds: p50,
        p90_seconds: p90,
        p99_seconds: p99,
        mean_seconds: mean,
        max_seconds: max,
    })
}

fn parse_acceptance(f: &mut Fields) -> Option<Acceptance> {
    let period = period(f);
    let track = f.choice("track", Track::OPTIONS);
    let applicant_category = f.choice("applicant_category", ApplicantCategory::OPTIONS);
    let received = f.count("received", domain::APPLICATIONS);
    let accepted = f.count("accepted", domain::APPLICATIONS);
    let rejected = f.count("rejected", domain::APPLICATIONS);
    let requested = f.optional_count("accelerator_hours_requested", domain::ACCELERATOR_HOURS);
    let granted = f.optional_count("accelerator_hours_granted", domain::ACCELERATOR_HOURS);
    let (received, accepted, rejected) = (received?, accepted?, rejected?);
    if accepted.saturating_add(rejected) > received {
        f.error(
            "accepted",
            format!("accepted ({accepted}) + rejected ({rejected}) must not exceed received ({received})"),
        );
    }
    let (period_start, period_end) = period?;
    Some(Acceptance {
        period_start,
        period_end,
        track: track?,
        applicant_category: applicant_category?,
        received,
        accepted,
        rejected,
        accelerator_hours_requested: requested,
        accelerator_hours_granted: granted,
    })
}

fn parse_price(f: &mut Fields) -> Option<Price> {
    let effective_date = f.date("effective_date");
    let resource = f.slug("resource");
    let region = f.slug("region");
    let pricing_model = f.choice("pricing_model", PricingModel::OPTIONS);
    let price = f.decimal("price_per_accelerator_hour", domain::PRICE_PER_HOUR);
    let code = f.text("currency", 3);
    let currency = currency(f, "currency", code);
    let cost = f.optional_decimal("cost_basis_per_accelerator_hour", domain::PRICE_PER_HOUR);
    Some(Price {
        effective_date: effective_date?,
        resource: resource?,
        region: region?,
        pricing_model: pricing_model?,
        price_per_accelerator_hour: price?,
        currency: currency?,
        cost_basis_per_accelerator_hour: cost,
    })
}

fn parse_lockup(f: &mut Fields) -> Option<Lockup> {
    let counterparty = f.text("counterparty", MAX_COUNTERPARTY);
    let resource = f.slug("resource");
    let region = f.slug("region");
    let accelerators = f.count("accelerators", domain::LOCKED_ACCELERATORS);
    let start_date = f.date("start_date");
    let end_date = f.optional_date("end_date");
    let exclusivity = f.choice("exclusivity", Exclusivity::OPTIONS);
    let value = f.optional_decimal("contract_value", domain::CONTRACT_VALUE);
    let code = f.optional_text("contract_currency", 3, Lines::One);
    let contract_currency = currency(f, "contract_currency", code.clone());
    let source_url = f.optional_text("source_url", MAX_URL, Lines::One);
    let notes = f.optional_text("notes", MAX_NOTES, Lines::Many);
    let disclosure_date = f.date("disclosure_date");
    if let (Some(start), Some(end)) = (start_date, end_date)
        && end <= start
    {
        f.error("end_date", format!("must be after start_date ({start})"));
    }
    if value.is_some() && code.is_none() {
        f.error("contract_currency", "is required when contract_value is given");
    }
    if value.is_none() && code.is_some() {
        f.error("contract_value", "is required when contract_currency is given");
    }
    if let Some(url) = &source_url
        && !is_web_url(url)
    {
        f.error("source_url", format!("must be an http:// or https:// URL, got {url:?}"));
    }
    Some(Lockup {
        counterparty: counterparty?,
        resource: resource?,
        region: region?,
        accelerators: accelerators?,
        start_date: start_date?,
        end_date,
        exclusivity: exclusivity?,
        contract_value: value,
        contract_currency,
        source_url,
        notes,
        disclosure_date: disclosure_date?,
    })
}

fn parse_capacity(f: &mut Fields) -> Option<Capacity> {
    let as_of = f.date("as_of");
    let resource = f.slug("resource");
    let region = f.slug("region");
    let total = f.count("total_accelerators", domain::ACCELERATORS);
    let set_aside = f.count("newcomer_set_aside", domain::ACCELERATORS);
    let utilisation = f.optional_decimal("utilisation", domain::FRACTION);
    if let (Some(total), Some(set_aside)) = (total, set_aside)
        && set_aside > total
    {
        f.error("newcomer_set_aside", format!("must not exceed total_accelerators ({total}), got {set_aside}"));
    }
    Some(Capacity {
        as_of: as_of?,
        resource: resource?,
        region: region?,
        total_accelerators: total?,
        newcomer_set_aside: set_aside?,
        utilisation,
    })
}

fn parse_energy(f: &mut Fields) -> Option<Energy> {
    let period = period(f);
    let region = f.slug("region");
    let site = f.optional_slug("site");
    let energy = f.decimal("energy_mwh", domain::ENERGY_MWH);
    let location = f.decimal("grid_intensity_location_gco2e_per_kwh", domain::GRID_INTENSITY);
    let market = f.optional_decimal("grid_intensity_market_gco2e_per_kwh", domain::GRID_INTENSITY);
    let renewable_share = f.decimal("renewable_share", domain::FRACTION);
    let pue = f.optional_decimal("pue", domain::PUE);
    let (period_start, period_end) = period?;
    Some(Energy {
        period_start,
        period_end,
        region: region?,
        site,
        energy_mwh: energy?,
        grid_intensity_location_gco2e_per_kwh: location?,
        grid_intensity_market_gco2e_per_kwh: market,
        renewable_share: renewable_share?,
        pue,
    })
}

/// An absolute http(s) URL with a host and no whitespace.
fn is_web_url(text: &str) -> bool {
    if text.chars().any(char::is_whitespace) {
        return false;
    }
    match text.parse::<http::Uri>() {
        Ok(uri) => {
            matches!(uri.scheme_str(), Some("http" | "https"))
                && uri.host().is_some_and(|h| !h.is_empty() && h.contains('.'))
        }
        Err(_) => false,
    }
}

/// A valid example of each kind, as a provider would send it (the API docs show these; tests use them).
pub fn examples() -> Vec<Value> {
    vec![
        json!({"kind": "queue_time", "period_start": "2026-10-01", "period_end": "2026-11-01", "resource": "nvidia-h100-80gb",
               "region": "eu-de", "tier": "newcomer", "jobs": 412, "p50_seconds": 1800, "p90_seconds": 14400, "p99_seconds": 86400,
               "mean_seconds": 5200, "max_seconds": 172800}),
        json!({"kind": "acceptance", "period_start": "2026-07-01", "period_end": "2026-10-01", "track": "newcomer_set_aside",
               "applicant_category": "first_time_founder", "received": 120, "accepted": 31, "rejected": 80,
               "accelerator_hours_requested": 250000, "accelerator_hours_granted": 61000}),
        json!({"kind": "price", "effective_date": "2026-11-01", "resource": "nvidia-h100-80gb", "region": "us-east",
               "pricing_model": "on_demand", "price_per_accelerator_hour": "2.490", "currency": "USD",
               "cost_basis_per_accelerator_hour": "1.12"}),
        json!({"kind": "lockup", "counterparty": "Frontier Model Lab Inc.", "resource": "nvidia-b200", "region": "us-east",
               "accelerators": 16384, "start_date": "2026-01-01", "end_date": "2029-01-01", "exclusivity": "exclusive",
               "contract_value": "2400000000", "contract_currency": "USD", "source_url": "https://example.com/press/deal",
               "notes": "Three-year exclusive reservation.", "disclosure_date": "2026-02-15"}),
        json!({"kind": "capacity", "as_of": "2026-11-01", "resource": "nvidia-h100-80gb", "region": "eu-de",
               "total_accelerators": 4096, "newcomer_set_aside": 256, "utilisation": "0.87"}),
        json!({"kind": "energy", "period_start": "2026-10-01", "period_end": "2026-11-01", "region": "eu-de", "site": "frankfurt-1",
               "energy_mwh": "2950.5", "grid_intensity_location_gco2e_per_kwh": "350", "grid_intensity_market_gco2e_per_kwh": "120",
               "renewable_share": "0.62", "pue": "1.25"}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn errors_of(value: Value) -> Vec<(String, String)> {
        Record::parse(value).expect_err("must be refused").into_iter().map(|e| (e.field, e.reason)).collect()
    }

    fn with(mut base: Value, field: &str, value: Value) -> Value {
        base[field] = value;
        base
    }

    #[test]
    fn every_example_parses_and_keeps_its_meaning() {
        let kinds: Vec<RecordKind> = examples().into_iter().map(|v| Record::parse(v).expect("valid").kind()).collect();
        assert_eq!(
            kinds,
            [
                RecordKind::QueueTime,
                RecordKind::Acceptance,
                RecordKind::Price,
                RecordKind::Lockup,
                RecordKind::Capacity,
                RecordKind::Energy
            ]
        );
        let price = Record::parse(examples()[2].clone()).expect("valid");
        // Money stays decimal, normalised, as a string.
        assert_eq!(price.to_json()["price_per_accelerator_hour"], "2.49");
        assert_eq!(price.natural_key(), "2026-11-01|nvidia-h100-80gb|us-east|on_demand");
    }

    #[test]
    fn optional_fields_may_be_absent_or_null() {
        let mut capacity = examples()[4].clone();
        capacity.as_object_mut().expect("object").remove("utilisation");
        assert!(Record::parse(capacity).is_ok());
        assert!(Record::parse(with(examples()[0].clone(), "mean_seconds", Value::Null)).is_ok());
        let mut energy = examples()[5].clone();
        for optional in ["site", "grid_intensity_market_gco2e_per_kwh", "pue"] {
            energy.as_object_mut().expect("object").remove(optional);
        }
        let energy = Record::parse(energy).expect("valid without its optional fields");
        assert_eq!(energy.natural_key(), "2026-10-01|2026-11-01|eu-de|");
    }

    #[test]
    fn each_rule_names_its_field() {
        let q = || examples()[0].clone();
        let a = || examples()[1].clone();
        let p = || examples()[2].clone();
        let l = || examples()[3].clone();
        let c = || examples()[4].clone();
        let e = || examples()[5].clone();
        let cases: Vec<(Value, &str, &str)> = vec![
            (with(q(), "p90_seconds", json!(10)), "p90_seconds", "at least p50_seconds"),
            (with(q(), "jobs", json!(-3)), "jobs", "negative"),
            (with(q(), "jobs", json!(0)), "jobs", "at least 1"),
            (with(q(), "jobs", json!(2.5)), "jobs", "whole number"),
            (with(q(), "period_end", json!("2026-10-01")), "period_end", "after period_start"),
            (with(q(), "period_end", json!("2026-09-01")), "period_end", "after period_start"),
            (with(q(), "period_end", json!("2027-01-02")), "period_end", "1 to 92 days"),
            (with(q(), "period_start", json!("2026-13-01")), "period_start", "YYYY-MM-DD"),
            (with(q(), "tier", json!("vip")), "tier", "one of on_demand"),
            (with(q(), "resource", json!("NVIDIA H100")), "resource", "lower-case"),
            (with(q(), "max_seconds", json!(5)), "max_seconds", "at least p99"),
            (with(a(), "accepted", json!(100)), "accepted", "must not exceed received"),
            (with(p(), "currency", json!("EURO")), "currency", "at most 3"),
            (with(p(), "currency", json!("ABC")), "currency", "ISO 4217"),
            (with(p(), "price_per_accelerator_hour", json!(2.49)), "price_per_accelerator_hour", "string"),
            (with(p(), "price_per_accelerator_hour", json!("1e309")), "price_per_accelerator_hour", "plain decimal"),
            (with(p(), "price_per_accelerator_hour", json!("NaN")), "price_per_accelerator_hour", "plain decimal"),
            (with(p(), "price_per_accelerator_hour", json!("-1")), "price_per_accelerator_hour", "negative"),
            (with(l(), "counterparty", json!("x".repeat(201))), "counterparty", "at most 200"),
            (with(l(), "notes", json!("x".repeat(2001))), "notes", "at most 2000"),
            (with(l(), "source_url", json!("javascript:alert(1)")), "source_url", "http"),
            (with(l(), "end_date", json!("2025-01-01")), "end_date", "after start_date"),
            (with(l(), "contract_currency", Value::Null), "contract_currency", "required when contract_value"),
            (with(c(), "newcomer_set_aside", json!(5000)), "newcomer_set_aside", "must not exceed"),
            (with(c(), "utilisation", json!("1.5")), "utilisation", "at most 1"),
            (with(c(), "colour", json!("blue")), "colour", "not a field"),
            (with(c(), "kind", json!("water")), "kind", "one of queue_time"),
            (with(e(), "energy_mwh", json!("-1")), "energy_mwh", "negative"),
            (with(e(), "energy_mwh", json!("10000000.001")), "energy_mwh", "at most 10000000"),
            (with(e(), "energy_mwh", json!(2950.5)), "energy_mwh", "string"),
            (with(e(), "energy_mwh", json!("1.0001")), "energy_mwh", "3 digits"),
            (
                with(e(), "grid_intensity_location_gco2e_per_kwh", json!("2001")),
                "grid_intensity_location_gco2e_per_kwh",
                "at most 2000",
            ),
            (
                with(e(), "grid_intensity_location_gco2e_per_kwh", Value::Null),
                "grid_intensity_location_gco2e_per_kwh",
                "required",
            ),
            (
                with(e(), "grid_intensity_market_gco2e_per_kwh", json!("-5")),
                "grid_intensity_market_gco2e_per_kwh",
                "negative",
            ),
            (with(e(), "renewable_share", json!("1.2")), "renewable_share", "at most 1"),
            (with(e(), "pue", json!("0.9")), "pue", "at least 1"),
            (with(e(), "pue", json!("3.5")), "pue", "at most 3"),
            (with(e(), "site", json!("Frankfurt 1")), "site", "lower-case"),
            (with(e(), "period_end", json!("2027-01-02")), "period_end", "1 to 92 days"),
            (with(e(), "kwh", json!("12")), "kwh", "not a field"),
        ];
        for (value, field, reason) in cases {
            let errors = errors_of(value.clone());
            assert!(
                errors.iter().any(|(f, r)| f == field && r.contains(reason)),
                "expected {field}: {reason} for {value}, got {errors:?}"
            );
        }
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let value = json!({"kind": "capacity", "as_of": "yesterday", "resource": "A", "region": "eu-de", "total_accelerators": -1});
        let fields: Vec<String> = errors_of(value).into_iter().map(|(f, _)| f).collect();
        for expected in ["as_of", "resource", "total_accelerators", "newcomer_set_aside"] {
            assert!(fields.iter().any(|f| f == expected), "{expected} missing from {fields:?}");
        }
    }

    #[test]
    fn natural_keys_separate_what_differs_and_only_that() {
        let base = Record::parse(examples()[0].clone()).expect("valid");
        let amended = Record::parse(with(examples()[0].clone(), "p50_seconds", json!(1700))).expect("valid");
        let other_tier = Record::parse(with(examples()[0].clone(), "tier", json!("spot"))).expect("valid");
        assert_eq!(base.natural_key(), amended.natural_key());
        assert_ne!(base.natural_key(), other_tier.natural_key());
        let pipe = Record::parse(with(examples()[3].clone(), "counterparty", json!("A|B"))).expect("valid");
        assert!(pipe.natural_key().starts_with("A||B|"));
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
            "\\PC{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parsing_anything_never_panics(mut value in arbitrary_json(), kind in 0usize..6) {
            if let Value::Object(map) = &mut value {
                map.insert("kind".into(), json!(RecordKind::OPTIONS[kind].0));
            }
            let _ = Record::parse(value);
        }

        #[test]
        fn valid_records_with_one_field_mangled_are_refused_not_accepted_silently(which in 0usize..6, field in 0usize..12, junk in arbitrary_json()) {
            let mut value = examples()[which].clone();
            let keys: Vec<String> = value.as_object().expect("object").keys().filter(|k| *k != "kind").cloned().collect();
            let key = keys[field % keys.len()].clone();
            let original = value[&key].clone();
            value[&key] = junk.clone();
            if let Ok(record) = Record::parse(value) {
                // Accepted only if the junk was an equally valid value for that field.
                prop_assert!(junk.is_null() || junk.is_string() || junk.is_number(), "accepted {junk} for {key} (was {original}): {record:?}");
            }
        }
    }
}
