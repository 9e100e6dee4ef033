"""The DC's APIs stay with everybody else while an edge's transfers hang.

An edge pulls images from the DC on demand (US2): a Glance import at the
edge, or a nova-compute there fetching a server's image. Such a download
holds whatever serves it at the DC for as long as it lasts -- a worker
process of a server with synchronous workers, a thread of a threaded one.
Over a slow WAN link that is long; over a dark link (a black hole: nothing
acknowledged, nothing reset) it lasts until TCP gives up on the
connection, which by Linux's default net.ipv4.tcp_retries2 = 15 takes about
15 minutes ("a hypothetical timeout of 924.6 seconds", Linux
Documentation/networking/ip-sysctl.rst). A DC whose API has no capacity
beyond such transfers is down for the whole region while one edge is dark.
"""

from __future__ import annotations

import threading
import time
import urllib.parse

import requests
from tempest import config
from tempest.lib import decorators

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.tests import base
from edge_refarch.validation.faults.toxiproxy_api import hostport
from edge_refarch.validation.images import raw_image

CONF = config.CONF

CHUNK = 64 * 1024


class _Download(threading.Thread):
    """One image download from the DC through an edge's link, read as
    fast as the link gives it, as the edge's Glance or nova-compute
    would. `received`: bytes so far; `error`: why it ended early."""

    def __init__(self, url: str, token: str, verify, timeout: float):
        super().__init__(daemon=True)
        self.url, self.token, self.verify = url, token, verify
        self.timeout = timeout
        self.received = 0
        self.error: str | None = None
        self.done = threading.Event()
        self.response = None

    def run(self):
        try:
            # A read timeout beyond the whole test: the download must end
            # by the link's healing, not by a client giving up.
            self.response = requests.get(
                self.url, headers={"X-Auth-Token": self.token},
                stream=True, verify=self.verify,
                timeout=(self.timeout, 10 * self.timeout))
            self.response.raise_for_status()
            for chunk in self.response.iter_content(CHUNK):
                self.received += len(chunk)
        except Exception as exc:  # noqa: BLE001 - reported as the cause
            self.error = f"{type(exc).__name__}: {exc}"[:200]
        finally:
            self.done.set()

    def close(self):
        if self.response is not None:
            self.response.close()


