"""A site's MariaDB server, and identity replication from the DC.

Replicated identity (distributed model): the DC's server writes a binary log
of the ``keystone`` database only; an edge's server replicates it over the
edge's own link proxy, so cutting the link stops replication and healing it
resumes replication. The catalog tables are the exception: each site keeps its
own catalog (its endpoints for other sites go through its own link proxies),
so replicas ignore them and hold local copies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pymysql

from edge_refarch.validation.errors import UserError
from edge_refarch.validation.testbed import probes
from edge_refarch.validation.testbed.service import Server

MARIADBD = os.environ.get("EDGE_REFARCH_MARIADBD", "/usr/sbin/mariadbd")
INSTALL_DB = "/usr/bin/mariadb-install-db"
DUMP = "/usr/bin/mariadb-dump"
CLIENT = "/usr/bin/mariadb"

# Keystone's catalog tables: site-local, never replicated.
CATALOG_TABLES = ("region", "service", "endpoint", "endpoint_group",
                  "project_endpoint", "project_endpoint_group")

# What the edge's Keystone may write in its replica: its own catalog; the
# failed-login counters Keystone updates on a wrong password; and
# user.last_active_at, which Keystone sets on the first successful password
# login of each day (without it a new user cannot log in at the edge).
# These few columns diverge per site; everything else is the DC's.
EDGE_KEYSTONE_WRITE_GRANTS = [
    *(f"GRANT ALL PRIVILEGES ON keystone.{t} TO 'keystone'@'127.%'"
      for t in CATALOG_TABLES),
    "GRANT UPDATE (failed_auth_count, failed_auth_at) ON keystone.local_user"
    " TO 'keystone'@'127.%'",
    "GRANT UPDATE (last_active_at) ON keystone.user TO 'keystone'@'127.%'",
]


class MariaDB(Server):
    def __init__(self, site, root: Path, *, port: int, primary: bool,
                 replica: bool, binlog_retention_s: int | None = None):
        self.site = site
        self.port = port
        self.dir = root / "mariadb"
        self.data = self.dir / "data"
        self.socket = self.dir / "mysqld.sock"
        self.cnf = self.dir / "my.cnf"
        self.log = self.dir / "mariadb.log"
        self.primary = primary   # writes the binlog other sites replicate
        self.replica = replica   # replicates the DC's identity database
        # How long the primary keeps its binary log (the model's
        # bounds.binlog_retention_s); None: MariaDB's default (forever).
        self.binlog_retention_s = binlog_retention_s

    @property
    def name(self) -> str:
        return f"{self.site.name}.mariadb"

    def write_config(self) -> None:
        (self.dir / "tmp").mkdir(parents=True, exist_ok=True)
        lines = [
            "[mysqld]",
            f"datadir = {self.data}",
            f"socket = {self.socket}",
            f"pid-file = {self.dir / 'mysqld.pid'}",
            f"log-error = {self.log}",
            # Per site: concurrent bootstraps collide on /tmp temp tables.
            f"tmpdir = {self.dir / 'tmp'}",
            f"bind-address = {self.site.address}",
            f"port = {int(self.port)}",
            "skip-name-resolve",
            "skip-external-locking",
            "performance_schema = OFF",
            "innodb_buffer_pool_size = 64M",
            # Every OpenStack table is InnoDB: MyISAM's key buffer and
            # Aria's page cache (internal temporary tables) need little.
            # Their defaults (128M each) cost ~27 MiB PSS per site.
            "key_buffer_size = 8M",
            "aria_pagecache_buffer_size = 8M",
            "innodb_log_file_size = 16M",
            "innodb_flush_log_at_trx_commit = 2",
            "max_connections = 500",
            "character-set-server = utf8mb4",
            "collation-server = utf8mb4_general_ci",
            f"server_id = {self.site.number}",
        ]
        if os.geteuid() == 0:
            lines.append("user = root")
        if self.primary:
            lines += [
                f"log_bin = {self.dir / 'binlog'}",
                "binlog_format = ROW",
                "binlog_do_db = keystone",
            ]
            if self.binlog_retention_s:
                lines.append("binlog_expire_logs_seconds = "
                             f"{int(self.binlog_retention_s)}")
        if self.replica:
            lines += [
                f"relay_log = {self.dir / 'relay'}",
                "replicate_do_db = keystone",
                # One line per table: a comma list is not split when read
                # from an option file (only by SET GLOBAL).
                *(f"replicate_ignore_table = keystone.{t}"
                  for t in CATALOG_TABLES),
                # Notice a dead link quickly, reconnect every second.
                "slave_net_timeout = 5",
                "skip_slave_start = 0",
            ]
        self.cnf.write_text("\n".join(lines) + "\n")

    def initialise(self) -> None:
        if (self.data / "mysql").exists():
            return
        shutil.rmtree(self.data, ignore_errors=True)
        argv = [INSTALL_DB, f"--defaults-file={self.cnf}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db"]
        if os.geteuid() == 0:
            argv.append("--user=root")
        proc = subprocess.run(argv, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            (self.dir / "install-db.log").write_text(proc.stdout +
                                                     proc.stderr)
            last = (proc.stderr.strip() or proc.stdout.strip() or "?")
            raise UserError(f"{self.name}: mariadb-install-db failed: "
                            f"{last.splitlines()[-1][:200]} (log: "
                            f"{self.dir / 'install-db.log'})")

    def argv(self) -> list[str]:
        return [MARIADBD, f"--defaults-file={self.cnf}"]

    def connect(self, timeout: float = 5.0, db: str | None = None):
        return pymysql.connect(unix_socket=str(self.socket), user="root",
                               password="", database=db,
                               connect_timeout=timeout,
                               read_timeout=max(timeout, 30),
                               write_timeout=max(timeout, 30),
                               autocommit=True)

    @property
    def target(self) -> str:
        return f"{self.site.address}:{self.port}"

    def health(self, timeout: float) -> bool | probes.NotYet:
        """``SELECT 1`` over the server's socket."""
        try:
            with self.connect(timeout) as conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
                return True
        except pymysql.MySQLError as exc:
            return probes.NotYet(f"{self.socket}: {exc.args[:1]}")

    def execute(self, *statements: str, log_bin: bool = True,
                timeout: float = 5.0) -> list:
        """Run statements as root; the last result set is returned."""
        rows: list = []
        stmt = ""
        try:
            with self.connect(timeout) as conn, conn.cursor() as cur:
                if not log_bin and self.primary:
                    cur.execute("SET SESSION sql_log_bin = 0")
                for stmt in statements:
                    cur.execute(stmt)
                    rows = list(cur.fetchall())
        except pymysql.MySQLError as exc:
            what = " ".join(stmt.split()[:3]) or "connect"
            raise UserError(f"{self.name}: {what}: {exc.args[-1]} (log: "
                            f"{self.log})") from None
        return rows

    # -- databases and users ------------------------------------------------
    def create_database(self, db: str, user: str, password: str,
                        read_only: bool = False) -> None:
        """A database and its user. Not written to the binlog: replicas
        create their own."""
        privs = "SELECT" if read_only else "ALL PRIVILEGES"
        self.execute(
            f"CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4",
            f"CREATE USER IF NOT EXISTS '{user}'@'127.%' IDENTIFIED BY "
            f"{_quote(password)}",
            f"ALTER USER '{user}'@'127.%' IDENTIFIED BY {_quote(password)}",
            f"GRANT {privs} ON {db}.* TO '{user}'@'127.%'",
            log_bin=False)

    # -- prepared schemas --------------------------------------------------
    def dump(self, db: str, path: Path) -> None:
        """Write `db` (schema and data) to `path`, atomically."""
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as out:
            proc = subprocess.run(
                [DUMP, f"--socket={self.socket}", "--user=root",
                 "--single-transaction", "--skip-comments",
                 "--skip-dump-date", db],
                stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                timeout=120)
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise UserError(f"{self.name}: mariadb-dump {db} failed: "
                            f"{proc.stderr.decode()[-200:].strip()}")
        tmp.replace(path)

    def load(self, db: str, path: Path) -> None:
        """Load a dump written by dump() into the (empty) database `db`."""
        with open(path, "rb") as src:
            proc = subprocess.run(
                [CLIENT, f"--socket={self.socket}", "--user=root", db],
                stdin=src, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                timeout=120)
        if proc.returncode != 0:
            raise UserError(f"{self.name}: loading {path.name} into {db} "
                            f"failed: {proc.stderr.decode()[-200:].strip()}")

    def create_replication_user(self, password: str) -> None:
        self.execute(
            "CREATE USER IF NOT EXISTS 'replicator'@'127.%' IDENTIFIED BY "
            f"{_quote(password)}",
            f"ALTER USER 'replicator'@'127.%' IDENTIFIED BY "
            f"{_quote(password)}",
            "GRANT REPLICATION SLAVE ON *.* TO 'replicator'@'127.%'",
            log_bin=False)

    def table_ddl(self, db: str, tables: tuple[str, ...]) -> list[str]:
        return [self.execute(f"SHOW CREATE TABLE {db}.{t}")[0][1]
                for t in tables]

    def create_local_tables(self, db: str, ddl: list[str]) -> None:
        """Create tables (from another server's DDL) that replication
        filters out, so this site can hold rows of its own in them."""
        self.execute("SET SESSION foreign_key_checks = 0",
                     f"USE {db}",
                     *(stmt.replace("CREATE TABLE",
                                    "CREATE TABLE IF NOT EXISTS", 1)
                       for stmt in ddl))

    def grant(self, *statements: str) -> None:
        self.execute(*statements, log_bin=False)

    # -- replication --------------------------------------------------------
    def gtid_position(self) -> str:
        return self.execute("SELECT @@GLOBAL.gtid_binlog_pos")[0][0]

    def start_replication(self, host: str, port: int, password: str) -> None:
        self.execute(
            "STOP SLAVE",
            f"CHANGE MASTER TO MASTER_HOST={_quote(host)}, "
            f"MASTER_PORT={int(port)}, MASTER_USER='replicator', "
            f"MASTER_PASSWORD={_quote(password)}, MASTER_CONNECT_RETRY=1, "
            "MASTER_HEARTBEAT_PERIOD=1, MASTER_USE_GTID=slave_pos",
            "START SLAVE")

    def binary_logs(self) -> list[str]:
        """The binary log files this (primary) server holds, oldest first
        (SHOW BINARY LOGS)."""
        return [row[0] for row in self.execute("SHOW BINARY LOGS")]

    def purge_binary_logs(self, timeout: float = 30.0
                          ) -> tuple[list[str], list[str]]:
        """What ``binlog_expire_logs_seconds`` does to a cut that outlasts
        it, now: FLUSH BINARY LOGS, then PURGE BINARY LOGS TO the new file,
        until SHOW BINARY LOGS lists that file only (MariaDB keeps a file a
        connected replica is still reading; source: the MariaDB
        documentation of PURGE BINARY LOGS). Returns (files before, files
        after). Raises UserError when a file is still held after
        `timeout` seconds."""
        before = self.binary_logs()
        self.execute("FLUSH BINARY LOGS")
        newest = self.binary_logs()[-1]
        deadline = time.monotonic() + timeout
        while True:
            self.execute(f"PURGE BINARY LOGS TO {_quote(newest)}")
            after = self.binary_logs()
            if after == [newest]:
                return before, after
            if time.monotonic() > deadline:
                raise UserError(f"{self.name}: binary logs {after[:-1]} "
                                f"still held after {timeout:.0f} s")
            time.sleep(0.2)

    def reseed_from(self, primary: MariaDB, timeout: float = 120.0) -> str:
        """Re-seed this replica's identity database from `primary`, as an
        operator rebuilds a replica that cannot resume: stop replication,
        load a consistent dump of the primary's ``keystone`` database (its
        site-local catalog tables left out and kept) that sets
        ``gtid_slave_pos`` to the dump's position (mariadb-dump --gtid
        --master-data), start replication again over the same link.
        Returns the GTID position the replica resumed from. Raises
        UserError when the dump or the load fails."""
        dump = self.dir / "reseed.sql"
        argv = [DUMP, f"--socket={primary.socket}", "--user=root",
                "--single-transaction", "--gtid", "--master-data=1",
                "--skip-comments",
                *(f"--ignore-table=keystone.{t}" for t in CATALOG_TABLES),
                "keystone"]
        with open(dump, "wb") as out:
            proc = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, timeout=timeout)
        if proc.returncode != 0:
            raise UserError(f"{primary.name}: mariadb-dump keystone failed: "
                            f"{proc.stderr.decode()[-200:].strip()}")
        self.execute("STOP SLAVE")
        self.load("keystone", dump)
        dump.unlink()
        self.execute("START SLAVE")
        return self.execute("SELECT @@GLOBAL.gtid_slave_pos")[0][0]

    def wait_for_position(self, gtid: str, timeout: float) -> bool:
        """True once this replica has applied `gtid` (MASTER_GTID_WAIT)."""
        if not gtid:
            return True
        rows = self.execute(
            f"SELECT MASTER_GTID_WAIT({_quote(gtid)}, {float(timeout)})",
            timeout=timeout + 5)
        return rows[0][0] == 0

    def replication_status(self) -> dict:
        """This replica's state, from SHOW SLAVE STATUS: ``state`` is
        'replicating' (both threads running), 'stale' (a thread stopped
        on an error: the replica will not resume by itself, e.g. error
        1236 when the DC purged the binlogs it needs) or 'reconnecting'
        (the link is down or was just healed: MASTER_CONNECT_RETRY)."""
        with self.connect() as conn, conn.cursor(pymysql.cursors.DictCursor) \
                as cur:
            cur.execute("SHOW SLAVE STATUS")
            row = cur.fetchone() or {}
        io, sql = row.get("Slave_IO_Running"), row.get("Slave_SQL_Running")
        error = row.get("Last_SQL_Error") or row.get("Last_IO_Error") or ""
        errno = row.get("Last_SQL_Errno") or row.get("Last_IO_Errno") or 0
        if io == "Yes" and sql == "Yes":
            state = "replicating"
        elif sql != "Yes" or io == "No":
            state = "stale"
        else:
            state = "reconnecting"
        return {
            "state": state,
            "io_running": io,
            "sql_running": sql,
            "seconds_behind": row.get("Seconds_Behind_Master"),
            "last_errno": errno,
            "last_error": error,
            "gtid": row.get("Gtid_IO_Pos"),
        }


def db_url(user: str, password: str, hostport: str, name: str,
           timeout_s: int | None = None) -> str:
    """The SQLAlchemy URL of database `name` at `hostport` (PyMySQL,
    utf8mb4) -- the one place the testbed builds one. `timeout_s`: PyMySQL's
    connect, read and write timeouts, for a database across a link
    (without them a black-holed link holds a query until TCP gives up)."""
    bounded = "".join(f"&{t}_timeout={timeout_s}"
                      for t in ("connect", "read", "write")) \
        if timeout_s else ""
    return (f"mysql+pymysql://{user}:{password}@{hostport}/{name}"
            f"?charset=utf8mb4{bounded}")


def _quote(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
