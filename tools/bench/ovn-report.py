#!/usr/bin/env python3
"""Joins the Weft and OVN phases of tools/bench/ovn into one JSON document
(with command, commit and machine) and prints a table of Weft/OVN ratios.

    ovn-report.py WEFT.json OVN.json COMMAND COMMIT SECONDS HOSTS SAMPLES REPEAT OUT
"""
import json
import os
import sys

from benchlib import machine, ratio

wf, of, command, commit, secs, hosts, samples, repeat, out = sys.argv[1:10]
weft = json.load(open(wf))
ovn = json.load(open(of))


rows = []   # (measure, weft summary, ovn summary)


def row(name, w, o):
    rows.append((name, w, o))


row("1. VM start -> reachable (first ping reply, other host)",
    weft["vm_start_to_reachable_ms"], ovn["vm_start_to_reachable_ms"])
row("1. same, after `virsh start` returns (the controller's share)",
    weft["own_share_ms"], ovn["own_share_ms"])
row("2. rule/ACL removed -> installed on all hosts",
    weft["policy_del_installed_ms"], ovn["policy_del_installed_ms"])
row("2. rule/ACL added -> installed on all hosts",
    weft["policy_add_installed_ms"], ovn["policy_add_installed_ms"])
row("2. rule/ACL added -> blocked ping passes",
    weft["policy_add_ping_passes_ms"], ovn["policy_add_ping_passes_ms"])
row("3. restart (nothing changed) -> ready",
    weft["restart"]["to_ready_ms"], ovn["restart"]["to_ready_ms"])

ratios = {}
for name, w, o in rows:
    ratios[name] = {"p50": ratio(w["p50"], o["p50"]),
                    "p99": ratio(w["p99"], o["p99"])}

doc = {
    "bench": "ovn", "command": command, "commit": commit,
    "machine": machine(), "seconds": int(secs),
    "hosts": int(hosts), "samples": int(samples), "repeat": int(repeat),
    "order": "one lab; Weft phase first, then OVN (br-int deleted between)",
    "weft": weft, "ovn": ovn, "weft_over_ovn": ratios,
}
with open(out, "w") as f:
    json.dump(doc, f, indent=1)

m = doc["machine"]
print("Weft vs OVN: %s (commit %s, %d cores, %.0f GB, %s s)"
      % (command, commit, m["cores"], m["mem_gb"], secs))
print()
print("| measure | Weft p50 / p99 | OVN p50 / p99 | Weft/OVN p50 | Weft/OVN p99 |")
print("|---|---|---|---|---|")
for name, w, o in rows:
    r = ratios[name]
    print("| %s | %.0f / %.0f ms | %.0f / %.0f ms | %s | %s |"
          % (name, w["p50"], w["p99"], o["p50"], o["p99"], r["p50"], r["p99"]))
print()
wr, orr = weft["restart"], ovn["restart"]
print("| restart, nothing changed (%s times) | Weft | OVN |" % repeat)
print("|---|---|---|")
print("| flow_mods sent (weftd's counter, max) | %d | - |" % wr["flow_mods_max"])
print("| flows re-added on the switches (max, all hosts) | %d of %d | %d of %d |"
      % (wr["flows_readded_max"], wr["samples"][0]["flows"],
         orr["flows_readded_max"], orr["samples"][0]["flows"]))
print("| OpenFlow messages received by the switches (p50) | %d | %d |"
      % (wr["switch_of_msgs_p50"], orr["switch_of_msgs_p50"]))
print("| pings lost (10 ms interval, all restarts) | %d of %d | %d of %d |"
      % (wr["ping_lost_total"], wr["ping_sent_total"],
         orr["ping_lost_total"], orr["ping_sent_total"]))
print()
print("| other | Weft | OVN |")
print("|---|---|---|")
print("| flows per host, before the sample VMs start | %s | %s |" % (weft["flows_per_host"], ovn["flows_per_host"]))
print("| `virsh start` returns p50 | %.0f ms | %.0f ms |"
      % (weft["virsh_start_cmd_ms"]["p50"], ovn["virsh_start_cmd_ms"]["p50"]))
print("| Weft: virsh start -> weftd has the port on br-int (its log) p50 | %.0f ms | - |"
      % weft["vm_start_to_port_ms"]["p50"])
print("| OVN: `ovs-vsctl add-port` (after virsh start) p50 | - | %.0f ms |"
      % ovn["port_add_cmd_ms"]["p50"])
print("| port on br-int -> reachable p50 (Weft: weftd's log; OVN: ovn-installed-ts) | %.0f ms | %.0f ms |"
      % (weft["port_to_reachable_ms"]["p50"], ovn["installed_to_reachable_ms"]["p50"]))
print("| OVN: add-port -> ovn-installed p50 / p99 | - | %.0f / %.0f ms |"
      % (ovn["port_add_to_ovn_installed_ms"]["p50"],
         ovn["port_add_to_ovn_installed_ms"]["p99"]))
rss = ovn["rss_kb"]
print("| control plane RSS | weftd %d kB | ovn-controller x%s %d kB + northd %d + NB %d + SB %d kB |"
      % (weft["weftd_rss_kb"], hosts, rss["ovn-controller"], rss["northd"],
         rss["nb"], rss["sb"]))
