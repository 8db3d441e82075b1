"""The table health pages of a live `floe serve`, loaded in headless Chromium (Debian's
chromium-headless-shell, installed by scripts/chromium.sh): `/ui` lists an upsert table
(several checkpoints, each with a watermark) and a compacted one with the figures their
metadata and manifests give (pyiceberg reads the live files), and each table's page draws
its four SVG charts with as many points and bars as its history has. Screenshots of each
page are saved under the test's output ($FLOE_TEST_OUTPUT when set, else pytest's
tmp_path). A table with thousands of snapshots renders quickly, its lines down-sampled.

With `--auth`: the login form and the redirect to it are checked in Chromium; the logged-in
pages with `requests` (Chromium's --dump-dom cannot post a form nor take a cookie), which
logs in through the form's POST and keeps the cookie: a wrong secret gets the form again
with 401, the right one sees only the namespaces its grants cover and 403 elsewhere.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

import conftest
from interop_util import location_to_path
from test_upsert_duckdb import floe_upsert, run_floe, write_parquet

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
WINDOW = "1440,1500"


def chromium_binary() -> str:
    found = os.environ.get("FLOE_CHROMIUM") or shutil.which("chromium-headless-shell")
    if not found:
        pytest.fail("chromium-headless-shell is missing: run scripts/chromium.sh install")
    return found


def chromium(url: str, *args: str) -> str:
    """Runs headless Chromium on `url` with `args`; its standard output."""
    profile = conftest.scratch_dir("floe-chromium-")
    cmd = [
        chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--no-first-run", f"--user-data-dir={profile}", *args, url,
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr[-3000:]}"
    return r.stdout


def dump_dom(url: str) -> "Dom":
    return Dom(chromium(url, "--dump-dom"))


def screenshot(url: str, path: Path, window: str = WINDOW) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    chromium(url, f"--screenshot={path}", f"--window-size={window}")
    assert path.stat().st_size > 10_000, f"{path} looks empty"
    return path


@pytest.fixture
def output_dir(tmp_path) -> Path:
    base = os.environ.get("FLOE_TEST_OUTPUT")
    out = Path(base) / "ui" if base else tmp_path / "ui"
    out.mkdir(parents=True, exist_ok=True)
    return out


class Dom(HTMLParser):
    """The elements of a page: (the id of the chart figure around it or None, tag,
    attributes), in document order, and its text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.html = html
        self.elements: list[tuple[str | None, str, dict]] = []
        self.text: list[str] = []
        self._chart: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure" and attrs.get("id", "").startswith("chart-"):
            self._chart = attrs["id"][len("chart-"):]
        self.elements.append((self._chart, tag, attrs))

    def handle_endtag(self, tag):
        if tag == "figure":
            self._chart = None

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, chart: str | None = None, **attrs) -> list[dict]:
        def match(a: dict) -> bool:
            return all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())

        return [a for c, t, a in self.elements if t == tag and (chart is None or c == chart) and match(a)]

    def by_id(self, id_: str) -> dict:
        found = [a for _, _, a in self.elements if a.get("id") == id_]
        assert len(found) == 1, f"{len(found)} elements with id {id_}"
        return found[0]

    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


# --------------------------------------------------------------------------------------
# Tables to look at

CHECKPOINTS = 5


def make_tables(url: str, ns: str, tmp_path: Path) -> dict:
    """An upsert table of CHECKPOINTS checkpoints, each with a watermark a few minutes
    behind, and the same table compacted afterwards."""
    ts = dt.datetime(2024, 5, 6, 7, 8, 9)
    now_ms = int(time.time() * 1000)
    for name in ("events", "compacted"):
        for c in range(CHECKPOINTS):
            # Each checkpoint inserts new keys and updates older ones: equality deletes.
            rows = [("+I", 100 * c + i, f"n{c}-{i}", i, ts) for i in range(40)]
            rows += [("+U", i, f"u{c}-{i}", c, ts) for i in range(0, 20 * c, 3)]
            path = write_parquet(tmp_path / f"{name}-{c}.parquet", rows)
            extra = ["--create", "--key", "id", "--buckets", "4"] if c == 0 else []
            watermark = now_ms - (CHECKPOINTS - c) * 7 * 60_000
            floe_upsert(url, f"{ns}.{name}", [path], *extra, "--watermark", str(watermark))
    run_floe("compact", "--catalog", url, "--table", f"{ns}.compacted")
    return {"events": f"{ns}.events", "compacted": f"{ns}.compacted"}


