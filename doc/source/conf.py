"""Sphinx configuration of the edge-refarch site."""

import sys
from pathlib import Path

from edge_refarch.validation.docs import install as docs_install

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
# 'edge-refarch docs install' installs mmdc and writes its configuration;
# the build only reads them (and says to run the install when missing).
mermaid_cmd, _mermaid_config = docs_install.mermaid_args()
mermaid_output_format = "svg"
mermaid_params = [*_mermaid_config, "-b", "white"]
mermaid_cmd_shell = "False"
