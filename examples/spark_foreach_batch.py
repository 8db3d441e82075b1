#!/usr/bin/env python3
"""Spark Structured Streaming into a Floe upsert table, exactly once.

A streaming query reads change files (Parquet: the table's columns plus an `_op` column
with Flink's row kinds "+I", "-U", "+U", "-D") as they land in a folder, one file per
micro-batch, and `foreachBatch` hands each batch to one `floe.UpsertWriter` in the driver,
committing it with the micro-batch id as the checkpoint id.

Exactly once: Spark writes a batch id to its checkpoint's commit log only after
`foreachBatch` returns. A crash after Floe's commit and before Spark's makes the query,
restarted from the same checkpoint location, replay that batch with the same id and the
same files; the writer answers None for a checkpoint it already committed, so the batch
lands once. Keep one writer id per checkpoint location (the default is derived from its
path): a query started afresh numbers its batches from 0 again, so it needs a new writer
id, even at the same path.

Needs pyspark >= 4.0 (for `DataFrame.toArrow`) and Java 17; no Iceberg jars, Floe writes
the table. Put files into the folder atomically (write `.name.parquet`, then rename it):
Spark skips names starting with "." or "_" and may read any other file at once.

    python examples/spark_foreach_batch.py --catalog http://127.0.0.1:8181 \\
        --table db.users --input /data/changes --checkpoint /data/users.ckpt --key id

The catalog's bearer token or OAuth2 client credential ("ID:SECRET"), if it needs one,
come from FLOE_TOKEN or FLOE_CREDENTIAL, as for the floe CLI.
Test hook: FLOE_EXAMPLE_EXIT_AFTER_COMMIT=<batch id> exits with code 3 right after that
batch's Floe commit, as a crash before Spark's commit log would.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sys

import floe
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

CRASH_HOOK = "FLOE_EXAMPLE_EXIT_AFTER_COMMIT"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--catalog", required=True, help="Floe's REST catalog URL")
    p.add_argument("--table", required=True, help='the table, "namespace.table"')
    p.add_argument("--input", required=True, help="folder the change files land in")
    p.add_argument("--checkpoint", required=True, help="the query's checkpoint location")
    p.add_argument(
        "--key",
        help="key column(s), comma-separated: needed when the first batch creates the table",
    )
    p.add_argument("--buckets", type=int, default=16, help="buckets of a new table (default 16)")
    p.add_argument(
        "--writer-id",
        help="Floe writer id: one per checkpoint location (default: spark-<hash of --checkpoint>)",
    )
    p.add_argument(
        "--schema",
        help='the files\' schema as Spark DDL, e.g. "id BIGINT, name STRING, _op STRING" '
        "(default: read from a file already in --input)",
    )
    p.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    p.add_argument(
        "--interval", default="5 seconds", help='trigger interval (default "5 seconds")'
    )
    p.add_argument(
        "--available-now", action="store_true",
        help="process the files there now, one batch per file, then stop",
    )
    return p.parse_args(argv)


def default_writer_id(checkpoint: str) -> str:
    location = checkpoint if "://" in checkpoint else os.path.realpath(checkpoint)
    return "spark-" + hashlib.sha256(location.encode()).hexdigest()[:12]


def spark_session(master: str) -> SparkSession:
    spark = (
        SparkSession.builder.appName("floe-foreach-batch")
        .master(master)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    return spark


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    writer_id = args.writer_id or default_writer_id(args.checkpoint)
    crash_after = os.environ.get(CRASH_HOOK)
    crash_after = int(crash_after) if crash_after else None

    spark = spark_session(args.master)
    schema = args.schema
    if schema is None:
        try:
            schema = spark.read.parquet(args.input).schema
        except AnalysisException as e:
            first_line = str(e).strip().splitlines()[0]
            print(f"no schema from {args.input} ({first_line}): give --schema", file=sys.stderr)
            spark.stop()
            return 2

    # One writer in the driver for the query's lifetime; foreachBatch runs in the driver.
    writer = floe.UpsertWriter(
        args.catalog, args.table, writer_id=writer_id,
        key=[k.strip() for k in args.key.split(",")] if args.key else None,
        buckets=args.buckets, create=True,
        token=os.environ.get("FLOE_TOKEN"), credential=os.environ.get("FLOE_CREDENTIAL"),
    )
    print(f"writer {writer_id}: last committed batch {writer.last_committed}", flush=True)

    def write_batch(batch: DataFrame, batch_id: int) -> None:
        last = writer.last_committed
        if last is not None and batch_id < last:
            # Spark replays at most its last batch: an older id means this checkpoint
            # location is not the one this writer id committed from.
            raise RuntimeError(
                f"batch {batch_id} is older than writer {writer_id}'s last committed batch "
                f"{last}: a new checkpoint location needs a new --writer-id"
            )
        # One file per batch: toArrow collects its rows in file order, the order Floe
        # applies a checkpoint's changes to one key in.
        data = batch.toArrow()
        try:
            writer.write(data)
            result = writer.commit(checkpoint_id=batch_id)
        except BaseException:
            writer.abort()  # nothing of this batch stays open; Spark will run it again
            raise
        if result is not None:
            print(
                f"batch {batch_id}: committed snapshot {result.snapshot_id} "
                f"({result.rows} rows, {result.equality_deletes} equality deletes)",
                flush=True,
            )
        elif writer.last_committed is not None and writer.last_committed >= batch_id:
            print(f"batch {batch_id}: already committed, a replay: skipped", flush=True)
        else:
            print(f"batch {batch_id}: nothing to commit", flush=True)
        if batch_id == crash_after:
            print(f"batch {batch_id}: exiting before Spark's commit log ({CRASH_HOOK})", flush=True)
            os._exit(3)

    changes = (
        spark.readStream.schema(schema)
        .option("maxFilesPerTrigger", 1)  # one file per batch: changes stay in file order
        .parquet(args.input)
    )
    stream = changes.writeStream.foreachBatch(write_batch).option(
        "checkpointLocation", args.checkpoint
    )
    if args.available_now:
        stream = stream.trigger(availableNow=True)
    else:
        stream = stream.trigger(processingTime=args.interval)
    query = stream.start()

    # Ctrl-C stops the query between polls (pyspark's own SIGINT handler would break a
    # py4j call half-way). Whatever stops it, a batch cut short runs again at the next start.
    interrupted: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    try:
        while not query.awaitTermination(1):
            if interrupted:
                print("interrupted: stopping the query", flush=True)
                query.stop()
                break
    finally:
        writer.close()
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
