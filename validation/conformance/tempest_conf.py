"""Write tempest.conf for the conformance suite.

From the testbed (its topology), or from any cloud: a clouds.yaml with one
cloud per site and a site map naming them, whose regions and identity
endpoints are discovered from each site's catalog.
"""

from __future__ import annotations

import configparser
import os
import shlex
import sys
from pathlib import Path

import yaml

from edge_refarch.tempest_plugin.requirement import SERVICE_AVAILABLE
from edge_refarch.validation.errors import (
    BadInput,
    UserError,
    readable_cause,
)


def _conf(model: str, root: str, edge: str, other_edge: str | None,
          sites: dict[str, dict], admin: dict, toxiproxy_url: str | None,
          fault_state_dir: str, glance_download: bool,
          budget_rtt_ms: float,
          latency_overshoot_ms: float = 0.0,
          compute_sites: list[str] | None = None,
          idp_uris: dict[str, str] | None = None,
          offered: set[str] = frozenset()) -> configparser.ConfigParser:
    """`offered`: the model services (model.yaml names) the cloud offers,
    written as Tempest's [service_available] options."""
    cp = configparser.ConfigParser(interpolation=None)
    cp["DEFAULT"] = {"log_file": "tempest.log", "use_stderr": "false"}
    cp["auth"] = {
        "admin_username": admin["username"],
        "admin_password": admin["password"],
        "admin_project_name": admin["project_name"],
        "admin_domain_name": admin.get("user_domain_name") or "Default",
        "use_dynamic_credentials": "false",
    }
    cp["identity"] = {"uri_v3": sites[root]["uri"],
                      "auth_version": "v3",
                      "region": sites[root]["region"]}
    cp["identity-feature-enabled"] = {"api_v2": "false"}
    cp["image"] = {"region": sites[root]["region"], "build_timeout": "120"}
    cp["service_available"] = {
        **{opt: str(svc in offered).lower()
           for svc, opt in SERVICE_AVAILABLE.items()},
        "neutron": "false", "cinder": "false", "swift": "false",
        "edge_refarch": "true"}
    er = {
        "deployment_model": model, "root_site": root, "edge_site": edge,
        "site_identity_uris": ",".join(
            f"{s}:{v['uri']}" for s, v in sites.items()),
        "site_regions": ",".join(
            f"{s}:{v['region']}" for s, v in sites.items()),
        "site_links": ",".join(f"{s}:{v['link']}" for s, v in sites.items()
                               if v.get("link")),
        "fault_state_dir": fault_state_dir,
        # The suite's ledger of stacks (ledger.py), beside the faults'.
        "resource_ledger": str(Path(fault_state_dir).with_name(
            "edge-refarch-resources.jsonl")),
        "latency_budget_rtt_ms": f"{budget_rtt_ms:g}",
        "latency_overshoot_ms": f"{latency_overshoot_ms:g}",
        "compute_sites": ",".join(compute_sites or []),
        "site_parents": ",".join(f"{s}:{v['parent']}"
                                 for s, v in sites.items()
                                 if v.get("parent")),
    }
    if admin.get("app_cred_id"):
        er["admin_application_credential_id"] = admin["app_cred_id"]
        er["admin_application_credential_secret"] = \
            admin["app_cred_secret"]
    project_domain = admin.get("project_domain_name")
    if project_domain and project_domain != cp["auth"]["admin_domain_name"]:
        er["admin_project_domain_name"] = project_domain
    if idp_uris:
        er["federation_idp_uris"] = ",".join(f"{s}:{u}"
                                             for s, u in idp_uris.items())
    if other_edge:
        er["other_edge_site"] = other_edge
    if toxiproxy_url:
        er["toxiproxy_url"] = toxiproxy_url
    cp["edge_refarch"] = er
    cp["edge_refarch_feature_enabled"] = {
        "glance_download": str(glance_download).lower()}
    return cp


