"""Load and validate the architecture model (``model.yaml``).

This is the one place the model is read. Everything else -- the testbed, the
tempest configuration, the diagrams, the report -- receives the resulting
:class:`Model` as data.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

DEFAULT_MODEL_PATH = Path(__file__).with_name("model.yaml")

# works: as when connected; fails_fast: a clear error within the fail-fast
# timeout; unknown: still listed, with its state reported as unknown;
# not_applicable: the model makes no such promise (the catalog says why).
PARTITION_EXPECTATIONS = ("works", "fails_fast", "unknown", "not_applicable")
HEAL_EXPECTATIONS = ("immediate", "eventual", "next_login")
IDENTITY_SOURCES = ("central", "replicated", "federated")
SERVICE_ROLES = ("api", "database", "cache", "queue", "worker")

_NAME = r"^[a-z][a-z0-9_-]*$"

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "schema_version", "title", "tiers", "services", "links",
        "deployment_models", "bounds", "topology", "testbed",
    ],
    "properties": {
        "schema_version": {"const": 1},
        "title": {"type": "string"},
        "tiers": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": _NAME},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["title"],
                "properties": {
                    "title": {"type": "string"},
                    "description": {"type": "string"},
                },
            },
        },
        "services": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": _NAME},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["title", "role"],
                "properties": {
                    "title": {"type": "string"},
                    "role": {"enum": list(SERVICE_ROLES)},
                    "port": {"type": "integer", "minimum": 1,
                             "maximum": 65535},
                    "catalog_type": {"type": "string"},
                    "url_path": {"type": "string"},
                    "health_path": {"type": "string"},
                    # A group of services a site has together or not at
                    # all (telemetry: the alarm loop).
                    "plane": {"type": "string", "pattern": _NAME},
                },
            },
        },
        "links": {
            "type": "object",
            "propertyNames": {"pattern": _NAME},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["between", "title", "latency_ms",
                             "bandwidth_mbit", "budget_rtt_ms"],
                "properties": {
                    "between": {"type": "array", "items": {"type": "string"},
                                "minItems": 2, "maxItems": 2},
                    "title": {"type": "string"},
                    "latency_ms": {"type": "number", "minimum": 0,
                                   "maximum": 10000},
                    "jitter_ms": {"type": "number", "minimum": 0,
                                  "maximum": 10000},
                    "bandwidth_mbit": {"type": "number",
                                       "exclusiveMinimum": 0,
                                       "maximum": 100000},
                    "budget_rtt_ms": {"type": "number",
                                      "exclusiveMinimum": 0},
                },
            },
        },
        "deployment_models": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": _NAME},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                # A variant (variant_of: BASE) states only what differs
                # from its base model; everything else is the base's.
                "required": ["title", "summary", "identity"],
                "if": {"not": {"required": ["variant_of"]}},
                "then": {"required": ["sites", "served_by_parent", "flows",
                                      "partition"]},
                "properties": {
                    "title": {"type": "string"},
                    "summary": {"type": "string"},
                    "variant_of": {"type": "string"},
                    # Keystone-to-Keystone federation (identity: federated)
                    "federation": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["protocol", "idp_id", "domain",
                                     "mapped_roles"],
                        "properties": {
                            "protocol": {"enum": ["saml2"]},
                            "idp_id": {"type": "string", "pattern": _NAME},
                            "domain": {"type": "string", "pattern": _NAME,
                                       "not": {"const": "federated"}},
                            # one mapping rule per subset of them
                            "mapped_roles": {
                                "type": "array", "minItems": 1,
                                "maxItems": 5,
                                "uniqueItems": True,
                                "items": {"type": "string",
                                          "pattern": _NAME}},
                        },
                    },
                    # What the embedded testbed deploys of this model (all
                    # of it when absent).
                    "testbed_services": {
                        "type": "array", "items": {"type": "string"},
                        "uniqueItems": True, "minItems": 1},
                    "identity": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["source"],
                        "properties": {
                            "source": {"enum": list(IDENTITY_SOURCES)},
                            "variants": {
                                "type": "array",
                                "items": {"enum": list(IDENTITY_SOURCES)},
                            },
                        },
                    },
                    "sites": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "array", "items": {"type": "string"},
                            "uniqueItems": True,
                        },
                    },
                    # true/false for every tier, or the tiers whose sites
                    # are served by their parent's services
                    "served_by_parent": {"oneOf": [
                        {"type": "boolean"},
                        {"type": "array", "items": {"type": "string"},
                         "uniqueItems": True}]},
                    "features": {"type": "object"},
                    "flows": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["from", "service", "to", "purpose"],
                            "properties": {
                                "from": {"type": "string"},
                                "service": {"type": "string"},
                                "to": {"type": "string"},
                                "by": {"type": "string"},
                                "purpose": {"type": "string"},
                            },
                        },
                    },
                    "partition": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["during", "after"],
                        "properties": {
                            "during": {
                                "type": "object",
                                "additionalProperties": {
                                    "enum": list(PARTITION_EXPECTATIONS)},
                            },
                            "after": {
                                "type": "object",
                                "additionalProperties": {
                                    "enum": list(HEAL_EXPECTATIONS)},
                            },
                        },
                    },
                },
            },
        },
        "topology": {
            "type": "object",
            "additionalProperties": False,
            "required": ["sites"],
            "properties": {
                "sites": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "tier"],
                        "properties": {
                            "name": {"type": "string"},
                            "tier": {"type": "string"},
                            "parent": {"type": "string"},
                            "count": {"type": "integer", "minimum": 0},
                        },
                    },
                },
            },
        },
        "bounds": {
            "type": "object",
            "additionalProperties": False,
            "required": ["identity_staleness_s", "cross_site_timeout_s",
                         "key_rotations_per_partition",
                         "binlog_retention_s"],
            "properties": {
                "identity_staleness_s": {"type": "integer", "minimum": 1,
                                         "maximum": 3600},
                "cross_site_timeout_s": {"type": "integer", "minimum": 1,
                                         "maximum": 300},
                "key_rotations_per_partition": {"type": "integer",
                                                "minimum": 0,
                                                "maximum": 10},
                # MariaDB's binlog_expire_logs_seconds allows up to 8.5 y.
                "binlog_retention_s": {"type": "integer", "minimum": 3600,
                                       "maximum": 268435455},
            },
        },
        "testbed": {
            "type": "object",
            "additionalProperties": False,
            "required": ["site_address", "toxiproxy", "proxy_port_base",
                         "identity_cache_ttl_s", "keystone_threads",
                         "start_timeout_s", "probe_timeout_s"],
            "properties": {
                "site_address": {"type": "string"},
                "toxiproxy": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["address", "port", "version"],
                    "properties": {
                        "address": {"type": "string"},
                        "port": {"type": "integer", "minimum": 1,
                                 "maximum": 65535},
                        "version": {"type": "string",
                                    "pattern": r"^v\d+\.\d+\.\d+$"},
                    },
                },
                "proxy_port_base": {"type": "integer", "minimum": 1024,
                                    "maximum": 60000},
                "epmd_port": {"type": "integer", "minimum": 1,
                              "maximum": 65535},
                "rabbitmq_dist_port_base": {"type": "integer",
                                            "minimum": 1024,
                                            "maximum": 60000},
                "shibd_port": {"type": "integer", "minimum": 1,
                               "maximum": 65535},
                "identity_cache_ttl_s": {"type": "integer", "minimum": 1,
                                         "maximum": 3600},
                "keystone_threads": {"type": "integer", "minimum": 1,
                                     "maximum": 64},
                # Keystone's [identity] password_hash_rounds (bcrypt: 4 to
                # 31, Keystone's configuration reference).
                "password_hash_rounds": {"type": "integer", "minimum": 4,
                                         "maximum": 31},
                "image_api_threads": {"type": "integer", "minimum": 1,
                                      "maximum": 256},
                "alarm_evaluation_interval_s": {"type": "integer",
                                                "minimum": 1,
                                                "maximum": 3600},
                "malloc_arena_max": {"type": "integer", "minimum": 1,
                                     "maximum": 64},
                "keystone_workers": {
                    "type": "object",
                    "additionalProperties": {"type": "integer",
                                             "minimum": 1, "maximum": 64},
                },
                "start_timeout_s": {"type": "number", "exclusiveMinimum": 0},
                "probe_timeout_s": {"type": "number", "exclusiveMinimum": 0},
            },
        },
    },
}


class ModelError(ValueError):
    """The model file is missing, malformed or inconsistent."""


@dataclasses.dataclass(frozen=True)
class Tier:
    name: str
    title: str
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Service:
    name: str
    title: str
    role: str
    port: int | None     # None for workers (no listener)
    slot: int
    catalog_type: str | None = None
    url_path: str = ""
    health_path: str | None = None
    # The group of services it belongs to ('telemetry'), if any.
    plane: str | None = None


@dataclasses.dataclass(frozen=True)
class LinkClass:
    name: str
    between: tuple[str, str]
    title: str
    latency_ms: float
    bandwidth_mbit: float
    budget_rtt_ms: float
    jitter_ms: float = 0.0


@dataclasses.dataclass(frozen=True)
class Flow:
    from_tier: str
    service: str
    to_tier: str
    purpose: str
    by: str | None = None    # the service that connects (default: same)


@dataclasses.dataclass(frozen=True)
class Federation:
    """Keystone-to-Keystone: the root site's Keystone is the identity
    provider, every other Keystone a service provider that maps the
    assertion onto users and projects of `domain`."""
    protocol: str
    idp_id: str
    domain: str
    mapped_roles: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class DeploymentModel:
    name: str
    title: str
    summary: str
    identity_source: str
    identity_variants: tuple[str, ...]
    services_by_tier: dict[str, tuple[str, ...]]
    served_by_parent: bool | tuple[str, ...]
    features: dict[str, Any]
    flows: tuple[Flow, ...]
    during_partition: dict[str, str]
    after_heal: dict[str, str]
    variant_of: str | None = None
    federation: Federation | None = None
    # What the embedded testbed deploys of this model (None: everything).
    testbed_services: tuple[str, ...] | None = None

    def services_at(self, tier: str) -> tuple[str, ...]:
        return self.services_by_tier.get(tier, ())

    def testbed_services_at(self, tier: str) -> tuple[str, ...]:
        return tuple(s for s in self.services_at(tier)
                     if self.testbed_services is None
                     or s in self.testbed_services)

    def parent_serves(self, tier: str) -> bool:
        """Whether a site of `tier` lacking a service uses its parent's."""
        if isinstance(self.served_by_parent, bool):
            return self.served_by_parent
        return tier in self.served_by_parent


