"""Precise deadlines for the proxy's delay queues.

Latency faults promise sub-millisecond accuracy, and the event loop's own timers cannot
give it: asyncio's ``call_at`` fires 0.6 to 1.2 ms late (epoll timeouts are rounded up to
whole milliseconds) and uvloop's clock moves in 1 ms steps, so its timers fire up to
~1 ms *early*. On Linux a ``timerfd`` armed with an absolute ``CLOCK_MONOTONIC`` deadline
wakes the loop within ~0.1 ms and never early (measured, see
shared/reference/faults.md §4.2).

A ``Clock`` multiplexes every pending deadline of the proxy (one per direction with a
queue: the head of that queue) onto ONE timerfd, so a thousand delayed connections cost
one file descriptor, not two thousand. ``now()`` is ``time.monotonic()``, which CPython
reads from ``CLOCK_MONOTONIC`` on Linux: the same clock the timerfd counts in.

Elsewhere (macOS, Windows, or a libc without timerfd) ``LoopClock`` falls back to the
loop's timers, re-arming when they fire early.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import ctypes
import functools
import heapq
import itertools
import logging
import math
import os
import sys
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Callback = Callable[[], None]
ClockFactory = Callable[[asyncio.AbstractEventLoop], "Clock"]

_CLOCK_MONOTONIC = 1
_TFD_CLOEXEC = os.O_CLOEXEC
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_TIMER_ABSTIME = 1


class TimerHandle:
    """One pending deadline; ``cancel()`` is idempotent and safe after it fired."""

    __slots__ = ("_clock", "callback", "cancelled", "native", "when")

    def __init__(self, when: float, callback: Callback, clock: Clock) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False
        self.native: asyncio.TimerHandle | None = None  # LoopClock's underlying handle
        self._clock = clock

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self._clock._cancelled(self)


class Clock(abc.ABC):
    """Monotonic time in seconds and callbacks at absolute deadlines on that time base.

    Contract: a callback never runs before its deadline (``now() >= when`` inside it),
    and every method is called from the event loop's thread. ``TimerFdClock`` also runs
    due callbacks in deadline order (FIFO on ties); nothing relies on that across
    stages, since each stage keeps at most one deadline and its own FIFO.
    """

    kind: str = "abstract"

    @staticmethod
    def now() -> float:
        return time.monotonic()

    @abc.abstractmethod
    def call_at(self, when: float, callback: Callback) -> TimerHandle:
        """Run ``callback()`` once ``now() >= when``."""

    @abc.abstractmethod
    def close(self) -> None:
        """Drop every pending callback and release the clock's resources (idempotent)."""

    @abc.abstractmethod
    def _cancelled(self, handle: TimerHandle) -> None:
        """A handle of this clock was cancelled (bookkeeping)."""


# How early the timerfd is armed before a deadline, to be spun away in _on_ready: about the
# kernel's wake-up plus the loop's dispatch latency measured here (faults.md: timerfd p99
# lateness 0.13 to 0.19 ms). CPU spent spinning is at most this per deadline.
SPIN = 0.0002


