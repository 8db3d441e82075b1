#!/usr/bin/env bash
# Creates (or reuses) the Python virtualenv used by the interop test suite (tests/interop)
# and installs tests/interop/requirements.txt into it.
#
#   VENV=$(scripts/python-env.sh | tail -n 1)
#   "$VENV/bin/python" -m pytest tests/interop -q
#
# With arguments, `scripts/python-env.sh REQUIREMENTS VENV` does the same for another
# requirements file in a virtualenv of its own (scripts/s3.sh runs moto from one).
#
# Environment:
#   FLOE_VENV    where the interop virtualenv lives (default: $HOME/.cache/floe/venv)
#   FLOE_PYTHON  the interpreter to build it with (default: python3.11 if present, else python3)
#
# Idempotent: a stamp file in the venv records a hash of requirements.txt and of the
# interpreter version; when it matches, nothing is installed and the script returns at once.
# Progress goes to stderr; the last line of stdout is the venv's path.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="${1:-$repo_root/tests/interop/requirements.txt}"
venv="${2:-${FLOE_VENV:-$HOME/.cache/floe/venv}}"
stamp="$venv/.floe-requirements.sha256"

log() { printf 'python-env: %s\n' "$*" >&2; }

if [[ ! -f "$requirements" ]]; then
    log "missing $requirements"
    exit 1
fi

if [[ -n "${FLOE_PYTHON:-}" ]]; then
    python="$FLOE_PYTHON"
elif command -v python3.11 >/dev/null 2>&1; then
    python=python3.11
else
    python=python3
fi
if ! command -v "$python" >/dev/null 2>&1; then
    log "no Python interpreter '$python' on PATH (set FLOE_PYTHON)"
    exit 1
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    log "$python is $("$python" -V 2>&1); Python >= 3.10 is required"
    exit 1
fi

want_hash="$( { cat "$requirements"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"

up_to_date() {
    [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want_hash" ]] \
        && "$venv/bin/python" -c 'import sys' >/dev/null 2>&1
}

if up_to_date; then
    echo "$venv"
    exit 0
fi

mkdir -p "$(dirname "$venv")"
# Serialize concurrent runs (e.g. two test jobs on one machine) on a lock file.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv.lock"
    flock 9
    if up_to_date; then
        echo "$venv"
        exit 0
    fi
fi

make_venv() {
    if "$python" -m venv "$venv" >&2; then
        return 0
    fi
    # Some distributions ship Python without ensurepip (Debian's python3-venv): fall back
    # to the virtualenv package from PyPI, installed into a throwaway directory.
    log "'$python -m venv' failed; falling back to virtualenv from PyPI"
    rm -rf "$venv"
    local tmp
    tmp="$(mktemp -d)"
    "$python" -m pip install --disable-pip-version-check -q --target "$tmp" virtualenv >&2
    PYTHONPATH="$tmp" "$python" -m virtualenv -q "$venv" >&2
    rm -rf "$tmp"
}

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1 \
    || [[ "$("$venv/bin/python" -c 'import sys; print(sys.version)')" != "$("$python" -c 'import sys; print(sys.version)')" ]]; then
    log "creating virtualenv at $venv with $("$python" -V 2>&1)"
    rm -rf "$venv"
    make_venv
fi

log "installing $requirements"
rm -f "$stamp"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q -r "$requirements" >&2
echo "$want_hash" >"$stamp"
log "ready"
echo "$venv"
