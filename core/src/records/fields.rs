//! Reading one submitted record, field by field, collecting every problem with
//! its field name instead of stopping at the first. Unknown fields are errors.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::Slug;
use super::domain::{self, Amount, Count, Lines};

/// One problem with one field of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Field name (`""` for the record as a whole).
    pub field: String,
    /// What is wrong, for a person.
    pub reason: String,
}

/// A record's fields, with the problems found so far.
#[derive(Debug)]
pub struct Fields {
    /// The fields not read yet: each is taken out as it is read (no copy), so what is
    /// left at the end is what the kind does not have.
    map: Map<String, Value>,
    /// Problems found.
    pub errors: Vec<FieldError>,
}

impl Fields {
    /// Wraps a record's JSON object.
    pub fn new(map: Map<String, Value>) -> Self {
        Self { map, errors: Vec::new() }
    }

    /// Records a problem.
    pub fn error(&mut self, field: &str, reason: impl Into<String>) {
        self.errors.push(FieldError { field: field.to_owned(), reason: reason.into() });
    }

    fn take(&mut self, field: &str) -> Option<Value> {
        match self.map.remove(field) {
            None | Some(Value::Null) => None,
            Some(value) => Some(value),
        }
    }

    /// A field's value as sent (absent or null: `None`), for shapes the readers below do not cover.
    pub fn raw(&mut self, field: &str) -> Option<Value> {
        self.take(field)
    }

    fn required(&mut self, field: &str) -> Option<Value> {
        let value = self.take(field);
        if value.is_none() {
            self.error(field, "is required");
        }
        value
    }

    fn as_text(&mut self, field: &str, value: Value) -> Option<String> {
        match value {
            Value::String(text) => Some(text),
            other => {
                self.error(field, format!("must be a string, got {}", type_name(&other)));
                None
            }
        }
    }

    /// A required one-line string, trimmed, 1..=max characters.
    pub fn text(&mut self, field: &str, max: usize) -> Option<String> {
        let value = self.required(field)?;
        self.check_text(field, value, max, Lines::One)
    }

    /// An optional string, trimmed, 1..=max characters, on one line or (`Lines::Many`) several.
    pub fn optional_text(&mut self, field: &str, max: usize, lines: Lines) -> Option<String> {
        let value = self.take(field)?;
        self.check_text(field, value, max, lines)
    }

    fn check_text(&mut self, field: &str, value: Value, max: usize, lines: Lines) -> Option<String> {
        let text = self.as_text(field, value)?;
        let trimmed = text.trim();
        let length = trimmed.chars().count();
        if length == 0 {
            self.error(field, "must not be empty");
            None
        } else if length > max {
            self.error(field, format!("must be at most {max} characters, got {length}"));
            None
        } else if let Some((position, reason)) =
            trimmed.chars().enumerate().find_map(|(i, c)| domain::forbidden_char(c, lines).map(|r| (i, r)))
        {
            self.error(field, format!("must not contain {reason}; found one at character {}", position + 1));
            None
        } else {
            Some(trimmed.to_owned())
        }
    }

    /// A required slug.
    pub fn slug(&mut self, field: &str) -> Option<Slug> {
        let value = self.required(field)?;
        let text = self.as_text(field, value)?;
        Slug::parse(&text).map_err(|error| self.error(field, error.to_string())).ok()
    }

    pub fn optional_slug(&mut self, field: &str) -> Option<Slug> {
        let value = self.take(field)?;
        let text = self.as_text(field, value)?;
        Slug::parse(&text).map_err(|error| self.error(field, error.to_string())).ok()
    }

    /// A required value from a fixed set of names.
    pub fn choice<T: Copy>(&mut self, field: &str, options: &[(&str, T)]) -> Option<T> {
        let value = self.required(field)?;
        let text = self.as_text(field, value)?;
        match options.iter().find(|(name, _)| *name == text) {
            Some((_, value)) => Some(*value),
            None => {
                let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
                self.error(field, format!("must be one of {}, got {text:?}", names.join(", ")));
                None
            }
        }
    }

    /// A required ISO 8601 calendar date (YYYY-MM-DD).
    pub fn date(&mut self, field: &str) -> Option<NaiveDate> {
        let value = self.required(field)?;
        self.check_date(field, value)
    }

    pub fn optional_date(&mut self, field: &str) -> Option<NaiveDate> {
        let value = self.take(field)?;
        self.check_date(field, value)
    }

    fn check_date(&mut self, field: &str, value: Value) -> Option<NaiveDate> {
        let text = self.as_text(field, value)?;
        match iso_date(&text) {
            Some(date) => match domain::check_date(date) {
                None => Some(date),
                Some(reason) => {
                    self.error(field, reason);
                    None
                }
            },
            None => {
                self.error(field, format!("must be a date as YYYY-MM-DD, got {text:?}"));
                None
            }
        }
    }

