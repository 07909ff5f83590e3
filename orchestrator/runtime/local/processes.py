"""Process control for the local runtime: spawn in a group, tag, stop, find by tag.

Every process we start gets the environment id in its environment (``ENVCTL_ENV_ID``),
the local equivalent of a container label: whatever a killed envctl leaves behind can
be found by scanning processes for it, even processes we never recorded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from orchestrator.ownership import is_same_process

log = logging.getLogger(__name__)

TAG = "ENVCTL_ENV_ID"
# Which state store owns the process: `envctl gc` only reaps orphans of its own store,
# never those of another user's or CI job's store on the same machine.
STORE_TAG = "ENVCTL_STATE_STORE"


@dataclass(frozen=True)
class RunAs:
    """An unprivileged user to run servers that refuse root (PostgreSQL)."""

    uid: int
    gid: int


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    run_as: RunAs | None = None,
) -> subprocess.Popen[bytes]:
    """Start a process in its own session (so it has its own process group)."""
    with log_path.open("ab") as out:
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=run_as.uid if run_as else None,
            group=run_as.gid if run_as else None,
            extra_groups=[] if run_as else None,
        )


def stop_group(
    pid: int,
    started: float | None,
    stop_signal: signal.Signals,
    timeout: float,
    popen: subprocess.Popen[bytes] | None = None,
) -> None:
    """Signal a process group, wait up to ``timeout``, then SIGKILL what is left."""
    if popen is not None and popen.poll() is not None:
        _kill_group(pid, signal.SIGKILL)  # the leader is gone; its children may not be
        return
    if popen is None and not is_same_process(pid, started):
        # The recorded leader is gone (or its pid now belongs to someone else): never
        # signal that group blindly. Its tagged members are reaped by kill_tagged.
        return
    _kill_group(pid, stop_signal)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen is not None:
            if popen.poll() is not None:
                break
        elif not is_same_process(pid, started):
            break
        time.sleep(0.05)
    else:
        log.info("process group %d did not stop within %.0fs; killing it", pid, timeout)
    _kill_group(pid, signal.SIGKILL)
    if popen is not None:
        try:
            popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.warning("process %d did not exit after SIGKILL", pid)


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def tagged(env_id: str | None = None, store: str | None = None) -> dict[str, list[psutil.Process]]:
    """Processes carrying ``ENVCTL_ENV_ID`` (optionally one id, one store), grouped by id."""
    found: dict[str, list[psutil.Process]] = {}
    me = os.getpid()
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            environ = proc.environ()
        except (psutil.Error, OSError):
            continue
        value = environ.get(TAG)
        if store is not None and environ.get(STORE_TAG) != store:
            continue
        if value and (env_id is None or value == env_id):
            found.setdefault(value, []).append(proc)
    return found


def kill_tagged(env_id: str, work_dir: Path | None = None, timeout: float = 5.0) -> list[str]:
    """SIGKILL every process of ``env_id``; return descriptions of survivors.

    A process is the environment's when it carries the tag, or (for programs that
    rewrite their environment block) when its working directory is in ``work_dir``.
    """
    procs = tagged(env_id).get(env_id, [])
    if work_dir is not None:
        seen = {p.pid for p in procs}
        procs += [p for p in _engine_servers_in(work_dir) if p.pid not in seen]
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            continue
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return [f"process {p.pid}" for p in alive if _alive(p)]


# Servers that may rewrite their environment block for their process title (hiding the
# tag); found instead by their working directory inside the environment's service dirs.
ENGINE_EXECUTABLES = frozenset({"postgres", "redis-server"})


def _engine_servers_in(work_dir: Path) -> list[psutil.Process]:
    prefix = str(work_dir / "services") + os.sep
    found = []
    for proc in psutil.process_iter(["pid", "name"]):
        try:
            if proc.info["name"] not in ENGINE_EXECUTABLES:
                continue
            cwd = proc.cwd().removesuffix(" (deleted)")
        except (psutil.Error, OSError):
            continue
        if cwd.startswith(prefix):
            found.append(proc)
    return found


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"