class TimerFdClock(Clock):
    """Every deadline on one Linux timerfd, armed for the earliest one (absolute time)."""

    kind = "timerfd"

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._fd = _timerfd_create()
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._armed: float | None = None
        self._stale = 0  # cancelled handles still in the heap
        self._spec = _Itimerspec()
        try:
            loop.add_reader(self._fd, self._on_ready)
        except BaseException:
            os.close(self._fd)
            raise

    def call_at(self, when: float, callback: Callback) -> TimerHandle:
        handle = TimerHandle(when, callback, self)
        heapq.heappush(self._heap, (when, next(self._seq), handle))
        if self._armed is None or when < self._armed:
            self._arm(when)
        return handle

    def close(self) -> None:
        if self._fd < 0:
            return
        self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._fd = -1
        self._heap.clear()

    def _cancelled(self, handle: TimerHandle) -> None:
        # Lazy deletion: the entry stays until it reaches the head or the heap is rebuilt.
        # The timerfd may stay armed for it; a spurious wake-up finds nothing due and
        # re-arms, which is cheaper than a syscall per cancel.
        self._stale += 1
        if self._stale > 64 and self._stale * 2 > len(self._heap):
            self._heap = [e for e in self._heap if not e[2].cancelled]
            heapq.heapify(self._heap)
            self._stale = 0

    def _on_ready(self) -> None:
        # Read the expiry count to re-enable the fd; it may be empty if the deadline was
        # re-armed after it fired.
        with contextlib.suppress(BlockingIOError):
            os.read(self._fd, 8)
        self._armed = None
        heap = self._heap
        now = time.monotonic()
        while heap:
            when, _, handle = heap[0]
            if handle.cancelled:
                heapq.heappop(heap)
                self._stale -= 1
                continue
            if when > now:
                now = time.monotonic()  # callbacks take time: what was not due may be now
                if when - now > SPIN:
                    break
                # The fd woke us SPIN early (see _arm): the kernel's wake-up and the loop's
                # dispatch take a fraction of a millisecond, spent here instead of late.
                while now < when:
                    now = time.monotonic()
            heapq.heappop(heap)
            handle.cancelled = True  # fired: a later cancel() is a no-op
            try:
                handle.callback()
            except Exception as exc:  # one broken callback must not stop the clock
                self._loop.call_exception_handler(
                    {"message": "proxy timer callback failed", "exception": exc}
                )
            if self._fd < 0:
                return  # a callback closed the clock
        if heap:
            self._arm(heap[0][0])

    def _arm(self, when: float) -> None:
        # Fire SPIN before the deadline; _on_ready spins the rest, so a deadline is met
        # to within a few microseconds once the loop gets to the fd.
        self._armed = when
        when -= SPIN
        sec = math.floor(when)
        nsec = math.ceil((when - sec) * 1e9)
        if nsec >= 1_000_000_000:
            sec, nsec = sec + 1, nsec - 1_000_000_000
        spec = self._spec
        spec.it_value.tv_sec = sec
        spec.it_value.tv_nsec = nsec
        if _libc().timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None):
            err = ctypes.get_errno()
            raise OSError(err, f"timerfd_settime: {os.strerror(err)}")


class LoopClock(Clock):
    """The portable fallback: the loop's own timers, re-armed when they fire early."""

    kind = "loop"

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._handles: set[TimerHandle] = set()

    def call_at(self, when: float, callback: Callback) -> TimerHandle:
        handle = TimerHandle(when, callback, self)
        self._handles.add(handle)
        self._schedule(handle)
        return handle

    def close(self) -> None:
        for handle in list(self._handles):
            handle.cancel()

    def _cancelled(self, handle: TimerHandle) -> None:
        self._handles.discard(handle)
        if handle.native is not None:
            handle.native.cancel()

    def _schedule(self, handle: TimerHandle) -> None:
        # call_later, not call_at: uvloop's loop.time() is not time.monotonic().
        delay = max(handle.when - time.monotonic(), 0.0)
        handle.native = self._loop.call_later(delay, self._fire, handle)

    def _fire(self, handle: TimerHandle) -> None:
        if handle.cancelled:
            return
        if time.monotonic() < handle.when:  # uvloop's 1 ms clock steps fire early
            self._schedule(handle)
            return
        handle.cancelled = True
        self._handles.discard(handle)
        handle.callback()


def default_clock(loop: asyncio.AbstractEventLoop) -> Clock:
    """The most precise clock this platform offers: timerfd on Linux, else loop timers."""
    if timerfd_available():
        try:
            return TimerFdClock(loop)
        except (OSError, NotImplementedError) as exc:  # e.g. a loop without add_reader
            log.info("timerfd unusable (%s); proxy delays use the loop's timers", exc)
    return LoopClock(loop)


def timerfd_available() -> bool:
    """True when timerfd exists and time.monotonic() counts on its CLOCK_MONOTONIC."""
    if not sys.platform.startswith("linux"):
        return False
    if "CLOCK_MONOTONIC" not in time.get_clock_info("monotonic").implementation:
        return False
    try:
        _libc()
    except (OSError, AttributeError):
        return False
    return True


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


@functools.cache
def _libc() -> ctypes.CDLL:
    # Python 3.13 has os.timerfd_create; 3.11 needs libc through ctypes. Loaded on first
    # use, not at import, so importing the proxy has no side effects.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.timerfd_create.restype = ctypes.c_int
    libc.timerfd_settime.argtypes = [
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(_Itimerspec),
        ctypes.POINTER(_Itimerspec),
    ]
    libc.timerfd_settime.restype = ctypes.c_int
    return libc


def _timerfd_create() -> int:
    fd: int = _libc().timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"timerfd_create: {os.strerror(err)}")
    return fd
