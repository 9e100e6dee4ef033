"""Where the project keeps its state and its reusable installs."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """Reusable between runs and clones: venvs, the toxiproxy binary."""
    base = os.environ.get("EDGE_REFARCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "edge-refarch")
    return Path(base)


def state_dir() -> Path:
    """The running testbed: configs, data, logs, PIDs, clouds.yaml."""
    base = os.environ.get("EDGE_REFARCH_STATE") or os.path.join(
        os.environ.get("XDG_STATE_HOME")
        or os.path.expanduser("~/.local/state"), "edge-refarch", "testbed")
    return Path(base)


def repo_root() -> Path | None:
    """The source checkout, when running from one (editable or tox)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "setup.cfg").exists() and (parent / "bindep.txt") \
                .exists():
            return parent
    return None
