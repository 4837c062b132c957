//! Reports by others and the provider's answers (issue 19): the two record kinds that are
//! not a provider's own disclosure. A reporter (journalist, researcher, civic group) files a
//! `report` about a provider, with its sources; the provider files an `answer` to it. Both
//! are ledger entries like any other, attributed to whoever filed them (the entry's
//! `provider` field names the filer: the reporter for a report). They are not [`Record`](super::Record)s
//! (crate::records::Record): the projection leaves them out, so they never enter a
//! provider's figures, and they are shown apart.

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use super::Slug;
use super::currency::is_currency;
use super::domain::{self, Lines};
use super::fields::{FieldError, Fields};
use super::kinds::{Exclusivity, MAX_COUNTERPARTY, PricingModel, Unreadable};

/// The entry kind of a report.
pub const REPORT: &str = "report";
/// The entry kind of an answer.
pub const ANSWER: &str = "answer";
/// Most source URLs in one report.
pub const MAX_SOURCES: usize = 5;
/// Longest source URL.
pub const MAX_SOURCE_URL: usize = 1_000;
/// Longest quotation or note in a report.
pub const MAX_QUOTATION: usize = 1_000;
/// Longest statement in an answer.
pub const MAX_STATEMENT: usize = 2_000;

/// Whether entries of this kind are third-party reports or answers (kept out of the projection).
pub fn is_third_party(kind: &str) -> bool {
    kind == REPORT || kind == ANSWER
}

/// Checks a stored entry's record under today's rules, whatever its kind: a report or an
/// answer by its own rules, anything else as a [`crate::records::Record`]. For readers that
/// only need to know whether an entry still decodes (`verify`, the entry page).
pub fn check_entry(kind: &str, record: Value) -> Result<(), Unreadable> {
    match kind {
        REPORT => Report::from_entry(record).map(|_| ()),
        ANSWER => Answer::from_entry(record).map(|_| ()),
        _ => super::Record::from_entry(kind, record).map(|_| ()),
    }
}

/// What a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema)]
pub enum ReportedKind {
    /// `lockup`: an exclusive or preferential capacity deal.
    #[serde(rename = "lockup")]
    Lockup,
    /// `price`: a price observed on a public price list.
    #[serde(rename = "price")]
    Price,
}

impl ReportedKind {
    /// Every value with its name.
    pub const OPTIONS: &'static [(&'static str, ReportedKind)] = &[("lockup", Self::Lockup), ("price", Self::Price)];

    /// The name written in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lockup => "lockup",
            Self::Price => "price",
        }
    }

    /// The fields a report of this kind may carry (all optional but the first of each).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Lockup => &[
                "counterparty",
                "resource",
                "region",
                "accelerators",
                "start_date",
                "end_date",
                "exclusivity",
                "contract_value",
                "contract_currency",
            ],
            Self::Price => {
                &["price_per_accelerator_hour", "currency", "resource", "region", "pricing_model", "effective_date"]
            }
        }
    }
}

/// How a provider answers a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema)]
pub enum Response {
    /// `confirm`: true, and disclosed in the named entry of the provider's own.
    #[serde(rename = "confirm")]
    Confirm,
    /// `dispute`: not true, with a statement.
    #[serde(rename = "dispute")]
    Dispute,
    /// `correct`: partly true; the corrected fields are given.
    #[serde(rename = "correct")]
    Correct,
}

impl Response {
    /// Every value with its name.
    pub const OPTIONS: &'static [(&'static str, Response)] =
        &[("confirm", Self::Confirm), ("dispute", Self::Dispute), ("correct", Self::Correct)];

    /// The name written in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Dispute => "dispute",
            Self::Correct => "correct",
        }
    }
}

/// A sourced report about a provider, filed by a reporter.
/// Natural key (within its reporter): (about, reported_kind, published_date, first source).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The provider the report is about.
    pub about: Slug,
    /// What it reports.
    pub reported_kind: ReportedKind,
    /// Where it was published: 1 to [`MAX_SOURCES`] http(s) URLs.
    pub sources: Vec<String>,
    /// When the source was published.
    pub published_date: NaiveDate,
    /// A short quotation from the source, or a note on it.
    pub quotation: String,
    /// The fields of the reported kind the report knows, validated and normalised.
    pub fields: Map<String, Value>,
}

