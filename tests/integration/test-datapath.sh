#!/bin/bash
# The acceptance scenario of the datapath (issue 6), with real packets
# between VM namespaces on a 3-host lab: VXLAN segments, default deny
# between segments, a stateful rule, an isolated segment, anti-spoofing,
# weftd killed under traffic, ovs-vswitchd restarted.
LAB_NAME=wtdp
. "$(dirname "$0")/lib.sh"

# listen VM PORT: a TCP listener in VM that accepts and closes, forever.
listen() {
    vm_exec "$1" python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    c.close()
' "$2" >/dev/null 2>&1 &
    echo $! >>"$T/listeners"
}
can_connect() {  # VM IP PORT
    vm_exec "$1" python3 -c '
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
' "$2" "$3" >/dev/null 2>&1
}

stop_listeners() {
    [ -f "$T/listeners" ] || return 0
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$T/listeners"
    rm -f "$T/listeners"
}

begin
trap 'status=$?; stop_listeners; cleanup; exit $status' EXIT
lab up 3 >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
lab vm-add h1 web1 --ip 10.0.0.11/24 --segment web >/dev/null
lab vm-add h2 web2 --ip 10.0.0.12/24 --segment web >/dev/null
lab vm-add h3 db1 --ip 10.0.0.21/24 --segment db >/dev/null
lab vm-add h1 lab1 --ip 10.0.0.31/24 --segment lab >/dev/null
lab vm-add h2 lab2 --ip 10.0.0.32/24 --segment lab >/dev/null
start_weftd
wait_until 30 "hosts ready" hosts_ready 3
weftctl set-policy - >/dev/null <<'EOP' || fail "set-policy"
segment web vlan=100 vni=5001
segment db vlan=200 vni=5002
segment lab vlan=300 vni=5003 isolated
EOP

# 1. Same segment across hosts over VXLAN; another segment is out of reach.
wait_until 30 "web1 -> web2" can_ping web1 10.0.0.12
can_ping web2 10.0.0.11 || fail "web2 -> web1"
cannot_ping web1 10.0.0.21 || fail "web1 reached db1 without a rule"
pass "web1 <-> web2 across hosts over VXLAN; web1 -> db1 blocked"

# The picture of it: hosts, tunnels, VMs by segment (DOT, PNG, JSON).
weftctl topology >"$T/topo.dot" || fail "topology"
grep -q 'subgraph "cluster_h1"' "$T/topo.dot" || fail "no h1 in the topology"
grep -q '"br:h1" -- "br:h2" \[label="VXLAN"' "$T/topo.dot" \
    || fail "no h1-h2 tunnel in the topology: $(cat "$T/topo.dot")"
grep -q '"h1/t-web1" \[.*label="web1\\nt-web1\\nweb"' "$T/topo.dot" \
    || fail "web1 not drawn: $(grep web1 "$T/topo.dot")"
dot -Tsvg "$T/topo.dot" >/dev/null || fail "dot refuses the topology"
weftctl topology png "$T/topo.png" >/dev/null || fail "topology png"
head -c 8 "$T/topo.png" | od -An -c | grep -q "P   N   G" \
    || fail "topology png wrote no PNG"
weftctl --format json topology | python3 -c '
import json, sys
t = json.load(sys.stdin)
assert {h["name"] for h in t["hosts"]} == {"h1", "h2", "h3"}, t["hosts"]
assert any(x["host"] == "h1" and x["peer"] == "h2" for x in t["tunnels"])
assert {s["name"] for s in t["segments"]} == {"web", "db", "lab"}
' || fail "topology JSON"
pass "weftctl topology: DOT that dot(1) renders, PNG, JSON"

# 2. A stateful rule web -> db tcp/5432.
listen db1 5432
listen web1 5432
weftctl --dry-run rule-add web-db allow from=web to=db proto=tcp ports=5432 \
    >"$T/dry"
grep -q "^h1: + table=41, .*conjunction" "$T/dry" \
    || fail "dry run shows no flow change on h1: $(cat "$T/dry")"
