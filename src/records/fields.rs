//! Reading one submitted record, field by field, collecting every problem with
//! its field name instead of stopping at the first. Unknown fields are errors.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::Slug;

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
    map: Map<String, Value>,
    read: BTreeSet<String>,
    /// Problems found.
    pub errors: Vec<FieldError>,
}

impl Fields {
    /// Wraps a record's JSON object.
    pub fn new(map: Map<String, Value>) -> Self {
        Self { map, read: BTreeSet::new(), errors: Vec::new() }
    }

    /// Records a problem.
    pub fn error(&mut self, field: &str, reason: impl Into<String>) {
        self.errors.push(FieldError { field: field.to_owned(), reason: reason.into() });
    }

    fn take(&mut self, field: &str) -> Option<Value> {
        self.read.insert(field.to_owned());
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(value) => Some(value.clone()),
        }
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

    /// A required string, trimmed, 1..=max characters.
    pub fn text(&mut self, field: &str, max: usize) -> Option<String> {
        let value = self.required(field)?;
        self.check_text(field, value, max)
    }

    /// An optional string, trimmed, 1..=max characters.
    pub fn optional_text(&mut self, field: &str, max: usize) -> Option<String> {
        let value = self.take(field)?;
        self.check_text(field, value, max)
    }

    fn check_text(&mut self, field: &str, value: Value, max: usize) -> Option<String> {
        let text = self.as_text(field, value)?;
        let trimmed = text.trim();
        let length = trimmed.chars().count();
        if length == 0 {
            self.error(field, "must not be empty");
            None
        } else if length > max {
            self.error(field, format!("must be at most {max} characters, got {length}"));
            None
        } else if trimmed.chars().any(|c| c.is_control() && c != '\n') {
            self.error(field, "must not contain control characters");
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

    /// An optional date.
    pub fn optional_date(&mut self, field: &str) -> Option<NaiveDate> {
        let value = self.take(field)?;
        self.check_date(field, value)
    }

    fn check_date(&mut self, field: &str, value: Value) -> Option<NaiveDate> {
        let text = self.as_text(field, value)?;
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(date) if text.len() == 10 => Some(date),
            _ => {
                self.error(field, format!("must be a date as YYYY-MM-DD, got {text:?}"));
                None
            }
        }
    }

    /// A required whole number ≥ `min`.
    pub fn count(&mut self, field: &str, min: u64) -> Option<u64> {
        let value = self.required(field)?;
        self.check_count(field, value, min)
    }

    /// An optional whole number ≥ `min`.
    pub fn optional_count(&mut self, field: &str, min: u64) -> Option<u64> {
        let value = self.take(field)?;
        self.check_count(field, value, min)
    }

    fn check_count(&mut self, field: &str, value: Value, min: u64) -> Option<u64> {
        // CSV cells arrive as strings; accept a string of digits too.
        let number = match &value {
            Value::Number(n) => n.as_u64().or_else(|| n.as_i64().map(|_| u64::MAX)),
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
            _ => None,
        };
        match number {
            Some(n) if n != u64::MAX && n >= min => Some(n),
            Some(_) if value.as_i64().is_some_and(|n| n < 0) => {
                self.error(field, format!("must not be negative, got {value}"));
                None
            }
            Some(n) if n < min => {
                self.error(field, format!("must be at least {min}, got {n}"));
                None
            }
            _ => {
                self.error(field, format!("must be a whole number, got {}", describe(&value)));
                None
            }
        }
    }

    /// A required decimal given as a string (money, ratios): never a float.
    pub fn decimal(&mut self, field: &str) -> Option<Decimal> {
        let value = self.required(field)?;
        self.check_decimal(field, value)
    }

    /// An optional decimal string.
    pub fn optional_decimal(&mut self, field: &str) -> Option<Decimal> {
        let value = self.take(field)?;
        self.check_decimal(field, value)
    }

    fn check_decimal(&mut self, field: &str, value: Value) -> Option<Decimal> {
        let Value::String(text) = &value else {
            self.error(
                field,
                format!(
                    "must be a decimal written as a string, such as \"2.49\" (JSON numbers are floating point), got {}",
                    describe(&value)
                ),
            );
            return None;
        };
        let plain = !text.is_empty()
            && text.len() <= 30
            && text.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
            && text.bytes().filter(|b| *b == b'.').count() <= 1
            && !text.starts_with('.')
            && !text.ends_with('.');
        match Decimal::from_str_exact(text) {
            Ok(number) if plain => Some(number.normalize()),
            _ => {
                self.error(field, format!("must be a plain decimal such as \"2.49\", got {text:?}"));
                None
            }
        }
    }

    /// Reports every field that was not read.
    pub fn finish(mut self) -> Vec<FieldError> {
        let unknown: Vec<String> = self.map.keys().filter(|key| !self.read.contains(*key)).cloned().collect();
        for field in unknown {
            self.error(&field, "is not a field of this kind");
        }
        self.errors
    }
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
        Value::String(text) => format!("{text:?}"),
        Value::Number(number) => number.to_string(),
        other => type_name(other).to_owned(),
    }
}
