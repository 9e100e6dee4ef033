"""Fault injectors against the testbed's real toxiproxy: every fault takes
effect, is removed on exit, SIGTERM or kill -9, and bad input is refused
before anything is applied."""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from edge_refarch.validation import paths
from edge_refarch.validation.errors import BadInput
from edge_refarch.validation.faults.faults import (
    TOXIC_PREFIX,
    FaultInjector,
    Links,
)
from edge_refarch.validation.faults.probe import (
    connect,
    free_port,
    recv_exact,
)
from edge_refarch.validation.images import raw_image

from .conftest import FAIL_FAST_S, run_cli

LINK = "dc-edge1"


@pytest.fixture(scope="module")
def bed(manager):
    return manager.ensure("distributed")


@pytest.fixture
def injector(bed):
    inj = FaultInjector(bed.toxiproxy, Links.from_topology(bed.topology),
                        paths.state_dir().parent)
    yield inj
    inj.heal()


def dc_keystone_from(bed, site: str) -> str:
    return "http://" + bed.topology.address_of(site, bed.topology.root,
                                               "keystone") + "/v3"


def link_state(bed):
    return bed.link_faults(LINK)


def assert_healed(bed):
    assert link_state(bed) == ([], [])


def wait_for(predicate, timeout=FAIL_FAST_S):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_partition_refused_then_healed(bed, injector):
    url = dc_keystone_from(bed, "edge1")
    with injector.partition(LINK):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=FAIL_FAST_S)
        # Other links are not touched.
        assert requests.get(dc_keystone_from(bed, "edge2"),
                            timeout=FAIL_FAST_S).ok
    assert_healed(bed)
    assert requests.get(url, timeout=FAIL_FAST_S).ok


def test_partition_blackhole_accepts_but_nothing_flows(bed, injector):
    url = dc_keystone_from(bed, "edge1")
    host, port = url.split("//")[1].split("/")[0].split(":")
    with injector.partition(LINK, mode="blackhole"):
        # The connection is accepted...
        with socket.create_connection((host, int(port)), timeout=2):
            pass
        # ... but no answer ever comes.
        with pytest.raises(requests.ReadTimeout):
            requests.get(url, timeout=(2, 1.5))
    assert_healed(bed)
    assert requests.get(url, timeout=FAIL_FAST_S).ok


@pytest.fixture
def probe_link(bed):
    """A proxy of its own on LINK's toxiproxy (edge1's address -> a
    listening socket on the DC's address) and an injector that knows only
    it. Yields (injector, probe host:port, listening socket); removed
    afterwards."""
    dc = bed.topology.root.address
    edge = bed.topology.site("edge1").address
    listener = socket.create_server((dc, 0))
    listener.settimeout(FAIL_FAST_S)
    probe = f"{edge}:{free_port(edge)}"
    name = f"{LINK}.test-probe"
    bed.toxiproxy.ensure_proxy(
        name, probe, f"{dc}:{listener.getsockname()[1]}")
    inj = FaultInjector(bed.toxiproxy, Links({LINK: [name]}),
                        paths.state_dir().parent, heal_leftovers=False)
    try:
        yield inj, probe, listener
    finally:
        inj.heal(LINK)
        bed.toxiproxy.delete_proxy(name)
        listener.close()


def test_blackhole_holds_bytes_and_close_until_the_heal(probe_link):
    """A black hole drops packets; TCP retransmits them after the heal.
    Neither bytes nor a close cross while it holds (stock toxiproxy's
    timeout toxic let the server's close through at once and dropped the
    bytes), and after the heal both arrive, in order."""
    injector, probe, listener = probe_link
    with connect(probe, timeout=FAIL_FAST_S) as client:
        server, _ = listener.accept()
        with server:
            client.sendall(b"a")
            server.settimeout(FAIL_FAST_S)
            assert server.recv(1) == b"a"
            with injector.partition(LINK, mode="blackhole"):
                client.sendall(b"held")
                server.settimeout(1.0)
                with pytest.raises(TimeoutError):
                    server.recv(16)
                server.sendall(b"back")
                server.shutdown(socket.SHUT_WR)      # the server hangs up
                client.settimeout(2.0)
                with pytest.raises(TimeoutError):
                    client.recv(16)
            server.settimeout(FAIL_FAST_S)
            assert recv_exact(server, 4) == b"held"
            client.settimeout(FAIL_FAST_S)
            assert recv_exact(client, 4) == b"back"
            assert client.recv(16) == b""            # then the close


