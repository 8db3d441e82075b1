"""The `floe` Python package against `floe serve --auth FILE` with 2-second tokens: an
`UpsertWriter` whose `credential="@FILE"` is read from a file commits checkpoints for
longer than a token lasts (the package's client refreshes it), `floe.table_info` reads
with the same file, and a missing file raises InputError naming the file, not the secret.
"""

from __future__ import annotations

import time

import pyarrow as pa
import pytest

import conftest
import floe

pytestmark = pytest.mark.package


@pytest.fixture(scope="module")
def short_tokens(tmp_path_factory):
    base = tmp_path_factory.mktemp("floe-short-tokens")
    server = conftest.start_auth_server(base, {"etl": ("", "read-write")}, token_ttl_secs=2)
    try:
        yield server, base
    finally:
        conftest._stop_process(server.proc)


def test_credential_file_and_refresh_over_a_long_job(short_tokens, unique_name):
    server, base = short_tokens
    credential_file = base / "credential"
    credential_file.write_text("etl:etl-secret\n")
    credential = f"@{credential_file}"
    table = f"{unique_name('auth')}.long"
    started = time.monotonic()
    with floe.UpsertWriter(catalog=server.url, table=table, writer_id="long", key=["id"],
                           buckets=2, create=True, credential=credential) as w:
        for checkpoint in range(1, 5):
            time.sleep(1.1)
            w.write(pa.table({"id": pa.array([checkpoint, 100 + checkpoint], pa.int64()),
                              "name": [f"c{checkpoint}", "x"]}))
            result = w.commit(checkpoint_id=checkpoint)
            assert result is not None and result.rows == 2
    assert time.monotonic() - started > 4.4  # more than two token lifetimes
    info = floe.table_info(server.url, table, credential=credential)
    assert len(info["snapshots"]) == 4, info

    missing = base / "missing-credential"
    with pytest.raises(floe.InputError) as refused:
        floe.table_info(server.url, table, credential=f"@{missing}")
    assert f"cannot read the credential from {missing}" in str(refused.value)
    assert "etl-secret" not in str(refused.value)
