"""Who owns an environment, and whether that owner is still alive.

A process is identified by its pid *and* its start time, so a pid reused by an unrelated
process after a crash is never mistaken for the owner (or for a service to kill).
"""

from __future__ import annotations

import os

import psutil

from orchestrator.state import EnvRecord, this_host


def started_at(pid: int) -> float | None:
    """The process's start time, or None when there is no such process."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def is_same_process(pid: int | None, started: float | None) -> bool:
    """True while the process that had ``pid`` at ``started`` is still running."""
    if not pid or started is None:
        return False
    now = started_at(pid)
    if now is None or abs(now - started) >= 0.05:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def this_process() -> tuple[int, float | None]:
    return os.getpid(), started_at(os.getpid())


def owned_here(record: EnvRecord) -> bool:
    """Whether the owner, if any, runs on this host (only then can we check or signal it)."""
    return record.owner_host == this_host()


def owner_alive(record: EnvRecord) -> bool | None:
    """True/False for an owner on this host; None when it runs elsewhere (unknowable)."""
    if record.owner_pid is None:
        return False
    if not owned_here(record):
        return None
    return is_same_process(record.owner_pid, record.owner_started)