@dataclasses.dataclass(frozen=True)
class SiteTemplate:
    name: str
    tier: str
    parent: str | None
    count: int | None  # None: a single site; N: name has "{n}", N copies


@dataclasses.dataclass(frozen=True)
class TestbedSettings:
    site_address: str
    toxiproxy_address: str
    toxiproxy_port: int
    toxiproxy_version: str
    proxy_port_base: int
    identity_cache_ttl_s: int
    keystone_threads: int
    start_timeout_s: float
    probe_timeout_s: float
    epmd_port: int = 4369
    # RabbitMQ's Erlang distribution port at site N: base + N.
    rabbitmq_dist_port_base: int = 19000
    # shibd's listener at each federated service provider site.
    shibd_port: int = 1600
    # MALLOC_ARENA_MAX of every process; None: glibc's default.
    malloc_arena_max: int | None = None
    # Keystone worker processes per tier (1 where the tier is not listed).
    keystone_workers: dict[str, int] = dataclasses.field(
        default_factory=dict)
    # Threads of each site's image API (Glance) worker; 1: a synchronous
    # worker.
    image_api_threads: int = 1
    # Seconds between two evaluations of every alarm by a site's Aodh
    # evaluator ([evaluator] evaluation_interval; Aodh's default: 60).
    alarm_evaluation_interval_s: int = 60
    # bcrypt rounds of the passwords every Keystone stores ([identity]
    # password_hash_rounds); None: Keystone's default (12).
    password_hash_rounds: int | None = None