def for_testbed(testbed, path: Path) -> Path:
    topo = testbed.topology()
    rec = testbed.recorded()
    clouds = yaml.safe_load(Path(rec["clouds_yaml"]).read_text())["clouds"]
    admin = clouds[topo.root.name]["auth"]
    sites = {}
    for site in topo.sites.values():
        link = topo.link_between(site.name, site.parent) \
            if site.parent else None
        sites[site.name] = {"uri": topo.auth_url(site.name),
                            "region": site.region,
                            "link": link.name if link else None,
                            "parent": site.parent}
    edges = [s for s in topo.sites.values() if s.tier == "edge"]
    features = topo.deployment.features.get("edge", {})
    budget = topo.model.link_class_between(topo.root.tier,
                                           edges[0].tier).budget_rtt_ms
    idp_uris = {}
    if topo.deployment.federation:
        # The identity provider (the root's Keystone) as a client at each
        # site with a Keystone of its own reaches it: over its link.
        idp_uris = {s.name: topo.url_of(s.name, topo.root, "keystone")
                    for s in topo.catalog_sites()}
    cp = _conf(topo.deployment.name, topo.root.name, edges[0].name,
               edges[1].name if len(edges) > 1 else None, sites, admin,
               testbed.toxiproxy.url,
               str(testbed.state.parent / "faults"),
               "glance-download" in features.get("glance_import_methods",
                                                 []), budget,
               testbed.latency_overshoot_ms,
               [s.name for s in topo.sites.values()
                if "nova-compute" in s.services], idp_uris,
               {svc for s in topo.sites.values() for svc in s.services})
    if rec.get("tls"):
        cp["identity"]["ca_certificates_file"] = rec["tls"]["ca"]
    # The testbed's own day-2 procedures: key rotation (keys.py), rotate
    # at the DC, distribute over the links ...
    testbed_cli = [sys.executable, "-m", "edge_refarch.validation.cli",
                   "-q", "testbed"]
    rotate = [*testbed_cli, "keys", "rotate"]
    cp["edge_refarch"]["key_rotation_command"] = shlex.join(rotate)
    cp["edge_refarch"]["credential_key_rotation_command"] = shlex.join(
        [*rotate, "--credential"])
    # ... and its replica procedures (mariadb.py).
    replicas = [*testbed_cli, "replicas"]
    cp["edge_refarch"]["replica_status_command"] = shlex.join(
        [*replicas, "status"])
    cp["edge_refarch"]["binlog_purge_command"] = shlex.join(
        [*replicas, "purge-binlogs"])
    cp["edge_refarch"]["replica_reseed_command"] = shlex.join(
        [*replicas, "reseed"]) + " {site}"
    return _write(cp, path)


def _write(cp: configparser.ConfigParser, path: Path) -> Path:
    """Write tempest.conf readable by its owner only (it holds the admin
    password)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)    # an existing file keeps its mode otherwise
    with os.fdopen(fd, "w") as fh:
        cp.write(fh)
    return path


# clouds.yaml auth types that log an admin in (keystoneauth plugin names).
PASSWORD_AUTH = ("password", "v3password")
APP_CRED_AUTH = ("v3applicationcredential", "applicationcredential")


def _admin(cloud: str, config: dict, access, federated: bool) -> dict:
    """The admin of a clouds.yaml entry as tempest.conf holds it: a user
    name and password, or an application credential; the user's and
    project's names and domains as the token `access` (keystoneauth
    AccessInfo of the entry's own login) states them, whatever the entry
    gave (names or IDs). Raises BadInput for another auth type."""
    auth = config.get("auth") or {}
    auth_type = _auth_type(cloud, config, federated)
    out = {"username": access.username, "password": "",
           "project_name": access.project_name,
           "user_domain_name": access.user_domain_name,
           "project_domain_name": access.project_domain_name}
    if auth_type in PASSWORD_AUTH:
        out["password"] = auth.get("password") or ""
    else:
        out["app_cred_id"] = access.application_credential_id
        out["app_cred_secret"] = auth.get("application_credential_secret")
    return out


def _auth_type(cloud: str, config: dict, federated: bool) -> str:
    """The entry's auth type, if the suite can log its admin in with it;
    BadInput otherwise (checked before any login)."""
    auth_type = config.get("auth_type") or "password"
    if auth_type not in PASSWORD_AUTH + APP_CRED_AUTH:
        raise BadInput(f"cloud {cloud!r}: auth_type {auth_type!r} is not "
                       "supported; the suite logs its admin in with a "
                       f"password ({', '.join(PASSWORD_AUTH)}) or an "
                       f"application credential ({', '.join(APP_CRED_AUTH)})")
    if auth_type in APP_CRED_AUTH and federated:
        raise BadInput(f"cloud {cloud!r}: an application credential is "
                       "known to the Keystone that issued it only; a "
                       "federated edge has its own (use password auth for "
                       "the admin)")
    return auth_type


def _tls(cloud: str, config: dict) -> dict[str, str]:
    """[identity] TLS options from a clouds.yaml entry: `cacert` (a CA
    bundle) and `verify`. Client certificates (`cert`, `key`) are refused:
    Tempest's HTTP client cannot present one."""
    if config.get("cert") or config.get("key"):
        raise BadInput(f"cloud {cloud!r}: client certificates (cert, key) "
                       "are not supported: Tempest's HTTP client cannot "
                       "present one")
    out = {}
    if config.get("cacert"):
        ca = Path(config["cacert"]).expanduser()
        if not ca.is_file():
            raise BadInput(f"cloud {cloud!r}: cacert {ca}: no such file")
        out["ca_certificates_file"] = str(ca.resolve())
    if str(config.get("verify", True)).lower() in ("false", "0", "no"):
        out["disable_ssl_certificate_validation"] = "true"
    return out


