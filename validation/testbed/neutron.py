"""A site's Neutron API (ML2, no agents, no RPC workers)."""

from __future__ import annotations

from edge_refarch.validation.testbed import ini
from edge_refarch.validation.testbed.gunicorn import GunicornApi
from edge_refarch.validation.testbed.procs import run_tool


class Neutron(GunicornApi):
    """The Neutron API only (ML2, no agents, no RPC workers)."""

    app = "neutron.wsgi.api:application"
    env_prefix = "NEUTRON"
    project = "neutron"

    def __init__(self, site, root, venv, port, *, health_path: str,
                 db_url: str,
                 transport_url: str, authtoken: ini.Sections):
        super().__init__(site, root, venv, port, health_path)
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
