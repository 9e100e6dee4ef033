"""``edge-refarch fault``: WAN faults on the model's links, from a shell."""

from __future__ import annotations

import argparse
import re
import time

import yaml

from edge_refarch.validation import paths
from edge_refarch.validation.errors import BadInput, UserError
from edge_refarch.validation.faults.faults import (
    MAX_DURATION_S,
    FaultInjector,
    Links,
    wait_until,
)
from edge_refarch.validation.faults.toxiproxy_api import Toxiproxy

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "": 1}


def duration(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"not a duration: {text!r} (e.g. 30s, 500ms, 2m)")
    seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if not 0 < seconds <= MAX_DURATION_S:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most 24h (got {text!r})")
    return seconds


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _common_options(parser, default) -> None:
    parser.add_argument("--toxiproxy-url", metavar="URL", default=default,
                        help="a toxiproxy other than the testbed's")
    parser.add_argument("--links", metavar="FILE", default=default,
                        help="YAML mapping link -> [proxy names] (default: "
                             "the testbed's links, or links discovered from "
                             "proxy names '<link>.<...>')")
    parser.add_argument("--latency-overshoot-ms", type=number, metavar="MS",
                        default=default,
                        help="what this toxiproxy's latency toxic adds "
                             "beyond what it is asked for, subtracted from "
                             "every latency (default: measured at testbed "
                             "start-up for the testbed, else 0)")


def add_parser(areas, parser_class) -> None:
    fp = areas.add_parser("fault", help="WAN faults on the model's links")
    _common_options(fp, None)
    # The same options after the subcommand ('fault list --toxiproxy-url
    # URL'): given there, they override; absent, they leave the area's.
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, argparse.SUPPRESS)
    cmds = fp.add_subparsers(dest="command", required=True,
                             parser_class=parser_class)

    def sub(name, help_):
        return cmds.add_parser(name, help=help_, parents=[common])

    def cmd(name, help_, link=True, hold=True):
        p = sub(name, help_)
        if link:
            p.add_argument("link", help="e.g. dc-edge1 (see 'fault list')")
        if hold:
            p.add_argument("--for", dest="duration", type=duration,
                           metavar="DURATION",
                           help="hold the fault this long, then heal it "
                                "(default: leave it until 'fault heal')")
        return p

    sub("build-toxiproxy", "build the toxiproxy-server the black hole "
        "needs (toxiproxy of the model's release plus the blackhole toxic; "
        "needs Go) and print its path")
    sub("list", "links, their proxies and active faults")
    sub("counters", "bytes that crossed each link")
    p = cmd("partition", "cut the link")
    p.add_argument("--mode", choices=["refused", "blackhole"],
                   default="refused",
                   help="refused: connections reset and refused; blackhole:"
                   " nothing crosses, closes included, until the heal "
                   "(needs the toxiproxy-server of 'fault build-toxiproxy')")
    p = cmd("latency", "add round-trip time")
    p.add_argument("--ms", type=number, required=True,
                   help="added round-trip time, ms")
    p.add_argument("--jitter", type=number, default=0, help="ms")
    p = cmd("bandwidth", "limit throughput")
    p.add_argument("--kbps", type=number, required=True,
                   help="kilobit/s, each direction")
    p = cmd("slow-close", "delay connection close")
    p.add_argument("--ms", type=number, required=True)
    p = cmd("reset-after", "close connections after N bytes")
    p.add_argument("--bytes", type=number, required=True)
    cmd("profile", "the model's WAN profile for the link's class")
    p = cmd("flap", "down, up, down, ... until --for ends or Ctrl-C")
    p.add_argument("--down", type=duration, required=True)
    p.add_argument("--up", type=duration, required=True)
    p.add_argument("--mode", choices=["refused", "blackhole"],
                   default="refused")
    p = sub("heal", "remove faults (this project's only)")
    p.add_argument("link", nargs="?")
    p.add_argument("--all", action="store_true", help="every link")


