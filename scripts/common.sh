# Sourced by the service scripts (scripts/zookeeper.sh, scripts/chromium.sh): what they
# share. Messages name the script that sourced this file.

# Prints an error and exits 1.
die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# Prints lines FROM to TO of the script's header comment (its usage) and exits 2.
usage_lines() {
    sed -n "$1,$2p" "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Installs Debian packages quietly (with sudo when not root), showing apt's log only when
# it fails (then it exits 1).
apt_install() {
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    echo "$(basename "$0"): installing $* from Debian packages" >&2
    local log
    log=$(mktemp)
    if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "$@"; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        rm -f "$log"
        die "apt-get failed"
    fi
    rm -f "$log"
}
