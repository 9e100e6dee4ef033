"""A service provider's shibd that ends while its Keystone starts: the
bring-up starts it again once, as Debian's shibd.service does
(Restart=on-failure), and says how it ended; one that keeps ending stops the
bring-up with a one-line error naming it and its signal, and nothing is left
running."""

from __future__ import annotations

from collections import Counter

import pytest

from edge_refarch.validation.testbed import federation
from edge_refarch.validation.testbed.procs import ProcessTable

from .conftest import run_cli

MODEL = "federated"

# The fault under test: shibd killed by SIGSEGV once its service provider's
# Apache has started (its access log exists), so while the Keystone's health
# check (a federated login's first leg) waits on it. CRASH=once: only the
# first shibd of a site (its files are new with each bring-up).
CRASHING_SHIBD = f"""#!/bin/sh
if [ "$CRASH" = always ] || [ ! -e crashed-once ]; then
  touch crashed-once
  ( while [ ! -e ../log/access.log ]; do sleep 0.1; done
    kill -SEGV $$ ) &
fi
exec {federation.SHIBD} "$@"
"""
SPS = ("edge1", "edge2")


@pytest.fixture
def crashing(manager, tmp_path):
    """(run `testbed up` with shibd crashing `how`); the testbed is down
    before and after."""
    wrapper = tmp_path / "shibd"
    wrapper.write_text(CRASHING_SHIBD)
    wrapper.chmod(0o755)
    manager.down()
    scoped = manager.identity_plane(MODEL)

    def up(how: str):
        return run_cli("--model-file", str(scoped), "testbed", "up",
                       "--model", MODEL, env={
                           "EDGE_REFARCH_SHIBD": str(wrapper), "CRASH": how})
    yield up
    manager.model_file = scoped
    manager.down()


def test_a_shibd_that_ends_once_is_started_again(manager, crashing):
    result = crashing("once")
    assert result.returncode == 0, result.stderr
    for site in SPS:
        assert (f"{site}.shibd ended (killed by SIGSEGV) while "
                f"{site}.keystone started; starting it again"
                in result.stderr), result.stderr
        assert f"{site}.keystone healthy" in result.stderr
    assert manager.testbed.healthy(quick=True)


def test_a_shibd_that_keeps_ending_stops_the_bring_up(manager, crashing):
    result = crashing("always")
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("edge-refarch: error: edge"), result.stderr
    assert ".shibd ended during start-up (killed by SIGSEGV)" in last
    # The log tails of the shibd are said once when it ends the first time
    # and once when it ends for good (its own wait says them; its
    # Keystone's does not again). The restarted shibd is killed before it
    # logs, so both times its log holds the same lines.
    site = last.split("edge-refarch: error: ", 1)[1].split(".", 1)[0]
    said = [ln.split("] ", 1)[-1] for ln in result.stderr.splitlines()]
    again = next(i for i, ln in enumerate(said)
                 if ln.startswith(f"{site}.shibd ended (killed by SIGSEGV)"))
    tails = Counter(ln for ln in said[again + 1:]
                    if ln.startswith(f"{site}.shibd: shibd.log: "))
    assert tails and max(tails.values()) == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert not manager.testbed.healthy(quick=True)
    assert ProcessTable(manager.testbed.state).strays() == {}
