#!/bin/bash
# Flow export (issue 12) with real packets on a 2-host lab: sFlow, NetFlow
# and IPFIX rows on every bridge from the policy's exports; a collector in
# the lab's core namespace (where the hosts' ovs-vswitchd reach it over the
# underlay) decodes what arrives while VMs ping each other.  Bad input is
# refused and changes nothing; a row changed by hand is put back; a row not
# Weft's is left alone; weftd killed and restarted neither duplicates nor
# rewrites rows; deleting an export removes its rows and its records stop.
LAB_NAME=wtfx
. "$(dirname "$0")/lib.sh"

vsctl() { ovs-vsctl --db="unix:/run/weft-lab/$LAB_NAME/$1/db.sock" "${@:2}"; }
COLLECTOR=$(dirname "$0")/flow-collector.py
RECORDS=$T/records.jsonl

# rows HOST TABLE: how many rows TABLE has on HOST.
rows() { vsctl "$1" --bare --columns=_uuid list "$2" | grep -c . || true; }
# col HOST TABLE COLUMN: that column of the bridge's row (one row).
col() { vsctl "$1" --bare --columns="$3" list "$2"; }
export_state() {  # NAME HOST -> state
    weftctl --format json export-list | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e["name"] == sys.argv[1]:
        for h in e["hosts"]:
            if h["host"] == sys.argv[2]:
                print(h["state"])' "$1" "$2"
}
installed_on() {  # NAME HOST
    [ "$(export_state "$1" "$2")" = installed ]
}
# count PROTO [FIELD]: datagrams of PROTO received so far, or the sum of
# FIELD over them; "count sflow agent=IP" counts those of one agent.
count() {
    python3 - "$RECORDS" "$@" <<'EOF'
import json, sys
path, proto = sys.argv[1], sys.argv[2]
field = sys.argv[3] if len(sys.argv) > 3 else None
total = 0
for line in open(path):
    r = json.loads(line)
    if r.get("proto") != proto:
        continue
    if field and "=" in field:
        k, v = field.split("=", 1)
        total += r.get(k) == v
    else:
        total += r.get(field, 0) if field else 1
print(total)
EOF
}
got() { [ "$(count "$@")" -gt 0 ]; }
# traffic SECONDS: web1 and web2 ping each other for that long.
traffic() {
    vm_exec web1 ping -q -c $(($1 * 5)) -i 0.2 -W 1 10.0.0.12 >/dev/null &
    local p1=$!
    vm_exec web2 ping -q -c $(($1 * 5)) -i 0.2 -W 1 10.0.0.11 >/dev/null \
        || true
    wait $p1 || true
}
stop_collector() {
    [ -s "$T/collector.pid" ] && kill "$(cat "$T/collector.pid")" 2>/dev/null
    rm -f "$T/collector.pid"
    return 0
}

begin
trap 'status=$?; stop_collector; cleanup; exit $status' EXIT
start_time=$SECONDS
lab up 2 >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
SUB=$(lab hosts | awk '$1 == "h1" { sub(/\.[0-9]+$/, "", $2); print $2 }')
H1_IP=$SUB.1
H2_IP=$SUB.2
COL=$SUB.254    # ul0 in the core namespace: the hosts' underlay peer
write_config
lab vm-add h1 web1 --ip 10.0.0.11/24 --segment web >/dev/null
lab vm-add h2 web2 --ip 10.0.0.12/24 --segment web >/dev/null
lab vm-add h1 db1 --ip 10.0.1.11/24 --segment db >/dev/null
lab vm-add h2 db2 --ip 10.0.1.12/24 --segment db >/dev/null
start_weftd
wait_until 30 "hosts ready" hosts_ready 2
weftctl set-policy - >/dev/null <<'EOP' || fail "set-policy"
segment web vlan=100 vni=5001
segment db vlan=200 vni=5002
EOP
wait_until 30 "web1 -> web2" can_ping web1 10.0.0.12

lab exec core python3 "$COLLECTOR" "$RECORDS" "$COL" 6343 2055 4739 4740 \
    >"$T/collector.log" 2>&1 &
echo $! >"$T/collector.pid"
wait_until 10 "collector listening" grep -q listening "$RECORDS"

