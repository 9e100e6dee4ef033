"""A quick end-to-end check of a running testbed.

A token at every site; with federated identity, a Keystone-to-Keystone
login at every service provider; where the root site has an image service,
an image uploaded there and, where the model gives edges glance-download,
fetched to every such site with its checksum and hash intact (with
federated identity, uploaded at every edge instead: glance-download needs
a token both sites accept, which the suite reports on). Everything it
creates is deleted, also on failure.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import openstack
import openstack.config
import openstack.exceptions

from edge_refarch.validation.errors import UserError, first_line
from edge_refarch.validation.images import raw_image
from edge_refarch.validation.testbed import probes

SMOKE_IMAGE_BYTES = 4 * 1024 * 1024
# Tries to delete each image the smoke created.
DELETE_ATTEMPTS = 3


def connect(clouds_yaml: str, cloud: str):
    """An openstacksdk connection to `cloud` of `clouds_yaml`, the only
    clouds file read: the OS_* environment (OS_CLIENT_CONFIG_FILE, which
    openstacksdk would otherwise read first, OS_CLOUD, ...) is ignored.
    Raises UserError (exit 2) for a missing file or cloud."""
    if not Path(clouds_yaml).is_file():
        raise UserError(f"{clouds_yaml}: no such clouds file", exit_code=2)
    cfg = openstack.config.OpenStackConfig(config_files=[clouds_yaml],
                                           load_envvars=False)
    try:
        region = cfg.get_one(cloud=cloud)
    except openstack.exceptions.ConfigException as exc:
        raise UserError(f"{clouds_yaml}: {exc}", exit_code=2) from None
    return openstack.connection.Connection(config=region)


def smoke(testbed, say: Callable[[str], None]) -> Iterator[str]:
    """The check (see the module), one "ok ..." line per step as it
    passes. Raises UserError (one line) at the first step that fails;
    `say` reports an image it could not delete."""
    rec = testbed.recorded()
    if rec is None or not testbed.healthy(quick=True):
        raise UserError("the testbed is not up; run 'edge-refarch testbed "
                        "up' first")
    topo = testbed.topology()
    conns = {name: connect(rec["clouds_yaml"], name) for name in topo.sites}
    for name, conn in conns.items():
        t = time.monotonic()
        try:
            conn.authorize()
        except openstack.exceptions.SDKException as exc:
            raise UserError(f"smoke: no token at {name}: {exc}") from None
        yield f"ok   token at {name} ({time.monotonic() - t:.2f} s)"
    yield from _k2k(testbed, topo, conns)
    if "glance" in topo.root.services:
        yield from _images(topo, conns, say)


def _images(topo, conns: dict, say: Callable[[str], None]
            ) -> Iterator[str]:
    """An image uploaded at the root and, at every other site with an
    image service, fetched with glance-download (where the site's tier has
    it) or, with federated identity, uploaded there. Everything created
    is deleted, also on failure."""
    root = topo.root.name
    data = raw_image(SMOKE_IMAGE_BYTES)
    created: list[tuple[str, str]] = []
    try:
        t = time.monotonic()
        src = _upload(conns[root], data, created, root, os_distro="cirros")
        if src.hash_value != hashlib.sha512(data).hexdigest():
            raise UserError("smoke: the uploaded image's os_hash_value is "
                            "wrong")
        yield f"ok   image uploaded at {root} ({time.monotonic() - t:.2f} s)"
        for site in topo.sites.values():
            if site.name == root or "glance" not in site.services:
                continue
            t = time.monotonic()
            if topo.deployment.identity_source == "federated":
                # glance-download presents the caller's token at the
                # source Glance, which knows only the DC's tokens: the
                # suite reports that; the smoke checks the edge's Glance.
                _upload(conns[site.name], data, created, site.name)
                yield (f"ok   image uploaded at {site.name} "
                       f"({time.monotonic() - t:.2f} s)")
                continue
            methods = topo.deployment.features.get(site.tier, {}).get(
                "glance_import_methods", [])
            if "glance-download" not in methods:
                continue
            _download(conns[site.name], src, root, site.name, created)
            yield (f"ok   image fetched to {site.name} with glance-download "
                   f"({time.monotonic() - t:.2f} s)")
    except openstack.exceptions.SDKException as exc:
        raise UserError(f"smoke: {exc}") from None
    finally:
        for site, image_id in reversed(created):
            _delete(conns[site], image_id, site, say)


def _delete(conn, image_id: str, site: str, say: Callable[[str], None],
            attempts: int = DELETE_ATTEMPTS) -> None:
    """Delete the image, trying again (1 s apart) when Glance fails: an
    image whose glance-download import just ended has been seen to answer
    DELETE with HTTP 500 once (glance-api: SQLAlchemy PendingRollbackError
    while the import task's thread finishes). Says so when it stays."""
    for attempt in range(attempts):
        try:
            conn.image.delete_image(image_id, ignore_missing=True)
            return
        except openstack.exceptions.SDKException as exc:
            if attempt == attempts - 1:
                say(f"smoke: could not delete image {image_id} at {site}: "
                    f"{exc}")
                return
            time.sleep(1)


def _upload(conn, data: bytes, created: list, site: str, **props):
    """The image `data` uploaded (raw, bare) through `conn` and active,
    recorded in `created` for the clean-up."""
    img = conn.image.create_image(
        name="edge-refarch-smoke", data=data, disk_format="raw",
        container_format="bare", use_import=False, wait=True, **props)
    created.append((site, img.id))
    return conn.image.get_image(img.id)


def _download(conn, src, root: str, site: str, created: list) -> None:
    """`src` (the root's image) imported at `site` with glance-download,
    under its own ID, checksum and hash intact. Raises UserError."""
    tgt = conn.image.create_image(id=src.id, name=src.name,
                                  disk_format="raw", container_format="bare")
    created.append((site, tgt.id))
    conn.image.import_image(
        tgt, method="glance-download", remote_region=root,
        remote_image_id=src.id, remote_service_interface="public")
    tgt = _imported(conn, tgt.id, site)
    if (tgt.checksum, tgt.hash_value) != (src.checksum, src.hash_value):
        raise UserError(f"smoke: glance-download to {site} changed the "
                        "image's checksum")


def _imported(conn, image_id: str, site: str, timeout_s: float = 60.0):
    """The image once its glance-download import made it active. Raises
    UserError as soon as Glance records the import as failed (the image
    goes back to 'queued' with os_glance_failed_import), or after
    `timeout_s` seconds."""
    def active() -> bool | probes.NotYet:
        img = conn.image.get_image(image_id)
        if img.status == "active":
            return True
        failed = (img.properties or {}).get("os_glance_failed_import", "")
        if img.status == "killed" or "glance-download" in failed:
            raise UserError(f"smoke: glance-download to {site} failed "
                            f"(image {img.status}); see {site}'s "
                            "glance-api.log")
        return probes.NotYet(f"image {img.status}")
    probes.wait_for(f"smoke: glance-download to {site}", active,
                    time.monotonic() + timeout_s)
    return conn.image.get_image(image_id)


def _k2k(testbed, topo, conns) -> Iterator[str]:
    """The admin logs in at every service provider with the DC's assertion
    (keystoneauth's Keystone2Keystone); what the login provisioned there is
    removed again."""
    fed = topo.deployment.federation
    if fed is None:
        return
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1 import session
    from keystoneauth1.identity import v3
    password = testbed.passwords()["admin"]
    for site in topo.catalog_sites():
        if site is topo.root:
            continue
        t = time.monotonic()
        idp = v3.Password(
            auth_url=topo.url_of(site.name, topo.root, "keystone"),
            username="admin", password=password, user_domain_name="Default",
            project_name="admin", project_domain_name="Default")
        sess = session.Session(auth=v3.Keystone2Keystone(
            idp, site.name, project_name="admin",
            project_domain_name=fed.domain), timeout=30)
        identity = conns[site.name].identity
        # Only what this login provisions goes (not an earlier login's).
        held = {u.id for u in identity.users(name="admin")} | \
            {p.id for p in identity.projects(name="admin")}
        try:
            user, project = sess.get_user_id(), sess.get_project_id()
        except ks_exc.ClientException as exc:
            raise UserError(f"smoke: K2K login at {site.name}: "
                            f"{first_line(exc, 200)}") from None
        try:
            if user not in held:
                identity.delete_user(user, ignore_missing=True)
            if project not in held:
                identity.delete_project(project, ignore_missing=True)
        except openstack.exceptions.SDKException as exc:
            raise UserError(f"smoke: cannot remove what the K2K login "
                            f"provisioned at {site.name}: {exc}") from None
        yield (f"ok   K2K login at {site.name} with an assertion from "
               f"{topo.root.name} ({time.monotonic() - t:.2f} s)")
