"""Catalog semantics through pyiceberg: optimistic concurrency (stale writers get
CommitFailedException, parallel writers with retries lose nothing), refs (branches, tags,
rollback), snapshot expiry, partition/sort-order evolution, names that need URL escaping,
and paginated listings."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.sorting import SortField, SortOrder
from pyiceberg.transforms import BucketTransform, IdentityTransform
from pyiceberg.types import LongType, NestedField, StringType

from conftest import make_catalog
from interop_util import pyiceberg_rows, sorted_rows

SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "name", StringType(), required=False),
)
ARROW = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string())])


def rows_table(rows) -> pa.Table:
    return pa.Table.from_pylist([{"id": i, "name": n} for i, n in rows], schema=ARROW)


def new_table(catalog, unique_name, name="t", **kw):
    ns = (unique_name("sem"),)
    catalog.create_namespace(ns)
    ident = ns + (name,)
    kw.setdefault("properties", {"format-version": "2"})
    return ident, catalog.create_table(ident, schema=SCHEMA, **kw)


def test_stale_writer_is_not_lost(catalog, unique_name):
    ident, _ = new_table(catalog, unique_name)
    a = catalog.load_table(ident)
    b = catalog.load_table(ident)
    a.append(rows_table([(1, "a")]))
    # b still believes main has no snapshot: the server must refuse its first commit
    # (assert-ref-snapshot-id) with 409; pyiceberg 0.12 then refreshes and retries the
    # append, so both rows end up in the table, in two chained snapshots.
    b.append(rows_table([(2, "b")]))
    after = catalog.load_table(ident)
    assert sorted(pyiceberg_rows(after, ["id", "name"])) == [(1, "a"), (2, "b")]
    snaps = after.snapshots()
    assert len(snaps) == 2
    assert snaps[1].parent_snapshot_id == snaps[0].snapshot_id or snaps[0].parent_snapshot_id == snaps[1].snapshot_id
    # A stale schema change fails too (assert-current-schema-id / last-assigned-field-id).
    c = catalog.load_table(ident)
    d = catalog.load_table(ident)
    with c.update_schema() as u:
        u.add_column("c_col", StringType())
    with pytest.raises(CommitFailedException):
        with d.update_schema() as u:
            u.add_column("d_col", StringType())
    names = [f.name for f in catalog.load_table(ident).schema().fields]
    assert names == ["id", "name", "c_col"]


def test_parallel_appends_with_retries_lose_nothing(floe_url, catalog, unique_name):
    ident, _ = new_table(catalog, unique_name)
    writers, per_writer = 4, 3
    errors = []

    def writer(w: int):
        cat = make_catalog(floe_url)  # one client per thread
        try:
            for k in range(per_writer):
                for attempt in range(50):
                    tbl = cat.load_table(ident)
                    try:
                        tbl.append(rows_table([(w * 100 + k, f"w{w}k{k}")]))
                        break
                    except CommitFailedException:
                        continue
                else:
                    errors.append(f"writer {w} gave up on row {k}")
        except Exception as e:  # surfaced below
            errors.append(f"writer {w}: {e!r}")

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    tbl = catalog.load_table(ident)
    expected = [(w * 100 + k, f"w{w}k{k}") for w in range(writers) for k in range(per_writer)]
    assert sorted_rows(pyiceberg_rows(tbl, ["id", "name"])) == sorted_rows(expected)
    # Every commit made exactly one snapshot, chained linearly.
    snaps = tbl.snapshots()
    assert len(snaps) == writers * per_writer
    seqs = sorted(s.sequence_number for s in snaps)
    assert seqs == list(range(1, writers * per_writer + 1))
    assert tbl.metadata.last_sequence_number == writers * per_writer


def test_branches_tags_rollback_and_expiry(catalog, unique_name):
    ident, tbl = new_table(catalog, unique_name)
    tbl.append(rows_table([(1, "one")]))
    s1 = catalog.load_table(ident).current_snapshot().snapshot_id
    tbl = catalog.load_table(ident)
    tbl.append(rows_table([(2, "two")]))
    tbl = catalog.load_table(ident)
    s2 = tbl.current_snapshot().snapshot_id

    tbl.manage_snapshots().create_tag(s1, "v1").create_branch(s1, "dev").commit()
    tbl = catalog.load_table(ident)
    refs = tbl.metadata.refs
    assert refs["v1"].snapshot_id == s1 and refs["v1"].snapshot_ref_type.value == "tag"
    assert refs["dev"].snapshot_id == s1 and refs["dev"].snapshot_ref_type.value == "branch"
    assert refs["main"].snapshot_id == s2
    assert sorted(pyiceberg_rows(tbl, ["id", "name"])) == [(1, "one"), (2, "two")]
    assert tbl.scan(snapshot_id=s1).to_arrow().column("id").to_pylist() == [1]

    # Rollback main to s1, then remove the tag.
    tbl.manage_snapshots().rollback_to_snapshot(s1).commit()
    tbl = catalog.load_table(ident)
    assert tbl.current_snapshot().snapshot_id == s1
    assert pyiceberg_rows(tbl, ["id", "name"]) == [(1, "one")]
    tbl.manage_snapshots().remove_tag("v1").commit()
    tbl = catalog.load_table(ident)
    assert "v1" not in tbl.metadata.refs
    assert tbl.metadata.refs["dev"].snapshot_id == s1

    # s2 is referenced by no ref now: expire it.
    tbl.maintenance.expire_snapshots().by_id(s2).commit()
    tbl = catalog.load_table(ident)
    assert {s.snapshot_id for s in tbl.snapshots()} == {s1}
    assert pyiceberg_rows(tbl, ["id", "name"]) == [(1, "one")]


def test_partition_and_sort_order_evolution(catalog, unique_name):
    sort = SortOrder(SortField(source_id=1, transform=IdentityTransform()))
    spec = PartitionSpec(PartitionField(source_id=1, field_id=1000, transform=BucketTransform(4), name="id_b4"))
    ident, tbl = new_table(catalog, unique_name, partition_spec=spec, sort_order=sort)
    tbl = catalog.load_table(ident)
    assert tbl.sort_order().fields[0].source_id == 1
    assert tbl.sort_order().order_id >= 1
    tbl.append(rows_table([(1, "a"), (2, "b")]))

    with tbl.update_spec() as u:
        u.add_identity("name")
    with tbl.update_sort_order() as u:
        u.desc("name", IdentityTransform())
    tbl = catalog.load_table(ident)
    assert len(tbl.metadata.partition_specs) == 2
    assert [f.name for f in tbl.spec().fields] == ["id_b4", "name"]
    assert tbl.sort_order().fields[0].source_id == 2
    tbl.append(rows_table([(3, "c"), (4, None)]))
    tbl = catalog.load_table(ident)
    assert sorted_rows(pyiceberg_rows(tbl, ["id", "name"])) == sorted_rows([(1, "a"), (2, "b"), (3, "c"), (4, None)])
    spec_ids = {task.file.spec_id for task in tbl.scan().plan_files()}
    assert len(spec_ids) == 2


NAMES = ["with space", "ünïcødé-名前", "percent%41", "plus+sign", "dot.ted", "quote'd", "hash#tag", "q?mark", "amp&eq="]


def test_names_needing_url_escaping(catalog, unique_name):
    parent = unique_name("esc")
    ns = (parent, "child ns ü")
    catalog.create_namespace((parent,))
    catalog.create_namespace(ns, {"k": "v w"})
    assert catalog.list_namespaces((parent,)) == [ns]
    assert catalog.load_namespace_properties(ns).get("k") == "v w"
    for i, name in enumerate(NAMES):
        tbl = catalog.create_table(ns + (name,), schema=SCHEMA)
        tbl.append(rows_table([(i, name)]))
    assert sorted(catalog.list_tables(ns)) == sorted(ns + (n,) for n in NAMES)
    for i, name in enumerate(NAMES):
        tbl = catalog.load_table(ns + (name,))
        assert pyiceberg_rows(tbl, ["id", "name"]) == [(i, name)], name
        assert catalog.table_exists(ns + (name,))
    # "plus+sign" must not be confused with "plus sign".
    assert not catalog.table_exists(ns + ("plus sign",))
    with pytest.raises(NoSuchTableError):
        catalog.load_table(ns + ("percentA",))
    catalog.rename_table(ns + ("with space",), ns + ("renamed ü+%",))
    assert catalog.table_exists(ns + ("renamed ü+%",))
    assert not catalog.table_exists(ns + ("with space",))


def test_paginated_listings(floe_url, catalog, unique_name):
    root = unique_name("page")
    catalog.create_namespace((root,))
    children = [(root, f"c{i:02d}") for i in range(7)]
    for ns in children:
        catalog.create_namespace(ns)
    for i in range(7):
        catalog.create_table((root, f"t{i:02d}"), schema=SCHEMA)

    paged = make_catalog_with_page_size(floe_url, 2)
    assert sorted(paged.list_namespaces((root,))) == children
    assert sorted(paged.list_tables((root,))) == [(root, f"t{i:02d}") for i in range(7)]
    assert sorted(catalog.list_tables((root,))) == [(root, f"t{i:02d}") for i in range(7)]


def make_catalog_with_page_size(url: str, n: int):
    from pyiceberg.catalog import load_catalog

    return load_catalog("floe_paged", type="rest", uri=url, **{"rest-page-size": str(n)})
