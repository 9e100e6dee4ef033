"""A site's Heat: the API and its engine."""

from __future__ import annotations

from pathlib import Path

from edge_refarch.validation.errors import UserError
from edge_refarch.validation.testbed import ini, probes, setup_api
from edge_refarch.validation.testbed.gunicorn import GunicornApi
from edge_refarch.validation.testbed.procs import run_tool
from edge_refarch.validation.testbed.service import Service

# Heat reads its configuration from sys.argv when its WSGI app is imported
# (and gunicorn's argv is gunicorn's own), so a two-line shim sets it.
HEAT_SHIM = """\
import sys
sys.argv = [sys.argv[0], "--config-file", {conf!r}]
from heat.wsgi.api import application  # noqa: E402,F401
"""


class Heat(GunicornApi):
    """The Heat API; its engine is a HeatEngine."""

    app = "edge_refarch_heat_wsgi:application"
    env_prefix = "HEAT"
    project = "heat"

    def __init__(self, site, root, venv, port, *, health_path: str,
                 db_url: str,
                 transport_url: str, authtoken: ini.Sections,
                 engine_authtoken: ini.Sections,
                 keystone: str, identity_writes: str, password: str,
                 domain_admin_password: str):
        super().__init__(site, root, venv, port, health_path)
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
        # region of [keystone_authtoken] region_name: where identity is
        # written (Topology.identity_writer: the DC's when the edge's
        # Keystone reads a replica, the edge's own when it federates); its
        # tokens, trust-scoped ones for scaling included, still come from
        # the site's own Keystone ([trustee]).
        ini.write(self.conf, self._sections(state, self.authtoken,
                                            "heat.log"),
                  ini.header(self.site.name, "heat"))
        ini.write(self.engine_conf, self._sections(
            state, self.engine_authtoken, "heat-engine.log"),
            ini.header(self.site.name, "heat-engine"))
        (self.dir / "edge_refarch_heat_wsgi.py").write_text(
            HEAT_SHIM.format(conf=str(self.conf)))
        self._gunicorn(pythonpath=str(self.dir))   # the shim's directory

    def _sections(self, state: Path, authtoken: ini.Sections,
                  log: str) -> dict[str, dict[str, ini.Value]]:
        heat_etc = self.venv / "etc" / "heat"
        return ini.merge({
            "DEFAULT": {
                "host": self.engine_host,
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

    def engine_registered(self, db) -> bool | probes.NotYet:
        """Whether an engine of this site wrote its row in Heat's service
        table: heat-engine does so right after its RPC server started
        (heat/engine/service.py EngineService.start), so from then on the
        API's RPC calls are answered. Asked before the API's GET /services,
        whose RPC would otherwise be lost when sent before the engine
        listens, and answer 503 only after rpc_response_timeout (60 s;
        seen once the APIs started earlier in the bring-up). `db`: the
        site's MariaDB."""
        try:
            rows = db.execute("SELECT COUNT(*) FROM heat.service "
                              f"WHERE host = '{self.engine_host}' "
                              "AND deleted_at IS NULL")
        except UserError as exc:
            return probes.NotYet(str(exc))
        if rows and rows[0][0]:
            return True
        return probes.NotYet(f"no engine of host {self.engine_host} in "
                             "Heat's service table yet")

    @property
    def engine_host(self) -> str:
        """The host name heat-engine registers under ([DEFAULT] host)."""
        return f"{self.site.name}-heat"

    def db_sync(self) -> None:
        run_tool([str(self.venv / "bin" / "heat-manage"), "--config-file",
              str(self.conf), "db_sync"], f"{self.name}: heat-manage db_sync")


class HeatEngine(Service):
    def __init__(self, api: Heat):
        self.api = api
        self.site = api.site
        self.dir = api.dir / "heat-engine"
        self.binary = "heat-engine"
        self.host = api.engine_host

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
