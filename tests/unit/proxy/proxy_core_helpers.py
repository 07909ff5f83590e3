"""Loopback servers and clients for the proxy core's tests: real sockets, 127.0.0.1 only.

Every wait is bounded (``TIMEOUT``), every loop bounded in count.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar, cast

from orchestrator.proxy.model import ProxyConfig, Toxic
from orchestrator.proxy.server import ProxyServer

T = TypeVar("T")
TIMEOUT = 10.0
LOCAL = "127.0.0.1"
HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None
LOOPS = ["asyncio", "uvloop"] if HAVE_UVLOOP else ["asyncio"]


def run(main: Callable[[], Coroutine[Any, Any, T]], loop: str = "asyncio") -> T:
    """Run ``main()`` on a fresh loop of that kind, bounded by TIMEOUT."""
    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(asyncio.wait_for(main(), TIMEOUT))


class _Peer(asyncio.Protocol):
    """The upstream's side of one connection: records what it got, echoes if asked."""

    def __init__(self, server: Upstream) -> None:
        self.server = server
        self.received = bytearray()
        self.eof = False
        self.error: Exception | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.server.peers.append(self)
        if self.server.greeting:
            self.transport.write(self.server.greeting)

    def data_received(self, data: bytes) -> None:
        self.received += data
        if self.server.echo and self.transport is not None:
            self.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        return False  # close once the echo is flushed

    def connection_lost(self, exc: Exception | None) -> None:
        self.error = exc
        if not self.closed.done():
            self.closed.set_result(None)


class Upstream:
    """A loopback server standing for the proxied service (echo by default)."""

    def __init__(self, *, echo: bool = True, greeting: bytes = b"") -> None:
        self.echo = echo
        self.greeting = greeting
        self.peers: list[_Peer] = []
        self._server: asyncio.Server | None = None
        self.address = ""

    async def __aenter__(self) -> Upstream:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Peer(self), LOCAL, 0)
        self.address = f"{LOCAL}:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for peer in self.peers:
            if peer.transport is not None and not peer.closed.done():
                peer.transport.abort()

    async def peer(self, index: int = 0) -> _Peer:
        """The index-th accepted connection, once it exists."""
        return await until(lambda: self.peers[index] if len(self.peers) > index else None)


async def until(probe: Callable[[], T | None], timeout: float = 5.0) -> T:
    """Poll ``probe`` every 5 ms until it returns something other than None/False."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def proxy(
    upstream: str,
    *toxics: Toxic,
    seed: int = 1,
    server: ProxyServer | None = None,
    name: str = "p",
) -> AsyncIterator[tuple[ProxyServer, str]]:
    """A ProxyServer with one proxy in front of ``upstream``; yields (server, listen)."""
    own = server is None
    srv = server if server is not None else ProxyServer(seed=seed)
    try:
        cfg = await srv.add_proxy(ProxyConfig(name, f"{LOCAL}:0", upstream, toxics=list(toxics)))
        yield srv, cfg.listen
    finally:
        if own:
            await srv.close()


async def connect(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = address.rsplit(":", 1)
    return await asyncio.wait_for(asyncio.open_connection(host, int(port)), TIMEOUT)


async def roundtrip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes = b"x" * 64
) -> float:
    """Send ``payload`` and wait for its echo; the round-trip time in seconds."""
    start = time.monotonic()
    writer.write(payload)
    got = await asyncio.wait_for(reader.readexactly(len(payload)), TIMEOUT)
    assert got == payload
    return time.monotonic() - start


async def read_to_end(reader: asyncio.StreamReader, limit: float = TIMEOUT) -> tuple[bytes, str]:
    """Everything until the stream ends; and how: "eof", "reset" or "timeout"."""
    data = bytearray()
    deadline = time.monotonic() + limit
    for _ in range(100_000):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bytes(data), "timeout"
        try:
            chunk = await asyncio.wait_for(reader.read(65536), remaining)
        except TimeoutError:
            return bytes(data), "timeout"
        except ConnectionResetError:
            return bytes(data), "reset"
        if not chunk:
            return bytes(data), "eof"
        data += chunk
    raise AssertionError("read loop did not end")


async def timed(awaitable: Awaitable[T]) -> tuple[T, float]:
    start = time.monotonic()
    value = await awaitable
    return value, time.monotonic() - start
