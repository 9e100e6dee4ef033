"""The suite's test images are raw to Glance's format inspector (the one
oslo.utils ships and Glance runs on every upload), whatever their random
bytes; plain random bytes are not."""

from __future__ import annotations

import os

import pytest
from oslo_utils.imageutils import format_inspector

from edge_refarch.validation.images import SIGNATURE_SPAN, raw_image


def _detect(tmp_path, data: bytes) -> str:
    path = tmp_path / "image"
    path.write_bytes(data)
    found = format_inspector.detect_file_format(str(path))
    return found.NAME if found else "unknown"


def test_random_bytes_with_an_mbr_signature_are_not_raw(tmp_path):
    """The flake the suite had: os.urandom data declared raw whose bytes
    510-511 happen to be 55 AA (1 in 65,536) is an MBR to the inspector."""
    data = bytearray(os.urandom(2 << 20))
    data[510:512] = b"\x55\xaa"
    assert _detect(tmp_path, bytes(data)) == "gpt"


@pytest.mark.parametrize("size", [0, 1, 511, 512, SIGNATURE_SPAN,
                                  SIGNATURE_SPAN + 1, 2 << 20])
def test_test_images_are_raw(tmp_path, size):
    data = raw_image(size)
    assert len(data) == size
    assert _detect(tmp_path, data) == "raw"


def test_test_images_are_raw_whatever_their_random_bytes(tmp_path):
    for _ in range(200):
        assert _detect(tmp_path, raw_image(96 * 1024)) == "raw"


def test_test_images_differ():
    assert raw_image(SIGNATURE_SPAN + 64) != raw_image(SIGNATURE_SPAN + 64)


def test_negative_size():
    with pytest.raises(ValueError):
        raw_image(-1)
