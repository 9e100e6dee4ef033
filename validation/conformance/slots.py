"""Several deployment models' conformance runs at once, on one machine.

Each model's run is an ``edge-refarch --slot K conformance run --model M``
of its own: its testbed in testbed slot K (its position in the list), with
addresses, ports and a state directory of its own (model.yaml
testbed.slot_sites, paths.state_dir), so that nothing one run does (a cut
link, a key rotation, a purge of binary logs) reaches another. The runs
mostly wait (on links' latency, on the bounds the model declares), so on
few cores they take little longer together than the longest alone. Their
testbeds come up one after the other, in the order given, each run
starting as soon as its testbed is up: a bring-up is busy on every core
(bench/testbed_bringup.py), and the first run's tests wait less for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from edge_refarch.validation.errors import Terminated, UserError, first_line

# How long the runs may take from start to their last report: the
# bring-ups (every step bounded by start_timeout_s), the Tempest runs
# (runner.TEMPEST_TIMEOUT_S) and what comes after.
RUN_TIMEOUT_S = 5400
# How long a run stopped with SIGTERM may take to clean up (stop its
# Tempest runs, heal its faults, remove its resources) before SIGKILL.
STOP_GRACE_S = 180


def _globals(args, slot: int) -> list[str]:
    """[python, -m, edge_refarch.validation.cli, <global options>] of a
    command in testbed slot `slot`, with `args`' global options."""
    argv = [sys.executable, "-m", "edge_refarch.validation.cli"]
    if args.debug:
        argv.append("--debug")
    if args.quiet:
        argv.append("-q")
    if args.model_file:
        argv += ["--model-file", args.model_file]
    return argv + ["--slot", str(slot)]


def up_argv(args, name: str, slot: int) -> list[str]:
    """The command line that brings `name`'s testbed up in slot `slot`."""
    return _globals(args, slot) + ["testbed", "up", "--model", name] + (
        ["--edges", str(args.edges)] if args.edges is not None else [])


def child_argv(args, name: str, slot: int) -> list[str]:
    """The command line of `name`'s run in testbed slot `slot`: the same
    options as `args` (the parsed ``conformance run``), one model. Shape:
    [python, -m, edge_refarch.validation.cli, ...]."""
    argv = _globals(args, slot) + ["conformance", "run", "--model", name]
    if args.edges is not None:
        argv += ["--edges", str(args.edges)]
    if args.report_dir:
        argv += ["--report-dir", args.report_dir]
    for rid in args.requirement or ():
        argv += ["--requirement", rid]
    if args.expect:
        argv += ["--expect", args.expect]
    if args.no_expect:
        argv.append("--no-expect")
    if args.fail_on:
        argv += ["--fail-on", args.fail_on]
    if args.strict:
        argv.append("--strict")
    return argv


class _Runs:
    """The children (bring-ups and runs) of run_at_once, their output
    relayed line by line, each line led by its model's name."""

    def __init__(self, names: list[str]):
        self.width = max(len(n) for n in names)
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.live: dict[str, subprocess.Popen] = {}
        self.threads: list[threading.Thread] = []
        self.ended: dict[str, float] = {}   # run -> seconds after start

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, errors="replace",
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            # Ctrl-C reaches this process only, which stops each child
            # once (a second signal would cut its clean-up short).
            start_new_session=True)
        self.live[name] = proc
        t = threading.Thread(target=self._relay, args=(name, proc),
                             daemon=True)
        t.start()
        self.threads.append(t)
        return proc

    def _relay(self, name: str, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            with self.lock:
                print(f"[{name:<{self.width}}] {line.rstrip()}", flush=True)
        proc.wait()
        self.ended[name] = time.monotonic() - self.started

    def wait(self, proc: subprocess.Popen, deadline: float) -> int:
        return proc.wait(timeout=max(0.0, deadline - time.monotonic()))

    def stop(self, say) -> None:
        """SIGTERM every child still going (each cleans up as on its own:
        a bring-up stops what it started, a run its Tempest runs, faults
        and resources), SIGKILL (its whole session) after STOP_GRACE_S;
        each is reaped."""
        from edge_refarch.validation.testbed.procs import stop_session
        live = {n: p for n, p in self.live.items() if p.poll() is None}
        if live:
            say("stopping " + ", ".join(live) + " (each cleans up)")
        for proc in live.values():
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_GRACE_S
        for name, proc in live.items():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name}: still running after {STOP_GRACE_S} s; "
                    "killed")
                stop_session(proc.pid, 0)
                proc.wait(timeout=5)

    def join(self) -> None:
        for t in self.threads:
            t.join(timeout=5)


