"""A site's set-up through its own APIs, with openstacksdk.

What a deployment tool does once the services answer: service users and
Heat's stack-user domain at a Keystone, the site's catalog, the federation
registrations (service provider at the IdP; identity provider, mapping and
protocol at an edge), and the checks that Nova's and Heat's workers
reported in. Every call goes through an openstacksdk Connection built from
arguments only (no clouds.yaml, no ``OS_*`` variables: the testbed is set up
the same whatever the operator's shell holds); every failure is a one-line
UserError naming the call.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator

import openstack
from keystoneauth1 import exceptions as ksa_exc
from openstack import exceptions as sdk_exc

from edge_refarch.validation.errors import UserError

# Service-user roles (devstack's lib/keystone create_service_user gives the
# service role; the testbed's services also act as admin for set-up).
SERVICE_USER_ROLES = ("service", "admin")
# Heat's stack-user domain, its admin and role (heat.conf [DEFAULT]
# stack_user_domain_name, stack_domain_admin; the role Heat gives stack
# users, heat_stack_user_role's default).
HEAT_DOMAIN = "heat"
HEAT_DOMAIN_ADMIN = "heat_domain_admin"
HEAT_STACK_USER_ROLE = "heat_stack_user"
# The compute API's microversion for the set-up calls: 2.53 made service
# and hypervisor IDs UUIDs (Nova API reference, "Microversion history").
NOVA_MICROVERSION = "2.53"
# What an openstacksdk call raises when the API refuses or cannot be reached.
API_ERRORS = (sdk_exc.SDKException, ksa_exc.ClientException)
# keystoneauth's ConnectFailure text ends with urllib3's pool and retry dump.
_POOL_DUMP = re.compile(r":? *HTTPS?ConnectionPool\(.*$")


@contextlib.contextmanager
def calls(what: str) -> Iterator[None]:
    """Turn an openstacksdk or keystoneauth error inside the block into a
    one-line UserError starting with `what`."""
    try:
        yield
    except API_ERRORS as exc:
        raise UserError(f"{what}: {reason(exc)}") from None


def reason(exc: Exception) -> str:
    """One line saying why an openstacksdk or keystoneauth call failed:
    the exception's first line without urllib3's connection-pool dump,
    at most 300 characters."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return _POOL_DUMP.sub("", first)[:300] or type(exc).__name__


def connect(keystone_url: str, password: str, *, timeout: float,
            region: str | None = None,
            compute_url: str | None = None,
            orchestration_url: str | None = None
            ) -> openstack.connection.Connection:
    """An admin Connection to the Keystone at `keystone_url` (no ``/v3``)
    as ``admin`` in project ``admin`` (what ``keystone-manage bootstrap``
    created). The identity API is reached at `keystone_url` itself, so a
    Keystone with an empty catalog can be set up; `compute_url` and
    `orchestration_url` point at one site's APIs, written as a catalog
    holds them (Topology.url_of; Keystone's ``$(project_id)s`` becomes
    keystoneauth's ``%(project_id)s``, keystoneauth1 Session.request,
    endpoint_override). `timeout`: seconds per request. Nothing is sent
    until the first call."""
    overrides = {"identity_endpoint_override": f"{keystone_url}/v3"}
    for service, url in (("compute", compute_url),
                         ("orchestration", orchestration_url)):
        if url:
            overrides[f"{service}_endpoint_override"] = \
                url.replace("$(", "%(")
    if compute_url:
        overrides["compute_api_version"] = NOVA_MICROVERSION
    return openstack.connect(
        load_yaml_config=False, load_envvars=False,
        auth_type="password",
        auth={"auth_url": f"{keystone_url}/v3", "username": "admin",
              "password": password, "project_name": "admin",
              "user_domain_id": "default", "project_domain_id": "default"},
        region_name=region, interface="public", api_timeout=timeout,
        **overrides)


def token(conn: openstack.connection.Connection) -> str:
    """A token of the connection's user (authenticating if needed);
    UserError when Keystone cannot be reached or refuses."""
    with calls(f"{conn.session.auth.auth_url}: admin token"):
        return conn.session.get_token()


# -- identity -----------------------------------------------------------------
def _role(conn, name: str):
    return conn.identity.find_role(name) or \
        conn.identity.create_role(name=name)


def ensure_service_user(conn, name: str, password: str) -> None:
    """User `name` in project ``service`` with the roles of
    SERVICE_USER_ROLES; created when missing, left as it is otherwise."""
    with calls(f"service user {name}"):
        project = conn.identity.find_project(
            "service", domain_id="default") or \
            conn.identity.create_project(name="service",
                                         domain_id="default")
        user = conn.identity.find_user(name, domain_id="default") or \
            conn.identity.create_user(name=name, domain_id="default",
                                      password=password)
        for role in SERVICE_USER_ROLES:
            conn.identity.assign_project_role_to_user(
                project, user, _role(conn, role))


def ensure_heat_domain(conn, admin_password: str) -> None:
    """Heat's stack-user domain, its admin (admin on the domain) and the
    stack-user role (Heat configuration reference, [DEFAULT]
    stack_user_domain_name, stack_domain_admin, heat_stack_user_role)."""
    with calls("Heat's stack-user domain"):
        domain = conn.identity.find_domain(HEAT_DOMAIN) or \
            conn.identity.create_domain(
                name=HEAT_DOMAIN,
                description="Heat stack users (edge-refarch testbed)")
        user = conn.identity.find_user(HEAT_DOMAIN_ADMIN,
                                       domain_id=domain.id) or \
            conn.identity.create_user(name=HEAT_DOMAIN_ADMIN,
                                      domain_id=domain.id,
                                      password=admin_password)
        conn.identity.assign_domain_role_to_user(domain, user,
                                                 _role(conn, "admin"))
        _role(conn, HEAT_STACK_USER_ROLE)