grep -q "^h3: + table=41, .*conjunction" "$T/dry" || fail "no h3 flow change"
can_connect web1 10.0.0.21 5432 && fail "dry run changed the dataplane"
weftctl rule-add web-db allow from=web to=db proto=tcp ports=5432 >/dev/null
weftctl dump-flows h1 | grep -q "conjunction.*# rule web-db" \
    || fail "dump-flows does not name the rule"
wait_until 15 "web1 -> db1:5432" can_connect web1 10.0.0.21 5432
can_connect db1 10.0.0.11 5432 && fail "db1 -> web1:5432 passed"
cannot_ping web1 10.0.0.21 || fail "icmp web1 -> db1 passed: rule is tcp only"
cannot_ping db1 10.0.0.11 || fail "db1 -> web1 icmp passed"
weftctl trace web1 db1 tcp/5432 >"$T/trace" || fail "trace"
grep -q "rule web-db (allow" "$T/trace" || fail "trace names no rule: $(cat "$T/trace")"
grep -q "result: DELIVERED to db1/t-db1" "$T/trace" || fail "trace: not delivered"
weftctl trace db1 web1 tcp/5432 | grep -q "default: deny between segments" \
    || fail "trace db1 -> web1 does not say it is denied"
weftctl trace web1 db1 tcp/22 | grep -q "result: DROPPED" || fail "trace tcp/22"
weftctl trace web1 web2 | grep -q "same segment web is open" \
    || fail "trace web1 -> web2"
pass "rule web -> db tcp/5432: allowed one way, replies pass, nothing else; trace says why"

# 3. Isolated segment: members only reach what rules allow.
cannot_ping lab1 10.0.0.32 || fail "lab1 -> lab2 passed in an isolated segment"
weftctl trace lab1 lab2 | grep -q "isolated segment" || fail "trace lab1 -> lab2"
weftctl rule-add lab-icmp allow from=lab to=lab proto=icmp >/dev/null
wait_until 15 "lab1 -> lab2 after the rule" can_ping lab1 10.0.0.32
pass "isolated segment: blocked, then allowed by a rule lab -> lab icmp"

# Incremental compute: a change that concerns one vNIC recomputes its host
# only; the others are skipped, their flows cannot change (and weftd, in
# the tests' check mode, computes them anyway and would log an error if
# they did).
computes() {
    weftctl --format json status | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(s["hosts_recomputed"], s["hosts_skipped"], s["incremental_check_errors"])'
}
wait_until 10 "flows in sync" all_synced
read -r computed0 skipped0 _ < <(computes)
weftctl limit-add cap-web1 targets=vnic:web1 rate=50mbit >/dev/null \
    || fail "limit-add"
wait_until 10 "web1's meter on h1" \
    sh -c "'$WEFTCTL' --socket '$SOCK' dump-flows h1 | grep -q meter:"
read -r computed1 skipped1 errors < <(computes)
[ $((computed1 - computed0)) = 1 ] && [ $((skipped1 - skipped0)) -ge 2 ] \
    && [ "$errors" = 0 ] \
    || fail "a limit on web1: hosts computed +$((computed1 - computed0)),\
 skipped +$((skipped1 - skipped0)), check errors $errors\
 (want +1, at least +2, 0)"
weftctl limit-del cap-web1 >/dev/null || fail "limit-del"
wait_until 10 "web1's meter gone" \
    sh -c "! '$WEFTCTL' --socket '$SOCK' dump-flows h1 | grep -q meter:"
pass "a change to one vNIC recomputes its host only (1 computed, 2 skipped)"

# weftctl recompute: every host computed, none found stale.
weftctl --format json recompute >"$T/recompute.json" || fail "recompute"
python3 - "$T/recompute.json" <<'PY' \
    || fail "recompute: $(cat "$T/recompute.json")"
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(r["hosts_computed"] != 3 or r["hosts_missed"] != 0)
PY
pass "weftctl recompute: 3 hosts computed, none had stale flows"

