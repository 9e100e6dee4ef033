"""Identity security across sites: revocation and disabled users reach
every edge once it can reach the DC."""

import time

from tempest import config
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.services import token_check
from edge_refarch.tempest_plugin.tests import base

CONF = config.CONF

# Polls in a row in which an API must refuse a token before it counts as
# refusing it (each poll 0.5 s after the last).
CONFIRM_POLLS = 3


class IdentitySecurityTest(base.EdgeRefarchTest):

    partition_mode = "refused"
    site_local = True   # the DC and edge_site only
    lists_servers = True    # token_check's compute probe

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

    def _apis_at_edge(self, token) -> dict[str, str]:
        """Catalog type -> URL of every service API (Glance, Nova,
        Placement, Neutron, Heat) a user at the edge reaches with `token`:
        the edge's region of the token's own catalog."""
        body = self.site(self.edge).identity.show_token(token)
        return token_check.service_endpoints(
            body, CONF.edge_refarch.site_regions[self.edge])

    def _accepting(self, token, apis: dict[str, str]) -> set[str]:
        """The APIs at the edge (Keystone as 'identity') that accept
        `token` now."""
        found = {"identity"} if self._accepted_at_edge(token) else set()
        return found | {t for t, url in apis.items() if token_check.accepted(
            url, t, token, self.fail_fast, base.tls_verify())}

    def _until_refused(self, token, apis: dict[str, str], since: float
                       ) -> tuple[set[str], dict[str, float]]:
        """Poll every API of the edge with `token` until all refuse it or
        the model's identity staleness bound has passed since `since`
        (monotonic s). An API counts as refusing once it refused
        CONFIRM_POLLS polls in a row, the first of them within the bound
        (a refusal from one worker or cache while another still accepts
        is not revocation). Returns (the APIs still accepting it, API ->
        seconds after `since` of the first refusal of its run)."""
        bound = self.model.bounds.identity_staleness_s
        still, refused_after = {"identity", *apis}, {}
        # API -> (seconds of its first refusal in a row, polls refused)
        streak: dict[str, tuple[float, int]] = {}
        while still:
            elapsed = time.monotonic() - since
            if elapsed > bound and not streak:
                break
            accepting = self._accepting(token, apis)
            for api in list(still):
                if api in accepting:
                    streak.pop(api, None)
                elif api in streak:
                    first, polls = streak[api]
                    streak[api] = (first, polls + 1)
                elif elapsed <= bound:
                    streak[api] = (round(elapsed, 2), 1)
                if streak.get(api, (0, 0))[1] >= CONFIRM_POLLS:
                    refused_after[api] = streak.pop(api)[0]
                    still.discard(api)
            if still:
                time.sleep(0.5)
        return still, refused_after

    @decorators.idempotent_id("c6d7e8f9-a0b1-4c23-d4e5-6f7a8b9c0a10")
    @requirement("EDGE-SEC-REVOKE")
    def test_revoked_token_rejected_at_edge_after_heal(self):
        """Fails when a token revoked at the DC is still accepted at an edge
        -- by its Keystone or by any service API of the site, each of which
        has validated (and cached) it before -- longer than the model's
        identity staleness bound after the edge can reach the DC again."""
        dc = self.site(self.root)
        bound = self.model.bounds.identity_staleness_s
        _, name, password = self._member()
        victim = dc.issue_token(name, password)
        apis = self._apis_at_edge(victim)
        # Every API validates the token once, as a user's first calls do:
        # from then on keystonemiddleware may answer from its cache.
        self.assertEqual({"identity", *apis}, self._accepting(victim, apis),
                         "an API at the edge refused a valid token")
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
        still, refused_after = self._until_refused(victim, apis, healed_at)
        self.evidence(during_cut=during, bound_s=bound,
                      refused_after_heal_s=refused_after,
                      still_accepting=sorted(still),
                      window_since_revocation_s=round(
                          time.monotonic() - revoked_at, 2))
        if still:
            self.fail(f"the revoked token is still accepted at {self.edge} "
                      f"by {', '.join(sorted(still))} {bound} s after the "
                      "heal (the model's identity staleness bound; "
                      "keystonemiddleware's token_cache_time defaults to "
                      "300 s)")

    @decorators.idempotent_id("d7e8f9a0-b1c2-4d34-e5f6-7a8b9c0d1a11")
    @requirement("EDGE-SEC-DISABLE")
    def test_disabled_user_gets_no_token_at_edge_after_heal(self):
        """Fails when a user disabled at the DC can still get a token at an
        edge, or a token the user had is still accepted by the edge's
        Keystone or any service API of the site (each of which validated
        and may cache it), longer than the bound after the edge can reach
        the DC."""
        dc = self.site(self.root)
        bound = self.model.bounds.identity_staleness_s
        user, name, password = self._member()
        # The token the user works with at the edge, as the model gives
        # it (a password login there, or a K2K login under federation).
        held = self.login_at(self.edge, user)
        apis = self._apis_at_edge(held)
        self.assertEqual({"identity", *apis}, self._accepting(held, apis),
                         "an API at the edge refused a valid token")
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
        self.wait_until("disabled user refused at the edge", refused, bound)
        login_refused_after = round(time.monotonic() - healed_at, 2)
        still, refused_after = self._until_refused(held, apis, healed_at)
        self.evidence(login_refused_after_heal_s=login_refused_after,
                      token_refused_after_heal_s=refused_after,
                      still_accepting=sorted(still), bound_s=bound)
        if still:
            self.fail(f"a token of the disabled user is still accepted at "
                      f"{self.edge} by {', '.join(sorted(still))} {bound} s "
                      "after the heal (the model's identity staleness "
                      "bound)")


class IdentitySecurityBlackholeTest(IdentitySecurityTest):
    """The same, with the link cut as a black hole (connections accepted,
    nothing flows), as most real WAN outages are."""

    partition_mode = "blackhole"
