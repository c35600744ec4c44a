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

# capture VM NAME FILTER: tcpdump on VM's eth0 into $T/NAME.pcap;
# stop_capture NAME: ends it and prints the packets.
capture() {
    rm -f "$T/$2.pcap" "$T/$2.tcpdump.log"
    # Not through vm_exec: $! must be tcpdump itself, to stop it.
    ip netns exec "$LAB_NAME-vm-$1" tcpdump -i eth0 -nn -U --immediate-mode \
        -w "$T/$2.pcap" "$3" >"$T/$2.tcpdump.log" 2>&1 &
    echo $! >"$T/$2.cap-pid"
    wait_until 10 "tcpdump on $1" grep -q "listening on" "$T/$2.tcpdump.log"
}
stop_capture() {
    local pid
    pid=$(cat "$T/$1.cap-pid")
    sleep 0.5
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$T/$1.cap-pid"
    tcpdump -nn -r "$T/$1.pcap" 2>/dev/null
}
