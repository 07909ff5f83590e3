"""Parts of the Docker runtime that need no engine: names, pinning, and the
watchdog's protocol over real loopback sockets."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from orchestrator.runtime.docker import labels, watchdog
from orchestrator.runtime.docker.images import unpinned


@pytest.mark.parametrize(
    ("reference", "moving"),
    [
        ("redis", True),
        ("redis:latest", True),
        ("registry:5000/team/redis", True),
        ("redis:7.0", False),
        ("registry:5000/team/redis:7.0", False),
        ("redis@sha256:" + "0" * 64, False),
    ],
)
def test_unpinned_images_are_recognised(reference: str, moving: bool) -> None:
    assert unpinned(reference) is moving


def test_labels_carry_env_store_and_expiry() -> None:
    found = labels.base("env-1", "/state", "1:2@host", 100.4, {labels.OWNER: "", "x": "y"})
    assert found[labels.ENV] == "env-1" and found[labels.STORE] == "/state"
    assert found[labels.EXPIRES_AT] == "100"
    assert labels.OWNER not in found, "empty labels are left out"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(port: int, **kwargs: float) -> tuple[threading.Thread, list[str]]:
    why: list[str] = []
    args = {"grace": 0.0, "connect_within": 5.0, **kwargs}
    thread = threading.Thread(
        target=lambda: why.append(
            watchdog.serve("env-1", port, args["grace"], args["connect_within"])
        ),
        daemon=True,
    )
    thread.start()
    return thread, why


def test_watchdog_acts_when_its_envctl_goes_away() -> None:
    port = _free_port()
    thread, why = _serve(port)
    leash = watchdog.Leash("env-1", "127.0.0.1", port, within=5.0)
    assert leash.connected.wait(5.0), leash.error
    time.sleep(0.2)
    assert thread.is_alive(), "a connected envctl keeps its environment"
    leash.close()  # what a SIGKILL does to the socket
    thread.join(5.0)
    assert why == ["its envctl process went away"]


def test_a_detached_environment_lives_until_its_ttl() -> None:
    port = _free_port()
    thread, why = _serve(port)
    leash = watchdog.Leash("env-1", "127.0.0.1", port, within=5.0)
    assert leash.detach(time.time() + 1.0)
    leash.close()  # `envctl up` exits
    thread.join(0.5)
    assert thread.is_alive(), "not reaped when the creator exits after detaching"
    thread.join(5.0)
    assert why == ["its ttl passed"]


def test_watchdog_acts_when_no_envctl_ever_connects() -> None:
    thread, why = _serve(_free_port(), connect_within=0.3)
    thread.join(5.0)
    assert why and why[0].startswith("no envctl connected")


def test_leash_ignores_a_port_that_answers_with_something_else() -> None:
    with socket.create_server(("127.0.0.1", 0)) as impostor:
        port = impostor.getsockname()[1]

        def answer_wrong() -> None:
            conn, _ = impostor.accept()
            with conn:
                conn.sendall(b"hello\n")

        threading.Thread(target=answer_wrong, daemon=True).start()
        leash = watchdog.Leash("env-1", "127.0.0.1", port, within=0.5)
        deadline = time.monotonic() + 5.0
        while leash.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not leash.connected.is_set()
        assert leash.error is not None and "could not connect to the watchdog" in leash.error
        leash.close()
