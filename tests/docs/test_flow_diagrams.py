"""Every Mermaid flow renders (sphinxcontrib-mermaid drops a diagram that
does not, without a warning: the page just ends where it should be)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

FLOWS = sorted((Path(__file__).resolve().parents[2] / "architecture" /
                "diagrams" / "flows").glob("*.mmd"))
NODE = Path(os.environ.get("EDGE_REFARCH_CACHE")
            or Path.home() / ".cache" / "edge-refarch") / "node"
MMDC = Path(os.environ.get("EDGE_REFARCH_MMDC")
            or NODE / "node_modules" / ".bin" / "mmdc")


def test_there_are_flows():
    assert len(FLOWS) >= 5


@pytest.mark.parametrize("flow", FLOWS, ids=[f.stem for f in FLOWS])
def test_flow_renders(flow, tmp_path):
    assert MMDC.exists(), f"{MMDC} missing: run 'edge-refarch docs install'"
    out = tmp_path / f"{flow.stem}.svg"
    args = [str(MMDC), "-i", str(flow), "-o", str(out)]
    if (NODE / "puppeteer.json").exists():
        args += ["-p", str(NODE / "puppeteer.json")]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    said = [ln for ln in (proc.stderr + proc.stdout).splitlines()
            if "Error" in ln or "error" in ln]
    assert proc.returncode == 0 and out.exists(), \
        f"{flow.name}: {said[:3] or proc.returncode}"
    assert "<svg" in out.read_text()[:2000]
