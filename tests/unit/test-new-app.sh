#!/bin/bash
# tools/new-app: the skeleton it writes builds out of tree against this
# build tree (pkg-config's weft-app-uninstalled, no install) and loads into
# a running weftd with "weftctl app-load".  weftd runs with no host, in a
# network namespace of its own (unshare -n) so that its OpenFlow port
# cannot clash with anything; the RPC socket is a file.  Needs root for
# the namespace (skipped otherwise).
set -eu -o pipefail
: "${WEFT_TOP:?}" "${WEFTD:?}" "${WEFTCTL:?}" "${BUILD_ROOT:?}"
if [ "$(id -u)" != 0 ]; then
    echo "skipped: needs root for unshare -n"
    exit 77
fi
dir=$(mktemp -d /tmp/test-new-app.XXXXXX)
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$dir/weftd.log" ] && tail -20 "$dir/weftd.log"; exit 1; }
ok() { echo "ok: $*"; }
weftctl() { "$WEFTCTL" --socket "$dir/weftd.sock" "$@"; }

# Bad names and an existing directory are refused.
"$WEFT_TOP/tools/new-app" 'bad name' "$dir" 2>/dev/null && fail "bad name accepted"
"$WEFT_TOP/tools/new-app" skel-1 "$dir" >/dev/null || fail "new-app skel-1"
"$WEFT_TOP/tools/new-app" skel-1 "$dir" 2>/dev/null && fail "overwrote skel-1"
ok "new-app refuses a bad name and an existing directory"

# Builds with the uninstalled pkg-config file, warnings as errors.
PKG_CONFIG_PATH=$BUILD_ROOT/meson-uninstalled \
    make -C "$dir/skel-1" CFLAGS="-O2 -Wall -Wextra -Werror" >"$dir/make.log" 2>&1 \
    || { cat "$dir/make.log"; fail "skeleton does not build"; }
[ -f "$dir/skel-1/skel-1.so" ] || fail "no skel-1.so"
ok "skeleton builds against the build tree (pkg-config weft-app-uninstalled)"

cat >"$dir/weftd.conf" <<EOC
[weftd]
openflow-listen = ptcp:6653:127.0.0.1
unixctl = $dir/weftd.ctl
rpc-socket = $dir/weftd.sock
EOC
unshare -n "$WEFTD" -c "$dir/weftd.conf" -v >"$dir/weftd.log" 2>&1 &
pid=$!
for _ in $(seq 50); do [ -S "$dir/weftd.sock" ] && break; sleep 0.1; done
[ -S "$dir/weftd.sock" ] || fail "weftd did not start"

out=$(weftctl app-load "$dir/skel-1/skel-1.so" greeting=hi-there) \
    || fail "app-load: $out"
grep -q "app skel-1 running" <<<"$out" || fail "app-load said: $out"
grep -q "^skel-1 *running" <<<"$(weftctl app-list)" || fail "not in app-list: $(weftctl app-list)"
grep -q "skel-1: hi-there (1 config keys)" "$dir/weftd.log" \
    || fail "init() did not log its greeting"
weftctl app-reload skel-1 >/dev/null || fail "app-reload"
weftctl app-unload skel-1 || fail "app-unload"
grep -q "skel-1: stopping after 0 vNICs" "$dir/weftd.log" \
    || fail "destroy() did not log"
ok "skeleton loads into weftd (app-load, app-list, app-reload, app-unload)"
