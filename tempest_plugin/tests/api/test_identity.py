"""US1: one source of identity truth, every site reachable from it."""

from tempest import config
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.tests import base

CONF = config.CONF


class IdentityAcrossSitesTest(base.EdgeRefarchTest):

    @decorators.idempotent_id("0f6e2f0e-3f2b-4d44-9d0b-6c3c1c6f2a01")
    @requirement("EDGE-US1-IDENTITY")
    def test_token_from_any_site_valid_at_every_site(self):
        """Fails when a token issued at one site is refused at another:
        the sites do not share one source of identity truth (or, for
        replicated identity, the fernet keys or the replica differ)."""
        sites = list(CONF.edge_refarch.site_identity_uris)
        tokens = {s: self.site(s).issue_token() for s in sites}
        for issued_at, token in tokens.items():
            for checked_at in sites:
                try:
                    body = self.site(checked_at).identity.show_token(token)
                except lib_exc.NotFound:
                    self.fail(f"a token issued at {issued_at} is refused at "
                              f"{checked_at}: that site's Keystone does not "
                              "know it (its own identity and keys)")
                self.assertEqual(
                    body["token"]["user"]["name"], CONF.auth.admin_username,
                    f"token from {issued_at} at {checked_at}")
        self.evidence(sites=sites, checks=len(sites) ** 2)

    @decorators.idempotent_id("5d0f5f76-1b1e-4d2a-8a55-1f5d3a6c2a02")
    @requirement("EDGE-US1-CATALOG")
    def test_dc_catalog_lists_every_site(self):
        """Fails when a site's region is missing from the catalog served at
        the DC: that site is not reachable from the one identity
        endpoint."""
        dc = self.site(self.root)
        body = dc.issue()
        regions = {ep["region_id"] for svc in body["token"]["catalog"]
                   for ep in svc["endpoints"]}
        expected = set(CONF.edge_refarch.site_regions.values())
        self.assertEqual(set(), expected - regions,
                         "regions missing from the DC's catalog")
        self.evidence(regions=sorted(regions))
