"""A report names the suite that wrote it: the version and, from a
checkout, the commit (and whether it was modified)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from edge_refarch.validation.conformance import report


def test_the_version_names_the_commit_of_a_checkout():
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                          cwd=Path(__file__).parent, capture_output=True,
                          text=True).stdout.strip()
    version = report.suite_version()
    assert re.fullmatch(rf"\d+\.\d+\.\d+ \(git {head}(, modified)?\)",
                        version), version
    assert not version.startswith("0.0.0")
