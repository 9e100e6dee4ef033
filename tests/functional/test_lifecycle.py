"""up / status / down: idempotence, clean shutdown, recovery after kill -9,
and one-line errors for bad input."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from edge_refarch.validation.testbed.procs import ProcessTable

from .conftest import run_cli

# The conftest's ordering key: this module runs after every other module of
# the distributed testbed, because its last tests bring the testbed down
# (kill -9, down, refused bring-ups) and a bring-up costs about 2 minutes.
MODEL = "distributed-down"


def _listening_ports(prefix: str = "127.") -> set[tuple[str, int]]:
    """(address, port) of TCP listeners on loopback, from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] != "0A":  # LISTEN
            continue
        hexaddr, hexport = fields[1].split(":")
        addr = socket.inet_ntoa(bytes.fromhex(hexaddr)[::-1])
        found.add((addr, int(hexport, 16)))
    return {a for a in found if a[0].startswith(prefix)}


def _testbed_ports(bed) -> set[tuple[str, int]]:
    return {(h, p) for h, p, _ in bed.topology.listeners()}


def _one_line_error(result, code=None):
    assert result.returncode != 0
    if code is not None:
        assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("edge-refarch: error: ")
    assert "Traceback" not in result.stderr


def test_up_is_idempotent(manager):
    bed = manager.ensure("distributed")
    again = run_cli("testbed", "up", "--model", "distributed")
    assert again.returncode == 0, again.stderr
    assert "already up" in again.stderr
    assert manager.testbed.recorded()["started"] == bed.record["started"]


def test_status_reports_services_and_links(manager):
    bed = manager.ensure("distributed")
    result = run_cli("testbed", "status")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("dc.keystone", "edge1.glance", "edge2.mariadb"):
        assert name in result.stdout
    for proxy in bed.topology.proxies:
        assert proxy.name in result.stdout


def test_every_listener_is_on_loopback(manager):
    bed = manager.ensure("distributed")
    mine = _testbed_ports(bed)
    assert mine <= _listening_ports()
    for host, _ in mine:
        assert host.startswith("127.")


def test_up_with_other_model_while_up_is_refused(manager):
    manager.ensure("distributed")
    result = run_cli("testbed", "up", "--model", "centralized")
    _one_line_error(result, 2)
    assert "testbed down" in result.stderr


# The next two use the testbed the tests above left up; the second kills
# it (toxiproxy first, then the rest) and brings it down.
def test_cli_output_shows_no_secret(manager):
    """No password or key of the testbed in what the CLI prints."""
    bed = manager.ensure("distributed")
    secrets = list(bed.testbed.passwords().values())
    outputs = [run_cli("testbed", "up", "--model", "distributed"),
               run_cli("testbed", "status"),
               run_cli("testbed", "status", "--json"),
               run_cli("testbed", "smoke"),
               run_cli("fault", "list"),
               run_cli("fault", "counters")]
    for result in outputs:
        assert result.returncode == 0, result.stderr
        for secret in secrets:
            assert secret not in result.stdout + result.stderr


def test_toxiproxy_down_is_reported_and_up_survives_kill_9(manager):
    """A crash in two steps, on the testbed the tests above left up: its
    toxiproxy dies (status says so, exit 1), then everything else it
    started is killed -9; the next `up` clears the remains and comes up,
    and `down` stops every process and frees every port."""
    bed = manager.ensure("distributed")
    ports = _testbed_ports(bed)
    procs = [p for p in ProcessTable(manager.testbed.state).all()]
    assert procs and all(p.alive for p in procs)
    tox = ProcessTable(manager.testbed.state).get("toxiproxy")
    os.kill(tox.pid, signal.SIGKILL)
    result = run_cli("testbed", "status")
    assert result.returncode == 1
    assert "DOWN toxiproxy" in result.stdout
    assert "Traceback" not in result.stderr
    # Its epmd dies first: the RabbitMQ nodes start an `epmd -daemon` of
    # their own at once, in a session of its own (what left CI's port 4370
    # held after this test).
    table = ProcessTable(manager.testbed.state)
    epmd = table.get("epmd")
    os.kill(epmd.pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while not any(n.startswith("epmd ") for n in table.strays()):
        assert time.monotonic() < deadline, "no RabbitMQ restarted epmd"
        time.sleep(0.2)
    # kill -9 everything else the testbed started, then bring it up again.
    for p in procs:
        for pid in p.group():
            if p.name not in ("toxiproxy", "epmd"):
                os.kill(pid, signal.SIGKILL)
    # Given no --model-file, `up` reads the one the killed testbed was
    # brought up with (its record survives the crash).
    scoped = manager.model_file
    result = run_cli("testbed", "up", "--model", "distributed")
    assert result.returncode == 0, result.stderr
    assert "remains of an earlier testbed" in result.stderr
    bed = manager.started("distributed", scoped)
    assert manager.testbed.healthy()
    assert bed.at("edge1").issue_token().status_code == 201
    procs = ProcessTable(manager.testbed.state).all()
    pids = [pid for p in procs for pid in p.group()]
    # down stops every process and frees every port.
    result = run_cli("testbed", "down")
    assert result.returncode == 0, result.stderr
    manager.current = None
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()
                and "Z" not in Path(f"/proc/{pid}/stat").read_text()
                .rsplit(")", 1)[1].split()[0]]
    assert not (ports & _listening_ports())
    assert not manager.testbed.state.exists()
    assert not table.strays()


@pytest.mark.parametrize("args, code, words", [
    (["testbed", "up", "--model", "hybrid"], 2, "unknown deployment model"),
    (["testbed", "up", "--edges", "0"], 2, "at least 1"),
    (["testbed", "up", "--edges", "two"], 2, "whole number"),
    (["testbed", "fly"], 2, "invalid choice"),
])
def test_bad_arguments(args, code, words):
    result = run_cli(*args)
    _one_line_error(result, code)
    assert words in result.stderr


def test_malformed_model_file(tmp_path):
    bad = tmp_path / "model.yaml"
    bad.write_text("tiers: [unclosed\n")
    result = run_cli("--model-file", str(bad), "testbed", "status")
    _one_line_error(result, 2)
    assert "not valid YAML" in result.stderr


def test_port_in_use(manager):
    manager.down()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.1.1", 5000))
        s.listen()
        result = run_cli("testbed", "up", "--model", "distributed")
    _one_line_error(result, 1)
    assert "127.0.1.1:5000" in result.stderr and "in use" in result.stderr
    assert not manager.testbed.healthy(quick=True)


def test_mariadb_missing(manager, tmp_path):
    manager.down()
    result = run_cli("testbed", "up", env={
        "EDGE_REFARCH_MARIADBD": str(tmp_path / "no-mariadbd")})
    _one_line_error(result, 1)
    assert "mariadbd" in result.stderr
    assert not manager.testbed.healthy(quick=True)


def test_toxiproxy_missing_and_not_buildable(manager, tmp_path):
    manager.down()
    # An empty cache (no toxiproxy-server built yet) and no Go to build it.
    result = run_cli("testbed", "up", env={
        "EDGE_REFARCH_CACHE": str(tmp_path / "cache"),
        "EDGE_REFARCH_GO": str(tmp_path / "no-go")})
    _one_line_error(result, 1)
    assert "toxiproxy-server is not built" in result.stderr
