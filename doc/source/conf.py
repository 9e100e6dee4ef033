"""Sphinx configuration of the edge-refarch site."""

import sys
from pathlib import Path

from edge_refarch.validation.docs import install as docs_install

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "edge-refarch"
copyright = "edge-refarch contributors"
extensions = [
    "openstackdocstheme",
    "edge_refarch_docs",
    "sphinxcontrib.mermaid",
    "oslo_config.sphinxext",
]
exclude_patterns = ["_generated/conformance/*.rst"]
# OpenStack's documentation theme, as our readers know it from
# docs.openstack.org, made to stand alone and work offline: no analytics
# tag, no badge, and _templates/ replaces the parts that reach
# openstack.org (header menus and global-search script, release menu,
# footer, licence notice).
html_theme = "openstackdocs"
html_theme_options = {"analytics_tracking_code": "",
                      "display_badge": False,
                      "show_other_versions": False}
templates_path = ["_templates"]
openstackdocs_auto_name = False
openstackdocs_auto_version = False
html_static_path = ["_static"]
html_css_files = ["edge-refarch.css"]

# Mermaid diagrams are rendered to SVG at build time by mermaid-cli (mmdc)
# driving Debian's chromium: the site needs no CDN and works offline.
# 'edge-refarch docs install' installs mmdc and writes its configuration;
# the build only reads them (and says to run the install when missing).
mermaid_cmd, _puppeteer, mermaid_sequence_config = \
    docs_install.mermaid_args()
mermaid_output_format = "svg"
mermaid_params = [*_puppeteer, "-b", "white"]
mermaid_cmd_shell = "False"
