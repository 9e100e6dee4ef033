"""Processes by PID and start time (real processes, no fakes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from edge_refarch.validation.processes import running, start_time
from edge_refarch.validation.testbed import procs


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


def test_log_tails_gives_the_last_lines_of_each_log(tmp_path):
    (tmp_path / "apache-error.log").write_text(
        "one\n\ntwo\nthree\n[wsgi:error] mod_wsgi: Exception occurred\n")
    (tmp_path / "access.log").write_text("GET /v3 503\n")
    (tmp_path / "notes.txt").write_text("not a log\n")
    assert procs.log_tails(tmp_path, 2) == [
        "access.log: GET /v3 503",
        "apache-error.log: three",
        "apache-error.log: [wsgi:error] mod_wsgi: Exception occurred"]


def test_log_tails_reads_only_the_end_of_a_big_log(tmp_path):
    (tmp_path / "big.log").write_text("x" * 100 + "\nlast\n")
    assert procs.log_tails(tmp_path, 5, max_bytes=10) == [
        "big.log: xxxx", "big.log: last"]


def test_log_tails_of_an_absent_directory_is_empty(tmp_path):
    assert procs.log_tails(tmp_path / "missing", 5) == []


def test_a_stopped_tempest_session_leaves_no_worker(monkeypatch):
    """conformance run stops an overrunning or interrupted tempest run by
    its session: the leader and the workers it started, also one that
    ignores SIGTERM (SIGKILL after the grace time)."""
    from edge_refarch.validation.conformance import runner
    monkeypatch.setattr(runner, "STOP_GRACE_S", 1)
    # The worker says its PID once it ignores SIGTERM.
    ignores_term = ("import os, signal, time; "
                    "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                    "print(os.getpid(), flush=True); time.sleep(60)")
    leader = subprocess.Popen(
        ["sh", "-c", f'"{sys.executable}" -c "{ignores_term}" & wait'],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    worker = int(leader.stdout.readline())
    assert running(worker)
    runner._stop_session(leader)
    assert leader.poll() is not None
    # SIGKILL is delivered at once; the orphan is reaped by init.
    deadline = time.monotonic() + 5
    while running(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(worker)
