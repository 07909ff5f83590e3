"""The host-side listener of a port-forward, over real loopback sockets: the stream
it relays to is whatever the opener returns (in the runtime, the API's websocket)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.exceptions import RuntimeUnavailable
from orchestrator.runtime.kubernetes.forwarding import Forwarding
from orchestrator.runtime.kubernetes.portforward import Forwarder
from orchestrator.settings import Settings


@pytest.fixture
def echo() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield int(server.getsockname()[1])
    server.close()


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def test_every_connection_is_relayed_through_its_own_stream(echo: int) -> None:
    opened: list[socket.socket] = []

    def open_stream() -> socket.socket:
        opened.append(socket.create_connection(("127.0.0.1", echo)))
        return opened[-1]

    forwarder = Forwarder("test", open_stream)
    try:
        assert forwarder.endpoint.host == "127.0.0.1" and forwarder.endpoint.port
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", forwarder.endpoint.port)) as client:
                payload = b"x" * 300_000
                client.sendall(payload)
                received = b""
                while len(received) < len(payload):
                    received += client.recv(65536)
                assert received == payload
        assert len(opened) == 2
    finally:
        forwarder.stop()


def test_with_no_pod_to_reach_the_connection_is_accepted_then_closed() -> None:
    forwarder = Forwarder("test", lambda: None)
    try:
        assert forwarder.endpoint.port is not None
        with socket.create_connection(("127.0.0.1", forwarder.endpoint.port), timeout=5) as c:
            # Accepted — as with Docker's port proxy, a connect proves nothing — then ended.
            assert c.recv(1) == b""
    finally:
        forwarder.stop()


def test_stop_ends_open_connections_and_the_listener(echo: int) -> None:
    forwarder = Forwarder("test", lambda: socket.create_connection(("127.0.0.1", echo)))
    assert forwarder.endpoint.port is not None
    client = socket.create_connection(("127.0.0.1", forwarder.endpoint.port), timeout=5)
    client.sendall(b"ping")
    assert client.recv(4) == b"ping"
    forwarder.stop()
    assert client.recv(1) == b"", "the relayed connection ended"
    client.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", forwarder.endpoint.port), timeout=1)
    forwarder.stop()  # idempotent


def test_the_helper_process_says_why_it_cannot_start(tmp_path: Path) -> None:
    forwarding = Forwarding(Settings(state_dir=tmp_path, environ={"HOME": str(tmp_path)}))
    try:
        with pytest.raises(RuntimeUnavailable) as caught:
            forwarding.forward("ns/cache", "ns", "env", "cache", 6379)
        assert caught.value.message == (
            "the port-forward helper could not start: no Kubernetes configuration: "
            "KUBECONFIG is not set, ~/.kube/config does not exist, and envctl does not run "
            "in a pod"
        )
    finally:
        forwarding.close()
    forwarding.close()  # idempotent
