"""Cross-client: pyiceberg and DuckDB write the same tables through floe (appends, DuckDB
UPDATE/DELETE as position deletes, pyiceberg copy-on-write deletes, schema evolution) and
both must read exactly the same rows. Rows are compared sorted and by an order-independent
checksum (count, sum of per-row hashes)."""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType

from interop_util import duckdb_rows, pyiceberg_rows, rows_checksum, sorted_rows

COLS = ["id", "name", "value"]


def assert_same_everywhere(expected, *readings):
    """Every reading (name, rows) equals `expected`, sorted and by checksum."""
    want_sorted = sorted_rows(expected)
    want_sum = rows_checksum(expected)
    for name, rows in readings:
        assert sorted_rows(rows) == want_sorted, f"{name} read different rows"
        assert rows_checksum(rows) == want_sum, f"{name} checksum differs"
    sums = {name: rows_checksum(rows) for name, rows in readings}
    assert len(set(sums.values())) == 1, f"clients disagree: {sums}"


def position_delete_files(tbl) -> int:
    return sum(
        1 for task in tbl.scan().plan_files() for d in task.delete_files if d.content.name == "POSITION_DELETES"
    )


def test_pyiceberg_table_written_by_duckdb(catalog, duck, duck_factory, unique_name):
    ns = unique_name("xpy")
    catalog.create_namespace((ns,))
    ident = (ns, "shared")
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "name", StringType(), required=False),
        NestedField(3, "value", DoubleType(), required=False),
    )
    spec = PartitionSpec(PartitionField(source_id=1, field_id=1000, transform=BucketTransform(16), name="id_bucket"))
    tbl = catalog.create_table(ident, schema=schema, partition_spec=spec, properties={"format-version": "2"})
    arrow_schema = pa.schema(
        [pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string()), pa.field("value", pa.float64())]
    )

    def append(rows):
        t = catalog.load_table(ident)
        t.append(pa.Table.from_pylist([dict(zip(COLS, r)) for r in rows], schema=arrow_schema))

    expected = {i: (i, f"py{i}", i * 0.5) for i in range(1, 51)}
    append(list(expected.values()))

    t = f"c.{ns}.shared"
    duck.execute(f"INSERT INTO {t} SELECT i, 'dk' || i, i * 2.0 FROM range(51, 61) r(i)")
    expected.update({i: (i, f"dk{i}", i * 2.0) for i in range(51, 61)})
    duck.execute(f"UPDATE {t} SET value = -value, name = name || '!' WHERE id % 7 = 0")
    for i in list(expected):
        if i % 7 == 0:
            _, n, v = expected[i]
            expected[i] = (i, n + "!", -v)
    duck.execute(f"DELETE FROM {t} WHERE id % 5 = 0")
    expected = {i: r for i, r in expected.items() if i % 5 != 0}

    more = [(i, f"py{i}", float(i)) for i in range(61, 71)]
    append(more)
    expected.update({r[0]: r for r in more})
    want = list(expected.values())

    tbl = catalog.load_table(ident)
    assert position_delete_files(tbl) > 0, "DuckDB's UPDATE/DELETE should have produced position deletes"
    assert_same_everywhere(
        want,
        ("pyiceberg", pyiceberg_rows(tbl, COLS)),
        ("duckdb (same connection)", duckdb_rows(duck, t, COLS)),
        ("duckdb (fresh connection)", duckdb_rows(duck_factory(), t, COLS)),
    )


