"""The distributed model on the embedded testbed: replicated identity,
glance-download, and an edge that keeps working while cut off."""

from __future__ import annotations

import hashlib
import time

import pytest
import requests

from edge_refarch.validation.images import raw_image

from .conftest import CONVERGE_S, FAIL_FAST_S

MODEL = "distributed"


@pytest.fixture(scope="module")
def bed(manager):
    return manager.ensure(MODEL)


@pytest.fixture
def dc_image(bed):
    """An image uploaded at the DC, with listed and unlisted properties.

    One per test: Glance never reuses a deleted image's ID, and
    glance-download keeps the source's ID."""
    dc = bed.at("dc").conn
    data = raw_image(3 * 1024 * 1024 + 17)
    img = dc.image.create_image(
        name="edge-refarch-test-image", data=data, disk_format="raw",
        container_format="bare", use_import=False, wait=True,
        os_distro="cirros", hw_disk_bus="virtio", custom_owner="ops",
        edge_refarch_story="US5", not_listed="stays-at-dc")
    yield dc.image.get_image(img.id), data
    dc.image.delete_image(img.id, ignore_missing=True)


def fetch_to(bed, site: str, src) -> object:
    edge = bed.at(site).conn
    tgt = edge.image.create_image(id=src.id, name=src.name,
                                  disk_format=src.disk_format,
                                  container_format=src.container_format)
    edge.image.import_image(tgt, method="glance-download",
                            remote_region="dc", remote_image_id=src.id,
                            remote_service_interface="public")
    edge.image.wait_for_status(tgt, status="active", failures=["killed"],
                               interval=0.2, wait=60)
    return edge.image.get_image(tgt.id)


def test_token_issued_at_every_site(bed):
    for site in bed.topology.sites:
        r = bed.at(site).issue_token()
        assert r.status_code == 201, f"{site}: {r.text}"


def test_tokens_valid_across_sites(bed):
    tokens = {s: bed.at(s).token() for s in bed.topology.sites}
    for issued_at, token in tokens.items():
        for checked_at in bed.topology.sites:
            r = bed.at(checked_at).validate(token)
            assert r.status_code == 200, (
                f"token from {issued_at} rejected at {checked_at}: "
                f"{r.status_code}")


def test_edge_catalog_reaches_dc_through_edge_link(bed):
    """edge1's catalog sends dc-bound traffic through edge1's own proxies."""
    token = bed.at("edge1").token()
    r = requests.get(f"{bed.at('edge1').auth_url}/auth/catalog",
                     headers={"X-Auth-Token": token}, timeout=10)
    assert r.status_code == 200
    listens = {p.listen for p in bed.topology.proxies_of("dc-edge1")
               if p.src == "edge1"}
    dc_urls = [ep["url"] for svc in r.json()["catalog"]
               for ep in svc["endpoints"] if ep["region_id"] == "dc"]
    assert dc_urls, "edge1's catalog lists no dc endpoint"
    for url in dc_urls:
        assert url.split("//")[1].split("/")[0] in listens, url


def test_glance_download_preserves_data_and_metadata(bed, dc_image):
    src, data = dc_image
    tgt = fetch_to(bed, "edge1", src)
    try:
        assert tgt.id == src.id
        assert tgt.checksum == src.checksum == hashlib.md5(data).hexdigest()
        assert tgt.hash_algo == src.hash_algo
        assert tgt.hash_value == src.hash_value == \
            hashlib.sha512(data).hexdigest()
        assert tgt.size == src.size == len(data)
        assert (tgt.disk_format, tgt.container_format) == ("raw", "bare")
        assert tgt.os_distro == "cirros"
        assert tgt.hw_disk_bus == "virtio"
        assert tgt.properties.get("custom_owner") == "ops"
        assert tgt.properties.get("edge_refarch_story") == "US5"
        # Only listed property prefixes travel; Glance documents this.
        assert "not_listed" not in tgt.properties
        got = b"".join(bed.at("edge1").conn.image.download_image(
            tgt, stream=True).iter_content(1 << 20))
        assert got == data
    finally:
        bed.at("edge1").conn.image.delete_image(tgt.id, ignore_missing=True)


