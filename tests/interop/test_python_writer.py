"""The `floe` Python package (built from python/ with maturin) against a running `floe serve`.

A seeded change stream goes through `floe.UpsertWriter` (pyarrow Tables with and without
`_op`, RecordBatchReaders, RecordBatches, polars DataFrames); after each commit DuckDB
reads exactly the rows of an in-memory model, and after `floe.compact` folds the deletes
away pyiceberg does too (pyiceberg 0.12 cannot read equality deletes). Also: replays of a
committed checkpoint return None and add nothing, the watermark, `floe.table_info`, and
each exception class on its cause: a bad column and a null key (InputError, nothing
changed), a stale writer whose table allows no retry (CommitConflictError), and a catalog
whose commit answers are lost (CommitStateUnknownError, files kept).
"""

from __future__ import annotations

import http.server
import random
import threading
import urllib.request

import polars as pl
import pyarrow as pa
import pytest

import floe
from interop_util import location_to_path, UpsertModel, sorted_rows

pytestmark = pytest.mark.package

COLUMNS = ["id", "name", "qty"]
SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("qty", pa.int32())])


def changes(rng: random.Random, model: UpsertModel, n: int, next_id: int, with_op: bool) -> tuple[pa.Table, int]:
    """n changes: updates and deletes of existing keys, and new keys."""
    ids, names, qtys, ops = [], [], [], []
    existing = list(model.rows)
    for _ in range(n):
        r = rng.random()
        if existing and r < 0.4:
            key = rng.choice(existing)
        else:
            key, next_id = next_id, next_id + 1
        op = "+I"
        if with_op:
            op = "-D" if existing and r < 0.15 else rng.choice(["+I", "+U"])
        ids.append(key)
        names.append(rng.choice(["alpha", "beta", "γάμμα", "", None]))
        qtys.append(rng.randrange(-1000, 1000))
        ops.append(op)
    table = pa.table({"id": ids, "name": names, "qty": pa.array(qtys, pa.int32())}, schema=SCHEMA)
    if with_op:
        table = table.append_column("_op", pa.array(ops, pa.string()))
    return table, next_id


def duck_rows(duck, ns: str, name: str) -> list[tuple]:
    return sorted_rows(duck.execute(f'SELECT id, name, qty FROM c."{ns}"."{name}"').fetchall())


def snapshot_count(url: str, table: str) -> int:
    return len(floe.table_info(url, table)["snapshots"])


