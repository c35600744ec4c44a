#!/bin/bash
# weftctl verify and trace by the flows the switches have (issue 11's
# verify, issue 6's trace) on a 2-host lab: every pair agrees with the
# policy; trace names the rule's flows on both hosts; a flow deleted behind
# Weft's back is found (a mismatch naming the pair and the rule), then
# repaired, and traffic flows again; verify --probe sends real packets and
# catches an operator's drop flow that the flow evaluator cannot see; a
# host whose switch is down is reported and the others are still checked.
LAB_NAME=wtvfy
. "$(dirname "$0")/lib.sh"

ofctl() { lab exec "$1" ovs-ofctl -O OpenFlow15 "${@:2}"; }

# cookie_of HOST OWNER: the cookie of the flows weftd made for OWNER.
cookie_of() {
    weftctl --format json dump-flows "$1" | python3 -c '
import json, sys
print(next(f["cookie"] for f in json.load(sys.stdin)
           if f["owner"] == sys.argv[1]))' "$2"
}

switch_gone() {  # HOST
    weftctl --format json list-hosts | python3 -c '
import json, sys
sys.exit(0 if any(h["name"] == sys.argv[1] and not h["openflow"]
                  for h in json.load(sys.stdin)) else 1)' "$1"
}

begin
lab up 2 >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
lab vm-add h1 web1 --ip 10.0.0.11/24 --segment web >/dev/null
lab vm-add h2 web2 --ip 10.0.0.12/24 --segment web >/dev/null
lab vm-add h2 db1 --ip 10.0.0.21/24 --segment db >/dev/null
lab vm-add h1 lab1 --ip 10.0.0.31/24 --segment lab >/dev/null
lab vm-add h2 lab2 --ip 10.0.0.32/24 --segment lab >/dev/null
start_weftd
wait_until 30 "hosts ready" hosts_ready 2
weftctl set-policy - >/dev/null <<'EOP' || fail "set-policy"
segment web vlan=100 vni=5001
segment db vlan=200 vni=5002
segment lab vlan=300 vni=5003 isolated
rule web-to-db allow from=web to=db proto=tcp ports=5432
rule lab-ping allow from=lab to=lab proto=icmp
EOP
wait_until 30 "web1 -> web2" can_ping web1 10.0.0.12
wait_until 30 "lab1 -> lab2" can_ping lab1 10.0.0.32
wait_until 30 "flows in sync" all_synced

# 1. Every pair of vNICs, every probe: the flows do what the policy says.
weftctl verify >"$T/verify" || fail "verify: $(cat "$T/verify")"
grep -q "5 vNICs, 5 probes per pair: 100 checked, 0 mismatches, 0 not checked" \
    "$T/verify" || fail "verify counts: $(cat "$T/verify")"
pass "verify: 5 vNICs x 4 peers x 5 probes checked on the installed flows, 0 mismatches"

# 2. trace follows the installed flows across the VXLAN hop and names the
#    rule; the policy's answer and the flows' agree.
weftctl trace web1 db1 tcp/5432 >"$T/trace" || fail "trace: $(cat "$T/trace")"
for s in "result: DELIVERED by the flows on the switches" \
         "h1: table 41: priority 1301, conj_id=" "[rule web-to-db]" \
         "into the tunnel to h2 with tun_id 5001" \
         "h2: table 50: priority 100, reg7="; do
    grep -qF "$s" "$T/trace" || fail "trace lacks \"$s\": $(cat "$T/trace")"
done
weftctl trace db1 web1 tcp/5432 >"$T/trace2" || fail "trace back"
grep -q "result: DROPPED by the flows" "$T/trace2" \
    || fail "db1 -> web1 not dropped: $(cat "$T/trace2")"
pass "trace: web1 -> db1 tcp/5432 delivered by rule web-to-db's flows on h1 and h2; db1 -> web1 dropped"

