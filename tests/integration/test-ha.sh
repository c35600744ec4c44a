#!/bin/bash
# Active/standby weftd: two instances with the same "standby-lock"; the
# one holding the policy database's lock manages the hosts, the other
# waits.  The active killed (-9) under traffic: the standby takes over with
# no packet lost and no flow_mod sent (the switches kept their flows); the
# old one, restarted, waits as the new standby.
LAB_NAME=wtha
. "$(dirname "$0")/lib.sh"

LABDIR=/run/weft-lab/$LAB_NAME/core
CTL_B=$LABDIR/weftd-b.ctl
SOCK_B=$LABDIR/weftd-b.sock

start_b() {
    ip netns exec "$LAB_NAME-core" "$WEFTD" -c "$T/b.conf" -v \
        >>"$T/weftd-b.log" 2>&1 &
    echo $! >"$T/weftd-b.pid"
}
stop_b() {
    local pid
    [ -s "$T/weftd-b.pid" ] || return 0
    pid=$(cat "$T/weftd-b.pid")
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q weftd; then
        kill "-${1:-TERM}" "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -f "$T/weftd-b.pid"
}
status_a() { ovs-appctl -t "$CTL" status; }
status_b() { ovs-appctl -t "$CTL_B" status; }
ready_b() { status_b | grep -q ", 2 ready,"; }

begin
FAIL_LOGS="$T/weftd.log $T/weftd-b.log"
trap 'status=$?; stop_b TERM; cleanup; exit $status' EXIT
lab up 2 >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
sed -i 's/^\[weftd\]$/[weftd]\nstandby-lock = weftd/' "$CONF"
sed -e "s|^unixctl = .*|unixctl = $CTL_B|" -e "s|^rpc-socket = .*|rpc-socket = $SOCK_B|" \
    "$CONF" >"$T/b.conf"
lab vm-add h1 a1 --ip 10.0.0.1/24 --segment web >/dev/null
lab vm-add h2 a2 --ip 10.0.0.2/24 --segment web >/dev/null

# 1. A takes the lock and the hosts; B, started after, waits.
start_weftd
wait_until 30 "A ready" hosts_ready 2
status_a | grep -q 'active (holding the lock "weftd")' \
    || fail "A is not active: $(status_a)"
weftctl set-policy - >/dev/null <<'EOP' || fail "set-policy"
segment web vlan=100 vni=5001
EOP
wait_until 30 "a1 -> a2" can_ping a1 10.0.0.2
start_b
wait_until 10 "B up" eval 'status_b >/dev/null 2>&1'
sleep 1
status_b | grep -q 'standby (waiting for the lock "weftd")' \
    || fail "B is not standby: $(status_b)"
status_b | grep -q "hosts: 0," || fail "the standby manages hosts: $(status_b)"
pass "A active with the hosts; B standby, managing nothing"

# 2. A killed under traffic: B takes over, nothing lost, nothing resent.
wait_until 10 "flows in sync" all_synced
vm_exec a1 ping -i 0.05 -c 100 10.0.0.2 >"$T/ping.log" 2>&1 &
ping_pid=$!
sleep 0.5
killed_at=$(date +%s.%N)
stop_weftd KILL
wait_until 30 "B ready" ready_b
ready_at=$(date +%s.%N)
status_b | grep -q 'active (holding the lock "weftd")' \
    || fail "B did not become active: $(status_b)"
SOCK=$SOCK_B
wait_until 20 "B in sync" all_synced
flow_state | while read -r host synced mods; do
    [ "$mods" = 0 ] || fail "$host got $mods flow_mods at the takeover"
done
wait "$ping_pid" || true
grep -q " 0% packet loss" "$T/ping.log" \
    || fail "packets lost at the takeover: $(tail -2 "$T/ping.log")"
failover=$(python3 -c "print(round($ready_at - $killed_at, 3))")
log "failover: A killed -> B ready in ${failover}s"
pass "A killed: B active and ready in ${failover}s, 0 lost, 0 flow_mods"
if [ -n "${WEFT_HA_REPORT:-}" ]; then
    echo "{\"failover_s\": $failover, \"lost\": 0, \"flow_mods\": 0}" \
        >"$WEFT_HA_REPORT"
fi

# 3. B serves weftctl; A restarted is the standby now.
weftctl rule-add r1 allow from=web to=web proto=icmp >/dev/null \
    || fail "B refused a policy change"
start_weftd
wait_until 10 "A up" eval 'status_a >/dev/null 2>&1'
sleep 1
status_a | grep -q 'standby' || fail "restarted A is not standby: $(status_a)"
can_ping a1 10.0.0.2 || fail "traffic after A came back"
pass "A restarted waits as the standby; B keeps the hosts"
finish
