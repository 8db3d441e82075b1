"""Bad input over plain HTTP: each request must fail with the spec's status code and an
Iceberg error body, and leave the catalog unchanged (same metadata-location, same listing,
no files outside the warehouse)."""

from __future__ import annotations

import json
import uuid

import pyarrow as pa
import pytest

from interop_util import assert_error, files_under, location_to_path, ns_path, table_path

JSON = {"Content-Type": "application/json"}

SCHEMA_JSON = {
    "type": "struct",
    "schema-id": 0,
    "fields": [
        {"id": 1, "name": "id", "type": "long", "required": True},
        {"id": 2, "name": "name", "type": "string", "required": False},
    ],
}


class Fixture:
    """A namespace with one table that has a snapshot; snapshot() captures the state that
    every failed request must leave untouched."""

    def __init__(self, http, catalog, ns: str):
        self.http, self.catalog, self.ns = http, catalog, ns
        self.table = "t"
        self.path = table_path(ns, self.table)

    def create(self):
        r = self.http.post("/v1/namespaces", json={"namespace": [self.ns], "properties": {"p": "1"}})
        assert r.status_code == 200, r.text
        r = self.http.post(
            f"/v1/namespaces/{ns_path(self.ns)}/tables",
            json={"name": self.table, "schema": SCHEMA_JSON, "properties": {"format-version": "2"}},
        )
        assert r.status_code == 200, r.text
        tbl = self.catalog.load_table((self.ns, self.table))
        tbl.append(
            pa.Table.from_pylist(
                [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
                schema=pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string())]),
            )
        )
        return self

    def load(self) -> dict:
        r = self.http.get(self.path)
        assert r.status_code == 200, r.text
        return r.json()

    def state(self) -> dict:
        t = self.load()
        ns = self.http.get(f"/v1/namespaces/{ns_path(self.ns)}")
        assert ns.status_code == 200, ns.text
        tables = self.http.get(f"/v1/namespaces/{ns_path(self.ns)}/tables")
        assert tables.status_code == 200, tables.text
        namespaces = self.http.get("/v1/namespaces")
        assert namespaces.status_code == 200, namespaces.text
        return {
            "metadata-location": t["metadata-location"],
            "current-snapshot-id": t["metadata"].get("current-snapshot-id"),
            "properties": t["metadata"].get("properties", {}),
            "ns-properties": ns.json().get("properties", {}),
            "tables": sorted(json.dumps(i, sort_keys=True) for i in tables.json()["identifiers"]),
            "namespaces": sorted(json.dumps(n) for n in namespaces.json()["namespaces"]),
        }

    def uuid(self) -> str:
        return self.load()["metadata"]["table-uuid"]


@pytest.fixture
def fx(http, catalog, unique_name):
    f = Fixture(http, catalog, unique_name("err")).create()
    before = f.state()
    yield f
    # Whatever the test sent, the table and namespace are as they were.
    assert f.state() == before


# --------------------------------------------------------------------------------------
# 400: malformed JSON and invalid bodies


MALFORMED = [b'{"requirements": [', b"not json at all", b'{"updates": [{"action": "set-properties", "updates": {"a": "b"}}', b""]


@pytest.mark.parametrize("body", MALFORMED, ids=["truncated", "garbage", "unclosed", "empty"])
def test_malformed_json_commit(fx, http, body):
    r = http.post(fx.path, data=body, headers=JSON)
    assert_error(r, 400)


@pytest.mark.parametrize(
    "where",
    ["create-namespace", "create-table", "ns-properties", "rename", "transactions", "register"],
)
def test_malformed_json_other_endpoints(fx, http, where):
    ns = ns_path(fx.ns)
    path = {
        "create-namespace": "/v1/namespaces",
        "create-table": f"/v1/namespaces/{ns}/tables",
        "ns-properties": f"/v1/namespaces/{ns}/properties",
        "rename": "/v1/tables/rename",
        "transactions": "/v1/transactions/commit",
        "register": f"/v1/namespaces/{ns}/register",
    }[where]
    r = http.post(path, data=b'{"name": "x", ', headers=JSON)
    assert_error(r, 400)


def test_wrong_json_shapes(fx, http):
    # Valid JSON, wrong shape.
    assert_error(http.post(fx.path, json=[1, 2, 3]), 400)
    assert_error(http.post(fx.path, json={"requirements": "nope", "updates": []}), 400)
    assert_error(http.post(fx.path, json={"requirements": [], "updates": [{"action": "set-properties"}]}), 400)
    assert_error(http.post("/v1/namespaces", json={"namespace": "not-a-list"}), 400)
    assert_error(
        http.post(f"/v1/namespaces/{ns_path(fx.ns)}/tables", json={"name": "noschema"}), 400
    )
    assert_error(http.post("/v1/transactions/commit", json={"table-changes": "x"}), 400)


