"""The suite's ledger of what it creates that the admin cannot find by name.

Most of what a run creates carries the suite's name prefix and is found
again by listing it as the admin (runner.Cloud.cleanup). Heat stacks are
not: Heat lists only the caller's own project's stacks, and listing every
project's ("global_tenant") is denied to everybody by default (Heat,
heat/policies/stacks.py: stacks:global_index is RULE_DENY_EVERYBODY). A
test that creates a stack as another user, in another project, records the
stack's URL here first thing, so that a stopped or killed run's stacks can
still be deleted: Heat lets an admin act on any project's stack by its ID
(heat/api/openstack/v1/util.py, registered_policy_enforce; engine
service._get_stack).

The ledger is a file of JSON lines, one per resource:
``{"kind": "stack", "site": "edge1", "url": "http://.../stacks/NAME/ID"}``.
It is appended to by the tests, read and then emptied by the clean-up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def stack_url(stack: dict) -> str:
    """A Heat stack's own URL (its "self" link, under its project's path)
    from a stack as the Heat API gives it (create, show or list)."""
    return next(link["href"] for link in stack["links"]
                if link.get("rel") == "self")


def record(path: str | Path, kind: str, site: str, url: str) -> None:
    """Append one resource (`kind` at `site`, at `url`) to the ledger at
    `path` (owner only; its directory is made when missing), in one write
    of one line. The line starts on a line of its own even after a writer
    killed mid-line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"kind": kind, "site": site, "url": url}) + "\n"
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = "\n" + line
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def recorded(path: str | Path, kind: str) -> list[dict]:
    """The ledger's entries of `kind`, oldest first, each once; [] when
    there is no ledger. A line that is not a whole entry (a writer killed
    mid-line) is passed over."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    seen, out = set(), []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("kind") != kind \
                or not entry.get("url") or entry["url"] in seen:
            continue
        seen.add(entry["url"])
        out.append(entry)
    return out


def forget(path: str | Path) -> None:
    """Empty the ledger (everything in it is gone)."""
    Path(path).unlink(missing_ok=True)
