"""Compute in the testbed: RabbitMQ, Placement, the Neutron API and Nova.

Where each runs comes from the model (``deployment_models.*.sites``); the
addresses every process uses for another site's service come from the
topology, so cross-site traffic goes through the link proxies:

* centralized: the DC runs the only Nova API, scheduler and super-conductor
  (cell0 and the API database), Placement and the Neutron API; each edge
  site is a Nova cell (its database, queue and cell conductor at the edge,
  mapped in the DC through the DC's proxies to the edge); cloudlet compute
  hosts join their parent edge's cell.
* distributed: every site with ``nova`` runs the whole control plane with
  one local cell; cloudlet compute hosts join their parent edge's cell.

Compute hosts use ``fake.FakeDriverWithoutFakeNodes`` (the other fake
drivers refuse to restart). Servers boot with ``networks: none``
(microversion >= 2.37): Nova does not call Neutron at create, but it does on
GET /servers and DELETE, so a real Neutron API answers (no agents).
"""

from __future__ import annotations

from pathlib import Path

from edge_refarch.validation.testbed import ini
from edge_refarch.validation.testbed.gunicorn import GunicornApi
from edge_refarch.validation.testbed.heat import Heat, HeatEngine
from edge_refarch.validation.testbed.keystone import (
    authtoken_section,
    service_user,
)
from edge_refarch.validation.testbed.mariadb import db_url
from edge_refarch.validation.testbed.neutron import Neutron
from edge_refarch.validation.testbed.nova import (
    NovaApi,
    NovaConf,
    NovaManage,
    NovaService,
)
from edge_refarch.validation.testbed.placement import Placement
from edge_refarch.validation.testbed.rabbitmq import Epmd, RabbitMQ


def auth_section(section: str, *, auth_url: str, username: str,
                 password: str, region: str) -> dict[str, dict]:
    """A keystoneauth client section (Nova's [placement], [neutron]) as
    ini sections: the service user, public endpoints of `region`."""
    return {section: {
        **service_user(auth_url, username, password, region),
        "valid_interfaces": "public",
    }}


def _mq(password: str, hostport: str) -> str:
    return f"rabbit://nova:{password}@{hostport}/"


