"""Day 2 on the embedded testbed: the edge's identity replica after cuts.

A replica resumes by itself after an ordinary cut; after a cut that
outlives the DC's binlog retention (the binlogs it needs purged) it never
can, and the testbed says so -- `testbed status` and the state the
conformance report records -- instead of letting the edge serve frozen
identity in silence.
"""

from __future__ import annotations

import time

from .conftest import CONVERGE_S, run_cli

MODEL = "distributed"


def _state(bed, site: str) -> dict:
    return bed.testbed.replicas()[site]


def _wait_state(bed, site: str, want: str, timeout: float) -> float:
    start = time.monotonic()
    while True:
        got = _state(bed, site)
        if got["state"] == want:
            return time.monotonic() - start
        assert time.monotonic() - start < timeout, \
            f"{site}'s replica not {want} within {timeout:g} s: {got}"
        time.sleep(0.25)


def test_replica_resumes_after_a_cut_and_is_stale_after_a_purge(
        manager, unique):
    bed = manager.ensure(MODEL)
    dc = bed.testbed.databases()["dc"]
    edge = bed.testbed.databases()["edge1"]
    conn = bed.at("dc").conn
    assert _state(bed, "edge1")["state"] == "replicating"
    try:
        # An ordinary cut: the DC changes identity meanwhile; after the heal
        # the replica resumes and catches up on its own.
        bed.cut("dc-edge1")
        made = conn.identity.create_user(name=f"{unique}-a",
                                         domain_id="default")
        _wait_state(bed, "edge1", "reconnecting", CONVERGE_S)
        bed.heal("dc-edge1")
        healed = time.monotonic()
        _wait_state(bed, "edge1", "replicating", CONVERGE_S)
        assert edge.wait_for_position(dc.gtid_position(), CONVERGE_S)
        resumed_s = time.monotonic() - healed
        print(f"replica resumed and caught up {resumed_s:.2f} s after the "
              "heal")
        conn.identity.delete_user(made)

        # A cut that outlives the binlogs: the DC writes, rotates its binlog
        # and purges every older one while edge1 cannot fetch them.
        bed.cut("dc-edge1")
        _wait_state(bed, "edge1", "reconnecting", CONVERGE_S)
        conn.identity.create_user(name=f"{unique}-b", domain_id="default")
        dc.execute("FLUSH BINARY LOGS")
        current = dc.execute("SHOW MASTER STATUS")[0][0]
        # MariaDB skips a binlog a replica's dump thread still has open
        # (edge2's, until it reads the rotation; edge1's old one, until it
        # notices the cut): purge until only the current one is left.
        deadline = time.monotonic() + CONVERGE_S
        while True:
            dc.execute(f"PURGE BINARY LOGS TO '{current}'")
            left = [row[0] for row in dc.execute("SHOW BINARY LOGS")]
            if left == [current] or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert left == [current], left      # the purge really happened
        bed.heal("dc-edge1")
        took = _wait_state(bed, "edge1", "stale", CONVERGE_S)
        stale = _state(bed, "edge1")
        assert stale["last_errno"] == 1236, stale
        print(f"replica reported stale {took:.2f} s after the heal: "
              f"{stale['last_error'][:160]}")
        status = run_cli("testbed", "status")
        assert status.returncode == 1, status.stdout
        assert "STALE edge1" in status.stdout, status.stdout
    finally:
        bed.heal("dc-edge1")
        # edge1 cannot recover by itself: the next test gets a new testbed.
        manager.down()
