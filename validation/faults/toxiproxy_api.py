"""A toxiproxy client with timeouts and one-line errors.

Built on the `toxiproxy-python` client. That client is small and old: its
server address is class-level state, its HTTP calls have no timeout, and it
raises bare exceptions carrying the raw response body. This wrapper binds the
address per call (under a lock), gives every HTTP call a timeout, and turns
every failure into a :class:`ToxiproxyError` that says what to do. The REST API
is called directly only where the client has no call for the job (metrics),
and each such place says so.
"""

from __future__ import annotations

import threading
import urllib.parse
from typing import Any

import requests
import toxiproxy.api as _tp_api
from toxiproxy import exceptions as _tp_exc
from toxiproxy.proxy import Proxy as _TpProxy
from toxiproxy.server import Toxiproxy as _TpServer

from edge_refarch.validation.errors import UserError

DEFAULT_TIMEOUT = 5.0

# The port a URL means when it names none (RFC 9110, sections 4.2.1-2).
DEFAULT_PORTS = {"http": 80, "https": 443}


def hostport(url: str) -> str:
    """``host:port`` of an http(s) `url`, as toxiproxy names a proxy's
    listen and upstream addresses: the scheme's default port filled in
    where the URL leaves it out (a devstack catalog: ``http://HOST/image``;
    80 for a scheme other than https)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    return f"{parts.hostname}:{port}"


_lock = threading.RLock()
_current_timeout = DEFAULT_TIMEOUT


class _TimedRequests:
    """Stands in for `requests` inside toxiproxy.api: adds the timeout."""

    @staticmethod
    def _call(method, **kwargs):
        kwargs.setdefault("timeout", _current_timeout)
        return getattr(requests, method)(**kwargs)

    def get(self, **kwargs):
        return self._call("get", **kwargs)

    def post(self, **kwargs):
        return self._call("post", **kwargs)

    def delete(self, **kwargs):
        return self._call("delete", **kwargs)


# toxiproxy.api calls requests.get/post/delete(url=..., ...) with no
# timeout; route them through the shim above.
_tp_api.requests = _TimedRequests()


class ToxiproxyError(UserError):
    """Toxiproxy is unreachable, or refused a request (exit code 2: the
    URL or the request is what the operator has to fix)."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message, exit_code)


