#!/bin/bash
# Weft's libvirt network (issue 12) with the lab's libvirtd (test driver):
# the network appears on every host with a portgroup per segment; segment
# changes update it in place; a VM that only says
# <source network='weft' portgroup='web'/> is placed in web and pings its
# peer on the other host; an unknown portgroup and a NAT network give that
# vNIC a clear reason and change nothing else; show and doctor list the
# other networks as not managed; doctor's MTU check; a libvirtd that comes
# back empty gets the network again, one that is down is reported by
# network-sync while the other host is synced; a network of the same name
# that Weft did not make is never overwritten.
#
# The test driver does not resolve network interfaces as QEMU's driver
# does: the live XML keeps type='network' with only the network and the
# portgroup (no bridge, virtualport or VLAN from the network), and no tap is
# made or plugged.  So weftd places such a vNIC by its portgroup name and
# plugs the lab's veth itself; with QEMU, libvirt plugs the tap into
# br-int from the network's <virtualport> and weftd adopts it.
LAB_NAME=wtnet
. "$(dirname "$0")/lib.sh"

begin
lab up 2 >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
sed -i 's/^\[weftd\]$/[weftd]\nlibvirt-network-default-portgroup = web/' \
    "$CONF"
lab vm-add h1 web1 --ip 10.0.0.1/24 --network weft/web >/dev/null
lab vm-add h2 web2 --ip 10.0.0.2/24 --network weft/web >/dev/null
lab vm-add h1 lost1 --ip 10.0.0.3/24 --network weft/nosuch >/dev/null
lab vm-add h1 nat1 --ip 10.0.0.4/24 --network default >/dev/null

start_weftd
wait_until 30 "both hosts ready" hosts_ready 2
weftctl set-policy - >/dev/null <<'EOP' || fail "set-policy"
segment web vlan=100 vni=5001
segment db vlan=200 vni=5002
EOP

virsh_h() { local h=$1; shift; lab exec "$h" virsh -q "$@"; }
# portgroups HOST: "NAME=VLAN[*]" sorted, '*' for the default one.
portgroups() {
    virsh_h "$1" net-dumpxml weft 2>/dev/null | python3 -c '
import sys, xml.etree.ElementTree as ET
n = ET.parse(sys.stdin).getroot()
print(" ".join(sorted(pg.get("name") + "=" + pg.find("vlan/tag").get("id")
                      + ("*" if pg.get("default") == "yes" else "")
                      for pg in n.findall("portgroup"))))'
}
has_portgroups() { [ "$(portgroups "$1")" = "$2" ]; }
has_net() { virsh_h "$1" net-info "$2" >/dev/null 2>&1; }
ports() { lab exec "$1" ovs-vsctl --bare list-ports br-int | sort | xargs; }
has_port() { ports "$1" | grep -qw "$2"; }
vnic() {  # TAP: its list-ports line
    weftctl list-ports | grep " t-$1 "
}

# 1. The network on every host.
for h in h1 h2; do
    wait_until 10 "network weft on $h" has_portgroups $h "db=200 web=100*"
    xml=$(virsh_h $h net-dumpxml weft)
    echo "$xml" | grep -q "<forward mode='bridge'/>" || fail "$h: forward: $xml"
    echo "$xml" | grep -q "<bridge name='br-int'/>" || fail "$h: bridge: $xml"
    echo "$xml" | grep -q "<virtualport type='openvswitch'/>" \
        || fail "$h: virtualport: $xml"
    echo "$xml" | grep -q 'weft:network xmlns:weft="https://weft.dev/xmlns/libvirt/1"' \
        || fail "$h: no Weft metadata: $xml"
    virsh_h $h net-info weft | grep -q "^Active: *yes" || fail "$h: not active"
    virsh_h $h net-info weft | grep -q "^Autostart: *yes" \
        || fail "$h: not autostart"
done
weftctl network-sync >"$T/sync" || fail "network-sync: $(cat "$T/sync")"
[ "$(grep -c "weft *in sync: 2 portgroups" "$T/sync")" = 2 ] \
    || fail "network-sync: $(cat "$T/sync")"
pass "network weft on both hosts: bridge mode on br-int, openvswitch, a portgroup per segment (web default), active, autostart; network-sync says in sync"

