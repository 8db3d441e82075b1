"""Helpers shared by the interop tests: row normalisation, checksums, paths, REST paths."""

from __future__ import annotations

import hashlib
import math
import os
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

NS_SEP = "\x1f"


def canonical_value(v) -> str:
    """One text form per value, the same whichever client produced it."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return repr(float(v))
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    return str(v)


def canonical_row(row) -> str:
    return "\x1e".join(canonical_value(v) for v in row)


def rows_checksum(rows) -> tuple[int, int]:
    """Order-independent checksum of a multiset of rows: (row count, sum of 64-bit row hashes
    mod 2**64)."""
    total = 0
    n = 0
    for row in rows:
        h = hashlib.sha256(canonical_row(row).encode()).digest()[:8]
        total = (total + int.from_bytes(h, "big")) % (1 << 64)
        n += 1
    return n, total


def sort_key(row):
    return tuple((v is None, canonical_value(v)) for v in row)


def sorted_rows(rows) -> list[tuple]:
    return sorted((tuple(r) for r in rows), key=sort_key)


def arrow_rows(table, columns) -> list[tuple]:
    """Rows of a pyarrow Table as tuples in the given column order."""
    cols = [table.column(c).to_pylist() for c in columns]
    return list(zip(*cols)) if cols else []


def pyiceberg_rows(tbl, columns) -> list[tuple]:
    return arrow_rows(tbl.scan().to_arrow(), columns)


def duckdb_rows(con, qualified_table: str, columns) -> list[tuple]:
    cols = ", ".join(f'"{c}"' for c in columns)
    return [tuple(r) for r in con.execute(f"SELECT {cols} FROM {qualified_table}").fetchall()]


def location_to_path(location: str) -> Path:
    """A table/metadata location (file:///x, file:/x or /x) as a local path."""
    if location.startswith("file:"):
        p = urlparse(location)
        return Path(unquote(p.path))
    return Path(location)


def is_under(path: Path, root: Path) -> bool:
    path = Path(os.path.realpath(path))
    root = Path(os.path.realpath(root))
    return path == root or root in path.parents


def files_under(path: Path) -> list[Path]:
    if not path.exists():
        return []
    return [p for p in path.rglob("*") if p.is_file()]


def wait_until(pred, timeout: float = 10.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def ns_path(ns) -> str:
    """The URL path segment of a namespace (levels joined by %1F)."""
    if isinstance(ns, str):
        ns = (ns,)
    return "%1F".join(quote(p, safe="") for p in ns)


def table_path(ns, name: str) -> str:
    return f"/v1/namespaces/{ns_path(ns)}/tables/{quote(name, safe='')}"


def assert_error(resp, status: int, err_type: str | None = None):
    """Asserts an Iceberg error response: status code, JSON body
    {"error": {"message": str, "type": str, "code": status}} and, if given, the type."""
    detail = f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.text[:2000]!r}"
    assert resp.status_code == status, f"expected HTTP {status}: {detail}"
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON: {detail}")
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), f"no error object: {detail}"
    err = body["error"]
    assert isinstance(err.get("message"), str) and err["message"], f"error.message missing: {detail}"
    assert isinstance(err.get("type"), str) and err["type"], f"error.type missing: {detail}"
    assert err.get("code") == status, f"error.code != {status}: {detail}"
    if err_type is not None:
        assert err["type"] == err_type, f"error.type != {err_type}: {detail}"
    return err


class UpsertModel:
    """The rows an upsert table must hold: key (the first of `columns`) -> row, with Flink's
    row kinds of an optional `_op` column applied in order ("-D" and "-U" remove the key,
    "+I" and "+U" write the row; without `_op` every row is an upsert)."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.rows: dict = {}

    def apply(self, table) -> None:
        ops = table.column("_op").to_pylist() if "_op" in table.column_names else None
        values = zip(*(table.column(c).to_pylist() for c in self.columns))
        for i, row in enumerate(values):
            if ops and ops[i] in ("-D", "-U"):
                self.rows.pop(row[0], None)
            else:
                self.rows[row[0]] = row

    def sorted(self) -> list[tuple]:
        return sorted_rows(self.rows.values())