# 4. A forged source MAC is dropped.
real=$(vm_exec web1 cat /sys/class/net/eth0/address)
vm_exec web1 ip link set eth0 address 52:54:00:66:66:66
cannot_ping web1 10.0.0.12 || fail "forged MAC passed"
vm_exec web1 ip link set eth0 address "$real"
wait_until 10 "web1 back with its own MAC" can_ping web1 10.0.0.12
pass "a VM sending from a forged MAC is dropped"

# 5. A forged source IP is dropped too (the lab gives weftd each VM's
# address in its metadata): IP and ARP.
web2_mac=$(vm_exec web2 cat /sys/class/net/eth0/address)
vm_exec web1 ip addr del 10.0.0.11/24 dev eth0
vm_exec web1 ip addr add 10.0.0.66/24 dev eth0
# IP: with web2's MAC known, no ARP is needed; the packet itself is forged.
vm_exec web1 ip neigh replace 10.0.0.12 lladdr "$web2_mac" dev eth0
cannot_ping web1 10.0.0.12 || fail "forged source IP passed"
# ARP: a request from the forged address gets no answer.
vm_exec web1 ip neigh del 10.0.0.12 dev eth0
vm_exec web1 ping -c 1 -W 1 10.0.0.12 >/dev/null 2>&1 || true
vm_exec web1 ip neigh show 10.0.0.12 | grep -q lladdr \
    && fail "ARP from a forged IP was answered: $(vm_exec web1 ip neigh)"
vm_exec web1 ip addr del 10.0.0.66/24 dev eth0
vm_exec web1 ip addr add 10.0.0.11/24 dev eth0
wait_until 10 "web1 back with its own IP" can_ping web1 10.0.0.12
weftctl dump-flows h1 | grep -q "nw_src=10.0.0.11 .*# vnic" \
    || fail "no IP port security flow for web1"
pass "a VM sending from a forged IP (IP or ARP) is dropped"

kill_weftd() {
    local pid
    pid=$(weftd_pid)
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    rm -f "$T/weftd.pid"
}

# 5. kill -9 weftd under traffic: nothing lost; restart with nothing
#    changed: 0 flow_mods anywhere.
wait_until 10 "flows in sync" all_synced
vm_exec web1 ping -i 0.1 -c 80 10.0.0.12 >"$T/ping.log" 2>&1 &
ping_pid=$!
sleep 1
kill_weftd
sleep 2
start_weftd
wait_until 30 "ready after restart" hosts_ready 3
wait_until 20 "in sync after restart" all_synced
wait "$ping_pid" || true
grep -q " 0% packet loss" "$T/ping.log" \
    || fail "packets lost across the restart: $(tail -2 "$T/ping.log")"
flow_state | while read -r host synced mods; do
    [ "$mods" = 0 ] || fail "$host got $mods flow_mods after a restart with nothing changed"
done
pass "kill -9 weftd under a running ping: 0% loss; restart sends 0 flow_mods"

# A VM started while weftd is down gets connectivity once it is back.
kill_weftd
lab vm-add h3 web3 --ip 10.0.0.13/24 --segment web >/dev/null
start_weftd
wait_until 30 "ready again" hosts_ready 3
wait_until 30 "web3 reaches web1" can_ping web3 10.0.0.11
pass "a VM started while weftd was down is connected after its restart"

# 6. ovs-vswitchd restarts on h3: its flows come back, the others are left
#    alone.
wait_until 20 "in sync" all_synced
before=$(flow_state | grep -v '^h3 ')
lab restart h3 ovs-vswitchd
wait_until 30 "h3 reinstalled" sh -c "$WEFTCTL --socket $SOCK --format json \
    list-hosts | python3 -c 'import json,sys; h=[x for x in json.load(sys.stdin) if x[\"name\"]==\"h3\"][0]; sys.exit(0 if h[\"flows_synced\"] and h[\"flow_mods\"]>0 else 1)'"
wait_until 30 "db1 reachable again" can_connect web1 10.0.0.21 5432
[ "$(flow_state | grep -v '^h3 ')" = "$before" ] \
    || fail "other hosts were touched: before '$before', after '$(flow_state | grep -v '^h3 ')'"
pass "ovs-vswitchd restart on h3: flows reinstalled there, other hosts untouched"

finish
