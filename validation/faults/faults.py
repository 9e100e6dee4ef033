"""WAN faults on the links of the architecture model.

A **link** (site <-> site) covers every toxiproxy proxy of that link, in both
directions. A **fault** is a context manager that applies itself on entry and
removes itself on exit -- normal exit, exception, SIGINT or SIGTERM:

    with injector.partition("dc-edge1"):
        ...
    with injector.latency("dc-edge1", rtt_ms=100, jitter_ms=10):
        ...

Every toxic the project creates is named ``edge-refarch.<fault>.<stream>``,
and every applied fault is recorded with its owner's PID under
``<state>/faults``. A fault whose owner died (``kill -9``) is a leftover:
``heal()`` and ``heal_leftovers()`` (run when an injector starts) remove it;
a fault whose owner still runs is left alone unless healing is forced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from edge_refarch.validation.errors import BadInput
from edge_refarch.validation.faults.toxiproxy_api import (
    Toxiproxy,
    ToxiproxyError,
)
from edge_refarch.validation.processes import start_time

TOXIC_PREFIX = "edge-refarch."
STREAMS = ("upstream", "downstream")
# Toxics that stop reading their input (edge-refarch's toxiproxy-server).
# toxiproxy chains a stream's toxics in the order they were added, and a
# toxic blocked on handing a chunk to one of these can never take the
# interrupt that ToxicLink.RemoveToxic sends it: removing it would hang
# toxiproxy's API for good (seen: a bandwidth toxic removed while a black
# hole behind it held the stream). So they always go first in the chain.
HOLDING_TOXICS = ("blackhole",)

# Bounds that keep a typo from becoming an outage that outlives the test.
MAX_LATENCY_MS = 60_000
MAX_KBPS = 100_000_000
MAX_BYTES = 1 << 40
MAX_DURATION_S = 24 * 3600


class MissingToxic(ToxiproxyError):
    """The toxiproxy lacks a toxic type a fault needs (a stock toxiproxy
    has no ``blackhole``); the message, one line, says what to run."""


def _check(name: str, value: float, low: float, high: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"{name} must be a number (got {value!r})") from None
    if value != value or not low <= value <= high:
        raise BadInput(f"{name} must be between {low:g} and {high:g} "
                       f"(got {value:g})")
    return value


class Links:
    """The links a toxiproxy carries: link name -> its proxy names.

    From the testbed's topology, or discovered from proxy names of the form
    ``<link>.<anything>`` on any toxiproxy, or given as a mapping.
    """

    def __init__(self, mapping: dict[str, list[str]]):
        self.mapping = {k: list(v) for k, v in mapping.items() if v}

    @classmethod
    def from_topology(cls, topology) -> Links:
        return cls({name: [p.name for p in topology.proxies_of(name)]
                    for name in topology.links})

    @classmethod
    def discover(cls, toxiproxy: Toxiproxy) -> Links:
        mapping: dict[str, list[str]] = {}
        for name in sorted(toxiproxy.proxies()):
            if "." in name:
                mapping.setdefault(name.split(".", 1)[0], []).append(name)
        return cls(mapping)

    def proxies(self, link: str) -> list[str]:
        try:
            return self.mapping[link]
        except KeyError:
            known = ", ".join(sorted(self.mapping)) or "none"
            raise BadInput(f"unknown link {link!r} (known: {known})") \
                from None

    def all_proxies(self) -> list[str]:
        return [p for ps in self.mapping.values() for p in ps]


class Ledger:
    """Who applied which fault: ``<dir>/<id>.json`` with owner PID."""

    def __init__(self, directory: Path):
        self.dir = directory

    def record(self, fault_id: str, entry: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        entry = {**entry, "pid": pid, "start": start_time(pid)}
        (self.dir / f"{fault_id}.json").write_text(json.dumps(entry))

    def forget(self, fault_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.dir / f"{fault_id}.json").unlink()

    def entries(self) -> dict[str, dict]:
        out = {}
        if not self.dir.exists():
            return out
        for f in self.dir.glob("*.json"):
            with contextlib.suppress(OSError, ValueError):
                out[f.stem] = json.loads(f.read_text())
        return out

    @staticmethod
    def owner_alive(entry: dict) -> bool:
        """A fault is held while its owner runs, or until 'fault heal'
        when it was applied to stay (persistent)."""
        if entry.get("persistent"):
            return True
        pid = entry.get("pid")
        return bool(pid) and start_time(pid) == entry.get("start")


class Fault:
    """Base: a set of toxics and/or disabled proxies on one link."""

    kind = "fault"

    def __init__(self, injector: FaultInjector, link: str):
        self.injector = injector
        self.link = link
        self.proxies = injector.links.proxies(link)
        self.active = False
        self._saved_handlers: dict[int, object] = {}
        self._held: int | None = None    # a signal held while (un)applying
        self._holding = False

    @property
    def fault_id(self) -> str:
        return f"{self.link}.{self.kind}"

    def toxics(self) -> list[dict]:
        """[{name, type, stream, attributes}] this fault adds per proxy."""
        return []

    def disables(self) -> bool:
        return False

    def describe(self) -> str:
        return self.kind

    # -- apply / remove ------------------------------------------------------
    def record(self, persistent: bool = False) -> None:
        """Note this fault in the ledger, owned by this process (or held
        until 'fault heal' when `persistent`)."""
        self.injector.ledger.record(self.fault_id, {
            "link": self.link, "kind": self.kind, "proxies": self.proxies,
            "toxics": [t["name"] for t in self.toxics()],
            "disables": self.disables(),
            "url": self.injector.toxiproxy.url, "persistent": persistent})

    def apply(self) -> None:
        tp = self.injector.toxiproxy
        self.record()
        self.active = True
        try:
            holding = any(t["type"] in HOLDING_TOXICS
                          for t in self.toxics())
            live = tp.proxies() if holding else {}
            for proxy in self.proxies:
                if holding:
                    self._add_first(proxy, (live.get(proxy) or {})
                                    .get("toxics") or [])
                else:
                    for t in self.toxics():
                        self._add_toxic(proxy, t)
            if self.disables():
                for proxy in self.proxies:
                    tp.set_enabled(proxy, False)
        except BaseException:
            self.remove()   # nothing half-applied
            raise

    def _add_first(self, proxy: str, present: list[dict]) -> None:
        """Add this fault's toxics to `proxy` ahead of the toxics
        `present` on the same streams (toxiproxy's listing: name, type,
        stream, toxicity, attributes): those are taken off, then put back
        after ours (HOLDING_TOXICS says why). Each is put back even when
        adding ours fails."""
        streams = {t["stream"] for t in self.toxics()}
        mine = {t["name"] for t in self.toxics()}
        moved = [t for t in present if t["stream"] in streams
                 and t["name"] not in mine
                 and t["type"] not in HOLDING_TOXICS]
        tp = self.injector.toxiproxy
        for t in moved:
            tp.remove_toxic(proxy, t["name"])
        try:
            for t in self.toxics():
                self._add_toxic(proxy, t)
        finally:
            for t in moved:
                tp.add_toxic(proxy, t["name"], t["type"], t["stream"],
                             t.get("attributes") or {},
                             t.get("toxicity", 1.0))

    def _add_toxic(self, proxy: str, t: dict) -> None:
        tp = self.injector.toxiproxy
        try:
            tp.add_toxic(proxy, t["name"], t["type"], t["stream"],
                         t["attributes"])
        except ToxiproxyError as exc:
            if "invalid toxic type" not in str(exc):
                raise
            # A stock toxiproxy: it has no blackhole toxic.
            raise MissingToxic(
                f"toxiproxy at {tp.url} has no {t['type']!r} toxic, which a "
                f"{self.describe()} needs: run the toxiproxy-server that "
                "'edge-refarch fault build-toxiproxy' builds (toxiproxy with "
                "edge-refarch's toxics)") from None

    def remove(self) -> None:
        tp = self.injector.toxiproxy
        live = tp.proxies()
        names = {t["name"] for t in self.toxics()}
        for proxy in self.proxies:
            info = live.get(proxy)
            if info is None:
                continue
            for t in info.get("toxics") or []:
                if t["name"] in names:
                    tp.remove_toxic(proxy, t["name"])
            if self.disables() and not info["enabled"]:
                tp.set_enabled(proxy, True)
        self.injector.ledger.forget(self.fault_id)
        self.active = False

    # -- context manager, with signals turned into a clean exit --------------
    # SIGINT, SIGTERM and SIGHUP remove the fault, then raise
    # KeyboardInterrupt. One that arrives while the fault is being applied
    # or removed is held until those toxiproxy calls are done: raised in the
    # middle of one, it left a toxic that toxiproxy had accepted but did not
    # list yet.
    def __enter__(self) -> Fault:
        self._trap_signals()
        self._holding = True
        try:
            self.apply()
            self._holding = False
            self._raise_held()
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._release()
        if exc[0] is None:
            self._raise_held()

    def _release(self) -> None:
        """Remove the fault if it is applied (a signal meanwhile is held),
        then give the signals back their handlers."""
        self._holding = True
        try:
            if self.active:
                self.remove()
        finally:
            self._holding = False
            self._restore_signals()

    def _raise_held(self) -> None:
        signum, self._held = self._held, None
        if signum is not None:
            raise KeyboardInterrupt(f"signal {signum}")

    def _trap_signals(self) -> None:
        self._held = None
        self._holding = False
        if threading.current_thread() is not threading.main_thread():
            return

        def interrupt(signum, frame):
            if self._holding:
                self._held = signum
                return
            # Remove the fault here rather than in __exit__: the signal
            # may land where no __exit__ follows (between apply() and the
            # with-block, or on __exit__'s first line).
            self._release()
            raise KeyboardInterrupt(f"signal {signum}")

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._saved_handlers[sig] = signal.signal(sig, interrupt)

    def _restore_signals(self) -> None:
        for sig, handler in self._saved_handlers.items():
            signal.signal(sig, handler)
        self._saved_handlers.clear()


def _toxic(kind: str, type_: str, stream: str, **attributes) -> dict:
    return {"name": f"{TOXIC_PREFIX}{kind}.{stream}", "type": type_,
            "stream": stream, "attributes": attributes}


class Partition(Fault):
    """The link is cut. `refused`: proxies disabled, so connections are
    reset and new ones refused. `blackhole`: the path drops every packet,
    as most WAN outages do: connections are accepted, but neither bytes nor
    a close cross in either direction until the heal, when what was held is
    delivered in order (TCP retransmits it). Needs the ``blackhole`` toxic
    of edge-refarch's toxiproxy-server
    (validation/faults/toxiproxy-server/blackhole.go, which also says why
    stock toxiproxy's ``timeout`` toxic is not a black hole); raises
    MissingToxic (a ToxiproxyError), one line, against a toxiproxy without
    it."""

    def __init__(self, injector, link, mode: str = "refused"):
        if mode not in ("refused", "blackhole"):
            raise BadInput(f"partition mode must be refused or blackhole "
                           f"(got {mode!r})")
        self.mode = mode
        self.kind = f"partition-{mode}"
        super().__init__(injector, link)

    def disables(self) -> bool:
        return self.mode == "refused"

    def toxics(self) -> list[dict]:
        if self.mode == "refused":
            return []
        return [_toxic(self.kind, "blackhole", s) for s in STREAMS]

    def describe(self) -> str:
        return f"partition ({self.mode})"


class Latency(Fault):
    """Adds `rtt_ms` of round-trip time (half each way), +/- jitter."""

    kind = "latency"

    def __init__(self, injector, link, rtt_ms: float, jitter_ms: float = 0):
        self.rtt_ms = _check("latency (ms)", rtt_ms, 0, MAX_LATENCY_MS)
        self.jitter_ms = _check("jitter (ms)", jitter_ms, 0, MAX_LATENCY_MS)
        if self.jitter_ms > self.rtt_ms:
            raise BadInput(f"jitter ({self.jitter_ms:g} ms) must not exceed "
                           f"the latency ({self.rtt_ms:g} ms)")
        super().__init__(injector, link)

    def split(self) -> tuple[int, int]:
        """Whole milliseconds (upstream, downstream) to ask toxiproxy for.

        toxiproxy takes whole milliseconds per direction and overshoots by
        the injector's calibrated ``latency_overshoot_ms`` (see
        ``probe.latency_overshoot_ms``): ask for the RTT minus that
        overshoot, split as evenly as whole milliseconds allow.
        """
        if self.rtt_ms == 0:
            return 0, 0
        total = int(round(max(0.0, self.rtt_ms
                              - self.injector.latency_overshoot_ms)))
        if self.rtt_ms >= 1:
            total = max(total, 1)    # a latency asked for is never a no-op
        return (total + 1) // 2, total // 2

    def toxics(self) -> list[dict]:
        jitter = int(round(self.jitter_ms / 2))
        return [_toxic(self.kind, "latency", s, latency=ms, jitter=jitter)
                for s, ms in zip(STREAMS, self.split(), strict=True)]

    def describe(self) -> str:
        return f"latency +{self.rtt_ms:g} ms RTT (jitter {self.jitter_ms:g})"


class Bandwidth(Fault):
    """Limits each direction of every connection to `kbps` kilobit/s."""

    kind = "bandwidth"

    def __init__(self, injector, link, kbps: float):
        self.kbps = _check("bandwidth (kbit/s)", kbps, 8, MAX_KBPS)
        super().__init__(injector, link)

    def toxics(self) -> list[dict]:
        # toxiproxy's rate is in KB/s (kilobytes).
        rate = max(1, int(round(self.kbps / 8)))
        return [_toxic(self.kind, "bandwidth", s, rate=rate)
                for s in STREAMS]

    def describe(self) -> str:
        return f"bandwidth {self.kbps:g} kbit/s"


class SlowClose(Fault):
    kind = "slow-close"

    def __init__(self, injector, link, delay_ms: float):
        self.delay_ms = _check("delay (ms)", delay_ms, 0, MAX_LATENCY_MS)
        super().__init__(injector, link)

    def toxics(self) -> list[dict]:
        return [_toxic(self.kind, "slow_close", s,
                       delay=int(self.delay_ms)) for s in STREAMS]


class ResetAfter(Fault):
    """Closes every connection once `nbytes` have flowed downstream."""

    kind = "reset-after"

    def __init__(self, injector, link, nbytes: int):
        self.nbytes = int(_check("bytes", nbytes, 1, MAX_BYTES))
        super().__init__(injector, link)

    def toxics(self) -> list[dict]:
        return [_toxic(self.kind, "limit_data", "downstream",
                       bytes=self.nbytes)]


class Profile(Fault):
    """A named WAN profile: the model's defaults for the link's class."""

    kind = "profile"

    def __init__(self, injector, link, rtt_ms, jitter_ms, kbps):
        self.parts = [
            Latency(injector, link, rtt_ms, jitter_ms),
            Bandwidth(injector, link, kbps),
        ]
        super().__init__(injector, link)

    def toxics(self) -> list[dict]:
        return [t for part in self.parts for t in part.toxics()]

    def describe(self) -> str:
        return " + ".join(p.describe() for p in self.parts)


class Flap(Fault):
    """The link goes down for `down_s`, up for `up_s`, repeatedly."""

    kind = "flap"

    def __init__(self, injector, link, down_s: float, up_s: float,
                 mode: str = "refused"):
        self.down_s = _check("down (s)", down_s, 0.05, MAX_DURATION_S)
        self.up_s = _check("up (s)", up_s, 0.05, MAX_DURATION_S)
        self.partition = Partition(injector, link, mode)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cycles = 0
        super().__init__(injector, link)

    def disables(self) -> bool:
        return self.partition.disables()

    def toxics(self) -> list[dict]:
        return self.partition.toxics()

    def apply(self) -> None:
        self.record()
        self.active = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"flap-{self.link}")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.partition.apply()
            self.cycles += 1
            self._stop.wait(self.down_s)
            self.partition.remove()
            self._stop.wait(self.up_s)

    def remove(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.partition.remove()
        self.injector.ledger.forget(self.fault_id)
        self.active = False

    def describe(self) -> str:
        return f"flap (down {self.down_s:g} s, up {self.up_s:g} s)"


class FaultInjector:
    """Faults on the links of one toxiproxy."""

    def __init__(self, toxiproxy: Toxiproxy, links: Links,
                 state_dir: Path, heal_leftovers: bool = True,
                 latency_overshoot_ms: float = 0.0):
        self.toxiproxy = toxiproxy
        self.links = links
        # What toxiproxy's latency toxic adds beyond what it is asked for,
        # measured on its machine (probe.latency_overshoot_ms); 0 when
        # unknown.
        self.latency_overshoot_ms = _check(
            "latency overshoot (ms)", latency_overshoot_ms, 0, 10)
        key = hashlib.sha256(toxiproxy.url.encode()).hexdigest()[:8]
        self.ledger = Ledger(Path(state_dir) / f"faults-{key}")
        if heal_leftovers:
            self.heal_leftovers()

    # -- faults --------------------------------------------------------------
    def partition(self, link: str, mode: str = "refused") -> Partition:
        return Partition(self, link, mode)

    def latency(self, link: str, rtt_ms: float,
                jitter_ms: float = 0) -> Latency:
        return Latency(self, link, rtt_ms, jitter_ms)

    def bandwidth(self, link: str, kbps: float) -> Bandwidth:
        return Bandwidth(self, link, kbps)

    def slow_close(self, link: str, delay_ms: float) -> SlowClose:
        return SlowClose(self, link, delay_ms)

    def reset_after(self, link: str, nbytes: int) -> ResetAfter:
        return ResetAfter(self, link, nbytes)

    def flap(self, link: str, down_s: float, up_s: float,
             mode: str = "refused") -> Flap:
        return Flap(self, link, down_s, up_s, mode)

    def profile(self, link: str, link_class) -> Profile:
        """The WAN profile of a model link class (its tier defaults)."""
        return Profile(self, link, link_class.latency_ms * 2,
                       link_class.jitter_ms * 2,
                       link_class.bandwidth_mbit * 1000)

    # -- inspection and healing ----------------------------------------------
    def state(self) -> dict[str, dict]:
        """link -> {disabled: [...], toxics: [...], owners: [...]}."""
        live = self.toxiproxy.proxies()
        entries = self.ledger.entries()
        out = {}
        for link, proxies in self.links.mapping.items():
            disabled = [p for p in proxies
                        if p in live and not live[p]["enabled"]]
            toxics = sorted({t["name"] for p in proxies if p in live
                             for t in live[p].get("toxics") or []
                             if t["name"].startswith(TOXIC_PREFIX)})
            owners = [{"fault": fid, "pid": e["pid"],
                       "alive": Ledger.owner_alive(e)}
                      for fid, e in entries.items() if e["link"] == link]
            out[link] = {"proxies": proxies, "disabled": disabled,
                         "toxics": toxics, "owners": owners}
        return out

    def heal(self, link: str | None = None, force: bool = True) -> int:
        """Remove this project's toxics and re-enable proxies.

        On `link`, or on every link. Unless `force`, faults whose owner is
        still alive are left alone. Returns the number of changes made.
        """
        links = [link] if link else list(self.links.mapping)
        for name in links:
            self.links.proxies(name)   # unknown link: one-line error
        entries = self.ledger.entries()
        held = set()
        if not force:
            for e in entries.values():
                if Ledger.owner_alive(e):
                    held.update((p, t) for p in e["proxies"]
                                for t in e["toxics"])
                    if e["disables"]:
                        held.update((p, None) for p in e["proxies"])
        live = self.toxiproxy.proxies()
        changes = 0
        for name in links:
            for proxy in self.links.proxies(name):
                info = live.get(proxy)
                if info is None:
                    continue
                for t in info.get("toxics") or []:
                    if t["name"].startswith(TOXIC_PREFIX) \
                            and (proxy, t["name"]) not in held:
                        self.toxiproxy.remove_toxic(proxy, t["name"])
                        changes += 1
                if not info["enabled"] and (proxy, None) not in held:
                    self.toxiproxy.set_enabled(proxy, True)
                    changes += 1
        for fid, e in entries.items():
            if e["link"] in links and (force
                                       or not Ledger.owner_alive(e)):
                self.ledger.forget(fid)
        return changes

    def heal_leftovers(self) -> int:
        """Remove faults whose owner died; keep those held by live ones."""
        return self.heal(force=False)

    # -- traffic counters -------------------------------------------------
    def counters(self) -> dict[str, dict[str, int]]:
        """link -> {"sent": bytes, "received": bytes} from toxiproxy's
        proxy metrics (server started with -proxy-metrics)."""
        totals: dict[str, dict[str, int]] = {
            link: {"sent": 0, "received": 0} for link in self.links.mapping}
        owner = {p: link for link, ps in self.links.mapping.items()
                 for p in ps}
        for name, labels, value in _parse_metrics(self.toxiproxy.metrics()):
            if name == "toxiproxy_proxy_sent_bytes_total":
                key = "sent"
            elif name == "toxiproxy_proxy_received_bytes_total":
                key = "received"
            else:
                continue
            link = owner.get(labels.get("proxy", ""))
            if link is not None:
                totals[link][key] += int(value)
        return totals

    @contextlib.contextmanager
    def measure(self, link: str) -> Iterator[dict[str, int]]:
        """Bytes that crossed `link` during the block."""
        self.links.proxies(link)
        before = self.counters()[link]
        result = {"sent": 0, "received": 0}
        yield result
        after = self.counters()[link]
        result.update({k: after[k] - before[k] for k in result})


def _parse_metrics(text: str):
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, rest = head.partition("{")
        labels = {}
        for part in rest.rstrip("}").split(","):
            if "=" in part:
                k, v = part.split("=", 1)
                labels[k.strip()] = v.strip().strip('"')
        try:
            yield name, labels, float(value)
        except ValueError:
            continue


def wait_until(deadline_s: float) -> None:
    """Sleep until a monotonic deadline (used by --for)."""
    while True:
        left = deadline_s - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.5))