# 3. A flow deleted behind Weft's back (an operator's ovs-ofctl): verify
#    finds the pair it breaks and the rule, then weftd repairs it.
cookie=$(cookie_of h2 "rule lab-ping")
ofctl h2 del-flows br-int "cookie=$cookie/-1"
cannot_ping lab1 10.0.0.32 || fail "deleting the rule's flows changed nothing"
weftctl verify >"$T/verify" && fail "verify missed the deleted flows"
grep -q "h2: the switch's flows differ from weftd's: [1-9][0-9]* missing" \
    "$T/verify" || fail "no drift reported: $(cat "$T/verify")"
grep -q "MISMATCH lab1/.* (h1) -> lab2/.* (h2) icmp: the policy allows it (table 41: rule lab-ping" \
    "$T/verify" || fail "mismatch not reported: $(cat "$T/verify")"
pass "flows deleted by hand on h2: verify reports them and the broken pair, naming rule lab-ping"
wait_until 20 "lab1 -> lab2 again" can_ping lab1 10.0.0.32
weftctl verify >"$T/verify" || fail "still mismatches: $(cat "$T/verify")"
grep -q "differ" "$T/verify" && fail "drift left: $(cat "$T/verify")"
pass "repaired by the reconciler: lab1 -> lab2 pings again, verify clean"

# 4. --probe: real packets through the switches.  An operator's own drop
#    flow (not Weft's: not read back) fools the flow evaluator, not the
#    probes.
weftctl verify --probe h1 >"$T/probe" || fail "verify --probe: $(cat "$T/probe")"
grep -q "real packets: 40 probes (10 copies each), 0 mismatches" "$T/probe" \
    || fail "verify --probe: $(cat "$T/probe")"
pass "verify --probe h1: 40 probes of real packets, all as the policy says"
port=$(weftctl --format json list-ports | python3 -c '
import json, sys
print(next(p["ofport"] for p in json.load(sys.stdin) if p["vm"] == "lab1"))')
ofctl h1 add-flow br-int "table=0,priority=500,in_port=$port,icmp,actions=drop"
weftctl verify >/dev/null || fail "the flow evaluator saw the operator's flow"
weftctl verify --probe h1 >"$T/probe" && fail "--probe missed the drop flow"
grep -q "MISMATCH lab1/.* (h1) -> lab2/.* (h2) icmp: the policy allows it; the real packets were dropped" \
    "$T/probe" || fail "no probe mismatch: $(cat "$T/probe")"
pass "an operator's drop flow: only --probe sees lab1 -> lab2 icmp dropped"
ofctl h1 del-flows --strict br-int "table=0,priority=500,in_port=$port,icmp"
weftctl verify --probe h1 >/dev/null || fail "probe mismatch after cleanup"

# 5. A host whose switch is down: reported, the others still checked.
lab restart h2 ovs-vswitchd --down 15 >"$T/restart.log" 2>&1 &
restart_pid=$!
wait_until 15 "h2's switch gone" switch_gone h2
weftctl verify >"$T/verify" || fail "verify with h2 down: $(cat "$T/verify")"
grep -q "not checked through h2: flows unknown" "$T/verify" \
    || fail "h2 not reported: $(cat "$T/verify")"
grep -q "0 mismatches" "$T/verify" || fail "$(cat "$T/verify")"
checked=$(sed -n 's/.* \([0-9]*\) checked.*/\1/p' "$T/verify")
[ "$checked" -gt 0 ] || fail "nothing checked with h2 down: $(cat "$T/verify")"
pass "h2's switch down: verify reports it and still checks $checked probes"
wait "$restart_pid" || fail "restart: $(cat "$T/restart.log")"
wait_until 30 "h2 back" hosts_ready 2
wait_until 30 "flows in sync" all_synced
weftctl verify >/dev/null || fail "verify after h2 came back"

# 6. Bad input.
weftctl verify h9 >"$T/out" 2>&1 && fail "verify of an unknown host"
grep -q 'no host named "h9"' "$T/out" || fail "$(cat "$T/out")"
weftctl trace --probe web1 db1 >"$T/out" 2>&1 && fail "trace --probe"
grep -q -- "--probe only goes with verify" "$T/out" || fail "$(cat "$T/out")"
pass "verify of an unknown host, --probe elsewhere: clear errors"

finish
