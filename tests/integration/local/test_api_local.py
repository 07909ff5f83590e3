"""The Python API on the local runtime: real processes, real faults, and a script that
leaves its environment to Python's exit or to SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from orchestrator import Environment
from orchestrator.state import StateStore
from tests.conftest import ROOT, leftovers

pytestmark = pytest.mark.local


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return int(response.status), response.read()


def test_the_demo_blueprint_answers_and_takes_live_faults(state_dir: Path) -> None:
    env = Environment.from_blueprint(ROOT / "blueprints" / "checkout.yaml", state_dir=state_dir)
    link = "orders-payments-provider"
    with env:
        env_id = env.env_id
        status, body = _get(env.url("orders") + "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert env.endpoint("db").url.startswith("postgresql://app:")
        assert StateStore(state_dir / "state.db").get(env_id).status == "ready"

        assert [f.name for f in env.faults(link)] == ["latency"], "the blueprint's own"
        with env.fault(link, "down", name="outage") as added:
            assert added.kind == "down" and added.link == link
            assert {f.name for f in env.faults(link)} == {"latency", "outage"}
        assert [f.name for f in env.faults(link)] == ["latency"], "removed on exit"

    result = env.result
    assert result.status.value == "passed" and result.leftovers == []
    assert StateStore(state_dir / "state.db").environments() == []
    assert StateStore(state_dir / "state.db").runs()[0]["env"] == env_id
    assert json.loads((state_dir / "runs" / env_id / "result.json").read_text())["env"] == env_id
    assert leftovers(env_id) == []


WEB = """
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: web}
services:
  web:
    ports: [8000]
    ready: {http: /}
    local: {command: "python -m http.server --bind 127.0.0.1 ${self.port}"}
"""

SCRIPT = """
import sys, time
from pathlib import Path

from orchestrator import Environment

out = Path(sys.argv[2])
env = Environment.from_blueprint(sys.argv[1], state_dir=out / "state")
if sys.argv[3] == "never-closed":
    env.start()
    (out / "env").write_text(env.env_id)
else:
    with env:
        (out / "env").write_text(env.env_id)
        time.sleep(60)
"""


@pytest.mark.parametrize("how", ["never-closed", "sigterm-in-with"])
def test_a_script_that_never_closes_or_gets_sigterm_leaves_nothing(
    tmp_path: Path, how: str
) -> None:
    (tmp_path / "web.yaml").write_text(textwrap.dedent(WEB), encoding="utf-8")
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT), encoding="utf-8")
    child = subprocess.Popen(
        [sys.executable, "script.py", "web.yaml", str(tmp_path), how],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("ENVCTL_")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        if how == "sigterm-in-with":
            deadline = time.monotonic() + 60
            while not (tmp_path / "env").exists():
                assert child.poll() is None, child.communicate()[0]
                assert time.monotonic() < deadline, "it never came up"
                time.sleep(0.1)
            child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    env_id = (tmp_path / "env").read_text()
    assert leftovers(env_id) == [], output  # its services run in sessions of their own
    store = StateStore(tmp_path / "state" / "state.db")
    assert store.environments() == [], output
    (run,) = store.runs()
    assert run["env"] == env_id and run["teardown"]["complete"], run
    if how == "sigterm-in-with":
        assert run["error"]["type"] == "Interrupted" and "SIGTERM" in run["error"]["message"]
    else:
        assert run["status"] == "passed" and child.returncode == 0, output
