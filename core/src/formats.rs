//! Request bodies to records: `application/json` (one record or an array),
//! `application/x-ndjson` (one per line) and `text/csv` (one kind per file, header
//! row). Every problem is reported with where it is: the array index for JSON,
//! the line number for NDJSON and CSV.
//!
//! A record may carry its provider's `signature` (a JSON field, or a CSV column):
//! it is taken off before the record is validated and kept beside it, to be
//! checked against the provider's keys (see [`crate::records::signature`]).

use serde_json::{Map, Value};

use crate::api::ErrorDetail;
use crate::records::signature::RecordSignature;
use crate::records::{FieldError, Record, RecordKind};

/// Most problems listed in one response; the rest are counted.
pub const MAX_DETAILS: usize = 200;

/// A body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One record or an array of records.
    Json,
    /// One record per line.
    Ndjson,
    /// Header row and one record per row, all of one kind.
    Csv(RecordKind),
}

/// One parsed record and where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// Array index (JSON) or line number (NDJSON, CSV).
    pub position: usize,
    pub record: Record,
    /// The provider the record names, if it names one (it must be the token's).
    pub claimed_provider: Option<String>,
    /// The provider's signature over the record, if it carries one (not yet checked).
    pub signature: Option<RecordSignature>,
}

/// Why a body could not be turned into records.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyError {
    /// Not parseable at all (400).
    Malformed(String),
    /// Parseable, but some records are invalid (422).
    Invalid(Vec<ErrorDetail>),
}

/// Parses a body; all records or the list of what is wrong.
pub fn parse(format: Format, body: &[u8]) -> Result<Vec<Located>, BodyError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        BodyError::Malformed(format!("the body is not UTF-8 (invalid byte at offset {})", e.valid_up_to()))
    })?;
    let mut problems = Problems::default();
    let mut records = Vec::new();
    match format {
        Format::Json => {
            let value: Value =
                serde_json::from_str(text).map_err(|e| BodyError::Malformed(json_error("the body", &e)))?;
            let items = match value {
                Value::Array(items) => items,
                single => vec![single],
            };
            for (index, item) in items.into_iter().enumerate() {
                add(&mut records, &mut problems, index, item, None);
            }
        }
        Format::Ndjson => {
            for (number, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(line) {
                    Ok(item) => add(&mut records, &mut problems, number + 1, item, None),
                    Err(e) => problems.push(number + 1, "", json_error("the line", &e)),
                }
            }
        }
        Format::Csv(kind) => parse_csv(kind, text, &mut records, &mut problems),
    }
    if problems.details.is_empty() && records.is_empty() {
        return Err(BodyError::Invalid(vec![ErrorDetail {
            index: None,
            field: None,
            reason: "the body holds no records".into(),
        }]));
    }
    problems.finish()?;
    Ok(records)
}

/// Records from JSON values already split out of a body, each with its position there (a
/// provider's own records sent with its answers to reports: see the server's `gatelog::api::reports`).
pub fn records_of(items: Vec<(usize, Value)>) -> Result<Vec<Located>, BodyError> {
    let mut problems = Problems::default();
    let mut records = Vec::with_capacity(items.len());
    for (position, item) in items {
        add(&mut records, &mut problems, position, item, None);
    }
    problems.finish()?;
    Ok(records)
}

fn json_error(what: &str, error: &serde_json::Error) -> String {
    format!("{what} is not valid JSON: {error}")
}

fn add(records: &mut Vec<Located>, problems: &mut Problems, position: usize, item: Value, kind: Option<RecordKind>) {
    let (item, claimed_provider, signature) = match item {
        Value::Object(mut map) => {
            let claimed = match map.remove("provider") {
                Some(Value::String(slug)) => Some(slug),
                Some(Value::Null) | None => None,
                Some(_) => {
                    problems.push(position, "provider", "must be a string (your provider's slug)".into());
                    return;
                }
            };
            let signature = match map.remove("signature") {
                Some(Value::String(text)) => match RecordSignature::parse(&text) {
                    Ok(signature) => Some(signature),
                    Err(error) => {
                        problems.push(position, "signature", error.to_string());
                        return;
                    }
                },
                Some(Value::Null) | None => None,
                Some(_) => {
                    problems.push(position, "signature", "must be a string (a base64 Ed25519 signature)".into());
                    return;
                }
            };
            (Value::Object(map), claimed, signature)
        }
        other => (other, None, None),
    };
    let parsed = match (kind, item) {
        (Some(kind), Value::Object(map)) => Record::parse_kind(kind, map),
        (_, item) => Record::parse(item),
    };
    match parsed {
        Ok(record) => records.push(Located { position, record, claimed_provider, signature }),
        Err(errors) => {
            for FieldError { field, reason } in errors {
                problems.push(position, &field, reason);
            }
        }
    }
}

