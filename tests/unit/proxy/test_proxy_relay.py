"""Relaying without faults: bytes intact both ways, ends propagated, memory bounded."""

from __future__ import annotations

import asyncio
import os

import pytest
from proxy_core_helpers import LOCAL, LOOPS, Upstream, connect, proxy, read_to_end, run, until

from orchestrator.proxy.model import ProxyConfig, Toxic
from orchestrator.proxy.relay import MAX_HELD, WRITE_HIGH
from orchestrator.proxy.server import ProxyServer

pytestmark = pytest.mark.parametrize("loop", LOOPS)


def test_bytes_pass_intact_both_ways(loop: str) -> None:
    payload = os.urandom(3 * 1024 * 1024)

    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, listen):
            reader, writer = await connect(listen)

            async def pump() -> None:
                for offset in range(0, len(payload), 100_000):
                    writer.write(payload[offset : offset + 100_000])
                    await writer.drain()
                writer.write_eof()

            sender = asyncio.create_task(pump())
            echoed, how = await read_to_end(reader)
            await sender
            assert how == "eof"
            assert echoed == payload
            peer = await up.peer()
            assert bytes(peer.received) == payload
            assert peer.eof  # the client's half-close reached the upstream
            writer.close()
            await until(lambda: server.metrics()["p"]["connections_active"] == 0)
            m = server.metrics()["p"]
            assert m["bytes"] == {"upstream": len(payload), "downstream": len(payload)}
            assert m["connections_total"] == 1

    run(main, loop)


def test_upstream_speaks_first_and_closes_first(loop: str) -> None:
    async def main() -> None:
        async with (
            Upstream(echo=False, greeting=b"220 hello\r\n") as up,
            proxy(up.address) as (
                _,
                listen,
            ),
        ):
            reader, writer = await connect(listen)
            assert await asyncio.wait_for(reader.readexactly(11), 5) == b"220 hello\r\n"
            peer = await up.peer()
            assert peer.transport is not None
            peer.transport.close()
            assert await read_to_end(reader) == (b"", "eof")
            writer.close()

    run(main, loop)


def test_client_gone_closes_the_upstream_side(loop: str) -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, listen):
            reader, writer = await connect(listen)
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"ping"
            writer.transport.abort()  # no FIN: an RST
            peer = await up.peer()
            await asyncio.wait_for(peer.closed, 5)
            await until(lambda: server.metrics()["p"]["connections_active"] == 0)

    run(main, loop)


def test_unreachable_upstream_resets_the_client(loop: str) -> None:
    async def main() -> None:
        with_nothing = await asyncio.get_running_loop().create_server(asyncio.Protocol, LOCAL, 0)
        dead = f"{LOCAL}:{with_nothing.sockets[0].getsockname()[1]}"
        with_nothing.close()
        await asyncio.sleep(0.05)
        async with proxy(dead) as (server, listen):
            reader, writer = await connect(listen)
            _, how = await read_to_end(reader, 5)
            assert how == "reset"  # accepted, then RST: see relay.py
            writer.close()
            await until(lambda: server.metrics()["p"]["connections_active"] == 0)

    run(main, loop)


def test_a_reader_that_stops_reading_bounds_proxy_memory(loop: str) -> None:
    """The upstream never reads: the proxy's buffer stops at its high-water mark and it
    stops reading the client (which then sees back-pressure), with or without a fault."""

    async def main() -> None:
        async with Upstream(echo=False) as up:
            server = ProxyServer(seed=1)
            try:
                for name, toxics in (("plain", []), ("delayed", [latency_up()])):
                    cfg = await server.add_proxy(
                        ProxyConfig(name, f"{LOCAL}:0", up.address, toxics=toxics)
                    )
                    before = len(up.peers)
                    _, writer = await connect(cfg.listen)
                    peer = await up.peer(before)
                    assert peer.transport is not None
                    peer.transport.pause_reading()
                    chunk = b"\0" * (1 << 20)
                    with pytest.raises(TimeoutError):  # back-pressure reached the client
                        async with asyncio.timeout(0.5):
                            for _ in range(200):
                                writer.write(chunk)
                                await writer.drain()
                    (conn,) = server._proxies[name].connections
                    assert conn.server.transport is not None
                    queued = conn.server.transport.get_write_buffer_size() + conn.up.held
                    assert queued <= WRITE_HIGH + MAX_HELD + (1 << 20)
                    writer.transport.abort()
            finally:
                await server.close()

    run(main, loop)


def latency_up() -> Toxic:
    return Toxic(type="latency", stream="upstream", attributes={"latency": 1})


def test_a_request_sent_and_half_closed_at_once_is_delivered(loop: str) -> None:
    """Bytes and the end of stream may arrive before the upstream connection exists
    (uvloop reads right after accept): they wait for it, in order."""

    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (_, listen):
            for i in range(20):
                reader, writer = await connect(listen)
                writer.write(b"request %d" % i)
                writer.write_eof()
                assert await read_to_end(reader) == (b"request %d" % i, "eof")
                writer.close()

    run(main, loop)