def metadata_of(http, ns: str, name: str) -> dict:
    r = http.get(f"/v1/namespaces/{ns}/tables/{name}")
    assert r.status_code == 200, r.text
    return r.json()


def live_files(url: str, table: str) -> dict:
    """What pyiceberg reads of the current snapshot's live files."""
    files = conftest.make_catalog(url).load_table(table).inspect.files().to_pylist()
    data = [f["file_size_in_bytes"] for f in files if f["content"] == 0]
    return {
        "data-files": len(data),
        "data-bytes": sum(data),
        "position-deletes": sum(1 for f in files if f["content"] == 1),
        "equality-deletes": sum(1 for f in files if f["content"] == 2),
    }


def chart_points(dom: Dom, chart: str, series: str) -> int:
    lines = dom.find("polyline", chart=chart, data_series=series)
    assert len(lines) == 1, f"{chart}/{series}: {len(lines)} lines"
    points = lines[0]["points"].split()
    assert len(points) == int(lines[0]["data-points"])
    return len(points)


def bar_counts(dom: Dom, chart: str) -> list[int]:
    return [int(b["data-count"]) for b in dom.find("rect", chart=chart) if "data-count" in b]


# --------------------------------------------------------------------------------------
# Without authentication


def test_pages_show_live_figures_and_history_charts(floe_url, http, unique_name, tmp_path, output_dir):
    ns = unique_name("ui")
    tables = make_tables(floe_url, ns, tmp_path)

    listing = dump_dom(f"{floe_url}/ui")
    rows = {r["data-table"]: r for r in listing.find("tr") if "data-table" in r}
    for short, table in tables.items():
        assert table in rows, f"{table} not listed: {sorted(rows)}"
        row = rows[table]
        live = live_files(floe_url, table)
        meta = metadata_of(http, ns, short)
        summary = next(s for s in meta["metadata"]["snapshots"]
                       if s["snapshot-id"] == meta["metadata"]["current-snapshot-id"])["summary"]
        for key in ("data-files", "data-bytes", "equality-deletes", "position-deletes"):
            assert int(row[f"data-{key}"]) == live[key], f"{table} {key}: {row} vs {live}"
        assert int(row["data-data-files"]) == int(summary["total-data-files"])
        assert int(row["data-snapshots"]) == len(meta["metadata"]["snapshots"])
    events, compacted = rows[tables["events"]], rows[tables["compacted"]]
    assert int(events["data-equality-deletes"]) > 0, "updates wrote equality deletes"
    assert int(compacted["data-equality-deletes"]) == 0, "compaction applied them"
    assert int(compacted["data-snapshots"]) > CHECKPOINTS, "the compaction's replace snapshots"
    text = listing.all_text()
    assert "Last compaction (UTC)" in text
    screenshot(f"{floe_url}/ui", output_dir / "ui-tables.png", "1440,700")

    for short, table in tables.items():
        meta = metadata_of(http, ns, short)["metadata"]
        snapshots = meta["snapshots"]
        with_watermark = [s for s in snapshots if "floe.watermark" in s["summary"]]
        url = f"{floe_url}/ui/{ns}/{short}"
        page = dump_dom(url)
        figures = page.by_id("figures")
        live = live_files(floe_url, table)
        assert int(figures["data-data-files"]) == live["data-files"]
        assert int(figures["data-snapshots"]) == len(snapshots)
        assert page.find("h1", id="table-name"), "the title"
        # One point per snapshot (no other branch), one bar per power of two of sizes.
        assert chart_points(page, "files", "data files") == len(snapshots)
        assert chart_points(page, "files", "delete files") == len(snapshots)
        assert sum(bar_counts(page, "sizes")) == live["data-files"]
        assert sum(bar_counts(page, "commits")) == len(snapshots)
        assert chart_points(page, "lag", "lag") == len(with_watermark) >= CHECKPOINTS
        text = page.all_text()
        for words in ("time (UTC)", "live files", "data files", "commits", "hour (UTC)", "lag (min)",
                      "file size (bin's lower bound, bytes)", "bucket[4](id) as id_bucket"):
            assert words in text, f"{table}: {words!r} missing"
        assert len(page.find("tr", chart=None)) >= len(snapshots), "recent snapshots listed"
        if short == "compacted":
            assert "floe compaction" in text, "the compactor's snapshots are named"
        screenshot(url, output_dir / f"ui-table-{short}.png")


