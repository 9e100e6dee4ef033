"""A site's Aodh: the alarm API, its evaluator and its notifier.

The evaluator reads the site's Gnocchi with Aodh's service credentials
and, when an alarm changes state, hands it to the notifier over the site's
RabbitMQ; the notifier calls the alarm's actions -- for an autoscaling
alarm, a Heat scaling policy's signal URL with a token of the trust the
alarm's owner gave Aodh (``trust+http``). Every endpoint comes from the
catalog, in the site's region ([service_credentials] region_name).
"""

from __future__ import annotations

from pathlib import Path

from edge_refarch.validation.testbed import ini
from edge_refarch.validation.testbed.gunicorn import GunicornApi
from edge_refarch.validation.testbed.procs import run_tool
from edge_refarch.validation.testbed.service import Service

# aodh.wsgi.api builds the app with no arguments, so oslo.config would look
# for /etc/aodh/aodh.conf: the shim builds it from the site's file.
AODH_SHIM = """\
from aodh.api import app
application = app.build_wsgi_app(argv=["--config-file", {conf!r}])
"""


class Aodh(GunicornApi):
    """The Aodh API; its evaluator and notifier are AodhWorkers.
    `evaluation_interval`: seconds between two evaluations of every alarm
    (model.yaml testbed.alarm_evaluation_interval_s); `credentials`: the
    [service_credentials] section (the aodh service user at the site's
    Keystone, endpoints of the site's region)."""

    app = "edge_refarch_aodh_wsgi:application"
    env_prefix = "AODH"
    project = "aodh"

    def __init__(self, site, root, venv, port, *, health_path: str,
                 db_url: str, transport_url: str, authtoken: ini.Sections,
                 credentials: dict[str, str], evaluation_interval: int,
                 ingestion_lag: int):
        super().__init__(site, root, venv, port, health_path)
        self.db_url = db_url
        self.transport_url = transport_url
        self.authtoken = authtoken
        self.credentials = credentials
        self.evaluation_interval = evaluation_interval
        self.ingestion_lag = ingestion_lag

    @property
    def conf(self) -> Path:
        return self.etc / "aodh.conf"

    def write_config(self) -> None:
        for d in (self.etc, self.logdir):
            d.mkdir(parents=True, exist_ok=True)
        ini.write(self.conf, ini.merge({
            "DEFAULT": {"transport_url": self.transport_url,
                        "log_file": self.logdir / "aodh-api.log",
                        # Seconds the evaluator looks back beyond the
                        # alarm's periods, for measures metricd has not
                        # aggregated yet.
                        "additional_ingestion_lag": self.ingestion_lag},
            "database": {"connection": self.db_url, "max_retries": -1},
            "api": {"paste_config": self.paste},
            "evaluator": {"evaluation_interval": self.evaluation_interval},
            "service_credentials": {**self.credentials,
                                    "interface": "public"},
        }, self.authtoken), ini.header(self.site.name, "aodh"))
        ini.paste_with_config(
            self.site_packages / "aodh" / "api" / "api-paste.ini",
            self.paste, "authtoken", self.conf,
            ini.header(self.site.name, "aodh"))
        (self.dir / "edge_refarch_aodh_wsgi.py").write_text(
            AODH_SHIM.format(conf=str(self.conf)))
        self._gunicorn(pythonpath=str(self.dir))   # the shim's directory

    def db_sync(self) -> None:
        run_tool([str(self.venv / "bin" / "aodh-dbsync"), "--config-file",
                  str(self.conf)], f"{self.name}: aodh-dbsync")


class AodhWorker(Service):
    """aodh-evaluator or aodh-notifier (`binary`), with the API's file and
    a log of its own."""

    def __init__(self, api: Aodh, binary: str):
        self.api = api
        self.site = api.site
        self.binary = binary
        self.dir = api.dir / binary
        # Where it runs, as `testbed status` names a worker's host.
        self.host = api.site.name

    @property
    def name(self) -> str:
        return f"{self.site.name}.{self.binary}"

    def write_config(self) -> None:
        self.logdir.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        return [str(self.api.venv / "bin" / self.binary), "--config-file",
                str(self.api.conf), "--log-file",
                str(self.logdir / f"{self.binary}.log")]

    def env(self) -> dict[str, str]:
        return {"PYTHONWARNINGS": "ignore"}