    /// A required whole number within `domain`.
    pub fn count(&mut self, field: &str, domain: Count) -> Option<u64> {
        let value = self.required(field)?;
        self.check_count(field, value, domain)
    }

    /// An optional whole number within `domain`.
    pub fn optional_count(&mut self, field: &str, domain: Count) -> Option<u64> {
        let value = self.take(field)?;
        self.check_count(field, value, domain)
    }

    fn check_count(&mut self, field: &str, value: Value, domain: Count) -> Option<u64> {
        match whole_number(&value, domain) {
            Ok(n) => Some(n),
            Err(reason) => {
                self.error(field, reason);
                None
            }
        }
    }

    /// A required decimal given as a string (money, ratios): never a float.
    pub fn decimal(&mut self, field: &str, domain: Amount) -> Option<Decimal> {
        let value = self.required(field)?;
        self.check_decimal(field, value, domain)
    }

    /// An optional decimal string.
    pub fn optional_decimal(&mut self, field: &str, domain: Amount) -> Option<Decimal> {
        let value = self.take(field)?;
        self.check_decimal(field, value, domain)
    }

    fn check_decimal(&mut self, field: &str, value: Value, domain: Amount) -> Option<Decimal> {
        match decimal(&value, domain) {
            Ok(d) => Some(d),
            Err(reason) => {
                self.error(field, reason);
                None
            }
        }
    }

    /// Reports every field that was not read.
    pub fn finish(mut self) -> Vec<FieldError> {
        let unknown: Vec<String> = self.map.keys().cloned().collect();
        for field in unknown {
            self.error(&field, "is not a field of this kind");
        }
        self.errors
    }
}

/// A calendar date written exactly `YYYY-MM-DD`. (By hand rather than with chrono's
/// format parser: `verify` decodes every entry of the ledger, and this is most of a
/// record's dates; the calendar check is still chrono's.)
fn iso_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range].iter().try_fold(0_u32, |n, b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
    };
    NaiveDate::from_ymd_opt(i32::try_from(number(0..4)?).ok()?, number(5..7)?, number(8..10)?)
}

/// A whole number in `domain`, from a JSON integer or (CSV cells arrive as text) a
/// string of ASCII digits. Floats are refused even when whole (`1.0`, `1e3`, `-0`):
/// a JSON number with a point or exponent is a double, and the record must say
/// exactly the number the provider meant.
fn whole_number(value: &Value, domain: Count) -> Result<u64, String> {
    let n = match value {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(n), _) => n,
            (None, Some(_)) => return Err(format!("must not be negative, got {n}")),
            (None, None) => {
                let reason = match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() > domain.max as f64 => {
                        format!("must be at most {}, got {n}", domain.max)
                    }
                    _ => format!("must be a whole number written without a point or exponent, got {n}"),
                };
                return Err(reason);
            }
        },
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => match s.parse::<u64>() {
            Ok(n) => n,
            Err(_) => return Err(format!("must be at most {}, got {s}", domain.max)),
        },
        other => return Err(format!("must be a whole number, got {}", describe(other))),
    };
    match domain.check(n) {
        None => Ok(n),
        Some(reason) => Err(reason),
    }
}

/// A decimal in `domain`, written as a plain string such as "2.49" (JSON numbers are doubles).
fn decimal(value: &Value, domain: Amount) -> Result<Decimal, String> {
    let Value::String(text) = value else {
        return Err(format!(
            "must be a decimal written as a string, such as \"2.49\" (JSON numbers are floating point), got {}",
            describe(value)
        ));
    };
    let plain = !text.is_empty()
        && text.len() <= domain::MAX_DECIMAL_TEXT
        && text.bytes().enumerate().all(|(i, b)| b.is_ascii_digit() || b == b'.' || (b == b'-' && i == 0))
        && text.bytes().filter(|b| *b == b'.').count() <= 1
        && text.bytes().any(|b| b.is_ascii_digit())
        && !text.starts_with('.')
        && !text.starts_with("-.")
        && !text.ends_with('.');
    if !plain {
        return Err(format!("must be a plain decimal such as \"2.49\", got {:?}", shorten(text)));
    }
    let number = Decimal::from_str_exact(text).map_err(|_| {
        format!(
            "must have at most {} digits after the point and be at most {}, got {:?}",
            domain.max_places,
            domain.max,
            shorten(text)
        )
    })?;
    match domain.check(number) {
        None => Ok(number.normalize()),
        Some(reason) => Err(reason),
    }
}

/// At most 60 characters of a bad value, for an error message.
fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => format!("{:?}", shorten(text)),
        Value::Number(number) => number.to_string(),
        other => type_name(other).to_owned(),
    }
}
