"""RabbitMQ per site, and the one Erlang port mapper (epmd) they share."""

from __future__ import annotations

from pathlib import Path

from edge_refarch.validation.testbed import templates
from edge_refarch.validation.testbed.service import Server, tcp_health

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
EPMD = "/usr/bin/epmd"
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


class Epmd(Server):
    """The Erlang port mapper that every site's RabbitMQ registers with.

    Stopped after every RabbitMQ (STOP_LAST): a RabbitMQ node that finds
    its epmd gone starts one of its own (rabbit_epmd_monitor checks every
    60 s and calls rabbit_nodes_common:ensure_epmd, which runs
    ``erl -sname epmd-starter-N``, hence ``epmd -daemon``), and that epmd,
    reparented to init, outlives the testbed and holds its port.
    """

    NAME = "epmd"

    def __init__(self, root: Path, address: str, port: int):
        self.dir = root / "epmd"
        self.address = address
        self.port = port

    @property
    def name(self) -> str:
        return self.NAME

    @property
    def target(self) -> str:
        return f"{self.address}:{self.port}"

    def argv(self) -> list[str]:
        return [EPMD, "-address", self.address, "-port", str(self.port)]

    def health(self, timeout: float):
        return tcp_health(self.address, self.port, timeout)


# Process names a testbed stops only after all the others.
STOP_LAST = (Epmd.NAME,)


class RabbitMQ(Server):
    def __init__(self, site, root: Path, port: int, password: str,
                 epmd: Epmd, dist_port: int):
        self.site = site
        self.dir = root / "rabbitmq"
        self.port = port
        self.dist_port = dist_port
        self.password = password
        self.epmd = epmd

    @property
    def name(self) -> str:
        return f"{self.site.name}.rabbitmq"

    def write_config(self) -> None:
        for sub in ("mnesia", "log"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "rabbitmq.conf").write_text(templates.render(
            "rabbitmq.conf", address=self.site.address, port=self.port,
            password=self.password))
        (self.dir / "enabled_plugins").write_text("[].\n")

    def argv(self) -> list[str]:
        return [RABBITMQ_SERVER]

    def env(self) -> dict[str, str]:
        octets = self.site.address.replace(".", ",")
        return {
            "HOME": str(self.dir),
            "RABBITMQ_NODENAME": f"edge-refarch-{self.site.name}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": self.site.address,
            "RABBITMQ_NODE_PORT": str(self.port),
            "ERL_EPMD_ADDRESS": self.epmd.address,
            "ERL_EPMD_PORT": str(self.epmd.port),
            # One per node: each registers its port with the shared epmd
            # (model.yaml testbed.rabbitmq_dist_port_base).
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir /
                                                 "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_PID_FILE": str(self.dir / "rabbit.pid"),
            # Erlang distribution on the site's own address; our epmd.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                f"-kernel inet_dist_use_interface {{{octets}}} "
                "-start_epmd false",
        }

    @property
    def target(self) -> str:
        return f"{self.site.address}:{self.port}"

    def health(self, timeout: float):
        """An AMQP 0-9-1 protocol header gets a method frame (type 1,
        Connection.Start) back (AMQP 0-9-1 specification, 4.2.2)."""
        return tcp_health(self.site.address, self.port, timeout,
                          send=AMQP_HEADER, expect=b"\x01")
