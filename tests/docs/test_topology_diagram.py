"""The diagrams follow the model with no other edit."""

from __future__ import annotations

import re

import yaml

from edge_refarch.architecture import DEFAULT_MODEL_PATH, load_model
from edge_refarch.architecture.diagrams.topology import render, render_overview


def _model(tmp_path, name, mutate=None):
    raw = yaml.safe_load(DEFAULT_MODEL_PATH.read_text())
    if mutate:
        mutate(raw)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_model(path)


def _render(tmp_path, name, mutate=None, deployment="distributed"):
    return render(_model(tmp_path, name, mutate), deployment,
                  tmp_path / name)


def _size(svg_path) -> tuple[float, float]:
    """(width, height) in pt, as graphviz writes them on the <svg>."""
    m = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"',
                  svg_path.read_text())
    assert m, "not a graphviz SVG"
    return float(m.group(1)), float(m.group(2))


def _labels(svg_path) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg_path.read_text())


def test_adding_a_site_changes_the_topology(tmp_path):
    base = _render(tmp_path, "base")

    def three_edges(raw):
        raw["topology"]["sites"][1]["count"] = 3
    more = _render(tmp_path, "more", three_edges)
    assert "edge3" in _labels(more) and "edge3" not in _labels(base)
    assert _size(more)[0] > _size(base)[0]


def test_adding_a_service_changes_the_topology(tmp_path):
    base = _render(tmp_path, "base")

    def no_edge_glance(raw):
        raw["deployment_models"]["distributed"]["sites"]["edge"].remove(
            "glance")
    fewer = _render(tmp_path, "fewer", no_edge_glance)
    assert _labels(base).count("Glance") == 3      # dc, edge1, edge2
    assert _labels(fewer).count("Glance") == 1     # dc only
    assert _size(fewer)[1] < _size(base)[1]


def test_links_carry_the_model_defaults(tmp_path):
    def slower(raw):
        raw["links"]["dc-edge"]["latency_ms"] = 75
    labels = " ".join(_labels(_render(tmp_path, "slow", slower)))
    assert "150 ms RTT" in labels and "40 ms RTT" not in labels


def test_services_the_testbed_leaves_out_are_marked(tmp_path):
    # A model may scope a variant's testbed (testbed_services) to, say,
    # the identity plane: the diagram still shows the architecture, and
    # says what is absent.
    def identity_plane(raw):
        raw["deployment_models"]["federated"]["testbed_services"] = [
            "mariadb", "memcached", "keystone"]
    labels = _labels(_render(tmp_path, "fed", identity_plane,
                             deployment="federated"))
    assert "Glance *" in labels and "Keystone" in labels
    assert any("not deployed by the embedded testbed" in t for t in labels)
    # The shipped model's testbed deploys every variant whole.
    for name in ("federated", "distributed"):
        plain = _labels(_render(tmp_path, f"{name}-shipped",
                                deployment=name))
        assert "Glance *" not in plain
        assert not any("not deployed by the embedded testbed" in t
                       for t in plain)


def test_overview_states_what_a_cut_off_edge_keeps(tmp_path):
    def distributed_loses_images(raw):
        raw["deployment_models"]["distributed"]["partition"]["during"][
            "image_list_at_edge"] = "fails_fast"
    base = " ".join(_labels(render_overview(_model(tmp_path, "b"),
                                            tmp_path / "b")))
    changed = " ".join(_labels(render_overview(
        _model(tmp_path, "c", distributed_loses_images), tmp_path / "c")))
    assert "Centralized control plane" in base
    assert "Distributed control plane" in base
    assert "budget 100 ms" in base and "budget 150 ms" in base
    assert base != changed