def test_write_commit_replay_and_watermark(floe_url, duck, catalog, unique_name):
    ns, name = unique_name("py"), "users"
    table = f"{ns}.{name}"
    rng, model, next_id = random.Random(7), UpsertModel(COLUMNS), 0
    with floe.UpsertWriter(floe_url, table, writer_id="job-7", key=["id"], buckets=4, create=True) as w:
        assert w.last_committed is None
        # The first checkpoint creates the table from its columns and needs no deletes.
        data, next_id = changes(rng, model, 500, next_id, with_op=False)
        w.write(data)
        model.apply(data)
        first = w.commit(checkpoint_id=1)
        assert isinstance(first, floe.CommitResult)
        assert (first.checkpoint_id, first.rows, first.equality_delete_files) == (1, 500, 0)
        assert first.data_files >= 1 and first.sequence_number >= 1
        assert f"checkpoint_id=1, data_files={first.data_files}," in repr(first)
        assert w.last_committed == 1
        assert duck_rows(duck, ns, name) == model.sorted()
        # Checkpoints with `_op` (updates, deletes, re-inserts), one with a watermark.
        for checkpoint in (2, 3, 4):
            data, next_id = changes(rng, model, 400, next_id, with_op=True)
            w.write(data)
            model.apply(data)
            watermark = 1_700_000_000_000 + checkpoint if checkpoint == 3 else None
            result = w.commit(checkpoint_id=checkpoint, watermark=watermark)
            assert result is not None and result.checkpoint_id == checkpoint
            assert result.equality_delete_files > 0, "updates of older rows need equality deletes"
            if checkpoint == 3:
                assert result.watermark == 1_700_000_000_003
            assert duck_rows(duck, ns, name) == model.sorted()
    info = floe.table_info(floe_url, table)
    assert info["key"] == ["id"] and info["writers"] == {"job-7": 4}
    assert info["watermark"] == 1_700_000_000_003
    assert [s["checkpoint_id"] for s in info["snapshots"]] == [1, 2, 3, 4]

    # A restarted job replays checkpoint 4: the writer answers None and adds nothing.
    before = snapshot_count(floe_url, table)
    with floe.UpsertWriter(floe_url, table, writer_id="job-7") as w:
        assert w.last_committed == 4
        replay, _ = changes(rng, model, 50, next_id, with_op=False)
        w.write(replay)
        assert w.commit(checkpoint_id=4) is None
        # An older watermark does not move the table's back.
        w.write(pa.table({"id": [next_id + 1000], "name": ["late"], "qty": pa.array([1], pa.int32())}, schema=SCHEMA))
        model.apply(pa.table({"id": [next_id + 1000], "name": ["late"], "qty": pa.array([1], pa.int32())}, schema=SCHEMA))
        late = w.commit(checkpoint_id=5, watermark=1_000)
        assert late is not None and late.watermark == 1_700_000_000_003
    assert snapshot_count(floe_url, table) == before + 1
    assert duck_rows(duck, ns, name) == model.sorted()

    # Converting the equality deletes leaves position deletes only, and the same rows.
    planned = floe.convert_deletes(floe_url, table, dry_run=True)
    assert planned["partitions"] and all(p["outcome"] == "planned" for p in planned["partitions"]), planned
    converted = floe.convert_deletes(floe_url, table)
    assert converted["failed"] == 0 and converted["committed"] >= 1, converted
    kinds = {f["content"] for f in floe.table_info(floe_url, table)["files"]}
    assert "equality-deletes" not in kinds and "position-deletes" in kinds, kinds
    assert duck_rows(duck, ns, name) == model.sorted()

    # Compaction folds every delete away: pyiceberg reads the same rows too.
    report = floe.compact(floe_url, table, options={"min-input-files": "1"})
    assert report["failed"] == 0 and report["committed"] >= 1, report
    files = floe.table_info(floe_url, table)["files"]
    assert files and all(f["content"] == "data" for f in files), files
    tbl = catalog.load_table((ns, name))
    scanned = tbl.scan().to_arrow().select(COLUMNS)
    assert sorted_rows(zip(*(scanned.column(c).to_pylist() for c in COLUMNS))) == model.sorted()
    assert duck_rows(duck, ns, name) == model.sorted()
    expired = floe.expire_snapshots(floe_url, table, older_than="0s", retain_last=1)
    assert expired["expired_snapshots"] >= 1 and expired["failed_deletes"] == 0


