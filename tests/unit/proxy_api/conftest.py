"""A real ProxyServer and its HTTP API on 127.0.0.1, driven from the test thread.

The server runs on an asyncio loop in a background thread, so tests talk to it the way
users do: plain blocking HTTP (urllib, or ``toxiproxy-python`` over ``requests``) and
blocking sockets through the proxies.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import proxy_api_helpers as h
import pytest

from orchestrator.proxy.api import ControlApi, start_site
from orchestrator.proxy.server import ProxyServer


@pytest.fixture(autouse=True)
def _no_http_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # urllib and requests honour *_proxy variables; loopback calls must go direct.
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def loop_thread() -> Iterator[h.LoopThread]:
    thread = h.LoopThread()
    yield thread
    thread.close()


@pytest.fixture
def api(loop_thread: h.LoopThread) -> Iterator[h.RunningApi]:
    events: list[tuple[str, dict[str, Any]]] = []

    async def up() -> tuple[ProxyServer, ControlApi, Any, int]:
        server = ProxyServer(seed=7)
        control = ControlApi(server, events=lambda e, f: events.append((e, f)), timeout=5.0)
        runner, (_, port) = await start_site(control.app(), "127.0.0.1", 0)
        return server, control, runner, port

    server, control, runner, port = loop_thread.run(up())
    yield h.RunningApi(server, control, port, loop_thread, events)
    loop_thread.run(runner.cleanup())
    loop_thread.run(server.close())


@pytest.fixture
def echo() -> Iterator[str]:
    """A loopback TCP echo server; yields its "127.0.0.1:port"."""
    server = h.EchoServer(("127.0.0.1", 0), h.Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(h.TIMEOUT)
