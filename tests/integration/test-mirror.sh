#!/bin/bash
# Port mirroring (issue 7) with real packets on a 3-host lab: a vNIC on h1
# mirrored to a collector VM on h3 over VXLAN, local SPAN on one host, a
# segment-wide mirror that follows a VM started later, counters, bad input,
# weftd killed and restarted (no duplicate rows), deletion.
LAB_NAME=wtmr
. "$(dirname "$0")/lib.sh"

vsctl() { ovs-vsctl --db="unix:/run/weft-lab/$LAB_NAME/$1/db.sock" "${@:2}"; }

# warm_up COLLECTOR VM IP: pings IP from VM until the collector sees a
# copy (the first copies to a new tunnel wait for its ARP resolution).
warm_up() {
    capture "$1" warm
    local deadline=$((SECONDS + 20))
    until tcpdump -nn -r "$T/warm.pcap" 2>/dev/null | grep -q "ICMP echo"; do
        [ $SECONDS -lt $deadline ] || { stop_capture warm >/dev/null;
                                        fail "no copy reaches $1"; }
        vm_exec "$2" ping -c 1 -W 1 "$3" >/dev/null 2>&1 || true
    done
    stop_capture warm >/dev/null
}

mirror_state() {  # NAME STATE
    weftctl --format json mirror-list \
        | python3 -c 'import json,sys
m = {x["name"]: x for x in json.load(sys.stdin)}
sys.exit(0 if sys.argv[1] in m and m[sys.argv[1]]["state"] == sys.argv[2]
         else 1)' "$1" "$2"
}
mirror_rows() { vsctl "$1" --bare --columns=name find Mirror | grep -c . ; }
mirror_row_present() {  # HOST NAME
    vsctl "$1" --bare --columns=name find Mirror "name=weft-$2" | grep -q .
}
packets_of() {
    weftctl --format json mirror-list \
        | python3 -c 'import json,sys
m = {x["name"]: x for x in json.load(sys.stdin)}
print(m[sys.argv[1]]["tx_packets"])' "$1"
}
mirror_counted() { [ "$(packets_of "$1")" -gt 0 ]; }

begin
trap 'status=$?; stop_captures; cleanup; exit $status' EXIT
lab up 3 >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
sed -i 's/^\[weftd\]$/[weftd]\nmetrics-listen = 127.0.0.1:9477/' "$CONF"
lab vm-add h1 web1 --ip 10.0.0.11/24 --segment web >/dev/null
lab vm-add h2 web2 --ip 10.0.0.12/24 --segment web >/dev/null
lab vm-add h1 web3 --ip 10.0.0.13/24 --segment web >/dev/null
lab vm-add h3 col --ip 10.9.0.1/24 --segment mon >/dev/null
lab vm-add h1 col1 --ip 10.9.0.2/24 --segment mon >/dev/null
start_weftd
wait_until 30 "hosts ready" hosts_ready 3
weftctl set-policy - >/dev/null <<'EOP' || fail "set-policy"
segment web vlan=100 vni=5001
segment mon vlan=900
EOP
wait_until 30 "web1 -> web2" can_ping web1 10.0.0.12
wait_until 30 "web3 -> web2" can_ping web3 10.0.0.12

# 1. Bad input: refused whole, with the field at fault; nothing changes.
weftctl get-policy >"$T/policy.before"
expect_refused() {  # PATTERN ARGS...
    local pattern=$1
    shift
    weftctl mirror-add "$@" >"$T/out" 2>&1 && fail "accepted: $*"
    grep -q "$pattern" "$T/out" || fail "mirror-add $*: $(cat "$T/out")"
}
expect_refused 'unknown vNIC "nosuch"' bad sources=vnic:web1 to=vnic:nosuch
expect_refused 'unknown vNIC "ghost"' bad sources=vnic:ghost to=vnic:col
expect_refused 'copy a port into itself' bad sources=vnic:col to=vnic:col
expect_refused 'in source mon.*loop' bad sources=segment:mon,vnic:web1 \
    to=vnic:col
expect_refused 'unknown host "h9"' bad sources=vnic:web1 to=host:h9/mon0
expect_refused 'unknown segment "nope"' bad sources=segment:nope to=vnic:col
weftctl get-policy | cmp -s - "$T/policy.before" \
    || fail "a refused mirror changed the policy"
can_ping web1 10.0.0.12 || fail "traffic broken by refused mirrors"
pass "bad mirrors refused with the reason; policy and traffic unchanged"

# 2. Remote mirror of web1 (h1), both directions, to col (h3).
weftctl mirror-add m1 sources=vnic:web1 to=vnic:col >/dev/null \
    || fail "mirror-add m1"
