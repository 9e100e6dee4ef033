"""Waits report why a service is not healthy (probes.wait_for, NotYet)."""

import time

import pytest

from edge_refarch.validation.errors import UserError
from edge_refarch.validation.testbed import probes


def test_not_yet_is_false_and_keeps_its_reason():
    result = probes.NotYet("GET http://127.0.3.1:5000/v3: 503")
    assert not result
    assert result.reason.endswith("503")


def test_timeout_names_the_last_probe_and_the_logs():
    answers = iter([probes.NotYet("GET u: ConnectionError"),
                    probes.NotYet("ECP GET u: 500 text/html")])
    with pytest.raises(UserError) as err:
        probes.wait_for("edge2.keystone", lambda: next(answers),
                        deadline=time.monotonic() + 0.05, interval=0.06,
                        hint="/state/edge2/keystone/log")
    message = str(err.value)
    assert "not healthy after" in message
    assert "(last probe: ECP GET u: 500 text/html)" in message
    assert message.endswith("; see /state/edge2/keystone/log")


def test_a_plain_false_check_gives_no_probe_reason():
    with pytest.raises(UserError) as err:
        probes.wait_for("dc.memcached", lambda: False,
                        deadline=time.monotonic())
    assert "last probe" not in str(err.value)


def test_a_dead_process_ends_the_wait_at_once():
    calls = []

    def check():
        calls.append(1)
        return probes.NotYet("GET u: ConnectionError")

    with pytest.raises(UserError, match="exited during start-up"):
        probes.wait_for("dc.glance", check,
                        deadline=time.monotonic() + 60, alive=lambda: False)
    assert len(calls) == 1


def test_a_healthy_check_returns_the_seconds_waited():
    assert probes.wait_for("dc.keystone", lambda: True,
                           deadline=time.monotonic()) >= 0