def test_a_toxic_ahead_of_a_black_hole_comes_off_without_hanging(
        bed, probe_link):
    """toxiproxy's RemoveToxic cannot interrupt a toxic blocked on handing
    a chunk to a black hole: removing a bandwidth toxic added before a
    black hole, with data in flight, hung toxiproxy's API for good (seen in
    a conformance run). A black hole goes first in the chain, so a slowed
    link can be cut, sped up and healed in any order."""
    injector, probe, listener = probe_link
    with connect(probe, timeout=FAIL_FAST_S) as client:
        server, _ = listener.accept()
        stop = threading.Event()

        def pump():
            try:
                while not stop.is_set():
                    server.sendall(b"x" * 65536)
            except OSError:
                pass
        pumper = threading.Thread(target=pump, daemon=True)
        got = [0]

        def drain(seconds: float) -> int:
            client.settimeout(0.2)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    got[0] += len(client.recv(65536))
                except TimeoutError:
                    pass
            return got[0]
        try:
            pumper.start()
            slow = injector.bandwidth(LINK, 800)
            cut = injector.partition(LINK, mode="blackhole")
            with slow:
                assert drain(1.0) > 0           # flowing, slowly
                cut.__enter__()
                drain(1.0)                      # what had crossed
                held = got[0]
                assert drain(1.0) == held       # nothing crosses
            # The bandwidth toxic came off while the black hole held.
            start = time.monotonic()
            bed.toxiproxy.proxies()
            assert time.monotonic() - start < 1.0
            cut.__exit__(None, None, None)
            assert drain(1.0) > held            # flowing again
        finally:
            stop.set()
            server.close()


def fill_pipeline(server: socket.socket, pattern: bytes) -> int:
    """Write `pattern` (repeated) to `server` until nothing more fits: the
    reader at the other end reads nothing, so the kernel's buffers and
    toxiproxy's own fill and toxiproxy blocks on its destination. Returns
    the bytes written. Bounded: it stops once a write has waited 0.5 s."""
    server.setblocking(False)
    sent = 0
    while True:
        off = sent % len(pattern)
        try:
            sent += server.send(pattern[off:] + pattern[:off])
        except BlockingIOError:
            if not select.select([], [server], [], 0.5)[1]:
                return sent


