//! `floe.UpsertWriter`: the upsert writer of one table for one writer id, and
//! `floe.CommitResult`, what a commit added. A table asked for with `create=True` that does
//! not exist yet is created by the first write, from its columns; until then the writer
//! holds nothing and `last_committed` is None.

use std::sync::{Arc, Mutex, MutexGuard};

use arrow::array::RecordBatch;
use floe_client::{
    create_upsert_table, find_upsert_table, new_upsert_table, parse_table_ident, Connection,
    RestClient,
};
use floe_upsert::{conform, CheckpointOutcome, UpsertOptions, UpsertWriter, WatermarkChange};
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::TableIdent;
use pyo3::prelude::*;
use pyo3::types::PyAny;

use crate::errors::{Class, Error, Result};
use crate::input::ArrowInput;
use crate::runtime::block_on;

/// What one checkpoint's commit added.
#[pyclass(module = "floe", frozen, get_all, skip_from_py_object)]
#[derive(Clone, Debug)]
pub struct CommitResult {
    /// The snapshot committed.
    snapshot_id: i64,
    /// Its sequence number.
    sequence_number: i64,
    /// The writer's checkpoint it holds.
    checkpoint_id: Option<i64>,
    /// Data files added.
    data_files: usize,
    /// Equality-delete files added.
    equality_delete_files: usize,
    /// Position-delete files added.
    position_delete_files: usize,
    /// Rows written.
    rows: u64,
    /// Keys in the equality-delete files.
    equality_deletes: u64,
    /// Equality deletes left out: no older row could hold their key.
    skipped_deletes: u64,
    /// Rows in the position-delete files.
    position_deletes: u64,
    /// Commit attempts it took.
    attempts: u32,
    /// The table's watermark after the commit, when either has one.
    watermark: Option<i64>,
}

#[pymethods]
impl CommitResult {
    fn __repr__(&self) -> String {
        format!(
            "CommitResult(snapshot_id={}, sequence_number={}, checkpoint_id={}, data_files={}, equality_delete_files={}, position_delete_files={}, rows={})",
            self.snapshot_id,
            self.sequence_number,
            self.checkpoint_id
                .map_or_else(|| "None".to_string(), |c| c.to_string()),
            self.data_files,
            self.equality_delete_files,
            self.position_delete_files,
            self.rows
        )
    }
}

/// A committed checkpoint's report; `None` for one the table already held, or for
/// nothing to commit.
fn result_of(outcome: Option<CheckpointOutcome>) -> Option<CommitResult> {
    let Some(CheckpointOutcome::Committed(r)) = outcome else {
        return None;
    };
    Some(CommitResult {
        snapshot_id: r.snapshot_id,
        sequence_number: r.sequence_number,
        checkpoint_id: r.checkpoint_id,
        data_files: r.data_files,
        equality_delete_files: r.equality_delete_files,
        position_delete_files: r.position_delete_files,
        rows: r.rows,
        equality_deletes: r.equality_deletes,
        skipped_deletes: r.skipped_deletes,
        position_deletes: r.position_deletes,
        attempts: r.attempts,
        watermark: match r.watermark {
            Some(WatermarkChange::Advance(w)) => Some(w),
            Some(WatermarkChange::Stale { current }) => Some(current),
            None => None,
        },
    })
}

/// A table to be created by the first write.
struct Pending {
    client: Arc<RestClient>,
    key: Vec<String>,
    buckets: u32,
}

enum State {
    Open(Box<UpsertWriter>),
    Pending(Pending),
    Closed,
}

/// The upsert writer of one table.
#[pyclass(module = "floe", name = "UpsertWriter")]
pub struct PyUpsertWriter {
    ident: TableIdent,
    writer_id: Option<String>,
    options: UpsertOptions,
    state: Mutex<State>,
    /// The checkpoint id a commit without one takes: one after the last started.
    next_checkpoint: Mutex<Option<i64>>,
}

/// A commit step: `commit`, `start_commit` (checkpoint id, watermark) or `finish_commit`.
enum Step {
    Commit(Option<i64>, Option<i64>),
    Start(Option<i64>, Option<i64>),
    Finish,
}

