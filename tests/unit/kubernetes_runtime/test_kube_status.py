"""Pod status, as the API reports it, → why the service is not running.

The documents below have the shape (and the messages) the API returns for each case,
trimmed to the fields that matter.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.runtime.kubernetes import status


def pod(
    container: dict[str, Any] | None = None,
    *,
    phase: str = "Pending",
    conditions: list[dict[str, Any]] | None = None,
    reason: str | None = None,
    message: str | None = None,
    deleting: bool = False,
    name: str = "db-0",
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "creationTimestamp": "2025-01-01T00:00:00Z"}
    if deleting:
        metadata["deletionTimestamp"] = "2025-01-01T00:01:00Z"
    state: dict[str, Any] = {"phase": phase, "conditions": conditions or []}
    if container is not None:
        state["containerStatuses"] = [
            {"name": "db", "image": "postgres:15", "ready": False, "restartCount": 0, **container}
        ]
    if reason:
        state["reason"] = reason
    if message:
        state["message"] = message
    return {
        "metadata": metadata,
        "spec": {"containers": [{"name": "db", "image": "postgres:15"}]},
        "status": state,
    }


def waiting(reason: str, message: str = "") -> dict[str, Any]:
    return {"state": {"waiting": {"reason": reason, "message": message}}}


PULL_MESSAGE = (
    'failed to pull and unpack image "docker.io/envctl-test/does-not-exist:1.0": failed to '
    'resolve reference "docker.io/envctl-test/does-not-exist:1.0": failed to do request: '
    'Head "https://registry-1.docker.io/v2/envctl-test/does-not-exist/manifests/1.0": '
    "dial tcp: lookup registry-1.docker.io: no such host"
)


def test_a_running_ready_pod_has_no_problem() -> None:
    running = pod(
        {"ready": True, "state": {"running": {"startedAt": "2025-01-01T00:00:01Z"}}},
        phase="Running",
        conditions=[{"type": "Ready", "status": "True"}],
    )
    assert status.problem([running], age=100) is None
    assert status.ready([running]) is None


def test_image_pull_errors_fail_at_once_naming_the_image() -> None:
    for reason in ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"):
        found = status.problem([pod(waiting(reason, PULL_MESSAGE))], age=0.5)
        assert found is not None and found.kind == "image"
        assert found.reason.startswith("its image 'postgres:15' cannot be pulled (" + reason)
        assert "no such host" in found.reason
        assert found.pod == "db-0"


def test_container_config_errors_fail_at_once() -> None:
    message = 'secret "db-env" not found'
    found = status.problem([pod(waiting("CreateContainerConfigError", message))], age=1)
    assert found is not None and found.kind == "start"
    assert found.reason == (
        "Kubernetes cannot start its container (CreateContainerConfigError: "
        'secret "db-env" not found)'
    )


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        # The kubelet's secret watch raced the node authorizer (seen in CI on a new pod).
        ("CreateContainerConfigError", "failed to sync secret cache: timed out waiting"),
        ("CreateContainerError", "context deadline exceeded"),
    ],
)
def test_transient_create_errors_are_retried_for_a_while(reason: str, message: str) -> None:
    """The kubelet's retry of these succeeds: they count as failed only past STUCK_GRACE."""
    pods = [pod(waiting(reason, message))]
    assert status.problem(pods, age=status.STUCK_GRACE - 1) is None
    found = status.problem(pods, age=status.STUCK_GRACE + 1)
    assert found is not None and found.kind == "start"
    assert f"{reason}: {message}" in found.reason


def test_a_crash_loop_reports_the_exit_code_and_restarts() -> None:
    crashing = pod(
        {
            **waiting("CrashLoopBackOff", "back-off 10s restarting failed container=db pod=db-0"),
            "restartCount": 2,
            "lastState": {"terminated": {"exitCode": 7, "reason": "Error"}},
        },
        phase="Running",
    )
    found = status.problem([crashing], age=15)
    assert found is not None and found.kind == "exit"
    assert found.reason == "exited with code 7; Kubernetes restarted it 2 times"


