"""What the docs build and its browser check need: graphviz and chromium
(Debian), mermaid-cli (npm, with the browser download skipped: it drives
Debian's chromium)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from edge_refarch.validation import paths
from edge_refarch.validation.errors import UserError
from edge_refarch.validation.testbed import deps

MERMAID_CLI = "@mermaid-js/mermaid-cli@11.17.0"


def mmdc_path() -> Path:
    return paths.cache_dir() / "node" / "node_modules" / ".bin" / "mmdc"


def ensure(say) -> Path:
    deps.ensure_packages("docs", say)
    deps.ensure_packages("browser", say)
    mmdc = mmdc_path()
    if mmdc.exists():
        return mmdc
    npm = shutil.which("npm")
    if npm is None:
        raise UserError("npm is not installed; it is needed once to install "
                        f"{MERMAID_CLI} (install Node.js 20 or later)")
    say(f"installing {MERMAID_CLI} with npm (first time, ~30 s)")
    node_dir = mmdc.parents[2]
    node_dir.mkdir(parents=True, exist_ok=True)
    deps._run([npm, "install", "--no-audit", "--no-fund", "--silent",
               "--prefix", str(node_dir), MERMAID_CLI],
              f"npm install {MERMAID_CLI}",
              paths.cache_dir() / "logs" / "npm-mermaid.log",
              {"PUPPETEER_SKIP_DOWNLOAD": "1"})
    if not mmdc.exists():
        raise UserError(f"npm installed {MERMAID_CLI} but {mmdc} is missing")
    os.chmod(mmdc, 0o755)
    return mmdc
