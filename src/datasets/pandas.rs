//! The `pandas` key-value metadata of our Parquet files: which pandas dtype each
//! column becomes, so pandas (and every tool that reads Parquet through it, such as
//! frictionless) keeps a missing value missing. Without it pyarrow turns an integer
//! column with a null into floats with NaN, a null float into NaN and a null
//! timestamp into NaT, none of which is "no value".
//! <https://pandas.pydata.org/docs/development/developer.html#storing-pandas-dataframe-objects-in-apache-parquet-format>

use polars::prelude::{KeyValueMetadata, Schema};
use polars_parquet::write::KeyValue;
use serde_json::{Value, json};

use super::schema::{DECIMAL_PRECISION, DECIMAL_SCALE, Field, FieldType};
use super::source::ExportError;

/// The Parquet key-value metadata key pyarrow reads the description from.
pub const KEY: &str = "pandas";

/// `(pandas_type, numpy_type)` of a column, as pyarrow writes them for the same frame.
/// `numpy_type` names the dtype pyarrow restores: pandas' nullable extension dtypes
/// for integers, floats and booleans (missing is `NA`), an Arrow-backed timestamp
/// (missing is `NA`, not `NaT`), plain objects for text, dates and decimals (missing is `None`).
fn dtypes(kind: FieldType) -> (&'static str, &'static str) {
    match kind {
        FieldType::String => ("unicode", "object"),
        FieldType::Integer => ("int64", "Int64"),
        FieldType::Number => ("float64", "Float64"),
        FieldType::Decimal => ("decimal", "object"),
        FieldType::Date => ("date", "object"),
        FieldType::DateTime => ("datetimetz", "timestamp[us, tz=UTC][pyarrow]"),
        FieldType::Boolean => ("bool", "boolean"),
    }
}

/// The JSON value of the [`KEY`] entry for a file with `fields`: no index, one entry per column.
pub fn metadata(fields: &[Field]) -> String {
    let columns: Vec<Value> = fields
        .iter()
        .map(|f| {
            let (pandas_type, numpy_type) = dtypes(f.kind);
            let metadata = match f.kind {
                FieldType::Decimal => json!({"precision": DECIMAL_PRECISION, "scale": DECIMAL_SCALE}),
                _ => Value::Null,
            };
            json!({"name": f.name, "field_name": f.name, "pandas_type": pandas_type,
                "numpy_type": numpy_type, "metadata": metadata})
        })
        .collect();
    json!({"index_columns": [], "column_indexes": [], "columns": columns}).to_string()
}

/// The file-level key-value metadata of a Parquet file with `schema` (built from `fields`):
/// the description under [`KEY`], and the Arrow schema (`ARROW:schema`, which polars would
/// otherwise write bare) with the same entry in its own metadata. pyarrow's dataset reader,
/// behind `pq.read_table` and `pandas.read_parquet`, takes the schema metadata from there only
/// and ignores the file's other keys; `ParquetFile.read` reads the file's.
pub fn key_value_metadata(schema: &Schema, fields: &[Field]) -> Result<KeyValueMetadata, ExportError> {
    let description = metadata(fields);
    let mut arrow = polars::io::schema_to_arrow_checked(schema, polars::prelude::CompatLevel::newest(), "parquet")
        .map_err(|e| ExportError::Encode(e.to_string()))?;
    arrow.metadata_mut().insert(KEY.into(), description.as_str().into());
    Ok(KeyValueMetadata::Static(vec![
        polars_parquet::write::schema_to_metadata_key(&arrow),
        KeyValue { key: KEY.into(), value: Some(description) },
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::schema::compliance_fields;

    #[test]
    fn every_column_is_described_in_order_with_a_nullable_dtype() {
        let fields = compliance_fields();
        let value: Value = serde_json::from_str(&metadata(&fields)).expect("json");
        assert_eq!(value["index_columns"], json!([]));
        let columns = value["columns"].as_array().expect("columns");
        assert_eq!(columns.len(), fields.len());
        for (column, field) in columns.iter().zip(&fields) {
            assert_eq!(column["field_name"], field.name);
            let expected = match field.kind {
                FieldType::Integer => "Int64",
                FieldType::DateTime => "timestamp[us, tz=UTC][pyarrow]",
                _ => continue,
            };
            assert_eq!(column["numpy_type"], expected, "{}", field.name);
        }
        assert!(fields.iter().any(|f| f.kind == FieldType::Integer && !f.required), "a nullable integer is covered");
    }
}
