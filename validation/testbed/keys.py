"""Key lifecycle of the replicated distributed model (fernet token keys and
credential keys): rotation at the DC, distribution to every edge over that
edge's own link.

Keystone signs and checks tokens with the keys of its repository
(``[fernet_tokens] key_repository``; ``keystone-manage fernet_rotate``
turns the staged key ``0`` into the new primary, the highest index, and
writes a new staged key; source: keystone/common/fernet_utils.py). A site
can validate a token only if it holds the key that signed it, so:

* the DC publishes its whole repository into the identity database it
  already replicates to every edge (table ``KEY_TABLE`` in the keystone
  database), after set-up and after every rotation;
* at each edge a key-sync agent (``python -m
  edge_refarch.validation.testbed.keys``) reads the table from the edge's
  replica and rewrites the edge's repository when it differs.

The keys travel the replication channel, so through the edge's link
proxy: a cut-off edge misses a rotation and catches up after the heal. The
rule that keeps cross-site validation working: a new staged key reaches
every edge before the DC promotes it, that is, at most one rotation during
a partition (the model's ``bounds.key_rotations_per_partition``); with
more, tokens the DC signs with a key the edge never received are refused
there until the heal. Secondary keys are kept for ``max_active_keys``
(``bounds.key_rotations_per_partition`` + 2 at least, so what an edge
signed during a cut still validates at the DC after it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pymysql

KEY_TABLE = "edge_refarch_key_repository"
# The repositories distributed: the fernet token keys, and the credential
# keys Keystone encrypts stored credentials with ([credential]
# key_repository; 'keystone-manage credential_rotate' works like
# fernet_rotate, and 'credential_migrate' then re-encrypts every credential
# with the new primary key: the replicas receive the re-encrypted rows, so
# the edges need the keys by the same rule as the token keys).
REPOSITORIES = ("fernet_tokens", "credential")


def read_repository(path: Path) -> dict[str, str]:
    """Key file name (an index) -> key, of a Keystone key repository."""
    return {p.name: p.read_text().strip() for p in sorted(path.iterdir())
            if p.name.isdigit()}


def publish_statements(repository: str, keys: dict[str, str]) -> list[str]:
    """SQL that makes the table hold exactly `keys` for `repository` (one
    transaction, written to the binlog so that every replica applies it).
    Keys are base64url text: no quoting beyond the literal's quotes."""
    for name, key in keys.items():
        if not name.isdigit() or not key.replace("-", "").replace(
                "_", "").replace("=", "").isalnum():
            raise ValueError(f"not a fernet key file: {name}")
    rows = ", ".join(f"('{repository}', '{n}', '{k}')"
                     for n, k in sorted(keys.items()))
    return [
        # binlog_do_db = keystone filters DDL by the default database.
        "USE keystone",
        f"CREATE TABLE IF NOT EXISTS keystone.{KEY_TABLE} ("
        "repository VARCHAR(32) NOT NULL, name VARCHAR(8) NOT NULL, "
        "material VARCHAR(128) NOT NULL, PRIMARY KEY (repository, name))",
        "START TRANSACTION",
        f"DELETE FROM keystone.{KEY_TABLE} WHERE repository = "
        f"'{repository}'",
        f"INSERT INTO keystone.{KEY_TABLE} VALUES {rows}",
        "COMMIT",
    ]


def repositories(keystone) -> dict[str, Path]:
    """REPOSITORIES -> `keystone`'s directory for each."""
    return {"fernet_tokens": keystone.keys,
            "credential": keystone.credential_keys}


def publish(db, keystone) -> None:
    """Publish `keystone`'s key repositories (REPOSITORIES) through `db`
    (the DC's MariaDB, whose identity database every edge replicates)."""
    for name, directory in repositories(keystone).items():
        db.execute(*publish_statements(name, read_repository(directory)))


def write_repository(path: Path, keys: dict[str, str]) -> bool:
    """Make the repository at `path` hold exactly `keys` (each file
    replaced atomically, 0600; the new keys first, then the old ones
    removed). Returns whether anything changed."""
    if not keys or read_repository(path) == keys:
        return False
    for name, key in keys.items():
        tmp = path / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        os.replace(tmp, path / name)
    for name in set(read_repository(path)) - set(keys):
        (path / name).unlink(missing_ok=True)
    return True


def _fetch(socket: str, repository: str) -> dict[str, str] | None:
    """The keys the local replica holds (None: no table yet)."""
    try:
        conn = pymysql.connect(unix_socket=socket, user="root",
                               connect_timeout=5, read_timeout=5)
    except pymysql.MySQLError:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT name, material FROM keystone.{KEY_TABLE} "
                        "WHERE repository = %s", (repository,))
            return dict(cur.fetchall())
    except pymysql.MySQLError:
        return None
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    """The key-sync agent of an edge: every `--interval` seconds, make each
    repository match what the local replica of the DC's table holds."""
    p = argparse.ArgumentParser(prog="edge-refarch key-sync")
    p.add_argument("--socket", required=True,
                   help="the edge replica's MariaDB unix socket")
    p.add_argument("--repository", action="append", required=True,
                   metavar="NAME=DIR", help="e.g. fernet_tokens=/path")
    p.add_argument("--interval", type=float, default=1.0)
    args = p.parse_args(argv)
    repos = dict(r.split("=", 1) for r in args.repository)
    print(f"key-sync: {', '.join(repos)} from {args.socket}", flush=True)
    while True:
        for name, directory in repos.items():
            keys = _fetch(args.socket, name)
            if keys and write_repository(Path(directory), keys):
                print(f"key-sync: {name} now holds keys "
                      f"{', '.join(sorted(keys, key=int))}", flush=True)
        time.sleep(args.interval)


class KeySync:
    """The key-sync agent of one edge, as a testbed process."""

    def __init__(self, site, db, keystone):
        self.site = site
        self.db = db
        self.keystone = keystone
        self.dir = keystone.dir / "key-sync"

    @property
    def name(self) -> str:
        return f"{self.site.name}.key-sync"

    def argv(self) -> list[str]:
        self.dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "edge_refarch.validation.testbed.keys",
                "--socket", str(self.db.socket)]
        for name, directory in repositories(self.keystone).items():
            argv += ["--repository", f"{name}={directory}"]
        return argv


if __name__ == "__main__":
    sys.exit(main())
