"""Views through pyiceberg's RestCatalog (create, load, list, exists, register, drop) and
the spec's replace and rename over HTTP, which pyiceberg does not send; DuckDB 1.5.5 reads
no Iceberg views, so it is checked to see the namespace's table and not the view. The
suite runs on the embedded store and again on ZooKeeper."""

from __future__ import annotations

import time

import pytest
from pyiceberg.exceptions import (
    NoSuchViewError,
    TableAlreadyExistsError,
    ViewAlreadyExistsError,
)
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType
from pyiceberg.view.metadata import SQLViewRepresentation, ViewVersion

SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "name", StringType(), required=False),
)


def version(ns: str, sql: str) -> ViewVersion:
    return ViewVersion(
        version_id=1,
        schema_id=0,
        summary={"engine-name": "pyiceberg-test"},
        representations=[SQLViewRepresentation(type="sql", sql=sql, dialect="spark")],
        default_namespace=(ns,),
    )


def view_url(ns: str, name: str) -> str:
    return f"/v1/namespaces/{ns}/views/{name}"


@pytest.fixture
def with_view(catalog, unique_name):
    """Namespace `ns` with table `t` and view `v` over it, made by pyiceberg."""
    ns = unique_name("views")
    catalog.create_namespace((ns,))
    catalog.create_table((ns, "t"), schema=SCHEMA)
    view = catalog.create_view(
        (ns, "v"), schema=SCHEMA, view_version=version(ns, "SELECT id, name FROM t")
    )
    return ns, view


def test_pyiceberg_creates_lists_and_loads_a_view(catalog, with_view):
    ns, view = with_view
    assert view.metadata.current_version_id == 1
    loaded = catalog.load_view((ns, "v"))
    assert loaded.metadata.view_uuid == view.metadata.view_uuid
    sql = loaded.metadata.versions[0].representations[0].root.sql
    assert sql == "SELECT id, name FROM t"
    assert [f.name for f in loaded.metadata.schemas[0].fields] == ["id", "name"]
    assert catalog.list_views((ns,)) == [(ns, "v")]
    assert catalog.list_tables((ns,)) == [(ns, "t")]
    assert catalog.view_exists((ns, "v"))
    assert not catalog.view_exists((ns, "t"))
    assert not catalog.table_exists((ns, "v"))


def test_a_view_and_a_table_never_share_a_name(catalog, with_view):
    ns, _ = with_view
    with pytest.raises(ViewAlreadyExistsError):
        catalog.create_view((ns, "v"), schema=SCHEMA, view_version=version(ns, "SELECT 1"))
    with pytest.raises(ViewAlreadyExistsError, match="table"):
        catalog.create_view((ns, "t"), schema=SCHEMA, view_version=version(ns, "SELECT 1"))
    with pytest.raises(TableAlreadyExistsError, match="view"):
        catalog.create_table((ns, "v"), schema=SCHEMA)
    assert catalog.list_views((ns,)) == [(ns, "v")]
    assert catalog.list_tables((ns,)) == [(ns, "t")]


def test_a_replaced_and_renamed_view_loads_in_pyiceberg(catalog, http, with_view):
    ns, view = with_view
    replace = {
        "requirements": [{"type": "assert-view-uuid", "uuid": view.metadata.view_uuid}],
        "updates": [
            {
                "action": "add-view-version",
                "view-version": {
                    "version-id": 2, "schema-id": 0, "timestamp-ms": int(time.time() * 1000),
                    "summary": {}, "default-namespace": [ns],
                    "representations": [
                        {"type": "sql", "sql": "SELECT id FROM t", "dialect": "spark"}
                    ],
                },
            },
            {"action": "set-current-view-version", "view-version-id": -1},
        ],
    }
    answer = http.post(view_url(ns, "v"), json=replace)
    assert answer.status_code == 200, answer.text
    current = catalog.load_view((ns, "v")).metadata
    assert current.current_version_id == 2
    by_id = {v.version_id: v for v in current.versions}
    assert by_id[2].representations[0].root.sql == "SELECT id FROM t"

    rename = {
        "source": {"namespace": [ns], "name": "v"},
        "destination": {"namespace": [ns], "name": "v2"},
    }
    answer = http.post("/v1/views/rename", json=rename)
    assert answer.status_code == 204, answer.text
    assert not catalog.view_exists((ns, "v"))
    assert catalog.load_view((ns, "v2")).metadata.current_version_id == 2
    assert catalog.list_views((ns,)) == [(ns, "v2")]


def test_a_dropped_view_registers_again_from_its_metadata_file(catalog, http, with_view):
    ns, view = with_view
    location = http.get(view_url(ns, "v")).json()["metadata-location"]
    catalog.drop_view((ns, "v"))
    assert not catalog.view_exists((ns, "v"))
    with pytest.raises(NoSuchViewError):
        catalog.drop_view((ns, "v"))
    with pytest.raises(NoSuchViewError):
        catalog.load_view((ns, "v"))
    back = catalog.register_view((ns, "back"), location)
    assert back.metadata.view_uuid == view.metadata.view_uuid
    assert catalog.list_views((ns,)) == [(ns, "back")]


def test_duckdb_sees_the_table_and_not_the_view(duck, with_view):
    ns, _ = with_view
    listed = duck.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'c' "
        "AND table_schema = ?",
        [ns],
    ).fetchall()
    assert listed == [("t",)]
    assert duck.execute(f'SELECT count(*) FROM c."{ns}".t').fetchone() == (0,)
