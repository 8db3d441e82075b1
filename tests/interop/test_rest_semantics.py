"""REST semantics over plain HTTP and across server restarts: stage-create visibility and
races, response shapes, and durability of committed state when the server is stopped
(SIGTERM) or killed (SIGKILL) and started again on the same warehouse and data dir."""

from __future__ import annotations

import signal
import uuid

import pyarrow as pa
import pytest

from conftest import _start_server, _stop_process, make_catalog
from interop_util import assert_error, location_to_path, ns_path, pyiceberg_rows, sorted_rows, table_path

SCHEMA_JSON = {
    "type": "struct",
    "schema-id": 0,
    "fields": [
        {"id": 1, "name": "id", "type": "long", "required": True},
        {"id": 2, "name": "name", "type": "string", "required": False},
    ],
}


def create_ns(http, ns, props=None):
    r = http.post("/v1/namespaces", json={"namespace": [ns], "properties": props or {}})
    assert r.status_code == 200, r.text
    return r.json()


def stage(http, ns, name, **extra):
    body = {"name": name, "schema": SCHEMA_JSON, "stage-create": True, "properties": {"format-version": "2"}}
    body.update(extra)
    r = http.post(f"/v1/namespaces/{ns_path(ns)}/tables", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def assert_create_commit(http, ns, name, staged, extra_updates=()):
    """The commit a client sends to create a staged table: assert-create plus the staged
    metadata as updates."""
    md = staged["metadata"]
    schema = [s for s in md["schemas"] if s["schema-id"] == md["current-schema-id"]][0]
    spec = [s for s in md["partition-specs"] if s["spec-id"] == md["default-spec-id"]][0]
    order = [s for s in md["sort-orders"] if s["order-id"] == md["default-sort-order-id"]][0]
    updates = [
        {"action": "assign-uuid", "uuid": md["table-uuid"]},
        {"action": "upgrade-format-version", "format-version": md["format-version"]},
        {"action": "add-schema", "schema": schema, "last-column-id": md["last-column-id"]},
        {"action": "set-current-schema", "schema-id": -1},
        {"action": "add-spec", "spec": spec},
        {"action": "set-default-spec", "spec-id": -1},
        {"action": "add-sort-order", "sort-order": order},
        {"action": "set-default-sort-order", "sort-order-id": -1},
        {"action": "set-location", "location": md["location"]},
        {"action": "set-properties", "updates": md.get("properties", {})},
        *extra_updates,
    ]
    return http.post(table_path(ns, name), json={"requirements": [{"type": "assert-create"}], "updates": updates})


def test_create_namespace_response(http, unique_name):
    ns = unique_name("resp")
    body = create_ns(http, ns, {"a": "1"})
    assert body["namespace"] == [ns]
    assert body.get("properties", {}).get("a") == "1"
    r = http.get(f"/v1/namespaces/{ns}")
    assert r.status_code == 200
    assert r.json()["namespace"] == [ns]
    assert http.head(f"/v1/namespaces/{ns}").status_code == 204


def test_stage_create_is_invisible_until_committed(http, unique_name):
    ns = unique_name("stage")
    create_ns(http, ns)
    staged = stage(http, ns, "t")
    assert staged["metadata"]["format-version"] == 2
    assert staged.get("metadata-location") in (None, "")
    # Not visible, not listed, not loadable.
    assert http.head(table_path(ns, "t")).status_code == 404
    assert_error(http.get(table_path(ns, "t")), 404, "NoSuchTableException")
    assert http.get(f"/v1/namespaces/{ns}/tables").json()["identifiers"] == []

    # Committing the staged metadata creates it.
    r = assert_create_commit(http, ns, "t", staged, [{"action": "set-properties", "updates": {"via": "stage"}}])
    assert r.status_code == 200, r.text
    committed = r.json()
    assert committed["metadata-location"]
    assert location_to_path(committed["metadata-location"]).is_file()
    loaded = http.get(table_path(ns, "t")).json()
    assert loaded["metadata-location"] == committed["metadata-location"]
    assert loaded["metadata"]["table-uuid"] == staged["metadata"]["table-uuid"]
    assert loaded["metadata"]["properties"].get("via") == "stage"

    # A second assert-create commit for the same name now fails.
    r = assert_create_commit(http, ns, "t", staged)
    assert_error(r, 409, "CommitFailedException")
    assert http.get(table_path(ns, "t")).json()["metadata-location"] == committed["metadata-location"]


def test_stage_create_loses_race_to_plain_create(http, unique_name):
    ns = unique_name("race")
    create_ns(http, ns)
    staged = stage(http, ns, "t")
    # Someone else creates the table meanwhile.
    r = http.post(f"/v1/namespaces/{ns}/tables", json={"name": "t", "schema": SCHEMA_JSON})
    assert r.status_code == 200, r.text
    winner = r.json()["metadata-location"]
    r = assert_create_commit(http, ns, "t", staged)
    assert_error(r, 409, "CommitFailedException")
    loaded = http.get(table_path(ns, "t")).json()
    assert loaded["metadata-location"] == winner
    assert loaded["metadata"]["table-uuid"] != staged["metadata"]["table-uuid"]


def test_staged_then_abandoned_allows_plain_create(http, unique_name):
    ns = unique_name("abandon")
    create_ns(http, ns)
    stage(http, ns, "t")
    stage(http, ns, "t")  # staging twice is fine: nothing exists yet
    r = http.post(f"/v1/namespaces/{ns}/tables", json={"name": "t", "schema": SCHEMA_JSON})
    assert r.status_code == 200, r.text
    # And staging an existing name is refused.
    r = http.post(
        f"/v1/namespaces/{ns}/tables", json={"name": "t", "schema": SCHEMA_JSON, "stage-create": True}
    )
    assert_error(r, 409, "AlreadyExistsException")


def test_commit_response_matches_load(http, unique_name):
    ns = unique_name("cr")
    create_ns(http, ns)
    r = http.post(f"/v1/namespaces/{ns}/tables", json={"name": "t", "schema": SCHEMA_JSON})
    assert r.status_code == 200, r.text
    created = r.json()
    uuid_ = created["metadata"]["table-uuid"]
    r = http.post(
        table_path(ns, "t"),
        json={
            "requirements": [{"type": "assert-table-uuid", "uuid": uuid_}],
            "updates": [{"action": "set-properties", "updates": {"k": "v"}}],
        },
    )
    assert r.status_code == 200, r.text
    resp = r.json()
    assert resp["metadata-location"] != created["metadata-location"]
    assert resp["metadata"]["properties"]["k"] == "v"
    loaded = http.get(table_path(ns, "t")).json()
    assert loaded["metadata-location"] == resp["metadata-location"]
    assert loaded["metadata"] == resp["metadata"]
    # The previous metadata file is recorded in the metadata log.
    logged = [e["metadata-file"] for e in resp["metadata"].get("metadata-log", [])]
    assert created["metadata-location"] in logged


# --------------------------------------------------------------------------------------
# Restarts: a server of this test's own, on its own directories.


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_state_survives_restart(tmp_path, how):
    server = _start_server(tmp_path)
    try:
        cat = make_catalog(server.url)
        ns = ("restart", "nested")
        cat.create_namespace(ns[:1], {"p": "1"})
        cat.create_namespace(ns)
        tbl = cat.create_table(ns + ("t",), schema=pa_schema_to_iceberg(), properties={"format-version": "2"})
        rows = [(i, f"r{i}") for i in range(10)]
        tbl.append(pa.Table.from_pylist([{"id": i, "name": n} for i, n in rows], schema=ARROW))
        tbl = cat.load_table(ns + ("t",))
        location = tbl.metadata_location
        table_uuid = str(tbl.metadata.table_uuid)
        cat.create_table(ns + ("dropped",), schema=pa_schema_to_iceberg())
        cat.drop_table(ns + ("dropped",))
    finally:
        if how == "sigkill":
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait(timeout=10)
        else:
            _stop_process(server.proc)

    # Same warehouse and data dir, new process.
    server2 = None
    try:
        server2 = _start_server(tmp_path, reuse=True)
        cat = make_catalog(server2.url)
        assert cat.list_namespaces() == [("restart",)]
        assert cat.list_namespaces(("restart",)) == [ns]
        assert cat.load_namespace_properties(("restart",)).get("p") == "1"
        assert cat.list_tables(ns) == [ns + ("t",)]
        tbl = cat.load_table(ns + ("t",))
        assert tbl.metadata_location == location
        assert str(tbl.metadata.table_uuid) == table_uuid
        assert sorted_rows(pyiceberg_rows(tbl, ["id", "name"])) == sorted_rows(rows)
        # And it accepts new commits.
        tbl.append(pa.Table.from_pylist([{"id": 99, "name": "after"}], schema=ARROW))
        assert len(cat.load_table(ns + ("t",)).snapshots()) == 2
    finally:
        if server2 is not None:
            _stop_process(server2.proc)


ARROW = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string())])


def pa_schema_to_iceberg():
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType

    return Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "name", StringType()))
