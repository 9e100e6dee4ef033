"""Identity isolation under concurrency, at the DC and at an edge site."""

import random
from concurrent.futures import ThreadPoolExecutor

import requests
from tempest import config
from tempest.lib import decorators

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.tests import base

CONF = config.CONF

MEMBERS = 4
THREADS = 8
REQUESTS_PER_SITE = 240


class IdentityIsolationTest(base.EdgeRefarchTest):

    site_local = True   # the DC and edge_site only

    def _members(self):
        dc = self.site(self.root)
        token = dc.identity.show_token(dc.issue_token())["token"]
        users = [{**self.create_member(token["project"]["id"]),
                  "admin": False} for _ in range(MEMBERS)]
        for u in users:
            u["login"] = (u["name"], u["password"])
        # The admin logs in as the cloud has it (password or application
        # credential: issue_token with no user name).
        users.append({"id": token["user"]["id"],
                      "name": token["user"]["name"], "login": (None, None),
                      "admin": True})
        return users

    def _logged_in(self, site_name, users):
        """`users` as they stand at `site_name`: each with a token there
        and the user ID that site's Keystone gives them. A member logs in
        the way the model provides (a password once the site's Keystone
        holds the DC's users, a K2K login where it federates, under the
        ID the edge provisions); the admin logs in as the site has it (at
        a federated edge, the site's own admin)."""
        site = self.site(site_name)
        at_site = []
        for u in users:
            u = dict(u)
            if u["admin"]:
                u["token"] = site.issue_token()
                u["id"] = site.identity.show_token(
                    u["token"])["token"]["user"]["id"]
            elif self.federated and site_name != self.root:
                login = self.k2k_login(site_name, u)
                u["token"], u["id"] = login["token"], login["user"]["id"]
            else:
                self.wait_until(
                    f"{u['name']} can log in at {site_name}",
                    lambda u=u: bool(site.issue_token(*u["login"])),
                    self.converge)
                u["token"] = site.issue_token(*u["login"])
            at_site.append(u)
        return at_site

    def _hammer(self, site_name, users):
        site = self.site(site_name)
        users = self._logged_in(site_name, users)
        identity = site.uri.rstrip("/")
        image = site.auth.base_url({"service": "image",
                                    "region": site.region,
                                    "endpoint_type": "publicURL"})
        image = image.rstrip("/")
        rng = random.Random(7)
        plan = [(rng.choice(users), rng.choice(("validate", "identity",
                                                "image")))
                for _ in range(REQUESTS_PER_SITE)]

        verify = base.tls_verify()

        def call(item):
            """'ok', 'cross' (another caller's identity or roles) or
            'error' (any other answer), and what was seen."""
            user, kind = item
            h = {"X-Auth-Token": user["token"]}
            if kind == "validate":
                r = requests.get(f"{identity}/auth/tokens", timeout=30,
                                 verify=verify, headers={**h,
                                          "X-Subject-Token": user["token"]})
                if r.status_code != 200:
                    verdict = "error"
                elif r.json()["token"]["user"]["id"] == user["id"]:
                    verdict = "ok"
                else:
                    verdict = "cross"
            else:
                if kind == "identity":   # admin only: list users
                    r = requests.get(f"{identity}/users", timeout=30,
                                     verify=verify, headers=h,
                                     params={"name": user["name"]})
                else:                    # admin only: the tasks API
                    r = requests.get(f"{image}/v2/tasks", timeout=30,
                                     verify=verify, headers=h)
                expected = 200 if user["admin"] else 403
                verdict = "ok" if r.status_code == expected else (
                    "cross" if r.status_code in (200, 403) else "error")
            return verdict, f"{kind} as {user['name']}: HTTP {r.status_code}"

        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            return list(pool.map(call, plan))

    @decorators.idempotent_id("e8f9a0b1-c2d3-4e45-f6a7-8b9c0d1e2a12")
    @requirement("EDGE-SEC-ISOLATION")
    def test_concurrent_callers_see_only_their_own_identity(self):
        """Fails when, under concurrent load, a response reflects another
        caller's identity or roles: a token validated as someone else, or a
        role-gated call allowed to a member or refused to an admin."""
        users = self._members()
        seen = {site: self._hammer(site, users)
                for site in (self.root, self.edge)}
        count = {s: {v: sum(1 for x, _ in r if x == v)
                     for v in ("ok", "cross", "error")}
                 for s, r in seen.items()}
        self.evidence(clients=len(users), threads=THREADS,
                      requests=REQUESTS_PER_SITE * len(seen),
                      responses=count)
        cross = [f"{s}: {w}" for s, r in seen.items() for v, w in r
                 if v == "cross"]
        errors = [f"{s}: {w}" for s, r in seen.items() for v, w in r
                  if v == "error"]
        self.assertEqual([], cross[:5], f"{len(cross)} responses reflected "
                         "another caller's identity or roles")
        self.assertEqual([], errors[:5], f"{len(errors)} requests failed "
                         "(not a cross-identity answer)")
