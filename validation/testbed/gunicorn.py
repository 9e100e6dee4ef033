"""OpenStack APIs served by gunicorn from a site's address.

The WSGI applications of Keystone, Glance, Placement, the Neutron API, the
Nova API and Heat, each run by gunicorn with a ``gunicorn.conf.py`` written
here (gunicorn reads it from its working directory).
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

from edge_refarch.validation.testbed.service import HttpServer

# Keystone 30 reads sys.argv through oslo.config, so gunicorn must get no
# command-line arguments: it reads ./gunicorn.conf.py from its working dir.
# Keystone runs one thread per worker (model: testbed.keystone_threads):
# it has been seen mixing concurrent callers' token context with threads
# > 1; scale with worker processes instead.
GUNICORN_CONF = """\
wsgi_app = {app!r}
bind = {bind!r}
workers = {workers}
threads = {threads}
worker_class = {worker_class!r}
timeout = 120
graceful_timeout = 5
pidfile = {pidfile!r}
errorlog = {errorlog!r}
accesslog = {accesslog!r}
control_socket_disable = True
preload_app = {preload}
pythonpath = {pythonpath!r}
certfile = {certfile!r}
keyfile = {keyfile!r}
"""


def gunicorn_conf(path: Path, app: str, bind: str, workers: int,
                  logdir: Path, preload: bool, threads: int = 1,
                  pythonpath: str = "",
                  tls: tuple[str, str] | None = None) -> None:
    """`preload`: import the app once in the master, then fork. Only for
    apps that start no thread at import (threads do not survive fork).
    `tls`: (certificate, key) files to serve HTTPS with (gunicorn's own
    TLS)."""
    logdir.mkdir(parents=True, exist_ok=True)
    path.write_text(GUNICORN_CONF.format(
        app=app, bind=bind, workers=workers, preload=preload,
        threads=threads, worker_class="gthread" if threads > 1 else "sync",
        pythonpath=pythonpath or None,
        certfile=tls[0] if tls else None, keyfile=tls[1] if tls else None,
        pidfile=str(path.parent / "gunicorn.pid"),
        errorlog=str(logdir / "gunicorn.log"),
        accesslog=str(logdir / "access.log")))


class GunicornApi(HttpServer):
    """A WSGI API served by gunicorn from the site's address."""

    app = ""            # the WSGI application, module:callable
    env_prefix = ""     # OS_<prefix>_CONFIG_DIR tells it where etc/ is
    project = ""        # the service's name in model.yaml
    workers = 1
    threads = 1         # per worker
    # Import the app once in the master, then fork: only for apps that
    # start no thread at import (threads do not survive fork).
    preload = False

    def __init__(self, site, root: Path, venv: Path, port: int,
                 health_path: str):
        self.site = site
        self.health_path = health_path
        self.dir = root / self.project
        self.etc = self.dir / "etc"
        self.venv = venv
        self.port = port

    @property
    def name(self) -> str:
        return f"{self.site.name}.{self.project}"

    @property
    def url(self) -> str:
        return f"{self.site.scheme}://{self.site.address}:{self.port}"

    @property
    def paste(self) -> Path:
        """Where the service's own copy of its paste pipeline goes (in its
        etc/, beside its configuration file)."""
        return self.etc / "api-paste.ini"

    @property
    def site_packages(self) -> Path:
        """The services venv's site-packages (made with the Python that
        runs us, deps.services_venv), where packaged files such as a
        paste file are."""
        return Path(sysconfig.get_path(
            "purelib", "venv", vars={"base": str(self.venv),
                                     "platbase": str(self.venv)}))

    def _gunicorn(self, pythonpath: str = "") -> None:
        gunicorn_conf(self.dir / "gunicorn.conf.py", self.app,
                      f"{self.site.address}:{self.port}", self.workers,
                      self.logdir, preload=self.preload,
                      threads=self.threads, pythonpath=pythonpath,
                      tls=self.site.tls)

    def argv(self) -> list[str]:
        return [str(self.venv / "bin" / "gunicorn")]

    def env(self) -> dict[str, str]:
        return {f"OS_{self.env_prefix}_CONFIG_DIR": str(self.etc),
                "PYTHONWARNINGS": "ignore"}
