"""What the Docker figures share: the engine, the images, bounded polling, and finding and
removing what a measurement created (by label or name) on every exit path.

Everything the benchmark itself creates (the floor's containers, networks and volumes,
the compose projects) carries the label ``envctl-bench.run=<prefix>`` or a name starting
with ``<prefix>``, a per-run prefix; what envctl creates carries ``envctl.env`` and
``envctl.store=<state dir>``, and our state dirs are temp dirs of this run.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from bench import MeasurementError

T = TypeVar("T")

PING_TIMEOUT = 5.0  # a hung engine must not hang the benchmark
API_TIMEOUT = 120  # per call, for everything else (creating a container can be slow)
RUN_LABEL = "envctl-bench.run"  # value: the per-run prefix
STACK_LABEL = "envctl-bench.stack"  # value: one floor stack's name
ENVCTL_ENV = "envctl.env"
ENVCTL_STORE = "envctl.store"
COMPOSE_PROJECT = "com.docker.compose.project"

# Every image the Docker figures run; none is ever pulled (there is no registry).
IMAGES = {
    "db": "postgres:15",
    "cache": "redis:7.0",
    "payments-provider": "payments-stub:2024.05",
    "orders": "orders:1.42.0",
}
ENVCTL_IMAGE = "envctl/envctl:0.1.0"  # envctl's fault proxy and watchdog


def new_prefix() -> str:
    """A per-run prefix for names and the run label: lowercase, valid for compose."""
    return f"envctl-bench-{secrets.token_hex(3)}"


def connect() -> Any:
    """A ``docker.DockerClient`` whose engine answered a ping; ``MeasurementError`` with
    the reason when there is no SDK or no engine (the caller turns it into a skip)."""
    try:
        import docker
    except ImportError as exc:
        raise MeasurementError(
            f"the Docker SDK is not installed ({exc}); pip install 'envctl[docker]'"
        ) from None
    try:
        probe = docker.from_env(timeout=int(PING_TIMEOUT))
        try:
            probe.ping()
        finally:
            probe.close()
        return docker.from_env(timeout=API_TIMEOUT)
    except docker.errors.DockerException as exc:
        raise MeasurementError(
            f"no Docker Engine answers ({_why(exc)}); start it (`dockerd`), check "
            "DOCKER_HOST, or pass --no-docker"
        ) from None


def _why(exc: BaseException) -> str:
    text = str(exc)
    if "FileNotFoundError" in text or "No such file" in text:
        return "no Docker socket"
    if "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return f"it did not answer within {PING_TIMEOUT:g}s"
    return text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__


def engine_version(client: Any) -> str:
    with contextlib.suppress(Exception):
        return str(client.version().get("Version", "?"))
    return "?"


def image_ids(client: Any, references: Iterable[str]) -> dict[str, str]:
    """The local image ID of every reference; ``MeasurementError`` naming the missing ones
    (never pulls: the bench must not reach for a registry)."""
    import docker

    found, missing = {}, []
    for ref in references:
        try:
            found[ref] = str(client.images.get(ref).id)
        except docker.errors.ImageNotFound:
            missing.append(ref)
    if missing:
        raise MeasurementError(
            f"image(s) not built: {', '.join(missing)}; run `make images` "
            "(.venv/bin/python images/build.py), nothing is pulled"
        )
    return found


def poll(
    check: Callable[[], T | None],
    timeout: float,
    interval: float,
    what: str,
    cancelled: Callable[[], bool] = lambda: False,
) -> T:
    """``check()`` every ``interval`` until it returns something truthy; bounded in time
    (``timeout``) and count. ``MeasurementError`` saying ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 2):
        got = check()
        if got:
            return got
        if cancelled():
            raise MeasurementError(f"{what}: cancelled")
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise MeasurementError(f"{what}: not within {timeout:g}s")


@dataclass(frozen=True)
class Selector:
    """Docker list filters for one kind of thing we made: a label (``key`` or
    ``key=value``) or a name (substring match, so a prefix matches, and more)."""

    label: str | None = None
    name: str | None = None

    def filters(self) -> dict[str, Any]:
        return {"label": self.label} if self.label else {"name": self.name}

    def __str__(self) -> str:
        return f"label {self.label}" if self.label else f"name {self.name}*"


def found(client: Any, selector: Selector) -> list[str]:
    """Every container, network and volume the selector matches, as ``kind name``."""
    filters = selector.filters()
    names = [
        *(f"container {c.name}" for c in client.containers.list(all=True, filters=filters)),
        *(f"network {n.name}" for n in client.networks.list(filters=filters)),
        *(f"volume {v.name}" for v in client.volumes.list(filters=filters)),
    ]
    if selector.name:  # the name filter is a substring match: keep true prefixes only
        names = [n for n in names if n.split(" ", 1)[1].startswith(selector.name)]
    return names


def remove(client: Any, selector: Selector) -> list[str]:
    """Force-remove what the selector matches: containers (with their anonymous volumes)
    first, then networks, then volumes. Returns what could not be removed, and why."""
    import docker

    failures = []
    filters = selector.filters()

    def ours(name: str) -> bool:
        return not selector.name or name.startswith(selector.name)

    for container in client.containers.list(all=True, filters=filters):
        if ours(container.name):
            try:
                container.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                failures.append(f"container {container.name}: {_short(exc)}")
    for network in client.networks.list(filters=filters):
        if ours(network.name):
            try:
                network.remove()
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                failures.append(f"network {network.name}: {_short(exc)}")
    for volume in client.volumes.list(filters=filters):
        if ours(volume.name):
            try:
                volume.remove(force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                failures.append(f"volume {volume.name}: {_short(exc)}")
    return failures


def envctl_resources(client: Any) -> dict[str, str]:
    """Every container, network and volume carrying ``envctl.env``: ``kind name`` → the
    ``envctl.store`` label (the state dir of the envctl that made it)."""
    selector = {"label": ENVCTL_ENV}
    out: dict[str, str] = {}
    for container in client.containers.list(all=True, filters=selector):
        out[f"container {container.name}"] = container.labels.get(ENVCTL_STORE, "")
    for network in client.networks.list(filters=selector):
        out[f"network {network.name}"] = (network.attrs.get("Labels") or {}).get(ENVCTL_STORE, "")
    for volume in client.volumes.list(filters=selector):
        out[f"volume {volume.name}"] = (volume.attrs.get("Labels") or {}).get(ENVCTL_STORE, "")
    return out


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
