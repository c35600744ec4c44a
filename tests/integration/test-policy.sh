#!/bin/bash
# weftctl against weftd with a real policy database: whole-document and
# fine-grained changes, dry runs, every refusal leaving the policy in force
# unchanged, history and rollback, and the policy surviving restarts of
# weftd and of the policy database's ovsdb-server.  vNICs are placed only in
# segments the policy knows.
LAB_NAME=wtpolicy
. "$(dirname "$0")/lib.sh"

expect_fail() {  # STATUS PATTERN CMD...
    local want=$1 pattern=$2 got=0 out
    shift 2
    out=$("$@" 2>&1) || got=$?
    [ "$got" = "$want" ] || fail "'$*' exited $got, not $want: $out"
    grep -q -- "$pattern" <<<"$out" || fail "'$*' said '$out', not /$pattern/"
}

begin
lab up 2 >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
expect_fail 1 "cannot connect to weftd.*is weftd running" weftctl ping
pass "weftd not running: weftctl says so, exit 1"

lab vm-add h1 web1 --segment web >/dev/null
lab vm-add h2 db1 --segment db >/dev/null
lab vm-add h1 x1 --segment nope >/dev/null
start_weftd
wait_until 30 "hosts ready" hosts_ready 2
weftctl ping | grep -q "pong from weftd" || fail "ping"
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "socket mode $(stat -c %a "$SOCK")"
wait_until 10 "empty policy: vNICs unplaced" sh -c \
    "$WEFTCTL --socket $SOCK list-ports | grep -q 'web1 .*unplaced: unknown segment \"web\"'"
pass "socket 0660; with no policy, vNICs of unknown segments stay unplaced"

weftctl set-policy "$WEFT_TOP/config/policy.example" >"$T/out" \
    || fail "set-policy: $(cat "$T/out")"
grep -q "policy generation 1 in force" "$T/out" || fail "no generation 1"
grep -q "^+ segment web vlan=100 vni=5001" "$T/out" || fail "no diff"
wait_until 10 "web1 placed" sh -c "$WEFTCTL --socket $SOCK list-ports h1 \
    | grep -q 'web1 .* web .*placed'"
weftctl list-ports h2 | grep -q "db1 .* db .*placed" || fail "db1 not placed"
weftctl list-ports h1 | grep -q "x1 .*unplaced: unknown segment \"nope\"" \
    || fail "x1 not refused"
pass "set-policy: generation 1, vNICs placed in known segments only"

weftctl get-policy >"$T/gen1.txt"
weftctl set-policy "$T/gen1.txt" | grep -q "no changes; policy generation 1" \
    || fail "set-policy of get-policy output is not a no-op"
weftctl get-policy | cmp -s - "$T/gen1.txt" || fail "get-policy not stable"
pass "get-policy round-trips exactly"

# Refusals: whole document rejected with its location; nothing changes.
bad() {  # PATTERN DOCUMENT
    printf '%s\n' "$2" >"$T/bad.txt"
    expect_fail 1 "$1" weftctl set-policy "$T/bad.txt"
}
bad "bad.txt:2: vlan: .*out of range" "segment a vlan=10
segment b vlan=5000"
bad "bad.txt:1: to: .*ghost" "rule r allow from=any to=ghost"
bad "bad.txt:2: name: .*duplicate\|already" "segment a vlan=10
group a segments=a"
bad "bad.txt:1: cidrs: .*host bits set" "group g cidrs=10.0.0.1/24"
bad "group loop" "segment s vlan=5
group a groups=b
group b groups=a"
bad "bad.txt:1: frobnicate: .*unknown" "segment a vlan=10 frobnicate=1"
weftctl get-policy | cmp -s - "$T/gen1.txt" || fail "a refused policy changed something"
weftctl status | grep -q "policy_generation: 1" || fail "generation moved"
pass "invalid policies are refused whole with line and field; policy unchanged"

weftctl --dry-run rule-add ssh allow from=web to=db proto=tcp ports=22 \
    >"$T/out"
grep -q "^+ rule ssh allow from=web to=db proto=tcp ports=22" "$T/out" \
    || fail "dry-run shows no change: $(cat "$T/out")"
grep -q "dry run: nothing changed" "$T/out" || fail "dry run not said"
weftctl get-policy | cmp -s - "$T/gen1.txt" || fail "dry run changed the policy"
pass "--dry-run shows the change and changes nothing"

