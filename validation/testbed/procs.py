"""Start detached service processes and stop exactly those, by PID.

Each process is started in a session of its own (so its workers share its
session) and recorded in ``<state>/pids/<name>.json`` with its start time
(psutil's create_time), so that a recycled PID is never mistaken for ours.

A process that leaves its session (a daemon that calls setsid, such as the
``epmd -daemon`` a RabbitMQ node starts when it cannot reach its port
mapper) is still ours: every process started here carries MARKER, naming
the testbed's state directory, in its environment, and so does everything
it starts; stop_all ends those too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from edge_refarch.validation.errors import UserError
from edge_refarch.validation.processes import running, start_time


class Process:
    """A recorded service process."""

    def __init__(self, name: str, pid: int, start: float | None,
                 argv: list[str]):
        self.name, self.pid, self.start, self.argv = name, pid, start, argv
        self._ended: str | None = None

    @property
    def alive(self) -> bool:
        return (self.start is not None
                and start_time(self.pid) == self.start
                and running(self.pid))

    def exit_status(self) -> str | None:
        """How the process ended ("exit code 1", "killed by SIGSEGV"),
        when it is a child of this process that has exited (reaped here);
        None while it runs, or when another process started it."""
        if self._ended is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return None
            if pid == 0:
                return None
            code = os.waitstatus_to_exitcode(status)
            self._ended = (f"killed by {signal.Signals(-code).name}"
                           if code < 0 else f"exit code {code}")
        return self._ended

    def group(self) -> list[int]:
        """PIDs of this process and every process in its session (workers,
        and what they started, even once reparented)."""
        if not self.alive:
            return []
        return session_pids(self.pid)

    def _sum(self, measure: Callable[[psutil.Process], float]) -> float:
        """`measure` summed over the session's live processes (those that
        exit meanwhile, or that may not be read, count nothing)."""
        total = 0.0
        for pid in self.group():
            try:
                total += measure(psutil.Process(pid))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return total

    def cpu_s(self) -> float:
        """CPU time the session's live processes have used, user plus
        system, seconds (psutil cpu_times; processes that already exited
        are not counted)."""
        def cpu(proc: psutil.Process) -> float:
            t = proc.cpu_times()
            return t.user + t.system
        return self._sum(cpu)

    def rss_kib(self) -> int:
        """Resident memory of the session, KiB (shared pages counted once
        per process)."""
        return int(self._sum(lambda p: p.memory_info().rss)) // 1024

    def pss_kib(self) -> int:
        """Proportional set size of the session, KiB: each shared page
        divided among the processes that map it, so the PSS of all
        services adds up to what they really take (Linux smaps_rollup)."""
        return int(self._sum(lambda p: p.memory_full_info().pss)) // 1024


# Environment variable that every process the testbed starts (and what
# they start in turn) carries: the testbed's state directory.
MARKER = "EDGE_REFARCH_TESTBED"


class ProcessTable:
    def __init__(self, state: Path):
        self.state = state
        self.dir = state / "pids"

    def spawn(self, name: str, argv: list[str], *, cwd: Path,
              env: dict[str, str] | None = None, log: Path) -> Process:
        self.dir.mkdir(parents=True, exist_ok=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env[MARKER] = str(self.state)
        with open(log, "ab") as out, open(os.devnull, "rb") as devnull:
            popen = subprocess.Popen(
                argv, cwd=cwd, env=full_env, stdin=devnull, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
                close_fds=True)
        proc = Process(name, popen.pid, start_time(popen.pid), argv)
        # The CLI exits while services run on; the child is reaped by init.
        popen.returncode = 0
        (self.dir / f"{name}.json").write_text(json.dumps(
            {"name": name, "pid": proc.pid, "start": proc.start,
             "argv": argv}))
        return proc

    def all(self) -> list[Process]:
        if not self.dir.exists():
            return []
        procs = []
        for f in sorted(self.dir.glob("*.json")):
            try:
                d = json.loads(f.read_text())
                procs.append(Process(d["name"], d["pid"], d["start"],
                                     d["argv"]))
            except (OSError, ValueError, KeyError):
                continue
        return procs

    def get(self, name: str) -> Process | None:
        return next((p for p in self.all() if p.name == name), None)

    def strays(self) -> dict[str, list[int]]:
        """Running processes that carry this testbed's MARKER, recorded or
        not (once the recorded ones are stopped: what they started that
        left their sessions): {"<name> (pid N)": [N]}."""
        found: dict[str, list[int]] = {}
        mine = str(self.state)
        for proc in psutil.process_iter(["pid", "name"]):
            try:
                if proc.environ().get(MARKER) == mine \
                        and running(proc.pid):
                    found[f"{proc.info['name']} (pid {proc.pid})"] = \
                        [proc.pid]
            except (psutil.NoSuchProcess, psutil.AccessDenied,
                    psutil.ZombieProcess, OSError):
                continue
        return found

    def stop_all(self, timeout: float = 15.0,
                 last: tuple[str, ...] = ()) -> list[str]:
        """SIGTERM every recorded process group, then SIGKILL stragglers
        after `timeout` seconds; the groups named in `last` only once all
        the others are gone; then every stray (see strays), recorded or
        not -- what a crash or a kill -9 of the supervisor left. Returns
        the names stopped, strays as "<name> (pid N)"."""
        procs = [p for p in self.all() if p.alive]
        first = {p.name: p.group() for p in procs if p.name not in last}
        then = {p.name: p.group() for p in procs if p.name in last}
        for wave in (first, then):
            _stop(wave, timeout)
        strays = self.stop_strays(timeout)
        for f in self.dir.glob("*.json") if self.dir.exists() else []:
            f.unlink()
        return sorted({**first, **then}) + strays

    def stop_strays(self, timeout: float = 15.0) -> list[str]:
        """Stop every stray (SIGTERM, SIGKILL after `timeout` seconds);
        returns their names, "<name> (pid N)"."""
        strays = self.strays()
        _stop(strays, timeout)
        return sorted(strays)


def session_pids(leader: int) -> list[int]:
    """`leader` and every live process in the session it leads (workers,
    and what they started, even once reparented)."""
    pids = {leader}
    for pid in psutil.pids():
        try:
            if os.getsid(pid) == leader:
                pids.add(pid)
        except OSError:
            continue
    return sorted(pids)


def stop_session(leader: int, timeout: float) -> None:
    """SIGTERM every process of the session `leader` leads, then SIGKILL
    what still runs after `timeout` seconds."""
    _stop({"session": session_pids(leader)}, timeout)


def _stop(targets: dict[str, list[int]], timeout: float) -> None:
    for pids in targets.values():
        for pid in pids:
            _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(running(pid) for pids in targets.values()
                   for pid in pids):
            break
        time.sleep(0.1)
    for pids in targets.values():
        for pid in pids:
            if running(pid):
                _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# Lines of a tool's output that say why it failed, in preference to its
# last line: pip ends on "No matching distribution found" after a TLS
# error, npm on "A complete log of this run can be found in ...".
_WHY = re.compile(r"certificate|ssl|x509|tls|proxy|connection|resolve|"
                  r"name or service|timed? ?out|unreachable|"
                  r"permission denied|no space", re.IGNORECASE)
_NOISE = re.compile(r"^(npm (error|ERR!)( (code|errno|syscall)\b.*)?|"
                    r"npm (error|ERR!) A complete log of this run.*|"
                    r"\[notice\].*|WARNING: Running pip as .*)$")


def cause_of(stderr: str, stdout: str = "") -> str:
    """The line of a failed tool's output that says why (at most 300
    characters): the last one, of either stream, naming a TLS, proxy,
    network or permission problem; else the last line of stderr (of stdout
    when stderr is empty) that is not boilerplate."""
    def lines(text: str) -> list[str]:
        return [ln.strip() for ln in text.splitlines() if ln.strip()
                and not _NOISE.match(ln.strip())]
    why = [ln for ln in lines(stdout) + lines(stderr) if _WHY.search(ln)]
    return (why or lines(stderr) or lines(stdout) or ["?"])[-1][:300]


def run_tool(argv: list[str], what: str, ok: tuple[int, ...] = (0,),
             timeout: float | None = 600, log: Path | None = None,
             env: dict[str, str] | None = None,
             cwd: Path | None = None) -> str:
    """Run a command-line tool (an installer, a db sync, nova-manage...)
    to completion in `cwd` (default: ours), with `env` added to ours; its
    whole output goes to
    `log` if given. Returns its stdout.

    Raises UserError, one line, when it is missing, fails (the line of its
    output that says why, see cause_of) or outlives `timeout` seconds.
    """
    try:
        proc = subprocess.run(argv, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout,
                              env={**os.environ, **env} if env else None,
                              cwd=cwd)
    except FileNotFoundError:
        raise UserError(f"{what}: {argv[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"{what}: timed out after {timeout:.0f} s") from None
    where = ""
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(proc.stdout + proc.stderr)
        where = f" (full output: {log})"
    if proc.returncode not in ok:
        raise UserError(f"{what} failed: "
                        f"{cause_of(proc.stderr, proc.stdout)}{where}")
    return proc.stdout


def log_tails(directory: Path, lines: int,
              max_bytes: int = 64 * 1024) -> list[str]:
    """The last `lines` non-empty lines of every ``*.log`` file in
    `directory` (sorted by name), each as ``"<file>: <line>"`` cut at 300
    characters; only each file's last `max_bytes` bytes are read. Files
    that cannot be read are skipped; an absent directory gives []."""
    out: list[str] = []
    for log in sorted(directory.glob("*.log")):
        try:
            with log.open("rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - max_bytes))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        tail = [ln.strip() for ln in text.splitlines() if ln.strip()]
        out.extend(f"{log.name}: {ln[:300]}" for ln in tail[-lines:])
    return out
