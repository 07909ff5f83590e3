"""Connecting to the Docker Engine: the SDK is imported here, on first use only.

Everything the SDK raises for a dead or missing engine becomes one ``RuntimeUnavailable``
with a hint, instead of the SDK's nested ``requests`` tracebacks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.exceptions import RuntimeUnavailable

if TYPE_CHECKING:
    import docker

INSTALL_HINT = "install the Docker extra: pip install 'envctl[docker]'"
ENGINE_HINT = (
    "start the Docker Engine (`dockerd`, or `systemctl start docker`), check DOCKER_HOST, "
    "or use --runtime local"
)


def sdk() -> Any:
    try:
        import docker
    except ImportError as exc:
        raise RuntimeUnavailable(
            "the docker runtime needs the Docker SDK for Python", hint=INSTALL_HINT
        ) from exc
    return docker


def connect(timeout: float = 60.0) -> docker.DockerClient:
    """A client that has answered a ping, or ``RuntimeUnavailable``."""
    lib = sdk()
    try:
        client: docker.DockerClient = lib.from_env(timeout=timeout)
        client.ping()
    except lib.errors.DockerException as exc:
        raise RuntimeUnavailable(
            f"cannot reach the Docker Engine: {_short(exc)}", hint=ENGINE_HINT
        ) from None
    return client


def errors() -> Any:
    """``docker.errors``, for ``except`` clauses that must not import the SDK eagerly."""
    return sdk().errors


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    # "Error while fetching server API version: ('Connection aborted.', FileNotFoundError(
    # 2, 'No such file or directory'))": keep the part a person can act on.
    if "FileNotFoundError" in text or "No such file" in text:
        return "no Docker socket (is the engine running?)"
    if "Connection refused" in text:
        return "connection refused (is the engine running?)"
    return text.splitlines()[0][:300] if text else type(exc).__name__
