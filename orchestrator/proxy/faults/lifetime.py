"""Faults that end (or freeze) a connection: limit_data, timeout, reset_peer, slow_close."""

from __future__ import annotations

import logging
import random

from orchestrator.proxy.faults.base import CLOSE, DATA, Chunk, Stage, StageContext
from orchestrator.proxy.model import Toxic
from orchestrator.proxy.timing import TimerHandle

log = logging.getLogger(__name__)


class LimitData(Stage):
    """Forward up to ``bytes`` bytes in this direction, then close the connection."""

    def __init__(self, toxic: Toxic, ctx: StageContext, rng: random.Random) -> None:
        self._sent = 0
        self._done = False
        super().__init__(toxic, ctx, rng)

    def configure(self) -> None:
        self._limit = int(self.toxic.attributes["bytes"])

    def __call__(self, chunk: Chunk) -> None:
        if self._done:
            return
        if chunk.kind != DATA:
            self.next(chunk)
            return
        room = self._limit - self._sent
        if len(chunk.data) < room:
            self._sent += len(chunk.data)
            self.next(chunk)
            return
        if room > 0:
            chunk.data = chunk.data[:room]
            self._sent += room
            self.next(chunk)
        self._done = True
        log.debug("limit_data %r: %d bytes passed, closing", self.toxic.name, self._sent)
        self.next(Chunk(b"", chunk.at, CLOSE))


class Timeout(Stage):
    """Forward nothing (not even the end of the stream); close after ``timeout`` ms
    counted from when the toxic started on this connection, or never if 0.

    Removing it does NOT close the connection (Toxiproxy does, #121 #149): forwarding
    simply resumes. What it discarded while active is gone for good, as on a dead link.
    """

    def __init__(self, toxic: Toxic, ctx: StageContext, rng: random.Random) -> None:
        self._start = ctx.clock.now()
        self._timer: TimerHandle | None = None
        super().__init__(toxic, ctx, rng)

    def configure(self) -> None:
        self._cancel()
        timeout = float(self.toxic.attributes["timeout"])
        if timeout > 0:
            self._timer = self.ctx.clock.call_at(self._start + timeout / 1000.0, self._expire)

    def __call__(self, chunk: Chunk) -> None:
        return  # discarded

    def _expire(self) -> None:
        self._timer = None
        log.debug("timeout %r expired, closing", self.toxic.name)
        self.next(Chunk(b"", self.ctx.clock.now(), CLOSE))

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def flush(self) -> None:
        self._cancel()

    def close(self) -> None:
        self._cancel()


class ResetPeer(Stage):
    """On the first chunk, wait ``timeout`` ms, then reset both sides (RST).

    That chunk and everything after it are held, not forwarded (as Toxiproxy); the reset
    discards them. If the toxic is removed before the reset fires, they are passed on.
    SO_LINGER 0 is set at the moment of the reset, only on this connection (Toxiproxy
    sets it on every connection, even at toxicity 0, #603).
    """

    def __init__(self, toxic: Toxic, ctx: StageContext, rng: random.Random) -> None:
        self._first: float | None = None
        self._held: list[Chunk] = []
        self._timer: TimerHandle | None = None
        super().__init__(toxic, ctx, rng)

    def configure(self) -> None:
        if self._first is not None:
            self._arm()

    def __call__(self, chunk: Chunk) -> None:
        if self._first is None:
            if chunk.kind != DATA:
                self.next(chunk)
                return
            self._first = chunk.at
            self._arm()
        self._held.append(chunk)
        self.ctx.hold(len(chunk.data))

    def _arm(self) -> None:
        self._cancel()
        assert self._first is not None
        deadline = self._first + float(self.toxic.attributes["timeout"]) / 1000.0
        self._timer = self.ctx.clock.call_at(deadline, self._reset)

    def _reset(self) -> None:
        self._timer = None
        self._drop()
        self.ctx.reset_connection(f"reset_peer toxic {self.toxic.name!r}")

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _drop(self) -> None:
        held = sum(len(c.data) for c in self._held)
        self._held.clear()
        if held:
            self.ctx.hold(-held)

    def flush(self) -> None:
        self._cancel()
        held, self._held = self._held, []
        for chunk in held:
            self.ctx.hold(-len(chunk.data))
            self.next(chunk)

    def close(self) -> None:
        self._cancel()
        self._drop()


class SlowClose(Stage):
    """Hold the end of the stream (FIN, or a fault's close) for ``delay`` ms."""

    def __init__(self, toxic: Toxic, ctx: StageContext, rng: random.Random) -> None:
        self._held: Chunk | None = None
        self._timer: TimerHandle | None = None
        super().__init__(toxic, ctx, rng)

    def configure(self) -> None:
        self._delay = float(self.toxic.attributes["delay"]) / 1000.0
        if self._held is not None:
            self._arm(self._held)

    def __call__(self, chunk: Chunk) -> None:
        if chunk.kind == DATA:
            self.next(chunk)
        elif self._held is None:
            self._held = chunk
            self._arm(chunk)

    def _arm(self, chunk: Chunk) -> None:
        self._cancel()
        self._timer = self.ctx.clock.call_at(chunk.at + self._delay, self._release)

    def _release(self) -> None:
        self._timer = None
        chunk, self._held = self._held, None
        if chunk is not None:
            self.next(chunk)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def flush(self) -> None:
        self._cancel()
        self._release()

    def close(self) -> None:
        self._cancel()
        self._held = None
