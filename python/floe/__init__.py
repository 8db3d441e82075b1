"""Floe's bucketed upsert writer and table maintenance for Apache Iceberg tables.

Write a change stream into an upsert table, one exactly-once commit per engine
checkpoint::

    import floe

    with floe.UpsertWriter(catalog="http://127.0.0.1:8181", table="db.users",
                           writer_id="job-7", key=["id"], create=True) as w:
        if w.last_committed is None or w.last_committed < batch_id:
            w.write(arrow_table)          # pyarrow, polars, ...: any __arrow_c_stream__
            w.commit(checkpoint_id=batch_id, watermark=event_time_ms)

See `floe._floe` (and its type stubs) for every class and function.
"""

from ._floe import (
    CommitConflictError,
    CommitResult,
    CommitStateUnknownError,
    FloeError,
    InputError,
    UpsertWriter,
    __version__,
    compact,
    convert_deletes,
    expire_snapshots,
    table_info,
)

__all__ = [
    "CommitConflictError",
    "CommitResult",
    "CommitStateUnknownError",
    "FloeError",
    "InputError",
    "UpsertWriter",
    "__version__",
    "compact",
    "convert_deletes",
    "expire_snapshots",
    "table_info",
]
