"""The topology diagram follows the model with no other edit."""

from __future__ import annotations

import yaml
from PIL import Image

from edge_refarch.architecture import DEFAULT_MODEL_PATH, load_model
from edge_refarch.architecture.diagrams.topology import render


def _render(tmp_path, name, mutate=None):
    raw = yaml.safe_load(DEFAULT_MODEL_PATH.read_text())
    if mutate:
        mutate(raw)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return render(load_model(path), "distributed", tmp_path / name)


def test_adding_a_site_changes_the_topology(tmp_path):
    base = _render(tmp_path, "base")

    def three_edges(raw):
        raw["topology"]["sites"][1]["count"] = 3
    more = _render(tmp_path, "more", three_edges)
    assert base.read_bytes() != more.read_bytes()
    assert Image.open(more).size[0] > Image.open(base).size[0]


def test_adding_a_service_changes_the_topology(tmp_path):
    base = _render(tmp_path, "base")

    def no_edge_glance(raw):
        raw["deployment_models"]["distributed"]["sites"]["edge"].remove(
            "glance")
    fewer = _render(tmp_path, "fewer", no_edge_glance)
    assert base.read_bytes() != fewer.read_bytes()
    assert Image.open(fewer).size[0] < Image.open(base).size[0]