def test_duckdb_table_written_by_pyiceberg(catalog, duck, duck_factory, unique_name):
    ns = unique_name("xdk")
    t = f"c.{ns}.shared"
    duck.execute(f"CREATE SCHEMA c.{ns}")
    duck.execute(f"CREATE TABLE {t} (id BIGINT, name VARCHAR, value DOUBLE)")
    duck.execute(f"INSERT INTO {t} SELECT i, 'dk' || i, i * 1.25 FROM range(0, 30) r(i)")
    expected = {i: (i, f"dk{i}", i * 1.25) for i in range(30)}

    ident = (ns, "shared")
    tbl = catalog.load_table(ident)
    assert tbl.format_version == 2
    arrow_schema = pa.schema([pa.field("id", pa.int64()), pa.field("name", pa.string()), pa.field("value", pa.float64())])
    rows = [(i, f"py{i}", None) for i in range(30, 40)]
    tbl.append(pa.Table.from_pylist([dict(zip(COLS, r)) for r in rows], schema=arrow_schema))
    expected.update({r[0]: r for r in rows})

    # DuckDB deletes rows from files written by both clients.
    duck.execute(f"DELETE FROM {t} WHERE id IN (3, 4, 33, 34)")
    for i in (3, 4, 33, 34):
        del expected[i]
    duck.execute(f"UPDATE {t} SET value = 7.5 WHERE id = 35")
    expected[35] = (35, "py35", 7.5)

    # pyiceberg's copy-on-write delete on top of DuckDB's position deletes.
    tbl = catalog.load_table(ident)
    tbl.delete(delete_filter="id < 2")
    for i in (0, 1):
        del expected[i]

    # Schema evolution by pyiceberg; DuckDB sees the new column.
    tbl = catalog.load_table(ident)
    with tbl.update_schema() as upd:
        upd.add_column("tag", StringType())
    tbl = catalog.load_table(ident)
    evolved = pa.schema(list(arrow_schema) + [pa.field("tag", pa.string())])
    tbl.append(pa.Table.from_pylist([{"id": 100, "name": "tagged", "value": 1.0, "tag": "t"}], schema=evolved))

    cols = COLS + ["tag"]
    want = [r + (None,) for r in expected.values()] + [(100, "tagged", 1.0, "t")]
    tbl = catalog.load_table(ident)
    assert_same_everywhere(
        want,
        ("pyiceberg", pyiceberg_rows(tbl, cols)),
        ("duckdb (fresh connection)", duckdb_rows(duck_factory(), t, cols)),
    )

    # And DuckDB can keep writing after the schema change.
    other = duck_factory()
    other.execute(f"INSERT INTO {t} VALUES (200, 'after', 2.0, 'x')")
    other.execute(f"DELETE FROM {t} WHERE id = 100")
    want = [r for r in want if r[0] != 100] + [(200, "after", 2.0, "x")]
    tbl = catalog.load_table(ident)
    assert_same_everywhere(
        want,
        ("pyiceberg", pyiceberg_rows(tbl, cols)),
        ("duckdb", duckdb_rows(other, t, cols)),
        ("duckdb (fresh connection)", duckdb_rows(duck_factory(), t, cols)),
    )


def test_partition_evolution_read_and_written_by_both(catalog, duck_factory, unique_name):
    """pyiceberg evolves the partition spec (bucket(4, id) -> + identity(name)); DuckDB reads
    files of both specs and appends; pyiceberg deletes across both specs."""

    ns = unique_name("xpe")
    catalog.create_namespace((ns,))
    ident = (ns, "evo")
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "name", StringType(), required=False),
        NestedField(3, "value", DoubleType(), required=False),
    )
    spec = PartitionSpec(PartitionField(source_id=1, field_id=1000, transform=BucketTransform(4), name="id_b4"))
    tbl = catalog.create_table(ident, schema=schema, partition_spec=spec, properties={"format-version": "2"})
    arrow_schema = pa.schema(
        [pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string()), pa.field("value", pa.float64())]
    )
    first = [(i, f"g{i % 3}", float(i)) for i in range(12)]
    tbl.append(pa.Table.from_pylist([dict(zip(COLS, r)) for r in first], schema=arrow_schema))
    tbl = catalog.load_table(ident)
    with tbl.update_spec() as u:
        u.add_identity("name")
    tbl = catalog.load_table(ident)
    second = [(i, f"g{i % 3}", float(i)) for i in range(12, 24)]
    tbl.append(pa.Table.from_pylist([dict(zip(COLS, r)) for r in second], schema=arrow_schema))

    t = f"c.{ns}.evo"
    con = duck_factory()
    assert_same_everywhere(
        first + second,
        ("pyiceberg", pyiceberg_rows(catalog.load_table(ident), COLS)),
        ("duckdb", duckdb_rows(con, t, COLS)),
    )
    # DuckDB appends under the current spec (DuckDB 1.5.5 cannot DELETE/UPDATE in a table
    # whose partition spec evolved: "duplicate name ... in struct" on its side, with any
    # catalog), and pyiceberg deletes across both specs.
    con.execute(f"INSERT INTO {t} VALUES (100, 'g1', 1.0), (101, 'g9', 2.0)")
    tbl = catalog.load_table(ident)
    tbl.delete(delete_filter="name == 'g1'")
    want = [r for r in first + second if r[1] != "g1"] + [(101, "g9", 2.0)]
    assert_same_everywhere(
        want,
        ("pyiceberg", pyiceberg_rows(catalog.load_table(ident), COLS)),
        ("duckdb", duckdb_rows(con, t, COLS)),
        ("duckdb (fresh connection)", duckdb_rows(duck_factory(), t, COLS)),
    )
