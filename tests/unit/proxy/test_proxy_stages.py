"""Each fault stage on a virtual clock: exact release times, sizes and order."""

from __future__ import annotations

import heapq
import itertools
import random
import statistics

import pytest

from orchestrator.proxy.faults import (
    CLOSE,
    DATA,
    EOF,
    STAGES,
    Chunk,
    Stage,
    delay_sampler,
    validate_toxic,
)
from orchestrator.proxy.model import Toxic
from orchestrator.proxy.timing import Callback, Clock, TimerHandle


class ManualClock(Clock):
    kind = "manual"

    def __init__(self) -> None:
        self.t = 1000.0
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()

    def now(self) -> float:  # type: ignore[override]
        return self.t

    def call_at(self, when: float, callback: Callback) -> TimerHandle:
        handle = TimerHandle(when, callback, self)
        heapq.heappush(self._heap, (when, next(self._seq), handle))
        return handle

    def close(self) -> None:
        self._heap.clear()

    def _cancelled(self, handle: TimerHandle) -> None:
        pass

    def advance(self, to: float) -> None:
        """Fire everything due up to ``to``, each at its own deadline (a perfect timer)."""
        while self._heap and self._heap[0][0] <= to:
            when, _, handle = heapq.heappop(self._heap)
            if handle.cancelled:
                continue
            self.t = max(self.t, when)
            handle.cancelled = True
            handle.callback()
        self.t = max(self.t, to)

    def jump(self, to: float) -> None:
        """A late timer: time moves to ``to`` first, then what is due fires."""
        self.t = to
        self.advance(to)


class Context:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.held = 0
        self.resets: list[str] = []
        self.delays: list[float] = []

    def hold(self, nbytes: int) -> None:
        self.held += nbytes

    def reset_connection(self, reason: str) -> None:
        self.resets.append(reason)

    def delay_applied(self, toxic: Toxic, seconds: float) -> None:
        self.delays.append(seconds)


