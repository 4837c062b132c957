//! Dataset files decoded back into rows of values, to compare a file published under an
//! earlier snapshot format with today's recomputation when the encoding changed in between
//! (same values, different bytes: Parquet gained pandas' metadata, the grades table gained
//! a column). Both sides are decoded by the same code, so a value compares equal exactly
//! when it decodes to the same text.

use polars::prelude::*;

use super::Format;

/// A decoded file: column names and, per row, each column's value as text (`None`: null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Column names, as in the file.
    pub columns: Vec<String>,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<Option<String>>>,
}

/// Decodes `bytes` written in `format`.
pub fn decode(format: Format, bytes: &[u8]) -> Result<Table, String> {
    match format {
        Format::Csv => csv_table(bytes),
        Format::Ndjson => ndjson_table(bytes),
        Format::Parquet => parquet_table(bytes),
    }
}

fn csv_table(bytes: &[u8]) -> Result<Table, String> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let columns = reader.headers().map_err(|e| e.to_string())?.iter().map(str::to_owned).collect();
    let rows = reader
        .records()
        .map(|row| {
            row.map(|row| row.iter().map(|cell| (!cell.is_empty()).then(|| cell.to_owned())).collect())
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    Ok(Table { columns, rows })
}

fn json_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(n) => Some(match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => f.to_string(),
            (None, None) => n.to_string(),
        }),
        other => Some(other.to_string()),
    }
}

fn ndjson_table(bytes: &[u8]) -> Result<Table, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let mut columns: Vec<String> = Vec::new();
    let mut objects = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        for key in object.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
        objects.push(object);
    }
    let rows =
        objects.iter().map(|object| columns.iter().map(|c| object.get(c).and_then(json_text)).collect()).collect();
    Ok(Table { columns, rows })
}

fn parquet_table(bytes: &[u8]) -> Result<Table, String> {
    let frame = ParquetReader::new(std::io::Cursor::new(bytes)).finish().map_err(|e| e.to_string())?;
    let mut texts = Vec::with_capacity(frame.width());
    for column in frame.columns() {
        let failed = |e: PolarsError| format!("column {}: {e}", column.name());
        // Times as their microseconds since the epoch: polars will not format a zoned time
        // read back from Parquet as text.
        let column = match column.dtype() {
            DataType::Datetime(..) => column.cast(&DataType::Int64).map_err(failed)?,
            _ => column.clone(),
        };
        let cast = column.cast(&DataType::String).map_err(failed)?;
        let values = cast.str().map_err(|e| e.to_string())?;
        texts.push((0..values.len()).map(|i| values.get(i).map(str::to_owned)).collect::<Vec<_>>());
    }
    let rows = (0..frame.height()).map(|r| texts.iter().map(|column| column[r].clone()).collect()).collect();
    Ok(Table { columns: frame.get_column_names().iter().map(|n| n.to_string()).collect(), rows })
}

/// Compares a published table with the recomputed one on the published columns: every one
/// must be recomputed, row for row, value for value. Returns the recomputed columns the
/// published file does not have (added by a later format), or the first difference.
pub fn compare(published: &Table, recomputed: &Table) -> Result<Vec<String>, String> {
    let mut at = Vec::with_capacity(published.columns.len());
    for column in &published.columns {
        match recomputed.columns.iter().position(|c| c == column) {
            Some(i) => at.push(i),
            None => return Err(format!("column {column} is published, but the ledger gives no such column")),
        }
    }
    if published.rows.len() != recomputed.rows.len() {
        return Err(format!("{} rows published, the ledger gives {}", published.rows.len(), recomputed.rows.len()));
    }
    for (r, (theirs, ours)) in published.rows.iter().zip(&recomputed.rows).enumerate() {
        for (c, column) in published.columns.iter().enumerate() {
            let (p, o) = (theirs.get(c).cloned().flatten(), ours.get(at[c]).cloned().flatten());
            if p != o {
                let label = ours.iter().take(3).map(|v| v.as_deref().unwrap_or("")).collect::<Vec<_>>().join(", ");
                return Err(format!(
                    "row {} ({label}) column {column}: published {:?}, the ledger gives {:?}",
                    r + 1,
                    p.unwrap_or_default(),
                    o.unwrap_or_default()
                ));
            }
        }
    }
    Ok(recomputed.columns.iter().filter(|c| !published.columns.contains(c)).cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::cell::Cell;
    use crate::datasets::encode;
    use crate::datasets::schema::{Field, grade_fields};

    /// The grades table's columns without its last (the methodology version), as format 1 had them.
    fn narrow() -> Vec<Field> {
        let mut fields = grade_fields();
        fields.pop();
        fields
    }

    fn row(provider: &str, score: f64, detail: Option<&str>) -> Vec<Cell> {
        vec![
            Cell::Text(provider.into()),
            Cell::Text("D".into()),
            Cell::Number(score),
            Cell::Text("Queue fairness".into()),
            Cell::Number(20.0),
            Cell::Number(0.125),
            detail.map_or(Cell::Null, |d| Cell::Text(d.into())),
        ]
    }

    fn encoded(format: Format, fields: Vec<Field>, rows: &[Vec<Cell>]) -> Vec<u8> {
        let mut encoder = encode::encoder(format, fields, false).expect("encoder");
        for row in rows {
            encoder.row(row).expect("row");
        }
        encoder.finish().expect("finish");
        encoder.take()
    }

    #[test]
    fn every_format_decodes_to_the_same_rows_and_an_added_column_is_named() {
        let rows = vec![row("acme", 61.25, Some("one queue, \"quoted\"")), row("beta", 0.1, None)];
        for format in Format::ALL {
            let table = decode(format, &encoded(format, narrow(), &rows)).expect("decodes");
            assert_eq!(table.rows.len(), 2);
            let at = |name: &str| table.columns.iter().position(|c| c == name).expect("column");
            assert_eq!(table.rows[0][at("provider")].as_deref(), Some("acme"), "{format:?}");
            assert_eq!(table.rows[1][at("detail")], None, "{format:?}: null stays null");
            assert_eq!(compare(&table, &table), Ok(Vec::new()));
        }

        let wide_rows: Vec<Vec<Cell>> =
            rows.iter().map(|r| r.iter().cloned().chain([Cell::Int(1)]).collect()).collect();
        for format in Format::ALL {
            let old = decode(format, &encoded(format, narrow(), &rows)).expect("narrow");
            let new = decode(format, &encoded(format, grade_fields(), &wide_rows)).expect("wide");
            assert_eq!(compare(&old, &new), Ok(vec!["methodology".to_owned()]), "{format:?}");
            assert!(compare(&new, &old).expect_err("a column only published").contains("methodology"));
        }
    }

    #[test]
    fn a_changed_value_or_row_count_is_the_difference() {
        let rows = vec![row("acme", 61.25, None)];
        let changed = vec![row("acme", 99.9, None)];
        for format in Format::ALL {
            let ours = decode(format, &encoded(format, narrow(), &rows)).expect("ours");
            let theirs = decode(format, &encoded(format, narrow(), &changed)).expect("theirs");
            let error = compare(&theirs, &ours).expect_err("differs");
            assert!(error.contains("row 1") && error.contains("column score") && error.contains("99.9"), "{error}");
            let empty = decode(format, &encoded(format, narrow(), &[])).expect("empty");
            assert!(compare(&empty, &ours).expect_err("rows").contains("0 rows published"), "{format:?}");
        }
    }
}
