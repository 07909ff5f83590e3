"""``latency``: delay every chunk (and the end of the stream) of one direction.

Two forms. Toxiproxy's ``latency`` ± ``jitter`` (ms) draws uniformly and *continuously*
from [latency - jitter, latency + jitter] (Toxiproxy draws whole milliseconds, #556);
negative draws are clamped to 0. envctl's ``p50`` with ``p99`` (or ``p95``) fits a
log-normal to production percentiles: mu = ln(p50), sigma = (ln(p99) - ln(p50)) / z99.

A byte stream cannot overtake itself, so a chunk leaves at
``max(arrival + delay, previous release)``: under pipelining the observed per-message
delay is max-like (head-of-line blocking), exactly as in Toxiproxy. Closed-loop probes
see the configured distribution. Latencies of two chained toxics add up (Toxiproxy's
take the max of the two, because both count from the read time).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from orchestrator.proxy.faults.base import Chunk, TimedStage

Z95 = 1.6448536269514722  # standard normal quantiles
Z99 = 2.3263478740408408


def delay_sampler(attributes: dict[str, Any], rng: random.Random) -> Callable[[], float]:
    """A function drawing one delay, in seconds, from the toxic's (validated) attributes."""
    if "p50" in attributes:
        p50 = float(attributes["p50"])
        mu = math.log(p50)
        if "p99" in attributes:
            sigma = (math.log(attributes["p99"]) - mu) / Z99
        elif "p95" in attributes:
            sigma = (math.log(attributes["p95"]) - mu) / Z95
        else:
            sigma = 0.0
        if sigma <= 0.0:
            return lambda: p50 / 1000.0
        return lambda: rng.lognormvariate(mu, sigma) / 1000.0
    latency = float(attributes["latency"])
    jitter = float(attributes.get("jitter", 0))
    if jitter == 0:
        return lambda: latency / 1000.0
    low, high = latency - jitter, latency + jitter
    return lambda: max(0.0, rng.uniform(low, high)) / 1000.0


class Latency(TimedStage):
    records_delay = True

    def configure(self) -> None:
        self._sample = delay_sampler(self.toxic.attributes, self.rng)

    def __call__(self, chunk: Chunk) -> None:
        # The end of the stream is delayed too: a FIN crosses the same slow network.
        entered = chunk.at
        self.schedule(entered + self._sample(), entered, chunk)
