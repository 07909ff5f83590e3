"""The control plane: proxies and toxics added, changed and removed on a live server."""

from __future__ import annotations

import asyncio
import socket

import pytest
from proxy_core_helpers import (
    HAVE_UVLOOP,
    LOCAL,
    LOOPS,
    Upstream,
    connect,
    proxy,
    read_to_end,
    roundtrip,
    run,
    until,
)

from orchestrator.proxy.model import FaultSpecError, ProxyConfig, Toxic
from orchestrator.proxy.server import (
    ProxyExists,
    ProxyNotFound,
    ProxyServer,
    ToxicExists,
    ToxicNotFound,
    loop_factory,
)


async def refused(address: str) -> bool:
    try:
        _, writer = await connect(address)
    except ConnectionRefusedError:
        return True
    writer.close()
    return False


def test_constructed_without_a_loop() -> None:
    server = ProxyServer(seed=5)
    assert server.seed == 5
    assert ProxyServer().seed != ProxyServer().seed  # a fresh seed each time (logged)


@pytest.mark.parametrize("loop", LOOPS)
def test_add_proxy_binds_a_real_port_and_names_are_unique(loop: str) -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, listen):
            host, port = listen.rsplit(":", 1)
            assert host == LOCAL
            assert int(port) > 0
            assert server.proxy("p").listen == listen
            with pytest.raises(ProxyExists):
                await server.add_proxy(ProxyConfig("p", f"{LOCAL}:0", up.address))
            with pytest.raises(OSError):  # the port is taken (by ourselves)
                await server.add_proxy(ProxyConfig("q", listen, up.address))
            with pytest.raises(ValueError, match="listen must be 'host:port'"):
                await server.add_proxy(ProxyConfig("q", "nowhere", up.address))
            with pytest.raises(ValueError, match="upstream must be 'host:port' with a port > 0"):
                await server.add_proxy(ProxyConfig("q", f"{LOCAL}:0", f"{LOCAL}:0"))
            with pytest.raises(FaultSpecError):
                bad = Toxic(type="latency", attributes={"latency": -1})
                await server.add_proxy(ProxyConfig("q", f"{LOCAL}:0", up.address, toxics=[bad]))
            assert set(server.proxies()) == {"p"}  # failed creations left nothing behind
            reader, writer = await connect(listen)
            await roundtrip(reader, writer)
            writer.close()

    run(main, loop)


def test_lookups_raise_key_errors_with_readable_messages() -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, _):
            with pytest.raises(ProxyNotFound) as caught:
                server.proxy("nope")
            assert isinstance(caught.value, KeyError)
            assert str(caught.value) == "proxy 'nope' not found"
            for call in (
                server.remove_proxy("nope"),
                server.update_proxy("nope", enabled=False),
                server.add_toxic("nope", Toxic(type="latency", attributes={"latency": 1})),
            ):
                with pytest.raises(ProxyNotFound):
                    await call
            with pytest.raises(ToxicNotFound) as missing:
                await server.remove_toxic("p", "nope")
            assert isinstance(missing.value, KeyError)
            with pytest.raises(ToxicNotFound):
                await server.update_toxic("p", "nope", {"latency": 1}, None)

    run(main)


def test_snapshots_are_copies() -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, _):
            given = Toxic(type="latency", attributes={"latency": 5})
            added = await server.add_toxic("p", given)
            given.attributes["latency"] = 99
            added.attributes["latency"] = 98
            snapshot = server.proxies()["p"]
            snapshot.toxics[0].attributes["latency"] = 97
            snapshot.enabled = False
            current = server.proxy("p")
            assert current.enabled
            assert current.toxics[0].attributes == {"latency": 5, "jitter": 0}

    run(main)


@pytest.mark.parametrize("loop", LOOPS)
def test_disable_closes_listener_and_connections_and_enable_rebinds(loop: str) -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, listen):
            reader, writer = await connect(listen)
            await roundtrip(reader, writer)
            cfg = await asyncio.wait_for(server.update_proxy("p", enabled=False), 1)
            assert not cfg.enabled
            assert await read_to_end(reader, 2) == (b"", "eof")  # live connection closed
            assert await refused(listen)
            await until(lambda: server.metrics()["p"]["connections_active"] == 0)
            cfg = await server.update_proxy("p", enabled=True)
            assert cfg.listen == listen  # same port again
            reader, writer = await connect(listen)
            await roundtrip(reader, writer)
            writer.close()

    run(main, loop)


def test_a_disabled_proxy_is_not_bound() -> None:
    async def main() -> None:
        async with Upstream() as up:
            server = ProxyServer(seed=1)
            try:
                probe = socket.socket()
                probe.bind((LOCAL, 0))
                free = f"{LOCAL}:{probe.getsockname()[1]}"
                probe.close()
                cfg = await server.add_proxy(ProxyConfig("p", free, up.address, enabled=False))
                assert not cfg.enabled
                assert await refused(free)
                await server.update_proxy("p", enabled=True)
                reader, writer = await connect(free)
                await roundtrip(reader, writer)
                writer.close()
            finally:
                await server.close()

    run(main)


