"""A site's Glance: file store; at a distributed edge also glance-download
and the image cache."""

from __future__ import annotations

from pathlib import Path

from edge_refarch.validation.testbed import ini
from edge_refarch.validation.testbed.gunicorn import GunicornApi
from edge_refarch.validation.testbed.keystone import (
    authtoken_section,
)
from edge_refarch.validation.testbed.procs import run_tool

# Property prefixes glance-download copies from the source image (name and
# visibility are never copied by Glance).
DOWNLOAD_PROPERTIES = ["hw_", "trait:", "os_distro", "os_secure_boot",
                       "os_type", "os_version", "architecture", "custom_",
                       "edge_refarch_"]


def _oslo_list(items) -> str:
    return "[" + ",".join(str(i) for i in items) + "]"


class Glance(GunicornApi):
    """A site's Glance API (and its image cache) under gunicorn."""

    app = "glance.wsgi.api:application"
    env_prefix = "GLANCE"
    project = "glance"
    # One worker process, as Nova's API: the import tasks run in the
    # worker's task pool ([wsgi] task_pool_threads), not in the request
    # thread, so a pull that hangs on a dead link does not block the API;
    # a second worker cost ~105 MiB PSS per site (issue 18 measurements).
    workers = 1
    # Glance starts its image-cache worker thread at import: with preload
    # it would live in the master only, and queued images would never be
    # cached.
    preload = False

    def __init__(self, site, root: Path, venv: Path, db_url: str, *,
                 port: int, health_path: str, threads: int, auth_url: str,
                 www_authenticate_uri: str, password: str,
                 import_methods: list[str], image_cache: bool,
                 download_sources: list[str], cache_server: str,
                 token_cache_time: int, cross_site_timeout: int):
        super().__init__(site, root, venv, port, health_path)
        # model.yaml testbed.image_api_threads: transfers to edges hold one
        # each, for as long as their link takes.
        self.threads = threads
        self.db_url = db_url
        self.auth_url = auth_url
        self.www_authenticate_uri = www_authenticate_uri
        self.password = password
        self.import_methods = import_methods
        self.image_cache = image_cache
        # host:port of the remote Glance APIs this site may download from
        self.download_sources = download_sources
        self.cache_server = cache_server
        self.token_cache_time = token_cache_time
        self.cross_site_timeout = cross_site_timeout

    @property
    def conf(self) -> Path:
        return self.etc / "glance-api.conf"

    def write_config(self) -> None:
        for sub in ("images", "staging", "tasks", "cache"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.etc.mkdir(parents=True, exist_ok=True)
        self.logdir.mkdir(parents=True, exist_ok=True)
        hosts = sorted({hp.rsplit(":", 1)[0] for hp in self.download_sources})
        ports = sorted({int(hp.rsplit(":", 1)[1])
                        for hp in self.download_sources})
        flavor = "keystone+cachemanagement" if self.image_cache \
            else "keystone"
        paste = self.venv / "etc" / "glance" / "glance-api-paste.ini"
        ini.write(self.conf, ini.merge(
            {
                "DEFAULT": {
                    "debug": False,
                    "log_file": self.logdir / "glance-api.log",
                    "enabled_backends": "fs:file",
                    "worker_self_reference_url": self.url,
                    "enabled_import_methods":
                        _oslo_list(self.import_methods),
                    "image_cache_dir": self.dir / "cache",
                    "image_cache_driver": "centralized_db",
                    "image_cache_max_size": 10737418240,
                    "show_multiple_locations": False,
                },
                "database": {"connection": self.db_url, "max_retries": -1,
                             "connection_recycle_time": 300},
                "glance_store": {"default_backend": "fs"},
                "fs": {"filesystem_store_datadir": self.dir / "images"},
                "os_glance_staging_store": {
                    "filesystem_store_datadir": self.dir / "staging"},
                "os_glance_tasks_store": {
                    "filesystem_store_datadir": self.dir / "tasks"},
                "paste_deploy": {"flavor": flavor, "config_file": paste},
                "oslo_policy": {"enforce_new_defaults": True,
                                "enforce_scope": True},
                # glance-download goes through the import URL filter, which
                # refuses loopback hosts and ports other than 80/443 unless
                # listed here: the remote Glance APIs this site reaches
                # through its link proxies.
                "import_filtering_opts": {
                    "allowed_hosts": _oslo_list(hosts),
                    "allowed_ports": _oslo_list(ports)},
                "glance_download_properties": {
                    "extra_properties": _oslo_list(DOWNLOAD_PROPERTIES)},
                "wsgi": {"task_pool_threads": 4},
            },
            authtoken_section(
                auth_url=self.auth_url,
                www_authenticate_uri=self.www_authenticate_uri,
                username="glance", password=self.password,
                region=self.site.region, cache=self.cache_server,
                cache_time=self.token_cache_time,
                connect_timeout=self.cross_site_timeout)),
            ini.header(self.site.name, "glance"))
        self._gunicorn()

    def db_sync(self) -> None:
        """glance-manage db_sync, then db load_metadefs: the metadata
        definitions Glance ships (in the venv's etc/glance/metadefs, a
        package data directory), which a deployment loads as devstack's
        lib/glance does and Tempest's metadefs tests read."""
        manage = [str(self.venv / "bin" / "glance-manage"), "--config-file",
                  str(self.conf)]
        run_tool([*manage, "db_sync"], f"{self.name}: glance-manage db_sync",
                 timeout=None)
        run_tool([*manage, "db", "load_metadefs", "--path",
                  str(self.venv / "etc" / "glance" / "metadefs")],
                 f"{self.name}: glance-manage db load_metadefs", timeout=None)