wait_until 15 "m1 active" mirror_state m1 active
wait_until 15 "m1 row on h1" mirror_row_present h1 m1
vsctl h3 --bare --columns=name find Interface name=wm-rx | grep -q . \
    || fail "no wm-rx on the collector's host"
warm_up col web1 10.0.0.12
capture col m1
vm_exec web1 ping -c 3 -i 0.2 -W 1 10.0.0.12 >/dev/null || fail "ping web1"
vm_exec web3 ping -c 3 -i 0.2 -W 1 10.0.0.12 >/dev/null || fail "ping web3"
stop_capture m1 >"$T/m1.txt"
[ "$(grep -c '10.0.0.11 > 10.0.0.12: ICMP echo request' "$T/m1.txt")" -ge 3 ] \
    || fail "requests of web1 not mirrored: $(cat "$T/m1.txt")"
[ "$(grep -c '10.0.0.12 > 10.0.0.11: ICMP echo reply' "$T/m1.txt")" -ge 3 ] \
    || fail "replies to web1 not mirrored: $(cat "$T/m1.txt")"
grep -q "10.0.0.13" "$T/m1.txt" && fail "web3's traffic was mirrored too"
pass "web1 (h1) -> collector (h3): requests and replies, nothing of web3"

wait_until 20 "m1 counters" mirror_counted m1
weftctl mirror-show m1 >"$T/show"
grep -q "host h1: ingress of t-web1, egress of t-web1 -> wm-" "$T/show" \
    || fail "mirror-show: $(cat "$T/show")"
weftctl dump-flows h3 | grep -q "tun_id=.*# mirror m1" \
    || fail "no delivery flow for m1 on h3"
pass "counters ($(packets_of m1) packets) and per-host rows in mirror-show"

# The Prometheus endpoint (metrics-listen) has the same counters.
scrape() {
    ip netns exec "$LAB_NAME-core" python3 -c '
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen("http://127.0.0.1:9477" + sys.argv[1], timeout=5)
    print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code)' "$1"
}
scrape /metrics >"$T/metrics"
head -1 "$T/metrics" | grep -qx 200 || fail "scrape: $(head -3 "$T/metrics")"
metric() {  # NAME{LABELS} -> value
    awk -v k="$1" '$1 == k { print $2 }' "$T/metrics"
}
[ "$(metric 'weft_hosts{state="ready"}')" = 3 ] \
    || fail "metrics: hosts ready: $(grep weft_hosts "$T/metrics")"
[ "$(metric 'weft_mirror_packets_total{mirror="m1",state="active"}')" -gt 0 ] \
    || fail "metrics: m1 packets: $(grep mirror "$T/metrics")"
[ "$(metric 'weft_flows_synced{host="h1"}')" = 1 ] || fail "metrics: synced"
[ "$(metric 'weft_reconcile_duration_seconds_count{host="h1"}')" -gt 0 ] \
    || fail "metrics: no reconcile rounds counted"
[ "$(metric weft_rpc_requests_total)" -gt 0 ] || fail "metrics: rpc"
grep -q '^# TYPE weft_reconcile_duration_seconds histogram$' "$T/metrics" \
    || fail "metrics: histogram type"
[ "$(scrape /other | head -1)" = 404 ] || fail "metrics: /other not 404"
pass "Prometheus endpoint: hosts, flows, reconcile histogram, mirror and RPC counters"

# 3. Local SPAN on h1: what web3 sends, to col1 on the same host.
weftctl mirror-add span sources=vnic:web3 to=vnic:col1 direction=ingress \
    >/dev/null || fail "mirror-add span"
wait_until 15 "span active" mirror_state span active
wait_until 15 "span row on h1" mirror_row_present h1 span
vsctl h1 --bare --columns=output_port find Mirror name=weft-span \
    | grep -q . || fail "span has no output port"
warm_up col1 web3 10.0.0.12
capture col1 span
vm_exec web3 ping -c 3 -i 0.2 -W 1 10.0.0.12 >/dev/null || fail "ping web3"
stop_capture span >"$T/span.txt"
n=$(grep -c '10.0.0.13 > 10.0.0.12: ICMP echo request' "$T/span.txt" || true)
[ "$n" -ge 3 ] \
    || fail "local SPAN missed web3's requests: $(cat "$T/span.txt")"
grep -q "echo reply" "$T/span.txt" \
    && fail "ingress-only SPAN copied replies: $(cat "$T/span.txt")"
pass "local SPAN on h1, ingress only"

# A host port as the destination: waits for the port, then mirrors to it.
weftctl mirror-add hp sources=vnic:web3 to=host:h1/mon0 direction=ingress \
    >/dev/null || fail "mirror-add hp"
