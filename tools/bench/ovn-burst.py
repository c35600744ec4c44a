#!/usr/bin/env python3
"""The phases of tools/bench/ovn-burst, its prober and its report.

    ovn-burst.py weft|ovn LAB HOSTS COUNT INTERVAL_MS OUT BUILD
    ovn-burst.py ping INTERVAL_MS TIMEOUT_S ADDR...   (in w1's namespace)
    ovn-burst.py report WEFT.json OVN.json COMMAND COMMIT SECONDS OUT

Every time is wall clock (time.time(), CLOCK_REALTIME), so that the
prober's kernel receive timestamps, weftd's log, libvirt's event log and
OVN's ovn-installed-ts can be compared.
"""
import datetime
import json
import math
import os
import re
import select
import socket
import struct
import subprocess
import sys
import time

from benchlib import machine, pct, ratio, summary

HZ = os.sysconf("SC_CLK_TCK")
# Linux (asm-generic), absent from Python's socket module.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


def say(msg):
    print("ovn-burst: " + msg, file=sys.stderr, flush=True)


def run(argv, check=True, timeout=120, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       **kw)
    if check and r.returncode:
        sys.exit("ovn-burst: %s failed (%d): %s"
                 % (" ".join(argv[:10]), r.returncode, r.stderr.strip()[-500:]))
    return r


# ---------------------------------------------------------------- prober

def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def ping_main(interval_ms, timeout_s, addrs):
    """One echo request to every address not yet answered every interval_ms
    (spread over the interval in 2 ms ticks), until every address has
    answered, stdin closes or timeout_s.  Prints JSON: address -> first
    reply (kernel receive time), and the requests sent."""
    interval = interval_ms / 1000
    tick = min(0.002, interval)
    ident = os.getpid() & 0xffff
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.setblocking(False)
    pending = list(addrs)
    first = {}
    sent = 0
    seq = 0
    rr = 0
    t_begin = time.time()
    next_tick = t_begin
    print("ready", flush=True)
    stdin_open = True
    while pending and time.time() - t_begin < timeout_s:
        now = time.time()
        if now >= next_tick:
            # This tick's share of one round over the pending addresses.
            n = max(1, math.ceil(len(pending) * tick / interval))
            for _ in range(min(n, len(pending))):
                rr %= len(pending)
                a = pending[rr]
                rr += 1
                seq = (seq + 1) & 0xffff
                hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
                data = struct.pack("!d", now)
                pkt = struct.pack("!BBHHH", 8, 0, checksum(hdr + data),
                                  ident, seq) + data
                try:
                    s.sendto(pkt, (a, 0))
                    sent += 1
                except OSError:
                    pass
            next_tick += tick
            if next_tick < now:
                next_tick = now + tick
        rl = [s] + ([sys.stdin] if stdin_open else [])
        r, _, _ = select.select(rl, [], [], max(0, next_tick - time.time()))
        if sys.stdin in r:
            if not sys.stdin.readline():
                stdin_open = False
                break
        if s in r:
            while True:
                try:
                    data, anc, _, src = s.recvmsg(2048, 64)
                except BlockingIOError:
                    break
                ihl = (data[0] & 15) * 4
                if len(data) < ihl + 8:
                    continue
                typ, _, _, rid, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
                if typ != 0 or rid != ident or src[0] in first:
                    continue
                ts = time.time()
                for level, kind, val in anc:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        sec, nsec = struct.unpack("qq", val[:16])
                        ts = sec + nsec / 1e9
                if src[0] in pending:
                    first[src[0]] = ts
                    pending.remove(src[0])
    print(json.dumps({"first_reply": first, "sent": sent,
                      "begin": t_begin, "end": time.time()}), flush=True)


# ---------------------------------------------------------------- the lab

