"""Spark Structured Streaming through `floe.UpsertWriter`: examples/spark_foreach_batch.py run
for real (pyspark on the machine's Java 17, local master, no Iceberg jars).

A seeded change stream (inserts, updates and deletes of existing keys, "-U"/"+U" pairs) is
written as Parquet files into a folder; the example's streaming query reads them one file
per micro-batch and commits each batch with its batch id as Floe's checkpoint id. The first
run exits right after Floe committed batch 1 and before Spark's commit log recorded it (the
example's FLOE_EXAMPLE_EXIT_AFTER_COMMIT hook); the second run, from the same checkpoint
location, replays batch 1, which the writer answers None for, and processes the rest. DuckDB
then reads exactly the model's rows, and the writer's checkpoints are 0..N-1, each once.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import floe
from interop_util import UpsertModel, sorted_rows

pytestmark = pytest.mark.package

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "spark_foreach_batch.py"
COLUMNS = ["id", "name", "qty"]
SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("qty", pa.int32()), ("_op", pa.string())])
SPARK_DDL = "id BIGINT, name STRING, qty INT, _op STRING"
FILES = 6
CRASH_BATCH = 1
RUN_TIMEOUT = 240  # seconds per Spark run; a cold JVM and Spark session take 10-40 s


def change_file(rng: random.Random, model: UpsertModel, n: int, next_id: int) -> tuple[pa.Table, int]:
    """About n changes against the model's current keys: new keys, upserts, "-U"/"+U" pairs
    and deletes of existing keys, some keys changed twice in the file."""
    rows: list[tuple] = []
    live = set(model.rows)
    while len(rows) < n:
        r = rng.random()
        name = rng.choice(["alpha", "beta", "γάμμα", "", None])
        qty = rng.randrange(-1000, 1000)
        if live and r < 0.2:
            key = rng.choice(sorted(live))
            rows.append((key, name, qty, "-D"))
            live.discard(key)
        elif live and r < 0.4:
            key = rng.choice(sorted(live))
            old = model.rows.get(key, (key, None, None))
            rows.append((key, old[1], old[2], "-U"))
            rows.append((key, name, qty, "+U"))
        elif live and r < 0.55:
            rows.append((rng.choice(sorted(live)), name, qty, "+I"))  # an upsert without "-U"
        else:
            key, next_id = next_id, next_id + 1
            rows.append((key, name, qty, "+I"))
            live.add(key)
    ids, names, qtys, ops = zip(*rows)
    table = pa.table(
        {"id": list(ids), "name": list(names), "qty": list(qtys), "_op": list(ops)}, schema=SCHEMA
    )
    return table, next_id


def write_change_files(folder: Path, seed: int) -> list[pa.Table]:
    """FILES change files, written atomically (Spark skips names starting with "."), with
    modification times a second apart: Spark's file source takes them oldest first."""
    folder.mkdir()
    rng, model, next_id = random.Random(seed), UpsertModel(COLUMNS), 0
    tables = []
    now = time.time()
    for i in range(FILES):
        table, next_id = change_file(rng, model, 150 if i == 0 else 120, next_id)
        model.apply(table)
        tables.append(table)
        tmp, final = folder / f".changes-{i:03d}.parquet", folder / f"changes-{i:03d}.parquet"
        pq.write_table(table, tmp)
        os.rename(tmp, final)
        mtime = now - (FILES - i) * 2
        os.utime(final, (mtime, mtime))
    return tables


def model_of(tables: list[pa.Table]) -> list[tuple]:
    model = UpsertModel(COLUMNS)
    for table in tables:
        model.apply(table)
    return model.sorted()


def spark_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    # Python workers (if any) use this interpreter; Spark binds to loopback only; nothing
    # adds --packages or other downloads to the JVM's command line.
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    env.pop("FLOE_EXAMPLE_EXIT_AFTER_COMMIT", None)
    env.update(extra or {})
    return env


class Run:
    def __init__(self, returncode: int, stdout: str, stderr: str, seconds: float) -> None:
        self.returncode, self.stdout, self.stderr, self.seconds = returncode, stdout, stderr, seconds

    def explain(self) -> str:
        tail = self.stderr[-6000:]
        return (
            f"exit code {self.returncode} after {self.seconds:.0f}s\n--- stdout ---\n{self.stdout}"
            f"\n--- stderr (tail) ---\n{tail}"
        )