wait_until 15 "hp waits for mon0" mirror_state hp destination-down
weftctl mirror-list | grep -q "hp: destination port mon0 is not on h1's bridge" \
    || fail "no reason for hp: $(weftctl mirror-list)"
lab exec h1 ovs-vsctl add-port br-int mon0 -- set interface mon0 type=internal
wait_until 15 "hp active" mirror_state hp active
wait_until 15 "hp row on h1" mirror_row_present h1 hp
[ "$(vsctl h1 --bare --columns=output_port find Mirror name=weft-hp)" \
  = "$(vsctl h1 --bare --columns=_uuid find Port name=mon0)" ] \
    || fail "hp does not output to mon0"
weftctl mirror-del hp >/dev/null || fail "mirror-del hp"
wait_until 15 "hp row gone" eval '! mirror_row_present h1 hp'
lab exec h1 ovs-vsctl del-port br-int mon0
pass "a host port as destination: reported missing, then mirrored to once added"

# 4. Deleting m1 stops it; a segment-wide mirror follows a VM started later.
weftctl mirror-del m1 >/dev/null || fail "mirror-del m1"
weftctl mirror-add seg sources=segment:web to=vnic:col >/dev/null \
    || fail "mirror-add seg"
wait_until 15 "m1 row gone on h1" eval '! mirror_row_present h1 m1'
lab vm-add h2 web4 --ip 10.0.0.14/24 --segment web >/dev/null
wait_until 30 "web4 -> web2" can_ping web4 10.0.0.12
wait_until 15 "seg covers web4" eval \
    'vsctl h2 list Mirror weft-seg | grep -q "select_src_port.*,"'
warm_up col web4 10.0.0.12
capture col seg
vm_exec web4 ping -c 3 -i 0.2 -W 1 10.0.0.12 >/dev/null || fail "ping web4"
stop_capture seg >"$T/seg.txt"
grep -q '10.0.0.14 > 10.0.0.12: ICMP echo request' "$T/seg.txt" \
    || fail "web4, started after the mirror, not mirrored: $(cat "$T/seg.txt")"
pass "segment mirror covers a VM started after it was made"

# 5. weftd killed and restarted: same rows, no duplicates, still mirroring.
before=$(vsctl h2 --bare --columns=_uuid find Mirror name=weft-seg)
stop_weftd KILL
capture col down
vm_exec web1 ping -c 2 -i 0.2 -W 1 10.0.0.12 >/dev/null || fail "ping web1"
stop_capture down >"$T/down.txt"
grep -q '10.0.0.11 > 10.0.0.12' "$T/down.txt" \
    || fail "mirroring stopped with weftd: $(cat "$T/down.txt")"
start_weftd
wait_until 30 "hosts ready again" hosts_ready 3
wait_until 30 "seg active again" mirror_state seg active
sleep 2
after=$(vsctl h2 --bare --columns=_uuid find Mirror name=weft-seg)
[ "$before" = "$after" ] \
    || fail "the Mirror row was replaced: $before -> $after"
for h in h1 h2 h3; do
    n=$(vsctl $h --bare --columns=name find Mirror | grep -c . || true)
    want=$([ $h = h1 ] && echo 2 || { [ $h = h2 ] && echo 1 || echo 0; })
    [ "$n" = "$want" ] || fail "$h has $n Mirror rows, not $want"
done
warm_up col web1 10.0.0.12
capture col again
vm_exec web1 ping -c 2 -i 0.2 -W 1 10.0.0.12 >/dev/null || fail "ping web1"
stop_capture again >"$T/again.txt"
grep -q '10.0.0.11 > 10.0.0.12' "$T/again.txt" \
    || fail "not mirrored after the restart: $(cat "$T/again.txt")"
pass "weftd killed: mirroring goes on; restarted: same rows, no duplicates"

# 6. Collector down: reported, other traffic unaffected; deletion cleans.
lab vm-stop col >/dev/null
wait_until 30 "seg destination-down" mirror_state seg destination-down
can_ping web1 10.0.0.12 || fail "traffic broken while the collector is down"
weftctl mirror-list | grep -q "seg: destination vNIC col is not placed" \
    || fail "mirror-list gives no reason: $(weftctl mirror-list)"
pass "collector down: reported, web traffic unaffected"
weftctl mirror-del seg >/dev/null || fail "mirror-del seg"
weftctl mirror-del span >/dev/null || fail "mirror-del span"
for h in h1 h2 h3; do
    wait_until 15 "no Mirror rows on $h" eval "[ \$(mirror_rows $h) = 0 ]"
    wait_until 15 "no mirror ports on $h" eval \
        "! vsctl $h list-ports br-int | grep -q '^wm-'"
done
pass "deleting the mirrors removes their rows and tunnel ports"
finish
