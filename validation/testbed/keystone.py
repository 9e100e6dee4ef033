"""A site's Keystone: configuration, bootstrap, catalog, gunicorn."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from edge_refarch.validation.errors import UserError
from edge_refarch.validation.testbed import ini
from edge_refarch.validation.testbed.gunicorn import GunicornApi


class Keystone(GunicornApi):
    """A site's Keystone under gunicorn (the DC's, and every replicated
    edge's)."""

    # Keystone reads sys.argv through oslo.config: gunicorn gets no
    # arguments and reads ./gunicorn.conf.py (gunicorn.GUNICORN_CONF).
    app = "keystone.wsgi.api:application"
    env_prefix = "KEYSTONE"
    project = "keystone"

    def __init__(self, site, root: Path, venv: Path, db_url: str,
                 *, port: int, health_path: str, primary: bool,
                 cache_server: str,
                 cache_ttl: int, threads: int = 1, workers: int = 1,
                 extra_sections: ini.Sections | None = None,
                 max_active_keys: int = 3,
                 password_hash_rounds: int | None = None):
        super().__init__(site, root, venv, port, health_path)
        self.db_url = db_url
        self.primary = primary   # holds the source of identity truth
        self.cache_server = cache_server
        self.cache_ttl = cache_ttl
        self.threads = threads
        self.workers = workers
        # Several workers share the pages of an app imported once in the
        # master; a single worker gains nothing from it and the master's
        # copy would cost ~65 MiB PSS.
        self.preload = workers > 1
        # More sections (federation: [saml], [auth], [federation]).
        self.extra_sections = dict(extra_sections or {})
        self.max_active_keys = max_active_keys
        self.password_hash_rounds = password_hash_rounds
        self.keys = self.dir / "fernet-keys"
        self.credential_keys = self.dir / "credential-keys"

    @property
    def conf(self) -> Path:
        return self.etc / "keystone.conf"

    def sections(self) -> dict[str, dict[str, ini.Value]]:
        """keystone.conf (Keystone configuration reference)."""
        return {
            "DEFAULT": {"debug": False,
                        "log_file": self.logdir / "keystone.log"},
            "database": {"connection": self.db_url, "max_retries": -1,
                         "connection_recycle_time": 300},
            "token": {"provider": "fernet", "expiration": 3600,
                      "cache_time": self.cache_ttl},
            "revoke": {"cache_time": self.cache_ttl},
            "fernet_tokens": {"key_repository": self.keys,
                              "max_active_keys": self.max_active_keys},
            "fernet_receipts": {"key_repository": self.keys},
            "credential": {"key_repository": self.credential_keys},
            # bcrypt rounds of the passwords stored from now on (None:
            # Keystone's default, 12).
            "identity": {"password_hash_rounds": self.password_hash_rounds},
            # The site's own memcached. Without a cache Keystone runs ~200
            # queries per authenticated request. The TTL bounds how long
            # replicated identity changes may go unseen at an edge
            # (nothing invalidates this cache across sites).
            "cache": {"enabled": True,
                      "backend": "oslo_cache.memcache_pool",
                      "memcache_servers": self.cache_server,
                      "expiration_time": self.cache_ttl},
        }

    def write_config(self) -> None:
        self.etc.mkdir(parents=True, exist_ok=True)
        self.logdir.mkdir(parents=True, exist_ok=True)
        ini.write(self.conf, ini.merge(self.sections(), self.extra_sections),
                  ini.header(self.site.name, "keystone"))
        self.write_server_config()

    def write_server_config(self) -> None:
        """The web server's configuration (gunicorn here; Apache for a
        federated service provider)."""
        self._gunicorn()

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        argv = [str(self.venv / "bin" / "keystone-manage"),
                "--config-file", str(self.conf), *args]
        proc = subprocess.run(argv, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL,
                              env={**os.environ, **(env or {})})
        if proc.returncode != 0:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            raise UserError(f"{self.name}: keystone-manage {args[0]} failed:"
                            f" {last[0][:300] if last else '?'} (log: "
                            f"{self.logdir / 'keystone.log'})")
        return proc.stdout

    def owner(self) -> tuple[str, str]:
        """The user and group the Keystone server runs as."""
        return (pwd.getpwuid(os.geteuid()).pw_name,
                grp.getgrgid(os.getegid()).gr_name)

    def db_sync(self) -> None:
        """keystone-manage db_sync: the schema (prepared once, then loaded
        from the cached dump: Schemas)."""
        self.manage("db_sync")

    def bootstrap(self, admin_password: str) -> None:
        """Keys and the admin account, on a synced schema: the source of
        truth only."""
        user, group = self.owner()
        owner = ["--keystone-user", user, "--keystone-group", group]
        self.manage("fernet_setup", *owner)
        self.manage("credential_setup", *owner)
        # The password goes through the environment, never the argv
        # (which any local user can read in ps).
        self.manage("bootstrap", "--bootstrap-username", "admin",
                    "--bootstrap-project-name", "admin",
                    "--bootstrap-role-name", "admin",
                    env={"OS_BOOTSTRAP_PASSWORD": admin_password})

    def copy_keys_from(self, source: Keystone) -> None:
        """Hold the DC's fernet and credential keys."""
        for src, dst in ((source.keys, self.keys),
                         (source.credential_keys, self.credential_keys)):
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst)
            dst.chmod(0o700)



def service_user(auth_url: str, username: str, password: str,
                 region: str) -> dict[str, str]:
    """The keystoneauth password options of a service user (project
    ``service`` in domain Default), shared by a service's
    [keystone_authtoken] and its client sections."""
    return {"auth_type": "password", "auth_url": auth_url,
            "project_domain_name": "Default",
            "user_domain_name": "Default", "project_name": "service",
            "username": username, "password": password,
            "region_name": region}


def authtoken_section(*, auth_url: str, www_authenticate_uri: str,
                      username: str, password: str, region: str,
                      cache: str, cache_time: int,
                      connect_timeout: int) -> dict[str, dict]:
    """keystonemiddleware's [keystone_authtoken] section of a service's
    config (Glance, Nova, Placement, Neutron, Heat), as ini sections.
    `cache_time`: seconds a validated token is accepted without asking
    Keystone again (its default, 300 s, would keep a revoked token valid at
    the service that long; the model's bounds.identity_staleness_s caps
    it); `connect_timeout`: seconds to reach Keystone (the model's
    bounds.cross_site_timeout_s)."""
    return {"keystone_authtoken": {
        "www_authenticate_uri": www_authenticate_uri,
        **service_user(auth_url, username, password, region),
        # The catalog holds public endpoints only (the default here is
        # internal).
        "interface": "public",
        "service_token_roles_required": True,
        "memcached_servers": cache,
        "token_cache_time": cache_time,
        # A cut-off identity service must fail fast, not hang (default:
        # ~90 s).
        "http_connect_timeout": connect_timeout,
        "http_request_max_retries": 1,
    }}
