"""The federated identity variant on the embedded testbed: the DC's
Keystone is a SAML2 identity provider, each edge's Keystone a service
provider behind Apache (mod_wsgi, mod_shib) with its own database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from edge_refarch.tempest_plugin.services.federation import K2KClient
from edge_refarch.validation.testbed.procs import ProcessTable

from .conftest import FAIL_FAST_S, assert_refused_fast

MODEL = "federated"


@pytest.fixture(scope="module")
def bed(manager):
    # The identity tests need the identity plane only (conftest
    # IDENTITY_PLANE); the whole stack is the conformance job's.
    return manager.ensure(MODEL, identity_plane=True)


def _k2k(bed, site: str) -> K2KClient:
    """The identity provider as a client at `site` reaches it."""
    topo = bed.topology
    return K2KClient(topo.url_of(site, topo.root, "keystone"),
                     timeout=FAIL_FAST_S)


def _login(bed, site: str) -> dict:
    k2k = _k2k(bed, site)
    token, body = k2k.idp_token("admin", bed.admin_password, "admin")
    sp = k2k.service_provider(body, site)
    unscoped, fed = k2k.login(sp, k2k.assertion(token, site))
    return fed


def _forget(bed, site: str, user_id: str) -> None:
    admin = bed.at(site).token()
    requests.delete(f"{bed.at(site).auth_url}/users/{user_id}", timeout=10,
                    headers={"X-Auth-Token": admin})


def test_a_scoped_variant_runs_only_its_services(manager, bed):
    """A model's testbed_services scopes the testbed: only the identity
    plane runs, with no proxy for a flow to anything else."""
    for site in bed.topology.sites.values():
        assert set(site.services) <= {"mariadb", "memcached", "keystone"}
    assert {p.service for p in bed.topology.proxies} == {"keystone"}
    st = json.loads(manager.cli("testbed", "status", "--json").stdout)
    names = {s["name"]: s["healthy"] for s in st["services"]}
    assert names["edge1.shibd"] and names["edge2.shibd"]
    procs = {p.name: p for p in ProcessTable(bed.testbed.state).all()}
    assert Path(procs["edge1.keystone"].argv[0]).name == "apache2"
    assert Path(procs["dc.keystone"].argv[0]).name == "gunicorn"


def test_idp_metadata_and_service_providers_at_the_dc(bed):
    dc = bed.at("dc")
    r = requests.get(f"{dc.auth_url}/OS-FEDERATION/saml2/metadata",
                     timeout=10)
    assert r.status_code == 200 and "EntityDescriptor" in r.text
    r = requests.get(f"{dc.auth_url}/OS-FEDERATION/service_providers",
                     headers={"X-Auth-Token": dc.token()}, timeout=10)
    assert {sp["id"] for sp in r.json()["service_providers"]} == \
        {"edge1", "edge2"}


def test_k2k_login_at_each_edge_through_its_link(bed):
    ids = {}
    for site in ("edge1", "edge2"):
        fed = _login(bed, site)
        ids[site] = fed["user"]["id"]
        assert fed["user"]["domain"]["name"] == "dc_users"
        _forget(bed, site, fed["user"]["id"])
    assert ids["edge1"] == ids["edge2"]


def test_cut_edge_cannot_log_in_new_users_the_other_can(bed):
    bed.cut("dc-edge1")
    try:
        assert_refused_fast(lambda: _login(bed, "edge1"))
        fed = _login(bed, "edge2")
        _forget(bed, "edge2", fed["user"]["id"])
    finally:
        bed.heal("dc-edge1")
    fed = _login(bed, "edge1")
    _forget(bed, "edge1", fed["user"]["id"])


def test_down_stops_apache_and_shibd_and_removes_their_files(manager, bed):
    shared = manager.testbed.shared
    assert shared.exists()
    pids = [pid for p in ProcessTable(manager.testbed.state).all()
            for pid in p.group()]
    result = manager.cli("testbed", "down")
    assert result.returncode == 0, result.stderr
    manager.current, manager.model_file = None, None
    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()
             and "Z" not in Path(f"/proc/{pid}/stat").read_text()
             .rsplit(")", 1)[1].split()[0]]
    assert alive == []
    assert not shared.exists()
