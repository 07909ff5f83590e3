"""Metering: what each service of a run used, per phase, sampled while it runs.

A run of a few seconds is over before a 15 s or 1 min scrape (Prometheus, Kubecost)
sees it twice, so envctl samples itself: every ``interval`` (0.2 s by default) one
cheap reading per service — cumulative CPU seconds, resident memory, bytes on disk — from
the runtime (``Runtime.sampler``: the process tree on local, the container's cgroup on
docker). CPU is the difference of cumulative readings, so nothing between samples is
lost; memory and storage are integrated over time (trapezoids). A phase change takes a
reading first, so no interval straddles two phases, and the sum over phases is the
whole run by construction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.cost.model import GIB, PHASES, ServiceUsage, Usage

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 0.2
STORAGE_EVERY = 2.0  # seconds between readings of bytes on disk (a directory walk)


@dataclass(frozen=True)
class Reading:
    """One reading of one service: cumulative CPU, memory now, disk now (None: unknown)."""

    cpu_seconds: float
    memory_bytes: int
    storage_bytes: int | None = None


# Called with True when a disk reading is wanted too (every STORAGE_EVERY seconds: it
# walks a directory); returns None once the service is gone.
Sampler = Callable[[bool], Reading | None]


@dataclass
class _Tracked:
    sampler: Sampler
    requests: tuple[float | None, int | None, int | None]
    last_at: float
    last: Reading
    phases: dict[str, Usage] = field(default_factory=dict)
    storage_at: float = 0.0
    storage_bytes: int | None = None
    gone: bool = False


class Meter:
    """Samples every tracked service on a thread of its own until ``stop``."""

    def __init__(
        self, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._phase = PHASES[0]
        self._tracked: dict[str, _Tracked] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="envctl-meter", daemon=True)
        self._thread.start()

    def track(
        self,
        name: str,
        sampler: Sampler,
        cpu_request: float | None = None,
        memory_request: int | None = None,
        storage_request: int | None = None,
    ) -> None:
        """Start metering ``name`` now (a service just started, a suite just launched)."""
        first = _safe(sampler, True)
        if first is None:
            return
        now = self._clock()
        with self._lock:
            previous = self._tracked.get(name)
            tracked = _Tracked(
                sampler,
                (cpu_request, memory_request, storage_request),
                now,
                first,
                {},
                now,
                first.storage_bytes,
            )
            if previous is not None:  # a second suite: the same pseudo-service, summed
                tracked.phases = previous.phases
            self._tracked[name] = tracked

    def finish(self, name: str, cpu_seconds: float | None = None) -> None:
        """``name`` has ended; ``cpu_seconds`` is its exact total when known (a waited child's
        rusage), which tops up what the last reading before its exit missed."""
        now = self._clock()
        with self._lock:
            tracked = self._tracked.get(name)
            if tracked is None or tracked.gone:
                return
            self._sample(tracked, now)
            if cpu_seconds is not None and cpu_seconds > tracked.last.cpu_seconds:
                extra = cpu_seconds - tracked.last.cpu_seconds
                usage = tracked.phases.get(self._phase, Usage())
                tracked.phases[self._phase] = usage + Usage(cpu_seconds=extra)
            tracked.gone = True

    def phase(self, name: str) -> None:
        """From now on, usage counts toward phase ``name``."""
        now = self._clock()
        with self._lock:
            for tracked in self._tracked.values():
                self._sample(tracked, now)
            self._phase = name

    def stop(self) -> dict[str, ServiceUsage]:
        """Take a last reading and return every service's usage, per phase."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        now = self._clock()
        with self._lock:
            for tracked in self._tracked.values():
                self._sample(tracked, now)
            return {
                name: ServiceUsage(name, dict(t.phases), *t.requests)
                for name, t in self._tracked.items()
            }

    def _loop(self) -> None:
        while not self._stopped.wait(self.interval):
            now = self._clock()
            with self._lock:
                for tracked in self._tracked.values():
                    self._sample(tracked, now)

    def _sample(self, tracked: _Tracked, now: float) -> None:
        if tracked.gone:
            return
        reading = _safe(tracked.sampler, now - tracked.storage_at >= STORAGE_EVERY)
        if reading is None:
            tracked.gone = True  # stopped: its last interval is not known, so not counted
            return
        if reading.storage_bytes is not None:
            tracked.storage_at = now
            tracked.storage_bytes = reading.storage_bytes
        dt = max(0.0, now - tracked.last_at)
        last = tracked.last
        stored = tracked.storage_bytes or 0
        step = Usage(
            seconds=dt,
            cpu_seconds=max(0.0, reading.cpu_seconds - last.cpu_seconds),
            memory_gib_seconds=(last.memory_bytes + reading.memory_bytes) / 2 / GIB * dt,
            memory_peak_bytes=max(last.memory_bytes, reading.memory_bytes),
            storage_gib_hours=stored / GIB * dt / 3600,
        )
        tracked.phases[self._phase] = tracked.phases.get(self._phase, Usage()) + step
        tracked.last_at, tracked.last = now, reading


def _safe(sampler: Sampler, storage: bool) -> Reading | None:
    try:
        return sampler(storage)
    except Exception as exc:  # a reading that fails ends that service's metering only
        log.debug("meter: a reading failed: %s", exc)
        return None
