"""A concrete region: the architecture model instantiated.

Pure logic (no I/O): given the model, a deployment model and a number of
edge sites, compute every site with its address and services, every WAN link,
every toxiproxy proxy on those links, and the endpoint each site's clients
and services must use for every other site's services.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property

from edge_refarch.architecture import DeploymentModel, Model, ModelError

# Sites one machine lays out: each has a loopback address of its own
# (testbed.site_address, 127.0.N.1) and its proxies' ports grow with N
# (testbed.proxy_port_base + 100 * N), which must stay below 65536.
MAX_SITES = 250


@dataclasses.dataclass(frozen=True)
class Site:
    name: str
    tier: str
    number: int          # 1-based, in topology order
    address: str         # its own loopback address
    parent: str | None
    services: tuple[str, ...]
    # (certificate, key) files its APIs serve TLS with; None: plain HTTP.
    tls: tuple[str, str] | None = None

    @property
    def region(self) -> str:
        return self.name

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"


@dataclasses.dataclass(frozen=True)
class Proxy:
    """One toxiproxy proxy: traffic from `src` to `dst`'s `service`."""

    name: str
    link: str
    src: str
    dst: str
    service: str
    listen: str          # "addr:port" on the source site's address
    upstream: str        # "addr:port" of the real service at dst


@dataclasses.dataclass(frozen=True)
class Link:
    name: str
    a: str               # parent site
    b: str               # child site
    link_class: str
    latency_ms: float
    jitter_ms: float
    bandwidth_mbit: float
    budget_rtt_ms: float

    def sites(self) -> tuple[str, str]:
        return (self.a, self.b)


@dataclasses.dataclass(frozen=True)
class Endpoint:
    region: str
    service: str
    catalog_type: str
    url: str


