"""Shared by the benchmarks: medians with spread, and results as JSON with
the machine and versions recorded."""

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


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "n": len(values)}


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
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2))
    return path
