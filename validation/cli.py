"""The ``edge-refarch`` command: one entry point, a subcommand per area."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from edge_refarch.architecture import ModelError, load_model
from edge_refarch.validation.errors import BadInput, Terminated, UserError
from edge_refarch.validation.ui import Progress


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2."""

    def error(self, message):
        # "testbed up: argument --edges: ..." (main prints the program's
        # name once, in front of every error).
        where = self.prog.removeprefix("edge-refarch").strip()
        raise BadInput(f"{where}: {message}" if where else message)


def _edges(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number (got {value!r})") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {n})")
    # The upper bound is the topology's (MAX_SITES, with each edge's
    # far-edge sites): it says so in one line when the model lays out more.
    return n


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="edge-refarch", description=__doc__)
    p.add_argument("--debug", action="store_true",
                   help="show tracebacks on errors")
    p.add_argument("--model-file", metavar="PATH",
                   help="architecture model (default: the one the "
                        "running testbed was brought up with, else "
                        "$EDGE_REFARCH_MODEL, else the shipped "
                        "architecture/model.yaml)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress output")
    areas = p.add_subparsers(dest="area", required=True, parser_class=_Parser)

    tb = areas.add_parser("testbed", help="the embedded multi-site testbed")
    tbc = tb.add_subparsers(dest="command", required=True,
                            parser_class=_Parser)
    up = tbc.add_parser("up", help="bring the testbed up (idempotent)")
    up.add_argument("--model", default="distributed",
                    help="deployment model (default: distributed)")
    up.add_argument("--keep-on-failure", action="store_true",
                    help="leave what started running when start-up fails, "
                         "to look at it ('testbed down' stops it)")
    up.add_argument("--edges", type=_edges, default=None,
                    help="number of edge sites (default: the model's)")
    up.add_argument("--config-overlay", metavar="FILE",
                    help="YAML of options to set in the services' "
                         "configuration: site (or '*') -> service -> file "
                         "-> section -> option: value")
    up.add_argument("--tls", action="store_true",
                    help="every API over HTTPS with a certificate of a "
                         "private CA of the testbed's own (clouds.yaml "
                         "names it as cacert); not with federated identity")
    tbc.add_parser("down", help="stop every testbed process and remove its "
                                "state")
    st = tbc.add_parser("status", help="each service's health and each "
                                       "link's proxies")
    st.add_argument("--json", action="store_true", help="machine-readable")
    tbc.add_parser("install", help="install what the testbed needs "
                                   "(Debian packages, toxiproxy, services) "
                                   "for every model")
    tbc.add_parser("smoke", help="a quick end-to-end check of a running "
                                 "testbed")
    kp = tbc.add_parser("keys", help="day 2: the fernet and credential "
                                     "keys")
    kc = kp.add_subparsers(dest="keys_command", required=True,
                           parser_class=_Parser)
    rot = kc.add_parser("rotate", help="keystone-manage fernet_rotate at "
                                       "the DC, then distribute to the edges "
                                       "over their links (a cut-off edge "
                                       "gets the keys after the heal)")
    rot.add_argument("--credential", action="store_true",
                     help="rotate the credential keys instead "
                          "(credential_rotate, then credential_migrate)")
    rot.add_argument("--force", action="store_true",
                     help="rotate even though an edge has not received the "
                          "staged key (cut off beyond the model's "
                          "key_rotations_per_partition): it then refuses "
                          "the DC's new tokens and reports stale keys")
    rp = tbc.add_parser("replicas", help="day 2: the edges' identity "
                                         "replicas (replicated identity)")
    rc = rp.add_subparsers(dest="replicas_command", required=True,
                           parser_class=_Parser)
    rc.add_parser("status", help="each replica's state as JSON: site -> "
                                 "{state: replicating | reconnecting | "
                                 "stale, last_error, ...}")
    rc.add_parser("purge-binlogs", help="purge the DC's binary logs now, as "
                                        "their expiry does during a cut "
                                        "longer than the retention (a cut "
                                        "edge's replica cannot resume)")
    rs = rc.add_parser("reseed", help="rebuild an edge's replica from a "
                                      "dump of the DC's identity database")
    rs.add_argument("site", help="the edge site whose replica to rebuild")
    from edge_refarch.validation.conformance import cli as conf_cli
    from edge_refarch.validation.docs import cli as docs_cli
    from edge_refarch.validation.faults import cli as fault_cli
    fault_cli.add_parser(areas, _Parser)
    conf_cli.add_parser(areas, _Parser)
    docs_cli.add_parser(areas, _Parser)
    return p