def _replace_other(model, name: str, slot: int, say) -> None:
    """Take down slot `slot`'s testbed when it runs another deployment
    model than `name` (as a single run replaces it)."""
    from edge_refarch.validation import paths
    from edge_refarch.validation.testbed.testbed import Testbed
    bed = Testbed(model, say=say, slot=slot, state=paths.state_dir(slot))
    rec = bed.recorded()
    if rec and rec["deployment"] != name:
        say(f"slot {slot} runs {rec['deployment']}; replacing it with "
            f"{name}")
        bed.down(quiet=True)


def run_at_once(args, model, names: list[str], report_dir, say) -> int:
    """Run `names` (deployment models of `model`) at once, the i-th in
    testbed slot i (replacing another model's testbed there): their
    testbeds come up one after the other in that order, each
    model's run starting once its testbed is up. A testbed that does not
    come up gets no run; its report records why (report.write_incomplete,
    in `report_dir`), as does that of a model whose run had not started
    when the runs are stopped. Returns 0 when every bring-up and run exits 0.
    Raises UserError naming those that did not (exit code: the highest of
    theirs), or when they overrun RUN_TIMEOUT_S; on an interrupt or
    SIGTERM every child is stopped (_Runs.stop) and the interrupt is
    raised again."""
    from edge_refarch.validation.conformance import report
    runs = _Runs(names)
    say(f"running {len(names)} deployment models at once, each on a "
        "testbed in a slot of its own, brought up one after the other: "
        + ", ".join(f"{n} (slot {k})" for k, n in enumerate(names)))
    deadline = runs.started + RUN_TIMEOUT_S
    codes: dict[str, int] = {}
    running: dict[str, subprocess.Popen] = {}
    try:
        for k, name in enumerate(names):
            _replace_other(model, name, k, say)
            code = runs.wait(runs.start(name, up_argv(args, name, k)),
                             deadline)
            if code:
                codes[name] = code
                report.write_incomplete(
                    name, f"its testbed did not come up (exit {code})",
                    report_dir)
                continue
            running[name] = runs.start(name, child_argv(args, name, k))
        for name, proc in running.items():
            codes[name] = runs.wait(proc, deadline)
    except BaseException as exc:
        runs.stop(say)
        # A run that started records its own end; a model whose run did
        # not start loses its earlier verdicts all the same.
        why = (f"stopped: the runs did not end within {RUN_TIMEOUT_S} s"
               if isinstance(exc, subprocess.TimeoutExpired)
               else "terminated (SIGTERM)" if isinstance(exc, Terminated)
               else "interrupted" if isinstance(exc, KeyboardInterrupt)
               else f"{type(exc).__name__}: {first_line(exc)}")
        for name in names:
            if name not in running and name not in codes:
                try:
                    report.write_incomplete(name, why, report_dir)
                except OSError as err:
                    say(f"could not record the incomplete run of {name} "
                        f"in {report_dir}: {err}")
        if isinstance(exc, subprocess.TimeoutExpired):
            raise UserError(f"the runs did not end within {RUN_TIMEOUT_S} "
                            "s; stopped") from None
        raise
    finally:
        runs.join()
    for name in names:
        say(f"{name}: exit {codes[name]}, "
            f"{runs.ended.get(name, 0.0):.0f} s after the start")
    say(f"{len(names)} deployment models in "
        f"{time.monotonic() - runs.started:.0f} s")
    failed = {n: c for n, c in codes.items() if c}
    if failed:
        raise UserError(
            "the run of " + ", ".join(f"{n} (exit {c})"
                                      for n, c in failed.items())
            + " did not pass; its lines above say why",
            max(failed.values()))
    return 0
