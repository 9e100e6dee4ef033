"""The embedded multi-site testbed: up, status, down.

Lays the architecture model out on one machine: each site on its own
loopback address, real services from PyPI under gunicorn, MariaDB per site,
one toxiproxy server carrying every cross-site connection.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from edge_refarch.architecture import Model, ModelError
from edge_refarch.architecture.topology import Topology
from edge_refarch.validation import paths
from edge_refarch.validation.errors import BadInput, UserError, first_line
from edge_refarch.validation.faults import probe as probe_mod
from edge_refarch.validation.faults.toxiproxy_api import Toxiproxy
from edge_refarch.validation.testbed import (
    bringup,
    deps,
    federation,
    probes,
    procs,
    rabbitmq,
)
from edge_refarch.validation.testbed import keys as keys_mod
from edge_refarch.validation.testbed import overlay as overlay_mod
from edge_refarch.validation.testbed import tls as tls_mod
from edge_refarch.validation.testbed.compute import ComputePlan
from edge_refarch.validation.testbed.glance import Glance
from edge_refarch.validation.testbed.keystone import Keystone
from edge_refarch.validation.testbed.mariadb import (
    EDGE_KEYSTONE_WRITE_GRANTS,
    MariaDB,
    db_url,
)
from edge_refarch.validation.testbed.memcached import Memcached
from edge_refarch.validation.testbed.procs import ProcessTable
from edge_refarch.validation.testbed.service import Server, Service

STATE_FILE = "testbed.json"
# Lines of each log of a service that did not start, shown in the progress
# output before the error.
LOG_TAIL_LINES = 5
SERVICE_USERS = bringup.SERVICE_USERS
PASSWORDS = ("admin", "glance", "db_keystone", "db_glance", "replicator",
             keys_mod.ACK_USER,
             *SERVICE_USERS, "db_nova", "db_placement", "db_neutron",
             "db_heat", "db_gnocchi", "db_aodh", "heat_domain_admin",
             "rabbit")


def running_model_file() -> Path | None:
    """The model file the running testbed (paths.state_dir()) was brought
    up with, when it is not the shipped one and still exists; None
    otherwise. Commands given no --model-file use it, so that they see the
    testbed that is up (a model scoped with testbed_services, say)."""
    try:
        rec = json.loads((paths.state_dir() / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    path = Path(rec.get("model") or "")
    if not rec.get("model") or not path.is_file():
        return None
    from edge_refarch.architecture import DEFAULT_MODEL_PATH
    return None if path.resolve() == DEFAULT_MODEL_PATH.resolve() else path


def _parallel(jobs: dict[str, Callable[[], object]]) -> dict[str, object]:
    """Run jobs in threads; re-raise the first failure after all finish."""
    if not jobs:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        futures = {name: pool.submit(fn) for name, fn in jobs.items()}
        results, first_error = {}, None
        for name, fut in futures.items():
            try:
                results[name] = fut.result()
            except Exception as exc:  # noqa: BLE001 - re-raised below
                first_error = first_error or exc
        if first_error:
            raise first_error
        return results


class Testbed:
    def __init__(self, model: Model, state: Path | None = None,
                 say: Callable[[str], None] = lambda m: None):
        self.model = model
        self.state = Path(state or paths.state_dir())
        self.say = say
        self._lock_depth = 0
        self.procs = ProcessTable(self.state)
        tb = model.testbed
        self.toxiproxy = Toxiproxy(
            f"http://{tb.toxiproxy_address}:{tb.toxiproxy_port}",
            timeout=tb.probe_timeout_s)

    # -- recorded state -----------------------------------------------------
    def recorded(self) -> dict | None:
        try:
            return json.loads((self.state / STATE_FILE).read_text())
        except (OSError, ValueError):
            return None

    @property
    def shared(self) -> Path:
        """This testbed's files that Apache's unprivileged user reads and
        writes (federated identity); removed with the testbed."""
        tag = hashlib.sha256(str(self.state.resolve()).encode()).hexdigest()
        return paths.shared_dir() / f"testbed-{tag[:10]}"

    @property
    def latency_overshoot_ms(self) -> float:
        """The latency toxic's overshoot measured at start-up (0 if none)."""
        return float((self.recorded() or {}).get("latency_overshoot_ms", 0))

    def topology(self) -> Topology | None:
        rec = self.recorded()
        if rec is None:
            return None
        files = rec.get("tls")
        if files:
            tls_mod.trust(files)    # its health checks and clients
        return Topology(self.model, rec["deployment"], rec["edges"],
                        testbed=True,
                        tls=(files["cert"], files["key"]) if files else None)

    @property
    def clouds_yaml(self) -> Path:
        return self.state / "clouds.yaml"

    def passwords(self) -> dict[str, str]:
        """The passwords this testbed generated (kept 0600 in its state)."""
        path = self.state / "secrets.json"
        values = json.loads(path.read_text()) if path.exists() else {}
        missing = [k for k in PASSWORDS if k not in values]
        if not missing:
            return values
        # Hex: safe in URLs, config files, SQL and argv (a token_urlsafe
        # value can start with '-' and read as an option).
        values.update({k: secrets.token_hex(16) for k in missing})
        self.state.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(values, fh)
        tmp.replace(path)
        return values

    # -- components -----------------------------------------------------------
    def _components(self, topo: Topology, venv: Path, pw: dict[str, str],
                    wsgi_venv: Path | None = None):
        """(dbs, caches, keystones, glances): site name -> component, for
        every site of `topo` that runs the service."""
        replicated = topo.deployment.identity_source == "replicated"
        dbs, caches, keystones, glances = {}, {}, {}, {}
        for site in topo.sites.values():
            sdir = self.state / "sites" / site.name
            if "memcached" in site.services:
                caches[site.name] = Memcached(
                    site, sdir, topo.service_port("memcached"))
            cache = caches[site.name].server if site.name in caches else ""
            if "mariadb" in site.services:
                dbs[site.name] = MariaDB(
                    site, sdir, port=topo.service_port("mariadb"),
                    primary=site is topo.root and replicated,
                    replica=site is not topo.root and replicated,
                    binlog_retention_s=self.model.bounds.binlog_retention_s)
            db = f"{site.address}:{topo.service_port('mariadb')}"
            if "keystone" in site.services:
                keystones[site.name] = self._keystone(
                    topo, site, sdir, venv, wsgi_venv, cache,
                    db_url("keystone", pw["db_keystone"], db, "keystone"))
            if "glance" in site.services:
                glances[site.name] = self._glance(
                    topo, site, sdir, venv, cache,
                    db_url("glance", pw["db_glance"], db, "glance"),
                    pw["glance"])
        return dbs, caches, keystones, glances

    def _health(self, service: str) -> str:
        return self.model.services[service].health_path

    def _keystone(self, topo: Topology, site, sdir: Path, venv: Path,
                  wsgi_venv: Path | None, cache: str, database: str):
        """`site`'s Keystone: a service provider of the federation (its
        state under the shared directory Apache reaches), or one that
        holds or replicates the root's identity."""
        tb, fed, root = self.model.testbed, topo.deployment.federation, \
            topo.root
        idp_url = f"http://{root.address}:{topo.service_port('keystone')}"
        common = {"port": topo.service_port("keystone"),
                  "health_path": self._health("keystone"),
                  "cache_server": cache, "cache_ttl": tb.identity_cache_ttl_s,
                  "threads": tb.keystone_threads,
                  "password_hash_rounds": tb.password_hash_rounds}
        if fed and site is not root:
            return federation.SpKeystone(
                site, self.shared / site.name, venv, wsgi_venv, database,
                idp_url=idp_url, idp_id=fed.idp_id,
                shibd_port=tb.shibd_port, **common)
        ks = Keystone(site, sdir, venv, database, primary=site is root,
                      workers=tb.keystone_workers.get(site.tier, 1),
                      max_active_keys=self.model.bounds.max_active_keys,
                      **common)
        if fed:
            ks.extra_sections.update(federation.idp_sections(ks, idp_url))
        return ks

    def _glance(self, topo: Topology, site, sdir: Path, venv: Path,
                cache: str, database: str, password: str) -> Glance:
        """`site`'s Glance with the import methods its tier's features
        name; with glance-download, every other site's Glance (as `site`
        reaches it, over its link) is a download source."""
        features = topo.deployment.features.get(site.tier, {})
        methods = features.get(
            "glance_import_methods",
            ["glance-direct", "web-download", "copy-image"])
        sources = []
        if "glance-download" in methods:
            for other in topo.sites.values():
                prov = topo.provider(other.name, "glance")
                if prov is None or prov.name == site.name:
                    continue
                hp = topo.address_of(site.name, prov, "glance")
                if hp:
                    sources.append(hp)
        auth = topo.address_of(site.name, topo.identity_site(site.name),
                               "keystone")
        return Glance(
            site, sdir, venv, database, port=topo.service_port("glance"),
            health_path=self._health("glance"),
            threads=self.model.testbed.image_api_threads,
            auth_url=f"{topo.scheme}://{auth}",
            www_authenticate_uri=topo.auth_url(site.name),
            password=password, import_methods=methods,
            image_cache=bool(features.get("glance_image_cache")),
            download_sources=sorted(set(sources)), cache_server=cache,
            token_cache_time=self.model.testbed.identity_cache_ttl_s,
            cross_site_timeout=self.model.bounds.cross_site_timeout_s)

    def _compute(self, topo: Topology, venv: Path,
                 pw: dict[str, str]) -> ComputePlan:
        return ComputePlan(topo, self.state, venv, pw,
                           self.model.testbed.toxiproxy_address,
                           self.model.testbed.epmd_port)

    # -- one 'up' or 'down' at a time ----------------------------------------
    @property
    def lock_file(self) -> Path:
        """Held while an 'up' or 'down' runs; beside the state directory,
        which 'down' removes."""
        return self.state.with_name(f"{self.state.name}.lock")

    @contextlib.contextmanager
    def _exclusive(self, what: str):
        """Hold the testbed's lock for `what` ('up', 'down'); re-entrant in
        one process ('up' clears an earlier testbed's remains with 'down').
        Raises BadInput, naming the holder, when another process holds it:
        a 'down' under a running 'up' would remove the state the 'up' is
        writing."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.lock_file, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise BadInput(f"testbed {what}: the testbed is busy ('testbed "
                           f"{holder}' is running); wait for it to end") \
                from None
        fh.truncate(0)
        fh.write(f"{what} (PID {os.getpid()})")
        fh.flush()
        self._lock_depth = 1
        try:
            yield
        finally:
            self._lock_depth = 0
            fh.truncate(0)
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()

    # -- up -------------------------------------------------------------------
    def up(self, deployment: str, edges: int | None,
           keep_on_failure: bool = False, tls: bool = False,
           config_overlay: Path | None = None) -> dict:
        """Bring the testbed up (idempotent). `tls`: every API serves HTTPS
        with a certificate of a private CA of the testbed's own (tls.py);
        not with federated identity (its Apache and Shibboleth serve plain
        HTTP). `config_overlay`: an operator's option overlay (overlay.py),
        applied once the configuration is written. Raises BadInput when
        another 'up' or 'down' is running, or for a bad overlay."""
        # Bad input is refused before anything is locked or touched.
        try:
            topo = Topology(self.model, deployment, edges, testbed=True)
        except ModelError as exc:
            raise BadInput(str(exc)) from None
        if tls and topo.deployment.federation:
            raise BadInput(f"--tls: not with model {deployment!r} (its "
                           "Apache and Shibboleth serve plain HTTP)")
        overlay = overlay_mod.load(config_overlay) if config_overlay \
            else None
        overlay_name = str(Path(config_overlay).resolve()) \
            if config_overlay else None
        with self._exclusive("up"):
            return self._up(topo, deployment, edges, keep_on_failure, tls,
                            overlay, overlay_name)

    def _up(self, topo: Topology, deployment: str, edges: int | None,
            keep_on_failure: bool, tls: bool, overlay: dict | None = None,
            overlay_name: str | None = None) -> dict:
        rec = self._running_as(deployment, topo.edge_count, tls,
                               overlay_name)
        if rec is not None:
            return rec
        self._check_ports(topo)
        files = None
        if tls:
            files = tls_mod.create(
                self.state / "tls",
                sorted({s.address for s in topo.sites.values()}))
            tls_mod.trust(files)
            topo = Topology(self.model, deployment, edges, testbed=True,
                            tls=(files["cert"], files["key"]))
        tb = self.model.testbed
        server, venv = deps.ensure_all(tb.toxiproxy_version, self.say)
        wsgi_venv = None
        if topo.deployment.federation:
            deps.ensure_packages("federation", self.say)
            deps.check_federation_programs()
            wsgi_venv = deps.apache_keystone_venv(self.say)
        t0 = time.monotonic()
        try:
            self._bring_up(topo, server, venv, wsgi_venv, overlay)
            # Once the machine has settled: what toxiproxy's latency toxic
            # adds beyond what it is asked for (see faults/probe.py).
            overshoot = probe_mod.latency_overshoot_ms(
                self.toxiproxy, tb.toxiproxy_address)
        except BaseException:
            if keep_on_failure:
                self.say("start-up failed; left running (--keep-on-failure)")
                raise
            self.say("start-up failed; stopping what was started")
            self.procs.stop_all(last=rabbitmq.STOP_LAST)
            raise
        self.say(f"latency toxic overshoot {overshoot:.2f} ms RTT "
                 "(the fault library compensates for it)")
        rec = {
            "deployment": deployment, "edges": topo.edge_count,
            "model": str(self.model.path), "venv": str(venv),
            "wsgi_venv": str(wsgi_venv) if wsgi_venv else None,
            "toxiproxy": self.toxiproxy.url, "clouds_yaml":
            str(self.clouds_yaml), "started": time.time(),
            "bring_up_s": round(time.monotonic() - t0, 1),
            "latency_overshoot_ms": overshoot, "tls": files,
            "config_overlay": overlay_name,
        }
        (self.state / STATE_FILE).write_text(json.dumps(rec, indent=2))
        return rec

    def _running_as(self, deployment: str, edges: int, tls: bool,
                    overlay_name: str | None) -> dict | None:
        """The record of a healthy testbed already up as asked (then
        nothing is to be done), else None once what an earlier testbed
        left is gone. Raises BadInput when a healthy testbed is up
        otherwise (it is not replaced behind the operator's back)."""
        rec = self.recorded()
        if rec is None:
            left = self.procs.stop_strays()
            if left:
                self.say("stopped what an earlier testbed left running: "
                         + ", ".join(left))
            return None
        if (rec["deployment"], rec["edges"], bool(rec.get("tls")),
                rec.get("config_overlay")) == (
                deployment, edges, tls, overlay_name) and self.healthy():
            self.say(f"testbed already up ({deployment}, "
                     f"{rec['edges']} edges)")
            return rec
        if self.healthy(quick=True):
            raise BadInput(
                f"the testbed is up with model {rec['deployment']!r} and "
                f"{rec['edges']} edge(s); run 'edge-refarch testbed "
                "down' first")
        self.say("removing the remains of an earlier testbed")
        self.down(quiet=True)
        return None

    def _service_dirs(self, topo: Topology) -> dict[str, dict[str,
                                                           list[Path]]]:
        """site -> service -> the directories of its configuration there
        (a site's own state, and the shared tree Apache reads)."""
        out: dict[str, dict[str, list[Path]]] = {}
        for name in topo.sites:
            dirs: dict[str, list[Path]] = {}
            for root in (self.state / "sites" / name, self.shared / name):
                for d in sorted(root.iterdir()) if root.is_dir() else []:
                    if d.is_dir():
                        dirs.setdefault(d.name, []).append(d)
            out[name] = dirs
        return out

    def _check_ports(self, topo: Topology) -> None:
        for host, port, owner in topo.listeners():
            if not probes.port_free(host, port):
                raise UserError(
                    f"port {host}:{port} (for {owner}) is already in use; "
                    "stop whatever holds it, or 'edge-refarch testbed down' "
                    "if it is an earlier testbed")

    def _spawn(self, comp: Server,
               needs: tuple[tuple[Server, procs.Process], ...] = ()):
        """Start `comp` and wait until its health check passes: at most the
        model's start_timeout_s from now, each probe at most its
        probe_timeout_s. `needs`: (server, process) started before it that
        its health check goes through (a service provider's shibd). One of
        those that ends meanwhile is started again, at most its
        ``restarts`` times (its systemd unit's Restart=on-failure), and
        the progress output says how it ended. Raises UserError, with the
        last lines of their logs in the progress output, when the deadline
        passes or `comp` or a needed server ends for good (saying which
        and how)."""
        tb = self.model.testbed
        proc = self._spawn_worker(comp)
        watched = [(comp, proc), *needs]
        left = {server.name: server.restarts for server, _ in needs}
        told: set[str] = set()      # whose log tails were already said

        def alive() -> bool:
            for i, (server, p) in enumerate(watched):
                if p.alive:
                    continue
                if i == 0 or left[server.name] == 0:
                    return False
                left[server.name] -= 1
                self.say(f"{server.name} ended "
                         f"({p.exit_status() or 'exited'}) while "
                         f"{comp.name} started; starting it again")
                self._say_tails(server)
                try:
                    watched[i] = (server, self._spawn(server))
                except UserError:
                    told.add(server.name)   # its own wait said its tails
                    raise
            return True

        try:
            waited = probes.wait_for(
                comp.name, lambda: comp.health(tb.probe_timeout_s),
                time.monotonic() + tb.start_timeout_s, alive=alive,
                hint=str(comp.logdir))
        except UserError:
            for server, _ in watched:
                if server.name not in told:
                    self._say_tails(server)
            ended = [(server, p.exit_status() or "exited")
                     for server, p in watched if not p.alive]
            if ended:
                raise UserError(
                    f"{comp.name}: " + ", ".join(
                        f"{server.name} ended during start-up ({how})"
                        for server, how in ended)
                    + f"; see {ended[0][0].logdir}") from None
            raise
        self.say(f"{comp.name} healthy (+{waited:.1f}s)")
        return proc

    def _say_tails(self, server: Service) -> None:
        """The last lines of `server`'s logs, to the progress output (the
        logs go away with the testbed, and with a CI machine's scratch
        space)."""
        for line in procs.log_tails(server.logdir, LOG_TAIL_LINES):
            self.say(f"{server.name}: {line}")

    def _spawn_worker(self, comp: Service):
        """Start a service's process, without waiting for anything (a
        worker's health is its process's, and what the API it reports to
        says)."""
        comp.logdir.mkdir(parents=True, exist_ok=True)
        env = comp.env()
        arenas = self.model.testbed.malloc_arena_max
        if arenas:
            env = {"MALLOC_ARENA_MAX": str(arenas), **env}
        return self.procs.spawn(comp.name, comp.argv(), cwd=comp.dir,
                                env=env, log=comp.logdir / "stdout.log")

    def _bring_up(self, topo: Topology, server: Path, venv: Path,
                  wsgi_venv: Path | None, overlay: dict | None = None
                  ) -> None:
        """Start every service of `topo` (bringup.BringUp), then write the
        clouds.yaml."""
        run = bringup.BringUp(self, topo, server, venv, wsgi_venv, overlay)
        run.run()
        self._write_clouds(topo, run.pw)
        self.say(f"testbed up; clouds.yaml: {self.clouds_yaml}")

    def _write_clouds(self, topo: Topology, pw: dict[str, str]) -> None:
        clouds = {}
        for site in topo.sites.values():
            clouds[site.name] = {
                "auth": {"auth_url": topo.auth_url(site.name),
                         "username": "admin", "password": pw["admin"],
                         "project_name": "admin",
                         "user_domain_name": "Default",
                         "project_domain_name": "Default"},
                "region_name": site.region,
                "identity_api_version": 3,
                "interface": "public",
            }
            if topo.tls:
                clouds[site.name]["cacert"] = str(
                    self.state / "tls" / "ca.pem")
        fd = os.open(self.clouds_yaml, os.O_WRONLY | os.O_CREAT
                     | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("# Written by 'edge-refarch testbed up': one cloud per "
                     "site (= region).\n")
            yaml.safe_dump({"clouds": clouds}, fh, sort_keys=False)

    # -- status -----------------------------------------------------------
    def _running(self):
        """(topology, (dbs, caches, keystones, glances)) of the running
        testbed, as its record says it was laid out; (None, None) when it
        is down."""
        topo = self.topology()
        if topo is None:
            return None, None
        rec = self.recorded()
        return topo, self._components(
            topo, Path(rec["venv"]), self.passwords(),
            Path(rec["wsgi_venv"]) if rec.get("wsgi_venv") else None)

    def services(self) -> list[tuple[str, str, bool]]:
        """(name, probe target, healthy) for every recorded service."""
        topo, components = self._running()
        if topo is None:
            return []
        probe = self.model.testbed.probe_timeout_s
        pw = self.passwords()
        dbs, caches, keystones, glances = components
        compute = self._compute(topo, Path(self.recorded()["venv"]), pw)
        servers: list[Server] = [
            *dbs.values(), *caches.values(), *keystones.values(),
            *(federation.Shibd(ks) for ks in keystones.values()
              if isinstance(ks, federation.SpKeystone)),
            *glances.values(),
            *([compute.epmd] if compute.epmd is not None else []),
            *compute.rabbits.values(), *compute.wsgi]
        checks = [(s.name, s.target, lambda s=s: s.health(probe))
                  for s in servers]
        for name, db in dbs.items():
            if db.replica and name in keystones:
                agent = keys_mod.KeySync.process_name(name)
                checks.append((agent, f"keys of {name}", lambda
                               a=agent: bool((p := self.procs.get(a))
                                             and p.alive)))
        for svc in (*compute.services, *compute.engines):
            # A worker has no listener: it is healthy while it runs (the
            # compute API reports it up or down).
            checks.append((svc.name, f"host {svc.host}",
                           lambda svc=svc: bool(
                               (p := self.procs.get(svc.name)) and p.alive)))
        checks.append(("toxiproxy", self.toxiproxy.url,
                       self.toxiproxy.reachable))
        results = _parallel({name: fn for name, _, fn in checks})
        return [(name, target, bool(results[name]))
                for name, target, _ in checks]

    def rotate_keys(self, credential: bool = False, force: bool = False
                    ) -> tuple[list[str], list[str], list[str]]:
        """Day 2: ``keystone-manage fernet_rotate`` at the root site (with
        `credential`: ``credential_rotate`` then ``credential_migrate``,
        which re-encrypts every stored credential with the new primary
        key), then its key repositories published to the edges (over each
        edge's link, with the replication; see keys.py). Refused, unless
        `force`, while an edge has not acknowledged the staged key the
        rotation would promote (waited for up to keys.ACK_WAIT_S seconds):
        that edge would refuse the DC's new tokens. After publishing it
        waits, as long again, until every edge whose replica is connected
        acknowledges the new staged key, so that a cut right after the
        rotation still leaves the next one allowed (the rule tolerates
        bounds.key_rotations_per_partition rotations during a cut of an
        edge that was current). Returns (the root's key indexes now, of
        the repository rotated; the sites that acknowledged the new staged
        key; those that have not yet: cut off or behind, they catch up
        after the heal). Raises UserError when the testbed is down or the
        rotation is refused."""
        topo, components = self._running()
        if topo is None:
            raise UserError("the testbed is not up", 2)
        dbs, _, keystones, _ = components
        root = keystones[topo.root.name]
        repository = "credential" if credential else "fernet_tokens"
        rotated = root.credential_keys if credential else root.keys
        replicas = [n for n, db in dbs.items() if db.replica]

        def lagging(among: list[str]) -> list[str]:
            """Those of `among` that have not acknowledged the root's
            staged key, once all have or keys.ACK_WAIT_S has passed."""
            staged = keys_mod.digest(keys_mod.read_repository(rotated)["0"])
            deadline = time.monotonic() + keys_mod.ACK_WAIT_S
            while True:
                acks = keys_mod.read_acks(dbs[topo.root.name])
                behind = [n for n in among if staged not in
                          acks.get(n, {}).get(repository, set())]
                if not behind or time.monotonic() > deadline:
                    return behind
                time.sleep(0.5)

        if replicas and not force:
            behind = lagging(replicas)
            if behind:
                raise UserError(
                    f"rotation refused: {', '.join(behind)} has not "
                    f"received the staged {repository} key this rotation "
                    "would promote (cut off, or behind by the rotations the "
                    "model tolerates), so the DC's new "
                    f"{'credentials' if credential else 'tokens'} would be "
                    "refused there; heal its link and let it catch up, or "
                    "rotate with --force (it then reports stale keys)")
        user, group = root.owner()
        owner = ("--keystone-user", user, "--keystone-group", group)
        if credential:
            root.manage("credential_rotate", *owner)
            root.manage("credential_migrate", *owner)
        else:
            root.manage("fernet_rotate", *owner)
        behind: list[str] = []
        if replicas:
            keys_mod.publish(dbs[topo.root.name], root)
            connected = [n for n in replicas if self._replicating(dbs[n])]
            behind = lagging(connected) + [n for n in replicas
                                           if n not in connected]
        return (sorted(keys_mod.read_repository(rotated), key=int),
                [n for n in replicas if n not in behind], behind)

    @staticmethod
    def _replica_state(db: MariaDB) -> dict:
        """`db`'s identity replica state (MariaDB.replication_status), or
        {'state': 'unreachable', 'last_error': the first line of why}."""
        try:
            return db.replication_status()
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return {"state": "unreachable",
                    "last_error": first_line(exc, 200)}

    @classmethod
    def _replicating(cls, db: MariaDB) -> bool:
        """Whether `db`'s identity replica is connected to the DC."""
        return cls._replica_state(db).get("state") == "replicating"

    def key_states(self) -> dict[str, dict[str, str]]:
        """site -> repository -> keys.key_state of every edge that
        replicates the DC's identity: what its key-sync agent last
        acknowledged against the DC's repositories now."""
        topo, components = self._running()
        if topo is None:
            return {}
        dbs, _, keystones, _ = components
        replicas = [n for n, db in dbs.items() if db.replica]
        if not replicas:
            return {}
        acks = keys_mod.read_acks(dbs[topo.root.name])
        held = {repo: keys_mod.read_repository(path) for repo, path in
                keys_mod.repositories(keystones[topo.root.name]).items()}
        return {n: {repo: keys_mod.key_state(keys, acks.get(n, {}).get(repo))
                    for repo, keys in held.items()} for n in replicas}

    def databases(self) -> dict[str, MariaDB]:
        """site -> its MariaDB, in the running testbed (empty when down)."""
        _, components = self._running()
        return components[0] if components else {}

    def replicas(self) -> dict[str, dict]:
        """site -> its identity replica's state (MariaDB.replication_status,
        or {'state': 'unreachable', 'last_error': ...}) and, as 'keys',
        its key repositories' states (key_states), for every site that
        replicates the DC's identity database."""
        out = {}
        for name, db in self.databases().items():
            if db.replica:
                out[name] = self._replica_state(db)
        try:
            keys = self.key_states()
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            keys = {n: {"error": first_line(exc, 200)}
                    for n in out}
        for name, states in keys.items():
            out.setdefault(name, {})["keys"] = states
        return out

    def purge_binary_logs(self) -> tuple[list[str], list[str]]:
        """Day 2: the DC purges the binary log its edges replicate, as
        ``binlog_expire_logs_seconds`` (bounds.binlog_retention_s) does
        during a cut that outlasts it (MariaDB.purge_binary_logs). Returns
        (files before, files after). Raises UserError when the testbed is
        down or its identity is not replicated."""
        return self._primary(self.databases()).purge_binary_logs()

    def reseed_replica(self, site: str) -> str:
        """Day 2: rebuild `site`'s identity replica from the DC
        (MariaDB.reseed_from) when it cannot resume. Returns the GTID
        position it resumed from. Raises BadInput for a site without a
        replica, UserError when the testbed is down."""
        dbs = self.databases()
        primary = self._primary(dbs)
        if site not in dbs or not dbs[site].replica:
            known = ", ".join(n for n, d in dbs.items() if d.replica)
            raise BadInput(f"{site}: no identity replica there (replicas: "
                           f"{known or 'none'})")
        gtid = dbs[site].reseed_from(primary)
        dbs[site].grant(*EDGE_KEYSTONE_WRITE_GRANTS)
        return gtid

    @staticmethod
    def _primary(dbs: dict[str, MariaDB]) -> MariaDB:
        """The DC's MariaDB among the running testbed's `dbs`."""
        if not dbs:
            raise UserError("the testbed is not up", 2)
        primary = next((db for db in dbs.values() if db.primary), None)
        if primary is None:
            raise BadInput("this testbed's identity is not replicated "
                           "(no binary log, no replica)")
        return primary

    def healthy(self, quick: bool = False) -> bool:
        procs = self.procs.all()
        if not procs or not all(p.alive for p in procs):
            return False
        if quick:
            return True
        return all(ok for _, _, ok in self.services())

    def status(self) -> dict:
        rec = self.recorded()
        if rec is None:
            return {"up": False}
        topo = self.topology()
        procs = {p.name: p for p in self.procs.all()}
        services = []
        for name, target, ok in self.services():
            p = procs.get(name)
            services.append({"name": name, "url": target, "healthy": ok,
                             "pid": p.pid if p and p.alive else None,
                             "rss_mib": round(p.rss_kib() / 1024)
                             if p and p.alive else 0,
                             "pss_mib": round(p.pss_kib() / 1024)
                             if p and p.alive else 0,
                             "cpu_s": round(p.cpu_s(), 2)
                             if p and p.alive else 0.0})
        links = []
        try:
            live = self.toxiproxy.proxies()
        except UserError:
            live = {}
        for name in topo.links:
            links.append({"name": name, "proxies": [
                {"name": p.name, "listen": p.listen,
                 "upstream": p.upstream,
                 "enabled": live.get(p.name, {}).get("enabled"),
                 "toxics": [t["name"] for t in
                            live.get(p.name, {}).get("toxics") or []]}
                for p in topo.proxies_of(name)]})
        return {"up": True, **rec, "services": services, "links": links,
                "replicas": self.replicas()}

    # -- down -----------------------------------------------------------
    def down(self, quiet: bool = False) -> list[str]:
        """Stop what the testbed started (by PID) and remove its state;
        returns the stopped processes. Raises BadInput when another 'up' or
        'down' is running."""
        with self._exclusive("down"):
            return self._down(quiet)

    def _down(self, quiet: bool) -> list[str]:
        stopped = self.procs.stop_all(last=rabbitmq.STOP_LAST)
        shutil.rmtree(self.shared, ignore_errors=True)
        if self.state.exists():
            shutil.rmtree(self.state)
        if not quiet:
            strays = [name for name in stopped if " (pid " in name]
            self.say(f"stopped {len(stopped)} processes; removed "
                     f"{self.state}" + (
                         "; among them, left its session: "
                         + ", ".join(strays) if strays else ""))
        return stopped
