"""The Python API on the local runtime with the demo blueprint: real processes, real faults."""

from __future__ import annotations

import json
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
