"""Time to bring the embedded testbed up, and its memory, per model.

For each model and edge count: --runs times `testbed down` then `testbed
up` through the CLI (dependencies already installed), the wall time of each
`up`, and the memory of every service summed per site once it is up: RSS,
and PSS, which divides each shared page among the processes mapping it, so
that the sites' PSS add up to what the testbed really takes (Linux
smaps_rollup, through psutil), and, with --idle S, the CPU the idle
testbed burns: each site's CPU seconds (user + system, psutil) over S
seconds with no request from the bench, as a share of one core. During
each `up`, the machine's CPU time (all cores, user + system + the rest
but idle and iowait, psutil.cpu_times) tells how much work the bring-up
is and whether the cores were the limit: cpu_busy_s, and cpu_busy_pct of
what the cores could give over the bring-up's wall time. The first edge's
PSS is broken down per service, with the part its supervising parent
processes hold (gunicorn and cotyledon masters: site_breakdown). With --smoke,
`testbed smoke` runs after each `up` (a failed smoke ends the bench) and
its time is reported. With
--install, the one-off install of the services venv into an empty cache is
timed first (reported separately).

    python -m bench.testbed_bringup
        [--models distributed centralized federated] [--edges 2]
        [--runs 3] [--install] [--without SERVICE ...] [--idle 60]
        [--smoke]

--without leaves services out of every model's testbed (a model file with
``testbed_services``), to measure what they cost: for example
``--without gnocchi gnocchi-metricd aodh aodh-evaluator aodh-notifier``
for the alarm loop's telemetry.
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

MODEL_FILE: list[str] = []      # ["--model-file", path] with --without
EDGE = "edge1"                  # the site whose PSS is broken down


def cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge_refarch.validation.cli", "-q",
         *MODEL_FILE, *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL)


def per_site(status: dict, field: str) -> dict[str, float]:
    """site -> the sum of `field` ('rss_mib', 'pss_mib' or 'cpu_s') over its
    services (toxiproxy and the shared epmd count as sites of their own)."""
    out: dict[str, float] = {}
    for svc in status["services"]:
        site = svc["name"].split(".")[0]
        out[site] = out.get(site, 0) + svc[field]
    return out


def site_breakdown(status: dict, site: str) -> tuple[dict[str, float],
                                                   float]:
    """What one site's PSS is made of: (service -> PSS MiB of its process
    session, PSS MiB of the supervising parents), where a supervising
    parent is the first process of a session that has more (gunicorn's
    master, a cotyledon/oslo.service master process, the shell that starts
    RabbitMQ's Erlang VM): memory that serves no request."""
    import psutil

    from edge_refarch.validation.testbed.procs import session_pids
    services, parents = {}, 0.0
    for svc in status["services"]:
        name, _, service = svc["name"].partition(".")
        if name != site or not svc["pid"]:
            continue
        services[service] = svc["pss_mib"]
        if len(session_pids(svc["pid"])) > 1:
            try:
                parents += psutil.Process(svc["pid"]).memory_full_info() \
                    .pss / 2**20
            except psutil.Error:
                continue
    return services, round(parents)


def idle_cpu(seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    """(site -> percent, service -> percent) of one core used while the
    testbed sat idle for `seconds` (CPU seconds over the window / seconds
    * 100)."""
    def cpu() -> dict[str, float]:
        st = json.loads(cli("testbed", "status", "--json").stdout)
        return {svc["name"]: svc["cpu_s"] for svc in st["services"]}
    before = cpu()
    time.sleep(seconds)
    after = cpu()
    services = {n: round(max(after[n] - before.get(n, 0.0), 0.0) / seconds
                         * 100, 1) for n in after}
    sites: dict[str, float] = {}
    for n, pct in services.items():
        site = n.split(".")[0]
        sites[site] = round(sites.get(site, 0.0) + pct, 1)
    return sites, services


def busy_cpu_s() -> float:
    """The machine's busy CPU seconds so far, over all cores (everything
    /proc/stat counts but idle and iowait)."""
    import psutil
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def model_without(services: list[str], path: str) -> None:
    """Write the shipped model to `path` with `services` left out of every
    deployment model's testbed (testbed_services: every other service its
    sites, or its base's, name)."""
    import yaml

    from edge_refarch.architecture import DEFAULT_MODEL_PATH
    raw = yaml.safe_load(DEFAULT_MODEL_PATH.read_text())
    models = raw["deployment_models"]
    for spec in models.values():
        sites = spec.get("sites") or models[spec["variant_of"]]["sites"]
        spec["testbed_services"] = sorted(
            {svc for tier in sites.values() for svc in tier}
            - set(services))
    with open(path, "w") as fh:
        yaml.safe_dump(raw, fh)


def one_run(model: str, edges: int, args) -> dict | None:
    """`testbed down`, then a timed `up` of `model` with `edges` edges:
    {seconds, busy (CPU s), busy_pct, rss and pss (site -> MiB), smoke (s,
    with --smoke), idle (site -> % of one core, with --idle)}; None, with
    the CLI's error printed, when the `up` or the smoke fails."""
    cli("testbed", "down")
    t, b = time.monotonic(), busy_cpu_s()
    r = cli("testbed", "up", "--model", model, "--edges", str(edges))
    took, busy = time.monotonic() - t, busy_cpu_s() - b
    if r.returncode:
        print(r.stderr, file=sys.stderr)
        return None
    st = json.loads(cli("testbed", "status", "--json").stdout)
    services, parents = site_breakdown(st, EDGE)
    run = {"seconds": took, "busy": busy,
           "busy_pct": busy / (took * os.cpu_count()) * 100,
           "rss": per_site(st, "rss_mib"), "pss": per_site(st, "pss_mib"),
           "edge_pss": services, "edge_parents_pss": parents}
    if args.smoke:
        t = time.monotonic()
        r = cli("testbed", "smoke")
        if r.returncode:
            print(r.stderr, file=sys.stderr)
            return None
        run["smoke"] = time.monotonic() - t
    if args.idle:
        sites, services = idle_cpu(args.idle)
        run["idle"] = sites
        busiest = sorted(services.items(), key=lambda kv: -kv[1])
        print(f"  idle CPU, % of one core: {sites}; busiest: "
              + ", ".join(f"{n} {p}" for n, p in busiest[:8]),
              file=sys.stderr, flush=True)
    return run


def summarize(model: str, edges: int, runs: list[dict],
              idle_s: float) -> dict:
    """The runs of one model and edge count as summaries (common.summary:
    n, min, percentiles, median, max)."""
    def of(key: str) -> dict:
        return common.summary([r[key] for r in runs])

    def per(key: str) -> dict:
        return {s: common.summary([r[key][s] for r in runs])
                for s in runs[-1][key]}
    out = {"model": model, "edges": edges, "seconds": of("seconds"),
           "cpu_busy_s": of("busy"), "cpu_busy_pct": of("busy_pct"),
           "rss_mib_per_site": per("rss"),
           "rss_mib_total": common.summary([sum(r["rss"].values())
                                            for r in runs]),
           "pss_mib_per_site": per("pss"),
           "pss_mib_total": common.summary([sum(r["pss"].values())
                                            for r in runs]),
           f"{EDGE}_pss_mib_per_service": per("edge_pss"),
           f"{EDGE}_supervising_parents_pss_mib": of("edge_parents_pss")}
    if "smoke" in runs[-1]:
        out["smoke_s"] = of("smoke")
    if "idle" in runs[-1]:
        out.update({"idle_s": idle_s, "idle_cpu_pct_per_site": per("idle"),
                    "idle_cpu_pct_total": common.summary(
                        [sum(r["idle"].values()) for r in runs])})
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
    ap.add_argument("--without", nargs="+", default=[], metavar="SERVICE",
                    help="services (model.yaml names) left out of every "
                         "model's testbed")
    ap.add_argument("--idle", type=float, default=0, metavar="SECONDS",
                    help="after each bring-up, measure each site's CPU "
                         "over this many idle seconds")
    ap.add_argument("--smoke", action="store_true",
                    help="run 'testbed smoke' after each bring-up")
    args = ap.parse_args(argv)
    result: dict = {"runs": args.runs, "without": args.without,
                    "bring_up": {}}
    if args.without:
        path = os.path.join(tempfile.mkdtemp(), "model.yaml")
        model_without(args.without, path)
        MODEL_FILE[:] = ["--model-file", path]
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
            runs = []
            for i in range(args.runs):
                run = one_run(model, edges, args)
                if run is None:
                    cli("testbed", "down")
                    return 1
                runs.append(run)
                print(f"{model} edges={edges} run {i + 1}: "
                      f"{run['seconds']:.1f} s, {run['busy']:.0f} CPU s "
                      f"({run['busy_pct']:.0f} % of the cores)"
                      + (f"; smoke passed in {run['smoke']:.1f} s"
                         if "smoke" in run else ""),
                      file=sys.stderr, flush=True)
            result["bring_up"][f"{model}/{edges}"] = summarize(
                model, edges, runs, args.idle)
    cli("testbed", "down")
    path = common.write(args.name, result)
    for key, v in result["bring_up"].items():
        rss = ", ".join(f"{s} {x['median']:.0f}"
                        for s, x in v["rss_mib_per_site"].items())
        pss = ", ".join(f"{s} {x['median']:.0f}"
                        for s, x in v["pss_mib_per_site"].items())
        print(f"{key}: up in {v['seconds']['median']:.1f} s "
              f"[{v['seconds']['min']:.1f}..{v['seconds']['max']:.1f}], "
              f"{v['cpu_busy_s']['median']:.0f} CPU s "
              f"({v['cpu_busy_pct']['median']:.0f} % of the cores); "
              f"RSS MiB per site: {rss}; total "
              f"{v['rss_mib_total']['median']:.0f}; PSS MiB per site: "
              f"{pss}; total {v['pss_mib_total']['median']:.0f}")
        by_service = sorted(v[f"{EDGE}_pss_mib_per_service"].items(),
                            key=lambda kv: -kv[1]["median"])
        if by_service:
            print(f"  {EDGE} PSS MiB per service: " + ", ".join(
                f"{n} {x['median']:.0f}" for n, x in by_service)
                + "; of which supervising parents "
                f"{v[f'{EDGE}_supervising_parents_pss_mib']['median']:.0f}")
        if "idle_cpu_pct_per_site" in v:
            cpu = ", ".join(f"{s} {x['median']:.1f}"
                            for s, x in v["idle_cpu_pct_per_site"].items())
            print(f"  idle CPU over {v['idle_s']:g} s, % of one core per "
                  f"site: {cpu}; total "
                  f"{v['idle_cpu_pct_total']['median']:.1f}")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