class Lab:
    def __init__(self, name, hosts, count, build):
        self.name, self.hosts, self.count = name, hosts, count
        self.state = "/run/weft-lab/" + name
        self.d = "/run/weft-bench/" + name
        self.build = build
        self.vms = {}
        with open(self.state + "/vms") as f:
            for line in f:
                vm, host, mac, ip = line.split()
                self.vms[vm] = (host, mac, ip.split("/")[0])
        self.burst = sorted((v for v in self.vms if v.startswith("b")),
                            key=lambda v: int(v[1:]))[:count]
        self.warm = ["w%d" % i for i in range(1, hosts + 1)]
        self.bhosts = ["h%d" % i for i in range(2, hosts + 1)]

    def uri(self, h):
        return "test+unix:///default?socket=%s/%s/libvirt/libvirt-sock" % (
            self.state, h)

    def host_argv(self, h):
        d = "%s/%s" % (self.state, h)
        return ["ip", "netns", "exec", "%s-%s" % (self.name, h), "env",
                "OVS_RUNDIR=" + d, "OVS_DBDIR=" + d, "OVS_LOGDIR=" + d,
                "OVS_SYSCONFDIR=" + d, "OVN_RUNDIR=%s/ovn" % d,
                "OVN_LOGDIR=%s/ovn" % d]

    def vm_argv(self, vm):
        return ["ip", "netns", "exec", "%s-vm-%s" % (self.name, vm)]

    def ping_ok(self, src, dst, deadline=1):
        return run(self.vm_argv(src) + ["ping", "-n", "-q", "-c", "1", "-w",
                                        str(deadline), "-i", "0.005",
                                        self.vms[dst][2]],
                   check=False).returncode == 0

    def warm_up(self):
        for vm in self.warm[1:]:
            for _ in range(30):
                if self.ping_ok("w1", vm, 1):
                    break
            else:
                sys.exit("ovn-burst: w1 cannot reach %s" % vm)

    def by_host(self, h):
        return [v for v in self.burst if self.vms[v][0] == h]

    def links_up(self):
        for h in self.bhosts:
            cmds = "".join("link set t-%s up\n" % v for v in self.by_host(h))
            run(["ip", "-n", "%s-%s" % (self.name, h), "-batch", "-"],
                input=cmds)

    def pid(self, path, comm):
        try:
            with open(path) as f:
                p = int(f.read().strip())
            with open("/proc/%d/comm" % p) as f:
                return p if f.read().strip() == comm else None
        except (OSError, ValueError):
            return None

    def daemon_pids(self, what):
        """Pids of one kind of the hosts' daemons (ovs-vswitchd, ...)."""
        out = []
        for i in range(1, self.hosts + 1):
            d = "%s/h%d" % (self.state, i)
            if what == "ovn-controller":
                p = self.pid(d + "/ovn/ovn-controller.pid", what)
            else:
                p = self.pid("%s/%s.pid" % (d, what), what)
            if p:
                out.append(p)
        return out


def ticks(pids):
    t = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            t += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return t


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])


EVTS = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)([+-]\d{4}): "
                  r"event 'lifecycle' for domain '?(b\d+)'?: Started")


def started_events(lab, t0):
    """libvirtd's 'Started' event of each burst VM after t0 (the lab's
    keeper, `virsh event --loop --all --timestamp`, ms resolution)."""
    out = {}
    for h in lab.bhosts:
        try:
            f = open("%s/%s/libvirt-events.log" % (lab.state, h))
        except OSError:
            continue
        with f:
            for line in f:
                m = EVTS.match(line)
                if not m:
                    continue
                ts = datetime.datetime.strptime(m.group(1) + m.group(2),
                                                "%Y-%m-%d %H:%M:%S.%f%z")
                t = ts.timestamp()
                if t >= t0 - 0.002 and m.group(3) not in out:
                    out[m.group(3)] = t
    return out


ADDED = re.compile(r"^(\S+?)\|.*\|bridge\|INFO\|bridge br-int: added "
                   r"interface t-(b\d+) on port")


def vswitchd_added(lab, t0):
    """When each host's ovs-vswitchd added each burst VM's port to br-int
    (its log, ms timestamps), after t0."""
    out = {}
    for h in lab.bhosts:
        try:
            f = open("%s/%s/ovs-vswitchd.log" % (lab.state, h))
        except OSError:
            continue
        with f:
            for line in f:
                m = ADDED.match(line)
                if not m:
                    continue
                ts = datetime.datetime.strptime(m.group(1),
                                                "%Y-%m-%dT%H:%M:%S.%fZ")
                t = ts.replace(tzinfo=datetime.timezone.utc).timestamp()
                if t >= t0 - 0.002:
                    out[m.group(2)] = t
    return out


# ---------------------------------------------------------------- the burst

