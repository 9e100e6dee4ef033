"""``edge-refarch conformance``: run the suite, write tempest.conf."""

from __future__ import annotations

import signal
from pathlib import Path

from edge_refarch.architecture import ModelError
from edge_refarch.architecture.requirements import load_catalog
from edge_refarch.validation import paths
from edge_refarch.validation.errors import (
    BadInput,
    Terminated,
    UserError,
    raise_terminated,
)

# --fail-on: which verdicts make the run exit 1 (besides expected verdicts).
FAIL_ON = ("never", "fail", "not-run")


def add_parser(areas, parser_class) -> None:
    cp = areas.add_parser("conformance", help="the conformance suite")
    cmds = cp.add_subparsers(dest="command", required=True,
                             parser_class=parser_class)
    run = cmds.add_parser("run", help="run it (default: on the testbed, "
                                      "brought up for --model)")
    run.add_argument("--model", default=None,
                     help="deployment model of the testbed (default: "
                          "distributed); with --tempest-conf, the model "
                          "its deployment_model names")
    run.add_argument("--edges", type=int, default=None)
    run.add_argument("--tempest-conf", metavar="FILE",
                     help="run against the cloud this tempest.conf "
                          "describes instead of the testbed")
    run.add_argument("--report-dir", metavar="DIR",
                     help="where the report goes (default: the docs "
                          "site's doc/source/_generated/conformance)")
    run.add_argument("--requirement", action="append", metavar="ID",
                     help="run only the tests of this requirement "
                          "(repeatable); the others are reported not run")
    run.add_argument("--expect", metavar="FILE",
                     help="expected verdicts (YAML): exit 1 and print one "
                          "line per requirement whose verdict differs, in "
                          "either direction (default on the testbed: "
                          "the shipped architecture/expected_verdicts.yaml;"
                          " against --tempest-conf: none)")
    run.add_argument("--no-expect", action="store_true",
                     help="on the testbed: report only, compare with no "
                          "expected verdicts")
    run.add_argument("--fail-on", choices=FAIL_ON, default=None,
                     help="exit policy: 'fail' exits 1 when an applicable "
                          "requirement fails, 'not-run' also when one did "
                          "not run; default 'never' (report only)")
    run.add_argument("--strict", action="store_true",
                     help="the same as --fail-on fail")
    cl = cmds.add_parser("cleanup", help="remove what a crashed run left: "
                                         "faults whose owner died, the "
                                         "suite's Heat stacks, images, "
                                         "users, projects, servers and "
                                         "flavors")
    cl.add_argument("--tempest-conf", metavar="FILE",
                    help="the cloud (default: the testbed)")
    conf = cmds.add_parser("config", help="write tempest.conf for a cloud "
                                          "from clouds.yaml and a site map")
    conf.add_argument("--clouds", required=True, metavar="FILE")
    conf.add_argument("--site-map", required=True, metavar="FILE",
                      help="YAML: root: dc; sites: {dc: {cloud: dc}, "
                           "edge1: {cloud: edge1, link: dc-edge1}}")
    conf.add_argument("--model", required=True,
                      help="the deployment model the cloud implements")
    conf.add_argument("--toxiproxy-url", metavar="URL")
    conf.add_argument("-o", "--output", default="tempest.conf")


def _report_dir(args) -> Path:
    """--report-dir; else, for a run against a user's cloud, the state
    directory (never the checkout's docs); for the testbed, the docs
    site's generated pages (the published matrix)."""
    if args.report_dir:
        return Path(args.report_dir)
    if args.tempest_conf:
        return paths.conformance_dir(paths.CLOUD) / "report"
    root = paths.repo_root()
    if root is None:
        return paths.conformance_dir("report")
    return root / "doc" / "source" / "_generated" / "conformance"