class ComputePlan:
    """Every compute-side component of a topology, and how to set it up."""

    def __init__(self, topo, state: Path, venv: Path, pw: dict[str, str],
                 epmd_address: str, epmd_port: int):
        self.topo = topo
        self.venv = venv
        self.pw = pw
        self.epmd: Epmd | None = None
        self.rabbits: dict[str, RabbitMQ] = {}
        self.placements: dict[str, Placement] = {}
        self.neutrons: dict[str, Neutron] = {}
        self.apis: dict[str, NovaApi] = {}
        self.heats: dict[str, Heat] = {}
        self.services: list[NovaService] = []
        self.engines: list[HeatEngine] = []
        self.manage: dict[str, NovaManage] = {}
        # control site -> [(cell name, transport URL, DB URL as the control
        # site sees them, the cell conductor's conf or None if local)]
        self.cells: dict[str, list[tuple[str, str, str, NovaConf | None]]] = {}
        # control site -> compute hosts it manages
        self.hosts: dict[str, list[str]] = {}
        self.databases: dict[str, list[tuple[str, str, str]]] = {}
        super_mode = any("nova-cell" in s.services
                         for s in topo.sites.values())
        port = topo.service_port

        def health(service: str) -> str:
            return topo.model.services[service].health_path
        token_cache_time = topo.model.testbed.identity_cache_ttl_s
        for site in topo.sites.values():
            svcs = site.services
            sdir = state / "sites" / site.name
            local_db = f"{site.address}:{port('mariadb')}" \
                if "mariadb" in svcs else None
            cache = f"{site.address}:{port('memcached')}" \
                if "memcached" in svcs else ""
            ident = topo.identity_site(site.name)
            ks = f"{topo.scheme}://" + topo.address_of(site.name, ident,
                                                        "keystone")
            www = topo.auth_url(site.name)

            def authtoken(user, site=site, ks=ks, www=www, cache=cache,
                          region=None):
                return authtoken_section(
                    auth_url=ks, www_authenticate_uri=www, username=user,
                    password=pw[user], region=region or site.region,
                    cache=cache, cache_time=token_cache_time,
                    connect_timeout=topo.model.bounds.cross_site_timeout_s)

            clients = ini.merge(
                *(auth_section(sec, auth_url=ks, username="nova",
                               password=pw["nova"], region=site.region)
                  for sec in ("placement", "neutron")),
                {"glance": {"region_name": site.region,
                            "valid_interfaces": "public"},
                 "cinder": {"os_region_name": site.region}})
            local_mq = _mq(pw["rabbit"], f"{site.address}:"
                                         f"{port('rabbitmq')}")
            dbs = self.databases.setdefault(site.name, [])
            if "rabbitmq" in svcs:
                if self.epmd is None:
                    self.epmd = Epmd(state, epmd_address, epmd_port)
                self.rabbits[site.name] = RabbitMQ(
                    site, sdir, port("rabbitmq"), pw["rabbit"], self.epmd,
                    topo.rabbitmq_dist_port(site))
            if "placement" in svcs:
                dbs.append(("placement", "placement", pw["db_placement"]))
                self.placements[site.name] = Placement(
                    site, sdir, venv, port("placement"),
                    health_path=health("placement"),
                    db_url=db_url("placement", pw["db_placement"], local_db,
                               "placement"),
                    authtoken=authtoken("placement"))
            if "neutron" in svcs:
                dbs.append(("neutron", "neutron", pw["db_neutron"]))
                self.neutrons[site.name] = Neutron(
                    site, sdir, venv, port("neutron"),
                    health_path=health("neutron"),
                    db_url=db_url("neutron", pw["db_neutron"], local_db,
                               "neutron"),
                    transport_url=local_mq, authtoken=authtoken("neutron"))
            if "heat" in svcs:
                dbs.append(("heat", "heat", pw["db_heat"]))
                root = topo.root
                writes = f"{topo.scheme}://" + topo.address_of(
                    site.name, root, "keystone")
                self.heats[site.name] = Heat(
                    site, sdir, venv, port("heat"),
                    health_path=health("heat"),
                    db_url=db_url("heat", pw["db_heat"], local_db, "heat"),
                    transport_url=local_mq, authtoken=authtoken("heat"),
                    engine_authtoken=authtoken("heat", region=root.region),
                    keystone=ks + "/v3", identity_writes=writes,
                    password=pw["heat"],
                    domain_admin_password=pw["heat_domain_admin"])
                if "heat-engine" in svcs:
                    self.engines.append(HeatEngine(self.heats[site.name]))
            ndir = sdir / "nova"

            def conf(name, host, site=site, ndir=ndir, **kw):
                return NovaConf(ndir / "etc" / f"{name}.conf", host=host,
                                site=site, state=ndir / "state", venv=venv,
                                log=ndir / "log" / f"{name}.log", **kw)

            if "nova" in svcs:
                for db in ("nova_api", "nova_cell0", "nova_cell"):
                    dbs.append((db, "nova", pw["db_nova"]))
                api_db = db_url("nova", pw["db_nova"], local_db, "nova_api")
                cell0 = db_url("nova", pw["db_nova"], local_db, "nova_cell0")
                own = db_url("nova", pw["db_nova"], local_db, "nova_cell")
                main_db = cell0 if super_mode else own
                common = dict(transport_url=local_mq, db_url=main_db,
                              api_db_url=api_db, clients=clients,
                              authtoken=authtoken("nova"))
                host = f"{site.name}-control"
                api_conf = conf("nova", host, **common)
                self.apis[site.name] = NovaApi(
                    site, sdir, venv, port("nova"), api_conf,
                    health_path=health("nova"))
                for binary in ("nova-scheduler", "nova-conductor"):
                    self.services.append(NovaService(
                        site, sdir, venv, binary,
                        conf(binary, host, **common), host))
                self.manage[site.name] = NovaManage(venv, api_conf,
                                                    f"{site.name}.nova")
                self.cells[site.name] = [] if super_mode else [
                    (site.name, local_mq, own, None)]
                self.hosts.setdefault(site.name, [])
            if "nova-cell" in svcs:
                dbs.append(("nova_cell", "nova", pw["db_nova"]))
                cell_conf = conf("nova-cell-conductor",
                                 f"{site.name}-conductor",
                                 transport_url=local_mq,
                                 db_url=db_url("nova", pw["db_nova"], local_db,
                                            "nova_cell"),
                                 api_db_url=None, clients=clients)
                self.services.append(NovaService(
                    site, sdir, venv, "nova-conductor", cell_conf,
                    f"{site.name}-conductor"))
                control = topo.provider(site.name, "nova")
                seen = control.name
                self.cells[seen].append((
                    site.name,
                    _mq(pw["rabbit"], topo.address_of(seen, site,
                                                      "rabbitmq")),
                    db_url("nova", pw["db_nova"],
                        topo.address_of(seen, site, "mariadb"),
                        "nova_cell", topo.model.bounds.cross_site_timeout_s),
                    cell_conf))
            if "nova-compute" in svcs:
                mq_site = site if "rabbitmq" in svcs else \
                    topo.sites[site.parent]
                mq = _mq(pw["rabbit"], topo.address_of(site.name, mq_site,
                                                       "rabbitmq"))
                self.services.append(NovaService(
                    site, sdir, venv, "nova-compute",
                    conf("nova-compute", site.name, transport_url=mq,
                         db_url=None, api_db_url=None, clients=clients,
                         compute=True), site.name))
                control = topo.provider(site.name, "nova")
                self.hosts.setdefault(control.name, []).append(site.name)

    @property
    def wsgi(self) -> list[GunicornApi]:
        return [*self.placements.values(), *self.neutrons.values(),
                *self.apis.values(), *self.heats.values()]

    def configure(self) -> None:
        """Every OpenStack service's files (RabbitMQ writes its own when it
        starts, before any of these)."""
        for comp in (*self.wsgi, *self.services, *self.engines):
            comp.write_config()
        for cells in self.cells.values():
            for _, _, _, cell_conf in cells:
                if cell_conf is not None:
                    cell_conf.write()

    def nova_schemas(self, control: str, dbs: dict, schemas) -> None:
        """API database, cell0 and every cell of one control site; from
        prepared dumps (schemas.Schemas) when there are any."""
        manage = self.manage[control]
        site = self.topo.sites[control]
        db = dbs[control]
        local = any(c is None for _, _, _, c in self.cells[control])
        cached = schemas.cached("nova_api", "nova_cell0", "nova_cell")
        cell0 = db_url("nova", self.pw["db_nova"],
                       f"{site.address}:{self.topo.service_port('mariadb')}",
                    "nova_cell0")
        if cached:
            for name in ("nova_api", "nova_cell0") + (
                    ("nova_cell",) if local else ()):
                db.load(name, schemas.path(name))
        else:
            manage("api_db", "sync")
            db.dump("nova_api", schemas.path("nova_api"))
        manage("cell_v2", "map_cell0", "--database_connection", cell0)
        if not cached:
            # The main database ([database]: cell0 with a super-conductor,
            # else the site's own cell) and cell0.
            manage("db", "sync")
            db.dump("nova_cell0", schemas.path("nova_cell0"))
            if local:
                db.dump("nova_cell", schemas.path("nova_cell"))
        for name, mq, url, cell_conf in self.cells[control]:
            # exit 2: a cell with that name exists already
            manage("cell_v2", "create_cell", "--name", name,
                   "--transport-url", mq, "--database_connection", url,
                   ok=(0, 2))
            if cell_conf is not None:     # a cell database at another site
                schemas.prepare(
                    dbs[name], "nova_cell",
                    lambda c=cell_conf: manage("db", "sync", "--local_cell",
                                               conf=c))

    def discover_hosts(self, control: str) -> None:
        self.manage[control]("cell_v2", "discover_hosts")
