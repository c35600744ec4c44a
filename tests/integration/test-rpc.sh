#!/bin/bash
# The RPC server (controller/rpc.c, run with test methods by
# rpc-echo-server) and weftctl: requests and asynchronous answers, JSON and
# text output, protocol errors that close only the guilty client, the size,
# client, pending-request and rate limits, and the socket's safety checks.
# Needs no lab.  VALGRIND="valgrind --leak-check=full ..." runs the server
# under it: every server must then exit 0 with no errors.
# No pipefail: the tests check output with "CMD | grep -q PATTERN", and
# grep -q exits at the first match, so a CMD still writing gets SIGPIPE;
# with pipefail that turned matches into random failures.
set -eu

: "${WEFTCTL:?WEFTCTL must point at the weftctl binary}"
: "${RPC_ECHO_SERVER:?RPC_ECHO_SERVER must point at rpc-echo-server}"
VALGRIND=${VALGRIND:-}

T=$(mktemp -d /tmp/weft-test-rpc.XXXXXX)
chmod 0750 "$T"
SOCK=$T/run/weftd.sock
server_pid=
FAIL_LOGS="$T/server.log"
. "$(dirname "$0")/common.sh"

cleanup() {
    if [ -n "$server_pid" ]; then
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap 'status=$?; cleanup; exit $status' EXIT
trap 'exit 1' INT TERM

ctl() { "$WEFTCTL" --socket "$SOCK" "$@"; }

# start_server [ARGS]: starts rpc-echo-server on $SOCK and waits for it.
start_server() {
    # shellcheck disable=SC2086
    $VALGRIND "$RPC_ECHO_SERVER" --socket "$SOCK" -v "$@" \
        >>"$T/server.log" 2>&1 &
    server_pid=$!
    wait_until 60 "the server to answer ping" ctl ping
}

# stop_server: SIGTERM; the server must exit 0 (under valgrind: no errors,
# no leaks) and remove its socket.
stop_server() {
    local status=0
    kill -TERM "$server_pid"
    wait "$server_pid" || status=$?
    server_pid=
    [ "$status" = 0 ] || fail "server exited $status after SIGTERM"
    [ ! -e "$SOCK" ] || fail "server left its socket behind"
}

server_alive() { kill -0 "$server_pid" 2>/dev/null && ctl ping >/dev/null; }

# expect STATUS PATTERN CMD...: CMD exits STATUS and prints PATTERN.
expect() {
    local want=$1 pattern=$2 got=0 out
    shift 2
    out=$("$@" 2>&1) || got=$?
    [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want: $out"
    grep -q -- "$pattern" <<<"$out" \
        || fail "'$*' printed '$out', expected /$pattern/"
}

# Raw protocol checks, in Python with a minimal msgpack codec (no modules
# needed beyond the standard library).
cat >"$T/rpcraw.py" <<'EOF'
import socket, struct, sys, time

class Incomplete(Exception):
    pass

EOF_ = object()

def pack(o):
    if o is None:
        return b'\xc0'
    if o is True:
        return b'\xc3'
    if o is False:
        return b'\xc2'
    if isinstance(o, int):
        if 0 <= o < 128:
            return bytes([o])
        if 0 <= o < 2**32:
            return b'\xce' + struct.pack('>I', o)
        if o >= 0:
            return b'\xcf' + struct.pack('>Q', o)
        return b'\xd3' + struct.pack('>q', o)
    if isinstance(o, str):
        b = o.encode()
        n = len(b)
        if n < 32:
            return bytes([0xa0 | n]) + b
        if n < 2**8:
            return b'\xd9' + bytes([n]) + b
        if n < 2**16:
            return b'\xda' + struct.pack('>H', n) + b
        return b'\xdb' + struct.pack('>I', n) + b
    if isinstance(o, (list, tuple)):
        n = len(o)
        h = (bytes([0x90 | n]) if n < 16 else b'\xdd' + struct.pack('>I', n))
        return h + b''.join(pack(x) for x in o)
    if isinstance(o, dict):
        n = len(o)
        h = (bytes([0x80 | n]) if n < 16 else b'\xdf' + struct.pack('>I', n))
        return h + b''.join(pack(k) + pack(v) for k, v in o.items())
    raise TypeError(o)

def unpack(b, i):
    def need(n):
        if i + n > len(b):
            raise Incomplete()
    need(1)
    t = b[i]
    i += 1
    def take(n):
        need(n)
        return b[i:i + n]
    if t <= 0x7f:
        return t, i
    if t >= 0xe0:
        return t - 256, i
    if 0x80 <= t <= 0x8f or t in (0xde, 0xdf):
        if t <= 0x8f:
            n = t & 15
        else:
            w = 2 if t == 0xde else 4
            n = int.from_bytes(take(w), 'big')
            i += w
        d = {}
        for _ in range(n):
            k, i = unpack(b, i)
            v, i = unpack(b, i)
            d[k] = v
        return d, i
    if 0x90 <= t <= 0x9f or t in (0xdc, 0xdd):
        if t <= 0x9f:
            n = t & 15
        else:
            w = 2 if t == 0xdc else 4
            n = int.from_bytes(take(w), 'big')
            i += w
        a = []
        for _ in range(n):
            v, i = unpack(b, i)
            a.append(v)
        return a, i
    if 0xa0 <= t <= 0xbf or t in (0xd9, 0xda, 0xdb, 0xc4, 0xc5, 0xc6):
        if t <= 0xbf:
            n = t & 31
        else:
            w = {0xd9: 1, 0xda: 2, 0xdb: 4, 0xc4: 1, 0xc5: 2, 0xc6: 4}[t]
            n = int.from_bytes(take(w), 'big')
            i += w
        s = take(n)
        i += n
        return (s.decode('utf-8', 'surrogateescape')
                if t < 0xc4 or t > 0xc6 else s), i
    if t == 0xc0:
        return None, i
    if t in (0xc2, 0xc3):
        return t == 0xc3, i
    if t in (0xca, 0xcb):
        w = 4 if t == 0xca else 8
        return struct.unpack('>f' if w == 4 else '>d', take(w))[0], i + w
    if 0xcc <= t <= 0xd3:
        w = 1 << ((t - 0xcc) & 3)
        return int.from_bytes(take(w), 'big', signed=t >= 0xd0), i + w
    raise ValueError('cannot decode type 0x%02x' % t)

class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(30)
        self.s.connect(path)
        self.buf = b''

    def send(self, data):
        self.s.sendall(data)

    def req(self, msgid, method, params=()):
        self.send(pack([0, msgid, method, list(params)]))

    def recv(self):
        while True:
            try:
                obj, i = unpack(self.buf, 0)
                self.buf = self.buf[i:]
                return obj
            except Incomplete:
                pass
            try:
                data = self.s.recv(1 << 20)
            except ConnectionResetError:
                data = b''
            if not data:
                if self.buf:
                    raise AssertionError('EOF after partial reply %r'
                                         % self.buf[:40])
                return EOF_
            self.buf += data

    def expect_eof(self):
        r = self.recv()
        assert r is EOF_, 'expected the server to close, got %r' % (r,)

    def close(self):
        self.s.close()

def ok(r, msgid):
    assert r is not EOF_, 'connection closed, expected msgid %d' % msgid
    assert r[0] == 1 and r[1] == msgid and r[2] is None, r
    return r[3]

def err(r, msgid, code):
    assert r is not EOF_, 'connection closed, expected error %s' % code
    assert r[0] == 1 and r[1] == msgid and r[3] is None, r
    e = r[2]
    assert e['code'] == code, e
    assert set(e) == {'code', 'message', 'field', 'line'}, e
    return e

def ping(c, msgid):
    c.req(msgid, 'ping')
    ok(c.recv(), msgid)

def case_pipeline(path):
    c = Conn(path)
    c.send(b''.join(pack([0, 100 + i, 'echo', [i]]) for i in range(20)))
    for i in range(20):
        assert ok(c.recv(), 100 + i) == [i]

def case_partial(path):
    c = Conn(path)
    data = pack([0, 7, 'echo', ['byte by byte']])
    for b in data:
        c.send(bytes([b]))
        time.sleep(0.005)
    assert ok(c.recv(), 7) == ['byte by byte']

def case_garbage(path):
    a = Conn(path)
    ping(a, 1)
    b = Conn(path)
    ping(b, 1)
    b.send(b'\xc1 this is not msgpack')
    e = err(b.recv(), None, 'parse-error')
    assert 'not msgpack' in e['message'], e
    b.expect_eof()
    ping(a, 2)

    c = Conn(path)
    c.req(5, 'ping')                        # Answered, then...
    c.send(pack([0, 6, 42, []]))            # ...a method that is no string.
    ok(c.recv(), 5)
    e = err(c.recv(), 6, 'invalid-request')
    assert 'method must be' in e['message'], e
    c.expect_eof()
    ping(a, 3)

    d = Conn(path)
    d.send(b'GET / HTTP/1.0\r\n\r\n')
    err(d.recv(), None, 'invalid-request')
    d.expect_eof()

    for bad, msgid in ((pack(5), None), (pack({'method': 'ping'}), None),
                       (pack([1, 9, None, None]), None),
                       (pack([0, 'x', 'ping', []]), None),
                       (pack([0, 9, 'ping', {}]), 9),
                       (pack([2, 'ping', []]), None)):
        e = Conn(path)
        e.send(bad)
        err(e.recv(), msgid, 'invalid-request')
        e.expect_eof()
    ping(a, 4)

def case_oversized(path):
    a = Conn(path)
    ping(a, 1)
    # A declared 2 MiB string: refused from its header, with its msgid.
    b = Conn(path)
    b.send(b'\x94\x00\x07\xa4echo\x91\xdb' + struct.pack('>I', 2 << 20)
           + b'x' * 1000)
    e = err(b.recv(), 7, 'too-large')
    assert '1048576' in e['message'], e
    b.expect_eof()
    # Actually sending 2 MiB: the server stops reading at the limit.
    c = Conn(path)
    try:
        c.send(pack([0, 8, 'echo', ['y' * (2 << 20)]]))
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = c.recv()
    if r is not EOF_:
        err(r, 8, 'too-large')
        c.expect_eof()
    ping(a, 2)
    # Just under the limit is fine, and its echo (bigger than the socket
    # buffer) goes out through the write queue.
    d = Conn(path)
    big = 'z' * ((1 << 20) - 64)
    d.req(9, 'echo', [big])
    assert ok(d.recv(), 9) == [big]
    ping(d, 10)

def case_async(path):
    c = Conn(path)
    start = time.time()
    c.send(pack([0, 1, 'slow', [100, 'x']]) + pack([0, 2, 'ping', []]))
    ok(c.recv(), 2)
    t_ping = time.time() - start
    r = ok(c.recv(), 1)
    t_slow = time.time() - start
    assert r == {'slept_ms': 100, 'params': [100, 'x']}, r
    assert t_slow >= 0.09 and t_ping < t_slow, (t_ping, t_slow)

def case_half_close(path):
    c = Conn(path)
    c.send(pack([0, 1, 'slow', [50]]) + pack([0, 2, 'ping', []]))
    c.s.shutdown(socket.SHUT_WR)
    ok(c.recv(), 2)
    ok(c.recv(), 1)
    c.expect_eof()

def case_orphan(path):
    # A slow request whose client is disconnected for a protocol error:
    # its answer is dropped later; a slow request whose client just goes
    # away: the server notices when answering.
    c = Conn(path)
    c.req(1, 'slow', [100])
    c.send(b'\xc1')
    err(c.recv(), None, 'parse-error')
    c.expect_eof()
    d = Conn(path)
    d.req(1, 'slow', [100])
    d.close()
    time.sleep(0.3)

def case_unknown(path):
    c = Conn(path)
    c.req(3, 'no/such-method', ['a'])
    e = err(c.recv(), 3, 'unknown-method')
    assert 'no/such-method' in e['message'], e
    ping(c, 4)

def case_busy(path):
    c = Conn(path)
    c.send(b''.join(pack([0, i, 'slow', [200]]) for i in range(20)))
    for i in range(16, 20):             # Answered at once.
        err(c.recv(), i, 'busy')
    done = set()
    for _ in range(16):
        r = c.recv()
        ok(r, r[1])
        done.add(r[1])
    assert done == set(range(16)), done
    ping(c, 99)

def case_rate(path):
    c = Conn(path)
    c.send(b''.join(pack([0, i, 'ping', []]) for i in range(500)))
    n_ok = n_limited = 0
    for i in range(500):
        r = c.recv()
        assert r[1] == i, r
        if r[2] is None:
            n_ok += 1
        else:
            err(r, i, 'rate-limited')
            n_limited += 1
    assert n_ok >= 400 and n_limited >= 50, (n_ok, n_limited)
    time.sleep(0.1)                     # Refills 20 tokens.
    ping(c, 1000)
    print('%d answered, %d rate-limited' % (n_ok, n_limited))

def case_max_clients(path, n):
    n = int(n)
    conns = [Conn(path) for _ in range(n)]
    for i, c in enumerate(conns):
        ping(c, i)
    extra = Conn(path)
    e = err(extra.recv(), None, 'busy')
    assert 'too many clients' in e['message'], e
    extra.expect_eof()
    conns.pop().close()
    time.sleep(0.2)
    again = Conn(path)
    ping(again, 1)

def case_backpressure(path, pid):
    # Large requests, replies not read: the server must stop reading from
    # this client rather than buffer its replies without bound.
    import threading
    def rss():
        return [int(l.split()[1]) for l in open('/proc/%s/status' % pid)
                if l.startswith('VmRSS')][0]
    before = rss()
    c = Conn(path)
    big = 'b' * 100000
    n = 300
    def sender():
        for i in range(n):
            c.req(i, 'echo', [big])
    t = threading.Thread(target=sender, daemon=True)
    t.start()
    time.sleep(1.5)
    growth = rss() - before
    assert t.is_alive(), 'sent %d MB without being throttled' % (n // 10)
    assert growth < 32 * 1024, 'server RSS grew by %d kB' % growth
    for i in range(n):
        assert ok(c.recv(), i) == [big]
    t.join()
    print('server RSS grew by %.1f MB' % (growth / 1024))

def case_mute_server(path):
    # Accepts and never answers, for weftctl --timeout.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    conn, _ = s.accept()
    time.sleep(5)

globals()['case_' + sys.argv[1].replace('-', '_')](*sys.argv[2:])
EOF
raw() { python3 "$T/rpcraw.py" "$@"; }

log "weftctl: $WEFTCTL"
log "server: ${VALGRIND:+$VALGRIND }$RPC_ECHO_SERVER"

# Usage errors: exit 2 without trying to connect.
expect 2 'unknown command "bogus"' "$WEFTCTL" bogus
expect 2 'unknown option "--bogus"' "$WEFTCTL" --bogus ping
expect 2 'no command given' "$WEFTCTL"
expect 2 '"ping" takes 0 arguments' "$WEFTCTL" ping extra
expect 2 'unknown format "yaml"' "$WEFTCTL" --format yaml ping
expect 0 'usage: weftctl' "$WEFTCTL" --help
pass "weftctl usage errors exit 2 with the usage on stderr"

msg="cannot connect to weftd at $T/absent.sock: No such file or directory"
expect 1 "$msg (is weftd running?)" "$WEFTCTL" --socket "$T/absent.sock" ping
expect 1 "cannot connect to weftd at $T/absent.sock" \
    env WEFT_SOCKET="$T/absent.sock" "$WEFTCTL" status
pass "weftctl without weftd: says so, exit 1; WEFT_SOCKET is honoured"

start_server
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "socket mode $(stat -c %a "$SOCK")"
[ "$(stat -c %a "$T/run")" = 750 ] || fail "dir mode $(stat -c %a "$T/run")"
pass "socket created mode 0660 in a new directory of mode 0750"

expect 0 "pong from rpc-echo-server 0.1.0 (pid $server_pid) at $SOCK in" \
    ctl ping
out=$(WEFT_SOCKET=$SOCK "$WEFTCTL" status)
grep -q '^clients:$' <<<"$out" || fail "status text: $out"
grep -q '^  connected: 1$' <<<"$out" || fail "status text: $out"
grep -q '^  - slow$' <<<"$out" || fail "status text: $out"
grep -q '^nothing: -$' <<<"$out" || fail "status text: $out"
grep -q 'ctrl \\x01 end' <<<"$out" || fail "control byte not escaped: $out"
pass "ping and status in text"

ctl --format json status >"$T/status.json"
python3 - "$T/status.json" <<'EOF' || fail "JSON: $(cat "$T/status.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d['note'] == ('quote " backslash \\ newline \n tab \t caf\u00e9 '
                     '\u2603 ctrl \x01 end'), repr(d['note'])
assert d['clients'] == {'connected': 1, 'max': 64}, d
assert d['methods'] == ['echo', 'ping', 'slow', 'status'], d
assert d['nothing'] is None and d['ok'] is True and d['negative'] == -5, d
assert isinstance(d['uptime'], float), d
EOF
pass "--format json: valid JSON, strings escaped and round-tripped"

raw pipeline "$SOCK" || fail "pipelined requests"
pass "20 pipelined requests on one connection answered in order"

raw partial "$SOCK" || fail "byte-by-byte request"
pass "a request sent one byte at a time is answered"

raw async "$SOCK" || fail "asynchronous answer"
raw half-close "$SOCK" || fail "half-closed client"
pass "asynchronous answers (ev_timer): later requests are not held up; a \
half-closed client still gets its answers"

raw garbage "$SOCK" || fail "garbage and wrong shapes"
grep -q 'not msgpack.*disconnecting it (other clients are not affected)' \
    "$T/server.log" || fail "no log message for the garbage"
pass "garbage and wrong shapes: error reply (msgid when known), that \
client closed, another client's session goes on"

raw oversized "$SOCK" || fail "oversized messages"
pass "oversized message: too-large error with its msgid, closed; just \
under the limit works"

raw unknown "$SOCK" || fail "unknown method"
pass "unknown method: unknown-method error, connection stays up"

raw orphan "$SOCK" || fail "orphaned requests"
wait_until 5 "the dropped answer to be logged" \
    grep -q 'dropping the answer to "slow"' "$T/server.log"
pass "answers to disconnected clients are dropped"

raw busy "$SOCK" || fail "pending limit"
pass "more than 16 pending requests: busy"

raw rate "$SOCK" >"$T/rate.out" || fail "rate limit"
pass "rate limit: $(cat "$T/rate.out"), then the connection goes on"

raw max-clients "$SOCK" 64 || fail "client limit"
pass "64 clients at once; the 65th gets busy and is closed"

raw backpressure "$SOCK" "$server_pid" >"$T/bp.out" || fail "backpressure"
pass "a client that does not read its replies is throttled ($(cat \
"$T/bp.out") while it sends 30 MB), then gets them all"

server_alive || fail "server died"
pass "server survived all of the above"

# TCP, loopback only.
stop_server
start_server --tcp 127.0.0.1:0
port=$(sed -n 's/.*listening for RPC clients on 127.0.0.1:\([0-9]*\) .*/\1/p' \
       "$T/server.log" | tail -n 1)
[ -n "$port" ] || fail "no TCP port in the log"
expect 0 "pong from rpc-echo-server" "$WEFTCTL" -s "tcp:127.0.0.1:$port" ping
stop_server
expect 1 "only allowed on loopback addresses" \
    "$RPC_ECHO_SERVER" --socket "$SOCK" --tcp 0.0.0.0:0
expect 1 "not a numeric TCP address" \
    "$RPC_ECHO_SERVER" --socket "$SOCK" --tcp localhost:6656
pass "TCP on 127.0.0.1 works; other addresses refused"

# Error replies, with the line and field.
start_server --status-error --group "$(id -gn)"
[ "$(stat -c %G "$SOCK")" = "$(id -gn)" ] || fail "socket group"
msg='weftctl: tunnel-ip "10.0.0.300" is not an IPv4 address'
expect 1 "$msg (line 12, field tunnel-ip)" ctl status
pass "error reply: message, line and field; exit 1; --group sets the group"

# A live socket is not taken over; a stale one is replaced.
expect 1 "another process (another weftd?) is accepting connections" \
    "$RPC_ECHO_SERVER" --socket "$SOCK"
server_alive || fail "second server disturbed the first"
kill -KILL "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=
[ -S "$SOCK" ] || fail "kill -9 should leave the socket"
expect 1 "Connection refused (is weftd running?)" ctl ping
start_server
grep -q "removed the stale RPC socket" "$T/server.log" \
    || fail "stale socket not reported"
pass "live socket refused; stale socket of a dead server replaced"

# weftctl --timeout against a server that never answers.
raw mute-server "$T/mute.sock" &
mute_pid=$!
wait_until 10 "mute server" test -S "$T/mute.sock"
expect 1 "did not answer within 0.5 s" ctl --socket "$T/mute.sock" \
    --timeout 0.5 ping
kill "$mute_pid" 2>/dev/null || true
wait "$mute_pid" 2>/dev/null || true
pass "weftctl --timeout"

server_alive || fail "server died"
stop_server
pass "SIGTERM: exit 0${VALGRIND:+ (valgrind: no errors or leaks)}, socket \
removed"

# Unsafe places for the socket.
mkdir -m 0777 "$T/open"
chmod 0777 "$T/open"
expect 1 "directory is writable by others" \
    "$RPC_ECHO_SERVER" --socket "$T/open/weftd.sock"
[ ! -e "$T/open/weftd.sock" ] || fail "socket created in an open directory"
mkdir -m 1777 "$T/sticky"
chmod 1777 "$T/sticky"
"$RPC_ECHO_SERVER" --socket "$T/sticky/weftd.sock" >>"$T/server.log" 2>&1 &
server_pid=$!
wait_until 30 "server in a sticky directory" \
    "$WEFTCTL" -s "$T/sticky/weftd.sock" ping
kill -TERM "$server_pid"
wait "$server_pid" || fail "server in the sticky directory exited $?"
server_pid=
touch "$T/run/weftd.sock"
expect 1 "exists and is not a socket; refusing to replace it" \
    "$RPC_ECHO_SERVER" --socket "$SOCK"
[ -f "$SOCK" ] || fail "the regular file was replaced"
expect 1 "unknown\|no such group" \
    "$RPC_ECHO_SERVER" --socket "$T/g/weftd.sock" --group no-such-group-x
pass "refused: world-writable directory, a non-socket at the path, an \
unknown group (a sticky directory is fine)"

log "$n_checks checks passed"
