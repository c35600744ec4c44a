# Helpers for the sample apps' integration tests (sourced after lib.sh).

ofctl() { lab exec h1 ovs-ofctl -O OpenFlow15 "$@"; }

# app_field APP FIELD: FIELD of APP in "weftctl app-list --format json"
# ("none" if APP is not loaded).
app_field() {
    weftctl --format json app-list | python3 -c '
import json, sys
apps = [a for a in json.load(sys.stdin) if a["name"] == sys.argv[1]]
print(apps[0][sys.argv[2]] if apps else "none")' "$1" "$2"
}

# claimed VLAN: table 30 of h1 sends the segment with VLAN to an app.
claimed() { ofctl dump-flows br-int table=30 | grep -q "reg6=$(printf '%#x' "$1") actions=goto_table:1"; }

