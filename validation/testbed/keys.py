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
import hashlib
import os
import sys
import time
from pathlib import Path

import pymysql

from edge_refarch.validation.testbed.service import Service

KEY_TABLE = "edge_refarch_key_repository"
# The repositories distributed: the fernet token keys, and the credential
# keys Keystone encrypts stored credentials with ([credential]
# key_repository; 'keystone-manage credential_rotate' works like
# fernet_rotate, and 'credential_migrate' then re-encrypts every credential
# with the new primary key: the replicas receive the re-encrypted rows, so
# the edges need the keys by the same rule as the token keys).
REPOSITORIES = ("fernet_tokens", "credential")
# Where the edges acknowledge the keys they hold, at the DC: a database of
# its own, outside the replicated one (binlog_do_db = keystone).
ACK_DATABASE = "edge_refarch_keys"
ACK_USER = "keysync"
# How long a rotation waits for every edge to acknowledge the staged key
# (seconds): an agent with its link up acknowledges within a couple of its
# 1 s intervals; one that has not by then is cut off.
ACK_WAIT_S = 10.0


def digest(key: str) -> str:
    """A key's acknowledgement: the first 16 hex digits of its SHA-256
    (the key itself never leaves the site it was sent to)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def key_state(dc_keys: dict[str, str], acked: set[str] | None) -> str:
    """An edge's keys against the DC's repository `dc_keys` (index -> key;
    '0' is the staged key, the highest index the primary), from the
    digests the edge acknowledged: 'current' (it holds the DC's primary and
    staged keys), 'behind' (the primary but not the staged key: it missed
    a rotation, which the rule tolerates), 'stale' (not the primary: the
    DC's new tokens are refused there) or 'unknown' (no acknowledgement
    yet)."""
    if acked is None:
        return "unknown"
    primary = dc_keys[max(dc_keys, key=int)]
    if digest(primary) not in acked:
        return "stale"
    return "current" if digest(dc_keys["0"]) in acked else "behind"


def ack_statement(site: str, repository: str,
                   keys: dict[str, str]) -> tuple[str, tuple]:
    """The statement (and its parameters) with which `site`'s agent
    acknowledges holding `keys` of `repository`."""
    return (f"REPLACE INTO {ACK_DATABASE}.ack (site, repository, digests, "
            "acked_at) VALUES (%s, %s, %s, UTC_TIMESTAMP())",
            (site, repository, ",".join(sorted(digest(k)
                                               for k in keys.values()))))


# The acknowledgements, one row per edge and repository.
ACK_TABLE = (f"CREATE TABLE IF NOT EXISTS {ACK_DATABASE}.ack ("
             "site VARCHAR(64) NOT NULL, repository VARCHAR(32) NOT NULL, "
             "digests VARCHAR(1024) NOT NULL, acked_at DATETIME NOT NULL, "
             "PRIMARY KEY (site, repository))")


def read_acks(db) -> dict[str, dict[str, set[str]]]:
    """site -> repository -> the key digests it acknowledged, read at the
    DC's MariaDB `db`."""
    out: dict[str, dict[str, set[str]]] = {}
    for site, repo, digests in db.execute(
            f"SELECT site, repository, digests FROM {ACK_DATABASE}.ack"):
        out.setdefault(site, {})[repo] = set(digests.split(","))
    return out


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


class Replica:
    """The edge's replica of the DC's key table, read over one connection
    that is kept open and opened again after an error. (A connection per
    read kept the idle agent at 6.6-6.8 % of a core per edge at 1 s
    intervals; kept open, under 0.4 %: bench/results/testbed_idle_*.json.)
    """

    def __init__(self, socket: str):
        self.socket = socket
        self.conn: pymysql.connections.Connection | None = None

    def keys(self, repository: str) -> dict[str, str] | None:
        """name -> key material of `repository` in the replica (None: the
        replica is not reachable or has no table yet)."""
        try:
            if self.conn is None:
                # autocommit: every SELECT reads what replication has
                # applied by then (not one transaction's snapshot).
                self.conn = pymysql.connect(
                    unix_socket=self.socket, user="root", connect_timeout=5,
                    read_timeout=5, autocommit=True)
            with self.conn.cursor() as cur:
                cur.execute(f"SELECT name, material FROM keystone.{KEY_TABLE}"
                            " WHERE repository = %s", (repository,))
                return dict(cur.fetchall())
        except pymysql.MySQLError:
            self.close()
            return None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except pymysql.MySQLError:
                pass        # already gone
            self.conn = None