def test_unknown_update_action(fx, http):
    body = {"requirements": [], "updates": [{"action": "frobnicate-table", "value": 1}]}
    assert_error(http.post(fx.path, json=body), 400)
    # A valid update followed by an unknown one: nothing is applied.
    body = {
        "requirements": [],
        "updates": [
            {"action": "set-properties", "updates": {"should-not": "exist"}},
            {"action": "frobnicate-table"},
        ],
    }
    assert_error(http.post(fx.path, json=body), 400)
    assert "should-not" not in fx.load()["metadata"].get("properties", {})


def test_unknown_requirement_type(fx, http):
    body = {"requirements": [{"type": "assert-the-moon"}], "updates": [{"action": "set-properties", "updates": {"x": "y"}}]}
    assert_error(http.post(fx.path, json=body), 400)


# --------------------------------------------------------------------------------------
# 409: failed requirements


def assert_commit_failed(r):
    err = assert_error(r, 409, "CommitFailedException")
    assert set(r.json()["error"]) >= {"message", "type", "code"}
    return err


def test_assert_table_uuid_mismatch(fx, http):
    body = {
        "requirements": [{"type": "assert-table-uuid", "uuid": str(uuid.uuid4())}],
        "updates": [{"action": "set-properties", "updates": {"changed": "yes"}}],
    }
    assert_commit_failed(http.post(fx.path, json=body))


def test_other_failed_requirements(fx, http):
    meta = fx.load()["metadata"]
    upd = [{"action": "set-properties", "updates": {"changed": "yes"}}]
    cases = [
        # The table has a snapshot on main, so "main must not exist" fails.
        {"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": None},
        {"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": 12345},
        {"type": "assert-current-schema-id", "current-schema-id": meta["current-schema-id"] + 7},
        {"type": "assert-last-assigned-field-id", "last-assigned-field-id": meta["last-column-id"] + 7},
        {"type": "assert-default-spec-id", "default-spec-id": meta["default-spec-id"] + 7},
        {"type": "assert-create"},
    ]
    for req in cases:
        r = http.post(fx.path, json={"requirements": [req], "updates": upd})
        assert_commit_failed(r)


def test_multi_table_commit_is_atomic(http, catalog, unique_name):
    # Its own fixture: the second half of this test commits on purpose.
    fx = Fixture(http, catalog, unique_name("atomic")).create()
    t1_before = fx.load()["metadata-location"]
    # Second table in the same namespace.
    r = http.post(
        f"/v1/namespaces/{ns_path(fx.ns)}/tables",
        json={"name": "t2", "schema": SCHEMA_JSON, "properties": {"format-version": "2"}},
    )
    assert r.status_code == 200, r.text
    t2_before = http.get(table_path(fx.ns, "t2")).json()["metadata-location"]
    body = {
        "table-changes": [
            {
                "identifier": {"namespace": [fx.ns], "name": "t2"},
                "requirements": [{"type": "assert-table-uuid", "uuid": http.get(table_path(fx.ns, "t2")).json()["metadata"]["table-uuid"]}],
                "updates": [{"action": "set-properties", "updates": {"applied": "no"}}],
            },
            {
                "identifier": {"namespace": [fx.ns], "name": fx.table},
                "requirements": [{"type": "assert-table-uuid", "uuid": str(uuid.uuid4())}],
                "updates": [{"action": "set-properties", "updates": {"applied": "no"}}],
            },
        ]
    }
    assert_commit_failed(http.post("/v1/transactions/commit", json=body))
    t2 = http.get(table_path(fx.ns, "t2")).json()
    assert t2["metadata-location"] == t2_before
    assert fx.load()["metadata-location"] == t1_before
    assert "applied" not in t2["metadata"].get("properties", {})

    # The same transaction with correct requirements applies to both tables.
    body["table-changes"][1]["requirements"][0]["uuid"] = fx.uuid()
    body["table-changes"][0]["updates"][0]["updates"] = {"applied": "yes"}
    body["table-changes"][1]["updates"][0]["updates"] = {"applied": "yes"}
    r = http.post("/v1/transactions/commit", json=body)
    assert r.status_code == 204, f"{r.status_code} {r.text[:500]}"
    assert http.get(table_path(fx.ns, "t2")).json()["metadata"]["properties"].get("applied") == "yes"
    assert fx.load()["metadata"]["properties"].get("applied") == "yes"


# --------------------------------------------------------------------------------------
# 404: missing table / namespace


