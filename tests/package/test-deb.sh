#!/bin/bash
# tools/build-deb builds the weft and weft-dev packages from a clean copy
# of the tree, with the static libopenvswitch built inside the package
# build, and lintian finds no error; the packages hold every piece in its
# place, depend on the runtime libraries (not on libopenvswitch), and what
# they hold works once unpacked into a throwaway directory (dpkg -x: nothing
# is installed on this machine).
set -eu
if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null; then
    echo "dpkg-dev or debhelper not installed (tools/setup installs them)"
    exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$WEFT_TOP"/tools/build-deb -j"${WEFT_DEB_JOBS:-2}" "$out" \
    || fail "tools/build-deb"
deb=$(ls "$out"/weft_*.deb)
dev=$(ls "$out"/weft-dev_*.deb)

# Contents.
list=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
for f in ./usr/sbin/weftd ./usr/bin/weftctl \
         ./usr/share/man/man8/weftd.8.gz ./usr/share/man/man8/weftctl.8.gz \
         ./usr/share/bash-completion/completions/weftctl \
         ./usr/share/weft/weft.ovsschema ./usr/share/weft/policy.example \
         ./etc/weft/weftd.conf.example \
         ./lib/systemd/system/weftd.service \
         ./lib/systemd/system/weft-policy-db.service \
         ./usr/share/doc/weft/copyright; do
    grep -qxF "$f" <<<"$list" || fail "weft lacks $f"
done
for app in l2learn arp-responder quarantine flowstats; do
    grep -q "^\./usr/lib/[^/]*/weft/apps/$app\.so$" <<<"$list" \
        || fail "weft lacks the sample app $app"
done
if grep -q '^\./usr/include/\|pkgconfig' <<<"$list"; then
    fail "weft ships development files (they belong in weft-dev)"
fi
devlist=$(dpkg-deb -c "$dev" | awk '{ print $6 }')
grep -qxF ./usr/include/weft/app.h <<<"$devlist" || fail "weft-dev lacks app.h"
grep -q '^\./usr/lib/[^/]*/pkgconfig/weft-app\.pc$' <<<"$devlist" \
    || fail "weft-dev lacks weft-app.pc"

# Control fields: the runtime libraries found by dh_shlibdeps, no
# libopenvswitch (linked statically, named in Built-Using).
depends=$(dpkg-deb -f "$deb" Depends)
echo "weft Depends: $depends"
for lib in libc6 libev4 libvirt0 libmsgpackc2 libssl3 libxml2 libunbound8; do
    grep -q "\b$lib\b" <<<"$depends" || fail "Depends lacks $lib"
done
grep -qi openvswitch <<<"$depends" && fail "Depends names Open vSwitch"
dpkg-deb -f "$deb" Recommends | grep -q '\bopenvswitch-switch\b' \
    || fail "weft does not recommend openvswitch-switch"
dpkg-deb -f "$deb" Built-Using | grep -q '^openvswitch (= ' \
    || fail "Built-Using does not name openvswitch"
# Units installed but neither enabled nor started by the maintainer scripts
# (dh_installsystemd --no-enable --no-start: each unit's postinst block is
# guarded by "debian-installed", and nothing calls deb-systemd-invoke).
dpkg-deb -e "$deb" "$out/control"
[ "$(grep -c 'deb-systemd-helper debian-installed' "$out/control/postinst")" = 2 ] \
    || fail "postinst may enable a unit"
grep -q 'deb-systemd-invoke' "$out/control/postinst" \
    && fail "postinst starts a unit"

# The dependencies resolve from the configured archive (simulation only).
if ! sim=$(apt-get install -s "$deb" "$dev" 2>&1); then
    echo "$sim"; fail "apt-get cannot resolve the packages' dependencies"
fi
grep -q '^Inst weft ' <<<"$sim" || { echo "$sim"; fail "apt-get -s"; }

# Unpacked, without installing: the binaries run, the example config and
# the units agree with the files, an app builds against weft-dev.
root=$out/root
dpkg-deb -x "$deb" "$root"
dpkg-deb -x "$dev" "$root"
readelf -d "$root/usr/sbin/weftd" | grep -qi 'NEEDED.*openvswitch' \
    && fail "weftd links libopenvswitch dynamically"
"$root/usr/sbin/weftd" --check-config -c "$root/etc/weft/weftd.conf.example" \
    || fail "weftd --check-config of the packaged example"
"$root/usr/bin/weftctl" --help >/dev/null || fail "weftctl --help"
for unit in "$root"/lib/systemd/system/*.service; do
    grep -q '@[A-Z]*@' "$unit" && fail "unsubstituted variable in $unit"
done
grep -qx 'ExecStart=/usr/sbin/weftd -c /etc/weft/weftd.conf' \
    "$root/lib/systemd/system/weftd.service" || fail "weftd.service paths"
grep -q ' /usr/share/weft/weft.ovsschema' \
    "$root/lib/systemd/system/weft-policy-db.service" \
    || fail "weft-policy-db.service does not point at the packaged schema"
pc=$(ls -d "$root"/usr/lib/*/pkgconfig)
cflags=$(PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$root \
         pkg-config --cflags weft-app) || fail "pkg-config weft-app"
# shellcheck disable=SC2086
cc -shared -fPIC -o "$out/l2learn.so" $cflags \
    "$WEFT_TOP/apps/l2learn/l2learn.c" || fail "an app against weft-dev"
echo "deb: weft and weft-dev built, complete and sane ($(du -h "$deb" | cut -f1))"
