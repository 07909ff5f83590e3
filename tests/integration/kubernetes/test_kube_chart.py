"""The Helm chart charts/envctl: rendered, installed on the test cluster, and reaping.

Helm itself comes from cluster/helm.py (built with the Go toolchain, cached). Rendering
needs no cluster; installing and reaping use the ``kube_cluster`` fixture's cluster, in
a release namespace of their own, and remove what they create on every exit path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from orchestrator.runtime.kubernetes import labels
from tests.conftest import KubeCluster

if TYPE_CHECKING:  # the client is imported where used: rendering does without it
    from kubernetes.client import ApiClient, BatchV1Api, CoreV1Api

# The client's models declare every field Optional; objects read back from the API are
# annotated Any rather than asserting each nested field is not None.

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "envctl"

# How envctl marks an environment's namespace, as charts/envctl/README.md documents it
# for people and tools: test_labels_are_the_documented_ones holds the runtime to it.
DOCUMENTED = {
    "MANAGED": "envctl.dev/managed",
    "ENV": "envctl.dev/env",
    "EXPIRES_AT": "envctl.dev/expires-at",
}
# An environment made by an envctl elsewhere (a CI runner), whose state store the
# reaper in the cluster does not have: the case the reaper exists for.
FOREIGN_STORE = labels.store_id(Path("/home/ci/.local/state/envctl"))

# What the reaper's ClusterRole may grant, and nothing beyond (see clusterrole.yaml).
ALLOWED_RULES = {("", "namespaces", verb) for verb in ("get", "list", "watch", "delete")}

# Whichever test comes first may build Helm (cluster/helm.py: minutes when cold on two
# busy cores, 0.2 s once cached), so every test's bound includes that build.
HELM_BUILD_TIMEOUT = 20 * 60
pytestmark = pytest.mark.timeout(HELM_BUILD_TIMEOUT + 300)

SCHEDULE = "17 3 * * *"  # distinctive, and unlikely to fire on its own during a test run
HELM_TIMEOUT = 180  # seconds, for one helm command (install --wait included)
JOB_TIMEOUT = 240  # seconds for the reaper's Job to finish: a pod start plus one gc run
GONE_TIMEOUT = 120  # seconds for a deleted namespace to finish terminating
POLL = 1.0  # seconds between looks at the cluster


@dataclass(frozen=True)
class Helm:
    binary: Path
    environ: dict[str, str]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            env=self.environ,
            timeout=HELM_TIMEOUT,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"helm {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    cronjob: str


@pytest.fixture(scope="session")
def helm_binary() -> Path:
    """Helm, built from the Go module proxy on first use (minutes), then cached."""
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "cluster" / "helm.py")],
            capture_output=True,
            text=True,
            timeout=HELM_BUILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"cluster/helm.py did not provide helm within {HELM_BUILD_TIMEOUT} s; "
            "build it beforehand: python3 cluster/helm.py"
        )
    if result.returncode != 0:
        pytest.fail(f"cluster/helm.py could not provide helm:\n{result.stderr}")
    return Path(result.stdout.strip())


@pytest.fixture(scope="session")
def helm_homes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Helm's cache, config and data dirs: the test's own, not the user's ~/.config/helm."""
    home = tmp_path_factory.mktemp("helm")
    return {f"HELM_{kind}_HOME": str(home / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")}


@pytest.fixture(scope="session")
def offline_helm(helm_binary: Path, helm_homes: dict[str, str]) -> Helm:
    """Helm for lint and template, which need no cluster (KUBECONFIG pointed nowhere)."""
    environ = {**os.environ, **helm_homes, "KUBECONFIG": os.devnull}
    return Helm(helm_binary, environ)


@pytest.fixture(scope="session")
def kube_helm(helm_binary: Path, helm_homes: dict[str, str], kube_cluster: KubeCluster) -> Helm:
    return Helm(helm_binary, {**os.environ, **helm_homes, **kube_cluster.environ()})


@pytest.fixture(scope="session")
def api_client(kube_cluster: KubeCluster) -> Iterator[ApiClient]:
    from kubernetes import config

    api: ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        str(kube_cluster.kubeconfig)
    )
    yield api
    api.close()  # type: ignore[no-untyped-call]


def render(helm: Helm, *args: str) -> list[dict[str, Any]]:
    out = helm.run("template", "envctl-test", str(CHART), "--namespace", "envctl-ns", *args)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def granted(docs: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) for every rule of every (Cluster)Role in ``docs``."""
    rules = set()
    for doc in docs:
        if doc["kind"] not in ("ClusterRole", "Role"):
            continue
        for rule in doc.get("rules", []):
            assert "nonResourceURLs" not in rule, rule
            assert "resourceNames" not in rule, rule  # would be narrower, but unexpected
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    for verb in rule.get("verbs", []):
                        rules.add((group, resource, verb))
    return rules


@pytest.mark.kubernetes
def test_lint_is_clean(offline_helm: Helm) -> None:
    result = offline_helm.run("lint", "--strict", str(CHART))
    assert "[WARNING]" not in result.stdout, result.stdout
    assert "[ERROR]" not in result.stdout, result.stdout


@pytest.mark.kubernetes
def test_template_renders_the_reaper_with_least_privilege(offline_helm: Helm) -> None:
    docs = render(offline_helm)
    kinds = sorted(doc["kind"] for doc in docs)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "CronJob", "ServiceAccount"]
    by_kind = {doc["kind"]: doc for doc in docs}

    # RBAC: exactly the documented verbs on namespaces, no wildcard anywhere.
    assert granted(docs) == ALLOWED_RULES
    account = by_kind["ServiceAccount"]["metadata"]
    binding = by_kind["ClusterRoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": by_kind["ClusterRole"]["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": "envctl-ns"}
    ]
    # The chart's own objects must never look like an environment the reaper deletes.
    for doc in docs:
        assert labels.MANAGED not in doc["metadata"].get("labels", {}), doc["metadata"]

    cronjob = by_kind["CronJob"]["spec"]
    assert cronjob["concurrencyPolicy"] == "Forbid"
    assert cronjob["schedule"] == "*/5 * * * *"
    job = cronjob["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] > 0
    pod = job["template"]["spec"]
    assert pod["serviceAccountName"] == account["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["image"] == "envctl/envctl:0.1.0"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["args"][-3:] == ["gc", "--runtime", "kubernetes"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["limits"]["memory"]
    # Everything envctl writes lands in the emptyDir, the one writable place.
    env = {e["name"]: e["value"] for e in container["env"]}
    (mount,) = container["volumeMounts"]
    assert env["ENVCTL_STATE_DIR"].startswith(mount["mountPath"])
    assert env["HOME"].startswith(mount["mountPath"])
    assert pod["volumes"] == [
        {"name": mount["name"], "emptyDir": {"sizeLimit": "64Mi"}},
    ]


@pytest.mark.kubernetes
def test_template_honours_values(offline_helm: Helm) -> None:
    docs = render(
        offline_helm,
        "--set",
        "image.repository=registry.example/envctl,image.tag=9.9.9,image.pullPolicy=Always",
        "--set",
        f"reaper.schedule={SCHEDULE},reaper.dryRun=true,reaper.verbosity=0",
    )
    (cronjob,) = (doc for doc in docs if doc["kind"] == "CronJob")
    assert cronjob["spec"]["schedule"] == SCHEDULE
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example/envctl:9.9.9"
    assert container["imagePullPolicy"] == "Always"
    assert container["args"] == ["gc", "--runtime", "kubernetes", "--dry-run"]

    assert render(offline_helm, "--set", "reaper.enabled=false") == []
    # values.schema.json: a misspelt key fails instead of being ignored.
    typo = offline_helm.run("template", str(CHART), "--set", "reaper.shedule=x", check=False)
    assert typo.returncode != 0
    assert "shedule" in typo.stderr


@pytest.mark.kubernetes
def test_labels_are_the_documented_ones() -> None:
    """The keys the chart's README, NOTES.txt and ClusterRole comments name."""
    for name, key in DOCUMENTED.items():
        assert getattr(labels, name) == key
    # The reaper reads the expiry back with the runtime's own parser.
    assert labels.parse_iso(labels.iso_utc(1_800_000_000)) == 1_800_000_000


@pytest.fixture
def release(kube_helm: Helm, api_client: ApiClient) -> Iterator[Release]:
    """The chart installed (--wait) in a namespace of its own; uninstalled afterwards."""
    from kubernetes import client

    suffix = uuid.uuid4().hex[:8]
    name, namespace = "envctl", f"envctl-chart-{suffix}"
    try:
        kube_helm.run(
            "install",
            name,
            str(CHART),
            "--namespace",
            namespace,
            "--create-namespace",
            "--wait",
            "--timeout",
            f"{HELM_TIMEOUT - 30}s",
            "--set",
            f"reaper.schedule={SCHEDULE}",
        )
        yield Release(name, namespace, cronjob=f"{name}-reaper")
    finally:
        kube_helm.run("uninstall", name, "--namespace", namespace, "--wait", check=False)
        delete_namespace(client.CoreV1Api(api_client), namespace)


def delete_namespace(core: CoreV1Api, name: str) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


@pytest.mark.kubernetes
def test_install_creates_the_cronjob(release: Release, api_client: ApiClient) -> None:
    from kubernetes import client

    cronjob: Any = client.BatchV1Api(api_client).read_namespaced_cron_job(
        release.cronjob, release.namespace
    )
    assert cronjob.spec.schedule == SCHEDULE
    assert cronjob.spec.concurrency_policy == "Forbid"

    # The binding works on the real API server, and grants no more than documented.
    account = cronjob.spec.job_template.spec.template.spec.service_account_name
    user = f"system:serviceaccount:{release.namespace}:{account}"
    authz = client.AuthorizationV1Api(api_client)

    def allowed(verb: str, resource: str, group: str = "") -> bool:
        review = client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user=user,
                groups=["system:serviceaccounts", f"system:serviceaccounts:{release.namespace}"],
                resource_attributes=client.V1ResourceAttributes(
                    verb=verb, resource=resource, group=group
                ),
            )
        )
        answer: Any = authz.create_subject_access_review(review)
        return bool(answer.status.allowed)

    for _group, resource, verb in sorted(ALLOWED_RULES):
        assert allowed(verb, resource), f"{user} may not {verb} {resource}"
    for verb, resource, group in [
        ("create", "namespaces", ""),
        ("patch", "namespaces", ""),
        ("delete", "pods", ""),
        ("get", "secrets", ""),
        ("delete", "deployments", "apps"),
    ]:
        assert not allowed(verb, resource, group), f"{user} may {verb} {resource}"


