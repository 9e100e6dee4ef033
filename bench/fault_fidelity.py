"""How faithfully the fault injectors emulate the WAN, on a testbed link.

Adds a probe proxy to a link of the running testbed (listening on the
link's edge-site address, forwarding to an echo endpoint on the DC's
address, in the testbed's own toxiproxy), then applies each fault through
the fault library and measures:

* RTT added vs injected latency (10, 50, 100, 200 ms), with the fault
  library's start-up calibration of the latency toxic and without it;
* throughput vs bandwidth limit (1, 10, 100 Mbit/s);
* time for a partition (refused) to take effect and to heal;
* a black hole (partition --mode blackhole) on open connections: whether
  anything -- an answer to a ping, the server's close -- crosses while it
  holds (a WAN black hole lets nothing cross), and how long after the heal
  the held ping and close arrive;
* toxiproxy's own overhead with no toxic (RTT and throughput vs direct).

Each figure is the median over --runs runs; each ratio is measured within
one run. Usage (the testbed must be up):

    python -m bench.fault_fidelity [--link dc-edge1] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from bench import common
from edge_refarch.architecture import load_model
from edge_refarch.validation import paths
from edge_refarch.validation.faults.faults import FaultInjector, Links
from edge_refarch.validation.faults.probe import (
    EchoServer,
    connect,
    free_port,
    rtt_ms,
    throughput_mbit,
)
from edge_refarch.validation.testbed.testbed import Testbed

LATENCIES_MS = (10, 50, 100, 200)
BANDWIDTHS_MBIT = (1, 10, 100)
SECONDS_PER_TRANSFER = 3.0
BLACKHOLE_HOLD_S = 2.0      # how long nothing may cross under a black hole


def _refused(hostport) -> bool:
    try:
        with connect(hostport, timeout=0.5) as s:
            s.sendall(b"P")
            return not s.recv(1)
    except OSError:
        return True


def _answers(hostport) -> bool:
    try:
        with connect(hostport, timeout=0.5) as s:
            s.sendall(b"P")
            return s.recv(1) == b"p"
    except OSError:
        return False


def _time_until(predicate, limit=10.0) -> float:
    t = time.perf_counter()
    while not predicate():
        if time.perf_counter() - t > limit:
            return float("inf")
        time.sleep(0.002)
    return time.perf_counter() - t


def _blackhole(injector, link, probe) -> dict:
    """Two connections open before the cut: on one a ping sent into the
    black hole; on the other the server hangs up during it (probe op b'C').
    Returns {"crossed": whether the answer or the close reached the client
    within BLACKHOLE_HOLD_S, "ping_after_heal_s" and "close_after_heal_s":
    seconds from the heal until each arrived, inf when it never came (stock
    toxiproxy's timeout toxic drops the ping and lets the close through)}.
    """
    with connect(probe, timeout=BLACKHOLE_HOLD_S) as ping, \
            connect(probe, timeout=BLACKHOLE_HOLD_S) as hang_up:
        for s in (ping, hang_up):
            s.sendall(b"P")
            s.recv(1)
        hang_up.sendall(b"C")
        fault = injector.partition(link, mode="blackhole")
        fault.apply()
        try:
            ping.sendall(b"P")
            crossed = False
            for s in (ping, hang_up):
                try:
                    s.recv(1)
                    crossed = True
                except TimeoutError:
                    pass
        finally:
            t = time.perf_counter()
            fault.remove()
        out = {"crossed": crossed}
        for key, s, want in (("ping_after_heal_s", ping, b"p"),
                             ("close_after_heal_s", hang_up, b"")):
            out[key] = float("inf")
            with contextlib.suppress(OSError):
                s.settimeout(10)
                if s.recv(1) == want:
                    out[key] = time.perf_counter() - t
    return out


def one_run(injector, raw_injector, link, probe, direct) -> dict:
    out = {"latency": {}, "bandwidth": {}, "partition": {}}
    base_rtt = rtt_ms(probe)
    out["overhead"] = {
        "rtt_ms_direct": rtt_ms(direct), "rtt_ms_proxy": base_rtt}
    size = int(100e6 / 8 * 1.0)
    out["overhead"]["mbit_direct"] = throughput_mbit(direct, size)
    out["overhead"]["mbit_proxy"] = throughput_mbit(probe, size)
    for ms in LATENCIES_MS:
        pings = max(10, int(2000 / ms))
        with injector.latency(link, rtt_ms=ms):
            measured = rtt_ms(probe, pings=pings)
        with raw_injector.latency(link, rtt_ms=ms):
            raw = rtt_ms(probe, pings=pings) - base_rtt
        added = measured - base_rtt
        out["latency"][ms] = {"rtt_ms": measured, "added_ms": added,
                              "ratio": added / ms,
                              "uncompensated_ratio": raw / ms}
    for mbit in BANDWIDTHS_MBIT:
        nbytes = int(mbit * 1e6 / 8 * SECONDS_PER_TRANSFER)
        with injector.bandwidth(link, kbps=mbit * 1000):
            got = throughput_mbit(probe, nbytes)
        out["bandwidth"][mbit] = {"mbit": got, "ratio": got / mbit}
    fault = injector.partition(link)
    t = time.perf_counter()
    fault.apply()
    effective = time.perf_counter() - t + _time_until(
        lambda: _refused(probe))
    t = time.perf_counter()
    fault.remove()
    healed = time.perf_counter() - t + _time_until(lambda: _answers(probe))
    out["partition"] = {"effective_s": effective, "healed_s": healed}
    out["blackhole"] = _blackhole(injector, link, probe)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--link", default="dc-edge1")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    model = load_model()
    testbed = Testbed(model)
    topo = testbed.topology()
    if topo is None:
        print("the testbed is not up: edge-refarch testbed up",
              file=sys.stderr)
        return 2
    link = topo.link(args.link)
    dc, edge = topo.site(link.a), topo.site(link.b)
    server = EchoServer(dc.address)
    direct = server.hostport
    probe = f"{edge.address}:{free_port(edge.address)}"
    name = f"{args.link}.bench-probe"
    tp = testbed.toxiproxy
    tp.ensure_proxy(name, probe, direct)
    overshoot = testbed.latency_overshoot_ms
    injector = FaultInjector(tp, Links({args.link: [name]}),
                             paths.state_dir().parent,
                             latency_overshoot_ms=overshoot)
    # The same faults without the start-up calibration, for comparison.
    raw_injector = FaultInjector(tp, Links({args.link: [name]}),
                                 paths.state_dir().parent,
                                 heal_leftovers=False)
    runs = []
    try:
        for i in range(args.runs):
            print(f"run {i + 1}/{args.runs}", file=sys.stderr, flush=True)
            runs.append(one_run(injector, raw_injector, args.link, probe,
                                direct))
    finally:
        injector.heal(args.link)
        tp.delete_proxy(name)
        server.close()

    def med(path):
        vals = []
        for r in runs:
            v = r
            for k in path:
                v = v[k]
            vals.append(v)
        return common.summary(vals)

    result = {
        "link": args.link, "runs": args.runs,
        "latency_overshoot_ms": overshoot,
        "latency": {ms: {"added_ms": med(["latency", ms, "added_ms"]),
                         "ratio": med(["latency", ms, "ratio"]),
                         "uncompensated_ratio": med(
                             ["latency", ms, "uncompensated_ratio"])}
                    for ms in LATENCIES_MS},
        "bandwidth": {m: {"mbit": med(["bandwidth", m, "mbit"]),
                          "ratio": med(["bandwidth", m, "ratio"])}
                      for m in BANDWIDTHS_MBIT},
        "partition": {k: med(["partition", k])
                      for k in ("effective_s", "healed_s")},
        "blackhole": {
            "crossed_runs": sum(r["blackhole"]["crossed"] for r in runs),
            "ping_after_heal_s": med(["blackhole", "ping_after_heal_s"]),
            "close_after_heal_s": med(["blackhole", "close_after_heal_s"])},
        "overhead": {k: med(["overhead", k]) for k in
                     ("rtt_ms_direct", "rtt_ms_proxy", "mbit_direct",
                      "mbit_proxy")},
        "raw": runs,
    }
    path = common.write("fault_fidelity", result)
    for ms, v in result["latency"].items():
        print(f"latency {ms:>4} ms: added {v['added_ms']['median']:.2f} ms"
              f" ratio {v['ratio']['median']:.3f} "
              f"[{v['ratio']['min']:.3f}..{v['ratio']['max']:.3f}]"
              f" (uncompensated {v['uncompensated_ratio']['median']:.3f})")
    print(f"latency toxic overshoot, calibrated at start-up: "
          f"{overshoot:.2f} ms RTT")
    for m, v in result["bandwidth"].items():
        print(f"bandwidth {m:>4} Mbit/s: {v['mbit']['median']:.2f} Mbit/s"
              f" ratio {v['ratio']['median']:.3f} "
              f"[{v['ratio']['min']:.3f}..{v['ratio']['max']:.3f}]")
    p = result["partition"]
    print(f"partition effective {p['effective_s']['median'] * 1000:.1f} ms,"
          f" healed {p['healed_s']['median'] * 1000:.1f} ms")
    b = result["blackhole"]
    print(f"blackhole: something crossed in {b['crossed_runs']}/"
          f"{args.runs} runs; after the heal the held ping arrived in "
          f"{b['ping_after_heal_s']['median'] * 1000:.1f} ms, the held close"
          f" in {b['close_after_heal_s']['median'] * 1000:.1f} ms (medians)")
    o = result["overhead"]
    print(f"overhead: RTT {o['rtt_ms_direct']['median']:.3f} ms direct, "
          f"{o['rtt_ms_proxy']['median']:.3f} ms via toxiproxy; throughput "
          f"{o['mbit_direct']['median']:.0f} vs "
          f"{o['mbit_proxy']['median']:.0f} Mbit/s")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