def run_example(args: list[str], cwd: Path, env: dict) -> Run:
    """Runs the example to its end in its own process group (the JVM pyspark starts is in
    it too, so a hung run is killed whole)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE), *args],
        cwd=str(cwd), env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        # Waits for the pipes to close too: the JVM (which exits when its Python driver
        # does) holds them, so it is gone before the next run opens the checkpoint.
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        run = Run(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), time.monotonic() - started)
        pytest.fail(f"the Spark example did not finish within {RUN_TIMEOUT}s\n{run.explain()}")
    return Run(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), time.monotonic() - started)


def writer_checkpoints(url: str, table: str, writer_id: str) -> list[int]:
    snapshots = floe.table_info(url, table)["snapshots"]
    return [s["checkpoint_id"] for s in snapshots if s["writer_id"] == writer_id]


def duck_rows(duck, ns: str, name: str) -> list[tuple]:
    return sorted_rows(duck.execute(f'SELECT id, name, qty FROM c."{ns}"."{name}"').fetchall())


@pytest.mark.timeout(600)
def test_spark_foreach_batch_restart_replays_once(floe_url, duck, unique_name, tmp_path):
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.fail("pyspark needs Java 17: no java on PATH and no JAVA_HOME")
    ns, name = unique_name("spark"), "users"
    table = f"{ns}.{name}"
    tables = write_change_files(tmp_path / "changes", seed=42)
    checkpoint = tmp_path / "checkpoint"
    common = [
        "--catalog", floe_url, "--table", table, "--input", str(tmp_path / "changes"),
        "--checkpoint", str(checkpoint), "--key", "id", "--buckets", "4", "--available-now",
    ]

    # Run 1 (schema read from the files): batches 0 and 1 commit, then the process dies
    # before Spark records batch 1 in its commit log.
    first = run_example(common, tmp_path, spark_env({"FLOE_EXAMPLE_EXIT_AFTER_COMMIT": str(CRASH_BATCH)}))
    assert first.returncode == 3, first.explain()
    writer = re.search(r"^writer (\S+): last committed batch None$", first.stdout, re.M)
    assert writer, first.explain()
    writer_id = writer.group(1)
    for batch in range(CRASH_BATCH + 1):
        assert f"batch {batch}: committed snapshot" in first.stdout, first.explain()
    assert floe.table_info(floe_url, table)["writers"] == {writer_id: CRASH_BATCH}
    assert writer_checkpoints(floe_url, table, writer_id) == list(range(CRASH_BATCH + 1))
    assert duck_rows(duck, ns, name) == model_of(tables[: CRASH_BATCH + 1])
    commits = sorted(int(p.name) for p in (checkpoint / "commits").iterdir() if p.name.isdigit())
    assert commits == list(range(CRASH_BATCH)), f"Spark's commit log should stop before batch {CRASH_BATCH}: {commits}"

    # Run 2 (schema given), from the same checkpoint location: Spark replays batch 1, the
    # writer answers None for it, and the remaining files are one batch each.
    second = run_example(common + ["--schema", SPARK_DDL], tmp_path, spark_env())
    assert second.returncode == 0, second.explain()
    assert f"writer {writer_id}: last committed batch {CRASH_BATCH}\n" in second.stdout, second.explain()
    assert f"batch {CRASH_BATCH}: already committed, a replay: skipped" in second.stdout, second.explain()
    assert "batch 0:" not in second.stdout, second.explain()
    for batch in range(CRASH_BATCH + 1, FILES):
        assert f"batch {batch}: committed snapshot" in second.stdout, second.explain()

    info = floe.table_info(floe_url, table)
    assert info["key"] == ["id"]
    assert info["writers"] == {writer_id: FILES - 1}
    # Every batch committed exactly once: the replayed batch added no snapshot.
    assert writer_checkpoints(floe_url, table, writer_id) == list(range(FILES))
    assert len(info["snapshots"]) == FILES
    assert duck_rows(duck, ns, name) == model_of(tables)