@dataclasses.dataclass(frozen=True)
class Bounds:
    """What the architecture bounds in every deployment model (seconds)."""
    # A revoked token, disabled user or removed role is refused by every
    # API of a site within this long once the site reaches its identity
    # source.
    identity_staleness_s: int
    # A connection across a WAN link gives up after this long without an
    # answer (connect, read, write).
    cross_site_timeout_s: int
    # Fernet key rotations at the DC a cut-off edge tolerates.
    key_rotations_per_partition: int
    # Replicated identity: the DC keeps its binary log this long, so a cut
    # edge's replica resumes after any shorter cut.
    binlog_retention_s: int

    @property
    def max_active_keys(self) -> int:
        """Keys every Keystone keeps: staged, primary and enough
        secondaries that what an edge signed during a tolerated cut still
        validates at the DC."""
        return self.key_rotations_per_partition + 2


@dataclasses.dataclass(frozen=True)
class Model:
    path: Path
    title: str
    tiers: dict[str, Tier]
    services: dict[str, Service]
    links: dict[str, LinkClass]
    deployment_models: dict[str, DeploymentModel]
    topology: tuple[SiteTemplate, ...]
    testbed: TestbedSettings
    bounds: Bounds

    def deployment_model(self, name: str) -> DeploymentModel:
        try:
            return self.deployment_models[name]
        except KeyError:
            raise ModelError(
                f"unknown deployment model {name!r} "
                f"(known: {', '.join(sorted(self.deployment_models))})"
            ) from None

    def link_class_between(self, tier_a: str, tier_b: str) -> LinkClass:
        for link in self.links.values():
            if set(link.between) == {tier_a, tier_b}:
                return link
        raise ModelError(f"no link class between tiers {tier_a!r} and "
                         f"{tier_b!r}")


