"""The bring-up's step runner (validation/testbed/steps.py)."""

import threading

import pytest

from edge_refarch.validation.testbed import steps
from edge_refarch.validation.testbed.steps import Step


def test_a_step_runs_after_what_it_needs_and_ready_steps_overlap():
    order = []
    both = threading.Barrier(2, timeout=5)

    def record(name, barrier=None):
        def run():
            if barrier:
                barrier.wait()      # both db steps must be running at once
            order.append(name)
        return run

    steps.run([
        Step("schemas", record("schemas"), after=("dc.db", "edge1.db")),
        Step("dc.db", record("dc.db", both)),
        Step("edge1.db", record("edge1.db", both)),
        Step("apis", record("apis"), after=("schemas",)),
    ])
    assert set(order[:2]) == {"dc.db", "edge1.db"}
    assert order[2:] == ["schemas", "apis"]


def test_after_a_failure_nothing_new_starts_and_the_failure_is_raised():
    ran = []

    def boom():
        raise RuntimeError("dc.mariadb: not healthy after 120 s")

    with pytest.raises(RuntimeError, match="not healthy"):
        steps.run([Step("db", boom),
                   Step("keystone", lambda: ran.append("keystone"),
                        after=("db",))])
    assert ran == []


@pytest.mark.parametrize("bad, words", [
    ([Step("a", print), Step("a", print)], "defined twice"),
    ([Step("a", print, after=("b",))], "unknown step 'b'"),
    ([Step("a", print, after=("b",)), Step("b", print, after=("a",))],
     "wait for each other: a, b"),
])
def test_bad_step_lists_are_refused_before_anything_runs(bad, words):
    with pytest.raises(ValueError, match=words):
        steps.run(bad)
