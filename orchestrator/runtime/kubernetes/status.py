"""Why a service is not running, read from its pods' status as the API reports it.

Pure functions over the API's JSON (pods, events), so that every mapping is unit-tested
on real-shaped documents. What counts as failed, so that a start fails fast instead of
waiting out its readiness timeout:

* the image cannot be pulled or is not there (``ErrImagePull``, ``ImagePullBackOff``,
  ``ErrImageNeverPull``, ``InvalidImageName``);
* the container cannot be created: at once when what it refers to is missing
  (``CreateContainerConfigError: secret "x" not found``), otherwise only after
  ``STUCK_GRACE``, since the kubelet's retry of a transient one succeeds: "failed to sync
  secret cache" (its watch raced the node authorizer, which learns of a new pod's
  Secret a moment late), or containerd's "context deadline exceeded" on a loaded node;
* the container exited, now or before a restart (``CrashLoopBackOff`` included): a
  service that exits once while starting is broken, whatever Kubernetes retries;
* the pod was evicted;
* the pod cannot be scheduled, after ``SCHEDULE_GRACE`` (a busy scheduler retries);
* no pod exists ``NO_POD_GRACE`` after the start (a quota or admission refused it);
* the kubelet cannot create the pod's sandbox or mount its volumes, ``STUCK_GRACE``
  after the start (``stuck``: this one needs the pod's events).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

IMAGE_ERRORS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"}
)
START_ERRORS = frozenset({
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "PreCreateHookError",
    "PostStartHookError",
})  # fmt: skip
SANDBOX_ERRORS = frozenset({"FailedCreatePodSandBox", "FailedMount", "FailedAttachVolume"})
SCHEDULE_GRACE = 10.0  # seconds a pod may stay unschedulable before it counts as failed
STUCK_GRACE = 20.0  # seconds a pod may fail to get its sandbox or volumes (the kubelet retries)
NO_POD_GRACE = 15.0  # seconds a workload may go without a pod
EVENT_LIMIT = 3

Json = Mapping[str, Any]


@dataclass(frozen=True)
class Problem:
    """Why a service does not run; ``pod`` is the one whose events and log say more."""

    reason: str
    pod: str | None
    kind: str  # image | start | exit | evicted | schedule | no-pod


def problem(pods: Sequence[Json], age: float) -> Problem | None:
    """The service's problem, given its pods and seconds since it was started; None
    while it runs or may still start."""
    live = [p for p in pods if not _get(p, "metadata", "deletionTimestamp")]
    if not live:
        if not pods and age > NO_POD_GRACE:
            return Problem("Kubernetes created no pod for it", None, "no-pod")
        return None  # none yet, or one being replaced
    found = [p for p in (pod_problem(pod, age) for pod in live) if p is not None]
    # One replica: its problem is the service's. Were there more, one running is enough.
    return found[0] if len(found) == len(live) else None


def pod_problem(pod: Json, age: float) -> Problem | None:
    name = str(_get(pod, "metadata", "name") or "")
    status: Json = pod.get("status") or {}
    if status.get("phase") == "Failed" and status.get("reason") == "Evicted":
        return Problem(f"was evicted by Kubernetes: {_short(status.get('message'))}", name,
                       "evicted")  # fmt: skip
    image = _main_image(pod)
    init = status.get("initContainerStatuses") or []
    for container in [*init, *(status.get("containerStatuses") or [])]:
        state: Json = container.get("state") or {}
        waiting: Json = state.get("waiting") or {}
        why = waiting.get("reason")
        said = _short(waiting.get("message"))
        detail = f"{why}: {said}" if said else str(why)
        if why in IMAGE_ERRORS:
            shown = container.get("image") if container in init else image
            shown = shown or container.get("image")
            return Problem(f"its image {shown!r} cannot be pulled ({detail})", name, "image")
        if why in START_ERRORS and (_missing(said) or age > STUCK_GRACE):
            return Problem(f"Kubernetes cannot start its container ({detail})", name, "start")
        if container in init:
            continue  # an init container's exit is its job; its failures show on the pod
        restarts = int(container.get("restartCount") or 0)
        if state.get("terminated"):
            return Problem(exited(state["terminated"], restarts), name, "exit")
        last = (container.get("lastState") or {}).get("terminated")
        if last and restarts:
            return Problem(exited(last, restarts), name, "exit")
    for condition in status.get("conditions") or []:
        unschedulable = (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        )
        if unschedulable and age > SCHEDULE_GRACE:
            said = _short(condition.get("message")) or "no node fits it"
            return Problem(f"cannot be scheduled: {said}", name, "schedule")
    return None


def _missing(message: str | None) -> bool:
    """The container refers to something that is not there: no retry will help."""
    return bool(message) and bool(re.search(r"not found|couldn't find key", message or ""))


def not_started(pods: Sequence[Json]) -> bool:
    """True when pods exist and none of their containers has run yet."""
    live = [p for p in pods if not _get(p, "metadata", "deletionTimestamp")]
    for pod in live:
        for container in _get(pod, "status", "containerStatuses") or []:
            state = container.get("state") or {}
            if state.get("running") or state.get("terminated") or container.get("lastState"):
                return False
    return bool(live)


def stuck(pods: Sequence[Json], events: Sequence[Json], age: float) -> Problem | None:
    """A pod the kubelet keeps failing to set up (sandbox, network, volumes)."""
    if age <= STUCK_GRACE or not not_started(pods):
        return None
    failures = [e for e in events if e.get("reason") in SANDBOX_ERRORS]
    if not failures:
        return None
    last = max(failures, key=_event_time)
    pod = str(_get(last, "involvedObject", "name") or "") or None
    said = f"{last.get('reason')}: {_short(last.get('message'))}"
    return Problem(f"its pod cannot start ({said})", pod, "start")


def exited(terminated: Json, restarts: int = 0) -> str:
    """'exited with code 7', with why when Kubernetes knows (OOM, a signal)."""
    code = terminated.get("exitCode")
    text = f"exited with code {code}"
    if terminated.get("reason") == "OOMKilled":
        text += " (out of memory: raise resources.memory)"
    elif terminated.get("signal"):
        text += f" (signal {terminated['signal']})"
    if restarts:
        text += f"; Kubernetes restarted it {restarts} time{'s' if restarts != 1 else ''}"
    return text


def ready(pods: Sequence[Json]) -> str | None:
    """None when a pod of the service is Ready; else why not (for readiness)."""
    live = [p for p in pods if not _get(p, "metadata", "deletionTimestamp")]
    if not live:
        return "no pod yet"
    reasons = []
    for pod in live:
        conditions = {c.get("type"): c for c in _get(pod, "status", "conditions") or []}
        if (conditions.get("Ready") or {}).get("status") == "True":
            return None
        phase = _get(pod, "status", "phase") or "Pending"
        waiting = [
            str((c.get("state") or {}).get("waiting", {}).get("reason") or "")
            for c in _get(pod, "status", "containerStatuses") or []
        ]
        reasons.append(", ".join(filter(None, [f"pod {phase.lower()}", *waiting])))
    return f"{reasons[0]}, not Ready"


def serving(slices: Sequence[Json], pods: Sequence[str]) -> str | None:
    """None when the service's EndpointSlices list one of ``pods`` as ready — its
    Service routes to it (give or take kube-proxy's sync); else why not."""
    for endpoint_slice in slices:
        for endpoint in endpoint_slice.get("endpoints") or []:
            target = _get(endpoint, "targetRef", "name")
            if target in pods and _get(endpoint, "conditions", "ready") is not False:
                return None
    return "its Service has no ready endpoint yet"


def image_id(pods: Sequence[Json]) -> tuple[str | None, str | None]:
    """(image ID, registry digest) of the service's running container, as the node
    resolved its image: ``sha256:…``, and ``repo@sha256:…`` when pulled from a registry."""
    for pod in pods:
        for container in _get(pod, "status", "containerStatuses") or []:
            resolved = str(container.get("imageID") or "")
            if not resolved:
                continue
            if "@" in resolved:
                return resolved.rsplit("@", 1)[1], resolved
            return resolved, None
    return None, None


def related_events(events: Sequence[Json], workload: str, pods: Sequence[str]) -> list[Json]:
    """The events of a service's pods, its StatefulSet, or its Deployment's ReplicaSets."""
    replica_set = re.compile(re.escape(workload) + r"-[a-z0-9]+")
    out = []
    for event in events:
        kind = _get(event, "involvedObject", "kind")
        name = str(_get(event, "involvedObject", "name") or "")
        if (
            (kind == "Pod" and name in pods)
            or (kind == "StatefulSet" and name == workload)
            or (kind == "ReplicaSet" and replica_set.fullmatch(name))
        ):
            out.append(event)
    return out


def latest_warnings(events: Sequence[Json], limit: int = EVENT_LIMIT) -> list[str]:
    """'Reason: message' of the newest distinct warnings, oldest first."""
    warnings = [e for e in events if e.get("type") == "Warning"]
    warnings.sort(key=_event_time)
    seen: dict[tuple[str, str], None] = {}
    for event in warnings:
        key = (str(event.get("reason") or ""), _short(event.get("message")))
        seen.pop(key, None)  # a repeated one moves to the end
        seen[key] = None
    return [f"{reason}: {message}" for reason, message in list(seen)[-limit:]]


def describe(found: Problem, warnings: Sequence[str]) -> str:
    """The problem, plus the events that add something to it."""
    extra = [w for w in warnings if not _repeats(w.split(": ", 1)[-1], found)]
    return found.reason + (f" (latest events: {'; '.join(extra)})" if extra else "")


def _repeats(message: str, found: Problem) -> bool:
    """Whether an event's message only says again what the problem says."""
    if message[-40:] in found.reason:  # the same error, however its start was worded
        return True
    if message.startswith("Error: ") and message.removeprefix("Error: ") in found.reason:
        return True  # "Error: ErrImagePull"
    return message.startswith("Back-off") and found.kind in ("exit", "image")


def _main_image(pod: Json) -> str | None:
    containers = _get(pod, "spec", "containers") or []
    return str(containers[0].get("image")) if containers else None


def _event_time(event: Json) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or _get(event, "metadata", "creationTimestamp")
        or ""
    )


def _short(text: object, limit: int = 240) -> str:
    """The first line, cut in the middle when long: nested errors ("failed to pull:
    failed to resolve: …: no such host") say what happened first and why last."""
    lines = str(text or "").strip().splitlines()
    first = lines[0].strip() if lines else ""
    if len(first) <= limit:
        return first
    head = limit // 3
    return f"{first[:head]} … {first[-(limit - head - 3) :]}"


def _get(data: Json, *keys: str) -> Any:
    value: Any = data
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
