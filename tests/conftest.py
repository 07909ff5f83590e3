"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from orchestrator.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ENVCTL = [sys.executable, "-m", "orchestrator"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI a skipped test is a failure: what it needed must be installed by .ci/run.

    On a laptop, deselect whole groups on purpose instead: -m 'not docker'.
    """
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI ({report.longrepr}); .ci/run must provide it"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    docker = pytest.importorskip("docker", reason="the Docker SDK is not installed")
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker Engine answers: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def built_images(docker_client: Any) -> dict[str, str]:
    """The images the blueprints name, built locally (cached: seconds when up to date)."""
    spec = importlib.util.spec_from_file_location("envctl_images", ROOT / "images" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built: dict[str, str] = module.ensure()
    return built


KUBECONFIG_OF_TEST_CLUSTER = Path("/var/lib/envctl-cluster/admin.kubeconfig")


@dataclass(frozen=True)
class KubeCluster:
    """The single-node cluster `cluster/cluster.py up` runs (or ENVCTL_TEST_KUBECONFIG's)."""

    kubeconfig: Path

    def environ(self) -> dict[str, str]:
        """What a child envctl needs to use this cluster."""
        environ = {"KUBECONFIG": str(self.kubeconfig)}
        if self.kubeconfig == KUBECONFIG_OF_TEST_CLUSTER:
            # Its policy agent (kube-router's firewall) runs on the host, not as the
            # DaemonSet envctl looks for, so the cluster's operator says so.
            environ["ENVCTL_KUBE_NETWORK_POLICY"] = "enforced"
        return environ


@pytest.fixture(scope="session")
def kube_cluster(built_images: dict[str, str]) -> KubeCluster:
    """A reachable Kubernetes API with the locally built images in its container runtime."""
    pytest.importorskip("kubernetes", reason="the kubernetes client is not installed")
    kubeconfig = Path(os.environ.get("ENVCTL_TEST_KUBECONFIG", KUBECONFIG_OF_TEST_CLUSTER))
    if not kubeconfig.exists():
        pytest.skip(f"no test cluster: {kubeconfig} is missing (run `cluster/cluster.py up`)")
    from kubernetes import client, config

    try:
        api = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
        api.list_node(_request_timeout=10)
    except Exception as exc:
        pytest.skip(f"the test cluster does not answer: {exc}")
    if kubeconfig == KUBECONFIG_OF_TEST_CLUSTER:
        # The images the blueprints name, copied from Docker into the cluster's
        # containerd (only those whose ID changed).
        subprocess.run(
            [sys.executable, str(ROOT / "cluster" / "cluster.py"), "images", *built_images],
            check=True,
        )
    return KubeCluster(kubeconfig)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def settings(state_dir: Path) -> Settings:
    return Settings(state_dir=state_dir, environ=dict(os.environ))


@dataclass
class Cli:
    """Runs the real `envctl` as a subprocess against a private state dir."""

    state_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        # Not CI's step summary either: every run would append its report to the job's.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ENVCTL_") and k != "GITHUB_STEP_SUMMARY"
        }
        env["ENVCTL_STATE_DIR"] = str(self.state_dir)
        env.update(extra)
        return env

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ENVCTL, *args],
            cwd=ROOT,
            env=self.env(**(env or {})),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def json(self, *args: str, env: dict[str, str] | None = None) -> Any:
        done = self(*args, "-o", "json", env=env)
        try:
            return json.loads(done.stdout)
        except json.JSONDecodeError:
            raise AssertionError(
                f"not JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
            ) from None

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*ENVCTL, *args],
            cwd=ROOT,
            env=self.env(**(env or {})),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def live(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.json("ls")
        return rows

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 60
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.live()
            if predicate(rows):
                return rows
            time.sleep(0.2)
        raise AssertionError(f"condition not met within {timeout}s; live: {self.live()}")


@pytest.fixture
def cli(state_dir: Path) -> Iterator[Cli]:
    runner = Cli(state_dir)
    yield runner
    # Whatever a failing test left running goes now, so it cannot disturb the next one.
    for row in runner.live() if state_dir.exists() else []:
        runner("down", row["env"])


def leftovers(env_id: str) -> list[str]:
    """Everything of ``env_id`` still on the machine: its processes (by tag, or by a
    working directory inside its work dir), and its work dir."""
    import tempfile

    work_dir = str(Path(tempfile.gettempdir()) / f"envctl-{env_id}")
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.status() == "zombie":
                continue
            tagged = proc.environ().get("ENVCTL_ENV_ID") == env_id
            cwd = proc.cwd().removesuffix(" (deleted)")
        except (psutil.Error, OSError):
            continue
        if tagged or cwd == work_dir or cwd.startswith(work_dir + "/"):
            found.append(f"process {proc.pid} {proc.name()}")

    found += [str(p) for p in Path(tempfile.gettempdir()).glob(f"envctl-{env_id}*")]
    return found
