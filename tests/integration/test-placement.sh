#!/bin/bash
# VM port placement from libvirt: domains started, stopped and undefined on
# two hosts appear on and disappear from br-int with the right external_ids;
# bad interfaces stay unplaced with a reason; a user's own port is never
# touched; kill -9 of weftd with changes made meanwhile converges on
# restart; ports stay while libvirtd is unreachable.
LAB_NAME=wtplace
. "$(dirname "$0")/lib.sh"

begin
lab up 2 >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
lab exec h1 ovs-vsctl add-br br-int -- set bridge br-int \
    datapath_type=netdev fail_mode=secure
lab exec h1 ovs-vsctl add-port br-int userport -- set interface userport \
    type=internal
lab vm-add h1 vm1 --ip 10.0.0.1/24 --segment web --groups fe,pci >/dev/null
lab vm-add h2 vm2 --ip 10.0.0.2/24 --segment db >/dev/null

start_weftd
wait_until 30 "both hosts ready" hosts_ready 2
printf 'segment web vlan=100\nsegment db vlan=200\n' | weftctl set-policy - \
    >/dev/null || fail "set-policy"

ports() { lab exec "$1" ovs-vsctl --bare list-ports br-int | sort | xargs; }
iface_id() {  # HOST IFACE KEY
    lab exec "$1" ovs-vsctl --if-exists get interface "$2" \
        "external_ids:$3" 2>/dev/null | tr -d '"'
}
has_port() { ports "$1" | grep -qw "$2"; }
no_port() { ! has_port "$1" "$2"; }

