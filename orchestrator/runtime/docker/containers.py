"""Small helpers over the SDK's container objects, shared by the runtime's parts."""

from __future__ import annotations

import io
import os
import tarfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import PurePosixPath
from typing import Any, TypeVar

from orchestrator.exceptions import RuntimeUnavailable
from orchestrator.runtime.docker.client import errors

T = TypeVar("T")
DOCKER_SOCKET = "/var/run/docker.sock"


def background(fn: Callable[..., T], *args: Any) -> Future[T]:
    """Run ``fn`` on a thread of its own; the caller collects (or re-raises) via result()."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to whoever calls result()
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return future


def docker_socket(client: Any) -> str:
    """The host path of the engine's socket, for the watchdog to mount."""
    base = str(getattr(client.api, "base_url", ""))
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host.removeprefix("unix://")
    if base.startswith("http+docker://") or not host:
        return DOCKER_SOCKET
    raise RuntimeUnavailable(
        f"the watchdog needs the engine's unix socket, and DOCKER_HOST is {host!r}",
        hint="run envctl on the Docker host (DOCKER_HOST=unix://...)",
    )


def host_port(container: Any, container_port: int, wait: float = 10.0) -> int | None:
    """The 127.0.0.1 port Docker published for ``container_port``; None once the
    container has stopped (a stopped container publishes nothing: its exit is the news)."""
    deadline = time.monotonic() + wait
    while True:
        container.reload()
        bindings = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        for binding in bindings.get(f"{container_port}/tcp") or []:
            if binding.get("HostPort"):
                return int(binding["HostPort"])
        if (container.attrs.get("State") or {}).get("Status") in ("exited", "dead"):
            return None
        if time.monotonic() > deadline:
            raise RuntimeUnavailable(
                f"Docker published no port for {container.name}:{container_port}",
                hint="check `docker logs " + container.name + "`",
            )
        time.sleep(0.05)


def put_file(container: Any, path: str, text: str) -> None:
    data = text.encode("utf-8")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(PurePosixPath(path).name)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    parent = str(PurePosixPath(path).parent)
    # put_archive needs the directory to exist; mkdir it through a one-entry archive.
    _ensure_dir(container, parent)
    container.put_archive(parent, buffer.getvalue())


def _ensure_dir(container: Any, path: str) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        parts = [p for p in path.split("/") if p]
        for i in range(len(parts)):
            info = tarfile.TarInfo("/".join(parts[: i + 1]))
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
    container.put_archive("/", buffer.getvalue())


def get_file(container: Any, path: str) -> str | None:
    try:
        stream, _ = container.get_archive(path)
    except errors().APIError:
        return None
    buffer = io.BytesIO(b"".join(stream))
    with tarfile.open(fileobj=buffer) as tar:
        member = tar.next()
        if member is None:
            return None
        handle = tar.extractfile(member)
        return handle.read().decode("utf-8", errors="replace") if handle else None


def explain(exc: Any) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