# 2. A VM on the network is placed by its portgroup and reaches its peer.
wait_until 10 "t-web1 placed" has_port h1 t-web1
wait_until 10 "t-web2 placed" has_port h2 t-web2
[ "$(lab exec h1 ovs-vsctl get interface t-web1 external_ids:weft-segment \
     | tr -d '"')" = web ] || fail "t-web1 not in web"
wait_until 20 "flows synced" all_synced
wait_until 20 "web1 pings web2 across hosts" can_ping web1 10.0.0.2
pass "<source network='weft' portgroup='web'/>: placed in web, pings its peer on the other host"

# 3. Unknown portgroup, NAT network: a reason for that vNIC, nothing else.
vnic lost1 | grep -q 'unplaced: portgroup "nosuch" names no segment' \
    || fail "lost1: $(vnic lost1)"
vnic nat1 | grep -q "unplaced: libvirt network \"default\" is not Weft's network \"weft\": nat mode on libvirt's bridge virbr0" \
    || fail "nat1: $(vnic nat1)"
has_port h1 t-lost1 && fail "t-lost1 placed"
has_port h1 t-nat1 && fail "t-nat1 placed"
can_ping web1 10.0.0.2 || fail "web1 lost its peer"
has_portgroups h1 "db=200 web=100*" || fail "network changed: $(portgroups h1)"
pass "unknown portgroup and a NAT network: that vNIC unplaced with the reason, nothing else changes"

# 4. Other networks: listed as not managed, with why.
virsh_h h1 net-define /dev/stdin >/dev/null <<'EOX' || fail "define iso"
<network><name>iso</name><bridge name='virbr9'/></network>
EOX
virsh_h h1 net-start iso >/dev/null
wait_until 10 "iso listed" sh -c "'$WEFTCTL' --socket '$SOCK' show | grep -q '^h1 *iso '"
weftctl show >"$T/show" || fail "show"
grep -q "^h1 *default *nat *virbr0 *not managed: nat mode on libvirt's bridge virbr0: its VMs bypass the integration bridge, so no Weft policy applies" \
    "$T/show" || fail "show: default: $(cat "$T/show")"
grep -q "^h1 *iso *isolated *virbr9 *not managed: isolated" "$T/show" \
    || fail "show: iso: $(cat "$T/show")"
grep -q "^h2 *weft *bridge *br-int *Weft's: in sync: 2 portgroups" "$T/show" \
    || fail "show: weft: $(cat "$T/show")"
weftctl doctor >"$T/doctor" || fail "doctor"
grep -q "^h1 *network *warn  libvirt network default (nat, active) not managed: .*; 1 running vNICs use it" \
    "$T/doctor" || fail "doctor: default: $(cat "$T/doctor")"
grep -q "fix: attach these VMs to Weft's network" "$T/doctor" \
    || fail "doctor: no fix: $(cat "$T/doctor")"
grep -q "^h2 *network *ok  *libvirt network default (nat, active) not managed: .*; 0 running vNICs" \
    "$T/doctor" || fail "doctor: h2 default: $(cat "$T/doctor")"
grep -q "^h1 *network *ok  *libvirt network iso (isolated, active) not managed" \
    "$T/doctor" || fail "doctor: iso: $(cat "$T/doctor")"
grep -q "^h1 *network *ok  *libvirt network weft: in sync" "$T/doctor" \
    || fail "doctor: weft: $(cat "$T/doctor")"
grep -A1 "^h1 *vnic *warn  lost1/t-lost1 .* not placed: portgroup \"nosuch\"" \
    "$T/doctor" | grep -q "fix: use a portgroup of Weft's network" \
    || fail "doctor: lost1: $(cat "$T/doctor")"
pass "show and doctor list the other networks as not managed, with why (a warning where vNICs use them)"

# 5. Doctor's MTU check against the VXLAN overhead.
grep -q "^h1 *mtu *ok  *1 vNICs in VXLAN segments, largest MTU 1450 + 50 <= underlay MTU 1600" \
    "$T/doctor" || fail "doctor: mtu: $(cat "$T/doctor")"
lab exec h1 ovs-vsctl set interface br-phy mtu_request=1480
doctor_mtu_error() {
    weftctl doctor h1 >"$T/doctor" || true
    grep -q "^h1 *mtu *error t-web1 (web1) MTU 1450 + 50 bytes of VXLAN over IPv4 = 1500 > underlay MTU 1480 (br-phy): packets over 1430 bytes are dropped" \
        "$T/doctor"
}
wait_until 10 "doctor's MTU error" doctor_mtu_error
grep -q "fix: lower the VM's MTU to 1430 (libvirt <mtu size='1430'/>.* or raise the underlay MTU to at least 1500" \
    "$T/doctor" || fail "doctor: mtu fix: $(cat "$T/doctor")"
lab exec h1 ovs-vsctl set interface br-phy mtu_request=1600
wait_until 10 "MTU fine again" sh -c "'$WEFTCTL' --socket '$SOCK' doctor h1 | grep -q '^h1 *mtu *ok'"
pass "doctor: a VM MTU that does not fit the underlay with VXLAN's 50 bytes is an error, with the fix"

# 6. Segment changes update the network in place on every host.
weftctl segment-del db >/dev/null || fail "segment-del"
weftctl segment-add app vlan=300 vni=5003 >/dev/null || fail "segment-add"
for h in h1 h2; do
    wait_until 10 "portgroups follow on $h" has_portgroups $h "app=300 web=100*"
done
grep -q "libvirt network weft: updated" "$T/weftd.log" || fail "not logged"
can_ping web1 10.0.0.2 || fail "web1 lost its peer during the update"
pass "segment-del / segment-add: portgroups updated in place on every host, traffic unaffected"

# 7. A libvirtd that comes back empty gets the network again; one that is
# down is reported by network-sync, and the other host is still synced.
lab restart h2 libvirtd --down 6 >/dev/null 2>&1 &
restart_pid=$!
wait_until 10 "h2's libvirt down" sh -c "ovs-appctl -t $CTL host/list h2 | grep -q 'libvirt: .*\(lost\|cannot connect\)'"
weftctl network-sync >"$T/sync" && fail "network-sync passed with h2 down"
log "network-sync with h2's libvirtd down:"; cat "$T/sync"
grep -q "^h1 *weft *in sync: 2 portgroups" "$T/sync" || fail "sync: $(cat "$T/sync")"
grep -q "^h2 *weft *down: libvirt not connected" "$T/sync" \
    || fail "sync: $(cat "$T/sync")"
wait "$restart_pid" || fail "libvirtd restart"
wait_until 20 "network back on h2" has_portgroups h2 "app=300 web=100*"
wait_until 20 "t-web2 placed again" has_port h2 t-web2
wait_until 20 "web1 pings web2 again" can_ping web1 10.0.0.2
pass "libvirtd down: network-sync reports it and syncs the other host; back (empty): network defined again"

# 8. A network of Weft's name that Weft did not make is left alone: here
# the configuration names a network that h2 already has, made by hand.
virsh_h h2 net-define /dev/stdin >/dev/null <<'EOX' || fail "define foreign"
<network><name>lab2</name><forward mode='bridge'/><bridge name='br-other'/></network>
EOX
before=$(virsh_h h2 net-dumpxml lab2)
sed -i 's/^\[weftd\]$/[weftd]\nlibvirt-network = lab2/' "$CONF"
kill -HUP "$(weftd_pid)"
wait_until 10 "lab2 on h1" has_net h1 lab2
wait_until 10 "refusal logged" grep -q "h2: libvirt network lab2: refused" \
    "$T/weftd.log"
weftctl network-sync >"$T/sync" && fail "network-sync passed over a foreign network"
grep -q "^h2 *lab2 *refused: a libvirt network \"lab2\" exists and was not made by Weft (no Weft metadata): left as it is; remove it" \
    "$T/sync" || fail "sync: $(cat "$T/sync")"
grep -q "^h1 *lab2 *in sync: 2 portgroups" "$T/sync" || fail "sync h1: $(cat "$T/sync")"
[ "$(virsh_h h2 net-dumpxml lab2)" = "$before" ] || fail "foreign network changed"
weftctl doctor h2 >"$T/doctor" || fail "doctor"
grep -q "^h2 *network *error libvirt network lab2: refused" "$T/doctor" \
    || fail "doctor: $(cat "$T/doctor")"
grep -q "fix: rename or remove the other network (virsh net-destroy lab2" \
    "$T/doctor" || fail "doctor fix: $(cat "$T/doctor")"
# VMs on the former network stay: it still leads to br-int through OVS.
has_port h2 t-web2 || fail "t-web2 lost its port"
can_ping web1 10.0.0.2 || fail "web1 lost its peer"
pass "a network of Weft's name made by hand: refused with a clear message, not touched, nothing else changes"

finish
