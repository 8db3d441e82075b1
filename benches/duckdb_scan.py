"""DuckDB read times of Iceberg tables, side by side, for benches/compaction.rs.

    python benches/duckdb_scan.py METADATA_JSON... [--budget SECONDS] [--memory-gib N]
        [--runs 3]

Times `SELECT count(*)` and a scan of every column (`SELECT max(COLUMNS(*))`) through
`iceberg_scan(METADATA_JSON)` of each table: one warm-up, then up to `--runs` timed runs of
each query, the tables taking turns run by run (so a noisy moment falls on all of them),
fewer when a query is slow (no new run starts once `--budget` seconds have gone on it), and
a run still going after the budget is interrupted. DuckDB is held to `--memory-gib` (its
memory_limit, and the process's address space a little above it: DuckDB 1.5's iceberg
extension can take tens of GiB applying equality deletes) so a failure ends this process,
not the machine. Extensions load offline, as in tests/interop (avro first, autoinstall
off). Prints one line per table and query, in the order given:

    result QUERY ROWS MEDIAN_SECONDS RUNS STATUS

STATUS is `ok`, `timeout` (MEDIAN_SECONDS is then the time it ran before the interrupt)
or `error:<message>`; ROWS is count(*)'s answer (-1 when unknown)."""

import argparse
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))
from conftest import DUCKDB_EXTENSIONS, duckdb_extension_path  # noqa: E402

import duckdb  # noqa: E402


def connect(memory_gib):
    con = duckdb.connect(":memory:")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute(f"SET memory_limit = '{memory_gib}GiB'")
    for name in DUCKDB_EXTENSIONS:
        con.execute(f"LOAD '{duckdb_extension_path(name)}'")
    return con


def run_once(con, sql, seconds):
    """(elapsed, rows, status) of one run, interrupted after `seconds`."""
    timer = threading.Timer(seconds, con.interrupt)
    timer.start()
    start = time.perf_counter()
    try:
        rows = con.execute(sql).fetchall()
        return time.perf_counter() - start, rows, "ok"
    except duckdb.InterruptException:
        return time.perf_counter() - start, None, "timeout"
    except Exception as e:  # noqa: BLE001 - any failure is a result to report
        message = " ".join(str(e).split())[:200]
        return time.perf_counter() - start, None, f"error:{message}"
    finally:
        timer.cancel()


class Timing:
    """One table's query: the warm-up's answer, then the timed runs."""

    def __init__(self, con, sql, budget):
        self.con, self.sql, self.budget = con, sql, budget
        self.spent, self.rows, self.status = run_once(con, sql, budget)
        self.runs = []
        self.started = time.perf_counter()

    def wants_run(self, runs):
        if self.status != "ok" or len(self.runs) >= runs:
            return False
        return not self.runs or time.perf_counter() - self.started < self.budget

    def run(self):
        left = self.budget - (time.perf_counter() - self.started)
        elapsed, answer, status = run_once(self.con, self.sql, max(left, self.budget / 2))
        if status != "ok":
            self.status = status
            self.spent = elapsed
            return
        self.runs.append(elapsed)
        self.rows = answer

    def result(self):
        """(median seconds, rows, runs, status)."""
        if not self.runs:
            return self.spent, self.rows, 0, self.status
        return statistics.median(self.runs), self.rows, len(self.runs), "ok"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("metadata", nargs="+")
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--memory-gib", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cap = (args.memory_gib + 4) << 30
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    con = connect(args.memory_gib)
    queries = (
        ("count", "SELECT count(*) FROM {}"),
        ("scan", "SELECT max(COLUMNS(*)) FROM {}"),
    )
    timings = {}
    for name, sql in queries:
        tables = [Timing(con, sql.format(f"iceberg_scan('{m}')"), args.budget) for m in args.metadata]
        turn = 0
        while any(t.wants_run(args.runs) for t in tables):
            for i in range(len(tables)):
                t = tables[(i + turn) % len(tables)]
                if t.wants_run(args.runs):
                    t.run()
            turn += 1
        timings[name] = tables
    for m in range(len(args.metadata)):
        count = -1
        for name, _ in queries:
            seconds, rows, runs, status = timings[name][m].result()
            if name == "count" and rows:
                count = rows[0][0]
            print(f"result {name} {count} {seconds:.4f} {runs} {status}", flush=True)


if __name__ == "__main__":
    main()
