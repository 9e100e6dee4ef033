"""How a latency fault splits its RTT into toxiproxy's whole milliseconds."""

from __future__ import annotations

import pytest

from edge_refarch.validation.errors import BadInput
from edge_refarch.validation.faults.faults import FaultInjector, Links
from edge_refarch.validation.faults.toxiproxy_api import Toxiproxy


def _injector(tmp_path, overshoot=0.0):
    # Never contacted: these tests only build toxics.
    return FaultInjector(Toxiproxy("http://127.0.0.1:9"),
                         Links({"dc-edge1": ["dc-edge1.p"]}), tmp_path,
                         heal_leftovers=False,
                         latency_overshoot_ms=overshoot)


def _asked(fault):
    return {t["stream"]: t["attributes"]["latency"] for t in fault.toxics()}


@pytest.mark.parametrize("rtt,overshoot,up,down", [
    (10, 0.0, 5, 5),
    (11, 0.0, 6, 5),
    (10, 0.9, 5, 4),     # 9 ms asked + 0.9 ms overshoot ~ 10 ms
    (50, 1.1, 25, 24),
    (200, 1.2, 100, 99),
    (1, 0.9, 1, 0),
    (0.4, 0.9, 0, 0),    # never negative
    (0, 0.9, 0, 0),
])
def test_overshoot_is_subtracted(tmp_path, rtt, overshoot, up, down):
    fault = _injector(tmp_path, overshoot).latency("dc-edge1", rtt_ms=rtt)
    assert _asked(fault) == {"upstream": up, "downstream": down}


def test_jitter_is_halved_each_way(tmp_path):
    fault = _injector(tmp_path).latency("dc-edge1", rtt_ms=100,
                                        jitter_ms=10)
    assert {t["attributes"]["jitter"] for t in fault.toxics()} == {5}


@pytest.mark.parametrize("overshoot", [-1, 11, float("nan")])
def test_absurd_overshoot_is_refused(tmp_path, overshoot):
    with pytest.raises(BadInput):
        _injector(tmp_path, overshoot)
