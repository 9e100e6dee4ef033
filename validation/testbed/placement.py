"""A site's Placement API."""

from __future__ import annotations

from edge_refarch.validation.testbed import ini
from edge_refarch.validation.testbed.gunicorn import GunicornApi
from edge_refarch.validation.testbed.procs import run_tool


class Placement(GunicornApi):
    app = "placement.wsgi.api:application"
    env_prefix = "PLACEMENT"
    project = "placement"

    def __init__(self, site, root, venv, port, *, health_path: str,
                 db_url: str,
                 authtoken: ini.Sections):
        super().__init__(site, root, venv, port, health_path)
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