# One per host: a virsh shell reading every `start` of the host at once;
# a bash loop reads virsh's "Domain 'bK' started" lines as they come
# (virsh line-buffered).  For OVN, each VM's add-port waits, already
# forked before t0, on a FIFO that the loop writes to as that VM's start
# is reported: the add-ports run at once, not waiting for the earlier ones,
# and the loop itself forks nothing (forking there fell seconds behind
# under the load of 200 add-ports).  The driver says it is ready by
# creating READY, then starts at the line "go" on its stdin.  Each event is
# a line "WHAT VM EPOCHREALTIME" on stdout (appended, one write each).
DRIVER = r"""
uri=$1 db=$2 plug=$3 starts=$4 errs=$5 fifos=$6 ready=$7
mapfile -t vms < <(awk '{ print $2 }' "$starts")
if [ "$plug" = 1 ]; then
    mkdir -p "$fifos"
    for vm in "${vms[@]}"; do
        mkfifo "$fifos/$vm"
        {
            read -r cmd <"$fifos/$vm"
            [ "$cmd" = go ] || exit 0
            if ovs-vsctl --db="$db" --timeout=120 add-port br-int "t-$vm" \
                   -- set Interface "t-$vm" external_ids:iface-id="$vm" 2>>"$errs"; then
                echo "plugged $vm $EPOCHREALTIME"
            else
                echo "plugfail $vm $EPOCHREALTIME"
            fi
        } </dev/null &
    done
fi
: >"$ready"
read -r _
stdbuf -oL virsh -c "$uri" <"$starts" 2>>"$errs" | {
    re="^Domain '?(b[0-9]+)'? started"
    declare -A seen
    while IFS= read -r line; do
        [[ $line =~ $re ]] || continue
        vm=${BASH_REMATCH[1]}
        echo "reported $vm $EPOCHREALTIME"
        seen[$vm]=1
        [ "$plug" = 1 ] && echo go >"$fifos/$vm"
    done
    # Release the waiters of VMs that never started.
    if [ "$plug" = 1 ]; then
        for vm in "${vms[@]}"; do
            [ -n "${seen[$vm]:-}" ] || echo skip >"$fifos/$vm"
        done
    fi
}
wait
"""


