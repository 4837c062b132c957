//! The Frictionless Data Package (v2) describing a snapshot: one tabular
//! resource per CSV file, each with its Table Schema (type, description, unit,
//! constraints and enum values of every field) and its SHA-256. Generated from
//! the same schema as the exports and the data dictionary.

use serde_json::{Value, json};

use super::schema::{Domain, Field, FieldType};
use super::snapshot::FileSum;
use super::{CATALOG, Format};
use crate::db::ledger::StoredCheckpoint;

/// The package's file name.
pub const FILE: &str = "datapackage.json";

fn field(f: &Field) -> Value {
    let mut out = json!({"name": f.name, "type": f.kind.table_schema(), "description": f.description});
    let mut constraints = serde_json::Map::new();
    if f.required {
        constraints.insert("required".into(), json!(true));
    }
    if let Some(min) = f.minimum {
        constraints.insert("minimum".into(), json!(min));
    }
    match f.domain {
        Some(Domain::Count(count)) => {
            constraints.insert("minimum".into(), json!(count.min));
            constraints.insert("maximum".into(), json!(count.max));
        }
        Some(Domain::Amount(amount)) => {
            // Table Schema compares numbers; the bounds are small enough to be exact as JSON numbers.
            let number = |d: rust_decimal::Decimal| {
                d.to_string().parse::<serde_json::Number>().map_or(Value::Null, Value::Number)
            };
            constraints.insert("minimum".into(), number(amount.min));
            constraints.insert("maximum".into(), number(amount.max));
        }
        Some(Domain::Date) => {
            constraints.insert("minimum".into(), json!(crate::records::domain::DATES.start().to_string()));
            constraints.insert("maximum".into(), json!(crate::records::domain::DATES.end().to_string()));
        }
        Some(Domain::Text(max, _)) => {
            constraints.insert("maxLength".into(), json!(max));
        }
        None => {}
    }
    if !f.choices.is_empty() {
        constraints.insert("enum".into(), json!(f.choices));
    }
    if !constraints.is_empty() {
        out["constraints"] = Value::Object(constraints);
    }
    if let Some(unit) = f.unit {
        // Not a Table Schema keyword; descriptors may carry extra properties.
        out["unit"] = json!(unit);
    }
    match f.kind {
        FieldType::Decimal => out["description"] = json!(format!("{} Exact decimal, as filed.", f.description)),
        FieldType::DateTime => out["format"] = json!("any"),
        _ => {}
    }
    out
}

/// The package for a snapshot at `checkpoint` whose files have `sums`, as pretty JSON.
pub fn describe(checkpoint: &StoredCheckpoint, sums: &[FileSum]) -> Vec<u8> {
    let size = checkpoint.size;
    let resources: Vec<Value> = CATALOG
        .iter()
        .filter_map(|d| {
            let path = d.file_name(size, Format::Csv);
            let sum = sums.iter().find(|s| s.name == path)?;
            // One policy for entries whose record no longer decodes: left out, and named here.
            let left_out = match sum.unreadable.as_slice() {
                [] => String::new(),
                list => format!(
                    " Left out: {} entr{} whose record does not decode under today's rules (entry {}); \
                     they are in the entries dataset, byte for byte.",
                    list.len(),
                    if list.len() == 1 { "y" } else { "ies" },
                    list.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                ),
            };
            Some(json!({
                "name": d.name,
                "title": d.title,
                "description": format!("{} Also in this snapshot as {} and {}.{left_out}", d.description,
                    d.file_name(size, Format::Ndjson), d.file_name(size, Format::Parquet)),
                "path": path,
                "type": "table",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "bytes": sum.bytes,
                "hash": format!("sha256:{}", sum.sha256),
                "dialect": {"header": true, "delimiter": ",", "lineTerminator": "\r\n", "quoteChar": "\""},
                "schema": {"fields": d.fields().iter().map(field).collect::<Vec<_>>(), "missingValues": [""]},
            }))
        })
        .collect();
    let package = json!({
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": format!("gatelog-{size}"),
        "title": format!("Gatelog datasets at ledger checkpoint {size}"),
        "description": format!(
            "Every Gatelog dataset computed from the first {size} entries of the ledger, whose signed checkpoint \
             (root {}) is in checkpoint.txt. Recompute and check with `gatelog verify --snapshot DIR`.",
            hex::encode(checkpoint.root)
        ),
        "version": size.to_string(),
        "created": checkpoint.signed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "resources": resources,
    });
    let mut out = serde_json::to_vec_pretty(&package).unwrap_or_default();
    out.push(b'\n');
    out
}
