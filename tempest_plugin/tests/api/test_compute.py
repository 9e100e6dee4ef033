"""Instances at the edge: boot what the DC uploaded; one endpoint for all."""

import time

from tempest import config
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.tests import base

CONF = config.CONF


class ComputeTest(base.EdgeRefarchTest):

    @decorators.idempotent_id("5be06300-f505-459b-a6cf-acd53d4fbc20")
    @requirement("EDGE-US5-BOOT")
    def test_boot_at_edge_an_image_uploaded_at_the_dc(self):
        """Fails when an image uploaded at the DC does not reach the edge
        with its metadata, or a server booted from it at the edge does not
        become ACTIVE on that site's compute host."""
        edge = self.site(self.edge)
        src, local = self.image_at(self.edge, stock=True,
                                   os_distro="cirros",
                                   edge_refarch_story="US5")
        self.assert_same_image(src, local, self.edge)
        flavor = self.create_flavor(edge)
        start = time.monotonic()
        server = self.boot(edge, local["id"], self.edge, flavor)
        took = time.monotonic() - start
        self.assertEqual(self.zone_of(self.edge),
                         server["OS-EXT-AZ:availability_zone"])
        self.assertEqual(local["id"], server["image"]["id"])
        self.evidence(image_at_edge=local["id"], same_as_dc=src["id"] ==
                      local["id"], server_host=server["OS-EXT-SRV-ATTR:host"],
                      active_after_s=round(took, 2))

    @decorators.idempotent_id("0d8e6c1a-5b7f-4e39-9a2c-3f1d7e5b8a64")
    @requirement("EDGE-US5-CLIENT-COPY")
    def test_boot_at_edge_a_client_copy_of_a_dc_image(self):
        """Fails when a client's copy of a DC image (downloaded with its
        DC session, created and uploaded with its edge session) differs
        at the edge in data or metadata, or a server booted from it there
        does not become ACTIVE on that site's compute host."""
        edge = self.site(self.edge)
        src = self.create_image(self.site(self.root), self.image_data(),
                                os_distro="cirros", edge_refarch_story="US5")
        start = time.monotonic()
        local = self.copy_image(src, edge)
        copied = time.monotonic() - start
        self.assert_same_image(src, local, self.edge, keys=("checksum",))
        flavor = self.create_flavor(edge)
        start = time.monotonic()
        server = self.boot(edge, local["id"], self.edge, flavor)
        self.assertEqual(self.zone_of(self.edge),
                         server["OS-EXT-AZ:availability_zone"])
        self.evidence(image_at_dc=src["id"], image_at_edge=local["id"],
                      bytes=local["size"], copy_s=round(copied, 2),
                      server_host=server["OS-EXT-SRV-ATTR:host"],
                      active_after_s=round(time.monotonic() - start, 2))

    @decorators.idempotent_id("c7612392-724e-4143-bb4d-c1a525a3dfe5")
    @requirement("EDGE-US4-ONE-ENDPOINT")
    def test_one_endpoint_manages_instances_of_every_site(self):
        """Fails when the DC's compute endpoint cannot place, list or delete
        an instance at any site with compute hosts."""
        dc = self.site(self.root)
        sites = self.compute_sites()
        flavor = self.create_flavor(dc)
        image = self.create_image(dc, self.image_data())
        zones = dc.servers.get("os-availability-zone")
        known = {z["zoneName"] for z in base.json.loads(zones[1])[
            "availabilityZoneInfo"]}
        unknown = [self.zone_of(s) for s in sites
                   if self.zone_of(s) not in known]
        if unknown:
            self.fail(f"the compute endpoint of {self.root} does not know "
                      f"the availability zone(s) of {', '.join(unknown)}: "
                      "those sites' compute hosts are managed by another "
                      f"compute API (zones it knows: "
                      f"{', '.join(sorted(known)) or 'none'})")
        made = {}
        for site in sites:
            try:
                made[site] = self.boot(dc, image["id"], site, flavor,
                                       wait=False)["id"]
            except lib_exc.BadRequest as exc:
                self.fail(f"the {self.root} endpoint cannot place a server "
                          f"at {site}: {exc}")
        for site, server_id in made.items():
            server = self.wait_server(dc, server_id, "ACTIVE")
            self.assertEqual(self.zone_of(site),
                             server["OS-EXT-AZ:availability_zone"])
        listed = {s["id"]: s for s in dc.list_servers_raw()}
        for site, server_id in made.items():
            self.assertIn(server_id, listed, f"server at {site} not listed")
            self.assertEqual("ACTIVE", listed[server_id]["status"])
        for server_id in made.values():
            dc.servers.delete_server(server_id)
        for server_id in made.values():
            self.wait_server_gone(dc, server_id)
        self.evidence(endpoint_site=self.root, sites=sorted(made))
