#!/usr/bin/env python3
"""The upsert benchmark's stream through the `floe` Python package, against the Rust writer
(`floe upsert`) in the same run and against pyiceberg's `Table.upsert` (a benchmark, not a
test). Goals: the Python package at least 0.9 of the Rust writer's rows/s, and at least
1,000 times pyiceberg's.

The stream is the one of `cargo bench --bench upsert` (benches/support/mod.rs `checkpoint`,
ported exactly: the same xorshift, the same rows): 10 columns (longs, doubles, strings, an
int, a boolean, a timestamp), `--checkpoint-rows` rows per checkpoint; checkpoint 0 inserts
new keys, every later one updates `rows / 2` random keys written before (some twice) and
inserts `rows / 2` new ones. It is written once, untimed, as one Parquet file per checkpoint
(zstd level 1, like the other benchmarks). Then, in `--rounds` rounds, the order of the two
alternating from round to round, each into a fresh 16-bucket table of the same server:

- rust: `floe upsert --input F1 --input F2 ...` (one checkpoint per file, each commit
  overlapping the next file's reading and writing), timed from spawn to exit ("whole").
  The CLI first reads and checks every input, then prints "created table", then writes:
  the time from that line to exit is its "write phase" (first read to last commit).
- python: a fresh Python process that reads each file with `pyarrow.parquet.read_table`,
  calls `UpsertWriter.write` and `start_commit(checkpoint_id=i)`, and `finish_commit()` at
  the end; timed inside the process from the first read to the end of the last commit
  ("write phase"), and from spawn to exit ("whole": interpreter start, imports, connect).

Each round prints both sides' CPU time and peak RSS (from wait4), and the Python side's
time split into reading, `write` and waiting in `start_commit`/`finish_commit` (its CPU
split counts every thread, so the background commit of the checkpoint before, which
overlaps the next read and write, lands in those phases too). The 1-minute load average
printed after each run shows other work on the machine, which moves these figures most.

Reading the Parquet files is part of both sides' work. The headline ratio compares the
write phases (both: first read to last commit, no process start-up, no pre-check pass);
the whole-process ratio is printed too (there the Rust CLI also pays for reading every
input twice). Then pyiceberg 0.12's `Table.upsert` on the same layout (`bucket(16, id)`,
the same 10 columns; the functions of benches/pyiceberg_upsert.py): `--pyiceberg-base-rows`
rows appended (untimed), then `--pyiceberg-batches` upserts of `--pyiceberg-batch-rows` rows
(half updates of distinct existing keys, half new), each timed. The defaults are the sizes
of the README's pyiceberg run (1,000,000 and 100,000, 3 calls: about 10 minutes, the
longest part of the run); the Floe tables grow to about the same size (1.05 million rows
with the default stream). pyiceberg's rows/s fall as the table and the batch grow (each
call rewrites every data file holding a matched key; its time grew faster than the sizes),
so smaller sizes flatter it: 200,000 and 20,000 gave it about twice the rows/s.

Normally run through scripts/bench-python.sh, which builds `floe` and the package in
release mode, starts a release `floe serve` and passes its arguments on:

    scripts/bench-python.sh [--checkpoints 20] [--checkpoint-rows 100000] [--rounds 3]
        [--buckets 16] [--pyiceberg-base-rows 1000000] [--pyiceberg-batch-rows 100000]
        [--pyiceberg-batches 3] [--no-pyiceberg]

or by hand, with a virtualenv holding pyarrow, pyiceberg and the `floe` package:

    python benches/python_upsert.py --catalog http://127.0.0.1:8181 --floe-bin target/release/floe
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCHES = Path(__file__).resolve().parent
MASK64 = (1 << 64) - 1
CITIES = ["Amsterdam", "Berlin", "Cairo", "Denver", "Espoo", "Fukuoka", "Graz", "Hanoi"]
BASE_TS_US = 1_700_000_000_000_000


def pyiceberg_bench():
    """benches/pyiceberg_upsert.py as a module: its schema, row generator and batches."""
    if str(BENCHES) not in sys.path:
        sys.path.insert(0, str(BENCHES))
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    import pyiceberg_upsert

    return pyiceberg_upsert


# --------------------------------------------------------------------------------------
# The stream (untimed)


def _xorshift(state: int):
    while True:
        state ^= (state << 13) & MASK64
        state ^= state >> 7
        state ^= (state << 17) & MASK64
        yield state


def checkpoint_table(n: int, rows: int):
    """Checkpoint `n` of the Rust benchmark's stream (benches/support/mod.rs `checkpoint`),
    the same values in the same order of draws."""
    import pyarrow as pa

    nxt = _xorshift(((n + 1) * 0x9E37_79B9_7F4A_7C15) & MASK64).__next__
    if n == 0:
        ids = list(range(rows))
    else:
        existing = rows + (n - 1) * rows // 2
        ids = [nxt() % existing if i % 2 == 1 else existing + i // 2 for i in range(rows)]
    columns = {
        "id": ids,
        "account": [i % 100_003 for i in ids],
        "amount": [(nxt() % 1_000_000) / 100.0 for _ in range(rows)],
        "score": [(nxt() % 1000) / 7.0 for _ in range(rows)],
        "name": [f"user-{i:010}" for i in ids],
        "city": [CITIES[nxt() % 8] for _ in range(rows)],
        "version": [n] * rows,
        "active": [nxt() % 2 == 0 for _ in range(rows)],
        "updated_at": [BASE_TS_US + (n * rows + i) * 1000 for i in range(rows)],
        "note": [f"note {nxt() % 65536:x}" for _ in range(rows)],
    }
    return pa.Table.from_pydict(columns, schema=pyiceberg_bench().ARROW_SCHEMA)


def write_inputs(directory: Path, checkpoints: int, rows: int) -> list[Path]:
    """The stream as one Parquet file per checkpoint (zstd level 1), reused when a former
    run of the same size left them in `directory`."""
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    stamp = directory / "stream.json"
    want = {"generator": 1, "checkpoints": checkpoints, "rows": rows}
    files = [directory / f"checkpoint-{n:05}.parquet" for n in range(checkpoints)]
    if stamp.is_file() and json.loads(stamp.read_text()) == want and all(f.is_file() for f in files):
        return files
    stamp.unlink(missing_ok=True)
    for n, path in enumerate(files):
        pq.write_table(checkpoint_table(n, rows), path, compression="zstd", compression_level=1)
    stamp.write_text(json.dumps(want))
    return files


# --------------------------------------------------------------------------------------
# The measured processes


def run_child(cmd: list[str], env: dict, on_line=None) -> dict:
    """Runs `cmd`, reading its stdout by lines (`on_line(line, seconds since spawn)`);
    answers its wall time, CPU time and peak RSS (of the child alone, from wait4)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, text=True)
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if on_line:
                on_line(lines[-1], time.perf_counter() - start)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} {cmd[1]} failed ({proc.returncode}):\n" + "\n".join(lines[-20:]) + "\n" + stderr[-4000:])
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_mib": usage.ru_maxrss / 1024,
        "lines": lines,
        "stderr": stderr,
    }


