"""Run the conformance suite (Tempest) and turn its results into verdicts.

    edge-refarch conformance run [--model M]          # on the testbed
    edge-refarch conformance run --tempest-conf FILE  # on any cloud

Before and after the run the suite counts the cloud's images (every site
with an image service), projects and users (the root site, and every site
with a Keystone of its own under federated identity), servers and flavors
(compute sites); a run that leaves anything behind, or leaves a fault on a
link, is reported as unclean.
"""

from __future__ import annotations

import configparser
import io
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from edge_refarch.architecture.requirements import Catalog
from edge_refarch.validation.conformance import audit, ledger, selection
from edge_refarch.validation.conformance import report as report_mod
from edge_refarch.validation.errors import (
    BadInput,
    UserError,
    readable_cause,
)

# Every resource the suite creates is named with this prefix, so that what
# a crashed (kill -9) run left behind can be found and removed.
PREFIX = "edge-refarch-"
# The longest a suite run may take (s): the slowest model's run takes ~10
# minutes on the testbed (2 cores).
TEMPEST_TIMEOUT_S = 3600
# Seconds a stopped run gets to end its tests (their clean-ups) after
# SIGTERM.
STOP_GRACE_S = 20
# The longest the clean-up waits for Heat to delete a run's stacks (s):
# Heat deletes a stack's servers first, each as Nova deletes it.
STACK_DELETE_TIMEOUT_S = 300
# Where the suite records the stacks it creates (ledger.py), when
# tempest.conf does not say ([edge_refarch] resource_ledger).
LEDGER = "/tmp/edge-refarch-resources.jsonl"


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


