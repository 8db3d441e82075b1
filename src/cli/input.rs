//! Reading `floe upsert` inputs: Parquet files, and CSV files with a header line. A CSV
//! file's columns take the table's types (or inferred types for a new table).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::csv::reader::Format;
use arrow::csv::ReaderBuilder;
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef as ArrowSchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use floe_upsert::OP_COLUMN;

const BATCH_ROWS: usize = 64 * 1024;

/// An input file that cannot be read: which, and why.
#[derive(Debug, thiserror::Error)]
#[error("input {path}: {message}")]
pub struct InputFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Parquet,
    Csv,
}

/// One input file.
#[derive(Clone, Debug)]
pub struct InputFile {
    /// Where it is.
    pub path: PathBuf,
    kind: Kind,
}

impl InputFile {
    /// Recognizes the file by its extension: `.parquet`/`.pq` or `.csv`.
    pub fn new(path: &Path) -> Result<Self, InputFileError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let kind = match ext.as_deref() {
            Some("parquet" | "pq") => Kind::Parquet,
            Some("csv") => Kind::Csv,
            _ => return Err(self_error(path, "unknown format: name it .parquet or .csv")),
        };
        if !path.is_file() {
            return Err(self_error(path, "no such file"));
        }
        Ok(Self {
            path: path.to_path_buf(),
            kind,
        })
    }

    fn error(&self, message: impl std::fmt::Display) -> InputFileError {
        self_error(&self.path, message)
    }

    fn open(&self) -> Result<File, InputFileError> {
        File::open(&self.path).map_err(|e| self.error(e))
    }

    /// The file's columns. For CSV, `table` gives the types of the columns it names.
    pub fn schema(&self, table: Option<&ArrowSchema>) -> Result<ArrowSchemaRef, InputFileError> {
        match self.kind {
            Kind::Parquet => {
                let builder = ParquetRecordBatchReaderBuilder::try_new(self.open()?)
                    .map_err(|e| self.error(format!("not a readable Parquet file: {e}")))?;
                Ok(builder.schema().clone())
            }
            Kind::Csv => {
                let (inferred, _) = Format::default()
                    .with_header(true)
                    .infer_schema(self.open()?, Some(1000))
                    .map_err(|e| self.error(format!("not a readable CSV file: {e}")))?;
                let Some(table) = table else {
                    return Ok(Arc::new(inferred));
                };
                let fields: Vec<Field> = inferred
                    .fields()
                    .iter()
                    .map(|f| {
                        let ty = if f.name() == OP_COLUMN {
                            DataType::Utf8
                        } else {
                            table
                                .field_with_name(f.name())
                                .map(|t| t.data_type().clone())
                                .unwrap_or_else(|_| f.data_type().clone())
                        };
                        Field::new(f.name(), ty, true)
                    })
                    .collect();
                Ok(Arc::new(ArrowSchema::new(fields)))
            }
        }
    }

    /// The file's rows, in batches.
    pub fn batches(
        &self,
        table: Option<&ArrowSchema>,
    ) -> Result<Box<dyn Iterator<Item = Result<RecordBatch, InputFileError>>>, InputFileError> {
        let this = self.clone();
        let wrap = move |r: Result<RecordBatch, arrow::error::ArrowError>| {
            r.map_err(|e| this.error(format!("reading rows: {e}")))
        };
        match self.kind {
            Kind::Parquet => {
                let reader = ParquetRecordBatchReaderBuilder::try_new(self.open()?)
                    .and_then(|b| b.with_batch_size(BATCH_ROWS).build())
                    .map_err(|e| self.error(format!("not a readable Parquet file: {e}")))?;
                Ok(Box::new(reader.map(wrap)))
            }
            Kind::Csv => {
                let reader = ReaderBuilder::new(self.schema(table)?)
                    .with_header(true)
                    .with_batch_size(BATCH_ROWS)
                    .build(self.open()?)
                    .map_err(|e| self.error(format!("not a readable CSV file: {e}")))?;
                Ok(Box::new(reader.map(wrap)))
            }
        }
    }
}

fn self_error(path: &Path, message: impl std::fmt::Display) -> InputFileError {
    InputFileError {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}
