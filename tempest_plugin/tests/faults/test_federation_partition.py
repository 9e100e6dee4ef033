"""Federated identity at a cut-off edge: what a user who logged in before
the cut can still do there, and what a new login does."""

from tempest import config
from tempest.lib import decorators

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.tests import base

CONF = config.CONF


class FederatedPartitionTest(base.EdgeRefarchTest):

    @decorators.idempotent_id("b9f4d6c8-7e2a-4da3-9c51-6a8b0f2d4e08")
    @requirement("EDGE-FED-CUT")
    def test_logged_in_user_keeps_working_at_cut_off_edge(self):
        """Fails when, with the edge cut off, the edge token of a user who
        logged in before the cut stops validating or re-scoping there (as
        the model declares for federated_session_at_edge), when a new login
        does not behave as declared (token_issue_at_edge), or when login
        does not work again after the heal."""
        project = self.create_project()
        user = self.create_member(project["id"])
        got = self.k2k_login(self.edge, user, project["name"])
        k2k, sp = self.k2k(self.edge), got["sp"]
        session = self.expect("federated_session_at_edge")
        login = self.expect("token_issue_at_edge")
        self.cut(self.edge)
        facts = {}
        if session == "works":
            self.assertTrue(k2k.validate(sp, got["token"]),
                            "the edge token is refused during the cut")
            _, body = k2k.rescope(sp, got["unscoped"], got["project"]["id"])
            self.assertEqual(got["user"]["id"], body["user"]["id"])
            facts["session_during_cut"] = "token validated and re-scoped"
        else:
            took = self.assert_fails_fast(
                "the edge session during the cut",
                lambda: k2k.rescope(sp, got["unscoped"],
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
