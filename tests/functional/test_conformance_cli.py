"""conformance config/run: clear errors for bad tempest.conf, clouds.yaml
entries and regions; a tempest.conf discovered from any cloud's catalogs."""

from __future__ import annotations

import configparser
import json

import yaml

from .conftest import run_cli, run_requirements


def _one_line(result, code):
    assert result.returncode == code, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edge-refarch: error:"), \
        result.stderr
    return lines[0]


def test_missing_tempest_conf(tmp_path):
    line = _one_line(run_cli("conformance", "run", "--tempest-conf",
                             str(tmp_path / "absent.conf")), 2)
    assert "no such tempest.conf" in line


def test_tempest_conf_without_our_section(tmp_path):
    conf = tmp_path / "tempest.conf"
    conf.write_text("[auth]\nadmin_username = admin\n")
    line = _one_line(run_cli("conformance", "run", "--tempest-conf",
                             str(conf)), 2)
    assert "missing edge_refarch" in line


def test_a_run_that_does_not_complete_withdraws_the_earlier_report(
        tmp_path):
    """A run whose cloud does not answer ends with a one-line error and
    leaves, in place of the earlier run's report, subunit stream and JUnit
    file, a record that says why it did not complete."""
    conf = tmp_path / "tempest.conf"
    conf.write_text("[auth]\nadmin_username = admin\nadmin_password = x\n"
                    "admin_project_name = admin\n[edge_refarch]\n"
                    "deployment_model = centralized\n"
                    "site_identity_uris = dc:http://127.0.0.1:9/v3\n"
                    "site_regions = dc:RegionOne\n")
    out = tmp_path / "report"
    out.mkdir()
    for suffix in (".json", ".rst", ".subunit", ".junit.xml"):
        (out / f"centralized{suffix}").write_text("an earlier run")
    error = _one_line(run_cli("conformance", "run", "--tempest-conf",
                              str(conf), "--report-dir", str(out)), 1)
    assert "127.0.0.1:9" in error
    assert sorted(p.name for p in out.iterdir()) == [
        "centralized.json", "centralized.rst"]
    rec = json.loads((out / "centralized.json").read_text())
    assert rec["incomplete"] == error.removeprefix("edge-refarch: error: ")
    assert "requirements" not in rec
    # A model the architecture does not name replaces nothing.
    conf.write_text(conf.read_text().replace("= centralized", "= centralised"))
    _one_line(run_cli("conformance", "run", "--tempest-conf", str(conf),
                      "--report-dir", str(out)), 2)
    assert sorted(p.name for p in out.iterdir()) == [
        "centralized.json", "centralized.rst"]


def test_malformed_site_map(tmp_path):
    smap = tmp_path / "sites.yaml"
    smap.write_text("- not a map\n")
    line = _one_line(run_cli(
        "conformance", "config", "--clouds", str(tmp_path / "c.yaml"),
        "--site-map", str(smap), "--model", "distributed"), 2)
    assert "root: SITE" in line


def test_federated_site_map_needs_the_idp_uri(tmp_path):
    smap = tmp_path / "sites.yaml"
    smap.write_text(yaml.safe_dump({"root": "dc", "sites": {
        "dc": {"cloud": "dc"}, "edge1": {"cloud": "edge1"}}}))
    line = _one_line(run_cli(
        "conformance", "config", "--clouds", str(tmp_path / "c.yaml"),
        "--site-map", str(smap), "--model", "federated"), 2)
    assert "idp_uri" in line


def _site_map(tmp_path, sites):
    smap = tmp_path / "sites.yaml"
    smap.write_text(yaml.safe_dump({"root": "dc", "sites": sites}))
    return smap