def test_missing_tables_and_bad_names_get_error_pages(floe_url, http, unique_name):
    ns = unique_name("uierr")
    assert http.post("/v1/namespaces", json={"namespace": [ns]}).status_code == 200
    cases = [(f"/ui/{ns}/missing", 404, "table does not exist"), (f"/ui/{ns}%1F/t", 400, "invalid namespace name")]
    for path, status, says in cases:
        r = http.get(path)
        assert r.status_code == status, r.text
        assert says in dump_dom(floe_url + path).all_text(), path


def test_thousands_of_snapshots_render_quickly(floe_url, http, unique_name, tmp_path, warehouse):
    """A table whose history holds 5,000 snapshots (made by extending a real table's
    metadata; they share its current manifest list) renders in well under a second once
    its metadata is cached, its lines down-sampled to at most 400 points."""
    ns = unique_name("uimany")
    url = floe_url
    make_tables_small(url, ns, tmp_path)
    loaded = metadata_of(http, ns, "t")
    meta = loaded["metadata"]
    current = next(s for s in meta["snapshots"] if s["snapshot-id"] == meta["current-snapshot-id"])
    extra = 5000
    step = 3 * 60_000  # a commit every three minutes: 250 hours
    start = int(time.time() * 1000) - extra * step
    parent, seq = current["snapshot-id"], meta["last-sequence-number"]
    for i in range(extra):
        snapshot_id = 10_000_000 + i
        t = start + i * step
        meta["snapshots"].append({
            "snapshot-id": snapshot_id, "parent-snapshot-id": parent, "sequence-number": seq + 1 + i,
            "timestamp-ms": t, "manifest-list": current["manifest-list"], "schema-id": current.get("schema-id", 0),
            "summary": {"operation": "append", "total-data-files": str(i % 50), "total-delete-files": str(i % 7),
                        "floe.watermark": str(t - (i % 30) * 1000)},
        })
        parent = snapshot_id
    meta["current-snapshot-id"] = parent
    meta["refs"] = {"main": {"snapshot-id": parent, "type": "branch"}}
    meta["last-sequence-number"] = seq + extra
    meta["last-updated-ms"] = start + extra * step
    meta["snapshot-log"] = []
    meta["table-uuid"] = str(uuid.uuid4())
    # A sibling of the table's location, written as the catalog writes locations.
    meta["location"] = meta["location"].rstrip("/").rsplit("/", 1)[0] + f"/many-{uuid.uuid4().hex[:8]}"
    metadata_location = meta["location"] + "/metadata/00000-many.metadata.json"
    metadata_file = location_to_path(metadata_location)
    metadata_file.parent.mkdir(parents=True)
    metadata_file.write_text(json.dumps(meta))
    r = http.post(f"/v1/namespaces/{ns}/register", json={"name": "many", "metadata-location": metadata_location})
    assert r.status_code == 200, r.text

    timings = []
    for _ in range(3):
        began = time.monotonic()
        r = requests.get(f"{url}/ui/{ns}/many", timeout=60)
        timings.append(time.monotonic() - began)
        assert r.status_code == 200, r.text[:2000]
    print(f"table page with {len(meta['snapshots'])} snapshots: first {timings[0]:.3f}s, then {timings[1]:.3f}s, {timings[2]:.3f}s")
    assert min(timings[1:]) < 1.0, timings
    page = Dom(r.text)
    for series in ("data files", "delete files"):
        assert 100 < chart_points(page, "files", series) <= 400
    assert 100 < chart_points(page, "lag", "lag") <= 400
    assert len(bar_counts(page, "commits")) == 168, "the last week, hour by hour"
    assert page.by_id("figures")["data-snapshots"] == str(len(meta["snapshots"]))


