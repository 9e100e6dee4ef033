"""An operator's config overlay reaches the running services: `testbed up
--config-overlay FILE` sets an option in the files the testbed renders from
the model, and the service behaves accordingly (here: Keystone's token
lifetime, at one site only)."""

from __future__ import annotations

import configparser
from datetime import datetime

import pytest
import yaml

# The smallest testbed (the federated variant's identity plane); the edge
# Keystones run under Apache (mod_wsgi), the DC's under gunicorn: both read
# the overlaid keystone.conf.
MODEL = "federated"
# Keystone's [token] expiration default (seconds; Keystone configuration
# reference) and the overlay's value.
DEFAULT_EXPIRATION_S = 3600
OVERLAID_EXPIRATION_S = 7200


def _lifetime_s(response) -> float:
    token = response.json()["token"]
    issued, expires = (datetime.fromisoformat(token[k].replace("Z", "+00:00"))
                       for k in ("issued_at", "expires_at"))
    return (expires - issued).total_seconds()


@pytest.fixture
def overlaid(manager, tmp_path):
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump({"edge1": {"keystone": {
        "keystone.conf": {"token": {"expiration": OVERLAID_EXPIRATION_S}}}}}))
    manager.down()
    scoped = manager.identity_plane(MODEL)
    result = manager.cli("testbed", "up", "--model", MODEL,
                         "--config-overlay", str(path), model_file=scoped)
    assert result.returncode == 0, result.stderr
    yield manager.started(MODEL, scoped)
    # The next test gets a testbed without the overlay.
    manager.down()


def test_an_overlaid_option_reaches_one_site_only(overlaid):
    assert _lifetime_s(overlaid.at("edge1").issue_token()) == \
        OVERLAID_EXPIRATION_S
    assert _lifetime_s(overlaid.at("dc").issue_token()) == \
        DEFAULT_EXPIRATION_S
    conf = overlaid.testbed.shared / "edge1" / "keystone" / "etc" / \
        "keystone.conf"
    text = conf.read_text()
    assert text.startswith("# Written by 'edge-refarch testbed up' for "
                           "edge1 (keystone)")
    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(text)
    assert cp["token"]["expiration"] == str(OVERLAID_EXPIRATION_S)
