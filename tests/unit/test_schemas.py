"""Prepared databases: sync once, then load the dump."""

from __future__ import annotations

from edge_refarch.validation.testbed import schemas as schemas_mod


class _Db:
    """Records what the cache asks of a database server."""

    def __init__(self):
        self.calls = []

    def dump(self, name, path):
        self.calls.append(("dump", name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"-- {name}\n")

    def load(self, name, path):
        self.calls.append(("load", name, path.read_text()))


def test_sync_once_then_load(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_REFARCH_CACHE", str(tmp_path))
    cache = schemas_mod.Schemas("k1")
    synced = []
    first, second = _Db(), _Db()
    assert cache.prepare(first, "heat", lambda: synced.append(1)) is False
    assert cache.prepare(second, "heat", lambda: synced.append(2)) is True
    assert synced == [1]
    assert first.calls == [("dump", "heat")]
    assert second.calls == [("load", "heat", "-- heat\n")]


def test_other_pins_do_not_share(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_REFARCH_CACHE", str(tmp_path))
    schemas_mod.Schemas("k1").prepare(_Db(), "heat", lambda: None)
    assert not schemas_mod.Schemas("k2").cached("heat")
    assert schemas_mod.Schemas("k1").cached("heat")
