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

import shutil
import socket
from pathlib import Path

from edge_refarch.validation.testbed import ini, setup_api
from edge_refarch.validation.testbed.keystone import (
    authtoken_section,
    gunicorn_conf,
)
from edge_refarch.validation.testbed.mariadb import db_url
from edge_refarch.validation.testbed.procs import run_tool

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
EPMD = "/usr/bin/epmd"
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"
DIST_PORT_BASE = 19000


def auth_section(section: str, *, auth_url: str, username: str,
                 password: str, region: str) -> dict[str, dict]:
    """A keystoneauth client section (Nova's [placement], [neutron]) as
    ini sections: the service user, public endpoints of `region`."""
    return {section: {
        "auth_type": "password",
        "auth_url": auth_url,
        "project_domain_name": "Default",
        "user_domain_name": "Default",
        "project_name": "service",
        "username": username,
        "password": password,
        "region_name": region,
        "valid_interfaces": "public",
    }}


class Epmd:
    """The Erlang port mapper that every site's RabbitMQ registers with."""

    def __init__(self, root: Path, address: str, port: int):
        self.dir = root / "epmd"
        self.address = address
        self.port = port
        self.name = "epmd"

    def argv(self) -> list[str]:
        self.dir.mkdir(parents=True, exist_ok=True)
        return [EPMD, "-address", self.address, "-port", str(self.port)]

    def healthy(self, timeout: float) -> bool:
        try:
            with socket.create_connection((self.address, self.port),
                                          timeout=timeout):
                return True
        except OSError:
            return False


class RabbitMQ:
    def __init__(self, site, root: Path, port: int, password: str,
                 epmd: Epmd):
        self.site = site
        self.dir = root / "rabbitmq"
        self.port = port
        self.password = password
        self.epmd = epmd

    @property
    def name(self) -> str:
        return f"{self.site.name}.rabbitmq"

    def write_config(self) -> None:
        for sub in ("mnesia", "log"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "rabbitmq.conf").write_text(f"""\
listeners.tcp.default = {self.site.address}:{self.port}
loopback_users = none
default_user = nova
default_pass = {self.password}
default_vhost = /
log.console = false
log.file.level = warning
""")
        (self.dir / "enabled_plugins").write_text("[].\n")

    def argv(self) -> list[str]:
        return [RABBITMQ_SERVER]

    def env(self) -> dict[str, str]:
        octets = self.site.address.replace(".", ",")
        return {
            "HOME": str(self.dir),
            "RABBITMQ_NODENAME": f"edge-refarch-{self.site.name}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": self.site.address,
            "RABBITMQ_NODE_PORT": str(self.port),
            "ERL_EPMD_ADDRESS": self.epmd.address,
            "ERL_EPMD_PORT": str(self.epmd.port),
            # One per node: each registers its port with the shared epmd.
            # Below the proxy ports and the kernel's ephemeral range (32768
            # and up), where another socket may already hold the port:
            # seen once as dist_port_already_used at 46002.
            "RABBITMQ_DIST_PORT": str(DIST_PORT_BASE + self.site.number),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir /
                                                 "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_PID_FILE": str(self.dir / "rabbit.pid"),
            # Erlang distribution on the site's own address; our epmd.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                f"-kernel inet_dist_use_interface {{{octets}}} "
                "-start_epmd false",
        }

    def healthy(self, timeout: float) -> bool:
        """An AMQP 0-9-1 handshake gets Connection.Start back."""
        try:
            with socket.create_connection((self.site.address, self.port),
                                          timeout=timeout) as s:
                s.settimeout(timeout)
                s.sendall(AMQP_HEADER)
                return s.recv(8)[:1] == b"\x01"
        except OSError:
            return False


class _Wsgi:
    """A WSGI API served by gunicorn from the site's address."""

    app = ""
    env_prefix = ""
    project = ""
    workers = 1

    def __init__(self, site, root: Path, venv: Path, port: int):
        self.site = site
        self.dir = root / self.project
        self.etc = self.dir / "etc"
        self.logdir = self.dir / "log"
        self.venv = venv
        self.port = port

    @property
    def name(self) -> str:
        return f"{self.site.name}.{self.project}"

    @property
    def url(self) -> str:
        return f"{self.site.scheme}://{self.site.address}:{self.port}"

    def _gunicorn(self) -> None:
        gunicorn_conf(self.dir / "gunicorn.conf.py", self.app,
                      f"{self.site.address}:{self.port}", self.workers,
                      self.logdir, preload=False, tls=self.site.tls)

    def argv(self) -> list[str]:
        return [str(self.venv / "bin" / "gunicorn")]

    def env(self) -> dict[str, str]:
        return {f"OS_{self.env_prefix}_CONFIG_DIR": str(self.etc),
                "PYTHONWARNINGS": "ignore"}


