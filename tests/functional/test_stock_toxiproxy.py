"""Against a stock toxiproxy (upstream's server, without edge-refarch's
blackhole toxic), a black-hole partition is refused in one line that says
what to run instead, and nothing is left applied; the other faults work."""

from __future__ import annotations

import socket
import subprocess

import pytest

from edge_refarch.architecture import load_model
from edge_refarch.validation.faults.faults import FaultInjector, Links
from edge_refarch.validation.faults.probe import free_port
from edge_refarch.validation.faults.toxiproxy_api import ToxiproxyError

from .conftest import run_cli

MODEL = "none"      # no testbed: runs first (conftest ordering)
LINK = "probe-link"


def test_blackhole_needs_our_toxic_and_says_so(stock_toxiproxy, tmp_path):
    tp = stock_toxiproxy
    with socket.create_server(("127.0.0.1", 0)) as upstream:
        name = f"{LINK}.probe"
        tp.ensure_proxy(name, f"127.0.0.1:{free_port('127.0.0.1')}",
                        f"127.0.0.1:{upstream.getsockname()[1]}")
        injector = FaultInjector(tp, Links({LINK: [name]}), tmp_path,
                                 heal_leftovers=False)
        with pytest.raises(ToxiproxyError) as err:
            with injector.partition(LINK, mode="blackhole"):
                pass
        line = str(err.value)
        assert "\n" not in line
        assert "has no 'blackhole' toxic" in line, line
        assert "edge-refarch fault build-toxiproxy" in line, line
        assert tp.proxies()[name]["toxics"] == []     # nothing half-applied
        with injector.latency(LINK, rtt_ms=10):        # the rest works
            assert len(tp.proxies()[name]["toxics"]) == 2
        assert tp.proxies()[name]["toxics"] == []


def test_build_toxiproxy_prints_a_server_with_the_blackhole_toxic():
    result = run_cli("fault", "build-toxiproxy")
    assert result.returncode == 0, result.stderr
    server = result.stdout.strip().splitlines()[-1]
    version = subprocess.run([server, "-version"], capture_output=True,
                             text=True, timeout=10, check=True).stdout
    assert load_model().testbed.toxiproxy_version in version
    assert "+blackhole" in version
