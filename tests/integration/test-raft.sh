#!/bin/bash
# The policy database as a 3-member clustered OVSDB (Raft): weftd follows
# the leader; the leader killed, changes go on through the new one and the
# dataplane does not notice; the member comes back and catches up.
LAB_NAME=wtraft
. "$(dirname "$0")/lib.sh"

member_ctl() { echo "/run/weft-lab/$LAB_NAME/core/policy$1.ctl"; }
# The generation a member has, read from its own copy of the database.
member_generation() {
    ovsdb-client --timeout=5 dump \
        "unix:/run/weft-lab/$LAB_NAME/core/policy$1.sock" Weft_Policy Policy \
        generation 2>/dev/null | awk 'NR > 2 && $1 ~ /^[0-9]+$/ { print $1 }'
}

begin
lab up 2 --raft >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
grep -q "^policy-db = unix:.*policy1.sock,unix:.*policy2.sock,unix:.*policy3.sock$" \
    "$CONF" || fail "no clustered policy-db in the config: $(grep policy-db "$CONF")"
lab vm-add h1 a1 --ip 10.0.0.1/24 --segment web >/dev/null
lab vm-add h2 a2 --ip 10.0.0.2/24 --segment web >/dev/null
start_weftd
wait_until 30 "hosts ready" hosts_ready 2
wait_until 30 "a cluster leader" lab policy-leader
weftctl set-policy - >/dev/null <<'EOP' || fail "set-policy on the cluster"
segment web vlan=100 vni=5001
EOP
wait_until 30 "a1 -> a2" can_ping a1 10.0.0.2
for i in 1 2 3; do
    wait_until 10 "member $i has generation 1" \
        eval "[ \"\$(member_generation $i)\" = 1 ]"
done
pass "policy written through the cluster, replicated to all three members"

# Kill the leader (by the lab's pid file) under traffic.
leader=$(lab policy-leader)
vm_exec a1 ping -i 0.05 -c 100 10.0.0.2 >"$T/ping.log" 2>&1 &
ping_pid=$!
lab restart core "policy-db$leader" --down 6 &
restart_pid=$!
sleep 1
wait_until 20 "a new leader" eval "l=\$(lab policy-leader) && [ \"\$l\" != $leader ]"
wait_until 30 "a change through the new leader" \
    weftctl rule-add r1 allow from=web to=web proto=tcp ports=22
weftctl get-policy | grep -q "^rule r1 allow" || fail "r1 not in force"
wait "$ping_pid" || true
grep -q " 0% packet loss" "$T/ping.log" \
    || fail "the leader's death cost packets: $(tail -2 "$T/ping.log")"
pass "leader $leader killed: a new leader, changes go on, 0 packets lost"

# The old leader comes back and catches up.
wait "$restart_pid" || fail "restarting member $leader"
wait_until 30 "member $leader caught up" \
    eval "[ \"\$(member_generation $leader)\" = 2 ]"
weftctl policy-history | grep -q "rule-add r1" || fail "history lost r1"
pass "member $leader rejoined and caught up (generation 2)"
finish
