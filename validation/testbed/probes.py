"""Health probes: every probe has its own timeout; waits poll to a deadline."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import requests

from edge_refarch.validation.errors import UserError


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port and we could bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class NotYet:
    """A failed probe that says why: false in a boolean context, and the
    reason a wait that times out reports (for example ``GET
    http://127.0.0.3:5000/v3: 503``)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"NotYet({self.reason!r})"


def http_ok(url: str, timeout: float, **kwargs) -> bool | NotYet:
    """True when GET `url` answers below 400 within `timeout` seconds;
    else a NotYet naming the status or the transport error. `kwargs` go
    to requests (headers, for example)."""
    try:
        r = requests.get(url, timeout=timeout, allow_redirects=False,
                         **kwargs)
    except requests.RequestException as exc:
        return NotYet(f"GET {url}: {type(exc).__name__}")
    if r.status_code >= 400:
        return NotYet(f"GET {url}: {r.status_code}")
    return True


def wait_for(what: str, check: Callable[[], bool | NotYet], deadline: float,
             interval: float = 0.2,
             alive: Callable[[], bool] | None = None,
             hint: str = "") -> float:
    """Poll `check` until it is true or `deadline` (monotonic) passes.

    `alive` lets a wait fail at once when the process behind it died.
    Returns the seconds waited. Raises UserError when the process exits
    or the deadline passes; the message carries the last probe's reason
    when the check returned a NotYet.
    """
    start = time.monotonic()
    see = f"; see {hint}" if hint else ""
    while True:
        result = check()
        if result:
            return time.monotonic() - start
        if alive is not None and not alive():
            raise UserError(f"{what}: the process exited during start-up"
                            f"{see}")
        if time.monotonic() >= deadline:
            last = (f" (last probe: {result.reason})"
                    if isinstance(result, NotYet) else "")
            raise UserError(f"{what}: not healthy after "
                            f"{time.monotonic() - start:.0f} s{last}{see}")
        time.sleep(interval)
