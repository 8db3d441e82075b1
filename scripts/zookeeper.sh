#!/usr/bin/env bash
# A real ZooKeeper (3.8, Debian's packages) for Floe's tests, run as plain background
# processes on 127.0.0.1: no systemd, no service, nothing outside the given directory.
#
#   scripts/zookeeper.sh install           install ZooKeeper when missing (quiet otherwise)
#   scripts/zookeeper.sh start DIR [N]     start a standalone server (N=1) or an N-member
#                                          ensemble; writes DIR/connect, prints it
#   scripts/zookeeper.sh stop DIR          stop every member started in DIR
#   scripts/zookeeper.sh stop-one DIR I    stop member I (1-based), for failure tests
#   scripts/zookeeper.sh kill-one DIR I    the same with SIGKILL (a crash, no shutdown)
#   scripts/zookeeper.sh start-one DIR I   restart member I with its config and data
#
# Each member i has DIR/zk<i>.cfg, DIR/zk<i>/data (dataDir and myid), DIR/zk<i>.log and
# DIR/zk<i>.pid. tickTime is 500 ms and minSessionTimeout 1 s, so expiry is quick in tests.
set -euo pipefail

ZK_JAR=/usr/share/java/zookeeper.jar
SLF4J_API=/usr/share/java/slf4j-api.jar
SLF4J_BINDING=/usr/share/java/slf4j-simple.jar
START_TIMEOUT="${ZK_START_TIMEOUT:-60}"   # seconds until every member must serve
STOP_GRACE="${ZK_STOP_GRACE:-5}"          # seconds between TERM and KILL

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() { usage_lines 5 10; }

cmd_install() {
    if [[ -f $ZK_JAR && -f $SLF4J_API && -f $SLF4J_BINDING ]] && command -v java >/dev/null; then
        return 0
    fi
    # slf4j-simple is the logging binding the server runs with (zookeeper brings slf4j-api).
    apt_install zookeeper libslf4j-java
    for f in "$ZK_JAR" "$SLF4J_API" "$SLF4J_BINDING"; do
        [[ -f $f ]] || die "installed, but $f is missing"
    done
    command -v java >/dev/null || die "installed, but no java on PATH"
}

need_installed() {
    for f in "$ZK_JAR" "$SLF4J_API" "$SLF4J_BINDING"; do
        [[ -f $f ]] || die "$f is missing: run '$0 install' first"
    done
}