impl Report {
    /// Parses a report's fields (without `kind`).
    pub fn parse(map: Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(map);
        let about = f.slug("about");
        let reported_kind = f.choice("reported_kind", ReportedKind::OPTIONS);
        let sources = sources(&mut f);
        let published_date = f.date("published_date");
        let quotation = f.optional_text("quotation", MAX_QUOTATION, Lines::Many);
        if quotation.is_none() && !f.errors.iter().any(|e| e.field == "quotation") {
            f.error("quotation", "is required: a short quotation from the source, or a note on it");
        }
        let fields = reported_kind.map(|kind| reported_fields(&mut f, kind, "", true));
        let errors = f.finish();
        if !errors.is_empty() {
            return Err(errors);
        }
        match (about, reported_kind, sources, published_date, quotation, fields) {
            (Some(about), Some(reported_kind), Some(sources), Some(published_date), Some(quotation), Some(fields)) => {
                Ok(Self { about, reported_kind, sources, published_date, quotation, fields })
            }
            _ => Err(vec![FieldError { field: String::new(), reason: "the report is incomplete".into() }]),
        }
    }

    /// Decodes a stored report under today's rules.
    pub fn from_entry(record: Value) -> Result<Self, Unreadable> {
        let Value::Object(map) = record else {
            return Err(Unreadable { reason: "the record is not a JSON object".into() });
        };
        Self::parse(map).map_err(|errors| Unreadable { reason: describe(&errors) })
    }

    /// What the report is about, within its reporter: a later report with the same key amends it.
    pub fn natural_key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.about,
            self.reported_kind.as_str(),
            self.published_date,
            self.sources.first().map_or("", String::as_str)
        )
    }

    /// The record as it goes into a ledger entry.
    pub fn to_json(&self) -> Value {
        let mut map = self.fields.clone();
        map.insert("about".into(), json!(self.about.as_str()));
        map.insert("reported_kind".into(), json!(self.reported_kind.as_str()));
        map.insert("sources".into(), json!(self.sources));
        map.insert("published_date".into(), json!(self.published_date.to_string()));
        map.insert("quotation".into(), json!(self.quotation));
        Value::Object(map)
    }
}

/// A provider's answer to a report about it. Natural key: the report's entry index (a later
/// answer to the same report amends the earlier one).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The report's entry index.
    pub report: u64,
    /// Confirm, dispute or correct.
    pub response: Response,
    /// For a confirmation: the entry of the provider's own that discloses it.
    pub disclosure_entry: Option<u64>,
    /// The provider's statement (required to dispute).
    pub statement: Option<String>,
    /// For a correction: the corrected fields, of the report's kind (checked against the
    /// report with [`Answer::check_corrections`]).
    pub corrections: Option<Map<String, Value>>,
}

/// Largest entry index an answer may name.
const ENTRY_INDEX: domain::Count = domain::Count { min: 0, max: domain::MAX_SAFE_COUNT };

/// Where a confirmation's disclosure is, as sent: an entry already in the ledger, or a
/// record filed in the same batch, named by its position there (it has no entry index
/// until the batch is appended, when the API writes that index into the answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisclosureRef {
    /// `disclosure_entry`: an entry index.
    Entry(u64),
    /// `disclosure_position`: the position of a record in the same request body.
    InBatch(u64),
}

impl Answer {
    /// Parses an answer's fields (without `kind`).
    pub fn parse(map: Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        Self::parse_fields(map, false).map(|(answer, _)| answer)
    }

    /// Parses an answer as a provider sends it, which may confirm with `disclosure_position`
    /// (a record of the same request) instead of `disclosure_entry`: the answer comes back
    /// without its disclosure entry, to be set once the batch's indexes are known.
    pub fn parse_input(map: Map<String, Value>) -> Result<(Self, Option<DisclosureRef>), Vec<FieldError>> {
        Self::parse_fields(map, true)
    }

