"""Service configuration rendered from data (validation/testbed/ini.py)."""

import configparser
from pathlib import Path

import pytest

from edge_refarch.validation.testbed import ini, overlay


def _read(text: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, strict=True,
                                   default_section="\0none")
    cp.optionxform = str
    cp.read_string(text)
    return cp


def test_values_are_written_as_oslo_config_reads_them():
    text = ini.render({
        "DEFAULT": {"debug": False, "log_file": Path("/var/log/k.log"),
                    "workers": 2, "left_out": None},
        "auth": {"methods": ["password", "token", "saml2"]},
        "oslo_policy": {"enforce_scope": True},
    })
    cp = _read(text)
    assert dict(cp["DEFAULT"]) == {"debug": "false",
                                   "log_file": "/var/log/k.log",
                                   "workers": "2"}
    assert cp["auth"]["methods"] == "password,token,saml2"
    assert cp["oslo_policy"]["enforce_scope"] == "true"


def test_option_names_keep_their_case_and_values_their_percent_signs():
    cp = _read(ini.render({"keystone_authtoken": {
        "Password": "p%(x)s"}}))
    assert cp["keystone_authtoken"]["Password"] == "p%(x)s"


def test_the_header_is_comment_lines_first():
    text = ini.render({"DEFAULT": {}}, ini.header("edge1", "glance"))
    lines = text.splitlines()
    assert lines[0].startswith("# Written by 'edge-refarch testbed up' "
                               "for edge1 (glance)")
    assert lines[1].startswith("# ") and "--config-overlay" in lines[1]
    assert "[DEFAULT]" in lines


def test_merge_refuses_an_option_set_twice():
    merged = ini.merge({"DEFAULT": {"a": 1}}, {"DEFAULT": {"b": 2},
                                               "x": {"a": 3}})
    assert merged == {"DEFAULT": {"a": 1, "b": 2}, "x": {"a": 3}}
    with pytest.raises(ValueError, match=r"\[DEFAULT\] a set twice"):
        ini.merge({"DEFAULT": {"a": 1}}, {"DEFAULT": {"a": 2}})


def test_an_overlay_keeps_the_header_of_a_rendered_file(tmp_path):
    conf = ini.write(tmp_path / "etc" / "keystone.conf",
                     {"token": {"expiration": 3600}},
                     ini.header("edge1", "keystone"))
    overlay.set_options(conf, {"token": {"expiration": 7200},
                               "DEFAULT": {"debug": True}})
    text = conf.read_text()
    assert text.startswith("# Written by 'edge-refarch testbed up'")
    cp = _read(text)
    assert cp["token"]["expiration"] == "7200"
    assert cp["DEFAULT"]["debug"] == "true"


PASTE = """\
[composite:svc+keystone]
use = egg:Paste#urlmap
/ = versions
/v1 = v1_keystone

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
oslo_config_project = svc
"""


def test_a_paste_copy_points_keystonemiddleware_at_the_sites_file(
        tmp_path):
    """Gnocchi's and Aodh's paste files name only oslo_config_project:
    the copy adds the site's file, keeps everything else as it was."""
    packaged = tmp_path / "api-paste.ini"
    packaged.write_text(PASTE)
    conf = tmp_path / "etc" / "svc.conf"
    out = ini.paste_with_config(packaged, tmp_path / "etc" / "paste.ini",
                                "authtoken", conf, "written by a test")
    cp = _read(out.read_text())
    assert cp["filter:authtoken"]["oslo_config_file"] == str(conf)
    assert cp["filter:authtoken"]["oslo_config_project"] == "svc"
    assert cp["composite:svc+keystone"]["/v1"] == "v1_keystone"
    assert out.read_text().startswith("# written by a test\n")


def test_a_paste_file_without_the_filter_is_refused(tmp_path):
    packaged = tmp_path / "api-paste.ini"
    packaged.write_text(PASTE)
    with pytest.raises(KeyError, match="no \\[filter:keystone_authtoken\\]"):
        ini.paste_with_config(packaged, tmp_path / "out.ini",
                              "keystone_authtoken", tmp_path / "x.conf")
