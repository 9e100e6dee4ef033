"""US2 and US5: images pulled to an edge site on demand, intact."""

import hashlib

from tempest.lib import decorators

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.tests import base


class ImagesOnDemandTest(base.EdgeRefarchTest):

    site_local = True   # the DC and edge_site only

    @decorators.idempotent_id("b7b0d4f4-40a7-4c67-9b1b-2c1c0c9f3a03")
    @requirement("EDGE-US2-ON-DEMAND")
    def test_image_not_at_edge_until_requested(self):
        """Fails when an image uploaded at the DC shows up at an edge site
        by itself: images are synced everywhere, not pulled on demand."""
        dc, edge = self.site(self.root), self.site(self.edge)
        src = self.create_image(dc, self.image_data())
        names = [i["name"] for i in edge.images.list_images(
            params={"limit": 1000})["images"]]
        self.assertNotIn(src["name"], names)
        got = self.fetch_to(edge, src)
        names = [i["name"] for i in edge.images.list_images(
            params={"limit": 1000})["images"]]
        self.assertIn(src["name"], names)
        self.evidence(image=src["id"], at_edge_after_request=got["id"])

    @decorators.idempotent_id("c2d4e6f8-0a1b-4c3d-8e5f-6a7b8c9d3a04")
    @requirement("EDGE-US2-FETCH")
    def test_fetch_preserves_data_and_metadata(self):
        """Fails when the image that reaches the edge differs from the one
        uploaded at the DC in data or metadata."""
        dc, edge = self.site(self.root), self.site(self.edge)
        data = self.image_data()
        src = self.create_image(dc, data, os_distro="cirros",
                                hw_disk_bus="virtio",
                                custom_story="US2")
        got = self.fetch_to(edge, src)
        for key in ("checksum", "os_hash_algo", "os_hash_value", "size",
                    "disk_format", "container_format", "os_distro",
                    "hw_disk_bus", "custom_story"):
            self.assertEqual(src.get(key), got.get(key), key)
        self.assertEqual(hashlib.sha512(data).hexdigest(),
                         got["os_hash_value"])
        self.assertEqual(data, self.download(edge, got["id"]))
        self.evidence(image=src["id"], size=src["size"],
                      os_hash_value=got["os_hash_value"][:16] + "...")
