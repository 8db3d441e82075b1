"""pyiceberg 0.12 (RestCatalog) against floe: namespaces, tables, writes, schema evolution,
rename, register, drop with purge, and create-table transactions (stage-create)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.exceptions import (
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType

from interop_util import (
    files_under,
    is_under,
    location_to_path,
    pyiceberg_rows,
    sorted_rows,
    wait_until,
)

SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "name", StringType(), required=False),
    NestedField(3, "value", DoubleType(), required=False),
)
BUCKET_SPEC = PartitionSpec(
    PartitionField(source_id=1, field_id=1000, transform=BucketTransform(16), name="id_bucket")
)
ARROW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("name", pa.string(), nullable=True),
        pa.field("value", pa.float64(), nullable=True),
    ]
)


def arrow_table(rows, schema=ARROW_SCHEMA) -> pa.Table:
    cols = list(zip(*rows)) if rows else [[] for _ in schema]
    return pa.Table.from_arrays([pa.array(list(c), type=f.type) for c, f in zip(cols, schema)], schema=schema)


def test_nested_namespaces(catalog, unique_name):
    root = unique_name("nsroot")
    catalog.create_namespace((root,), {"level": "0"})
    catalog.create_namespace((root, "a"))
    catalog.create_namespace((root, "b"), {"level": "1"})
    catalog.create_namespace((root, "a", "x"))

    top = catalog.list_namespaces()
    assert (root,) in top
    assert all(len(ns) == 1 for ns in top), f"top-level listing has nested entries: {top}"
    assert sorted(catalog.list_namespaces((root,))) == [(root, "a"), (root, "b")]
    assert catalog.list_namespaces((root, "a")) == [(root, "a", "x")]
    assert catalog.list_namespaces((root, "a", "x")) == []
    assert catalog.list_namespaces((root, "b")) == []

    assert catalog.namespace_exists((root, "a", "x"))
    assert not catalog.namespace_exists((root, "zzz"))
    assert catalog.load_namespace_properties((root, "b")).get("level") == "1"

    with pytest.raises(NamespaceAlreadyExistsError):
        catalog.create_namespace((root, "a"))
    with pytest.raises(NoSuchNamespaceError):
        catalog.list_namespaces((root, "missing"))
    with pytest.raises(NoSuchNamespaceError):
        catalog.load_namespace_properties((root, "missing"))

    # Dropping a leaf works; its parent's listing no longer has it.
    catalog.drop_namespace((root, "a", "x"))
    assert catalog.list_namespaces((root, "a")) == []
    assert not catalog.namespace_exists((root, "a", "x"))
    with pytest.raises(NoSuchNamespaceError):
        catalog.drop_namespace((root, "a", "x"))


def test_namespace_properties(catalog, unique_name):
    ns = (unique_name("nsprops"),)
    catalog.create_namespace(ns, {"owner": "alice", "k1": "v1", "k2": "v2"})
    props = catalog.load_namespace_properties(ns)
    assert {k: props.get(k) for k in ("owner", "k1", "k2")} == {"owner": "alice", "k1": "v1", "k2": "v2"}

    summary = catalog.update_namespace_properties(
        ns, removals={"k1", "not_there"}, updates={"k2": "v2b", "k3": "v3"}
    )
    assert sorted(summary.removed) == ["k1"]
    assert sorted(summary.updated) == ["k2", "k3"]
    assert sorted(summary.missing) == ["not_there"]

    props = catalog.load_namespace_properties(ns)
    assert "k1" not in props
    assert "not_there" not in props
    assert {k: props.get(k) for k in ("owner", "k2", "k3")} == {"owner": "alice", "k2": "v2b", "k3": "v3"}

    # Removing only missing keys changes nothing.
    summary = catalog.update_namespace_properties(ns, removals={"nope"})
    assert summary.removed == [] and summary.updated == [] and summary.missing == ["nope"]
    assert catalog.load_namespace_properties(ns) == props


def test_table_lifecycle(catalog, warehouse, unique_name):
    ns = (unique_name("nstbl"),)
    ns2 = (unique_name("nstbl2"),)
    catalog.create_namespace(ns)
    catalog.create_namespace(ns2)
    ident = ns + ("events",)

    tbl = catalog.create_table(
        ident, schema=SCHEMA, partition_spec=BUCKET_SPEC, properties={"format-version": "2", "team": "floe"}
    )
    assert tbl.format_version == 2
    assert tbl.metadata.format_version == 2
    assert tbl.properties.get("team") == "floe"
    spec = tbl.spec()
    assert len(spec.fields) == 1
    assert spec.fields[0].transform == BucketTransform(16)
    assert [f.name for f in tbl.schema().fields] == ["id", "name", "value"]
    assert tbl.schema().find_field("id").required
    location = location_to_path(tbl.metadata.location)
    assert is_under(location, warehouse), f"table location {tbl.metadata.location} is not under {warehouse}"
    assert is_under(location_to_path(tbl.metadata_location), warehouse)
    assert location_to_path(tbl.metadata_location).is_file()
    assert tbl.current_snapshot() is None
    assert pyiceberg_rows(tbl, ["id", "name", "value"]) == []

    batch1 = [(i, f"name-{i}", i * 1.5) for i in range(1, 41)] + [(41, None, None)]
    tbl.append(arrow_table(batch1))
    assert tbl.current_snapshot() is not None

    # Schema evolution: add a column, then write rows that use it.
    with tbl.update_schema() as upd:
        upd.add_column("extra", StringType(), doc="added later")
    tbl = catalog.load_table(ident)
    assert [f.name for f in tbl.schema().fields] == ["id", "name", "value", "extra"]
    # Both schemas are kept (in any order); the current one is the evolved one.
    by_id = {s.schema_id: s for s in tbl.metadata.schemas}
    assert len(by_id) == 2
    assert len(by_id[tbl.metadata.current_schema_id].fields) == 4
    (old_id,) = set(by_id) - {tbl.metadata.current_schema_id}
    assert [f.name for f in by_id[old_id].fields] == ["id", "name", "value"]

    evolved = pa.schema(list(ARROW_SCHEMA) + [pa.field("extra", pa.string(), nullable=True)])
    batch2 = [(i, f"name-{i}", -float(i), f"x{i}") for i in range(100, 120)]
    tbl.append(arrow_table(batch2, evolved))

    # Read back through a fresh load from the service.
    tbl = catalog.load_table(ident)
    assert len(tbl.snapshots()) == 2
    expected = [r + (None,) for r in batch1] + batch2
    got = pyiceberg_rows(tbl, ["id", "name", "value", "extra"])
    assert sorted_rows(got) == sorted_rows(expected)
    # Filtered read through the partitioned layout.
    few = tbl.scan(row_filter="id >= 100 and id < 103").to_arrow()
    assert sorted(few.column("id").to_pylist()) == [100, 101, 102]
    # Data files are bucketed: more than one partition, all under the table location.
    data_files = [task.file for task in tbl.scan().plan_files()]
    assert len({f.partition[0] for f in data_files}) > 1
    for f in data_files:
        assert is_under(location_to_path(f.file_path), location), f.file_path
        assert location_to_path(f.file_path).is_file()

    # Listing
    assert catalog.list_tables(ns) == [ident]
    assert catalog.table_exists(ident)

    # Rename across namespaces; the data comes along.
    new_ident = ns2 + ("events_renamed",)
    meta_loc_before = catalog.load_table(ident).metadata_location
    catalog.rename_table(ident, new_ident)
    assert not catalog.table_exists(ident)
    with pytest.raises(NoSuchTableError):
        catalog.load_table(ident)
    assert catalog.list_tables(ns) == []
    assert catalog.list_tables(ns2) == [new_ident]
    renamed = catalog.load_table(new_ident)
    assert renamed.metadata_location == meta_loc_before
    assert sorted_rows(pyiceberg_rows(renamed, ["id", "name", "value", "extra"])) == sorted_rows(expected)

    # A namespace with a table cannot be dropped.
    with pytest.raises(NamespaceNotEmptyError):
        catalog.drop_namespace(ns2)

    # Drop with purge: the table disappears and so do its files.
    all_files = files_under(location)
    assert all_files, "table has no files before purge"
    catalog.purge_table(new_ident)
    assert not catalog.table_exists(new_ident)
    assert catalog.list_tables(ns2) == []
    assert wait_until(lambda: not files_under(location), timeout=10), (
        f"files left after purge: {[str(p) for p in files_under(location)][:5]}"
    )
    with pytest.raises(NoSuchTableError):
        catalog.purge_table(new_ident)

    catalog.drop_namespace(ns2)
    catalog.drop_namespace(ns)
    assert not catalog.namespace_exists(ns)


def test_create_table_transaction(catalog, unique_name):
    ns = (unique_name("nstxn"),)
    catalog.create_namespace(ns)
    ident = ns + ("staged",)

    rows = [(i, f"s{i}", i / 4) for i in range(10)]
    txn = catalog.create_table_transaction(
        ident, schema=SCHEMA, partition_spec=BUCKET_SPEC, properties={"format-version": "2"}
    )
    # Staging must not make the table visible.
    assert not catalog.table_exists(ident)
    assert catalog.list_tables(ns) == []
    txn.set_properties({"staged-prop": "yes"})
    txn.append(arrow_table(rows))
    txn.commit_transaction()

    tbl = catalog.load_table(ident)
    assert tbl.format_version == 2
    assert tbl.properties.get("staged-prop") == "yes"
    assert tbl.spec().fields[0].transform == BucketTransform(16)
    assert len(tbl.snapshots()) == 1
    assert sorted_rows(pyiceberg_rows(tbl, ["id", "name", "value"])) == sorted_rows(rows)
    assert catalog.list_tables(ns) == [ident]

    # A second create of the same name fails, staged or not.
    with pytest.raises(TableAlreadyExistsError):
        catalog.create_table(ident, schema=SCHEMA)
    with pytest.raises(TableAlreadyExistsError):
        catalog.create_table_transaction(ident, schema=SCHEMA).commit_transaction()


def test_register_after_drop_without_purge(catalog, unique_name):
    ns = (unique_name("nsreg"),)
    catalog.create_namespace(ns)
    ident = ns + ("orig",)
    tbl = catalog.create_table(ident, schema=SCHEMA, properties={"format-version": "2"})
    rows = [(1, "a", 1.0), (2, "b", 2.0), (3, None, None)]
    tbl.append(arrow_table(rows))
    tbl = catalog.load_table(ident)
    metadata_location = tbl.metadata_location
    location = location_to_path(tbl.metadata.location)

    catalog.drop_table(ident)  # no purge: files stay
    assert not catalog.table_exists(ident)
    assert location_to_path(metadata_location).is_file()
    assert files_under(location)

    registered = catalog.register_table(ns + ("again",), metadata_location)
    assert registered.metadata_location == metadata_location
    again = catalog.load_table(ns + ("again",))
    assert again.metadata.table_uuid == tbl.metadata.table_uuid
    assert sorted_rows(pyiceberg_rows(again, ["id", "name", "value"])) == sorted_rows(rows)
    with pytest.raises(TableAlreadyExistsError):
        catalog.register_table(ns + ("again",), metadata_location)

    # The registered table keeps working for writes.
    again.append(arrow_table([(4, "d", 4.0)]))
    again = catalog.load_table(ns + ("again",))
    assert sorted_rows(pyiceberg_rows(again, ["id", "name", "value"])) == sorted_rows(rows + [(4, "d", 4.0)])


def test_overwrite_and_delete(catalog, unique_name):
    """pyiceberg's own row deletes (copy-on-write overwrite) and properties commits."""
    ns = (unique_name("nsdel"),)
    catalog.create_namespace(ns)
    ident = ns + ("t",)
    tbl = catalog.create_table(ident, schema=SCHEMA, partition_spec=BUCKET_SPEC, properties={"format-version": "2"})
    rows = [(i, f"n{i}", float(i)) for i in range(20)]
    tbl.append(arrow_table(rows))
    tbl.delete(delete_filter="id < 5")
    tbl = catalog.load_table(ident)
    assert sorted_rows(pyiceberg_rows(tbl, ["id", "name", "value"])) == sorted_rows(rows[5:])

    with tbl.transaction() as tx:
        tx.set_properties({"a": "1", "b": "2"})
    with tbl.transaction() as tx:
        tx.remove_properties("a")
    tbl = catalog.load_table(ident)
    assert tbl.properties.get("b") == "2"
    assert "a" not in tbl.properties

    tbl.overwrite(arrow_table([(99, "only", 9.9)]))
    tbl = catalog.load_table(ident)
    assert pyiceberg_rows(tbl, ["id", "name", "value"]) == [(99, "only", 9.9)]
    # History: every snapshot's parent chain is intact.
    snaps = {s.snapshot_id: s for s in tbl.snapshots()}
    cur = tbl.current_snapshot()
    chain = 0
    while cur is not None:
        chain += 1
        cur = snaps.get(cur.parent_snapshot_id) if cur.parent_snapshot_id else None
    assert chain >= 3


