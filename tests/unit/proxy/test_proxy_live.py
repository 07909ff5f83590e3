"""Toxics changed while traffic flows: applied at the next chunk, never blocking the
control plane, never reordering or (except timeout's discards) losing bytes."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from proxy_core_helpers import LOOPS, Upstream, connect, proxy, read_to_end, roundtrip, run

from orchestrator.proxy.model import ProxyConfig, Toxic
from orchestrator.proxy.server import ProxyServer

CONTROL_DEADLINE = 0.5  # a control call that takes longer is hanging on traffic


def lag(name: str, ms: float, stream: str = "downstream") -> Toxic:
    return Toxic(type="latency", name=name, stream=stream, attributes={"latency": ms})  # type: ignore[arg-type]


async def control(call: object) -> None:
    await asyncio.wait_for(call, CONTROL_DEADLINE)  # type: ignore[arg-type]


def numbered(count: int, size: int = 1000) -> list[bytes]:
    return [i.to_bytes(4, "big") * (size // 4) for i in range(count)]


def test_an_added_toxic_applies_to_a_live_connection_at_the_next_chunk() -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, listen):
            reader, writer = await connect(listen)
            assert await roundtrip(reader, writer) < 0.020
            await control(server.add_toxic("p", lag("lag", 40)))
            assert await roundtrip(reader, writer) >= 0.040
            await control(server.remove_toxic("p", "lag"))
            assert await roundtrip(reader, writer) < 0.020
            writer.close()

    run(main)


@pytest.mark.parametrize("loop", LOOPS)
def test_removing_a_latency_toxic_releases_queued_chunks_at_once_in_order(loop: str) -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, listen):
            await server.add_toxic("p", lag("first", 2000, "upstream"))
            await server.add_toxic("p", lag("second", 3000))
            reader, writer = await connect(listen)
            messages = numbered(2000)  # 2 MB queued behind seconds of delay
            for message in messages:
                writer.write(message)
            await writer.drain()
            await asyncio.sleep(0.1)
            start = time.monotonic()
            # Downstream first, then upstream: both queues must drain now, in order.
            await control(server.remove_toxic("p", "second"))
            await control(server.remove_toxic("p", "first"))
            expected = b"".join(messages)
            got = await asyncio.wait_for(reader.readexactly(len(expected)), 2)
            assert got == expected
            assert time.monotonic() - start < 1.0
            writer.close()

    run(main, loop)


def test_removing_a_timeout_toxic_keeps_the_connection() -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, listen):
            reader, writer = await connect(listen)
            await roundtrip(reader, writer, b"before")
            stall = Toxic(type="timeout", name="stall", attributes={"timeout": 0})
            await control(server.add_toxic("p", stall))
            writer.write(b"dropped")  # echoed by the upstream, discarded by the toxic
            assert await read_to_end(reader, 0.2) == (b"", "timeout")
            await control(server.remove_toxic("p", "stall"))
            await roundtrip(reader, writer, b"after")  # still open; "dropped" is gone
            assert bytes((await up.peer()).received) == b"beforedroppedafter"
            writer.close()

    run(main)


@pytest.mark.parametrize("loop", LOOPS)
def test_toxics_churn_under_load_without_hanging_or_corrupting(loop: str) -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, listen):
            clients = [await connect(listen) for _ in range(4)]
            stop = asyncio.Event()

            async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
                sent = 0
                for message in itertools.islice(itertools.cycle(numbered(64, 4096)), 5000):
                    if stop.is_set():
                        break
                    writer.write(message)
                    await writer.drain()
                    sent += 1
                writer.write_eof()
                got = await asyncio.wait_for(reader.read(-1), 5)
                assert got == b"".join(itertools.islice(itertools.cycle(numbered(64, 4096)), sent))
                return sent

            pumps = [asyncio.create_task(pump(r, w)) for r, w in clients]
            kinds = [
                lag("lag", 5),
                lag("lag_up", 3, "upstream"),
                Toxic(type="bandwidth", name="bw", attributes={"rate": 5000}),
                Toxic(type="slicer", name="sl", attributes={"average_size": 2000, "delay": 10}),
            ]
            worst = 0.0
            for toxic in itertools.islice(itertools.cycle(kinds), 40):
                start = time.monotonic()
                await control(server.add_toxic("p", toxic))
                await asyncio.sleep(0.01)
                await control(server.update_toxic("p", toxic.name, None, 0.5))
                await asyncio.sleep(0.01)
                await control(server.remove_toxic("p", toxic.name))
                worst = max(worst, time.monotonic() - start - 0.02)
            stop.set()
            sent = await asyncio.wait_for(asyncio.gather(*pumps), 8)
            assert all(n > 0 for n in sent)
            assert worst < CONTROL_DEADLINE
            for _, writer in clients:
                writer.close()

    run(main, loop)


def test_control_calls_return_while_a_reader_is_stalled() -> None:
    """The upstream stops reading: the proxy is back-pressured, its queues are full, and
    yet adding, updating and removing toxics answer at once."""

    async def main() -> None:
        async with Upstream(echo=False) as up:
            server = ProxyServer(seed=3)
            try:
                cfg = await server.add_proxy(
                    ProxyConfig("p", "127.0.0.1:0", up.address, toxics=[lag("lag", 1, "upstream")])
                )
                _, writer = await connect(cfg.listen)
                peer = await up.peer()
                assert peer.transport is not None
                peer.transport.pause_reading()
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.5):
                        for _ in range(100):
                            writer.write(bytes(1 << 20))
                            await writer.drain()
                await control(server.update_toxic("p", "lag", {"latency": 50}, None))
                await control(server.remove_toxic("p", "lag"))
                await control(server.add_toxic("p", lag("again", 1, "upstream")))
                await control(server.update_proxy("p", enabled=False))
                writer.transport.abort()
            finally:
                await control(server.close())

    run(main)
