"""Pure logic of the federated identity variant's set-up."""

from __future__ import annotations

import pytest
import yaml

from edge_refarch.architecture import DEFAULT_MODEL_PATH, load_model
from edge_refarch.architecture.topology import Topology
from edge_refarch.validation.testbed import federation


@pytest.fixture
def raw():
    return yaml.safe_load(DEFAULT_MODEL_PATH.read_text())


def test_domain_id_is_the_same_wherever_it_is_derived():
    eid = federation.idp_entity_id("http://127.0.1.1:5000")
    assert eid == "http://127.0.1.1:5000/v3/OS-FEDERATION/saml2/idp"
    a = federation.domain_id(eid, "dc_users")
    assert a == federation.domain_id(eid, "dc_users")
    assert a != federation.domain_id(eid, "other")
    assert len(a) == 32 and a.isalnum()


def _granted(rules, asserted):
    """What Keystone's rule processor would grant: the projects of the
    last matching rule (any_one_of: one of them asserted; not_any_of: none
    of them asserted)."""
    granted = None
    for rule in rules[1:]:
        ok = all(
            ("any_one_of" not in r or set(r["any_one_of"]) & asserted)
            and ("not_any_of" not in r or not set(r["not_any_of"])
                 & asserted)
            for r in rule["remote"] if r["type"] == "openstack_roles")
        if ok:
            (project,) = rule["local"][0]["projects"]
            granted = {role["name"] for role in project["roles"]}
    return granted


def test_mapping_grants_exactly_the_asserted_mapped_roles():
    roles = ("member", "reader")
    rules = federation.mapping_rules("d0", roles)
    assert rules[0] == {
        "local": [{"user": {"name": "{0}", "domain": {"id": "d0"}}}],
        "remote": [{"type": "openstack_user"}]}
    for rule in rules[1:]:
        (project,) = rule["local"][0]["projects"]
        assert project["domain"] == {"id": "d0"}
    assert _granted(rules, {"reader"}) == {"reader"}
    assert _granted(rules, {"member", "reader"}) == {"member", "reader"}
    assert _granted(rules, {"member", "reader", "admin"}) == {"member",
                                                               "reader"}
    assert _granted(rules, {"admin"}) is None
    assert len(rules) == 1 + 3


def test_mapping_refuses_too_many_roles():
    import pytest
    with pytest.raises(ValueError):
        federation.mapping_rules("d0", tuple(f"r{i}" for i in range(6)))


def test_sp_urls_name_the_idp_and_protocol():
    sp, auth = federation.sp_urls("http://127.0.2.1:5000", "dc")
    assert sp == "http://127.0.2.1:5000/Shibboleth.sso/SAML2/ECP"
    assert auth.endswith("/identity_providers/dc/protocols/saml2/auth")


def test_testbed_deploys_the_variants_whole_stack():
    model = load_model()
    arch = Topology(model, "federated")
    bed = Topology(model, "federated", testbed=True)
    assert bed.sites["edge1"].services == arch.sites["edge1"].services
    # A cloudlet's compute hosts reach their edge's queue over the link.
    assert [p for p in bed.proxies if p.service == "rabbitmq"]
    # A client at an edge reaches the DC's Keystone (the IdP) over its
    # link, and the DC reaches each edge's.
    pairs = {(p.src, p.dst) for p in bed.proxies if p.service == "keystone"}
    assert {("edge1", "dc"), ("dc", "edge1"), ("edge2", "dc")} <= pairs
    # Each edge writes identity (Heat's trusts, stack users, service
    # users) at its own Keystone, a cloudlet at its edge's; a replicated
    # edge at the DC's, whose database it reads.
    cloudlet = next(s for s in bed.sites.values() if s.tier == "far_edge")
    assert bed.identity_writer("edge1").name == "edge1"
    assert bed.identity_writer(cloudlet.name).name == cloudlet.parent
    assert Topology(model, "distributed", testbed=True).identity_writer(
        "edge1").name == "dc"


def test_testbed_services_scope_a_variant(raw, tmp_path):
    """An operator's model may keep a variant's testbed to some services:
    the testbed runs only those, and no link proxy for the others."""
    raw["deployment_models"]["federated"]["testbed_services"] = [
        "mariadb", "memcached", "keystone"]
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(raw))
    bed = Topology(load_model(path), "federated", testbed=True)
    assert bed.sites["edge1"].services == ("mariadb", "memcached",
                                           "keystone")
    assert not [p for p in bed.proxies if p.service == "rabbitmq"]


def test_refusal_is_the_error_text_not_the_page():
    """A failed K2K step says why in one line: Shibboleth's message, or an
    HTML page's text without its head, not the start of its XHTML."""
    import requests

    from edge_refarch.tempest_plugin.services.federation import refusal

    def response(status, body):
        r = requests.Response()
        r.status_code, r._content = status, body.encode()
        return r
    shib = ('<?xml version="1.0"?><!DOCTYPE html><html><head><title>'
            'Shibboleth Error</title><style>x{}</style></head><body><h1>'
            'Error</h1><p>Unable to locate metadata for identity provider '
            '(https://dc/idp)</p></body></html>')
    assert refusal(response(500, shib)) == (
        "HTTP 500: Unable to locate metadata for identity provider "
        "(https://dc/idp)")
    apache = ('<!DOCTYPE HTML><html><head><title>500 Internal Server Error'
              '</title></head><body><h1>Internal Server Error</h1>\n'
              '<address>Apache/2.4 Server</address></body></html>')
    assert refusal(response(500, apache)) == (
        "HTTP 500: Internal Server Error Apache/2.4 Server")
    assert refusal(response(401, '{"error": {"code": 401}}')) == \
        'HTTP 401: {"error": {"code": 401}}'
