#!/usr/bin/env python3
"""Measures of tools/bench/ovn, one phase at a time (weft or ovn) on a lab
that tools/bench/ovn has built; writes the phase's JSON to OUT.

    ovn-measure.py weft|ovn LAB HOSTS SAMPLES REPEAT OUT WEFT_BUILD WEFTD_CONF

Every time is wall clock (time.time()), so that it can be compared with the
timestamps in weftd's log and OVN's ovn-installed-ts.
"""
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

from benchlib import pct, summary

(MODE, LAB, HOSTS, SAMPLES, REPEAT, OUT, BUILD, WEFTD_CONF) = sys.argv[1:9]
HOSTS, SAMPLES, REPEAT = int(HOSTS), int(SAMPLES), int(REPEAT)
STATE = "/run/weft-lab/" + LAB
D = "/run/weft-bench/" + LAB
WEFTCTL = os.path.join(BUILD, "tools/weftctl/weftctl")
WEFTD = os.path.join(BUILD, "controller/weftd")
SOCK = STATE + "/core/weftd.sock"
NB = "unix:%s/ovn/nb.sock" % STATE
POLL = 0.02
PING_INTERVAL = "0.005"


def say(msg):
    print("ovn bench [%s]: %s" % (MODE, msg), file=sys.stderr, flush=True)


def run(argv, check=True, timeout=120):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode:
        sys.exit("ovn bench: %s failed (%d): %s"
                 % (" ".join(argv), r.returncode, r.stderr.strip()))
    return r


def host_argv(h):
    d = "%s/%s" % (STATE, h)
    return ["ip", "netns", "exec", "%s-%s" % (LAB, h), "env",
            "OVS_RUNDIR=" + d, "OVS_DBDIR=" + d, "OVS_LOGDIR=" + d,
            "OVS_SYSCONFDIR=" + d, "OVN_RUNDIR=%s/ovn" % d,
            "OVN_LOGDIR=%s/ovn" % d]


def vm_argv(vm):
    return ["ip", "netns", "exec", "%s-vm-%s" % (LAB, vm)]


# The lab's VMs: name host mac ip.
VMS = {}
with open(STATE + "/vms") as f:
    for line in f:
        vm, host, mac, ip = line.split()
        VMS[vm] = (host, mac, ip.split("/")[0])
SAMPLE_VMS = sorted((v for v in VMS if v.startswith("b")),
                    key=lambda v: int(v[1:]))[:SAMPLES]
WARM = ["w%d" % i for i in range(1, HOSTS + 1)]


def ping_argv(src, dst, deadline=10):
    """One ping process that exits at the first reply (or the deadline)."""
    return vm_argv(src) + ["ping", "-n", "-q", "-c", "1", "-w", str(deadline),
                           "-i", PING_INTERVAL, VMS[dst][2]]


def ping_ok(src, dst, deadline=1):
    return run(ping_argv(src, dst, deadline), check=False).returncode == 0


def warm_up():
    """Every warm VM reaches w1 (tunnel ARP of the userspace datapath takes
    a second or two the first time)."""
    for vm in WARM[1:]:
        for _ in range(30):
            if ping_ok("w1", vm, 1):
                break
        else:
            sys.exit("ovn bench: w1 cannot reach %s" % vm)


# ---------------------------------------------------------------- switches

def switch_counters():
    """OpenFlow messages each host's ovs-vswitchd has received."""
    out = {}
    for i in range(1, HOSTS + 1):
        h = "h%d" % i
        r = run(host_argv(h) + ["ovs-appctl", "coverage/read-counter",
                                "ofproto_recv_openflow"])
        out[h] = int(r.stdout.strip())
    return out


DUR = re.compile(r"duration=([0-9.]+)s")


def flows_younger_than(age_s):
    """(flows in all br-int, flows added less than age_s ago)."""
    total = young = 0
    for i in range(1, HOSTS + 1):
        r = run(host_argv("h%d" % i) + ["ovs-ofctl", "-O", "OpenFlow13",
                                        "dump-flows", "br-int"])
        for line in r.stdout.splitlines():
            m = DUR.search(line)
            if m:
                total += 1
                young += float(m.group(1)) < age_s
    return total, young


def flows_per_host():
    total, _ = flows_younger_than(0)
    return round(total / HOSTS, 1)


