"""OAuth2 with real clients against `floe serve --auth FILE`: pyiceberg with
`credential=id:secret` writes and reads; a read-only client reads and is refused a change
(403); a wrong secret is refused (401); DuckDB with CLIENT_ID / CLIENT_SECRET reads the
table through the same token endpoint.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import conftest


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    clients = {"etl": ("", "read-write"), "analyst": ("", "read")}
    server = conftest.start_auth_server(tmp_path_factory.mktemp("floe-auth"), clients)
    try:
        yield server
    finally:
        conftest._stop_process(server.proc)


def catalog(url: str, credential: str):
    from pyiceberg.catalog import load_catalog

    return load_catalog("auth", type="rest", uri=url, credential=credential)


def test_pyiceberg_and_duckdb_with_client_credentials(auth_server, unique_name):
    from pyiceberg.exceptions import ForbiddenError

    url = auth_server.url
    ns = unique_name("auth")
    etl = catalog(url, "etl:etl-secret")
    etl.create_namespace(ns)
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string())])
    rows = lambda ids: pa.Table.from_pylist([{"id": i, "name": str(i)} for i in ids], schema=schema)  # noqa: E731
    table = etl.create_table(f"{ns}.events", schema=schema)
    table.append(rows([1, 2, 3]))

    analyst = catalog(url, "analyst:analyst-secret")
    read = analyst.load_table(f"{ns}.events").scan().to_arrow()
    assert sorted(read["id"].to_pylist()) == [1, 2, 3]
    with pytest.raises(ForbiddenError):
        analyst.create_namespace(f"{ns}_other")
    with pytest.raises(ForbiddenError):
        analyst.load_table(f"{ns}.events").append(rows([4]))
    with pytest.raises(Exception) as refused:
        catalog(url, "analyst:wrong-secret").list_namespaces()
    assert "invalid_client" in str(refused.value) or "401" in str(refused.value), refused.value

    con = conftest.duckdb_connect(
        url,
        attach_options=(
            f"AUTHORIZATION_TYPE 'oauth2', CLIENT_ID 'analyst', CLIENT_SECRET 'analyst-secret', "
            f"OAUTH2_SERVER_URI '{url}/v1/oauth/tokens'"
        ),
    )
    try:
        rows = con.execute(f'SELECT id FROM c."{ns}".events ORDER BY id').fetchall()
        assert rows == [(1,), (2,), (3,)]
    finally:
        con.close()
