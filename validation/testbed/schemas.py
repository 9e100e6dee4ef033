"""Prepared databases: what each service's own sync tool leaves in a new
database, cached per pin set so that later bring-ups load a dump (about a
second) instead of running the migrations again (tens of seconds for Nova).

Safe to reuse: a dump is taken right after the sync tool ran on an empty
database, before any service started, so it holds the schema and the
migration bookkeeping only -- nothing site-specific (no cell mappings, no
users, no endpoints); Glance's also holds the metadata definitions it ships,
the same at every site. It is keyed by the same hash as the services venv
(pins, services list, Python), so other pins never see it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edge_refarch.validation import paths


class Schemas:
    def __init__(self, key: str):
        self.dir = paths.cache_dir() / "schemas" / key

    def path(self, kind: str) -> Path:
        return self.dir / f"{kind}.sql"

    def cached(self, *kinds: str) -> bool:
        return all(self.path(k).exists() for k in kinds)

    def prepare(self, db, name: str, sync: Callable[[], None],
                kind: str | None = None) -> bool:
        """Load the cached dump of `kind` into database `name` of `db`, or
        run `sync` and cache its result. True when it came from the cache.
        """
        path = self.path(kind or name)
        if path.exists():
            db.load(name, path)
            return True
        sync()
        db.dump(name, path)
        return False