    fn parse_fields(map: Map<String, Value>, as_sent: bool) -> Result<(Self, Option<DisclosureRef>), Vec<FieldError>> {
        let mut f = Fields::new(map);
        let report = f.count("report", ENTRY_INDEX);
        let response = f.choice("response", Response::OPTIONS);
        let disclosure_entry = f.optional_count("disclosure_entry", ENTRY_INDEX);
        let disclosure_position = if as_sent { f.optional_count("disclosure_position", ENTRY_INDEX) } else { None };
        if disclosure_entry.is_some() && disclosure_position.is_some() {
            f.error("disclosure_position", "give disclosure_entry or disclosure_position, not both");
        }
        let disclosure = disclosure_entry.map(DisclosureRef::Entry).or(disclosure_position.map(DisclosureRef::InBatch));
        let statement = f.optional_text("statement", MAX_STATEMENT, Lines::Many);
        let corrections = match f.raw("corrections") {
            None => None,
            Some(Value::Object(map)) => Some(map),
            Some(_) => {
                f.error("corrections", "must be an object of the report's fields");
                None
            }
        };
        match response {
            Some(Response::Confirm) => {
                if disclosure.is_none() && !f.errors.iter().any(|e| e.field.starts_with("disclosure_")) {
                    f.error(
                        "disclosure_entry",
                        if as_sent {
                            "is required to confirm: the entry of your own that discloses it \
                             (or disclosure_position: the disclosure's position in this request)"
                        } else {
                            "is required to confirm: the entry of your own that discloses it"
                        },
                    );
                }
                if corrections.is_some() {
                    f.error("corrections", "is only for response correct");
                }
            }
            Some(Response::Dispute) if statement.is_none() && !f.errors.iter().any(|e| e.field == "statement") => {
                f.error("statement", "is required to dispute a report");
            }
            Some(Response::Correct)
                if corrections.as_ref().is_none_or(Map::is_empty)
                    && !f.errors.iter().any(|e| e.field == "corrections") =>
            {
                f.error("corrections", "is required to correct a report: the corrected fields");
            }
            Some(_) | None => {}
        }
        if response.is_some_and(|r| r != Response::Confirm) {
            if disclosure_entry.is_some() {
                f.error("disclosure_entry", "is only for response confirm");
            }
            if disclosure_position.is_some() {
                f.error("disclosure_position", "is only for response confirm");
            }
        }
        if matches!(response, Some(Response::Dispute)) && corrections.is_some() {
            f.error("corrections", "is only for response correct");
        }
        let errors = f.finish();
        if !errors.is_empty() {
            return Err(errors);
        }
        match (report, response) {
            (Some(report), Some(response)) => {
                Ok((Self { report, response, disclosure_entry, statement, corrections }, disclosure))
            }
            _ => Err(vec![FieldError { field: String::new(), reason: "the answer is incomplete".into() }]),
        }
    }

    /// Decodes a stored answer under today's rules.
    pub fn from_entry(record: Value) -> Result<Self, Unreadable> {
        let Value::Object(map) = record else {
            return Err(Unreadable { reason: "the record is not a JSON object".into() });
        };
        Self::parse(map).map_err(|errors| Unreadable { reason: describe(&errors) })
    }

    /// Checks the corrections against the kind of the report answered, normalising them;
    /// problems are named `corrections.<field>`.
    pub fn check_corrections(&mut self, kind: ReportedKind) -> Vec<FieldError> {
        let Some(map) = self.corrections.take() else { return Vec::new() };
        let mut f = Fields::new(map);
        let fields = reported_fields(&mut f, kind, "corrections.", false);
        let errors: Vec<FieldError> = f
            .finish()
            .into_iter()
            .map(|e| {
                let field =
                    if e.field.starts_with("corrections.") { e.field } else { format!("corrections.{}", e.field) };
                let reason = if e.reason.contains("not a field") {
                    format!("is not a field of a {} report (one of {})", kind.as_str(), kind.fields().join(", "))
                } else {
                    e.reason
                };
                FieldError { field, reason }
            })
            .collect();
        self.corrections = Some(fields);
        errors
    }

    /// What the answer is about: the report's entry index.
    pub fn natural_key(&self) -> String {
        self.report.to_string()
    }

