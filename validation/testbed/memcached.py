"""A site's memcached: the cache Keystone and keystonemiddleware share."""

from __future__ import annotations

import os
import socket
from pathlib import Path

MEMCACHED = os.environ.get("EDGE_REFARCH_MEMCACHED", "/usr/bin/memcached")


class Memcached:
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

    def healthy(self, timeout: float) -> bool:
        try:
            with socket.create_connection((self.site.address, self.port),
                                          timeout=timeout) as s:
                s.sendall(b"version\r\n")
                return s.recv(64).startswith(b"VERSION")
        except OSError:
            return False
