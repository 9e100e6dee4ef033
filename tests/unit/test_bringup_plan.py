"""The bring-up plan of every deployment model, as data: built from the
model without starting anything (validation/testbed/bringup.py)."""

from pathlib import Path

import pytest

from edge_refarch.architecture import load_model
from edge_refarch.architecture.topology import Topology
from edge_refarch.validation.testbed import bringup, steps
from edge_refarch.validation.testbed import testbed as testbed_mod

MODEL = load_model()
NOWHERE = Path("/nonexistent")


def _bringup(tmp_path, deployment: str, edges: int) -> bringup.BringUp:
    topo = Topology(MODEL, deployment, edges)
    return bringup.BringUp(testbed_mod.Testbed(MODEL, state=tmp_path), topo,
                           NOWHERE / "toxiproxy", NOWHERE / "venv",
                           NOWHERE / "wsgi-venv")


CASES = [(d, e) for d in MODEL.deployment_models for e in (1, 2, 10)]


@pytest.mark.parametrize(("deployment", "edges"), CASES,
                         ids=[f"{d}-{e}" for d, e in CASES])
def test_every_service_has_a_step_in_an_order_that_can_run(
        tmp_path, deployment, edges):
    run = _bringup(tmp_path, deployment, edges)
    plan = {s.name: s for s in steps.check(run.plan())}
    apis = [c.name for c in (*run.glances.values(), *run.compute.wsgi)]
    for name in (*(ks.name for ks in run.keystones.values()), *apis,
                 *(db.name for db in run.dbs.values()),
                 *(mc.name for mc in run.caches.values())):
        assert name in plan, name
    for name, ks in run.keystones.items():
        needs = set(plan[ks.name].after)
        if name in run.replicas:
            # An edge Keystone serves only once its replica holds the DC's
            # identity.
            assert "replication" in needs, name
        elif name in run.sps:
            assert "idp-trust" in needs, name
        else:
            assert "keystone-bootstrap" in needs, name
    if run.compute.manage or run.compute.heats:
        # Nova's and Heat's workers start once every API and catalog is
        # there (they register through them).
        workers = set(plan["workers"].after)
        assert set(apis) | {"root-setup"} <= workers
        assert {f"{n}.catalog" for n in run.keystones
                if n != run.root} <= workers
