#!/usr/bin/env python3
"""Writes rest-catalog/openapi.json, the OpenAPI document `floe serve` serves at
GET /v1/openapi.json: the Apache Iceberg REST catalog document (Apache License 2.0), cut
down to what Floe implements.

- Only the operations of the route table `ROUTES` (rest-catalog/src/http/routes.rs) are
  kept: its Iceberg routes, `GET /v1/config` and the token endpoint; Floe serves no
  `{prefix}`, so paths lose it.
- No security requirements: authentication is off in Floe's default. The security
  schemes and the token endpoint are kept; with `--auth`, the server adds the requirements
  (and keeps the token endpoint) when it serves the document, and drops both otherwise.
- The operator endpoints (`/health`, `/ready`, `/metrics`, `/v1/openapi.json`) are added.
- Operations that take an Idempotency-Key list the 409 (a request with the key still
  running) and 422 (the key used for another request) that Floe answers.

Run it again after changing ROUTES (needs PyYAML, e.g. the interop venv):

    ~/.cache/floe/venv/bin/python scripts/openapi.py [path/to/iceberg-rest-catalog-open-api.yaml]

The default input is ../shared/spec/iceberg-rest-catalog-open-api.yaml beside the project.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT.parent / "shared" / "spec" / "iceberg-rest-catalog-open-api.yaml"
ROUTES_SOURCE = ROOT / "rest-catalog" / "src" / "http" / "routes.rs"
OUTPUT = ROOT / "rest-catalog" / "openapi.json"
PREFIX_REF = "#/components/parameters/prefix"


def implemented() -> dict[tuple[str, str], bool]:
    """(method, path in the Iceberg document) of each route of ROUTES but the operator
    endpoints, which `operator_paths` adds, and whether it takes an Idempotency-Key. The
    Iceberg routes are under `/v1/{prefix}`; the token endpoint is served only with
    authentication on (the server drops it from the document otherwise)."""
    text = ROUTES_SOURCE.read_text()
    block = text[text.index("pub(crate) const ROUTES") :]
    block = block[: block.index("];")]
    # `route(METHOD, "path", Mount, ...)`, or `once(METHOD, "path", ...)`: an Iceberg route
    # that takes an Idempotency-Key.
    routes = re.findall(
        r'\b(route|once)\(\s*Method::(GET|POST|HEAD|DELETE),\s*"([^"]+)",\s*(\w+)', block
    )
    if not routes:
        sys.exit(f"no routes found in {ROUTES_SOURCE}")
    operator = operator_paths()
    pairs = {}
    for kind, method, path, mount in routes:
        if kind == "once":
            mount = "Iceberg"
        if path in operator:
            continue
        if mount == "Iceberg":
            path = path.replace("/v1", "/v1/{prefix}", 1)
        pairs[(method.lower(), path)] = kind == "once"
    return pairs


def operator_paths() -> dict:
    def op(summary: str, content_type: str, schema: dict) -> dict:
        return {
            "get": {
                "tags": ["Operations"],
                "summary": summary,
                "responses": {"200": {"description": "OK", "content": {content_type: {"schema": schema}}}},
            }
        }

    status = {"type": "object", "properties": {"status": {"type": "string"}}}
    paths = {
        "/health": op("The process is up", "application/json", status),
        "/ready": op("Store, warehouse and ZooKeeper are reachable", "application/json", status),
        "/metrics": op("Prometheus metrics", "text/plain", {"type": "string"}),
        "/v1/openapi.json": op("This document", "application/json", {"type": "object"}),
    }
    paths["/ready"]["get"]["responses"]["503"] = {
        "description": "Not ready: the store, the warehouse or ZooKeeper cannot be reached",
        "content": {"application/json": {"schema": status}},
    }
    return paths


IDEMPOTENCY_REF = "#/components/parameters/idempotency-key"
# Answers of a request with an Idempotency-Key that the Iceberg document does not list for
# every such operation: Floe documents what it answers.
IDEMPOTENCY_ANSWERS = {
    "409": "Conflict - IdempotencyKeyInFlightException: a request with the same "
    "Idempotency-Key is still running; retry later",
    "422": "Unprocessable Entity - UnprocessableEntityException: the Idempotency-Key was "
    "used for another request (method, path, query or body); send a new key",
}


def add_idempotency_answers(operation: dict, once: bool) -> None:
    """Lists the Idempotency-Key of an operation that takes one (the Iceberg document
    does not list it for every operation Floe answers once: create view), and the 409 and
    422 that Floe answers."""
    if not once:
        return
    params = operation.setdefault("parameters", [])
    if not any(p.get("$ref") == IDEMPOTENCY_REF for p in params):
        params.append({"$ref": IDEMPOTENCY_REF})
    for status, description in IDEMPOTENCY_ANSWERS.items():
        operation["responses"].setdefault(
            status,
            {
                "description": description,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/IcebergErrorResponse"}
                    }
                },
            },
        )


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SPEC
    spec = yaml.safe_load(source.read_text())
    wanted = implemented()
    paths = {}
    for path, item in spec["paths"].items():
        served = path.replace("/{prefix}", "")
        keep = {}
        for key, value in item.items():
            if key == "parameters":
                params = [p for p in value if p.get("$ref") != PREFIX_REF]
                if params:
                    keep[key] = params
            elif (key, path) in wanted:
                value = dict(value)
                value.pop("security", None)
                value["responses"] = dict(value["responses"])
                add_idempotency_answers(value, wanted[(key, path)])
                keep[key] = value
        if any(k != "parameters" for k in keep):
            paths[served] = keep
    found = {(m, p) for p, item in spec["paths"].items() for m in item if (m, p) in wanted}
    missing = set(wanted) - found
    if missing:
        sys.exit(f"ROUTES has operations the spec does not have: {sorted(missing)}")
    paths.update(operator_paths())
    spec["paths"] = paths
    spec.pop("security", None)
    spec["components"]["parameters"].pop("prefix", None)
    spec["servers"] = [{"url": "/", "description": "the Floe node that serves this document"}]
    info = spec["info"]
    info["title"] = "Floe: Apache Iceberg REST Catalog API"
    info["description"] = (
        "The Apache Iceberg REST catalog OpenAPI document (Apache License 2.0), cut down to "
        "the operations Floe implements, without a {prefix}, plus Floe's operator endpoints; "
        "security requirements and the token endpoint only when authentication is on. "
        "Generated by scripts/openapi.py; do not edit by hand."
    )
    OUTPUT.write_text(json.dumps(spec, indent=1, sort_keys=False) + "\n")
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(paths)} paths")


if __name__ == "__main__":
    main()
