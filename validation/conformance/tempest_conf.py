"""Write tempest.conf for the conformance suite.

From the testbed (its topology), or from any cloud: a clouds.yaml with one
cloud per site and a site map naming them, whose regions and identity
endpoints are discovered from each site's catalog.
"""

from __future__ import annotations

import configparser
import shlex
import sys
from pathlib import Path

import yaml

from edge_refarch.validation.errors import BadInput, UserError


def _conf(model: str, root: str, edge: str, other_edge: str | None,
          sites: dict[str, dict], admin: dict, toxiproxy_url: str | None,
          fault_state_dir: str, glance_download: bool,
          budget_rtt_ms: float,
          latency_overshoot_ms: float = 0.0,
          compute_sites: list[str] | None = None,
          idp_uris: dict[str, str] | None = None,
          image_service: bool = True) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None)
    cp["DEFAULT"] = {"log_file": "tempest.log", "use_stderr": "false"}
    cp["auth"] = {
        "admin_username": admin["username"],
        "admin_password": admin["password"],
        "admin_project_name": admin["project_name"],
        "admin_domain_name": admin.get("user_domain_name", "Default"),
        "use_dynamic_credentials": "false",
    }
    cp["identity"] = {"uri_v3": sites[root]["uri"],
                      "auth_version": "v3",
                      "region": sites[root]["region"]}
    cp["identity-feature-enabled"] = {"api_v2": "false"}
    cp["image"] = {"region": sites[root]["region"], "build_timeout": "120"}
    cp["service_available"] = {"glance": str(image_service).lower(),
                               "nova": str(bool(compute_sites)).lower(),
                               "neutron": "false", "cinder": "false",
                               "swift": "false", "edge_refarch": "true"}
    er = {
        "deployment_model": model, "root_site": root, "edge_site": edge,
        "site_identity_uris": ",".join(
            f"{s}:{v['uri']}" for s, v in sites.items()),
        "site_regions": ",".join(
            f"{s}:{v['region']}" for s, v in sites.items()),
        "site_links": ",".join(f"{s}:{v['link']}" for s, v in sites.items()
                               if v.get("link")),
        "fault_state_dir": fault_state_dir,
        "latency_budget_rtt_ms": f"{budget_rtt_ms:g}",
        "latency_overshoot_ms": f"{latency_overshoot_ms:g}",
        "compute_sites": ",".join(compute_sites or []),
        "site_parents": ",".join(f"{s}:{v['parent']}"
                                 for s, v in sites.items()
                                 if v.get("parent")),
    }
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
               any("glance" in s.services for s in topo.sites.values()))
    # The testbed's own rotation procedure (keys.py): rotate at the DC,
    # distribute over the links.
    cp["edge_refarch"]["key_rotation_command"] = shlex.join(
        [sys.executable, "-m", "edge_refarch.validation.cli", "-q",
         "testbed", "keys", "rotate"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        cp.write(fh)
    return path


def for_cloud(model, clouds_yaml: str, site_map: str, deployment: str,
              toxiproxy_url: str | None, path: Path) -> Path:
    """tempest.conf for any deployment, discovered from its catalogs."""
    from edge_refarch.validation.testbed.smoke import connect
    try:
        smap = yaml.safe_load(Path(site_map).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise BadInput(f"{site_map}: cannot read the site map: "
                       f"{getattr(exc, 'strerror', None) or exc}") from None
    if not isinstance(smap, dict) or "root" not in smap \
            or not isinstance(smap.get("sites"), dict):
        raise BadInput(f"{site_map}: expected 'root: SITE' and 'sites: "
                       "{SITE: {cloud: NAME, link: LINK, parent: SITE, "
                       "compute: BOOL, idp_uri: URI}}'")
    root = smap["root"]
    if root not in smap["sites"]:
        raise BadInput(f"{site_map}: root site {root!r} is not in sites")
    dm = model.deployment_model(deployment)
    idp_uris = {n: spec["idp_uri"] for n, spec in smap["sites"].items()
                if (spec or {}).get("idp_uri")}
    if dm.federation and not idp_uris:
        raise BadInput(f"{site_map}: model {deployment!r} federates "
                       "identity: give each site the identity provider's "
                       "URI as a client there reaches it (idp_uri)")
    sites, admin = {}, None
    for name, spec in smap["sites"].items():
        cloud = (spec or {}).get("cloud", name)
        conn = connect(clouds_yaml, cloud)
        try:
            conn.authorize()
            region = conn.config.get_region_name() or ""
            uri = conn.session.get_endpoint(service_type="identity",
                                            interface="public",
                                            region_name=region or None)
        except Exception as exc:  # noqa: BLE001 - reported in one line
            raise UserError(f"cloud {cloud!r} (site {name}): cannot "
                            f"authenticate or read its catalog: "
                            f"{str(exc).splitlines()[0][:200]}") from None
        if not uri:
            raise UserError(f"cloud {cloud!r}: no identity endpoint in "
                            f"region {region!r} of its catalog")
        if not region:
            raise BadInput(f"cloud {cloud!r}: set region_name in "
                           f"{clouds_yaml}")
        uri = uri.rstrip("/")
        sites[name] = {"uri": uri if uri.endswith("/v3") else uri + "/v3",
                       "region": region, "link": (spec or {}).get("link"),
                       "parent": (spec or {}).get("parent")}
        if name == root:
            admin = conn.config.config["auth"]
    edges = [s for s in sites if s != root
             and sites[s].get("parent") in (None, root)]
    if not edges:
        raise BadInput(f"{site_map}: name at least one edge site")
    budget = next(iter(model.links.values())).budget_rtt_ms
    cp = _conf(deployment, root, edges[0], edges[1] if len(edges) > 1
               else None, sites, admin, toxiproxy_url,
               "/tmp/edge-refarch-faults",
               "glance-download" in dm.features.get("edge", {}).get(
                   "glance_import_methods", []), budget, 0.0,
               [n for n, spec in smap["sites"].items()
                if (spec or {}).get("compute")], idp_uris)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        cp.write(fh)
    return path
