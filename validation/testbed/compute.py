"""Compute in the testbed: RabbitMQ, Placement, the Neutron API, Nova,
Heat and the telemetry that drives autoscaling (Gnocchi, Aodh).

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
from edge_refarch.validation.testbed.aodh import Aodh, AodhWorker
from edge_refarch.validation.testbed.gnocchi import Gnocchi, GnocchiMetricd
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
        self.state = state
        self.venv = venv
        self.pw = pw
        self.epmd_address, self.epmd_port = epmd_address, epmd_port
        self.epmd: Epmd | None = None
        self.rabbits: dict[str, RabbitMQ] = {}
        self.placements: dict[str, Placement] = {}
        self.neutrons: dict[str, Neutron] = {}
        self.apis: dict[str, NovaApi] = {}
        self.heats: dict[str, Heat] = {}
        self.gnocchis: dict[str, Gnocchi] = {}
        self.aodhs: dict[str, Aodh] = {}
        self.services: list[NovaService] = []
        # Workers that report to no API: Heat's engines, Gnocchi's metricd,
        # Aodh's evaluator and notifier.
        self.engines: list[HeatEngine | GnocchiMetricd | AodhWorker] = []
        self.manage: dict[str, NovaManage] = {}
        # control site -> [(cell name, transport URL, DB URL as the control
        # site sees them, the cell conductor's conf or None if local)]
        self.cells: dict[str, list[tuple[str, str, str, NovaConf | None]]] = {}
        # control site -> compute hosts it manages
        self.hosts: dict[str, list[str]] = {}
        self.databases: dict[str, list[tuple[str, str, str]]] = {}
        # A super-conductor at the control site, cell conductors at the
        # cells (centralized), or one local cell per control site.
        self.super_mode = any("nova-cell" in s.services
                              for s in topo.sites.values())
        for site in topo.sites.values():
            self._add_site(site)

    # -- per site ----------------------------------------------------------
    def _health(self, service: str) -> str:
        return self.topo.model.services[service].health_path

    def _add_site(self, site) -> None:
        """Every compute-side service the model places at `site`, in this
        order (a cell joins its control site's list, a compute host its
        control site's hosts)."""
        for service, add in (("rabbitmq", self._add_rabbitmq),
                             ("placement", self._add_placement),
                             ("neutron", self._add_neutron),
                             ("heat", self._add_heat),
                             ("gnocchi", self._add_gnocchi),
                             ("aodh", self._add_aodh),
                             ("nova", self._add_nova),
                             ("nova-cell", self._add_cell),
                             ("nova-compute", self._add_compute)):
            if service in site.services:
                add(site)

    def _dir(self, site) -> Path:
        return self.state / "sites" / site.name

    def _local_db(self, site) -> str | None:
        """The site's own MariaDB (host:port), if it runs one."""
        return f"{site.address}:{self.topo.service_port('mariadb')}" \
            if "mariadb" in site.services else None

    def _local_mq(self, site) -> str:
        return _mq(self.pw["rabbit"],
                   f"{site.address}:{self.topo.service_port('rabbitmq')}")

    def _keystone(self, site) -> str:
        """The Keystone `site`'s services talk to, as `site` reaches it."""
        topo = self.topo
        return f"{topo.scheme}://" + topo.address_of(
            site.name, topo.identity_site(site.name), "keystone")

    def _authtoken(self, site, user: str, region: str | None = None
                   ) -> dict[str, dict]:
        topo = self.topo
        cache = f"{site.address}:{topo.service_port('memcached')}" \
            if "memcached" in site.services else ""
        return authtoken_section(
            auth_url=self._keystone(site),
            www_authenticate_uri=topo.auth_url(site.name), username=user,
            password=self.pw[user], region=region or site.region,
            cache=cache, cache_time=topo.model.testbed.identity_cache_ttl_s,
            connect_timeout=topo.model.bounds.cross_site_timeout_s)

    def _clients(self, site) -> dict[str, dict]:
        """Nova's client sections: Placement, Neutron, Glance, Cinder."""
        return ini.merge(
            *(auth_section(sec, auth_url=self._keystone(site),
                           username="nova", password=self.pw["nova"],
                           region=site.region)
              for sec in ("placement", "neutron")),
            {"glance": {"region_name": site.region,
                        "valid_interfaces": "public"},
             "cinder": {"os_region_name": site.region}})

    def _nova_conf(self, site, name: str, host: str, **kw) -> NovaConf:
        ndir = self._dir(site) / "nova"
        return NovaConf(ndir / "etc" / f"{name}.conf", host=host, site=site,
                        state=ndir / "state", venv=self.venv,
                        log=ndir / "log" / f"{name}.log", **kw)

    def _db(self, site, db: str, user: str, password_key: str) -> None:
        """A database (name, user, password) to create at `site`."""
        self.databases.setdefault(site.name, []).append(
            (db, user, self.pw[password_key]))

    def _own_db(self, site, service: str) -> str:
        """The database named after `service` (its user too, password
        ``db_<service>``) at `site`: registered to be created, and its URL
        as the service reaches it."""
        self._db(site, service, service, f"db_{service}")
        return db_url(service, self.pw[f"db_{service}"],
                      self._local_db(site), service)

    def _add_rabbitmq(self, site) -> None:
        if self.epmd is None:
            self.epmd = Epmd(self.state, self.epmd_address, self.epmd_port)
        self.rabbits[site.name] = RabbitMQ(
            site, self._dir(site), self.topo.service_port("rabbitmq"),
            self.pw["rabbit"], self.epmd, self.topo.rabbitmq_dist_port(site))

    def _add_placement(self, site) -> None:
        self.placements[site.name] = Placement(
            site, self._dir(site), self.venv,
            self.topo.service_port("placement"),
            health_path=self._health("placement"),
            db_url=self._own_db(site, "placement"),
            authtoken=self._authtoken(site, "placement"))

    def _add_neutron(self, site) -> None:
        self.neutrons[site.name] = Neutron(
            site, self._dir(site), self.venv,
            self.topo.service_port("neutron"),
            health_path=self._health("neutron"),
            db_url=self._own_db(site, "neutron"),
            transport_url=self._local_mq(site),
            authtoken=self._authtoken(site, "neutron"))

    def _add_heat(self, site) -> None:
        topo, pw = self.topo, self.pw
        # Heat writes its stack domain's users and trusts where identity
        # is written (the DC's Keystone when the edge's reads a replica).
        writer = topo.identity_writer(site.name)
        writes = f"{topo.scheme}://" + topo.address_of(
            site.name, writer, "keystone")
        heat = self.heats[site.name] = Heat(
            site, self._dir(site), self.venv, topo.service_port("heat"),
            health_path=self._health("heat"),
            db_url=self._own_db(site, "heat"),
            transport_url=self._local_mq(site),
            authtoken=self._authtoken(site, "heat"),
            engine_authtoken=self._authtoken(site, "heat",
                                             region=writer.region),
            keystone=self._keystone(site) + "/v3", identity_writes=writes,
            password=pw["heat"],
            domain_admin_password=pw["heat_domain_admin"])
        if "heat-engine" in site.services:
            self.engines.append(HeatEngine(heat))

    def _add_gnocchi(self, site) -> None:
        gnocchi = self.gnocchis[site.name] = Gnocchi(
            site, self._dir(site), self.venv,
            self.topo.service_port("gnocchi"),
            health_path=self._health("gnocchi"),
            db_url=self._own_db(site, "gnocchi"),
            authtoken=self._authtoken(site, "gnocchi"))
        if "gnocchi-metricd" in site.services:
            self.engines.append(GnocchiMetricd(gnocchi))

    def _add_aodh(self, site) -> None:
        tb = self.topo.model.testbed
        aodh = self.aodhs[site.name] = Aodh(
            site, self._dir(site), self.venv, self.topo.service_port("aodh"),
            health_path=self._health("aodh"),
            db_url=self._own_db(site, "aodh"),
            transport_url=self._local_mq(site),
            authtoken=self._authtoken(site, "aodh"),
            credentials=service_user(self._keystone(site), "aodh",
                                     self.pw["aodh"], site.region),
            evaluation_interval=tb.alarm_evaluation_interval_s,
            ingestion_lag=2 * tb.alarm_evaluation_interval_s)
        for binary in ("aodh-evaluator", "aodh-notifier"):
            if binary in site.services:
                self.engines.append(AodhWorker(aodh, binary))

    def _add_nova(self, site) -> None:
        """The control plane: API, scheduler, (super-)conductor."""
        pw, local_db = self.pw, self._local_db(site)
        for db in ("nova_api", "nova_cell0", "nova_cell"):
            self._db(site, db, "nova", "db_nova")
        api_db = db_url("nova", pw["db_nova"], local_db, "nova_api")
        cell0 = db_url("nova", pw["db_nova"], local_db, "nova_cell0")
        own = db_url("nova", pw["db_nova"], local_db, "nova_cell")
        common = dict(transport_url=self._local_mq(site),
                      db_url=cell0 if self.super_mode else own,
                      api_db_url=api_db, clients=self._clients(site),
                      authtoken=self._authtoken(site, "nova"))
        host = f"{site.name}-control"
        api_conf = self._nova_conf(site, "nova", host, **common)
        self.apis[site.name] = NovaApi(
            site, self._dir(site), self.venv, self.topo.service_port("nova"),
            api_conf, health_path=self._health("nova"))
        for binary in ("nova-scheduler", "nova-conductor"):
            self.services.append(NovaService(
                site, self._dir(site), self.venv, binary,
                self._nova_conf(site, binary, host, **common), host))
        self.manage[site.name] = NovaManage(self.venv, api_conf,
                                            f"{site.name}.nova")
        self.cells[site.name] = [] if self.super_mode else [
            (site.name, self._local_mq(site), own, None)]
        self.hosts.setdefault(site.name, [])

    def _add_cell(self, site) -> None:
        """A cell of a control site elsewhere: its conductor here, mapped
        at the control site through that site's proxies to this one."""
        topo, pw = self.topo, self.pw
        self._db(site, "nova_cell", "nova", "db_nova")
        host = f"{site.name}-conductor"
        cell_conf = self._nova_conf(
            site, "nova-cell-conductor", host,
            transport_url=self._local_mq(site),
            db_url=db_url("nova", pw["db_nova"], self._local_db(site),
                          "nova_cell"),
            api_db_url=None, clients=self._clients(site))
        self.services.append(NovaService(
            site, self._dir(site), self.venv, "nova-conductor", cell_conf,
            host))
        seen = topo.provider(site.name, "nova").name
        self.cells[seen].append((
            site.name,
            _mq(pw["rabbit"], topo.address_of(seen, site, "rabbitmq")),
            db_url("nova", pw["db_nova"],
                   topo.address_of(seen, site, "mariadb"), "nova_cell",
                   topo.model.bounds.cross_site_timeout_s),
            cell_conf))

    def _add_compute(self, site) -> None:
        """A compute host, on its own site's queue or its parent's."""
        topo = self.topo
        mq_site = site if "rabbitmq" in site.services else \
            topo.sites[site.parent]
        mq = _mq(self.pw["rabbit"], topo.address_of(site.name, mq_site,
                                                    "rabbitmq"))
        self.services.append(NovaService(
            site, self._dir(site), self.venv, "nova-compute",
            self._nova_conf(site, "nova-compute", site.name,
                            transport_url=mq, db_url=None, api_db_url=None,
                            clients=self._clients(site), compute=True),
            site.name))
        control = topo.provider(site.name, "nova")
        self.hosts.setdefault(control.name, []).append(site.name)

    @property
    def wsgi(self) -> list[GunicornApi]:
        return [*self.placements.values(), *self.neutrons.values(),
                *self.apis.values(), *self.heats.values(),
                *self.gnocchis.values(), *self.aodhs.values()]

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
