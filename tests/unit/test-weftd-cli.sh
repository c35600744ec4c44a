#!/bin/bash
# weftd's command line and configuration errors: exit status 2 and a
# "FILE:LINE: message" that says what is wrong.
set -eu -o pipefail
: "${WEFTD:?}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

expect() {  # STATUS PATTERN CMD...
    local want=$1 pattern=$2 got=0 out
    shift 2
    out=$("$@" 2>&1) || got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: '$*' exited $got, expected $want: $out"; exit 1
    fi
    if ! grep -q -- "$pattern" <<<"$out"; then
        echo "FAIL: '$*' printed '$out', expected /$pattern/"; exit 1
    fi
    echo "ok: $*"
}

printf '[host a]\novsdb = tcp:1.2.3.4:6640\ntunnel-ip = 1.2.3.4\n' \
    >"$dir/nolisten.conf"
printf '[weftd]\nopenflow-listen = ptcp:6653:10.0.0.1\n\n[host a]\n' \
    >"$dir/missing.conf"
printf '[weftd]\nopenflow-listen = ptcp:6653:10.0.0.1\ncolor = blue\n' \
    >"$dir/unknown.conf"
printf '[weftd]\nopenflow-listen = ptcp:6653:10.0.0.1\n[host a]\novsdb = unix:/x\ntunnel-ip = 1.1.1.1\n' \
    >"$dir/good.conf"

expect 2 "$dir/missing.conf:4: host \"a\": missing required key \"ovsdb\"" \
    "$WEFTD" --check-config -c "$dir/missing.conf"
expect 2 "$dir/unknown.conf:3: unknown key \"color\"" \
    "$WEFTD" -c "$dir/unknown.conf"
expect 2 "controller-target is required" \
    "$WEFTD" --check-config -c "$dir/nolisten.conf"
expect 2 "cannot open: No such file" "$WEFTD" -c "$dir/absent.conf"
expect 0 "OK, 1 hosts" "$WEFTD" --check-config -c "$dir/good.conf"
expect 2 "try --help" "$WEFTD" --bogus-option
expect 2 "unexpected argument" "$WEFTD" extra
expect 0 "usage: weftd" "$WEFTD" --help
echo "8 passed, 0 failed"
