"""Host access to a service: a listener on 127.0.0.1 that relays every connection
through the API's port-forward to one of the service's pods.

What ``kubectl port-forward`` does, per connection: each accepted connection opens its
own port-forward stream (a websocket to the API) to the pod that runs at that moment,
so a replaced pod is found again and one broken stream does not take the other
connections with it. The listener accepts before anything is known of the pod — as
with Docker's port proxy, a TCP connect here proves nothing; readiness asks the pod's
conditions and then speaks the service's protocol through it.

The listeners run in a child process (``main``; ``forwarding.py`` starts it): relaying
in threads of envctl itself would share its GIL with the seeders' CPU-bound Python, and
deadlock with client calls that block in C while holding it (psycopg's ``cancel()``
connects through the very listener that then cannot run).

Protocol: JSON lines. The child says ``{"ready": true}`` (or ``{"error": …}``) once it
has reached the API; then answers ``{"op": "forward", "key", "namespace", "env_label",
"service", "port"}`` with ``{"key", "port"}`` (the local port) and ``{"op": "stop",
"keys"}`` with ``{"stopped": keys}``. End of input (envctl exited, even by SIGKILL)
stops everything.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import signal
import socket
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from orchestrator.exceptions import RuntimeUnavailable
from orchestrator.runtime.base import Endpoint
from orchestrator.runtime.kubernetes.client import Kube, connect, transport_errors

log = logging.getLogger(__name__)

CHUNK = 64 * 1024

# Opens a stream to the service (a socket-like object), or None when no pod runs.
Opener = Callable[[], Any]


def pod_stream(kube: Kube, namespace: str, pod: str, port: int) -> Any:
    """A socket-like end of a new port-forward to ``pod``:``port``."""
    forward = kube.websocket("portforward", pod, namespace, ports=str(port))
    sock = forward.socket(port)
    # What the kubelet said when it could not connect inside the pod, for the log.
    sock.forward_error = lambda: forward.error(port)
    return sock


class Forwarder:
    """One listener on 127.0.0.1 (a port the kernel picks), relaying to ``open``."""

    def __init__(self, name: str, open_stream: Opener) -> None:
        self.name = name
        self._open = open_stream
        self._errors: tuple[type[BaseException], ...] = (*transport_errors(), ValueError)
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.endpoint = Endpoint("127.0.0.1", self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._open_sockets: set[Any] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name=f"forward-{name}", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed by stop()
                return
            threading.Thread(
                target=self._serve, args=(conn,), name=f"forward-{self.name}-conn", daemon=True
            ).start()

    def _serve(self, conn: socket.socket) -> None:
        upstream = None
        try:
            try:
                upstream = self._open()
            except self._errors as exc:
                log.debug("%s: no port-forward: %s", self.name, exc)
            if upstream is None:
                log.debug("%s: no pod runs to forward to", self.name)
                return
            if not self._track(conn, upstream):
                return
            _relay(conn, upstream)
            said = getattr(upstream, "forward_error", lambda: None)()
            if said:
                log.debug("%s: %s", self.name, said.strip())
        finally:
            self._untrack(conn, upstream)
            _close(conn)
            if upstream is not None:
                _close(upstream)

    def _track(self, *socks: Any) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._open_sockets.update(socks)
            return True

    def _untrack(self, *socks: Any) -> None:
        with self._lock:
            for sock in socks:
                self._open_sockets.discard(sock)

    def stop(self) -> None:
        """Stop listening and end every relayed connection. Idempotent."""
        with self._lock:
            self._closed = True
            sockets = list(self._open_sockets)
            self._open_sockets.clear()
        # shutdown() wakes the thread blocked in accept(); close() alone would leave the
        # kernel's socket listening for as long as that call blocks.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        _close(self._listener)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            _close(sock)
        self._thread.join(timeout=2)


def _relay(a: Any, b: Any) -> None:
    """Copy both ways until either side ends."""
    peers = {a: b, b: a}
    while True:
        try:
            readable, _, _ = select.select(list(peers), [], [])
        except (OSError, ValueError):  # a socket closed under us (stop)
            return
        for sock in readable:
            try:
                data = sock.recv(CHUNK)
            except OSError:
                return
            if not data:
                return
            try:
                peers[sock].sendall(data)
            except OSError:
                return


def _close(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def main() -> int:
    """The child process: serve forwarding requests from stdin until it closes."""
    from orchestrator.runtime.kubernetes.pods import PodCache
    from orchestrator.settings import Settings

    # Ctrl-C is envctl's to handle (it tears down); this process ends with its input.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.excepthook = _quiet_resets
    level = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else logging.WARNING
    logging.basicConfig(format="envctl: %(levelname)s: port-forward: %(message)s")
    logging.getLogger("orchestrator").setLevel(level)
    try:
        kube = connect(Settings.from_environ())
    except RuntimeUnavailable as exc:
        _say(sys.stdout, {"error": exc.message})
        return 1
    cache = PodCache(kube)
    forwards: dict[str, Forwarder] = {}
    _say(sys.stdout, {"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("op") == "forward":
            key = str(request["key"])
            opener = _opener(kube, cache, request["namespace"], request["env_label"],
                             request["service"], int(request["port"]))  # fmt: skip
            forwards[key] = Forwarder(key, opener)
            _say(sys.stdout, {"key": key, "port": forwards[key].endpoint.port})
        elif request.get("op") == "stop":
            keys = [str(k) for k in request.get("keys") or []]
            for key in keys:
                forwarder = forwards.pop(key, None)
                if forwarder is not None:
                    forwarder.stop()
            _say(sys.stdout, {"stopped": keys})
    for forwarder in forwards.values():
        forwarder.stop()
    return 0


_default_excepthook = threading.excepthook


def _quiet_resets(args: threading.ExceptHookArgs) -> None:
    """The client's per-stream thread ("Kubernetes port forward proxy: …") raises when a
    relayed connection ends abruptly — a client that resets, or our end closed with data
    unread. That is how connections end, not an error: no traceback on envctl's stderr."""
    name = args.thread.name if args.thread is not None else ""
    if name.startswith("Kubernetes port forward proxy") and isinstance(
        args.exc_value, (ConnectionError, OSError)
    ):
        log.debug("%s: %s", name, args.exc_value)
        return
    _default_excepthook(args)


def _opener(kube: Kube, cache: Any, namespace: str, env_label: str, service: str,
            port: int) -> Opener:  # fmt: skip
    def open_stream() -> Any:
        pod = cache.running_pod(namespace, env_label, service)
        return pod_stream(kube, namespace, pod, port) if pod is not None else None

    return open_stream


def _say(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()