def test_cut_off_edge_keeps_working_and_catches_up(bed, dc_image, unique):
    """All of edge1's link proxies disabled: edge1 still issues and
    validates tokens and serves its images; edge2 and the DC are not
    affected; an identity change made at the DC during the cut reaches
    edge1 after the link is re-enabled."""
    src, data = dc_image
    e1, e2, dc = bed.at("edge1"), bed.at("edge2"), bed.at("dc")
    local = fetch_to(bed, "edge1", src)
    dc_token = dc.token()
    dc_admin = dc.conn.identity
    new_user = None
    try:
        bed.cut("dc-edge1")
        try:
            # The link is really down: edge1 cannot reach the DC.
            to_dc = bed.topology.address_of("edge1", bed.topology.root,
                                            "keystone")
            with pytest.raises(requests.ConnectionError):
                requests.get(f"http://{to_dc}/v3", timeout=FAIL_FAST_S)
            # edge1 issues and validates tokens on its own.
            token = e1.token()
            assert e1.validate(token).status_code == 200
            assert e1.validate(dc_token, auth=token).status_code == 200
            # ... and serves the image it fetched, data and metadata.
            listed = requests.get(
                f"http://{e1.site.address}:9292/v2/images/{local.id}",
                headers={"X-Auth-Token": token}, timeout=FAIL_FAST_S)
            assert listed.status_code == 200
            assert listed.json()["os_hash_value"] == src.hash_value
            blob = requests.get(
                f"http://{e1.site.address}:9292/v2/images/{local.id}/file",
                headers={"X-Auth-Token": token}, timeout=30)
            assert blob.status_code == 200 and blob.content == data
            # edge2 and the DC are not affected.
            assert e2.issue_token().status_code == 201
            assert dc.issue_token().status_code == 201
            remote = fetch_to(bed, "edge2", src)
            assert remote.hash_value == src.hash_value
            e2.conn.image.delete_image(remote.id)
            # An identity change at the DC while edge1 is cut off.
            new_user = dc_admin.create_user(name=unique, password=unique,
                                            domain_id="default")
            r = requests.get(f"{e1.auth_url}/users",
                             params={"name": unique},
                             headers={"X-Auth-Token": token}, timeout=10)
            assert r.status_code == 200 and r.json()["users"] == []
        finally:
            bed.heal("dc-edge1")
        # After the heal, the change reaches edge1.
        token = e1.token()
        deadline = time.monotonic() + CONVERGE_S
        while True:
            r = requests.get(f"{e1.auth_url}/users",
                             params={"name": unique},
                             headers={"X-Auth-Token": token}, timeout=10)
            if r.status_code == 200 and r.json()["users"]:
                break
            assert time.monotonic() < deadline, \
                "identity change made at the DC did not reach edge1"
            time.sleep(0.5)
        assert r.json()["users"][0]["id"] == new_user.id
    finally:
        bed.heal("dc-edge1")
        if new_user is not None:
            dc_admin.delete_user(new_user, ignore_missing=True)
        e1.conn.image.delete_image(local.id, ignore_missing=True)


def test_glance_holds_the_metadata_definitions_it_ships(bed):
    """Every Glance of the testbed has loaded the metadata definitions
    Glance ships (glance-manage db load_metadefs), as a devstack Glance
    has: the namespaces Horizon and Tempest's metadefs tests read."""
    for site in ("dc", "edge1"):
        image = bed.at(site).conn.image
        names = {ns.namespace for ns in image.metadef_namespaces()}
        assert "OS::Compute::Hypervisor" in names, (site, sorted(names))
        assert len(names) >= 20, (site, len(names))