def burst(lab, interval_ms, groups, plug=False):
    """Starts every burst VM at once (one virsh shell per host, see DRIVER),
    with the prober running; returns per-VM times, the prober's result and
    the CPU time of each group of daemons (name -> pids) from t0 to the
    prober's end and over the second before t0 (prober alone).  plug: run
    OVN's add-port for each VM as its start is reported."""
    addrs = {lab.vms[v][2]: v for v in lab.burst}
    timeout = 60 + 1.0 * len(lab.burst)
    work = "%s/burst-%s" % (lab.d, "ovn" if plug else "weft")
    os.makedirs(work, exist_ok=True)
    for h in lab.bhosts:
        with open("%s/%s.starts" % (work, h), "w") as f:
            f.write("".join("start %s\n" % v for v in lab.by_host(h)))
    lab.links_up()
    prober = subprocess.Popen(
        lab.vm_argv("w1") + [sys.executable, os.path.abspath(__file__),
                             "ping", str(interval_ms), str(timeout)]
        + list(addrs),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if prober.stdout.readline().strip() != "ready":
        sys.exit("ovn-burst: the prober did not start")
    procs = []
    for h in lab.bhosts:
        procs.append(subprocess.Popen(
            ["bash", "-c", DRIVER, "driver", lab.uri(h),
             "unix:%s/%s/db.sock" % (lab.state, h), "1" if plug else "0",
             "%s/%s.starts" % (work, h), "%s/%s.err" % (work, h),
             "%s/%s.fifo" % (work, h), "%s/%s.ready" % (work, h)],
            stdin=subprocess.PIPE, text=True,
            stdout=open("%s/%s.out" % (work, h), "w")))
    deadline = time.time() + 60
    while not all(os.path.exists("%s/%s.ready" % (work, h))
                  for h in lab.bhosts):
        if time.time() > deadline:
            sys.exit("ovn-burst: the burst drivers did not get ready")
        time.sleep(0.01)
    time.sleep(0.2)
    cp = {k: ticks(v) for k, v in groups.items()}
    tp = time.time()
    time.sleep(1.0)
    c0 = {k: ticks(v) for k, v in groups.items()}
    t0 = time.time()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.close()
    t_issued = time.time()
    # The prober ends by itself (all answered, or its timeout); its stdin
    # stays open until then (EOF stops it, e.g. if this process dies).
    out = prober.stdout.read()
    t_end = time.time()
    c1 = {k: ticks(v) for k, v in groups.items()}
    prober.stdin.close()
    prober.wait(timeout=30)
    for p in procs:
        p.wait(timeout=300)
    reported, plugged, errors, slow = {}, {}, [], []
    for h in lab.bhosts:
        with open("%s/%s.out" % (work, h)) as f:
            for line in f:
                what, vm, t = line.split()
                if what == "reported":
                    reported[vm] = float(t)
                elif what == "plugged":
                    plugged[vm] = float(t)
                else:
                    errors.append("%s: %s failed" % (h, vm))
        with open("%s/%s.err" % (work, h)) as f:
            for line in f:
                if "|timeval|WARN|" in line:
                    slow.append("%s: %s" % (h, line.strip()))
                elif line.strip():
                    errors.append("%s: %s" % (h, line.strip()))
    res = json.loads(out)
    first = {addrs[a]: t for a, t in res["first_reply"].items()}
    early = [v for v, t in first.items() if t < t0]
    if early:
        sys.exit("ovn-burst: %s answered before the burst began" % early[:5])
    say("burst: %d of %d answered, %.1f s; errors: %d"
        % (len(first), len(lab.burst), t_end - t0, len(errors)))
    return {"t0": t0, "issued_ms": (t_issued - t0) * 1000, "t_end": t_end,
            "first": first, "reported": reported, "plugged": plugged,
            "errors": errors, "prober_sent": res["sent"],
            # ovs-vsctl's own "Unreasonably long ... poll interval"
            # warnings: the process waited that long for a CPU.
            "slow_poll_warnings": [l for l in slow if "poll interval" in l],
            "cpu_s": {k: round((c1[k] - c0[k]) / HZ, 2) for k in c0},
            "cpu_s_prober_alone_per_s": {
                k: round((c0[k] - cp[k]) / HZ / (t0 - tp), 2) for k in c0}}


def common(lab, b, res):
    t0 = b["t0"]
    first = b["first"]
    started = started_events(lab, t0)
    res["count"] = len(lab.burst)
    res["answered"] = len(first)
    res["unanswered"] = sorted(set(lab.burst) - set(first),
                               key=lambda v: int(v[1:]))
    res["t0"] = t0
    res["errors"] = b["errors"][:20]
    res["error_count"] = len(b["errors"])
    res["ovs_vsctl_long_poll_warnings"] = len(b["slow_poll_warnings"])
    res["ovs_vsctl_long_poll_examples"] = b["slow_poll_warnings"][:5]
    res["cpu_s_to_end"] = b["cpu_s"]
    res["cpu_s_per_s_prober_alone"] = b["cpu_s_prober_alone_per_s"]
    res["prober_requests_sent"] = b["prober_sent"]
    res["starts_issued_ms"] = round(b["issued_ms"], 1)
    res["start_to_reply_ms"] = summary([(t - t0) * 1000
                                        for t in first.values()])
    res["all_reachable_ms"] = (round((max(first.values()) - t0) * 1000, 1)
                               if first and not res["unanswered"] else None)
    res["libvirt_started_ms"] = summary([(t - t0) * 1000
                                         for t in started.values()])
    res["libvirt_started_count"] = len(started)
    res["started_to_reply_ms"] = summary([(first[v] - started[v]) * 1000
                                          for v in first if v in started])
    res["virsh_reported_ms"] = summary([(t - t0) * 1000
                                        for t in b["reported"].values()])
    added = vswitchd_added(lab, t0)
    res["vswitchd_added_count"] = len(added)
    res["vswitchd_added_ms"] = summary([(t - t0) * 1000
                                        for t in added.values()])
    res["added_to_reply_ms"] = summary([(first[v] - added[v]) * 1000
                                        for v in first if v in added])
    res["per_vm"] = {v: {"host": lab.vms[v][0],
                         "vswitchd_added_ms":
                         round((added[v] - t0) * 1000, 1)
                         if v in added else None,
                         "reply_ms": round((first[v] - t0) * 1000, 1)
                         if v in first else None,
                         "libvirt_started_ms":
                         round((started[v] - t0) * 1000, 1)
                         if v in started else None}
                     for v in lab.burst}
    return started


def log_lines_after(path, t0, levels=("WARN", "ERR", "EMER")):
    out = []
    try:
        f = open(path)
    except OSError:
        return out
    with f:
        for line in f:
            parts = line.split("|")
            if len(parts) < 4 or parts[2] not in levels:
                continue
            try:
                ts = datetime.datetime.strptime(parts[0],
                                                "%Y-%m-%dT%H:%M:%S.%fZ")
            except ValueError:
                continue
            if ts.replace(tzinfo=datetime.timezone.utc).timestamp() >= t0 - 0.002:
                out.append(line.rstrip())
    return out


# ---------------------------------------------------------------- Weft

LOGTS = re.compile(r"^(\S+?)\|")
PLACED = re.compile(r"\|INFO\|\S+: (b\d+)/t-b\d+ placed on")


def log_time(line):
    ts = datetime.datetime.strptime(LOGTS.match(line).group(1),
                                    "%Y-%m-%dT%H:%M:%S.%fZ")
    return ts.replace(tzinfo=datetime.timezone.utc).timestamp()


def weft_phase(lab, interval_ms):
    weftctl = os.path.join(lab.build, "tools/weftctl/weftctl")
    sock = lab.state + "/core/weftd.sock"

    def ctl(*args):
        r = run([weftctl, "--socket", sock, "--format", "json", *args],
                check=False, timeout=60)
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None

    def synced():
        st, hs = ctl("status"), ctl("list-hosts")
        return (st is not None and hs is not None
                and st["hosts_ready"] == lab.hosts and len(hs) == lab.hosts
                and all(h["state"] == "ready" and h["flows_synced"]
                        for h in hs))

    deadline = time.time() + 120
    while not synced():
        if time.time() > deadline:
            sys.exit("ovn-burst: weftd's hosts never in sync")
        time.sleep(0.05)
    lab.warm_up()
    with open(lab.d + "/weftd.pid") as f:
        wpid = int(f.read().strip())
    groups = {"controller": [wpid],
              "ovs-vswitchd": lab.daemon_pids("ovs-vswitchd"),
              "host ovsdb-server": lab.daemon_pids("ovsdb-server"),
              "libvirtd": lab.daemon_pids("libvirtd")}
    say("Weft: burst of %d VM starts on %d hosts" % (len(lab.burst),
                                                      len(lab.bhosts)))
    b = burst(lab, interval_ms, groups)
    res = {"system": "weft"}
    common(lab, b, res)
    t0, first = b["t0"], b["first"]
    # weftd's own view: every port placed, every host in sync.
    deadline = time.time() + 60
    while not synced() and time.time() < deadline:
        time.sleep(0.1)
    res["synced_after"] = synced()
    placed = {}
    with open(lab.d + "/weftd.log") as f:
        for line in f:
            m = PLACED.search(line)
            if m and m.group(1) not in placed:
                t = log_time(line)
                if t >= t0 - 0.002:
                    placed[m.group(1)] = t
    res["placed_count"] = len(placed)
    res["placed_ms"] = summary([(t - t0) * 1000 for t in placed.values()])
    res["placed_to_reply_ms"] = summary([(first[v] - placed[v]) * 1000
                                         for v in first if v in placed])
    for v, p in res["per_vm"].items():
        p["placed_ms"] = round((placed[v] - t0) * 1000, 1) if v in placed else None
    warn = log_lines_after(lab.d + "/weftd.log", t0)
    res["log_warnings"] = len(warn)
    res["log_warning_lines"] = warn[:30]
    st = ctl("status") or {}
    res["weftd_rss_kb"] = rss_kb(wpid)
    res["last_recompute_ms"] = st.get("last_recompute_ms")
    res["recomputes"] = st.get("recomputes")
    return res


# ---------------------------------------------------------------- OVN

def ovn_phase(lab, interval_ms):
    nb = "unix:%s/ovn/nb.sock" % lab.state
    run(["ovn-nbctl", "--db=" + nb, "--timeout=120", "--wait=hv", "sync"])
    lab.warm_up()
    central = []
    for name, comm in (("northd", "ovn-northd"), ("nb", "ovsdb-server"),
                       ("sb", "ovsdb-server")):
        p = lab.pid("%s/ovn/%s.pid" % (lab.state, name), comm)
        if p:
            central.append(p)
    groups = {"controller": lab.daemon_pids("ovn-controller") + central,
              "ovs-vswitchd": lab.daemon_pids("ovs-vswitchd"),
              "host ovsdb-server": lab.daemon_pids("ovsdb-server"),
              "libvirtd": lab.daemon_pids("libvirtd")}
    say("OVN: burst of %d VM starts + add-ports on %d hosts"
        % (len(lab.burst), len(lab.bhosts)))
    # The add-ports go straight to the host's OVSDB socket: no `ip netns
    # exec` (a lab artifact, ~10 ms of CPU a process) in front of each.
    b = burst(lab, interval_ms, groups, plug=True)
    res = {"system": "ovn"}
    common(lab, b, res)
    t0, first = b["t0"], b["first"]
    plugged = b["plugged"]
    res["add_port_returned_ms"] = summary([(t - t0) * 1000
                                           for t in plugged.values()])
    rep = b["reported"]
    res["add_port_cmd_ms"] = summary([(plugged[v] - rep[v]) * 1000
                                      for v in plugged if v in rep])
    installed = {}
    for h in lab.bhosts:
        r = run(lab.host_argv(h) + ["ovs-vsctl", "--timeout=30",
                                    "--format=json", "--columns=name,external_ids",
                                    "list", "Interface"])
        for name, ext in json.loads(r.stdout)["data"]:
            ext = dict(ext[1])
            if name.startswith("t-b") and "ovn-installed-ts" in ext:
                installed[name[2:]] = int(ext["ovn-installed-ts"]) / 1000
    res["installed_count"] = len(installed)
    res["installed_ms"] = summary([(t - t0) * 1000 for t in installed.values()])
    res["add_port_to_installed_ms"] = summary(
        [(installed[v] - plugged[v]) * 1000 for v in installed if v in plugged])
    res["installed_to_reply_ms"] = summary([(first[v] - installed[v]) * 1000
                                            for v in first if v in installed])
    for v, p in res["per_vm"].items():
        p["add_port_returned_ms"] = (round((plugged[v] - t0) * 1000, 1)
                                     if v in plugged else None)
        p["installed_ms"] = (round((installed[v] - t0) * 1000, 1)
                             if v in installed else None)
    warn = []
    for i in range(1, lab.hosts + 1):
        warn += log_lines_after("%s/h%d/ovn/ovn-controller.log"
                                % (lab.state, i), t0)
    warn += log_lines_after(lab.state + "/ovn/northd.log", t0)
    res["log_warnings"] = len(warn)
    res["log_warning_lines"] = warn[:30]
    res["rss_kb"] = {"ovn-controller": sum(rss_kb(p) for p in
                                           lab.daemon_pids("ovn-controller")),
                     "central": sum(rss_kb(p) for p in central)}
    return res


# ---------------------------------------------------------------- report

def report(wf, of, command, commit, secs, out):
    weft = json.load(open(wf))
    ovn = json.load(open(of))
    rows = [
        ("VM start (burst t0) -> first ping reply from w1",
         "start_to_reply_ms", "start_to_reply_ms"),
        ("libvirt's 'Started' event (from t0)",
         "libvirt_started_ms", "libvirt_started_ms"),
        ("'Started' event -> first reply (the controller's share)",
         "started_to_reply_ms", "started_to_reply_ms"),
        ("port added to br-int (ovs-vswitchd's log)",
         "vswitchd_added_ms", "vswitchd_added_ms"),
        ("port added -> first reply", "added_to_reply_ms", "added_to_reply_ms"),
        ("port ready (Weft: 'placed', weftd's log; OVN: ovn-installed-ts)",
         "placed_ms", "installed_ms"),
        ("port ready -> first reply", "placed_to_reply_ms", "installed_to_reply_ms"),
    ]
    ratios = {}
    lines = []
    for name, wk, ok in rows:
        w, o = weft.get(wk), ovn.get(ok)
        if not w or not o:
            continue
        r = {k: ratio(w[k], o[k]) for k in ("p50", "p99", "max")}
        ratios[name] = r
        lines.append("| %s | %.0f / %.0f / %.0f ms | %.0f / %.0f / %.0f ms | %s / %s / %s |"
                     % (name, w["p50"], w["p99"], w["max"], o["p50"], o["p99"],
                        o["max"], r["p50"], r["p99"], r["max"]))
    ratios["all reachable"] = ratio(weft["all_reachable_ms"],
                                    ovn["all_reachable_ms"])
    doc = {"bench": "ovn-burst", "command": command, "commit": commit,
           "machine": machine(), "seconds": int(secs),
           "hosts": weft.get("hosts"), "count": weft["count"],
           "order": "one lab; Weft phase first, then OVN (br-int deleted between)",
           "burst": "one virsh shell per host h2..hN, all at once, every "
                    "start of the host on its stdin; OVN: ovs-vsctl add-port "
                    "per VM as its start is reported, not waiting for others",
           "weft": weft, "ovn": ovn, "weft_over_ovn": ratios}
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
    m = doc["machine"]
    print("Weft vs OVN, burst: %s (commit %s, %d cores, %.0f GB, %s s)"
          % (command, commit, m["cores"], m["mem_gb"], secs))
    print()

    def allr(x):
        return ("%.0f ms" % x["all_reachable_ms"] if x["all_reachable_ms"]
                else "never (%d of %d answered)" % (x["answered"], x["count"]))
    print("| burst of %d VMs | Weft | OVN | Weft/OVN |" % weft["count"])
    print("|---|---|---|---|")
    print("| all %d reachable (last first reply, from t0) | %s | %s | %s |"
          % (weft["count"], allr(weft), allr(ovn), ratios["all reachable"]))
    print()
    print("| per VM, from the burst's start (t0) | Weft p50 / p99 / max | OVN p50 / p99 / max | Weft/OVN p50 / p99 / max |")
    print("|---|---|---|---|")
    for line in lines:
        print(line)
    print()
    print("| other, same run | Weft | OVN |")
    print("|---|---|---|")
    for k in ("controller", "ovs-vswitchd", "host ovsdb-server", "libvirtd"):
        print("| CPU s from t0 to the last first reply: %s | %s | %s |"
              % ({"controller": "control plane (weftd; OVN: controllers + northd + NB + SB)"}.get(k, k),
                 weft["cpu_s_to_end"][k], ovn["cpu_s_to_end"][k]))
    print("| ovs-vswitchd CPU s per s, prober alone (the second before t0) | %s | %s |"
          % (weft["cpu_s_per_s_prober_alone"]["ovs-vswitchd"],
             ovn["cpu_s_per_s_prober_alone"]["ovs-vswitchd"]))
    o = ovn
    if o.get("add_port_cmd_ms"):
        print("| OVN: `ovs-vsctl add-port` (from virsh reporting the start) p50 / p99 / max | - | %.0f / %.0f / %.0f ms |"
              % (o["add_port_cmd_ms"]["p50"], o["add_port_cmd_ms"]["p99"],
                 o["add_port_cmd_ms"]["max"]))
    if o.get("add_port_to_installed_ms"):
        print("| OVN: add-port returned -> ovn-installed p50 / p99 / max | - | %.0f / %.0f / %.0f ms |"
              % (o["add_port_to_installed_ms"]["p50"],
                 o["add_port_to_installed_ms"]["p99"],
                 o["add_port_to_installed_ms"]["max"]))
    print("| ports placed (Weft) / ovn-installed (OVN) | %d of %d | %d of %d |"
          % (weft["placed_count"], weft["count"], ovn["installed_count"],
             ovn["count"]))
    print("| errors of virsh (and OVN's add-ports) | %d | %d |"
          % (weft["error_count"], ovn["error_count"]))
    print("| OVN: ovs-vsctl's 'Unreasonably long poll interval' warnings (waiting for a CPU) | - | %d |"
          % ovn["ovs_vsctl_long_poll_warnings"])
    print("| WARN/ERR log lines after t0 (weftd; ovn-controllers + northd) | %d | %d |"
          % (weft["log_warnings"], ovn["log_warnings"]))
    print("| echo requests sent by the prober | %d | %d |"
          % (weft["prober_requests_sent"], ovn["prober_requests_sent"]))


def main():
    mode = sys.argv[1]
    if mode == "ping":
        ping_main(float(sys.argv[2]), float(sys.argv[3]), sys.argv[4:])
        return
    if mode == "report":
        report(*sys.argv[2:8])
        return
    name, hosts, count, interval, out, build = sys.argv[2:8]
    lab = Lab(name, int(hosts), int(count), build)
    res = (weft_phase if mode == "weft" else ovn_phase)(lab, int(interval))
    res["hosts"] = int(hosts)
    res["interval_ms"] = int(interval)
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    say("%s phase done" % mode)


main()