class Pinger:
    """A ping every 10 ms from w1 to w2 in the background, to count the
    replies lost during a restart.

    Lost means a request whose reply never came although later ones did:
    ping's own summary would also count the request still in flight when
    it is stopped."""

    def __init__(self):
        self.p = subprocess.Popen(vm_argv("w1") + ["ping", "-n", "-i",
                                                    "0.01", VMS["w2"][2]],
                                  stdout=subprocess.PIPE, text=True)

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        out, _ = self.p.communicate(timeout=10)
        seqs = {int(m) for m in re.findall(r"icmp_seq=(\d+)", out)}
        if not seqs:
            m = re.search(r"(\d+) packets transmitted", out)
            return {"sent": int(m.group(1)), "lost": int(m.group(1))}
        last = max(seqs)        # Sequence numbers start at 1.
        return {"sent": last, "lost": last - len(seqs)}


# ---------------------------------------------------------------- Weft

LOGTS = re.compile(r"^(\S+?)\|")
UPDATED = re.compile(r"\|INFO\|(\S+): flows updated")  # per switch connection
PLACED = re.compile(r"\|INFO\|\S+: (b\d+)/t-b\d+ placed on")


def log_time(line):
    ts = datetime.datetime.strptime(LOGTS.match(line).group(1),
                                    "%Y-%m-%dT%H:%M:%S.%fZ")
    return ts.replace(tzinfo=datetime.timezone.utc).timestamp()


def weft_log():
    with open(D + "/weftd.log") as f:
        return f.readlines()


def ctl(*args, check=True):
    r = run([WEFTCTL, "--socket", SOCK, "--format", "json", *args],
            check=check, timeout=60)
    if r.returncode:
        return None
    return json.loads(r.stdout) if r.stdout.strip() else {}


def wstate():
    st = ctl("status", check=False)
    hs = ctl("list-hosts", check=False) if st is not None else None
    return None if hs is None else (st, hs)


def all_synced(s):
    st, hs = s
    return (st["hosts_ready"] == HOSTS and len(hs) == HOSTS
            and all(h["state"] == "ready" and h["flows_synced"] for h in hs))


def wait_for(pred, what, timeout=120):
    deadline = time.time() + timeout
    while True:
        s = wstate()
        if s is not None and pred(s):
            return time.time(), s
        if time.time() > deadline:
            sys.exit("ovn bench: timed out waiting for " + what)
        time.sleep(POLL)


def quiet(secs=0.5):
    """All hosts in sync and nothing changing for secs."""
    def key(s):
        return (s[0]["recomputes"], sum(h["flow_mods"] for h in s[1]))
    _, s = wait_for(all_synced, "all hosts in sync")
    since, k = time.time(), key(s)
    while time.time() - since < secs:
        time.sleep(0.1)
        s2 = wstate()
        if s2 is None or not all_synced(s2) or key(s2) != k:
            _, s = wait_for(all_synced, "all hosts in sync")
            since, k = time.time(), key(s)
    return s


def weft_installed(t0, gen, rec0):
    """Time at which the last host's switch accepted the change: weftd's
    'flows updated' log line of each host after t0 (ms timestamps), once
    polling shows every host in sync with the new generation."""
    t_poll, _ = wait_for(lambda s: s[0]["policy_generation"] >= gen
                         and s[0]["recomputes"] > rec0 and all_synced(s),
                         "the change in force on all hosts")
    last = {}
    for line in weft_log():
        m = UPDATED.search(line)
        if m:
            t = log_time(line)
            if t0 - 0.002 <= t <= t_poll + 0.05:
                last[m.group(1)] = t
    if not last:
        return t_poll, 0, t_poll
    return max(last.values()), len(last), t_poll


def weftd_pid():
    with open(D + "/weftd.pid") as f:
        pid = int(f.read().strip())
    with open("/proc/%d/comm" % pid) as f:
        assert f.read().strip() == "weftd"
    return pid