    /// The record as it goes into a ledger entry.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("report".into(), json!(self.report));
        map.insert("response".into(), json!(self.response.as_str()));
        if let Some(entry) = self.disclosure_entry {
            map.insert("disclosure_entry".into(), json!(entry));
        }
        if let Some(statement) = &self.statement {
            map.insert("statement".into(), json!(statement));
        }
        if let Some(corrections) = &self.corrections {
            map.insert("corrections".into(), Value::Object(corrections.clone()));
        }
        Value::Object(map)
    }
}

fn describe(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("{}: {}", e.field, e.reason)).collect::<Vec<_>>().join("; ")
}

/// The `sources` array: 1 to [`MAX_SOURCES`] distinct http(s) URLs.
fn sources(f: &mut Fields) -> Option<Vec<String>> {
    let Some(value) = f.raw("sources") else {
        f.error("sources", "is required: at least one http(s) URL where the report was published");
        return None;
    };
    let Value::Array(items) = value else {
        f.error("sources", "must be an array of http(s) URLs");
        return None;
    };
    if items.is_empty() || items.len() > MAX_SOURCES {
        f.error("sources", format!("must hold 1 to {MAX_SOURCES} URLs, got {}", items.len()));
        return None;
    }
    let mut urls: Vec<String> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.into_iter().enumerate() {
        let field = format!("sources[{i}]");
        match item {
            Value::String(url) => match source_url_problem(&url) {
                None if urls.contains(&url) => {
                    f.error(&field, "repeats an earlier source");
                    ok = false;
                }
                None => urls.push(url),
                Some(problem) => {
                    f.error(&field, problem);
                    ok = false;
                }
            },
            _ => {
                f.error(&field, "must be a string (an http(s) URL)");
                ok = false;
            }
        }
    }
    ok.then_some(urls)
}

/// Why `url` is not an acceptable source: a well-formed absolute http(s) URL of at most
/// [`MAX_SOURCE_URL`] printable ASCII characters (non-ASCII hosts as punycode, paths
/// percent-encoded), with a dotted host name and no user name or password in it.
pub fn source_url_problem(url: &str) -> Option<String> {
    let length = url.chars().count();
    if length == 0 || length > MAX_SOURCE_URL {
        return Some(format!("must be 1 to {MAX_SOURCE_URL} characters, got {length}"));
    }
    if let Some((at, c)) = url.chars().enumerate().find(|(_, c)| !c.is_ascii_graphic()) {
        return Some(format!(
            "must be printable ASCII without spaces (percent-encode the rest); found {c:?} at character {}",
            at + 1
        ));
    }
    let without_fragment = url.split('#').next().unwrap_or(url);
    let Ok(uri) = without_fragment.parse::<http::Uri>() else {
        return Some("is not a well-formed URL".into());
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Some("must start with http:// or https://".into());
    }
    let Some(authority) = uri.authority() else { return Some("must name a host".into()) };
    if authority.as_str().contains('@') {
        return Some("must not carry a user name or password".into());
    }
    let host = authority.host();
    let named = host.contains('.')
        && !host.starts_with('.')
        && !host.ends_with('.')
        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !named || host.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Some(format!("must name a public host such as example.org, got {host:?}"));
    }
    None
}

