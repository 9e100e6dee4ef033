"""Verdicts from test results: the report never hides a failure."""

from __future__ import annotations

import json

from edge_refarch.architecture import load_model
from edge_refarch.architecture.requirements import load_catalog
from edge_refarch.validation.conformance import report

T = "pkg.Mod.Cls.test_"


def build(results, model="distributed", tests=None, before=None,
          after=None, left=()):
    catalog = load_catalog(load_model())
    tests = tests or {f"{T}{r.lower()}": (r,) for r in catalog.requirements}
    return report.build(catalog, model, tests, results, {},
                        before or {"users": 1}, after or {"users": 1},
                        list(left), 1.0)


def verdicts(rep):
    return {r["id"]: r["verdict"] for r in rep["requirements"]}


def test_pass_fail_not_run_and_missing():
    rep = build({
        f"{T}edge-us1-identity": {"status": "success", "duration_s": 1,
                                  "cause": ""},
        f"{T}edge-us1-catalog": {"status": "fail", "duration_s": 1,
                                 "cause": "AssertionError: regions"},
        f"{T}edge-sec-revoke": {"status": "skip", "duration_s": 0,
                                "cause": "not run: no fault injector"},
    })
    v = verdicts(rep)
    assert v["EDGE-US1-IDENTITY"] == "pass"
    assert v["EDGE-US1-CATALOG"] == "fail"
    assert v["EDGE-SEC-REVOKE"] == "not_run"
    # A test missing from the results is a failure, not a pass.
    assert v["EDGE-SEC-DISABLE"] == "fail"
    cause = next(r for r in rep["requirements"]
                 if r["id"] == "EDGE-US1-CATALOG")["reason"]
    assert "regions" in cause


def test_not_applicable_comes_from_the_catalog():
    rep = build({}, model="centralized")
    assert verdicts(rep)["EDGE-US2-FETCH"] == "not_applicable"


def test_hygiene_reports_leaks_and_faults():
    rep = build({}, before={"users": 3, "images@dc": 1},
                after={"users": 4, "images@dc": 1},
                left=["dc-edge1: toxic edge-refarch.latency.upstream"])
    h = rep["hygiene"]
    assert not h["clean"]
    assert h["leaked"] == {"users": 1}
    assert h["faults_left"]


def test_rst_page_lists_every_requirement(tmp_path):
    rep = build({})
    js, rst = report.write(rep, tmp_path)
    text = rst.read_text()
    for r in rep["requirements"]:
        assert r["id"] in text
    assert js.exists()


def test_secret_audit_finds_a_planted_secret(tmp_path):
    from edge_refarch.validation.conformance import audit
    clean = tmp_path / "clean.log"
    clean.write_text("GET /v3 200\n")
    dirty = tmp_path / "dirty.log"
    dirty.write_bytes(b"... password=0123abcd ...")
    leaks = audit.scan({"password:admin": "0123abcd",
                        "key:dc/fernet-keys/0": "zzz"}, [clean, dirty])
    assert leaks == [f"password:admin in {dirty}"]


def test_verdict_per_partition_mode():
    """A requirement whose tests cut links in two modes gets a verdict per
    mode; it fails when one mode fails, and its cause names the mode."""
    catalog = load_catalog(load_model())
    tests = {f"{T}refused": ("EDGE-US2-FETCH-CUT",),
             f"{T}blackhole": ("EDGE-US2-FETCH-CUT",)}
    modes = {f"{T}refused": "refused", f"{T}blackhole": "blackhole"}
    ok = {"status": "success", "duration_s": 1, "cause": ""}
    results = {f"{T}refused": ok, f"{T}blackhole": {
        "status": "fail", "duration_s": 10, "cause": "AssertionError: hung"}}
    rep = report.build(catalog, "distributed", tests, results, {}, {}, {},
                       [], 1.0, modes=modes)
    entry = next(r for r in rep["requirements"]
                 if r["id"] == "EDGE-US2-FETCH-CUT")
    assert entry["verdict"] == "fail"
    assert entry["reason"] == "blackhole: AssertionError: hung"
    assert entry["modes"] == {
        "blackhole": {"verdict": "fail", "reason": "AssertionError: hung"},
        "refused": {"verdict": "pass", "reason": ""}}
    assert "FAIL (blackhole: FAIL, refused: PASS)" in report.render_rst(rep)


