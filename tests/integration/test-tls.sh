#!/bin/bash
# TLS on every connection weftd makes or accepts: a lab whose hosts serve
# OVSDB only over TLS (pssl:6640) and whose switches reach weftd over TLS,
# with certificates from ovs-pki.  Traffic flows; peers with a certificate
# from another CA, or no TLS at all, are refused while the rest carries on;
# a missing key stops weftd at start with a clear message.
LAB_NAME=wttls
. "$(dirname "$0")/lib.sh"

LABDIR=/run/weft-lab/$LAB_NAME
h1_ip() { lab hosts | awk 'NR == 1 { print $2 }'; }

begin
lab up 2 --tls >"$T/lab.log" 2>&1 || { cat "$T/lab.log"; fail "lab up"; }
write_config
grep -q "^ovsdb = ssl:" "$CONF" \
    || fail "the TLS lab's config has no ssl remote"
lab vm-add h1 a1 --ip 10.0.0.1/24 --segment web >/dev/null
lab vm-add h2 a2 --ip 10.0.0.2/24 --segment web >/dev/null

# 1. A key file that cannot be read: weftd refuses to start, saying which.
sed "s|^ssl-private-key = .*|ssl-private-key = $T/missing.pem|" "$CONF" \
    >"$T/bad.conf"
set +e
ip netns exec "$LAB_NAME-core" "$WEFTD" -c "$T/bad.conf" >"$T/bad.out" 2>&1
status=$?
set -e
[ "$status" = 2 ] || fail "weftd with a missing key exited $status, not 2"
grep -q "ssl-private-key $T/missing.pem: No such file" "$T/bad.out" \
    || fail "no clear message: $(cat "$T/bad.out")"
pass "a missing key stops weftd at start with status 2, naming the file"

# 2. Everything over TLS: OVSDB sessions, OpenFlow, real packets.
start_weftd
wait_until 30 "hosts ready over TLS" hosts_ready 2
appctl host/list >"$T/hosts"
[ "$(grep -c 'ovsdb: ssl:' "$T/hosts")" = 2 ] \
    || fail "OVSDB sessions not over TLS: $(cat "$T/hosts")"
[ "$(grep -c 'openflow: connected from ssl:' "$T/hosts")" = 2 ] \
    || fail "switches not connected over TLS: $(cat "$T/hosts")"
weftctl set-policy - >/dev/null <<'EOP' || fail "set-policy"
segment web vlan=100 vni=5001
EOP
wait_until 30 "a1 -> a2 over TLS-managed hosts" can_ping a1 10.0.0.2
pass "OVSDB and OpenFlow over TLS; a1 -> a2 across hosts"

# 3. Impostors are refused; weftd and the hosts carry on.
mkdir -p "$T/rogue"
ovs-pki --dir="$T/rogue/pki" --force init >"$T/rogue/pki.log" 2>&1
(cd "$T/rogue" && ovs-pki --dir="$T/rogue/pki" --force req+sign rogue switch \
    >>"$T/rogue/pki.log" 2>&1)
of=ssl:$(h1_ip | sed 's/\.[0-9]*$/.254/'):6653
rogue=(--private-key="$T/rogue/rogue-privkey.pem"
       --certificate="$T/rogue/rogue-cert.pem"
       --ca-cert="$LABDIR/pki/controllerca/cacert.pem")
[ -s "$T/rogue/rogue-cert.pem" ] || fail "no rogue certificate made"
# The same commands with the lab's own certificates work: only the CA
# differs below.
ip netns exec "$LAB_NAME-h1" timeout 10 ovs-ofctl -O OpenFlow13 \
    --private-key="$LABDIR/h1/h1-privkey.pem" \
    --certificate="$LABDIR/h1/h1-cert.pem" \
    --ca-cert="$LABDIR/pki/controllerca/cacert.pem" probe "$of" \
    >"$T/good.out" 2>&1 \
    || fail "a good certificate was refused: $(cat "$T/good.out")"
ip netns exec "$LAB_NAME-core" timeout 10 ovs-vsctl \
    --private-key="$LABDIR/weftd-privkey.pem" \
    --certificate="$LABDIR/weftd-cert.pem" \
    --ca-cert="$LABDIR/pki/switchca/cacert.pem" \
    --db="ssl:$(h1_ip):6640" \
    --timeout=5 br-exists br-int \
    || fail "the hosts' OVSDB refused weftd's certificate"
if ip netns exec "$LAB_NAME-h1" timeout 10 ovs-ofctl -O OpenFlow13 \
       "${rogue[@]}" probe "$of" >"$T/rogue.out" 2>&1; then
    fail "a switch certificate from another CA was accepted"
fi
if ip netns exec "$LAB_NAME-h1" timeout 10 ovs-ofctl -O OpenFlow13 \
       probe "${of/ssl:/tcp:}" >"$T/plain.out" 2>&1; then
    fail "plain TCP was accepted on the TLS listener"
fi
# The server's CA is the right one here: only the client is a stranger.
if ip netns exec "$LAB_NAME-core" timeout 10 ovs-vsctl \
       --private-key="$T/rogue/rogue-privkey.pem" \
       --certificate="$T/rogue/rogue-cert.pem" \
       --ca-cert="$LABDIR/pki/switchca/cacert.pem" --db="ssl:$(h1_ip):6640" \
       --timeout=5 br-exists br-int >"$T/rogue-db.out" 2>&1; then
    fail "the hosts' OVSDB accepted a client certificate from another CA"
fi
kill -0 "$(weftd_pid)" || fail "weftd died"
hosts_ready 2 || fail "hosts not ready after the impostors"
can_ping a1 10.0.0.2 || fail "traffic broken after the impostors"
pass "certificates from another CA and plain TCP refused; the rest carries on"

# 4. weftd restarted over TLS: back to ready.
stop_weftd KILL
start_weftd
wait_until 30 "hosts ready again" hosts_ready 2
can_ping a1 10.0.0.2 || fail "traffic after the restart"
pass "weftd restarted over TLS: hosts ready, traffic flows"
finish
