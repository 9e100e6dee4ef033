"""Install what the testbed needs: Debian packages, toxiproxy, a services venv.

Everything here is idempotent and cached: a second call costs a few
subprocess calls. Nothing needs doing by hand on a fresh Debian machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from edge_refarch.validation import paths
from edge_refarch.validation.errors import UserError
from edge_refarch.validation.testbed.procs import run_tool

TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2"
# Our toxiproxy-server: upstream's server plus the blackhole toxic (Go
# sources under the source tree; built by ensure_toxiproxy).
TOXIPROXY_SOURCE = "validation/faults/toxiproxy-server"
TOXIPROXY_BUILD_MODULE = "edge-refarch.invalid/toxiproxy-server"
# Bound on one installer command (apt-get, go install, pip install) on a
# fresh machine with a slow mirror; a hung download fails the step then.
INSTALL_TIMEOUT_S = 1800


def _source() -> Path:
    root = paths.repo_root()
    if root is None:
        raise UserError("cannot find the edge-refarch source tree (bindep.txt"
                        ", requirements/); run from a checkout installed with"
                        " 'pip install -e .' or through tox")
    return root


@contextmanager
def _locked(name: str):
    lockdir = paths.cache_dir() / "locks"
    lockdir.mkdir(parents=True, exist_ok=True)
    with open(lockdir / f"{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _no_service_start():
    """Keep apt from starting the packages' system services (a system
    RabbitMQ or MariaDB would hold ports and outlive the testbed): a
    policy-rc.d that denies every start, unless the machine has one."""
    policy = Path("/usr/sbin/policy-rc.d")
    if policy.exists():
        yield
        return
    policy.write_text("#!/bin/sh\n# edge-refarch: no service starts during"
                      " apt-get install\nexit 101\n")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


def missing_packages(profile: str, bindep_file: Path | None = None
                     ) -> list[str]:
    """The Debian packages of a bindep profile (of the project's
    bindep.txt, or `bindep_file`) that are not installed."""
    out = subprocess.run(
        [sys.executable, "-m", "bindep", "-b", "-f",
         str(bindep_file or _source() / "bindep.txt"), profile],
        capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if out.returncode not in (0, 1):
        raise UserError(f"bindep failed: {out.stderr.strip()[:300]}")
    return [line.strip() for line in out.stdout.splitlines()
            if line.strip()]


def ensure_packages(profile: str, say: Callable[[str], None],
                    bindep_file: Path | None = None) -> None:
    """Install the missing packages of a bindep profile with apt-get (as
    root), with no system service started.

    Raises UserError, one line: not root or no apt-get (with the command
    to run), apt-get failed (its line that says why), or a package still
    missing afterwards.
    """
    missing = missing_packages(profile, bindep_file)
    if not missing:
        return
    cmd = "apt-get install -y " + " ".join(missing)
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise UserError(f"missing Debian packages: {' '.join(missing)}; "
                        f"install them with: sudo {cmd}")
    with _locked("apt"):
        say(f"installing Debian packages: {' '.join(missing)}")
        log = paths.cache_dir() / "logs" / "apt.log"
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        run_tool(["apt-get", "update", "-q"], "apt-get update",
                 timeout=INSTALL_TIMEOUT_S, log=log, env=env)
        with _no_service_start():
            run_tool(["apt-get", "install", "-y", "-q",
                      "--no-install-recommends", *missing],
                     f"apt-get install {' '.join(missing)}",
                     timeout=INSTALL_TIMEOUT_S, log=log, env=env)
    still = missing_packages(profile, bindep_file)
    if still:
        raise UserError(f"Debian packages still missing after apt-get: "
                        f"{' '.join(still)}")


def _toxiproxy_sources() -> list[Path]:
    return sorted((_source() / TOXIPROXY_SOURCE).glob("*.go"))


def _toxiproxy_patches() -> list[Path]:
    """Our patches to toxiproxy's own module (unified diffs, -p1), applied
    in name order; each says what it changes and why."""
    return sorted((_source() / TOXIPROXY_SOURCE / "patches").glob("*.patch"))


def _toxiproxy_build_id(version: str) -> str:
    """The pinned toxiproxy release plus a hash of our Go sources and
    patches: a change to any builds a new binary."""
    h = hashlib.sha256(version.encode())
    for f in _toxiproxy_sources() + _toxiproxy_patches():
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return f"{version}-{h.hexdigest()[:10]}"


def _toxiproxy_dir(version: str) -> Path:
    return paths.cache_dir() / "bin" / _toxiproxy_build_id(version)


def toxiproxy_binary(version: str) -> Path | None:
    """The built toxiproxy-server of `version` and of the current sources
    in validation/faults/toxiproxy-server, if any."""
    path = _toxiproxy_dir(version) / "toxiproxy-server"
    return path if path.exists() else None


def _go_mod(version: str) -> str:
    return (f"module {TOXIPROXY_BUILD_MODULE}\n\ngo 1.23.0\n\n"
            f"require {TOXIPROXY_MODULE} {version}\n")


def ensure_toxiproxy(version: str, say: Callable[[str], None]) -> Path:
    """Build toxiproxy-server: toxiproxy `version` (a module version such as
    ``v2.12.0``, from the model's testbed section) with the toxics in
    validation/faults/toxiproxy-server (the ``blackhole`` toxic), once per
    version and sources. The go.mod is written here from `version`, so the
    model stays the one place that pins it.

    Raises UserError (one line) when Go is missing or a go command fails.
    """
    bindir = _toxiproxy_dir(version)    # hashes the sources once
    server = bindir / "toxiproxy-server"
    if server.exists():
        return server
    go = os.environ.get("EDGE_REFARCH_GO") or shutil.which("go") or \
        "/usr/local/go/bin/go"
    if not os.access(go, os.X_OK):
        raise UserError(
            "toxiproxy-server is not built and Go is not available to "
            "build it; install Go, then run: edge-refarch fault "
            "build-toxiproxy")
    with _locked("toxiproxy"):
        if server.exists():
            return server
        say(f"building toxiproxy {version} with the blackhole toxic and "
            "our patches (first time, ~40 s)")
        tmp = bindir.with_name(bindir.name + ".tmp")
        _remove_build(tmp)      # what a failed or interrupted build left
        src = tmp / "src"
        src.mkdir(parents=True)
        for f in _toxiproxy_sources():
            shutil.copy2(f, src / f.name)
        (src / "go.mod").write_text(_go_mod(version))
        # The machine's GOFLAGS (env or 'go env -w') are kept, not replaced.
        flags = run_tool([go, "env", "GOFLAGS"], "go env GOFLAGS").strip()
        env = {"GOFLAGS": f"{flags} -mod=mod".strip()}
        logs = paths.cache_dir() / "logs"
        run_tool([go, "mod", "tidy"], f"go mod tidy ({TOXIPROXY_MODULE}@"
                 f"{version})", timeout=INSTALL_TIMEOUT_S,
                 log=logs / "toxiproxy-mod.log", env=env, cwd=src)
        _patch_toxiproxy(go, version, src, env, logs)
        run_tool([go, "build", "-trimpath", "-ldflags",
                  f"-X {TOXIPROXY_MODULE}.Version={version}",
                  "-o", str(tmp / "toxiproxy-server"), "."],
                 f"go build toxiproxy-server ({TOXIPROXY_MODULE}@{version})",
                 timeout=INSTALL_TIMEOUT_S, log=logs / "toxiproxy-build.log",
                 env=env, cwd=src)
        shutil.rmtree(src)
        shutil.rmtree(bindir, ignore_errors=True)
        tmp.rename(bindir)
    return server


def _make_writable(tree: Path) -> None:
    """Every directory of `tree` (symlinks not followed) mode 0755: Go's
    module cache keeps its directories read-only, and so does a copy of
    them."""
    for d in [tree, *(p for p in tree.rglob("*")
                      if p.is_dir() and not p.is_symlink())]:
        d.chmod(0o755)


def _remove_build(tmp: Path) -> None:
    """Remove a toxiproxy build directory. A build stopped while copying
    the module leaves read-only directories rmtree cannot empty, so they
    are made writable first."""
    if not tmp.exists():
        return
    _make_writable(tmp)
    shutil.rmtree(tmp)


def _patch_toxiproxy(go: str, version: str, src: Path, env: dict,
                     logs: Path) -> None:
    """Build against a patched copy of toxiproxy's module: the module as
    `go mod tidy` downloaded it, copied to src/toxiproxy, our patches
    applied with patch(1), and a go.mod ``replace`` pointing at the copy.

    Raises UserError (one line) when a patch does not apply (a new
    toxiproxy release needs the patches re-made)."""
    patches = _toxiproxy_patches()
    if not patches:
        return
    patch = shutil.which("patch")
    if patch is None:
        raise UserError("patch(1) is missing; it is in bindep.txt "
                        "(testbed profile): install it, then run: "
                        "edge-refarch fault build-toxiproxy")
    info = json.loads(run_tool(
        [go, "mod", "download", "-json", f"{TOXIPROXY_MODULE}@{version}"],
        f"go mod download {TOXIPROXY_MODULE}@{version}",
        timeout=INSTALL_TIMEOUT_S, env=env, cwd=src))
    copy = src / "toxiproxy"
    # The module cache is read-only; the copy must be writable to patch.
    shutil.copytree(info["Dir"], copy, copy_function=shutil.copyfile)
    _make_writable(copy)
    for p in patches:
        run_tool([patch, "-p1", "--batch", "--forward", "-d", str(copy),
                  "-i", str(p)],
                 f"patch toxiproxy {version} with {p.name} (does it still "
                 "apply to this release?)",
                 timeout=60, log=logs / f"toxiproxy-{p.stem}.log")
    with (src / "go.mod").open("a") as f:
        f.write(f"\nreplace {TOXIPROXY_MODULE} => ./toxiproxy\n")


def venv_key() -> str:
    src = _source()
    h = hashlib.sha256()
    for f in ("requirements/constraints.txt", "requirements/services.txt"):
        h.update((src / f).read_bytes())
    h.update(sys.version.encode())
    return h.hexdigest()[:12]


def _venv(venv: Path, python: str, pip_args: list[str], what: str,
          eta: str, say: Callable[[str], None]) -> Path:
    """A venv made with `python`, `pip install`ed with the pins, once:
    a stamp marks it complete; a lock keeps parallel callers out."""
    stamp = venv / ".edge-refarch-complete"
    if stamp.exists():
        return venv
    with _locked(venv.name.rsplit("-", 1)[0]):
        if stamp.exists():
            return venv
        say(f"installing {what} into {venv} (first time, {eta})")
        shutil.rmtree(venv, ignore_errors=True)
        log = paths.cache_dir() / "logs" / f"{venv.name}.log"
        run_tool([python, "-m", "venv", str(venv)],
                 f"creating the venv for {what}", log=log)
        run_tool([str(venv / "bin" / "pip"), "install",
                  "--disable-pip-version-check",
                  "-c", str(_source() / "requirements" / "constraints.txt"),
                  *pip_args], f"installing {what}",
                 timeout=INSTALL_TIMEOUT_S, log=log)
        stamp.write_text("ok\n")
    return venv


def services_venv(say: Callable[[str], None]) -> Path:
    """The venv holding the OpenStack services, created once per pin set."""
    return _venv(paths.cache_dir() / "venvs" / f"services-{venv_key()}",
                 getattr(sys, "_base_executable", sys.executable),
                 ["-r", str(_source() / "requirements" / "services.txt")],
                 "the OpenStack services", "~90 s", say)


# Apache's mod_wsgi (Debian) embeds Debian's Python: a venv for a WSGI app
# under it must be made with that interpreter, not the one running us.
DEBIAN_PYTHON = "/usr/bin/python3"
# What an edge Keystone under Apache + mod_wsgi needs (federated identity).
APACHE_KEYSTONE_PACKAGES = ("keystone", "PyMySQL", "python-memcached")


def apache_keystone_venv(say: Callable[[str], None]) -> Path:
    """Keystone in a venv of Debian's Python, for mod_wsgi (created once
    per pin set, ~40 s; reused afterwards). It lives where Apache's
    unprivileged user can read it (paths.shared_dir)."""
    if not os.access(DEBIAN_PYTHON, os.X_OK):
        raise UserError(f"{DEBIAN_PYTHON} not found: the federated variant "
                        "needs Debian's python3 (mod_wsgi embeds it)")
    version = run_tool([DEBIAN_PYTHON, "-c",
                        "import sys; print(sys.version)"],
                       "reading Debian's python3 version")
    h = hashlib.sha256((_source() / "requirements/constraints.txt")
                       .read_bytes())
    h.update(" ".join(APACHE_KEYSTONE_PACKAGES).encode())
    h.update(version.encode())
    return _venv(paths.shared_dir() / "venvs" /
                 f"keystone-apache-{h.hexdigest()[:12]}", DEBIAN_PYTHON,
                 list(APACHE_KEYSTONE_PACKAGES), "Keystone for mod_wsgi",
                 "~40 s", say)


def _require(files, executable: bool = True) -> None:
    """Each (path, Debian package) is where the testbed expects it (and
    executable, for a program)."""
    for path, package in files:
        ok = os.access(path, os.X_OK) if executable else os.path.exists(path)
        if not ok:
            what = "not found or not executable" if executable \
                else "not found"
            raise UserError(f"{path} {what}: install the Debian package "
                            f"{package} ('edge-refarch testbed install' "
                            "does it when run as root)")


def check_programs() -> None:
    """The Debian programs the testbed runs are where it expects them."""
    from edge_refarch.validation.testbed import mariadb, memcached, rabbitmq
    _require(((mariadb.MARIADBD, "mariadb-server"),
              (mariadb.INSTALL_DB, "mariadb-server"),
              (memcached.MEMCACHED, "memcached"),
              (rabbitmq.RABBITMQ_SERVER, "rabbitmq-server"),
              (rabbitmq.EPMD, "erlang-base")))


def check_federation_programs() -> None:
    """What the federated identity variant runs (bindep profile
    'federation'); Apache's modules are files, not programs."""
    from edge_refarch.validation.testbed import federation as fed
    _require(((fed.APACHE, "apache2"), (fed.SHIBD, "shibboleth-sp-utils"),
              (fed.XMLSEC1, "xmlsec1")))
    _require(((fed.APACHE_MODULES / "mod_shib.so", "libapache2-mod-shib"),
              (fed.APACHE_MODULES / "mod_wsgi.so",
               "libapache2-mod-wsgi-py3")), executable=False)


def ensure_all(toxiproxy_version: str, say: Callable[[str], None]
               ) -> tuple[Path, Path]:
    """Debian packages, toxiproxy and the services venv; returns
    (toxiproxy-server path, services venv)."""
    ensure_packages("testbed", say)
    check_programs()
    return ensure_toxiproxy(toxiproxy_version, say), services_venv(say)
