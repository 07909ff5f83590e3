"""The client boundary: every way of not reaching the API is one clear error."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from orchestrator.exceptions import RuntimeUnavailable
from orchestrator.runtime.kubernetes.client import ApiError, NotConfigured, api_error, connect
from orchestrator.settings import Settings


def kubeconfig(path: Path, server: str, context: str = "test") -> Path:
    path.write_text(
        json.dumps({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": {"token": "t0ken"}}],
            "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
            "current-context": context,
        })
    )  # fmt: skip
    return path


def settings(tmp_path: Path, **environ: str) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        environ={"HOME": str(tmp_path), **environ},
        kube_context=environ.get("ENVCTL_KUBE_CONTEXT"),
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_configuration_at_all(tmp_path: Path) -> None:
    with pytest.raises(NotConfigured) as caught:
        connect(settings(tmp_path))
    assert "KUBECONFIG is not set" in caught.value.message
    assert "KUBECONFIG=" in (caught.value.hint or "")


def test_an_api_that_refuses_connections(tmp_path: Path) -> None:
    port = closed_port()
    config = kubeconfig(tmp_path / "kc", f"https://127.0.0.1:{port}")
    with pytest.raises(RuntimeUnavailable) as caught:
        connect(settings(tmp_path, KUBECONFIG=str(config)))
    assert caught.value.message == (
        f"cannot reach the Kubernetes API at https://127.0.0.1:{port}: "
        "connection refused (is the cluster up?)"
    )
    assert "ENVCTL_KUBE_CONTEXT" in (caught.value.hint or "")


def test_an_unknown_context_lists_the_known_ones(tmp_path: Path) -> None:
    config = kubeconfig(tmp_path / "kc", "https://127.0.0.1:1", context="ci")
    with pytest.raises(RuntimeUnavailable) as caught:
        connect(settings(tmp_path, KUBECONFIG=str(config), ENVCTL_KUBE_CONTEXT="prod"))
    assert "cannot use the kubeconfig" in caught.value.message
    assert caught.value.hint == "ENVCTL_KUBE_CONTEXT='prod'; contexts in the kubeconfig: ci"


def test_a_broken_kubeconfig(tmp_path: Path) -> None:
    config = tmp_path / "kc"
    config.write_text("this: [is not a kubeconfig")
    with pytest.raises(RuntimeUnavailable, match="cannot use the kubeconfig"):
        connect(settings(tmp_path, KUBECONFIG=str(config)))


class _Api(BaseHTTPRequestHandler):
    """Answers like the API server would: a Status object for every error."""

    def do_GET(self) -> None:
        if self.path == "/version":
            status = 401 if self.server.refuse else 200  # type: ignore[attr-defined]
            self._answer(status, {"gitVersion": "v1.34.4"} if status == 200 else _status(401))
        elif self.path.startswith("/api/v1/namespaces/gone"):
            self._answer(404, _status(404, 'namespaces "gone" not found'))
        else:
            self._answer(403, _status(403, 'namespaces is forbidden: User "u" cannot list'))

    def _answer(self, code: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def _status(code: int, message: str = "Unauthorized") -> dict[str, object]:
    return {"kind": "Status", "status": "Failure", "message": message, "code": code}


@pytest.fixture
def api() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    server.refuse = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_refused_credentials(tmp_path: Path, api: ThreadingHTTPServer) -> None:
    api.refuse = True  # type: ignore[attr-defined]
    config = kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{api.server_address[1]}")
    with pytest.raises(RuntimeUnavailable) as caught:
        connect(settings(tmp_path, KUBECONFIG=str(config)))
    assert "refused envctl's credentials" in caught.value.message
    assert "HTTP 401" in caught.value.message


def test_answers_not_found_and_forbidden(tmp_path: Path, api: ThreadingHTTPServer) -> None:
    config = kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{api.server_address[1]}")
    kube = connect(settings(tmp_path, KUBECONFIG=str(config)))
    assert kube.get("/api/v1/namespaces/gone") is None
    with pytest.raises(ApiError) as caught:
        kube.list("/api/v1/namespaces")
    assert caught.value.status == 403
    assert caught.value.message == (
        'the Kubernetes API refused: namespaces is forbidden: User "u" cannot list'
    )


def test_api_errors_carry_the_status_message_or_the_raw_body() -> None:
    error = api_error(409, "Conflict", b'{"kind":"Status","message":"already exists"}')
    assert error.conflict and error.detail == "already exists"
    raw = api_error(502, "Bad Gateway", b"<html>proxy error</html>")
    assert raw.detail == "<html>proxy error</html>"
    empty = api_error(500, "Internal Server Error", None)
    assert empty.detail == "HTTP 500 Internal Server Error"
