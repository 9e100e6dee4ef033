"""Time to bring the embedded testbed up, and its memory, per model.

For each model and edge count: --runs times `testbed down` then `testbed
up` through the CLI (dependencies already installed), the wall time of each
`up`, and the memory of every service summed per site once it is up: RSS,
and PSS, which divides each shared page among the processes mapping it, so
that the sites' PSS add up to what the testbed really takes (Linux
smaps_rollup, through psutil). With
--install, the one-off install of the services venv into an empty cache is
timed first (reported separately).

    python -m bench.testbed_bringup
        [--models distributed centralized federated] [--edges 2]
        [--runs 3] [--install]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from bench import common


def cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge_refarch.validation.cli", "-q", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL)


def per_site(status: dict, field: str) -> dict[str, float]:
    """site -> the sum of `field` ('rss_mib' or 'pss_mib') over its
    services (toxiproxy and the shared epmd count as sites of their own)."""
    out: dict[str, float] = {}
    for svc in status["services"]:
        site = svc["name"].split(".")[0]
        out[site] = out.get(site, 0) + svc[field]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+",
                    default=["distributed", "centralized", "federated"])
    ap.add_argument("--edges", type=int, nargs="+", default=[2])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--name", default="testbed_bringup",
                    help="results file name (bench/results/NAME.json)")
    ap.add_argument("--install", action="store_true",
                    help="also time a cold install of the services venv")
    args = ap.parse_args(argv)
    result: dict = {"runs": args.runs, "bring_up": {}}
    if args.install:
        with tempfile.TemporaryDirectory() as cache:
            t = time.monotonic()
            r = cli("testbed", "install", env={"EDGE_REFARCH_CACHE": cache,
                                               "PIP_NO_CACHE_DIR": "1"})
            result["install_s"] = round(time.monotonic() - t, 1)
            if r.returncode:
                print(r.stderr, file=sys.stderr)
                return 1
        print(f"cold install (no pip cache): {result['install_s']} s",
              file=sys.stderr)
    for model in args.models:
        for edges in args.edges:
            times, rss, pss = [], [], []
            for i in range(args.runs):
                cli("testbed", "down")
                t = time.monotonic()
                r = cli("testbed", "up", "--model", model, "--edges",
                        str(edges))
                took = time.monotonic() - t
                if r.returncode:
                    print(r.stderr, file=sys.stderr)
                    return 1
                st = json.loads(cli("testbed", "status", "--json").stdout)
                times.append(took)
                rss.append(per_site(st, "rss_mib"))
                pss.append(per_site(st, "pss_mib"))
                print(f"{model} edges={edges} run {i + 1}: {took:.1f} s",
                      file=sys.stderr, flush=True)
            sites = rss[-1].keys()
            result["bring_up"][f"{model}/{edges}"] = {
                "model": model, "edges": edges,
                "seconds": common.summary(times),
                "rss_mib_per_site": {s: common.summary([r[s] for r in rss])
                                     for s in sites},
                "rss_mib_total": common.summary([sum(r.values())
                                                 for r in rss]),
                "pss_mib_per_site": {s: common.summary([r[s] for r in pss])
                                     for s in sites},
                "pss_mib_total": common.summary([sum(r.values())
                                                 for r in pss]),
            }
    cli("testbed", "down")
    path = common.write(args.name, result)
    for key, v in result["bring_up"].items():
        rss = ", ".join(f"{s} {x['median']:.0f}"
                        for s, x in v["rss_mib_per_site"].items())
        pss = ", ".join(f"{s} {x['median']:.0f}"
                        for s, x in v["pss_mib_per_site"].items())
        print(f"{key}: up in {v['seconds']['median']:.1f} s "
              f"[{v['seconds']['min']:.1f}..{v['seconds']['max']:.1f}]; "
              f"RSS MiB per site: {rss}; total "
              f"{v['rss_mib_total']['median']:.0f}; PSS MiB per site: "
              f"{pss}; total {v['pss_mib_total']['median']:.0f}")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