fn parse_csv(kind: RecordKind, text: &str, records: &mut Vec<Located>, problems: &mut Problems) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = match reader.headers() {
        Ok(headers) => headers.iter().map(|h| h.trim().to_owned()).collect::<Vec<_>>(),
        Err(e) => {
            problems.push(1, "", format!("the header row is not valid CSV: {e}"));
            return;
        }
    };
    if headers.iter().any(|h| h == "kind") {
        problems.push(1, "kind", "the kind is given by ?kind=, not a column".into());
        return;
    }
    for result in reader.records() {
        let row = match result {
            Ok(row) => row,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                let reason = match e.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                        format!("has {len} fields, but the header has {expected_len}")
                    }
                    _ => format!("is not valid CSV: {e}"),
                };
                problems.push(line, "", reason);
                continue;
            }
        };
        let line = row.position().map_or(0, |p| p.line() as usize);
        // Empty cells are absent values; every cell is text, which the field reader accepts for numbers.
        let map: Map<String, Value> = headers
            .iter()
            .zip(row.iter())
            .filter(|(_, cell)| !cell.trim().is_empty())
            .map(|(header, cell)| (header.clone(), Value::String(cell.trim().to_owned())))
            .collect();
        add(records, problems, line, Value::Object(map), Some(kind));
    }
}

#[derive(Default)]
struct Problems {
    details: Vec<ErrorDetail>,
    more: usize,
}

impl Problems {
    fn push(&mut self, position: usize, field: &str, reason: String) {
        if self.details.len() < MAX_DETAILS {
            self.details.push(ErrorDetail {
                index: Some(position),
                field: (!field.is_empty()).then(|| field.to_owned()),
                reason,
            });
        } else {
            self.more += 1;
        }
    }

