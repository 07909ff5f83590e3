"""Kubernetes integration tests: the real cluster `cluster/cluster.py up` runs.

Every envctl the tests start (``cli``, ``make_cli``) gets the cluster's variables
(``KubeCluster.environ``). ``leftovers`` lists what of
an environment is still in the cluster (its namespace, and anything anywhere labelled
with its id) and its work dir on the host.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orchestrator.runtime.kubernetes import labels
from orchestrator.runtime.kubernetes.client import Kube, connect
from orchestrator.settings import Settings
from tests.conftest import Cli, KubeCluster

# Everything envctl creates in a namespace, by API path (namespaced resources only).
KINDS = {
    "pods": "/api/v1/pods",
    "services": "/api/v1/services",
    "secrets": "/api/v1/secrets",
    "configmaps": "/api/v1/configmaps",
    "resourcequotas": "/api/v1/resourcequotas",
    "limitranges": "/api/v1/limitranges",
    "deployments": "/apis/apps/v1/deployments",
    "statefulsets": "/apis/apps/v1/statefulsets",
    "replicasets": "/apis/apps/v1/replicasets",
    "jobs": "/apis/batch/v1/jobs",
    "networkpolicies": "/apis/networking.k8s.io/v1/networkpolicies",
}


@dataclass
class KubeCli(Cli):
    """``Cli`` with the cluster's variables (``Cli`` passes on no ENVCTL_* of ours)."""

    extra: dict[str, str] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        return super().env(**{**self.extra, **extra})


@pytest.fixture
def make_cli(kube_cluster: KubeCluster) -> Iterator[Callable[[Path], KubeCli]]:
    made: list[KubeCli] = []

    def make(state_dir: Path) -> KubeCli:
        made.append(KubeCli(state_dir, kube_cluster.environ()))
        return made[-1]

    yield make
    for runner in made:  # whatever a failing test left running goes now
        for row in runner.live() if runner.state_dir.exists() else []:
            runner("down", row["env"])


@pytest.fixture
def cli(make_cli: Callable[[Path], KubeCli], state_dir: Path) -> KubeCli:
    return make_cli(state_dir)


@pytest.fixture(scope="session")
def kube(kube_cluster: KubeCluster, tmp_path_factory: pytest.TempPathFactory) -> Kube:
    state = tmp_path_factory.mktemp("kube-client")
    return connect(Settings(state_dir=state, environ={"KUBECONFIG": str(kube_cluster.kubeconfig)}))


@pytest.fixture
def leftovers(kube: Kube) -> Callable[[str], list[str]]:
    def find(env_id: str) -> list[str]:
        found = []
        work_dir = Path(tempfile.gettempdir()) / f"envctl-{env_id}"
        if work_dir.exists():
            found.append(f"work dir {work_dir}")
        namespace = labels.namespace_name(env_id)
        if kube.get(f"/api/v1/namespaces/{namespace}") is not None:
            found.append(f"namespace {namespace}")
        selector = f"{labels.ENV}={labels.label_value(env_id)}"
        for kind, path in KINDS.items():
            for item in kube.list(path, labelSelector=selector):
                meta = item["metadata"]
                found.append(f"{kind} {meta.get('namespace')}/{meta['name']}")
        return found

    return find


@pytest.fixture
def exec_in(kube: Kube) -> Callable[[str, str, list[str]], tuple[int, str]]:
    def run(namespace: str, pod: str, command: list[str]) -> tuple[int, str]:
        return _exec(kube, namespace, pod, command)

    return run


def _exec(kube: Kube, namespace: str, pod: str, command: list[str]) -> tuple[int, str]:
    """Run ``command`` in the pod: (exit code, stdout and stderr)."""
    ws = kube.websocket(
        "exec",
        pod,
        namespace,
        command=command,
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    ws.run_forever(timeout=60)
    code = ws.returncode  # reads the error channel: before the output, which clears all
    output = ws.read_stdout(timeout=0) + ws.read_stderr(timeout=0)
    ws.close()
    return int(code if code is not None else -1), str(output)


@pytest.fixture
def pod_of(kube: Kube) -> Iterator[Callable[[str, str], dict[str, Any]]]:
    def find(env_id: str, service: str) -> dict[str, Any]:
        namespace = labels.namespace_name(env_id)
        selector = f"{labels.ENV}={labels.label_value(env_id)},{labels.SERVICE}={service}"
        [pod] = kube.list(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector)
        return pod

    yield find
