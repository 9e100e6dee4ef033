"""A run whose first stage is two Tempest runs at once (runner._plan: the
black-hole cut at edge2 beside the refused one at edge1), terminated
(SIGTERM, as a CI job's timeout ends it) while the second run holds its
cut: both runs are stopped, both links healed, nothing the tests made is
left, and the model's earlier verdicts are withdrawn."""

from __future__ import annotations

import configparser
import json
import os
import signal
import subprocess
import sys
import time

import psutil

from edge_refarch.validation import paths
from edge_refarch.validation.conformance import runner, tempest_conf

from .conftest import CONVERGE_S, FAIL_FAST_S

MODEL = "distributed"
# Site-local in the distributed model: its refused test stands at edge1 and
# its black-hole test at edge2, at once.
REQUIREMENT = "EDGE-SEC-REVOKE"
# What its black-hole test does before the cut: a member created at the DC
# logs in at edge2 (up to the converge bound) and one call to each of the
# edge's service APIs with the member's token (up to the fail-fast bound
# each: Keystone, Glance, Nova, Placement, Neutron, Heat).
BEFORE_CUT_S = CONVERGE_S + 6 * FAIL_FAST_S


def _tempest_runs(pid: int) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            cmd = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if len(cmd) > 2 and cmd[1].endswith("/tempest") and cmd[2] == "run":
            found.append(child)
    return found


def _wait(what: str, predicate, timeout: float):
    start = time.monotonic()
    while not (got := predicate()):
        assert time.monotonic() - start < timeout, f"{what}: not within " \
            f"{timeout:g} s"
        time.sleep(0.25)
    return got


def _cwd(proc: psutil.Process) -> str:
    try:
        return proc.cwd()
    except psutil.NoSuchProcess:
        return ""


def _second_run_said() -> str:
    """What the second run (at edge2) said: the end of its output and
    the requests its tests made that did not succeed."""
    work = paths.conformance_dir(paths.CLOUD)
    said = []
    for path, keep in ((work / "tempest-edge2-run.log", lambda ln: True),
                       (work / "tempest-edge2" / "tempest.log",
                        lambda ln: "Request (" in ln and not any(
                            f"): {c}" in ln for c in ("200", "201", "202",
                                                      "204")))):
        try:
            lines = [ln for ln in path.read_text().splitlines() if keep(ln)]
        except OSError as exc:
            lines = [str(exc)]
        said.append(f"{path.name}: " + " | ".join(lines[-15:]))
    return "; ".join(said)


def test_interrupt_while_two_runs_cut_edges(manager, tmp_path):
    bed = manager.ensure(MODEL)
    conf = tempest_conf.for_testbed(
        bed.testbed, paths.state_dir().parent / "lanes" / "t.conf")
    # Two runs at once are the operator's choice (off by default).
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(conf)
    cp["edge_refarch"]["concurrent_edge_cuts"] = "true"
    with open(conf, "w") as fh:
        cp.write(fh)
    report_dir = tmp_path / "report"
    report_dir.mkdir()
    (report_dir / f"{MODEL}.json").write_text('{"model": "distributed"}')
    cli = subprocess.Popen(
        [sys.executable, "-m", "edge_refarch.validation.cli", "conformance",
         "run", "--tempest-conf", str(conf), "--requirement", REQUIREMENT,
         "--report-dir", str(report_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL)
    try:
        runs = _wait("two tempest runs at once",
                     lambda: len(_tempest_runs(cli.pid)) == 2
                     and _tempest_runs(cli.pid), 120)
        # The second run's black-hole cut at edge2, both runs alive (the
        # first one's cut at edge1 comes and goes on its own schedule); a
        # second run that ends first fails the test at once, saying why.
        second = next((p for p in runs
                       if _cwd(p).endswith(f"{os.sep}tempest-edge2")), None)
        assert second is not None, \
            f"the second run ended at once; {_second_run_said()}"

        def cut_or_ended():
            if bed.link_faults("dc-edge2") != ([], []):
                return "cut"
            try:
                if second.status() != psutil.STATUS_ZOMBIE:
                    return None
            except psutil.NoSuchProcess:
                pass
            return "ended"
        try:
            got = _wait("edge2's link cut", cut_or_ended, BEFORE_CUT_S)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; {_second_run_said()}") from None
        assert got == "cut", \
            f"the second run ended before its cut; {_second_run_said()}"
        assert all(proc.is_running() for proc in runs)
        # SIGTERM, as a CI job's timeout sends it (SIGINT is ignored in a
        # background job of a shell script, as CI runs this suite).
        cli.send_signal(signal.SIGTERM)
        out, err = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(timeout=10)
    assert cli.returncode == 143, (out, err)
    assert err.strip().splitlines()[-1] == "edge-refarch: terminated", err
    assert "Traceback" not in err
    for proc in runs:
        assert not proc.is_running() or proc.status() == \
            psutil.STATUS_ZOMBIE, proc
    for link in ("dc-edge1", "dc-edge2"):
        assert bed.link_faults(link) == ([], []), link
    left = runner.Cloud(conf).cleanup()
    assert not any(left.values()), left
    record = json.loads((report_dir / f"{MODEL}.json").read_text())
    assert record["incomplete"] == "terminated (SIGTERM)", record
    print("\nterminated with dc-edge2 cut: both tempest runs stopped, "
          "0 faults and nothing made left")
