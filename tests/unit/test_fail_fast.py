"""assert_fails_fast: the clients a must-fail call makes give up soon
after the fail-fast bound (the verdict is known by then), and the
verdicts are those of the bound, not of the client's patience."""

import time
from types import SimpleNamespace

import pytest

from edge_refarch.tempest_plugin.tests import base

Test = base.EdgeRefarchTest


def _case(fail_fast: float):
    case = SimpleNamespace(fail_fast=fail_fast, _fail_fast_call=False)

    def fail(msg):
        raise AssertionError(msg)
    case.fail = fail
    case.http_timeout = lambda: Test.http_timeout(case)
    return case


def test_clients_made_inside_the_call_give_up_after_the_patience():
    case = _case(10)
    seen = []

    def call():
        seen.append(case.http_timeout())
        raise ConnectionError("refused")
    took = Test.assert_fails_fast(case, "a call", call)
    assert took < 10
    assert seen == [10 * base.FAIL_FAST_PATIENCE]
    assert case.http_timeout() == 30      # outside: the usual timeout


def test_a_slow_failure_fails_the_test_and_says_the_clients_patience():
    case = _case(0.05)

    def call():
        time.sleep(0.1)
        raise TimeoutError("read timed out")
    with pytest.raises(AssertionError, match=r"only after 0\.1 s "
                       r"\(bound: 0\.05 s; the client gives up after "):
        Test.assert_fails_fast(case, "a call", call)
    assert not case._fail_fast_call


def test_a_call_that_works_fails_the_test():
    case = _case(10)
    with pytest.raises(AssertionError, match="succeeded although"):
        Test.assert_fails_fast(case, "a call", lambda: None)
    assert case.http_timeout() == 30
