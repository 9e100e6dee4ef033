"""The lifecycle every process of the testbed implements.

One module per service (the idea of devstack's ``lib/<service>``), each
class implementing this small interface, so that the bring-up starts, checks
and reports on any of them the same way:

* ``write_config()``: the service's files, rendered from the model;
* ``argv()`` and ``env()``: the command and what it adds to the
  environment;
* ``health(timeout)``, for a ``Server``: whether it serves, else a
  ``probes.NotYet`` saying what it answered; ``target``: what the probe
  talks to, for the status output.

A ``Service`` without a listener (a Nova worker, Heat's engine, the key-sync
agent) is healthy while its process runs; the API it reports to says more.
"""

from __future__ import annotations

import abc
import socket
from pathlib import Path

from edge_refarch.validation.testbed import probes


class Service(abc.ABC):
    """One process of a site: its files under ``dir``, its logs under
    ``logdir``."""

    dir: Path
    # How many times the bring-up starts the process again when it ends
    # while a server that needs it starts (its unit's Restart=on-failure).
    restarts: int = 0

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """``<site>.<service>``, the process table's key."""

    @property
    def logdir(self) -> Path:
        return self.dir / "log"

    def write_config(self) -> None:  # noqa: B027 (nothing to write)
        """Write the service's configuration files."""

    @abc.abstractmethod
    def argv(self) -> list[str]:
        """The command that runs the service in the foreground."""

    def env(self) -> dict[str, str]:
        """Variables added to the environment of ``argv()``."""
        return {}


class Server(Service):
    """A service with a listener that a probe can ask."""

    @property
    @abc.abstractmethod
    def target(self) -> str:
        """What the health probe talks to (``host:port`` or a URL)."""

    @abc.abstractmethod
    def health(self, timeout: float) -> bool | probes.NotYet:
        """True when the service serves; else a NotYet with the reason.
        `timeout`: seconds for the probe's own I/O."""


class HttpServer(Server):
    """An OpenStack API: healthy when GET url + health_path answers below
    400. ``health_path`` is the model's (model.yaml ``services.*``)."""

    health_path: str = "/"

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """The API's base URL at its own site (scheme, address, port)."""

    @property
    def target(self) -> str:
        return self.url

    def health(self, timeout: float) -> bool | probes.NotYet:
        return probes.http_ok(self.url + (self.health_path or "/"), timeout)


def tcp_health(address: str, port: int, timeout: float,
               send: bytes = b"", expect: bytes = b"") -> bool | probes.NotYet:
    """Connect to address:port; with `send`, write it and require the
    answer to start with `expect`. For servers with a line protocol
    (memcached's ``version``) or a handshake (AMQP's protocol header)."""
    try:
        with socket.create_connection((address, port),
                                      timeout=timeout) as s:
            if not send:
                return True
            s.settimeout(timeout)
            s.sendall(send)
            answer = s.recv(64)
    except OSError as exc:
        return probes.NotYet(f"{address}:{port}: {type(exc).__name__}")
    if answer.startswith(expect):
        return True
    return probes.NotYet(f"{address}:{port}: answered {answer[:16]!r}")