def test_missing_table(fx, http):
    missing = table_path(fx.ns, "no_such_table")
    assert_error(http.get(missing), 404, "NoSuchTableException")
    assert http.head(missing).status_code == 404
    body = {"requirements": [], "updates": [{"action": "set-properties", "updates": {"a": "b"}}]}
    assert_error(http.post(missing, json=body), 404, "NoSuchTableException")
    assert_error(http.delete(missing), 404, "NoSuchTableException")
    assert_error(
        http.post(
            "/v1/tables/rename",
            json={"source": {"namespace": [fx.ns], "name": "no_such_table"}, "destination": {"namespace": [fx.ns], "name": "x"}},
        ),
        404,
        "NoSuchTableException",
    )
    body = {
        "table-changes": [
            {
                "identifier": {"namespace": [fx.ns], "name": "no_such_table"},
                "requirements": [],
                "updates": [{"action": "set-properties", "updates": {"a": "b"}}],
            }
        ]
    }
    assert_error(http.post("/v1/transactions/commit", json=body), 404, "NoSuchTableException")


def test_missing_namespace(fx, http):
    ns = "no_such_ns_" + uuid.uuid4().hex[:8]
    assert_error(http.get(f"/v1/namespaces/{ns}"), 404, "NoSuchNamespaceException")
    assert http.head(f"/v1/namespaces/{ns}").status_code == 404
    assert_error(http.delete(f"/v1/namespaces/{ns}"), 404, "NoSuchNamespaceException")
    assert_error(http.get(f"/v1/namespaces/{ns}/tables"), 404, "NoSuchNamespaceException")
    assert_error(
        http.post(f"/v1/namespaces/{ns}/properties", json={"removals": [], "updates": {"a": "b"}}),
        404,
        "NoSuchNamespaceException",
    )
    assert_error(
        http.post(f"/v1/namespaces/{ns}/tables", json={"name": "t", "schema": SCHEMA_JSON}),
        404,
        "NoSuchNamespaceException",
    )
    assert_error(http.get("/v1/namespaces", params={"parent": ns}), 404, "NoSuchNamespaceException")
    # Nested: the parent exists, the child does not.
    assert_error(http.get(f"/v1/namespaces/{ns_path((fx.ns, 'child'))}"), 404, "NoSuchNamespaceException")
    # Rename into a missing namespace.
    assert_error(
        http.post(
            "/v1/tables/rename",
            json={"source": {"namespace": [fx.ns], "name": fx.table}, "destination": {"namespace": [ns], "name": "x"}},
        ),
        404,
        "NoSuchNamespaceException",
    )
    # A table route under a missing namespace answers as the spec lists for the route:
    # NoSuchTableException (Spark's `db.orders.snapshots` metadata tables rely on it).
    assert_error(http.get(table_path(ns, "t")), 404, "NoSuchTableException")
    assert_error(http.delete(table_path(ns, "t")), 404, "NoSuchTableException")


# --------------------------------------------------------------------------------------
# 409: conflicts on create


def test_already_exists(fx, http):
    assert_error(http.post("/v1/namespaces", json={"namespace": [fx.ns]}), 409, "AlreadyExistsException")
    assert_error(
        http.post(f"/v1/namespaces/{ns_path(fx.ns)}/tables", json={"name": fx.table, "schema": SCHEMA_JSON}),
        409,
        "AlreadyExistsException",
    )
    assert_error(
        http.post(
            f"/v1/namespaces/{ns_path(fx.ns)}/register",
            json={"name": fx.table, "metadata-location": fx.load()["metadata-location"]},
        ),
        409,
        "AlreadyExistsException",
    )
    assert_error(http.delete(f"/v1/namespaces/{ns_path(fx.ns)}"), 409, "NamespaceNotEmptyException")


def test_rename_onto_existing_table(http, catalog, unique_name):
    f = Fixture(http, catalog, unique_name("renex")).create()
    r = http.post(f"/v1/namespaces/{ns_path(f.ns)}/tables", json={"name": "other", "schema": SCHEMA_JSON})
    assert r.status_code == 200, r.text
    before = f.state()
    other_before = http.get(table_path(f.ns, "other")).json()["metadata-location"]
    assert_error(
        http.post(
            "/v1/tables/rename",
            json={"source": {"namespace": [f.ns], "name": f.table}, "destination": {"namespace": [f.ns], "name": "other"}},
        ),
        409,
        "AlreadyExistsException",
    )
    assert f.state() == before
    assert http.get(table_path(f.ns, "other")).json()["metadata-location"] == other_before


def test_namespace_properties_conflicting_keys(fx, http):
    r = http.post(
        f"/v1/namespaces/{ns_path(fx.ns)}/properties", json={"removals": ["p"], "updates": {"p": "2"}}
    )
    assert_error(r, 422)


# --------------------------------------------------------------------------------------
# 400: names that could escape a directory


