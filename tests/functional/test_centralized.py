"""The centralized model on the embedded testbed: one control plane in the
DC, edges reach it over their links and lose it, fast, while cut off."""

from __future__ import annotations

import pytest

from .conftest import FAIL_FAST_S, assert_refused_fast

MODEL = "centralized"


@pytest.fixture(scope="module")
def bed(manager):
    return manager.ensure(MODEL)


def test_edges_run_no_control_plane(bed):
    model = bed.topology.model
    for site in bed.topology.sites.values():
        if site.tier != "regional_dc":
            assert not [s for s in site.services
                        if model.services[s].role == "api"], site.name
    # The only paths into an edge: its Nova cell's database and queue.
    assert {p.service for p in bed.topology.proxies if p.dst != "dc"} == \
        {"mariadb", "rabbitmq"}


def test_cloudlet_reaches_the_dc_through_its_edge_and_loses_it_with_it(bed):
    far = bed.at("far-edge1")
    assert far.issue_token().status_code == 201
    bed.cut("dc-edge1")
    try:
        assert_refused_fast(lambda: far.issue_token(timeout=FAIL_FAST_S))
    finally:
        bed.heal("dc-edge1")
    assert far.issue_token().status_code == 201


def test_token_issued_at_every_site_through_its_link(bed):
    for site in bed.topology.sites:
        at = bed.at(site)
        if site != "dc":
            listens = {p.listen for p in bed.topology.proxies
                       if p.src == site}
            assert at.auth_url.split("//")[1].split("/")[0] in listens
        assert at.issue_token().status_code == 201


def test_image_at_dc_visible_from_edges(bed, unique):
    dc = bed.at("dc").conn
    img = dc.image.create_image(name=unique, data=b"x" * 4096,
                                disk_format="raw", container_format="bare",
                                use_import=False, wait=True)
    img = dc.image.get_image(img.id)
    try:
        for site in ("edge1", "edge2"):
            seen = bed.at(site).conn.image.get_image(img.id)
            assert seen.checksum == img.checksum
    finally:
        dc.image.delete_image(img.id, ignore_missing=True)


def test_cut_off_edge_fails_fast_and_recovers(bed):
    e1, e2 = bed.at("edge1"), bed.at("edge2")
    bed.cut("dc-edge1")
    try:
        assert_refused_fast(lambda: e1.issue_token(timeout=FAIL_FAST_S))
        assert e2.issue_token().status_code == 201
    finally:
        bed.heal("dc-edge1")
    assert e1.issue_token().status_code == 201
