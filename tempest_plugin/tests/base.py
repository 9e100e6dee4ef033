"""Shared set-up of the edge-refarch conformance tests.

A test stands at one site at a time: ``self.site(name)`` gives that site's
clients, authenticated against the identity endpoint a client *at that
site* uses, in that site's region. Everything a test creates is registered
for cleanup the moment it exists; every fault is removed when the test ends,
whatever happens.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shlex
import subprocess
import time
import uuid

from tempest import config, test
from tempest.lib import auth, decorators
from tempest.lib import exceptions as lib_exc
from tempest.lib.common import api_microversion_fixture
from tempest.lib.services.compute import flavors_client, servers_client
from tempest.lib.services.identity.v3 import (
    credentials_client,
    identity_client,
    projects_client,
    roles_client,
    token_client,
    users_client,
)
from tempest.lib.services.image.v2 import image_cache_client, images_client

from edge_refarch.architecture import load_model
from edge_refarch.architecture.requirements import load_catalog
from edge_refarch.tempest_plugin.requirement import (
    ATTR,
    requirements_of,
    why_unavailable,
)
from edge_refarch.tempest_plugin.services.federation import K2KClient
from edge_refarch.validation.images import raw_image

CONF = config.CONF

# Servers boot with no network (>= 2.37); an unreachable cell's servers are
# listed with status UNKNOWN (>= 2.69).
COMPUTE_MICROVERSION = "2.69"
# How long a deployment's own day-2 procedure (key rotation, replica
# status, binlog purge, replica re-seed) may take.
PROCEDURE_TIMEOUT_S = 120
# A call that must fail fast (assert_fails_fast) is given this many times
# the fail-fast bound before its client gives up: long enough to tell a
# slow failure from a fast one, and past the bound the verdict is known.
FAIL_FAST_PATIENCE = 1.5


# Image fields Glance sets itself (or that name one copy's place): a
# client-mediated copy does not send them (Image API v2, "Create image";
# 'protected' would keep the copy from being cleaned up).
IMAGE_SET_BY_GLANCE = frozenset((
    "id", "status", "visibility", "protected", "checksum", "owner", "size",
    "virtual_size", "created_at", "updated_at", "file", "schema", "self",
    "locations", "direct_url", "os_hash_algo", "os_hash_value", "stores"))


# What an image brought to an edge keeps of the DC's (data and metadata;
# the tests' images carry os_distro and edge_refarch_story).
SAME_IMAGE = ("os_hash_value", "size", "disk_format", "container_format",
              "os_distro", "edge_refarch_story")


def idempotent_id_of(fn) -> str:
    """The UUID tempest.lib's idempotent_id recorded on a test."""
    ids = [a[3:] for a in getattr(fn, "__testtools_attrs", ())
           if a.startswith("id-")]
    return ids[0] if ids else ""


def _in_mode(fn, mode: str):
    """`fn` (a test) as a test of its own for partition mode `mode`: the
    same requirements and docstring, an idempotent ID derived from its
    own."""
    def test(self):
        return fn(self)
    test.__name__, test.__qualname__ = fn.__name__, fn.__qualname__
    test.__module__ = fn.__module__
    setattr(test, ATTR, requirements_of(fn))
    derived = str(uuid.uuid5(uuid.UUID(idempotent_id_of(fn)), mode))
    doc = (fn.__doc__ or "").split("\n\n", 1)[-1]
    test.__doc__ = f"{doc}\n\n(Partition mode: {mode}.)"
    return decorators.idempotent_id(derived)(test)


def admin_app_cred() -> tuple[str, str] | None:
    """(ID, secret) of the admin's application credential, when the
    operator's cloud logs its admin in with one ([edge_refarch]
    admin_application_credential_id); None: a password."""
    er = CONF.edge_refarch
    if er.admin_application_credential_id:
        return (er.admin_application_credential_id,
                er.admin_application_credential_secret or "")
    return None


def admin_project_domain() -> str:
    return CONF.edge_refarch.admin_project_domain_name or \
        CONF.auth.admin_domain_name


def admin_login() -> dict:
    """tempest.lib V3TokenClient.auth arguments that log the admin in:
    its application credential, else its password (project-scoped)."""
    app_cred = admin_app_cred()
    if app_cred:
        return {"app_cred_id": app_cred[0], "app_cred_secret": app_cred[1]}
    return {"username": CONF.auth.admin_username,
            "password": CONF.auth.admin_password,
            "project_name": CONF.auth.admin_project_name,
            "user_domain_name": CONF.auth.admin_domain_name,
            "project_domain_name": admin_project_domain()}


