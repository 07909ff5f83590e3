"""SIGINT/SIGTERM → an exception in the main thread, so ``finally`` blocks tear down.

Three tools, all no-ops off the main thread (only it receives signals in Python):

* ``interruptible()``: while the engine itself works (``envctl run``, starting an
  environment), the first SIGINT/SIGTERM raises ``Interrupted``.
* ``shielded()``: during teardown and its recording, signals are noted and ignored:
  stopping half-way would leave exactly the leftovers teardown exists to remove, or a
  run that never reached the record (``envctl gc`` covers SIGKILL).
* ``hold_sigterm()``: while the caller's code holds a live environment (the Python API,
  the pytest plugin), SIGTERM raises ``Terminated``, a ``KeyboardInterrupt``, as Ctrl-C
  does. Python's default is to die at once, skipping every ``finally`` and ``atexit``,
  and local services run in sessions of their own: they would outlive it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from orchestrator.exceptions import Interrupted

log = logging.getLogger(__name__)
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interruptible() -> Iterator[None]:
    """Raise ``Interrupted`` on the first SIGINT/SIGTERM while inside."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        # One interruption is enough: the next ones must not cut the teardown short.
        for sig in _SIGNALS:
            signal.signal(sig, _ignored)
        raise Interrupted(name)

    previous = {sig: signal.signal(sig, handler) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def shielded() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM while inside (teardown)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _ignored) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _ignored(signum: int, frame: FrameType | None) -> None:
    log.warning(
        "%s received during teardown; finishing teardown first", signal.Signals(signum).name
    )


class Terminated(KeyboardInterrupt):
    """SIGTERM while an environment is held (``hold_sigterm``): stops the caller's code
    the way Ctrl-C does, so its ``with`` blocks, pytest's fixtures and ``atexit`` run."""

    def __init__(self) -> None:
        super().__init__("SIGTERM, raised as a KeyboardInterrupt so that teardown runs")


# Every hold of this process (environments, the pytest-xdist controller) shares one
# handler; each may bring a callback run when SIGTERM comes. Read by the handler without
# the lock: it runs in the main thread, maybe while that thread holds the lock.
_holds: dict[object, Callable[[], None] | None] = {}
_holds_lock = threading.Lock()


def hold_sigterm(on_signal: Callable[[], None] | None = None) -> Callable[[], None] | None:
    """Until the returned release is called, SIGTERM raises ``Terminated``, once; later
    ones are noted and ignored (the teardown it started must finish) until the last hold
    is released, which restores the default.

    Only from the main thread, and only over the default handler: someone else's handler
    is theirs to decide. Returns None then, and holds nothing. Release from any thread;
    off the main thread the handler cannot be put back, so it stays and, with no hold
    left, does what the default does.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    with _holds_lock:
        current = signal.getsignal(signal.SIGTERM)
        if current not in (_terminate, _after_terminate):
            if current is not signal.SIG_DFL:
                return None
            signal.signal(signal.SIGTERM, _terminate)
        token = object()
        _holds[token] = on_signal

    def release() -> None:
        with _holds_lock:
            if token not in _holds:
                return  # released already
            del _holds[token]
            if _holds or threading.current_thread() is not threading.main_thread():
                return
            if signal.getsignal(signal.SIGTERM) in (_terminate, _after_terminate):
                signal.signal(signal.SIGTERM, signal.SIG_DFL)

    return release


def _terminate(signum: int, frame: FrameType | None) -> None:
    if not _holds:  # every hold was released off the main thread
        _as_default()
        return
    signal.signal(signal.SIGTERM, _after_terminate)
    for callback in list(_holds.values()):
        if callback is not None:
            callback()
    raise Terminated


def _after_terminate(signum: int, frame: FrameType | None) -> None:
    if not _holds:
        _as_default()
        return
    _ignored(signum, frame)


def _as_default() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