class Placement(_Wsgi):
    app = "placement.wsgi.api:application"
    env_prefix = "PLACEMENT"
    project = "placement"

    def __init__(self, site, root, venv, port, *, db_url: str,
                 authtoken: ini.Sections):
        super().__init__(site, root, venv, port)
        self.db_url = db_url
        self.authtoken = authtoken

    def write_config(self) -> None:
        self.etc.mkdir(parents=True, exist_ok=True)
        ini.write(self.etc / "placement.conf", ini.merge({
            "DEFAULT": {"log_file": self.logdir / "placement.log"},
            "api": {"auth_strategy": "keystone"},
            "placement_database": {"connection": self.db_url,
                                   "max_retries": -1},
        }, self.authtoken), ini.header(self.site.name, "placement"))
        self._gunicorn()

    def db_sync(self) -> None:
        run_tool([str(self.venv / "bin" / "placement-manage"), "--config-file",
              str(self.etc / "placement.conf"), "db", "sync"],
             f"{self.name}: placement-manage db sync")


class Neutron(_Wsgi):
    """The Neutron API only (ML2, no agents, no RPC workers)."""

    app = "neutron.wsgi.api:application"
    env_prefix = "NEUTRON"
    project = "neutron"

    def __init__(self, site, root, venv, port, *, db_url: str,
                 transport_url: str, authtoken: ini.Sections):
        super().__init__(site, root, venv, port)
        self.db_url = db_url
        self.transport_url = transport_url
        self.authtoken = authtoken

    def write_config(self) -> None:
        (self.dir / "state").mkdir(parents=True, exist_ok=True)
        self.etc.mkdir(parents=True, exist_ok=True)
        self.logdir.mkdir(parents=True, exist_ok=True)
        state = self.dir / "state"
        ini.write(self.etc / "neutron.conf", ini.merge({
            "DEFAULT": {
                "core_plugin": "ml2",
                "service_plugins": "",
                "auth_strategy": "keystone",
                "transport_url": self.transport_url,
                "api_paste_config":
                    self.venv / "etc" / "neutron" / "api-paste.ini",
                "state_path": state,
                "host": self.site.name,
                "log_file": self.logdir / "neutron-api.log",
                "notify_nova_on_port_status_changes": False,
                "notify_nova_on_port_data_changes": False,
            },
            "database": {"connection": self.db_url, "max_retries": -1},
            "oslo_concurrency": {"lock_path": state / "locks"},
        }, self.authtoken), ini.header(self.site.name, "neutron"))
        ini.write(self.etc / "ml2_conf.ini", {
            "ml2": {"type_drivers": ["flat", "vxlan"],
                    "tenant_network_types": "vxlan",
                    "mechanism_drivers": "openvswitch",
                    "extension_drivers": "port_security"},
            "ml2_type_flat": {"flat_networks": "physnet1"},
            "ml2_type_vxlan": {"vni_ranges": "1:1000"},
            "securitygroup": {"firewall_driver": "noop"},
        }, ini.header(self.site.name, "neutron"))
        self._gunicorn()

    def env(self) -> dict[str, str]:
        return {**super().env(),
                "OS_NEUTRON_CONFIG_FILES": "neutron.conf;ml2_conf.ini"}

    def db_sync(self) -> None:
        run_tool([str(self.venv / "bin" / "neutron-db-manage"),
              "--config-file", str(self.etc / "neutron.conf"),
              "--config-file", str(self.etc / "ml2_conf.ini"),
              "upgrade", "heads"], f"{self.name}: neutron-db-manage upgrade")


