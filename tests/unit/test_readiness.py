"""Readiness probes against real sockets and processes, and the waiting loop."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.blueprint.model import Readiness
from orchestrator.engines import NotReady
from orchestrator.exceptions import ReadinessTimeout, ServiceError
from orchestrator.readiness import CommandProbe, HttpProbe, TcpProbe, wait_ready
from orchestrator.runtime.base import Endpoint, EnvironmentContext, ServiceHandle
from orchestrator.runtime.fake import FakeRuntime
from orchestrator.settings import Settings


@pytest.fixture
def http_server() -> Iterator[Endpoint]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/ok" else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Endpoint("127.0.0.1", server.server_address[1])
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tcp_probe(http_server: Endpoint) -> None:
    TcpProbe().check(http_server, timeout=1)
    with pytest.raises(NotReady, match="tcp 127.0.0.1"):
        TcpProbe().check(Endpoint("127.0.0.1", free_port()), timeout=1)


def test_http_probe_wants_a_success_status(http_server: Endpoint) -> None:
    HttpProbe("/ok").check(http_server, timeout=1)
    with pytest.raises(NotReady, match="answered 503"):
        HttpProbe("/healthz").check(http_server, timeout=1)


def test_command_probe(tmp_path: Path) -> None:
    probe = CommandProbe("test -f ready.flag", {"PATH": "/usr/bin:/bin"}, str(tmp_path))
    with pytest.raises(NotReady, match="exited with 1"):
        probe.check(Endpoint("127.0.0.1", None), timeout=1)
    (tmp_path / "ready.flag").touch()
    probe.check(Endpoint("127.0.0.1", None), timeout=1)


class Watched(FakeRuntime):
    """A runtime whose services run until their handle says they exited."""

    def exit_reason(self, handle: ServiceHandle) -> str | None:
        code = handle.details.get("exits")
        return None if code is None else f"exited with code {code}"


def _context(tmp_path: Path) -> EnvironmentContext:
    return EnvironmentContext("e-1", "bp", None, tmp_path / "w", tmp_path / "r")


def test_wait_ready_times_out_with_the_last_reason(tmp_path: Path) -> None:
    runtime = Watched(Settings(state_dir=tmp_path))
    handle = ServiceHandle("api", Endpoint("127.0.0.1", free_port()))
    with pytest.raises(ReadinessTimeout, match=r"not ready after 0.3s \(tcp connect: tcp "):
        wait_ready(
            runtime,
            _context(tmp_path),
            handle,
            TcpProbe(),
            Readiness(timeout=0.3),
            threading.Event(),
        )


def test_wait_ready_fails_fast_when_the_service_exits(tmp_path: Path) -> None:
    runtime = Watched(Settings(state_dir=tmp_path))
    handle = ServiceHandle("api", Endpoint("127.0.0.1", free_port()), {"exits": 2})
    with pytest.raises(ServiceError, match="exited with code 2 before it was ready"):
        wait_ready(
            runtime,
            _context(tmp_path),
            handle,
            TcpProbe(),
            Readiness(timeout=30),
            threading.Event(),
        )


def test_wait_ready_returns_once_the_service_listens(tmp_path: Path) -> None:
    runtime = Watched(Settings(state_dir=tmp_path))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    later = threading.Timer(0.3, listener.listen)  # the service "starts" a little later
    later.start()
    try:
        result = wait_ready(
            runtime,
            _context(tmp_path),
            ServiceHandle("api", Endpoint("127.0.0.1", port)),
            TcpProbe(),
            Readiness(timeout=10),
            threading.Event(),
        )
    finally:
        later.join()
        listener.close()
    assert result.seconds >= 0.25, "it waited for the listener instead of failing"
