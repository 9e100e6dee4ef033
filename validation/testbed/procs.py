"""Start detached service processes and stop exactly those, by PID.

Each process is started in a session of its own (so its workers share its
process group) and recorded in ``<state>/pids/<name>.json`` with its start
time, so that a recycled PID is never mistaken for ours.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from edge_refarch.validation.errors import UserError


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); the command name (field 2) may contain spaces.
    return int(stat.rsplit(")", 1)[1].split()[19])


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


class Process:
    """A recorded service process."""

    def __init__(self, name: str, pid: int, start: int | None,
                 argv: list[str]):
        self.name, self.pid, self.start, self.argv = name, pid, start, argv

    @property
    def alive(self) -> bool:
        return (self.start is not None
                and _start_ticks(self.pid) == self.start
                and not _is_zombie(self.pid))

    def group(self) -> list[int]:
        """PIDs of this process and every process in its session."""
        if not self.alive:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[3]) == self.pid:  # session id == our leader
                pids.append(int(entry.name))
        return sorted(set(pids) | {self.pid})

    def rss_kib(self) -> int:
        total = 0
        for pid in self.group():
            try:
                for line in Path(f"/proc/{pid}/status").read_text() \
                        .splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total


class ProcessTable:
    def __init__(self, state: Path):
        self.dir = state / "pids"

    def spawn(self, name: str, argv: list[str], *, cwd: Path,
              env: dict[str, str] | None = None, log: Path) -> Process:
        self.dir.mkdir(parents=True, exist_ok=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(log, "ab") as out, open(os.devnull, "rb") as devnull:
            popen = subprocess.Popen(
                argv, cwd=cwd, env=full_env, stdin=devnull, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
                close_fds=True)
        proc = Process(name, popen.pid, _start_ticks(popen.pid), argv)
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

    def stop_all(self, timeout: float = 15.0) -> list[str]:
        """SIGTERM every recorded process group, then SIGKILL stragglers."""
        procs = [p for p in self.all() if p.alive]
        targets = {p.name: p.group() for p in procs}
        for pids in targets.values():
            for pid in pids:
                _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(_pid_alive(pid) for pids in targets.values()
                       for pid in pids):
                break
            time.sleep(0.1)
        for pids in targets.values():
            for pid in pids:
                if _pid_alive(pid):
                    _signal(pid, signal.SIGKILL)
        for f in self.dir.glob("*.json") if self.dir.exists() else []:
            f.unlink()
        return sorted(targets)


def _pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and not _is_zombie(pid)


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
             env: dict[str, str] | None = None) -> str:
    """Run a command-line tool (an installer, a db sync, nova-manage...)
    to completion, with `env` added to ours; its whole output goes to
    `log` if given. Returns its stdout.

    Raises UserError, one line, when it is missing, fails (the line of its
    output that says why, see cause_of) or outlives `timeout` seconds.
    """
    try:
        proc = subprocess.run(argv, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout,
                              env={**os.environ, **env} if env else None)
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