class Out:
    """The stage's successor: records (time, kind, data)."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.got: list[tuple[float, int, bytes]] = []

    def __call__(self, chunk: Chunk) -> None:
        self.got.append((self.clock.now(), chunk.kind, chunk.data))

    @property
    def data(self) -> bytes:
        return b"".join(d for _, k, d in self.got if k == DATA)


def make(type_: str, seed: int = 1, **attributes: object) -> tuple[Stage, Context, Out]:
    toxic = validate_toxic(Toxic(type=type_, attributes=dict(attributes)))
    ctx = Context()
    stage = STAGES[type_](toxic, ctx, random.Random(seed))
    out = Out(ctx.clock)
    stage.next = out
    return stage, ctx, out


def send(stage: Stage, ctx: Context, data: bytes, kind: int = DATA) -> None:
    stage(Chunk(data, ctx.clock.now(), kind))


def test_latency_constant_delays_every_chunk_and_the_eof() -> None:
    stage, ctx, out = make("latency", latency=50)
    t0 = ctx.clock.t
    send(stage, ctx, b"a")
    ctx.clock.advance(t0 + 0.001)
    send(stage, ctx, b"b")
    send(stage, ctx, b"", EOF)
    assert ctx.held == 2
    ctx.clock.advance(t0 + 1)
    assert [(k, d) for _, k, d in out.got] == [(DATA, b"a"), (DATA, b"b"), (EOF, b"")]
    assert [t - t0 for t, _, _ in out.got] == pytest.approx([0.050, 0.051, 0.051])
    assert ctx.held == 0
    assert ctx.delays == pytest.approx([0.050, 0.050])


def test_latency_with_jitter_never_reorders() -> None:
    stage, ctx, out = make("latency", seed=3, latency=20, jitter=15)
    t0 = ctx.clock.t
    arrivals = []
    for i in range(200):
        ctx.clock.advance(t0 + i * 0.001)
        arrivals.append(ctx.clock.t)
        send(stage, ctx, bytes([i % 256]))
    ctx.clock.advance(t0 + 10)
    assert out.data == bytes(i % 256 for i in range(200))
    releases = [t for t, _, _ in out.got]
    assert releases == sorted(releases)
    # Redo the draws: release = max(arrival + sample, previous release), exactly.
    sample = delay_sampler({"latency": 20, "jitter": 15}, random.Random(3))
    previous = 0.0
    for arrival, release in zip(arrivals, releases, strict=True):
        previous = max(arrival + sample(), previous)
        assert release == pytest.approx(previous, abs=1e-9)
    assert all(r - a >= 0.005 - 1e-9 for a, r in zip(arrivals, releases, strict=True))


def test_latency_percentile_form_fits_p50_and_p99() -> None:
    sample = delay_sampler({"p50": 20, "p99": 80}, random.Random(5))
    draws = sorted(sample() * 1000 for _ in range(40_000))
    assert statistics.median(draws) == pytest.approx(20, rel=0.05)
    assert draws[int(0.99 * len(draws))] == pytest.approx(80, rel=0.07)
    constant = delay_sampler({"p50": 20}, random.Random(5))
    assert constant() == 0.020


def test_latency_flush_releases_the_queue_at_once_in_order() -> None:
    stage, ctx, out = make("latency", latency=1000)
    for piece in (b"1", b"2", b"3"):
        send(stage, ctx, piece)
    assert out.got == []
    stage.flush()
    assert out.data == b"123"
    assert ctx.held == 0
    ctx.clock.advance(ctx.clock.t + 5)
    assert out.data == b"123"  # the cancelled timer did not fire again


def test_bandwidth_paces_pieces_and_keeps_its_rate_when_the_timer_is_late() -> None:
    stage, ctx, out = make("bandwidth", rate=1)  # 1000 B/s: 20-byte pieces every 20 ms
    t0 = ctx.clock.t
    send(stage, ctx, bytes(100))
    ctx.clock.jump(t0 + 0.070)  # a late wake-up: 3 pieces due, released together
    assert len(out.got) == 3
    ctx.clock.advance(t0 + 1)
    assert [round(t - t0, 6) for t, _, _ in out.got][3:] == [0.08, 0.1]
    assert out.data == bytes(100)
    # Idle time earns no burst credit.
    t1 = ctx.clock.t + 5
    ctx.clock.advance(t1)
    send(stage, ctx, bytes(10))
    ctx.clock.advance(t1 + 1)
    assert out.got[-1][0] == pytest.approx(t1 + 0.010)


def test_bandwidth_rate_zero_is_unlimited() -> None:
    stage, ctx, out = make("bandwidth", rate=0)
    send(stage, ctx, bytes(10_000))
    assert out.data == bytes(10_000)


def test_slicer_cuts_chunks_with_gaps() -> None:
    stage, ctx, out = make("slicer", average_size=10, delay=1000)
    t0 = ctx.clock.t
    send(stage, ctx, bytes(range(100)))
    ctx.clock.advance(t0 + 1)
    assert [len(d) for _, _, d in out.got] == [10] * 10
    assert [round(t - t0, 6) for t, _, _ in out.got] == [i / 1000 for i in range(10)]
    assert out.data == bytes(range(100))


def test_slicer_sizes_vary_reproducibly() -> None:
    def sizes(seed: int) -> list[int]:
        stage, ctx, out = make("slicer", seed=seed, average_size=10, size_variation=5)
        send(stage, ctx, bytes(1000))
        assert out.data == bytes(1000)
        return [len(d) for _, _, d in out.got]

    first = sizes(9)
    assert first == sizes(9)
    assert all(5 <= n <= 15 for n in first[:-1])
    assert len(set(first)) > 3


def test_limit_data_forwards_exactly_n_bytes_then_closes() -> None:
    stage, _, out = make("limit_data", bytes=10)
    for _ in range(4):
        stage(Chunk(b"abcd", 0.0))
    assert out.got == [
        (out.clock.t, DATA, b"abcd"),
        (out.clock.t, DATA, b"abcd"),
        (out.clock.t, DATA, b"ab"),
        (out.clock.t, CLOSE, b""),
    ]


def test_timeout_discards_then_closes_and_removal_does_not_close() -> None:
    stage, ctx, out = make("timeout", timeout=100)
    t0 = ctx.clock.t
    send(stage, ctx, b"lost")
    send(stage, ctx, b"", EOF)
    ctx.clock.advance(t0 + 0.099)
    assert out.got == []
    ctx.clock.advance(t0 + 0.2)
    assert out.got == [(t0 + 0.1, CLOSE, b"")]

    stage, ctx, out = make("timeout", timeout=100)
    stage.update(validate_toxic(Toxic(type="timeout", attributes={"timeout": 300})))
    ctx.clock.advance(ctx.clock.t + 0.2)
    stage.flush()
    ctx.clock.advance(ctx.clock.t + 1)
    assert out.got == []  # removed: no close


def test_timeout_zero_holds_forever() -> None:
    stage, ctx, out = make("timeout", timeout=0)
    send(stage, ctx, b"x")
    ctx.clock.advance(ctx.clock.t + 3600)
    assert out.got == []


def test_reset_peer_resets_after_the_first_chunk() -> None:
    stage, ctx, out = make("reset_peer", timeout=30)
    t0 = ctx.clock.t
    send(stage, ctx, b"", EOF)  # an end before any data passes through
    ctx.clock.advance(t0 + 1)
    assert ctx.resets == []
    t1 = ctx.clock.t
    send(stage, ctx, b"first")
    send(stage, ctx, b"second")
    ctx.clock.advance(t1 + 0.029)
    assert ctx.resets == []
    ctx.clock.advance(t1 + 0.031)
    assert len(ctx.resets) == 1
    assert out.data == b""
    assert ctx.held == 0


def test_reset_peer_removed_in_time_passes_what_it_held() -> None:
    stage, ctx, out = make("reset_peer", timeout=30)
    send(stage, ctx, b"first")
    send(stage, ctx, b"second")
    stage.flush()
    ctx.clock.advance(ctx.clock.t + 1)
    assert ctx.resets == []
    assert out.data == b"firstsecond"


def test_slow_close_holds_the_end_of_stream() -> None:
    stage, ctx, out = make("slow_close", delay=200)
    t0 = ctx.clock.t
    send(stage, ctx, b"data")
    send(stage, ctx, b"", EOF)
    assert out.got == [(t0, DATA, b"data")]
    ctx.clock.advance(t0 + 1)
    assert out.got[-1] == (t0 + 0.2, EOF, b"")
