"""Expected verdicts: the declaration is complete and checked, and a run
that differs in either direction is reported, one line per requirement."""

from __future__ import annotations

import pytest
import yaml

from edge_refarch.architecture import load_model
from edge_refarch.architecture.requirements import load_catalog
from edge_refarch.validation.conformance import expectations, report
from edge_refarch.validation.errors import BadInput

CATALOG = load_catalog(load_model())
SHIPPED = expectations.load(expectations.DEFAULT_PATH, CATALOG)


def _report(model: str, verdicts: dict[str, tuple[str, str]]) -> dict:
    """A report of `model` in which every requirement got its expected
    verdict (per partition mode too), except those in `verdicts`
    (ID -> (verdict, reason))."""
    reqs = []
    for req in CATALOG.requirements.values():
        exp = SHIPPED[model].get(req.id)
        verdict = exp.verdict if exp else "not_applicable"
        reason = f"... {exp.match} ..." if exp and exp.match else ""
        verdict, reason = verdicts.get(req.id, (verdict, reason))
        reqs.append({"id": req.id, "verdict": verdict, "reason": reason,
                     "modes": {m: {"verdict": v, "reason": ""}
                               for m, v in exp.modes} if exp else {}})
    return {"model": model, "requirements": reqs}


def _write(tmp_path, data) -> str:
    path = tmp_path / "expected.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _shipped_raw() -> dict:
    return yaml.safe_load(expectations.DEFAULT_PATH.read_text())


@pytest.mark.parametrize("model", sorted(SHIPPED))
def test_the_shipped_declaration_matches_itself(model):
    assert expectations.compare(_report(model, {}), SHIPPED) == []


def test_every_model_is_declared():
    load_model_names = set(load_model().deployment_models)
    assert set(SHIPPED) == load_model_names


def test_a_new_failure_is_one_line():
    rep = _report("distributed", {"EDGE-US2-FETCH": (
        "fail", "AssertionError: glance-download import failed\nmore")})
    diffs = expectations.compare(rep, SHIPPED)
    assert [d.line() for d in diffs] == [
        "EDGE-US2-FETCH: expected pass, got fail (AssertionError: "
        "glance-download import failed more)"]


def test_an_expected_failure_that_passes_differs_too():
    rep = _report("distributed", {"EDGE-US4-ONE-ENDPOINT": ("pass", "")})
    diffs = expectations.compare(rep, SHIPPED)
    assert [(d.requirement, d.expected, d.got) for d in diffs] == [
        ("EDGE-US4-ONE-ENDPOINT", "fail", "pass")]


def test_a_failure_for_another_cause_differs():
    rep = _report("distributed", {"EDGE-US4-ONE-ENDPOINT": (
        "fail", "HTTP 500 from the compute API")})
    diffs = expectations.compare(rep, SHIPPED)
    assert len(diffs) == 1 and "another cause" in diffs[0].line()


def test_not_run_and_not_applicable_are_verdicts_like_any_other():
    rep = _report("centralized", {
        "EDGE-SEC-REVOKE": ("not_run", "no fault injector configured"),
        "EDGE-US2-FETCH": ("pass", "")})
    got = {d.requirement: (d.expected, d.got)
           for d in expectations.compare(rep, SHIPPED)}
    assert got == {"EDGE-SEC-REVOKE": ("pass", "not_run"),
                   "EDGE-US2-FETCH": ("not_applicable", "pass")}


def test_a_verdict_per_partition_mode_is_compared():
    rep = _report("distributed", {})
    fetch = next(r for r in rep["requirements"]
                 if r["id"] == "EDGE-US2-FETCH-CUT")
    fetch["modes"]["refused"] = {"verdict": "fail", "reason": "HTTP 500"}
    assert [d.line() for d in expectations.compare(rep, SHIPPED)] == [
        "EDGE-US2-FETCH-CUT [refused]: expected pass, got fail (HTTP 500)"]


def test_a_selection_is_compared_on_its_own_requirements():
    rep = _report("distributed", {
        "EDGE-US2-FETCH": ("fail", "x"),
        "EDGE-US1-CATALOG": ("not_run", "not selected for this run")})
    diffs = expectations.compare(rep, SHIPPED, only={"EDGE-US2-FETCH"})
    assert [d.requirement for d in diffs] == ["EDGE-US2-FETCH"]


def test_a_model_without_declaration_differs():
    rep = {"model": "hybrid", "requirements": []}
    assert "no expected verdicts" in expectations.compare(
        rep, SHIPPED)[0].line()


def test_real_report_build_round_trip():
    """The comparison reads the report runner.run writes, verdicts per
    partition mode included."""
    tests, modes, results = {}, {}, {}
    ok = {"status": "success", "duration_s": 1, "cause": ""}
    for rid in CATALOG.requirements:
        exp = SHIPPED["distributed"].get(rid)
        for mode, verdict in (exp.modes if exp and exp.modes
                              else (("", "pass"),)):
            tid = f"m.C{mode}.t_{rid.lower()}"
            tests[tid] = (rid,)
            if mode:
                modes[tid] = mode
            results[tid] = ok if verdict == "pass" else {
                "status": "fail", "duration_s": 1,
                "cause": f"AssertionError: {exp.match}"}
    results["m.C.t_edge-us4-one-endpoint"] = {
        "status": "fail", "duration_s": 1,
        "cause": "AssertionError: the compute endpoint of dc does not know "
                 "the availability zone(s) of edge1"}
    rep = report.build(CATALOG, "distributed", tests, results, {}, {}, {},
                       [], 1.0, modes=modes)
    assert expectations.compare(rep, SHIPPED) == []


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d["models"]["distributed"].pop("EDGE-US2-FETCH"),
     "no expected verdict for EDGE-US2-FETCH"),
    (lambda d: d["models"]["centralized"].update(
        {"EDGE-US2-FETCH": "pass"}), "is not applicable to the model"),
    (lambda d: d["models"]["distributed"].update(
        {"EDGE-US9-NOPE": "pass"}), "unknown requirement EDGE-US9-NOPE"),
    (lambda d: d["models"]["distributed"].update(
        {"EDGE-US2-FETCH": "passes"}), "EDGE-US2-FETCH"),
    (lambda d: d["models"]["distributed"].update(
        {"EDGE-US2-FETCH": {"verdict": "fail"}}), "EDGE-US2-FETCH"),
    (lambda d: d["models"].update({"hybrid": {}}), "not a deployment model"),
    (lambda d: d.update(schema_version=2), "schema_version"),
])
def test_a_broken_declaration_is_one_line(tmp_path, mutate, words):
    data = _shipped_raw()
    mutate(data)
    with pytest.raises(BadInput) as err:
        expectations.load(_write(tmp_path, data), CATALOG)
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_declaration_is_one_line(tmp_path):
    with pytest.raises(BadInput, match="expected-verdicts file not found"):
        expectations.load(tmp_path / "absent.yaml", CATALOG)
