"""Helpers shared by the benchmark scripts in tools/bench (imported from
the script's own directory): percentiles and summaries of samples, the
machine a run was made on, ratios for the report tables."""
import math
import os


def pct(values, p):
    """The p-th percentile of 'values' (nearest rank)."""
    v = sorted(values)
    return v[max(0, min(len(v) - 1, math.ceil(p / 100 * len(v)) - 1))]


def summary(values):
    """n, p50, p99, min and max of 'values', None if there are none."""
    if not values:
        return None
    return {"n": len(values), "p50": round(pct(values, 50), 1),
            "p99": round(pct(values, 99), 1), "min": round(min(values), 1),
            "max": round(max(values), 1)}


def machine():
    """Cores, memory (GB) and CPU model of this machine."""
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 1048576, 1)
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cores": os.cpu_count(), "mem_gb": mem, "cpu": model}


def ratio(a, b):
    """a / b to two decimals, None when either is missing or b is 0."""
    return round(a / b, 2) if a is not None and b else None