def test_config_from_clouds_yaml_discovers_the_catalog(manager, tmp_path):
    bed = manager.ensure("distributed")
    smap = _site_map(tmp_path, {
        "dc": {"cloud": "dc"},
        "edge1": {"cloud": "edge1", "link": "dc-edge1", "compute": True},
        "edge2": {"cloud": "edge2", "link": "dc-edge2", "compute": True}})
    out = tmp_path / "tempest.conf"
    result = run_cli("conformance", "config", "--clouds", bed.clouds_yaml,
                     "--site-map", str(smap), "--model", "distributed",
                     "--toxiproxy-url", bed.toxiproxy.url, "-o", str(out))
    assert result.returncode == 0, result.stderr
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(out)
    uris = dict(i.split(":", 1) for i in
                cp["edge_refarch"]["site_identity_uris"].split(","))
    for site in ("dc", "edge1", "edge2"):
        assert uris[site] == bed.topology.auth_url(site)
    assert cp["edge_refarch"]["site_links"] == \
        "edge1:dc-edge1,edge2:dc-edge2"


def test_unknown_cloud_in_site_map(manager, tmp_path):
    bed = manager.ensure("distributed")
    smap = _site_map(tmp_path, {"dc": {"cloud": "dc"},
                                "edge1": {"cloud": "atlantis"}})
    line = _one_line(run_cli(
        "conformance", "config", "--clouds", bed.clouds_yaml, "--site-map",
        str(smap), "--model", "distributed", "-o",
        str(tmp_path / "t.conf")), 2)
    assert "atlantis" in line


def test_unknown_region(manager, tmp_path):
    bed = manager.ensure("distributed")
    clouds = yaml.safe_load(open(bed.clouds_yaml))
    clouds["clouds"]["edge1"]["region_name"] = "atlantis"
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(clouds))
    smap = _site_map(tmp_path, {"dc": {"cloud": "dc"},
                                "edge1": {"cloud": "edge1"}})
    line = _one_line(run_cli(
        "conformance", "config", "--clouds", str(path), "--site-map",
        str(smap), "--model", "distributed", "-o",
        str(tmp_path / "t.conf")), 1)
    assert "atlantis" in line and "region" in line


# For the run without a fault injector: requirements that need none (real
# verdicts), fault requirements (one needing more than the injector), and
# one the distributed model declares not applicable. The conformance job
# runs the whole suite; this is about the selection.
_NO_INJECTOR_SAMPLE = [
    "EDGE-US1-IDENTITY", "EDGE-US2-FETCH", "EDGE-US5-BOOT",
    "EDGE-US2-FETCH-CUT", "EDGE-PART-LATENCY", "EDGE-DAY2-KEY-ROTATION",
    "EDGE-US4-DOWN-CELL"]


def test_without_fault_injector_fault_tests_are_not_run(manager, tmp_path):
    """A cloud without toxiproxy on its WAN path: the fault tests are
    reported 'not run', the others still get real verdicts."""

    from edge_refarch.architecture import load_model
    from edge_refarch.architecture.requirements import load_catalog
    from edge_refarch.validation.conformance import tempest_conf

    bed = manager.ensure("distributed")
    conf = tempest_conf.for_testbed(bed.testbed, tmp_path / "full.conf")
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(conf)
    cp.remove_option("edge_refarch", "toxiproxy_url")
    bare = tmp_path / "tempest.conf"
    with open(bare, "w") as fh:
        cp.write(fh)
    result, report = run_requirements(bare, _NO_INJECTOR_SAMPLE,
                                      tmp_path / "report")
    assert result.returncode == 0, result.stderr
    catalog = load_catalog(load_model())
    sample = [r for r in report["requirements"]
              if r["id"] in _NO_INJECTOR_SAMPLE]
    assert len(sample) == len(_NO_INJECTOR_SAMPLE)
    for r in sample:
        needs = catalog.get(r["id"]).needs
        if not catalog.get(r["id"]).applies_to("distributed"):
            assert r["verdict"] == "not_applicable", r
        elif "fault_injector" in needs:
            assert r["verdict"] == "not_run", r
            assert "no fault injector configured" in r["reason"]
        else:
            # A real verdict: pass, or fail with its cause.
            assert r["verdict"] in ("pass", "fail"), r
            assert r["verdict"] == "pass" or r["tests"][0]["cause"], r
    passed = {r["id"] for r in report["requirements"]
              if r["verdict"] == "pass"}
    assert {"EDGE-US1-IDENTITY", "EDGE-US2-FETCH", "EDGE-US5-BOOT"} <= passed
    assert report["hygiene"]["clean"]


