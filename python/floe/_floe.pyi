"""Type stubs and documentation of Floe's native module (re-exported by `floe`)."""

from datetime import timedelta
from types import TracebackType
from typing import Any, Protocol

__version__: str

class ArrowStreamExportable(Protocol):
    """Anything with the Arrow PyCapsule stream interface: a pyarrow Table or
    RecordBatchReader, a polars DataFrame, a pandas DataFrame (pandas >= 2.2)..."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

class ArrowArrayExportable(Protocol):
    """A single batch with the Arrow PyCapsule array interface (a pyarrow RecordBatch)."""

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]: ...

class FloeError(Exception):
    """A Floe operation failed; the message says what and why."""

class InputError(FloeError):
    """Bad input or arguments (a column the table lacks, a null key, an unknown table):
    nothing changed."""

class CommitConflictError(FloeError):
    """The table kept moving through every commit attempt (the table's
    `commit.retry.num-retries`): nothing was committed. Abort, and write the checkpoint
    again."""

class CommitStateUnknownError(FloeError):
    """A commit may or may not have landed; its files are kept. Open the writer again and
    check `last_committed` before you retry: a checkpoint it covers is in the table."""

class CommitResult:
    """What one checkpoint's commit added."""

    snapshot_id: int
    sequence_number: int
    checkpoint_id: int | None
    data_files: int
    equality_delete_files: int
    position_delete_files: int
    rows: int
    equality_deletes: int
    """Keys in the equality-delete files."""
    skipped_deletes: int
    """Equality deletes left out: no older row could hold their key."""
    position_deletes: int
    attempts: int
    """Commit attempts it took (1 without conflicts)."""
    watermark: int | None
    """The table's watermark after the commit (epoch milliseconds), when there is one."""

class UpsertWriter:
    """The upsert writer of one table (format version 2, keyed by its identifier fields,
    partitioned by `bucket(N, key)`): each commit is one snapshot with data files,
    equality deletes for keys that replace older rows, and position deletes for keys
    repeated within the checkpoint.

    Exactly-once: with a `writer_id`, each checkpoint id is committed at most once; a
    commit of a checkpoint the table already holds (or a later one) returns None and adds
    nothing. An engine replaying its last batch after a restart calls `commit` with the
    same id and gets None.

    With `create=True` a missing table is created by the first write, from its columns
    (less `_op`), with `key` as identifier fields and `buckets` buckets; until then
    `last_committed` is None and a commit without rows commits nothing.

    The GIL is released while Rust reads the data, writes files and commits. Methods may
    be called from any thread, one at a time.
    """

    def __init__(
        self,
        catalog: str,
        table: str,
        *,
        writer_id: str | None = None,
        key: list[str] | None = None,
        buckets: int = 16,
        create: bool = False,
        token: str | None = None,
        credential: str | None = None,
        key_index_mb: int = 1024,
    ) -> None:
        """Connects to the REST catalog at `catalog` (bearer `token`, or OAuth2 client
        `credential` "ID:SECRET", whose token is refreshed as it expires; either may be
        "@FILE", read from that file) and opens `table` ("namespace.table"). `key`, when
        given, must be the table's key. Raises InputError for a missing table without
        `create`, or a key that is not the table's."""

    @property
    def table(self) -> str:
        """The table's name."""

    @property
    def last_committed(self) -> int | None:
        """This writer id's newest committed checkpoint id, as of the last load or commit."""

    def write(self, data: ArrowStreamExportable | ArrowArrayExportable) -> None:
        """Adds rows to the open checkpoint, all or nothing: every batch is checked before
        any is written. Columns are matched by name and converted to the table's types
        where no value is lost. An optional `_op` column holds Flink's row kinds ("+I",
        "-U", "+U", "-D"); without it every row is an upsert. Raises InputError for a
        column the table lacks, a missing column, a null key, a bad `_op`."""

    def commit(
        self, checkpoint_id: int | None = None, watermark: int | None = None
    ) -> CommitResult | None:
        """Commits the open checkpoint as one snapshot and waits for it. `checkpoint_id`
        defaults to one after the last checkpoint started (with a writer id; without one
        it must be None). `watermark` (epoch milliseconds of event time) is recorded and
        moves the table's `floe.watermark` forward. Returns None when the table already
        holds the checkpoint, or there was nothing to commit."""

    def start_commit(
        self, checkpoint_id: int | None = None, watermark: int | None = None
    ) -> CommitResult | None:
        """Starts committing the open checkpoint in the background and opens the next one
        at once, so writing it overlaps the commit; commits land in order. Returns the
        outcome of the commit started before (None if there was none). If that commit
        failed, its error is raised here and the open checkpoint is not committed: abort
        and write again from `last_committed`."""

    def finish_commit(self) -> CommitResult | None:
        """Waits for the commit `start_commit` started, if one runs, and returns it."""

    def abort(self) -> None:
        """Drops the open checkpoint's rows (their files are left as orphans); a commit
        already started goes on."""

    def close(self) -> CommitResult | None:
        """Waits for a commit in flight, then closes the writer. Rows written and not
        committed are dropped."""

    def __enter__(self) -> UpsertWriter: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """Closes the writer; after an exception the open checkpoint is aborted first and
        the exception goes on."""

def compact(
    catalog: str,
    table: str,
    *,
    target_file_size: str | None = None,
    min_input_files: int | None = None,
    options: dict[str, str] | None = None,
    dry_run: bool = False,
    token: str | None = None,
    credential: str | None = None,
) -> dict[str, Any]:
    """One compaction run, as `floe compact`: merges small files and folds deletes away,
    one `replace` snapshot per group. `options` are Iceberg's `rewrite_data_files`
    options by name. Returns the report: `table`, `start_snapshot`, `planned` (groups),
    `groups` (each with `outcome` "committed", "skipped", "unknown" or "failed"),
    `committed`, `failed` (failed or unknown groups) and `seconds`."""

def convert_deletes(
    catalog: str,
    table: str,
    *,
    dry_run: bool = False,
    token: str | None = None,
    credential: str | None = None,
) -> dict[str, Any]:
    """Turns the table's equality deletes into position deletes, as `floe convert-deletes`:
    per partition, one `replace` snapshot; rows stay the same for every reader, and
    readers join no data file against equality deletes any more. Returns the report:
    `table`, `start_snapshot`, `partitions` (each with `outcome` "planned", "committed",
    "skipped", "not_on_the_key", "unknown" or "failed"), `committed`, `failed` and
    `seconds`. Raises InputError for a format-version-3 table."""

def expire_snapshots(
    catalog: str,
    table: str,
    *,
    older_than: timedelta | str | None = None,
    retain_last: int | None = None,
    token: str | None = None,
    credential: str | None = None,
) -> dict[str, int]:
    """Removes the snapshots older than `older_than` (default: the table's retention),
    keeping `retain_last`, then deletes the files only they reached. Returns
    `expired_snapshots`, `deleted_files`, `failed_deletes`. Raises
    CommitStateUnknownError, having deleted nothing, when the removal's outcome is
    unknown."""

def table_info(
    catalog: str,
    table: str,
    *,
    token: str | None = None,
    credential: str | None = None,
) -> dict[str, Any]:
    """What `floe table show` prints, as data: `name`, `format_version`, `uuid`,
    `location`, `metadata_location`, `key`, `partition`, `watermark`, `writers`
    (writer id -> newest checkpoint), `snapshots` (oldest first) and `files` (the live
    data and delete files)."""