def test_toxics_change_while_the_reader_stalls(bed, probe_link):
    """Shopify/toxiproxy#558: a toxic forwarded each chunk with a send
    that an interrupt could not stop, so adding or removing any toxic on
    a link whose reader had stopped reading froze toxiproxy's whole API
    for good (stock v2.12.0 froze on the first add, every time). The
    testbed's toxiproxy carries our patch
    (validation/faults/toxiproxy-server/patches): every change answers,
    and every byte held arrives afterwards, in order."""
    injector, probe, listener = probe_link
    # A cycle of a prime length: a dropped, repeated or reordered chunk
    # shows in the bytes that arrive.
    pattern = bytes(range(251)) * 261
    with connect(probe, timeout=FAIL_FAST_S) as client:
        server, _ = listener.accept()
        with server:
            sent = fill_pipeline(server, pattern)
            # Each change raises ToxiproxyError if the API does not answer.
            with injector.bandwidth(LINK, 800), \
                    injector.latency(LINK, rtt_ms=20):
                with injector.partition(LINK, mode="blackhole"):
                    pass
            probe_proxy = bed.toxiproxy.proxies()[f"{LINK}.test-probe"]
            assert probe_proxy["toxics"] == []
            got = bytearray()
            client.settimeout(FAIL_FAST_S)
            while len(got) < sent:
                chunk = client.recv(1 << 20)
                assert chunk, f"the stream ended after {len(got)} bytes"
                got += chunk
    assert len(got) == sent
    assert bytes(got) == (pattern * (sent // len(pattern) + 1))[:sent]


def test_latency_is_added_to_each_request(bed, injector):
    url = dc_keystone_from(bed, "edge1")
    session = requests.Session()
    session.get(url, timeout=5)
    with injector.latency(LINK, rtt_ms=300):
        t = time.monotonic()
        assert session.get(url, timeout=10).ok
        assert time.monotonic() - t >= 0.3
        _, toxics = link_state(bed)
        assert toxics and all(t.startswith(TOXIC_PREFIX) for t in toxics)
    assert_healed(bed)


@pytest.fixture
def dc_image_via_edge1(bed, unique):
    """Upload `nbytes` at the DC; returns (data, URL of its file as edge1
    reaches it over dc-edge1, an edge1 token). Deleted afterwards."""
    dc = bed.at("dc").conn
    made = []

    def make(nbytes: int):
        data = raw_image(nbytes)
        img = dc.image.create_image(
            name=unique, data=data, disk_format="raw",
            container_format="bare", use_import=False, wait=True)
        made.append(img.id)
        url = "http://" + bed.topology.address_of(
            "edge1", bed.topology.root, "glance") + \
            f"/v2/images/{img.id}/file"
        return data, url, bed.at("edge1").token()
    yield make
    for image_id in made:
        dc.image.delete_image(image_id, ignore_missing=True)


def test_bandwidth_limits_a_download(bed, injector, dc_image_via_edge1):
    data, url, token = dc_image_via_edge1(256 * 1024)
    with injector.bandwidth(LINK, kbps=1024):   # 128 KB/s
        t = time.monotonic()
        r = requests.get(url, headers={"X-Auth-Token": token}, timeout=60)
        took = time.monotonic() - t
    assert r.content == data
    assert took >= 1.5, f"256 KiB at 1 Mbit/s took only {took:.2f} s"
    assert_healed(bed)


def test_reset_after_bytes_cuts_a_download(bed, injector,
                                           dc_image_via_edge1):
    _, url, token = dc_image_via_edge1(512 * 1024)
    with injector.reset_after(LINK, 64 * 1024):
        with pytest.raises(requests.RequestException):
            r = requests.get(url, headers={"X-Auth-Token": token},
                             timeout=10)
            r.raise_for_status()
            assert len(r.content) == 512 * 1024
    assert_healed(bed)


def test_flap_alternates_and_heals(bed, injector):
    url = dc_keystone_from(bed, "edge1")
    seen = set()
    with injector.flap(LINK, down_s=0.4, up_s=0.4) as fault:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline and len(seen) < 2:
            try:
                requests.get(url, timeout=1)
                seen.add("up")
            except requests.ConnectionError:
                seen.add("down")
            time.sleep(0.05)
    assert seen == {"up", "down"}
    assert fault.cycles >= 1
    assert_healed(bed)


def test_fault_removed_on_exception(bed, injector):
    with pytest.raises(RuntimeError):
        with injector.partition(LINK):
            assert link_state(bed)[0]
            raise RuntimeError("test failed mid-fault")
    assert_healed(bed)


def test_link_counters_count_bytes_that_crossed(bed, injector,
                                                dc_image_via_edge1):
    data, url, token = dc_image_via_edge1(1024 * 1024)
    with injector.measure(LINK) as crossed, \
            injector.measure("dc-edge2") as other:
        assert requests.get(url, headers={"X-Auth-Token": token},
                            timeout=30).content == data
    assert crossed["sent"] >= len(data)
    assert crossed["sent"] < len(data) + 64 * 1024
    assert other["sent"] < 64 * 1024


def _holder(*args):
    """A separate process holding a fault, as an operator would run it."""
    return subprocess.Popen(
        [sys.executable, "-m", "edge_refarch.validation.cli", "fault",
         *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("healer", ["fault heal", "next run"])
def test_kill_9_leftover_is_healed(bed, healer):
    proc = _holder("partition", LINK, "--for", "10m")
    try:
        wait_for(lambda: link_state(bed)[0])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert link_state(bed)[0], "kill -9 should leave the fault behind"
        if healer == "fault heal":
            result = run_cli("fault", "heal", LINK)
            assert result.returncode == 0, result.stderr
        else:
            # Any next run starts by removing faults whose owner died.
            FaultInjector(bed.toxiproxy, Links.from_topology(bed.topology),
                          paths.state_dir().parent)
        assert_healed(bed)
    finally:
        if proc.poll() is None:
            proc.kill()
        run_cli("fault", "heal", "--all")


def test_next_run_keeps_a_fault_held_by_a_live_process(bed):
    proc = _holder("latency", LINK, "--ms", "20", "--for", "10m")
    try:
        wait_for(lambda: link_state(bed)[1])
        FaultInjector(bed.toxiproxy, Links.from_topology(bed.topology),
                      paths.state_dir().parent)
        assert link_state(bed)[1], "a live owner's fault was removed"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    # SIGTERM: the holder removed its own fault on the way out.
    assert proc.returncode == 130, proc.stderr.read()
    assert_healed(bed)


def test_sigterm_while_applying_leaves_nothing(bed):
    # SIGTERM the moment the first toxic shows, i.e. while the holder is
    # still adding the others: before signals were held during the
    # toxiproxy calls, about one run in five left a toxic behind.
    for attempt in range(10):
        proc = _holder("latency", LINK, "--ms", "20", "--for", "10m")
        try:
            wait_for(lambda: link_state(bed)[1])
        finally:
            proc.terminate()
            proc.wait(timeout=15)
        assert proc.returncode == 130, proc.stderr.read()
        assert link_state(bed) == ([], []), f"left behind on run {attempt}"


def test_cli_fault_stays_until_heal(bed):
    result = run_cli("fault", "partition", LINK)
    try:
        assert result.returncode == 0, result.stderr
        assert link_state(bed)[0]
        listing = run_cli("fault", "list")
        assert f"{LINK}: " in listing.stdout and "disabled" in \
            listing.stdout
    finally:
        healed = run_cli("fault", "heal", LINK)
    assert healed.returncode == 0
    assert_healed(bed)


@pytest.mark.parametrize("args, words", [
    (["partition", "dc-edge9"], "unknown link 'dc-edge9'"),
    (["latency", LINK, "--ms", "-5"], "between"),
    (["latency", LINK, "--ms", "1e12"], "between"),
    (["latency", LINK, "--ms", "nan"], "not a finite number"),
    (["latency", LINK, "--ms", "10", "--jitter", "50"], "must not exceed"),
    (["bandwidth", LINK, "--kbps", "0"], "between"),
    (["flap", LINK, "--down", "1s", "--up", "forever"], "not a duration"),
    (["partition", LINK, "--for=-1s"], "not a duration"),
    (["partition", LINK, "--for", "0s"], "more than 0"),
    (["partition", LINK, "--mode", "sideways"], "invalid choice"),
    (["heal"], "name a LINK or pass --all"),
    (["--toxiproxy-url", "http://127.0.0.1:1", "list"], "unreachable"),
    (["--toxiproxy-url", "gopher://127.0.0.1", "list"],
     "not of the form"),
    (["--toxiproxy-url", "http://127.0.1.1:5000", "list"],
     "does not look like a toxiproxy"),
])
def test_bad_fault_input(bed, args, words):
    result = run_cli("fault", *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert_healed(bed)   # nothing half-applied


def test_library_rejects_bad_numbers_before_applying(bed, injector):
    for make in (lambda: injector.latency(LINK, rtt_ms=-1),
                 lambda: injector.bandwidth(LINK, kbps=float("inf")),
                 lambda: injector.reset_after(LINK, 0)):
        with pytest.raises(BadInput):
            make()
    assert_healed(bed)
