"""The model instantiated: sites, links, proxies, per-site catalogs."""

from __future__ import annotations

import pytest

from edge_refarch.architecture import ModelError, load_model
from edge_refarch.architecture.topology import Topology


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_sites_get_their_own_loopback_address(model):
    topo = Topology(model, "distributed", edges=5)
    addrs = [s.address for s in topo.sites.values()]
    assert len(set(addrs)) == len(addrs) == 7
    assert all(a.startswith("127.") and a.endswith(".1") for a in addrs)
    assert list(topo.sites) == ["dc"] + [f"edge{i}" for i in range(1, 6)] \
        + ["far-edge1"]
    assert topo.site("far-edge1").parent == "edge1"
    assert topo.root.name == "dc"


def test_edges_default_from_model_and_must_be_positive(model):
    assert len(Topology(model, "distributed").sites) == 4
    with pytest.raises(ModelError, match="at least 1"):
        Topology(model, "distributed", edges=0)


def test_one_link_per_edge_with_tier_defaults(model):
    topo = Topology(model, "distributed", edges=2)
    assert set(topo.links) == {"dc-edge1", "dc-edge2", "edge1-far-edge1"}
    lc = model.links["dc-edge"]
    link = topo.links["dc-edge1"]
    assert (link.latency_ms, link.bandwidth_mbit) == (lc.latency_ms,
                                                      lc.bandwidth_mbit)


@pytest.mark.parametrize("deployment", ["centralized", "distributed"])
def test_every_cross_site_path_has_a_proxy_on_the_source_site(model,
                                                              deployment):
    topo = Topology(model, deployment, edges=3)
    for p in topo.proxies:
        assert p.listen.startswith(topo.site(p.src).address + ":")
        hop = topo.next_hop(p.src, p.dst)
        assert p.upstream.startswith(topo.site(hop).address + ":")
        assert p.link == topo.link_between(p.src, hop).name
        assert p.link in topo.links
        assert p.name.startswith(f"{p.link}.{p.src}-to-{p.dst}.")
    listens = [p.listen for p in topo.proxies]
    assert len(set(listens)) == len(listens)
    names = [p.name for p in topo.proxies]
    assert len(set(names)) == len(names)


def test_listeners_do_not_collide(model):
    topo = Topology(model, "distributed", edges=10)
    bound = [(h, p) for h, p, _ in topo.listeners()]
    assert len(bound) == len(set(bound))


def test_distributed_edge_catalog_goes_through_its_own_link(model):
    topo = Topology(model, "distributed", edges=2)
    edge1 = topo.site("edge1")
    cat = {(e.region, e.service): e.url for e in topo.catalog_for("edge1")}
    assert cat[("edge1", "glance")] == f"http://{edge1.address}:9292"
    dc_glance = cat[("dc", "glance")]
    proxy = next(p for p in topo.proxies_of("dc-edge1")
                 if p.src == "edge1" and p.service == "glance")
    assert dc_glance == f"http://{proxy.listen}"
    # edge1 has no link to edge2, so edge2 is not in its catalog.
    assert not any(region == "edge2" for region, _ in cat)
    # The DC's catalog lists every site's region.
    assert {e.region for e in topo.catalog_for("dc")} == set(topo.sites)


def _identity_regions(topo, keystone_site):
    return {e.region for e in topo.catalog_for(keystone_site)
            if e.service == "keystone"}


def test_a_catalog_lists_only_keystones_that_accept_its_tokens(model):
    # Replicated: every Keystone holds the DC's keys, so each catalog lists
    # every region's identity endpoint.
    dist = Topology(model, "distributed", edges=2)
    assert _identity_regions(dist, "dc") == set(dist.sites)
    # K2K: a service provider accepts only its own tokens, so neither the
    # DC's catalog nor an edge's names the other's Keystone.
    fed = Topology(model, "federated", edges=2)
    assert _identity_regions(fed, "dc") == {"dc"}
    edge1 = _identity_regions(fed, "edge1")
    assert "dc" not in edge1 and "edge1" in edge1
    assert all(fed.identity_site(r).name == "edge1" for r in edge1)
    # Other services of every region stay listed.
    assert {e.region for e in fed.catalog_for("dc")} == set(fed.sites)


def test_centralized_edges_use_the_dc_over_their_link(model):
    topo = Topology(model, "centralized", edges=2)
    assert [s.name for s in topo.catalog_sites()] == ["dc"]
    for name in ("edge1", "edge2"):
        assert topo.identity_site(name).name == "dc"
        auth = topo.auth_url(name)
        assert auth.startswith(f"http://{topo.site(name).address}:")
    cat = {(e.region, e.service): e.url for e in topo.catalog_for("dc")}
    assert cat[("edge1", "glance")].startswith(
        f"http://{topo.site('edge1').address}:")
    assert cat[("dc", "glance")] == f"http://{topo.root.address}:9292"


def test_replication_flow_has_a_proxy_only_where_the_model_says(model):
    dist = Topology(model, "distributed", edges=2)
    assert {p.src for p in dist.proxies if p.service == "mariadb"} == \
        {"edge1", "edge2"}
    # Centralized: no identity replica, but the DC's Nova API reaches each
    # edge cell's database and queue.
    cent = Topology(model, "centralized", edges=2)
    assert {(p.src, p.dst) for p in cent.proxies
            if p.service in ("mariadb", "rabbitmq") and p.src == "dc"} == \
        {("dc", "edge1"), ("dc", "edge2")}
    assert not [p for p in cent.proxies
                if p.service == "mariadb" and p.src != "dc"]


def test_cloudlet_reaches_the_dc_through_its_edge(model):
    topo = Topology(model, "centralized", edges=2)
    assert topo.identity_site("far-edge1").name == "dc"
    auth = topo.auth_url("far-edge1")
    first = next(p for p in topo.proxies
                 if p.src == "far-edge1" and p.dst == "dc"
                 and p.service == "keystone")
    second = next(p for p in topo.proxies
                  if p.src == "edge1" and p.dst == "dc"
                  and p.service == "keystone")
    assert auth == f"http://{first.listen}/v3"
    assert first.link == "edge1-far-edge1" and first.upstream == \
        second.listen
    assert second.link == "dc-edge1"
    # The cloudlet's compute host uses its parent edge cell's queue.
    assert any(p.src == "far-edge1" and p.dst == "edge1"
               and p.service == "rabbitmq" for p in topo.proxies)


def test_distributed_cloudlet_is_served_by_its_edge(model):
    topo = Topology(model, "distributed", edges=2)
    assert topo.identity_site("far-edge1").name == "edge1"
    assert topo.provider("far-edge1", "nova").name == "edge1"
    assert not [p for p in topo.proxies
                if p.src == "far-edge1" and p.dst == "dc"]


def test_workers_bind_nothing(model):
    topo = Topology(model, "centralized", edges=2)
    owners = {owner for _, _, owner in topo.listeners()}
    assert "edge1.rabbitmq" in owners
    assert not any(o.endswith(("nova-compute", "nova-cell"))
                   for o in owners)


def test_unknown_link_and_site(model):
    topo = Topology(model, "distributed")
    with pytest.raises(ModelError, match="unknown link 'dc-edge9'"):
        topo.proxies_of("dc-edge9")
    with pytest.raises(ModelError, match="unknown site 'moon'"):
        topo.site("moon")
