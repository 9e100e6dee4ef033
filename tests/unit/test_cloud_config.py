"""tempest.conf from a clouds.yaml entry: TLS options and the admin's auth
type, as 'conformance config' turns them into Tempest's options (pure
logic; the logins themselves are tried in tests/functional)."""

from __future__ import annotations

import pytest

from edge_refarch.validation.conformance.tempest_conf import _auth_type, _tls
from edge_refarch.validation.errors import BadInput


def test_cacert_becomes_tempests_ca_certificates_file(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert _tls("dc", {"cacert": str(ca)}) == {
        "ca_certificates_file": str(ca.resolve())}


@pytest.mark.parametrize("verify", [False, "false", "False", "no"])
def test_verify_false_disables_validation(verify):
    assert _tls("dc", {"verify": verify}) == {
        "disable_ssl_certificate_validation": "true"}


def test_no_tls_settings_write_nothing():
    assert _tls("dc", {"verify": True}) == {}


def test_missing_cacert_is_one_line(tmp_path):
    with pytest.raises(BadInput, match="cacert .*: no such file"):
        _tls("dc", {"cacert": str(tmp_path / "absent.pem")})


@pytest.mark.parametrize("key", ["cert", "key"])
def test_client_certificates_are_refused(key):
    with pytest.raises(BadInput, match="client certificates"):
        _tls("dc", {key: "/etc/x.pem"})


@pytest.mark.parametrize("auth_type", [None, "password", "v3password",
                                       "v3applicationcredential"])
def test_auth_types_the_suite_can_log_in_with(auth_type):
    entry = {"auth_type": auth_type} if auth_type else {}
    assert _auth_type("dc", entry, federated=False) == \
        (auth_type or "password")


@pytest.mark.parametrize("auth_type", ["token", "v3token", "v3oidcpassword",
                                       "v3multifactor", "v3totp"])
def test_other_auth_types_are_refused(auth_type):
    with pytest.raises(BadInput, match=f"auth_type '{auth_type}' is not "
                                       "supported"):
        _auth_type("dc", {"auth_type": auth_type}, federated=False)


def test_application_credentials_not_with_federation():
    with pytest.raises(BadInput, match="federated edge has its own"):
        _auth_type("dc", {"auth_type": "v3applicationcredential"},
                   federated=True)


def test_requirements_of_missing_services_are_out_of_scope():
    """A cloud without compute: every requirement whose tests exercise
    Nova (and only those) cannot run there, with the option that says so;
    Heat's requirements name Heat's option when Heat is missing too."""
    from edge_refarch.architecture import load_model
    from edge_refarch.architecture.requirements import load_catalog
    from edge_refarch.validation.conformance.selection import unavailable

    model = load_model()
    catalog = load_catalog(model)
    offered = {"glance": True, "nova": False, "heat_plugin": True}
    out = unavailable(catalog, model, lambda opt: offered.get(opt, True))
    uses_nova = {r.id for r in catalog.requirements.values()
                 if "nova" in r.services}
    assert set(out) == uses_nova and uses_nova
    assert all("no compute service ([service_available] nova = false)"
               in why for why in out.values())
    offered["heat_plugin"] = False
    out = unavailable(catalog, model, lambda opt: offered.get(opt, True))
    assert "no orchestration service" in out["EDGE-US3-AUTOSCALE-CUT"]


# -- which APIs each link must carry (conformance config --toxiproxy-url) --
def test_the_distributed_edge_reaches_the_dcs_apis_over_its_link():
    from edge_refarch.architecture import load_model
    from edge_refarch.validation.conformance.tempest_conf import (
        link_services,
    )
    flows = link_services(load_model(), "distributed")
    # Replication and the key-sync agents' acknowledgements (mariadb), the
    # DC's Keystone and Glance (glance-download pulls from it).
    assert {"mariadb", "keystone", "glance"} <= flows[("edge", "regional_dc")]


def test_site_map_sites_get_the_models_tiers():
    from edge_refarch.architecture import load_model
    from edge_refarch.validation.conformance.tempest_conf import _tiers
    tiers = _tiers(load_model(), "distributed", "region-a", {
        "region-a": {}, "site-x": {"link": "wan-x"},
        "site-y": {"parent": "region-a"},
        "cloudlet": {"parent": "site-x"}})
    assert tiers == {"region-a": "regional_dc", "site-x": "edge",
                     "site-y": "edge",
                     "cloudlet": "far_edge"}


def test_a_catalog_endpoint_as_host_and_port():
    from edge_refarch.validation.conformance.tempest_conf import _endpoint
    catalog = [{"type": "image", "endpoints": [
        {"interface": "internal", "region_id": "RegionOne",
         "url": "http://10.0.0.9:9292"},
        {"interface": "public", "region_id": "RegionOne",
         "url": "https://cloud.example.org/image"},
        {"interface": "public", "region_id": "RegionTwo",
         "url": "http://10.0.1.5:9292/"}]}]
    assert _endpoint(catalog, "image", "RegionOne") == \
        "cloud.example.org:443"
    assert _endpoint(catalog, "image", "RegionTwo") == "10.0.1.5:9292"
    assert _endpoint(catalog, "compute", "RegionOne") is None
