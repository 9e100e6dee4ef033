"""The bring-up as data: steps and what each waits for.

The testbed's bring-up is a list of named steps, each naming the steps it
needs (``after``). ``run`` starts every step whose needs are done, as many
at once as are ready (processes start in parallel, a schema loads while
another site's services start), so the order is what the data says and
nothing waits for an unrelated phase to end.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Step:
    """One step: `run` once every step named in `after` is done."""

    name: str
    run: Callable[[], object]
    after: tuple[str, ...] = ()


def check(steps: Iterable[Step]) -> list[Step]:
    """The steps, checked: unique names, every `after` naming a step, no
    cycle. Raises ValueError naming the first problem."""
    steps = list(steps)
    names = [s.name for s in steps]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"step {name!r} defined twice")
        seen.add(name)
    for s in steps:
        for need in s.after:
            if need not in seen:
                raise ValueError(f"step {s.name!r} needs unknown step "
                                 f"{need!r}")
    # Kahn's algorithm: what never becomes ready is on a cycle.
    left = {s.name: set(s.after) for s in steps}
    while True:
        ready = [n for n, needs in left.items() if not needs]
        if not ready:
            break
        for n in ready:
            del left[n]
        for needs in left.values():
            needs.difference_update(ready)
    if left:
        raise ValueError(f"steps wait for each other: "
                         f"{', '.join(sorted(left))}")
    return steps


def run(steps: Iterable[Step], max_workers: int = 16) -> None:
    """Run `steps` (checked first) as their needs allow, at most
    `max_workers` at once. After the first failure no further step
    starts; the running ones finish (each bounds its own waits) and the
    first failure is raised."""
    steps = check(steps)
    needs = {s.name: set(s.after) for s in steps}
    by_name = {s.name: s for s in steps}
    done: set[str] = set()
    running: dict[Future, str] = {}
    first_error: BaseException | None = None
    t0 = time.monotonic()

    def timed(step: Step) -> object:
        # The critical path, with --debug: when each step ran.
        start = time.monotonic()
        try:
            return step.run()
        finally:
            LOG.debug("step %s: %.1f-%.1f s", step.name, start - t0,
                      time.monotonic() - t0)

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        while True:
            if first_error is None:
                for name in [n for n, ns in needs.items()
                             if ns <= done]:
                    del needs[name]
                    running[pool.submit(timed, by_name[name])] = name
            if not running:
                break
            finished, _ = wait_futures(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                name = running.pop(fut)
                exc = fut.exception()
                if exc is not None:
                    first_error = first_error or exc
                else:
                    done.add(name)
    if first_error is not None:
        raise first_error