def environment_namespace(core: CoreV1Api, expires_at: datetime) -> str:
    """A namespace labelled and annotated as the Kubernetes runtime makes one."""
    from kubernetes import client

    env_id = f"chart-{uuid.uuid4().hex[:8]}"
    name = labels.namespace_name(env_id)
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(
                name=name,
                labels={
                    labels.MANAGED: "true",
                    labels.ENV: labels.label_value(env_id),
                    labels.STORE: FOREIGN_STORE,
                    labels.BLUEPRINT: "checkout",
                    labels.OWNER: "ci",
                },
                annotations={
                    labels.ENV_ID: env_id,
                    labels.CREATED_BY: "4242:1800000000.000@ci-runner-7",
                    labels.EXPIRES_AT: labels.iso_utc(expires_at.timestamp()),
                },
            )
        )
    )
    return name


def run_cronjob_now(batch: BatchV1Api, release: Release) -> str:
    """`kubectl create job --from=cronjob/...`: a Job from the CronJob's jobTemplate."""
    from kubernetes import client

    cronjob: Any = batch.read_namespaced_cron_job(release.cronjob, release.namespace)
    template = cronjob.spec.job_template
    name = f"{release.cronjob}-manual-{uuid.uuid4().hex[:6]}"
    job = client.V1Job(
        metadata=client.V1ObjectMeta(
            name=name,
            namespace=release.namespace,
            labels=template.metadata.labels,
            # What kubectl sets: the annotation marks a run started by hand, and the owner
            # reference lets `helm uninstall` (deleting the CronJob) collect the Job.
            annotations={"cronjob.kubernetes.io/instantiate": "manual"},
            owner_references=[
                client.V1OwnerReference(
                    api_version="batch/v1",
                    kind="CronJob",
                    name=cronjob.metadata.name,
                    uid=cronjob.metadata.uid,
                    controller=True,
                )
            ],
        ),
        spec=template.spec,
    )
    batch.create_namespaced_job(release.namespace, job)
    return name


