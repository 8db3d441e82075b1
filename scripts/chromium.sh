#!/usr/bin/env bash
# Headless Chromium (Debian's chromium-headless-shell) for the browser tests of the
# table health pages (tests/interop/test_ui_browser.py).
#
#   scripts/chromium.sh install    install it when missing (quiet otherwise)
#   scripts/chromium.sh path       print the binary's path
set -euo pipefail

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() { usage_lines 5 6; }

# The binary: Debian installs it as /usr/bin/chromium-headless-shell.
binary() {
    command -v chromium-headless-shell 2>/dev/null ||
        { [[ -x /usr/lib/chromium/chromium-headless-shell ]] && echo /usr/lib/chromium/chromium-headless-shell; } ||
        return 1
}

cmd_install() {
    binary >/dev/null && return 0
    # fonts-dejavu-core: legible text in screenshots on a machine without fonts.
    apt_install chromium-headless-shell fonts-dejavu-core
    binary >/dev/null || die "installed, but no chromium-headless-shell binary was found"
}

cmd_path() {
    binary || die "chromium-headless-shell is missing: run '$0 install' first"
}

case "${1:-}" in
install) cmd_install ;;
path) cmd_path ;;
*) usage ;;
esac
