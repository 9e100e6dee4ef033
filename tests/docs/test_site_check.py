"""The site check measures diagram labels in a real Chromium: a label
that renders below 9 CSS px at a 1280 px window, or a raster diagram,
fails the check."""

from __future__ import annotations

import json

import pytest

from edge_refarch.validation.docs.check import MIN_LABEL_PX, check
from edge_refarch.validation.errors import UserError


def _svg(view_width: int, font: int, text: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{view_width}" '
            f'height="100" viewBox="0 0 {view_width} 100"><text x="10" '
            f'y="50" font-size="{font}">{text}</text></svg>')


def _site(tmp_path, svg: str | None = None, png: bytes | None = None):
    build = tmp_path / "html"
    (build / "_images").mkdir(parents=True)
    body = ""
    if svg is not None:
        (build / "_images" / "diagram.svg").write_text(svg)
        body += '<img src="_images/diagram.svg" style="max-width:800px">'
    if png is not None:
        (build / "_images" / "diagram.png").write_bytes(png)
        body += '<img src="_images/diagram.png">'
    (build / "index.html").write_text(
        f"<!DOCTYPE html><html><body>{body}</body></html>")
    return build


def test_a_label_scaled_below_the_minimum_fails(tmp_path):
    # 4000 user units shown in 800 CSS px: a 20-unit font renders at 4 px.
    build = _site(tmp_path, _svg(4000, 20, "dc-edge1 40 ms RTT"))
    with pytest.raises(UserError) as err:
        check(build, tmp_path / "shots", print)
    assert "'dc-edge1 40 ms RTT' renders at 4.0 CSS px" in str(err.value)


def test_a_legible_label_passes_and_is_recorded(tmp_path):
    # 800 user units in 800 CSS px: the 12-unit font renders at 12 px.
    build = _site(tmp_path, _svg(800, 12, "Keystone"))
    stats = check(build, tmp_path / "shots", print)
    assert stats["labels"] == {"index.html: diagram.svg": [12.0, "Keystone"]}
    saved = json.loads((tmp_path / "shots" / "labels.json").read_text())
    assert saved == stats["labels"]
    assert 12.0 >= MIN_LABEL_PX


def test_a_raster_diagram_fails(tmp_path):
    from PIL import Image
    Image.new("RGB", (40, 20), "white").save(tmp_path / "d.png")
    build = _site(tmp_path, png=(tmp_path / "d.png").read_bytes())
    with pytest.raises(UserError) as err:
        check(build, tmp_path / "shots", print)
    assert "diagram.png is a raster image" in str(err.value)
