"""One 'testbed up' or 'down' at a time: a second one is refused, naming
the one that runs (a 'down' under a running 'up' removed the state the 'up'
was writing)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from edge_refarch.architecture import load_model
from edge_refarch.validation.errors import BadInput
from edge_refarch.validation.testbed import testbed as testbed_mod


def _hold(lock_file, what: str) -> subprocess.Popen:
    """A process holding the lock the way a running 'up' does."""
    code = textwrap.dedent(f"""
        import fcntl, sys, time
        fh = open({str(lock_file)!r}, "a+")
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write("{what} (PID 4242)"); fh.flush()
        print("held", flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_down_is_refused_while_up_runs_and_works_after(tmp_path):
    bed = testbed_mod.Testbed(load_model(), state=tmp_path / "testbed")
    (tmp_path / "testbed").mkdir()
    holder = _hold(bed.lock_file, "up")
    try:
        with pytest.raises(BadInput) as err:
            bed.down(quiet=True)
        assert str(err.value) == (
            "testbed down: the testbed is busy ('testbed up (PID 4242)' is "
            "running); wait for it to end")
        assert (tmp_path / "testbed").exists()     # nothing removed
    finally:
        holder.communicate("", timeout=10)
    assert bed.down(quiet=True) == []
    assert not (tmp_path / "testbed").exists()


def test_the_lock_is_reentrant_in_one_process(tmp_path):
    # 'up' clears an earlier testbed's remains with 'down' under its lock.
    bed = testbed_mod.Testbed(load_model(), state=tmp_path / "testbed")
    with bed._exclusive("up"):
        assert bed.down(quiet=True) == []
        assert bed.lock_file.read_text() == f"up (PID {os.getpid()})"
    assert bed.lock_file.read_text() == ""


def test_commands_see_the_model_file_the_testbed_was_brought_up_with(
        tmp_path, monkeypatch):
    """A testbed brought up with --model-file: later commands without one
    read that file; the shipped model, or a file gone since, is no
    override."""
    import json

    from edge_refarch.architecture import DEFAULT_MODEL_PATH
    from edge_refarch.validation.testbed.testbed import (
        STATE_FILE,
        running_model_file,
    )
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("EDGE_REFARCH_STATE", str(state))
    assert running_model_file() is None             # nothing is up
    scoped = tmp_path / "scoped.yaml"
    scoped.write_text("x")
    for model, expected in ((scoped, scoped), (DEFAULT_MODEL_PATH, None),
                            (tmp_path / "gone.yaml", None)):
        (state / STATE_FILE).write_text(json.dumps({"model": str(model)}))
        assert running_model_file() == expected