fn closed() -> Error {
    Error::new(Class::Other, "the writer is closed")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl PyUpsertWriter {
    /// The open writer, after creating the table from `batches` when it is still to be
    /// created. Every batch is checked against the new table before it is created.
    async fn writer_for<'s>(
        &self,
        state: &'s mut State,
        batches: &[RecordBatch],
        schema: &arrow::datatypes::Schema,
    ) -> Result<&'s mut UpsertWriter> {
        if let State::Pending(pending) = state {
            let new = new_upsert_table(schema, &pending.key, pending.buckets)?;
            let table_arrow = schema_to_arrow_schema(&new.schema)?;
            for batch in batches {
                conform(batch, &table_arrow, &new.layout.key_columns)
                    .map_err(|e| Error::from(floe_upsert::UpsertError::from(e)))?;
            }
            // A table someone else created meanwhile is taken if its key is the one asked.
            if !create_upsert_table(&pending.client, &self.ident, &new).await? {
                find_upsert_table(&pending.client, &self.ident, &pending.key).await?;
            }
            let writer =
                UpsertWriter::open(pending.client.clone(), &self.ident, self.options.clone())
                    .await?;
            *state = State::Open(Box::new(writer));
        }
        match state {
            State::Open(writer) => Ok(writer),
            _ => Err(closed()),
        }
    }

    /// The checkpoint id of a commit: the one given, or one after the last started.
    fn checkpoint(&self, given: Option<i64>) -> Result<Option<i64>> {
        match (&self.writer_id, given) {
            (None, Some(_)) => Err(Error::input(
                "a checkpoint id needs a writer_id: exactly-once is per writer",
            )),
            (None, None) => Ok(None),
            (Some(_), Some(c)) => Ok(Some(c)),
            (Some(_), None) => Ok(Some(lock(&self.next_checkpoint).unwrap_or(1))),
        }
    }

    /// Runs a commit step on the open writer, without the GIL. A table still to be
    /// created has nothing to commit: `None`.
    fn step(&self, py: Python<'_>, step: Step) -> Result<Option<CheckpointOutcome>> {
        py.detach(|| {
            let mut state = lock(&self.state);
            let writer = match &mut *state {
                State::Open(writer) => writer,
                State::Pending(_) => return Ok(None),
                State::Closed => return Err(closed()),
            };
            block_on(async {
                Ok(match step {
                    Step::Commit(checkpoint, watermark) => {
                        Some(writer.commit(checkpoint, watermark).await?)
                    }
                    Step::Start(checkpoint, watermark) => {
                        writer.start_commit(checkpoint, watermark).await?
                    }
                    Step::Finish => writer.finish_commit().await?,
                })
            })
        })
    }

    /// `commit` or `start_commit` (as `step` makes it) of the open checkpoint.
    fn commit_checkpoint(
        &self,
        py: Python<'_>,
        checkpoint_id: Option<i64>,
        watermark: Option<i64>,
        step: fn(Option<i64>, Option<i64>) -> Step,
    ) -> Result<Option<CommitResult>> {
        let checkpoint = self.checkpoint(checkpoint_id)?;
        let outcome = self.step(py, step(checkpoint, watermark))?;
        if let Some(c) = checkpoint {
            *lock(&self.next_checkpoint) = Some(c + 1);
        }
        Ok(result_of(outcome))
    }
}

