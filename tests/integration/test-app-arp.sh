#!/bin/bash
# The arp-responder sample app (apps/arp-responder) on a real lab: it
# claims segment "lab", learns IP -> MAC from the ARP packets of the
# segment's vNICs, answers later requests for learned IPs itself (the
# request reaches no other VM) and floods requests for unknown IPs.  The
# segment's other traffic is forwarded (pings pass).
LAB_NAME=ap2arp
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps-lib.sh"
: "${ARP_RESPONDER:?ARP_RESPONDER must point at arp-responder.so}"

begin
lab up 1 >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
cat >>"$CONF" <<EOC

[app arp-responder]
path = $ARP_RESPONDER
segment = lab
EOC
for i in 1 2 3; do
    lab vm-add h1 vm$i --ip 10.9.1.$i/24 --segment lab >/dev/null
done
start_weftd
wait_until 30 "hosts ready" hosts_ready 1
weftctl set-policy - >/dev/null <<'EOP' || fail "set-policy"
segment lab vlan=300
EOP
[ "$(app_field arp-responder state)" = running ] \
    || fail "arp-responder not running: $(weftctl app-list)"
wait_until 30 "table 30 sends segment lab to the app" claimed 300
pass "arp-responder loaded from the configuration, claims segment lab"

# 1. vm1 <-> vm2: vm1's request for .2 is unknown (flooded), vm2's reply
# teaches .2, vm1's request taught .1.
wait_until 30 "vm1 -> vm2 through arp-responder" can_ping vm1 10.9.1.2
wait_until 10 "learned 10.9.1.2" grep -q "arp-responder: learned 10.9.1.2 is at" "$T/weftd.log"
grep -q "arp-responder: learned 10.9.1.1 is at" "$T/weftd.log" || fail "10.9.1.1 not learned"
pass "vm1 <-> vm2 ping; 10.9.1.1 and 10.9.1.2 learned from their ARP packets"

# 2. A request for an unknown IP is flooded: vm1 sees vm3 asking for .9
# (this also shows that the captures see ARP requests).
capture vm1 unknown arp
vm_exec vm3 ping -c 1 -W 1 10.9.1.9 >/dev/null 2>&1 || true
stop_capture unknown >"$T/unknown.txt"
grep -q "Request who-has 10.9.1.9 tell 10.9.1.3" "$T/unknown.txt" \
    || fail "request for an unknown IP not flooded: $(cat "$T/unknown.txt")"
pass "a request for an unknown IP (10.9.1.9) is flooded to the other VMs"

# 3. vm3 -> vm2: vm3 asks for .2 (known: answered by the app), vm2 asks for
# .3 (learned from vm3's request: answered).  Neither request reaches
# another VM.
vm_exec vm2 ip neigh flush dev eth0
vm_exec vm3 ip neigh flush dev eth0
capture vm1 vm1 arp
capture vm2 vm2 arp
answered_before=$(grep -c "arp-responder: answered who-has" "$T/weftd.log" || true)
vm_exec vm3 ping -c 3 -i 0.3 -W 1 10.9.1.2 >"$T/ping3.log" 2>&1 \
    || fail "vm3 -> vm2: $(cat "$T/ping3.log")"
stop_capture vm1 >"$T/vm1.txt"
stop_capture vm2 >"$T/vm2.txt"
grep -q "who-has" "$T/vm1.txt" && fail "vm1 saw ARP requests: $(grep who-has "$T/vm1.txt")"
grep -q "Request who-has 10.9.1.2 tell 10.9.1.3" "$T/vm2.txt" \
    && fail "vm3's request for .2 reached vm2 (not answered by the app)"
mac2=$(vm_exec vm2 cat /sys/class/net/eth0/address)
vm_exec vm3 ip neigh show 10.9.1.2 | grep -q "$mac2" \
    || fail "vm3's neighbour entry for .2 is not vm2's MAC: $(vm_exec vm3 ip neigh)"
answered=$(( $(grep -c "arp-responder: answered who-has" "$T/weftd.log") - answered_before ))
[ "$answered" -ge 1 ] || fail "no request answered by the app"
pass "vm3 -> vm2: $answered ARP request(s) answered by the app, none reached vm1 or vm2; vm3 has vm2's MAC"

# 4. Unload: the core forwards the segment again.
weftctl app-unload arp-responder >/dev/null || fail "app-unload"
wait_until 20 "vm1 -> vm3 by the core" can_ping vm1 10.9.1.3
pass "app-unload: segment lab forwarded by the core again"

grep -q "|ERR|" "$T/weftd.log" && fail "errors in weftd's log: $(grep '|ERR|' "$T/weftd.log" | head -3)"
finish