class Toxiproxy:
    """One toxiproxy server, addressed by its API URL."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT):
        parsed = urllib.parse.urlsplit(url if "//" in url else f"//{url}")
        if parsed.scheme not in ("", "http") or not parsed.hostname \
                or parsed.path not in ("", "/"):
            raise ToxiproxyError(
                f"toxiproxy URL {url!r} is not of the form "
                "http://HOST:PORT", exit_code=2)
        try:
            port = parsed.port or 8474
        except ValueError:
            raise ToxiproxyError(f"toxiproxy URL {url!r} has an invalid "
                                 "port", exit_code=2) from None
        self.host, self.port = parsed.hostname, port
        self.url = f"http://{self.host}:{self.port}"
        self.timeout = timeout

    # -- plumbing -----------------------------------------------------------
    def _run(self, what: str, fn, *args, **kwargs):
        global _current_timeout
        with _lock:
            saved = (_tp_api.APIConsumer.host, _tp_api.APIConsumer.port,
                     _current_timeout)
            _tp_api.APIConsumer.host = self.host
            _tp_api.APIConsumer.port = self.port
            _current_timeout = self.timeout
            try:
                return fn(*args, **kwargs)
            except requests.Timeout:
                raise ToxiproxyError(
                    f"toxiproxy at {self.url} did not answer within "
                    f"{self.timeout:g} s while trying to {what}") from None
            except requests.ConnectionError:
                raise ToxiproxyError(
                    f"toxiproxy at {self.url} is unreachable while trying to "
                    f"{what}; is it running? (the testbed starts it: "
                    "edge-refarch testbed up)") from None
            except _tp_exc.NotFound as exc:
                raise ToxiproxyError(
                    f"toxiproxy at {self.url}: not found while trying to "
                    f"{what}: {_body(exc)}") from None
            except (_tp_exc.ProxyExists, _tp_exc.InvalidToxic) as exc:
                raise ToxiproxyError(
                    f"toxiproxy at {self.url} refused to {what}: "
                    f"{_body(exc)}") from None
            except ValueError:
                raise ToxiproxyError(
                    f"{self.url} does not look like a toxiproxy API (bad "
                    f"answer while trying to {what})") from None
            finally:
                (_tp_api.APIConsumer.host, _tp_api.APIConsumer.port,
                 _current_timeout) = saved

    def _proxy(self, name: str, info: dict[str, Any]) -> _TpProxy:
        return _TpProxy(name=name, upstream=info["upstream"],
                        enabled=info["enabled"], listen=info["listen"])

    # -- server -------------------------------------------------------------
    def version(self) -> str:
        def get():
            try:
                r = _tp_api.APIConsumer.get("/version")
            except _tp_exc.NotFound:
                raise ValueError("no /version") from None
            if r.status_code != 200:
                raise ValueError(f"HTTP {r.status_code}")
            return r.text.strip()
        return self._run("read its version", get)

    def reachable(self) -> bool:
        try:
            self.version()
            return True
        except ToxiproxyError:
            return False

    def proxies(self) -> dict[str, dict[str, Any]]:
        """name -> {listen, upstream, enabled, toxics: [..]}."""
        def get():
            r = _tp_api.APIConsumer.get("/proxies")
            data = r.json()
            if not isinstance(data, dict):
                raise ValueError("not a proxy map")
            return data
        return self._run("list proxies", get)

    # -- proxies ------------------------------------------------------------
    def ensure_proxy(self, name: str, listen: str, upstream: str) -> None:
        """Create the proxy, or recreate it if it differs; leave it enabled
        with no toxics."""
        current = self.proxies().get(name)
        if current and (current["listen"] != listen
                        or current["upstream"] != upstream):
            self.delete_proxy(name)
            current = None
        if current is None:
            self._run(f"create proxy {name} on {listen}",
                      _TpServer().create, upstream=upstream, name=name,
                      listen=listen, enabled=True)
            return
        if not current["enabled"]:
            self.set_enabled(name, True)
        for toxic in current.get("toxics") or []:
            self.remove_toxic(name, toxic["name"])

    def delete_proxy(self, name: str) -> None:
        proxy = self._proxy(name, {"upstream": "", "enabled": True,
                                   "listen": ""})
        self._run(f"delete proxy {name}", proxy.destroy)

    def set_enabled(self, name: str, enabled: bool) -> None:
        proxy = self._proxy(name, {"upstream": "", "enabled": not enabled,
                                   "listen": ""})
        fn = proxy.enable if enabled else proxy.disable
        self._run(f"{'enable' if enabled else 'disable'} proxy {name}", fn)

    # -- toxics -------------------------------------------------------------
    def add_toxic(self, proxy: str, name: str, type: str, stream: str,
                  attributes: dict[str, Any], toxicity: float = 1.0) -> None:
        p = self._proxy(proxy, {"upstream": "", "enabled": True,
                                "listen": ""})
        self._run(f"add toxic {name} to {proxy}", p.add_toxic, name=name,
                  type=type, stream=stream, toxicity=toxicity,
                  attributes=attributes)

    def remove_toxic(self, proxy: str, name: str) -> None:
        p = self._proxy(proxy, {"upstream": "", "enabled": True,
                                "listen": ""})
        self._run(f"remove toxic {name} from {proxy}", p.destroy_toxic,
                  name)

    # -- metrics ------------------------------------------------------------
    def metrics(self) -> str:
        """Prometheus text from GET /metrics.

        Direct REST call: toxiproxy-python has no metrics call.
        """
        def get():
            r = requests.get(f"{self.url}/metrics", timeout=self.timeout)
            r.raise_for_status()
            return r.text
        try:
            return self._run("read metrics", get)
        except requests.HTTPError as exc:
            raise ToxiproxyError(f"toxiproxy at {self.url}: metrics "
                                 f"unavailable ({exc})") from None


def _body(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else ""
    if isinstance(arg, bytes):
        arg = arg.decode(errors="replace")
    return " ".join(str(arg).split())[:120] or type(exc).__name__
