//! Sorting a stream of record batches by key columns in bounded memory: batches (or the
//! rows of them that a filter keeps) are gathered up to a budget and their order is found
//! from the key columns alone; when the input outgrows the budget the gathered rows are
//! spilled, in that order, as a sorted Arrow IPC run into a temporary directory, and the
//! runs are merged at the end. Rows are copied once, into the output (or run) batches, and
//! never concatenated. Memory is the budget while gathering, and one batch per run while
//! merging.

use std::fs::File;
use std::io::{BufReader, BufWriter};

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::{
    concat, filter, interleave_record_batch, lexsort_to_indices, SortColumn, SortOptions,
};
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
    gathered: Gathered,
    spill_dir: Option<tempfile::TempDir>,
    runs: Vec<std::path::PathBuf>,
}

/// Rows gathered in memory: the batches, the rows of them to sort and those rows' keys.
#[derive(Default)]
struct Gathered {
    batches: Vec<RecordBatch>,
    bytes: usize,
    /// (batch, row) of every row to sort, in arrival order.
    rows: Vec<(usize, usize)>,
    /// Per key column, the keys of `rows`, one array per batch.
    keys: Vec<Vec<ArrayRef>>,
}

/// Gathered rows in key order; batches of them are built on demand.
struct SortedRows {
    batches: Vec<RecordBatch>,
    order: Vec<(usize, usize)>,
}

impl SortedRows {
    fn len(&self) -> usize {
        self.order.len()
    }

    /// Rows `offset..offset + len` of the sorted order as one batch.
    fn batch(&self, offset: usize, len: usize) -> Result<RecordBatch, ArrowError> {
        let sources: Vec<&RecordBatch> = self.batches.iter().collect();
        interleave_record_batch(&sources, &self.order[offset..offset + len])
    }
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
            gathered: Gathered::default(),
            spill_dir: None,
            runs: Vec::new(),
        }
    }

    /// Takes a batch; spills a sorted run when the gathered batches outgrow the budget.
    #[cfg(test)]
    pub fn push(&mut self, batch: RecordBatch) -> Result<(), ArrowError> {
        self.push_kept(batch, None)
    }

    /// Takes the rows of `batch` that `keep` selects (every row without it; `keep` has
    /// no nulls).
    pub fn push_kept(
        &mut self,
        batch: RecordBatch,
        keep: Option<&BooleanArray>,
    ) -> Result<(), ArrowError> {
        let g = &mut self.gathered;
        let b = g.batches.len();
        let before = g.rows.len();
        match keep {
            None => g.rows.extend((0..batch.num_rows()).map(|r| (b, r))),
            Some(keep) => g.rows.extend(keep.values().set_indices().map(|r| (b, r))),
        }
        if g.rows.len() == before {
            return Ok(());
        }
        g.keys.resize_with(self.key_columns.len(), Vec::new);
        for (k, &c) in self.key_columns.iter().enumerate() {
            let column = batch.column(c);
            g.keys[k].push(match keep {
                Some(keep) if keep.true_count() < keep.len() => filter(column, keep)?,
                _ => column.clone(),
            });
        }
        g.bytes += batch.get_array_memory_size();
        g.batches.push(batch);
        if g.bytes >= self.budget_bytes {
            self.spill()?;
        }
        Ok(())
    }

    /// Runs spilled so far.
    #[cfg(test)]
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

    /// The gathered rows in key order (ascending, nulls first: the row format's order,
    /// which the merge of runs uses).
    fn sort_gathered(&mut self) -> Result<Option<SortedRows>, ArrowError> {
        let g = std::mem::take(&mut self.gathered);
        if g.rows.is_empty() {
            return Ok(None);
        }
        let options = SortOptions {
            descending: false,
            nulls_first: true,
        };
        let columns = g
            .keys
            .iter()
            .map(|parts| {
                let parts: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
                Ok(SortColumn {
                    values: concat(&parts)?,
                    options: Some(options),
                })
            })
            .collect::<Result<Vec<_>, ArrowError>>()?;
        let indices = lexsort_to_indices(&columns, None)?;
        let order = indices
            .values()
            .iter()
            .map(|&i| g.rows[i as usize])
            .collect();
        Ok(Some(SortedRows {
            batches: g.batches,
            order,
        }))
    }

    fn spill(&mut self) -> Result<(), ArrowError> {
        let Some(sorted) = self.sort_gathered()? else {
            return Ok(());
        };
        if self.spill_dir.is_none() {
            self.spill_dir = Some(tempfile::Builder::new().prefix("floe-sort-").tempdir()?);
        }
        let dir = self.spill_dir.as_ref().expect("created above").path();
        let path = dir.join(format!("run-{}.arrow", self.runs.len()));
        let mut writer = FileWriter::try_new(BufWriter::new(File::create(&path)?), &self.schema)?;
        for offset in (0..sorted.len()).step_by(self.batch_size) {
            let len = self.batch_size.min(sorted.len() - offset);
            writer.write(&sorted.batch(offset, len)?)?;
        }
        writer.finish()?;
        self.runs.push(path);
        Ok(())
    }

    /// The sorted output, in batches of about `batch_size` rows.
    pub fn finish(mut self) -> Result<SortedBatches, ArrowError> {
        if self.runs.is_empty() {
            let sorted = self.sort_gathered()?;
            return Ok(SortedBatches {
                source: Source::Memory { sorted, offset: 0 },
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
        sorted: Option<SortedRows>,
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
            Source::Memory { sorted, offset } => {
                let all = sorted.as_ref()?;
                if *offset >= all.len() {
                    return None;
                }
                let len = self.batch_size.min(all.len() - *offset);
                let out = all.batch(*offset, len);
                *offset += len;
                Some(out)
            }
            Source::Merge(merge) => merge.next_batch(self.batch_size).transpose(),
        }
    }
}

#[cfg(test)]
#[path = "sort_tests.rs"]
mod tests;
