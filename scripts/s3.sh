#!/usr/bin/env bash
# A local S3-compatible server for Floe's tests: moto's S3 (scripts/s3-requirements.txt,
# in a virtualenv of its own) as a plain background process on 127.0.0.1.
#
#   scripts/s3.sh start DIR    install when missing, start a server on a free port; writes
#                              DIR/endpoint (http://127.0.0.1:PORT) and prints it
#   scripts/s3.sh stop DIR     stop the server started in DIR (by its PID)
#
# moto accepts any access key and secret; it keeps every object in memory, so a stopped
# server leaves nothing behind. DIR/moto.log has its request log.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${FLOE_S3_VENV:-$HOME/.cache/floe/s3-venv}"
START_TIMEOUT="${S3_START_TIMEOUT:-60}"

die() { echo "s3.sh: $*" >&2; exit 1; }

cmd_start() {
    local dir="$1"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    [[ ! -f "$dir/pid" ]] || die "a server was already started in $dir (stop it first)"
    local python
    python="$("$repo_root/scripts/python-env.sh" "$repo_root/scripts/s3-requirements.txt" "$venv" | tail -n 1)/bin/python"
    # The free port is found, released and then bound by moto: another process may take
    # it in between, so a start that exits early is tried again on a new port.
    local attempt
    for attempt in 1 2 3; do
        if launch "$dir" "$python"; then
            cat "$dir/endpoint"
            return 0
        fi
        echo "s3.sh: start attempt $attempt failed" >&2
    done
    die "the server did not start; log: $dir/moto.log"
}

# Starts moto on a free port; succeeds once it answers (writes DIR/endpoint).
launch() {
    local dir="$1" python="$2" port
    port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    nohup "$python" -m moto.server -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
    echo $! >"$dir/pid"
    local endpoint="http://127.0.0.1:$port"
    local deadline=$((SECONDS + START_TIMEOUT))
    until "$python" -c "import urllib.request; urllib.request.urlopen('$endpoint/moto-api/', timeout=1)" 2>/dev/null; do
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null || ((SECONDS >= deadline)); then
            cat "$dir/moto.log" >&2
            cmd_stop "$dir"
            return 1
        fi
        sleep 0.2
    done
    echo "$endpoint" >"$dir/endpoint"
}

cmd_stop() {
    local dir="$1"
    [[ -f "$dir/pid" ]] || return 0
    local pid
    pid="$(cat "$dir/pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/pid" "$dir/endpoint"
}

case "${1:-}" in
start) cmd_start "${2:?DIR required}" ;;
stop) cmd_stop "${2:?DIR required}" ;;
*) sed -n '5,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