class Cloud:
    """The operator's view of the deployment, from tempest.conf."""

    def __init__(self, conf_path: Path):
        cp = configparser.ConfigParser(interpolation=None)
        if not cp.read(conf_path):
            raise BadInput(f"{conf_path}: cannot read tempest.conf")
        try:
            er = cp["edge_refarch"]
            self.auth = dict(cp["auth"])
            self.model = er.get("deployment_model", "distributed")
            self.root = er.get("root_site", "dc")
            self.uris = _dict(er["site_identity_uris"])
            self.regions = _dict(er["site_regions"])
            self.links = _dict(er.get("site_links", ""))
            self.clouds = _dict(er.get("site_clouds", ""))
            self.clouds_file = er.get("clouds_file")
            self.compute_sites = [s.strip() for s in er.get(
                "compute_sites", "").split(",") if s.strip()]
            self.toxiproxy_url = er.get("toxiproxy_url")
            # Federated identity: every service provider holds users and
            # projects of its own (provisioned at login).
            self.identity_sites = [self.root, *(
                s for s in _dict(er.get("federation_idp_uris", ""))
                if s != self.root)]
            self.fault_state_dir = er.get("fault_state_dir",
                                          "/tmp/edge-refarch-faults")
            self.resource_ledger = er.get("resource_ledger", LEDGER)
            domain = self.auth.get("admin_domain_name", "Default")
            self.admin = (self.auth["admin_username"],
                          self.auth.get("admin_password", ""),
                          self.auth["admin_project_name"], domain,
                          er.get("admin_project_domain_name") or domain)
            self.app_cred = (er["admin_application_credential_id"],
                             er.get("admin_application_credential_secret",
                                    "")) \
                if er.get("admin_application_credential_id") else None
        except KeyError as exc:
            raise BadInput(f"{conf_path}: missing {exc.args[0]} (write it "
                           "with 'edge-refarch conformance config')") \
                from None
        # TLS as Tempest's own clients verify it ([identity]).
        self.verify = False if cp.getboolean(
            "identity", "disable_ssl_certificate_validation",
            fallback=False) else (cp.get("identity", "ca_certificates_file",
                                         fallback=None) or True)
        # What the cloud offers (Tempest's default: available).
        self.service_available = {
            opt: cp.getboolean("service_available", opt, fallback=True)
            for opt in (cp["service_available"]
                        if cp.has_section("service_available") else ())
            if opt not in cp.defaults()}
        missing = set(self.uris) ^ set(self.regions)
        if missing or self.root not in self.uris:
            raise BadInput(f"{conf_path}: [edge_refarch] site_identity_uris "
                           "and site_regions must name the same sites, "
                           "root_site among them")

    def available(self, option: str) -> bool:
        """A [service_available] option (Tempest's default: true)."""
        return self.service_available.get(option, True)

    def session(self, site: str):
        from keystoneauth1 import session
        from keystoneauth1.identity import v3
        if self.app_cred:
            auth = v3.ApplicationCredential(
                auth_url=self.uris[site],
                application_credential_id=self.app_cred[0],
                application_credential_secret=self.app_cred[1])
        else:
            user, password, project, domain, project_domain = self.admin
            auth = v3.Password(auth_url=self.uris[site], username=user,
                               password=password, project_name=project,
                               user_domain_name=domain,
                               project_domain_name=project_domain)
        return session.Session(auth=auth, timeout=30, verify=self.verify)

    def _endpoint(self, site: str, service_type: str) -> dict:
        """keystoneauth's endpoint filter for `site`'s public
        `service_type` API. Identity's asks for API version 3: a catalog
        may list Keystone without ``/v3`` (devstack registers
        ``http://HOST/identity``), and keystoneauth then finds the v3 URL
        by version discovery (keystoneauth1 docs, "Using Sessions":
        version in an endpoint filter)."""
        ep = {"service_type": service_type, "interface": "public",
              "region_name": self.regions[site]}
        if service_type == "identity":
            ep["version"] = "3"
        return ep

    def _offered(self, site: str, service_type: str, path: str,
                 key: str):
        """(session, endpoint filter, items): the `key` list of GET `path`
        at `site`'s public `service_type` API (None where the site's
        catalog has no such service)."""
        from keystoneauth1 import exceptions as ks_exc
        sess, ep = self.session(site), self._endpoint(site, service_type)
        try:
            sess.get_endpoint(**ep)
        except ks_exc.EndpointNotFound:
            return sess, ep, None
        return sess, ep, sess.get(path, endpoint_filter=ep).json()[key]

    def _images(self, site: str):
        """(session, endpoint filter, images) at `site` (None where the
        site's catalog has no image service)."""
        return self._offered(site, "image", "/v2/images?limit=1000",
                             "images")

    def _compute(self, site: str, collection: str):
        """(session, endpoint filter, items) of servers (every project) or
        flavors in `site`'s compute service."""
        sess, ep = self.session(site), self._endpoint(site, "compute")
        path = "/servers?all_tenants=1&limit=1000" \
            if collection == "servers" else "/flavors?is_public=None"
        return sess, ep, sess.get(path, endpoint_filter=ep).json()[
            collection]

    def _stacks(self, site: str):
        """(session, endpoint filter, stacks) of the admin's project in
        `site`'s orchestration service (None where the site's catalog has
        none): Heat lists no other project's (ledger.py)."""
        return self._offered(site, "orchestration", "/stacks", "stacks")

    def _identity_list(self, collection: str, site: str | None = None):
        """(session, endpoint filter, items) of an identity collection at
        the root site (or `site`)."""
        site = site or self.root
        sess = self.session(site)
        ep = self._endpoint(site, "identity")
        return sess, ep, sess.get(f"/{collection}",
                                  endpoint_filter=ep).json()[collection]

    def _injector(self):
        from edge_refarch.validation.faults.faults import (
            FaultInjector,
            Links,
        )
        from edge_refarch.validation.faults.toxiproxy_api import Toxiproxy
        tp = Toxiproxy(self.toxiproxy_url)
        return FaultInjector(tp, Links.discover(tp),
                             Path(self.fault_state_dir),
                             heal_leftovers=False)

    def counts(self) -> dict[str, int]:
        from keystoneauth1 import exceptions as ks_exc
        try:
            out = {}
            for site in self.regions:
                images = self._images(site)[2]
                if images is not None:
                    out[f"images@{site}"] = len(images)
            for collection in ("projects", "users"):
                out[collection] = len(self._identity_list(collection)[2])
                for site in self.identity_sites[1:]:
                    out[f"{collection}@{site}"] = len(
                        self._identity_list(collection, site)[2])
            for site in self.compute_sites:
                for collection in ("servers", "flavors"):
                    out[f"{collection}@{site}"] = len(
                        self._compute(site, collection)[2])
            for site in self.regions:
                stacks = self._stacks(site)[2]
                if stacks is not None:
                    out[f"stacks@{site}"] = len(stacks)
        except ks_exc.ClientException as exc:
            raise UserError(f"cannot count the cloud's resources: "
                            f"{readable_cause(str(exc), 300)}") from None
        return out

    def cleanup(self) -> dict[str, int]:
        """Remove what a crashed run left: faults whose owner died; the
        suite's Heat stacks (those the ledger records, and the admin
        project's named with the PREFIX), waited for until gone, as their
        owners may go next; and the suite's own images (every site), users
        and projects (every site with a Keystone of its own), servers and
        flavors (compute sites), which all carry the PREFIX in their name.
        Returns what was removed, by kind. Raises UserError when the cloud
        refuses, or a stack is not gone within STACK_DELETE_TIMEOUT_S."""
        from keystoneauth1 import exceptions as ks_exc
        removed = {"faults": 0, "stacks": 0, "images": 0, "users": 0,
                   "projects": 0, "servers": 0, "flavors": 0}
        if self.toxiproxy_url:
            removed["faults"] = self._injector().heal_leftovers()
        try:
            removed["stacks"] = self._remove_stacks()
            for site in self.regions:
                sess, ep, images = self._images(site)
                for img in images or []:
                    if (img.get("name") or "").startswith(PREFIX):
                        sess.delete(f"/v2/images/{img['id']}",
                                    endpoint_filter=ep, raise_exc=False)
                        removed["images"] += 1
            for site in self.compute_sites:
                for collection in ("servers", "flavors"):
                    sess, ep, items = self._compute(site, collection)
                    for item in items:
                        if (item.get("name") or "").startswith(PREFIX):
                            sess.delete(f"/{collection}/{item['id']}",
                                        endpoint_filter=ep, raise_exc=False)
                            removed[collection] += 1
            for site in self.identity_sites:
                for collection in ("users", "projects"):
                    sess, ep, items = self._identity_list(collection, site)
                    for item in items:
                        if item["name"].startswith(PREFIX):
                            sess.delete(f"/{collection}/{item['id']}",
                                        endpoint_filter=ep, raise_exc=False)
                            removed[collection] += 1
        except ks_exc.ClientException as exc:
            raise UserError(f"cannot clean up the cloud: "
                            f"{readable_cause(str(exc), 300)}") from None
        return removed

    def _remove_stacks(self) -> int:
        """Delete the stacks the ledger records and the admin project's
        named with the PREFIX, at every site; wait until each is gone, then
        empty the ledger. Returns how many were deleted."""
        targets, served, sessions = {}, {}, {}
        for site in self.regions:
            sess, ep, stacks = self._stacks(site)
            if stacks is None:
                continue
            sessions[site] = sess
            served[site] = urllib.parse.urlsplit(
                sess.get_endpoint(**ep)).netloc
            for st in stacks:
                if (st.get("stack_name") or "").startswith(PREFIX):
                    targets[ledger.stack_url(st)] = site
        # An entry for an API this cloud does not serve at that site (the
        # ledger of another testbed, say) names no stack of this cloud.
        targets.update({e["url"]: e["site"] for e in ledger.recorded(
            self.resource_ledger, "stack")
            if urllib.parse.urlsplit(e["url"]).netloc
            == served.get(e["site"])})
        deleting = [url for url, site in targets.items()
                    if sessions[site].delete(url, raise_exc=False)
                    .status_code in (202, 204)]
        deadline = time.monotonic() + STACK_DELETE_TIMEOUT_S
        pending = list(deleting)
        while pending:
            state = {url: _stack_state(sessions[targets[url]], url)
                     for url in pending}
            failed = [u for u in pending if state[u][0] == "DELETE_FAILED"]
            pending = [u for u in pending if state[u][0] != "GONE"]
            stuck = failed or (pending if time.monotonic() > deadline
                               else [])
            if stuck:
                status, reason = state[stuck[0]]
                raise UserError(
                    f"cannot clean up the cloud: stack {stuck[0]} "
                    f"{status} ({readable_cause(reason, 200)})" if failed
                    else f"cannot clean up the cloud: stack {stuck[0]} not "
                    f"deleted within {STACK_DELETE_TIMEOUT_S} s ({status})")
            if pending:
                time.sleep(1)
        ledger.forget(self.resource_ledger)
        return len(deleting)

    def faults_left(self) -> list[str]:
        if not self.toxiproxy_url:
            return []
        left = []
        for link, st in self._injector().state().items():
            left += [f"{link}: disabled {p}" for p in st["disabled"]]
            left += [f"{link}: toxic {t}" for t in st["toxics"]]
        return left


