"""Identity security across sites: revocation and disabled users reach
every edge once it can reach the DC."""

import time

from tempest import config
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.tests import base

CONF = config.CONF


class IdentitySecurityTest(base.EdgeRefarchTest):

    def _member(self):
        """A member created at the DC, once it can log in at the edge (with
        a password, or through federation: see login_at)."""
        user = self.create_member()
        self.wait_until("the new user can log in at the edge",
                        lambda: bool(self.login_at(self.edge, user)),
                        self.converge)
        return user, user["name"], user["password"]

    def _accepted_at_edge(self, token) -> bool:
        try:
            self.site(self.edge, http_timeout=self.fail_fast) \
                .identity.show_token(token)
            return True
        except lib_exc.NotFound:
            return False

    @decorators.idempotent_id("c6d7e8f9-a0b1-4c23-d4e5-6f7a8b9c0a10")
    @requirement("EDGE-SEC-REVOKE")
    def test_revoked_token_rejected_at_edge_after_heal(self):
        """Fails when a token revoked at the DC is still accepted at an edge
        longer than the bound after the edge can reach the DC again."""
        dc = self.site(self.root)
        _, name, password = self._member()
        victim = dc.issue_token(name, password)
        self.assertTrue(self._accepted_at_edge(victim))
        self.cut(self.edge)
        revoked_at = time.monotonic()
        dc.identity.delete_token(victim)
        try:
            during = self._accepted_at_edge(victim)
            during = "accepted" if during else "rejected"
        except Exception:  # noqa: BLE001 - edge unreachable (centralized)
            during = "edge unreachable"
        self.injector().heal(self.link_of(self.edge))
        healed_at = time.monotonic()
        self.wait_until("revoked token rejected at the edge",
                        lambda: not self._accepted_at_edge(victim),
                        self.converge)
        now = time.monotonic()
        self.evidence(during_cut=during,
                      rejected_after_heal_s=round(now - healed_at, 2),
                      window_since_revocation_s=round(now - revoked_at, 2))

    @decorators.idempotent_id("d7e8f9a0-b1c2-4d34-e5f6-7a8b9c0d1a11")
    @requirement("EDGE-SEC-DISABLE")
    def test_disabled_user_gets_no_token_at_edge_after_heal(self):
        """Fails when a user disabled at the DC can still get a token at an
        edge longer than the bound after the edge can reach the DC."""
        dc = self.site(self.root)
        user, name, password = self._member()
        self.cut(self.edge)
        dc.users.update_user(user["id"], enabled=False)
        self.injector().heal(self.link_of(self.edge))
        healed_at = time.monotonic()

        def refused():
            try:
                self.login_at(self.edge, user)
                return False
            except lib_exc.Unauthorized:
                return True
        self.wait_until("disabled user refused at the edge", refused,
                        self.converge)
        self.evidence(refused_after_heal_s=round(
            time.monotonic() - healed_at, 2))
