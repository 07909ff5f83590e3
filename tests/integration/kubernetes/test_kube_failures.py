"""What goes wrong fails fast, says so once, and leaves nothing in the cluster."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Cli

pytestmark = pytest.mark.kubernetes

BP = "tests/integration/kubernetes/blueprints"


def test_a_missing_image_fails_fast_with_one_clear_message(
    cli: Cli, leftovers: Callable[[str], list[str]]
) -> None:
    began = time.monotonic()
    done = cli("run", f"{BP}/missing-image.yaml", "--runtime", "kubernetes", "-o", "json")
    data = json.loads(done.stdout)
    assert done.returncode == 3 and data["status"] == "error"
    assert data["phases"]["provision"] < 60, "not the readiness timeout (10 minutes)"
    message = data["error"]["message"]
    assert message.startswith("service 'ghost': its image 'envctl-test/does-not-exist:1.0'")
    assert "cannot be pulled" in message and "before it was ready" in message
    assert "\n" not in message
    assert "Traceback" not in done.stderr
    assert cli.live() == []
    assert leftovers(data["env"]) == []
    assert time.monotonic() - began < 120


def test_a_crash_looping_service_fails_fast_with_its_log(
    cli: Cli, leftovers: Callable[[str], list[str]]
) -> None:
    done = cli("run", f"{BP}/crashing.yaml", "--runtime", "kubernetes", "-o", "json")
    data = json.loads(done.stdout)
    assert done.returncode == 3 and data["status"] == "error"
    assert data["phases"]["provision"] < 60
    assert "service 'broken': exited with code 7" in data["error"]["message"]
    assert "before it was ready" in data["error"]["message"]
    assert "config file missing" in data["error"]["log_tail"]
    assert "Traceback" not in done.stderr
    assert "config file missing" in (Path(data["run_dir"]) / "logs" / "broken.log").read_text()
    assert cli.live() == []
    assert leftovers(data["env"]) == []


def test_an_unreachable_api_is_one_clear_error(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        json.dumps({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "gone", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
            "current-context": "gone",
        })
    )  # fmt: skip
    done = cli(
        "run", f"{BP}/pair.yaml", "--runtime", "kubernetes", "-o", "json",
        env={"KUBECONFIG": str(config)},
    )  # fmt: skip
    data = json.loads(done.stdout)
    assert done.returncode == 3 and data["status"] == "error"
    assert data["error"]["message"] == (
        "cannot reach the Kubernetes API at https://127.0.0.1:1: connection refused "
        "(is the cluster up?)"
    )
    assert "KUBECONFIG" in data["error"]["hint"]
    assert "Traceback" not in done.stderr
    assert cli.live() == []