# 1. Bad input: refused with the field at fault, nothing changes.
weftctl get-policy >"$T/policy.before"
expect_refused() {  # PATTERN ARGS...
    local pattern=$1
    shift
    weftctl export-add "$@" >"$T/out" 2>&1 && fail "accepted: $*"
    grep -q -- "$pattern" "$T/out" || fail "export-add $*: $(cat "$T/out")"
}
expect_refused 'collectors: export e: "collector.lab:6343" is not IPv4:PORT' \
    e sflow collectors=collector.lab:6343
expect_refused 'collectors: export e: 0 is out of range 1..65535' \
    e sflow collectors=$COL:0
expect_refused 'sampling: export e: 0 is out of range 1..1000000' \
    e sflow collectors=$COL:6343 sampling=0
expect_refused 'sampling: export e: "-1" is not a number' \
    e ipfix collectors=$COL:4739 sampling=-1
expect_refused 'polling: export e: polling does not apply to netflow' \
    e netflow collectors=$COL:2055 polling=5
expect_refused 'segments: export e: only an ipfix export can be per segment' \
    e sflow collectors=$COL:6343 segments=web
expect_refused 'segments: export e: unknown segment "nope"' \
    e ipfix collectors=$COL:4739 segments=nope
expect_refused 'type: export e: missing type' e collectors=$COL:6343
printf 'segment web vlan=100 vni=5001\nexport x sflow collectors=%s:99999\n' \
    "$COL" >"$T/bad.policy"
weftctl set-policy "$T/bad.policy" >"$T/out" 2>&1 \
    && fail "bad document accepted"
grep -q "bad.policy:2: collectors: export x: 99999 is out of range 1..65535" \
    "$T/out" || fail "set-policy error: $(cat "$T/out")"
weftctl get-policy | cmp -s - "$T/policy.before" \
    || fail "a refused export changed the policy"
for h in h1 h2; do
    for t in sFlow NetFlow IPFIX; do
        [ "$(rows $h $t)" = 0 ] || fail "$h has a $t row after refusals"
    done
done
pass "bad exports refused with the reason; policy and bridges unchanged"

# 2. sFlow: a row on each bridge, datagrams from each host's agent.
weftctl export-add sf sflow collectors=$COL:6343 sampling=1 polling=2 \
    header=96 >/dev/null || fail "export-add sf"
for h in h1 h2; do
    wait_until 15 "sf installed on $h" installed_on sf $h
done
[ "$(col h1 sFlow targets)" = "$COL:6343" ] \
    || fail "h1 sFlow targets: $(col h1 sFlow targets)"
[ "$(col h1 sFlow sampling) $(col h1 sFlow polling) $(col h1 sFlow header)" \
  = "1 2 96" ] || fail "h1 sFlow: $(vsctl h1 list sFlow)"
[ "$(col h2 sFlow agent)" = "$H2_IP" ] \
    || fail "h2 sFlow agent: $(col h2 sFlow agent)"
vsctl h1 --bare --columns=external_ids list sFlow | grep -q "weft-export=sf" \
    || fail "h1 sFlow row not marked: $(vsctl h1 list sFlow)"
[ "$(vsctl h1 --bare --columns=sflow list Bridge br-int)" \
  = "$(vsctl h1 --bare --columns=_uuid list sFlow)" ] \
    || fail "br-int does not point at the sFlow row"
weftctl export-list >"$T/list"
grep -q "^sf  *sflow  *2/2  *$COL:6343" "$T/list" \
    || fail "export-list: $(cat "$T/list")"
grep -q "h1: installed, h2: installed" "$T/list" \
    || fail "export-list hosts: $(cat "$T/list")"
traffic 3
wait_until 15 "sFlow flow samples from h1" got sflow flow_samples
wait_until 15 "sFlow from agent h1" got sflow agent=$H1_IP
wait_until 15 "sFlow from agent h2" got sflow agent=$H2_IP
wait_until 15 "sFlow counter samples" got sflow counter_samples
pass "sFlow: rows on both bridges, $(count sflow flow_samples) flow and" \
     "$(count sflow counter_samples) counter samples from both agents"

# 3. NetFlow v5: records as flows expire (active timeout 2 s here).
weftctl export-add nf netflow collectors=$COL:2055 active-timeout=2 \
    >/dev/null || fail "export-add nf"
for h in h1 h2; do
    wait_until 15 "nf installed on $h" installed_on nf $h