class NovaConf:
    """One nova.conf; every Nova process of a site has its own."""

    def __init__(self, path: Path, *, host: str, site, transport_url: str,
                 db_url: str | None, api_db_url: str | None,
                 clients: ini.Sections,
                 authtoken: ini.Sections | None = None,
                 compute: bool = False, state: Path, venv: Path,
                 log: Path):
        self.path = path
        self.site = site
        self.dirs = (state / "locks", state / "instances", log.parent)
        own: dict[str, dict[str, ini.Value]] = {
            "DEFAULT": {
                "host": host,
                "my_ip": site.address,
                "state_path": state,
                "instances_path": state / "instances",
                "transport_url": transport_url,
                "log_file": log,
                "compute_driver":
                    "fake.FakeDriverWithoutFakeNodes" if compute else None,
                "heal_instance_info_cache_interval": -1,
            },
            "api": {"auth_strategy": "keystone"},
        }
        if db_url:
            own["database"] = {"connection": db_url, "max_retries": -1}
        if api_db_url:
            own["api_database"] = {"connection": api_db_url}
        own.update({
            "conductor": {"workers": 1},
            # Hosts are discovered once, by 'edge-refarch testbed up'.
            "scheduler": {"workers": 1,
                          "discover_hosts_in_cells_interval": -1},
            "wsgi": {"api_paste_config":
                     venv / "etc" / "nova" / "api-paste.ini"},
            "oslo_concurrency": {"lock_path": state / "locks"},
            "oslo_policy": {"enforce_new_defaults": True,
                            "enforce_scope": True},
        })
        self.sections = ini.merge(own, clients, authtoken or {})

    def write(self) -> None:
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)
        ini.write(self.path, self.sections,
                  ini.header(self.site.name, "nova"))


class NovaApi(_Wsgi):
    app = "nova.wsgi.osapi_compute:application"
    env_prefix = "NOVA"
    project = "nova"
    # One worker: on a 2-core machine every extra one costs seconds of
    # start-up; the suite's requests come one at a time.
    workers = 1

    def __init__(self, site, root, venv, port, conf: NovaConf):
        super().__init__(site, root, venv, port)
        self.nova_conf = conf

    def write_config(self) -> None:
        self.nova_conf.write()
        # Nova's WSGI app loads its paste pipeline from the first config
        # file, so api-paste.ini sits beside nova.conf.
        shutil.copyfile(self.venv / "etc" / "nova" / "api-paste.ini",
                        self.etc / "api-paste.ini")
        self._gunicorn()

    def env(self) -> dict[str, str]:
        return {**super().env(), "OS_NOVA_CONFIG_FILES":
                f"api-paste.ini;{self.nova_conf.path.name}"}


class NovaService:
    """nova-scheduler, nova-conductor or nova-compute."""

    def __init__(self, site, root: Path, venv: Path, binary: str,
                 conf: NovaConf, host: str):
        self.site = site
        self.binary = binary
        self.dir = root / "nova" / binary
        self.venv = venv
        self.nova_conf = conf
        self.host = host

    @property
    def name(self) -> str:
        return f"{self.site.name}.{self.binary}"

    def write_config(self) -> None:
        (self.dir / "log").mkdir(parents=True, exist_ok=True)
        self.nova_conf.write()

    def argv(self) -> list[str]:
        return [str(self.venv / "bin" / self.binary), "--config-file",
                str(self.nova_conf.path)]

    def env(self) -> dict[str, str]:
        return {"PYTHONWARNINGS": "ignore"}


