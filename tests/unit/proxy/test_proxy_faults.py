"""Every fault through real loopback sockets, on each direction it applies to.

Timing bounds are generous (≥ the configured delay, < configured + 30 ms): precision is
measured by benchmarks, not asserted in unit tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time

import pytest
from proxy_core_helpers import (
    LOOPS,
    Upstream,
    connect,
    proxy,
    read_to_end,
    roundtrip,
    run,
    timed,
    until,
)

from orchestrator.proxy.model import Toxic
from orchestrator.proxy.server import ProxyServer
from orchestrator.proxy.timing import LoopClock

STREAMS = ["upstream", "downstream"]
SLACK = 0.030


def toxic(type_: str, stream: str = "downstream", **attributes: object) -> Toxic:
    return Toxic(type=type_, stream=stream, attributes=dict(attributes))  # type: ignore[arg-type]


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("stream", STREAMS)
def test_latency_adds_the_configured_delay(stream: str, loop: str) -> None:
    async def main() -> None:
        async with (
            Upstream() as up,
            proxy(up.address, toxic("latency", stream, latency=20)) as (
                server,
                listen,
            ),
        ):
            reader, writer = await connect(listen)
            rtts = [await roundtrip(reader, writer) for _ in range(10)]
            assert min(rtts) >= 0.020
            assert statistics.median(rtts) < 0.020 + SLACK
            writer.close()
            delays = server.metrics()["p"]["injected_delay_ms"]
            assert delays["count"] == 10
            assert 20.0 <= delays["p50"] < 20.0 + SLACK * 1000

    run(main, loop)


def test_latency_from_percentiles() -> None:
    async def main() -> None:
        lag = toxic("latency", "upstream", p50=8, p99=30)
        async with Upstream() as up, proxy(up.address, lag) as (server, listen):
            reader, writer = await connect(listen)
            rtts = sorted([await roundtrip(reader, writer) for _ in range(40)])
            assert 0.003 < statistics.median(rtts) < 0.008 + SLACK
            assert rtts[-1] < 0.5
            writer.close()
            delays = server.metrics()["p"]["injected_delay_ms"]
            assert 3.0 < delays["p50"] < 20.0

    run(main)


@pytest.mark.parametrize("stream", STREAMS)
def test_bandwidth_limits_the_rate(stream: str) -> None:
    async def main() -> None:
        limit = toxic("bandwidth", stream, rate=200)  # 200 KB/s
        async with Upstream() as up, proxy(up.address, limit) as (_, listen):
            reader, writer = await connect(listen)
            payload = bytes(60_000)  # 0.3 s at 200 KB/s
            elapsed = await roundtrip(reader, writer, payload)
            assert 0.3 - 0.021 <= elapsed < 0.3 + 0.2  # one 20 ms piece may go early
            writer.close()

    run(main)


@pytest.mark.parametrize("stream", STREAMS)
def test_slicer_spreads_a_chunk_over_time(stream: str) -> None:
    async def main() -> None:
        slicer = toxic("slicer", stream, average_size=100, size_variation=20, delay=5000)
        async with Upstream() as up, proxy(up.address, slicer) as (_, listen):
            reader, writer = await connect(listen)
            payload = bytes(range(256)) * 8  # 2048 bytes: ~20 slices 5 ms apart
            elapsed = await roundtrip(reader, writer, payload)
            assert elapsed >= 0.005 * (2048 // 120)
            assert elapsed < 0.005 * (2048 // 80 + 1) + 0.2
            writer.close()

    run(main)


def test_limit_data_upstream_cuts_what_the_server_gets() -> None:
    async def main() -> None:
        async with (
            Upstream() as up,
            proxy(up.address, toxic("limit_data", "upstream", bytes=100)) as (
                _,
                listen,
            ),
        ):
            reader, writer = await connect(listen)
            writer.write(b"a" * 300)
            echoed, how = await read_to_end(reader)
            assert how == "eof"
            assert echoed == b"a" * len(echoed)
            assert len(echoed) <= 100
            peer = await up.peer()
            await asyncio.wait_for(peer.closed, 5)
            assert bytes(peer.received) == b"a" * 100
            writer.close()

    run(main)


def test_limit_data_downstream_cuts_what_the_client_gets() -> None:
    async def main() -> None:
        async with (
            Upstream() as up,
            proxy(up.address, toxic("limit_data", bytes=100)) as (
                _,
                listen,
            ),
        ):
            reader, writer = await connect(listen)
            writer.write(b"b" * 300)
            assert await read_to_end(reader) == (b"b" * 100, "eof")
            writer.close()

    run(main)


@pytest.mark.parametrize("stream", STREAMS)
def test_timeout_swallows_data_then_closes(stream: str) -> None:
    async def main() -> None:
        async with (
            Upstream() as up,
            proxy(up.address, toxic("timeout", stream, timeout=150)) as (
                _,
                listen,
            ),
        ):
            start = time.monotonic()
            reader, writer = await connect(listen)
            writer.write(b"lost")
            got, how = await read_to_end(reader, 5)
            assert (got, how) == (b"", "eof")
            assert 0.150 <= time.monotonic() - start < 0.150 + 0.3
            if stream == "upstream":
                assert bytes((await up.peer()).received) == b""
            writer.close()

    run(main)


def test_timeout_zero_holds_the_connection_open() -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address, toxic("timeout", timeout=0)) as (_, listen):
            reader, writer = await connect(listen)
            writer.write(b"lost")
            assert await read_to_end(reader, 0.3) == (b"", "timeout")
            writer.close()

    run(main)


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("stream", STREAMS)
def test_reset_peer_resets_after_the_first_chunk(stream: str, loop: str) -> None:
    async def main() -> None:
        async with (
            Upstream() as up,
            proxy(up.address, toxic("reset_peer", stream, timeout=50)) as (
                _,
                listen,
            ),
        ):
            reader, writer = await connect(listen)
            start = time.monotonic()
            writer.write(b"hello")
            got, how = await read_to_end(reader, 5)
            assert how == "reset"
            assert got == b""
            assert time.monotonic() - start >= 0.050
            peer = await up.peer()
            await asyncio.wait_for(peer.closed, 5)
            assert isinstance(peer.error, ConnectionResetError)  # both sides got the RST
            writer.close()

    run(main, loop)


@pytest.mark.parametrize("stream", STREAMS)
def test_slow_close_delays_the_end_of_stream(stream: str) -> None:
    async def main() -> None:
        async with (
            Upstream() as up,
            proxy(up.address, toxic("slow_close", stream, delay=150)) as (
                _,
                listen,
            ),
        ):
            reader, writer = await connect(listen)
            writer.write(b"bye")
            writer.write_eof()  # the echo server closes once it sees our end
            (got, how), elapsed = await timed(read_to_end(reader, 5))
            assert (got, how) == (b"bye", "eof")
            assert 0.150 <= elapsed < 0.150 + 0.3
            writer.close()

    run(main)


async def refused(address: str) -> bool:
    try:
        _, writer = await connect(address)
    except ConnectionRefusedError:
        return True
    writer.close()
    return False


@pytest.mark.parametrize("loop", LOOPS)
def test_down_refuse_refuses_new_and_cuts_existing_connections(loop: str) -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, listen):
            reader, writer = await connect(listen)
            await roundtrip(reader, writer)
            await server.add_toxic("p", toxic("down", mode="refuse"))
            assert (await read_to_end(reader, 2))[1] == "reset"
            assert await refused(listen)
            await server.remove_toxic("p", "down_downstream")
            reader, writer = await connect(listen)
            await roundtrip(reader, writer)
            writer.close()

    run(main, loop)


def test_down_with_a_duration_ends_by_itself() -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, listen):
            await server.add_toxic("p", toxic("down", mode="refuse", duration=150))
            start = time.monotonic()
            assert await refused(listen)
            await until(lambda: server.proxy("p").toxics == [], timeout=2)
            assert time.monotonic() - start >= 0.1
            for _ in range(100):  # the listener is re-bound just after the toxic goes
                with contextlib.suppress(ConnectionRefusedError):
                    reader, writer = await connect(listen)
                    break
                await asyncio.sleep(0.01)
            await roundtrip(reader, writer)
            writer.close()

    run(main)


def test_down_blackhole_stalls_and_removal_resumes_without_loss() -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, listen):
            old_reader, old_writer = await connect(listen)
            await roundtrip(old_reader, old_writer)
            await server.add_toxic("p", toxic("down", mode="blackhole"))
            old_writer.write(b"held")
            new_reader, new_writer = await connect(listen)  # accepted...
            new_writer.write(b"waiting")
            await asyncio.sleep(0.2)
            assert len(up.peers) == 1  # ...but not connected upstream
            assert await read_to_end(old_reader, 0.1) == (b"", "timeout")
            await server.remove_toxic("p", "down_downstream")
            assert await asyncio.wait_for(old_reader.readexactly(4), 2) == b"held"
            assert await asyncio.wait_for(new_reader.readexactly(7), 2) == b"waiting"
            for w in (old_writer, new_writer):
                w.close()

    run(main)


def test_down_refuse_at_partial_toxicity_resets_only_the_unlucky() -> None:
    async def main() -> None:
        refuse = Toxic(type="down", toxicity=0.5, attributes={"mode": "refuse"})
        async with Upstream() as up, proxy(up.address, refuse, seed=11) as (server, listen):
            outcomes = []
            for i in range(20):
                reader, writer = await connect(listen)  # the listener stays up
                writer.write(b"%d" % i)
                writer.write_eof()
                outcomes.append(await read_to_end(reader))
                writer.close()
            hits = sum(how == "reset" for _, how in outcomes)
            assert 0 < hits < 20
            assert all(o == (b"%d" % i, "eof") for i, o in enumerate(outcomes) if o[1] != "reset")
            assert server.metrics()["p"]["faults_fired"] == {"down_downstream": hits}

    run(main)


def test_latency_on_the_portable_loop_clock() -> None:
    async def main() -> None:
        server = ProxyServer(seed=1, loop_clock=LoopClock)
        assert server.clock.kind == "loop"
        async with (
            Upstream() as up,
            proxy(up.address, toxic("latency", latency=20), server=server) as (
                _,
                listen,
            ),
        ):
            reader, writer = await connect(listen)
            rtts = [await roundtrip(reader, writer) for _ in range(5)]
            assert min(rtts) >= 0.020
            assert statistics.median(rtts) < 0.020 + SLACK
            writer.close()
        await server.close()

    run(main)
