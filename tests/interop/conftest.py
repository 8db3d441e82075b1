"""Fixtures for the Floe interop suite.

One `floe serve` process is started per test session, on a free loopback port, with a
temporary warehouse and data directory; every test uses its own namespace names so they can
share it. Clients: pyiceberg's RestCatalog, DuckDB's iceberg extension (loaded offline from
the duckdb-extension-* packages) and plain HTTP (requests).

Environment:
  FLOE_BIN                 the floe binary (default: $CARGO_TARGET_DIR/debug/floe, else
                           target/debug/floe under the repository root)
  FLOE_SERVE_EXTRA_ARGS    extra `floe serve` arguments (the test script runs the suite once
                           more with a ZooKeeper store this way)
  FLOE_STARTUP_TIMEOUT     seconds to wait for the "listening" line (default 60)
"""

from __future__ import annotations

import atexit
import glob
import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Keep the user's ~/.pyiceberg.yaml (if any) out of the tests: pyiceberg merges it into
# load_catalog()'s properties.
def scratch_dir(prefix: str) -> str:
    """A temporary directory that is removed when the test process exits."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


os.environ["PYICEBERG_HOME"] = scratch_dir("floe-interop-pyiceberg-home-")

REPO_ROOT = Path(__file__).resolve().parents[2]
LISTENING_RE = re.compile(r"floe listening on (http://127\.0\.0\.1:(\d+))\s*$")

sys.path.insert(0, str(Path(__file__).resolve().parent))


def floe_binary() -> Path:
    if os.environ.get("FLOE_BIN"):
        return Path(os.environ["FLOE_BIN"])
    target = os.environ.get("CARGO_TARGET_DIR")
    target_dir = Path(target) if target else REPO_ROOT / "target"
    if not target_dir.is_absolute():
        target_dir = REPO_ROOT / target_dir
    return target_dir / "debug" / "floe"


@dataclass
class FloeServer:
    url: str
    port: int
    warehouse: Path
    data_dir: Path
    proc: subprocess.Popen
    log_path: Path
    stdout_lines: list = field(default_factory=list)

    def log_tail(self, start: int = 0, max_chars: int = 6000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                data = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        if len(data) > max_chars:
            data = "...\n" + data[-max_chars:]
        return data

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0


_SERVER: FloeServer | None = None


class ServerStartError(RuntimeError):
    pass


def _start_server(
    base: Path,
    reuse: bool = False,
    extra_args: list | None = None,
    warehouse_url: str | None = None,
    env_extra: dict | None = None,
) -> FloeServer:
    """Starts `floe serve` on base/warehouse and base/data (reuse=True: they may exist
    already, e.g. to restart a server on its old state), with `extra_args` added; with
    `warehouse_url` (s3://...) the warehouse is there instead, and `env_extra` is added to
    the server's environment."""
    binary = floe_binary()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise ServerStartError(
            f"floe binary not found or not executable at {binary}: build it with `cargo build` "
            "or set FLOE_BIN"
        )
    warehouse = base / "warehouse"
    data_dir = base / "data"
    warehouse.mkdir(parents=True, exist_ok=reuse)
    data_dir.mkdir(parents=True, exist_ok=reuse)
    n = 0
    while (base / f"floe-server-{n}.log").exists():
        n += 1
    log_path = base / f"floe-server-{n}.log"
    log_file = open(log_path, "wb")
    env = dict(os.environ)
    env.update(env_extra or {})
    env.setdefault("RUST_LOG", "info")
    env.setdefault("RUST_BACKTRACE", "1")
    env.setdefault("NO_COLOR", "1")
    cmd = [
        str(binary), "serve",
        "--bind", "127.0.0.1:0",
        "--warehouse", warehouse_url or str(warehouse),
        "--data-dir", str(data_dir),
    ]
    # e.g. "--zookeeper HOST:PORT --zk-root /x": the same suite against the ZooKeeper store.
    extra = shlex.split(os.environ.get("FLOE_SERVE_EXTRA_ARGS", ""))
    if "--zk-root" in extra:
        # One catalog per server directory, as with the embedded store: a restart on the
        # same directory finds the same root, another server starts empty.
        i = extra.index("--zk-root") + 1
        extra[i] += "-" + hashlib.sha1(str(base).encode()).hexdigest()[:12]
    cmd += extra + list(extra_args or [])
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=log_file, stdin=subprocess.DEVNULL, cwd=str(base), env=env
    )
    log_file.close()

    found: dict = {}
    lines: list = []
    ready = threading.Event()

    def pump() -> None:
        # Read stdout to the end so the server never blocks on a full pipe; the first
        # "listening" line gives the URL; everything goes to the log file too.
        with open(log_path, "ab") as log:
            for raw in iter(proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                lines.append(line)
                log.write(b"[stdout] " + raw)
                log.flush()
                m = LISTENING_RE.search(line)
                if m and not ready.is_set():
                    found["url"], found["port"] = m.group(1), int(m.group(2))
                    ready.set()
        ready.set()

    threading.Thread(target=pump, name="floe-stdout", daemon=True).start()
    timeout = float(os.environ.get("FLOE_STARTUP_TIMEOUT", "60"))
    deadline = time.monotonic() + timeout
    while not ready.wait(0.1):
        if time.monotonic() > deadline:
            break
    if "url" not in found:
        _stop_process(proc)
        tail = log_path.read_text(errors="replace")[-4000:]
        raise ServerStartError(
            f"floe did not print 'floe listening on http://127.0.0.1:PORT' within {timeout}s "
            f"(exit code {proc.poll()}); command: {' '.join(cmd)}\n--- server output ---\n{tail}"
        )
    return FloeServer(
        url=found["url"], port=found["port"], warehouse=warehouse, data_dir=data_dir,
        proc=proc, log_path=log_path, stdout_lines=lines,
    )


def _stop_process(proc: subprocess.Popen) -> None:
    # Only ever signals the process this suite started, by its PID.
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def start_auth_server(base: Path, clients: dict, token_ttl_secs: int = 3600) -> FloeServer:
    """Starts `floe serve --auth` on `base` with OAuth2 clients {id: (namespace, access)},
    each one's secret being "<id>-secret"."""
    lines = ['signing-key = "interop-signing-key-0123456789abcdef"', f"token-ttl-secs = {token_ttl_secs}"]
    for client, (namespace, access) in clients.items():
        secret = hashlib.sha256(f"{client}-secret".encode()).hexdigest()
        lines += ["[[clients]]", f'id = "{client}"', f'secret-sha256 = "{secret}"',
                  f'grants = [{{ namespace = "{namespace}", access = "{access}" }}]']
    auth_file = base / "auth.toml"
    auth_file.write_text("\n".join(lines) + "\n")
    return _start_server(base, extra_args=["--auth", str(auth_file)])


@pytest.fixture(scope="session")
def floe_server(tmp_path_factory) -> FloeServer:
    """The running floe server (url, port, warehouse, data_dir, proc, log_path)."""
    global _SERVER
    base = tmp_path_factory.mktemp("floe")
    try:
        server = _start_server(base)
    except ServerStartError as e:
        # Without a server no test can run: stop the session with the reason.
        pytest.exit(str(e), returncode=1)
    _SERVER = server
    try:
        yield server
    finally:
        _SERVER = None
        _stop_process(server.proc)


@pytest.fixture(scope="session")
def floe_url(floe_server) -> str:
    """Base URL of the running server, e.g. http://127.0.0.1:41234 (no trailing slash)."""
    return floe_server.url


@pytest.fixture(scope="session")
def warehouse(floe_server) -> Path:
    return floe_server.warehouse


# --------------------------------------------------------------------------------------
# pyiceberg


def make_catalog(url: str):
    from pyiceberg.catalog import load_catalog

    return load_catalog("floe", type="rest", uri=url)


@pytest.fixture(scope="session")
def catalog(floe_url):
    """A pyiceberg RestCatalog pointed at the server."""
    return make_catalog(floe_url)


# --------------------------------------------------------------------------------------
# DuckDB (offline: extensions come from the duckdb-extension-* wheels)

DUCKDB_EXTENSIONS = ("avro", "httpfs", "iceberg")  # load order matters: iceberg needs both
# Extensions are loaded by path; DuckDB only needs a directory of its own to not touch ~/.duckdb.
DUCKDB_EXTENSION_DIR = scratch_dir("floe-interop-duckdb-ext-")


def duckdb_extension_path(name: str) -> str:
    """Path of <name>.duckdb_extension shipped by the duckdb-extension-<name> package.

    The wheels lay their file out as duckdb_extension_<name>/extensions/v<duckdb version>/
    <name>.duckdb_extension and expose no helper, so find it in the package directory.
    """
    import duckdb

    module = f"duckdb_extension_{name}"
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {module} is not installed (see tests/interop/requirements.txt)")
    pkg_dir = list(spec.submodule_search_locations)[0]
    exact = os.path.join(pkg_dir, "extensions", f"v{duckdb.__version__}", f"{name}.duckdb_extension")
    if os.path.isfile(exact):
        return exact
    found = sorted(glob.glob(os.path.join(pkg_dir, "**", f"{name}.duckdb_extension"), recursive=True))
    if not found:
        raise RuntimeError(f"no {name}.duckdb_extension inside {pkg_dir}")
    return found[-1]


def duckdb_connect(
    url: str,
    alias: str = "c",
    attach_options: str = "AUTHORIZATION_TYPE 'none'",
    setup: str | None = None,
):
    """A new DuckDB connection with the iceberg extension loaded offline and the server
    attached as catalog `alias` (with `attach_options`, e.g. OAuth2 credentials), after
    running `setup` (e.g. CREATE SECRET)."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute(f"SET extension_directory = '{DUCKDB_EXTENSION_DIR}'")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    for name in DUCKDB_EXTENSIONS:
        path = duckdb_extension_path(name)
        con.execute(f"LOAD '{path}'")
    if setup:
        con.execute(setup)
    con.execute(
        f"ATTACH '' AS {alias} (TYPE iceberg, ENDPOINT '{url}', {attach_options})"
    )
    return con


@pytest.fixture
def duck(floe_url):
    """A fresh DuckDB connection per test with the catalog attached as `c`."""
    con = duckdb_connect(floe_url)
    try:
        yield con
    finally:
        con.close()


@pytest.fixture
def duck_factory(floe_url):
    """Opens further independent DuckDB connections (each with its own ATTACH)."""
    cons = []

    def make(alias: str = "c"):
        con = duckdb_connect(floe_url, alias)
        cons.append(con)
        return con

    try:
        yield make
    finally:
        for con in cons:
            con.close()


# --------------------------------------------------------------------------------------
# Plain HTTP


@pytest.fixture(scope="session")
def http(floe_url):
    """A requests.Session-like helper: http.get('/v1/config'), http.post(path, json=...)."""
    import requests

    class Http:
        def __init__(self, base: str):
            self.base = base
            self.session = requests.Session()

        def request(self, method: str, path: str, **kw):
            kw.setdefault("timeout", 30)
            return self.session.request(method, self.base + path, **kw)

        def get(self, path, **kw):
            return self.request("GET", path, **kw)

        def head(self, path, **kw):
            return self.request("HEAD", path, **kw)

        def post(self, path, **kw):
            return self.request("POST", path, **kw)

        def delete(self, path, **kw):
            return self.request("DELETE", path, **kw)

    h = Http(floe_url)
    yield h
    h.session.close()


# --------------------------------------------------------------------------------------
# Names


@pytest.fixture
def unique_name(request):
    """unique_name('ns') -> 'ns_<test>_<8 hex>': a name no other test uses."""
    test = re.sub(r"[^A-Za-z0-9]+", "_", request.node.name).strip("_").lower()[:40]

    def make(prefix: str) -> str:
        return f"{prefix}_{test}_{uuid.uuid4().hex[:8]}"

    return make


# --------------------------------------------------------------------------------------
# On failure, show what the server logged while the test ran.


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    item._floe_log_start = _SERVER.log_size() if _SERVER else 0
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and _SERVER is not None:
        start = getattr(item, "_floe_log_start", 0)
        tail = _SERVER.log_tail(start)
        if tail:
            report.sections.append(("floe server log during this test", tail))
