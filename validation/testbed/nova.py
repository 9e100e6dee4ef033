"""A site's Nova: the API, its workers (scheduler, conductors, compute),
their configuration files and nova-manage."""

from __future__ import annotations

import shutil
from pathlib import Path

from edge_refarch.validation.testbed import ini
from edge_refarch.validation.testbed.gunicorn import GunicornApi
from edge_refarch.validation.testbed.procs import run_tool
from edge_refarch.validation.testbed.service import Service


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


class NovaApi(GunicornApi):
    app = "nova.wsgi.osapi_compute:application"
    env_prefix = "NOVA"
    project = "nova"
    # One worker: on a 2-core machine every extra one costs seconds of
    # start-up; the suite's requests come one at a time.
    workers = 1

    def __init__(self, site, root, venv, port, conf: NovaConf, *,
                 health_path: str):
        super().__init__(site, root, venv, port, health_path)
        self.nova_conf = conf

    def write_config(self) -> None:
        self.nova_conf.write()
        # Nova's WSGI app loads its paste pipeline from the first config
        # file, so api-paste.ini sits beside nova.conf.
        shutil.copyfile(self.venv / "etc" / "nova" / "api-paste.ini",
                        self.paste)
        self._gunicorn()

    def env(self) -> dict[str, str]:
        return {**super().env(), "OS_NOVA_CONFIG_FILES":
                f"{self.paste.name};{self.nova_conf.path.name}"}


class NovaService(Service):
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