def _where(error: jsonschema.ValidationError) -> str:
    parts = []
    for p in error.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else f".{p}")
    return "".join(parts).lstrip(".") or "(top level)"


def load_model(path: str | os.PathLike | None = None) -> Model:
    """Read, validate and return the model; raise ModelError on any fault."""
    path = Path(path) if path else Path(
        os.environ.get("EDGE_REFARCH_MODEL") or DEFAULT_MODEL_PATH)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ModelError(f"{path}: not valid YAML{at}: {problem}") from None
    if not isinstance(raw, dict):
        raise ModelError(f"{path}: expected a mapping at the top level")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(raw),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ModelError(f"{path}: {_where(first)}: {first.message}{more}")
    try:
        return _build(path, raw)
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None


def _build(path: Path, raw: dict[str, Any]) -> Model:
    """The Model of a schema-valid `raw` mapping. Raises ModelError for
    what the schema cannot say: names that refer to nothing, a topology
    without a link class, bounds the testbed's caches do not fit."""
    tiers = {n: Tier(n, t["title"], t.get("description", ""))
             for n, t in raw["tiers"].items()}
    services = _services(raw)
    names = _Names(tiers, services)
    links = {}
    for n, link in raw["links"].items():
        a, b = (names.tier(t, f"links.{n}.between")
                for t in link["between"])
        links[n] = LinkClass(n, (a, b), link["title"], link["latency_ms"],
                             link["bandwidth_mbit"], link["budget_rtt_ms"],
                             link.get("jitter_ms", 0.0))
    models = {n: _deployment_model(n, m, names)
              for n, m in _with_variants(raw["deployment_models"]).items()}
    topology = _topology(raw["topology"]["sites"], names, links)
    root_tier = topology[0].tier
    for n, m in models.items():
        if m.served_by_parent is not False and not m.services_at(root_tier):
            raise ModelError(f"deployment_models.{n}: the root site's tier "
                             f"{root_tier!r} runs no service")
    testbed = _testbed(raw["testbed"], names)
    bounds = Bounds(raw["bounds"]["identity_staleness_s"],
                    raw["bounds"]["cross_site_timeout_s"],
                    raw["bounds"]["key_rotations_per_partition"],
                    raw["bounds"]["binlog_retention_s"])
    # Keystone's cache, then keystonemiddleware's: a change can wait out
    # one after the other, and replication needs a moment besides.
    if 2 * testbed.identity_cache_ttl_s >= bounds.identity_staleness_s:
        raise ModelError(
            f"testbed.identity_cache_ttl_s: Keystone's and keystonemiddleware"
            f"'s caches ({testbed.identity_cache_ttl_s} s each) do not fit in "
            f"bounds.identity_staleness_s ({bounds.identity_staleness_s} s)")
    return Model(path, raw["title"], tiers, services, links, models,
                 tuple(topology), testbed, bounds)