def _ack(args, password: str, repository: str, keys: dict[str, str]
         ) -> bool:
    """Acknowledge `keys` at the DC, over the link; False when the DC is
    out of reach (retried on the next round)."""
    sql, params = ack_statement(args.site, repository, keys)
    try:
        conn = pymysql.connect(host=args.ack_host, port=args.ack_port,
                               user=ACK_USER, password=password,
                               connect_timeout=args.timeout,
                               read_timeout=args.timeout,
                               write_timeout=args.timeout, autocommit=True)
    except pymysql.MySQLError:
        return False
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
        return True
    except pymysql.MySQLError:
        return False
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    """The key-sync agent of an edge: every `--interval` seconds, make each
    repository match what the local replica of the DC's table holds, and
    acknowledge what it holds at the DC whenever that changed."""
    p = argparse.ArgumentParser(prog="edge-refarch key-sync")
    p.add_argument("--socket", required=True,
                   help="the edge replica's MariaDB unix socket")
    p.add_argument("--repository", action="append", required=True,
                   metavar="NAME=DIR", help="e.g. fernet_tokens=/path")
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--site", required=True, help="this edge's name")
    p.add_argument("--ack-host", required=True,
                   help="the DC's MariaDB as this edge reaches it (its link "
                        "proxy)")
    p.add_argument("--ack-port", type=int, required=True)
    p.add_argument("--ack-password-file", required=True, type=Path)
    p.add_argument("--timeout", type=float, default=3.0,
                   help="seconds an acknowledgement may take "
                        "(bounds.cross_site_timeout_s)")
    args = p.parse_args(argv)
    password = args.ack_password_file.read_text().strip()
    repos = dict(r.split("=", 1) for r in args.repository)
    print(f"key-sync: {', '.join(repos)} from {args.socket}", flush=True)
    acked: dict[str, dict[str, str]] = {}
    replica = Replica(args.socket)
    while True:
        for name, directory in repos.items():
            keys = replica.keys(name)
            if keys and write_repository(Path(directory), keys):
                print(f"key-sync: {name} now holds keys "
                      f"{', '.join(sorted(keys, key=int))}", flush=True)
            held = read_repository(Path(directory))
            if held and acked.get(name) != held and \
                    _ack(args, password, name, held):
                acked[name] = held
                print(f"key-sync: acknowledged {name} keys "
                      f"{', '.join(sorted(held, key=int))} at the DC",
                      flush=True)
        time.sleep(args.interval)


class KeySync(Service):
    """The key-sync agent of one edge, as a testbed process (no listener:
    healthy while it runs; its acknowledgements at the DC say more)."""

    def __init__(self, site, db, keystone, ack_at: str, password: str,
                 timeout: float):
        """`ack_at`: the DC's MariaDB as host:port through this edge's
        link proxy; `password`: the ACK_USER's; `timeout`: seconds
        (bounds.cross_site_timeout_s)."""
        self.site = site
        self.db = db
        self.keystone = keystone
        self.dir = keystone.dir / "key-sync"
        self.ack_at = ack_at
        self.password = password
        self.timeout = timeout

    @staticmethod
    def process_name(site: str) -> str:
        return f"{site}.key-sync"

    @property
    def name(self) -> str:
        return self.process_name(self.site.name)

    @property
    def secret(self) -> Path:
        """The ACK_USER's password, in a file of the agent's only (0600),
        never on its command line."""
        return self.dir / "ack-password"

    def write_config(self) -> None:
        self.logdir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.password)

    def argv(self) -> list[str]:
        secret = self.secret
        host, port = self.ack_at.rsplit(":", 1)
        argv = [sys.executable, "-m", "edge_refarch.validation.testbed.keys",
                "--socket", str(self.db.socket), "--site", self.site.name,
                "--ack-host", host, "--ack-port", port,
                "--ack-password-file", str(secret),
                "--timeout", f"{self.timeout:g}"]
        for name, directory in repositories(self.keystone).items():
            argv += ["--repository", f"{name}={directory}"]
        return argv


if __name__ == "__main__":
    sys.exit(main())
