"""The run's stages (runner._plan): the black-hole cuts at another edge
site beside the other tests, for the tests that stand at the DC and one
edge site only (base.EdgeRefarchTest.site_local), and which classes
those are."""

from __future__ import annotations

import configparser
import inspect

from edge_refarch.architecture import load_model
from edge_refarch.validation.conformance import runner, selection

CONF = """\
[auth]
admin_password = s3cret

[edge_refarch]
deployment_model = distributed
root_site = dc
edge_site = edge1
site_identity_uris = dc:http://127.0.1.1:5000,edge1:http://127.0.2.1:5000
site_regions = dc:RegionDC,edge1:RegionEdge1
site_links = edge1:dc-edge1{other_link}
concurrent_edge_cuts = {concurrent}
{other}
"""

TESTS = ["p.ApiTest.test_a", "p.LocalApiTest.test_a", "p.CutTest.test_b",
         "p.CutBlackholeTest.test_b", "p.LocalCutTest.test_c",
         "p.LocalCutBlackholeTest.test_c"]
MODES = {"p.CutTest.test_b": "refused", "p.CutBlackholeTest.test_b":
         "blackhole", "p.LocalCutTest.test_c": "refused",
         "p.LocalCutBlackholeTest.test_c": "blackhole"}
LOCAL = {"p.LocalApiTest.test_a", "p.LocalCutTest.test_c",
         "p.LocalCutBlackholeTest.test_c"}


def _conf(tmp_path, other="other_edge_site = edge2",
          other_link=",edge2:dc-edge2", concurrent="true"):
    path = tmp_path / "tempest.conf"
    path.write_text(CONF.format(other=other, other_link=other_link,
                                concurrent=concurrent))
    return path


def _parsed(text: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(text)
    return cp


def _plan(tmp_path, conf, tests=TESTS):
    return runner._plan(conf, tests, MODES, LOCAL, tmp_path)


def test_local_black_hole_cuts_run_at_the_other_edge_first(tmp_path):
    stages = _plan(tmp_path, _conf(tmp_path))
    assert [[lane.edge for lane in stage] for stage in stages] == \
        [["edge1", "edge2"], ["edge1"]]
    (one, two), (alone,) = stages
    assert one.tests == ["p.LocalApiTest.test_a", "p.LocalCutTest.test_c"]
    assert two.tests == ["p.LocalCutBlackholeTest.test_c"]
    # The rest, black-hole cuts too, one at a time at edge_site.
    assert alone.tests == ["p.ApiTest.test_a", "p.CutTest.test_b",
                           "p.CutBlackholeTest.test_b"]
    confs = [_parsed(lane.conf)["edge_refarch"] for lane in (one, two,
                                                                alone)]
    assert [(c["edge_site"], c["other_edge_site"]) for c in confs] == \
        [("edge1", "edge2"), ("edge2", "edge1"), ("edge1", "edge2")]
    assert len({lane.name for lane in (one, two, alone)}) == 3
    assert len({lane.subunit for lane in (one, two, alone)}) == 3
    assert len({lane.evidence for lane in (one, two, alone)}) == 3


def test_one_lane_without_another_edge_to_cut(tmp_path):
    for other, link in (("", ""), ("other_edge_site = edge2", ""),
                        ("other_edge_site = edge1", "")):
        stages = _plan(tmp_path, _conf(tmp_path, other, link))
        assert [[lane.tests for lane in stage] for stage in stages] == \
            [[TESTS]], other


def test_one_lane_unless_the_operator_says_so(tmp_path):
    conf = _conf(tmp_path, concurrent="false")
    assert [[lane.tests for lane in stage]
            for stage in _plan(tmp_path, conf)] == [[TESTS]]
    conf.write_text(conf.read_text().replace(
        "concurrent_edge_cuts = false\n", ""))
    assert [[lane.tests for lane in stage]
            for stage in _plan(tmp_path, conf)] == [[TESTS]]


def test_one_lane_when_nothing_would_run_beside(tmp_path):
    for tests in (["p.LocalCutBlackholeTest.test_c", "p.ApiTest.test_a"],
                  ["p.LocalApiTest.test_a", "p.CutBlackholeTest.test_b"]):
        stages = _plan(tmp_path, _conf(tmp_path), tests)
        assert [[lane.tests for lane in stage] for stage in stages] == \
            [[tests]]


def _classes():
    seen = {}
    for _, cls, _ in selection._test_methods():
        seen[cls.__name__] = cls
    return seen


def test_only_site_local_classes_run_beside_another_lane():
    classes = _classes()
    assert classes, "no test classes found"
    local = {n for n, c in classes.items() if c.site_local}
    model = load_model()

    def chosen(deployment):
        return {t.split(".")[-2] for t in selection.site_local(
            model.deployment_model(deployment))}
    assert chosen("distributed") == local
    assert chosen("federated") == local
    # One Nova API at the DC: a listing at the edge is every cell's.
    listing = {n for n, c in classes.items() if c.lists_servers}
    assert {"AlarmLoopBlackholeTest", "IdentitySecurityTest"} <= listing
    assert chosen("centralized") == local - listing
    # Each of these stands at a site other than the DC and edge_site.
    for name in ("IdentityAcrossSitesTest", "ComputeTest",
                 "FederatedIdentityTest", "IdentityPartitionTest",
                 "ComputePartitionTest", "KeyRotationTest",
                 "CredentialKeyRotationTest", "IdentityReplicaTest",
                 "DcAvailabilityTest", "LinkTest"):
        assert name not in local, name
    assert {"IdentitySecurityBlackholeTest", "PartitionBlackholeTest"} <= local


def test_a_site_local_class_names_no_other_site():
    """What stands at another site than the DC and edge_site names it
    through these; a site_local class (and what it inherits from the
    plugin) must not."""
    for name, cls in _classes().items():
        if not cls.site_local:
            continue
        for klass in cls.__mro__:
            if not klass.__module__.startswith(
                    "edge_refarch.tempest_plugin.tests.") \
                    or klass.__module__.endswith(".base"):
                continue
            source = inspect.getsource(klass)
            for word in ("other_edge", "compute_sites", "site_identity_uris",
                         "site_links"):
                assert word not in source, (name, klass.__name__, word)
            if "list_servers" in source or "token_check" in source:
                assert cls.lists_servers, (name, klass.__name__)


def test_a_run_clears_what_earlier_runs_left(tmp_path):
    conf = tmp_path / "tempest.conf"
    conf.write_text("[edge_refarch]\n")
    earlier = ["tempest-blackhole.subunit", "tempest-blackhole-evidence.jsonl",
               "tempest-run.log", "include-list.txt", "results.subunit",
               "workspace.yaml"]
    for name in earlier:
        (tmp_path / name).write_text("x")
    (tmp_path / "tempest-edge2" / "etc").mkdir(parents=True)
    (tmp_path / "operator-notes.txt").write_text("mine")
    runner._clear_earlier_runs(tmp_path, conf)
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["operator-notes.txt", "tempest.conf"]