def _testbed(args, model, say):
    from edge_refarch.validation.testbed import deps
    from edge_refarch.validation.testbed.testbed import Testbed

    testbed = Testbed(model, say=say)
    if args.command == "up":
        rec = testbed.up(args.model, args.edges,
                         keep_on_failure=args.keep_on_failure, tls=args.tls,
                         config_overlay=args.config_overlay)
        print(f"testbed up: model {rec['deployment']}, {rec['edges']} "
              f"edge(s), brought up in {rec['bring_up_s']} s")
        print(f"clouds.yaml: {rec['clouds_yaml']}")
        print(f"  export OS_CLIENT_CONFIG_FILE={rec['clouds_yaml']}")
    elif args.command == "down":
        stopped = testbed.down()
        print(f"testbed down ({len(stopped)} processes stopped)")
    elif args.command == "status":
        st = testbed.status()
        if args.json:
            print(json.dumps(st, indent=2))
        elif not st["up"]:
            print("testbed: down")
        else:
            _print_status(st)
        return 0 if not st["up"] or (all(
            s["healthy"] for s in st["services"]) and all(
            r.get("state") != "stale" and "stale" not in
            r.get("keys", {}).values()
            for r in st["replicas"].values())) else 1
    elif args.command == "install":
        server, venv = deps.ensure_all(model.testbed.toxiproxy_version, say)
        print(f"toxiproxy-server: {server}")
        print(f"services venv: {venv}")
        if any(dm.federation for dm in model.deployment_models.values()):
            deps.ensure_packages("federation", say)
            deps.check_federation_programs()
            print(f"Keystone venv for mod_wsgi: "
                  f"{deps.apache_keystone_venv(say)}")
    elif args.command == "keys":
        held, acked, behind = testbed.rotate_keys(
            credential=args.credential, force=args.force)
        kind = "credential keys" if args.credential else "keys"
        to = ", ".join(acked) or ("no edge yet" if behind
                                  else "no edge (no replica)")
        print(f"rotated at the DC: {kind} {', '.join(held)} (primary "
              f"{held[-1]}); distributed to {to}"
              + (f"; not yet received by {', '.join(behind)} (cut off or "
                 "behind: it catches up after the heal)" if behind else ""))
    elif args.command == "replicas":
        if args.replicas_command == "status":
            if testbed.recorded() is None:
                raise UserError("the testbed is not up", 2)
            print(json.dumps(testbed.replicas(), indent=2))
        elif args.replicas_command == "purge-binlogs":
            before, after = testbed.purge_binary_logs()
            print(f"binary logs at the DC: {', '.join(before)} -> "
                  f"{', '.join(after)}")
        else:
            gtid = testbed.reseed_replica(args.site)
            print(f"{args.site}: identity replica re-seeded from the DC, "
                  f"replicating from GTID {gtid or '(empty)'}")
    elif args.command == "smoke":
        from edge_refarch.validation.testbed.smoke import smoke
        for line in smoke(testbed, say):
            print(line)
    return 0


def _print_status(st: dict) -> None:
    print(f"testbed: up, model {st['deployment']}, {st['edges']} edge(s)")
    print(f"clouds.yaml: {st['clouds_yaml']}")
    print("services:")
    for s in st["services"]:
        mark = "ok  " if s["healthy"] else "DOWN"
        print(f"  {mark} {s['name']:<24} {s['url']:<26} "
              f"pid {s['pid'] or '-':<8} rss {s['rss_mib']} MiB")
    if st.get("replicas"):
        print("identity replicas:")
        for site, r in st["replicas"].items():
            mark = "ok  " if r["state"] == "replicating" else "WARN" \
                if r["state"] == "reconnecting" else "STALE"
            behind = f", {r['seconds_behind']} s behind" \
                if r.get("seconds_behind") is not None else ""
            error = f": {r['last_error']}" if r.get("last_error") else ""
            print(f"  {mark} {site:<12} {r.get('state')}{behind}{error}"
                  [:200])
            keys = r.get("keys") or {}
            if keys:
                mark = "STALE" if "stale" in keys.values() else "ok  "
                print(f"  {mark} {site:<12} keys: " + ", ".join(
                    f"{repo} {state}" for repo, state in keys.items()))
    print("links:")
    for link in st["links"]:
        print(f"  {link['name']}")
        for p in link["proxies"]:
            state = {True: "enabled", False: "DISABLED",
                     None: "MISSING"}[p["enabled"]]
            toxics = f" toxics: {', '.join(p['toxics'])}" if p["toxics"] \
                else ""
            print(f"    {p['name']:<34} {p['listen']:<17} -> "
                  f"{p['upstream']:<16} {state}{toxics}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    # Libraries' log records (keystoneauth's discovery warnings, ...) are
    # not the operator's output: shown with --debug only.
    if debug:
        logging.basicConfig(level=logging.DEBUG)
    elif not logging.getLogger().handlers:
        logging.getLogger().addHandler(logging.NullHandler())
    try:
        args = build_parser().parse_args(argv)
        say = Progress(quiet=args.quiet)
        model_file = args.model_file
        if model_file is None:
            from edge_refarch.validation.testbed.testbed import (
                running_model_file,
            )
            model_file = running_model_file()
        try:
            model = load_model(model_file)
        except ModelError as exc:
            raise BadInput(str(exc)) from None
        if args.area == "testbed":
            return _testbed(args, model, say)
        if args.area == "conformance":
            from edge_refarch.validation.conformance import cli as conf_cli
            return conf_cli.run(args, model, say)
        if args.area == "docs":
            from edge_refarch.validation.docs import cli as docs_cli
            return docs_cli.run(args, model, say)
        if args.area == "fault":
            from edge_refarch.validation.faults import cli as fault_cli
            return fault_cli.run(args, model, say)
        raise BadInput(f"unknown area {args.area!r}")
    except UserError as exc:
        if debug:
            raise
        print(f"edge-refarch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ModelError as exc:   # a name the model does not know (--model)
        if debug:
            raise
        print(f"edge-refarch: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("edge-refarch: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("edge-refarch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away ('... | head'): stop quietly, as a Unix
        # tool does on SIGPIPE; stdout points at devnull so that flushing
        # it at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # noqa: BLE001 - last resort, one line
        if debug:
            raise
        print(f"edge-refarch: internal error: {type(exc).__name__}: {exc} "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
