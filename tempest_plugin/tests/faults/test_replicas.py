"""Day 2, replicated identity: the edge's identity replica after a cut --
resumed within the bound, or, when the DC purged the binary log it still
needed, reported stale rather than serving frozen identity silently."""

import json
import time

from tempest import config
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.tests import base

CONF = config.CONF
STATES = ("replicating", "reconnecting", "stale")


class IdentityReplicaTest(base.EdgeRefarchTest):

    partition_mode = "refused"

    def _replica(self) -> dict:
        """The edge's replica as the deployment's replica status procedure
        reports it: {'state': one of STATES, 'last_error': text, ...}."""
        out = base.run_procedure(self, "replica_status_command",
                                 "replica status")
        try:
            states = json.loads(out)
        except ValueError:
            self.fail("the replica status procedure did not print a JSON "
                      f"object: {out.strip()[:200]!r}")
        replica = states.get(self.edge) if isinstance(states, dict) else None
        if not isinstance(replica, dict) or replica.get("state") not in \
                STATES:
            self.fail(f"the replica status procedure reports no state of "
                      f"{self.edge}'s replica (one of {', '.join(STATES)}): "
                      f"{out.strip()[:200]!r}")
        return replica

    def _logs_in_at_edge(self, user: dict) -> bool:
        try:
            self.login_at(self.edge, user, timeout=self.fail_fast)
            return True
        except lib_exc.Unauthorized:
            return False

    def _member_at_edge(self) -> dict:
        """A user created at the DC, once the edge's replica has it."""
        user = self.create_member()
        self.wait_until("the new user can log in at the edge",
                        lambda: self._logs_in_at_edge(user), self.converge)
        return user

    def _disable_during_cut(self, user: dict, during) -> dict:
        """Cut the edge off, disable `user` at the DC, run `during` (the
        cut's other steps), heal. Returns what the replica reported during
        the cut."""
        self.cut(self.edge)
        self.site(self.root).users.update_user(user["id"], enabled=False)
        during()
        seen = self._replica()
        self.injector().heal(self.link_of(self.edge))
        return seen

    @decorators.idempotent_id("6a0f3c52-1f7e-4b8e-9c1d-2e5b7a4d8c01")
    @requirement("EDGE-DAY2-REPLICA-RESUME")
    def test_replica_resumes_after_heal(self):
        """Fails when, after a cut shorter than the binary log retention,
        the edge's identity replica does not report 'replicating' again and
        apply what the DC changed during the cut (a user disabled there,
        refused at the edge) within the identity staleness bound."""
        # Not run, before anything is created, without a fault injector or
        # the procedure.
        self.injector()
        self._replica()
        bound = self.model.bounds.identity_staleness_s
        user = self._member_at_edge()
        during = self._disable_during_cut(user, lambda: None)
        healed_at = time.monotonic()
        seen = {}

        def resumed():
            seen.update(self._replica())
            return seen["state"] == "replicating" and \
                not self._logs_in_at_edge(user)
        try:
            self.wait_until(f"{self.edge}'s identity replica resumed and "
                            "the user disabled during the cut refused there",
                            resumed, bound)
        finally:
            self.evidence(state_during_cut=during["state"],
                          state_after_heal=seen.get("state"),
                          last_error=seen.get("last_error") or None,
                          resumed_after_heal_s=round(
                              time.monotonic() - healed_at, 2), bound_s=bound)

    @decorators.idempotent_id("0d4b9e17-8a63-4c2f-b5e0-7f1a3c6d9e02")
    @requirement("EDGE-DAY2-REPLICA-PURGED")
    def test_replica_after_binlog_purge(self):
        """Fails when, after a cut during which the DC purged the binary log
        the edge's replica still needed (what the retention does to a cut
        that outlasts it), the edge does not apply what the DC changed
        during the cut within the identity staleness bound -- with the
        cause 'stale' when its replica reports that it cannot resume, and
        'silently stale' when it reports itself healthy meanwhile."""
        # Not run, before anything is created, without a fault injector or
        # the procedures.
        self.injector()
        self._replica()
        for option in ("binlog_purge_command", "replica_reseed_command"):
            if not getattr(CONF.edge_refarch, option):
                raise self.skipException(
                    f"not run: no {option.split('_command')[0]} procedure "
                    f"configured ([edge_refarch] {option})")
        bound = self.model.bounds.identity_staleness_s
        user = self._member_at_edge()
        # Runs after the heal and before the user is deleted (cleanups run
        # in reverse): the edge is rebuilt whatever the outcome.
        self.addCleanup(self._reseed_unless_replicating, user)
        purged = {}

        def purge():
            # A cut that outlasts the retention outlasts the replica's own
            # read timeout (MariaDB's slave_net_timeout) by far. Healed
            # before it, a black-holed replica keeps its connection and the
            # DC's binlog dump thread its place, TCP delivers what the link
            # held, and nothing is lost: a short cut, not this one. So the
            # purge waits until the replica has given up its connection (at
            # once when the link refuses); one still 'replicating' a whole
            # staleness bound into the cut is silently stale.
            purged["replica_lost_link_s"] = round(self.wait_until(
                f"{self.edge}'s identity replica reporting that it lost the "
                "DC during a cut (still 'replicating': silently stale)",
                lambda: self._replica()["state"] != "replicating", bound), 2)
            purged["said"] = base.run_procedure(
                self, "binlog_purge_command", "binary log purge").strip()
        during = self._disable_during_cut(user, purge)
        healed_at = time.monotonic()
        seen, logs_in = {}, True
        while time.monotonic() - healed_at <= bound:
            seen = self._replica()
            logs_in = self._logs_in_at_edge(user)
            if seen["state"] == "stale" or (
                    seen["state"] == "replicating" and not logs_in):
                break
            time.sleep(0.5)
        after_s = round(time.monotonic() - healed_at, 2)
        self.evidence(purge=purged.get("said"),
                      replica_lost_link_s=purged.get("replica_lost_link_s"),
                      state_during_cut=during["state"],
                      state_after_heal=seen.get("state"),
                      last_error=seen.get("last_error") or None,
                      disabled_user_logs_in_at_edge=logs_in,
                      after_heal_s=after_s, bound_s=bound)
        frozen = (f"{self.edge} serves identity frozen at the cut: the user "
                  "disabled at the DC during it "
                  f"{'still gets tokens there' if logs_in else 'is refused'}")
        if seen.get("state") == "stale":
            # MariaDB's message up to its detail: "Got fatal error 1236
            # from master when reading data from binary log".
            error = (seen.get("last_error") or "no error given").split(":")[0]
            self.fail(f"{self.edge}'s identity replica is stale {after_s} s "
                      "after the heal and cannot resume by itself: the DC "
                      f"purged the binary log it still needed ({error}). "
                      f"Until it is re-seeded from the DC, {frozen}")
        if logs_in:
            self.fail(f"{self.edge}'s identity replica is silently stale: it "
                      f"reports {seen.get('state')!r} {bound} s after the "
                      f"heal while {frozen}")

    def _reseed_unless_replicating(self, user: dict) -> None:
        """Leave the edge's replica as the test found it: when it stopped,
        rebuilt from the DC and caught up (the user, disabled at the DC,
        refused at the edge) within the staleness bound. A replica that
        replicates is left alone."""
        if self._replica()["state"] == "replicating":
            return
        base.run_procedure(self, "replica_reseed_command", "replica re-seed",
                           site=self.edge)
        self.wait_until(f"{self.edge}'s re-seeded replica replicating and "
                        "up to date",
                        lambda: self._replica()["state"] == "replicating"
                        and not self._logs_in_at_edge(user),
                        self.model.bounds.identity_staleness_s)


class IdentityReplicaBlackholeTest(IdentityReplicaTest):
    """The same, with the link cut as a black hole (connections accepted,
    nothing flows), as most real WAN outages are."""

    partition_mode = "blackhole"