def test_the_first_exit_counts_even_while_restarted_and_running() -> None:
    restarted = pod(
        {
            "state": {"running": {}},
            "restartCount": 1,
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
        },
        phase="Running",
    )
    found = status.problem([restarted], age=3)
    assert found is not None
    assert found.reason == "exited with code 1; Kubernetes restarted it 1 time"


def test_a_terminated_container_and_out_of_memory() -> None:
    found = status.problem(
        [pod({"state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}})], age=2
    )
    assert found is not None
    assert found.reason == "exited with code 137 (out of memory: raise resources.memory)"
    signalled = status.exited({"exitCode": 143, "signal": 15})
    assert signalled == "exited with code 143 (signal 15)"


def test_an_evicted_pod() -> None:
    evicted = pod(
        phase="Failed",
        reason="Evicted",
        message="Pod ephemeral local storage usage exceeds the total limit of containers 2Gi.",
    )
    found = status.problem([evicted], age=30)
    assert found is not None and found.kind == "evicted"
    assert "exceeds the total limit" in found.reason


def test_unschedulable_counts_only_after_a_grace() -> None:
    unschedulable = pod(
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes "
                "are available: 1 No preemption victims found for incoming pod.",
            }
        ]
    )
    assert status.problem([unschedulable], age=2) is None, "the scheduler retries"
    found = status.problem([unschedulable], age=status.SCHEDULE_GRACE + 1)
    assert found is not None and found.kind == "schedule"
    assert found.reason.startswith(
        "cannot be scheduled: 0/1 nodes are available: 1 Insufficient cpu"
    )


def test_no_pod_at_all_after_a_grace() -> None:
    assert status.problem([], age=1) is None
    found = status.problem([], age=status.NO_POD_GRACE + 1)
    assert found is not None and found.kind == "no-pod" and found.pod is None


def test_a_pod_being_replaced_is_not_a_problem() -> None:
    leaving = pod({"state": {"terminated": {"exitCode": 0}}}, deleting=True)
    assert status.problem([leaving], age=100) is None


def test_creating_pods_are_neither_failed_nor_ready() -> None:
    creating = pod(waiting("ContainerCreating"), conditions=[{"type": "Ready", "status": "False"}])
    assert status.problem([creating], age=5) is None
    assert status.ready([creating]) == "pod pending, ContainerCreating, not Ready"
    assert status.ready([]) == "no pod yet"


def event(reason: str, message: str, kind: str = "Pod", name: str = "db-0",
          at: str = "2025-01-01T00:00:05Z", type_: str = "Warning") -> dict[str, Any]:  # fmt: skip
    return {
        "type": type_,
        "reason": reason,
        "message": message,
        "involvedObject": {"kind": kind, "name": name},
        "lastTimestamp": at,
    }


def test_a_pod_stuck_without_a_sandbox_fails_after_a_grace() -> None:
    creating = pod(waiting("ContainerCreating"))
    events = [
        event(
            "FailedCreatePodSandBox",
            "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup "
            'network for sandbox: plugin type="bridge" failed (add): failed to allocate',
        )
    ]
    assert status.stuck([creating], events, age=5) is None
    found = status.stuck([creating], events, age=status.STUCK_GRACE + 1)
    assert found is not None and found.kind == "start"
    assert found.reason.startswith("its pod cannot start (FailedCreatePodSandBox: Failed to")
    assert status.stuck([creating], [], age=60) is None, "no such event: not stuck"


def test_related_events_are_those_of_the_pods_and_the_workload() -> None:
    events = [
        event("BackOff", "Back-off restarting failed container", name="db-0"),
        event("FailedCreate", "exceeded quota", kind="ReplicaSet", name="db-5d8f9c"),
        event("FailedCreate", "other service", kind="ReplicaSet", name="db-replica-5d8f9c"),
        event("FailedCreate", "sts", kind="StatefulSet", name="db"),
        event("BackOff", "other pod", name="cache-0"),
    ]
    found = status.related_events(events, "db", ["db-0"])
    assert [e["message"] for e in found] == [
        "Back-off restarting failed container",
        "exceeded quota",
        "sts",
    ]


def test_the_latest_distinct_warnings_add_what_the_reason_does_not_say() -> None:
    events = [
        event("Failed", PULL_MESSAGE, at="2025-01-01T00:00:01Z"),
        event("BackOff", 'Back-off pulling image "x"', at="2025-01-01T00:00:03Z"),
        event("Failed", PULL_MESSAGE, at="2025-01-01T00:00:04Z"),
        event("Pulling", "Pulling image", type_="Normal"),
    ]
    warnings = status.latest_warnings(events)
    assert warnings[0] == 'BackOff: Back-off pulling image "x"'
    assert warnings[1].startswith("Failed: failed to pull") and warnings[1].endswith("no such host")
    assert len(warnings) == 2, "a repeated warning counts once, at its latest"
    found = status.problem([pod(waiting("ErrImagePull", "short"))], age=1)
    assert found is not None
    text = status.describe(found, ["FailedMount: volume x not found", "Failed: short"])
    assert text.endswith("(latest events: FailedMount: volume x not found)")


def test_events_that_repeat_the_problem_are_left_out() -> None:
    found = status.problem([pod(waiting("ErrImagePull", PULL_MESSAGE))], age=1)
    assert found is not None
    warnings = [
        f'Failed: Failed to pull image "envctl-test/does-not-exist:1.0": {PULL_MESSAGE}',
        "Failed: Error: ErrImagePull",
        'BackOff: Back-off pulling image "envctl-test/does-not-exist:1.0"',
    ]
    assert status.describe(found, warnings) == found.reason
    crash = status.Problem("exited with code 7", "x-1", "exit")
    assert status.describe(crash, ["BackOff: Back-off restarting failed container x"]) == (
        "exited with code 7"
    )
    no_pod = status.Problem("Kubernetes created no pod for it", None, "no-pod")
    assert status.describe(no_pod, ['FailedCreate: pods "x" is forbidden: exceeded quota']) == (
        'Kubernetes created no pod for it (latest events: FailedCreate: pods "x" is forbidden: '
        "exceeded quota)"
    )


def test_a_service_serves_once_an_endpoint_of_its_pod_is_ready() -> None:
    def endpoint_slice(pod_name: str, ready: bool) -> dict[str, Any]:
        return {
            "metadata": {"name": "cache-x7k2p", "labels": {"kubernetes.io/service-name": "cache"}},
            "endpoints": [
                {
                    "addresses": ["10.244.0.118"],
                    "conditions": {"ready": ready, "serving": ready, "terminating": False},
                    "targetRef": {"kind": "Pod", "name": pod_name, "namespace": "envctl-x"},
                }
            ],
            "ports": [{"name": "tcp-6379", "port": 6379, "protocol": "TCP"}],
        }

    assert status.serving([endpoint_slice("cache-0", True)], ["cache-0"]) is None
    assert status.serving([endpoint_slice("cache-0", False)], ["cache-0"]) is not None
    assert status.serving([endpoint_slice("old-pod", True)], ["cache-0"]) is not None
    assert status.serving([], ["cache-0"]) == "its Service has no ready endpoint yet"


def test_the_image_id_the_node_resolved() -> None:
    imported = pod({"state": {"running": {}}, "imageID": "sha256:270febe993b1b8b1"})
    assert status.image_id([imported]) == ("sha256:270febe993b1b8b1", None)
    pulled = pod({"state": {"running": {}}, "imageID": "docker.io/library/redis@sha256:abc123"})
    assert status.image_id([pulled]) == ("sha256:abc123", "docker.io/library/redis@sha256:abc123")
    assert status.image_id([pod(waiting("ContainerCreating"))]) == (None, None)
