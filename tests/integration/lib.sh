# Helpers for Weft's integration tests (sourced by bash scripts).
#
# Each test owns one lab (tools/lab --lab NAME) and a state directory under
# /run/weft-test/NAME.  It cleans both before it starts (leftovers of an
# earlier, interrupted run) and when it exits, and ends only the processes it
# started, by PID.

# No pipefail: the tests check output with "CMD | grep -q PATTERN", and
# grep -q exits at the first match, so a CMD still writing gets SIGPIPE;
# with pipefail that turned matches into random failures.
set -eu

: "${WEFT_TOP:?WEFT_TOP must point at the source tree}"
: "${WEFTD:?WEFTD must point at the weftd binary}"
# Every weftd of the tests also computes the hosts its incremental compute
# skips and logs an error if their flows would have changed (datapath.h).
export WEFT_CHECK_INCREMENTAL=1

LAB_NAME=${LAB_NAME:?set LAB_NAME before sourcing lib.sh}
# Suffixed with a hash of the checkout, so that two checkouts (a CI clone
# and a developer's tree) can run the same test at once without tearing
# down each other's lab.
LAB_NAME=$LAB_NAME$(printf '%s' "$WEFT_TOP" | md5sum | cut -c1-4)
T=/run/weft-test/$LAB_NAME
FAIL_LOGS="$T/weftd.log"
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
CONF=$T/weftd.conf
CTL=/run/weft-lab/$LAB_NAME/core/weftd.ctl
SOCK=/run/weft-lab/$LAB_NAME/core/weftd.sock
WEFTCTL=${WEFTCTL:-$(dirname "$WEFTD")/../tools/weftctl/weftctl}

lab() { "$WEFT_TOP/tools/lab" --lab "$LAB_NAME" "$@"; }

# Stops weftd started by this test (PID from our pidfile), if alive, after
# checking that the PID is really a weftd (a stale file may name a reused
# PID).
stop_weftd() {
    local sig=${1:-TERM} pid
    [ -s "$T/weftd.pid" ] || return 0
    pid=$(cat "$T/weftd.pid")
    if [ -r "/proc/$pid/cmdline" ] \
       && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q weftd; then
        kill "-$sig" "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$T/weftd.pid"
}

# A report in weftd's log fails the test: a sanitizer's (tools/test's
# second pass), even one printed at exit (leaks), or the incremental
# compute's check.
check_weftd_logs() {
    local f
    for f in "$T"/weftd*.log; do
        [ -f "$f" ] || continue
        if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$f"; then
            echo "FAIL: sanitizer report in $f:" >&2
            grep -A30 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" \
                "$f" | head -60 >&2
            return 1
        fi
        if grep -q "incremental compute would have kept stale flows" "$f"
        then
            echo "FAIL: weftd skipped a host whose flows changed:" >&2
            grep "incremental compute would have kept" "$f" | head >&2
            return 1
        fi
    done
}

cleanup() {
    local reports=0
    stop_weftd TERM
    if [ -n "${weftd_started:-}" ]; then
        check_weftd_logs || reports=1
    fi
    lab down >/dev/null 2>&1 || true
    rm -rf "$T"
    [ "$reports" = 0 ] || exit 1
}

# start_weftd [EXTRA ARGS]: starts weftd in the lab's core namespace.
start_weftd() {
    ip netns exec "$LAB_NAME-core" "$WEFTD" -c "$CONF" -v "$@" \
        >>"$T/weftd.log" 2>&1 &
    echo $! >"$T/weftd.pid"
    weftd_started=1
}

weftd_pid() { cat "$T/weftd.pid"; }

# On failure (common.sh's fail()): weftd's view of the hosts and ports,
# and its compute counters, if it answers.
fail_diagnostics() {
    [ -S "$SOCK" ] || return 0
    echo "--- weftd's hosts, ports and status:"
    timeout 5 "$WEFTCTL" --socket "$SOCK" list-hosts
    timeout 5 "$WEFTCTL" --socket "$SOCK" list-ports
    timeout 5 "$WEFTCTL" --socket "$SOCK" --format json status
}

# Per-host flow state from weftd, as "HOST SYNCED FLOW_MODS" lines.
flow_state() {
    weftctl --format json list-hosts | python3 -c '
import json, sys
for h in json.load(sys.stdin):
    print(h["name"], h["flows_synced"], h["flow_mods"])'
}
all_synced() { ! flow_state | grep -qv " True "; }

# capture VM NAME [FILTER]: tcpdump (FILTER, default icmp) on VM's eth0
# into $T/NAME.pcap; stop_capture NAME: ends it and prints the packets;
# stop_captures: ends any left (for EXIT traps).
capture() {
    rm -f "$T/$2.pcap" "$T/$2.tcpdump.log"
    # Not through vm_exec: $! must be tcpdump itself, to stop it.
    # --immediate-mode: no packet waits in a kernel block at the end.
    ip netns exec "$LAB_NAME-vm-$1" tcpdump -i eth0 -nn -U --immediate-mode \
        -w "$T/$2.pcap" "${3:-icmp}" >"$T/$2.tcpdump.log" 2>&1 &
    echo $! >"$T/$2.cap-pid"
    wait_until 10 "tcpdump on $1" grep -q "listening on" "$T/$2.tcpdump.log"
}
stop_capture() {
    local pid
    pid=$(cat "$T/$1.cap-pid")
    sleep 0.5
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$T/$1.cap-pid"
    tcpdump -nn -r "$T/$1.pcap" 2>/dev/null
}
stop_captures() {
    local f
    for f in "$T"/*.cap-pid; do
        [ -f "$f" ] && { kill "$(cat "$f")" 2>/dev/null || true; }
    done
    return 0
}

# vm_exec VM CMD...: runs CMD in the lab VM's namespace.
vm_exec() { local vm=$1; shift; ip netns exec "$LAB_NAME-vm-$vm" "$@"; }
can_ping() { vm_exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }
cannot_ping() { ! vm_exec "$1" ping -c 2 -i 0.2 -W 1 "$2" >/dev/null 2>&1; }

appctl() { ovs-appctl -t "$CTL" "$@"; }

# Writes the lab's weftd configuration (control and RPC sockets in the
# lab's state directory).
write_config() {
    lab weftd-config "$@" >"$CONF"
}

weftctl() { "$WEFTCTL" --socket "$SOCK" "$@"; }

hosts_ready() {
    appctl status | grep -q ", $1 ready,"
}

begin() {
    cleanup
    mkdir -p "$T"
    chmod 0750 "$T"
    trap 'status=$?; cleanup; exit $status' EXIT
    trap 'exit 1' INT TERM
}

finish() {
    log "$n_checks checks passed"
}