def test_arrow_inputs(floe_url, duck, unique_name):
    """pyarrow Table, RecordBatch, RecordBatchReader and a polars DataFrame all write."""
    ns, name = unique_name("py"), "inputs"
    table = f"{ns}.{name}"
    rng, model, next_id = random.Random(11), UpsertModel(COLUMNS), 0
    with floe.UpsertWriter(floe_url, table, writer_id="w", key=["id"], buckets=2, create=True) as w:
        data, next_id = changes(rng, model, 300, next_id, with_op=True)
        w.write(data)  # a pyarrow Table
        model.apply(data)
        assert w.commit(1) is not None
        data, next_id = changes(rng, model, 300, next_id, with_op=True)
        batches = data.to_batches(max_chunksize=64)
        w.write(pa.RecordBatchReader.from_batches(data.schema, batches))
        model.apply(data)
        assert w.commit(2) is not None
        data, next_id = changes(rng, model, 100, next_id, with_op=False)
        w.write(data.combine_chunks().to_batches()[0])  # one RecordBatch
        model.apply(data)
        assert w.commit(3) is not None
        data, next_id = changes(rng, model, 300, next_id, with_op=True)
        frame = pl.from_arrow(data)
        assert isinstance(frame, pl.DataFrame)
        w.write(frame)  # polars exports strings as string views, ids as int64
        model.apply(data)
        assert w.commit(4) is not None
        # The pipelined form: start_commit answers the commit started before.
        data, next_id = changes(rng, model, 200, next_id, with_op=True)
        w.write(data)
        model.apply(data)
        assert w.start_commit(5) is None
        data, next_id = changes(rng, model, 200, next_id, with_op=True)
        w.write(data)
        model.apply(data)
        previous = w.start_commit(6)
        assert previous is not None and previous.checkpoint_id == 5
        last = w.finish_commit()
        assert last is not None and last.checkpoint_id == 6
    assert duck_rows(duck, ns, name) == model.sorted()


def test_bad_input_changes_nothing(floe_url, duck, unique_name):
    ns, name = unique_name("py"), "bad"
    table = f"{ns}.{name}"
    with pytest.raises(floe.InputError, match="does not exist"):
        floe.UpsertWriter(floe_url, table, writer_id="w")
    with floe.UpsertWriter(floe_url, table, writer_id="w", key=["id"], create=True) as w:
        # A bad first write creates no table.
        with pytest.raises(floe.InputError, match="null"):
            w.write(pa.table({"id": pa.array([1, None], pa.int64()), "name": ["a", "b"], "qty": pa.array([1, 2], pa.int32())}))
        assert w.commit(1) is None
    with pytest.raises(floe.InputError, match="does not exist"):
        floe.table_info(floe_url, table)
    good = pa.table({"id": [1, 2], "name": ["a", "b"], "qty": pa.array([1, 2], pa.int32())}, schema=SCHEMA)
    with floe.UpsertWriter(floe_url, table, writer_id="w", key=["id"], create=True) as w:
        w.write(good)
        assert w.commit(1) is not None
        before = floe.table_info(floe_url, table)
        # A column the table lacks, a null key, an unknown _op: refused whole.
        bad = [
            (good.append_column("colour", pa.array(["red", "blue"])), "colour"),
            (pa.table({"id": pa.array([3, None], pa.int64()), "name": ["c", "d"], "qty": pa.array([3, 4], pa.int32())}), "null"),
            (good.append_column("_op", pa.array(["+I", "?!"])), "_op|\\?!"),
        ]
        for data, message in bad:
            with pytest.raises(floe.InputError, match=message):
                w.write(data)
        # The writer goes on: nothing of the refused batches is in the next commit.
        w.write(pa.table({"id": [3], "name": ["c"], "qty": pa.array([3], pa.int32())}, schema=SCHEMA))
        result = w.commit(2)
        assert result is not None and result.rows == 1
        with pytest.raises(floe.InputError, match="writer_id"):
            floe.UpsertWriter(floe_url, table).commit(checkpoint_id=3)
    with pytest.raises(floe.InputError, match="key"):
        floe.UpsertWriter(floe_url, table, key=["name"])
    with pytest.raises(floe.InputError):
        floe.UpsertWriter(floe_url, "no-namespace")
    with pytest.raises(floe.InputError, match="Arrow"):
        floe.UpsertWriter(floe_url, table, writer_id="w").write([1, 2, 3])
    assert len(before["snapshots"]) + 1 == len(floe.table_info(floe_url, table)["snapshots"])
    assert duck_rows(duck, ns, name) == [(1, "a", 1), (2, "b", 2), (3, "c", 3)]


def row(i: int) -> pa.Table:
    return pa.table({"id": [i], "name": [f"r{i}"], "qty": pa.array([i], pa.int32())}, schema=SCHEMA)


