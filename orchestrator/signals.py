"""SIGINT/SIGTERM → ``Interrupted`` in the main thread, so ``finally`` blocks tear down.

During teardown, further signals are noted and ignored: stopping half-way would leave
exactly the leftovers teardown exists to remove (``envctl gc`` covers SIGKILL).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
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