def _services(raw: dict[str, Any]) -> dict[str, Service]:
    """Every service, numbered in declaration order (its proxy port
    slot)."""
    services = {
        n: Service(n, s["title"], s["role"], s.get("port"), slot,
                   s.get("catalog_type"), s.get("url_path", ""),
                   s.get("health_path"), s.get("plane"))
        for slot, (n, s) in enumerate(raw["services"].items())
    }
    for n, svc in services.items():
        if (svc.port is None) != (svc.role == "worker"):
            raise ModelError(f"services.{n}: a worker has no port, every "
                             "other service needs one")
    if len(services) > 99:
        raise ModelError("services: at most 99 services (proxy port slots)")
    return services


class _Names:
    """Tier and service names as the model declares them: each method
    returns `name`, or raises ModelError saying `where` it was met."""

    def __init__(self, tiers: dict, services: dict):
        self.tiers, self.services = tiers, services

    def tier(self, name: str, where: str) -> str:
        if name not in self.tiers:
            raise ModelError(f"{where}: unknown tier {name!r} "
                             f"(known: {', '.join(self.tiers)})")
        return name

    def service(self, name: str, where: str) -> str:
        if name not in self.services:
            raise ModelError(f"{where}: unknown service {name!r} "
                             f"(known: {', '.join(self.services)})")
        return name


def _with_variants(declared: dict[str, Any]) -> dict[str, Any]:
    """The deployment models as declared, each variant merged over its
    base (its own identity source; partition declarations merged key by
    key). Raises ModelError for a variant of a variant or of nothing, or
    with an identity source its base does not offer."""
    for n, m in declared.items():
        base = m.get("variant_of")
        if base is None:
            continue
        where = f"deployment_models.{n}.variant_of"
        if base not in declared or "variant_of" in declared[base]:
            raise ModelError(f"{where}: {base!r} is not a deployment model "
                             "that is not itself a variant")
        source = m["identity"]["source"]
        if source not in declared[base]["identity"].get("variants", ()):
            raise ModelError(f"deployment_models.{n}.identity: {source!r} "
                             f"is not among {base!r}'s identity variants")
    merged = {}
    for n, m in declared.items():
        if m.get("variant_of"):
            b = declared[m["variant_of"]]
            m = {**b, **m, "identity": {"source": m["identity"]["source"]},
                 "partition": {
                     k: {**b["partition"][k],
                         **m.get("partition", {}).get(k, {})}
                     for k in ("during", "after")}}
        merged[n] = m
    return merged


def _deployment_model(n: str, m: dict[str, Any],
                      names: _Names) -> DeploymentModel:
    """Deployment model `n` from its (merged) declaration `m`."""
    where = f"deployment_models.{n}"
    if (m["identity"]["source"] == "federated") != ("federation" in m):
        raise ModelError(f"{where}: a 'federation' section goes with "
                         "identity source 'federated', and only there")
    by_tier = {}
    for t, svcs in m["sites"].items():
        names.tier(t, f"{where}.sites")
        by_tier[t] = tuple(names.service(s, f"{where}.sites.{t}")
                           for s in svcs)
    flows = tuple(
        Flow(names.tier(f["from"], f"{where}.flows[{i}].from"),
             names.service(f["service"], f"{where}.flows[{i}].service"),
             names.tier(f["to"], f"{where}.flows[{i}].to"), f["purpose"],
             names.service(f["by"], f"{where}.flows[{i}].by")
             if "by" in f else None)
        for i, f in enumerate(m["flows"]))
    for i, f in enumerate(flows):
        if f.service not in by_tier.get(f.to_tier, ()):
            raise ModelError(
                f"{where}.flows[{i}]: {f.service!r} does not run at "
                f"tier {f.to_tier!r} in this model")
    ident = m["identity"]
    variants = tuple(ident.get("variants", [ident["source"]]))
    if ident["source"] not in variants:
        raise ModelError(f"{where}.identity: source {ident['source']!r} "
                         "is not among its variants")
    fed = m.get("federation")
    scope = m.get("testbed_services")
    for s in scope or ():
        names.service(s, f"{where}.testbed_services")
    return DeploymentModel(
        n, m["title"], m["summary"], ident["source"], variants, by_tier,
        m["served_by_parent"] if isinstance(m["served_by_parent"], bool)
        else tuple(names.tier(t, f"{where}.served_by_parent")
                   for t in m["served_by_parent"]),
        m.get("features", {}), flows,
        dict(m["partition"]["during"]), dict(m["partition"]["after"]),
        m.get("variant_of"),
        Federation(fed["protocol"], fed["idp_id"], fed["domain"],
                   tuple(fed["mapped_roles"])) if fed else None,
        tuple(scope) if scope is not None else None)