#[pymethods]
impl PyUpsertWriter {
    #[new]
    #[pyo3(signature = (catalog, table, *, writer_id=None, key=None, buckets=16, create=false, token=None, credential=None, key_index_mb=1024))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        catalog: String,
        table: String,
        writer_id: Option<String>,
        key: Option<Vec<String>>,
        buckets: u32,
        create: bool,
        token: Option<String>,
        credential: Option<String>,
        key_index_mb: usize,
    ) -> Result<Self> {
        let ident = parse_table_ident(&table).map_err(Error::input)?;
        let key = key.unwrap_or_default();
        let options = UpsertOptions {
            writer_id: writer_id.clone(),
            key_index_limit_bytes: key_index_mb << 20,
        };
        let connection = Connection {
            uri: catalog,
            token,
            credential,
        };
        let state = py.detach(|| {
            block_on(async {
                let client = Arc::new(connection.connect().await?);
                if find_upsert_table(&client, &ident, &key).await?.is_some() {
                    let writer = UpsertWriter::open(client, &ident, options.clone()).await?;
                    return Ok::<_, Error>(State::Open(Box::new(writer)));
                }
                if !create {
                    return Err(Error::input(format!(
                        "table {ident} does not exist; pass create=True and key=[...] to create it"
                    )));
                }
                if key.is_empty() {
                    return Err(Error::input(
                        "create=True needs key: the columns that identify a row",
                    ));
                }
                Ok(State::Pending(Pending {
                    client,
                    key,
                    buckets,
                }))
            })
        })?;
        let next = match &state {
            State::Open(w) => w.last_committed().map(|l| l.checkpoint_id + 1),
            _ => None,
        };
        Ok(Self {
            ident,
            writer_id,
            options,
            state: Mutex::new(state),
            next_checkpoint: Mutex::new(next),
        })
    }

    /// The table's name.
    #[getter]
    fn table(&self) -> String {
        self.ident.to_string()
    }

    /// This writer id's newest committed checkpoint, as of the last load or commit.
    #[getter]
    fn last_committed(&self) -> Option<i64> {
        match &*lock(&self.state) {
            State::Open(w) => w.last_committed().map(|l| l.checkpoint_id),
            _ => None,
        }
    }

    /// Adds Arrow data to the open checkpoint, all or nothing.
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> Result<()> {
        let input = ArrowInput::take(data)?;
        py.detach(|| {
            let schema = input.schema();
            let batches = input.read_all()?;
            if batches.iter().all(|b| b.num_rows() == 0) {
                return Ok(());
            }
            let mut state = lock(&self.state);
            block_on(async {
                let writer = self.writer_for(&mut state, &batches, &schema).await?;
                Ok(writer.write_all(&batches).await?)
            })
        })
    }

    /// Commits the open checkpoint and waits for it.
    #[pyo3(signature = (checkpoint_id=None, watermark=None))]
    fn commit(
        &self,
        py: Python<'_>,
        checkpoint_id: Option<i64>,
        watermark: Option<i64>,
    ) -> Result<Option<CommitResult>> {
        self.commit_checkpoint(py, checkpoint_id, watermark, Step::Commit)
    }

    /// Starts committing the open checkpoint in the background and opens the next one;
    /// answers the outcome of the commit started before.
    #[pyo3(signature = (checkpoint_id=None, watermark=None))]
    fn start_commit(
        &self,
        py: Python<'_>,
        checkpoint_id: Option<i64>,
        watermark: Option<i64>,
    ) -> Result<Option<CommitResult>> {
        self.commit_checkpoint(py, checkpoint_id, watermark, Step::Start)
    }

    /// Waits for the commit `start_commit` started, if one runs, and answers it.
    fn finish_commit(&self, py: Python<'_>) -> Result<Option<CommitResult>> {
        let outcome = self.step(py, Step::Finish)?;
        Ok(result_of(outcome))
    }

    /// Drops the open checkpoint's rows; a commit already started goes on.
    fn abort(&self) {
        if let State::Open(writer) = &mut *lock(&self.state) {
            writer.abort();
        }
        *lock(&self.next_checkpoint) = None;
    }

    /// Waits for a commit in flight, then closes the writer. Rows written and not
    /// committed are dropped.
    fn close(&self, py: Python<'_>) -> Result<Option<CommitResult>> {
        if matches!(*lock(&self.state), State::Closed) {
            return Ok(None);
        }
        let outcome = self.step(py, Step::Finish);
        *lock(&self.state) = State::Closed;
        Ok(result_of(outcome?))
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Leaving the block closes the writer; after an exception, the open checkpoint is
    /// aborted first, and the exception goes on.
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> Result<bool> {
        if exc_type.is_some_and(|t| !t.is_none()) {
            self.abort();
            // The exception in flight is the one the caller sees.
            let _ = self.close(py);
        } else {
            self.close(py)?;
        }
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "UpsertWriter(table={:?}, writer_id={:?})",
            self.ident.to_string(),
            self.writer_id
        )
    }
}
