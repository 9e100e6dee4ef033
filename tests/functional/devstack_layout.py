"""The testbed laid out as a devstack multinode serves a region (issue 17's
foreign-cloud fixture).

devstack serves each node's APIs behind one web server on port 80, under
a path prefix per API (``http://NODE/identity``, ``/image``,
``/compute/v2.1``, ...), and names its regions ``RegionOne``,
``RegionTwo``, .... Here the centralized testbed (one control plane, at
the DC) is given that face without touching what the testbed itself uses:

- an Apache (mod_proxy) on the DC's address, port 80, serving every API of
  the DC under devstack's prefix (the APIs read the prefix from
  X-Forwarded-Prefix: ``devstack/overlay.yaml``);
- per edge site, one toxiproxy proxy on its link, listening on the edge's
  address, port 80, to that web server: the edge's WAN path, which the
  suite's partitions cut like the testbed's own proxies;
- regions ``RegionOne`` (the DC) and ``RegionTwo``, ... (the edges) in the
  catalog, each endpoint under the prefix at the address the region's
  users reach (an identity endpoint without ``/v3``, as devstack
  registers it);
- a clouds.yaml with a cloud per region (``devstack-<site>``) and the site
  map of ``doc/source/howto/devstack-multinode.rst``.

Everything is removed again when the context ends, also on failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import string
import subprocess
import time
from pathlib import Path

import yaml

from edge_refarch.validation.testbed import deps, federation, probes

HERE = Path(__file__).resolve().parent / "devstack"
OVERLAY = HERE / "overlay.yaml"
# devstack's port and path prefix of each API, by catalog type (devstack
# lib/keystone KEYSTONE_SERVICE_URI, lib/glance GLANCE_URL, lib/nova,
# lib/placement, lib/neutron and heat's devstack/lib/heat endpoints, in
# their uwsgi mode). The part after the prefix (``/v2.1``,
# ``/v1/$(project_id)s``) is the model's url_path.
PORT = 80
PREFIXES = {"identity": "/identity", "image": "/image",
            "compute": "/compute", "placement": "/placement",
            "network": "/networking", "orchestration": "/heat-api",
            # gnocchi devstack/plugin.sh: GNOCCHI_SERVICE_PREFIX in uwsgi
            # mode
            "metric": "/metric"}
# APIs devstack serves on a port of their own, not under the web server
# (aodh devstack/plugin.sh aodh_service_url: AODH_SERVICE_HOST:
# AODH_SERVICE_PORT): their URLs stay the testbed's own.
OWN_PORT = ("alarming",)
REGION_NAMES = ("RegionOne", "RegionTwo", "RegionThree", "RegionFour")
MODULES = ("mpm_event", "authz_core", "headers", "proxy", "proxy_http")
# Seconds Apache waits for an API (an image upload through it is slow).
PROXY_TIMEOUT = 300
START_TIMEOUT = 30.0


class DevstackLayout:
    """The running testbed `bed` (centralized) under devstack's layout for
    `sites` (the DC first). Attributes once entered: ``clouds`` and
    ``site_map`` (paths in `workdir`), ``regions`` (site -> region)."""

    def __init__(self, bed, sites: list[str], workdir: Path):
        self.bed, self.sites, self.workdir = bed, sites, workdir
        self.topo = bed.topology
        self.dc = self.topo.sites[sites[0]]
        self.regions = dict(zip(sites, REGION_NAMES[:len(sites)], strict=True))
        self.dir = workdir / "devstack-httpd"
        self._stack = contextlib.ExitStack()

    # -- the web server ----------------------------------------------------
    def _apis(self):
        """(catalog type, prefix, model service) of every API at the DC."""
        for svc in self.topo.model.services.values():
            if svc.catalog_type in PREFIXES and \
                    svc.name in self.dc.services:
                yield svc.catalog_type, PREFIXES[svc.catalog_type], svc

    def _write_httpd_conf(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        user = federation.apache_user()
        locations = []
        for _, prefix, svc in self._apis():
            upstream = f"http://{self.dc.address}:{svc.port}"
            locations.append(
                f"<Location {prefix}>\n"
                f"  ProxyPass {upstream}\n"
                f"  ProxyPassReverse {upstream}\n"
                f"  RequestHeader set X-Forwarded-Prefix {prefix}\n"
                f"</Location>")
        conf = self.dir / "httpd.conf"
        conf.write_text(string.Template(
            (HERE / "httpd.conf").read_text()).substitute(
            site=self.dc.name, dir=self.dir, address=self.dc.address,
            port=PORT, user_line=f"User {user}" if user else "",
            group_line=f"Group {user}" if user else "",
            load_modules=federation.apache_modules(*MODULES),
            timeout=PROXY_TIMEOUT, locations="\n".join(locations)))
        return conf

    def _start_httpd(self) -> None:
        # Apache comes with the federated variant's packages: this module
        # may run on a machine where no federated testbed ran before it.
        deps.ensure_packages("federation", print)
        conf = self._write_httpd_conf()
        with open(self.dir / "stderr.log", "w") as err:
            proc = subprocess.Popen(
                [federation.APACHE, "-DFOREGROUND", "-f", str(conf)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err, start_new_session=True)
        self._stack.callback(self._stop, proc)
        url = f"http://{self.dc.address}{PREFIXES['identity']}/v3"
        probes.wait_for("devstack web server",
                        lambda: probes.http_ok(url, timeout=5),
                        time.monotonic() + START_TIMEOUT,
                        alive=lambda: proc.poll() is None, hint=str(self.dir))

    @staticmethod
    def _stop(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)

    # -- the edges' WAN path -----------------------------------------------
    def proxy_name(self, site: str) -> str:
        """``<link>.<edge>-to-<dc>.httpd``: the how-to's proxy naming."""
        link = self.topo.link_between(site, self.dc.name)
        return f"{link.name}.{site}-to-{self.dc.name}.httpd"

    def _add_proxies(self) -> None:
        tp = self.bed.toxiproxy
        for site in self.sites[1:]:
            name = self.proxy_name(site)
            tp.ensure_proxy(name, f"{self.topo.sites[site].address}:{PORT}",
                            f"{self.dc.address}:{PORT}")
            self._stack.callback(tp.delete_proxy, name)

    # -- the catalog -------------------------------------------------------
    def url(self, site: str, catalog_type: str, svc) -> str:
        """The devstack-style URL `site`'s users have for an API."""
        path = "" if catalog_type == "identity" else svc.url_path
        return (f"http://{self.topo.sites[site].address}"
                f"{PREFIXES[catalog_type]}{path}")

    def _register(self) -> None:
        conn = self.bed.at(self.dc.name).conn
        services = {s.type: s for s in conn.identity.services()}
        for site, region in self.regions.items():
            conn.identity.create_region(id=region)
            self._stack.callback(conn.identity.delete_region, region)
            own_port = [
                (s.catalog_type, self.topo.url_of(site, self.dc, s.name))
                for s in self.topo.model.services.values()
                if s.catalog_type in OWN_PORT and s.name in self.dc.services]
            for kind, url in [(kind, self.url(site, kind, svc))
                              for kind, _, svc in self._apis()] + own_port:
                ep = conn.identity.create_endpoint(
                    service_id=services[kind].id, interface="public",
                    region_id=region, url=url)
                self._stack.callback(conn.identity.delete_endpoint, ep)

    # -- what a user writes ------------------------------------------------
    def _write_user_files(self) -> None:
        clouds = {}
        for site, region in self.regions.items():
            clouds[f"devstack-{site}"] = {
                "auth": {"auth_url": self.url(site, "identity", None),
                         "username": "admin", "project_name": "admin",
                         "password": self.bed.admin_password,
                         "user_domain_name": "Default",
                         "project_domain_name": "Default"},
                "region_name": region, "identity_api_version": 3}
        self.clouds = self.workdir / "clouds.yaml"
        self.clouds.write_text(yaml.safe_dump({"clouds": clouds}))
        self.clouds.chmod(0o600)
        sites = {self.dc.name: {"cloud": f"devstack-{self.dc.name}"}}
        for site in self.sites[1:]:
            # The testbed's availability zones are named after its sites.
            sites[site] = {"cloud": f"devstack-{site}",
                           "link": self.topo.link_between(
                               site, self.dc.name).name,
                           "compute": True, "zone": site}
        self.site_map = self.workdir / "sites.yaml"
        self.site_map.write_text(yaml.safe_dump(
            {"root": self.dc.name, "sites": sites}))

    def __enter__(self) -> DevstackLayout:
        try:
            self._start_httpd()
            self._add_proxies()
            self._register()
            self._write_user_files()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()