class AppCredCredentials(auth.KeystoneV3Credentials):
    """Credentials of an application credential (ID and secret): valid
    without a user name or password."""

    ATTRIBUTES = auth.KeystoneV3Credentials.ATTRIBUTES + [
        "application_credential_id", "application_credential_secret"]

    def is_valid(self):
        return bool(self.application_credential_id
                    and self.application_credential_secret)


class AppCredAuthProvider(auth.KeystoneV3AuthProvider):
    """tempest.lib's v3 auth provider logging in with an application
    credential (its token is scoped to the credential's project; Keystone
    refuses any other scope)."""

    def _auth_params(self):
        return {"app_cred_id": self.credentials.application_credential_id,
                "app_cred_secret":
                    self.credentials.application_credential_secret,
                "auth_data": True}


class TokenCredentials(auth.KeystoneV3Credentials):
    """A token the user already holds (a K2K login's, say) and the project
    to scope it to."""

    ATTRIBUTES = auth.KeystoneV3Credentials.ATTRIBUTES + ["token"]

    def is_valid(self):
        return bool(self.token and self.project_id)


class TokenAuthProvider(auth.KeystoneV3AuthProvider):
    """tempest.lib's v3 auth provider for a user who holds a token: every
    token it needs is that one re-scoped to the credentials' project
    (Identity API v3, method 'token'), which Keystone never lets outlive
    the token it came from."""

    def _auth_params(self):
        return {"token": self.credentials.token,
                "project_id": self.credentials.project_id,
                "project_domain_id": self.credentials.project_domain_id,
                "auth_data": True}


def tls_options() -> dict:
    """tempest.lib client arguments for the cloud's TLS."""
    return {"disable_ssl_certificate_validation":
            CONF.identity.disable_ssl_certificate_validation,
            "ca_certs": CONF.identity.ca_certificates_file}


class SiteClients:
    """Clients for one site, as a user standing at that site sees it: the
    admin, or the user `auth_provider` logs in."""

    def __init__(self, name: str, uri: str, region: str, http_timeout,
                 auth_provider: auth.KeystoneV3AuthProvider | None = None):
        self.name, self.uri, self.region = name, uri, region
        tls = tls_options()
        app_cred = admin_app_cred()
        if auth_provider is not None:
            self.auth = auth_provider
        elif app_cred:
            self.auth = AppCredAuthProvider(
                AppCredCredentials(application_credential_id=app_cred[0],
                                   application_credential_secret=app_cred[1]),
                uri, http_timeout=http_timeout, **tls)
        else:
            self.auth = auth.KeystoneV3AuthProvider(
                auth.KeystoneV3Credentials(
                    username=CONF.auth.admin_username,
                    password=CONF.auth.admin_password,
                    project_name=CONF.auth.admin_project_name,
                    user_domain_name=CONF.auth.admin_domain_name,
                    project_domain_name=admin_project_domain()),
                uri, http_timeout=http_timeout, **tls)
        kw = {"build_interval": 0.5,
              "build_timeout": CONF.image.build_timeout,
              "http_timeout": http_timeout, **tls}
        self.images = images_client.ImagesClient(self.auth, "image", region,
                                                 **kw)
        self.cache = image_cache_client.ImageCacheClient(
            self.auth, "image", region, **kw)
        self.identity = identity_client.IdentityClient(
            self.auth, "identity", region, **kw)
        self.users = users_client.UsersClient(self.auth, "identity", region,
                                              **kw)
        self.credentials = credentials_client.CredentialsClient(
            self.auth, "identity", region, **kw)
        self.roles = roles_client.RolesClient(self.auth, "identity", region,
                                              **kw)
        self.projects = projects_client.ProjectsClient(
            self.auth, "identity", region, **kw)
        self.tokens = token_client.V3TokenClient(uri,
                                                 http_timeout=http_timeout,
                                                 **tls)
        self.servers = servers_client.ServersClient(self.auth, "compute",
                                                    region, **kw)
        self.flavors = flavors_client.FlavorsClient(self.auth, "compute",
                                                    region, **kw)

    def list_servers_raw(self) -> list[dict]:
        """GET /servers/detail as the API sent it: no response schema, as
        the partial entries of an unreachable cell (2.69) have none."""
        resp, body = self.servers.get("servers/detail")
        return json.loads(body)["servers"]

    def issue_token(self, username=None, password=None,
                    project_name=None) -> str:
        """A new token: `username` with `password` (users of the Default
        domain the tests create) scoped to `project_name` (default: the
        admin project), or the admin's own (no `username`)."""
        return self.issue(username, password, project_name).response[
            "x-subject-token"]

    def issue(self, username=None, password=None, project_name=None):
        """The token response body of issue_token."""
        if username is None:
            return self.tokens.auth(**admin_login())
        if project_name is None:
            scope = {"project_name": CONF.auth.admin_project_name,
                     "project_domain_name": admin_project_domain()}
        else:
            scope = {"project_name": project_name,
                     "project_domain_id": "default"}
        return self.tokens.auth(username=username, password=password,
                                user_domain_id="default", **scope)


