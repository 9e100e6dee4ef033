"""Shared by the benchmarks: percentiles per point (p50/p90/p95/max), SLA
verdicts, and results as JSON with the machine and versions recorded."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).with_name("results")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of `values`, linearly interpolated
    between the closest ranks (numpy's default, 'linear')."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: list[float]) -> dict:
    """n, min, p50, p90, p95, max (and p50 as 'median') of `values`, the
    way Rally and Browbeat report a step."""
    return {"n": len(values), "min": min(values),
            "p50": percentile(values, 50), "p90": percentile(values, 90),
            "p95": percentile(values, 95), "max": max(values),
            "median": statistics.median(values)}


def sla_verdict(stats: dict, limits: dict) -> dict:
    """Judge a summary against SLA limits such as {"p95_max": 250} or
    {"p50_min": 0.5}: {"pass": bool, "failed": ["p95 312.0 > 250", ...]}.
    Raises KeyError for a limit on a statistic the summary lacks and
    ValueError for a limit that is neither _max nor _min."""
    failed = []
    for key, limit in limits.items():
        stat, _, kind = key.rpartition("_")
        value = stats[stat]
        if kind == "max":
            bad = value > limit
            op = ">"
        elif kind == "min":
            bad = value < limit
            op = "<"
        else:
            raise ValueError(f"SLA limit {key!r}: not <stat>_max/_min")
        if bad:
            failed.append(f"{stat} {value:.3g} {op} {limit:g}")
    return {"pass": not failed, "failed": failed}


def machine() -> dict:
    def version(pkg):
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None
    mem_kib = int(next(line for line in open("/proc/meminfo")
                       if line.startswith("MemTotal")).split()[1])
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True,
                                cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        commit = None
    return {"cpus": os.cpu_count(), "mem_gib": round(mem_kib / 2**20, 1),
            "python": platform.python_version(),
            "kernel": platform.release(), "commit": commit,
            "openstacksdk": version("openstacksdk"),
            "toxiproxy_python": version("toxiproxy-python"),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def write(name: str, data: dict) -> Path:
    """bench/results/NAME.json: `data` with the machine and versions."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2))
    return path
