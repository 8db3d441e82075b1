"""`floe upsert` (the bucketed upsert writer) read back by DuckDB 1.5's iceberg extension.

A seeded random change stream (Flink row kinds +I, -U, +U, -D) is written one checkpoint per
`floe upsert` run; after every checkpoint DuckDB must read exactly the rows of an in-memory
model (every column), through the attached REST catalog, and at intervals through a fresh
connection and `iceberg_scan(<metadata.json>)`. Also: pyiceberg 0.12's documented refusal
to scan equality deletes, exactly-once replays of checkpoints, CSV inputs and watermarks.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import re
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import floe_binary, make_catalog
from interop_util import location_to_path, sort_key, table_path

COLUMNS = ["id", "name", "qty", "ts"]
ARROW_TYPES = {
    "id": pa.int64(),
    "name": pa.string(),
    "qty": pa.int32(),
    "ts": pa.timestamp("us"),
    "_op": pa.string(),
}
EPOCH = dt.datetime(1970, 1, 1)
NAMES = ["alpha", "beta", "gamma", "δέλτα", "имя", "名前", "a,b;c", "quote\"d", "", " pad ", "x" * 300]

COMMITTED_RE = re.compile(
    r"checkpoint (\d+) \(.*\): committed snapshot (\d+) \(sequence number (\d+)\): "
    r"(\d+) data files? with (\d+) rows, (\d+) equality-delete files? with (\d+) keys, "
    r"(\d+) position-delete files? with (\d+) rows"
)


# --------------------------------------------------------------------------------------
# Running the CLI


def run_floe(*args: str, timeout: float = 120) -> str:
    cmd = [str(floe_binary()), *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, (
        f"exit code {r.returncode}: {' '.join(cmd)}\n--- stdout ---\n{r.stdout[-4000:]}"
        f"\n--- stderr ---\n{r.stderr[-6000:]}"
    )
    return r.stdout


def floe_upsert(url: str, table: str, inputs, *extra: str) -> str:
    args = ["upsert", "--catalog", url, "--table", table]
    for p in inputs:
        args += ["--input", str(p)]
    return run_floe(*args, *extra)


# --------------------------------------------------------------------------------------
# Reading the table's state over REST and through DuckDB


def load_table(http, ns: str, name: str) -> dict:
    r = http.get(table_path(ns, name))
    assert r.status_code == 200, f"GET {table_path(ns, name)} -> {r.status_code} {r.text[:500]}"
    return r.json()


def current_snapshot(meta: dict) -> dict:
    md = meta["metadata"]
    sid = md.get("current-snapshot-id")
    assert sid not in (None, -1), "the table has no current snapshot"
    (snap,) = [s for s in md["snapshots"] if s["snapshot-id"] == sid]
    return snap


def model_rows(model: dict) -> list[tuple]:
    return sorted(((k, *v) for k, v in model.items()), key=sort_key)


def describe_diff(expected: list[tuple], actual: list[tuple]) -> str:
    exp = {r[0]: r for r in expected}
    act: dict = {}
    dup = []
    for r in actual:
        if r[0] in act:
            dup.append(r)
        act[r[0]] = r
    lines = [f"expected {len(expected)} rows, got {len(actual)}"]
    missing = sorted(k for k in exp if k not in act)
    extra = sorted(k for k in act if k not in exp)
    changed = sorted(k for k in exp if k in act and exp[k] != act[k])
    if dup:
        lines.append(f"duplicate keys ({len(dup)}): {dup[:5]}")
    if missing:
        lines.append(f"missing keys ({len(missing)}): {[exp[k] for k in missing[:5]]}")
    if extra:
        lines.append(f"unexpected keys ({len(extra)}): {[act[k] for k in extra[:5]]}")
    for k in changed[:5]:
        lines.append(f"key {k}: expected {exp[k]}, got {act[k]}")
    return "\n".join(lines)


def assert_rows(actual, model: dict, what: str) -> None:
    actual = sorted((tuple(r) for r in actual), key=sort_key)
    expected = model_rows(model)
    if actual != expected:
        raise AssertionError(f"{what}: table != model\n{describe_diff(expected, actual)}")


def duck_select(con, source: str) -> list[tuple]:
    return con.execute(f"SELECT id, name, qty, ts FROM {source}").fetchall()


# --------------------------------------------------------------------------------------
# Inputs


def write_parquet(path: Path, rows: list[tuple], rng: random.Random | None = None) -> Path:
    """rows: (op, id, name, qty, ts). The column order is shuffled when rng is given
    (the writer matches columns by name)."""
    names = ["_op", *COLUMNS]
    data = {n: pa.array([r[i] for r in rows], ARROW_TYPES[n]) for i, n in enumerate(names)}
    if rng is not None:
        rng.shuffle(names)
    pq.write_table(pa.table({n: data[n] for n in names}), path)
    return path


class KeySet:
    """A set of keys with O(1) add, remove and random choice."""

    def __init__(self):
        self.items: list[int] = []
        self.where: dict[int, int] = {}

    def __contains__(self, k) -> bool:
        return k in self.where

    def __len__(self) -> int:
        return len(self.items)

    def add(self, k: int) -> None:
        if k not in self.where:
            self.where[k] = len(self.items)
            self.items.append(k)

    def remove(self, k: int) -> None:
        i = self.where.pop(k)
        last = self.items.pop()
        if last != k:
            self.items[i] = last
            self.where[last] = i

    def choice(self, rng: random.Random) -> int:
        return self.items[rng.randrange(len(self.items))]


class ChangeStream:
    """Generates checkpoints of random changes over a small key space and keeps the model
    (key -> (name, qty, ts)) that applying them in upsert mode must give."""

    def __init__(self, seed: int, key_space: int = 300):
        self.rng = random.Random(seed)
        self.key_space = key_space
        self.model: dict[int, tuple] = {}
        self.present = KeySet()  # the model's keys
        self.deleted = KeySet()  # keys deleted once and absent now
        self.stats = {"+I": 0, "+U": 0, "-U": 0, "-D": 0, "-D missing": 0, "repeat": 0, "reinsert": 0}

    def value(self) -> tuple:
        rng = self.rng
        name = None if rng.random() < 0.08 else rng.choice(NAMES) + str(rng.randrange(1000))
        r = rng.random()
        if r < 0.12:
            qty = None
        elif r < 0.17:
            qty = rng.choice([-(2**31), 2**31 - 1, 0, -1])
        else:
            qty = rng.randrange(-1000, 100000)
        if rng.random() < 0.05:
            ts = None
        else:
            # 1900 .. 2200, microsecond precision
            ts = EPOCH + dt.timedelta(microseconds=rng.randrange(-2208988800 * 10**6, 7258118400 * 10**6))
        return (name, qty, ts)

    def absent_key(self) -> int | None:
        """A key of the key space the model does not hold (half the time one deleted
        before, when there is one), or None when the key space is full."""
        rng = self.rng
        if len(self.deleted) and rng.random() < 0.5:
            return self.deleted.choice(rng)
        if len(self.present) >= self.key_space:
            return None
        while True:
            k = rng.randrange(self.key_space)
            if k not in self.present:
                return k

    def set(self, key: int, v: tuple) -> None:
        self.model[key] = v
        self.present.add(key)
        if key in self.deleted:
            self.stats["reinsert"] += 1
            self.deleted.remove(key)

    def unset(self, key: int) -> None:
        if key in self.present:
            del self.model[key]
            self.present.remove(key)
            if 0 <= key < self.key_space:
                self.deleted.add(key)

    def checkpoint(self, n_ops: int) -> list[tuple]:
        rng = self.rng
        model = self.model
        rows: list[tuple] = []
        touched: list[int] = []

        def upsert(key: int, op: str) -> None:
            v = self.value()
            rows.append((op, key, *v))
            self.set(key, v)
            touched.append(key)
            self.stats[op] += 1

        def delete(key: int) -> None:
            if key in model and rng.random() < 0.5:
                rows.append(("-D", key, *model[key]))  # Flink carries the old row
            else:
                rows.append(("-D", key, None, None, None))
            self.stats["-D" if key in model else "-D missing"] += 1
            self.unset(key)
            touched.append(key)

        def update(key: int) -> None:
            if key in model and rng.random() < 0.7:
                rows.append(("-U", key, *model[key]))
                self.stats["-U"] += 1
            upsert(key, "+U")

        while len(rows) < n_ops:
            r = rng.random()
            if touched and r < 0.20:
                # A key this checkpoint already wrote or deleted: position deletes, deletes
                # of keys written in this checkpoint, re-inserts after a delete.
                self.stats["repeat"] += 1
                key = touched[rng.randrange(len(touched))]
                s = rng.random()
                if s < 0.45:
                    update(key)
                elif s < 0.65:
                    upsert(key, "+I")
                else:
                    delete(key)
            elif r < 0.42 or not len(self.present):
                key = self.absent_key()
                if key is not None:
                    upsert(key, "+I")
            elif r < 0.62:
                update(self.present.choice(rng))
            elif r < 0.66:
                upsert(self.present.choice(rng), "+I")  # +I of a present key replaces it too
            elif r < 0.80:
                delete(self.present.choice(rng))
            elif r < 0.90:
                # -D of a key the table does not hold (some never existed, some beyond the
                # key space, some deleted before).
                key = self.key_space + rng.randrange(10**6) if rng.random() < 0.3 else self.absent_key()
                if key is not None:
                    delete(key)
            else:
                # A stray -U changes nothing, whatever it carries.
                key = rng.randrange(self.key_space + 10)
                rows.append(("-U", key, *self.value()))
                self.stats["-U"] += 1
        return rows


# --------------------------------------------------------------------------------------
# 1 + 3: the random stream, checked after every checkpoint; then replays


SEEDS = [20240611, 7]
CHECKPOINTS = 25


@pytest.mark.parametrize("seed", SEEDS)
def test_random_upserts_match_duckdb(seed, floe_url, http, duck_factory, unique_name, tmp_path):
    ns = unique_name("ups")
    table = f"{ns}.t"
    writer = f"writer-{seed}"
    stream = ChangeStream(seed)
    duck = duck_factory()
    totals = {"eq_files": 0, "eq_keys": 0, "pos_files": 0, "pos_rows": 0}
    files: list[Path] = []

    for i in range(1, CHECKPOINTS + 1):
        rows = stream.checkpoint(stream.rng.randrange(90, 150))
        path = write_parquet(tmp_path / f"cp{i:03}.parquet", rows, stream.rng)
        files.append(path)
        extra = ["--writer-id", writer, "--checkpoint", str(i)]
        if i == 1:
            extra += ["--create", "--key", "id", "--buckets", "4"]
        out = floe_upsert(floe_url, table, [path], *extra)
        m = COMMITTED_RE.search(out)
        assert m and int(m.group(1)) == i, f"checkpoint {i}: unexpected output {out!r}"
        totals["eq_files"] += int(m.group(6))
        totals["eq_keys"] += int(m.group(7))
        totals["pos_files"] += int(m.group(8))
        totals["pos_rows"] += int(m.group(9))
        written_rows = sum(1 for r in rows if r[0] in ("+I", "+U"))
        assert int(m.group(5)) == written_rows, f"checkpoint {i}: {out!r}, {written_rows} +I/+U rows"

        # The catalog's view: one snapshot per checkpoint, tagged with writer and checkpoint.
        meta = load_table(http, ns, "t")
        snap = current_snapshot(meta)
        assert snap["snapshot-id"] == int(m.group(2))
        assert snap["summary"].get("floe.writer-id") == writer
        assert snap["summary"].get("floe.checkpoint-id") == str(i)
        assert len(meta["metadata"]["snapshots"]) == i

        # DuckDB through the attached catalog (one long-lived connection) ...
        what = f"seed {seed}, checkpoint {i} ({path.name})"
        (latest,) = duck.execute(
            "SELECT snapshot_id FROM iceberg_snapshots(c.%s.t) ORDER BY sequence_number DESC LIMIT 1" % ns
        ).fetchone()
        assert latest == snap["snapshot-id"], f"{what}: DuckDB sees snapshot {latest}, the catalog {snap['snapshot-id']}"
        assert_rows(duck_select(duck, f"c.{ns}.t"), stream.model, f"{what}, DuckDB catalog read")

        # ... and at intervals a fresh connection and the metadata file itself.
        if i % 8 == 0 or i == CHECKPOINTS:
            fresh = duck_factory()
            assert_rows(duck_select(fresh, f"c.{ns}.t"), stream.model, f"{what}, fresh DuckDB connection")
            location = str(location_to_path(meta["metadata-location"]))
            assert_rows(
                duck_select(fresh, f"iceberg_scan('{location}')"), stream.model, f"{what}, iceberg_scan({location})"
            )

    # The stream exercised what it is meant to.
    s = stream.stats
    assert s["reinsert"] > 0 and s["-D missing"] > 0 and s["repeat"] > 0 and s["-U"] > 0, s
    assert totals["eq_keys"] > 0 and totals["pos_rows"] > 0, totals
    print(f"seed {seed}: ops {s}, deletes {totals}, final rows {len(stream.model)}")

    # `floe table show` reads the table too.
    shown = run_floe("table", "show", "--catalog", floe_url, "--table", table)
    assert "equality-deletes" in shown and "position-deletes" in shown, shown[-3000:]

    # 3. Replaying the last checkpoint (same writer, id and file) commits nothing.
    before = load_table(http, ns, "t")
    out = floe_upsert(floe_url, table, [files[-1]], "--writer-id", writer, "--checkpoint", str(CHECKPOINTS))
    assert "already committed" in out, out
    assert "committed snapshot" not in out, out
    after = load_table(http, ns, "t")
    assert after["metadata-location"] == before["metadata-location"]
    assert len(after["metadata"]["snapshots"]) == CHECKPOINTS
    assert current_snapshot(after)["snapshot-id"] == current_snapshot(before)["snapshot-id"]
    assert_rows(duck_select(duck_factory(), f"c.{ns}.t"), stream.model, f"seed {seed}, after replaying the last checkpoint")

    # An older checkpoint is also already committed; one run holding the replayed last
    # checkpoint and a new one commits only the new one.
    out = floe_upsert(floe_url, table, [files[2]], "--writer-id", writer, "--checkpoint", "3")
    assert "already committed" in out and "committed snapshot" not in out, out
    new_rows = stream.checkpoint(60)
    new_path = write_parquet(tmp_path / "cp-next.parquet", new_rows)
    out = floe_upsert(
        floe_url, table, [files[-1], new_path], "--writer-id", writer, "--checkpoint", str(CHECKPOINTS)
    )
    lines = out.strip().splitlines()
    assert len(lines) == 2 and "already committed" in lines[0], out
    m = COMMITTED_RE.search(lines[1])
    assert m and int(m.group(1)) == CHECKPOINTS + 1, out
    meta = load_table(http, ns, "t")
    assert len(meta["metadata"]["snapshots"]) == CHECKPOINTS + 1
    assert current_snapshot(meta)["summary"].get("floe.checkpoint-id") == str(CHECKPOINTS + 1)
    assert_rows(duck_select(duck_factory(), f"c.{ns}.t"), stream.model, f"seed {seed}, after checkpoint {CHECKPOINTS + 1}")


def test_large_checkpoints_span_batches_and_files(floe_url, http, duck_factory, unique_name, tmp_path, catalog):
    """Checkpoints larger than one input batch (the writer reads 64Ki rows at a time), in a
    table whose tiny target file size makes the writer roll to a new data file at every
    batch: position deletes of repeated keys must then point into the right file."""
    ns = unique_name("upsbig")
    table = f"{ns}.t"
    stream = ChangeStream(99, key_space=3000)
    p0 = write_parquet(tmp_path / "cp0.parquet", stream.checkpoint(50))
    floe_upsert(floe_url, table, [p0], "--create", "--key", "id", "--buckets", "2")
    with catalog.load_table(table).transaction() as tx:
        tx.set_properties(**{"write.target-file-size-bytes": "1"})
    for i in (1, 2):
        rows = stream.checkpoint(150_000)
        path = write_parquet(tmp_path / f"cp{i}.parquet", rows)
        out = floe_upsert(floe_url, table, [path])
        m = re.search(r"(\d+) data files? with (\d+) rows.* (\d+) position-delete files? with (\d+) rows", out)
        assert m, out
        # 3 input batches in each of 2 buckets: at least 6 data files.
        assert int(m.group(1)) >= 6 and int(m.group(4)) > 0, out
        assert int(m.group(2)) == sum(1 for r in rows if r[0] in ("+I", "+U")), out
        assert_rows(duck_select(duck_factory(), f"c.{ns}.t"), stream.model, f"large checkpoint {i}")


# --------------------------------------------------------------------------------------
# 2: pyiceberg 0.12 does not read equality deletes


def test_pyiceberg_refuses_equality_deletes(floe_url, http, duck_factory, unique_name, tmp_path):
    ns = unique_name("upspy")
    table = f"{ns}.t"
    stream = ChangeStream(11, key_space=50)
    for i in (1, 2):
        path = write_parquet(tmp_path / f"cp{i}.parquet", stream.checkpoint(40))
        extra = ["--create", "--key", "id", "--buckets", "4"] if i == 1 else []
        floe_upsert(floe_url, table, [path], *extra)
    assert_rows(duck_select(duck_factory(), f"c.{ns}.t"), stream.model, "DuckDB")
    snap = current_snapshot(load_table(http, ns, "t"))
    assert int(snap["summary"].get("total-equality-deletes", "0")) > 0, snap["summary"]

    # pyiceberg reads the table's metadata fine: the key and the bucket spec.
    tbl = make_catalog(floe_url).load_table(table)
    schema = tbl.schema()
    assert [schema.find_field(f).name for f in schema.identifier_field_ids] == ["id"]
    assert schema.find_field("id").required
    (pf,) = tbl.spec().fields
    assert str(pf.transform) == "bucket[4]"

    # ... but scanning rows with equality deletes is not implemented in 0.12; it must say
    # so rather than return rows that should be deleted.
    with pytest.raises((ValueError, NotImplementedError)) as err:
        tbl.scan().to_arrow()
    assert "equality delete" in str(err.value).lower(), repr(err.value)


# --------------------------------------------------------------------------------------
# 4: CSV inputs


def write_csv(path: Path, header: list[str], rows: list[tuple]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
    return path


def test_csv_inputs(floe_url, http, duck_factory, unique_name, tmp_path):
    ns = unique_name("upscsv")
    table = f"{ns}.t"
    model: dict[int, tuple] = {}

    # Checkpoint 1 creates the table from the CSV's columns (id int64, name utf8).
    rows1 = [
        (1, "one", "+I"),
        (2, "two", "+I"),
        (3, "three", "+I"),
        (2, "two, again", "+U"),  # repeated inside the checkpoint: a position delete
        (4, "four", "+I"),
        (4, None, "-D"),          # written then deleted in the same checkpoint
        (5, "five \"quoted\"", "+I"),
        (99, None, "-D"),         # a key that never existed
    ]
    for k, name, op in rows1:
        if op in ("+I", "+U"):
            model[k] = (name,)
        elif op == "-D":
            model.pop(k, None)
    p1 = write_csv(tmp_path / "cp1.csv", ["id", "name", "_op"], rows1)
    out = floe_upsert(floe_url, table, [p1], "--create", "--key", "id", "--buckets", "2", "--writer-id", "csv")
    assert "checkpoint 1 (" in out and "committed snapshot" in out, out

    meta = load_table(http, ns, "t")
    md = meta["metadata"]
    (schema,) = [s for s in md["schemas"] if s["schema-id"] == md["current-schema-id"]]
    assert [(f["name"], f["type"], f["required"]) for f in schema["fields"]] == [
        ("id", "long", True),
        ("name", "string", False),
    ]
    assert [schema["fields"][0]["id"]] == schema["identifier-field-ids"]

    def check(what):
        got = duck_factory().execute(f"SELECT id, name FROM c.{ns}.t").fetchall()
        expected = sorted((k, *v) for k, v in model.items())
        assert sorted(got, key=sort_key) == sorted(expected, key=sort_key), f"{what}: {got} != {expected}"

    check("after CSV checkpoint 1")

    # Checkpoint 2: columns in another order, updates of old keys, deletes, a re-insert.
    rows2 = [
        ("-U", "one", 1),
        ("+U", "ONE", 1),
        ("-D", None, 3),
        ("+I", "three is back", 3),
        ("-D", "five \"quoted\"", 5),
        ("+I", "six", 6),
        ("+U", "six, updated", 6),
        ("+U", "six, updated twice", 6),
        ("-D", None, 77),
        ("-U", "stray", 2),
    ]
    for op, name, k in rows2:
        if op in ("+I", "+U"):
            model[k] = (name,)
        elif op == "-D":
            model.pop(k, None)
    p2 = write_csv(tmp_path / "cp2.csv", ["_op", "name", "id"], rows2)
    out = floe_upsert(floe_url, table, [p2], "--writer-id", "csv")
    assert "checkpoint 2 (" in out and "committed snapshot" in out, out
    check("after CSV checkpoint 2")
    assert current_snapshot(load_table(http, ns, "t"))["summary"].get("floe.checkpoint-id") == "2"


# --------------------------------------------------------------------------------------
# 5: watermarks only move forward


def test_watermark_only_moves_forward(floe_url, http, duck_factory, unique_name, tmp_path):
    ns = unique_name("upswm")
    table = f"{ns}.t"
    ts = dt.datetime(2024, 5, 6, 7, 8, 9, 123456)

    def props():
        return load_table(http, ns, "t")["metadata"].get("properties", {})

    p1 = write_parquet(tmp_path / "a.parquet", [("+I", 1, "a", 1, ts), ("+I", 2, "b", 2, ts)])
    out = floe_upsert(floe_url, table, [p1], "--create", "--key", "id", "--buckets", "4", "--watermark", "1000")
    assert "watermark now 1000" in out, out
    assert props().get("floe.watermark") == "1000"
    assert current_snapshot(load_table(http, ns, "t"))["summary"].get("floe.watermark") == "1000"

    # An older watermark: recorded in the commit's summary, the property stays.
    p2 = write_parquet(tmp_path / "b.parquet", [("+U", 1, "a2", 10, ts), ("-D", 2, None, None, None)])
    out = floe_upsert(floe_url, table, [p2], "--watermark", "500")
    assert "committed snapshot" in out and "not newer" in out, out
    meta = load_table(http, ns, "t")
    assert meta["metadata"]["properties"].get("floe.watermark") == "1000"
    snap = current_snapshot(meta)
    assert snap["summary"].get("floe.watermark") == "500"
    assert len(meta["metadata"]["snapshots"]) == 2
    rows = duck_factory().execute(f"SELECT id, name, qty, ts FROM c.{ns}.t").fetchall()
    assert rows == [(1, "a2", 10, ts)]

    # A newer one moves it on; with two inputs it is attached to the last commit only.
    p3 = write_parquet(tmp_path / "c.parquet", [("+I", 3, "c", 3, ts)])
    p4 = write_parquet(tmp_path / "d.parquet", [("+I", 4, "d", 4, ts)])
    out = floe_upsert(floe_url, table, [p3, p4], "--watermark", "2000")
    assert "watermark now 2000" in out.strip().splitlines()[-1], out
    meta = load_table(http, ns, "t")
    assert meta["metadata"]["properties"].get("floe.watermark") == "2000"
    snaps = sorted(meta["metadata"]["snapshots"], key=lambda s: s["sequence-number"])
    assert "floe.watermark" not in snaps[-2]["summary"], snaps[-2]["summary"]
    assert snaps[-1]["summary"].get("floe.watermark") == "2000"


# --------------------------------------------------------------------------------------
# 6: equality deletes only where an older row may hold the key


def test_deletes_only_where_an_older_row_may_hold_the_key(floe_url, http, duck_factory, unique_name, tmp_path):
    """The first checkpoint into a new table and one whose keys all lie above the table's
    commit no equality-delete file; one that updates existing keys does. DuckDB reads the
    model's rows after each."""
    ns = unique_name("upsleft")
    table = f"{ns}.t"
    model: dict[int, tuple] = {}

    def checkpoint(n: int, rows: list[tuple], *extra: str) -> re.Match:
        for k, name, op in rows:
            if op in ("+I", "+U"):
                model[k] = (name,)
            else:
                model.pop(k, None)
        path = write_csv(tmp_path / f"cp{n}.csv", ["id", "name", "_op"], rows)
        out = floe_upsert(floe_url, table, [path], "--writer-id", "left", "--checkpoint", str(n), *extra)
        committed = COMMITTED_RE.search(out)
        assert committed, out
        got = duck_factory().execute(f"SELECT id, name FROM c.{ns}.t").fetchall()
        expected = sorted((k, *v) for k, v in model.items())
        assert sorted(got) == expected, f"checkpoint {n}: {describe_diff(expected, sorted(got))}"
        return committed

    first = checkpoint(1, [(k, f"v{k}", "+I") for k in range(0, 200)], "--create", "--key", "id", "--buckets", "4")
    assert int(first.group(6)) == 0, "no equality-delete file into a new table"
    above = checkpoint(2, [(k, f"v{k}", "+I") for k in range(200, 400)])
    assert int(above.group(6)) == 0, "no equality-delete file for keys above every live key"
    updates = [(k, f"w{k}", "+U") for k in range(100, 300)] + [(k, None, "-D") for k in range(0, 10)]
    updated = checkpoint(3, updates)
    assert int(updated.group(6)) > 0 and int(updated.group(7)) == 210, updated.group(0)