def _stack_state(sess, url: str) -> tuple[str, str]:
    """(status, reason) of the stack at `url`: 'GONE' once Heat no longer
    shows it (404, or DELETE_COMPLETE), else its stack_status (or the
    HTTP status of a refusal) and stack_status_reason."""
    r = sess.get(url, raise_exc=False)
    if r.status_code == 404:
        return "GONE", ""
    if not r.ok:
        return f"HTTP {r.status_code}", r.text[:200]
    stack = r.json().get("stack", {})
    status = stack.get("stack_status", "?")
    return ("GONE" if status == "DELETE_COMPLETE" else status,
            stack.get("stack_status_reason") or "")


def _dict(text: str) -> dict[str, str]:
    out = {}
    for item in filter(None, (i.strip() for i in text.split(","))):
        key, _, value = item.partition(":")
        out[key] = value
    return out


def run(model, catalog: Catalog, tempest_conf: Path, workdir: Path,
        report_dir: Path, say, testbed=None,
        only: set[str] | None = None) -> dict:
    """Run the suite on the cloud `tempest_conf` describes; `only`: the
    requirement IDs to run (None: all), the others are reported not run.
    Returns the report (report.build's, with the secrets audit on the
    testbed) after writing it into `report_dir`."""
    cloud = Cloud(tempest_conf)
    deployment = cloud.model
    dm = model.deployment_model(deployment)
    tests = selection.discover()
    scoped_out = _scoped_out(model, catalog, cloud, testbed, only)
    chosen = selection.tests_for(catalog, deployment, tests, scoped_out)
    _clear_earlier_runs(workdir, tempest_conf)
    modes = selection.partition_modes()
    stages = _plan(tempest_conf, chosen, modes,
                   selection.site_local(dm),
                   workdir)
    lanes = [lane for stage in stages for lane in stage]
    for lane in lanes:
        lane.workspace = _workspace(workdir, lane.conf, lane.name)
        lane.include = workdir / f"{lane.name}-include-list.txt"
        lane.include.write_text("".join(f"^{re.escape(t)}\\b\n"
                                        for t in lane.tests))
        lane.evidence.write_text("")
        lane.subunit.write_bytes(b"")
    removed = cloud.cleanup()
    if any(removed.values()):
        say(f"removed what an earlier run left behind: {removed}")
    say("counting the cloud's images, projects and users")
    before = cloud.counts()
    say(f"running {len(chosen)} conformance tests ({deployment})"
        + ("" if len(lanes) == 1 else ": " + "; then ".join(
            " beside ".join(f"{len(lane.tests)} at {lane.edge}"
                            for lane in stage) for stage in stages)))
    t0 = time.monotonic()
    returncodes = _tempest_run(stages, cloud, say)
    duration = time.monotonic() - t0
    subunit = workdir / "results.subunit"
    evidence = workdir / "evidence.jsonl"
    # Subunit v2 streams are packets: one after the other is one stream.
    subunit.write_bytes(b"".join(lane.subunit.read_bytes()
                                 for lane in lanes))
    evidence.write_text("".join(lane.evidence.read_text()
                                for lane in lanes))
    results = report_mod.parse_subunit(subunit)
    if not results:
        raise UserError(
            f"tempest ran no test (exit {max(returncodes)}); see "
            + ", ".join(str(lane.log) for lane in lanes))
    failures = workdir / "failures.log"
    report_mod.write_failures(results, failures)
    rep = report_mod.build(catalog, deployment, tests, results,
                           report_mod.read_evidence(evidence),
                           before, cloud.counts(), cloud.faults_left(),
                           duration, scoped_out, modes)
    rep["target"] = {
        "kind": "testbed" if testbed is not None else "cloud",
        "tempest_conf": str(tempest_conf.resolve()),
        # Every failed test's whole traceback (the report keeps one line).
        "failures_log": str(failures.resolve()),
        "clouds_file": cloud.clouds_file,
        "sites": {s: {"region": cloud.regions[s], "identity_uri": uri,
                      "link": cloud.links.get(s),
                      "cloud": cloud.clouds.get(s)}
                  for s, uri in cloud.uris.items()},
        # Which tests stood (and cut) at which edge site.
        "lanes": [{"edge_site": lane.edge, "tests": len(lane.tests),
                   "what": lane.what} for lane in lanes],
        "suite_version": report_mod.suite_version()}
    paths = report_mod.write(rep, report_dir)
    # For CI systems: Tempest's own subunit stream (stestr's format) and
    # JUnit XML, next to the report.
    shutil.copyfile(subunit, report_dir / f"{deployment}{report_mod.SUBUNIT}")
    report_mod.write_junit(deployment, results, tests,
                           report_dir / f"{deployment}{report_mod.JUNIT}")
    if testbed is not None:
        paths = _testbed_hygiene(rep, testbed, workdir, paths, report_dir,
                                 say)
    say(f"report: {paths[0]}")
    return rep


