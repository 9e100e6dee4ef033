"""One bring-up of the testbed, as data.

``BringUp`` builds a topology's components from the model (through the
``Testbed``), and ``plan()`` lists the steps that start them, each naming
the steps it waits for (``steps.Step``); ``steps.run`` starts every step as
soon as its needs are met, so everything that can start in parallel does.
Each step is a method here: what it does is read in one place, what it
waits for in ``plan()``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from edge_refarch.architecture.topology import Topology
from edge_refarch.validation.errors import UserError
from edge_refarch.validation.testbed import (
    deps,
    federation,
    probes,
    setup_api,
)
from edge_refarch.validation.testbed import gnocchi as gnocchi_mod
from edge_refarch.validation.testbed import keys as keys_mod
from edge_refarch.validation.testbed import overlay as overlay_mod
from edge_refarch.validation.testbed import steps as steps_mod
from edge_refarch.validation.testbed.keystone import Keystone
from edge_refarch.validation.testbed.mariadb import (
    CATALOG_TABLES,
    EDGE_KEYSTONE_WRITE_GRANTS,
    MariaDB,
)
from edge_refarch.validation.testbed.schemas import Schemas
from edge_refarch.validation.testbed.steps import Step

# Seconds for one set-up call to a Keystone (creating users, the catalog).
SETUP_CALL_TIMEOUT_S = 10.0
# Service users the compute side and telemetry add to the Keystone that
# writes identity (beside glance).
SERVICE_USERS = ("nova", "placement", "neutron", "heat", "gnocchi", "aodh")
# Steps that run at once (most of them wait on a probe).
MAX_PARALLEL_STEPS = 32
# CPU seconds one worker process (Nova's, Heat's engines, telemetry's)
# may take to start and register when all start at once: imports, set-up,
# and its share of the other sites' load. The workers' bound is their
# total over the machine's cores (start_timeout_s at the least). Measured:
# with 10 edges (44 workers, no telemetry) on 2 cores, one run had every
# worker up within 264 s (12 CPU s each) and another did not (edge5's
# Heat engine).
WORKER_START_CPU_S = 20.0


class BringUp:
    """The start of `topo` by `testbed` (a ``testbed.Testbed``): `server`
    is toxiproxy's binary, `venv` the services' venv, `wsgi_venv` the one
    Apache's mod_wsgi runs (federated variant only), `overlay` the
    operator's option overlay (``overlay.load``'s result) or None.

    Every wait gets the model's start-up bound (``start_timeout_s``) of its
    own, from when it begins: the total grows with the number of sites (10
    edges start ~155 processes on 2 cores) but stays bounded. Raises
    UserError when a service does not start within its bound."""

    def __init__(self, testbed, topo: Topology, server: Path, venv: Path,
                 wsgi_venv: Path | None, overlay: dict | None = None):
        self.testbed = testbed
        self.settings = testbed.model.testbed
        self.topo = topo
        self.server = server
        self.overlay = overlay
        testbed.state.mkdir(parents=True, exist_ok=True)
        self.pw = testbed.passwords()
        self.dbs, self.caches, self.keystones, self.glances = \
            testbed._components(topo, venv, self.pw, wsgi_venv)
        self.fed = topo.deployment.federation
        self.sps = {n: ks for n, ks in self.keystones.items()
                    if isinstance(ks, federation.SpKeystone)}
        self.compute = testbed._compute(topo, venv, self.pw)
        self.root = topo.root.name
        self.ks_root = self.keystones[self.root]
        self.replicas = {n: db for n, db in self.dbs.items() if db.replica}
        self.schemas = Schemas(deps.venv_key())
        self.workers: dict[str, object] = {}
        # When the set-up that waits on Nova's and Heat's workers must be
        # done by (set when they start).
        self.finish_by = 0.0

    def say(self, msg: str) -> None:
        self.testbed.say(msg)

    def deadline(self) -> float:
        return time.monotonic() + self.settings.start_timeout_s

    def run(self) -> None:
        """Start everything (see the class)."""
        if self.fed:
            federation.self_signed(federation.idp_dir(self.ks_root),
                                   f"{self.root} SAML2 IdP")
        self.say(f"bringing up {self.topo.deployment.name}: "
                 f"{', '.join(self.topo.sites)} "
                 f"({len(self.topo.proxies)} proxies)")
        plan = self.plan()
        self.say("databases, schemas and services start as their needs "
                 f"are met ({len(plan)} steps)")
        steps_mod.run(plan, max_workers=MAX_PARALLEL_STEPS)

    # -- the steps ---------------------------------------------------------
    def start_toxiproxy(self) -> None:
        tb = self.settings
        tdir = self.testbed.state / "toxiproxy"
        tdir.mkdir(parents=True, exist_ok=True)
        argv = [str(self.server), "-host", tb.toxiproxy_address, "-port",
                str(tb.toxiproxy_port), "-proxy-metrics"]
        proc = self.testbed.procs.spawn("toxiproxy", argv, cwd=tdir,
                                        log=tdir / "toxiproxy.log")
        toxiproxy = self.testbed.toxiproxy
        probes.wait_for("toxiproxy", toxiproxy.reachable, self.deadline(),
                        alive=lambda: proc.alive,
                        hint=str(tdir / "toxiproxy.log"))
        for p in self.topo.proxies:
            toxiproxy.ensure_proxy(p.name, p.listen, p.upstream)
        self.say(f"toxiproxy up with {len(self.topo.proxies)} proxies")

    def start_db(self, db: MariaDB) -> None:
        db.write_config()
        db.initialise()
        self.testbed._spawn(db)

    def start_queue(self, mq) -> None:
        mq.write_config()
        self.testbed._spawn(mq)

    def create_databases(self) -> None:
        pw = self.pw
        for name, db in self.dbs.items():
            if name in self.keystones:
                db.create_database("keystone", "keystone",
                                   pw["db_keystone"], read_only=db.replica)
            if name in self.glances:
                db.create_database("glance", "glance", pw["db_glance"])
        for name, wanted in self.compute.databases.items():
            for db_name, user, password in dict.fromkeys(wanted):
                self.dbs[name].create_database(db_name, user, password)
        if self.root in self.dbs and self.replicas:
            dc = self.dbs[self.root]
            dc.create_replication_user(pw["replicator"])
            # Where the edges' key-sync agents acknowledge their keys.
            dc.create_database(keys_mod.ACK_DATABASE, keys_mod.ACK_USER,
                               pw[keys_mod.ACK_USER])
            dc.execute(keys_mod.ACK_TABLE, log_bin=False)

    def write_configs(self) -> None:
        for comp in (*self.keystones.values(), *self.glances.values()):
            comp.write_config()
        self.compute.configure()
        if self.overlay:
            changed = overlay_mod.apply(
                self.overlay, self.testbed._service_dirs(self.topo))
            self.say(f"config overlay: {len(set(changed))} file(s) changed")

    def bootstrap(self, ks: Keystone) -> None:
        """A Keystone that holds identity of its own: its schema (from the
        prepared dump), keys and admin."""
        self.prepare_schema(ks, "keystone")
        ks.bootstrap(self.pw["admin"])

    def bootstrap_root(self) -> None:
        self.bootstrap(self.ks_root)
        if self.fed:
            federation.write_idp_metadata(self.ks_root)

    def prepare_schema(self, comp, name: str) -> None:
        if name == "gnocchi":
            # gnocchi-upgrade also lays out the file storage, which lives
            # in the site's state: no dump can stand in for it.
            comp.db_sync()
            return
        # Glance's dump holds its metadata definitions too (a new name, so
        # no dump cached before them is loaded).
        self.schemas.prepare(
            self.dbs[comp.site.name], name, comp.db_sync,
            kind="glance-metadefs" if name == "glance" else None)

    def start_replication(self) -> None:
        """Local catalog tables, replication over the link, keys."""
        dc = self.dbs[self.root]
        ddl = dc.table_ddl("keystone", CATALOG_TABLES)
        # The DC's MariaDB as each edge reaches it: over its link.
        dc_over_link = {
            name: next(p.listen for p in self.topo.proxies
                       if p.src == name and p.dst == self.root
                       and p.service == "mariadb")
            for name in self.replicas}
        for name, db in self.replicas.items():
            db.create_local_tables("keystone", ddl)
            host, port = dc_over_link[name].rsplit(":", 1)
            db.start_replication(host, int(port), self.pw["replicator"])
            self.keystones[name].copy_keys_from(self.ks_root)
        # From now on keys reach the edges over their links: the DC
        # publishes its repository, each edge's key-sync agent follows.
        keys_mod.publish(dc, self.ks_root)
        for name in self.replicas:
            agent = keys_mod.KeySync(
                self.topo.sites[name], self.dbs[name], self.keystones[name],
                dc_over_link[name], self.pw[keys_mod.ACK_USER],
                self.testbed.model.bounds.cross_site_timeout_s)
            agent.write_config()
            self.testbed._spawn_worker(agent)

    def trust_idp(self) -> None:
        for sp in self.sps.values():
            sp.trust(federation.idp_metadata_path(self.ks_root))
            sp.hand_over()

    def start_keystone(self, ks: Keystone) -> None:
        needs = ()
        if isinstance(ks, federation.SpKeystone):
            # Its health check (a federated login's first leg) goes
            # through shibd: the wait stops as soon as shibd ends.
            shibd = federation.Shibd(ks)
            needs = ((shibd, self.testbed._spawn(shibd)),)
        if ks.site.name in self.replicas:
            self.wait_for_replica(ks)
            self.dbs[ks.site.name].grant(*EDGE_KEYSTONE_WRITE_GRANTS)
        self.testbed._spawn(ks, needs)

    def wait_for_replica(self, ks: Keystone) -> None:
        """The edge's replica holds everything the DC's database holds
        now."""
        gtid = self.dbs[self.root].gtid_position()
        if not self.dbs[ks.site.name].wait_for_position(
                gtid, self.settings.start_timeout_s):
            raise UserError(f"{ks.name}: the identity replica did not "
                            "catch up with the DC")

    def configure_root(self) -> None:
        admin = setup_api.connect(self.ks_root.url, self.pw["admin"],
                                  timeout=SETUP_CALL_TIMEOUT_S)
        self.provision(admin, self.root)
        setup_api.set_catalog(admin, self.topo.catalog_for(self.root))
        for name, sp in self.sps.items():
            federation.register_service_provider(
                admin, name, sp.url, self.fed.idp_id)

    def provision(self, admin, name: str) -> None:
        """The service users (and Heat's stack-user domain) of every site
        whose identity `name`'s Keystone writes: the root's for all sites
        with replicated or central identity, each service provider's for
        its own site and the cloudlets it serves (federated)."""
        topo = self.topo
        sites = [s for s in topo.sites.values()
                 if topo.identity_writer(s.name).name == name]
        for user in ("glance", *SERVICE_USERS):
            if any(user in s.services for s in sites):
                setup_api.ensure_service_user(admin, user, self.pw[user])
        if any(s.name in self.compute.heats for s in sites):
            setup_api.ensure_heat_domain(admin, self.pw["heat_domain_admin"])

    def configure_site(self, ks: Keystone) -> None:
        """The site's own catalog (and, at a service provider, its service
        users and its trust in the IdP), once the DC's users reached it."""
        name = ks.site.name
        if name in self.replicas:
            self.wait_for_replica(ks)
        admin = setup_api.connect(ks.url, self.pw["admin"],
                                  timeout=SETUP_CALL_TIMEOUT_S)
        setup_api.set_catalog(admin, self.topo.catalog_for(name))
        if name in self.sps:
            self.provision(admin, name)
            fed = self.fed
            federation.trust_identity_provider(
                admin, fed.idp_id, federation.idp_entity_id(ks.idp_url),
                fed.domain, fed.mapped_roles)
            self.say(f"{name}: trusts identity provider {fed.idp_id} "
                     f"(domain {fed.domain})")

    def start_workers(self) -> None:
        compute = self.compute
        self.workers.update(
            {s.name: self.testbed._spawn_worker(s)
             for s in (*compute.services, *compute.engines)})
        # Nova and Heat register their workers only once those run: the
        # remaining set-up gets a start-up bound of its own, longer when
        # the workers' start-up work (their imports share the cores)
        # takes longer than start_timeout_s on this machine's cores.
        self.finish_by = time.monotonic() + max(
            self.settings.start_timeout_s,
            len(self.workers) * WORKER_START_CPU_S
            / len(os.sched_getaffinity(0)))

    def admin_at(self, site: str, **apis: str):
        """An admin Connection at `site`'s Keystone (`apis`: the
        compute_url/orchestration_url of setup_api.connect) once it holds a
        token, retried until the deadline: with every worker starting at
        once on a small machine, one request may time out (seen once, in
        CI)."""
        conn = setup_api.connect(self.keystones[site].url, self.pw["admin"],
                                 timeout=self.settings.probe_timeout_s * 5,
                                 **apis)

        def once() -> bool:
            try:
                setup_api.token(conn)
            except UserError:
                return False
            return True
        probes.wait_for(f"{site}: admin token", once, self.finish_by,
                        interval=1)
        return conn

    def workers_alive(self) -> bool:
        return all(p.alive for p in self.workers.values())

    def finish_nova(self, control: str) -> None:
        """Every Nova service of `control` reported up, its compute hosts
        mapped to their cells, one availability zone per host."""
        topo, compute = self.topo, self.compute
        ident = topo.identity_site(control).name
        nova = self.admin_at(ident, compute_url=topo.url_of(
            control, topo.sites[control], "nova"))
        hosts = set(compute.hosts[control])
        wanted = {(s.binary, s.host) for s in compute.services
                  if topo.provider(s.site.name, "nova").name == control}
        try:
            waited = probes.wait_for(
                f"{control}: Nova services up",
                lambda: wanted <= setup_api.nova_services_up(nova),
                self.finish_by, interval=0.5, alive=self.workers_alive,
                hint=str(self.testbed.state / "sites") + " (nova logs)")
        except UserError as exc:
            dead = [n for n, p in self.workers.items() if not p.alive]
            raise UserError(f"{exc}; exited: {', '.join(dead)}"
                            if dead else str(exc)) from None
        if hosts:
            # A host is listed once it is mapped to its cell, and can be
            # mapped once its compute node record exists.
            def mapped() -> bool:
                compute.discover_hosts(control)
                return hosts <= setup_api.hypervisors(nova)
            probes.wait_for(f"{control}: compute hosts mapped", mapped,
                            self.finish_by, interval=1)
            for host in sorted(hosts):
                setup_api.ensure_zone(nova, host, host)
        self.say(f"{control}: Nova ready ({len(wanted)} services, "
                 f"{len(hosts)} compute hosts; +{waited:.1f}s)")

    def finish_heat(self, name: str) -> None:
        """Heat's engine at `name` registered and reported up."""
        topo = self.topo
        heat = self.compute.heats[name]
        ident = topo.identity_site(name).name
        conn = self.admin_at(ident, orchestration_url=topo.url_of(
            name, topo.sites[name], "heat"))
        db = self.dbs[name]     # Heat's database is its site's
        waited = probes.wait_for(
            f"{name}: Heat engine registered",
            lambda: heat.engine_registered(db), self.finish_by,
            interval=0.5, alive=self.workers_alive, hint=str(heat.logdir))
        waited += probes.wait_for(
            f"{name}: Heat engine up",
            lambda: setup_api.heat_engine_up(conn), self.finish_by,
            interval=0.5, alive=self.workers_alive, hint=str(heat.logdir))
        self.say(f"{name}: Heat ready (+{waited:.1f}s)")

    def finish_gnocchi(self, name: str) -> None:
        """What Ceilometer's ``ceilometer-upgrade`` creates in the site's
        Gnocchi for its publisher: the instance resource type and the
        archive policy its measures are kept with."""
        topo = self.topo
        conn = self.admin_at(topo.identity_site(name).name)
        gnocchi = self.compute.gnocchis[name]

        def created() -> bool | probes.NotYet:
            try:
                setup_api.ensure_gnocchi_publisher(
                    conn, topo.url_of(name, topo.sites[name], "gnocchi"),
                    gnocchi_mod.INSTANCE_RESOURCE_TYPE,
                    gnocchi_mod.ARCHIVE_POLICY)
            except UserError as exc:
                return probes.NotYet(str(exc))
            return True
        probes.wait_for(f"{name}: Gnocchi set-up", created, self.finish_by,
                        interval=1, hint=str(gnocchi.logdir))
        self.say(f"{name}: Gnocchi ready (resource type "
                 f"{gnocchi_mod.INSTANCE_RESOURCE_TYPE['name']}, archive "
                 f"policy {gnocchi_mod.ARCHIVE_POLICY['name']})")

    # -- the plan ----------------------------------------------------------
    def near(self, site: str) -> tuple[str, ...]:
        """What any service of `site` needs running first: its memcached
        (keystonemiddleware's token cache)."""
        mc = self.caches.get(site)
        return (mc.name,) if mc is not None else ()

    def plan(self) -> list[Step]:
        """Every step, with what it waits for: the shared infrastructure,
        the schemas and Keystone's bootstraps, identity, the APIs, then
        the workers and the set-up that waits on them."""
        queues = self.queue_steps()
        plan = [*self.infrastructure_steps(queues), *self.schema_steps(),
                *self.identity_steps(), *self.api_steps(queues)]
        return plan + self.worker_steps(plan)

    def queue_steps(self) -> list[Step]:
        """epmd (when a site runs RabbitMQ) and every site's RabbitMQ."""
        compute, spawn = self.compute, self.testbed._spawn
        queues = ([Step("epmd", lambda: spawn(compute.epmd))]
                  if compute.epmd is not None else [])
        return queues + [Step(mq.name, lambda mq=mq: self.start_queue(mq),
                              after=("epmd",))
                         for mq in compute.rabbits.values()]

    def infrastructure_steps(self, queues: list[Step]) -> list[Step]:
        """toxiproxy, the queues, the databases and caches, the services'
        databases and configuration files."""
        spawn = self.testbed._spawn
        return [Step("toxiproxy", self.start_toxiproxy), *queues,
                *(Step(db.name, lambda db=db: self.start_db(db))
                  for db in self.dbs.values()),
                *(Step(mc.name, lambda mc=mc: spawn(mc))
                  for mc in self.caches.values()),
                Step("databases", self.create_databases,
                     after=tuple(db.name for db in self.dbs.values())),
                Step("configs", self.write_configs)]

    def with_schema(self) -> list[tuple[object, str]]:
        """(component, schema name) of every API with a schema of its own
        (Nova's are per control plane: ``compute.manage``)."""
        compute = self.compute
        return [(g, "glance") for g in self.glances.values()] + [
            (c, c.project) for c in (*compute.placements.values(),
                                     *compute.neutrons.values(),
                                     *compute.heats.values(),
                                     *compute.gnocchis.values(),
                                     *compute.aodhs.values())]

    def schema_steps(self) -> list[Step]:
        """The root's and each service provider's Keystone bootstrap (a
        service provider holds identity of its own, with its own keys and
        local admin: the site operator), then every schema."""
        ready = ("databases", "configs")
        compute = self.compute
        plan = [Step("keystone-bootstrap", self.bootstrap_root,
                     after=ready)]
        plan += [Step(f"{ks.name}-bootstrap",
                      lambda ks=ks: self.bootstrap(ks), after=ready)
                 for ks in self.sps.values()]
        plan += [Step(f"{comp.name}-schema",
                      lambda comp=comp, name=name:
                      self.prepare_schema(comp, name), after=ready)
                 for comp, name in self.with_schema()]
        plan += [Step(f"{n}.nova-schemas",
                      lambda n=n: compute.nova_schemas(n, self.dbs,
                                                       self.schemas),
                      after=ready) for n in compute.manage]
        return plan

    def identity_steps(self) -> list[Step]:
        """Replication or the IdP trust, every Keystone, the root's
        set-up, then each other site's catalog."""
        root = self.root
        plan = []
        if self.replicas:
            plan.append(Step("replication", self.start_replication,
                             after=("keystone-bootstrap",)))
        if self.sps:
            plan.append(Step("idp-trust", self.trust_idp, after=(
                "keystone-bootstrap",
                *(f"{ks.name}-bootstrap" for ks in self.sps.values()))))
        plan.append(Step(self.ks_root.name,
                         lambda: self.start_keystone(self.ks_root),
                         after=("keystone-bootstrap", *self.near(root))))
        plan.append(Step("root-setup", self.configure_root,
                         after=(self.ks_root.name,)))
        for name, ks in self.keystones.items():
            if name == root:
                continue
            data = ("replication",) if name in self.replicas else \
                ("idp-trust",) if name in self.sps else \
                ("keystone-bootstrap",)
            plan.append(Step(ks.name, lambda ks=ks: self.start_keystone(ks),
                             after=(*data, *self.near(name))))
            plan.append(Step(f"{name}.catalog",
                             lambda ks=ks: self.configure_site(ks),
                             after=("root-setup", ks.name)))
        return plan

    def api_steps(self, queues: list[Step]) -> list[Step]:
        """Every API but Keystone's, once its schema, its site's cache
        and the queues are there."""
        spawn, queued = self.testbed._spawn, tuple(q.name for q in queues)
        plan = [Step(comp.name, lambda comp=comp: spawn(comp),
                     after=(f"{comp.name}-schema",
                            *self.near(comp.site.name), *queued))
                for comp, _ in self.with_schema()]
        plan += [Step(api.name, lambda api=api: spawn(api),
                      after=(f"{control}.nova-schemas", *self.near(control),
                             *queued))
                 for control, api in self.compute.apis.items()]
        return plan

    def worker_steps(self, plan: list[Step]) -> list[Step]:
        """Nova's and Heat's workers, once their users, catalogs and the
        APIs in `plan` exist; then every Nova service reported up, hosts
        mapped, one zone per site, Heat's engines up, Gnocchi set up."""
        compute, keystones = self.compute, self.keystones
        if not (compute.manage or compute.heats):
            return []
        apis = {c.name for c in (*keystones.values(),
                                 *self.glances.values(), *compute.wsgi)}
        started = [s.name for s in plan if s.name in apis]
        return [Step("workers", self.start_workers, after=(
                    *started, "root-setup",
                    *(f"{n}.catalog" for n in keystones if n != self.root))),
                *(Step(f"{n}.nova-ready", lambda n=n: self.finish_nova(n),
                       after=("workers",)) for n in compute.manage),
                *(Step(f"{n}.heat-ready", lambda n=n: self.finish_heat(n),
                       after=("workers",)) for n in compute.heats),
                *(Step(f"{n}.gnocchi-ready",
                       lambda n=n: self.finish_gnocchi(n),
                       after=("workers",)) for n in compute.gnocchis)]
