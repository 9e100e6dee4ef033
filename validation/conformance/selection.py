"""Which tests give a verdict on which requirement (from the tests' own
@requirement tags), and which of them run for a deployment model (from the
requirement catalog: a requirement that does not apply is reported as not
applicable, never skipped in code)."""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil

from edge_refarch.architecture.requirements import Catalog

TESTS_PACKAGE = "edge_refarch.tempest_plugin.tests"


@functools.cache
def _test_methods() -> tuple[tuple[str, type, object], ...]:
    """(test id, class, function) of every test method of the plugin
    (walked once per process)."""
    pkg = importlib.import_module(TESTS_PACKAGE)
    found = []
    for info in pkgutil.walk_packages(pkg.__path__, TESTS_PACKAGE + "."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for name, fn in inspect.getmembers(cls, inspect.isfunction):
                if name.startswith("test"):
                    found.append(
                        (f"{module.__name__}.{cls.__name__}.{name}", cls, fn))
    return tuple(found)


def discover() -> dict[str, tuple[str, ...]]:
    """test id -> requirement IDs, for every test method of the plugin."""
    from edge_refarch.tempest_plugin.requirement import requirements_of
    return {tid: requirements_of(fn) for tid, _, fn in _test_methods()}


def partition_modes() -> dict[str, str]:
    """test id -> how it cuts a link ('refused' or 'blackhole'), for the
    tests that cut one (their class's partition_mode)."""
    return {tid: cls.partition_mode for tid, cls, _ in _test_methods()
            if getattr(cls, "partition_mode", None)}


def site_local(deployment) -> set[str]:
    """The tests that stand at nothing but the root site and their own
    edge site in `deployment` (architecture.model.DeploymentModel), which
    may run while another edge site is cut: their class's site_local, and
    where the class lists Nova's servers (lists_servers), only where the
    model runs a Nova API at the edge tier (else the listing is the DC's,
    of every cell)."""
    edge_nova = "nova" in deployment.services_at("edge")
    return {tid for tid, cls, _ in _test_methods()
            if getattr(cls, "site_local", False)
            and (edge_nova or not getattr(cls, "lists_servers", False))}


def outside(catalog: Catalog, deployed: set[str], where: str
            ) -> dict[str, str]:
    """Requirements whose tests exercise a service `where` does not deploy
    (requirement ID -> why they cannot run there)."""
    out = {}
    for req in catalog.requirements.values():
        missing = [s for s in req.services if s not in deployed]
        if missing:
            out[req.id] = (f"{where} does not deploy {', '.join(missing)} "
                           "for this model (model.yaml testbed_services); "
                           "run the suite against a cloud that does")
    return out


def unavailable(catalog: Catalog, model, available) -> dict[str, str]:
    """Requirements whose tests exercise a service the cloud does not
    offer: `available(option)` gives a [service_available] option's value
    (bool). Requirement ID -> why they cannot run there."""
    from edge_refarch.tempest_plugin.requirement import why_unavailable
    out = {}
    for req in catalog.requirements.values():
        why = why_unavailable(req.services, model, available)
        if why:
            out[req.id] = why
    return out


def tests_for(catalog: Catalog, model: str,
              tests: dict[str, tuple[str, ...]],
              scoped_out: dict[str, str] | None = None) -> list[str]:
    """Tests that give a verdict on at least one requirement that applies
    to `model` and can run where the suite runs."""
    scoped_out = scoped_out or {}
    return sorted(t for t, reqs in tests.items()
                  if any(catalog.get(r).applies_to(model)
                         and r not in scoped_out for r in reqs))