done
[ "$(col h2 NetFlow active_timeout)" = 2 ] \
    || fail "h2 NetFlow: $(vsctl h2 list NetFlow)"
traffic 4
wait_until 20 "NetFlow v5 records" got netflow records
pass "NetFlow v5: $(count netflow records) flow records received"

# 4. IPFIX: templates and data records.
weftctl export-add fix ipfix collectors=$COL:4739 sampling=1 \
    active-timeout=2 >/dev/null || fail "export-add fix"
for h in h1 h2; do
    wait_until 15 "fix installed on $h" installed_on fix $h
done
[ "$(col h1 IPFIX sampling) $(col h1 IPFIX cache_active_timeout)" = "1 2" ] \
    || fail "h1 IPFIX: $(vsctl h1 list IPFIX)"
traffic 4
wait_until 20 "IPFIX data records" got ipfix data_sets
got ipfix templates || fail "IPFIX without templates"
pass "IPFIX: $(count ipfix templates) template and $(count ipfix data_sets)" \
     "data sets received"

# 5. A row changed by hand is put back, in place.
uuid=$(vsctl h1 --bare --columns=_uuid list sFlow)
vsctl h1 set sFlow "$uuid" sampling=999 targets='"192.0.2.1:1"'
wait_until 15 "h1 sFlow put back" \
    eval '[ "$(col h1 sFlow sampling)" = 1 ]'
[ "$(col h1 sFlow targets)" = "$COL:6343" ] \
    || fail "targets not put back: $(col h1 sFlow targets)"
[ "$(vsctl h1 --bare --columns=_uuid list sFlow)" = "$uuid" ] \
    || fail "the sFlow row was replaced rather than put back"
pass "a row changed by hand is put back in place"

# 6. weftd killed and restarted: same rows, nothing rewritten.
for h in h1 h2; do
    for t in sFlow NetFlow IPFIX; do
        vsctl $h --bare --columns=_uuid list $t
    done
done >"$T/uuids.before"
stop_weftd KILL
log_lines=$(wc -l <"$T/weftd.log")
start_weftd
wait_until 30 "hosts ready again" hosts_ready 2
for h in h1 h2; do
    for e in sf nf fix; do
        wait_until 30 "$e installed on $h again" installed_on $e $h
    done
done
sleep 2
for h in h1 h2; do
    for t in sFlow NetFlow IPFIX; do
        [ "$(rows $h $t)" = 1 ] || fail "$h has $(rows $h $t) $t rows"
        vsctl $h --bare --columns=_uuid list $t
    done
done >"$T/uuids.after"
cmp -s "$T/uuids.before" "$T/uuids.after" \
    || fail "rows replaced by the restart:" \
            "$(diff "$T/uuids.before" "$T/uuids.after")"
tail -n +"$((log_lines + 1))" "$T/weftd.log" | grep "writing br-int settings" \
    | grep -E "sflow|ipfix|netflow" && fail "the restart rewrote export rows"
pass "weftd killed and restarted: same rows, none duplicated or rewritten"

# 7. A row that is not Weft's is left alone and reported.
weftctl export-del nf >/dev/null || fail "export-del nf"
for h in h1 h2; do
    wait_until 15 "NetFlow gone on $h" eval "[ \$(rows $h NetFlow) = 0 ]"
done
vsctl h2 -- --id=@n create NetFlow targets='"192.0.2.7:9995"' \
    -- set Bridge br-int netflow=@n >/dev/null
weftctl export-add nf netflow collectors=$COL:2055 >/dev/null \
    || fail "export-add nf again"
wait_until 15 "nf installed on h1" installed_on nf h1
wait_until 15 "nf foreign on h2" eval '[ "$(export_state nf h2)" = foreign ]'
sleep 1
[ "$(col h2 NetFlow targets)" = 192.0.2.7:9995 ] \
    || fail "the foreign NetFlow row was touched: $(vsctl h2 list NetFlow)"
vsctl h2 clear Bridge br-int netflow
wait_until 15 "nf installed on h2 once the foreign row is gone" \
    installed_on nf h2
pass "a foreign row is left alone and reported; replaced once removed"

# 8. Deleting exports removes the rows and the records stop.
weftctl export-del sf >/dev/null || fail "export-del sf"
for h in h1 h2; do
    wait_until 15 "sFlow gone on $h" eval "[ \$(rows $h sFlow) = 0 ]"