def test_update_listen_and_upstream_keep_live_connections() -> None:
    async def main() -> None:
        async with (
            Upstream() as first,
            Upstream() as second,
            proxy(first.address) as (
                server,
                listen,
            ),
        ):
            old_reader, old_writer = await connect(listen)
            await roundtrip(old_reader, old_writer)
            cfg = await server.update_proxy("p", listen=f"{LOCAL}:0", upstream=second.address)
            assert cfg.listen != listen
            assert cfg.upstream == second.address
            assert await refused(listen)
            reader, writer = await connect(cfg.listen)
            await roundtrip(reader, writer, b"to-second")
            assert bytes((await second.peer()).received) == b"to-second"
            await roundtrip(old_reader, old_writer, b"still-first")  # unaffected
            assert bytes((await first.peer()).received).endswith(b"still-first")
            for w in (writer, old_writer):
                w.close()

    run(main)


def test_toxic_crud_and_reset() -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, listen):
            latency = Toxic(type="latency", name="lag", attributes={"latency": 5})
            added = await server.add_toxic("p", latency)
            assert added.to_json() == {
                "name": "lag",
                "type": "latency",
                "stream": "downstream",
                "toxicity": 1.0,
                "attributes": {"latency": 5, "jitter": 0},
            }
            with pytest.raises(ToxicExists):
                await server.add_toxic("p", latency)
            updated = await server.update_toxic("p", "lag", {"jitter": 2}, 0.5)
            assert updated.attributes == {"latency": 5, "jitter": 2}
            assert updated.toxicity == 0.5
            switched = await server.update_toxic("p", "lag", {"p50": 3, "p99": 9}, None)
            assert switched.attributes == {"p50": 3, "p99": 9}
            with pytest.raises(FaultSpecError, match="'p99'"):
                await server.update_toxic("p", "lag", {"p99": 1}, None)
            with pytest.raises(FaultSpecError, match="toxicity"):
                await server.update_toxic("p", "lag", None, 2.0)
            assert server.proxy("p").toxics[0].attributes == {"p50": 3, "p99": 9}  # unchanged
            await server.add_toxic("p", Toxic(type="limit_data", attributes={"bytes": 1}))
            await server.update_proxy("p", enabled=False)
            await server.reset()
            cfg = server.proxy("p")
            assert cfg.enabled
            assert cfg.toxics == []
            reader, writer = await connect(listen)
            await roundtrip(reader, writer)
            writer.close()

    run(main)


def test_remove_proxy_and_close_end_everything() -> None:
    async def main() -> None:
        async with Upstream() as up:
            server = ProxyServer(seed=1)
            a = await server.add_proxy(ProxyConfig("a", f"{LOCAL}:0", up.address))
            b = await server.add_proxy(ProxyConfig("b", f"{LOCAL}:0", up.address))
            ra, wa = await connect(a.listen)
            rb, wb = await connect(b.listen)
            await roundtrip(ra, wa)
            await roundtrip(rb, wb)
            await server.remove_proxy("a")
            assert await read_to_end(ra, 2) == (b"", "eof")
            assert await refused(a.listen)
            await roundtrip(rb, wb)
            await server.close()
            await server.close()  # idempotent
            assert await read_to_end(rb, 2) == (b"", "eof")
            assert await refused(b.listen)
            assert server.proxies() == {}
            for w in (wa, wb):
                w.close()

    run(main)


def test_metrics_count_connections_bytes_faults_and_delays() -> None:
    async def main() -> None:
        async with Upstream() as up, proxy(up.address) as (server, listen):
            await server.add_toxic(
                "p", Toxic(type="latency", name="lag", attributes={"latency": 5})
            )
            await server.add_toxic(
                "p",
                Toxic(type="latency", name="never", toxicity=0.0, attributes={"latency": 500}),
            )
            writers = []
            for _ in range(3):
                reader, writer = await connect(listen)
                for _ in range(4):
                    await roundtrip(reader, writer, b"x" * 100)
                writers.append(writer)
            m = server.metrics()["p"]
            assert m["connections_total"] == 3
            assert m["connections_active"] == 3
            assert m["bytes"] == {"upstream": 1200, "downstream": 1200}
            assert m["faults_fired"] == {"lag": 3}
            delays = m["injected_delay_ms"]
            assert delays["count"] == 12
            assert 5.0 <= delays["p50"] < 10.0
            assert delays["p50"] <= delays["p95"] <= delays["p99"] < 30.0
            for writer in writers:
                writer.close()
            await until(lambda: server.metrics()["p"]["connections_active"] == 0)
            m = server.metrics()["p"]
            assert m["bytes"] == {"upstream": 1200, "downstream": 1200}  # kept after close
            assert m["connections_total"] == 3

    run(main)


def test_loop_factory_prefers_uvloop_when_installed() -> None:
    factory = loop_factory()
    loop = factory()
    try:
        expected = "uvloop" if HAVE_UVLOOP else "asyncio"
        assert type(loop).__module__.split(".")[0] == expected
    finally:
        loop.close()
