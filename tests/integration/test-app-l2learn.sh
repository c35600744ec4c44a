#!/bin/bash
# The l2learn sample app (apps/l2learn) on a real lab: loaded from the
# configuration file, it claims segment "lab", learns MACs from
# packet-ins and installs flows with an idle timeout; two VMs ping each
# other through it while a VM of another segment stays out.  Then the app
# is reloaded under traffic (its table-miss flow is not re-added) and
# unloaded (the segment goes back to the core's forwarding).
LAB_NAME=apl2
. "$(dirname "$0")/lib.sh"
: "${L2LEARN:?L2LEARN must point at l2learn.so}"

vm_exec() { local vm=$1; shift; ip netns exec "$LAB_NAME-vm-$vm" "$@"; }
can_ping() { vm_exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }
cannot_ping() { ! vm_exec "$1" ping -c 2 -i 0.2 -W 1 "$2" >/dev/null 2>&1; }
ofctl() { lab exec h1 ovs-ofctl -O OpenFlow15 "$@"; }
app_field() {  # FIELD: of l2learn in "app-list --format json"
    weftctl --format json app-list | python3 -c '
import json, sys
apps = [a for a in json.load(sys.stdin) if a["name"] == "l2learn"]
print(apps[0][sys.argv[1]] if apps else "none")' "$1"
}
learned_flows() { ofctl dump-flows br-int table=100 | grep -c "idle_timeout=60.*dl_dst="; }
has_learned_flows() { [ "$(learned_flows)" -ge 2 ]; }
claimed() { ofctl dump-flows br-int table=30 | grep -q "reg6=0x12c actions=goto_table:100"; }
table100_empty() { ! ofctl dump-flows br-int table=100 | grep -q cookie; }
all_synced() { appctl host/list | grep -q "in sync"; }

begin
lab up 1 >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
cat >>"$CONF" <<EOC

[app l2learn]
path = $L2LEARN
segment = lab
idle = 60
EOC
lab vm-add h1 vm1 --ip 10.9.0.1/24 --segment lab >/dev/null
lab vm-add h1 vm2 --ip 10.9.0.2/24 --segment lab >/dev/null
lab vm-add h1 web1 --ip 10.9.0.3/24 --segment web >/dev/null
start_weftd
wait_until 30 "hosts ready" hosts_ready 1
weftctl set-policy - >/dev/null <<'EOP' || fail "set-policy"
segment lab vlan=300
segment web vlan=100
EOP

# 1. Loaded from the configuration, running, owning tables 100-109.
[ "$(app_field state)" = running ] || fail "l2learn not running: $(weftctl app-list)"
[ "$(app_field first_table)" = 100 ] || fail "l2learn not in tables 100-109"
pass "l2learn loaded from the configuration, running in tables 100-109"

# 2. Ping through the app: packet-ins handled, learned flows installed.
wait_until 30 "table 30 sends segment lab to the app" claimed
wait_until 30 "vm1 -> vm2 through l2learn" can_ping vm1 10.9.0.2
can_ping vm2 10.9.0.1 || fail "vm2 -> vm1"
[ "$(app_field packet_ins)" -ge 3 ] || fail "only $(app_field packet_ins) packet-ins"
wait_until 10 "learned flows on the switch" has_learned_flows
ofctl dump-flows br-int table=100 | grep -q "priority=10,in_port=.*dl_dst=.*actions=output:" \
    || fail "no learned output flow: $(ofctl dump-flows br-int table=100)"
weftctl dump-flows h1 | grep -q "table=100, .*# app l2learn" \
    || fail "dump-flows does not name the app"
pass "vm1 <-> vm2 through l2learn: $(app_field packet_ins) packet-ins, $(learned_flows) learned flows with idle_timeout=60"

# 3. Once learned, pings go through the learned flows, not the controller
# (broadcast ARP still does, hence no exact count).
learned_packets() {
    ofctl dump-flows br-int table=100 | grep "dl_dst=" \
        | sed -n 's/.*n_packets=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}
before=$(app_field packet_ins)
lp_before=$(learned_packets)
vm_exec vm1 ping -c 5 -i 0.2 -W 1 10.9.0.2 >/dev/null || fail "ping after learning"
after=$(app_field packet_ins)
lp_after=$(learned_packets)
[ $((lp_after - lp_before)) -ge 10 ] \
    || fail "learned flows matched only $((lp_after - lp_before)) packets of 10"
[ $((after - before)) -lt 5 ] \
    || fail "learned traffic still reached the app ($before -> $after packet-ins)"
pass "learned traffic is forwarded by the learned flows ($((lp_after - lp_before)) packets), $((after - before)) packet-ins meanwhile"

# 4. The claimed segment stays apart from others.
cannot_ping web1 10.9.0.1 || fail "web1 (segment web) reached vm1"
pass "web1 of another segment cannot reach vm1"

# 5. Reload under traffic: flows re-declared and reconciled, not flushed.
wait_until 20 "flows in sync" all_synced
miss_age() {
    ofctl dump-flows br-int table=100 | grep "priority=0 actions=CONTROLLER" \
        | sed -n 's/.*duration=\([0-9]*\).*/\1/p'
}
sleep 2
age=$(miss_age)
[ -n "$age" ] && [ "$age" -ge 1 ] || fail "no table-miss flow in table 100"
vm_exec vm1 ping -i 0.1 -c 40 10.9.0.2 >"$T/ping.log" 2>&1 &
ping_pid=$!
sleep 1
weftctl app-reload l2learn >/dev/null || fail "app-reload"
wait $ping_pid || fail "ping during reload failed: $(tail -3 "$T/ping.log")"
grep -q " 0% packet loss" "$T/ping.log" \
    || log "note: $(grep 'packet loss' "$T/ping.log")"
[ "$(app_field state)" = running ] || fail "not running after reload"
new_age=$(miss_age)
[ -n "$new_age" ] && [ "$new_age" -ge "$age" ] \
    || fail "table-miss flow was re-added by the reload (age $age s -> ${new_age:-none} s)"
can_ping vm1 10.9.0.2 || fail "vm1 -> vm2 after reload"
pass "app-reload under traffic: $(grep -o '[0-9.]*% packet loss' "$T/ping.log"), table-miss flow kept (age $age s -> $new_age s)"

# 6. Unload: the app's flows and claim go, the core forwards segment lab.
weftctl app-unload l2learn >/dev/null || fail "app-unload"
[ "$(app_field state)" = none ] || fail "still listed after unload"
wait_until 20 "table 100 empty" table100_empty
wait_until 20 "vm1 -> vm2 by the core" can_ping vm1 10.9.0.2
ofctl dump-flows br-int table=30 | grep -q "goto_table:100" && fail "claim left in table 30"
pass "app-unload: app flows and claim removed, segment lab forwarded by the core"

grep -q "ERR" "$T/weftd.log" && fail "errors in weftd's log: $(grep ERR "$T/weftd.log" | head -3)"
finish
