//! One value of an exported row, typed, and how a record's JSON becomes a row.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::schema::{Field, FieldType};

/// A typed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Null,
    /// Whole number.
    Int(i64),
    /// Float (derived figures).
    Number(f64),
    /// Exact decimal, with the text as filed (so "2.50" stays "2.50").
    Decimal(Decimal, String),
    Text(String),
    Date(NaiveDate),
    /// Instant.
    DateTime(DateTime<Utc>),
    /// True or false.
    Bool(bool),
}

impl Cell {
    /// The value as CSV text (empty for null). Dates ISO 8601, instants RFC 3339 UTC
    /// with microseconds, decimals exactly as filed.
    pub fn to_text(&self) -> String {
        match self {
            Self::Null => String::new(),
            Self::Int(v) => v.to_string(),
            Self::Number(v) => format_number(*v),
            Self::Decimal(_, text) => text.clone(),
            Self::Text(v) => v.clone(),
            Self::Date(d) => d.to_string(),
            Self::DateTime(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            Self::Bool(v) => v.to_string(),
        }
    }

    /// The value as JSON: decimals as strings (JSON numbers are floating point).
    pub fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Int(v) => Value::from(*v),
            Self::Number(v) => serde_json::Number::from_f64(*v).map_or(Value::Null, Value::Number),
            Self::Decimal(_, text) => Value::String(text.clone()),
            Self::Text(v) => Value::String(v.clone()),
            Self::Date(_) | Self::DateTime(_) => Value::String(self.to_text()),
            Self::Bool(v) => Value::Bool(*v),
        }
    }
}

/// Shortest text that reads back as the same float (no exponent for ordinary figures).
fn format_number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 { format!("{v:.0}") } else { v.to_string() }
}

/// Why a stored value does not fit its column (a ledger written by an older version, say).
#[derive(Debug, thiserror::Error)]
#[error("field {field}: {reason}")]
pub struct CellError {
    /// The column.
    pub field: &'static str,
    pub reason: String,
}

/// Converts one JSON value of a record to its column's type.
pub fn from_json(field: &Field, value: Option<&Value>) -> Result<Cell, CellError> {
    let bad = |reason: String| CellError { field: field.name, reason };
    let Some(value) = value.filter(|v| !v.is_null()) else { return Ok(Cell::Null) };
    Ok(match field.kind {
        FieldType::String => match value {
            Value::String(s) => Cell::Text(s.clone()),
            other => Cell::Text(other.to_string()),
        },
        FieldType::Integer => Cell::Int(value.as_i64().ok_or_else(|| bad(format!("{value} is not an integer")))?),
        FieldType::Number => Cell::Number(value.as_f64().ok_or_else(|| bad(format!("{value} is not a number")))?),
        FieldType::Decimal => {
            let text = value.as_str().ok_or_else(|| bad(format!("{value} is not a decimal string")))?;
            let parsed = text.parse::<Decimal>().map_err(|e| bad(format!("{text:?}: {e}")))?;
            Cell::Decimal(parsed, text.to_owned())
        }
        FieldType::Date => {
            let text = value.as_str().ok_or_else(|| bad(format!("{value} is not a date")))?;
            Cell::Date(text.parse().map_err(|e| bad(format!("{text:?}: {e}")))?)
        }
        FieldType::Boolean => Cell::Bool(value.as_bool().ok_or_else(|| bad(format!("{value} is not true or false")))?),
        FieldType::DateTime => {
            let text = value.as_str().ok_or_else(|| bad(format!("{value} is not a date-time")))?;
            Cell::DateTime(
                DateTime::parse_from_rfc3339(text).map_err(|e| bad(format!("{text:?}: {e}")))?.with_timezone(&Utc),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::datasets::schema::price_fields;

    #[test]
    fn decimals_keep_the_text_as_filed_and_dates_stay_iso() {
        let fields = price_fields();
        let price = fields.iter().find(|f| f.name == "price_per_accelerator_hour").expect("field");
        let cell = from_json(price, Some(&json!("2.50"))).expect("decimal");
        assert_eq!(cell.to_text(), "2.50");
        assert_eq!(cell.to_json(), json!("2.50"));
        let date = fields.iter().find(|f| f.name == "effective_date").expect("field");
        assert_eq!(from_json(date, Some(&json!("2026-01-31"))).expect("date").to_text(), "2026-01-31");
        let cost = fields.iter().find(|f| f.name == "cost_basis_per_accelerator_hour").expect("field");
        assert_eq!(from_json(cost, None).expect("absent"), Cell::Null);
        let error = from_json(price, Some(&json!(2.5))).expect_err("a float is not a decimal");
        assert!(error.to_string().contains("price_per_accelerator_hour"), "{error}");
    }

    #[test]
    fn numbers_print_without_needless_exponents() {
        assert_eq!(Cell::Number(7200.0).to_text(), "7200");
        assert_eq!(Cell::Number(0.375).to_text(), "0.375");
        assert_eq!(
            Cell::DateTime("2026-01-02T03:04:05.123456Z".parse().expect("time")).to_text(),
            "2026-01-02T03:04:05.123456Z"
        );
    }
}
