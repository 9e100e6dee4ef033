"""Benchmark statistics: percentiles and SLA verdicts (pure logic)."""

from __future__ import annotations

import pytest

from bench import common


def test_percentiles_interpolate_between_ranks():
    values = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0]
    s = common.summary(values)
    assert (s["n"], s["min"], s["max"]) == (10, 10.0, 100.0)
    assert s["p50"] == s["median"] == 55.0
    assert s["p90"] == pytest.approx(91.0)
    assert s["p95"] == pytest.approx(95.5)


def test_one_value_is_every_percentile():
    s = common.summary([3.0])
    assert s["p50"] == s["p90"] == s["p95"] == s["max"] == 3.0


def test_no_values_is_an_error():
    with pytest.raises(ValueError):
        common.percentile([], 50)


def test_sla_verdicts():
    s = common.summary([100.0, 200.0, 300.0])
    assert common.sla_verdict(s, {"p95_max": 400}) == \
        {"pass": True, "failed": []}
    verdict = common.sla_verdict(s, {"p95_max": 250, "p50_min": 250})
    assert verdict["pass"] is False
    assert verdict["failed"] == ["p95 290 > 250", "p50 200 < 250"]


def test_sla_limits_must_name_a_statistic_and_a_direction():
    s = common.summary([1.0])
    with pytest.raises(ValueError):
        common.sla_verdict(s, {"p95_below": 2})
    with pytest.raises(KeyError):
        common.sla_verdict(s, {"p99_max": 2})
