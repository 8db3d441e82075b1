#!/usr/bin/env bash
# Runs benches/python_upsert.py: the upsert benchmark's stream through the `floe` Python
# package against the Rust writer (`floe upsert`) and pyiceberg's `Table.upsert`.
#
#   scripts/bench-python.sh [ARGS...]     # ARGS go to benches/python_upsert.py, e.g.
#   scripts/bench-python.sh --checkpoints 20 --checkpoint-rows 100000 --rounds 3 \
#       --pyiceberg-base-rows 1000000 --pyiceberg-batch-rows 100000 --pyiceberg-batches 3
#   (the defaults; pyiceberg takes about 10 of the run's minutes, --no-pyiceberg skips it)
#
# Builds `floe` in release mode, creates (or reuses) a virtualenv of its own for the
# benchmark (tests/interop/requirements.txt: pyarrow, pyiceberg 0.12, maturin) and installs
# the package from ./python into it in release mode, starts a release `floe serve` on a
# free loopback port with a throw-away warehouse, runs the benchmark against it, and stops
# the server (by its PID) and deletes its files at exit.
#
# Environment:
#   CARGO_TARGET_DIR   default $HOME/.cache/floe-target (shared with scripts/test.sh)
#   FLOE_BENCH_VENV    the benchmark's virtualenv (default $HOME/.cache/floe/bench-venv;
#                      never the test virtualenv, which holds a debug build of the package)
#   FLOE_BENCH_DIR     where the server's files and the generated inputs go (default: a
#                      new temp dir, deleted at exit); a given one keeps the inputs for the
#                      next run of the same size, the server's files are deleted at exit
#   FLOE_BENCH_KEEP=1  delete nothing at exit
set -euo pipefail
cd "$(dirname "$0")/.."
repo_root="$(pwd)"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/floe-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
venv="${FLOE_BENCH_VENV:-$HOME/.cache/floe/bench-venv}"

step() { printf '=== %s\n' "$*" >&2; }

step "cargo build --release --bin floe (may wait for a lock on $CARGO_TARGET_DIR)"
cargo build --release --bin floe
floe_bin="$CARGO_TARGET_DIR/release/floe"

step "virtualenv $venv"
venv="$(scripts/python-env.sh "$repo_root/tests/interop/requirements.txt" "$venv" | tail -n 1)"

step "the floe package, release build, into $venv"
PATH="$venv/bin:$PATH" PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$venv/bin/pip" install -q --no-build-isolation --no-deps --force-reinstall ./python

work="${FLOE_BENCH_DIR:-}"
own_work=0
if [[ -z "$work" ]]; then
    work="$(mktemp -d "${TMPDIR:-/tmp}/floe-bench-python.XXXXXX")"
    own_work=1
fi
mkdir -p "$work"
if [[ -e "$work/warehouse" || -e "$work/data" ]]; then
    echo "$work already holds a warehouse or data dir: remove them, or pick another FLOE_BENCH_DIR" >&2
    exit 1
fi
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ "${FLOE_BENCH_KEEP:-}" == 1 ]]; then
        echo "kept $work" >&2
    elif [[ "$own_work" == 1 ]]; then
        rm -rf "$work"
    else
        rm -rf "$work/warehouse" "$work/data"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "release floe serve (files in $work)"
RUST_LOG="${RUST_LOG:-warn}" "$floe_bin" serve --bind 127.0.0.1:0 \
    --warehouse "$work/warehouse" --data-dir "$work/data" \
    >"$work/serve.out" 2>"$work/serve.log" </dev/null &
server_pid=$!
url=""
for _ in $(seq 1 300); do
    url="$(sed -n 's/^floe listening on \(http:[^ ]*\).*$/\1/p' "$work/serve.out" | head -n 1)"
    [[ -n "$url" ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "floe serve exited:" >&2
        cat "$work/serve.log" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z "$url" ]]; then
    echo "floe serve printed no 'floe listening on' line within 30 s" >&2
    cat "$work/serve.log" >&2
    exit 1
fi
echo "floe serve at $url (pid $server_pid)" >&2

step "benches/python_upsert.py $*"
"$venv/bin/python" benches/python_upsert.py --catalog "$url" --floe-bin "$floe_bin" \
    --work-dir "$work/bench" "$@"
