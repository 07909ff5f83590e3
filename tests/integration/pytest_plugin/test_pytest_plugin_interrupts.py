"""The pytest plugin interrupted: Ctrl-C and SIGTERM, alone and under pytest-xdist."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.integration.pytest_plugin.sample_project import (
    WAITING,
    environ,
    make_project,
    nothing_left,
    recorded_runs,
)

pytestmark = pytest.mark.local


# A service that takes its time to stop (draining, flushing …), and says when it is done.
SLOW = """
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: slowstop}
services:
  slow:
    ports: [8000]
    ready: {tcp: true}
    local: {command: "python slow_stop.py ${self.port} ${env.SAMPLE_OUT}"}
"""

SLOW_STOP_SECONDS = 4  # well inside xdist's 10 s grace, longer than its 5 s before SIGINT

SLOW_STOP = f"""
import os, signal, socket, sys, time
from pathlib import Path


def stop(signum, frame):
    time.sleep({SLOW_STOP_SECONDS})
    (Path(sys.argv[2]) / f"stopped-{{os.getpid()}}").write_text("clean")
    os._exit(0)


signal.signal(signal.SIGTERM, stop)
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    server.accept()[0].close()
"""


def _interrupt(
    cli: Cli, project: Path, args: list[str], names: list[str], send: Callable[[int], None]
) -> tuple[int, str, set[str]]:
    """Run pytest until every test in ``names`` holds its environment, then ``send`` the
    signal (given pytest's pid, the leader of its own process group); its exit code,
    output, and the environments that were up."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"],
        cwd=project,
        env=environ(cli, project),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(list((project / "out").glob("started-*"))) < len(names):
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the environments never came up"
            time.sleep(0.2)
        env_ids = {p.read_text() for p in (project / "out").glob("started-*")}
        assert {row["env"] for row in cli.live()} == env_ids
        send(proc.pid)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, output, env_ids


def _torn_down_and_recorded(cli: Cli, env_ids: set[str], signal_name: str) -> None:
    runs = recorded_runs(cli)
    assert {run["env"] for run in runs} == env_ids
    for run in runs:
        assert run["status"] == "error" and run["teardown"]["complete"], run
        assert run["error"]["type"] == "Interrupted"
        assert signal_name in run["error"]["message"], run["error"]
    nothing_left(cli, env_ids)


@pytest.mark.parametrize(
    ("signum", "xdist"),
    [(signal.SIGINT, []), (signal.SIGINT, ["-n", "2"]), (signal.SIGTERM, [])],
    ids=["ctrl-c", "ctrl-c-xdist", "sigterm"],
)
def test_a_session_interrupted_mid_test_still_tears_down(
    cli: Cli, tmp_path: Path, signum: signal.Signals, xdist: list[str]
) -> None:
    # A test for each worker, so that both hold an environment when the signal comes.
    names = ["first", "second"] if xdist else ["first"]
    project = make_project(
        tmp_path, **{f"test_{n}.py": WAITING.replace("{name}", n) for n in names}
    )
    # As a terminal's Ctrl-C (or CI's cancel): the whole process group.
    code, output, env_ids = _interrupt(
        cli, project, [*xdist, "--envctl", "bp.yaml"], names, lambda pid: os.killpg(pid, signum)
    )
    assert code == 2, output  # pytest's "interrupted"
    assert "KeyboardInterrupt" in output
    _torn_down_and_recorded(cli, env_ids, signum.name)


@pytest.mark.parametrize(
    ("signum", "to"),
    [(signal.SIGINT, "group"), (signal.SIGTERM, "controller"), (signal.SIGTERM, "group")],
    ids=["ctrl-c", "sigterm-to-the-controller", "sigterm-to-the-group"],
)
def test_under_xdist_a_slow_teardown_finishes_before_the_workers_go(
    cli: Cli, tmp_path: Path, signum: signal.Signals, to: str
) -> None:
    names = ["first", "second"]  # one per worker
    project = make_project(
        tmp_path,
        **{"slow.yaml": SLOW, "slow_stop.py": SLOW_STOP},
        **{f"test_{n}.py": WAITING.replace("{name}", n) for n in names},
    )
    send = os.killpg if to == "group" else os.kill
    code, output, env_ids = _interrupt(
        cli, project, ["-n", "2", "--envctl", "slow.yaml"], names, lambda pid: send(pid, signum)
    )
    assert code == 2, output  # the controller too stopped as on Ctrl-C, not killed
    assert len(list((project / "out").glob("stopped-*"))) == 2, "each stopped in its time"
    _torn_down_and_recorded(cli, env_ids, signum.name)