def test_a_pass_in_one_mode_with_the_other_not_run_is_not_a_pass():
    """Against a toxiproxy without a black hole, the blackhole tests are
    not run: the refused mode's pass alone does not make the requirement
    pass."""
    catalog = load_catalog(load_model())
    tests = {f"{T}refused": ("EDGE-PART-IDENTITY",),
             f"{T}blackhole": ("EDGE-PART-IDENTITY",)}
    modes = {f"{T}refused": "refused", f"{T}blackhole": "blackhole"}
    why = "not run: toxiproxy at http://wan:8474 has no 'blackhole' toxic"
    results = {f"{T}refused": {"status": "success", "duration_s": 1,
                               "cause": ""},
               f"{T}blackhole": {"status": "skip", "duration_s": 0,
                                 "cause": why}}
    rep = report.build(catalog, "distributed", tests, results, {}, {}, {},
                       [], 1.0, modes=modes)
    entry = next(r for r in rep["requirements"]
                 if r["id"] == "EDGE-PART-IDENTITY")
    assert entry["verdict"] == "not_run"
    assert entry["reason"] == f"blackhole: {why}"
    assert entry["modes"]["refused"]["verdict"] == "pass"


def test_junit_xml_carries_failures_skips_and_requirements(tmp_path):
    """The run's results as JUnit XML, read back with junitparser (as a CI
    system reads it): the failure's readable cause as its message and the
    traceback as its text, the skip's reason, each test's requirements."""
    from junitparser import Failure, JUnitXml, Skipped

    from edge_refarch.validation.conformance.report import write_junit

    pkg = "edge_refarch.tempest_plugin.tests.api.test_images"
    results = {
        f"{pkg}.ImagesTest.test_fetch": {
            "status": "success", "duration_s": 1.5, "cause": "",
            "traceback": ""},
        f"{pkg}.ImagesTest.test_fetch_cut": {
            "status": "fail", "duration_s": 10.2,
            "cause": "not within 10 s",
            "traceback": "Traceback ...\nAssertionError: not within 10 s"},
        f"{pkg}.ImagesTest.test_bytes": {
            "status": "skip", "duration_s": 0.0,
            "cause": "not run: no fault injector configured"}}
    tests = {f"{pkg}.ImagesTest.test_fetch": ("EDGE-US2-FETCH",),
             f"{pkg}.ImagesTest.test_fetch_cut": ("EDGE-US2-FETCH-CUT",)}
    path = write_junit("distributed", results, tests,
                       tmp_path / "distributed.junit.xml")
    suite = next(iter(JUnitXml.fromfile(str(path))))
    assert (suite.tests, suite.failures, suite.skipped) == (3, 1, 1)
    cases = {c.name: c for c in suite}
    failed = cases["test_fetch_cut"]
    assert failed.classname == f"{pkg}.ImagesTest"
    assert isinstance(failed.result[0], Failure)
    assert failed.result[0].message == "not within 10 s"
    assert "AssertionError" in failed.result[0].text
    assert isinstance(cases["test_bytes"].result[0], Skipped)
    assert cases["test_fetch"].system_out == "requirements: EDGE-US2-FETCH"


def test_a_run_that_did_not_complete_withdraws_the_earlier_verdicts(
        tmp_path):
    rep = build({f"{T}edge-us1-identity": {"status": "success",
                                           "duration_s": 1, "cause": ""}})
    report.write(rep, tmp_path)
    for suffix in report.RUN_OUTPUTS:
        (tmp_path / f"distributed{suffix}").write_text("earlier run")
    (tmp_path / "centralized.subunit").write_text("another model's run")
    js, rst = report.write_incomplete(
        "distributed", "edge2.keystone: not healthy after 122 s", tmp_path)
    rec = json.loads(js.read_text())
    assert rec["incomplete"] == "edge2.keystone: not healthy after 122 s"
    assert "requirements" not in rec and "summary" not in rec
    assert rec["model"] == "distributed" and rec["when"]
    assert "did not complete: edge2.keystone" in rst.read_text()
    assert "pass" not in rst.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "centralized.subunit", "distributed.json", "distributed.rst"]


def test_failures_log_round_trip_and_the_tails_a_ci_log_shows(tmp_path,
                                                               capsys):
    from edge_refarch.validation.conformance import cli
    tb = "\n".join(f"  frame {i}" for i in range(20)) + \
        "\ntempest.lib.exceptions.Unauthorized: 401 POST /v3/auth/tokens"
    results = {
        f"{T}edge-sec-disable": {"status": "fail", "duration_s": 1,
                                 "cause": "Unauthorized", "traceback": tb},
        f"{T}edge-sec-revoke": {"status": "success", "duration_s": 1,
                                "cause": "", "traceback": ""}}
    path = tmp_path / "failures.log"
    assert report.write_failures(results, path) == 1
    assert report.read_failures(path) == {f"{T}edge-sec-disable": tb}
    assert report.read_failures(tmp_path / "none.log") == {}
    rep = build(results)
    rep["target"] = {"failures_log": str(path)}
    cli._print_tracebacks(rep, {"EDGE-SEC-DISABLE", "EDGE-SEC-REVOKE"})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"--- {T}edge-sec-disable (EDGE-SEC-DISABLE), the end "
                      "of its traceback:")
    assert len(out) == 1 + cli.TRACEBACK_TAIL_LINES
    assert out[-1] == "    tempest.lib.exceptions.Unauthorized: 401 POST " \
        "/v3/auth/tokens"