class EdgeRefarchTest(test.BaseTestCase):
    """Base of every conformance test."""

    credentials = []   # the tests act as the operator (admin) per site

    # How this class's tests cut a link (None: they cut none). A class of
    # cut tests ('refused') runs once per mode: a subclass of it, named
    # ...BlackholeTest, cuts with 'blackhole' (Partition, validation/faults).
    partition_mode: str | None = None

    # True for a class whose tests stand at nothing but the root site and
    # [edge_refarch] edge_site (that site's link, services and identity):
    # the runner may run them while another run, at another edge site,
    # cuts that site's link (validation/conformance/runner.py, _plan).
    # Every other class runs on its own.
    site_local = False
    # True for a site_local class that lists Nova's servers at the edge
    # site (or probes its compute API with a listing): where the model
    # runs no Nova API at the edge tier, that is the DC's listing of every
    # cell, and it stands at every site (selection.site_local).
    lists_servers = False
    # Within assert_fails_fast (http_timeout).
    _fail_fast_call = False

    def __init_subclass__(cls, **kwargs):
        """A class of cut tests in another partition mode inherits its
        base's tests: each becomes a test of its own, with its own
        idempotent ID (uuid5 of the base test's ID and the mode), so no
        two tests share one."""
        super().__init_subclass__(**kwargs)
        base_mode = next((getattr(b, "partition_mode", None)
                          for b in cls.__mro__[1:]
                          if getattr(b, "partition_mode", None)), None)
        if not cls.partition_mode or cls.partition_mode == base_mode \
                or base_mode is None:
            return
        for name in dir(cls):
            fn = getattr(cls, name)
            if name.startswith("test") and name not in cls.__dict__ \
                    and callable(fn):
                setattr(cls, name, _in_mode(fn, cls.partition_mode))

    @classmethod
    def skip_checks(cls):
        super().skip_checks()
        if not CONF.service_available.edge_refarch:
            raise cls.skipException("edge-refarch tests disabled")
        if cls.partition_mode and cls.partition_mode not in \
                CONF.edge_refarch.partition_modes:
            # A declared choice of the run, reported as not run.
            raise cls.skipException(
                f"not run: partition mode {cls.partition_mode} not selected"
                " ([edge_refarch] partition_modes)")

    @classmethod
    def resource_setup(cls):
        super().resource_setup()
        er = CONF.edge_refarch
        cls.model = load_model(er.model_file or None)
        cls.catalog = load_catalog(cls.model)
        cls.deployment = cls.model.deployment_model(er.deployment_model)
        cls.root = er.root_site
        cls.edge = er.edge_site
        cls.other_edge = er.other_edge_site
        cls.fail_fast = er.fail_fast_timeout
        cls.converge = er.converge_timeout

    def setUp(self):
        super().setUp()
        # Tempest's compute clients read the microversion from a module
        # global; the fixture sets it for this test and restores it.
        self.useFixture(api_microversion_fixture.APIMicroversionFixture(
            compute_microversion=COMPUTE_MICROVERSION))
        self.skip_without_services()

    def skip_without_services(self) -> None:
        """Not run where the cloud lacks a service this test's
        requirements exercise (the catalog's services; [service_available]
        says what the cloud offers)."""
        fn = getattr(self, self._testMethodName)
        services = {svc for rid in requirements_of(fn)
                    for svc in self.catalog.get(rid).services}
        why = why_unavailable(
            sorted(services), self.model,
            lambda opt: getattr(CONF.service_available, opt))
        if why:
            raise self.skipException(f"not run: {why}")

    # -- sites ------------------------------------------------------------
    def site(self, name: str, http_timeout: float | None = None
             ) -> SiteClients:
        er = CONF.edge_refarch
        try:
            uri = er.site_identity_uris[name]
            region = er.site_regions[name]
        except KeyError:
            self.fail(f"site {name!r} is not configured "
                      "([edge_refarch] site_identity_uris, site_regions)")
        return SiteClients(name, uri, region,
                           http_timeout or self.http_timeout())

    def expect(self, declaration: str) -> str:
        """What the model declares for `declaration` during a partition."""
        return self.deployment.during_partition[declaration]

    # -- evidence for the report -------------------------------------------
    def evidence(self, **facts) -> None:
        path = os.environ.get("EDGE_REFARCH_EVIDENCE")
        line = json.dumps({"test": self.id().split("[")[0], **facts})
        if path:
            with open(path, "a") as fh:
                fh.write(line + "\n")

    # -- faults -------------------------------------------------------------
    def injector(self):
        er = CONF.edge_refarch
        if not er.toxiproxy_url:
            raise self.skipException("not run: no fault injector configured"
                                     " ([edge_refarch] toxiproxy_url)")
        from edge_refarch.validation.faults.faults import FaultInjector, Links
        from edge_refarch.validation.faults.toxiproxy_api import Toxiproxy
        tp = Toxiproxy(er.toxiproxy_url)
        links = Links.discover(tp)
        inj = FaultInjector(tp, links, er.fault_state_dir,
                            latency_overshoot_ms=er.latency_overshoot_ms)
        self.addCleanup(inj.heal_leftovers)
        return inj

    def link_of(self, site: str) -> str:
        try:
            return CONF.edge_refarch.site_links[site]
        except KeyError:
            self.fail(f"no WAN link configured for site {site!r} "
                      "([edge_refarch] site_links)")

    def cut(self, site: str):
        """Cut `site` off in the class's partition mode; the cut is healed
        when the test ends. Not run (skipped with the cause) when the
        toxiproxy cannot make that cut: a stock toxiproxy has no black
        hole."""
        from edge_refarch.validation.faults.faults import MissingToxic
        fault = self.injector().partition(self.link_of(site),
                                          self.partition_mode or "refused")
        try:
            fault.__enter__()
        except MissingToxic as exc:
            raise self.skipException(f"not run: {exc}") from None
        self.addCleanup(fault.__exit__, None, None, None)
        return fault

    # -- helpers ------------------------------------------------------------
    def wait_until(self, what: str, predicate, timeout: float) -> float:
        """Poll `predicate` until it is true; returns the seconds waited.
        Fails after `timeout` seconds; an error it raises is retried
        (a transient one), except an AssertionError, which says the thing
        waited for reached a final state (an import task failed, a stack
        or a server in ERROR) and fails the wait at once."""
        start = time.monotonic()
        last = None
        while True:
            try:
                if predicate():
                    return time.monotonic() - start
            except AssertionError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried until bound
                last = exc
            if time.monotonic() - start > timeout:
                self.fail(f"{what}: not within {timeout:g} s"
                          f"{f' (last error: {last})' if last else ''}")
            time.sleep(0.25)

    def http_timeout(self) -> float:
        """Seconds a client this test makes now waits for an answer (per
        HTTP call): FAIL_FAST_PATIENCE times the fail-fast bound inside
        assert_fails_fast, else max(fail_fast, 30)."""
        if self._fail_fast_call:
            return self.fail_fast * FAIL_FAST_PATIENCE
        return max(self.fail_fast, 30)

    def assert_fails_fast(self, what: str, call) -> float:
        """Run `call`, which the model declares fails during a partition;
        returns the seconds it took to fail. Fails the test when it
        succeeds or fails only after the fail-fast bound. The clients
        `call` makes give up after FAIL_FAST_PATIENCE times the bound
        (http_timeout): past the bound the verdict is known, so a black
        hole does not cost a client's whole timeout."""
        self._fail_fast_call = True
        start = time.monotonic()
        try:
            call()
        except Exception:  # noqa: BLE001 - any failure is the expected one
            took = time.monotonic() - start
            if took >= self.fail_fast:
                self.fail(f"{what} failed, but only after {took:.1f} s "
                          f"(bound: {self.fail_fast:g} s; the client gives "
                          f"up after {self.http_timeout():g} s)")
            return took
        finally:
            self._fail_fast_call = False
        self.fail(f"{what} succeeded although the model declares it "
                  "unavailable during a partition")

    def create_member(self, project_id: str | None = None,
                      roles: tuple[str, ...] = ("member",)) -> dict:
        """A user with `roles` on `project_id` (default: the admin
        project), created at the root site; deleted when the test ends."""
        dc = self.site(self.root)
        if project_id is None:
            project_id = dc.identity.show_token(dc.issue_token())[
                "token"]["project"]["id"]
        name = f"edge-refarch-{uuid.uuid4().hex[:10]}"
        password = uuid.uuid4().hex
        user = dc.users.create_user(name=name, password=password,
                                    domain_id="default")["user"]
        self.addCleanup(delete_user, dc, user["id"])
        for role in roles:
            self.grant_at_root(project_id, user["id"], role)
        return {"id": user["id"], "name": name, "password": password}

    def grant_at_root(self, project_id: str, user_id: str, role: str,
                      revoke: bool = False) -> None:
        dc = self.site(self.root)
        role_id = dc.roles.list_roles(name=role)["roles"][0]["id"]
        if revoke:
            dc.roles.delete_role_from_user_on_project(project_id, user_id,
                                                      role_id)
        else:
            dc.roles.create_user_role_on_project(project_id, user_id,
                                                 role_id)

    def create_project(self) -> dict:
        """A project at the root site (Default domain); deleted when the
        test ends."""
        dc = self.site(self.root)
        project = dc.projects.create_project(
            name=f"edge-refarch-{uuid.uuid4().hex[:10]}",
            domain_id="default")["project"]
        self.addCleanup(delete_project, dc, project["id"])
        return project

    def as_user(self, site_name: str, user: dict,
                project: dict) -> SiteClients:
        """Clients acting as `user` (create_member's) in `project` (the
        root site's) at `site_name`, logged in the way the model provides
        (login_at): a password login, or at a federated edge a K2K login
        scoped to the project the edge provisioned for it."""
        admin = self.site(site_name)    # the site's address and region
        uri, region = admin.uri, admin.region
        kw = {"http_timeout": self.http_timeout(), **tls_options()}
        if self.federated and site_name != self.root:
            login = self.k2k_login(site_name, user, project["name"])
            provider = TokenAuthProvider(TokenCredentials(
                token=login["unscoped"], project_id=login["project"]["id"],
                project_domain_id=login["project"]["domain"]["id"]),
                uri, **kw)
        else:
            provider = auth.KeystoneV3AuthProvider(
                auth.KeystoneV3Credentials(
                    username=user["name"], password=user["password"],
                    user_domain_id="default", project_id=project["id"],
                    project_domain_id=project["domain_id"]), uri, **kw)
        return SiteClients(site_name, uri, region, kw["http_timeout"],
                           auth_provider=provider)

    # -- federated identity (model: federated) -----------------------------
    @property
    def federated(self) -> bool:
        return self.deployment.federation is not None

    def federation(self) -> dict:
        """The identity provider's ID, the federated users' domain and the
        roles the mapping grants: tempest.conf, else the model."""
        er, fed = CONF.edge_refarch, self.deployment.federation
        if fed is None and not er.federation_idp_id:
            self.fail(f"model {self.deployment.name!r} declares no "
                      "federation (and [edge_refarch] federation_idp_id "
                      "is unset)")
        return {"idp_id": er.federation_idp_id or fed.idp_id,
                "domain": er.federation_domain or fed.domain,
                "mapped_roles": tuple(er.federation_mapped_roles
                                      or fed.mapped_roles)}

    def k2k(self, at_site: str, timeout: float | None = None) -> K2KClient:
        """K2K steps as a client standing at `at_site` does them."""
        er = CONF.edge_refarch
        uri = er.federation_idp_uris.get(at_site) or \
            er.site_identity_uris[self.root]
        return K2KClient(uri, timeout or self.http_timeout(),
                         verify=tls_verify())

    def sp_id(self, site: str) -> str:
        return CONF.edge_refarch.federation_service_providers.get(site, site)

    def k2k_login(self, site: str, user: dict | None = None,
                  project: str | None = None,
                  timeout: float | None = None) -> dict:
        """Log `user` (default: the admin) in at `site` with an assertion
        from the identity provider, scoped to `project` (its name at the
        DC); the user and project `site` provisioned are removed when the
        test ends. Returns the tokens and what they say."""
        name = user["name"] if user else CONF.auth.admin_username
        project = project or CONF.auth.admin_project_name
        k2k = self.k2k(site, timeout)
        if user is None and admin_app_cred():
            idp_token, idp_body = k2k.idp_token_app_cred(*admin_app_cred())
        else:
            idp_token, idp_body = k2k.idp_token(
                name, user["password"] if user else CONF.auth.admin_password,
                project)
        sp = k2k.service_provider(idp_body, self.sp_id(site))
        # What the site held before: only what this login provisions is
        # removed at the end (an operator's own federated admin stays).
        held = self._named(site, "users", name) | \
            self._named(site, "projects", project)
        unscoped, body = k2k.login(sp, k2k.assertion(idp_token, sp["id"]))
        if body["user"]["id"] not in held:
            self.addCleanup(forget_federated, self, site, body["user"]["id"])
        found = [p for p in k2k.projects(sp, unscoped)
                 if p["name"] == project]
        if not found:
            raise AssertionError(f"{site} provisioned no project {project!r}"
                                 f" for {name}")
        if found[0]["id"] not in held:
            self.addCleanup(forget_project, self, site, found[0]["id"])
        token, scoped = k2k.rescope(sp, unscoped, found[0]["id"])
        return {"idp_token": idp_token, "idp_user": idp_body["user"],
                "sp": sp, "unscoped": unscoped, "token": token,
                "user": scoped["user"], "project": scoped["project"],
                "roles": sorted(r["name"] for r in scoped["roles"]),
                "methods": body["methods"],
                # ISO 8601 UTC: the unscoped token's and the scoped one's
                "unscoped_expires_at": body["expires_at"],
                "expires_at": scoped["expires_at"]}

    def _named(self, site: str, collection: str, name: str) -> set[str]:
        """IDs of the users or projects called `name` at `site`."""
        _, body = self.site(site).identity.get(
            f"{collection}?name={name}")
        return {item["id"] for item in json.loads(body)[collection]}

    def login_at(self, site: str, user: dict | None = None,
                 timeout: float | None = None) -> str:
        """A token `user` (default: the admin) gets at `site` the way the
        model provides: a password login where the site's Keystone holds
        the DC's users, a K2K login where it federates."""
        if self.federated and site != self.root:
            return self.k2k_login(site, user, timeout=timeout)["token"]
        return self.site(site, http_timeout=timeout).issue_token(
            user["name"] if user else None,
            user["password"] if user else None)

    def create_image(self, site: SiteClients, data: bytes, **props):
        return self.upload(site, data, name=data_name(self),
                           disk_format="raw", container_format="bare",
                           visibility="private", **props)

    def upload(self, site: SiteClients, data: bytes, **fields) -> dict:
        """An image created at `site` with `fields` (Image API v2 create
        body) and `data` uploaded; returns it once active (deleted when
        the test ends)."""
        body = site.images.create_image(**fields)
        image_id = body["id"]
        self.addCleanup(delete_image, site, image_id)
        site.images.store_image_file(image_id, io.BytesIO(data))
        self.wait_until(f"image {image_id} active at {site.name}",
                        lambda: site.images.show_image(image_id)["status"]
                        == "active", CONF.image.build_timeout)
        return site.images.show_image(image_id)

    def assert_same_image(self, src: dict, local: dict, where: str,
                          keys: tuple[str, ...] = ()) -> None:
        """`local` (at `where`) has `src`'s data and metadata: SAME_IMAGE
        and `keys`."""
        for key in (*SAME_IMAGE, *keys):
            self.assertEqual(src[key], local[key],
                             f"image property {key} at {where}")

    def start_fetch(self, site: SiteClients, source: dict) -> str:
        """Start a glance-download of `source` (at the root site) into
        `site`; returns the new image's ID (deleted when the test ends)."""
        body = site.images.create_image(
            name=source["name"], disk_format=source["disk_format"],
            container_format=source["container_format"],
            visibility="private")
        image_id = body["id"]
        self.addCleanup(delete_image, site, image_id)
        site.images.image_import(
            image_id, method="glance-download", import_params={
                "glance_image_id": source["id"],
                "glance_region":
                    CONF.edge_refarch.site_regions[self.root],
                "glance_service_interface": "public"})
        return image_id

    def import_tasks(self, site: SiteClients, image_id: str) -> list[dict]:
        return site.images.show_image_tasks(image_id)["tasks"]

    def fetch_to(self, site: SiteClients, source: dict):
        """glance-download `source` (at the root site) into `site`; waits
        for the import to finish and returns the image there."""
        image_id = self.start_fetch(site, source)

        def done():
            # Done when the import task has finished, not merely when the
            # image turned active: the task still writes the image's
            # properties after that.
            tasks = self.import_tasks(site, image_id)
            if any(t["status"] == "failure" for t in tasks):
                raise AssertionError(
                    f"import failed: {tasks[-1].get('message')}"
                    f"{self.source_refusal(site, source)}")
            return bool(tasks) and all(t["status"] == "success"
                                       for t in tasks) and \
                site.images.show_image(image_id)["status"] == "active"
        self.wait_until(f"glance-download of {source['id']} to "
                        f"{site.name}", done, CONF.image.build_timeout)
        return site.images.show_image(image_id)

    def source_refusal(self, site: SiteClients, source: dict) -> str:
        """Why a failed glance-download may have failed, as far as a
        client can tell: glance-download asks the source Glance for the
        image with the caller's own token (Glance,
        glance/async_/flows/api_image_import.py and _internal_plugins/
        glance_download.py), so a token the source's Keystone does not
        know is refused there. '' when the source accepts `site`'s token
        (the cause is elsewhere: the Glance task's message and the site's
        logs)."""
        root = self.site(self.root)
        url = root.auth.base_url({"service": "image",
                                  "region": root.region,
                                  "endpoint_type": "publicURL"})
        url = f"{url.rstrip('/')}/v2/images/{source['id']}"
        try:
            resp, _ = root.images.raw_request(
                url, "GET", headers={"X-Auth-Token": site.auth.get_token(),
                                     "Accept": "application/json"})
        except Exception as exc:   # noqa: BLE001 - a diagnosis, not a check
            return f"; the source Glance did not answer: {exc}"
        if resp.status in (401, 403):
            return (f"; cause: the source Glance at {self.root} refuses "
                    f"the token issued at {site.name} (HTTP {resp.status}), "
                    "and glance-download presents the caller's token there")
        return ""

    # -- compute --------------------------------------------------------------
    def compute_sites(self) -> list[str]:
        sites = CONF.edge_refarch.compute_sites
        if not sites:
            self.fail("no compute sites configured ([edge_refarch] "
                      "compute_sites)")
        return sites

    def zone_of(self, site: str) -> str:
        """The availability zone of `site`'s compute hosts."""
        return CONF.edge_refarch.site_zones.get(site, site)

    def create_flavor(self, site: SiteClients) -> str:
        """A tiny flavor in `site`'s compute service; deleted at the end."""
        flavor = site.flavors.create_flavor(
            name=data_name(self) + "-" + uuid.uuid4().hex[:6], ram=64,
            vcpus=1, disk=1)["flavor"]
        self.addCleanup(delete_flavor, site, flavor["id"])
        return flavor["id"]

    def image_at(self, site_name: str, stock: bool = False,
                 **props) -> tuple[dict, dict]:
        """An image uploaded at the DC, and the same image as `site_name`
        boots it: fetched into the site's own image service where the
        deployment has one, else the DC's. Fetched by glance-download,
        except with federated identity where `stock` is False: no token
        crosses sites there (EDGE-US1-IDENTITY), so the image comes by the
        architecture's client-mediated copy (copy_image), the way around
        that the tests of compute at the edge rely on; `stock` True keeps
        glance-download (user story 5 as stock OpenStack offers it)."""
        src = self.create_image(self.site(self.root), self.image_data(),
                                **props)
        if not CONF.edge_refarch_feature_enabled.glance_download:
            return src, src
        return src, self.bring(self.site(site_name), src, stock)[1]

    def bring(self, site: SiteClients, source: dict,
              stock: bool = False) -> tuple[str, dict]:
        """`source` (an image at the root site) into `site`'s own image
        service the way the model brings it (see image_at): returns how
        ('glance_download' or 'client_copy') and the image there."""
        if self.federated and not stock:
            return "client_copy", self.copy_image(source, site)
        return "glance_download", self.fetch_to(site, source)

    def copy_image(self, source: dict, site: SiteClients,
                   at_root: SiteClients | None = None) -> dict:
        """The architecture's client-mediated copy of `source` (an image at
        the root site): downloaded with the client's session at the DC
        (`at_root`, default the admin's), created with the same metadata
        (every property but those Glance sets itself, IMAGE_SET_BY_GLANCE)
        and uploaded with its session at `site`. Returns the image at
        `site` once active (deleted when the test ends)."""
        data = self.download(at_root or self.site(self.root), source["id"])
        props = {k: v for k, v in source.items()
                 if k not in IMAGE_SET_BY_GLANCE
                 and not k.startswith("os_glance_")}
        props["visibility"] = "private"
        return self.upload(site, data, **props)

    def boot(self, site: SiteClients, image_id: str, at: str,
             flavor_id: str, wait: bool = True) -> dict:
        """A server with no network on the compute hosts of site `at` (its
        availability zone, zone_of), through `site`'s compute endpoint;
        deleted (and waited for) at the end."""
        server = site.servers.create_server(
            name=data_name(self), imageRef=image_id, flavorRef=flavor_id,
            networks="none",
            availability_zone=self.zone_of(at))["server"]
        self.addCleanup(delete_server, self, site.name, server["id"])
        if wait:
            return self.wait_server(site, server["id"], "ACTIVE")
        return server

    def wait_server(self, site: SiteClients, server_id: str,
                    status: str) -> dict:
        seen = {}

        def reached():
            seen.update(site.servers.show_server(server_id)["server"])
            if seen["status"] == "ERROR":
                raise AssertionError(
                    f"server {server_id} went to ERROR: "
                    f"{seen.get('fault', {}).get('message', '?')}")
            return seen["status"] == status
        self.wait_until(f"server {server_id} {status} at {site.name}",
                        reached, CONF.edge_refarch.server_build_timeout)
        return dict(seen)

    def wait_server_gone(self, site: SiteClients, server_id: str) -> float:
        def gone():
            try:
                site.servers.show_server(server_id)
            except lib_exc.NotFound:
                return True
            return False
        return self.wait_until(f"server {server_id} deleted at {site.name}",
                               gone, CONF.edge_refarch.server_build_timeout)

    def download(self, site: SiteClients, image_id: str) -> bytes:
        return site.images.show_image_file(image_id).data

    def image_data(self) -> bytes:
        size = CONF.edge_refarch.image_size_kib * 1024
        return raw_image(size)


