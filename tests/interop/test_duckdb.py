"""DuckDB 1.5 iceberg extension against floe: ATTACH, CREATE SCHEMA, CREATE TABLE
(stage-create + assert-create commit), INSERT/UPDATE/DELETE (position deletes committed
through /v1/transactions/commit), multi-table transactions, ROLLBACK and DROP."""

from __future__ import annotations

from interop_util import duckdb_rows, files_under, location_to_path, table_path, wait_until


def load_metadata(http, ns, name) -> dict:
    resp = http.get(table_path(ns, name))
    assert resp.status_code == 200, f"GET {table_path(ns, name)} -> {resp.status_code} {resp.text[:500]}"
    return resp.json()


def current_snapshot(meta: dict) -> dict | None:
    md = meta["metadata"]
    sid = md.get("current-snapshot-id")
    if sid is None or sid == -1:
        return None
    matches = [s for s in md.get("snapshots", []) if s["snapshot-id"] == sid]
    assert len(matches) == 1, f"current snapshot {sid} not in snapshots"
    return matches[0]


def test_duckdb_create_insert_update_delete(duck, duck_factory, http, unique_name):
    ns = unique_name("duck")
    t = f"c.{ns}.items"
    duck.execute(f"CREATE SCHEMA c.{ns}")
    duck.execute(f"CREATE TABLE {t} (id BIGINT, name VARCHAR, value DOUBLE)")

    # The table exists in the catalog as an empty v2 table right after CREATE TABLE.
    meta = load_metadata(http, ns, "items")
    assert meta["metadata"]["format-version"] == 2
    md = meta["metadata"]
    (schema,) = [s for s in md["schemas"] if s["schema-id"] == md["current-schema-id"]]
    assert [f["name"] for f in schema["fields"]] == ["id", "name", "value"]
    assert current_snapshot(meta) is None
    assert duck.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 0

    duck.execute(
        f"INSERT INTO {t} VALUES (1, 'one', 1.0), (2, 'two', 2.0), (3, 'three', 3.0), "
        "(4, 'four', 4.0), (5, NULL, NULL)"
    )
    duck.execute(f"INSERT INTO {t} SELECT i, 'gen' || i, i / 2 FROM range(10, 20) r(i)")
    duck.execute(f"UPDATE {t} SET value = value * 100, name = upper(name) WHERE id IN (2, 3, 11)")
    duck.execute(f"DELETE FROM {t} WHERE id = 4 OR id >= 15")

    expected = sorted(
        [(1, "one", 1.0), (2, "TWO", 200.0), (3, "THREE", 300.0), (5, None, None)]
        + [(i, f"gen{i}", i / 2) for i in range(10, 15) if i != 11]
        + [(11, "GEN11", 550.0)]
    )
    cols = ["id", "name", "value"]
    assert sorted(duckdb_rows(duck, t, cols)) == expected

    # A fresh connection (new ATTACH, nothing cached) sees the committed state.
    other = duck_factory()
    assert sorted(duckdb_rows(other, t, cols)) == expected

    # The catalog recorded the DELETE as a snapshot with position deletes.
    meta = load_metadata(http, ns, "items")
    snap = current_snapshot(meta)
    assert snap is not None
    assert snap["summary"]["operation"] in ("delete", "overwrite")
    assert int(snap["summary"].get("total-position-deletes", "0")) > 0
    assert int(snap["summary"].get("total-records", "0")) - int(snap["summary"]["total-position-deletes"]) == len(expected)
    # Each commit made one snapshot on main: 2 inserts, 1 update, 1 delete.
    assert len(meta["metadata"]["snapshots"]) == 4
    assert meta["metadata"]["refs"]["main"]["snapshot-id"] == snap["snapshot-id"]

    # Purge removes everything DuckDB wrote: data, position deletes, manifests, metadata.
    location = location_to_path(meta["metadata"]["location"])
    written = files_under(location)
    assert any(p.name.endswith(".parquet") for p in written)
    assert any(p.name.endswith(".avro") for p in written)
    r = http.delete(table_path(ns, "items"), params={"purgeRequested": "true"})
    assert r.status_code == 204, f"{r.status_code} {r.text[:500]}"
    assert http.get(table_path(ns, "items")).status_code == 404
    assert wait_until(lambda: not files_under(location), timeout=10), (
        f"files left after purge: {[str(p) for p in files_under(location)][:5]}"
    )


