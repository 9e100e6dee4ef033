"""The suite on a cloud laid out as devstack lays out a multinode region
(issue 17): every API behind one web server under a path prefix, regions
``RegionOne``/``RegionTwo``, one proxy per link for that web server. Run as
doc/source/howto/devstack-multinode.rst says: ``conformance config`` with
the how-to's site map and the operator's toxiproxy, then ``conformance
run``; the verdicts are the testbed's own (architecture/
expected_verdicts.yaml), since the layout changes URLs, not what runs
where."""

from __future__ import annotations

import configparser
import json

import psutil
import pytest

from edge_refarch.validation.conformance import expectations
from edge_refarch.validation.testbed.procs import session_pids

from .conftest import run_cli
from .devstack_layout import OVERLAY, DevstackLayout

MODEL = "centralized-devstack"


@pytest.fixture(scope="module")
def layout(manager, tmp_path_factory):
    # The whole suite runs: the telemetry plane too (EDGE-US3-ALARM-LOOP).
    bed = manager.ensure("centralized", overlay=OVERLAY, telemetry=True)
    with DevstackLayout(bed, ["dc", "edge1"],
                        tmp_path_factory.mktemp("devstack")) as lay:
        yield lay


def _config(layout, out):
    return run_cli("conformance", "config", "--clouds", str(layout.clouds),
                   "--site-map", str(layout.site_map), "--model",
                   "centralized", "--toxiproxy-url",
                   layout.bed.toxiproxy.url, "-o", str(out))


def test_config_reads_the_devstack_catalog(layout, tmp_path):
    """conformance config finds every API under its prefix in the regions
    the clouds name, and checks the edge's path against the one proxy of
    its link."""
    out = tmp_path / "tempest.conf"
    result = _config(layout, out)
    assert result.returncode == 0, result.stdout + result.stderr
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(out)
    assert cp["identity"]["uri_v3"] == \
        f"{layout.url('dc', 'identity', None)}/v3"
    assert cp["identity"]["region"] == "RegionOne"
    for svc in ("nova", "glance", "heat_plugin"):
        assert cp["service_available"][svc] == "true", svc


def test_suite_verdicts_match_the_testbed(layout, tmp_path):
    """The whole centralized suite through devstack's URLs: every verdict
    (and every partition mode's) is the one declared for the testbed, and
    the cloud is left as it was found. With --strict the run exits 1 for
    the declared failures alone (one line); without it, it would exit 0."""
    conf = tmp_path / "tempest.conf"
    result = _config(layout, conf)
    assert result.returncode == 0, result.stdout + result.stderr
    report_dir = tmp_path / "report"
    result = run_cli("conformance", "run", "--tempest-conf", str(conf),
                     "--report-dir", str(report_dir), "--strict",
                     "--expect", str(expectations.DEFAULT_PATH),
                     timeout=1800)
    report = json.loads((report_dir / "centralized.json").read_text())
    verdicts = {r["id"]: (r["verdict"], r.get("reason", ""))
                for r in report["requirements"]}
    assert "verdicts as expected" in result.stdout, (
        result.stdout[-3000:], verdicts)
    failed = [rid for rid, (v, _) in verdicts.items() if v == "fail"]
    assert failed and result.returncode == 1, result.stderr
    # (stderr: the progress lines, then the one error line)
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == \
        f"edge-refarch: error: {len(failed)} requirement(s) failed"
    assert report["hygiene"]["clean"], report["hygiene"]
    assert report["target"]["sites"]["edge1"]["cloud"] == "devstack-edge1"


def test_gnocchi_metricd_runs_no_reporting_worker(layout):
    """The testbed's metricd runs its processing and janitor workers and no
    reporting worker ([metricd] metric_reporting_delay = -1): a process
    that only logs the backlog, left out to save memory."""
    leaders = [p for p in layout.bed.testbed.procs.all()
               if p.name.endswith(".gnocchi-metricd")]
    assert leaders
    for leader in leaders:
        titles = sorted(" ".join(psutil.Process(pid).cmdline())
                        for pid in session_pids(leader.pid))
        workers = [t.split(": ", 1)[1].strip() for t in titles
                   if "worker(" in t]
        assert workers == ["janitor worker(0)", "processing worker(0)"], \
            (leader.name, titles)