def _scoped_out(model, catalog: Catalog, cloud: Cloud, testbed,
                only: set[str] | None) -> dict[str, str]:
    """requirement ID -> why it is not run: outside what the testbed (or
    the cloud's catalog) runs, or not among `only`."""
    if testbed is not None:
        deployed = {svc for site in testbed.topology().sites.values()
                    for svc in site.services}
        scoped_out = selection.outside(catalog, deployed,
                                       "the embedded testbed")
    else:
        scoped_out = selection.unavailable(catalog, model, cloud.available)
    if only is not None:
        scoped_out.update({r: "not selected for this run (--requirement)"
                           for r in catalog.requirements
                           if r not in only and r not in scoped_out})
    return scoped_out


def _workspace(workdir: Path, conf_text: str, name: str = "tempest"
               ) -> Path:
    """A fresh Tempest workspace `name` under `workdir` holding
    `conf_text` as its tempest.conf (owner only: it holds the admin
    password). Its
    .stestr.conf names the test path of the Tempest that created it,
    which may be another venv's, so it is made anew every run; its
    registry (workspace.yaml) is ours alone and goes with it. Raises
    UserError when tempest init fails."""
    workdir.mkdir(parents=True, exist_ok=True)
    ws = workdir / name
    shutil.rmtree(ws, ignore_errors=True)
    registry = workdir / f"{name}-workspace.yaml"
    registry.unlink(missing_ok=True)
    proc = subprocess.run(
        [_bin("tempest"), "init", "--workspace-path", str(registry),
         str(ws)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode:
        said = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise UserError(f"tempest init failed: "
                        f"{said[-1][:200] if said else proc.returncode}")
    copy = ws / "etc" / "tempest.conf"
    copy.touch(mode=0o600)
    copy.chmod(0o600)
    copy.write_text(conf_text)
    return ws


def _testbed_hygiene(rep: dict, testbed, workdir: Path, paths,
                     report_dir: Path, say):
    """On the embedded testbed: each edge's identity replica after the
    run's cuts (day 2: a stale one serves frozen identity) and the secrets
    audit, added to `rep`, which is written again; returns its paths."""
    rep["replicas"] = testbed.replicas()
    secrets = audit.testbed_secrets(testbed)
    files = audit.haystack(testbed, workdir, paths)
    leaks = audit.scan(secrets, files)
    rep["hygiene"]["secrets_audit"] = {
        "secrets": len(secrets), "files": len(files), "leaks": leaks}
    rep["hygiene"]["clean"] = rep["hygiene"]["clean"] and not leaks
    say(f"secrets audit: {len(secrets)} secrets, {len(files)} files, "
        f"{len(leaks)} leaks")
    return report_mod.write(rep, report_dir)


# What a run writes into its work directory besides its Tempest runs'
# (tempest*): the merged stream, evidence and failures.
RUN_FILES = ("results.subunit", "evidence.jsonl", "failures.log",
             "include-list.txt", "workspace.yaml")


def _clear_earlier_runs(workdir: Path, keep: Path) -> None:
    """Remove what earlier runs left in `workdir` (their Tempest
    workspaces, streams, evidence and logs: their lanes may have had
    other names), but `keep` (the run's tempest.conf, when it lives
    there)."""
    if not workdir.is_dir():
        return
    for path in workdir.iterdir():
        if path.resolve() == keep.resolve() or not (
                path.name.startswith("tempest")
                or path.name in RUN_FILES):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


class Lane:
    """One `tempest run` of some of the run's tests, with a tempest.conf
    of its own (`conf`: its text) that names the edge site its tests stand
    at and cut (`edge`); `what`: which tests, for the progress line and
    the report."""

    def __init__(self, name: str, conf: str, edge: str, tests: list[str],
                 what: str, workdir: Path):
        self.name, self.conf, self.edge = name, conf, edge
        self.tests, self.what = tests, what
        self.subunit = workdir / f"{name}.subunit"
        self.evidence = workdir / f"{name}-evidence.jsonl"
        self.log = workdir / f"{name}-run.log"
        self.workspace: Path | None = None
        self.include: Path | None = None


def _plan(tempest_conf: Path, chosen: list[str], modes: dict[str, str],
          site_local: set[str], workdir: Path) -> list[list[Lane]]:
    """The run's stages, one after the other, each a list of lanes that
    run at once. When tempest.conf names a second edge site with a link of
    its own ([edge_refarch] other_edge_site) and sets
    concurrent_edge_cuts (off by default): first the `site_local` tests (those
    that stand at nothing but the root site and their own edge site) in
    two lanes, the black-hole cuts at the second edge site (a tempest.conf
    with edge_site and other_edge_site swapped) beside the others at
    edge_site; then every other test at edge_site, one at a time. Else one
    stage of one lane. A lane thus never cuts a site that a test of the
    other lane stands at, and the two partition modes do not double the
    run."""
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(tempest_conf)
    er = cp["edge_refarch"]
    edge = er.get("edge_site", "edge1")
    other = er.get("other_edge_site", "")
    beside = [t for t in chosen if t in site_local
              and modes.get(t) != "blackhole"]
    cuts = [t for t in chosen if t in site_local
            and modes.get(t) == "blackhole"]
    alone = [t for t in chosen if t not in beside and t not in cuts]
    if not (er.getboolean("concurrent_edge_cuts", fallback=False)
            and beside and cuts and other and other != edge
            and other in _dict(er.get("site_links", ""))):
        return [[Lane("tempest", _text(cp), edge, chosen, "every test",
                      workdir)]]
    first = Lane(f"tempest-{edge}", _text(cp), edge, beside,
                 "the tests that stand at the DC and one edge site only, "
                 "but the black-hole cuts", workdir)
    er["edge_site"], er["other_edge_site"] = other, edge
    second = Lane(f"tempest-{other}", _text(cp), other, cuts,
                  "the black-hole cuts that stand at the DC and one edge "
                  "site only, at once with the first", workdir)
    er["edge_site"], er["other_edge_site"] = edge, other
    stages = [[first, second]]
    if alone:
        stages.append([Lane("tempest", _text(cp), edge, alone,
                            "every other test, one at a time", workdir)])
    return stages


def _text(cp: configparser.ConfigParser) -> str:
    out = io.StringIO()
    cp.write(out)
    return out.getvalue()


def _tempest_run(stages: list[list[Lane]], cloud: Cloud, say
                 ) -> list[int]:
    """`tempest run` of each stage's lanes at once, each in a session of
    its own (it and the stestr worker it starts), the stages one after the
    other, all within TEMPEST_TIMEOUT_S. Returns their exit codes. When
    they overrun or the run is interrupted, every session is stopped
    (SIGTERM, then SIGKILL after STOP_GRACE_S) and what the tests left
    (faults on links, the suite's resources) is removed before UserError
    (overrun) or the interrupt is raised."""
    procs: list[subprocess.Popen] = []
    codes: list[int] = []
    deadline = time.monotonic() + TEMPEST_TIMEOUT_S
    try:
        for stage in stages:
            procs = []
            for lane in stage:
                with open(lane.subunit, "wb") as out, \
                        open(lane.log, "w") as err:
                    procs.append(subprocess.Popen(
                        [_bin("tempest"), "run", "--include-list",
                         str(lane.include), "--concurrency", "1",
                         "--subunit"],
                        cwd=lane.workspace, stdout=out, stderr=err,
                        stdin=subprocess.DEVNULL,
                        env={**os.environ,
                             "EDGE_REFARCH_EVIDENCE": str(lane.evidence)},
                        start_new_session=True))
            codes += [proc.wait(timeout=max(0.0,
                                            deadline - time.monotonic()))
                      for proc in procs]
        return codes
    except BaseException as exc:
        for proc in procs:
            if proc.returncode is None:
                _stop_session(proc)
        removed = cloud.cleanup()
        if any(removed.values()):
            say(f"removed what the stopped run left: {removed}")
        if isinstance(exc, subprocess.TimeoutExpired):
            logs = ", ".join(str(lane.log) for stage in stages
                             for lane in stage)
            raise UserError(
                f"tempest run did not end within {TEMPEST_TIMEOUT_S} s; "
                f"stopped (see {logs})") from None
        raise


def _stop_session(proc: subprocess.Popen) -> None:
    """SIGTERM to the session `proc` leads, SIGKILL to what is left of it
    after STOP_GRACE_S; `proc` is reaped."""
    from edge_refarch.validation.testbed.procs import stop_session
    stop_session(proc.pid, STOP_GRACE_S)
    proc.wait(timeout=5)
