"""Testbed slots: several testbeds at once on one machine, apart."""

from __future__ import annotations

import argparse
import itertools

import pytest

from edge_refarch.architecture import ModelError, load_model
from edge_refarch.architecture.topology import Topology
from edge_refarch.validation import cli, paths
from edge_refarch.validation.conformance import slots


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture
def slot_env(monkeypatch):
    """$EDGE_REFARCH_SLOT as the test leaves it is undone afterwards (the
    CLI's --slot sets it in this process)."""
    monkeypatch.setenv(paths.SLOT_ENV, "0")
    return monkeypatch


def _listeners(topo: Topology) -> set[tuple[str, int]]:
    return {(addr, port) for addr, port, _ in topo.listeners()}


def test_the_main_jobs_testbeds_listen_apart(model):
    """The three deployment models in slots 0, 1 and 2 (as the main job
    runs them): no address and port that one binds is another's."""
    beds = [Topology(model, name, testbed=True, slot=k)
            for k, name in enumerate(model.deployment_models)]
    assert len(beds) == 3
    for a, b in itertools.combinations(beds, 2):
        assert not _listeners(a) & _listeners(b), (a.slot, b.slot)
        assert not {s.address for s in a.sites.values()} \
            & {s.address for s in b.sites.values()}


def test_slot_shifts_addresses_and_its_ports(model):
    tb = model.testbed
    zero = Topology(model, "distributed", testbed=True)
    two = Topology(model, "distributed", testbed=True, slot=2)
    for name, site in two.sites.items():
        n = 2 * tb.slot_sites + site.number
        assert site.address == tb.site_address.format(n=n)
        assert site.number == zero.sites[name].number
    assert zero.sites["dc"].address == tb.site_address.format(n=1)
    assert two.toxiproxy_port == tb.toxiproxy_port + 2
    assert two.epmd_port == tb.epmd_port + 2
    assert two.rabbitmq_dist_port(two.sites["edge1"]) == \
        tb.rabbitmq_dist_port_base + 2 * tb.slot_sites + 2
    # A proxy's port is its testbed's; its address is the slot's.
    p0, p2 = zero.proxies[0], two.proxies[0]
    assert p0.listen.rsplit(":", 1)[1] == p2.listen.rsplit(":", 1)[1]
    assert p0.listen != p2.listen


def test_a_slot_the_sites_do_not_fit_is_refused(model):
    high = 250 // model.testbed.slot_sites
    with pytest.raises(ModelError, match="lower --slot"):
        Topology(model, "distributed", edges=model.testbed.slot_sites,
                 testbed=True, slot=high)
    with pytest.raises(ModelError, match="at least 0"):
        Topology(model, "distributed", slot=-1)


def test_state_directory_per_slot(tmp_path, slot_env):
    slot_env.setenv("EDGE_REFARCH_STATE", str(tmp_path / "testbed"))
    assert paths.state_dir() == tmp_path / "testbed"
    assert paths.state_dir(3) == tmp_path / "slot-3" / "testbed"
    slot_env.setenv(paths.SLOT_ENV, "2")
    assert paths.slot() == 2
    assert paths.state_dir() == tmp_path / "slot-2" / "testbed"
    # What lies beside the state (conformance runs) is the slot's own.
    assert paths.conformance_dir("federated") == \
        tmp_path / "slot-2" / "conformance" / "federated"
    assert paths.slots_with_state() == []
    for d in (paths.state_dir(0), paths.state_dir(2), paths.state_dir(7),
              tmp_path / "slot-x" / "testbed"):
        d.mkdir(parents=True)
    assert paths.slots_with_state() == [0, 2, 7]


@pytest.mark.parametrize("argv, words", [
    (["--slot", "-1", "testbed", "status"], "whole number of 0 or more"),
    (["--slot", "one", "testbed", "status"], "whole number of 0 or more"),
    (["conformance", "run", "--model", "centralized", "--model",
      "centralized"], "--model centralized: given twice"),
    (["conformance", "run", "--model", "centralized", "--model",
      "hybrid"], "unknown deployment model 'hybrid'"),
    (["conformance", "run", "--model", "centralized", "--model",
      "distributed", "--tempest-conf", "t.conf"], "give one --model"),
    (["--slot", "1", "conformance", "run", "--model", "centralized",
      "--model", "distributed"], "slots 0 and up"),
])
def test_bad_slot_input_is_one_line_exit_2(capsys, slot_env, argv, words):
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert words in err
    assert len(err.strip().splitlines()) == 1


def test_bad_slot_environment_is_one_line_exit_2(capsys, slot_env):
    slot_env.setenv(paths.SLOT_ENV, "first")
    assert cli.main(["testbed", "status"]) == 2
    err = capsys.readouterr().err
    assert "EDGE_REFARCH_SLOT: must be a whole number" in err
    assert len(err.strip().splitlines()) == 1


def test_each_runs_command_line_keeps_the_options():
    args = argparse.Namespace(
        debug=False, quiet=True, model_file="m.yaml", edges=3,
        report_dir="out", requirement=["EDGE-US1-IDENTITY", "EDGE-X"],
        expect=None, no_expect=True, fail_on="fail", strict=False)
    argv = slots.child_argv(args, "federated", 2)
    assert argv[1:3] == ["-m", "edge_refarch.validation.cli"]
    assert argv[3:] == [
        "-q", "--model-file", "m.yaml", "--slot", "2", "conformance",
        "run", "--model", "federated", "--edges", "3", "--report-dir",
        "out", "--requirement", "EDGE-US1-IDENTITY", "--requirement",
        "EDGE-X", "--no-expect", "--fail-on", "fail"]
    # What it names parses as one model's run in that slot.
    parsed = cli.build_parser().parse_args(argv[3:])
    assert (parsed.slot, parsed.model, parsed.edges) == (2, ["federated"],
                                                         3)


def test_each_bring_up_command_line():
    args = argparse.Namespace(debug=True, quiet=False, model_file=None,
                              edges=None)
    argv = slots.up_argv(args, "centralized", 1)
    assert argv[3:] == ["--debug", "--slot", "1", "testbed", "up",
                        "--model", "centralized"]
    parsed = cli.build_parser().parse_args(argv[3:])
    assert (parsed.slot, parsed.area, parsed.command, parsed.model) == (
        1, "testbed", "up", "centralized")
