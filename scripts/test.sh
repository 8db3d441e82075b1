#!/usr/bin/env bash
# Runs every Floe test on a fresh machine: formatting and lints, the Rust unit and
# integration tests (which start the real `floe` binary), and the Python interop tests
# (pyiceberg and DuckDB against the running service), installing what they need.
set -euo pipefail
cd "$(dirname "$0")/.."

# Reuse a target directory outside the clone when there is one (a clean debug build of
# the stack takes about 5 minutes); it is created when missing, never required.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/floe-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n=== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test (unit and integration)"
cargo build --workspace --bins
cargo test --workspace

step "python interop (pyiceberg, DuckDB)"
venv="$(scripts/python-env.sh | tail -n 1)"
export FLOE_BIN="$CARGO_TARGET_DIR/debug/floe"
"$venv/bin/python" -m pytest tests/interop -q
