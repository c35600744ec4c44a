#!/bin/bash
# "meson install" puts every piece where it belongs (into a scratch
# DESTDIR): binaries, man pages, completion, the app header and its
# pkg-config file, the sample apps, the schema, the examples and the
# systemd units, whose paths point at the installed binaries.
set -eu
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$BUILD" --destdir "$dest" --no-rebuild --quiet >/dev/null
prefix=$(meson introspect "$BUILD" --buildoptions \
    | python3 -c 'import json,sys
print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')
root=$dest$prefix
for f in sbin/weftd bin/weftctl share/man/man8/weftctl.8 share/man/man8/weftd.8 \
         share/bash-completion/completions/weftctl include/weft/app.h \
         share/weft/weft.ovsschema share/weft/policy.example \
         etc/weft/weftd.conf.example \
         lib/systemd/system/weftd.service \
         lib/systemd/system/weft-policy-db.service; do
    [ -e "$root/$f" ] || { echo "not installed: $prefix/$f"; exit 1; }
done
ls "$root"/lib/*/pkgconfig/weft-app.pc >/dev/null \
    || { echo "weft-app.pc not installed"; exit 1; }
ls "$root"/lib/*/weft/apps/l2learn.so >/dev/null \
    || { echo "sample apps not installed"; exit 1; }
grep -q "^ExecStart=$prefix/sbin/weftd -c $prefix/etc/weft/weftd.conf$" \
    "$root/lib/systemd/system/weftd.service" \
    || { echo "weftd.service has the wrong paths"; exit 1; }
if grep -q '@[A-Z]*@' "$root"/lib/systemd/system/*.service; then
    echo "unsubstituted @VARIABLE@ in a unit"; exit 1
fi
out=$(MANWIDTH=80 man -l --warnings -E UTF-8 "$root/share/man/man8/weftd.8" \
      2>&1 >/dev/null || true)
[ -z "$out" ] || { echo "weftd.8: $out"; exit 1; }
echo "install: all pieces in place under $prefix"
