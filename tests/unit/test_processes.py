"""Processes by PID and start time (real processes, no fakes)."""

from __future__ import annotations

import os
import subprocess
import sys

from edge_refarch.validation.processes import running, start_time


def test_a_live_process_has_one_stable_start_time():
    me = os.getpid()
    assert start_time(me) is not None
    assert start_time(me) == start_time(me)
    assert running(me)


def test_a_process_gone_has_none_and_a_zombie_is_not_running():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    # Exited but not reaped: a zombie still holds its PID.
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    assert start_time(child.pid) is not None
    assert not running(child.pid)
    child.wait()
    assert start_time(child.pid) is None
    assert not running(child.pid)
