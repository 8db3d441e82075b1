//! Sorting a stream of record batches by key columns in bounded memory: batches are
//! gathered up to a budget, sorted, and, when the input outgrows the budget, spilled as
//! sorted Arrow IPC runs into a temporary directory; the runs are then merged. Memory is
//! the budget while gathering, and one batch per run while merging.

use std::fs::File;
use std::io::{BufReader, BufWriter};

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, interleave_record_batch, take_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use arrow::row::{RowConverter, Rows, SortField};

/// Sorts batches of one schema by `key_columns`, ascending, nulls first.
pub struct KeySorter {
    schema: SchemaRef,
    key_columns: Vec<usize>,
    budget_bytes: usize,
    batch_size: usize,
    buffered: Vec<RecordBatch>,
    buffered_bytes: usize,
    spill_dir: Option<tempfile::TempDir>,
    runs: Vec<std::path::PathBuf>,
}

impl KeySorter {
    pub fn new(
        schema: SchemaRef,
        key_columns: Vec<usize>,
        budget_bytes: usize,
        batch_size: usize,
    ) -> Self {
        Self {
            schema,
            key_columns,
            budget_bytes: budget_bytes.max(1),
            batch_size: batch_size.max(1),
            buffered: Vec::new(),
            buffered_bytes: 0,
            spill_dir: None,
            runs: Vec::new(),
        }
    }

    /// Takes a batch; spills a sorted run when the buffered batches outgrow the budget.
    pub fn push(&mut self, batch: RecordBatch) -> Result<(), ArrowError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.buffered_bytes += batch.get_array_memory_size();
        self.buffered.push(batch);
        if self.buffered_bytes >= self.budget_bytes {
            self.spill()?;
        }
        Ok(())
    }

    /// Runs spilled so far.
    pub fn spilled_runs(&self) -> usize {
        self.runs.len()
    }

    fn converter(&self) -> Result<RowConverter, ArrowError> {
        RowConverter::new(
            self.key_columns
                .iter()
                .map(|&c| SortField::new(self.schema.field(c).data_type().clone()))
                .collect(),
        )
    }

    /// The buffered batches as one sorted batch.
    fn sort_buffered(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        if self.buffered.is_empty() {
            return Ok(None);
        }
        let all = concat_batches(&self.schema, &std::mem::take(&mut self.buffered))?;
        self.buffered_bytes = 0;
        let converter = self.converter()?;
        let rows = KeyColumns(&self.key_columns).keys(&converter, &all)?;
        let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
        order.sort_by(|&a, &b| rows.row(a as usize).cmp(&rows.row(b as usize)));
        Ok(Some(take_record_batch(&all, &UInt32Array::from(order))?))
    }

    fn spill(&mut self) -> Result<(), ArrowError> {
        let Some(sorted) = self.sort_buffered()? else {
            return Ok(());
        };
        if self.spill_dir.is_none() {
            self.spill_dir = Some(tempfile::Builder::new().prefix("floe-sort-").tempdir()?);
        }
        let dir = self.spill_dir.as_ref().expect("created above").path();
        let path = dir.join(format!("run-{}.arrow", self.runs.len()));
        let mut writer = FileWriter::try_new(BufWriter::new(File::create(&path)?), &self.schema)?;
        for offset in (0..sorted.num_rows()).step_by(self.batch_size) {
            let len = self.batch_size.min(sorted.num_rows() - offset);
            writer.write(&sorted.slice(offset, len))?;
        }
        writer.finish()?;
        self.runs.push(path);
        Ok(())
    }

    /// The sorted output, in batches of about `batch_size` rows.
    pub fn finish(mut self) -> Result<SortedBatches, ArrowError> {
        if self.runs.is_empty() {
            let sorted = self.sort_buffered()?;
            return Ok(SortedBatches {
                source: Source::Memory {
                    batch: sorted,
                    offset: 0,
                },
                batch_size: self.batch_size,
                spilled_runs: 0,
                _spill_dir: None,
            });
        }
        self.spill()?;
        let converter = self.converter()?;
        let mut runs = Vec::with_capacity(self.runs.len());
        for path in &self.runs {
            let reader = FileReader::try_new(BufReader::new(File::open(path)?), None)?;
            let mut run = RunCursor {
                reader,
                batch: None,
                rows: None,
                next: 0,
                held: 0,
            };
            run.advance(&KeyColumns(&self.key_columns), &converter)?;
            runs.push(run);
        }
        Ok(SortedBatches {
            source: Source::Merge(Box::new(Merge {
                converter,
                runs,
                held: Vec::new(),
                key_columns: self.key_columns.clone(),
                schema: self.schema.clone(),
            })),
            batch_size: self.batch_size,
            spilled_runs: self.runs.len(),
            _spill_dir: self.spill_dir.take(),
        })
    }
}