/// Reads the fields of a reported kind into a normalised map. In a report the first field
/// of the kind is required (what the report says at least); in a correction none is. Field
/// names in errors are prefixed with `prefix`.
fn reported_fields(f: &mut Fields, kind: ReportedKind, prefix: &str, report: bool) -> Map<String, Value> {
    let mut out = Map::new();
    let name = |field: &str| format!("{prefix}{field}");
    let put = |out: &mut Map<String, Value>, field: &str, value: Option<Value>| {
        if let Some(value) = value {
            out.insert(field.to_owned(), value);
        }
    };
    let slug = |f: &mut Fields, field: &str| f.optional_slug(field).map(|s| json!(s.as_str()));
    let date = |f: &mut Fields, field: &str| f.optional_date(field).map(|d| json!(d.to_string()));
    let choice = |f: &mut Fields, field: &str, options: &[&str]| match f.raw(field) {
        None => None,
        Some(Value::String(text)) if options.contains(&text.as_str()) => Some(json!(text)),
        Some(other) => {
            f.error(&name(field), format!("must be one of {}, got {other}", options.join(", ")));
            None
        }
    };
    let currency = |f: &mut Fields, field: &str| match f.optional_text(field, 3, Lines::One) {
        Some(code) if is_currency(&code) => Some(json!(code)),
        Some(code) => {
            f.error(&name(field), format!("must be an ISO 4217 currency code such as EUR or USD, got {code:?}"));
            None
        }
        None => None,
    };
    let decimal = |f: &mut Fields, field: &str, domain: domain::Amount| {
        f.optional_decimal(field, domain).and_then(|d| serde_json::to_value(d.normalize()).ok())
    };
    match kind {
        ReportedKind::Lockup => {
            let counterparty = f.optional_text("counterparty", MAX_COUNTERPARTY, Lines::One);
            if report && counterparty.is_none() && !f.errors.iter().any(|e| e.field == "counterparty") {
                f.error("counterparty", "is required: who gets the capacity");
            }
            put(&mut out, "counterparty", counterparty.map(Value::String));
            let v = slug(f, "resource");
            put(&mut out, "resource", v);
            let v = slug(f, "region");
            put(&mut out, "region", v);
            let v = f.optional_count("accelerators", domain::LOCKED_ACCELERATORS).map(|n| json!(n));
            put(&mut out, "accelerators", v);
            let start = f.optional_date("start_date");
            let end = f.optional_date("end_date");
            if let (Some(start), Some(end)) = (start, end)
                && end <= start
            {
                f.error(&name("end_date"), format!("must be after start_date ({start})"));
            }
            put(&mut out, "start_date", start.map(|d| json!(d.to_string())));
            put(&mut out, "end_date", end.map(|d| json!(d.to_string())));
            let options: Vec<&str> = Exclusivity::OPTIONS.iter().map(|(n, _)| *n).collect();
            let v = choice(f, "exclusivity", &options);
            put(&mut out, "exclusivity", v);
            let value = decimal(f, "contract_value", domain::CONTRACT_VALUE);
            let code = currency(f, "contract_currency");
            if value.is_some() != code.is_some() && report {
                f.error(&name("contract_currency"), "contract_value and contract_currency go together");
            }
            put(&mut out, "contract_value", value);
            put(&mut out, "contract_currency", code);
        }
        ReportedKind::Price => {
            let price = decimal(f, "price_per_accelerator_hour", domain::PRICE_PER_HOUR);
            if report && price.is_none() && !f.errors.iter().any(|e| e.field == "price_per_accelerator_hour") {
                f.error("price_per_accelerator_hour", "is required: the price observed");
            }
            let code = currency(f, "currency");
            if report && price.is_some() && code.is_none() && !f.errors.iter().any(|e| e.field == "currency") {
                f.error("currency", "is required with price_per_accelerator_hour");
            }
            put(&mut out, "price_per_accelerator_hour", price);
            put(&mut out, "currency", code);
            let v = slug(f, "resource");
            put(&mut out, "resource", v);
            let v = slug(f, "region");
            put(&mut out, "region", v);
            let options: Vec<&str> = PricingModel::OPTIONS.iter().map(|(n, _)| *n).collect();
            let v = choice(f, "pricing_model", &options);
            put(&mut out, "pricing_model", v);
            let v = date(f, "effective_date");
            put(&mut out, "effective_date", v);
        }
    }
    if !prefix.is_empty() {
        for error in &mut f.errors {
            if !error.field.starts_with(prefix) {
                error.field = format!("{prefix}{}", error.field);
            }
        }
    }
    out
}

