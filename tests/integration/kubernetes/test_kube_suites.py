"""Suites with `image`: Jobs in the environment's namespace, their files shipped in and
their results (JUnit among them) brought back, their timeout honoured."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.runtime.kubernetes import labels
from tests.conftest import Cli

pytestmark = pytest.mark.kubernetes

BP = "tests/integration/kubernetes/blueprints"


@pytest.mark.timeout(600)
def test_a_suite_with_an_image_runs_as_a_job_and_its_files_come_back(
    cli: Cli, leftovers: Callable[[str], list[str]]
) -> None:
    done = cli("run", f"{BP}/pair.yaml", "--runtime", "kubernetes", "-o", "json", timeout=500)
    data = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr[-3000:]
    suites = {s["name"]: s for s in data["suites"]}
    assert suites["check"]["status"] == "passed", "on the host, through the port-forward"
    inside = suites["inside"]
    assert inside["status"] == "passed"
    assert inside["tests"] == {"total": 1, "failures": 0, "errors": 0, "skipped": 0}, "JUnit"
    run_dir = Path(data["run_dir"])
    namespace = labels.namespace_name(data["env"])
    assert (run_dir / "inside.txt").read_text() == f"cache.{namespace}.svc:6379"
    log = (run_dir / "logs" / "suite-inside.log").read_text()
    assert f"reached cache.{namespace}.svc 6379 redis://:***@" in log, "redacted"
    assert "envctl-artifacts" not in log
    assert leftovers(data["env"]) == []


@pytest.mark.timeout(300)
def test_a_suite_past_its_timeout_is_stopped_and_its_job_deleted(
    cli: Cli, leftovers: Callable[[str], list[str]]
) -> None:
    began = time.monotonic()
    done = cli("run", f"{BP}/slow-suite.yaml", "--runtime", "kubernetes", "-o", "json")
    data = json.loads(done.stdout)
    assert done.returncode == 1, done.stderr[-2000:]
    [suite] = data["suites"]
    assert suite["status"] == "timeout"
    log = (Path(data["run_dir"]) / "logs" / "suite-sleepy.log").read_text()
    assert "started" in log and "timed out after 5s and was stopped" in log
    assert time.monotonic() - began < 90, "not the suite's 120 s"
    assert leftovers(data["env"]) == []
