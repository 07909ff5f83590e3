"""What tears an ``Environment`` down when its caller does not: ``atexit``, SIGTERM as
Ctrl-C, and a close that a second Ctrl-C cannot cut short.

Scripts that end, or get SIGTERM, run as child processes (the fake runtime in them);
what they leave is read from their state store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import Environment
from orchestrator.blueprint.loader import load
from orchestrator.runtime.fake import FakeRuntime, FakeWorld
from orchestrator.settings import Settings
from orchestrator.state import StateStore
from tests.conftest import ROOT

BLUEPRINT = """
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: shop}
services:
  cache: {image: "redis:7", ports: [6379]}
  web: {image: "web:2", ports: [80], depends_on: [cache]}
"""

# The child: an environment of BLUEPRINT on the fake runtime; what it does with it is
# argv[3]. Registered first, its own atexit runs last: it says what is still "running".
SCRIPT = """
import atexit, json, sys, time
from pathlib import Path

from orchestrator import Environment
from orchestrator.blueprint.loader import load
from orchestrator.runtime.fake import FakeRuntime, FakeWorld
from orchestrator.settings import Settings

world = FakeWorld()
out = Path(sys.argv[2])
atexit.register(lambda: (out / "running.json").write_text(json.dumps(len(world.running))))
settings = Settings(state_dir=out / "state", work_root=out / "work")
env = Environment(
    load(sys.argv[1]), "fake", settings=settings, runtime_factory=lambda n, s: FakeRuntime(s, world)
)
mode = sys.argv[3]
if mode == "never-closed":
    env.start()
elif mode == "uncaught":
    env.start()
    raise RuntimeError("the script broke")
elif mode == "sigterm-in-with":
    with env:
        (out / "ready").write_text(env.env_id)
        time.sleep(60)
"""


@pytest.fixture
def blueprint(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(textwrap.dedent(BLUEPRINT), encoding="utf-8")
    return path


def _child(tmp_path: Path, blueprint: Path, mode: str) -> subprocess.Popen[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, str(script), str(blueprint), str(tmp_path), mode],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _left(tmp_path: Path) -> tuple[list[Any], list[dict[str, Any]], int]:
    """What the child left: live environments, recorded runs, services still running."""
    store = StateStore(tmp_path / "state" / "state.db")
    running = json.loads((tmp_path / "running.json").read_text())
    return store.environments(), store.runs(), running


def test_an_environment_never_closed_is_torn_down_as_python_exits(
    tmp_path: Path, blueprint: Path
) -> None:
    child = _child(tmp_path, blueprint, "never-closed")
    output, _ = child.communicate(timeout=60)
    assert child.returncode == 0, output
    live, runs, running = _left(tmp_path)
    assert live == [] and running == 0, output
    assert [r["status"] for r in runs] == ["passed"]
    assert "was never closed; tearing it down as Python exits" in output


def test_a_script_that_dies_of_an_exception_records_it(tmp_path: Path, blueprint: Path) -> None:
    child = _child(tmp_path, blueprint, "uncaught")
    output, _ = child.communicate(timeout=60)
    assert child.returncode == 1 and "RuntimeError: the script broke" in output, output
    live, runs, running = _left(tmp_path)
    assert live == [] and running == 0, output
    (run,) = runs
    assert run["status"] == "error" and run["error"]["type"] == "RuntimeError"


def test_sigterm_inside_the_with_body_tears_down_as_ctrl_c_would(
    tmp_path: Path, blueprint: Path
) -> None:
    child = _child(tmp_path, blueprint, "sigterm-in-with")
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "ready").exists():
            assert child.poll() is None, child.communicate()[0]
            assert time.monotonic() < deadline, "it never came up"
            time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode != -signal.SIGTERM, "died at once, without teardown"
    assert "Terminated: SIGTERM" in output, output
    live, runs, running = _left(tmp_path)
    assert live == [] and running == 0, output
    (run,) = runs
    assert run["status"] == "error" and run["error"]["type"] == "Interrupted"
    assert "SIGTERM" in run["error"]["message"]


# In this process -----------------------------------------------------------------------


@pytest.fixture
def default_signals() -> Iterator[None]:
    """SIGINT and SIGTERM as a plain Python process has them, put back afterwards."""
    previous = {
        sig: signal.signal(sig, handler)
        for sig, handler in (
            (signal.SIGINT, signal.default_int_handler),
            (signal.SIGTERM, signal.SIG_DFL),
        )
    }
    yield
    for sig, handler in previous.items():
        signal.signal(sig, handler)


@pytest.fixture
def make(tmp_path: Path, blueprint: Path) -> Callable[[], Environment]:
    world = FakeWorld()
    settings = Settings(state_dir=tmp_path / "state", work_root=tmp_path / "work")

    def build() -> Environment:
        return Environment(
            load(blueprint),
            "fake",
            settings=settings,
            runtime_factory=lambda name, s: FakeRuntime(s, world),
        )

    return build


@pytest.mark.usefixtures("default_signals")
def test_sigterm_is_held_while_ready_and_given_back_on_close(
    make: Callable[[], Environment],
) -> None:
    with make(), make():  # two at once share the one handler
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.usefixtures("default_signals")
def test_someone_elses_sigterm_handler_is_left_alone(make: Callable[[], Environment]) -> None:
    def theirs(signum: int, frame: object) -> None:
        pass

    signal.signal(signal.SIGTERM, theirs)
    with make():
        assert signal.getsignal(signal.SIGTERM) is theirs
    assert signal.getsignal(signal.SIGTERM) is theirs


@pytest.mark.usefixtures("default_signals")
def test_off_the_main_thread_nothing_is_held(make: Callable[[], Environment]) -> None:
    seen: list[object] = []

    def body() -> None:
        with make():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(timeout=60)
    assert seen == [signal.SIG_DFL]


def test_released_off_the_main_thread_sigterm_does_what_the_default_does() -> None:
    # Off the main thread the handler cannot be put back; with no hold left, it must
    # not turn SIGTERM into anything: the process dies of it, as it would have.
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal, threading, time\n"
            "from orchestrator import signals\n"
            "release = signals.hold_sigterm()\n"
            "t = threading.Thread(target=release); t.start(); t.join()\n"
            "os.kill(os.getpid(), signal.SIGTERM); time.sleep(10)\n",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGTERM, child.stderr


@pytest.mark.usefixtures("default_signals")
def test_a_second_ctrl_c_cuts_neither_teardown_nor_the_record(
    make: Callable[[], Environment], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make()
    env.start()
    session, engine = env.session, env.engine

    def ctrl_c_then(call: Callable[..., Any]) -> Callable[..., Any]:
        def interrupted(*args: Any, **kwargs: Any) -> Any:
            os.kill(os.getpid(), signal.SIGINT)  # delivered before the next line
            return call(*args, **kwargs)

        return interrupted

    monkeypatch.setattr(session, "teardown", ctrl_c_then(session.teardown))
    monkeypatch.setattr(engine, "_record", ctrl_c_then(engine._record))
    try:
        result = env.close()
    except KeyboardInterrupt:  # as a failure of this test, not an interrupted session
        pytest.fail("a Ctrl-C cut the close short")
    assert env.state == "closed" and result.leftovers == []
    assert StateStore(engine.settings.state_db).environments() == []
    assert [r["env"] for r in StateStore(engine.settings.state_db).runs()] == [env.env_id]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "given back"
