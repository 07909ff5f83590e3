"""Environments a script left open are torn down, and recorded, as Python exits.

Not with ``atexit``: that runs after ``concurrent.futures`` has shut its thread pools
down for good, and teardown stops services from one. This hooks in where
``concurrent.futures`` itself does, when the main thread ends, and first (the hooks run
last-registered first). An environment whose thread is still running and not a daemon
is left to that thread: Python waits for it. SIGKILL and ``os._exit`` skip all this;
``envctl gc`` reaps their environments once the process is gone.
"""

from __future__ import annotations

import atexit
import functools
import logging
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.api import Environment

log = logging.getLogger(__name__)

_open: dict[Environment, threading.Thread] = {}  # → the thread that started it
_lock = threading.Lock()


def track(env: Environment) -> None:
    """``env`` is up: close it at exit unless ``untrack``ed first."""
    _hook()
    with _lock:
        _open[env] = threading.current_thread()


def untrack(env: Environment) -> None:
    with _lock:
        _open.pop(env, None)


@functools.cache  # once per process, at the first environment: no import-time effects
def _hook() -> None:
    # Imported (so its hook registered) before ours, to run after ours.
    import concurrent.futures.thread  # noqa: F401

    register = getattr(threading, "_register_atexit", atexit.register)  # CPython's own
    try:
        register(_close_open)
    except RuntimeError:  # Python is exiting already
        atexit.register(_close_open)


def _close_open() -> None:
    with _lock:  # copied: closing untracks, under the lock
        left = [env for env, thread in _open.items() if _ended(thread)]
    # What ended the script, when an uncaught exception did (not an old one of a REPL).
    last = None if hasattr(sys, "ps1") else getattr(sys, "last_value", None)
    error = last if isinstance(last, BaseException) else None
    for env in reversed(left):  # the last started first, as nested `with` blocks do
        log.warning("%s was never closed; tearing it down as Python exits", env.env_id)
        try:
            env.close(error)
        except Exception:  # the next environments still get their teardown
            log.exception("could not tear down %s at exit", env.env_id)


def _ended(thread: threading.Thread) -> bool:
    return thread is threading.main_thread() or thread.daemon or not thread.is_alive()
