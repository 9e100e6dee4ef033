"""What makes 'conformance run' exit 1 (validation/conformance/cli.py
_problems), from a report."""

from edge_refarch.validation.conformance.cli import _problems


def _report(**over):
    rep = {"summary": {"pass": 3, "fail": 1, "not_applicable": 0,
                       "not_run": 0, "no_test": 0},
           "hygiene": {"leaked": {}, "faults_left": []},
           "requirements": [{"id": "EDGE-A", "verdict": "fail"}]}
    rep.update(over)
    return rep


def test_a_clean_run_with_failures_passes_unless_asked():
    assert _problems(_report(), on_testbed=True, fail_on="never") == []
    assert _problems(_report(), on_testbed=True, fail_on="fail") == [
        "1 requirement(s) failed"]


def test_a_stale_replica_and_stale_keys_are_problems():
    rep = _report(replicas={
        "edge1": {"state": "stale", "last_error": "1236 binlog purged",
                  "keys": {"fernet": "stale"}},
        "edge2": {"state": "following", "keys": {"fernet": "current"}}})
    said = _problems(rep, on_testbed=True, fail_on="never")
    assert said[0] == ("the identity replica of edge1 is stale after the "
                       "run (edge1: 1236 binlog purged)")
    assert said[1].startswith("the keys of edge1 are stale")


def test_on_the_testbed_every_requirement_in_scope_runs():
    rep = _report(requirements=[
        {"id": "EDGE-A", "verdict": "not_run"},
        {"id": "EDGE-B", "verdict": "not_run", "out_of_scope": True}])
    assert _problems(rep, on_testbed=True, fail_on="never") == [
        "against the testbed every applicable requirement in its scope "
        "must run"]
    # Against another cloud, what its catalog lacks is simply not run.
    assert _problems(rep, on_testbed=False, fail_on="never") == []
    assert _problems(rep, on_testbed=False, fail_on="not-run") == [
        "1 requirement(s) failed", "1 requirement(s) did not run"]


def test_leftovers_and_leaked_secrets_are_problems():
    rep = _report(hygiene={"leaked": {"images": 1}, "faults_left": [],
                           "secrets_audit": {"leaks": ["x.log:3"]}})
    assert _problems(rep, on_testbed=True, fail_on="never") == [
        "the run left things behind: {'images': 1}",
        "1 secret(s) found in logs or output, first: x.log:3"]