def tls_verify() -> bool | str:
    """`verify` for requests and keystoneauth calls to the cloud's APIs:
    False, or the CA bundle, or True (the system's CAs), from tempest.conf
    [identity] disable_ssl_certificate_validation and ca_certificates_file
    (the options Tempest's own clients read)."""
    if CONF.identity.disable_ssl_certificate_validation:
        return False
    return CONF.identity.ca_certificates_file or True


def data_name(tc) -> str:
    return "edge-refarch-" + hashlib.sha1(
        tc.id().encode()).hexdigest()[:10]


def delete_user(site: SiteClients, user_id: str) -> None:
    try:
        site.users.delete_user(user_id)
    except lib_exc.NotFound:
        pass


def delete_project(site: SiteClients, project_id: str) -> None:
    try:
        site.projects.delete_project(project_id)
    except lib_exc.NotFound:
        pass


def _next_second() -> None:
    """Wait (at most one second) until the wall clock is in the next whole
    second. Deleting a user or a project writes a revocation event for it
    (Keystone, keystone/revoke/core.py: _user_callback, _project_callback),
    and Keystone refuses a token issued within the same second as such an
    event, since a fernet token keeps its issue time in whole seconds
    (keystone/assignment/core.py backdates its own group-change events by a
    second for this reason). A service provider gives a federated user the
    same ID at every login (predictable IDs), so the next test's login
    would otherwise be refused at once."""
    time.sleep(math.floor(time.time()) + 1 - time.time())