# Prints COUNT distinct TCP ports on 127.0.0.1 that are free right now.
free_ports() {
    local count=$1
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$count" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
        return
    fi
    # Fallback: random ports in a high range that nothing answers on.
    local ports=() p
    while ((${#ports[@]} < count)); do
        p=$((20000 + RANDOM % 30000))
        [[ " ${ports[*]} " == *" $p "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            ports+=("$p")
        fi
    done
    echo "${ports[*]}"
}

# Sends a four-letter word to 127.0.0.1:PORT and prints the answer (empty on failure).
four_letter() {
    local port=$1 word=$2
    # shellcheck disable=SC2016 # expanded by the inner shell
    timeout 3 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$0"
        printf "%s" "$1" >&3
        cat <&3
    ' "$port" "$word" 2>/dev/null || true
}

cfg_value() { sed -n "s/^$2=//p" "$1" | head -n 1; }

pid_alive() {
    local pid=$1 cfg=$2
    [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
    # Only our own server: its command line names its config file.
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "QuorumPeerMain $cfg"
}

launch_member() {
    local dir=$1 i=$2
    local cfg="$dir/zk$i.cfg" pidfile="$dir/zk$i.pid"
    [[ -f $cfg ]] || die "no config $cfg (start the ensemble with '$0 start $dir N' first)"
    if [[ -f $pidfile ]] && pid_alive "$(cat "$pidfile")" "$cfg"; then
        die "member $i in $dir is already running (pid $(cat "$pidfile"))"
    fi
    nohup java -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dzookeeper.jmx.log4j.disable=true \
        -Dorg.slf4j.simpleLogger.showDateTime=true \
        -cp "$ZK_JAR:$SLF4J_API:$SLF4J_BINDING" \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$cfg" \
        >>"$dir/zk$i.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
}

# Waits until member I answers `srvr` with a Mode: line (ruok answers before it serves).
wait_member() {
    local dir=$1 i=$2 deadline=$((SECONDS + START_TIMEOUT))
    local cfg="$dir/zk$i.cfg" port
    port=$(cfg_value "$cfg" clientPort)
    while ((SECONDS < deadline)); do
        if four_letter "$port" srvr | grep -q '^Mode:'; then
            return 0
        fi
        # The pid was just launched by this script, so existence is enough here: right
        # after the fork its command line is still this script's, not java's yet.
        if ! kill -0 "$(cat "$dir/zk$i.pid")" 2>/dev/null; then
            echo "zookeeper.sh: member $i exited; log tail:" >&2
            tail -n 40 "$dir/zk$i.log" >&2
            return 1
        fi
        sleep 0.3
    done
    echo "zookeeper.sh: member $i did not serve within ${START_TIMEOUT}s; log tail:" >&2
    tail -n 40 "$dir/zk$i.log" >&2
    return 1
}

stop_member() {
    local dir=$1 i=$2 signal=${3:-TERM}
    local pidfile="$dir/zk$i.pid" cfg="$dir/zk$i.cfg" pid
    [[ -f $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if pid_alive "$pid" "$cfg"; then
        kill "-$signal" "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + STOP_GRACE))
        while pid_alive "$pid" "$cfg" && ((SECONDS < deadline)); do sleep 0.2; done
        if pid_alive "$pid" "$cfg"; then
            kill -KILL "$pid" 2>/dev/null || true
            while pid_alive "$pid" "$cfg"; do sleep 0.1; done
        fi
    fi
    rm -f "$pidfile"
}

cmd_start() {
    local dir=${1:?DIR required} n=${2:-1}
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "N must be a positive number, got '$n'"
    need_installed
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    for pidfile in "$dir"/zk*.pid; do
        [[ -f $pidfile ]] || continue
        local i=${pidfile##*/zk}; i=${i%.pid}
        if pid_alive "$(cat "$pidfile")" "$dir/zk$i.cfg"; then
            die "a server is already running in $dir: run '$0 stop $dir' first"
        fi
        rm -f "$pidfile"
    done

    local ports
    read -r -a ports <<<"$(free_ports $((3 * n)))"
    local connect="" servers="" i
    for ((i = 1; i <= n; i++)); do
        local client=${ports[$((3 * (i - 1)))]}
        local quorum=${ports[$((3 * (i - 1) + 1))]}
        local election=${ports[$((3 * (i - 1) + 2))]}
        connect+="${connect:+,}127.0.0.1:$client"
        servers+="server.$i=127.0.0.1:$quorum:$election"$'\n'
    done
    for ((i = 1; i <= n; i++)); do
        local client=${ports[$((3 * (i - 1)))]}
        rm -rf "$dir/zk$i"
        mkdir -p "$dir/zk$i/data"
        echo "$i" >"$dir/zk$i/data/myid"
        : >"$dir/zk$i.log"
        {
            echo "tickTime=500"
            echo "initLimit=20"
            echo "syncLimit=10"
            echo "minSessionTimeout=1000"
            echo "maxSessionTimeout=60000"
            echo "dataDir=$dir/zk$i/data"
            echo "clientPort=$client"
            echo "clientPortAddress=127.0.0.1"
            echo "admin.enableServer=false"
            echo "4lw.commands.whitelist=ruok,srvr,stat,mntr,cons"
            echo "autopurge.purgeInterval=0"
            if ((n > 1)); then printf '%s' "$servers"; fi
        } >"$dir/zk$i.cfg"
    done
    for ((i = 1; i <= n; i++)); do launch_member "$dir" "$i"; done
    for ((i = 1; i <= n; i++)); do
        wait_member "$dir" "$i" || { cmd_stop "$dir"; die "start failed"; }
    done
    echo "$connect" >"$dir/connect"
    echo "$connect"
}

cmd_stop() {
    local dir=${1:?DIR required} pidfile i
    [[ -d $dir ]] || return 0
    dir=$(cd "$dir" && pwd)
    for pidfile in "$dir"/zk*.pid; do
        [[ -f $pidfile ]] || continue
        i=${pidfile##*/zk}; i=${i%.pid}
        stop_member "$dir" "$i"
    done
}

member_arg() {
    [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "member index must be a positive number, got '${2:-}'"
    [[ -f $1/zk$2.cfg ]] || die "no member $2 in $1"
}

case "${1:-}" in
install) cmd_install ;;
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "${1:?DIR required}" ;;
stop-one)
    member_arg "${2:?DIR required}" "${3:-}"
    dir=$(cd "$2" && pwd); stop_member "$dir" "$3" ;;
kill-one)
    member_arg "${2:?DIR required}" "${3:-}"
    dir=$(cd "$2" && pwd); stop_member "$dir" "$3" KILL ;;
start-one)
    member_arg "${2:?DIR required}" "${3:-}"
    need_installed
    dir=$(cd "$2" && pwd); launch_member "$dir" "$3"; wait_member "$dir" "$3" ;;
*) usage ;;
esac