def test_duckdb_multi_table_transaction_and_rollback(duck, duck_factory, http, unique_name):
    ns = unique_name("ducktx")
    duck.execute(f"CREATE SCHEMA c.{ns}")
    duck.execute(f"CREATE TABLE c.{ns}.a (id BIGINT, s VARCHAR)")
    duck.execute(f"CREATE TABLE c.{ns}.b (id BIGINT, s VARCHAR)")
    duck.execute(f"INSERT INTO c.{ns}.a VALUES (0, 'seed')")

    # One DuckDB transaction touching two tables is one /v1/transactions/commit call.
    duck.execute("BEGIN")
    duck.execute(f"INSERT INTO c.{ns}.a VALUES (1, 'a1'), (2, 'a2')")
    duck.execute(f"INSERT INTO c.{ns}.b VALUES (10, 'b10')")
    duck.execute(f"DELETE FROM c.{ns}.a WHERE id = 0")
    duck.execute("COMMIT")

    other = duck_factory()
    assert sorted(duckdb_rows(other, f"c.{ns}.a", ["id", "s"])) == [(1, "a1"), (2, "a2")]
    assert sorted(duckdb_rows(other, f"c.{ns}.b", ["id", "s"])) == [(10, "b10")]

    # A rolled-back transaction changes nothing in the catalog.
    before_a = load_metadata(http, ns, "a")["metadata-location"]
    before_b = load_metadata(http, ns, "b")["metadata-location"]
    duck.execute("BEGIN")
    duck.execute(f"INSERT INTO c.{ns}.a VALUES (3, 'a3')")
    duck.execute(f"UPDATE c.{ns}.b SET s = 'changed'")
    duck.execute("ROLLBACK")
    assert load_metadata(http, ns, "a")["metadata-location"] == before_a
    assert load_metadata(http, ns, "b")["metadata-location"] == before_b
    assert sorted(duckdb_rows(duck, f"c.{ns}.a", ["id", "s"])) == [(1, "a1"), (2, "a2")]
    assert sorted(duckdb_rows(duck, f"c.{ns}.b", ["id", "s"])) == [(10, "b10")]


def test_duckdb_listing_and_drop(duck, duck_factory, http, unique_name):
    ns = unique_name("duckdrop")
    duck.execute(f"CREATE SCHEMA c.{ns}")
    duck.execute(f"CREATE TABLE c.{ns}.keep (id BIGINT)")
    duck.execute(f"CREATE TABLE c.{ns}.gone (id BIGINT)")
    duck.execute(f"INSERT INTO c.{ns}.gone VALUES (1)")

    tables = duck.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'c' AND table_schema = ? "
        "ORDER BY table_name",
        [ns],
    ).fetchall()
    assert tables == [("gone",), ("keep",)]
    schemas = {r[0] for r in duck.execute("SELECT schema_name FROM information_schema.schemata WHERE catalog_name = 'c'").fetchall()}
    assert ns in schemas

    duck.execute(f"DROP TABLE c.{ns}.gone")
    resp = http.get(f"/v1/namespaces/{ns}/tables")
    assert resp.status_code == 200, resp.text
    assert [t["name"] for t in resp.json()["identifiers"]] == ["keep"]
    assert http.get(table_path(ns, "gone")).status_code == 404

    other = duck_factory()
    tables = other.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'c' AND table_schema = ?", [ns]
    ).fetchall()
    assert tables == [("keep",)]

    duck.execute(f"DROP TABLE c.{ns}.keep")
    duck.execute(f"DROP SCHEMA c.{ns}")
    assert http.head(f"/v1/namespaces/{ns}").status_code == 404


def test_duckdb_create_table_as_select(duck, duck_factory, http, unique_name):
    """CREATE TABLE ... AS SELECT: the stage-create, the table's first data files and
    manifests, and the assert-create commit all happen in one DuckDB transaction, so
    DuckDB writes under the staged location before the catalog wrote anything there
    (on a local warehouse its manifest writer does not create directories)."""
    ns = unique_name("duckctas")
    duck.execute(f"CREATE SCHEMA c.{ns}")
    duck.execute(f"CREATE TABLE c.{ns}.t AS SELECT i AS id, 'r' || i AS s FROM range(5) r(i)")
    expected = [(i, f"r{i}") for i in range(5)]
    assert sorted(duckdb_rows(duck_factory(), f"c.{ns}.t", ["id", "s"])) == expected
    meta = load_metadata(http, ns, "t")
    assert current_snapshot(meta) is not None


def test_duckdb_concurrent_writers_conflict(duck, duck_factory, http, unique_name):
    """Two DuckDB sessions write the same table: the one that commits second was based on
    a stale snapshot, so the catalog refuses it (409 CommitFailedException, which DuckDB
    surfaces as a failed COMMIT) and nothing of it becomes visible."""
    import duckdb
    import pytest

    ns = unique_name("duckconf")
    t = f"c.{ns}.t"
    duck.execute(f"CREATE SCHEMA c.{ns}")
    duck.execute(f"CREATE TABLE {t} (id BIGINT)")
    duck.execute(f"INSERT INTO {t} VALUES (0)")
    other = duck_factory()
    assert other.execute(f"SELECT id FROM {t}").fetchall() == [(0,)]

    duck.execute("BEGIN")
    duck.execute(f"INSERT INTO {t} VALUES (1)")
    other.execute(f"INSERT INTO {t} VALUES (2)")  # autocommit: wins
    winner = load_metadata(http, ns, "t")["metadata-location"]
    with pytest.raises(duckdb.Error, match="(?i)conflict|409|CommitFailed"):
        duck.execute("COMMIT")
    assert load_metadata(http, ns, "t")["metadata-location"] == winner
    assert sorted(duckdb_rows(duck_factory(), t, ["id"])) == [(0,), (2,)]

    # Same for a DELETE racing another DELETE.
    duck2 = duck_factory()
    duck2.execute("BEGIN")
    duck2.execute(f"DELETE FROM {t} WHERE id = 0")
    other.execute(f"DELETE FROM {t} WHERE id = 2")
    with pytest.raises(duckdb.Error, match="(?i)conflict|409|CommitFailed"):
        duck2.execute("COMMIT")
    assert sorted(duckdb_rows(duck_factory(), t, ["id"])) == [(0,)]
