"""The architecture under WAN latency, per deployment model, with SLAs.

On the embedded testbed, for each model, with faults on one edge's link
(dc-edge1) through the fault library, at every RTT of the input
(bench/arch_sweep.yaml: 0, 20, 50, 100, 200, 300 ms):

* token issue and token validation at the edge (a client at edge1; each
  validation is of a fresh DC-issued token, never a cache hit);
* image fetch from the DC to the edge for each image size of the input
  (16 and 128 MiB), with the link also at its model bandwidth --
  glance-download in the distributed model, a download through the edge's
  link in the centralized one -- as seconds and as a ratio of the link's
  bandwidth.

Each point reports n/min/p50/p90/p95/max over its repetitions and an SLA
verdict against the input's limits; the result embeds the input and the
machine, so a run can be repeated. Usage:

    python -m bench.arch_sweep [--models distributed centralized]
        [--input bench/arch_sweep.yaml]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

from bench import common
from edge_refarch.architecture import load_model
from edge_refarch.validation import paths
from edge_refarch.validation.faults.faults import FaultInjector, Links
from edge_refarch.validation.images import raw_image
from edge_refarch.validation.testbed.smoke import connect
from edge_refarch.validation.testbed.testbed import Testbed

INPUT = Path(__file__).with_name("arch_sweep.yaml")
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


def _judge(stats: dict, sla: dict, key: str) -> dict:
    return {**stats, "sla": common.sla_verdict(stats, sla[key])} \
        if key in sla else stats


def identity_sweep(testbed, injector, spec: dict) -> dict:
    topo = testbed.topology()
    password = testbed.passwords()["admin"]
    edge_auth = topo.auth_url(EDGE)
    dc_auth = topo.auth_url(topo.root.name)
    reps, sla = spec["reps"]["identity"], spec["sla"]
    out = {}
    for rtt in spec["rtts_ms"]:
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
        out[rtt] = {key: _judge(common.summary([x * 1000 for x in xs]),
                                sla, key)
                    for key, xs in (("token_issue_ms", issue),
                                    ("token_validate_ms", validate))}
        print(f"  RTT {rtt:>3} ms: issue p50/p95 "
              f"{out[rtt]['token_issue_ms']['p50']:.1f}/"
              f"{out[rtt]['token_issue_ms']['p95']:.1f} ms, validate "
              f"{out[rtt]['token_validate_ms']['p50']:.1f}/"
              f"{out[rtt]['token_validate_ms']['p95']:.1f} ms",
              file=sys.stderr, flush=True)
    return out


def fetch_sweep(testbed, injector, spec: dict) -> dict:
    topo = testbed.topology()
    clouds = testbed.recorded()["clouds_yaml"]
    dc, edge = connect(clouds, topo.root.name), connect(clouds, EDGE)
    distributed = "glance" in topo.site(EDGE).services
    mbit = topo.link(LINK).bandwidth_mbit
    reps, sla = spec["reps"]["fetch"], spec["sla"]
    out = {}
    for mib in spec["image_mib"]:
        size = mib << 20
        src = dc.image.create_image(
            name=f"edge-refarch-bench-{mib}", data=raw_image(size),
            disk_format="raw", container_format="bare", use_import=False,
            wait=True)
        try:
            for rtt in spec["rtts_ms"]:
                secs = []
                for _ in range(reps):
                    with contextlib.ExitStack() as faults:
                        faults.enter_context(
                            injector.bandwidth(LINK, kbps=mbit * 1000))
                        if rtt:
                            faults.enter_context(
                                injector.latency(LINK, rtt_ms=rtt))
                        secs.append(_fetch(edge, src, distributed))
                ratios = [size * 8 / s / 1e6 / mbit for s in secs]
                point = out.setdefault(str(rtt), {})
                point[str(mib)] = {
                    "link_mbit": mbit,
                    "seconds": common.summary(secs),
                    "link_ratio": _judge(common.summary(ratios), sla,
                                         "image_fetch_link_ratio")}
                print(f"  {mib:>4} MiB at RTT {rtt:>3} ms: p50/p95 "
                      f"{point[str(mib)]['seconds']['p50']:.1f}/"
                      f"{point[str(mib)]['seconds']['p95']:.1f} s, "
                      f"{point[str(mib)]['link_ratio']['p50']:.2f} of "
                      f"{mbit:g} Mbit/s", file=sys.stderr, flush=True)
        finally:
            dc.image.delete_image(src.id, ignore_missing=True)
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
    ap.add_argument("--input", type=Path, default=INPUT,
                    help="sweep points and SLAs (default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        spec = yaml.safe_load(args.input.read_text())
    except (OSError, yaml.YAMLError) as exc:
        sys.exit(f"arch_sweep: cannot read {args.input}: {exc}")
    result = {"input": spec, "argv": sys.argv[1:] if argv is None
              else argv, "link": LINK, "edge": EDGE, "models": {}}
    for model in args.models:
        print(f"{model}:", file=sys.stderr, flush=True)
        testbed = _bring_up(model)
        injector = FaultInjector(testbed.toxiproxy,
                                 Links.from_topology(testbed.topology()),
                                 paths.state_dir().parent,
                                 latency_overshoot_ms=testbed
                                 .latency_overshoot_ms)
        # The architecture's budget for the link (the model's link class).
        result["budget_rtt_ms"] = testbed.topology().link(LINK).budget_rtt_ms
        try:
            result["models"][model] = {
                "identity": identity_sweep(testbed, injector, spec),
                "fetch": fetch_sweep(testbed, injector, spec)}
        finally:
            injector.heal(LINK)
    path = common.write("arch_sweep", result)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
