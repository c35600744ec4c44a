#!/usr/bin/env python3
"""The phases of tools/bench/ovn-scale.

    ovn-scale.py weft LAB HOSTS VNICS DIR BUILD    -> JSON on stdout
    ovn-scale.py ovn  LAB HOSTS VNICS DIR BUILD    -> JSON on stdout
    ovn-scale.py report LINES COMMAND COMMIT SECONDS OUTDIR
"""
import json
import os
import shutil
import subprocess
import sys
import time

from benchlib import machine

HZ = os.sysconf("SC_CLK_TCK")


def say(msg):
    print("ovn-scale: " + msg, file=sys.stderr, flush=True)


def run(argv, check=True, timeout=600, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       **kw)
    if check and r.returncode:
        sys.exit("ovn-scale: %s failed (%d): %s"
                 % (" ".join(argv[:8]), r.returncode, r.stderr.strip()[-500:]))
    return r


def pid_from(path, comm):
    try:
        with open(path) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/comm" % pid) as f:
            return pid if f.read().strip() == comm else None
    except (OSError, ValueError):
        return None


def ticks(pids):
    t = 0
    for p in pids:
        with open("/proc/%d/stat" % p) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        t += int(fields[11]) + int(fields[12])
    return t


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])


def cpu_s(t0, t1):
    return round((t1 - t0) / HZ, 2)


def flows_total(lab, hosts):
    total = 0
    for i in range(1, hosts + 1):
        h = "h%d" % i
        d = "/run/weft-lab/%s/%s" % (lab, h)
        r = run(["ip", "netns", "exec", "%s-%s" % (lab, h), "env",
                 "OVS_RUNDIR=" + d, "ovs-ofctl", "-O", "OpenFlow13",
                 "dump-aggregate", "br-int"])
        total += int(r.stdout.split("flow_count=")[1].split()[0])
    return total


# ---------------------------------------------------------------- Weft