/// The key columns of a schema, to make row keys of batches.
struct KeyColumns<'a>(&'a [usize]);

impl KeyColumns<'_> {
    fn keys(&self, converter: &RowConverter, batch: &RecordBatch) -> Result<Rows, ArrowError> {
        let columns: Vec<_> = self.0.iter().map(|&c| batch.column(c).clone()).collect();
        converter.convert_columns(&columns)
    }
}

struct RunCursor {
    reader: FileReader<BufReader<File>>,
    batch: Option<RecordBatch>,
    rows: Option<Rows>,
    next: usize,
    /// Index of `batch` in the merge's held batches.
    held: usize,
}

impl RunCursor {
    /// Moves to the next non-empty batch of the run, or to its end.
    fn advance(&mut self, keys: &KeyColumns, converter: &RowConverter) -> Result<(), ArrowError> {
        self.batch = None;
        self.rows = None;
        self.next = 0;
        for batch in self.reader.by_ref() {
            let batch = batch?;
            if batch.num_rows() > 0 {
                self.rows = Some(keys.keys(converter, &batch)?);
                self.batch = Some(batch);
                break;
            }
        }
        Ok(())
    }
}

struct Merge {
    converter: RowConverter,
    runs: Vec<RunCursor>,
    /// Batches that rows of the output being built come from.
    held: Vec<RecordBatch>,
    key_columns: Vec<usize>,
    schema: SchemaRef,
}

impl Merge {
    fn next_batch(&mut self, batch_size: usize) -> Result<Option<RecordBatch>, ArrowError> {
        self.held.clear();
        for run in &mut self.runs {
            if let Some(batch) = &run.batch {
                run.held = self.held.len();
                self.held.push(batch.clone());
            }
        }
        let mut picks: Vec<(usize, usize)> = Vec::with_capacity(batch_size);
        while picks.len() < batch_size {
            let mut best: Option<usize> = None;
            for (i, run) in self.runs.iter().enumerate() {
                let Some(rows) = &run.rows else { continue };
                best = match best {
                    Some(b) => {
                        let current = self.runs[b].rows.as_ref().expect("has rows");
                        if rows.row(run.next) < current.row(self.runs[b].next) {
                            Some(i)
                        } else {
                            Some(b)
                        }
                    }
                    None => Some(i),
                };
            }
            let Some(b) = best else { break };
            let run = &mut self.runs[b];
            picks.push((run.held, run.next));
            run.next += 1;
            if run.next == run.batch.as_ref().map_or(0, |x| x.num_rows()) {
                run.advance(&KeyColumns(&self.key_columns), &self.converter)?;
                if let Some(batch) = &run.batch {
                    run.held = self.held.len();
                    self.held.push(batch.clone());
                }
            }
        }
        if picks.is_empty() {
            return Ok(None);
        }
        let sources: Vec<&RecordBatch> = self.held.iter().collect();
        let out = interleave_record_batch(&sources, &picks)?;
        debug_assert_eq!(out.schema(), self.schema);
        Ok(Some(out))
    }
}

enum Source {
    Memory {
        batch: Option<RecordBatch>,
        offset: usize,
    },
    Merge(Box<Merge>),
}

/// The sorted batches; the spill directory lives as long as they do.
pub struct SortedBatches {
    source: Source,
    batch_size: usize,
    spilled_runs: usize,
    _spill_dir: Option<tempfile::TempDir>,
}

impl SortedBatches {
    /// The sorted runs that were spilled to disk (0 when the input fit the budget).
    pub fn spilled_runs(&self) -> usize {
        self.spilled_runs
    }
}

impl Iterator for SortedBatches {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.source {
            Source::Memory { batch, offset } => {
                let all = batch.as_ref()?;
                if *offset >= all.num_rows() {
                    return None;
                }
                let len = self.batch_size.min(all.num_rows() - *offset);
                let out = all.slice(*offset, len);
                *offset += len;
                Some(Ok(out))
            }
            Source::Merge(merge) => merge.next_batch(self.batch_size).transpose(),
        }
    }
}

#[cfg(test)]
#[path = "sort_tests.rs"]
mod tests;
