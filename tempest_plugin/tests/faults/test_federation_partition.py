"""Federated identity at a cut-off edge: what a user who logged in before
the cut can still do there, and what a new login does."""

import datetime

from tempest import config
from tempest.lib import decorators

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.tests import base

CONF = config.CONF


class FederatedPartitionTest(base.EdgeRefarchTest):

    partition_mode = "refused"
    site_local = True   # the DC and edge_site only

    @decorators.idempotent_id("b9f4d6c8-7e2a-4da3-9c51-6a8b0f2d4e08")
    @requirement("EDGE-FED-CUT")
    def test_logged_in_user_keeps_working_at_cut_off_edge(self):
        """Fails when, with the edge cut off, the edge token of a user who
        logged in before the cut stops validating or re-scoping there (as
        the model declares for federated_session_at_edge), when a new login
        does not behave as declared (token_issue_at_edge), when a token
        re-scoped at the edge, before or during the cut, outlives the token
        it came from (a Keystone without the fix for CVE-2026-44394
        extended it), or when login does not work again after the heal."""
        project = self.create_project()
        user = self.create_member(project["id"])
        got = self.k2k_login(self.edge, user, project["name"])
        k2k, sp = self.k2k(self.edge), got["sp"]
        self.assert_not_outliving(got["expires_at"],
                                  got["unscoped_expires_at"])
        session = self.expect("federated_session_at_edge")
        login = self.expect("token_issue_at_edge")
        self.cut(self.edge)
        facts = {}
        if session == "works":
            self.assertTrue(k2k.validate(sp, got["token"]),
                            "the edge token is refused during the cut")
            _, body = k2k.rescope(sp, got["unscoped"], got["project"]["id"])
            self.assertEqual(got["user"]["id"], body["user"]["id"])
            self.assert_not_outliving(body["expires_at"],
                                      got["unscoped_expires_at"])
            facts["session_during_cut"] = "token validated and re-scoped"
            facts["rescoped_expires_at"] = body["expires_at"]
            facts["unscoped_expires_at"] = got["unscoped_expires_at"]
        else:
            took = self.assert_fails_fast(
                "the edge session during the cut",
                lambda: self.k2k(self.edge).rescope(sp, got["unscoped"],
                                                    got["project"]["id"]))
            facts["session_during_cut"] = f"failed in {took:.2f} s"
        if login == "works":
            self.k2k_login(self.edge, user, project["name"])
            facts["new_login_during_cut"] = "worked"
        else:
            took = self.assert_fails_fast(
                "a new K2K login at the cut-off edge",
                lambda: self.k2k_login(self.edge, user, project["name"]))
            facts["new_login_during_cut"] = f"failed in {took:.2f} s"
        self.injector().heal(self.link_of(self.edge))
        took = self.wait_until(
            "K2K login at the edge after the heal",
            lambda: bool(self.k2k_login(self.edge, user, project["name"])),
            self.converge)
        self.evidence(**facts, login_after_heal_s=round(took, 2))

    def assert_not_outliving(self, rescoped: str, source: str) -> None:
        """A re-scoped token expires no later than the token it came from
        (Keystone 30 keeps expires_at on a federated rescope:
        keystone/auth/plugins/mapped.py)."""
        self.assertLessEqual(
            _when(rescoped), _when(source),
            f"a token re-scoped at {self.edge} expires at {rescoped}, "
            f"after the token it came from ({source})")


def _when(iso: str) -> datetime.datetime:
    """Keystone's expires_at (``2026-11-30T06:00:00.000000Z``) as a
    datetime."""
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))


class FederatedPartitionBlackholeTest(FederatedPartitionTest):
    """The same, with the link cut as a black hole (connections accepted,
    nothing flows), as most real WAN outages are."""

    partition_mode = "blackhole"