weftctl segment-add nope vlan=700 | grep -q "generation 2" || fail "segment-add"
wait_until 10 "x1 placed once its segment exists" sh -c \
    "$WEFTCTL --socket $SOCK list-ports h1 | grep -q 'x1 .* nope .*placed'"
weftctl segment-list | grep -qx "nope vlan=700" || fail "segment-list"
weftctl group-add ops labels=ops | grep -q "generation 3" || fail "group-add"
weftctl rule-add ops-ssh allow from=ops to=db proto=tcp ports=22 \
    | grep -q "generation 4" || fail "rule-add"
weftctl rule-list | grep -q "^ops-ssh allow from=ops to=db" || fail "rule-list"
expect_fail 1 "still used by rule ops-ssh" weftctl group-del ops
expect_fail 1 "no segment named \"zzz\"" weftctl segment-del zzz
expect_fail 1 "VLAN 100 is already used by segment web" \
    weftctl segment-add dup vlan=100
weftctl rule-del ops-ssh | grep -q "generation 5" || fail "rule-del"
weftctl group-del ops | grep -q "generation 6" || fail "group-del"
pass "segment/group/rule add, list, del; refusals name the reason"

weftctl policy-history >"$T/hist"
[ "$(grep -c '^[0-9]' "$T/hist")" -eq 6 ] || fail "history: $(cat "$T/hist")"
grep -q "^6 .*group-del ops  (in force)" "$T/hist" || fail "history in force"
weftctl policy-rollback 1 | grep -q "generation 7 in force" \
    || fail "rollback"
weftctl get-policy | cmp -s - "$T/gen1.txt" || fail "rollback is not gen 1"
wait_until 10 "x1 unplaced after rollback" sh -c \
    "$WEFTCTL --socket $SOCK list-ports h1 | grep -q 'x1 .*unplaced'"
expect_fail 1 "no generation \"99\"" weftctl policy-rollback 99
pass "policy-history and policy-rollback"

# weftd restart: the policy survives, placed ports are not touched.
ofport=$(lab exec h1 ovs-vsctl get interface t-web1 ofport)
uuid=$(lab exec h1 ovs-vsctl get interface t-web1 _uuid)
pid=$(weftd_pid)
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
rm -f "$T/weftd.pid"
start_weftd
wait_until 30 "ready after restart" hosts_ready 2
weftctl get-policy | cmp -s - "$T/gen1.txt" || fail "policy lost on restart"
weftctl status | grep -q "policy_generation: 7" || fail "generation lost"
sleep 1
[ "$(lab exec h1 ovs-vsctl get interface t-web1 _uuid)" = "$uuid" ] \
    || fail "t-web1 was re-created on restart"
[ "$(lab exec h1 ovs-vsctl get interface t-web1 ofport)" = "$ofport" ] \
    || fail "t-web1 changed ofport"
pass "weftd kill -9 + restart: policy survives, ports untouched"

# The policy database restarts: changes refused while it is down, then it
# all carries on.
dbpid=$(cat "/run/weft-lab/$LAB_NAME/core/ovsdb-server.pid")
kill "$dbpid"
wait_until 10 "policy db down" sh -c "! kill -0 $dbpid 2>/dev/null"
wait_until 10 "loss noticed" sh -c "$WEFTCTL --socket $SOCK status \
    | grep -q 'policy_db_connected: false'"
expect_fail 1 "not reachable" weftctl segment-add later vlan=800
weftctl list-ports h1 | grep -q "web1 .*placed" || fail "placement lost"
lab restart core policy-db
wait_until 20 "policy db back" sh -c "$WEFTCTL --socket $SOCK status \
    | grep -q 'policy_db_connected: true'"
weftctl get-policy | cmp -s - "$T/gen1.txt" || fail "policy lost with db restart"
weftctl segment-add later vlan=800 | grep -q "generation 8" \
    || fail "no change possible after db restart"
pass "policy ovsdb-server restart: refused while down, policy kept, back after"

# Bad clients: garbage closes only that connection.
python3 - "$SOCK" <<'PY' || fail "garbage client"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"\xc1\xc1 this is not msgpack")
s.settimeout(5)
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
assert b"parse-error" in data or b"invalid" in data, data
PY
weftctl ping | grep -q pong || fail "weftd died of garbage"
expect_fail 2 "unknown command" weftctl frobnicate
expect_fail 2 "unknown option" weftctl --frobnicate ping
pass "garbage closes only its connection; unknown command/option exit 2"

finish
