#!/bin/bash
# The flowstats sample app (apps/flowstats) on a real lab: it polls the
# switch's port counters (app ABI 1.1) and writes per-vNIC counters to a
# file; after a ping of known size the file's counters match what
# ovs-ofctl dump-ports says for the same ports.
LAB_NAME=ap2fst
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps-lib.sh"
: "${FLOWSTATS:?FLOWSTATS must point at flowstats.so}"

begin
lab up 1 >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
OUT=$T/flowstats.txt
cat >>"$CONF" <<EOC

[app flowstats]
path = $FLOWSTATS
file = $OUT
interval = 500
EOC
lab vm-add h1 vm1 --ip 10.9.3.1/24 --segment lab >/dev/null
lab vm-add h1 vm2 --ip 10.9.3.2/24 --segment lab >/dev/null
start_weftd
wait_until 30 "hosts ready" hosts_ready 1
weftctl set-policy - >/dev/null <<'EOP' || fail "set-policy"
segment lab vlan=300
EOP
[ "$(app_field flowstats state)" = running ] \
    || fail "flowstats not running: $(weftctl app-list)"
has_rows() { grep -q "^h1 t-vm1 vm1 " "$OUT" && grep -q "^h1 t-vm2 vm2 " "$OUT"; }
wait_until 20 "rows for vm1 and vm2 in $OUT" has_rows
head -1 "$OUT" | grep -q "^# host tap vm mac segment sent_packets" || fail "no header"
pass "flowstats writes a row per vNIC to its file"

# FIELD of vNIC TAP in the file: 6 sent_packets, 7 sent_bytes,
# 8 recv_packets, 9 recv_bytes.
field() { awk -v t="$1" -v f="$2" '$2 == t { print $f }' "$OUT"; }
# What ovs-ofctl says: rx (sent by the VM) or tx packets of TAP's port.
ofctl_pkts() {
    local port
    port=$(lab exec h1 ovs-vsctl get Interface "$1" ofport)
    ofctl dump-ports br-int "$port" | sed -n "s/.*$2 pkts=\([0-9]*\).*/\1/p"
}

wait_until 30 "vm1 -> vm2" can_ping vm1 10.9.3.2
sent0=$(field t-vm1 6)
recv0=$(field t-vm2 8)
vm_exec vm1 ping -c 50 -i 0.02 -W 1 10.9.3.2 >/dev/null || fail "ping"
grown() { [ $(( $(field t-vm1 6) - sent0 )) -ge 50 ] && [ $(( $(field t-vm2 8) - recv0 )) -ge 50 ]; }
wait_until 10 "counters grown by 50 packets" grown
pass "50 pings: vm1 sent +$(( $(field t-vm1 6) - sent0 )), vm2 received +$(( $(field t-vm2 8) - recv0 )) packets"

# The file agrees with the switch (polled again within 0.5 s; stray
# packets such as IPv6 router solicitations may move both: retry).
agrees() {
    [ "$(field t-vm1 6)" = "$(ofctl_pkts t-vm1 rx)" ] \
        && [ "$(field t-vm2 8)" = "$(ofctl_pkts t-vm2 tx)" ]
}
wait_until 10 "file == ovs-ofctl dump-ports" agrees
pass "file counters equal ovs-ofctl dump-ports (vm1 sent $(field t-vm1 6), vm2 received $(field t-vm2 8))"

# A vNIC that goes leaves the file.
lab vm-del vm2 >/dev/null
wait_until 20 "vm2's row gone" eval '! grep -q "^h1 t-vm2 " "$OUT"'
pass "vm2 deleted: its row is gone"

grep -q "|ERR|" "$T/weftd.log" && fail "errors in weftd's log: $(grep '|ERR|' "$T/weftd.log" | head -3)"
finish
