"""Stopping a service: keep what its pods said, then scale it to zero and wait.

A deleted pod's log is gone with it, and teardown copies the logs after the services
stopped (``teardown.dismantle``). So before the replicas go to zero, the log of the run
before any restart is read, and the current one is followed to its end on a thread —
which keeps what the service says while it shuts down too. The fault proxy's events
file lives in its pod, so it is read first as well.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from orchestrator.runtime.kubernetes import manifests, pods
from orchestrator.runtime.kubernetes.client import ApiError, Kube

STOP_WAIT = manifests.STOP_GRACE + 10.0  # seconds for a stopped service's pods to go
FOLLOW_OPEN_WAIT = 2.0


@dataclass(frozen=True)
class Kept:
    logs: str  # empty when the service said nothing
    events: str | None = None  # the proxy's events file, when asked for


def scale_down(
    kube: Kube,
    namespace: str,
    env_label: str,
    service: str,
    workload_path: str,
    events_file: str | None = None,
) -> Kept:
    found = pods.service_pods(kube, namespace, env_label, service)
    events = None
    if events_file is not None and found:
        events = pods.read_file(kube, namespace, _name(found[0]), events_file)
    earlier = ""
    followers = []
    for pod in found:
        statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
        if int(statuses[0].get("restartCount") or 0) > 0:
            earlier += _line_ended(pods.log_text(kube, namespace, _name(pod), previous=True))
        followers.append((pod, pods.LogFollower(kube, namespace, _name(pod), STOP_WAIT)))
    read_now = {}
    for pod, follower in followers:
        follower.opened.wait(FOLLOW_OPEN_WAIT)
        if not follower.streaming:  # e.g. the container never started: read what there is
            read_now[_name(pod)] = pods.log_text(kube, namespace, _name(pod)) or ""
    try:
        kube.patch(workload_path, {"spec": {"replicas": 0}})
    except ApiError as exc:
        if not exc.not_found:
            raise
    deadline = time.monotonic() + STOP_WAIT
    while pods.service_pods(kube, namespace, env_label, service):
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    text = earlier + "".join(
        _line_ended(follower.text(wait=3.0) or read_now.get(_name(pod)))
        for pod, follower in followers
    )
    return Kept(text, events)


def _name(pod: pods.Json) -> str:
    return str(pod["metadata"]["name"])


def _line_ended(text: str | None) -> str:
    if not text:
        return ""
    return text if text.endswith("\n") else text + "\n"
