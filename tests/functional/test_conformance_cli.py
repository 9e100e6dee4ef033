"""conformance config/run: clear errors for bad tempest.conf, clouds.yaml
entries and regions; a tempest.conf discovered from any cloud's catalogs."""

from __future__ import annotations

import configparser

import yaml

from .conftest import run_cli


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


def test_malformed_site_map(tmp_path):
    smap = tmp_path / "sites.yaml"
    smap.write_text("- not a map\n")
    line = _one_line(run_cli(
        "conformance", "config", "--clouds", str(tmp_path / "c.yaml"),
        "--site-map", str(smap), "--model", "distributed"), 2)
    assert "root: SITE" in line


def _site_map(tmp_path, sites):
    smap = tmp_path / "sites.yaml"
    smap.write_text(yaml.safe_dump({"root": "dc", "sites": sites}))
    return smap


def test_config_from_clouds_yaml_discovers_the_catalog(manager, tmp_path):
    bed = manager.ensure("distributed")
    smap = _site_map(tmp_path, {
        "dc": {"cloud": "dc"},
        "edge1": {"cloud": "edge1", "link": "dc-edge1"},
        "edge2": {"cloud": "edge2", "link": "dc-edge2"}})
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
