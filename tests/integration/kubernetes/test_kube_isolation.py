"""Two environments at once in one cluster: separate namespaces, and — where the cluster
enforces NetworkPolicy — no traffic from one environment's pods to the other's."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestrator.runtime.kubernetes import labels, netpolicy
from orchestrator.runtime.kubernetes.client import Kube
from orchestrator.state import StateStore
from tests.conftest import Cli, KubeCluster

pytestmark = pytest.mark.kubernetes

BP = "tests/integration/kubernetes/blueprints"
# Run in a pod: for each "host:port:want" (want: 1 reachable, 0 not), whether the first
# attempt got what is wanted, and after how many seconds it did steadily (2 s in a row).
# NetworkPolicy agents program new pods asynchronously, so the answer may take a moment.
SETTLE = """
import json, socket, sys, time
def reached(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False
out = {}
for target in sys.argv[1:]:
    host, port, want = target.rsplit(":", 2)
    want, began, since = want == "1", time.monotonic(), None
    first = reached(host, int(port)) == want
    while time.monotonic() - began < 12:
        if reached(host, int(port)) == want:
            since = since or time.monotonic()
            if time.monotonic() - since >= 2:
                break
        else:
            since = None
        time.sleep(0.1)
    settled = since is not None and time.monotonic() - since >= 2
    out[target] = {"first": first, "after": round(since - began, 2) if settled else None}
print(json.dumps(out))
"""


@pytest.mark.timeout(600)
def test_two_environments_at_once_are_isolated(
    cli: Cli,
    kube: Kube,
    kube_cluster: KubeCluster,
    state_dir: Path,
    leftovers: Callable[[str], list[str]],
    pod_of: Callable[[str, str], dict[str, Any]],
    exec_in: Callable[[str, str, list[str]], tuple[int, str]],
) -> None:
    a = cli.json("up", f"{BP}/pair.yaml", "--runtime", "kubernetes")
    b = cli.json("up", f"{BP}/pair.yaml", "--runtime", "kubernetes")
    try:
        assert "error" not in a and "error" not in b, (a, b)
        ns_a, ns_b = labels.namespace_name(a["env"]), labels.namespace_name(b["env"])
        assert ns_a != ns_b
        box_a = pod_of(a["env"], "box")
        cache_b = pod_of(b["env"], "cache")
        box_spec = box_a["spec"]["containers"][0]
        assert box_spec["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}
        assert "env" not in box_spec and "PW" not in json.dumps(box_a["spec"])

        def settle(*targets: str) -> dict[str, dict[str, Any]]:
            code, out = exec_in(
                ns_a, box_a["metadata"]["name"], ["python3", "-c", SETTLE, *targets]
            )
            assert code == 0, out
            found: dict[str, dict[str, Any]] = json.loads(out.strip().splitlines()[-1])
            return found

        service_b = kube.get(f"/api/v1/namespaces/{ns_b}/services/cache")
        assert service_b is not None
        own = settle("cache:6379:1", f"cache.{ns_a}.svc:6379:1")
        assert all(r["after"] is not None for r in own.values()), (
            f"a pod reaches its own environment's services: {own}"
        )
        [record_a] = [
            r for r in StateStore(state_dir / "state.db").environments() if r.id == a["env"]
        ]
        enforced = record_a.services["cache"]["network_policy_enforced"]
        said = kube_cluster.environ().get("ENVCTL_KUBE_NETWORK_POLICY")
        assert enforced is (said == "enforced" if said else netpolicy.enforced(kube, "auto"))
        if not enforced:
            pytest.skip("the cluster does not enforce NetworkPolicy: isolation is not testable")
        foreign = settle(
            f"cache.{ns_b}.svc:6379:0",  # by name
            f"{service_b['spec']['clusterIP']}:6379:0",  # by its ClusterIP
            f"{cache_b['status']['podIP']}:6379:0",  # by its pod's address
        )
        assert all(r["after"] is not None for r in foreign.values()), (
            f"another environment's services stay out of reach: {foreign}"
        )
    finally:
        for env in (a, b):
            if "env" in env:
                cli("down", env["env"])
    for env in (a, b):
        assert leftovers(env["env"]) == []


def test_a_cluster_that_does_not_enforce_policies_is_warned_about_once(cli: Cli) -> None:
    done = cli(
        "run", f"{BP}/short-ttl.yaml", "--runtime", "kubernetes", "-o", "json",
        env={"ENVCTL_KUBE_NETWORK_POLICY": "unenforced"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.count("pods of other namespaces may reach this environment") == 1
