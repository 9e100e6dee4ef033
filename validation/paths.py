"""Where the project keeps its state and its reusable installs."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """Reusable between runs and clones: venvs, the toxiproxy binary."""
    base = os.environ.get("EDGE_REFARCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "edge-refarch")
    return Path(base)


# The testbed slot (0 and up) this process and its children work in:
# `edge-refarch --slot K` sets it. Several testbeds run at once on one
# machine each in a slot of its own, with addresses, ports (model.yaml
# testbed.slot_sites) and a state directory of their own.
SLOT_ENV = "EDGE_REFARCH_SLOT"


def slot() -> int:
    """The testbed slot ($EDGE_REFARCH_SLOT, default 0). Raises BadInput
    when it is not a whole number of 0 or more."""
    value = os.environ.get(SLOT_ENV, "").strip() or "0"
    if not value.isdigit():
        from edge_refarch.validation.errors import BadInput
        raise BadInput(f"{SLOT_ENV}: must be a whole number of 0 or more "
                       f"(got {value!r})")
    return int(value)


def _state_base() -> Path:
    return Path(os.environ.get("EDGE_REFARCH_STATE") or os.path.join(
        os.environ.get("XDG_STATE_HOME")
        or os.path.expanduser("~/.local/state"), "edge-refarch", "testbed"))


def state_dir(k: int | None = None) -> Path:
    """The running testbed of slot `k` (default: slot()): configs, data,
    logs, PIDs, clouds.yaml. Slot K > 0 keeps what lies beside it (the
    conformance runs' and the fault ledger's directories) apart too:
    <parent>/slot-K/testbed."""
    base = _state_base()
    k = slot() if k is None else k
    return base if k == 0 else base.parent / f"slot-{k}" / base.name


def slots_with_state() -> list[int]:
    """The testbed slots that have a state directory (a testbed up, or
    left by one that did not come down), in order."""
    base = _state_base()
    found = [0] if base.exists() else []
    for d in base.parent.glob(f"slot-*/{base.name}"):
        suffix = d.parent.name.removeprefix("slot-")
        if suffix.isdigit() and int(suffix) > 0:
            found.append(int(suffix))
    return sorted(found)


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
