"""Operator config overlays: their shape, and what they do to real INI
files in a temporary tree laid out as the testbed lays out its sites."""

from __future__ import annotations

import configparser

import pytest
import yaml

from edge_refarch.validation.errors import BadInput
from edge_refarch.validation.testbed import overlay

GLANCE_CONF = """\
[DEFAULT]
bind_host = 127.0.2.1
workers = 2

[keystone_authtoken]
auth_url = http://127.0.2.1:5000
token_cache_time = 10
"""


def _write(tmp_path, data) -> str:
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _read(path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None,
                                   default_section="\0none")
    cp.optionxform = str
    cp.read(path)
    return cp


@pytest.fixture
def sites(tmp_path):
    """site -> service -> directories, with a Glance at dc and edge1 and a
    Nova with two nova.conf files at edge1."""
    dirs = {}
    for site in ("dc", "edge1"):
        etc = tmp_path / "sites" / site / "glance" / "etc"
        etc.mkdir(parents=True)
        (etc / "glance-api.conf").write_text(GLANCE_CONF)
        dirs[site] = {"glance": [etc.parent]}
    nova = tmp_path / "sites" / "edge1" / "nova"
    for sub in ("etc", "cell1"):
        (nova / sub).mkdir(parents=True)
        (nova / sub / "nova.conf").write_text("[DEFAULT]\ndebug = false\n")
    dirs["edge1"]["nova"] = [nova]
    return dirs


def test_an_option_is_set_everywhere_and_nothing_else_changes(
        tmp_path, sites):
    data = overlay.load(_write(tmp_path, {"*": {"glance": {
        "glance-api.conf": {"DEFAULT": {"workers": 1, "debug": True},
                            "oslo_policy": {"enforce_scope": False}}}}}))
    changed = overlay.apply(data, sites)
    assert len(changed) == 2
    for conf in changed:
        cp = _read(conf)
        assert cp["DEFAULT"]["workers"] == "1"
        assert cp["DEFAULT"]["debug"] == "true"
        assert cp["oslo_policy"]["enforce_scope"] == "false"
        assert cp["DEFAULT"]["bind_host"] == "127.0.2.1"
        assert cp["keystone_authtoken"]["token_cache_time"] == "10"


def test_one_site_and_every_file_of_the_name(tmp_path, sites):
    data = overlay.load(_write(tmp_path, {"edge1": {"nova": {
        "nova.conf": {"DEFAULT": {"debug": True}}}}}))
    changed = overlay.apply(data, sites)
    assert sorted(p.parent.name for p in changed) == ["cell1", "etc"]
    assert all(_read(p)["DEFAULT"]["debug"] == "true" for p in changed)
    # The DC's Glance is untouched.
    assert (tmp_path / "sites" / "dc" / "glance" / "etc" /
            "glance-api.conf").read_text() == GLANCE_CONF


@pytest.mark.parametrize("data, words", [
    ({"edge9": {"glance": {"glance-api.conf": {"DEFAULT": {"a": 1}}}}},
     "no site 'edge9'"),
    ({"dc": {"nova": {"nova.conf": {"DEFAULT": {"a": 1}}}}},
     "dc: no nova there"),
    ({"*": {"glance": {"glance.conf": {"DEFAULT": {"a": 1}}}}},
     "no file named 'glance.conf'"),
])
def test_what_the_testbed_does_not_have_is_named(tmp_path, sites, data,
                                                 words):
    with pytest.raises(BadInput, match=words):
        overlay.apply(overlay.load(_write(tmp_path, data)), sites)


@pytest.mark.parametrize("data, words", [
    ({"*": {"glance": {"glance-api.conf": {"DEFAULT": {"a": [1, 2]}}}}},
     "is not of type"),
    ({"*": {"glance": {"../../etc/passwd": {"DEFAULT": {"a": 1}}}}},
     "a file name, not a path"),
    ({"*": {"mariadb": {"my.cnf": {"mysqld": {"a": 1}}}}},
     "started before the overlay applies"),
    (["not", "a", "mapping"], "is not of type 'object'"),
])
def test_a_bad_overlay_is_one_line(tmp_path, data, words):
    with pytest.raises(BadInput, match=words) as exc:
        overlay.load(_write(tmp_path, data))
    assert "\n" not in str(exc.value)


def test_a_file_with_a_repeated_option_is_refused_not_mangled(tmp_path):
    conf = tmp_path / "my.conf"
    text = "[mysqld]\nreplicate_ignore_table = a\n" \
        "replicate_ignore_table = b\n"
    conf.write_text(text)
    with pytest.raises(BadInput, match="cannot apply an overlay"):
        overlay.set_options(conf, {"mysqld": {"x": 1}})
    assert conf.read_text() == text