done
sleep 3     # datagrams already on their way
before=$(count sflow)
traffic 3
sleep 2
[ "$(count sflow)" = "$before" ] \
    || fail "sFlow datagrams after the export was deleted"
[ "$(rows h1 IPFIX) $(rows h2 NetFlow)" = "1 1" ] \
    || fail "deleting sf touched the other exports"
weftctl export-del fix >/dev/null || fail "export-del fix"
weftctl export-del nf >/dev/null || fail "export-del nf"
for h in h1 h2; do
    for t in IPFIX NetFlow; do
        wait_until 15 "$t gone on $h" eval "[ \$(rows $h $t) = 0 ]"
    done
done
[ "$(weftctl --format json export-list)" = "[]" ] || fail "exports left"
can_ping web1 10.0.0.12 || fail "traffic broken"
pass "deleting exports removes their rows; sFlow records stop"

# 9. Per-segment IPFIX: only what segment web's vNICs send, to its own
#    collector, with web's VLAN as observation domain.
# ipfix_at PORT [DOMAIN]: IPFIX datagrams received on PORT (from DOMAIN);
# ipfix_data PORT: their data sets.
ipfix_at() {
    python3 - "$RECORDS" "$@" <<'EOF'
import json, sys
path, port = sys.argv[1], int(sys.argv[2])
domain = int(sys.argv[3]) if len(sys.argv) > 3 else None
n = 0
for line in open(path):
    r = json.loads(line)
    n += (r.get("proto") == "ipfix" and r.get("port") == port
          and (domain is None or r.get("domain") == domain))
print(n)
EOF
}
ipfix_data() {
    python3 - "$RECORDS" "$1" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("proto") == "ipfix" and r.get("port") == int(sys.argv[2]):
        n += r.get("data_sets", 0)
print(n)
EOF
}
weftctl export-add seg ipfix collectors=$COL:4740 segments=web sampling=1 \
    >/dev/null || fail "export-add seg"
for h in h1 h2; do
    wait_until 15 "seg installed on $h" installed_on seg $h
done
[ "$(vsctl h1 --bare --columns=id list Flow_Sample_Collector_Set)" != "" ] \
    || fail "no collector set on h1"
weftctl dump-flows h1 | grep -q "sample(probability=65535,collector_set_id=.*obs_domain_id=100" \
    || fail "no sample() in h1's flows: $(weftctl dump-flows h1 | grep 'table=0')"
weftctl dump-flows h1 | grep "sample(" | grep -q "200->reg6" \
    && fail "segment db's vNIC is sampled"
# The VMs' own background (IPv6 neighbor discovery...) is sampled too:
# what counts is that db's pings add nothing and web's pings add records,
# all from domain 100.
sleep 3
before=$(ipfix_data 4740)
vm_exec db1 ping -q -c 10 -i 0.2 -W 1 10.0.1.12 >/dev/null || fail "db1 -> db2"
sleep 3
db_added=$(( $(ipfix_data 4740) - before ))
before=$(ipfix_data 4740)
traffic 3
wait_until 20 "per-segment IPFIX" \
    eval '[ $(( $(ipfix_data 4740) - before )) -ge 10 ]'
web_added=$(( $(ipfix_data 4740) - before ))
[ "$db_added" -lt 5 ] || fail "$db_added IPFIX data sets during db's pings"
# Domain 0: the exporter's own messages (OVS sends a few per collector
# set), not samples.
[ "$(ipfix_at 4740)" = "$(( $(ipfix_at 4740 100) + $(ipfix_at 4740 0) ))" ] \
    || fail "per-segment IPFIX from another observation domain:" \
            "$(grep '"port": 4740' "$RECORDS" | sort | uniq -c)"
pass "per-segment IPFIX: web's pings added $web_added data sets (domain 100), db's pings $db_added"
weftctl export-del seg >/dev/null || fail "export-del seg"
for h in h1 h2; do
    wait_until 15 "collector set gone on $h" eval \
        "[ \$(rows $h Flow_Sample_Collector_Set) = 0 ]"
done
wait_until 15 "sample() gone" eval '! weftctl dump-flows h1 | grep -q "sample("'
pass "per-segment export deleted: collector sets and sample() actions gone"
log "test took $((SECONDS - start_time)) s"
finish
