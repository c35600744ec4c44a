#!/bin/bash
# Foundation: weftd manages the integration bridges of a 2-host lab, survives
# kill -9 without touching the dataplane, tolerates unreachable and
# non-OVS hosts, and reloads its configuration on SIGHUP.
LAB_NAME=wtfound
. "$(dirname "$0")/lib.sh"

begin
lab up 2 >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
log "config:"; cat "$CONF"

start_weftd
wait_until 30 "both hosts ready" hosts_ready 2
pass "weftd reports both hosts ready"

target=$(sed -n 's/^controller-target = //p' "$CONF")
[ -n "$target" ] || target=$(awk -F' = ' '/^openflow-listen/ {
    split($2, a, ":"); print "tcp:" a[3] ":" a[2] }' "$CONF")
for h in h1 h2; do
    got=$(lab exec "$h" ovs-vsctl get-controller br-int)
    [ "$got" = "$target" ] || fail "$h: controller is '$got', not '$target'"
    mode=$(lab exec "$h" ovs-vsctl get-fail-mode br-int)
    [ "$mode" = secure ] || fail "$h: fail_mode is '$mode'"
    dpt=$(lab exec "$h" ovs-vsctl get bridge br-int datapath_type)
    [ "$dpt" = netdev ] || fail "$h: datapath_type is '$dpt'"
    lab exec "$h" ovs-vsctl --timeout=20 wait-until controller . \
        is_connected=true || fail "$h: controller never connected"
    lab exec "$h" ovs-ofctl -O OpenFlow13 show br-int | grep -q dpid:7765 \
        || fail "$h: bridge has no Weft datapath ID"
done
pass "both bridges: weftd is their connected controller, fail_mode secure"

appctl host/list h1 | grep -q "openflow: connected from" \
    || fail "host/list h1 does not show the OpenFlow connection"
pass "host/list shows the switch connection"

# A flow that weftd must never remove, and a ping across h1's bridge that
# must keep flowing while weftd is dead.
lab exec h1 ovs-ofctl -O OpenFlow13 add-flow br-int \
    "table=0,priority=1234,cookie=0x99,actions=drop"
n_txn_before=$(grep -c "writing br-int settings" "$T/weftd.log" || true)
[ "$n_txn_before" -ge 2 ] \
    || fail "expected bridge configurations on both hosts, saw $n_txn_before"

old_pid=$(weftd_pid)
kill -9 "$old_pid"
wait "$old_pid" 2>/dev/null || true
rm -f "$T/weftd.pid"
sleep 1
for h in h1 h2; do
    mode=$(lab exec "$h" ovs-vsctl get-fail-mode br-int)
    [ "$mode" = secure ] || fail "$h: fail_mode '$mode' after kill -9"
done
lab exec h1 ovs-ofctl -O OpenFlow13 dump-flows br-int | grep -q priority=1234 \
    || fail "h1 lost its flow when weftd died"
pass "kill -9 weftd: bridges stay secure with their flows"

start_weftd
wait_until 30 "both hosts ready after restart" hosts_ready 2
lab exec h1 ovs-ofctl -O OpenFlow13 dump-flows br-int | grep -q priority=1234 \
    || fail "h1 lost its flow when weftd restarted"
n_txn_after=$(grep -c "writing br-int settings" "$T/weftd.log" || true)
[ "$n_txn_after" -eq "$n_txn_before" ] \
    || fail "restart rewrote the bridges ($n_txn_after configurations)"
pass "restart: reconnected, flows kept, no OVSDB writes needed"

# An unreachable host and a host whose OVSDB is not Open_vSwitch: each in
# its own state, the others stay ready.
ovsdb-tool create "$T/other.db" \
    /usr/share/openvswitch/local-config.ovsschema
ip netns exec "$LAB_NAME-core" ovsdb-server "$T/other.db" \
    --remote="punix:$T/other.sock" --pidfile="$T/other.pid" \
    --unixctl="$T/other.ctl" --log-file="$T/other.log" --detach
cat >>"$CONF" <<EOC

[host h8]
ovsdb = unix:$T/other.sock
tunnel-ip = 10.255.0.8

[host h9]
ovsdb = tcp:127.0.0.1:1
tunnel-ip = 10.255.0.9
EOC
kill -HUP "$(weftd_pid)"
wait_until 10 "h8 in error" sh -c "ovs-appctl -t $CTL host/list h8 \
    | grep -q 'host h8: error'"
wait_until 10 "h9 lost" sh -c "ovs-appctl -t $CTL host/list h9 \
    | grep -q 'host h9: lost'"
appctl host/list h8 | grep -q "serves no Open_vSwitch database" \
    || fail "h8's error does not say what is wrong"
appctl host/list h9 | grep -q "retry: in" || fail "h9 shows no retry"
hosts_ready 2 || appctl status | grep -q "2 ready" \
    || fail "h1/h2 not ready while h8/h9 fail"
grep -q "h8: connecting -> error: .*serves no Open_vSwitch database" \
    "$T/weftd.log" || fail "no clear log line for h8"
pass "SIGHUP adds hosts; a bad-schema host and a dead host fail alone"

# A reload with a broken file changes nothing.
cp "$CONF" "$T/good.conf"
echo "bogus line" >>"$CONF"
kill -HUP "$(weftd_pid)"
wait_until 10 "refused reload logged" grep -q "reload refused" "$T/weftd.log"
appctl status | grep -q "^hosts: 4" || fail "broken reload changed hosts"
pass "a broken configuration is refused on reload, old one stays"

# Removing hosts.
cp "$T/good.conf" "$CONF"
sed -i '/^\[host h8\]/,$d' "$CONF"
kill -HUP "$(weftd_pid)"
wait_until 10 "back to 2 hosts" sh -c "ovs-appctl -t $CTL status \
    | grep -q '^hosts: 2, 0 connecting, 0 syncing, 2 ready'"
pass "SIGHUP removes hosts"
kill "$(cat "$T/other.pid")"

# SIGTERM: clean exit, flows in place.
pid=$(weftd_pid)
kill -TERM "$pid"
wait_until 10 "weftd exit" sh -c "! kill -0 $pid"
rm -f "$T/weftd.pid"
lab exec h1 ovs-ofctl -O OpenFlow13 dump-flows br-int | grep -q priority=1234 \
    || fail "flow gone after SIGTERM"
[ ! -e "$CTL" ] || fail "control socket left behind"
pass "SIGTERM exits cleanly, flows stay"

finish
