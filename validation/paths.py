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


def conformance_dir(name: str) -> Path:
    """A conformance run's working directory, beside the testbed's state:
    `name` is the deployment model (a testbed run), 'cloud' (a run on a
    user's tempest.conf), 'report' or 'cleanup'."""
    return state_dir().parent / "conformance" / name


CLOUD = "cloud"     # conformance_dir of a run on a user's tempest.conf


def shared_dir() -> Path:
    """What an unprivileged service user must read or write: Apache's
    mod_wsgi and mod_shib children run as www-data when the testbed runs as
    root, and root's home is private (0700). Elsewhere: the cache."""
    base = os.environ.get("EDGE_REFARCH_SHARED")
    if base:
        return Path(base)
    if os.geteuid() == 0:
        return Path("/var/lib/edge-refarch")
    return cache_dir()


def repo_root() -> Path | None:
    """The source checkout, when running from one (editable or tox)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "setup.cfg").exists() and (parent / "bindep.txt") \
                .exists():
            return parent
    return None
