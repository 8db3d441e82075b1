#!/usr/bin/env python3
"""pyiceberg's `Table.upsert` throughput against a running Floe catalog (a benchmark, not a
test): the Python baseline for `floe upsert` / `cargo bench --bench upsert`.

The table has the 10 columns of benches/upsert.rs (id int64 key, required and the only
identifier field, plus 9 mixed columns). `--base-rows` rows are appended first (timed
separately, not part of the result); then each of `--batches` upsert batches of
`--batch-rows` rows (half of them updates of random existing keys with changed values, half
new keys) is passed to one `Table.upsert` call, which is timed. pyiceberg writes no delete
files: an upsert scans the table for the batch's keys, rewrites every data file holding a
matched row (copy-on-write `overwrite`) and appends the new rows, so its cost grows with
the table, not only with the batch.

Start a server with a throw-away warehouse first, e.g.

    floe serve --bind 127.0.0.1:8181 --warehouse /tmp/wh --data-dir /tmp/floe-data

then, with the interop venv (pyiceberg 0.12, pyarrow):

    ~/.cache/floe/venv/bin/python benches/pyiceberg_upsert.py --catalog http://127.0.0.1:8181 \\
        [--base-rows 1000000] [--batch-rows 100000] [--batches 3] [--buckets 0] [--keep]

The table is created in a new namespace `bench_<hex>` and dropped with purge at the end
(unless --keep). Generation of the input is not timed.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid

import pyarrow as pa

CITIES = ["Amsterdam", "Berlin", "Cairo", "Denver", "Espoo", "Fukuoka", "Graz", "Hanoi"]
BASE_TS_US = 1_700_000_000_000_000

ARROW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("account", pa.int64()),
        pa.field("amount", pa.float64()),
        pa.field("score", pa.float64()),
        pa.field("name", pa.string()),
        pa.field("city", pa.string()),
        pa.field("version", pa.int32()),
        pa.field("active", pa.bool_()),
        pa.field("updated_at", pa.timestamp("us")),
        pa.field("note", pa.string()),
    ]
)


def iceberg_schema():
    from pyiceberg.schema import Schema
    from pyiceberg.types import (
        BooleanType,
        DoubleType,
        IntegerType,
        LongType,
        NestedField,
        StringType,
        TimestampType,
    )

    return Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "account", LongType(), required=False),
        NestedField(3, "amount", DoubleType(), required=False),
        NestedField(4, "score", DoubleType(), required=False),
        NestedField(5, "name", StringType(), required=False),
        NestedField(6, "city", StringType(), required=False),
        NestedField(7, "version", IntegerType(), required=False),
        NestedField(8, "active", BooleanType(), required=False),
        NestedField(9, "updated_at", TimestampType(), required=False),
        NestedField(10, "note", StringType(), required=False),
        identifier_field_ids=[1],
    )


def make_rows(ids: list[int], version: int, rng: random.Random, ts_offset: int) -> pa.Table:
    """Rows for `ids`; every column but id, account and name depends on `version` or the
    random stream, so an update always changes the row (pyiceberg skips unchanged rows)."""
    n = len(ids)
    return pa.Table.from_pydict(
        {
            "id": ids,
            "account": [i % 100_003 for i in ids],
            "amount": [rng.randrange(1_000_000) / 100.0 for _ in range(n)],
            "score": [rng.randrange(1000) / 7.0 for _ in range(n)],
            "name": [f"user-{i:010}" for i in ids],
            "city": [CITIES[rng.randrange(8)] for _ in range(n)],
            "version": [version] * n,
            "active": [rng.random() < 0.5 for _ in range(n)],
            "updated_at": [BASE_TS_US + (ts_offset + j) * 1000 for j in range(n)],
            "note": [f"note {rng.randrange(65536):x}" for _ in range(n)],
        },
        schema=ARROW_SCHEMA,
    )


def upsert_batch(b: int, rows: int, next_id: int, rng: random.Random) -> pa.Table:
    """Batch b (1-based): rows // 2 updates of distinct random existing keys (pyiceberg
    refuses duplicate keys in one upsert), the rest new keys from next_id on."""
    updates = rng.sample(range(next_id), rows // 2)
    inserts = list(range(next_id, next_id + rows - rows // 2))
    ids = updates + inserts
    rng.shuffle(ids)
    return make_rows(ids, b, rng, next_id + b * rows)


def fmt_rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s" if seconds > 0 else "inf rows/s"


def timed_upserts(catalog, ident: str, base_rows: int, batch_rows: int, batches: int, seed: int,
                  report=lambda b, spent, got: None) -> tuple[float, list[float]]:
    """Appends `base_rows` rows to the table `ident` (untimed), then times `batches` calls of
    `Table.upsert` of `batch_rows` rows (half updates of existing keys, half new), each on a
    fresh load as a new writer process would; `report(b, seconds, (updated, inserted))`
    hears about each. Raises when pyiceberg reports other counts than the batch holds.
    Answers the append's seconds and each call's."""
    rng = random.Random(seed)
    table = catalog.load_table(ident)
    start = time.perf_counter()
    table.append(make_rows(list(range(base_rows)), 0, rng, 0))
    appended = time.perf_counter() - start
    next_id, calls = base_rows, []
    for b in range(1, batches + 1):
        batch = upsert_batch(b, batch_rows, next_id, rng)
        table = catalog.load_table(ident)
        start = time.perf_counter()
        result = table.upsert(batch)
        spent = time.perf_counter() - start
        next_id += batch_rows - batch_rows // 2
        expected = (batch_rows // 2, batch_rows - batch_rows // 2)
        got = (result.rows_updated, result.rows_inserted)
        if got != expected:
            raise RuntimeError(f"upsert {b}: expected (updated, inserted) = {expected}, pyiceberg reported {got}")
        calls.append(spent)
        report(b, spent, got)
    return appended, calls


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--catalog", required=True, help="Floe REST catalog URL, e.g. http://127.0.0.1:8181")
    ap.add_argument("--base-rows", type=int, default=1_000_000)
    ap.add_argument("--batch-rows", type=int, default=100_000)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--buckets", type=int, default=0, help="partition by bucket(N, id); 0: unpartitioned (default)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the table (default: drop it with purge)")
    a = ap.parse_args(argv)
    if a.batch_rows < 2 or a.base_rows < a.batch_rows // 2 or a.batches < 1:
        ap.error("need --batch-rows >= 2, --base-rows >= batch-rows / 2 and --batches >= 1")

    # Keep a user's ~/.pyiceberg.yaml out of it.
    os.environ.setdefault("PYICEBERG_HOME", tempfile.mkdtemp(prefix="floe-bench-pyiceberg-home-"))
    import pyiceberg
    from pyiceberg.catalog import load_catalog
    from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionField, PartitionSpec
    from pyiceberg.transforms import BucketTransform

    catalog = load_catalog("floe", type="rest", uri=a.catalog)
    ns = f"bench_{uuid.uuid4().hex[:10]}"
    ident = f"{ns}.upserts"
    spec = UNPARTITIONED_PARTITION_SPEC
    if a.buckets > 0:
        spec = PartitionSpec(PartitionField(1, 1000, BucketTransform(a.buckets), "id_bucket"))
    catalog.create_namespace(ns)
    table = catalog.create_table(ident, iceberg_schema(), partition_spec=spec, properties={"format-version": "2"})
    print(
        f"pyiceberg {pyiceberg.__version__}, pyarrow {pa.__version__}, python {sys.version.split()[0]}; "
        f"table {ident} at {table.location()} "
        f"({'bucket(%d, id)' % a.buckets if a.buckets else 'unpartitioned'})",
        flush=True,
    )
    try:
        def report(b: int, spent: float, got: tuple) -> None:
            table = catalog.load_table(ident)
            snap = table.current_snapshot()
            total = snap.summary.get("total-records") if snap and snap.summary else "?"
            print(
                f"upsert {b}/{a.batches}: {a.batch_rows:,} rows (updated {got[0]:,}, inserted {got[1]:,}) "
                f"in {spent:.2f} s = {a.batch_rows / spent:,.0f} rows/s; table now {total} rows, "
                f"{len(table.snapshots())} snapshots",
                flush=True,
            )

        appended, calls = timed_upserts(catalog, ident, a.base_rows, a.batch_rows, a.batches, a.seed, report)
        print(f"append {a.base_rows:,} base rows: {appended:.2f} s (untimed)", flush=True)
        rates = [a.batch_rows / spent for spent in calls]
        print(
            f"median: {statistics.median(rates):,.0f} rows/s over {a.batches} upsert(s) of {a.batch_rows:,} rows "
            f"into {a.base_rows:,} base rows",
            flush=True,
        )
    finally:
        if not a.keep:
            try:
                catalog.purge_table(ident)
                catalog.drop_namespace(ns)
            except Exception as e:  # cleanup only: report, do not hide the result
                print(f"cleanup failed: {e!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
