"""What the docs build and its browser check need: graphviz and chromium
(Debian), mermaid-cli (npm, with the browser download skipped: it drives
Debian's chromium) and mermaid-cli's configuration.

Everything is written by the install step (``edge-refarch docs install``),
never as a side effect of a build: the Sphinx configuration and the docs
tests only read it, through :func:`mermaid_args`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from edge_refarch.validation import paths
from edge_refarch.validation.errors import UserError
from edge_refarch.validation.testbed import deps
from edge_refarch.validation.testbed.procs import run_tool

MERMAID_CLI = "@mermaid-js/mermaid-cli@11.17.0"
# Debian's chromium (bindep profile 'browser'); root needs --no-sandbox.
CHROMIUM = "/usr/bin/chromium"
PUPPETEER = {
    "executablePath": CHROMIUM,
    "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--headless=new", "--disable-background-networking"]}
# Without useMaxWidth: false an SVG stretches to the page's width.
# Sequence diagrams wrap their messages and keep actors close, so that a
# flow fits the text column (about 820 CSS px) with labels that read: the
# site check measures them (>= 9 CSS px). Mermaid's sequence options:
# https://mermaid.js.org/config/schema-docs/config-defs-sequence-diagram-config.html
MERMAID = {"sequence": {"useMaxWidth": False, "wrap": True, "width": 130,
                        "actorMargin": 24, "messageMargin": 30,
                        "boxMargin": 8, "noteMargin": 8,
                        "messageFontSize": 15, "noteFontSize": 14,
                        "actorFontSize": 15},
           "flowchart": {"useMaxWidth": False}, "theme": "neutral"}


def node_dir() -> Path:
    return paths.cache_dir() / "node"


def mmdc_path() -> Path:
    """mermaid-cli's mmdc ($EDGE_REFARCH_MMDC, or the project's cache)."""
    override = os.environ.get("EDGE_REFARCH_MMDC")
    return Path(override) if override else \
        node_dir() / "node_modules" / ".bin" / "mmdc"


def _mermaid_config_name() -> str:
    # Named after its content: sphinxcontrib-mermaid keys its rendered SVGs
    # on the diagram and the config file's name, so a changed MERMAID
    # renders anew instead of reusing an old build's SVG.
    digest = hashlib.sha256(json.dumps(MERMAID, sort_keys=True).encode())
    return f"mermaid-{digest.hexdigest()[:12]}.json"


def mermaid_args() -> tuple[str, list[str], str]:
    """(mmdc path, its puppeteer arguments ``-p puppeteer.json``, the
    mermaid configuration file), as the install step wrote them.

    Raises UserError when the install step has not run.
    """
    mmdc = mmdc_path()
    cfg = node_dir() / "puppeteer.json", node_dir() / _mermaid_config_name()
    missing = [str(p) for p in (mmdc, *cfg) if not p.exists()]
    if missing:
        raise UserError(f"{missing[0]} is missing: run 'edge-refarch docs "
                        "install' first")
    return str(mmdc), ["-p", str(cfg[0])], str(cfg[1])


def write_config() -> None:
    """mermaid-cli's puppeteer and mermaid configuration files."""
    node_dir().mkdir(parents=True, exist_ok=True)
    for name, data in (("puppeteer.json", PUPPETEER),
                       (_mermaid_config_name(), MERMAID)):
        (node_dir() / name).write_text(json.dumps(data, indent=1) + "\n")


def install_mermaid_cli(say) -> Path:
    """npm-install mermaid-cli into the cache (once); returns mmdc.

    Raises UserError, one line, when npm is missing or fails (its own
    line that says why: a TLS or proxy error, an unknown package...).
    """
    mmdc = mmdc_path()
    if mmdc.exists():
        return mmdc
    npm = shutil.which("npm")
    if npm is None:
        raise UserError("npm is not installed; it is needed once to install "
                        f"{MERMAID_CLI} (install Node.js 20 or later)")
    say(f"installing {MERMAID_CLI} with npm (first time, ~30 s)")
    node_dir().mkdir(parents=True, exist_ok=True)
    run_tool([npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
              "--prefix", str(node_dir()), MERMAID_CLI],
             f"npm install {MERMAID_CLI}", timeout=deps.INSTALL_TIMEOUT_S,
             log=paths.cache_dir() / "logs" / "npm-mermaid.log",
             env={"PUPPETEER_SKIP_DOWNLOAD": "1"})
    if not mmdc.exists():
        raise UserError(f"npm installed {MERMAID_CLI} but {mmdc} is missing")
    os.chmod(mmdc, 0o755)
    return mmdc


def ensure(say) -> Path:
    """Debian packages, mermaid-cli and its configuration; returns mmdc."""
    deps.ensure_packages("docs", say)
    deps.ensure_packages("browser", say)
    mmdc = install_mermaid_cli(say)
    write_config()
    if not os.access(CHROMIUM, os.X_OK):
        raise UserError(f"{CHROMIUM} not found: install the Debian package "
                        "chromium ('edge-refarch docs install' does it when "
                        "run as root)")
    return mmdc