def gone(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return any(l.startswith("State:") and l.split()[1] in "ZX"
                       for l in f)
    except FileNotFoundError:
        return True


def start_weftd():
    subprocess.Popen(["ip", "netns", "exec", LAB + "-core", WEFTD,
                      "-c", WEFTD_CONF, "--pidfile=" + D + "/weftd.pid",
                      "--log-file=" + D + "/weftd.log"],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)


def weft_phase():
    quiet()
    warm_up()
    res = {"flows_per_host": flows_per_host()}

    # 1. VM start -> reachable
    say("1. VM start -> first ping reply from w1 (%d VMs)" % len(SAMPLE_VMS))
    m1 = []
    for vm in SAMPLE_VMS:
        host = VMS[vm][0]
        uri = "test+unix:///default?socket=%s/%s/libvirt/libvirt-sock" % (
            STATE, host)
        t0 = time.time()
        run(["ip", "-n", "%s-%s" % (LAB, host), "link", "set", "t-" + vm,
             "up"])
        start = subprocess.Popen(["virsh", "-q", "-c", uri, "start", vm],
                                 stdout=subprocess.DEVNULL)
        ping = subprocess.Popen(ping_argv("w1", vm), stdout=subprocess.DEVNULL)
        t_virsh = None
        while ping.poll() is None:
            if t_virsh is None and start.poll() is not None:
                t_virsh = time.time()
            time.sleep(0.001)
        t_reply = time.time()
        start.wait()
        if t_virsh is None:
            t_virsh = time.time()
        if ping.returncode:
            sys.exit("ovn bench: %s never answered" % vm)
        m1.append({"vm": vm, "t0": t0, "reply_ms": (t_reply - t0) * 1000,
                   "virsh_ms": (t_virsh - t0) * 1000})
        time.sleep(0.2)
    placed = {}
    for line in weft_log():
        m = PLACED.search(line)
        if m and m.group(1) not in placed:
            placed[m.group(1)] = log_time(line)
    for s in m1:
        if s["vm"] in placed:
            s["port_ms"] = (placed[s["vm"]] - s["t0"]) * 1000
    res["vm_start_to_reachable_ms"] = summary([s["reply_ms"] for s in m1])
    res["vm_start_to_port_ms"] = summary([s["port_ms"] for s in m1
                                          if "port_ms" in s])
    res["virsh_start_cmd_ms"] = summary([s["virsh_ms"] for s in m1])
    res["own_share_ms"] = summary([s["reply_ms"] - s["virsh_ms"] for s in m1])
    res["port_to_reachable_ms"] = summary([s["reply_ms"] - s["port_ms"]
                                           for s in m1 if "port_ms" in s])

    # 2. Policy change -> installed on all hosts (and traffic passes)
    say("2. rule-del / rule-add of the ICMP rule, %d times" % REPEAT)
    dels, adds, passes, cmds = [], [], [], []
    for _ in range(REPEAT):
        s0 = quiet()
        t0 = time.time()
        gen = ctl("rule-del", "web-ping")["generation"]
        t_inst, n, _ = weft_installed(t0, gen, s0[0]["recomputes"])
        dels.append((t_inst - t0) * 1000)
        if ping_ok("w1", "w2", 1):
            sys.exit("ovn bench: ping passes without the ICMP rule")
        s0 = quiet()
        t0 = time.time()
        ping = subprocess.Popen(ping_argv("w1", "w2"), stdout=subprocess.DEVNULL)
        gen = ctl("rule-add", "web-ping", "allow", "from=web", "to=web",
                  "proto=icmp")["generation"]
        t_cmd = time.time()
        t_inst, n, _ = weft_installed(t0, gen, s0[0]["recomputes"])
        ping.wait()
        t_pass = time.time()
        if ping.returncode:
            sys.exit("ovn bench: ping does not pass after rule-add")
        adds.append((t_inst - t0) * 1000)
        passes.append((t_pass - t0) * 1000)
        cmds.append((t_cmd - t0) * 1000)
        res["policy_hosts_changed"] = n
    res["policy_del_installed_ms"] = summary(dels)
    res["policy_add_installed_ms"] = summary(adds)
    res["policy_add_ping_passes_ms"] = summary(passes)
    res["policy_command_ms"] = summary(cmds)

    # 3. Restart with nothing changed
    say("3. weftd kill -9 + start, %d times" % REPEAT)
    rs = []
    for _ in range(REPEAT):
        quiet()
        time.sleep(1)
        c0 = switch_counters()
        pinger = Pinger()
        time.sleep(0.5)
        pid = weftd_pid()
        t0 = time.time()
        os.kill(pid, signal.SIGKILL)
        while not gone(pid):
            time.sleep(0.005)
        start_weftd()
        t1, _ = wait_for(all_synced, "all hosts ready and in sync", 60)
        s = quiet(1.0)
        loss = pinger.stop()
        c1 = switch_counters()
        total, young = flows_younger_than(time.time() - t0)
        rs.append({"ms": (t1 - t0) * 1000,
                   "flow_mods": sum(h["flow_mods"] for h in s[1]),
                   "of_msgs": sum(c1.values()) - sum(c0.values()),
                   "flows_readded": young, "flows": total,
                   "ping_lost": loss["lost"], "ping_sent": loss["sent"]})
    res["restart"] = {
        "to_ready_ms": summary([r["ms"] for r in rs]),
        "flow_mods_max": max(r["flow_mods"] for r in rs),
        "flows_readded_max": max(r["flows_readded"] for r in rs),
        "switch_of_msgs_p50": pct([r["of_msgs"] for r in rs], 50),
        "ping_lost_total": sum(r["ping_lost"] for r in rs),
        "ping_lost_each": [r["ping_lost"] for r in rs],
        "ping_sent_total": sum(r["ping_sent"] for r in rs),
        "samples": rs,
    }
    st = ctl("status")
    res["weftd_rss_kb"] = rss_kb(weftd_pid())
    res["recompute_ms"] = st.get("last_recompute_ms")
    return res


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])