def _check_links(toxiproxy_url: str, links: list[str],
                 site_map: str) -> None:
    """The toxiproxy answers and carries every link the site map names
    (proxies named ``<link>.<anything>``); one-line errors otherwise."""
    from edge_refarch.validation.faults.faults import Links
    from edge_refarch.validation.faults.toxiproxy_api import Toxiproxy
    known = Links.discover(Toxiproxy(toxiproxy_url)).mapping
    for link in links:
        if link not in known:
            raise BadInput(
                f"{site_map}: link {link!r} has no proxy at {toxiproxy_url}"
                f" (links there: {', '.join(sorted(known)) or 'none'}; a "
                "link's proxies are named '<link>.<anything>')")


def link_services(model, deployment: str
                  ) -> dict[tuple[str, str], set[str]]:
    """(from tier, to tier) -> the services (model.yaml names) whose
    traffic crosses a link between sites of those tiers in `deployment`:
    the model's flows and each site's catalog, as the how-to's link-flow
    tables list them."""
    from edge_refarch.architecture.topology import Topology
    topo = Topology(model, deployment)
    out: dict[tuple[str, str], set[str]] = {}
    for p in topo.proxies:
        out.setdefault((topo.sites[p.src].tier, topo.sites[p.dst].tier),
                       set()).add(p.service)
    return out


def _endpoint(catalog: list[dict], kind: str, region: str) -> str | None:
    """host:port of the public `kind` endpoint of `region` in a token's
    catalog (Keystone API v3 token format), None when it has none."""
    from edge_refarch.validation.faults.toxiproxy_api import hostport
    for svc in catalog:
        if svc.get("type") != kind:
            continue
        for ep in svc.get("endpoints", []):
            if ep.get("interface") == "public" and region in (
                    ep.get("region_id"), ep.get("region")):
                return hostport(ep["url"])
    return None


def _same_hostport(a: str, b: str) -> bool:
    """Whether two host:port strings name the same socket (names
    resolved)."""
    import socket
    (ha, pa), (hb, pb) = (x.rsplit(":", 1) for x in (a, b))
    if pa != pb:
        return False
    if ha == hb:
        return True
    try:
        ips = [{i[4][0] for i in socket.getaddrinfo(h, int(pa))}
               for h in (ha, hb)]
    except (OSError, ValueError):
        return False
    return bool(ips[0] & ips[1])


def _tiers(model, deployment: str, root: str,
           specs: dict[str, dict]) -> dict[str, str]:
    """The model's tier of each site of a site map: the root's, an edge's
    (parent: the root, or none given) or a far edge's (parent: an edge)."""
    from edge_refarch.architecture.topology import Topology
    topo = Topology(model, deployment)
    by_parent = {}
    for site in topo.sites.values():
        if site.parent:
            parent_tier = topo.sites[site.parent].tier
            by_parent.setdefault(parent_tier, site.tier)
    edge = by_parent.get(topo.root.tier)
    out = {}
    for name, spec in specs.items():
        parent = spec.get("parent")
        if name == root:
            out[name] = topo.root.tier
        elif parent in (None, root):
            out[name] = edge
        else:
            out[name] = by_parent.get(edge, edge)
    return out


