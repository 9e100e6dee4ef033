"""The requirement catalog and the conformance tests agree."""

from __future__ import annotations

import copy

import pytest
import yaml

from edge_refarch.architecture import ModelError, load_model
from edge_refarch.architecture.requirements import (
    DEFAULT_CATALOG_PATH,
    load_catalog,
)
from edge_refarch.tempest_plugin.tests.base import idempotent_id_of
from edge_refarch.validation.conformance import selection


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def catalog(model):
    return load_catalog(model)


@pytest.fixture(scope="module")
def tests():
    return selection.discover()


def test_every_requirement_has_a_test(catalog, tests):
    named = {r for reqs in tests.values() for r in reqs}
    assert set(catalog.requirements) - named == set()


def test_every_test_names_known_requirements(catalog, tests):
    assert tests, "no conformance test found"
    for test_id, reqs in tests.items():
        assert reqs, f"{test_id} names no requirement"
        for r in reqs:
            catalog.get(r)


def test_every_test_has_an_idempotent_id_and_a_docstring(tests):
    import importlib
    seen = set()
    for test_id in tests:
        module, cls, name = test_id.rsplit(".", 2)
        fn = getattr(getattr(importlib.import_module(module), cls), name)
        # tempest's idempotent_id records the UUID as an attribute (a test
        # inherited in another partition mode gets one derived from it).
        uid = idempotent_id_of(fn)
        assert uid, f"{test_id} has no idempotent_id"
        assert uid not in seen, f"duplicate idempotent_id {uid}"
        seen.add(uid)
        assert (fn.__doc__ or "").strip(), f"{test_id} has no docstring"


def test_not_applicable_always_says_why(catalog, model):
    for req in catalog.requirements.values():
        for m, app in req.models.items():
            assert app.applies or len(app.reason) > 20, (req.id, m)


def test_selection_follows_the_catalog(catalog, tests):
    for model in ("centralized", "distributed"):
        chosen = set(selection.tests_for(catalog, model, tests))
        for t, reqs in tests.items():
            applies = any(catalog.get(r).applies_to(model) for r in reqs)
            assert (t in chosen) == applies, (model, t)
    # Each model leaves out something the other runs.
    cent = set(selection.tests_for(catalog, "centralized", tests))
    dist = set(selection.tests_for(catalog, "distributed", tests))
    assert cent - dist and dist - cent


@pytest.mark.parametrize("mutate, words", [
    (lambda c: c["requirements"][0].__setitem__("id", "US1-X"),
     "not of the form"),
    (lambda c: c["requirements"][1].__setitem__("id", "EDGE-US1-IDENTITY"),
     "duplicate"),
    (lambda c: c["requirements"][0].__setitem__("story", "US9"),
     "unknown story"),
    (lambda c: c["requirements"][0]["models"].pop("centralized"),
     "models must name centralized, distributed"),
    (lambda c: c["requirements"][0]["models"].__setitem__("moon",
                                                          "applies"),
     "models must name"),
    (lambda c: c["requirements"][0].__setitem__("services", ["glanse"]),
     "unknown service 'glanse'"),
    (lambda c: c["requirements"][2]["models"].__setitem__(
        "centralized", {"not_applicable": " "}), "not_applicable"),
    (lambda c: c["requirements"][5].__setitem__("expectation", "teleport"),
     "not declared by model"),
    (lambda c: c["requirements"][4].__setitem__("needs", ["magic"]),
     "unknown capability"),
])
def test_bad_catalog_is_named(tmp_path, model, mutate, words):
    raw = yaml.safe_load(DEFAULT_CATALOG_PATH.read_text())
    data = copy.deepcopy(raw)
    mutate(data)
    path = tmp_path / "requirements.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ModelError, match=words):
        load_catalog(model, path)


def test_a_variant_inherits_its_base_unless_it_names_its_own(catalog):
    fetch = catalog.get("EDGE-US2-FETCH")
    assert fetch.models["federated"] == fetch.models["distributed"]
    assert not catalog.get("EDGE-SEC-REVOKE").applies_to("federated")
    login = catalog.get("EDGE-FED-LOGIN")
    assert login.applies_to("federated")
    assert not login.applies_to("distributed")
    assert not login.applies_to("centralized")


def test_services_always_include_keystone(catalog):
    assert catalog.get("EDGE-US1-IDENTITY").services == ("keystone",)
    assert catalog.get("EDGE-US5-BOOT").services == ("keystone", "glance",
                                                     "nova")
