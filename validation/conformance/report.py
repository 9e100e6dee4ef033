"""Verdicts per requirement, as JSON and as a page the docs include."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from edge_refarch.architecture.requirements import Catalog
from edge_refarch.validation.errors import readable_cause

VERDICTS = ("pass", "fail", "not_applicable", "not_run", "no_test")


def parse_subunit(path: Path) -> dict[str, dict]:
    """test id (without tags) -> {status, duration_s, cause, traceback}:
    `cause` is one readable line (errors.readable_cause), `traceback` the
    whole text the test reported (empty for a pass)."""
    import subunit
    import testtools

    results: dict[str, dict] = {}

    def on_test(test):
        status = test["status"]
        if status not in ("success", "fail", "skip", "xfail", "uxsuccess"):
            return
        tid = test["id"].split("[")[0]
        start, end = (test["timestamps"] + [None, None])[:2]
        duration = (end - start).total_seconds() if start and end else 0.0
        cause, text = "", ""
        details = test.get("details") or {}
        for key in ("traceback", "reason"):
            if key in details:
                text = details[key].as_text().strip()
                cause = readable_cause(text)
                break
        results[tid] = {"status": status, "duration_s": round(duration, 2),
                        "cause": cause, "traceback": text}

    with open(path, "rb") as fh:
        stream = subunit.ByteStreamToStreamResult(
            fh, non_subunit_name="stdout")
        result = testtools.StreamToDict(on_test)
        result.startTestRun()
        try:
            stream.run(result)
        finally:
            result.stopTestRun()
    return results


def read_evidence(path: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        out.setdefault(item.pop("test"), []).append(item)
    return out


def _verdict(tests: list[dict]) -> tuple[str, str]:
    """(verdict, reason) of a requirement from its tests' results: fail
    when any failed (or is missing), not run when all were skipped."""
    bad = [t for t in tests
           if t["status"] in ("fail", "uxsuccess", "missing")]
    if bad:
        return "fail", bad[0]["cause"]
    if all(t["status"] == "skip" for t in tests):
        return "not_run", tests[0]["cause"]
    return "pass", ""


def build(catalog: Catalog, model: str, tests: dict[str, tuple],
          results: dict[str, dict], evidence: dict[str, list],
          before: dict, after: dict, faults_left: list[str],
          duration_s: float, scoped_out: dict[str, str] | None = None,
          modes: dict[str, str] | None = None) -> dict:
    """`scoped_out`: requirements that cannot run where the suite ran
    (requirement ID -> why); reported as not run, marked out of scope.
    `modes`: test id -> the partition mode it cuts with; a requirement
    with such tests also gets its verdict per mode (``modes``)."""
    scoped_out = scoped_out or {}
    modes = modes or {}
    reqs = []
    for req in catalog.requirements.values():
        mine = [t for t, ids in tests.items() if req.id in ids]
        entry = {"id": req.id, "story": req.story,
                 "statement": req.statement, "tests": []}
        app = req.models[model]
        if not app.applies:
            entry.update(verdict="not_applicable", reason=app.reason)
            reqs.append(entry)
            continue
        if req.id in scoped_out:
            entry.update(verdict="not_run", reason=scoped_out[req.id],
                         out_of_scope=True)
            reqs.append(entry)
            continue
        for t in mine:
            r = dict(results.get(t, {"status": "missing", "duration_s": 0,
                                     "cause": "not in the results"}))
            r.pop("traceback", None)    # in the run's failures.log
            entry["tests"].append({"id": t, **r,
                                   "evidence": evidence.get(t, [])})
        if not mine:
            entry.update(verdict="no_test", reason="no test names it")
        else:
            verdict, reason = _verdict(entry["tests"])
            entry.update(verdict=verdict, reason=reason)
        by_mode: dict[str, list[dict]] = {}
        for t in entry["tests"]:
            if t["id"] in modes:
                t["partition_mode"] = modes[t["id"]]
                by_mode.setdefault(modes[t["id"]], []).append(t)
        if by_mode:
            # The verdict per partition mode; the requirement fails when it
            # fails in any, and says in which.
            entry["modes"] = {}
            for m, ts in sorted(by_mode.items()):
                verdict, reason = _verdict(ts)
                entry["modes"][m] = {"verdict": verdict, "reason": reason}
            failed = [m for m, v in entry["modes"].items()
                      if v["verdict"] == "fail"]
            if failed and entry["verdict"] == "fail":
                entry["reason"] = f"{failed[0]}: " \
                    f"{entry['modes'][failed[0]]['reason']}"
            # A pass must hold in every mode: one that passed in one mode
            # and was not run in another (a stock toxiproxy has no black
            # hole) is not run, and says which.
            unrun = [m for m, v in entry["modes"].items()
                     if v["verdict"] == "not_run"]
            if unrun and entry["verdict"] == "pass":
                entry["verdict"] = "not_run"
                entry["reason"] = f"{unrun[0]}: " \
                    f"{entry['modes'][unrun[0]]['reason']}"
        entry["duration_s"] = round(sum(t["duration_s"]
                                        for t in entry["tests"]), 2)
        reqs.append(entry)
    leaked = {k: after.get(k, 0) - v for k, v in before.items()
              if after.get(k, 0) != v}
    summary = {v: sum(1 for r in reqs if r["verdict"] == v)
               for v in VERDICTS}
    return {
        "model": model, "when": _now(),
        "duration_s": round(duration_s, 1), "summary": summary,
        "requirements": reqs,
        "hygiene": {"counts_before": before, "counts_after": after,
                    "leaked": leaked, "faults_left": faults_left,
                    "clean": not leaked and not faults_left},
    }


def write_failures(results: dict[str, dict], path: Path) -> int:
    """The full traceback of every test that did not pass, into `path`
    (the report keeps one readable line each). Returns how many."""
    out = [f"== {tid} ({r['status']})\n{r['traceback']}\n"
           for tid, r in sorted(results.items())
           if r["status"] != "success" and r.get("traceback")]
    path.write_text("\n".join(out))
    return len(out)


def read_failures(path: Path) -> dict[str, str]:
    """test id -> its traceback, from a failures.log write_failures wrote
    ({} when there is none)."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    out: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        head = re.fullmatch(r"== (\S+) \((\w+)\)", line)
        if head:
            current = head.group(1)
            out[current] = ""
        elif current is not None:
            out[current] += line + "\n"
    return {t: tb.strip("\n") for t, tb in out.items()}


