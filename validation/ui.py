"""Progress output for slow commands (stderr, so stdout stays parseable)."""

import sys
import threading
import time


class Progress:
    """Say a line of progress, with the seconds since the command began:
    ``progress("edge1.nova healthy")``. Safe from several threads (the
    bring-up's steps run in parallel): each line is written whole."""

    def __init__(self, quiet: bool = False):
        self.t0 = time.monotonic()
        self.quiet = quiet
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def __call__(self, message: str) -> None:
        if not self.quiet:
            with self._lock:
                sys.stderr.write(f"[{self.elapsed():6.1f}s] {message}\n")
                sys.stderr.flush()
