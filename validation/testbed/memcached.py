"""A site's memcached: the cache Keystone and keystonemiddleware share."""

from __future__ import annotations

import os
from pathlib import Path

from edge_refarch.validation.testbed.service import Server, tcp_health

MEMCACHED = os.environ.get("EDGE_REFARCH_MEMCACHED", "/usr/bin/memcached")


class Memcached(Server):
    def __init__(self, site, root: Path, port: int):
        self.site = site
        self.dir = root / "memcached"
        self.port = port

    @property
    def name(self) -> str:
        return f"{self.site.name}.memcached"

    @property
    def server(self) -> str:
        return f"{self.site.address}:{self.port}"

    def argv(self) -> list[str]:
        self.dir.mkdir(parents=True, exist_ok=True)
        argv = [MEMCACHED, "-l", self.site.address, "-p", str(self.port),
                "-U", "0", "-m", "64", "-c", "1024"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]
        return argv

    @property
    def target(self) -> str:
        return self.server

    def health(self, timeout: float):
        """``version`` gets ``VERSION ...`` back (memcached protocol.txt,
        "General-purpose statistics")."""
        return tcp_health(self.site.address, self.port, timeout,
                          send=b"version\r\n", expect=b"VERSION")
