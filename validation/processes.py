"""Processes by PID, for the testbed's supervisor and the fault injector
alike (psutil): a process is identified by its PID *and* its start time,
so a recycled PID is never mistaken for the one recorded."""

from __future__ import annotations

import psutil


def start_time(pid: int) -> float | None:
    """When process `pid` started (psutil's create_time, seconds since the
    epoch); None when there is no such process."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def running(pid: int) -> bool:
    """`pid` exists and is neither a zombie nor dead."""
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE,
                                                    psutil.STATUS_DEAD)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
