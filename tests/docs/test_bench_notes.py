"""The bring-up benchmark's notes on the benchmarks page: what an edge's
PSS is made of, when the results hold it (bench.testbed_bringup)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXT = Path(__file__).resolve().parents[2] / "doc" / "source" / "_ext" / \
    "edge_refarch_docs.py"


def _ext():
    spec = importlib.util.spec_from_file_location("edge_refarch_docs", EXT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _median(x: float) -> dict:
    return {"n": 1, "median": x}


def test_an_edges_pss_is_listed_largest_first_with_its_parents():
    data = {"bring_up": {"distributed/2": {
        "model": "distributed", "edges": 2,
        "edge1_pss_mib_per_service": {"glance": _median(120),
                                      "keystone": _median(125.4),
                                      "memcached": _median(16)},
        "edge1_supervising_parents_pss_mib": _median(480)}}}
    text = " ".join(_ext()._bring_up_notes(data))
    assert ("distributed, edge1's PSS per service (MiB, medians): "
            "keystone 125, glance 120, memcached 16; of it, 480 MiB in "
            "supervising parent processes") in text


def test_results_without_the_breakdown_add_no_line():
    data = {"bring_up": {"distributed/2": {"model": "distributed",
                                           "edges": 2}}}
    assert _ext()._bring_up_notes(data) == []