def test_against_a_stock_toxiproxy_the_blackhole_is_not_run(
        manager, stock_toxiproxy, tmp_path):
    """A deployer's stock toxiproxy (no blackhole toxic) carrying edge1's
    link: the black-hole tests are reported not run with the cause, and a
    requirement that passed only with the link refused is not a pass."""
    from edge_refarch.validation.conformance import tempest_conf
    from edge_refarch.validation.faults.probe import free_port

    bed = manager.ensure("distributed")
    for name, info in bed.toxiproxy.proxies().items():
        if name.startswith("dc-edge1."):
            stock_toxiproxy.ensure_proxy(
                name, f"127.0.0.1:{free_port('127.0.0.1')}",
                info["upstream"])
    conf = tempest_conf.for_testbed(bed.testbed, tmp_path / "full.conf")
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(conf)
    cp.set("edge_refarch", "toxiproxy_url", stock_toxiproxy.url)
    with open(conf, "w") as fh:
        cp.write(fh)
    result, report = run_requirements(conf, ["EDGE-PART-IDENTITY"],
                                      tmp_path / "report")
    assert result.returncode == 0, result.stderr
    entry = next(r for r in report["requirements"]
                 if r["id"] == "EDGE-PART-IDENTITY")
    assert entry["modes"]["blackhole"]["verdict"] == "not_run", entry
    assert entry["verdict"] == "not_run", entry
    assert entry["reason"].startswith(
        f"blackhole: not run: toxiproxy at {stock_toxiproxy.url} has no "
        "'blackhole' toxic"), entry["reason"]
    assert report["hygiene"]["clean"], report["hygiene"]


def test_expected_verdicts_turn_a_broken_testbed_red(manager, tmp_path):
    """A deliberately broken testbed setting (every edge's link proxy to
    the DC's Glance wired to a port where nothing listens, as a mistyped
    upstream would) makes the run exit 1 with a one-line difference per
    requirement; wired back, the same run is green."""
    from edge_refarch.validation.conformance import expectations, tempest_conf

    bed = manager.ensure("distributed")
    conf = tempest_conf.for_testbed(bed.testbed, tmp_path / "tempest.conf")
    root = bed.topology.root
    proxies = [p for p in bed.topology.proxies
               if p.service == "glance" and p.dst == root.name]
    assert proxies

    def run():
        return run_cli("conformance", "run", "--tempest-conf", str(conf),
                       "--expect", str(expectations.DEFAULT_PATH),
                       "--requirement", "EDGE-US2-FETCH",
                       "--report-dir", str(tmp_path / "report"))
    try:
        for p in proxies:
            bed.toxiproxy.ensure_proxy(p.name, p.listen, f"{root.address}:9")
        broken = run()
    finally:
        for p in proxies:
            bed.toxiproxy.ensure_proxy(p.name, p.listen, p.upstream)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    differs = [ln for ln in broken.stdout.splitlines()
               if ln.startswith("DIFFERS ")]
    assert len(differs) == 1, broken.stdout
    assert differs[0].startswith(
        "DIFFERS EDGE-US2-FETCH: expected pass, got fail ("), differs
    # Progress lines go to stderr too; the error is one line of its own.
    errors = [ln for ln in broken.stderr.splitlines()
              if ln.startswith("edge-refarch: error:")]
    assert len(errors) == 1, broken.stderr
    assert "1 verdict(s) differ from" in errors[0]

    healed = run()
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert "verdicts as expected" in healed.stdout
