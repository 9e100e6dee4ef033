"""The architecture model loads, and every fault in it is named clearly."""

from __future__ import annotations

import copy

import pytest
import yaml

from edge_refarch.architecture import (
    DEFAULT_MODEL_PATH,
    ModelError,
    load_model,
)


@pytest.fixture
def raw():
    return yaml.safe_load(DEFAULT_MODEL_PATH.read_text())


def write(tmp_path, data):
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_shipped_model_loads():
    model = load_model()
    assert set(model.deployment_models) == {"centralized", "distributed",
                                            "federated"}
    assert set(model.tiers) == {"regional_dc", "edge", "far_edge"}
    dist = model.deployment_model("distributed")
    assert dist.identity_source == "replicated"
    assert "federated" in dist.identity_variants
    assert dist.during_partition["token_issue_at_edge"] == "works"
    cent = model.deployment_model("centralized")
    assert not {"keystone", "glance", "nova"} & set(cent.services_at("edge"))
    assert "nova-cell" in cent.services_at("edge")
    assert cent.during_partition["token_issue_at_edge"] == "fails_fast"


def test_variant_inherits_its_base_and_overrides_identity():
    model = load_model()
    dist, fed = (model.deployment_model(n)
                 for n in ("distributed", "federated"))
    assert fed.variant_of == "distributed"
    assert fed.identity_source == "federated"
    assert fed.services_by_tier == dist.services_by_tier
    assert fed.federation.domain != "federated"   # reserved by Keystone
    # Its own declarations win, the rest is the base's.
    assert fed.during_partition["token_issue_at_edge"] == "fails_fast"
    assert fed.during_partition["image_data_at_edge"] == \
        dist.during_partition["image_data_at_edge"]
    assert fed.after_heal["identity_changes_reach_edge"] == "next_login"
    # The testbed deploys this variant's whole stack, as the replicated.
    assert fed.testbed_services_at("edge") == dist.services_at("edge")
    assert dist.testbed_services_at("edge") == dist.services_at("edge")


def test_every_model_declares_the_same_partition_expectations():
    model = load_model()
    keys = {name: (frozenset(m.during_partition), frozenset(m.after_heal))
            for name, m in model.deployment_models.items()}
    assert len(set(keys.values())) == 1, keys


@pytest.mark.parametrize("mutate, words", [
    (lambda r: r["deployment_models"]["distributed"]["sites"]["edge"]
     .append("glanse"), "unknown service 'glanse'"),
    (lambda r: r["deployment_models"]["centralized"]["sites"]
     .__setitem__("moon", []), "unknown tier 'moon'"),
    (lambda r: r["services"]["keystone"].__setitem__("port", 70000),
     "services.keystone.port"),
    (lambda r: r["links"]["dc-edge"].__setitem__("latency_ms", -5),
     "links.dc-edge.latency_ms"),
    (lambda r: r["deployment_models"]["distributed"]["partition"]["during"]
     .__setitem__("token_issue_at_edge", "maybe"), "'maybe' is not one of"),
    (lambda r: r["deployment_models"]["federated"].__setitem__(
        "variant_of", "centralized"), "not among 'centralized'"),
    (lambda r: r["deployment_models"]["federated"].__setitem__(
        "variant_of", "federated"), "not itself a variant"),
    (lambda r: r["deployment_models"]["federated"]["federation"]
     .__setitem__("domain", "federated"), "federation.domain"),
    (lambda r: r["deployment_models"]["distributed"].__setitem__(
        "federation", r["deployment_models"]["federated"]["federation"]),
     "only there"),
    (lambda r: r["deployment_models"]["federated"].__setitem__(
        "testbed_services", ["keystone", "ldap"]),
     "unknown service 'ldap'"),
    (lambda r: r["testbed"].__setitem__("site_address", "10.0.{n}.1"),
     "127.0.0.0/8"),
    (lambda r: r["testbed"]["toxiproxy"].__setitem__("address", "0.0.0.0"),
     "127.0.0.0/8"),
    (lambda r: r["topology"]["sites"][1].__setitem__("parent", "nowhere"),
     "'nowhere' is not a site"),
    (lambda r: r["topology"]["sites"][1].__setitem__("name", "edge"),
     "needs '{n}'"),
    (lambda r: r.pop("links"), "'links' is a required property"),
    # Keystone's and keystonemiddleware's caches must fit in the bound.
    (lambda r: r["testbed"].__setitem__("identity_cache_ttl_s", 15),
     "do not fit in bounds.identity_staleness_s"),
    (lambda r: r.pop("bounds"), "'bounds' is a required property"),
    (lambda r: r["testbed"].__setitem__("keystone_workers", {"core": 2}),
     "testbed.keystone_workers: unknown tier 'core'"),
    (lambda r: r["testbed"].__setitem__("keystone_workers",
                                        {"edge": 0}),
     "0 is less than the minimum of 1"),
    (lambda r: r["testbed"].__setitem__("image_api_threads", 0),
     "testbed.image_api_threads"),
    (lambda r: r["bounds"].__setitem__("binlog_retention_s", 60),
     "bounds.binlog_retention_s"),
    (lambda r: r.__setitem__("surprise", 1), "surprise"),
    (lambda r: r["deployment_models"]["distributed"]["flows"][0]
     .__setitem__("to", "far_edge"), "does not run at tier 'far_edge'"),
])
def test_bad_model_is_named(tmp_path, raw, mutate, words):
    data = copy.deepcopy(raw)
    mutate(data)
    with pytest.raises(ModelError) as exc:
        load_model(write(tmp_path, data))
    message = str(exc.value)
    assert words in message
    assert "\n" not in message
    assert str(tmp_path) in message


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        load_model(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ModelError, match="not valid YAML at line"):
        load_model(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ModelError, match="mapping at the top level"):
        load_model(bad)


def test_unknown_deployment_model():
    with pytest.raises(ModelError, match="unknown deployment model 'hybrid'"):
        load_model().deployment_model("hybrid")


def test_testbed_secrets_are_safe_everywhere(tmp_path):
    """Secrets go into URLs, config files, SQL and argv: hex only (a value
    starting with '-' once read as an option to keystone-manage)."""
    import re

    from edge_refarch.validation.testbed.testbed import Testbed
    bed = Testbed(load_model(), state=tmp_path)
    values = bed.passwords()
    assert values and all(re.fullmatch(r"[0-9a-f]{32}", v)
                          for v in values.values())
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0


def test_the_alarm_loop_runs_where_the_autoscaled_stacks_run():
    """Telemetry (EDGE-US3-ALARM-LOOP) sits with Heat: in the DC when the
    control plane is central, at every edge when it is distributed; the
    declaration of alarm evaluation at a cut-off edge follows."""
    model = load_model()
    loop = {"gnocchi", "gnocchi-metricd", "aodh", "aodh-evaluator",
            "aodh-notifier"}
    central = model.deployment_model("centralized")
    dist = model.deployment_model("distributed")
    assert loop <= set(central.services_at("regional_dc"))
    assert not loop & set(central.services_at("edge"))
    assert loop <= set(dist.services_at("edge"))
    assert central.during_partition["alarm_evaluation_at_edge"] == \
        "fails_fast"
    assert dist.during_partition["alarm_evaluation_at_edge"] == "works"
    assert model.testbed.alarm_evaluation_interval_s >= 1