def write_junit(model: str, results: dict[str, dict],
                tests: dict[str, tuple], path: Path) -> Path:
    """The run's results as JUnit XML (what Zuul, Jenkins and GitLab
    read): one testsuite, one testcase per Tempest test (classname its
    module and class, name its method), a failure with the readable cause
    as its message and the traceback as its text, a skip with its reason;
    the requirement IDs each test gives a verdict on in its system-out.
    Written with junitparser."""
    from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite
    suite = TestSuite(f"edge-refarch conformance ({model})")
    for tid, r in sorted(results.items()):
        classname, _, name = tid.rpartition(".")
        case = TestCase(name, classname, r["duration_s"])
        if r["status"] in ("fail", "uxsuccess"):
            failure = Failure(r["cause"] or r["status"])
            failure.text = r.get("traceback") or ""
            case.result = [failure]
        elif r["status"] == "skip":
            case.result = [Skipped(r["cause"])]
        case.system_out = "requirements: " + ", ".join(tests.get(tid, ()))
        suite.add_testcase(case)
    xml = JUnitXml()
    xml.add_testsuite(suite)
    path.parent.mkdir(parents=True, exist_ok=True)
    xml.write(str(path))
    return path


def suite_version() -> str:
    """edge-refarch's installed version (its distribution's metadata), with
    the git commit when it runs from a checkout (an editable install):
    ``0.1.0`` or ``0.1.0 (git 1a9edee, modified)``."""
    import subprocess
    from importlib import metadata
    try:
        version = metadata.version("edge-refarch")
    except metadata.PackageNotFoundError:
        version = "unknown"
    here = Path(__file__).resolve().parent
    try:
        git = [["git", "rev-parse", "--short", "HEAD"],
               ["git", "status", "--porcelain", "--untracked-files=no"]]
        commit, dirty = (subprocess.run(
            args, cwd=here, capture_output=True, text=True, timeout=10,
            stdin=subprocess.DEVNULL) for args in git)
    except (OSError, subprocess.TimeoutExpired):
        return version
    if commit.returncode or not commit.stdout.strip():
        return version      # an installed package, not a checkout
    modified = ", modified" if dirty.stdout.strip() else ""
    return f"{version} (git {commit.stdout.strip()}{modified})"


def write(report: dict, directory: Path) -> tuple[Path, Path]:
    """The report as ``<model>.json`` and ``<model>.rst`` in `directory`
    (made if missing); returns their paths. Raises OSError."""
    directory.mkdir(parents=True, exist_ok=True)
    model = report["model"]
    js = directory / f"{model}.json"
    js.write_text(json.dumps(report, indent=2))
    rst = directory / f"{model}.rst"
    rst.write_text(render_rst(report))
    return js, rst