def check_link_services(model, deployment: str, site_map: str,
                        toxiproxy_url: str, tiers: dict[str, str],
                        parents: dict[str, str], links: dict[str, str],
                        regions: dict[str, str],
                        catalogs: dict[str, list[dict]],
                        offered: set[str]) -> list[str]:
    """Every API whose traffic the model sends over a site's link goes
    through one of that link's proxies: where the sending site's catalog
    lists the API of the other site (in the other site's region when the
    sender runs that service too, else in the sender's own region), that
    host:port is the listen address of a proxy ``<link>.*``. Without this,
    cutting the link would leave that path open and a partition
    requirement could pass without being tried.

    `tiers`, `parents`, `links`, `regions`: per site of the site map;
    `catalogs`: each site's token catalog. Returns the flows no catalog
    can check (databases and queues; an API the sending site's catalog
    does not list), as "site -> site service". Raises BadInput naming the
    first API that bypasses the link's proxies."""
    from edge_refarch.architecture.topology import Topology
    from edge_refarch.validation.faults.toxiproxy_api import Toxiproxy
    proxies = Toxiproxy(toxiproxy_url).proxies()
    flows = link_services(model, deployment)
    runs: dict[str, set[str]] = {}
    for s in Topology(model, deployment).sites.values():
        runs.setdefault(s.tier, set()).update(s.services)
    unchecked = []
    for site, link in links.items():
        parent = parents.get(site)
        if not link or not parent:
            continue
        listens = [v.get("listen", "") for name, v in proxies.items()
                   if name.startswith(f"{link}.")]
        for src, dst in ((site, parent), (parent, site)):
            for svc in sorted(flows.get((tiers[src], tiers[dst]), ())):
                kind = model.services[svc].catalog_type
                if kind and svc not in offered:
                    continue
                # A site that runs the service itself finds the other
                # site's in that site's region (glance-download's region);
                # one that does not uses its own region, whose endpoint
                # is the other site's service (one control plane).
                region = regions[dst] if svc in runs.get(tiers[src], ()) \
                    else regions[src]
                view = _endpoint(catalogs.get(src, []), kind,
                                 region) if kind else None
                if view is None:
                    unchecked.append(f"{src} -> {dst} {svc}")
                elif not any(_same_hostport(view, x) for x in listens):
                    raise BadInput(
                        f"{site_map}: {src} reaches {dst}'s {kind} API at "
                        f"{view} (its catalog, region {region}), which "
                        f"no proxy of link {link!r} listens on: a cut of "
                        "the link would leave that path open (the link's "
                        "proxies listen on: "
                        f"{', '.join(sorted(set(listens))) or 'none'})")
    return unchecked


def for_cloud(model, clouds_yaml: str, site_map: str, deployment: str,
              toxiproxy_url: str | None, path: Path,
              say=lambda message: None) -> Path:
    """tempest.conf for any deployment, discovered from its catalogs.

    `clouds_yaml` is the only clouds file read (OS_CLIENT_CONFIG_FILE is
    ignored). With `toxiproxy_url`, every link must be there and carry the
    model's API flows (check_link_services); the flows no catalog can
    check are said through `say`. Raises BadInput (exit 2) for a bad site
    map, cloud entry or link, UserError (exit 1) for a cloud that cannot
    be reached."""
    dm = model.deployment_model(deployment)
    root, specs, idp_uris = _read_site_map(site_map, deployment,
                                           bool(dm.federation))
    if not Path(clouds_yaml).is_file():
        raise BadInput(f"{clouds_yaml}: no such clouds file")
    try:
        entries = (yaml.safe_load(Path(clouds_yaml).read_text())
                   or {}).get("clouds") or {}
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise BadInput(f"{clouds_yaml}: not a clouds.yaml: "
                       f"{readable_cause(str(exc), 200)}") from None
    root_cloud = specs[root].get("cloud", root)
    if root_cloud not in entries:
        raise BadInput(f"{site_map}: cloud {root_cloud!r} (site {root}) is "
                       f"not in {clouds_yaml}")
    # The admin's auth type, before any login.
    _auth_type(root_cloud, entries[root_cloud], bool(dm.federation))
    links = [spec["link"] for spec in specs.values() if spec.get("link")]
    if toxiproxy_url:
        _check_links(toxiproxy_url, links, site_map)
    sites, catalogs, (admin, tls, types) = _log_in(
        clouds_yaml, root, specs, bool(dm.federation))
    edges = [s for s in sites if s != root
             and sites[s].get("parent") in (None, root)]
    if not edges:
        raise BadInput(f"{site_map}: name at least one edge site")
    # What the cloud offers: the service types of the root's catalog.
    offered = {svc for svc, spec in model.services.items()
               if spec.catalog_type in types}
    compute_sites = [n for n, spec in specs.items() if spec.get("compute")]
    if toxiproxy_url:
        unchecked = check_link_services(
            model, deployment, site_map, toxiproxy_url,
            _tiers(model, deployment, root, specs),
            {n: spec.get("parent") or (None if n == root else root)
             for n, spec in specs.items()},
            {n: spec.get("link") for n, spec in specs.items()},
            {n: site["region"] for n, site in sites.items()},
            catalogs, offered)
        if unchecked:
            say("not checked from a catalog (check your proxies by hand): "
                + "; ".join(dict.fromkeys(unchecked)))
    if "nova" in offered and not compute_sites:
        raise BadInput(f"{site_map}: the cloud has a compute service; mark "
                       "the sites with compute hosts 'compute: true'")
    if compute_sites and "nova" not in offered:
        raise BadInput(f"{site_map}: sites marked 'compute: true' but the "
                       "cloud's catalog has no compute service")
    zones = {n: str(spec["zone"]) for n, spec in specs.items()
             if spec.get("zone") and str(spec["zone"]) != n}
    budget = next(iter(model.links.values())).budget_rtt_ms
    cp = _conf(deployment, root, edges[0], edges[1] if len(edges) > 1
               else None, sites, admin, toxiproxy_url,
               "/tmp/edge-refarch-faults",
               "glance-download" in dm.features.get("edge", {}).get(
                   "glance_import_methods", []), budget, 0.0,
               compute_sites, idp_uris, offered)
    cp["identity"].update(tls)
    if zones:
        cp["edge_refarch"]["site_zones"] = ",".join(
            f"{n}:{z}" for n, z in zones.items())
    cp["edge_refarch"]["site_clouds"] = ",".join(
        f"{n}:{spec.get('cloud', n)}" for n, spec in specs.items())
    cp["edge_refarch"]["clouds_file"] = str(Path(clouds_yaml).resolve())
    return _write(cp, path)