def measure_rust(a, files: list[Path], table: str, env: dict) -> dict:
    cmd = [a.floe_bin, "upsert", "--catalog", a.catalog, "--table", table, "--key", "id",
           "--buckets", str(a.buckets), "--create", "--writer-id", "bench"]
    for f in files:
        cmd += ["--input", str(f)]
    created = {}

    def on_line(line: str, at: float) -> None:
        if line.startswith("created table"):
            created["at"] = at

    r = run_child(cmd, env, on_line)
    commits = sum(1 for line in r["lines"] if ": committed snapshot" in line)
    if commits != len(files) or "at" not in created:
        raise RuntimeError(f"floe upsert committed {commits} of {len(files)} checkpoints:\n" + "\n".join(r["lines"][-5:]))
    r["precheck"] = created["at"]  # spawn, connect, read and check every input, create the table
    r["phase"] = r["wall"] - created["at"]  # first read of the write pass to exit
    return r


def measure_python(a, files: list[Path], table: str, env: dict) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "python", "--catalog", a.catalog,
           "--table", table, "--buckets", str(a.buckets), "--"] + [str(f) for f in files]
    r = run_child(cmd, env)
    result = [line for line in r["lines"] if line.startswith("result ")]
    if not result:
        raise RuntimeError("the Python writer printed no result:\n" + "\n".join(r["lines"][-5:]) + r["stderr"][-4000:])
    r.update(json.loads(result[-1][len("result "):]))
    expected = len(files) * a.checkpoint_rows
    if r["commits"] != len(files) or r["rows"] != expected:
        raise RuntimeError(f"the Python writer committed {r['commits']} checkpoints, {r['rows']} rows; expected {len(files)}, {expected}")
    return r


