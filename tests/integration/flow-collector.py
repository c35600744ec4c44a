#!/usr/bin/python3
"""A minimal flow collector for test-flow-export: listens on UDP ports and
writes one JSON line per datagram received, with enough of its header
decoded to tell what it is:

    sFlow v5:   {"proto": "sflow", "version": 5, "agent": "A.B.C.D",
                 "flow_samples": N, "counter_samples": N}
    IPFIX:      {"proto": "ipfix", "version": 10, "domain": N,
                 "templates": N, "data_sets": N}
    NetFlow v5: {"proto": "netflow", "version": 5, "records": N}

plus "port" (where it arrived) and "src" (the sender's address).  A
datagram that is none of these is written with "proto": "unknown".

usage: flow-collector.py OUT_FILE ADDR PORT [PORT...]
"""
import ipaddress
import json
import select
import socket
import struct
import sys


def sflow(data):
    version, addr_type = struct.unpack_from("!II", data, 0)
    if version != 5 or addr_type not in (1, 2):
        return None
    alen = 4 if addr_type == 1 else 16
    agent = str(ipaddress.ip_address(data[8:8 + alen]))
    off = 8 + alen + 12             # sub-agent id, sequence, uptime
    (n,) = struct.unpack_from("!I", data, off)
    off += 4
    flows = counters = 0
    for _ in range(n):
        fmt, length = struct.unpack_from("!II", data, off)
        fmt &= 0xfff                # enterprise 0: standard formats
        flows += fmt in (1, 3)
        counters += fmt in (2, 4)
        off += 8 + length
    return {"proto": "sflow", "version": 5, "agent": agent,
            "flow_samples": flows, "counter_samples": counters}


def ipfix(data):
    version, length, _, _, domain = struct.unpack_from("!HHIII", data, 0)
    if version != 10 or length != len(data):
        return None
    templates = data_sets = 0
    off = 16
    while off + 4 <= len(data):
        set_id, set_len = struct.unpack_from("!HH", data, off)
        if set_len < 4:
            break
        templates += set_id == 2
        data_sets += set_id >= 256
        off += set_len
    return {"proto": "ipfix", "version": 10, "domain": domain,
            "templates": templates, "data_sets": data_sets}


def netflow(data):
    version, count = struct.unpack_from("!HH", data, 0)
    # A v5 datagram: 24-byte header and 48 bytes per record.
    if version != 5 or len(data) != 24 + 48 * count:
        return None
    return {"proto": "netflow", "version": 5, "records": count}


def decode(data):
    for f in (sflow, ipfix, netflow):
        try:
            r = f(data)
        except (struct.error, ValueError):
            r = None
        if r:
            return r
    return {"proto": "unknown", "length": len(data)}


def main():
    out_path, addr = sys.argv[1], sys.argv[2]
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    socks = []
    for port in sys.argv[3:]:
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.bind((addr, int(port)))
        socks.append(s)
    with open(out_path, "a", buffering=1) as out:
        print(json.dumps({"listening": [s.getsockname()[1] for s in socks]}),
              file=out)
        while True:
            ready, _, _ = select.select(socks, [], [])
            for s in ready:
                data, src = s.recvfrom(65535)
                r = decode(data)
                r["port"] = s.getsockname()[1]
                r["src"] = src[0]
                print(json.dumps(r), file=out)


if __name__ == "__main__":
    main()
