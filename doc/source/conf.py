"""Sphinx configuration of the edge-refarch site."""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "edge-refarch"
copyright = "edge-refarch contributors"
extensions = [
    "edge_refarch_docs",
    "sphinxcontrib.mermaid",
    "oslo_config.sphinxext",
]
exclude_patterns = ["_generated/conformance/*.rst"]
html_theme = "alabaster"
html_static_path = ["_static"]
html_css_files = ["edge-refarch.css"]
html_theme_options = {"page_width": "1100px", "sidebar_width": "230px"}

# Mermaid diagrams are rendered to SVG at build time by mermaid-cli (mmdc)
# driving Debian's chromium: the site needs no CDN and works offline.
# 'edge-refarch docs install' puts mmdc into the project's cache.
_cache = Path(os.environ.get("EDGE_REFARCH_CACHE")
              or Path.home() / ".cache" / "edge-refarch")
mermaid_cmd = os.environ.get("EDGE_REFARCH_MMDC") or str(
    _cache / "node" / "node_modules" / ".bin" / "mmdc")
_puppeteer = _cache / "node" / "puppeteer.json"
_mermaid_cfg = _cache / "node" / "mermaid.json"
_puppeteer.parent.mkdir(parents=True, exist_ok=True)
_puppeteer.write_text(json.dumps({
    "executablePath": "/usr/bin/chromium",
    "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--headless=new", "--disable-background-networking"]}))
_mermaid_cfg.write_text(json.dumps({
    "sequence": {"useMaxWidth": False}, "flowchart": {"useMaxWidth": False},
    "theme": "neutral"}))
mermaid_output_format = "svg"
mermaid_params = ["-p", str(_puppeteer), "-c", str(_mermaid_cfg),
                  "-b", "white"]
mermaid_cmd_shell = "False"
