"""kill -9 in the middle of a glance-download under a partition: the next
run's start-up, or 'edge-refarch conformance cleanup', leaves zero toxics,
zero disabled proxies, zero leaked images, users, projects or Heat stacks
(one in a project the admin cannot list, found by the suite's ledger), and
the imported image complete with the right checksum or absent -- never
corrupt."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import openstack.exceptions
import pytest

from edge_refarch.validation import paths
from edge_refarch.validation.conformance import runner, tempest_conf

from .conftest import run_cli

HOLDER = Path(__file__).with_name("crash_holder.py")


def _leaked(bed):
    out = {}
    for site in bed.topology.sites:
        conn = bed.at(site).conn
        out[f"images@{site}"] = sorted(
            i.id for i in conn.image.images()
            if (i.name or "").startswith(runner.PREFIX))
    for kind in ("users", "projects"):
        out[kind] = sorted(
            x.id for x in getattr(bed.at("dc").conn.identity, kind)()
            if x.name.startswith(runner.PREFIX))
    return out


def _stack_left(bed, url: str) -> bool:
    """Whether the admin at edge1 still finds the stack at `url` (Heat
    lets an admin see any project's stack by its ID)."""
    r = bed.at("edge1").conn.orchestration.get(url, raise_exc=False)
    return r.status_code != 404 and r.json()["stack"]["stack_status"] != \
        "DELETE_COMPLETE"


@pytest.mark.parametrize("mode, healer", [
    ("blackhole", "cleanup command"),
    ("refused", "next run start-up"),
])
def test_kill_9_mid_download_under_partition(manager, mode, healer):
    bed = manager.ensure("distributed")
    conf = tempest_conf.for_testbed(
        bed.testbed, paths.state_dir().parent / "crash" / "t.conf")
    ledger_file = runner.Cloud(conf).resource_ledger
    holder = subprocess.Popen([sys.executable, str(HOLDER), mode,
                               ledger_file],
                              stdout=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL)
    try:
        info = json.loads(holder.stdout.readline())
        time.sleep(1.0)   # the import is under way against a cut link
        edge = bed.at("edge1").conn
        assert edge.image.get_image(info["edge_image"]).status in (
            "importing", "queued")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    before = bed.link_faults("dc-edge1"), _leaked(bed)
    print(f"\nkill -9 ({mode}) left: {len(before[0][0])} disabled proxies, "
          f"{len(before[0][1])} toxics, "
          f"{ {k: len(v) for k, v in before[1].items()} }")
    assert before[0] != ([], []), "the fault should outlive the kill -9"
    assert before[1]["images@dc"] and before[1]["images@edge1"]
    assert before[1]["projects"] and _stack_left(bed, info["stack"])

    if healer == "cleanup command":
        result = run_cli("conformance", "cleanup")
        assert result.returncode == 0, result.stderr
    else:
        runner.Cloud(conf).cleanup()   # what every run starts with

    assert bed.link_faults("dc-edge1") == ([], [])
    expected = {f"images@{s}": [] for s in bed.topology.sites}
    assert _leaked(bed) == {**expected, "users": [], "projects": []}
    assert not _stack_left(bed, info["stack"])
    assert not Path(ledger_file).exists()
    print(f"after {healer}: 0 disabled proxies, 0 toxics, nothing leaked "
          "(the stack too)")
    try:
        img = bed.at("edge1").conn.image.get_image(info["edge_image"])
    except openstack.exceptions.NotFoundException:
        img = None
    assert img is None or img.status == "deleted" or (
        img.status == "active" and img.checksum == info["checksum"])