BAD_NAMES = ["a/b", "..", "../escape", "a/../b", "x..y/z"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_table_names(fx, http, warehouse, name):
    outside_before = sorted(p.name for p in warehouse.parent.iterdir())
    ns = ns_path(fx.ns)
    assert_error(http.post(f"/v1/namespaces/{ns}/tables", json={"name": name, "schema": SCHEMA_JSON}), 400)
    assert_error(
        http.post(f"/v1/namespaces/{ns}/tables", json={"name": name, "schema": SCHEMA_JSON, "stage-create": True}),
        400,
    )
    assert_error(
        http.post(
            "/v1/tables/rename",
            json={"source": {"namespace": [fx.ns], "name": fx.table}, "destination": {"namespace": [fx.ns], "name": name}},
        ),
        400,
    )
    assert_error(
        http.post(f"/v1/namespaces/{ns}/register", json={"name": name, "metadata-location": fx.load()["metadata-location"]}),
        400,
    )
    # Nothing appeared next to the warehouse.
    assert sorted(p.name for p in warehouse.parent.iterdir()) == outside_before


@pytest.mark.parametrize("name", ["a/b", "..", "../escape"])
def test_bad_namespace_names(fx, http, warehouse, name):
    outside_before = sorted(p.name for p in warehouse.parent.iterdir())
    assert_error(http.post("/v1/namespaces", json={"namespace": [name]}), 400)
    assert_error(http.post("/v1/namespaces", json={"namespace": [fx.ns, name]}), 400)
    assert sorted(p.name for p in warehouse.parent.iterdir()) == outside_before


def test_empty_namespace_rejected(fx, http):
    # A namespace has at least one level; [] would be the catalog root.
    assert_error(http.post("/v1/namespaces", json={"namespace": []}), 400)
    assert_error(http.post("/v1/namespaces", json={"namespace": [""]}), 400)
    assert_error(http.post("/v1/namespaces", json={"namespace": [fx.ns, ""]}), 400)


# --------------------------------------------------------------------------------------
# 400: table locations outside the warehouse


def outside_locations(warehouse):
    outside = warehouse.parent / f"outside-{uuid.uuid4().hex[:8]}"
    return outside, [
        str(outside),
        f"file://{outside}",
        f"{warehouse}/../{outside.name}",
        f"file://{warehouse}/../{outside.name}",
        "/tmp",
    ]


def test_create_table_location_outside_warehouse(fx, http, warehouse):
    outside, locations = outside_locations(warehouse)
    ns = ns_path(fx.ns)
    for i, loc in enumerate(locations):
        for stage in (False, True):
            r = http.post(
                f"/v1/namespaces/{ns}/tables",
                json={"name": f"outside{i}", "schema": SCHEMA_JSON, "location": loc, "stage-create": stage},
            )
            assert_error(r, 400)
        assert http.head(table_path(fx.ns, f"outside{i}")).status_code == 404
    assert not outside.exists(), f"{outside} was created"


def test_set_location_outside_warehouse(fx, http, warehouse):
    outside, locations = outside_locations(warehouse)
    for loc in locations:
        body = {"requirements": [], "updates": [{"action": "set-location", "location": loc}]}
        assert_error(http.post(fx.path, json=body), 400)
        body = {
            "table-changes": [
                {"identifier": {"namespace": [fx.ns], "name": fx.table}, "requirements": [], "updates": body["updates"]}
            ]
        }
        assert_error(http.post("/v1/transactions/commit", json=body), 400)
    assert not outside.exists()
    # The table still reads its own files.
    loc = location_to_path(fx.load()["metadata"]["location"])
    assert files_under(loc)


# --------------------------------------------------------------------------------------
# Happy-path odds and ends over plain HTTP


def test_config_and_metrics(fx, http):
    r = http.get("/v1/config")
    assert r.status_code == 200, r.text
    cfg = r.json()
    assert isinstance(cfg.get("defaults"), dict) and isinstance(cfg.get("overrides"), dict)
    if cfg.get("endpoints") is not None:
        eps = set(cfg["endpoints"])
        for ep in (
            "POST /v1/{prefix}/transactions/commit",
            "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
            "POST /v1/{prefix}/tables/rename",
            "POST /v1/{prefix}/namespaces/{namespace}/register",
        ):
            assert ep in eps, f"{ep} not advertised in /v1/config endpoints: {sorted(eps)}"

    snap = fx.load()["metadata"]["current-snapshot-id"]
    report = {
        "report-type": "scan-report",
        "table-name": f"{fx.ns}.{fx.table}",
        "snapshot-id": snap,
        "filter": True,
        "schema-id": 0,
        "projected-field-ids": [1, 2],
        "projected-field-names": ["id", "name"],
        "metrics": {"total-planning-duration": {"count": 1, "time-unit": "nanoseconds", "total-duration": 1000}},
    }
    r = http.post(fx.path + "/metrics", json=report)
    assert r.status_code == 204, f"{r.status_code} {r.text[:500]}"
    assert_error(http.post(fx.path + "/metrics", data=b"{oops", headers=JSON), 400)