def one_checkpoint_table(url: str, catalog, ns: str, name: str, properties: dict) -> None:
    """A table holding row 1 as writer a's checkpoint 1, with table `properties` set."""
    with floe.UpsertWriter(url, f"{ns}.{name}", writer_id="a", key=["id"], create=True) as w:
        w.write(row(1))
        w.commit(1)
    with catalog.load_table((ns, name)).transaction() as tx:
        tx.set_properties(properties)


def test_stale_writer_conflict(floe_url, catalog, duck, unique_name):
    """A writer whose table moved on, on a table that allows no retry, gets a conflict."""
    ns, name = unique_name("py"), "stale"
    table = f"{ns}.{name}"
    one_checkpoint_table(floe_url, catalog, ns, name, {"commit.retry.num-retries": "0"})
    stale = floe.UpsertWriter(floe_url, table, writer_id="a")
    with floe.UpsertWriter(floe_url, table, writer_id="b") as other:
        other.write(row(2))
        assert other.commit(1) is not None
    stale.write(row(3))
    with pytest.raises(floe.CommitConflictError, match="gave up"):
        stale.commit(2)
    stale.abort()
    assert duck_rows(duck, ns, name) == [(1, "r1", 1), (2, "r2", 2)]
    # A writer opened afresh commits.
    with floe.UpsertWriter(floe_url, table, writer_id="a") as w:
        assert w.last_committed == 1
        w.write(row(3))
        assert w.commit(2) is not None
    assert duck_rows(duck, ns, name) == [(1, "r1", 1), (2, "r2", 2), (3, "r3", 3)]


class LostCommitAnswers:
    """An HTTP proxy in front of the catalog that forwards everything but table commits,
    which it answers 503 without forwarding: to the writer, their outcome is unknown."""

    def __init__(self, upstream: str) -> None:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                is_commit = self.command == "POST" and "/tables/" in self.path and not self.path.endswith("/metrics")
                if is_commit:
                    proxy.lost += 1
                    self.send_response(503)
                    payload = b'{"error": {"message": "lost", "type": "ServiceUnavailableException", "code": 503}}'
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(upstream + self.path, data=body, headers=headers, method=self.command)
                try:
                    with urllib.request.urlopen(request, timeout=30) as r:
                        status, payload, content_type = r.status, r.read(), r.headers.get("Content-Type", "")
                except urllib.error.HTTPError as e:
                    status, payload, content_type = e.code, e.read(), e.headers.get("Content-Type", "")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = do_DELETE = forward

        self.lost = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_unknown_commit_outcome_keeps_files(floe_url, catalog, duck, unique_name):
    ns, name = unique_name("py"), "unknown"
    table = f"{ns}.{name}"
    retries = {"commit.retry.num-retries": "1", "commit.retry.min-wait-ms": "10"}
    one_checkpoint_table(floe_url, catalog, ns, name, retries)
    proxy = LostCommitAnswers(floe_url)
    try:
        w = floe.UpsertWriter(proxy.url, table, writer_id="a")
        w.write(row(2))
        with pytest.raises(floe.CommitStateUnknownError, match="unknown"):
            w.commit(2)
        assert proxy.lost == 2
    finally:
        proxy.close()
    # Nothing landed, and the checkpoint's files are kept: a fresh writer sees checkpoint 1
    # and writes checkpoint 2 again.
    location = location_to_path(floe.table_info(floe_url, table)["location"])
    written = {p for p in (location / "data").rglob("*.parquet")}
    referenced = {f["path"] for f in floe.table_info(floe_url, table)["files"]}
    assert len(written) > len(referenced), "the unknown commit's data files are kept"
    with floe.UpsertWriter(floe_url, table, writer_id="a") as w:
        assert w.last_committed == 1
        w.write(row(2))
        assert w.commit(2) is not None
    assert duck_rows(duck, ns, name) == [(1, "r1", 1), (2, "r2", 2)]