def _topology(sites: list[dict[str, Any]], names: _Names,
              links: dict[str, LinkClass]) -> list[SiteTemplate]:
    """The site templates, root first; each site's parent declared
    before it, and a link class between every site's tier and its
    parent's."""
    topology: list[SiteTemplate] = []
    seen: set[str] = set()
    for i, s in enumerate(sites):
        where = f"topology.sites[{i}]"
        names.tier(s["tier"], f"{where}.tier")
        count = s.get("count")
        if count is not None and "{n}" not in s["name"]:
            raise ModelError(f"{where}: a site with 'count' needs '{{n}}' "
                             "in its name")
        if count is None and not re.match(_NAME, s["name"]):
            raise ModelError(f"{where}.name: {s['name']!r} is not a valid "
                             "site name (lower case, digits, - and _)")
        parent = s.get("parent")
        if parent is not None and parent not in seen:
            raise ModelError(f"{where}.parent: {parent!r} is not a site "
                             "declared before it")
        if parent is None and topology:
            raise ModelError(f"{where}: only the first site may have no "
                             "parent")
        if s["name"] in seen:
            raise ModelError(f"{where}.name: duplicate site {s['name']!r}")
        seen.add(s["name"])
        topology.append(SiteTemplate(s["name"], s["tier"], parent, count))
    for t in topology[1:]:
        parent_tier = next(p.tier for p in topology if p.name == t.parent)
        if not any(set(lc.between) == {parent_tier, t.tier}
                   for lc in links.values()):
            raise ModelError(f"topology: no link class between tiers "
                             f"{parent_tier!r} and {t.tier!r}")
    return topology


def _testbed(tb: dict[str, Any], names: _Names) -> TestbedSettings:
    """The embedded testbed's settings; every address it binds is in
    127.0.0.0/8."""
    if "{n}" not in tb["site_address"]:
        raise ModelError("testbed.site_address: needs '{n}'")
    for probe in (1, 254):
        addr = tb["site_address"].format(n=probe)
        if not re.match(r"^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$", addr):
            raise ModelError("testbed.site_address: must be in 127.0.0.0/8 "
                             f"(got {addr!r})")
    if not tb["toxiproxy"]["address"].startswith("127."):
        raise ModelError("testbed.toxiproxy.address: must be in "
                         "127.0.0.0/8")
    for name in tb.get("keystone_workers", {}):
        names.tier(name, "testbed.keystone_workers")
    return TestbedSettings(
        tb["site_address"], tb["toxiproxy"]["address"],
        tb["toxiproxy"]["port"], tb["toxiproxy"]["version"],
        tb["proxy_port_base"], tb["identity_cache_ttl_s"],
        tb["keystone_threads"], float(tb["start_timeout_s"]),
        float(tb["probe_timeout_s"]), tb.get("epmd_port", 4369),
        tb.get("rabbitmq_dist_port_base", 19000), tb.get("shibd_port", 1600),
        tb.get("malloc_arena_max"), dict(tb.get("keystone_workers", {})),
        tb.get("image_api_threads", 1),
        tb.get("alarm_evaluation_interval_s", 60),
        tb.get("password_hash_rounds"))
