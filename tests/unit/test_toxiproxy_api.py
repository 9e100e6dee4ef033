"""The toxiproxy client wrapper: bad URLs and unreachable servers."""

from __future__ import annotations

import socket

import pytest

from edge_refarch.validation.faults.toxiproxy_api import (
    Toxiproxy,
    ToxiproxyError,
    hostport,
)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:8474", "http://",
                                 "http://127.0.0.1:99999",
                                 "http://127.0.0.1:8474/api"])
def test_bad_url(url):
    with pytest.raises(ToxiproxyError) as exc:
        Toxiproxy(url)
    assert exc.value.exit_code == 2


def test_unreachable_server_is_one_line():
    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tp = Toxiproxy(f"http://127.0.0.1:{port}", timeout=1)
    with pytest.raises(ToxiproxyError, match="unreachable") as exc:
        tp.proxies()
    assert "\n" not in str(exc.value)
    assert not tp.reachable()


def test_silent_server_times_out():
    with socket.socket() as s:   # accepts (backlog) but never answers
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        tp = Toxiproxy(f"http://127.0.0.1:{port}", timeout=0.5)
        with pytest.raises(ToxiproxyError, match="did not answer within"):
            tp.version()


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.1.1:9292/v2", "127.0.1.1:9292"),
    ("http://127.0.1.1/image", "127.0.1.1:80"),          # devstack
    ("https://dc.example/image/v2/", "dc.example:443"),
])
def test_hostport_names_a_url_as_toxiproxy_names_addresses(url, expected):
    assert hostport(url) == expected
