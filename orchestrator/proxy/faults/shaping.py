"""``bandwidth`` and ``slicer``: change how bytes are spread over time, not which bytes.

Both schedule pieces on a virtual timeline (absolute release times computed from the
previous piece's), so the timer firing late delays one piece but never slows the rate:
the next deadline is computed from where the previous one *should* have been.
"""

from __future__ import annotations

import random

from orchestrator.proxy.faults.base import DATA, Chunk, StageContext, TimedStage
from orchestrator.proxy.model import Toxic

# A slow rate sends a big chunk as pieces of this much transmission time each, so the
# peer sees a steady trickle rather than one burst per chunk (Toxiproxy uses 100 ms).
PIECE_SECONDS = 0.02


class Bandwidth(TimedStage):
    """``rate`` KB/s (1 KB = 1000 B) per connection and direction; 0 means unlimited.

    A piece of n bytes leaves when the "wire" would have finished sending it:
    ``free = max(arrival, free) + n / rate``. Idle time earns no burst credit.
    """

    def __init__(self, toxic: Toxic, ctx: StageContext, rng: random.Random) -> None:
        self._free = 0.0
        super().__init__(toxic, ctx, rng)

    def configure(self) -> None:
        self._rate = float(self.toxic.attributes["rate"]) * 1000.0  # bytes per second

    def __call__(self, chunk: Chunk) -> None:
        rate, entered = self._rate, chunk.at
        if rate <= 0.0:
            self.schedule(entered, entered, chunk)  # unlimited, but behind what waits
            return
        start = max(entered, self._free)
        data = chunk.data
        if chunk.kind != DATA:
            self.schedule(start, entered, chunk)
            return
        piece = max(1, int(rate * PIECE_SECONDS))
        if len(data) <= piece:
            start += len(data) / rate
            self.schedule(start, entered, chunk)
        else:
            for offset in range(0, len(data), piece):
                part = data[offset : offset + piece]
                start += len(part) / rate
                self.schedule(start, entered, Chunk(part, entered))
        self._free = start


class Slicer(TimedStage):
    """Cut each chunk into slices of ``average_size`` ± ``size_variation`` bytes (uniform),
    at least ``delay`` µs apart (Toxiproxy halves chunks recursively; uniform sizes are
    simpler to reason about and replay)."""

    def configure(self) -> None:
        attributes = self.toxic.attributes
        self._average = int(attributes["average_size"])
        self._variation = int(attributes["size_variation"])
        self._gap = float(attributes["delay"]) / 1e6

    def __call__(self, chunk: Chunk) -> None:
        entered = chunk.at
        if chunk.kind != DATA:
            self.schedule(entered, entered, chunk)
            return
        data, offset = chunk.data, 0
        while offset < len(data):
            size = self._average
            if self._variation:
                size += self.rng.randint(-self._variation, self._variation)
            part = data[offset : offset + size]
            offset += len(part)
            # _last is the previous slice's release: slices are `delay` apart, and the
            # first slice after a quiet spell goes at once.
            self.schedule(max(entered, self._last + self._gap), entered, Chunk(part, entered))
