"""An s3:// warehouse on the local S3-compatible server (moto, started by scripts/test.sh,
its endpoint in FLOE_TEST_S3_ENDPOINT): pyiceberg creates, appends, overwrites and reads
with only its credentials configured (the endpoint, region and addressing style come from
the catalog's table `config`); DuckDB reads the same table with an S3 secret; a purging
drop empties the table's prefix in the bucket.
"""

from __future__ import annotations

import os
import uuid

import pyarrow as pa
import pytest
import requests

import conftest

KEY_ID = "floe-interop-key"
SECRET = "floe-interop-secret"


@pytest.fixture(scope="module")
def s3_endpoint() -> str:
    endpoint = os.environ.get("FLOE_TEST_S3_ENDPOINT", "").rstrip("/")
    if not endpoint:
        if os.environ.get("FLOE_TEST_REQUIRE_S3"):
            pytest.fail("FLOE_TEST_S3_ENDPOINT is not set but FLOE_TEST_REQUIRE_S3 is")
        pytest.skip("FLOE_TEST_S3_ENDPOINT is not set (scripts/test.sh starts moto)")
    return endpoint


@pytest.fixture(scope="module")
def bucket(s3_endpoint) -> str:
    name = f"interop-{uuid.uuid4().hex[:12]}"
    requests.put(f"{s3_endpoint}/{name}", timeout=10).raise_for_status()
    return name


def objects(s3_endpoint: str, bucket: str, prefix: str) -> list[str]:
    """The keys under `prefix`, listed with pyarrow's own S3 client."""
    from pyarrow import fs

    s3 = fs.S3FileSystem(
        access_key=KEY_ID,
        secret_key=SECRET,
        region="us-east-1",
        endpoint_override=s3_endpoint,
    )
    selector = fs.FileSelector(f"{bucket}/{prefix}", recursive=True, allow_not_found=True)
    return [
        info.path.removeprefix(f"{bucket}/")
        for info in s3.get_file_info(selector)
        if info.type == fs.FileType.File
    ]


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory, s3_endpoint, bucket):
    base = tmp_path_factory.mktemp("floe-s3")
    env = {
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }
    server = conftest._start_server(base, warehouse_url=f"s3://{bucket}/wh", env_extra=env)
    try:
        yield server
    finally:
        conftest._stop_process(server.proc)


def test_pyiceberg_and_duckdb_on_an_s3_warehouse(s3_server, s3_endpoint, bucket):
    from pyiceberg.catalog import load_catalog

    catalog = load_catalog(
        "floe-s3",
        type="rest",
        uri=s3_server.url,
        **{"s3.access-key-id": KEY_ID, "s3.secret-access-key": SECRET},
    )
    catalog.create_namespace("lake")
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string())])
    table = catalog.create_table("lake.people", schema=schema)
    assert table.location().startswith(f"s3://{bucket}/wh/lake/people-"), table.location()
    table.append(pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]}, schema=schema))
    table.append(pa.table({"id": [4], "name": ["d"]}, schema=schema))
    table = catalog.load_table("lake.people")
    assert sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "name": "a"},
        {"id": 2, "name": "b"},
        {"id": 3, "name": "c"},
        {"id": 4, "name": "d"},
    ]
    # The files are in the bucket.
    prefix = table.location().removeprefix(f"s3://{bucket}/")
    keys = objects(s3_endpoint, bucket, prefix)
    assert sum(k.endswith(".parquet") for k in keys) == 2, keys
    assert sum(k.endswith(".metadata.json") for k in keys) == 3, keys

    host = s3_endpoint.removeprefix("http://")
    secret = (
        f"CREATE SECRET floe_s3 (TYPE s3, KEY_ID '{KEY_ID}', SECRET '{SECRET}', REGION 'us-east-1', "
        f"ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false)"
    )
    con = conftest.duckdb_connect(
        s3_server.url,
        attach_options="AUTHORIZATION_TYPE 'none', ACCESS_DELEGATION_MODE 'none'",
        setup=secret,
    )
    try:
        rows = con.execute("SELECT id, name FROM c.lake.people ORDER BY id").fetchall()
    finally:
        con.close()
    assert rows == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]

    # A purging drop deletes everything under the table's location.
    answer = requests.delete(
        f"{s3_server.url}/v1/namespaces/lake/tables/people",
        params={"purgeRequested": "true"},
        timeout=30,
    )
    assert answer.status_code == 204, answer.text
    assert objects(s3_endpoint, bucket, prefix) == []