def _now() -> str:
    """The time now, UTC, as a report's "when" (ISO 8601, seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


#: What a run copies next to its report (``<model><suffix>``): Tempest's
#: subunit stream and JUnit XML. A run that did not complete leaves none
#: of an earlier run's.
SUBUNIT, JUNIT = ".subunit", ".junit.xml"
RUN_OUTPUTS = (SUBUNIT, JUNIT)


def write_incomplete(model: str, error: str,
                     directory: Path) -> tuple[Path, Path]:
    """Record that the latest run of `model` did not complete (`error`:
    why, one line): ``<model>.json`` becomes ``{"model", "when",
    "incomplete": error, "suite_version"}``, with no verdict, and the
    earlier run's report, subunit stream and JUnit file are gone, so that
    neither the site nor a CI reading the directory shows the verdicts of
    an earlier run as the latest. Returns the paths written; raises
    OSError."""
    for suffix in RUN_OUTPUTS:
        (directory / f"{model}{suffix}").unlink(missing_ok=True)
    return write({"model": model,
                  "when": _now(),
                  "incomplete": error, "suite_version": suite_version()},
                 directory)


#: What reStructuredText reads as markup inside a line of text. Escaped
#: with a backslash, each stands for itself (reStructuredText Markup
#: Specification, "Escaping Mechanism").
_RST_MARKUP = re.compile(r"([\\`*_|\[\]<>:])")


def rst_text(text: object, limit: int | None = None) -> str:
    """``text`` as plain reStructuredText on one line: str -> str.

    Whitespace is folded to single spaces; the text is cut at ``limit``
    characters *before* it is escaped, so a cut never splits an escape
    nor leaves ``name_`` behind (which docutils reads as a reference to
    an unknown target); then every markup character is backslash-escaped.
    """
    flat = " ".join(str(text).split())
    if limit is not None:
        flat = flat[:limit]
    return _RST_MARKUP.sub(r"\\\1", flat)


_MARK = {"pass": "PASS", "fail": "FAIL", "not_applicable": "n/a",
         "not_run": "not run", "no_test": "NO TEST"}


def render_rst(report: dict) -> str:
    model = report["model"]
    title = f"Conformance: model {model}"
    head = [".. This page is generated by 'edge-refarch conformance run'.",
            "", title, "=" * len(title), ""]
    if report.get("incomplete"):
        return "\n".join([
            *head, f"The run of {report['when']} did not complete: "
            f"{rst_text(report['incomplete'])}", "",
            "It gave no verdict, and the verdicts of earlier runs are "
            "withdrawn.", ""])
    s = report["summary"]
    lines = [
        *head,
        *_target_lines(report.get("target")),
        f"Run {report['when']}, {report['duration_s']} s. "
        f"{s['pass']} pass, {s['fail']} fail, {s['not_applicable']} not "
        f"applicable, {s['not_run']} not run.", "",
        ".. list-table::", "   :header-rows: 1",
        "   :widths: 20 10 50 10", "",
        "   * - Requirement", "     - Verdict", "     - Evidence or cause",
        "     - Seconds",
    ]
    for r in report["requirements"]:
        ev = r.get("reason") or "; ".join(
            ", ".join(f"{k}={v}" for k, v in e.items())
            for t in r["tests"] for e in t["evidence"]) or "--"
        ev = rst_text(ev)
        mark = _MARK[r["verdict"]]
        if r.get("modes"):
            mark += " (" + ", ".join(f"{m}: {_MARK[v['verdict']]}" for m, v
                                     in r["modes"].items()) + ")"
        lines += [f"   * - ``{r['id']}``", f"     - {mark}",
                  f"     - {ev}", f"     - {r.get('duration_s', '')}"]
    for site, r in (report.get("replicas") or {}).items():
        keys = "; keys: " + ", ".join(
            f"{repo} {state}" for repo, state in r["keys"].items()) \
            if r.get("keys") else ""
        lines += ["", f"Identity replica of {site} after the run: "
                  f"{r['state']}" + (f" ({r['last_error']})"
                                     if r.get("last_error") else "")
                  + keys + "."]
    h = report["hygiene"]
    audit = h.get("secrets_audit")
    if audit:
        lines += ["", f"Secrets audit: {audit['secrets']} secrets of the "
                  f"testbed searched in {audit['files']} logs and outputs; "
                  f"{len(audit['leaks'])} found."]
    lines += ["", "Clean-up check: " + (
        "the cloud's images, projects and users are back to their counts "
        "before the run, and no fault remains on any link." if h["clean"]
        else f"NOT CLEAN: leaked {h['leaked']}, faults left "
             f"{h['faults_left']}."), ""]
    return "\n".join(lines)


def _target_lines(target: dict | None) -> list[str]:
    """What the report describes: the testbed or a cloud, its sites."""
    if not target:
        return []
    sites = ", ".join(
        f"{name} ({t['region']}"
        + (f", cloud {t['cloud']}" if t.get("cloud") else "")
        + (f", link {t['link']}" if t.get("link") else "") + ")"
        for name, t in target["sites"].items())
    what = "the embedded testbed" if target["kind"] == "testbed" else \
        "a cloud" + (f" ({target['clouds_file']})"
                     if target.get("clouds_file") else "")
    lanes = target.get("lanes") or ()
    cuts = (" Edge site under test: " + ", ".join(
        f"{lane['edge_site']} ({lane['what']})" for lane in lanes) + ".") \
        if lanes else ""
    return [f"Target: {what}; sites {sites}.{cuts} edge-refarch "
            f"{target['suite_version']}.", ""]