# ---------------------------------------------------------------- OVN

ACL_MATCH = "outport == @pg_web && ip4.src == $pg_web_ip4 && icmp4"


def nbctl(*args, timeout=60):
    return run(["ovn-nbctl", "--db=" + NB, "--timeout=%d" % timeout, *args])


def controller_pid(h):
    try:
        with open("%s/%s/ovn/ovn-controller.pid" % (STATE, h)) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/comm" % pid) as f:
            return pid if f.read().strip() == "ovn-controller" else None
    except (OSError, ValueError):
        return None


def start_controller(h):
    d = "%s/%s/ovn" % (STATE, h)
    run(host_argv(h) + ["ovn-controller", "--pidfile=%s/ovn-controller.pid" % d,
                        "--log-file=%s/ovn-controller.log" % d,
                        "-vconsole:off", "--detach", "--no-chdir"])


def ovn_phase():
    nbctl("--wait=hv", "sync")
    warm_up()
    res = {"flows_per_host": flows_per_host()}

    say("1. virsh start + add-port -> first ping reply from w1 (%d VMs)"
        % len(SAMPLE_VMS))
    m1 = []
    for vm in SAMPLE_VMS:
        host = VMS[vm][0]
        uri = "test+unix:///default?socket=%s/%s/libvirt/libvirt-sock" % (
            STATE, host)
        marks = {}

        def start_and_plug():
            # What libvirt does for a VM on OVN: start the domain, plug its
            # tap into br-int with the iface-id (libvirt's test driver does
            # not plug, so the plug follows the start here).
            run(["virsh", "-q", "-c", uri, "start", vm])
            marks["virsh"] = time.time()
            run(host_argv(host) + [
                "ovs-vsctl", "add-port", "br-int", "t-" + vm, "--", "set",
                "Interface", "t-" + vm, "external_ids:iface-id=" + vm])
            marks["add"] = time.time()

        t0 = time.time()
        run(["ip", "-n", "%s-%s" % (LAB, host), "link", "set", "t-" + vm,
             "up"])
        th = threading.Thread(target=start_and_plug)
        th.start()
        ping = subprocess.Popen(ping_argv("w1", vm), stdout=subprocess.DEVNULL)
        ping.wait()
        t_reply = time.time()
        th.join()
        if ping.returncode:
            sys.exit("ovn bench: %s never answered" % vm)
        r = run(host_argv(host) + ["ovs-vsctl", "--timeout=20", "wait-until",
                                   "Interface", "t-" + vm,
                                   "external_ids:ovn-installed=true", "--",
                                   "get", "Interface", "t-" + vm,
                                   "external_ids:ovn-installed-ts"])
        t_inst = int(r.stdout.strip().strip('"')) / 1000
        m1.append({"vm": vm, "reply_ms": (t_reply - t0) * 1000,
                   "virsh_ms": (marks["virsh"] - t0) * 1000,
                   "add_port_ms": (marks["add"] - marks["virsh"]) * 1000,
                   "own_ms": (t_reply - marks["virsh"]) * 1000,
                   "installed_ms": (t_inst - marks["virsh"]) * 1000})
        time.sleep(0.2)
    res["vm_start_to_reachable_ms"] = summary([s["reply_ms"] for s in m1])
    res["virsh_start_cmd_ms"] = summary([s["virsh_ms"] for s in m1])
    res["own_share_ms"] = summary([s["own_ms"] for s in m1])
    res["port_add_cmd_ms"] = summary([s["add_port_ms"] for s in m1])
    res["port_add_to_ovn_installed_ms"] = summary([s["installed_ms"]
                                                   for s in m1])
    res["installed_to_reachable_ms"] = summary([s["own_ms"] - s["installed_ms"]
                                                for s in m1])

    say("2. acl-del / acl-add --wait=hv of the ICMP ACL, %d times" % REPEAT)
    dels, adds, passes = [], [], []
    for _ in range(REPEAT):
        time.sleep(0.5)
        t0 = time.time()
        nbctl("--wait=hv", "acl-del", "pg_web", "to-lport", "1001", ACL_MATCH)
        dels.append((time.time() - t0) * 1000)
        if ping_ok("w1", "w2", 1):
            sys.exit("ovn bench: ping passes without the ICMP ACL")
        time.sleep(0.5)
        t0 = time.time()
        ping = subprocess.Popen(ping_argv("w1", "w2"), stdout=subprocess.DEVNULL)
        nbctl("--wait=hv", "acl-add", "pg_web", "to-lport", "1001", ACL_MATCH,
              "allow-related")
        t_inst = time.time()
        ping.wait()
        t_pass = time.time()
        if ping.returncode:
            sys.exit("ovn bench: ping does not pass after acl-add")
        adds.append((t_inst - t0) * 1000)
        passes.append((t_pass - t0) * 1000)
    res["policy_del_installed_ms"] = summary(dels)
    res["policy_add_installed_ms"] = summary(adds)
    res["policy_add_ping_passes_ms"] = summary(passes)

    say("3. every ovn-controller kill -9 + start, %d times" % REPEAT)
    hosts = ["h%d" % i for i in range(1, HOSTS + 1)]
    rs = []
    for _ in range(REPEAT):
        nbctl("--wait=hv", "sync")
        time.sleep(1.5)
        c0 = switch_counters()
        pinger = Pinger()
        time.sleep(0.5)
        pids = [controller_pid(h) for h in hosts]
        t0 = time.time()
        for p in pids:
            os.kill(p, signal.SIGKILL)
        for p in pids:
            while not gone(p):
                time.sleep(0.005)
        for h in hosts:
            start_controller(h)
        nbctl("--wait=hv", "sync")
        t1 = time.time()
        time.sleep(1.0)
        loss = pinger.stop()
        c1 = switch_counters()
        total, young = flows_younger_than(time.time() - t0)
        rs.append({"ms": (t1 - t0) * 1000,
                   "of_msgs": sum(c1.values()) - sum(c0.values()),
                   "flows_readded": young, "flows": total,
                   "ping_lost": loss["lost"], "ping_sent": loss["sent"]})
    res["restart"] = {
        "to_ready_ms": summary([r["ms"] for r in rs]),
        "flows_readded_max": max(r["flows_readded"] for r in rs),
        "switch_of_msgs_p50": pct([r["of_msgs"] for r in rs], 50),
        "ping_lost_total": sum(r["ping_lost"] for r in rs),
        "ping_lost_each": [r["ping_lost"] for r in rs],
        "ping_sent_total": sum(r["ping_sent"] for r in rs),
        "samples": rs,
    }
    rss = {"ovn-controller": sum(rss_kb(controller_pid(h)) for h in hosts)}
    for name, comm in (("northd", "ovn-northd"), ("nb", "ovsdb-server"),
                       ("sb", "ovsdb-server")):
        with open("%s/ovn/%s.pid" % (STATE, name)) as f:
            rss[name] = rss_kb(int(f.read().strip()))
    res["rss_kb"] = rss
    return res


res = weft_phase() if MODE == "weft" else ovn_phase()
with open(OUT, "w") as f:
    json.dump(res, f, indent=1)
say("done")
