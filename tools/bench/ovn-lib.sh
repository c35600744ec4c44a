# shellcheck shell=bash
# OVN beside a tools/lab lab, for the benchmarks that compare Weft with OVN
# (sourced by tools/bench/*; needs $LAB set and Debian's ovn-central and
# ovn-host installed).
#
# OVN central runs in the lab's core namespace: NB and SB ovsdb-servers (the
# SB also on ptcp:6642 at the underlay address, where the hosts reach it) and
# ovn-northd, all with files under /run/weft-lab/LAB/ovn/.  One
# ovn-controller per host runs in the host's namespace against that host's
# own ovsdb-server (OVS_RUNDIR = the host's dir) with OVN_RUNDIR =
# HOSTDIR/ovn.  Every process has a pid file and is ended by that pid.
#
# OVN and Weft cannot both own a host's br-int: ovn_hosts_start expects
# br-int to be absent (ovn-controller creates it) and ovn_stop deletes it.

OVN_STATE=/run/weft-lab/$LAB/ovn
OVN_NB=unix:$OVN_STATE/nb.sock
OVN_SB=unix:$OVN_STATE/sb.sock

ovn_subnet() { sed -n 's/^subnet=//p' "/run/weft-lab/$LAB/lab.conf"; }
ovn_hostdir() { echo "/run/weft-lab/$LAB/$1"; }
# Run a command in host $1's namespace with its OVS and OVN paths.
ovn_hx() {
    local h=$1 d
    d=$(ovn_hostdir "$h"); shift
    ip netns exec "$LAB-$h" env OVS_RUNDIR="$d" OVS_DBDIR="$d" OVS_LOGDIR="$d" \
        OVS_SYSCONFDIR="$d" OVN_RUNDIR="$d/ovn" OVN_LOGDIR="$d/ovn" \
        OVN_DBDIR="$d/ovn" OVN_SYSCONFDIR="$d/ovn" "$@"
}
nbctl() { ovn-nbctl --db="$OVN_NB" "$@"; }
sbctl() { ovn-sbctl --db="$OVN_SB" "$@"; }

# Pid from a pid file if that process is still the named program.
ovn_pid() {
    local p
    [ -s "$1" ] || return 0
    p=$(tr -dc 0-9 <"$1")
    if [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ]; then echo "$p"; fi
}

# Stop the given pids: TERM, up to 5 s, then KILL.
ovn_kill() {
    local p left
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    for _ in $(seq 50); do
        left=
        for p in "$@"; do
            [ -d "/proc/$p" ] && ! grep -q '^State:[[:space:]]*[ZX]' "/proc/$p/status" 2>/dev/null \
                && left=1
        done
        [ -n "$left" ] || return 0
        sleep 0.1
    done
    kill -KILL "$@" 2>/dev/null || true
}

ovn_central_start() {
    local c=$OVN_STATE sub
    sub=$(ovn_subnet)
    mkdir -p "$c"
    rm -f "$c/nb.db" "$c/sb.db"
    ovsdb-tool create "$c/nb.db" /usr/share/ovn/ovn-nb.ovsschema
    ovsdb-tool create "$c/sb.db" /usr/share/ovn/ovn-sb.ovsschema
    ip netns exec "$LAB-core" ovsdb-server "$c/nb.db" --remote="punix:$c/nb.sock" \
        --pidfile="$c/nb.pid" --unixctl="$c/nb.ctl" --log-file="$c/nb.log" \
        -vconsole:off --detach --no-chdir </dev/null
    ip netns exec "$LAB-core" ovsdb-server "$c/sb.db" --remote="punix:$c/sb.sock" \
        --remote="ptcp:6642:$sub.254" \
        --pidfile="$c/sb.pid" --unixctl="$c/sb.ctl" --log-file="$c/sb.log" \
        -vconsole:off --detach --no-chdir </dev/null
    nbctl init
    sbctl init
    ip netns exec "$LAB-core" ovn-northd --ovnnb-db="$OVN_NB" --ovnsb-db="$OVN_SB" \
        --pidfile="$c/northd.pid" --unixctl="$c/northd.ctl" --log-file="$c/northd.log" \
        -vconsole:off --detach --no-chdir </dev/null
}

# ovn_host_start HOST [DATAPATH_TYPE=netdev]: point the host's OVS at OVN
# and start its ovn-controller (which creates br-int).
ovn_host_start() {
    local h=$1 dp=${2:-netdev} d sub
    d=$(ovn_hostdir "$h"); sub=$(ovn_subnet)
    mkdir -p "$d/ovn"
    ovn_hx "$h" ovs-vsctl set Open_vSwitch . \
        external_ids:ovn-remote="tcp:$sub.254:6642" \
        external_ids:ovn-encap-type=geneve \
        external_ids:ovn-encap-ip="$sub.${h#h}" \
        external_ids:ovn-bridge-datapath-type="$dp"
    ovn_hx "$h" ovn-controller --pidfile="$d/ovn/ovn-controller.pid" \
        --log-file="$d/ovn/ovn-controller.log" -vconsole:off --detach --no-chdir </dev/null
}

# Pids of the ovn-controllers of the given hosts.
ovn_controller_pids() {
    local h
    for h in "$@"; do ovn_pid "$(ovn_hostdir "$h")/ovn/ovn-controller.pid" ovn-controller; done
}

# The ovn-controller's control socket of host $1 (23.03 has no --unixctl).
ovn_controller_ctl() {
    local p
    p=$(ovn_controller_pids "$1")
    [ -n "$p" ] && echo "$(ovn_hostdir "$1")/ovn/ovn-controller.$p.ctl"
}

# Stop OVN on the given hosts (controllers first), then central; remove
# br-int from those hosts so Weft can take them afterwards.
ovn_stop() {
    local h c=$OVN_STATE p=()
    mapfile -t p < <(ovn_controller_pids "$@")
    ovn_kill "${p[@]}"
    p=()
    for f in northd:ovn-northd nb:ovsdb-server sb:ovsdb-server; do
        p+=($(ovn_pid "$c/${f%%:*}.pid" "${f#*:}"))
    done
    ovn_kill "${p[@]}"
    for h in "$@"; do
        ovn_hx "$h" ovs-vsctl --timeout=10 --if-exists del-br br-int 2>/dev/null || true
        ovn_hx "$h" ovs-vsctl --timeout=10 remove Open_vSwitch . external_ids ovn-remote \
            -- remove Open_vSwitch . external_ids ovn-encap-ip 2>/dev/null || true
    done
}
