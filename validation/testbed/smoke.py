"""A quick end-to-end check of a running testbed.

A token at every site; an image uploaded at the root site; where the model
gives edges glance-download, the image fetched to every such site with its
checksum and hash intact. Everything it creates is deleted, also on failure.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator

import openstack
import openstack.config
import openstack.exceptions

from edge_refarch.validation.errors import UserError

SMOKE_IMAGE_BYTES = 4 * 1024 * 1024


def connect(clouds_yaml: str, cloud: str):
    cfg = openstack.config.OpenStackConfig(config_files=[clouds_yaml])
    try:
        region = cfg.get_one(cloud=cloud)
    except openstack.exceptions.ConfigException as exc:
        raise UserError(f"{clouds_yaml}: {exc}", exit_code=2) from None
    return openstack.connection.Connection(config=region)


def smoke(testbed, say: Callable[[str], None]) -> Iterator[str]:
    rec = testbed.recorded()
    if rec is None or not testbed.healthy(quick=True):
        raise UserError("the testbed is not up; run 'edge-refarch testbed "
                        "up' first")
    topo = testbed.topology()
    clouds = rec["clouds_yaml"]
    conns = {name: connect(clouds, name) for name in topo.sites}
    for name, conn in conns.items():
        t = time.monotonic()
        try:
            conn.authorize()
        except openstack.exceptions.SDKException as exc:
            raise UserError(f"smoke: no token at {name}: {exc}") from None
        yield f"ok   token at {name} ({time.monotonic() - t:.2f} s)"

    root = topo.root.name
    data = os.urandom(SMOKE_IMAGE_BYTES)
    sha512 = hashlib.sha512(data).hexdigest()
    created: list[tuple[str, str]] = []
    try:
        t = time.monotonic()
        src = conns[root].image.create_image(
            name="edge-refarch-smoke", data=data, disk_format="raw",
            container_format="bare", use_import=False, wait=True,
            os_distro="cirros")
        created.append((root, src.id))
        src = conns[root].image.get_image(src.id)
        if src.hash_value != sha512:
            raise UserError("smoke: the uploaded image's os_hash_value is "
                            "wrong")
        yield f"ok   image uploaded at {root} ({time.monotonic() - t:.2f} s)"
        features = topo.deployment.features
        for site in topo.sites.values():
            if site.name == root or "glance" not in site.services:
                continue
            methods = features.get(site.tier, {}).get(
                "glance_import_methods", [])
            if "glance-download" not in methods:
                continue
            t = time.monotonic()
            edge = conns[site.name]
            tgt = edge.image.create_image(
                id=src.id, name=src.name, disk_format="raw",
                container_format="bare")
            created.append((site.name, tgt.id))
            edge.image.import_image(
                tgt, method="glance-download", remote_region=root,
                remote_image_id=src.id, remote_service_interface="public")
            tgt = edge.image.wait_for_status(
                tgt, status="active", failures=["killed"], interval=0.2,
                wait=60)
            tgt = edge.image.get_image(tgt.id)
            if (tgt.checksum, tgt.hash_value) != (src.checksum,
                                                  src.hash_value):
                raise UserError(f"smoke: glance-download to {site.name} "
                                "changed the image's checksum")
            yield (f"ok   image fetched to {site.name} with glance-download "
                   f"({time.monotonic() - t:.2f} s)")
    except openstack.exceptions.SDKException as exc:
        raise UserError(f"smoke: {exc}") from None
    finally:
        for site, image_id in reversed(created):
            try:
                conns[site].image.delete_image(image_id, ignore_missing=True)
            except openstack.exceptions.SDKException:
                say(f"smoke: could not delete image {image_id} at {site}")
