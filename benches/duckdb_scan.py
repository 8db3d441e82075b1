"""DuckDB 1.5 read times of Iceberg tables, for benches/compaction.rs: for each
LABEL=METADATA_JSON argument, `count(*)` and a scan of every column through
`iceberg_scan`, medians of 3 runs (after one warm-up), and the ratio to the table
labelled `fresh` when there is one. Extensions load offline, as in tests/interop."""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))
from conftest import DUCKDB_EXTENSIONS, duckdb_extension_path  # noqa: E402

import duckdb  # noqa: E402


def connect():
    con = duckdb.connect(":memory:")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    for name in DUCKDB_EXTENSIONS:
        con.execute(f"LOAD '{duckdb_extension_path(name)}'")
    return con


def timed(con, sql):
    con.execute(sql).fetchall()
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        rows = con.execute(sql).fetchall()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), rows


def main():
    con = connect()
    results = {}
    for arg in sys.argv[1:]:
        label, location = arg.split("=", 1)
        source = f"iceberg_scan('{location}')"
        count, rows = timed(con, f"SELECT count(*) FROM {source}")
        scan, _ = timed(con, f"SELECT max(COLUMNS(*)) FROM {source}")
        results[label] = (count, scan, rows[0][0])
    fresh = results.get("fresh")
    print("| table | rows | count(*) s | full scan s | scan vs fresh |")
    print("| --- | --- | --- | --- | --- |")
    for label, (count, scan, n) in results.items():
        ratio = f"{scan / fresh[1]:.2f}" if fresh else "-"
        print(f"| {label} | {n} | {count:.3f} | {scan:.3f} | {ratio} |")


if __name__ == "__main__":
    main()