def run(args, model, say) -> int:
    from edge_refarch.validation.conformance import runner, tempest_conf
    catalog = load_catalog(model)
    if args.command == "run":
        try:
            import tempest  # noqa: F401
        except ImportError:
            raise UserError("the conformance suite needs Tempest: pip "
                            "install 'edge-refarch[conformance]'") from None
        # A CI job's timeout or a `kill` ends the run as Ctrl-C does: its
        # Tempest runs stopped, its faults healed, its resources removed
        # (SIGINT may be ignored: a background job of a shell script).
        previous = signal.signal(signal.SIGTERM, raise_terminated)
        try:
            return _run(args, model, catalog, say)
        finally:
            signal.signal(signal.SIGTERM, previous)
    if args.command == "config":
        out = tempest_conf.for_cloud(model, args.clouds, args.site_map,
                                     args.model, args.toxiproxy_url,
                                     Path(args.output), say=say)
        print(f"tempest.conf written: {out}")
        return 0
    if args.command == "cleanup":
        if args.tempest_conf:
            conf = Path(args.tempest_conf)
        else:
            from edge_refarch.validation.testbed.testbed import Testbed
            testbed = Testbed(model, say=say)
            if testbed.recorded() is None:
                raise UserError("the testbed is not up; pass "
                                "--tempest-conf for another cloud", 2)
            conf = tempest_conf.for_testbed(
                testbed, paths.conformance_dir("cleanup") / "tempest.conf")
        removed = runner.Cloud(conf).cleanup()
        print(f"removed {removed['faults']} fault changes, "
              f"{removed['stacks']} stacks, {removed['images']} images, "
              f"{removed['users']} users, {removed['projects']} projects, "
              f"{removed['servers']} servers, {removed['flavors']} flavors")
        return 0


def _run(args, model, catalog, say) -> int:
    from edge_refarch.validation.conformance import expectations, runner
    if args.strict and args.fail_on not in (None, "fail"):
        raise BadInput("--strict means --fail-on fail; give one of them")
    fail_on = "fail" if args.strict else (args.fail_on or "never")
    only = _known(catalog, args.requirement) if args.requirement else None
    if args.expect and args.no_expect:
        raise BadInput("--expect and --no-expect: give one of them")
    expect_path = None
    if args.expect:
        expect_path = Path(args.expect)
    elif not args.tempest_conf and not args.no_expect:
        expect_path = expectations.DEFAULT_PATH
    # Read before the run: a broken declaration costs no bring-up.
    expected = expectations.load(expect_path, catalog) \
        if expect_path else None
    report_dir = _report_dir(args)
    try:
        conf, workdir, testbed = _target(args, model, say)
        rep = runner.run(model, catalog, conf, workdir, report_dir, say,
                         testbed=testbed, only=only)
    except (BadInput, ModelError):
        raise       # options that do not go together, an unknown model
    except BaseException as exc:
        _record_incomplete(args, model, exc, report_dir, say)
        raise
    _print_report(rep, report_dir)
    problems = _problems(rep, testbed is not None, fail_on)
    if expected is not None:
        diffs = expectations.compare(rep, expected, only)
        for d in diffs:
            print(f"DIFFERS {d.line()}")
        if diffs:
            _print_tracebacks(rep, {d.requirement.split(" [")[0]
                                    for d in diffs})
            problems.append(f"{len(diffs)} verdict(s) differ from "
                            f"{expect_path} ({rep['model']}); a change "
                            "made on purpose is declared there")
        else:
            print(f"verdicts as expected ({expect_path})")
    if problems:
        raise UserError("; ".join(problems))
    return 0


def _record_incomplete(args, model, exc: BaseException, report_dir: Path,
                       say) -> None:
    """The run of args.model ended before its report (`exc`: why): say so
    in `report_dir` in place of an earlier run's verdicts
    (report.write_incomplete). Without a deployment model of the
    architecture (none given, or a tempest.conf that could not be read)
    there is nothing to replace. The error itself stays the command's one
    line of output."""
    from edge_refarch.validation.conformance import report, runner
    name = args.model
    if name is None and args.tempest_conf:
        try:
            name = runner.Cloud(Path(args.tempest_conf)).model
        except Exception:   # noqa: BLE001 - the run's error is what counts
            return
    if name not in model.deployment_models:
        return
    if isinstance(exc, Terminated):
        why = "terminated (SIGTERM)"
    elif isinstance(exc, KeyboardInterrupt):
        why = "interrupted"
    elif isinstance(exc, UserError):
        why = str(exc)
    else:
        why = f"{type(exc).__name__}: {exc}"
    try:
        report.write_incomplete(name, why.splitlines()[0] if why
                                else type(exc).__name__, report_dir)
    except OSError as err:
        say(f"could not record the incomplete run in {report_dir}: {err}")


