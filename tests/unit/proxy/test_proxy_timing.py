"""Clocks: callbacks never early, in deadline order, cancellable; timerfd on Linux."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest
from proxy_core_helpers import LOOPS, run

from orchestrator.proxy.timing import Clock, LoopClock, TimerFdClock, default_clock

CLOCKS = ["timerfd", "loop"] if sys.platform.startswith("linux") else ["loop"]


def make(kind: str, loop: asyncio.AbstractEventLoop) -> Clock:
    return TimerFdClock(loop) if kind == "timerfd" else LoopClock(loop)


@pytest.mark.parametrize("loop_kind", LOOPS)
@pytest.mark.parametrize("clock_kind", CLOCKS)
def test_callbacks_run_in_order_and_never_early(clock_kind: str, loop_kind: str) -> None:
    async def main() -> list[tuple[int, float, float]]:
        clock = make(clock_kind, asyncio.get_running_loop())
        fired: list[tuple[int, float, float]] = []
        done = asyncio.Event()
        start = clock.now()
        offsets = [0.012, 0.003, 0.007, 0.0, 0.007, 0.020, -0.001]
        for i, offset in enumerate(offsets):
            when = start + offset

            def callback(i: int = i, when: float = when) -> None:
                fired.append((i, when, clock.now()))
                if len(fired) == len(offsets) - 1:
                    done.set()

            handle = clock.call_at(when, callback)
            if i == 5:
                handle.cancel()
        await asyncio.wait_for(done.wait(), 2)
        await asyncio.sleep(0.03)  # the cancelled one must not fire
        clock.close()
        return fired

    fired = run(main, loop_kind)
    order = [i for i, _, _ in fired]
    if clock_kind == "timerfd":
        assert order == [6, 3, 1, 2, 4, 0]  # deadline order, FIFO on ties
    else:
        assert sorted(order) == [0, 1, 2, 3, 4, 6]
    for _, when, at in fired:
        assert at >= when
        # Only that it fired at all near its time: precision is measured in benchmarks,
        # and a loaded CI machine can hold a thread back for tens of milliseconds.
        assert at - when < 1.0


def test_default_clock_is_timerfd_on_linux() -> None:
    async def main() -> str:
        clock = default_clock(asyncio.get_running_loop())
        clock.close()
        clock.close()  # idempotent
        return clock.kind

    expected = "timerfd" if sys.platform.startswith("linux") else "loop"
    assert run(main) == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux-only")
def test_timerfd_callbacks_may_schedule_more_and_many_cancels_are_compacted() -> None:
    async def main() -> int:
        clock = TimerFdClock(asyncio.get_running_loop())
        count = 0
        done = asyncio.Event()

        def tick() -> None:
            nonlocal count
            count += 1
            if count < 20:
                clock.call_at(clock.now() + 0.0005, tick)
            else:
                done.set()

        for _ in range(500):
            clock.call_at(time.monotonic() + 10, tick).cancel()
        clock.call_at(clock.now(), tick)
        await asyncio.wait_for(done.wait(), 2)
        assert len(clock._heap) < 100  # cancelled entries were dropped
        clock.close()
        return count

    assert run(main) == 20
