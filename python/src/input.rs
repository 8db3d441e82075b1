//! Arrow data from Python: any object with `__arrow_c_stream__` (a pyarrow Table or
//! RecordBatchReader, a polars DataFrame, ...) or `__arrow_c_array__` (a pyarrow
//! RecordBatch), taken through the Arrow PyCapsule interface without copying. The stream
//! is read with the GIL released: a producer that needs Python takes the GIL itself.

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::SchemaRef;
use arrow::ffi_stream::ArrowArrayStreamReader;
use arrow_pyarrow::FromPyArrow;
use pyo3::prelude::*;

use crate::errors::{Error, Result};

/// Arrow data handed over by Python, not yet read.
pub enum ArrowInput {
    /// A stream of batches.
    Stream(ArrowArrayStreamReader),
    /// One batch.
    Batch(RecordBatch),
}

impl ArrowInput {
    /// Takes `data`'s Arrow data (with the GIL held).
    pub fn take(data: &Bound<'_, PyAny>) -> Result<Self> {
        let failed = |e: PyErr| Error::input(format!("reading the Arrow data: {e}"));
        if data.hasattr("__arrow_c_stream__").map_err(failed)? {
            return Ok(Self::Stream(
                ArrowArrayStreamReader::from_pyarrow_bound(data).map_err(failed)?,
            ));
        }
        if data.hasattr("__arrow_c_array__").map_err(failed)? {
            return Ok(Self::Batch(
                RecordBatch::from_pyarrow_bound(data).map_err(failed)?,
            ));
        }
        let kind = data
            .get_type()
            .name()
            .map_or_else(|_| "?".to_string(), |n| n.to_string());
        Err(Error::input(format!(
            "write() takes Arrow data: a pyarrow Table, RecordBatch or RecordBatchReader, or any object with __arrow_c_stream__ (a polars DataFrame, say), not {kind}"
        )))
    }

    /// The data's schema.
    pub fn schema(&self) -> SchemaRef {
        match self {
            Self::Stream(stream) => stream.schema(),
            Self::Batch(batch) => batch.schema(),
        }
    }

    /// Reads every batch (without the GIL).
    pub fn read_all(self) -> Result<Vec<RecordBatch>> {
        match self {
            Self::Batch(batch) => Ok(vec![batch]),
            Self::Stream(stream) => stream
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::input(format!("reading the Arrow stream: {e}"))),
        }
    }
}
