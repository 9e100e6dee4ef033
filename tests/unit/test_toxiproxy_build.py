"""The toxiproxy-server build's inputs: the pinned release comes from the
model, and a change to the release or to our Go sources is a new build."""

from __future__ import annotations

from edge_refarch.architecture import load_model
from edge_refarch.validation.testbed import deps


def test_go_mod_requires_the_models_release():
    version = load_model().testbed.toxiproxy_version
    mod = deps._go_mod(version)
    assert f"require {deps.TOXIPROXY_MODULE} {version}\n" in mod
    assert mod.startswith(f"module {deps.TOXIPROXY_BUILD_MODULE}\n")


def test_build_id_follows_release_and_sources(monkeypatch, tmp_path):
    src = tmp_path / deps.TOXIPROXY_SOURCE
    src.mkdir(parents=True)
    (src / "blackhole.go").write_text("package main\n")
    monkeypatch.setattr(deps, "_source", lambda: tmp_path)
    first = deps._toxiproxy_build_id("v2.12.0")
    assert first.startswith("v2.12.0-")
    assert deps._toxiproxy_build_id("v2.12.0") == first
    assert deps._toxiproxy_build_id("v2.13.0") != first
    (src / "blackhole.go").write_text("package main\n// changed\n")
    assert deps._toxiproxy_build_id("v2.12.0") != first


def test_the_blackhole_sources_are_in_the_tree():
    names = {p.name for p in deps._toxiproxy_sources()}
    assert {"blackhole.go", "main.go"} <= names


def test_a_stopped_builds_read_only_copy_is_removed(tmp_path):
    # What an interrupted copy of the module cache leaves: read-only
    # directories (as non-root, rmtree alone cannot empty them).
    tmp = tmp_path / "v2.12.0-abc.tmp"
    module = tmp / "src" / "toxiproxy" / "toxics"
    module.mkdir(parents=True)
    (module / "noop.go").write_text("package toxics\n")
    for d in (module, module.parent):
        d.chmod(0o555)
    deps._remove_build(tmp)
    assert not tmp.exists()
    deps._remove_build(tmp)             # nothing left to remove is fine