class NovaManage:
    """nova-manage against one site's Nova API database."""

    def __init__(self, venv: Path, conf: NovaConf, name: str):
        self.venv = venv
        self.conf = conf
        self.name = name

    def __call__(self, *args: str, conf: NovaConf | None = None,
                 ok: tuple[int, ...] = (0,)) -> str:
        return run_tool(
            [str(self.venv / "bin" / "nova-manage"), "--config-file",
             str((conf or self.conf).path), *args],
            f"{self.name}: nova-manage {' '.join(args[:2])}", ok=ok)


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
                    site, sdir, port("rabbitmq"), pw["rabbit"], self.epmd)
            if "placement" in svcs:
                dbs.append(("placement", "placement", pw["db_placement"]))
                self.placements[site.name] = Placement(
                    site, sdir, venv, port("placement"),
                    db_url=db_url("placement", pw["db_placement"], local_db,
                               "placement"),
                    authtoken=authtoken("placement"))
            if "neutron" in svcs:
                dbs.append(("neutron", "neutron", pw["db_neutron"]))
                self.neutrons[site.name] = Neutron(
                    site, sdir, venv, port("neutron"),
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
                self.apis[site.name] = NovaApi(site, sdir, venv,
                                               port("nova"), api_conf)
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
    def wsgi(self) -> list[_Wsgi]:
        return [*self.placements.values(), *self.neutrons.values(),
                *self.apis.values(), *self.heats.values()]

    def configure(self) -> None:
        for comp in (*self.rabbits.values(), *self.wsgi, *self.services,
                     *self.engines):
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


# Heat reads its configuration from sys.argv when its WSGI app is imported
# (and gunicorn's argv is gunicorn's own), so a two-line shim sets it.
HEAT_SHIM = """\
import sys
sys.argv = [sys.argv[0], "--config-file", {conf!r}]
from heat.wsgi.api import application  # noqa: E402,F401
"""


class Heat(_Wsgi):
    """The Heat API; its engine is a HeatEngine."""

    app = "edge_refarch_heat_wsgi:application"
    env_prefix = "HEAT"
    project = "heat"

    def __init__(self, site, root, venv, port, *, db_url: str,
                 transport_url: str, authtoken: ini.Sections,
                 engine_authtoken: ini.Sections,
                 keystone: str, identity_writes: str, password: str,
                 domain_admin_password: str):
        super().__init__(site, root, venv, port)
        self.db_url = db_url
        self.transport_url = transport_url
        self.authtoken = authtoken
        self.engine_authtoken = engine_authtoken
        self.keystone = keystone
        self.identity_writes = identity_writes
        self.password = password
        self.domain_admin_password = domain_admin_password

    @property
    def conf(self) -> Path:
        return self.etc / "heat.conf"

    @property
    def engine_conf(self) -> Path:
        return self.etc / "heat-engine.conf"

    def write_config(self) -> None:
        state = self.dir / "state"
        for d in (self.etc, self.logdir, state / "locks"):
            d.mkdir(parents=True, exist_ok=True)
        # The API validates tokens at the site's own Keystone. The engine's
        # Keystone client writes trusts and stack-domain users in the
        # region of [keystone_authtoken] region_name: the DC's, where
        # identity is written (a distributed edge's Keystone is a
        # read-only replica); its tokens, trust-scoped ones for scaling
        # included, still come from the site's own Keystone ([trustee]).
        ini.write(self.conf, self._sections(state, self.authtoken,
                                            "heat.log"),
                  ini.header(self.site.name, "heat"))
        ini.write(self.engine_conf, self._sections(
            state, self.engine_authtoken, "heat-engine.log"),
            ini.header(self.site.name, "heat-engine"))
        (self.dir / "edge_refarch_heat_wsgi.py").write_text(
            HEAT_SHIM.format(conf=str(self.conf)))
        gunicorn_conf(self.dir / "gunicorn.conf.py", self.app,
                      f"{self.site.address}:{self.port}", self.workers,
                      self.logdir, preload=False, pythonpath=str(self.dir),
                      tls=self.site.tls)

    def _sections(self, state: Path, authtoken: ini.Sections,
                  log: str) -> dict[str, dict[str, ini.Value]]:
        heat_etc = self.venv / "etc" / "heat"
        return ini.merge({
            "DEFAULT": {
                "host": f"{self.site.name}-heat",
                "transport_url": self.transport_url,
                "log_file": self.logdir / log,
                "num_engine_workers": 1,
                "region_name_for_services": self.site.region,
                "stack_user_domain_name": setup_api.HEAT_DOMAIN,
                "stack_domain_admin": setup_api.HEAT_DOMAIN_ADMIN,
                "stack_domain_admin_password": self.domain_admin_password,
                "heat_metadata_server_url": self.url,
                "heat_waitcondition_server_url":
                    f"{self.url}/v1/waitcondition",
                "environment_dir": heat_etc / "environment.d",
                "template_dir": heat_etc / "templates",
            },
            "database": {"connection": self.db_url, "max_retries": -1},
            "paste_deploy": {"api_paste_config": heat_etc / "api-paste.ini"},
            "oslo_concurrency": {"lock_path": state / "locks"},
            # Tokens (also trust-scoped ones, for scaling) come from the
            # site's own Keystone; trusts and stack-domain users are written
            # where identity is written: the DC's Keystone (a replica at a
            # distributed edge is read-only).
            "trustee": {"auth_type": "password", "auth_url": self.keystone,
                        "username": "heat", "password": self.password,
                        "user_domain_name": "Default"},
            "clients_keystone": {"auth_uri": self.identity_writes},
            "clients": {"endpoint_type": "publicURL"},
        }, authtoken)

    def db_sync(self) -> None:
        run_tool([str(self.venv / "bin" / "heat-manage"), "--config-file",
              str(self.conf), "db_sync"], f"{self.name}: heat-manage db_sync")


class HeatEngine:
    def __init__(self, api: Heat):
        self.api = api
        self.site = api.site
        self.dir = api.dir / "heat-engine"
        self.binary = "heat-engine"
        self.host = f"{api.site.name}-heat"

    @property
    def name(self) -> str:
        return f"{self.site.name}.heat-engine"

    def write_config(self) -> None:
        (self.dir / "log").mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        return [str(self.api.venv / "bin" / "heat-engine"), "--config-file",
                str(self.api.engine_conf)]

    def env(self) -> dict[str, str]:
        return {"PYTHONWARNINGS": "ignore"}