class Topology:
    """Sites, links and proxies of one deployment model on the testbed."""

    def __init__(self, model: Model, deployment: str,
                 edges: int | None = None, testbed: bool = False,
                 tls: tuple[str, str] | None = None):
        """`testbed`: only what the embedded testbed deploys of the model
        (its `testbed_services`), rather than the whole architecture.
        `tls`: (certificate, key) files every API serves HTTPS with."""
        self.model = model
        self.tls = tls
        self.deployment: DeploymentModel = model.deployment_model(deployment)
        self.testbed = testbed
        if edges is not None and edges < 1:
            raise ModelError(f"--edges must be at least 1 (got {edges})")
        self.edges = edges
        self.sites: dict[str, Site] = {}
        self.links: dict[str, Link] = {}
        self._build_sites()
        self._build_links()

    # -- construction -----------------------------------------------------
    def _build_sites(self) -> None:
        number = 0
        expanded: dict[str, list[str]] = {}
        for tmpl in self.model.topology:
            count = tmpl.count
            if count is not None and self.edges is not None \
                    and tmpl.tier == "edge":
                count = self.edges
            names = ([tmpl.name] if count is None else
                     [tmpl.name.format(n=i) for i in range(1, count + 1)])
            parents = expanded.get(tmpl.parent, [None]) if tmpl.parent \
                else [None]
            expanded[tmpl.name] = names
            for i, name in enumerate(names):
                number += 1
                if number > MAX_SITES:
                    raise ModelError(
                        f"too many sites: at most {MAX_SITES} on one "
                        "machine, far-edge sites included (fewer --edges)")
                # A templated child of a templated parent attaches to the
                # parent with the same index, else to the single parent.
                parent = parents[i % len(parents)]
                self.sites[name] = Site(
                    name, tmpl.tier, number,
                    self.model.testbed.site_address.format(n=number),
                    parent, self.deployment.testbed_services_at(tmpl.tier)
                    if self.testbed else
                    self.deployment.services_at(tmpl.tier), self.tls)

    def _build_links(self) -> None:
        for site in self.sites.values():
            if site.parent is None:
                continue
            parent = self.sites[site.parent]
            lc = self.model.link_class_between(parent.tier, site.tier)
            name = f"{parent.name}-{site.name}"
            self.links[name] = Link(name, parent.name, site.name, lc.name,
                                    lc.latency_ms, lc.jitter_ms,
                                    lc.bandwidth_mbit, lc.budget_rtt_ms)

    # -- queries ------------------------------------------------------------
    @property
    def edge_count(self) -> int:
        return sum(1 for s in self.sites.values() if s.tier == "edge")

    @property
    def root(self) -> Site:
        return next(iter(self.sites.values()))

    def site(self, name: str) -> Site:
        try:
            return self.sites[name]
        except KeyError:
            raise ModelError(f"unknown site {name!r} (known: "
                             f"{', '.join(self.sites)})") from None

    def link(self, name: str) -> Link:
        try:
            return self.links[name]
        except KeyError:
            raise ModelError(f"unknown link {name!r} (known: "
                             f"{', '.join(self.links) or 'none'})") from None

    def link_between(self, a: str, b: str) -> Link | None:
        for link in self.links.values():
            if {link.a, link.b} == {a, b}:
                return link
        return None

    def provider(self, region: str, service: str) -> Site | None:
        """The site whose `service` serves `region`'s users."""
        site = self.sites[region]
        while site is not None:
            if service in site.services:
                return site
            if not self.deployment.parent_serves(site.tier) \
                    or site.parent is None:
                return None
            site = self.sites[site.parent]
        return None

    def service_port(self, service: str) -> int:
        return self.model.services[service].port

    def proxy_port(self, dst: Site, service: str) -> int:
        slot = self.model.services[service].slot
        return self.model.testbed.proxy_port_base + 100 * dst.number + slot

    def next_hop(self, src: str, dst: str) -> str | None:
        """The site after `src` on the way to `dst`: `dst` itself when a
        link joins them, `src`'s parent when `dst` is a further ancestor
        (a cloudlet reaching the DC through its edge), else None."""
        if self.link_between(src, dst) is not None:
            return dst
        site = self.sites[src]
        ancestor = site.parent
        while ancestor is not None:
            if ancestor == dst:
                return site.parent
            ancestor = self.sites[ancestor].parent
        return None

    def proxy_name(self, src: str, dst: str, service: str) -> str:
        link = self.link_between(src, self.next_hop(src, dst))
        return f"{link.name}.{src}-to-{dst}.{service}"

    def address_of(self, seen_from: str, provider: Site,
                   service: str) -> str | None:
        """host:port that `seen_from` uses to reach provider's service.

        Direct on the same site; through the source site's link proxy when
        the two sites share a link or the provider is an ancestor (the
        proxy chains through each site on the way); None otherwise.
        """
        if provider.name == seen_from:
            return f"{provider.address}:{self.service_port(service)}"
        if self.next_hop(seen_from, provider.name) is None:
            return None
        src = self.sites[seen_from]
        return f"{src.address}:{self.proxy_port(provider, service)}"

    def url_of(self, seen_from: str, provider: Site,
               service: str) -> str | None:
        """The URL `seen_from` uses for provider's service (its
        address_of plus the service's path), None where there is no way."""
        hostport = self.address_of(seen_from, provider, service)
        if hostport is None:
            return None
        return f"{self.scheme}://{hostport}" \
            f"{self.model.services[service].url_path}"

    @property
    def scheme(self) -> str:
        """The scheme of every API URL: https when the APIs serve TLS."""
        return "https" if self.tls else "http"

    def identity_site(self, site: str) -> Site:
        """The site whose Keystone serves `site`'s users."""
        provider = self.provider(site, "keystone")
        if provider is None:
            raise ModelError(f"site {site!r} has no identity service in "
                             f"model {self.deployment.name!r}")
        return provider

    def identity_writer(self, site: str) -> Site:
        """The site whose Keystone takes the identity writes (trusts,
        stack-domain users) of `site`'s services: its identity site, unless
        that Keystone reads a replica (replicated identity), then the
        root's."""
        ident = self.identity_site(site)
        if self.deployment.identity_source == "replicated":
            return self.root
        return ident

    def accepts_tokens(self, keystone_site: str, issuer_site: str) -> bool:
        """Whether the Keystone at `keystone_site` accepts tokens that the
        Keystone at `issuer_site` issues: its own, and with replicated
        identity every site's (each edge holds the DC's fernet keys).
        A K2K service provider accepts only its own tokens."""
        return keystone_site == issuer_site or \
            self.deployment.identity_source == "replicated"

    def catalog_sites(self) -> list[Site]:
        """Sites that run a Keystone and so hold a catalog of their own."""
        return [s for s in self.sites.values() if "keystone" in s.services]

    def catalog_for(self, keystone_site: str) -> list[Endpoint]:
        """The catalog that the Keystone at `keystone_site` serves.

        For a region whose users this Keystone serves, the endpoints are
        those the region's own clients use (seen from that region); for any
        other region, those the Keystone's own site uses (seen from it).
        Regions its site has no link to are left out, and so are the
        identity endpoints of Keystones that do not accept this Keystone's
        tokens (federated identity): a client that follows the catalog to
        Keystone with no region, as Aodh does to write an alarm's trust
        (aodh/keystone_client.py create_trust_id), must not land on a
        Keystone that refuses the token it follows the catalog with.
        """
        served = {name for name in self.sites
                  if self.identity_site(name).name == keystone_site}
        endpoints = []
        for region in self.sites:
            seen_from = region if region in served else keystone_site
            for svc in self.model.services.values():
                if not svc.catalog_type:
                    continue
                provider = self.provider(region, svc.name)
                if provider is None:
                    continue
                if svc.name == "keystone" and not self.accepts_tokens(
                        provider.name, keystone_site):
                    continue
                url = self.url_of(seen_from, provider, svc.name)
                if url is None:
                    continue
                endpoints.append(Endpoint(region, svc.name,
                                          svc.catalog_type, url))
        return endpoints

    def auth_url(self, site: str) -> str:
        """The identity endpoint a client at `site` authenticates against."""
        return self.url_of(site, self.identity_site(site), "keystone")

    @cached_property
    def proxies(self) -> list[Proxy]:
        """Every cross-site path that something in the model uses."""
        needed: set[tuple[str, str, str]] = set()
        for ks in self.catalog_sites():
            served = {n for n in self.sites
                      if self.identity_site(n).name == ks.name}
            for region in self.sites:
                seen_from = region if region in served else ks.name
                for svc in self.model.services.values():
                    if not svc.catalog_type:
                        continue
                    provider = self.provider(region, svc.name)
                    if provider is None or provider.name == seen_from:
                        continue
                    if self.next_hop(seen_from, provider.name):
                        needed.add((seen_from, provider.name, svc.name))
        for flow in self.deployment.flows:
            for site in self.sites.values():
                if site.parent is None:
                    continue
                parent = self.sites[site.parent]
                # (A flow to a service the testbed does not deploy there
                # needs no proxy.)
                if (site.tier, parent.tier) == (flow.from_tier,
                                                flow.to_tier) \
                        and flow.service in parent.services:
                    needed.add((site.name, parent.name, flow.service))
                if (parent.tier, site.tier) == (flow.from_tier,
                                                flow.to_tier) \
                        and flow.service in site.services:
                    needed.add((parent.name, site.name, flow.service))
        # A path through intermediate sites needs a proxy at every hop.
        for src, dst, service in list(needed):
            hop = self.next_hop(src, dst)
            while hop != dst:
                needed.add((hop, dst, service))
                hop = self.next_hop(hop, dst)
        proxies = []
        for src, dst, service in sorted(
                needed, key=lambda t: (self.sites[t[0]].number,
                                       self.sites[t[1]].number,
                                       self.model.services[t[2]].slot)):
            dsite = self.sites[dst]
            hop = self.next_hop(src, dst)
            proxies.append(Proxy(
                self.proxy_name(src, dst, service),
                self.link_between(src, hop).name, src, dst, service,
                f"{self.sites[src].address}:{self.proxy_port(dsite, service)}",
                self.address_of(hop, dsite, service)))
        return proxies

    def proxies_of(self, link: str) -> list[Proxy]:
        self.link(link)
        return [p for p in self.proxies if p.link == link]

    def listeners(self) -> list[tuple[str, int, str]]:
        """(address, port, owner) of everything the testbed binds."""
        out = []
        for site in self.sites.values():
            for svc in site.services:
                if self.service_port(svc) is None:
                    continue    # a worker: no listener
                out.append((site.address, self.service_port(svc),
                            f"{site.name}.{svc}"))
        for p in self.proxies:
            host, port = p.listen.rsplit(":", 1)
            out.append((host, int(port), f"proxy {p.name}"))
        tb = self.model.testbed
        out.append((tb.toxiproxy_address, tb.toxiproxy_port,
                    "toxiproxy API"))
        if any("rabbitmq" in s.services for s in self.sites.values()):
            out.append((tb.toxiproxy_address, tb.epmd_port, "epmd"))
        for site in self.sites.values():
            if "rabbitmq" in site.services:
                out.append((site.address,
                            self.rabbitmq_dist_port(site),
                            f"{site.name}.rabbitmq (Erlang distribution)"))
            if self.deployment.federation and site is not self.root \
                    and "keystone" in site.services:
                out.append((site.address, tb.shibd_port,
                            f"{site.name}.shibd"))
        return out

    def rabbitmq_dist_port(self, site: Site) -> int:
        """The Erlang distribution port of `site`'s RabbitMQ node."""
        return self.model.testbed.rabbitmq_dist_port_base + site.number
