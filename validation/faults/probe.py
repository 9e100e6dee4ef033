"""A TCP echo endpoint and the probes that measure a path through toxiproxy.

Used to calibrate the latency toxic on the machine toxiproxy runs on (see
:func:`latency_overshoot_ms`) and by ``bench/fault_fidelity.py``.

Why calibrate: toxiproxy's latency toxic sleeps with Go timers, which on
Linux wake up to about a millisecond late (the runtime's netpoller waits in
whole milliseconds), so every delayed chunk arrives ~0.5 ms after its
deadline in each direction. At 10 ms RTT that alone is a 9 % error. The
overshoot is a constant of the machine, not of the latency asked for, so
the fault library subtracts the measured overshoot from what it asks
toxiproxy for (see ``Latency.toxics``).
"""

from __future__ import annotations

import socket
import socketserver
import statistics
import threading
import time
import uuid

CALIBRATION_RTT_MS = 10     # the smallest level the issue asks for:
#                             the relative error matters most there
CALIBRATION_PINGS = 20
CALIBRATION_ROUNDS = 3


HANG_UP_AFTER_S = 0.5       # b'C': the server closes this long after


class _Echo(socketserver.BaseRequestHandler):
    """b'P' -> echo one byte; b'G' + 8-byte size -> stream that many;
    b'C' -> the server closes the connection HANG_UP_AFTER_S later."""

    def handle(self):
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        chunk = b"\0" * 65536
        while True:
            try:
                op = sock.recv(1)
            except OSError:
                return
            if not op:
                return
            if op == b"P":
                sock.sendall(b"p")
            elif op == b"C":
                time.sleep(HANG_UP_AFTER_S)
                return
            elif op == b"G":
                size = int.from_bytes(recv_exact(sock, 8), "big")
                while size > 0:
                    n = min(size, len(chunk))
                    sock.sendall(chunk[:n])
                    size -= n


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class EchoServer:
    """An echo endpoint on `address` (a free port), in a thread."""

    def __init__(self, address: str):
        self._server = _Server((address, 0), _Echo)
        self.hostport = f"{address}:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever,
                         daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def recv_exact(sock, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            raise ConnectionError("closed")
        buf += part
    return buf


def connect(hostport: str, timeout: float = 10) -> socket.socket:
    host, port = hostport.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def rtt_ms(hostport: str, pings: int = 25) -> float:
    """Median RTT of one-byte ping-pongs on one warm connection."""
    with connect(hostport) as s:
        s.sendall(b"P")
        recv_exact(s, 1)   # warm the connection up
        samples = []
        for _ in range(pings):
            t = time.perf_counter()
            s.sendall(b"P")
            recv_exact(s, 1)
            samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def throughput_mbit(hostport: str, nbytes: int) -> float:
    with connect(hostport, timeout=120) as s:
        s.sendall(b"G" + nbytes.to_bytes(8, "big"))
        recv_exact(s, 1)
        t = time.perf_counter()
        got = 1
        while got < nbytes:
            part = s.recv(1 << 20)
            if not part:
                raise ConnectionError("closed early")
            got += len(part)
        took = time.perf_counter() - t
    return (nbytes - 1) * 8 / took / 1e6


def latency_overshoot_ms(toxiproxy, address: str = "127.0.0.1") -> float:
    """How much RTT a latency toxic adds beyond what it is asked for.

    Runs an echo endpoint and a temporary proxy (``edge-refarch-calibration-
    <id>``, removed afterwards) on `address`, which must be local to both
    this process and the toxiproxy server, and measures a 10 ms latency toxic
    against the same proxy without it. Takes about one second.
    """
    name = f"edge-refarch-calibration-{uuid.uuid4().hex[:8]}"
    half = CALIBRATION_RTT_MS // 2
    toxics = [(f"edge-refarch.calibration.{stream}", stream)
              for stream in ("upstream", "downstream")]
    estimates = []
    with EchoServer(address) as echo:
        listen = f"{address}:{free_port(address)}"
        toxiproxy.ensure_proxy(name, listen, echo.hostport)
        try:
            # Interleaved rounds; the least overshoot is the one least
            # disturbed by whatever else the machine was doing.
            for _ in range(CALIBRATION_ROUNDS):
                base = rtt_ms(listen, CALIBRATION_PINGS)
                for toxic, stream in toxics:
                    toxiproxy.add_toxic(name, toxic, "latency", stream,
                                        {"latency": half, "jitter": 0})
                delayed = rtt_ms(listen, CALIBRATION_PINGS)
                for toxic, _ in toxics:
                    toxiproxy.remove_toxic(name, toxic)
                estimates.append(delayed - base - 2 * half)
        finally:
            toxiproxy.delete_proxy(name)
    return max(0.0, round(min(estimates), 3))