def wait_for_job(batch: BatchV1Api, core: CoreV1Api, release: Release, name: str) -> None:
    """Until the Job completes; on failure or timeout, fail with its pods' logs."""
    deadline = time.monotonic() + JOB_TIMEOUT
    outcome = "did not finish"
    for _ in range(int(JOB_TIMEOUT / POLL) + 1):
        job: Any = batch.read_namespaced_job_status(name, release.namespace)
        status = job.status
        conditions = {c.type: c for c in status.conditions or [] if c.status == "True"}
        if "Complete" in conditions:
            return
        if "Failed" in conditions:
            outcome = f"failed ({conditions['Failed'].reason}: {conditions['Failed'].message})"
            break
        if time.monotonic() > deadline:
            break
        time.sleep(POLL)
    pytest.fail(f"the reaper's Job {name} {outcome}:\n{job_logs(core, release, name)}")


def job_logs(core: CoreV1Api, release: Release, job: str) -> str:
    """The Job's pods: state, events (why one is stuck) and the tail of each log."""
    from kubernetes.client.exceptions import ApiException

    pods: list[Any] = core.list_namespaced_pod(
        release.namespace, label_selector=f"job-name={job}"
    ).items
    parts = []
    for pod in pods:
        name = pod.metadata.name
        waiting = [
            f"{s.name}: {s.state.waiting.reason} {s.state.waiting.message or ''}"
            for s in pod.status.container_statuses or []
            if s.state.waiting
        ]
        events: list[Any] = core.list_namespaced_event(
            release.namespace, field_selector=f"involvedObject.name={name}"
        ).items
        happened = "".join(f"  {e.type} {e.reason}: {e.message}\n" for e in events)
        try:
            log = core.read_namespaced_pod_log(name, release.namespace, tail_lines=40)
        except ApiException as exc:
            log = f"(no log: {exc.reason})"
        parts.append(f"--- pod {name} ({pod.status.phase}) {waiting}\n{happened}{log}")
    return "\n".join(parts) or "(no pods)"


