"""Per-proxy counters and a bounded sample of the delays latency toxics actually applied.

Counters are plain ints bumped on the event loop's thread. Byte counts of live
connections stay on their connections (one add per chunk, no dict lookup on the hot path)
and are folded in here when a connection closes; ``snapshot()`` adds the live ones.
"""

from __future__ import annotations

import math
import random
from typing import Any

RESERVOIR_SIZE = 4096


class Reservoir:
    """A uniform sample of at most ``size`` values from an unbounded stream (Algorithm R).

    Memory stays bounded however long the proxy runs (Toxiproxy #232 was an OOM). Its
    RNG is private and unseeded on purpose: sampling for metrics must not consume the
    seeded streams that make fault decisions replayable.
    """

    def __init__(self, size: int = RESERVOIR_SIZE) -> None:
        self.size = size
        self.count = 0
        self.values: list[float] = []
        self._rng = random.Random()

    def add(self, value: float) -> None:
        self.count += 1
        if len(self.values) < self.size:
            self.values.append(value)
            return
        slot = self._rng.randrange(self.count)
        if slot < self.size:
            self.values[slot] = value

    def quantile(self, q: float) -> float | None:
        """Linear interpolation between order statistics; None when nothing was recorded."""
        if not self.values:
            return None
        ordered = sorted(self.values)
        pos = q * (len(ordered) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


class ToxicCounters:
    """What one toxic did on one proxy: connections it applied to, delay it injected."""

    __slots__ = ("delay_seconds", "fired", "stream", "type")

    def __init__(self, type_: str, stream: str) -> None:
        self.type = type_
        self.stream = stream
        self.fired = 0
        self.delay_seconds = 0.0


class ProxyMetrics:
    def __init__(self) -> None:
        self.connections_total = 0
        # Bytes of closed connections, per direction: (received from source, sent to dest).
        self.received = {"upstream": 0, "downstream": 0}
        self.sent = {"upstream": 0, "downstream": 0}
        self.toxics: dict[str, ToxicCounters] = {}
        self.delays_ms = Reservoir()

    def _toxic(self, name: str, type_: str, stream: str) -> ToxicCounters:
        counters = self.toxics.get(name)
        if counters is None:
            counters = self.toxics[name] = ToxicCounters(type_, stream)
        return counters

    def fault_fired(self, name: str, type_: str, stream: str) -> None:
        """A toxic's toxicity roll came out "applies" for a connection."""
        self._toxic(name, type_, stream).fired += 1

    def delay_applied(self, name: str, type_: str, stream: str, seconds: float) -> None:
        self._toxic(name, type_, stream).delay_seconds += seconds
        self.delays_ms.add(seconds * 1000.0)

    def retire(self, stream: str, received: int, sent: int) -> None:
        self.received[stream] += received
        self.sent[stream] += sent

    def snapshot(
        self, active: int, live_received: dict[str, int], live_sent: dict[str, int]
    ) -> dict[str, Any]:
        """The JSON-ready view: what the task asked for, plus per-direction and per-toxic
        detail in the shape the HTTP API's Prometheus renderer reads."""
        sent = {s: self.sent[s] + live_sent[s] for s in ("upstream", "downstream")}
        received = {s: self.received[s] + live_received[s] for s in ("upstream", "downstream")}
        delays = self.delays_ms
        return {
            "connections_total": self.connections_total,
            "connections_active": active,
            "bytes": dict(sent),
            "faults_fired": {name: c.fired for name, c in self.toxics.items()},
            "injected_delay_ms": {
                "p50": delays.quantile(0.50),
                "p95": delays.quantile(0.95),
                "p99": delays.quantile(0.99),
                "count": delays.count,
            },
            **{
                s: {"received_bytes": received[s], "sent_bytes": sent[s]}
                for s in ("upstream", "downstream")
            },
            "toxics": {
                name: {
                    "type": c.type,
                    "stream": c.stream,
                    "fired": c.fired,
                    "injected_delay_seconds": c.delay_seconds,
                }
                for name, c in self.toxics.items()
            },
        }
