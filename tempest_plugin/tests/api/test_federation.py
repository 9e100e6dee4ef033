"""Federated identity at the edge: Keystone-to-Keystone login, idempotent
provisioning, predictable IDs, and the assertions an edge must refuse."""

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tempest import config
from tempest.lib import decorators

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.services import federation as fed_svc
from edge_refarch.tempest_plugin.tests import base

CONF = config.CONF


class FederatedIdentityTest(base.EdgeRefarchTest):

    def _user(self, roles=("member",)):
        """A project and a user with `roles` on it, at the DC."""
        project = self.create_project()
        return self.create_member(project["id"], roles), project

    def _assignments(self, site: str, user_id: str) -> list[tuple]:
        """(project ID, role name) of every assignment `user_id` has at
        `site`, as its operator lists them."""
        _, body = self.site(site).identity.get(
            f"role_assignments?user.id={user_id}&include_names=true")
        return [(a["scope"].get("project", {}).get("id"), a["role"]["name"])
                for a in json.loads(body)["role_assignments"]]

    def _other_edge(self) -> str:
        if not self.other_edge:
            self.fail("needs a second edge site ([edge_refarch] "
                      "other_edge_site)")
        return self.other_edge

    @decorators.idempotent_id("3f1d7a52-8c0e-4b61-9e27-5a4c8d2f6b01")
    @requirement("EDGE-FED-LOGIN")
    def test_k2k_login_gives_a_scoped_federated_token(self):
        """Fails when a user of the DC cannot log in at an edge with the
        DC's assertion, when the token is not federated or not scoped to
        the provisioned project, or when keystoneauth's Keystone2Keystone
        plugin or the openstack CLI do not get the same user and
        project."""
        fed = self.federation()
        user, project = self._user()
        got = self.k2k_login(self.edge, user, project["name"])
        self.assertEqual([fed_svc.PROTOCOL], got["methods"])
        self.assertEqual(fed["domain"], got["user"]["domain"]["name"])
        self.assertEqual(user["name"], got["user"]["name"])
        self.assertEqual(project["name"], got["project"]["name"])
        self.assertEqual(fed["domain"], got["project"]["domain"]["name"])
        self.assertTrue(got["roles"], "the scoped token has no role")

        from keystoneauth1 import session as ks_session
        from keystoneauth1.identity import v3
        idp = v3.Password(auth_url=self.k2k(self.edge).idp_uri,
                          username=user["name"], password=user["password"],
                          user_domain_name="Default",
                          project_name=project["name"],
                          project_domain_name="Default")
        sess = ks_session.Session(auth=v3.Keystone2Keystone(
            idp, self.sp_id(self.edge), project_name=project["name"],
            project_domain_name=fed["domain"]), timeout=30,
            verify=base.tls_verify())
        self.assertTrue(sess.get_token())
        self.assertEqual(got["user"]["id"], sess.get_user_id())
        self.assertEqual(got["project"]["id"], sess.get_project_id())

        cli = self._openstack_cli(user, project["name"], fed["domain"])
        self.assertEqual(got["user"]["id"], cli["user_id"])
        self.assertEqual(got["project"]["id"], cli["project_id"])
        self.evidence(user_id=got["user"]["id"],
                      project_id=got["project"]["id"],
                      roles=got["roles"], keystoneauth="same user and project",
                      openstack_cli="same user and project")

    def _openstack_cli(self, user: dict, project: str, domain: str) -> dict:
        """`openstack token issue` through the service provider
        (--os-service-provider), credentials in the environment."""
        exe = Path(sys.executable).with_name("openstack")
        exe = str(exe) if exe.exists() else shutil.which("openstack")
        if not exe:
            self.fail("the openstack CLI (python-openstackclient) is not "
                      "installed next to Tempest")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("OS_")}
        env.update({
            "OS_AUTH_URL": self.k2k(self.edge).idp_uri,
            "OS_IDENTITY_API_VERSION": "3",
            "OS_USERNAME": user["name"], "OS_PASSWORD": user["password"],
            "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_NAME": project,
            "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_SERVICE_PROVIDER": self.sp_id(self.edge),
            "OS_REMOTE_PROJECT_NAME": project,
            "OS_REMOTE_PROJECT_DOMAIN_NAME": domain})
        verify = base.tls_verify()
        if verify is False:
            env["OS_INSECURE"] = "true"
        elif verify is not True:
            env["OS_CACERT"] = verify
        proc = subprocess.run([exe, "token", "issue", "-f", "json"],
                              capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL, timeout=120)
        if proc.returncode != 0:
            said = (proc.stderr or proc.stdout).strip().splitlines()
            self.fail(f"openstack --os-service-provider failed: "
                      f"{said[-1][:300] if said else proc.returncode}")
        return json.loads(proc.stdout)

    @decorators.idempotent_id("8b2e4c17-6d3a-4f90-a1c5-7e9d0b3f2c02")
    @requirement("EDGE-FED-IDEMPOTENT")
    def test_repeated_logins_provision_once_and_follow_the_dc(self):
        """Fails when logging in again at an edge changes the user's ID or
        projects or duplicates an assignment, when a role granted at the DC
        is missing at the next login, or when a role revoked at the DC is
        still there at the next login."""
        user, project = self._user(roles=("reader",))
        logins = [self.k2k_login(self.edge, user, project["name"])
                  for _ in range(3)]
        uid = logins[0]["user"]["id"]
        self.assertEqual({uid}, {g["user"]["id"] for g in logins})
        pid = logins[0]["project"]["id"]
        self.assertEqual({pid}, {g["project"]["id"] for g in logins})
        seen = collections.Counter(self._assignments(self.edge, uid))
        self.assertEqual({(pid, "reader"): 1}, dict(seen))

        self.grant_at_root(project["id"], user["id"], "member")
        granted = self.k2k_login(self.edge, user, project["name"])
        self.assertIn("member", granted["roles"])
        seen = collections.Counter(self._assignments(self.edge, uid))
        self.assertEqual({(pid, "member"): 1, (pid, "reader"): 1},
                         dict(seen))

        self.grant_at_root(project["id"], user["id"], "member", revoke=True)
        revoked = self.k2k_login(self.edge, user, project["name"])
        self.assertNotIn("member", revoked["roles"])
        seen = collections.Counter(self._assignments(self.edge, uid))
        self.assertEqual({(pid, "reader"): 1}, dict(seen))
        self.assertEqual(uid, revoked["user"]["id"])
        self.assertEqual(pid, revoked["project"]["id"])
        self.evidence(logins=5, user_id=uid, project_id=pid,
                      roles_after_grant=granted["roles"],
                      roles_after_revoke=revoked["roles"])

    @decorators.idempotent_id("c4a9e1d3-2f7b-4e58-8d06-1b3c5a7e9f03")
    @requirement("EDGE-FED-USER-ID")
    def test_federated_user_has_one_id_at_every_edge(self):
        """Fails when the same user of the DC gets different user IDs at
        two edge sites."""
        user, project = self._user()
        ids = {site: self.k2k_login(site, user, project["name"])["user"]["id"]
               for site in (self.edge, self._other_edge())}
        self.evidence(dc_user_id=user["id"], edge_user_ids=ids)
        self.assertEqual(1, len(set(ids.values())),
                         f"one user, several IDs: {ids}")

    @decorators.idempotent_id("d5b0f2e4-3a8c-4f69-9e17-2c4d6b8f0a04")
    @requirement("EDGE-FED-PROJECT-ID")
    def test_provisioned_project_has_one_id_at_every_edge(self):
        """Fails when the project provisioned from the same assertion gets
        different project IDs at two edge sites (stock Keystone creates it
        with a random ID: POST /v3/projects takes none)."""
        user, project = self._user()
        ids = {site: self.k2k_login(site, user,
                                    project["name"])["project"]["id"]
               for site in (self.edge, self._other_edge())}
        self.evidence(dc_project_id=project["id"], edge_project_ids=ids)
        self.assertEqual(1, len(set(ids.values())),
                         f"project {project['name']!r} has a different ID at"
                         f" each edge: {ids}; Keystone's mapping creates "
                         "projects with random IDs")

    @decorators.idempotent_id("e6c1a3f5-4b9d-4a70-8f28-3d5e7c9a1b05")
    @requirement("EDGE-FED-UNTRUSTED")
    def test_untrusted_assertions_get_no_token(self):
        """Fails when an edge issues a token for an assertion its identity
        provider did not issue for it: altered after signing, signed with
        another key, issued for another edge, or replayed."""
        user, project = self._user()
        k2k = self.k2k(self.edge)
        idp_token, body = k2k.idp_token(user["name"], user["password"],
                                        project["name"])
        sp = k2k.service_provider(body, self.sp_id(self.edge))
        xmlsec1 = shutil.which("xmlsec1")
        if not xmlsec1:
            self.fail("xmlsec1 (Debian package xmlsec1) is needed to forge "
                      "an assertion signed with another key")
        work = tempfile.mkdtemp(prefix="edge-refarch-forge-")
        self.addCleanup(shutil.rmtree, work, True)

        def fresh():
            return k2k.assertion(idp_token, sp["id"])
        cases = {
            "altered (user name changed)": fed_svc.tamper(
                fresh(), "openstack_user", CONF.auth.admin_username),
            "altered (admin role added)": fed_svc.tamper(
                fresh(), "openstack_roles", "admin"),
            "signed with another key": fed_svc.resign(fed_svc.tamper(
                fresh(), "openstack_user", CONF.auth.admin_username),
                work, xmlsec1),
            "issued for another edge": k2k.assertion(
                idp_token, self.sp_id(self._other_edge())),
        }
        replayed = fresh()
        # The genuine assertion works once (so the refusals below are the
        # edge's judgement, not a broken login) ...
        k2k.login(sp, replayed)
        self.addCleanup(self._forget, user, project)
        cases["replayed"] = replayed      # ... and never twice.
        outcome = {}
        for case, envelope in cases.items():
            r = k2k.present(sp, envelope)
            outcome[case] = fed_svc.refusal(r) if r.status_code != 201 \
                else "TOKEN ISSUED"
        self.evidence(**outcome)
        accepted = [c for c, o in outcome.items() if o == "TOKEN ISSUED"]
        self.assertEqual([], accepted, "the edge issued a token for an "
                         "assertion it must refuse")

    def _forget(self, user, project):
        """Remove what the genuine login provisioned at the edge (the names
        are this test's own)."""
        for user_id in self._named(self.edge, "users", user["name"]):
            base.forget_federated(self, self.edge, user_id)
        for project_id in self._named(self.edge, "projects",
                                      project["name"]):
            base.forget_project(self, self.edge, project_id)

    @decorators.idempotent_id("f7d2b4a6-5c0e-4b81-9a39-4e6f8d0b2c06")
    @requirement("EDGE-FED-ROLES")
    def test_edge_grants_only_mapped_roles(self):
        """Fails when an edge grants a federated user a role the mapping
        does not grant (an admin at the DC must not become an admin at
        the edge)."""
        allowed = set(self.federation()["mapped_roles"])
        user, project = self._user(roles=("admin",))
        dc_roles = sorted(r["name"] for r in self.k2k(self.root).idp_token(
            user["name"], user["password"], project["name"])[1]["roles"])
        got = self.k2k_login(self.edge, user, project["name"])
        held = {role for _, role in self._assignments(
            self.edge, got["user"]["id"])}
        self.evidence(dc_roles=dc_roles, edge_token_roles=got["roles"],
                      edge_assignments=sorted(held),
                      mapped_roles=sorted(allowed))
        self.assertEqual(set(), set(got["roles"]) - allowed,
                         "roles in the edge token beyond the mapping")
        self.assertEqual(set(), held - allowed,
                         "role assignments at the edge beyond the mapping")

    @decorators.idempotent_id("a8e3c5b7-6d1f-4c92-8b40-5f7a9e1c3d07")
    @requirement("EDGE-FED-REVOKE")
    def test_revoking_the_dc_token_ends_the_edge_session(self):
        """Fails when an edge still accepts the token a user got there
        longer than the bound after the DC token the user logged in with
        was revoked at the DC (the report gives what was seen)."""
        user, project = self._user()
        got = self.k2k_login(self.edge, user, project["name"])
        k2k = self.k2k(self.edge)
        self.assertTrue(k2k.validate(got["sp"], got["token"]))
        self.site(self.root).identity.delete_token(got["idp_token"])
        try:
            took = self.wait_until(
                "the edge session ends once its DC token is revoked",
                lambda: not k2k.validate(got["sp"], got["token"]),
                self.converge)
        except AssertionError:
            self.evidence(edge_token_after_revocation="still accepted after"
                          f" {self.converge:g} s")
            raise
        self.evidence(edge_token_rejected_after_s=round(took, 2))
