"""Instances at an edge site while its WAN link is cut, per the model."""

import time

from tempest import config
from tempest.lib import decorators

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.tests import base

CONF = config.CONF


class ComputePartitionTest(base.EdgeRefarchTest):

    partition_mode = "refused"

    @decorators.idempotent_id("fe1ff7ef-285a-4b03-804e-d16bc70f2bad")
    @requirement("EDGE-US5-BOOT-CUT")
    def test_boot_at_cut_off_edge_from_what_it_has(self):
        """Fails when a cut-off edge does not do what the model declares
        for booting from an image it already has: boot (distributed), or
        fail fast and boot again after the heal (centralized)."""
        edge = self.site(self.edge)
        src, local = self.image_at(self.edge, stock=True,
                                   os_distro="cirros")
        flavor = self.create_flavor(edge)
        self.boot(edge, local["id"], self.edge, flavor)   # before the cut
        expectation = self.expect("server_create_at_edge")
        self.cut(self.edge)
        if expectation == "works":
            edge = self.site(self.edge)
            self.assertEqual("cirros",
                             edge.images.show_image(local["id"])["os_distro"])
            start = time.monotonic()
            server = self.boot(edge, local["id"], self.edge, flavor)
            self.assertEqual(self.zone_of(self.edge),
                             server["OS-EXT-AZ:availability_zone"])
            self.evidence(during_cut="booted from the edge's own image "
                          f"in {time.monotonic() - start:.2f} s")
        else:
            took = self.assert_fails_fast(
                "server create at the cut-off edge",
                lambda: self.site(self.edge).servers.create_server(
                    name=base.data_name(self), imageRef=local["id"],
                    flavorRef=flavor, networks="none",
                    availability_zone=self.zone_of(self.edge)))
            self.evidence(during_cut=f"failed in {took:.2f} s")
        self.injector().heal(self.link_of(self.edge))
        start = time.monotonic()
        self.wait_until("server boot at the edge after the heal",
                        lambda: bool(self.boot(self.site(self.edge),
                                               local["id"], self.edge,
                                               flavor)), self.converge)
        self.evidence(booted_after_heal_s=round(time.monotonic() - start,
                                                2))

    @decorators.idempotent_id("34d05357-0339-45f7-8eee-ff8570af54ae")
    @requirement("EDGE-US3-CREATE-CUT")
    def test_create_and_delete_at_cut_off_edge(self):
        """Fails when a cut-off edge cannot create and delete instances, or
        when after the heal an instance created during the cut is missing
        or one deleted during the cut is back."""
        edge = self.site(self.edge)
        _, local = self.image_at(self.edge)
        flavor = self.create_flavor(edge)
        kept_before = self.boot(edge, local["id"], self.edge, flavor)
        doomed = self.boot(edge, local["id"], self.edge, flavor)
        self.cut(self.edge)
        edge = self.site(self.edge)
        start = time.monotonic()
        created = self.boot(edge, local["id"], self.edge, flavor)
        create_s = time.monotonic() - start
        start = time.monotonic()
        edge.servers.delete_server(doomed["id"])
        self.wait_server_gone(edge, doomed["id"])
        delete_s = time.monotonic() - start
        self.injector().heal(self.link_of(self.edge))
        edge = self.site(self.edge)
        listed = {s["id"]: s["status"] for s in edge.list_servers_raw()}
        self.assertEqual("ACTIVE", listed.get(created["id"]))
        self.assertEqual("ACTIVE", listed.get(kept_before["id"]))
        self.assertNotIn(doomed["id"], listed)
        self.evidence(created_during_cut_s=round(create_s, 2),
                      deleted_during_cut_s=round(delete_s, 2))

    # The listings operators and tools send (GET /servers/detail): as is,
    # as `openstack server list` sends it (deleted=False), paged, and
    # filtered by the server's own name.
    LISTINGS = ("", "?deleted=False", "?limit=50", "?name={name}")

    def _listing(self, query: str) -> tuple[str, float, dict]:
        """(outcome, seconds, servers by ID) of one listing at the DC's
        endpoint; outcome 'ok', or 'error: ...' when it failed."""
        start = time.monotonic()
        try:
            _, body = self.site(self.root).servers.get(
                f"servers/detail{query}")
        except Exception as exc:  # noqa: BLE001 - an explicit failure
            return (f"error: {str(exc).splitlines()[0][:120]}",
                    time.monotonic() - start, {})
        servers = base.json.loads(body)["servers"]
        return "ok", time.monotonic() - start, {s["id"]: s for s in servers}

    @decorators.idempotent_id("19787a00-53fd-411b-812b-69679dd185e4")
    @requirement("EDGE-US4-DOWN-CELL")
    def test_cut_off_site_instances_listed_as_unknown(self):
        """Fails when, with an edge cut off, a listing at the one endpoint
        -- as is, as the openstack CLI sends it, paged or filtered by name
        -- silently omits that site's instances instead of listing them
        with status UNKNOWN (or failing explicitly), takes longer than the
        fail-fast bound, or when they are not whole again after the
        heal."""
        self.assertEqual("unknown",
                         self.expect("server_list_shows_cut_site"))
        dc = self.site(self.root)
        flavor = self.create_flavor(dc)
        image = self.create_image(dc, self.image_data())
        at_edge = self.boot(dc, image["id"], self.edge, flavor)
        name = dc.servers.show_server(at_edge["id"])["server"]["name"]
        others = [self.boot(dc, image["id"], s, flavor)
                  for s in self.compute_sites()
                  if s != self.edge and s in (self.other_edge,)]
        self.cut(self.edge)
        listings, omitted, slow = {}, [], []
        for query in self.LISTINGS:
            query = query.format(name=name)
            outcome, took, listed = self._listing(query)
            shown = listed.get(at_edge["id"])
            if outcome == "ok":
                outcome = f"listed {shown['status']}" if shown \
                    else "silently omitted"
            listings[f"/servers/detail{query}"] = \
                f"{outcome} in {took:.2f} s"
            if outcome == "silently omitted":
                omitted.append(query or "(no query)")
            if took > self.fail_fast:
                slow.append(query or "(no query)")
            if query == "":
                self.assertIn(at_edge["id"], listed,
                              "the cut-off site's server is missing from "
                              "the list")
                self.assertEqual("UNKNOWN", shown["status"])
                for other in others:
                    self.assertEqual("ACTIVE", listed[other["id"]]["status"])
        shown = self.site(self.root).servers.get(
            f"servers/{at_edge['id']}")
        self.assertEqual("UNKNOWN",
                         base.json.loads(shown[1])["server"]["status"])
        self.evidence(during_cut=listings)
        if omitted:
            self.fail(f"with {self.edge} cut off, the listing(s) "
                      f"{', '.join(omitted)} at {self.root}'s compute "
                      f"endpoint silently omit {self.edge}'s servers (Nova "
                      "lists a down cell's servers as UNKNOWN only when "
                      "the list is neither filtered nor paged)")
        if slow:
            self.fail(f"with {self.edge} cut off, the listing(s) "
                      f"{', '.join(slow)} took longer than "
                      f"{self.fail_fast:g} s")
        self.injector().heal(self.link_of(self.edge))

        def whole():
            entry = {s["id"]: s for s in self.site(self.root)
                     .list_servers_raw()}.get(at_edge["id"], {})
            return entry.get("status") == "ACTIVE" and "name" in entry
        took = self.wait_until("the edge's server listed whole after the "
                               "heal", whole, self.converge)
        self.evidence(whole_after_heal_s=round(took, 2))


class ComputePartitionBlackholeTest(ComputePartitionTest):
    """The same, with the link cut as a black hole (connections accepted,
    nothing flows), as most real WAN outages are."""

    partition_mode = "blackhole"