def forget_federated(tc: EdgeRefarchTest, site: str, user_id: str) -> None:
    """Remove the user a service provider provisioned at login (its
    operator's view, fresh clients: a cut may have been healed since);
    its next login is in a later second (_next_second)."""
    delete_user(tc.site(site), user_id)
    _next_second()


def forget_project(tc: EdgeRefarchTest, site: str, project_id: str) -> None:
    """Remove the project a service provider provisioned at login (the
    next login provisions it with a new ID)."""
    delete_project(tc.site(site), project_id)


def delete_flavor(site: SiteClients, flavor_id: str) -> None:
    try:
        site.flavors.delete_flavor(flavor_id)
    except lib_exc.NotFound:
        pass


def delete_server(tc: EdgeRefarchTest, site_name: str,
                  server_id: str) -> None:
    """Delete and wait until gone, with fresh clients (the test's own may
    have authenticated during a cut that is healed by now)."""
    site = tc.site(site_name)
    try:
        site.servers.delete_server(server_id)
    except lib_exc.NotFound:
        return
    tc.wait_server_gone(site, server_id)


def delete_image(site: SiteClients, image_id: str) -> None:
    try:
        site.images.delete_image(image_id)
    except lib_exc.NotFound:
        pass


def procedure(tc: EdgeRefarchTest, option: str, what: str,
              **fields: str) -> subprocess.CompletedProcess:
    """Run the deployment's `what` procedure, the shell command of
    ``[edge_refarch] <option>`` (each ``{name}`` of `fields` replaced by
    its value, shell-quoted), once; the finished process (text output).
    Not run when unset; fails when it outlasts PROCEDURE_TIMEOUT_S
    seconds."""
    cmd = getattr(CONF.edge_refarch, option)
    if not cmd:
        raise tc.skipException(f"not run: no {what} procedure configured "
                               f"([edge_refarch] {option})")
    for name, value in fields.items():
        cmd = cmd.replace("{" + name + "}", shlex.quote(value))
    try:
        return subprocess.run(cmd, shell=True, capture_output=True,
                              text=True, timeout=PROCEDURE_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        tc.fail(f"the {what} procedure did not finish within "
                f"{PROCEDURE_TIMEOUT_S} s ([edge_refarch] {option})")


def last_line(proc: subprocess.CompletedProcess) -> str:
    said = (proc.stdout + proc.stderr).strip().splitlines()
    return said[-1] if said else ""


def run_procedure(tc: EdgeRefarchTest, option: str, what: str,
                  **fields: str) -> str:
    """procedure(), which must succeed: its standard output. Fails with
    its last line when it exits non-zero."""
    proc = procedure(tc, option, what, **fields)
    if proc.returncode:
        said = last_line(proc)
        tc.fail(f"the {what} procedure failed (exit {proc.returncode})"
                f"{': ' + said if said else ''}")
    return proc.stdout