def _read_site_map(site_map: str, deployment: str, federated: bool
                   ) -> tuple[str, dict[str, dict], dict[str, str]]:
    """(root, site -> spec, site -> idp_uri) of the operator's site map.
    Raises BadInput (one line) for a file that cannot be read or does not
    have the documented shape."""
    try:
        smap = yaml.safe_load(Path(site_map).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise BadInput(f"{site_map}: cannot read the site map: "
                       f"{getattr(exc, 'strerror', None) or exc}") from None
    if not isinstance(smap, dict) or "root" not in smap \
            or not isinstance(smap.get("sites"), dict):
        raise BadInput(f"{site_map}: expected 'root: SITE' and 'sites: "
                       "{SITE: {cloud: NAME, link: LINK, parent: SITE, "
                       "compute: BOOL, zone: AZ, idp_uri: URI}}'")
    root = smap["root"]
    if root not in smap["sites"]:
        raise BadInput(f"{site_map}: root site {root!r} is not in sites")
    specs = {n: (spec or {}) for n, spec in smap["sites"].items()}
    idp_uris = {n: spec["idp_uri"] for n, spec in specs.items()
                if spec.get("idp_uri")}
    if federated and not idp_uris:
        raise BadInput(f"{site_map}: model {deployment!r} federates "
                       "identity: give each site the identity provider's "
                       "URI as a client there reaches it (idp_uri)")
    return root, specs, idp_uris


def _log_in(clouds_yaml: str, root: str, specs: dict[str, dict],
            federated: bool):
    """Log in at every site's cloud: (site -> {uri, region, link,
    parent}, site -> its catalog, (the admin's tempest options, the
    root's TLS options, the service types of the root's catalog)).
    Raises UserError when a cloud cannot be reached or has no identity
    endpoint in its region, BadInput when its entry names no region."""
    from edge_refarch.validation.testbed.smoke import connect
    sites, admin, tls, types = {}, None, {}, set()
    catalogs: dict[str, list[dict]] = {}
    for name, spec in specs.items():
        cloud = spec.get("cloud", name)
        conn = connect(clouds_yaml, cloud)
        config = conn.config.config
        if name == root:
            tls = _tls(cloud, config)
        try:
            conn.authorize()
            region = conn.config.get_region_name() or ""
            uri = conn.session.get_endpoint(service_type="identity",
                                            interface="public",
                                            region_name=region or None)
            access = conn.session.auth.get_access(conn.session)
        except Exception as exc:  # noqa: BLE001 - reported in one line
            raise UserError(f"cloud {cloud!r} (site {name}): cannot "
                            f"authenticate or read its catalog: "
                            f"{_first_line(exc)}") from None
        catalogs[name] = access.service_catalog.catalog or []
        if name == root:
            admin = _admin(cloud, config, access, federated)
            types = {svc.get("type") for svc in
                     access.service_catalog.catalog}
        if not uri:
            raise UserError(f"cloud {cloud!r}: no identity endpoint in "
                            f"region {region!r} of its catalog")
        if not region:
            raise BadInput(f"cloud {cloud!r}: set region_name in "
                           f"{clouds_yaml}")
        uri = uri.rstrip("/")
        sites[name] = {"uri": uri if uri.endswith("/v3") else uri + "/v3",
                       "region": region, "link": spec.get("link"),
                       "parent": spec.get("parent")}
    return sites, catalogs, (admin, tls, types)


def _first_line(exc: Exception) -> str:
    return readable_cause(str(exc).strip() or type(exc).__name__, 300)
