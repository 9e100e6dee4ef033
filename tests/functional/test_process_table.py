"""The testbed's process table stops what it started in order: the
processes named last (epmd) only once every other one has exited -- a
RabbitMQ node that outlives its epmd starts an epmd of its own, which then
outlives the testbed and holds its port (found in CI: the next bring-up
refused with "port 127.0.0.1:4370 (for epmd) is already in use") -- and a
process one of them started and that left its session (that RabbitMQ's
``epmd -daemon``, after a kill -9 of the testbed: the same refusal, next
CI) is stopped with the rest."""

from __future__ import annotations

import os
import signal
import sys
import time

import psutil

from edge_refarch.validation.testbed.procs import MARKER, ProcessTable

MODEL = "none"      # no testbed: runs first (conftest ordering)

# Says "ready" once its SIGTERM handler is in; on SIGTERM notes the time,
# takes `delay` seconds to shut down (as a RabbitMQ node does), notes it.
SERVICE = """
import signal, sys, time
out, delay = sys.argv[1], float(sys.argv[2])
def stop(*_):
    open(out, "a").write(f"term {time.time()}\\n")
    time.sleep(delay)
    open(out, "a").write(f"exit {time.time()}\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
open(out, "a").write("ready\\n")
while True:
    time.sleep(1)
"""


def _times(path) -> dict[str, float]:
    out = {}
    for line in path.read_text().splitlines():
        if " " in line:
            what, when = line.split()
            out[what] = float(when)
    return out


def test_stop_all_stops_the_last_ones_after_the_others(tmp_path):
    table = ProcessTable(tmp_path / "state")
    notes = {name: tmp_path / f"{name}.txt" for name in ("rabbit", "epmd")}
    procs = [table.spawn(name, [sys.executable, "-c", SERVICE,
                                str(notes[name]), delay],
                         cwd=tmp_path, log=tmp_path / f"{name}.log")
             for name, delay in (("rabbit", "1.0"), ("epmd", "0"))]
    try:
        deadline = time.monotonic() + 10
        while not all(n.exists() and "ready" in n.read_text()
                      for n in notes.values()):
            assert time.monotonic() < deadline, "services did not start"
            time.sleep(0.05)
        stopped = table.stop_all(timeout=10, last=("epmd",))
        assert stopped == ["epmd", "rabbit"]
        rabbit, epmd = _times(notes["rabbit"]), _times(notes["epmd"])
        assert "exit" in rabbit, "rabbit was killed, not stopped"
        assert epmd["term"] >= rabbit["exit"], (rabbit, epmd)
        assert not table.all()
    finally:
        for p in procs:         # whatever happened, nothing left running
            if p.alive:
                os.kill(p.pid, signal.SIGKILL)


# Starts a daemon in a session of its own (as `epmd -daemon` does), writes
# its PID, and exits.
DETACH = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c",
                          "import time; time.sleep(300)"],
                         start_new_session=True)
open(sys.argv[1], "w").write(str(child.pid))
"""


def test_a_process_that_left_its_session_is_stopped(tmp_path):
    table = ProcessTable(tmp_path / "state")
    note = tmp_path / "daemon.pid"
    table.spawn("starter", [sys.executable, "-c", DETACH, str(note)],
                cwd=tmp_path, log=tmp_path / "starter.log")
    deadline = time.monotonic() + 10
    while not (note.exists() and note.read_text()):
        assert time.monotonic() < deadline, "the daemon did not start"
        time.sleep(0.05)
    daemon = psutil.Process(int(note.read_text()))
    try:
        assert os.getsid(daemon.pid) == daemon.pid     # left the session
        assert daemon.environ()[MARKER] == str(tmp_path / "state")
        # Another table (another state directory) does not touch it.
        assert ProcessTable(tmp_path / "other").stop_all(timeout=5) == []
        assert daemon.is_running()
        stopped = table.stop_all(timeout=10)
        assert stopped == [f"{daemon.name()} (pid {daemon.pid})"]
        daemon.wait(timeout=5)
        assert not daemon.is_running()
    finally:
        if daemon.is_running():
            daemon.kill()


# A service whose worker (in its session, as gunicorn's or cotyledon's are)
# burns CPU until `seconds` of its own CPU time are used, then idles.
BUSY = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c",
                  "import time\\n"
                  "while time.process_time() < %s: pass\\n"
                  "time.sleep(300)"])
time.sleep(300)
"""


def test_cpu_time_counts_the_workers_of_a_service(tmp_path):
    table = ProcessTable(tmp_path / "state")
    # The worker burns 1.5 s by its own clock (clock_gettime, nanoseconds);
    # psutil reads /proc/<pid>/stat in clock ticks (10 ms), so the test
    # waits for 1.0 s, a margin a tick cannot eat.
    proc = table.spawn("busy", [sys.executable, "-c", BUSY % 1.5],
                       cwd=tmp_path, log=tmp_path / "busy.log")
    try:
        deadline = time.monotonic() + 20
        while proc.cpu_s() < 1.0:
            assert time.monotonic() < deadline, \
                f"the worker's CPU time was not counted ({proc.cpu_s()} s)"
            time.sleep(0.1)
        assert len(proc.group()) == 2
    finally:
        table.stop_all(timeout=10)


def test_exit_status_says_how_a_started_process_ended(tmp_path):
    table = ProcessTable(tmp_path / "state")
    ended = {how: table.spawn(how, ["/bin/sh", "-c", cmd], cwd=tmp_path,
                              log=tmp_path / f"{how}.log")
             for how, cmd in (("segv", "kill -SEGV $$"), ("exit", "exit 3"))}
    running = table.spawn("running", [sys.executable, "-c",
                                      "import time; time.sleep(300)"],
                          cwd=tmp_path, log=tmp_path / "running.log")
    try:
        deadline = time.monotonic() + 10
        while any(p.alive for p in ended.values()):
            assert time.monotonic() < deadline, "the shells did not end"
            time.sleep(0.05)
        assert ended["segv"].exit_status() == "killed by SIGSEGV"
        assert ended["exit"].exit_status() == "exit code 3"
        # Once reaped, asked again: the same answer.
        assert ended["segv"].exit_status() == "killed by SIGSEGV"
        assert running.exit_status() is None
    finally:
        table.stop_all(timeout=5)