def make_tables_small(url: str, ns: str, tmp_path: Path) -> None:
    ts = dt.datetime(2024, 5, 6, 7, 8, 9)
    paths = [write_parquet(tmp_path / f"s{c}.parquet", [("+I", c * 10 + i, "x", i, ts) for i in range(10)])
             for c in range(2)]
    floe_upsert(url, f"{ns}.t", paths, "--create", "--key", "id", "--buckets", "2")


# --------------------------------------------------------------------------------------
# With authentication


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    clients = {"etl": ("", "read-write"), "seller": ("sales", "read")}
    server = conftest.start_auth_server(tmp_path_factory.mktemp("floe-ui-auth"), clients, token_ttl_secs=900)
    try:
        yield server
    finally:
        conftest._stop_process(server.proc)


def test_login_shows_only_granted_namespaces(auth_server, output_dir):
    from pyiceberg.catalog import load_catalog
    import pyarrow as pa

    url = auth_server.url
    etl = load_catalog("ui-auth", type="rest", uri=url, credential="etl:etl-secret")
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False)])
    for ns in ("sales", "hr"):
        etl.create_namespace(ns)
        etl.create_table(f"{ns}.t", schema=schema).append(pa.Table.from_pylist([{"id": 1}], schema=schema))

    # In Chromium: /ui without a cookie lands on the login form.
    form = dump_dom(f"{url}/ui")
    assert form.find("input", name="client_id") and form.find("input", name="client_secret", type="password")
    assert form.find("form", action="/ui/login", method="post")
    screenshot(f"{url}/ui", output_dir / "ui-login.png", "900,500")

    s = requests.Session()
    first = s.get(f"{url}/ui", allow_redirects=False, timeout=30)
    assert first.status_code == 303 and first.headers["location"] == "/ui/login"
    wrong = s.post(f"{url}/ui/login", data={"client_id": "seller", "client_secret": "nope"}, allow_redirects=False)
    assert wrong.status_code == 401, wrong.text
    assert "Wrong client id or secret." in wrong.text and "set-cookie" not in wrong.headers
    right = s.post(f"{url}/ui/login", data={"client_id": "seller", "client_secret": "seller-secret"},
                   allow_redirects=False)
    assert right.status_code == 303, right.text
    cookie = right.headers["set-cookie"]
    for part in ("floe_ui_token=", "HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=900"):
        assert part in cookie, cookie
    listing = Dom(s.get(f"{url}/ui", timeout=30).text)
    assert [r["data-table"] for r in listing.find("tr") if "data-table" in r] == ["sales.t"]
    assert "signed in as seller" in listing.all_text()
    assert s.get(f"{url}/ui/sales/t", timeout=30).status_code == 200
    refused = s.get(f"{url}/ui/hr/t", timeout=30)
    assert refused.status_code == 403 and "seller may not read namespace hr" in refused.text
    out = s.post(f"{url}/ui/logout", allow_redirects=False, timeout=30)
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
    assert s.get(f"{url}/ui", allow_redirects=False, timeout=30).status_code == 303