def set_catalog(conn, endpoints: Iterable) -> None:
    """Make the Keystone's catalog exactly `endpoints` (Topology.Endpoint:
    service, catalog_type, region, url), public interface only."""
    with calls("catalog"):
        for ep in list(conn.identity.endpoints()):
            conn.identity.delete_endpoint(ep)
        services: dict[str, object] = {}
        regions: set[str] = {r.id for r in conn.identity.regions()}
        for ep in endpoints:
            if ep.region not in regions:
                conn.identity.create_region(id=ep.region)
                regions.add(ep.region)
            if ep.service not in services:
                services[ep.service] = next(
                    iter(conn.identity.services(type=ep.catalog_type)),
                    None) or conn.identity.create_service(
                        type=ep.catalog_type, name=ep.service)
            conn.identity.create_endpoint(
                service_id=services[ep.service].id, interface="public",
                region_id=ep.region, url=ep.url)


# -- federation ---------------------------------------------------------------
def ensure_service_provider(conn, sp_id: str, sp_url: str, auth_url: str,
                            description: str) -> None:
    """Register service provider `sp_id` at an identity provider Keystone
    (OS-FEDERATION service_providers), unless it is already there."""
    with calls(f"service provider {sp_id}"):
        if conn.identity.find_service_provider(sp_id) is None:
            conn.identity.create_service_provider(
                id=sp_id, sp_url=sp_url, auth_url=auth_url,
                is_enabled=True, description=description)


def ensure_domain(conn, domain_id: str, name: str, description: str) -> None:
    """A domain with an explicit ID (Keystone ``explicit_domain_id``, which
    openstacksdk's Domain resource does not carry: sent through the
    Connection's identity adapter)."""
    with calls(f"domain {name}"):
        if conn.identity.find_domain(domain_id) is not None:
            return
        r = conn.identity.post("/domains", json={"domain": {
            "name": name, "explicit_domain_id": domain_id,
            "description": description}})
        sdk_exc.raise_from_response(r)


def ensure_roles(conn, names: Iterable[str]) -> None:
    with calls("roles"):
        for name in names:
            _role(conn, name)


def ensure_identity_provider(conn, idp_id: str, remote_ids: list[str],
                             domain_id: str, mapping_id: str,
                             rules: list[dict], protocol: str) -> None:
    """Identity provider `idp_id` at a service provider Keystone, its
    mapping (schema 3.0; replaced when it exists) and `protocol` bound to
    the mapping."""
    with calls(f"identity provider {idp_id}"):
        if conn.identity.find_identity_provider(idp_id) is None:
            conn.identity.create_identity_provider(
                id=idp_id, remote_ids=remote_ids, domain_id=domain_id,
                is_enabled=True)
        mapping = conn.identity.find_mapping(mapping_id)
        if mapping is None:
            conn.identity.create_mapping(id=mapping_id, rules=rules,
                                         schema_version="3.0")
        else:
            conn.identity.update_mapping(mapping, rules=rules,
                                         schema_version="3.0")
        if conn.identity.find_federation_protocol(idp_id, protocol) is None:
            conn.identity.create_federation_protocol(
                idp_id, id=protocol, mapping_id=mapping_id)


# -- compute and orchestration ------------------------------------------------
def nova_services_up(conn) -> set[tuple[str, str]]:
    """(binary, host) of every Nova service reported up; empty while the
    API cannot answer."""
    try:
        return {(s.binary, s.host) for s in conn.compute.services()
                if s.state == "up"}
    except API_ERRORS:
        return set()


def hypervisors(conn) -> set[str]:
    """Hypervisor host names Nova lists (hosts mapped to a cell)."""
    try:
        return {h.name for h in conn.compute.hypervisors()}
    except API_ERRORS:
        return set()


def ensure_zone(conn, host: str, zone: str) -> None:
    """An aggregate named and zoned `zone`, holding compute `host`."""
    with calls(f"availability zone {zone}"):
        agg = next((a for a in conn.compute.aggregates() if a.name == zone),
                   None) or conn.compute.create_aggregate(
                       name=zone, availability_zone=zone)
        if host not in (agg.hosts or []):
            conn.compute.add_host_to_aggregate(agg, host)


def heat_engine_up(conn) -> bool:
    """Whether Heat's ``GET /services`` lists an engine reported up (Heat
    API reference, "Show orchestration engine status")."""
    try:
        r = conn.orchestration.get("/services")
    except API_ERRORS:
        return False
    return r.status_code == 200 and any(
        s.get("status") == "up" for s in r.json().get("services", []))


# -- telemetry ----------------------------------------------------------------
def ensure_gnocchi_publisher(conn, gnocchi_url: str, resource_type: dict,
                             archive_policy: dict) -> None:
    """The resource type and the archive policy a metric publisher
    (Ceilometer) writes with, in the Gnocchi at `gnocchi_url`, created when
    missing (Gnocchi REST API v1: POST /v1/resource_type and
    /v1/archive_policy; 409 when it exists)."""
    for path, body in (("/v1/resource_type", resource_type),
                       ("/v1/archive_policy", archive_policy)):
        with calls(f"Gnocchi {path} {body['name']}"):
            if not _gnocchi_has(conn, gnocchi_url, path, body["name"]):
                conn.session.post(gnocchi_url + path, json=body)


def _gnocchi_has(conn, gnocchi_url: str, path: str, name: str) -> bool:
    answer = conn.session.get(f"{gnocchi_url}{path}/{name}",
                              raise_exc=False)
    if answer.status_code == 404:
        return False
    if answer.status_code >= 400:
        raise UserError(f"Gnocchi {path}/{name}: HTTP {answer.status_code}")
    return True
