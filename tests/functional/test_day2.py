"""Day 2 on the embedded testbed: the edge's identity replica after cuts.

A replica resumes by itself after an ordinary cut; after a cut that
outlives the DC's binlog retention (the binlogs it needs purged) it never
can, and the testbed says so -- `testbed status` and the state the
conformance report records -- instead of letting the edge serve frozen
identity in silence -- and an operator's re-seed brings it back.
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


def test_replica_resumes_after_a_cut_is_stale_after_a_purge_and_reseeds(
        manager, unique):
    bed = manager.ensure(MODEL)
    dc = bed.testbed.databases()["dc"]
    edge = bed.testbed.databases()["edge1"]
    conn = bed.at("dc").conn
    assert _state(bed, "edge1")["state"] == "replicating"
    recovered = False
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
        late = conn.identity.create_user(name=f"{unique}-b",
                                         domain_id="default")
        purged = run_cli("testbed", "replicas", "purge-binlogs")
        assert purged.returncode == 0, purged.stderr
        before, after = purged.stdout.split(": ", 1)[1].split(" -> ")
        left = [row[0] for row in dc.execute("SHOW BINARY LOGS")]
        assert left == [after.strip()] and after.strip() not in before, \
            (purged.stdout, left)         # the purge really happened
        bed.heal("dc-edge1")
        took = _wait_state(bed, "edge1", "stale", CONVERGE_S)
        stale = _state(bed, "edge1")
        assert stale["last_errno"] == 1236, stale
        print(f"replica reported stale {took:.2f} s after the heal: "
              f"{stale['last_error'][:160]}")
        status = run_cli("testbed", "status")
        assert status.returncode == 1, status.stdout
        assert "STALE edge1" in status.stdout, status.stdout
        assert edge.execute("SELECT COUNT(*) FROM keystone.user WHERE id = "
                            f"'{late.id}'")[0][0] == 0

        # The operator's remedy: re-seed edge1 from the DC. It replicates
        # again, holds what it missed and keeps its own catalog.
        catalog = edge.execute("SELECT COUNT(*) FROM keystone.endpoint")
        reseeded = run_cli("testbed", "replicas", "reseed", "edge1")
        assert reseeded.returncode == 0, reseeded.stderr
        _wait_state(bed, "edge1", "replicating", CONVERGE_S)
        assert edge.wait_for_position(dc.gtid_position(), CONVERGE_S)
        assert edge.execute("SELECT COUNT(*) FROM keystone.user WHERE id = "
                            f"'{late.id}'")[0][0] == 1
        assert edge.execute("SELECT COUNT(*) FROM keystone.endpoint") == \
            catalog
        conn.identity.delete_user(late)
        assert run_cli("testbed", "status").returncode == 0
        recovered = True
    finally:
        bed.heal("dc-edge1")
        if not recovered:
            # edge1 may not recover: the next test gets a new testbed.
            manager.down()


def _key_state(bed, site: str) -> str:
    return _state(bed, site)["keys"]["fernet_tokens"]


def _wait_keys(bed, site: str, want: str, timeout: float) -> float:
    """Seconds until `site`'s fernet keys are in state `want` (its agent
    acknowledges within a couple of its 1 s rounds)."""
    start = time.monotonic()
    while _key_state(bed, site) != want:
        assert time.monotonic() - start < timeout, _state(bed, site)
        time.sleep(0.25)
    return time.monotonic() - start


def test_a_rotation_beyond_the_bound_is_refused_or_reported_stale(manager):
    """One rotation during a cut is tolerated (bounds.
    key_rotations_per_partition = 1); the next is refused with one line
    naming the edge, and, forced, leaves the edge's keys reported stale
    until the heal."""
    bed = manager.ensure(MODEL)
    assert manager.model.bounds.key_rotations_per_partition == 1
    _wait_keys(bed, "edge1", "current", CONVERGE_S)
    try:
        bed.cut("dc-edge1")
        rotated = run_cli("testbed", "keys", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        assert "not yet received by edge1" in rotated.stdout, rotated.stdout
        _wait_keys(bed, "edge2", "current", CONVERGE_S)
        assert _key_state(bed, "edge1") == "behind"
        refused = run_cli("testbed", "keys", "rotate")
        assert refused.returncode == 1, refused.stdout
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert "rotation refused: edge1 has not received" in refused.stderr
        assert "Traceback" not in refused.stderr
        forced = run_cli("testbed", "keys", "rotate", "--force")
        assert forced.returncode == 0, forced.stderr
        assert _key_state(bed, "edge1") == "stale"
        status = run_cli("testbed", "status")
        assert status.returncode == 1, status.stdout
        assert "STALE edge1        keys: fernet_tokens stale" in \
            status.stdout, status.stdout
        bed.heal("dc-edge1")
        took = _wait_keys(bed, "edge1", "current", CONVERGE_S)
        print(f"edge1's keys current {took:.2f} s after the heal")
        assert run_cli("testbed", "status").returncode == 0
    finally:
        bed.heal("dc-edge1")


def test_a_cut_right_after_a_rotation_leaves_the_next_one_allowed(manager):
    """A rotation returns once every connected edge holds its new staged
    key: a link cut the moment it returns (a WAN does not wait) leaves
    the edge current, so the one rotation the model tolerates during the
    cut is made, not refused."""
    bed = manager.ensure(MODEL)
    _wait_keys(bed, "edge1", "current", CONVERGE_S)
    try:
        first = run_cli("testbed", "keys", "rotate")
        assert first.returncode == 0, first.stderr
        assert "not yet received" not in first.stdout, first.stdout
        bed.cut("dc-edge1")
        during = run_cli("testbed", "keys", "rotate")
        assert during.returncode == 0, during.stderr
        assert "not yet received by edge1" in during.stdout, during.stdout
    finally:
        bed.heal("dc-edge1")
    took = _wait_keys(bed, "edge1", "current", CONVERGE_S)
    print(f"edge1's keys current {took:.2f} s after the heal")