/// A valid report and an answer of each kind, as clients send them (docs and tests use them).
pub fn examples() -> Vec<Value> {
    vec![
        json!({"kind": "report", "about": "nimbus-gpu", "reported_kind": "lockup",
               "sources": ["https://news.example.org/2026/10/nimbus-frontier-deal"], "published_date": "2026-10-03",
               "quotation": "Nimbus has reserved 4,096 H100s for Frontier Model Lab until 2028, people familiar with the deal said.",
               "counterparty": "Frontier Model Lab Inc.", "resource": "nvidia-h100-80gb", "region": "eu-de",
               "accelerators": 4096, "exclusivity": "exclusive", "start_date": "2026-09-01"}),
        json!({"kind": "answer", "report": 12, "response": "confirm", "disclosure_entry": 7}),
        json!({"kind": "answer", "report": 12, "response": "dispute",
               "statement": "No such reservation exists; capacity in eu-de is open to all customers."}),
        json!({"kind": "answer", "report": 12, "response": "correct", "corrections": {"accelerators": 1024},
               "statement": "The deal covers 1,024 accelerators, not 4,096."}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(value: Value) -> Result<Report, Vec<FieldError>> {
        let Value::Object(mut map) = value else { panic!("object") };
        map.remove("kind");
        Report::parse(map)
    }

    fn answer(value: Value) -> Result<Answer, Vec<FieldError>> {
        let Value::Object(mut map) = value else { panic!("object") };
        map.remove("kind");
        Answer::parse(map)
    }

    fn with(mut base: Value, field: &str, value: Value) -> Value {
        base[field] = value;
        base
    }

    fn fails_on(result: Result<impl std::fmt::Debug, Vec<FieldError>>, field: &str, reason: &str) {
        let errors = result.expect_err("must be refused");
        assert!(
            errors.iter().any(|e| e.field == field && e.reason.contains(reason)),
            "expected {field}: {reason}, got {errors:?}"
        );
    }

    #[test]
    fn the_examples_parse_and_round_trip() {
        let parsed = report(examples()[0].clone()).expect("valid");
        assert_eq!(
            parsed.natural_key(),
            "nimbus-gpu|lockup|2026-10-03|https://news.example.org/2026/10/nimbus-frontier-deal"
        );
        let Value::Object(again) = parsed.to_json() else { panic!("object") };
        assert_eq!(Report::parse(again).expect("its own form parses"), parsed);
        for example in &examples()[1..] {
            let parsed = answer(example.clone()).expect("valid");
            assert_eq!(Answer::from_entry(parsed.to_json()).expect("round trip"), parsed);
        }
        let mut correction = answer(examples()[3].clone()).expect("valid");
        assert!(correction.check_corrections(ReportedKind::Lockup).is_empty());
        assert!(!correction.check_corrections(ReportedKind::Price).is_empty(), "accelerators is not a price field");
    }

    #[test]
    fn each_rule_names_its_field() {
        let r = || examples()[0].clone();
        fails_on(report(with(r(), "sources", json!([]))), "sources", "1 to 5");
        fails_on(report(with(r(), "sources", json!("https://example.org/a"))), "sources", "array");
        fails_on(report(with(r(), "sources", json!(["ftp://example.org/a"]))), "sources[0]", "http");
        fails_on(report(with(r(), "sources", json!(["javascript:alert(1)"]))), "sources[0]", "");
        fails_on(report(with(r(), "sources", json!(["https://user:pw@example.org/a"]))), "sources[0]", "password");
        fails_on(report(with(r(), "sources", json!(["https://example.org/a b"]))), "sources[0]", "ASCII");
        fails_on(report(with(r(), "sources", json!(["https://exämple.org/"]))), "sources[0]", "ASCII");
        fails_on(report(with(r(), "sources", json!(["https://localhost/x"]))), "sources[0]", "public host");
        fails_on(report(with(r(), "sources", json!(["https://10.0.0.1/x"]))), "sources[0]", "public host");
        let long = format!("https://example.org/{}", "a".repeat(MAX_SOURCE_URL));
        fails_on(report(with(r(), "sources", json!([long]))), "sources[0]", "1 to 1000");
        fails_on(report(with(r(), "sources", json!(["https://a.org/", "https://a.org/"]))), "sources[1]", "repeats");
        fails_on(report(with(r(), "quotation", Value::Null)), "quotation", "required");
        fails_on(report(with(r(), "quotation", json!("x".repeat(1001)))), "quotation", "at most 1000");
        fails_on(report(with(r(), "published_date", json!("03/10/2026"))), "published_date", "YYYY-MM-DD");
        fails_on(report(with(r(), "about", json!("Nimbus GPU"))), "about", "lower-case");
        fails_on(report(with(r(), "reported_kind", json!("queue_time"))), "reported_kind", "one of lockup, price");
        fails_on(report(with(r(), "counterparty", Value::Null)), "counterparty", "required");
        fails_on(report(with(r(), "accelerators", json!(0))), "accelerators", "at least 1");
        fails_on(report(with(r(), "pricing_model", json!("spot"))), "pricing_model", "not a field");
        fails_on(report(with(r(), "end_date", json!("2026-01-01"))), "end_date", "after start_date");
        let price = json!({"kind": "report", "about": "nimbus-gpu", "reported_kind": "price", "sources": ["https://nimbus.example.com/pricing"],
                           "published_date": "2026-11-02", "quotation": "Price list, 2 Nov 2026", "price_per_accelerator_hour": "3.10"});
        fails_on(report(price.clone()), "currency", "required");
        assert!(report(with(price, "currency", json!("EUR"))).is_ok());
        let a = || examples()[1].clone();
        fails_on(answer(with(a(), "disclosure_entry", Value::Null)), "disclosure_entry", "required to confirm");
        fails_on(answer(with(a(), "response", json!("ignore"))), "response", "one of confirm");
        fails_on(answer(with(a(), "report", json!(-1))), "report", "negative");
        fails_on(answer(with(examples()[2].clone(), "statement", Value::Null)), "statement", "required to dispute");
        fails_on(answer(with(examples()[3].clone(), "corrections", json!({}))), "corrections", "required");
        fails_on(answer(with(examples()[2].clone(), "disclosure_entry", json!(3))), "disclosure_entry", "only for");
        let mut bad = answer(with(examples()[3].clone(), "corrections", json!({"accelerators": -4}))).expect("shape");
        let errors = bad.check_corrections(ReportedKind::Lockup);
        assert!(errors.iter().any(|e| e.field == "corrections.accelerators"), "{errors:?}");
    }

    #[test]
    fn a_confirmation_as_sent_may_name_a_disclosure_of_the_same_request_but_a_stored_one_may_not() {
        let sent = |value: Value| {
            let Value::Object(mut map) = value else { panic!("object") };
            map.remove("kind");
            Answer::parse_input(map)
        };
        let by_position = json!({"kind": "answer", "report": 12, "response": "confirm", "disclosure_position": 0});
        let (pending, disclosure) = sent(by_position.clone()).expect("valid as sent");
        assert_eq!((pending.disclosure_entry, disclosure), (None, Some(DisclosureRef::InBatch(0))));
        let (filed, disclosure) = sent(examples()[1].clone()).expect("by entry");
        assert_eq!(disclosure, filed.disclosure_entry.map(DisclosureRef::Entry));
        // Stored entries always carry the entry index: a position means nothing outside its request.
        fails_on(answer(by_position.clone()), "disclosure_position", "");
        fails_on(sent(with(by_position.clone(), "disclosure_entry", json!(3))), "disclosure_position", "not both");
        fails_on(sent(with(by_position.clone(), "disclosure_position", json!(-1))), "disclosure_position", "negative");
        let dispute = with(examples()[2].clone(), "disclosure_position", json!(1));
        fails_on(sent(dispute), "disclosure_position", "only for");
        fails_on(
            sent(with(examples()[1].clone(), "disclosure_entry", Value::Null)),
            "disclosure_entry",
            "disclosure_position",
        );
    }

    #[test]
    fn only_reports_and_answers_are_third_party() {
        assert!(is_third_party("report") && is_third_party("answer"));
        assert!(!is_third_party("lockup"));
        let stored = |value: Value| {
            let Value::Object(mut map) = value else { panic!("object") };
            map.remove("kind");
            Value::Object(map)
        };
        assert!(check_entry("report", stored(examples()[0].clone())).is_ok());
        assert!(check_entry("answer", stored(examples()[2].clone())).is_ok());
        assert!(check_entry("report", json!({"about": "x"})).is_err());
        assert!(check_entry("lockup", stored(crate::records::kinds::examples()[3].clone())).is_ok());
    }
}