def child_python(a) -> int:
    """The Python package's side, in its own process: read, write, start_commit per file."""
    t_import = time.perf_counter()
    import pyarrow.dataset  # noqa: F401  (read_table's first call would import it: start-up, not reading)
    import pyarrow.parquet as pq

    import floe

    t_connect = time.perf_counter()
    writer = floe.UpsertWriter(a.catalog, a.table, writer_id="bench", key=["id"], buckets=a.buckets, create=True)
    results = []
    read = write = commit = 0.0
    cpu = {"read": 0.0, "write": 0.0, "commit": 0.0}
    t0 = time.perf_counter()
    for i, path in enumerate(a.files):
        c0, s0 = time.process_time(), time.perf_counter()
        data = pq.read_table(path)
        c1, s1 = time.process_time(), time.perf_counter()
        writer.write(data)
        c2, s2 = time.process_time(), time.perf_counter()
        results.append(writer.start_commit(checkpoint_id=i + 1))
        c3, s3 = time.process_time(), time.perf_counter()
        read, write, commit = read + s1 - s0, write + s2 - s1, commit + s3 - s2
        cpu["read"] += c1 - c0
        cpu["write"] += c2 - c1
        cpu["commit"] += c3 - c2
        del data
    s0 = time.perf_counter()
    results.append(writer.finish_commit())
    t1 = time.perf_counter()
    commit += t1 - s0
    writer.close()
    done = [r for r in results if r is not None]
    print("result " + json.dumps({
        "phase": t1 - t0,
        "startup": t0 - t_import,
        "connect": t0 - t_connect,
        "read": read,
        "write": write,
        "commit_wait": commit,
        "cpu_phases": cpu,
        "commits": len(done),
        "rows": sum(r.rows for r in done),
        "data_files": sum(r.data_files for r in done),
        "delete_files": sum(r.equality_delete_files + r.position_delete_files for r in done),
    }), flush=True)
    return 0


def child_pyiceberg(a) -> int:
    """pyiceberg's `Table.upsert` on the same layout, as benches/pyiceberg_upsert.py does."""
    if "PYICEBERG_HOME" not in os.environ:  # keep a user's ~/.pyiceberg.yaml out of it
        with tempfile.TemporaryDirectory(prefix="floe-bench-pyiceberg-home-") as home:
            os.environ["PYICEBERG_HOME"] = home
            return child_pyiceberg(a)
    import pyarrow as pa
    import pyiceberg
    from pyiceberg.catalog import load_catalog
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import BucketTransform

    pu = pyiceberg_bench()
    catalog = load_catalog("floe", type="rest", uri=a.catalog)
    ns = f"bench_pyiceberg_{uuid.uuid4().hex[:10]}"
    ident = f"{ns}.upserts"
    spec = PartitionSpec(PartitionField(1, 1000, BucketTransform(a.buckets), "id_bucket"))
    catalog.create_namespace(ns)
    table = catalog.create_table(ident, pu.iceberg_schema(), partition_spec=spec, properties={"format-version": "2"})
    print(f"  pyiceberg {pyiceberg.__version__}, pyarrow {pa.__version__}: table {ident} (bucket({a.buckets}, id))", flush=True)
    out = {"calls": []}
    try:
        def report(b: int, spent: float, got: tuple) -> None:
            print(f"  upsert {b}/{a.batches}: {a.batch_rows:,} rows in {spent:.2f} s = {a.batch_rows / spent:,.0f} rows/s; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)

        out["append"], out["calls"] = pu.timed_upserts(
            catalog, ident, a.base_rows, a.batch_rows, a.batches, a.seed, report)
        print(f"  append {a.base_rows:,} base rows: {out['append']:.2f} s (untimed)", flush=True)
    finally:
        try:
            catalog.purge_table(ident)
            catalog.drop_namespace(ns)
        except Exception as e:  # cleanup only
            print(f"cleanup failed: {e!r}", file=sys.stderr)
    print("result " + json.dumps(out), flush=True)
    return 0


def measure_pyiceberg(a, env: dict) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "pyiceberg", "--catalog", a.catalog,
           "--buckets", str(a.buckets), "--base-rows", str(a.pyiceberg_base_rows),
           "--batch-rows", str(a.pyiceberg_batch_rows), "--batches", str(a.pyiceberg_batches),
           "--seed", str(a.seed)]
    r = run_child(cmd, env, lambda line, _: None if line.startswith("result ") else print(line, flush=True))
    r.update(json.loads([line for line in r["lines"] if line.startswith("result ")][-1][len("result "):]))
    return r


