"""A site's Gnocchi: the metric store the alarm loop reads (API and
metricd).

Storage and incoming measures on the local file system, the index in the
site's MariaDB, one metricd worker that aggregates new measures within
about a second (``[metricd] metric_processing_delay``; default 60 s).
"""

from __future__ import annotations

from pathlib import Path

from edge_refarch.validation.testbed import ini
from edge_refarch.validation.testbed.gunicorn import GunicornApi
from edge_refarch.validation.testbed.procs import run_tool
from edge_refarch.validation.testbed.service import Service

# gnocchi.rest.wsgi parses sys.argv through oslo.config when imported (and
# gunicorn's argv is gunicorn's own), so a shim sets it, as for Heat.
GNOCCHI_SHIM = """\
import sys
sys.argv = [sys.argv[0], "--config-file", {conf!r}]
from gnocchi.rest.wsgi import application  # noqa: E402,F401
"""

# Seconds between two passes of metricd over new measures.
METRIC_PROCESSING_DELAY_S = 1
# Sacks (shards) of the incoming measures. metricd scans every sack on each
# pass, so Gnocchi's default of 128 (gnocchi/cli/manage.py, --sacks-number)
# kept an idle edge's metricd at ~89 % of a core at a 1 s delay; a test's
# few metrics need 2 (bench/results/telemetry_with.json).
SACKS = 2
# metricd's reporting worker only logs the backlog of measures every
# [metricd] metric_reporting_delay seconds (default 120; -1 starts no such
# worker: gnocchi/cli/metricd.py, MetricdServiceManager). Off: one process
# fewer per site: metricd 253 -> 218 MiB PSS, an edge 2354 -> 2317 MiB
# (distributed testbed, one bring-up each, 2026-12-03).
METRIC_REPORTING_DELAY_S = -1

# What Ceilometer's `ceilometer-upgrade` creates in Gnocchi for the
# publisher (ceilometer/gnocchi_client.py, resources_definition and
# archive_policies): the instance resource type (server_group is what
# Heat's autoscaling alarms search on) and its 1-second archive policy.
INSTANCE_RESOURCE_TYPE = {
    "name": "instance",
    "attributes": {
        "display_name": {"type": "string", "min_length": 0,
                         "max_length": 255, "required": True},
        "flavor_id": {"type": "string", "min_length": 0,
                      "max_length": 255, "required": True},
        "image_ref": {"type": "string", "min_length": 0,
                      "max_length": 255, "required": False},
        "host": {"type": "string", "min_length": 0, "max_length": 255,
                 "required": True},
        "server_group": {"type": "string", "min_length": 0,
                         "max_length": 255, "required": False},
    },
}
ARCHIVE_POLICY = {
    "name": "ceilometer-high",
    "aggregation_methods": ["mean", "min", "max", "sum", "count"],
    "back_window": 0,
    "definition": [
        {"granularity": "1 second", "timespan": "1 hour"},
        {"granularity": "1 minute", "timespan": "1 day"},
    ],
}


class Gnocchi(GunicornApi):
    """The Gnocchi API; its metricd is a GnocchiMetricd."""

    app = "edge_refarch_gnocchi_wsgi:application"
    env_prefix = "GNOCCHI"
    project = "gnocchi"

    def __init__(self, site, root, venv, port, *, health_path: str,
                 db_url: str, authtoken: ini.Sections):
        super().__init__(site, root, venv, port, health_path)
        self.db_url = db_url
        self.authtoken = authtoken

    @property
    def conf(self) -> Path:
        return self.etc / "gnocchi.conf"

    def write_config(self) -> None:
        storage = self.dir / "storage"
        for d in (self.etc, self.logdir, storage):
            d.mkdir(parents=True, exist_ok=True)
        ini.write(self.conf, ini.merge({
            "DEFAULT": {"log_file": self.logdir / "gnocchi.log",
                        "parallel_operations": 1,
                        # At INFO (verbose, Gnocchi's default) the API logs
                        # its whole configuration when it starts, passwords
                        # included (gnocchi/rest/app.py, "Application setup
                        # for context path"): warnings and errors only.
                        "verbose": False,
                        # Without it, Gnocchi locks each sack through the
                        # indexer (tooz's MySQL driver: a new connection
                        # per lock, gnocchi/service.py, tooz/drivers/
                        # mysql.py). The site's API and metricd share this
                        # host and its file storage: file locks suffice.
                        "coordination_url":
                            f"file://{self.dir / 'coordination'}"},
            "api": {"auth_mode": "keystone", "paste_config": self.paste},
            "indexer": {"url": self.db_url},
            "storage": {"driver": "file", "file_basepath": storage},
            "incoming": {"driver": "file", "file_basepath": storage},
            "metricd": {"workers": 1, "metric_processing_delay":
                        METRIC_PROCESSING_DELAY_S,
                        "metric_reporting_delay": METRIC_REPORTING_DELAY_S},
        }, self.authtoken), ini.header(self.site.name, "gnocchi"))
        ini.paste_with_config(
            self.site_packages / "gnocchi" / "rest" / "api-paste.ini",
            self.paste, "keystone_authtoken", self.conf,
            ini.header(self.site.name, "gnocchi"))
        (self.dir / "edge_refarch_gnocchi_wsgi.py").write_text(
            GNOCCHI_SHIM.format(conf=str(self.conf)))
        self._gunicorn(pythonpath=str(self.dir))   # the shim's directory

    def db_sync(self) -> None:
        """The index's schema and the file storage (gnocchi-upgrade) with
        SACKS incoming sacks, without Gnocchi's default archive policies:
        the set-up creates the publisher's (ARCHIVE_POLICY)."""
        run_tool([str(self.venv / "bin" / "gnocchi-upgrade"),
                  "--config-file", str(self.conf),
                  "--sacks-number", str(SACKS),
                  "--skip-archive-policies-creation"],
                 f"{self.name}: gnocchi-upgrade")


class GnocchiMetricd(Service):
    """gnocchi-metricd: aggregates the measures the API received."""

    def __init__(self, api: Gnocchi):
        self.api = api
        self.site = api.site
        self.dir = api.dir / "metricd"
        # Where it runs, as `testbed status` names a worker's host.
        self.host = api.site.name

    @property
    def name(self) -> str:
        return f"{self.site.name}.gnocchi-metricd"

    def write_config(self) -> None:
        self.logdir.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        return [str(self.api.venv / "bin" / "gnocchi-metricd"),
                "--config-file", str(self.api.conf),
                "--log-file", str(self.logdir / "gnocchi-metricd.log")]

    def env(self) -> dict[str, str]:
        return {"PYTHONWARNINGS": "ignore"}