def weft(lab, hosts, vnics, d, build):
    state = "/run/weft-lab/" + lab
    weftctl = [os.path.join(build, "tools/weftctl/weftctl"), "--socket",
               state + "/core/weftd.sock", "--format", "json"]

    def ctl(*a, check=True):
        r = run(weftctl + list(a), check=check, timeout=60)
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None

    def synced():
        st = ctl("status", check=False)
        if st is None or st["hosts_ready"] != hosts:
            return None
        hs = ctl("list-hosts", check=False)
        if hs is None or not all(h["state"] == "ready" and h["flows_synced"]
                                 for h in hs):
            return None
        return st, hs

    def wait(pred, what, timeout=300):
        end = time.time() + timeout
        while time.time() < end:
            s = synced()
            if s and pred(s):
                return time.time(), s
            time.sleep(0.02)
        sys.exit("ovn-scale: timed out waiting for " + what)

    db = pid_from(state + "/core/ovsdb-server.pid", "ovsdb-server")
    subprocess.Popen(["ip", "netns", "exec", lab + "-core",
                      os.path.join(build, "controller/weftd"), "-c",
                      d + "/weftd.conf", "--pidfile=" + d + "/weftd.pid",
                      "--log-file=" + d + "/weftd.log"],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(500):
        pid = pid_from(d + "/weftd.pid", "weftd")
        if pid:
            break
        time.sleep(0.01)
    wait(lambda s: True, "hosts ready")
    pids = [pid, db]
    c0 = ticks(pids)
    t0 = time.time()
    ctl("set-policy", d + "/policy")
    t1, _ = wait(lambda s: s[0]["vnics_placed"] == vnics, "all placed")
    c1 = ticks(pids)
    time.sleep(2)
    rss = rss_kb(pid)
    flows = flows_total(lab, hosts)
    # one rule added
    st0 = synced()[0]
    c2 = ticks(pids)
    t2 = time.time()
    gen = ctl("rule-add", "x", "allow", "from=s2", "to=s2", "proto=tcp",
              "ports=7777")["generation"]
    t3, _ = wait(lambda s: s[0]["policy_generation"] >= gen
                 and s[0]["recomputes"] > st0["recomputes"], "rule in force")
    c3 = ticks(pids)
    return {
        "bringup_s": round(t1 - t0, 2), "bringup_cpu_s": cpu_s(c0, c1),
        "rule_add_ms": round((t3 - t2) * 1000), "rule_add_cpu_s": cpu_s(c2, c3),
        "rss_kb": {"weftd": rss, "policy-db": rss_kb(db)},
        "rss_total_kb": rss + rss_kb(db),
        "flows_total": flows,
    }


# ---------------------------------------------------------------- OVN

def ovn(lab, hosts, vnics, d, build):
    state = "/run/weft-lab/" + lab
    nb = "unix:%s/ovn/nb.sock" % state
    ports = [l.split() for l in open(d + "/ports")]

    def nbctl(*a):
        return run(["ovn-nbctl", "--db=" + nb, "--timeout=600", *a])

    def host_env(h):
        hd = "%s/%s" % (state, h)
        return ["ip", "netns", "exec", "%s-%s" % (lab, h), "env",
                "OVS_RUNDIR=" + hd]

    hosts_l = ["h%d" % i for i in range(1, hosts + 1)]
    ctrl = {h: pid_from("%s/%s/ovn/ovn-controller.pid" % (state, h),
                        "ovn-controller") for h in hosts_l}
    central = {n: pid_from("%s/ovn/%s.pid" % (state, n), c) for n, c in
               (("northd", "ovn-northd"), ("nb", "ovsdb-server"),
                ("sb", "ovsdb-server"))}
    pids = list(ctrl.values()) + list(central.values())
    # br-int created by every ovn-controller
    for h in hosts_l:
        for _ in range(200):
            if run(host_env(h) + ["ovs-vsctl", "br-exists", "br-int"],
                   check=False).returncode == 0:
                break
            time.sleep(0.05)
    nbctl("--wait=hv", "sync")
    c0 = ticks(pids)
    t0 = time.time()
    # NB: 10 switches, ports with MAC + IP, port groups, ACLs (one txn)
    args = []
    for k in range(10):
        args += ["--", "ls-add", "s%d" % k]
    bypg = {}
    for i, (name, host, mac, seg) in enumerate(ports):
        ip = "10.%d.%d.%d" % (int(seg[1:]), (i // 250) % 250, i % 250 + 1)
        args += ["--", "lsp-add", seg, name,
                 "--", "lsp-set-addresses", name, "%s %s" % (mac, ip),
                 "--", "lsp-set-port-security", name, "%s %s" % (mac, ip)]
        bypg.setdefault(seg, []).append(name)
    for seg, names in sorted(bypg.items()):
        pg = "pg_" + seg
        args += ["--", "pg-add", pg, *names,
                 "--", "acl-add", pg, "to-lport", "1000",
                 "outport == @%s && ip4" % pg, "drop",
                 "--", "acl-add", pg, "to-lport", "1001",
                 "outport == @%s && ip4.src == $%s_ip4 && icmp4" % (pg, pg),
                 "allow-related",
                 "--", "acl-add", pg, "to-lport", "1002",
                 "outport == @%s && ip4.src == $%s_ip4 && tcp.dst == {80, 443}"
                 % (pg, pg), "allow-related"]
    nbctl(*args[1:])
    # the ports on each host's br-int, one ovs-vsctl per host
    for h in hosts_l:
        a = ["ovs-vsctl", "--timeout=600"]
        for name, host, mac, seg in ports:
            if host == h:
                a += ["--", "add-port", "br-int", "t-" + name, "--", "set",
                      "Interface", "t-" + name,
                      "external_ids:iface-id=" + name]
        run(host_env(h) + a)
    nbctl("--wait=hv", "sync")
    t1 = time.time()
    c1 = ticks(pids)
    time.sleep(2)
    rss = {h: rss_kb(p) for h, p in ctrl.items()}
    rss.update({n: rss_kb(p) for n, p in central.items()})
    flows = flows_total(lab, hosts)
    c2 = ticks(pids)
    t2 = time.time()
    nbctl("--wait=hv", "acl-add", "pg_s2", "to-lport", "1003",
          "outport == @pg_s2 && ip4.src == $pg_s2_ip4 && tcp.dst == 7777",
          "allow-related")
    t3 = time.time()
    c3 = ticks(pids)
    ctl_rss = [rss[h] for h in hosts_l]
    return {
        "bringup_s": round(t1 - t0, 2), "bringup_cpu_s": cpu_s(c0, c1),
        "rule_add_ms": round((t3 - t2) * 1000), "rule_add_cpu_s": cpu_s(c2, c3),
        "rss_kb": {"ovn-controller_sum": sum(ctl_rss),
                   "ovn-controller_max": max(ctl_rss),
                   "northd": rss["northd"], "nb": rss["nb"], "sb": rss["sb"]},
        "rss_total_kb": sum(ctl_rss) + rss["northd"] + rss["nb"] + rss["sb"],
        "flows_total": flows,
    }


# ---------------------------------------------------------------- report

def report(lines, command, commit, secs, outdir):
    sizes = [json.loads(l) for l in open(lines) if l.strip()]
    doc = {"bench": "ovn-scale", "command": command, "commit": commit,
           "machine": machine(), "seconds": int(secs), "sizes": sizes,
           "order": "per size: one dummy lab; Weft phase, then OVN"}
    with open(os.path.join(outdir, "ovn-scale.json"), "w") as f:
        json.dump(doc, f, indent=1)
    m = doc["machine"]
    print("Weft vs OVN, scale: %s (commit %s, %d cores, %.0f GB, %s s)"
          % (command, commit, m["cores"], m["mem_gb"], secs))
    print()
    print("| hosts x ports | bring-up Weft / OVN | CPU Weft / OVN | 1 rule Weft / OVN | CPU Weft / OVN | RSS Weft / OVN (all) | OVN per host | flows Weft / OVN |")
    print("|---|---|---|---|---|---|---|---|")
    dat = []
    for s in sizes:
        w, o = s["weft"], s["ovn"]
        print("| %d x %d | %.2f / %.2f s (%.2f) | %.2f / %.2f s (%.2f) | %d / %d ms (%.2f) | %.2f / %.2f s | %.1f / %.1f MB (%.2f) | %.1f MB | %d / %d |"
              % (s["hosts"], s["vnics"], w["bringup_s"], o["bringup_s"],
                 w["bringup_s"] / o["bringup_s"], w["bringup_cpu_s"],
                 o["bringup_cpu_s"],
                 w["bringup_cpu_s"] / o["bringup_cpu_s"] if o["bringup_cpu_s"] else 0,
                 w["rule_add_ms"], o["rule_add_ms"],
                 w["rule_add_ms"] / o["rule_add_ms"], w["rule_add_cpu_s"],
                 o["rule_add_cpu_s"], w["rss_total_kb"] / 1024,
                 o["rss_total_kb"] / 1024,
                 w["rss_total_kb"] / o["rss_total_kb"],
                 o["rss_kb"]["ovn-controller_max"] / 1024,
                 w["flows_total"], o["flows_total"]))
        dat.append("%d %d %.1f %.1f %.2f %.2f %d %d" % (
            s["hosts"], s["vnics"], w["rss_total_kb"] / 1024,
            o["rss_total_kb"] / 1024, w["bringup_cpu_s"], o["bringup_cpu_s"],
            w["rule_add_ms"], o["rule_add_ms"]))
    if shutil.which("gnuplot"):
        datf = os.path.join(outdir, "ovn-scale.dat")
        with open(datf, "w") as f:
            f.write("# hosts vnics weft_rss_mb ovn_rss_mb weft_cpu_s ovn_cpu_s weft_rule_ms ovn_rule_ms\n")
            f.write("\n".join(dat) + "\n")
        png = os.path.join(outdir, "ovn-scale.png")
        # at most 6 labels on the x axis, or they run into each other
        top = max(s["vnics"] for s in sizes)
        xstep = next(v for v in (100, 200, 500, 1000, 2000, 5000, 10 ** 9)
                     if top / v <= 6)
        gp = """set terminal pngcairo size 1200,400 font ",10"
set output '%s'
set multiplot layout 1,3 title "Weft vs OVN, dummy datapath (%s, commit %s)"
set key left top Left reverse
set xlabel "ports (vNICs)"
set xtics %d
set grid
set title "control-plane RSS (MB)"
plot '%s' using 2:3 with linespoints title "Weft (weftd + policy db)", '' using 2:4 with linespoints title "OVN (all daemons)"
set title "CPU to bring all ports up (s)"
plot '%s' using 2:5 with linespoints title "Weft", '' using 2:6 with linespoints title "OVN"
set title "one rule/ACL added -> all hosts (ms)"
plot '%s' using 2:7 with linespoints title "Weft", '' using 2:8 with linespoints title "OVN"
unset multiplot
""" % (png, command, commit, xstep, datf, datf, datf)
        r = subprocess.run(["gnuplot"], input=gp, text=True,
                           capture_output=True)
        if r.returncode == 0:
            print()
            print("plot: " + png)
        else:
            say("gnuplot failed: " + r.stderr.strip())


mode = sys.argv[1]
if mode == "report":
    report(*sys.argv[2:7])
else:
    lab, hosts, vnics, d, build = sys.argv[2:7]
    fn = weft if mode == "weft" else ovn
    print(json.dumps(fn(lab, int(hosts), int(vnics), d, build)))