def wait_until_gone(core: CoreV1Api, name: str) -> bool:
    from kubernetes.client.exceptions import ApiException

    deadline = time.monotonic() + GONE_TIMEOUT
    for _ in range(int(GONE_TIMEOUT / POLL) + 1):
        try:
            core.read_namespace(name)
        except ApiException as exc:
            if exc.status == 404:
                return True
            raise
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)
    return False


@pytest.mark.kubernetes
@pytest.mark.timeout(HELM_BUILD_TIMEOUT + HELM_TIMEOUT * 2 + JOB_TIMEOUT + GONE_TIMEOUT + 60)
def test_reaper_removes_an_environment_whose_ttl_passed(
    release: Release, api_client: ApiClient
) -> None:
    from kubernetes import client

    core, batch = client.CoreV1Api(api_client), client.BatchV1Api(api_client)
    now = datetime.now(UTC)
    created: list[str] = []
    try:
        expired = environment_namespace(core, now - timedelta(hours=1))
        created.append(expired)
        fresh = environment_namespace(core, now + timedelta(hours=1))
        created.append(fresh)

        job = run_cronjob_now(batch, release)
        wait_for_job(batch, core, release, job)

        assert wait_until_gone(core, expired), (
            f"{expired} (expired) is still there {GONE_TIMEOUT} s after the reaper ran:\n"
            f"{job_logs(core, release, job)}"
        )
        remaining: Any = core.read_namespace(fresh)
        assert remaining.metadata.deletion_timestamp is None, (
            f"the reaper deleted {fresh}, whose ttl has not passed:\n{job_logs(core, release, job)}"
        )
        assert remaining.status.phase == "Active"
    finally:
        for name in created:
            delete_namespace(core, name)