wait_until 10 "t-vm1 on h1" has_port h1 t-vm1
wait_until 10 "t-vm2 on h2" has_port h2 t-vm2
mac1=$(lab exec vm1 cat /sys/class/net/eth0/address)
uuid1=$(lab exec h1 virsh domuuid vm1 | xargs)
[ "$(iface_id h1 t-vm1 attached-mac)" = "$mac1" ] || fail "attached-mac"
[ "$(iface_id h1 t-vm1 vm-uuid)" = "$uuid1" ] || fail "vm-uuid"
[ "$(iface_id h1 t-vm1 iface-status)" = active ] || fail "iface-status"
[ "$(iface_id h1 t-vm1 weft-owned)" = true ] || fail "weft-owned"
[ "$(iface_id h1 t-vm1 weft-segment)" = web ] || fail "weft-segment"
[ "$(iface_id h1 t-vm1 weft-groups)" = fe,pci ] || fail "weft-groups"
[ "$(iface_id h2 t-vm2 weft-segment)" = db ] || fail "h2 weft-segment"
id1=$(iface_id h1 t-vm1 iface-id)
[ ${#id1} -eq 36 ] || fail "iface-id '$id1' is not UUID-shaped"
ofport=$(lab exec h1 ovs-vsctl get interface t-vm1 ofport)
[ "$ofport" -gt 0 ] || fail "t-vm1 has no OpenFlow port"
appctl vm/list h1 | grep -q "t-vm1 $mac1 segment=web placed ofport=$ofport" \
    || fail "vm/list does not show t-vm1 placed: $(appctl vm/list h1)"
pass "started domains are placed with iface-id, attached-mac, vm-uuid, segment"

lab vm-stop vm1
wait_until 10 "t-vm1 removed" no_port h1 t-vm1
has_port h1 userport || fail "userport removed"
lab vm-start vm1
wait_until 10 "t-vm1 back" has_port h1 t-vm1
[ "$(iface_id h1 t-vm1 iface-id)" = "$id1" ] || fail "iface-id not stable"
lab vm-del vm2
wait_until 10 "t-vm2 removed after undefine" no_port h2 t-vm2
pass "stop removes, start re-places (same iface-id), undefine removes"

# A tap libvirt plugged itself (<virtualport type='openvswitch'/>; the test
# driver does not touch OVS, so the test plugs it as libvirt would) is
# adopted, not duplicated.
lab vm-add h2 plugged --segment db --virtualport --no-start >/dev/null
lab exec h2 ovs-vsctl add-port br-int t-plugged -- set interface t-plugged \
    external_ids:iface-id=from-libvirt
lab vm-start plugged
wait_until 10 "t-plugged adopted" sh -c "[ \"\$($WEFT_TOP/tools/lab --lab \
    $LAB_NAME exec h2 ovs-vsctl --if-exists get port t-plugged \
    external_ids:weft-owned)\" = '\"true\"' ]"
[ "$(lab exec h2 ovs-vsctl list-ports br-int | grep -c '^t-plugged$')" = 1 ] \
    || fail "t-plugged duplicated"
[ "$(iface_id h2 t-plugged weft-segment)" = db ] || fail "adopted port not tagged"
pass "a port libvirt plugged is adopted, not duplicated"

# Unplaceable interfaces: no segment, a MAC already used on another host.
lab vm-add h2 nosegment >/dev/null
lab vm-add h2 dupmac --mac "$mac1" --segment web >/dev/null
wait_until 10 "unplaced reasons" sh -c "ovs-appctl -t $CTL vm/list h2 \
    | grep -q 'dupmac' && ovs-appctl -t $CTL vm/list h2 | grep -q nosegment"
appctl vm/list h2 | grep -q "unplaced: no segment" \
    || fail "no reason for nosegment: $(appctl vm/list h2)"
appctl vm/list h2 | grep -q "unplaced: MAC $mac1 is already used by vm1/t-vm1 on host h1" \
    || fail "no reason for dupmac: $(appctl vm/list h2)"
grep -q "h2: dupmac/t-dupmac .* not placed: MAC $mac1 is already used" \
    "$T/weftd.log" || fail "dupmac's reason not logged"
no_port h2 t-dupmac || fail "dupmac was placed"
no_port h2 t-nosegment || fail "nosegment was placed"
has_port h1 t-vm1 || fail "vm1 lost its port because of dupmac"
pass "bad interfaces stay unplaced with a reason; others unaffected"

weftctl doctor h2 >"$T/doctor" || fail "doctor"
grep -q "^h2 *vnic *warn  nosegment/t-nosegment .* not placed: no segment" \
    "$T/doctor" || fail "doctor misses nosegment: $(cat "$T/doctor")"
grep -q "fix: give the vNIC a segment" "$T/doctor" || fail "no fix for it"
grep -q "fix: two vNICs share a MAC address" "$T/doctor" \
    || fail "doctor misses dupmac: $(cat "$T/doctor")"
grep -q "^h2 *openflow *ok  *switch connected" "$T/doctor" \
    || fail "doctor: openflow: $(cat "$T/doctor")"
grep -q "^0 errors, 2 warnings$" "$T/doctor" || fail "doctor: $(tail -1 "$T/doctor")"
pass "weftctl doctor: unplaced vNICs with the reason and what to do"

# kill -9, then change things while weftd is down.
pid=$(weftd_pid)
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
rm -f "$T/weftd.pid"
lab vm-stop vm1
lab vm-add h2 vm3 --segment db >/dev/null
lab vm-add h1 vm4 --segment web --no-start >/dev/null
lab vm-start vm4
has_port h1 t-vm1 || fail "port vanished while weftd was down"
start_weftd
wait_until 30 "ready after restart" hosts_ready 2
wait_until 10 "t-vm1 removed after restart" no_port h1 t-vm1
wait_until 10 "t-vm3 placed after restart" has_port h2 t-vm3
wait_until 10 "t-vm4 placed after restart" has_port h1 t-vm4
has_port h1 userport || fail "userport removed on restart"
pass "changes made while weftd was dead converge on restart"

# libvirtd unreachable: placed ports stay, the host reports it.
lpid=$(cat "/run/weft-lab/$LAB_NAME/h1/libvirtd.pid")
kill -STOP "$lpid"
kill -9 "$lpid"
wait_until 20 "libvirt loss noticed" sh -c "ovs-appctl -t $CTL host/list h1 \
    | grep -q 'libvirt: .*lost\|libvirt: .*cannot connect'"
has_port h1 t-vm4 || fail "t-vm4 removed while libvirtd was unreachable"
grep -q "h1: libvirt: .*placed ports are kept" "$T/weftd.log" \
    || fail "no log line for the lost libvirtd"
appctl status | grep -q ", 2 ready," || fail "h1 no longer ready for OVS"
weftctl doctor >"$T/doctor" || fail "doctor with libvirtd gone"
grep -q "^h1 *libvirt *error" "$T/doctor" \
    || fail "doctor does not report h1's libvirt: $(cat "$T/doctor")"
grep -q "^h2 *libvirt *ok" "$T/doctor" \
    || fail "doctor stopped at the broken host: $(cat "$T/doctor")"
pass "libvirtd gone: ports kept, host reports it (doctor too), weftd carries on"

lab restart h1 libvirtd
wait_until 20 "libvirt reconnected" sh -c "ovs-appctl -t $CTL host/list h1 \
    | grep -q 'libvirt: .*(connected)'"
[ "$(grep -c 'h1: libvirt connected' "$T/weftd.log")" -ge 2 ] \
    || fail "no reconnect logged"
has_port h1 t-vm4 || fail "t-vm4 lost after libvirtd restart"
lab vm-stop vm4
wait_until 10 "events flow after libvirtd restart" no_port h1 t-vm4
pass "libvirtd restarted: weftd reconnects, resyncs, events flow again"

finish
