//! The Frictionless Data Package (v2) describing a snapshot: one tabular
//! resource per file (every dataset as CSV, NDJSON and Parquet), each with its
//! media type, its Table Schema (type, description, unit, constraints and enum
//! values of every field), its SHA-256 and, for CSV and NDJSON, its size. Generated from the same
//! schema as the exports and the data dictionary.
//! <https://datapackage.org/standard/data-package/>,
//! <https://datapackage.org/standard/data-resource/>.

use serde_json::{Value, json};

use super::schema::{Domain, Field, FieldType};
use super::versions::Versions;
use super::{CATALOG, Format};
use crate::db::ledger::StoredCheckpoint;

/// The package's file name.
pub const FILE: &str = "datapackage.json";

/// A file's name, SHA-256 and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSum {
    /// File name.
    pub name: String,
    /// Hex SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Entries left out of the file because their record no longer decodes.
    pub unreadable: Vec<u64>,
}

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

/// Data Package v2 profile, on the package (the one root-level descriptor).
const PACKAGE_PROFILE: &str = "https://datapackage.org/profiles/2.0/datapackage.json";
/// Table Schema v2 profile. Inline, it is informative: the package's `$schema` governs
/// validation (<https://datapackage.org/standard/glossary/#profile>).
const SCHEMA_PROFILE: &str = "https://datapackage.org/profiles/2.0/tableschema.json";
/// Table Dialect v2 profile, informative like the schema's.
const DIALECT_PROFILE: &str = "https://datapackage.org/profiles/2.0/tabledialect.json";

/// The media type of a resource in `format`: the served content type without its HTTP
/// parameters (for CSV, the dialect says what `header=present` says).
fn mediatype(format: Format) -> &'static str {
    format.content_type().split(';').next().unwrap_or_default()
}

/// The package for a snapshot at `checkpoint` whose files have `sums`, as pretty JSON.
/// Resources are listed CSV first (named as the datasets), then NDJSON (`NAME-ndjson`),
/// then Parquet (`NAME-parquet`). From format 2 it names the snapshot format and the
/// methodology version (`gatelog`, a property of our own, as descriptors may carry).
pub fn describe(checkpoint: &StoredCheckpoint, sums: &[FileSum], versions: Versions) -> Vec<u8> {
    let size = checkpoint.size;
    let resources: Vec<Value> = Format::ALL
        .into_iter()
        .flat_map(|format| CATALOG.iter().map(move |d| (format, d)))
        .filter_map(|(format, d)| {
            let path = d.file_name(size, format);
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
            let others: Vec<String> =
                Format::ALL.into_iter().filter(|f| *f != format).map(|f| d.file_name(size, f)).collect();
            let mut schema = json!({
                "$schema": SCHEMA_PROFILE,
                "fields": d.fields().iter().map(field).collect::<Vec<_>>(),
                "missingValues": [""],
            });
            let mut resource = json!({
                "name": if format == Format::Csv { d.name.to_owned() } else { format!("{}-{}", d.name, format.extension()) },
                "title": d.title,
                "description": format!("{} Also in this snapshot as {}.{left_out}", d.description, others.join(" and ")),
                "path": path,
                "type": "table",
                "format": format.extension(),
                "mediatype": mediatype(format),
                "hash": format!("sha256:{}", sum.sha256),
            });
            match format {
                Format::Csv => {
                    resource["bytes"] = json!(sum.bytes);
                    resource["encoding"] = json!("utf-8");
                    resource["dialect"] = json!({"$schema": DIALECT_PROFILE, "header": true, "delimiter": ",",
                        "lineTerminator": "\r\n", "quoteChar": "\""});
                }
                Format::Ndjson => {
                    resource["bytes"] = json!(sum.bytes);
                    resource["encoding"] = json!("utf-8");
                    // Each line is a JSON object, whose keys have no order: match fields by name.
                    schema["fieldsMatch"] = json!("equal");
                }
                // No `bytes`: frictionless reads Parquet with pyarrow, not through its byte
                // loader, so it has no count to compare and reports any declared one as wrong
                // (the hash it skips when it has none). The hash stays, here and in SHA256SUMS,
                // and `gatelog verify snapshot` checks it.
                Format::Parquet => {}
            }
            resource["schema"] = schema;
            Some(resource)
        })
        .collect();
    let mut package = json!({
        "$schema": PACKAGE_PROFILE,
        "name": format!("gatelog-{size}"),
        "title": format!("Gatelog datasets at ledger checkpoint {size}"),
        "description": format!(
            "Every Gatelog dataset computed from the first {size} entries of the ledger, whose signed checkpoint \
             (root {}) is in checkpoint.txt. Recompute and check with `gatelog verify snapshot DIR`.",
            hex::encode(checkpoint.root)
        ),
        "version": size.to_string(),
        "created": checkpoint.signed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "resources": resources,
    });
    if let Some(property) = versions.property() {
        package["gatelog"] = property;
    }
    // A JSON value's pretty text, as `serde_json::to_vec_pretty` writes it, which cannot fail.
    format!("{package:#}\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_a_v2_table_resource_with_its_media_type() {
        let checkpoint = StoredCheckpoint {
            id: 1,
            size: 7,
            root: Default::default(),
            note: String::new(),
            signed_at: chrono::DateTime::UNIX_EPOCH,
        };
        let sums: Vec<FileSum> = CATALOG
            .iter()
            .flat_map(|d| Format::ALL.map(|f| d.file_name(7, f)))
            .map(|name| FileSum { name, sha256: "00".repeat(32), bytes: 1, unreadable: Vec::new() })
            .collect();
        let package: Value = serde_json::from_slice(&describe(&checkpoint, &sums, Versions::CURRENT)).expect("json");
        assert_eq!(package["$schema"], PACKAGE_PROFILE);
        assert_eq!(Versions::of_package(&package), Ok(Versions::CURRENT), "it names its versions");
        let resources = package["resources"].as_array().expect("resources");
        assert_eq!(resources.len(), CATALOG.len() * 3);
        for (format, mediatype, first) in [
            ("csv", "text/csv", 0),
            ("ndjson", "application/x-ndjson", CATALOG.len()),
            ("parquet", "application/vnd.apache.parquet", 2 * CATALOG.len()),
        ] {
            let resource = &resources[first];
            assert_eq!(resource["format"], format, "{resource}");
            assert_eq!(resource["mediatype"], mediatype);
            assert_eq!(resource["type"], "table");
            assert_eq!(resource["schema"]["$schema"], SCHEMA_PROFILE);
            assert!(resource["path"].as_str().expect("path").ends_with(&format!(".{format}")));
        }
        assert_eq!(resources[0]["name"], CATALOG[0].name);
        assert_eq!(resources[CATALOG.len()]["name"], format!("{}-ndjson", CATALOG[0].name));
        assert_eq!(resources[CATALOG.len()]["schema"]["fieldsMatch"], "equal");
        assert!(resources[2 * CATALOG.len()].get("encoding").is_none(), "Parquet is binary");
        assert_eq!(resources[0]["bytes"], 1);
        assert_eq!(resources[CATALOG.len()]["bytes"], 1);
        assert!(resources[2 * CATALOG.len()].get("bytes").is_none(), "frictionless cannot count Parquet bytes");
    }
}
