"""What every fault is: a stage in a chain of one callable signature, ``Send``.

Each direction of a connection passes what it reads through
``stage_1(chunk) → stage_2(chunk) → … → sink(chunk)``, the way starlette stacks
middleware: every stage is a ``Send`` that holds the next ``Send`` and calls it when (and
if) the chunk may go on. Stages are objects that outlive a rebuild: when a proxy's toxics
change, the relay re-links the surviving stages, appends new ones and ``flush()``es the
removed ones into their successor. Because every stage is a FIFO and flushing is
synchronous, bytes are never reordered, whatever is added or removed mid-stream, and the
control plane never waits for traffic (Toxiproxy's interrupt-and-drain under a mutex is
what hung its API, #88 #159 #412 #558).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from typing import Protocol

from orchestrator.proxy.model import Toxic
from orchestrator.proxy.timing import Clock, TimerHandle

DATA = 0
EOF = 1  # the source half-closed: propagate a FIN (write_eof) to the destination
CLOSE = 2  # a fault ends the connection: close both sides once this reaches the sink


class Chunk:
    """Bytes read from one side (or an end-of-stream marker), stamped with a time.

    ``at`` is when the chunk entered the current stage: the read time at the head of the
    chain, then each timed stage's *scheduled* release time. Using the schedule rather
    than the moment the timer actually fired keeps chained delays additive without
    accumulating timer lateness.
    """

    __slots__ = ("at", "data", "kind")

    def __init__(self, data: bytes, at: float, kind: int = DATA) -> None:
        self.data = data
        self.at = at
        self.kind = kind


Send = Callable[[Chunk], None]


class StageContext(Protocol):
    """What a stage may ask of the direction it sits in (``relay.Direction`` implements it)."""

    @property
    def clock(self) -> Clock: ...

    def hold(self, nbytes: int) -> None:
        """``nbytes`` more (or, negative, fewer) bytes are parked inside stages: above a
        bound the direction stops reading its source, so memory stays bounded."""

    def reset_connection(self, reason: str) -> None:
        """Close both sides with an RST (SO_LINGER 0) now."""

    def delay_applied(self, toxic: Toxic, seconds: float) -> None:
        """A latency stage released a chunk ``seconds`` after it arrived."""


def _unlinked(chunk: Chunk) -> None:
    raise RuntimeError("proxy fault stage used before it was linked into a chain")


class Stage:
    """One toxic on one direction of one connection.

    Subclasses implement ``__call__`` (a chunk arrives) and, when they hold anything,
    ``flush`` (the toxic was removed: pass on what is held, now, in order) and ``close``
    (the connection is gone: drop it). ``rng`` is this toxic's seeded stream on this
    connection (``rng.py``), already past its toxicity roll.
    """

    def __init__(self, toxic: Toxic, ctx: StageContext, rng: random.Random) -> None:
        self.toxic = toxic
        self.ctx = ctx
        self.rng = rng
        self.next: Send = _unlinked
        self.configure()

    def __call__(self, chunk: Chunk) -> None:
        raise NotImplementedError

    def configure(self) -> None:
        """Read ``self.toxic.attributes`` into fields (at creation and on every update)."""

    def update(self, toxic: Toxic) -> None:
        """The toxic's attributes or toxicity changed: applies from the next chunk."""
        self.toxic = toxic
        self.configure()

    def flush(self) -> None:
        """The toxic was removed from this connection."""

    def close(self) -> None:
        """The connection ended."""


class TimedStage(Stage):
    """A FIFO whose entries leave at scheduled times: latency, bandwidth, slicer.

    Release times never decrease (``release = max(wanted, previous release)``), so bytes
    keep their order; only the queue's head has a deadline armed on the clock.
    """

    records_delay = False

    def __init__(self, toxic: Toxic, ctx: StageContext, rng: random.Random) -> None:
        self._queue: deque[tuple[float, float, Chunk]] = deque()  # (release, entered, chunk)
        self._timer: TimerHandle | None = None
        self._last = 0.0
        self._closed = False
        super().__init__(toxic, ctx, rng)

    def schedule(self, release: float, entered: float, chunk: Chunk) -> None:
        """Pass ``chunk`` on at ``release`` (or later, behind what is already queued)."""
        release = max(release, self._last)
        self._last = release
        if not self._queue and release <= self.ctx.clock.now():
            self._emit(release, entered, chunk, release)
            return
        self._queue.append((release, entered, chunk))
        self.ctx.hold(len(chunk.data))
        if self._timer is None:
            self._timer = self.ctx.clock.call_at(release, self._fire)

    def _emit(self, release: float, entered: float, chunk: Chunk, now: float) -> None:
        if self.records_delay and chunk.kind == DATA:
            self.ctx.delay_applied(self.toxic, now - entered)
        chunk.at = release
        self.next(chunk)

    def _fire(self) -> None:
        self._timer = None
        clock = self.ctx.clock
        now = clock.now()
        queue = self._queue
        while queue and not self._closed:
            release, entered, chunk = queue[0]
            if release > now:
                self._timer = clock.call_at(release, self._fire)
                return
            queue.popleft()
            self.ctx.hold(-len(chunk.data))
            self._emit(release, entered, chunk, now)

    def flush(self) -> None:
        # Removed while chunks wait: release them all now, in order (a latency toxic
        # removed under load must not keep data hostage, nor reorder it).
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self.ctx.clock.now()
        queue = self._queue
        while queue and not self._closed:
            _, entered, chunk = queue.popleft()
            self.ctx.hold(-len(chunk.data))
            self._emit(now, entered, chunk, now)

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        held = sum(len(c.data) for _, _, c in self._queue)
        self._queue.clear()
        if held:
            self.ctx.hold(-held)
