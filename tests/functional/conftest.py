"""Functional tests: the real testbed, shared by the whole test session.

One testbed runs at a time (its addresses and ports are fixed by the model),
so tests ask for a model through the `testbed` fixture; switching models
brings the previous one down. Everything is brought down at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from edge_refarch.architecture import DEFAULT_MODEL_PATH, load_model
from edge_refarch.validation.faults.probe import free_port
from edge_refarch.validation.faults.toxiproxy_api import Toxiproxy
from edge_refarch.validation.testbed import deps
from edge_refarch.validation.testbed import tls as tls_mod
from edge_refarch.validation.testbed.smoke import connect
from edge_refarch.validation.testbed.testbed import Testbed

# The CA bundle this machine's clients use, before any testbed with a
# private CA of its own is trusted by this process (tests/functional/
# test_tls.py runs the CLI with it, so that only what a clouds.yaml or a
# tempest.conf says can make the testbed's CA trusted).
MACHINE_CA_BUNDLE = tls_mod.machine_bundle()

# Bounds for behaviour (not performance): how long a cut-off operation may
# take to fail, and how long a healed link may take to deliver.
FAIL_FAST_S = 10.0
CONVERGE_S = 60.0


def assert_refused_fast(call) -> float:
    """`call` cannot connect (a cut link refuses), and says so within
    FAIL_FAST_S; returns how long it took."""
    t = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        call()
    took = time.monotonic() - t
    assert took < FAIL_FAST_S
    return took


def run_cli(*args: str, env: dict | None = None, timeout: float = 600):
    return subprocess.run(
        [sys.executable, "-m", "edge_refarch.validation.cli", *args],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def run_requirements(conf, requirements: list[str], report_dir,
                     *extra: str, env: dict | None = None):
    """`conformance run --tempest-conf conf` for `requirements` only, the
    report into `report_dir`: (the finished process, the report)."""
    import json
    args = ["conformance", "run", "--tempest-conf", str(conf),
            "--report-dir", str(report_dir), *extra]
    for rid in requirements:
        args += ["--requirement", rid]
    result = run_cli(*args, env=env)
    report = json.loads((Path(report_dir) / "distributed.json").read_text())
    return result, report


def assert_all_pass(result, report, requirements: list[str]) -> None:
    """Every one of `requirements` passed, the run exited 0 and left the
    cloud as it found it."""
    verdicts = {r["id"]: (r["verdict"], r.get("reason"))
                for r in report["requirements"] if r["id"] in requirements}
    assert verdicts == {rid: ("pass", "") for rid in requirements}, verdicts
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["hygiene"]["clean"], report["hygiene"]


class Site:
    """A client standing at one site of the running testbed."""

    def __init__(self, bed: RunningTestbed, name: str):
        self.bed, self.name = bed, name
        self.site = bed.topology.site(name)
        self.conn = connect(bed.clouds_yaml, name)

    @property
    def auth_url(self) -> str:
        return self.bed.topology.auth_url(self.name)

    def issue_token(self, user="admin", password=None, project="admin",
                    timeout=FAIL_FAST_S) -> requests.Response:
        password = password or self.bed.admin_password
        scope = {"project": {"name": project, "domain": {"id": "default"}}} \
            if project else None
        body = {"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": user, "domain": {"id": "default"},
                     "password": password}}}}}
        if scope:
            body["auth"]["scope"] = scope
        return requests.post(f"{self.auth_url}/auth/tokens", json=body,
                             timeout=timeout)

    def token(self) -> str:
        r = self.issue_token()
        assert r.status_code == 201, r.text
        return r.headers["X-Subject-Token"]

    def validate(self, subject: str, auth: str | None = None,
                 timeout=FAIL_FAST_S) -> requests.Response:
        return requests.get(
            f"{self.auth_url}/auth/tokens", timeout=timeout,
            headers={"X-Auth-Token": auth or subject,
                     "X-Subject-Token": subject})


class RunningTestbed:
    def __init__(self, testbed: Testbed, model: str, tls: bool = False,
                 overlay: Path | None = None):
        self.testbed = testbed
        self.model = model
        self.tls = tls
        self.overlay = overlay
        self.record = testbed.recorded()
        self.topology = testbed.topology()
        self.clouds_yaml = self.record["clouds_yaml"]
        self.admin_password = testbed.passwords()["admin"]
        self.toxiproxy: Toxiproxy = testbed.toxiproxy

    def at(self, site: str) -> Site:
        return Site(self, site)

    def cut(self, link: str) -> list[str]:
        """Disable every proxy of `link`; returns their names."""
        names = [p.name for p in self.topology.proxies_of(link)]
        for name in names:
            self.toxiproxy.set_enabled(name, False)
        return names

    def link_faults(self, link: str) -> tuple[list[str], list[str]]:
        """(disabled proxies, toxics) on `link` right now."""
        live = self.toxiproxy.proxies()
        names = [p.name for p in self.topology.proxies_of(link)]
        return ([n for n in names if not live[n]["enabled"]],
                [t["name"] for n in names for t in live[n]["toxics"] or []])

    def heal(self, link: str) -> None:
        for p in self.topology.proxies_of(link):
            self.toxiproxy.set_enabled(p.name, True)


# What the identity tests of the federated variant need per site: a model
# file scoping the variant's testbed to it (model.yaml testbed_services)
# keeps their bring-ups at a third of the whole stack's.
IDENTITY_PLANE = ("mariadb", "memcached", "keystone")


class TestbedManager:
    def __init__(self, scratch: Path):
        self.scratch = scratch
        self.model = load_model()
        self.testbed = Testbed(self.model)
        self.current: RunningTestbed | None = None
        # The --model-file of the running testbed (None: the shipped one).
        self.model_file: Path | None = None

    def identity_plane(self, model: str) -> Path:
        """A model file: the shipped model with `model`'s testbed scoped
        to IDENTITY_PLANE."""
        return self._scoped(model, "identity-plane", list(IDENTITY_PLANE))

    def without_telemetry(self, model: str) -> Path:
        """A model file: the shipped model with `model`'s testbed left
        without the telemetry plane (the alarm loop), which these tests of
        the testbed and the CLI do not use: it costs ~35 s of every
        distributed bring-up and ~800 MiB PSS per edge. The conformance
        job, and the devstack-layout test that runs the whole suite, bring
        it up."""
        dm = self.model.deployment_model(model)
        keep = sorted({svc for tier in dm.services_by_tier.values()
                       for svc in tier
                       if self.model.services[svc].plane != "telemetry"})
        return self._scoped(model, "without-telemetry", keep)

    def _scoped(self, model: str, scope: str, services: list[str]) -> Path:
        raw = yaml.safe_load(DEFAULT_MODEL_PATH.read_text())
        raw["deployment_models"][model]["testbed_services"] = services
        path = self.scratch / f"{model}-{scope}.yaml"
        path.write_text(yaml.safe_dump(raw))
        return path

    def cli(self, *args: str, model_file: Path | None = None):
        """run_cli with the model file of `model_file` (default: that of
        the running testbed)."""
        path = model_file or self.model_file
        return run_cli(*(("--model-file", str(path)) if path else ()),
                       *args)

    def ensure(self, model: str, tls: bool = False,
               overlay: Path | None = None,
               identity_plane: bool = False,
               telemetry: bool = False) -> RunningTestbed:
        """The testbed of `model` (with its APIs over HTTPS: `tls`; with
        the configuration overlay file `overlay`; scoped to the identity
        plane: `identity_plane`; with the telemetry plane: `telemetry`)."""
        path = self.identity_plane(model) if identity_plane else \
            None if telemetry else self.without_telemetry(model)
        if self.current and (self.current.model, self.current.tls,
                             self.current.overlay, self.model_file) == \
                (model, tls, overlay, path) \
                and self.testbed.healthy(quick=True):
            return self.current
        if self.current or self.testbed.recorded():
            self.down()
        result = self.cli("testbed", "up", "--model", model,
                          *(["--tls"] if tls else []),
                          *(["--config-overlay", str(overlay)] if overlay
                            else []), model_file=path)
        assert result.returncode == 0, result.stderr
        self.started(model, path, tls, overlay)
        return self.current

    def started(self, model: str, model_file: Path | None,
                tls: bool = False, overlay: Path | None = None
                ) -> RunningTestbed:
        """Record a testbed a test brought up itself."""
        self.model_file = model_file
        self.testbed = Testbed(load_model(model_file) if model_file
                               else self.model)
        self.current = RunningTestbed(self.testbed, model, tls, overlay)
        return self.current

    def down(self) -> None:
        self.cli("testbed", "down")
        self.current, self.model_file = None, None
        self.testbed = Testbed(self.model)


@pytest.fixture(scope="session")
def manager(tmp_path_factory):
    mgr = TestbedManager(tmp_path_factory.mktemp("models"))
    yield mgr
    mgr.down()


@pytest.fixture
def unique():
    return f"edge-refarch-test-{uuid.uuid4().hex[:8]}"


# One testbed at a time, and switching models costs a bring-up (about 20 s
# for the federated variant's identity plane, 40 s centralized, 60 s
# distributed; twice that on a slow machine): run the modules of the
# smaller models first, then everything on the distributed one, so each
# model comes up once; the modules that take the distributed testbed down
# ("distributed-down": kill -9, refused bring-ups) go after all the others
# (test_lifecycle's kill -9 test brings it up once again). "none": modules
# that need no testbed, first.
_MODEL_ORDER = {"none": -1, "federated": 0, "centralized": 1,
                "centralized-devstack": 1.5, "distributed": 2,
                "distributed-down": 2.5,
                "distributed-tls": 3}


def pytest_collection_modifyitems(session, config, items):
    # A module without MODEL runs on the distributed testbed.
    items.sort(key=lambda item: _MODEL_ORDER[
        getattr(item.module, "MODEL", "distributed")])


@pytest.fixture(scope="module")
def stock_toxiproxy(tmp_path_factory):
    """Upstream's toxiproxy-server of the model's pinned version, built with
    `go install` and started on 127.0.0.1; yields its API client."""
    version = load_model().testbed.toxiproxy_version
    gobin = tmp_path_factory.mktemp("gobin")
    go = shutil.which("go") or "/usr/local/go/bin/go"
    subprocess.run([go, "install", f"{deps.TOXIPROXY_MODULE}/cmd/server@"
                    f"{version}"], check=True, timeout=deps.INSTALL_TIMEOUT_S,
                   env={**os.environ, "GOBIN": str(gobin),
                        "GOFLAGS": "-mod=mod -buildvcs=false"},
                   capture_output=True, stdin=subprocess.DEVNULL)
    port = free_port("127.0.0.1")
    proc = subprocess.Popen([str(gobin / "server"), "-host", "127.0.0.1",
                             "-port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        tp = Toxiproxy(f"http://127.0.0.1:{port}", timeout=2)
        deadline = time.monotonic() + FAIL_FAST_S
        while not tp.reachable():
            assert time.monotonic() < deadline, "stock toxiproxy not up"
            assert proc.poll() is None, "stock toxiproxy exited"
            time.sleep(0.05)
        yield tp
    finally:
        proc.terminate()
        proc.wait(timeout=10)
