"""``--verbose`` on Docker: a container's output comes from the engine's log stream."""

from __future__ import annotations

import importlib.util
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from orchestrator.runtime.base import Endpoint, EnvironmentContext, ServiceHandle
from orchestrator.runtime.docker.runtime import DockerRuntime
from orchestrator.settings import Settings
from tests.conftest import ROOT

pytestmark = pytest.mark.docker

# Whole lines only: Docker's follow stream may end (container stopped) before it passes on
# a last line that has no newline, though `docker logs` shows it afterwards.
SCRIPT = "echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three; sleep 60"


def follow(runtime: DockerRuntime, container: Any, stop: threading.Event) -> list[str]:
    env = EnvironmentContext("t", "t", None, Path("/nonexistent"), Path("/nonexistent"))
    handle = ServiceHandle("svc", Endpoint("127.0.0.1", None), {"container_id": container.id})
    return list(runtime.follow_output(env, handle, stop))


@pytest.fixture(scope="module")
def debian_image(docker_client: Any) -> str:
    """The smallest image envctl builds (only it: not the whole set)."""
    spec = importlib.util.spec_from_file_location("envctl_images", ROOT / "images" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built: dict[str, str] = module.ensure(["debian"])
    return next(tag for tag in built if tag.startswith("envctl/debian:"))


@pytest.fixture
def container(docker_client: Any, debian_image: str) -> Any:
    name = f"envctl-test-follow-{uuid.uuid4().hex[:8]}"
    one = docker_client.containers.run(debian_image, ["sh", "-c", SCRIPT], detach=True, name=name)
    yield one
    one.remove(force=True)


def wait_for_output(container: Any, marker: bytes, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while marker not in container.logs():
        assert time.monotonic() < deadline, container.logs()
        time.sleep(0.1)


def test_the_stream_ends_when_the_container_stops(container: Any, settings: Settings) -> None:
    stop = threading.Event()
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(follow(DockerRuntime(settings), container, stop))
    )
    reader.start()
    wait_for_output(container, b"three")
    container.stop(timeout=1)
    reader.join(20)
    assert not reader.is_alive()
    assert lines == ["one", "two", "three"]


def test_stop_closes_the_stream_of_a_container_left_running(
    container: Any, settings: Settings
) -> None:
    wait_for_output(container, b"three")
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    lines = follow(DockerRuntime(settings), container, stop)
    assert time.monotonic() - started < 10, "it did not wait for the container to end"
    assert lines == ["one", "two", "three"]
    container.reload()
    assert container.status == "running"


def test_stop_lets_go_of_a_container_that_never_stops_writing(
    docker_client: Any, debian_image: str, settings: Settings
) -> None:
    name = f"envctl-test-follow-{uuid.uuid4().hex[:8]}"
    chatty = docker_client.containers.run(
        debian_image, ["sh", "-c", "while :; do echo tick; done"], detach=True, name=name
    )
    try:
        wait_for_output(chatty, b"tick")
        stop = threading.Event()
        threading.Timer(0.5, stop.set).start()
        started = time.monotonic()
        lines = follow(DockerRuntime(settings), chatty, stop)
        assert time.monotonic() - started < 10, "still following a chatty container"
        assert lines and set(lines) == {"tick"}
    finally:
        chatty.remove(force=True)
