"""Image data the suite and the testbed upload.

Glance inspects every upload (``[image_format] require_image_format_match``
and the format inspector of oslo.utils, ``oslo_utils.imageutils.
format_inspector``) and refuses data whose detected format differs from the
declared ``disk_format`` with HTTP 415 "Image failed safety checks". Plain
``os.urandom`` bytes declared ``raw`` trip it once in 65,536 uploads: when
bytes 510-511 happen to be ``55 AA`` the GPT inspector sees an MBR (and its
partition table fails the safety check). Every format the inspector knows is
recognised by a signature in the first 64 KiB (ISO 9660 and UDF at 32,769
and later; QCOW2, QED, VHD, VHDX, VMDK, LUKS at 0; VDI at 0x40; MBR at 510),
so data whose first 64 KiB are zeros is raw to every inspector.
"""

from __future__ import annotations

import os

# Bytes at the start of an image that carry no data (the signature span of
# every format oslo.utils' inspector knows; see the module docstring).
SIGNATURE_SPAN = 64 * 1024


def raw_image(size: int) -> bytes:
    """`size` bytes (int >= 0) of image data that every format inspector
    reads as ``raw``: zeros over the signature span, random after it (so two
    images never share a checksum once `size` exceeds the span)."""
    if size < 0:
        raise ValueError(f"image size {size} < 0")
    head = min(size, SIGNATURE_SPAN)
    return bytes(head) + os.urandom(size - head)