def _target(args, model, say):
    """(tempest.conf, work directory, testbed or None) of the run: the
    cloud --tempest-conf describes, or the embedded testbed brought up
    as --model and --edges say (replacing one up as another model).
    Raises BadInput for options that do not go together."""
    from edge_refarch.validation.conformance import runner, tempest_conf
    if args.tempest_conf:
        conf = Path(args.tempest_conf)
        if not conf.exists():
            raise BadInput(f"{conf}: no such tempest.conf")
        if args.model:
            model.deployment_model(args.model)
            named = runner.Cloud(conf).model
            if named != args.model:
                raise BadInput(f"--model {args.model}: {conf} describes a "
                               f"{named} deployment ([edge_refarch] "
                               "deployment_model); drop --model or write "
                               "the tempest.conf for that model")
        if args.edges is not None:
            raise BadInput("--edges sizes the testbed; the tempest.conf "
                           "already names the cloud's sites")
        return conf, paths.conformance_dir(paths.CLOUD), None
    from edge_refarch.validation.testbed.testbed import Testbed
    testbed = Testbed(model, say=say)
    args.model = args.model or "distributed"
    model.deployment_model(args.model)
    rec = testbed.recorded()
    if rec and rec["deployment"] != args.model:
        say(f"the testbed runs {rec['deployment']}; replacing it")
        testbed.down(quiet=True)
    testbed.up(args.model, args.edges)
    workdir = paths.conformance_dir(args.model)
    conf = tempest_conf.for_testbed(testbed, workdir / "tempest.conf")
    return conf, workdir, testbed


# Lines of a failed test's traceback printed when its verdict differs from
# the expected one (its end: the call that failed and why).
TRACEBACK_TAIL_LINES = 12


def _print_tracebacks(rep: dict, requirements: set[str]) -> None:
    """The end of the traceback of every failed test of `requirements`
    (from the run's failures.log), so that a CI log says why a verdict
    differs without the work directory."""
    from edge_refarch.validation.conformance import report as report_mod
    tracebacks = report_mod.read_failures(
        Path(rep.get("target", {}).get("failures_log", "")))
    for req in rep["requirements"]:
        if req["id"] not in requirements:
            continue
        for test in req["tests"]:
            lines = tracebacks.get(test["id"], "").splitlines()
            if lines:
                print(f"--- {test['id']} ({req['id']}), the end of its "
                      "traceback:")
                for line in lines[-TRACEBACK_TAIL_LINES:]:
                    print(f"    {line}")


def _print_report(rep: dict, report_dir: Path) -> None:
    """One line per requirement, where the report is, the summary."""
    width = max(len(r["id"]) for r in rep["requirements"])
    for r in rep["requirements"]:
        reason = f"  {r['reason']}" if r.get("reason") else ""
        print(f"{r['id']:<{width}}  {r['verdict']:<14}{reason[:160]}")
    s = rep["summary"]
    print(f"report: {report_dir / (rep['model'] + '.json')} (and .rst)")
    print(f"{rep['model']}: {s['pass']} pass, {s['fail']} fail, "
          f"{s['not_applicable']} not applicable, {s['not_run']} not run, "
          f"{s['no_test']} without test; {rep['duration_s']} s")


def _problems(rep: dict, on_testbed: bool, fail_on: str) -> list[str]:
    """What makes the run exit 1, one phrase each: things left behind,
    leaked secrets, a stale replica or stale keys, requirements not run
    on the testbed, and failures as `fail_on` ('never', 'fail',
    'not-run') counts them."""
    problems = []
    s, h = rep["summary"], rep["hygiene"]
    if h["leaked"] or h["faults_left"]:
        problems.append(f"the run left things behind: "
                        f"{h['leaked'] or ''} "
                        f"{h['faults_left'] or ''}".strip())
    leaks = h.get("secrets_audit", {}).get("leaks")
    if leaks:
        problems.append(f"{len(leaks)} secret(s) found in logs or output, "
                        f"first: {leaks[0]}")
    stale = {site: r for site, r in rep.get("replicas", {}).items()
             if r["state"] == "stale"}
    if stale:
        site, r = next(iter(stale.items()))
        problems.append(f"the identity replica of {', '.join(stale)} is "
                        f"stale after the run ({site}: {r['last_error']})")
    stale_keys = [site for site, r in rep.get("replicas", {}).items()
                  if "stale" in (r.get("keys") or {}).values()]
    if stale_keys:
        problems.append(f"the keys of {', '.join(stale_keys)} are stale "
                        "after the run (the DC promoted a key they never "
                        "received)")
    unrun = [r for r in rep["requirements"] if r["verdict"] == "not_run"
             and not r.get("out_of_scope")]
    if on_testbed and (unrun or s["no_test"]):
        problems.append("against the testbed every applicable requirement "
                        "in its scope must run")
    if fail_on in ("fail", "not-run") and s["fail"]:
        problems.append(f"{s['fail']} requirement(s) failed")
    if fail_on == "not-run" and unrun:
        problems.append(f"{len(unrun)} requirement(s) did not run")
    return problems


def _known(catalog, ids: list[str]) -> set[str]:
    for rid in ids:
        if rid not in catalog.requirements:
            raise BadInput(f"--requirement {rid}: no such requirement in "
                           f"{catalog.path.name}")
    return set(ids)
