"""Every Mermaid flow renders (sphinxcontrib-mermaid drops a diagram that
does not, without a warning: the page just ends where it should be)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edge_refarch.validation.docs import install

FLOWS = sorted((Path(__file__).resolve().parents[2] / "architecture" /
                "diagrams" / "flows").glob("*.mmd"))


def test_there_are_flows():
    assert len(FLOWS) >= 5


@pytest.mark.parametrize("flow", FLOWS, ids=[f.stem for f in FLOWS])
def test_flow_renders(flow, tmp_path):
    # What the site's build uses: mmdc and the configuration the install
    # step wrote (Debian's chromium); missing, this says to install.
    mmdc, puppeteer, config = install.mermaid_args()
    out = tmp_path / f"{flow.stem}.svg"
    args = [mmdc, *puppeteer, "-c", config, "-i", str(flow), "-o", str(out)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    said = [ln for ln in (proc.stderr + proc.stdout).splitlines()
            if "Error" in ln or "error" in ln]
    assert proc.returncode == 0 and out.exists(), \
        f"{flow.name}: {said[:3] or proc.returncode}"
    assert "<svg" in out.read_text()[:2000]
