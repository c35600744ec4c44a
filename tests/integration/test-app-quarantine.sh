#!/bin/bash
# The quarantine sample app (apps/quarantine) on a real lab: it polls the
# switch's port counters (app ABI 1.1), and a VM that sends faster than
# the threshold (~900 UDP broadcasts per second, which nobody answers:
# with a flood ping to one VM, that VM would send as fast, and be
# quarantined too) gets a drop flow for its port and a warning
# in the log; the other VMs keep talking; "weftctl app-reload quarantine"
# lifts it.  Below the threshold nothing happens.
LAB_NAME=ap2qua
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps-lib.sh"
: "${QUARANTINE:?QUARANTINE must point at quarantine.so}"

begin
lab up 1 >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
cat >>"$CONF" <<EOC

[app quarantine]
path = $QUARANTINE
segment = lab
pps = 300
interval = 500
EOC
for i in 1 2 3; do
    lab vm-add h1 vm$i --ip 10.9.2.$i/24 --segment lab >/dev/null
done
start_weftd
wait_until 30 "hosts ready" hosts_ready 1
weftctl set-policy - >/dev/null <<'EOP' || fail "set-policy"
segment lab vlan=300
EOP
[ "$(app_field quarantine state)" = running ] \
    || fail "quarantine not running: $(weftctl app-list)"
wait_until 30 "table 30 sends segment lab to the app" claimed 300
pass "quarantine loaded from the configuration, claims segment lab"

port_of() { lab exec h1 ovs-vsctl get Interface "t-$1" ofport; }
drop_flow() { ofctl dump-flows br-int | grep -q "priority=1000,in_port=$1 actions=drop"; }

# 1. Slow traffic passes and quarantines nobody.
wait_until 30 "vm1 -> vm2" can_ping vm1 10.9.2.2
vm_exec vm1 ping -c 10 -i 0.2 -W 1 10.9.2.2 >/dev/null || fail "vm1 -> vm2 (slow)"
vm_exec vm3 ping -c 10 -i 0.2 -W 1 10.9.2.2 >/dev/null || fail "vm3 -> vm2 (slow)"
grep -q "quarantine: quarantined" "$T/weftd.log" && fail "quarantined at 5 packets/s"
pass "5 packets/s from vm1 and vm3 pass, nobody quarantined"

# 2. ~900 packets/s from vm3 get vm3 quarantined within seconds.  (ping
# without replies sends at most ~100/s.)
p3=$(port_of vm3)
ip netns exec "$LAB_NAME-vm-vm3" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
end = time.time() + 15
while time.time() < end:
    for _ in range(10):
        s.sendto(b"x" * 64, ("10.9.2.255", 9))
    time.sleep(0.01)' &
flood_pid=$!
wait_until 15 "vm3 quarantined" grep -q "quarantine: quarantined h1/t-vm3" "$T/weftd.log"
wait_until 10 "drop flow for vm3's port $p3" drop_flow "$p3"
kill "$flood_pid" 2>/dev/null || true
wait "$flood_pid" 2>/dev/null || true
rate=$(grep -o "quarantined h1/t-vm3 .*: [0-9]* packets/s" "$T/weftd.log" | grep -o "[0-9]* packets/s")
pass "UDP broadcasts from vm3: quarantined at $rate (threshold 300), drop flow on port $p3"

# 3. vm3 is cut off; vm1 still reaches vm2; vm1 alone was never isolated.
cannot_ping vm3 10.9.2.2 || fail "vm3 still reaches vm2"
can_ping vm1 10.9.2.2 || fail "vm1 no longer reaches vm2"
drop_flow "$(port_of vm1)" && fail "vm1 quarantined too"
drop_flow "$(port_of vm2)" && fail "vm2 quarantined too"
pass "vm3 cannot reach vm2; vm1 still can; only vm3 is quarantined"

# 4. app-reload lifts the quarantine.
weftctl app-reload quarantine >/dev/null || fail "app-reload"
wait_until 20 "drop flow removed" eval "! drop_flow $p3"
wait_until 20 "vm3 -> vm2 again" can_ping vm3 10.9.2.2
pass "app-reload quarantine: drop flow removed, vm3 reaches vm2 again"

grep -q "|ERR|" "$T/weftd.log" && fail "errors in weftd's log: $(grep '|ERR|' "$T/weftd.log" | head -3)"
finish