# --------------------------------------------------------------------------------------
# 7: floe convert-deletes


def test_convert_deletes_keeps_every_row(floe_url, http, duck_factory, unique_name, tmp_path):
    """A composite-key table after checkpoints of updates, deletes and keys re-inserted
    after a delete: `floe convert-deletes` leaves no equality delete, and DuckDB reads the
    model's rows before and after."""
    ns = unique_name("upsconv")
    table = f"{ns}.t"
    rng = random.Random(11)
    model: dict[tuple, str] = {}

    def check(what: str) -> None:
        got = duck_factory().execute(f"SELECT region, id, name FROM c.{ns}.t").fetchall()
        expected = sorted((r, i, n) for (r, i), n in model.items())
        assert sorted(got) == expected, f"{what}: {len(got)} rows, expected {len(expected)}"

    for n in range(1, 7):
        rows = []
        for _ in range(120):
            key = (rng.choice(["eu", "us", "ap"]), rng.randrange(40))
            if key in model and rng.random() < 0.3:
                rows.append((*key, None, "-D"))
                del model[key]
            else:
                name = f"n{n}-{rng.randrange(1000)}"
                rows.append((*key, name, "+U"))
                model[key] = name
        path = write_csv(tmp_path / f"cp{n}.csv", ["region", "id", "name", "_op"], rows)
        create = ["--create", "--key", "region,id", "--buckets", "2"] if n == 1 else []
        floe_upsert(floe_url, table, [path], "--writer-id", "conv", *create)
    check("before the conversion")
    summary = current_snapshot(load_table(http, ns, "t"))["summary"]
    assert int(summary["total-equality-deletes"]) > 0, summary

    out = run_floe("convert-deletes", "--catalog", floe_url, "--table", table)
    converted = re.search(r"^(\d+) of (\d+) partitions converted", out, re.M)
    assert converted and converted.group(1) == converted.group(2) != "0", out
    summary = current_snapshot(load_table(http, ns, "t"))["summary"]
    assert summary["total-equality-deletes"] == "0", summary
    assert summary["floe.operation"] == "convert-deletes", summary
    check("after the conversion")
    again = run_floe("convert-deletes", "--catalog", floe_url, "--table", table, "--dry-run")
    assert "0 partitions with 0 equality-delete files" in again, again