# --------------------------------------------------------------------------------------
# The run


def rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else float("inf")


def verdict(value: float, goal: float) -> str:
    return "met" if value >= goal else "NOT met"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--catalog", required=True, help="a Floe catalog URL, e.g. http://127.0.0.1:8181")
    ap.add_argument("--floe-bin", default=os.environ.get("FLOE_BIN"), help="the release `floe` binary (default: $FLOE_BIN)")
    ap.add_argument("--checkpoints", type=int, default=20)
    ap.add_argument("--checkpoint-rows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--buckets", type=int, default=16)
    ap.add_argument("--work-dir", type=Path, help="where the input files go (default: a temp dir, deleted at the end)")
    ap.add_argument("--pyiceberg-base-rows", type=int, default=1_000_000)
    ap.add_argument("--pyiceberg-batch-rows", type=int, default=100_000)
    ap.add_argument("--pyiceberg-batches", type=int, default=3)
    ap.add_argument("--no-pyiceberg", action="store_true", help="skip pyiceberg")
    ap.add_argument("--seed", type=int, default=1, help="pyiceberg's row generator")
    # A measured process: the Python writer, or pyiceberg.
    ap.add_argument("--child", choices=["python", "pyiceberg"], help=argparse.SUPPRESS)
    ap.add_argument("--table", help=argparse.SUPPRESS)
    ap.add_argument("--base-rows", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--batch-rows", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--batches", type=int, help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child == "python":
        return child_python(a)
    if a.child == "pyiceberg":
        return child_pyiceberg(a)
    if not a.floe_bin:
        ap.error("--floe-bin (or FLOE_BIN) is required")
    if a.checkpoints < 1 or a.checkpoint_rows < 2 or a.rounds < 1:
        ap.error("need --checkpoints >= 1, --checkpoint-rows >= 2, --rounds >= 1")
    if not a.no_pyiceberg and (a.pyiceberg_batch_rows < 2 or a.pyiceberg_batches < 1
                               or a.pyiceberg_base_rows < a.pyiceberg_batch_rows // 2):
        ap.error("need --pyiceberg-batch-rows >= 2, --pyiceberg-batches >= 1, --pyiceberg-base-rows >= batch rows / 2")

    import pyarrow as pa

    import floe

    env = dict(os.environ)
    env.setdefault("RUST_LOG", "warn")
    own_dir = a.work_dir is None
    work = Path(tempfile.mkdtemp(prefix="floe-bench-python-")) if own_dir else a.work_dir
    started = time.perf_counter()
    try:
        t = time.perf_counter()
        files = write_inputs(work / "inputs", a.checkpoints, a.checkpoint_rows)
        size = sum(f.stat().st_size for f in files)
        rows = a.checkpoints * a.checkpoint_rows
        print(
            f"upserts: {rows:,} rows, {a.checkpoints} checkpoints of {a.checkpoint_rows:,} (10 columns, half updates), "
            f"{a.buckets} buckets; input {len(files)} Parquet files (zstd 1), {size / 1e6:.1f} MB, made in "
            f"{time.perf_counter() - t:.1f} s (untimed); {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} "
            f"(1-minute average, printed after each run: other work on the machine); {a.rounds} rounds; "
            f"python {sys.version.split()[0]}, pyarrow {pa.__version__}, floe {floe.__version__}",
            flush=True,
        )
        run_id = uuid.uuid4().hex[:8]
        runs = {"rust": [], "python": []}
        for rnd in range(1, a.rounds + 1):
            order = ["rust", "python"] if rnd % 2 == 1 else ["python", "rust"]
            for side in order:
                table = f"bench_{run_id}.{side}_{rnd}"
                if side == "rust":
                    r = measure_rust(a, files, table, env)
                    print(
                        f"round {rnd} rust    floe upsert       write phase {rate(rows, r['phase']):>10,.0f} rows/s "
                        f"({r['phase']:6.2f} s); whole {rate(rows, r['wall']):>10,.0f} rows/s ({r['wall']:6.2f} s, "
                        f"of it {r['precheck']:.2f} s start, read-and-check pass, create); cpu {r['cpu']:6.2f} s; "
                        f"peak {r['peak_mib']:5.0f} MiB; load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
                else:
                    r = measure_python(a, files, table, env)
                    cp = r["cpu_phases"]
                    print(
                        f"round {rnd} python  floe.UpsertWriter write phase {rate(rows, r['phase']):>10,.0f} rows/s "
                        f"({r['phase']:6.2f} s: read {r['read']:.2f}, write {r['write']:.2f}, "
                        f"commit wait {r['commit_wait']:.2f}); whole {rate(rows, r['wall']):>10,.0f} rows/s "
                        f"({r['wall']:6.2f} s, of it {r['startup']:.2f} s imports and connect); cpu {r['cpu']:6.2f} s "
                        f"(all threads, during read {cp['read']:.2f}, write {cp['write']:.2f}, commit {cp['commit']:.2f}); "
                        f"peak {r['peak_mib']:5.0f} MiB; load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
                runs[side].append(r)

        def med(side: str, key: str) -> float:
            return statistics.median(rate(rows, r[key]) for r in runs[side])

        phase_pairs = [rate(rows, p["phase"]) / rate(rows, q["phase"]) for p, q in zip(runs["python"], runs["rust"])]
        whole_pairs = [rate(rows, p["wall"]) / rate(rows, q["wall"]) for p, q in zip(runs["python"], runs["rust"])]
        py_phase, rs_phase = med("python", "phase"), med("rust", "phase")
        py_whole, rs_whole = med("python", "wall"), med("rust", "wall")
        print("median rows/s:")
        print(f"  rust   (floe upsert)        write phase {rs_phase:>10,.0f}  whole {rs_whole:>10,.0f}  "
              f"cpu {statistics.median(r['cpu'] for r in runs['rust']):.2f} s  "
              f"peak {statistics.median(r['peak_mib'] for r in runs['rust']):.0f} MiB")
        print(f"  python (floe.UpsertWriter)  write phase {py_phase:>10,.0f}  whole {py_whole:>10,.0f}  "
              f"cpu {statistics.median(r['cpu'] for r in runs['python']):.2f} s  "
              f"peak {statistics.median(r['peak_mib'] for r in runs['python']):.0f} MiB")
        print(f"python / rust, write phases: {py_phase / rs_phase:.3f} of the medians, "
              f"{statistics.median(phase_pairs):.3f} median of rounds ({', '.join(f'{x:.3f}' for x in phase_pairs)})")
        print(f"python / rust, whole processes: {py_whole / rs_whole:.3f} of the medians, "
              f"{statistics.median(whole_pairs):.3f} median of rounds ({', '.join(f'{x:.3f}' for x in whole_pairs)})",
              flush=True)

        pyiceberg_rate = None
        if not a.no_pyiceberg:
            print(f"pyiceberg Table.upsert: {a.pyiceberg_batches} calls of {a.pyiceberg_batch_rows:,} rows "
                  f"on a table of {a.pyiceberg_base_rows:,} base rows, {a.buckets} buckets", flush=True)
            r = measure_pyiceberg(a, env)
            rates = [rate(a.pyiceberg_batch_rows, s) for s in r["calls"]]
            pyiceberg_rate = statistics.median(rates)
            print(f"  median {pyiceberg_rate:,.0f} rows/s ({' / '.join(f'{x:,.0f}' for x in rates)}); "
                  f"floe python (write phase) / pyiceberg = {py_phase / pyiceberg_rate:,.0f}, "
                  f"whole process / pyiceberg = {py_whole / pyiceberg_rate:,.0f}", flush=True)

        print("summary:")
        ratio = statistics.median(phase_pairs)
        print(f"  python / rust = {ratio:.3f} (median of rounds, write phases; {py_phase / rs_phase:.3f} of the medians; "
              f"whole processes {statistics.median(whole_pairs):.3f}); goal >= 0.9: {verdict(ratio, 0.9)}")
        if pyiceberg_rate is not None:
            times = py_phase / pyiceberg_rate
            print(f"  python / pyiceberg = {times:,.0f} times; goal >= 1000: {verdict(times, 1000)}")
        print(f"  run took {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