def _injector(args, model) -> tuple[FaultInjector, object | None]:
    topology = None
    if args.toxiproxy_url:
        tp = Toxiproxy(args.toxiproxy_url)
    else:
        from edge_refarch.validation.testbed.testbed import Testbed
        testbed = Testbed(model)
        topology = testbed.topology()
        if topology is None:
            raise UserError("the testbed is not up: run 'edge-refarch "
                            "testbed up', or pass --toxiproxy-url", 2)
        tp = testbed.toxiproxy
    if args.links:
        try:
            with open(args.links) as fh:
                mapping = yaml.safe_load(fh)
        except (OSError, yaml.YAMLError) as exc:
            raise BadInput(f"{args.links}: cannot read links: "
                           f"{getattr(exc, 'strerror', None) or exc}") \
                from None
        if not isinstance(mapping, dict) or not all(
                isinstance(v, list) for v in mapping.values()):
            raise BadInput(f"{args.links}: expected a mapping of link "
                           "names to lists of proxy names")
    tp.version()   # unreachable or not a toxiproxy: one line, now
    if args.links:
        links = Links(mapping)
    elif topology is not None:
        links = Links.from_topology(topology)
    else:
        links = Links.discover(tp)
    if args.latency_overshoot_ms is not None:
        overshoot = args.latency_overshoot_ms
    elif topology is not None:
        overshoot = testbed.latency_overshoot_ms
    else:
        overshoot = 0.0
    injector = FaultInjector(tp, links, paths.state_dir().parent,
                             latency_overshoot_ms=overshoot)
    return injector, topology


def run(args, model, say) -> int:
    if args.command == "heal" and not (args.link or args.all):
        raise BadInput("fault heal: name a LINK or pass --all")
    if args.command == "build-toxiproxy":
        from edge_refarch.validation.testbed import deps
        print(deps.ensure_toxiproxy(model.testbed.toxiproxy_version, say))
        return 0
    injector, topology = _injector(args, model)
    c = args.command
    if c == "list":
        for link, st in injector.state().items():
            faults = []
            if st["disabled"]:
                faults.append(f"{len(st['disabled'])} proxies disabled")
            faults += st["toxics"]
            print(f"{link}: {', '.join(faults) if faults else 'healthy'}")
            for proxy in st["proxies"]:
                print(f"  {proxy}")
        return 0
    if c == "counters":
        for link, totals in injector.counters().items():
            print(f"{link}: sent {totals['sent']} B, received "
                  f"{totals['received']} B")
        return 0
    if c == "heal":
        changes = injector.heal(None if args.all else args.link)
        print(f"healed {'all links' if args.all else args.link} "
              f"({changes} changes)")
        return 0
    link = args.link
    injector.links.proxies(link)   # unknown link: one line, exit 2
    if c == "partition":
        fault = injector.partition(link, args.mode)
    elif c == "latency":
        fault = injector.latency(link, args.ms, args.jitter)
    elif c == "bandwidth":
        fault = injector.bandwidth(link, args.kbps)
    elif c == "slow-close":
        fault = injector.slow_close(link, args.ms)
    elif c == "reset-after":
        fault = injector.reset_after(link, args.bytes)
    elif c == "profile":
        if topology is None:
            raise BadInput("fault profile needs the testbed's model links")
        lk = topology.link(link)
        fault = injector.profile(link, model.links[lk.link_class])
    elif c == "flap":
        fault = injector.flap(link, args.down, args.up, args.mode)
    else:  # pragma: no cover - argparse rejects it first
        raise BadInput(f"unknown fault command {c!r}")
    if args.duration is None and c != "flap":
        # Left in place on purpose: recorded as held until 'fault heal'.
        fault.apply()
        fault.record(persistent=True)
        print(f"{link}: {fault.describe()} applied; remove it with "
              f"'edge-refarch fault heal {link}'")
        return 0
    end = time.monotonic() + (args.duration or MAX_DURATION_S)
    with fault:
        say(f"{link}: {fault.describe()} for {args.duration:g} s"
            if args.duration else
            f"{link}: {fault.describe()} until Ctrl-C")
        wait_until(end)
    print(f"{link}: {fault.describe()} removed")
    return 0