    fn finish(mut self) -> Result<(), BodyError> {
        if self.details.is_empty() {
            return Ok(());
        }
        if self.more > 0 {
            self.details.push(ErrorDetail {
                index: None,
                field: None,
                reason: format!("... and {} more problems", self.more),
            });
        }
        Err(BodyError::Invalid(self.details))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const QUEUE_TIME: &str = r#"{"kind":"queue_time","period_start":"2026-10-01","period_end":"2026-11-01","resource":"nvidia-h100-80gb","region":"eu-de","tier":"spot","jobs":10,"p50_seconds":1,"p90_seconds":2,"p99_seconds":3}"#;

    fn details(result: Result<Vec<Located>, BodyError>) -> Vec<ErrorDetail> {
        match result {
            Err(BodyError::Invalid(details)) => details,
            other => panic!("expected invalid records, got {other:?}"),
        }
    }

    #[test]
    fn json_takes_one_record_or_an_array() {
        assert_eq!(parse(Format::Json, QUEUE_TIME.as_bytes()).expect("one").len(), 1);
        let array = format!("[{QUEUE_TIME},{QUEUE_TIME}]");
        let records = parse(Format::Json, array.as_bytes()).expect("two");
        assert_eq!(records.iter().map(|r| r.position).collect::<Vec<_>>(), [0, 1]);
    }

    #[test]
    fn malformed_json_says_where() {
        match parse(Format::Json, b"[{\"kind\": \"queue_time\",}]") {
            Err(BodyError::Malformed(message)) => assert!(message.contains("line 1 column"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ndjson_reports_line_numbers() {
        let body = format!("{QUEUE_TIME}\n\n{}\nnot json\n", QUEUE_TIME.replace("\"jobs\":10", "\"jobs\":-1"));
        let found = details(parse(Format::Ndjson, body.as_bytes()));
        assert_eq!(found[0].index, Some(3));
        assert_eq!(found[0].field.as_deref(), Some("jobs"));
        assert_eq!(found[1].index, Some(4));
        assert!(found[1].reason.contains("not valid JSON"));
    }

    #[test]
    fn csv_rows_become_records_and_bad_rows_say_their_line() {
        let good = "as_of,resource,region,total_accelerators,newcomer_set_aside,utilisation\n2026-11-01,nvidia-h100-80gb,eu-de,4096,256,0.8\n2026-11-01,nvidia-a100,eu-de,512,0,\n";
        let records = parse(Format::Csv(RecordKind::Capacity), good.as_bytes()).expect("valid");
        assert_eq!(records.iter().map(|r| r.position).collect::<Vec<_>>(), [2, 3]);

        let missing_column = "as_of,resource,region,total_accelerators\n2026-11-01,nvidia-h100-80gb,eu-de,4096\n";
        let found = details(parse(Format::Csv(RecordKind::Capacity), missing_column.as_bytes()));
        assert_eq!((found[0].index, found[0].field.as_deref()), (Some(2), Some("newcomer_set_aside")));

        let stray_quote =
            "as_of,resource,region,total_accelerators,newcomer_set_aside\n2026-11-01,\"nvidia,eu-de,4096,1\n";
        assert!(!details(parse(Format::Csv(RecordKind::Capacity), stray_quote.as_bytes())).is_empty());

        let short_row = "as_of,resource,region,total_accelerators,newcomer_set_aside\n2026-11-01,a,eu-de,4096\n";
        let found = details(parse(Format::Csv(RecordKind::Capacity), short_row.as_bytes()));
        assert!(found[0].reason.contains("has 4 fields, but the header has 5"), "{found:?}");
    }

    #[test]
    fn a_signature_is_taken_off_the_record_and_kept_beside_it() {
        let signature = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 64]);
        let signed = QUEUE_TIME.replacen('{', &format!("{{\"signature\":\"{signature}\","), 1);
        let records = parse(Format::Json, signed.as_bytes()).expect("valid");
        assert_eq!(records[0].signature.as_ref().map(RecordSignature::to_base64), Some(signature.clone()));
        assert!(parse(Format::Json, QUEUE_TIME.as_bytes()).expect("valid")[0].signature.is_none());

        let bad = QUEUE_TIME.replacen('{', "{\"signature\":\"c2hvcnQ=\",", 1);
        let found = details(parse(Format::Ndjson, bad.as_bytes()));
        assert_eq!((found[0].index, found[0].field.as_deref()), (Some(1), Some("signature")));

        let csv = format!(
            "as_of,resource,region,total_accelerators,newcomer_set_aside,signature\n2026-11-01,a100,eu-de,4,0,{signature}\n2026-11-01,h100,eu-de,4,0,\n"
        );
        let records = parse(Format::Csv(RecordKind::Capacity), csv.as_bytes()).expect("valid");
        assert!(records[0].signature.is_some() && records[1].signature.is_none());
    }

    #[test]
    fn empty_bodies_and_non_utf8_are_refused() {
        assert!(matches!(parse(Format::Json, b"[]"), Err(BodyError::Invalid(_))));
        assert!(matches!(parse(Format::Ndjson, b"\n\n"), Err(BodyError::Invalid(_))));
        assert!(matches!(parse(Format::Json, &[0xff, 0xfe]), Err(BodyError::Malformed(_))));
    }

    proptest! {
        #[test]
        fn any_bytes_in_any_format_give_records_or_located_errors(bytes in proptest::collection::vec(any::<u8>(), 0..400), which in 0usize..3) {
            let format = [Format::Json, Format::Ndjson, Format::Csv(RecordKind::Price)][which];
            match parse(format, &bytes) {
                Ok(records) => prop_assert!(!records.is_empty()),
                Err(BodyError::Malformed(message)) => prop_assert!(!message.is_empty()),
                Err(BodyError::Invalid(details)) => prop_assert!(!details.is_empty()),
            }
        }
    }
}
