"""Hostile input from the contract: schemathesis generates requests (valid and invalid)
from the OpenAPI document the server itself serves at /v1/openapi.json and sends them to
the running server. No request may get a 5xx or go unanswered, every answer's status must
be one the document lists for its operation, the server must stay up, and at least 1,000
requests must have reached it (counted by the server's own /metrics).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import requests


def requests_seen(url: str) -> dict[str, int]:
    """The server's request counters so far, by series (method, route, status)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return {
        series: int(float(value))
        for series, value in (
            line.rsplit(" ", 1) for line in text.splitlines()
            if line.startswith("floe_http_requests_total{")
        )
    }


def test_served_document_describes_the_catalog(floe_url):
    doc = requests.get(f"{floe_url}/v1/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.")
    assert "/v1/namespaces/{namespace}/tables/{table}" in doc["paths"]
    assert "/v1/namespaces/{namespace}/views/{view}" in doc["paths"]
    assert "security" not in doc
    # Nothing it does not serve: no scan planning, no credential vending.
    assert not [p for p in doc["paths"] if "/plan" in p or "/credentials" in p]


@pytest.mark.timeout(900)
def test_generated_requests_get_documented_answers_never_a_server_error(floe_server, floe_url, tmp_path):
    seed = int(os.environ.get("FLOE_FUZZ_SEED", random.randrange(1 << 31)))
    before = requests_seen(floe_url)
    schemathesis = Path(sys.executable).parent / "schemathesis"
    command = [
        str(schemathesis), "run", f"{floe_url}/v1/openapi.json",
        "--url", floe_url,
        "--checks", "not_a_server_error,status_code_conformance",
        "--max-examples", "12",
        "--seed", str(seed),
        "--request-timeout", "20",
        "--workers", "1",
        "--generation-database", "none",
        "--suppress-health-check", "all",
        "--no-color",
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=840)
    summary = run.stdout[-6000:]
    assert run.returncode == 0, f"schemathesis failed (seed {seed}):\n{summary}\n{run.stderr[-2000:]}"
    after = requests_seen(floe_url)
    grew = {k: v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)}
    server_errors = {k: v for k, v in grew.items() if 'status="5' in k}
    assert server_errors == {}, f"seed {seed}: {server_errors}"
    sent = sum(grew.values())
    assert sent >= 1000, f"only {sent} requests (seed {seed}):\n{summary}"
    assert floe_server.proc.poll() is None, "the server exited"
    assert requests.get(f"{floe_url}/health", timeout=10).json() == {"status": "ok"}
    print(f"schemathesis seed {seed}: {sent} requests, no 5xx")
