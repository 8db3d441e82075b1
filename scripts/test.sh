#!/usr/bin/env bash
# Runs every Floe test on a fresh machine: formatting and lints, the Rust unit and
# integration tests (which start the real `floe` binary, real ZooKeeper servers and a
# local S3-compatible server), and the Python interop tests (pyiceberg and DuckDB against
# the running service, with the embedded store and with the ZooKeeper store; the floe
# Python package, built here, with a Spark streaming job; the table health pages in
# headless Chromium), installing what they need.
set -euo pipefail
cd "$(dirname "$0")/.."

# Reuse a target directory outside the clone when there is one (a clean debug build of
# the stack takes about 5 minutes); it is created when missing, never required.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/floe-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n=== %s\n' "$*"; }

# A reused target directory only grows (a debug build of everything takes about 5 GiB,
# and each revision leaves its artifacts behind): when its disk runs low or it has grown
# past 30 GiB, start it afresh rather than fail in the middle of linking.
mkdir -p "$CARGO_TARGET_DIR"
free_gib="$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR == 2 { print int($4 / 1048576) }')"
used_gib="$(du -sk "$CARGO_TARGET_DIR" | awk '{ print int($1 / 1048576) }')"
if [ "$free_gib" -lt 12 ] || [ "$used_gib" -gt 30 ]; then
    echo "$CARGO_TARGET_DIR holds $used_gib GiB, $free_gib GiB free on its disk: emptying it"
    rm -rf "${CARGO_TARGET_DIR:?}"/debug "${CARGO_TARGET_DIR:?}"/release "${CARGO_TARGET_DIR:?}"/wheels
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "ZooKeeper 3.8: install when missing, start a standalone server and a 3-member ensemble"
scripts/zookeeper.sh install
zk_dir="$(mktemp -d "${TMPDIR:-/tmp}/floe-zk.XXXXXX")"
stop_services() {
    scripts/zookeeper.sh stop "$zk_dir/single" >/dev/null 2>&1 || true
    scripts/zookeeper.sh stop "$zk_dir/ensemble" >/dev/null 2>&1 || true
    scripts/s3.sh stop "$zk_dir/s3" >/dev/null 2>&1 || true
}
trap stop_services EXIT
scripts/zookeeper.sh start "$zk_dir/single" 1 >/dev/null
scripts/zookeeper.sh start "$zk_dir/ensemble" 3 >/dev/null
export FLOE_TEST_ZK="$(cat "$zk_dir/single/connect")"
export FLOE_TEST_ZK_ENSEMBLE="$(cat "$zk_dir/ensemble/connect")"
export FLOE_TEST_ZK_ENSEMBLE_DIR="$zk_dir/ensemble"
echo "standalone: $FLOE_TEST_ZK  ensemble: $FLOE_TEST_ZK_ENSEMBLE"

step "S3-compatible server (moto, in a virtualenv of its own) on 127.0.0.1"
FLOE_TEST_S3_ENDPOINT="$(scripts/s3.sh start "$zk_dir/s3" | tail -n 1)"
export FLOE_TEST_S3_ENDPOINT
# The S3 tests fail rather than skip when the server is missing.
export FLOE_TEST_REQUIRE_S3=1
echo "s3: $FLOE_TEST_S3_ENDPOINT"

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test (unit and integration)"
cargo build --workspace --bins
cargo test --workspace --no-fail-fast

step "the floe Python package: build its wheel (maturin, the test build's dev profile) and install it"
venv="$(scripts/python-env.sh | tail -n 1)"
PATH="$venv/bin:$PATH" MATURIN_PEP517_ARGS="--profile dev" \
    "$venv/bin/pip" install -q --no-build-isolation --force-reinstall --no-deps ./python

step "headless Chromium for the browser tests of the health pages: install when missing"
scripts/chromium.sh install
export FLOE_CHROMIUM="$(scripts/chromium.sh path)"

step "python interop (pyiceberg, DuckDB, the floe package, Spark, the health pages in Chromium), embedded store"
export FLOE_BIN="$CARGO_TARGET_DIR/debug/floe"
"$venv/bin/python" -m pytest tests/interop -q

step "python interop (pyiceberg, DuckDB), ZooKeeper store"
# (The floe package's tests and the browser tests ran above: they test the writer and the
# pages, not the catalog's store.)
FLOE_SERVE_EXTRA_ARGS="--zookeeper $FLOE_TEST_ZK --zk-root /interop-$$-$RANDOM" \
    "$venv/bin/python" -m pytest tests/interop -q -m "not package and not browser"