class DcAvailabilityTest(base.EdgeRefarchTest):

    partition_mode = "refused"

    def dc_images_via_link(self, inj) -> str:
        """The DC's image API (its base URL, version included) as the
        edge's link carries it: through the proxy of that link whose
        upstream is the DC's image endpoint. Not run when there is none."""
        base_url = self.site(self.root).images.base_url
        parts = urllib.parse.urlsplit(base_url)
        netloc = hostport(base_url)     # as toxiproxy names an upstream
        link = self.link_of(self.edge)
        proxies = inj.toxiproxy.proxies()
        for name in inj.links.proxies(link):
            if proxies[name]["upstream"] == netloc:
                return (f"{parts.scheme}://{proxies[name]['listen']}"
                        f"{parts.path.rstrip('/')}")
        raise self.skipException(
            f"not run: no proxy of link {link!r} carries the DC's image "
            f"API ({netloc}), so no transfer to {self.edge} crosses it")

    def probe(self, dc, what: str, window: float) -> float:
        """Ask the DC's image API (one image listing at a time, each
        within the fail-fast bound) for `window` seconds; the slowest
        answer, seconds. Fails on the first one that does not come."""
        slowest = 0.0
        end = time.monotonic() + window
        while True:
            start = time.monotonic()
            try:
                dc.images.list_images(params={"limit": 1})
            except Exception as exc:  # noqa: BLE001 - the cause
                took = time.monotonic() - start
                self.evidence(**{f"dc_image_api_{what}":
                                 f"no answer in {took:.1f} s"})
                self.fail(
                    f"the DC's image API did not answer within "
                    f"{self.fail_fast:g} s while "
                    f"{CONF.edge_refarch.in_flight_downloads} download(s) "
                    f"to {self.edge} were in flight {what}: its server has "
                    "no capacity beyond the transfers to that edge, so one "
                    f"edge takes it from the whole region "
                    f"({type(exc).__name__})")
            slowest = max(slowest, time.monotonic() - start)
            if time.monotonic() >= end:
                return slowest
            time.sleep(0.5)

    @decorators.idempotent_id("9f81e4aa-3f6d-455a-aafb-7ca76496c3f7")
    @requirement("EDGE-PART-DC-AVAILABLE")
    def test_dc_image_api_answers_while_transfers_to_an_edge_hang(self):
        """Fails when the DC's image API stops answering its other clients
        (within the fail-fast bound) while downloads from it to an edge
        are in flight over a slow link, or while that link is cut; or
        when those downloads have not ended (complete, or failed) within
        the convergence bound after the heal."""
        er = CONF.edge_refarch
        inj = self.injector()     # not run without a fault injector
        via_link = self.dc_images_via_link(inj)
        dc = self.site(self.root, http_timeout=self.fail_fast)
        size = er.in_flight_image_mib * 1024 * 1024
        src = self.create_image(self.site(self.root), raw_image(size))
        url = f"{via_link}/images/{src['id']}/file"
        token = dc.auth.get_token()
        slow = inj.bandwidth(self.link_of(self.edge), er.in_flight_link_kbps)
        slow.__enter__()
        self.addCleanup(slow.__exit__, None, None, None)
        downloads = [_Download(url, token, base.tls_verify(), self.fail_fast)
                     for _ in range(er.in_flight_downloads)]
        for d in downloads:
            self.addCleanup(d.close)
            d.start()
        start = time.monotonic()
        while not all(d.received >= CHUNK or d.error for d in downloads):
            if time.monotonic() - start > self.fail_fast:
                going = sum(d.received >= CHUNK for d in downloads)
                self.evidence(under_way=f"{going} of {len(downloads)} "
                                        f"after {self.fail_fast:g} s")
                self.fail(
                    f"only {going} of {len(downloads)} downloads from the "
                    f"DC to {self.edge} started within {self.fail_fast:g} "
                    f"s over a slow link: the DC's image API serves no "
                    f"more than {going} transfer(s) at a time, and while "
                    "they last it answers nobody else")
            time.sleep(0.2)
        self.assertFalse([d.error for d in downloads if d.error],
                         "a download from the DC through the link failed "
                         "before any fault")
        facts = {"in_flight": len(downloads), "image_mib":
                 er.in_flight_image_mib, "link_kbps": er.in_flight_link_kbps}
        facts["slowest_answer_slow_link_s"] = round(
            self.probe(dc, "over a slow link", self.fail_fast / 2), 2)
        self.cut(self.edge)
        # The link is dark once nothing more crosses it for a second.
        seen = [[d.received for d in downloads]]

        def stopped() -> bool:
            time.sleep(1)
            seen.append([d.received for d in downloads])
            return seen[-1] == seen[-2]
        facts["stopped_after_cut_s"] = round(self.wait_until(
            "the downloads stop at the cut", stopped, self.fail_fast), 2)
        facts["slowest_answer_cut_s"] = round(
            self.probe(dc, "over a cut link", self.fail_fast), 2)
        inj.heal(self.link_of(self.edge))
        start = time.monotonic()
        ended = all(d.done.wait(max(0.0, self.converge -
                                    (time.monotonic() - start)))
                    for d in downloads)
        facts["ended_after_heal_s"] = round(time.monotonic() - start, 2)
        facts["downloads"] = [d.error or f"{d.received} bytes"
                              for d in downloads]
        self.evidence(**facts)
        self.assertTrue(ended, f"downloads to {self.edge} still in flight "
                               f"{self.converge:g} s after the heal")
        for d in downloads:
            # Each ends whole or with an error: never a short body taken
            # for the image.
            if d.error is None:
                self.assertEqual(size, d.received,
                                 "a download ended short without an error")


class DcAvailabilityBlackholeTest(DcAvailabilityTest):
    """The same, with the link cut as a black hole."""

    partition_mode = "blackhole"