def test_purge_never_deletes_outside_the_warehouse(catalog, warehouse, unique_name, tmp_path):
    """A table can reference files it does not own (add_files of an existing parquet file
    outside the warehouse). Purging the table removes the table's own files but must leave
    files outside the warehouse alone."""
    import pyarrow.parquet as pq

    outside = tmp_path / "outside-data.parquet"
    assert not str(outside).startswith(str(warehouse))
    pq.write_table(
        pa.Table.from_pylist([{"id": 7, "name": "ext", "value": 7.0}], schema=ARROW_SCHEMA), outside
    )
    ns = (unique_name("nspurge"),)
    catalog.create_namespace(ns)
    ident = ns + ("t",)
    tbl = catalog.create_table(ident, schema=SCHEMA, properties={"format-version": "2"})
    tbl.append(arrow_table([(1, "own", 1.0)]))
    tbl = catalog.load_table(ident)
    try:
        tbl.add_files([str(outside)])
    except Exception as e:  # refusing foreign files is also acceptable
        print(f"add_files of a file outside the warehouse was refused: {e!r}")
    tbl = catalog.load_table(ident)
    location = location_to_path(tbl.metadata.location)
    catalog.purge_table(ident)
    assert wait_until(lambda: not files_under(location), timeout=10)
    assert outside.is_file(), "purge deleted a file outside the warehouse"
    assert pq.read_table(outside).num_rows == 1
