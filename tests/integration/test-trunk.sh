#!/bin/bash
# A segment without a VNI crosses hosts as an 802.1Q VLAN on the hosts'
# uplink (a trunk), while segments with a VNI keep using VXLAN.  The trunk
# is a Linux bridge in the lab's core namespace with one veth per host,
# plugged into br-int as the port "trunk" (weftd never touches it: it is
# not Weft's port).
LAB_NAME=wttrunk
. "$(dirname "$0")/lib.sh"

begin
lab up 2 --with-br-int >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
core=$LAB_NAME-core
ip -n "$core" link add tr0 mtu 1600 type bridge
ip -n "$core" link set tr0 up
for h in h1 h2; do
    ip -n "$core" link add "tr-$h" mtu 1600 type veth peer name trunk \
        mtu 1600 netns "$LAB_NAME-$h"
    ip -n "$core" link set "tr-$h" master tr0 up
    ip netns exec "$core" ethtool -K "tr-$h" tx off >/dev/null
    ip netns exec "$LAB_NAME-$h" ethtool -K trunk tx off >/dev/null
    ip -n "$LAB_NAME-$h" link set trunk up
    lab exec "$h" ovs-vsctl add-port br-int trunk
done
write_config
sed -i 's/^datapath-type = netdev$/datapath-type = netdev\nuplink = trunk/' "$CONF"
grep -q "^uplink = trunk" "$CONF" || fail "config has no uplink"

lab vm-add h1 p1 --ip 10.0.4.1/24 --segment plain >/dev/null
lab vm-add h2 p2 --ip 10.0.4.2/24 --segment plain >/dev/null
lab vm-add h2 q2 --ip 10.0.4.3/24 --segment other >/dev/null
start_weftd
wait_until 30 "hosts ready" hosts_ready 2
weftctl set-policy - >/dev/null <<'EOP' || fail "set-policy"
segment plain vlan=400
segment other vlan=401
EOP

timeout 30 ip netns exec "$core" tcpdump -i tr0 -nn -e -c 2 vlan 400 and icmp \
    >"$T/tcpdump.log" 2>&1 &
dump_pid=$!
sleep 1
wait_until 30 "p1 -> p2 over the trunk" can_ping p1 10.0.4.2
wait "$dump_pid" || true
grep -q "vlan 400" "$T/tcpdump.log" \
    || fail "no 802.1Q tag 400 on the trunk: $(cat "$T/tcpdump.log")"
cannot_ping p1 10.0.4.3 || fail "p1 reached q2 in another segment"
lab exec h1 ovs-vsctl list-ports br-int | grep -q '^vx-' \
    && fail "a VXLAN tunnel was made for segments without a VNI"
lab exec h1 ovs-vsctl list-ports br-int | grep -qx trunk \
    || fail "weftd removed the trunk port"
pass "a segment without a VNI rides the trunk as VLAN 400; others stay apart"

# doctor: the trunk as weftd sees it, an uplink missing from the bridge,
# and a host without an uplink (configuration reloaded by SIGHUP).
doctor_uplink() { weftctl doctor "$1" | grep -A1 "^$1 *uplink "; }
doctor_uplink h1 >"$T/doctor" || fail "doctor: no uplink line"
grep -q "^h1 *uplink *ok *uplink trunk (OpenFlow port [0-9]*) trunks \
VLAN 400 (plain)$" "$T/doctor" || fail "doctor, trunk up: $(cat "$T/doctor")"
lab exec h1 ovs-vsctl del-port br-int trunk
uplink_gone() {
    doctor_uplink h1 >"$T/doctor" 2>&1
    grep -q "^h1 *uplink *error *uplink trunk is not on br-int: 1 segments" \
        "$T/doctor"
}
wait_until 20 "doctor reports the uplink gone" uplink_gone
grep -q "fix: add the port (ovs-vsctl add-port br-int trunk)" "$T/doctor" \
    || fail "doctor, trunk gone: no fix: $(cat "$T/doctor")"
lab exec h1 ovs-vsctl add-port br-int trunk
wait_until 30 "p1 -> p2 over the trunk again" can_ping p1 10.0.4.2

sed -i '/^uplink = trunk$/d' "$CONF"
kill -HUP "$(weftd_pid)"
no_uplink() {
    doctor_uplink h2 >"$T/doctor" 2>&1
    grep -q "^h2 *uplink *warn *segment plain (VLAN 400, no VNI) has vNICs \
here and on h1, but this host has no uplink" "$T/doctor"
}
wait_until 20 "doctor reports h2 without an uplink" no_uplink
grep -q "fix: give the segment a VNI" "$T/doctor" \
    || fail "doctor, no uplink: no fix: $(cat "$T/doctor")"
pass "doctor: the VLANs the uplink trunks, an uplink off the bridge and a host without one, each with its fix"

finish
