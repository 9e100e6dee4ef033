"""The architecture under WAN latency and bandwidth, per deployment model.

On the embedded testbed, for each model, with faults on one edge's link
(dc-edge1) through the fault library:

* token issue and token validation at the edge (a client at edge1), with
  the link's RTT at 0, 25, 50, 100 and 200 ms;
* image fetch to the edge -- glance-download in the distributed model, a
  download through the edge's link in the centralized one -- with the link
  at 1, 10 and 100 Mbit/s, as throughput and as a ratio to the emulated
  bandwidth (the physical limit).

Medians over --reps repetitions, with their spread. Usage:

    python -m bench.arch_sweep [--models distributed centralized] [--reps 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import requests

from bench import common
from edge_refarch.architecture import load_model
from edge_refarch.validation import paths
from edge_refarch.validation.faults.faults import FaultInjector, Links
from edge_refarch.validation.images import raw_image
from edge_refarch.validation.testbed.smoke import connect
from edge_refarch.validation.testbed.testbed import Testbed

RTTS_MS = (0, 25, 50, 100, 200)
BANDWIDTHS_MBIT = (1, 10, 100)
# Image size per bandwidth: about 10 s of transfer, so fixed costs (task
# start, metadata, polling) stay small against the data.
IMAGE_MIB = {1: 1, 10: 12, 100: 96}
EDGE, LINK = "edge1", "dc-edge1"


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "edge_refarch.validation.cli", "-q", *args],
        capture_output=True, text=True, stdin=subprocess.DEVNULL)


def _bring_up(model: str) -> Testbed:
    testbed = Testbed(load_model())
    rec = testbed.recorded()
    if rec and rec["deployment"] != model:
        _cli("testbed", "down")
    r = _cli("testbed", "up", "--model", model)
    if r.returncode:
        sys.exit(r.stderr)
    return testbed


def _auth_body(password):
    return {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": "admin", "domain": {"id": "default"},
                 "password": password}}},
        "scope": {"project": {"name": "admin",
                              "domain": {"id": "default"}}}}}


def identity_sweep(testbed, injector, reps: int) -> dict:
    topo = testbed.topology()
    password = testbed.passwords()["admin"]
    edge_auth = topo.auth_url(EDGE)
    dc_auth = topo.auth_url(topo.root.name)
    out = {}
    for rtt in RTTS_MS:
        # Fresh tokens from the DC, so each validation at the edge is a
        # real one, not a cache hit.
        dc_tokens = [requests.post(f"{dc_auth}/auth/tokens",
                                   json=_auth_body(password), timeout=30)
                     .headers["X-Subject-Token"] for _ in range(reps + 1)]
        issue, validate = [], []
        fault = injector.latency(LINK, rtt_ms=rtt) if rtt else None
        if fault:
            fault.__enter__()
        try:
            s = requests.Session()
            for i in range(reps):
                t = time.perf_counter()
                r = s.post(f"{edge_auth}/auth/tokens",
                           json=_auth_body(password), timeout=60)
                issue.append(time.perf_counter() - t)
                mine = r.headers["X-Subject-Token"]
                t = time.perf_counter()
                v = s.get(f"{edge_auth}/auth/tokens", timeout=60, headers={
                    "X-Auth-Token": mine, "X-Subject-Token": dc_tokens[i]})
                validate.append(time.perf_counter() - t)
                assert v.status_code == 200, v.status_code
        finally:
            if fault:
                fault.__exit__(None, None, None)
        out[rtt] = {"token_issue_ms": common.summary(
                        [x * 1000 for x in issue]),
                    "token_validate_ms": common.summary(
                        [x * 1000 for x in validate])}
        print(f"  RTT {rtt:>3} ms: issue "
              f"{out[rtt]['token_issue_ms']['median']:.1f} ms, validate "
              f"{out[rtt]['token_validate_ms']['median']:.1f} ms",
              file=sys.stderr, flush=True)
    return out


def fetch_sweep(testbed, injector, reps: int) -> dict:
    topo = testbed.topology()
    clouds = testbed.recorded()["clouds_yaml"]
    dc, edge = connect(clouds, topo.root.name), connect(clouds, EDGE)
    distributed = "glance" in topo.site(EDGE).services
    out = {}
    for mbit in BANDWIDTHS_MBIT:
        size = IMAGE_MIB[mbit] << 20
        src = dc.image.create_image(
            name=f"edge-refarch-bench-{mbit}", data=raw_image(size),
            disk_format="raw", container_format="bare", use_import=False,
            wait=True)
        secs = []
        try:
            for _ in range(reps):
                with injector.bandwidth(LINK, kbps=mbit * 1000):
                    secs.append(_fetch(edge, src, distributed))
        finally:
            dc.image.delete_image(src.id, ignore_missing=True)
        rates = [size * 8 / s / 1e6 for s in secs]
        out[mbit] = {"image_mib": IMAGE_MIB[mbit],
                     "seconds": common.summary(secs),
                     "mbit": common.summary(rates),
                     "ratio": common.summary([r / mbit for r in rates])}
        print(f"  {mbit:>3} Mbit/s: {out[mbit]['mbit']['median']:.2f} "
              f"Mbit/s, ratio {out[mbit]['ratio']['median']:.3f}",
              file=sys.stderr, flush=True)
    return out


def _fetch(edge, src, distributed: bool) -> float:
    t = time.perf_counter()
    if not distributed:
        # Centralized: the edge reads the image from the DC over its link.
        for _ in edge.image.download_image(src, stream=True).iter_content(
                1 << 20):
            pass
        return time.perf_counter() - t
    tgt = edge.image.create_image(name=src.name, disk_format="raw",
                                  container_format="bare")
    try:
        edge.image.import_image(tgt, method="glance-download",
                                remote_region="dc", remote_image_id=src.id,
                                remote_service_interface="public")
        while edge.image.get_image(tgt.id).status != "active":
            if time.perf_counter() - t > 600:
                raise RuntimeError("glance-download did not finish")
            time.sleep(0.05)
        return time.perf_counter() - t
    finally:
        # Wait for the import task to end before deleting (Glance race).
        for _ in range(100):
            tasks = edge.image.get(f"/images/{tgt.id}/tasks").json()
            if all(x["status"] in ("success", "failure")
                   for x in tasks.get("tasks", [])):
                break
            time.sleep(0.1)
        edge.image.delete_image(tgt.id, ignore_missing=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+",
                    default=["distributed", "centralized"])
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args(argv)
    result = {"reps": args.reps, "link": LINK, "edge": EDGE, "models": {}}
    for model in args.models:
        print(f"{model}:", file=sys.stderr, flush=True)
        testbed = _bring_up(model)
        injector = FaultInjector(testbed.toxiproxy,
                                 Links.from_topology(testbed.topology()),
                                 paths.state_dir().parent,
                                 latency_overshoot_ms=testbed
                                 .latency_overshoot_ms)
        try:
            result["models"][model] = {
                "identity": identity_sweep(testbed, injector, args.reps),
                "fetch": fetch_sweep(testbed, injector, max(
                    1, args.reps // 2))}
        finally:
            injector.heal(LINK)
    path = common.write("arch_sweep", result)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
