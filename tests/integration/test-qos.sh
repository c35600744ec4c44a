#!/bin/bash
# Per-vNIC rate limits (issue 12) with real TCP traffic on a 2-host lab:
# iperf3 between VMs is capped near the limit's rate in the limited
# direction only, across hosts (VXLAN) and on one host; the strictest of
# two limits wins; bad limits are refused whole; a weftd restart sends no
# flow or meter mod; removing the limit restores the throughput and its
# meters go.
LAB_NAME=wtqos
. "$(dirname "$0")/lib.sh"

RATE_MBIT=20

ofctl() { lab exec "$1" ovs-ofctl -O OpenFlow15 "${@:2}" br-int; }
weft_meters() { ofctl "$1" dump-meters | grep -c "meter=14596" || true; }

# mbit FROM TO_IP: TCP throughput FROM sends to the iperf3 server at
# TO_IP, in Mbit/s (what the server received), over 3 s.
mbit() {
    vm_exec "$1" iperf3 -c "$2" -t 3 -J 2>/dev/null | python3 -c '
import json, sys
print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]
          / 1e6))'
}

# capped FROM TO_IP: the throughput is near the limit (a policer lets TCP
# reach most of the rate, never much more).
capped() {
    local m
    m=$(mbit "$1" "$2")
    log "$1 -> $2: $m Mbit/s (limit $RATE_MBIT)"
    [ "$m" -ge $((RATE_MBIT / 2)) ] && [ "$m" -le $((RATE_MBIT * 13 / 10)) ]
}
# free FROM TO_IP: well above the limit.
free() {
    local m
    m=$(mbit "$1" "$2")
    log "$1 -> $2: $m Mbit/s (unlimited)"
    [ "$m" -ge $((RATE_MBIT * 3)) ]
}

# counters: "FLOW_MODS METER_MODS" summed over the hosts.
counters() {
    weftctl --format json list-hosts | python3 -c '
import json, sys
h = json.load(sys.stdin)
print(sum(x["flow_mods"] for x in h), sum(x["meter_mods"] for x in h))'
}
meters_in_sync() {  # WANTED
    weftctl --format json list-hosts | python3 -c '
import json, sys
h = json.load(sys.stdin)
sys.exit(0 if sum(x["meters_installed"] for x in h) == int(sys.argv[1])
         and all(x["flows_synced"] for x in h) else 1)' "$1"
}

begin
lab up 2 >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
lab vm-add h1 web1 --ip 10.0.0.11/24 --segment web >/dev/null
lab vm-add h2 web2 --ip 10.0.0.12/24 --segment web >/dev/null
lab vm-add h1 web3 --ip 10.0.0.13/24 --segment web >/dev/null
start_weftd
wait_until 30 "hosts ready" hosts_ready 2
weftctl set-policy - >/dev/null <<'EOP' || fail "set-policy"
segment web vlan=100 vni=5001
EOP
wait_until 30 "web1 -> web2" can_ping web1 10.0.0.12
wait_until 30 "web3 -> web1" can_ping web3 10.0.0.11
for vm in web1 web2; do
    vm_exec "$vm" iperf3 -s -D -I "$T/iperf-$vm.pid" >/dev/null
done
trap 'status=$?; for f in "$T"/iperf-*.pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
      cleanup; exit $status' EXIT
wait_until 10 "iperf3 servers" test -s "$T/iperf-web2.pid"
wait_until 10 "iperf3 servers" test -s "$T/iperf-web1.pid"

free web1 10.0.0.12 || fail "without a limit, web1 -> web2 is already slow"
pass "without a limit web1 sends well above $RATE_MBIT Mbit/s"

# 1. Bad input is refused whole, naming the field; nothing changes.
weftctl get-policy >"$T/policy.before"
expect_refused() {  # PATTERN ARGS...
    local pattern=$1
    shift
    weftctl limit-add "$@" >"$T/out" 2>&1 && fail "accepted: $*"
    grep -q "$pattern" "$T/out" || fail "limit-add $*: $(cat "$T/out")"
}
expect_refused 'rate: .*not a number with a unit' bad targets=vnic:web1 \
    rate=-5mbit
expect_refused 'rate: .*0kbit is out of range 10kbit..100gbit' bad \
    targets=vnic:web1 rate=0kbit
expect_refused 'rate: .*500gbit is out of range' bad targets=vnic:web1 \
    rate=500gbit
expect_refused 'rate: .*missing unit' bad targets=vnic:web1 rate=20
expect_refused 'burst: .*1kbit is out of range' bad targets=vnic:web1 \
    rate=1mbit burst=1kbit
expect_refused 'targets: .*unknown group "nope"' bad targets=group:nope \
    rate=1mbit
weftctl get-policy | cmp -s - "$T/policy.before" \
    || fail "a refused limit changed the policy"
[ "$(weft_meters h1)" = 0 ] || fail "a refused limit made meters"
pass "bad limits refused with the field at fault; policy unchanged"

# 2. What web1 sends is capped, across hosts; what it receives is not.
weftctl limit-add cap targets=vnic:web1 rate=${RATE_MBIT}mbit \
    direction=ingress >/dev/null || fail "limit-add"
wait_until 20 "one meter in sync" meters_in_sync 1
ofctl h1 dump-flows | grep -q "in_port=.*meter:1459" \
    || fail "no meter in web1's classify flow: $(ofctl h1 dump-flows)"
capped web1 10.0.0.12 || fail "web1 -> web2 not capped"
free web2 10.0.0.11 || fail "web2 -> web1 capped by an ingress limit"
pass "direction=ingress: web1 -> web2 capped near $RATE_MBIT Mbit/s, web2 -> web1 free"

# 3. Both directions; on one host too; the stricter of two limits wins.
weftctl limit-add cap targets=vnic:web1 rate=${RATE_MBIT}mbit >/dev/null \
    || fail "limit-add both"
weftctl limit-add web targets=segment:web rate=$((RATE_MBIT * 5))mbit \
    >/dev/null || fail "limit-add web"
wait_until 20 "meters in sync" meters_in_sync 6
capped web2 10.0.0.11 || fail "web2 -> web1 not capped"
capped web3 10.0.0.11 || fail "web3 -> web1 (same host) not capped"
pass "direction=both: what web1 receives is capped, from another host and its own"

# 4. kill -9 and restart: nothing to send.
stop_weftd KILL
capped web1 10.0.0.12 || fail "limit lost while weftd was down"
start_weftd
wait_until 30 "hosts ready again" hosts_ready 2
wait_until 30 "meters in sync again" meters_in_sync 6
read -r fm mm < <(counters)
[ "$fm" = 0 ] && [ "$mm" = 0 ] \
    || fail "restart sent $fm flow mods and $mm meter mods"
pass "weftd restart: limits kept, 0 flow_mods and 0 meter_mods"

# 5. Removing the limits restores the rate; their meters go.
weftctl limit-del web >/dev/null || fail "limit-del web"
weftctl limit-del cap >/dev/null || fail "limit-del cap"
wait_until 20 "meters gone" meters_in_sync 0
[ "$(weft_meters h1)" = 0 ] && [ "$(weft_meters h2)" = 0 ] \
    || fail "meters left: $(ofctl h1 dump-meters)"
free web1 10.0.0.12 || fail "web1 -> web2 still capped"
free web2 10.0.0.11 || fail "web2 -> web1 still capped"
pass "limits removed: throughput back, meters deleted"

finish
