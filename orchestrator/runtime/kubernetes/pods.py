"""An environment's pods: their status (shared, briefly cached), logs, and files.

The readiness loops poll ``exit_reason`` (at first every 20 ms, per service), and
metering polls it for as long as services run: one list of the environment's pods per
``interval``, shared by every caller, keeps that to a few requests a second per
environment however many services and threads ask.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from orchestrator.exceptions import RuntimeUnavailable
from orchestrator.runtime.kubernetes import labels
from orchestrator.runtime.kubernetes.client import Kube, transport_errors

log = logging.getLogger(__name__)

INTERVAL = 0.25  # seconds; how late a crash during readiness may be noticed
Json = dict[str, Any]


@dataclass
class _Entry:
    at: float
    pods: list[Json]
    gone: bool = False  # the namespace is deleted, or being deleted


class PodCache:
    """The pods of each environment, listed at most once per ``interval``."""

    def __init__(self, kube: Kube, interval: float = INTERVAL) -> None:
        self._kube = kube
        self._interval = interval
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def pods(self, namespace: str, env_label: str) -> list[Json]:
        """Every pod of the environment. On a failed read, the last answer (an API that
        is briefly away does not make services look dead); ``RuntimeUnavailable``
        when there is none."""
        with self._guard:
            lock = self._locks.setdefault(namespace, threading.Lock())
        with lock:  # one request at a time per namespace; the others wait for its answer
            entry = self._entries.get(namespace)
            if entry is not None and time.monotonic() - entry.at < self._interval:
                return entry.pods
            try:
                items = self._kube.list(
                    f"/api/v1/namespaces/{namespace}/pods",
                    labelSelector=f"{labels.ENV}={env_label}",
                )
            except RuntimeUnavailable:
                if entry is None:
                    raise
                log.debug("listing the pods of %s failed; using the last answer", namespace)
                return entry.pods
            gone = False
            if not any(not p["metadata"].get("deletionTimestamp") for p in items):
                # No pod runs: is it too early, or was the environment torn down?
                try:
                    found = self._kube.get(f"/api/v1/namespaces/{namespace}")
                except RuntimeUnavailable:
                    found = {}
                gone = found is None or (found.get("status") or {}).get("phase") == "Terminating"
            self._entries[namespace] = _Entry(time.monotonic(), items, gone)
            return items

    def gone(self, namespace: str) -> bool:
        """Whether the last look found the namespace deleted (or terminating)."""
        with self._guard:
            entry = self._entries.get(namespace)
        return entry is not None and entry.gone

    def of_service(self, namespace: str, env_label: str, service: str) -> list[Json]:
        wanted = labels.label_value(service)
        return [
            pod
            for pod in self.pods(namespace, env_label)
            if (pod.get("metadata", {}).get("labels") or {}).get(labels.SERVICE) == wanted
        ]

    def running_pod(self, namespace: str, env_label: str, service: str) -> str | None:
        """A pod of the service whose container runs (Ready ones first), for a
        port-forward; None when there is none."""
        candidates = []
        for pod in self.of_service(namespace, env_label, service):
            status = pod.get("status") or {}
            if pod["metadata"].get("deletionTimestamp") or status.get("phase") != "Running":
                continue
            conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
            candidates.append((conditions.get("Ready") != "True", str(pod["metadata"]["name"])))
        return min(candidates)[1] if candidates else None

    def forget(self, namespace: str) -> None:
        with self._guard:
            self._entries.pop(namespace, None)


def log_text(kube: Kube, namespace: str, pod: str, tail: int | None = None,
             previous: bool = False) -> str | None:  # fmt: skip
    """The pod's log (of its last run, with ``previous``); None when it has none yet."""
    query = {"tailLines": tail, "previous": "true" if previous else None}
    try:
        return kube.text(f"/api/v1/namespaces/{namespace}/pods/{pod}/log", query)
    except RuntimeUnavailable:  # not started yet (400), gone (404), or the API is away
        return None


def service_log(kube: Kube, namespace: str, pod: Json, tail: int | None = None) -> str:
    """A service's output: the run before the last restart, then the current one (a
    crashing container's current run may not have said anything yet)."""
    name = str(pod["metadata"]["name"])
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    parts = []
    if int(statuses[0].get("restartCount") or 0) > 0:
        parts.append(log_text(kube, namespace, name, tail, previous=True) or "")
    parts.append(log_text(kube, namespace, name, tail) or "")
    text = "".join(p if p.endswith("\n") or not p else p + "\n" for p in parts)
    if tail is not None:
        text = "\n".join(text.splitlines()[-tail:])
    return text


def stream_errors() -> tuple[type[BaseException], ...]:
    """What reading a stream (logs, exec) may raise once it is under way."""
    return (*transport_errors(), RuntimeUnavailable)


class LogFollower:
    """A pod's log read to its end (the container exiting) on a thread of its own, so
    that what a service says while it stops is kept too."""

    def __init__(self, kube: Kube, namespace: str, pod: str, timeout: float) -> None:
        self._chunks: list[bytes] = []
        self._done = threading.Event()
        self.opened = threading.Event()  # tried: streaming, or failed to
        self.streaming = False  # the kubelet streams the log: the pod may be stopped
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/log"
        self._thread = threading.Thread(
            target=self._read, args=(kube, path, timeout), name=f"logs-{pod}", daemon=True
        )
        self._thread.start()

    def _read(self, kube: Kube, path: str, timeout: float) -> None:
        try:
            response = kube.stream(path, {"follow": "true"}, timeout=timeout)
            self.streaming = True
            self.opened.set()
            try:
                for chunk in response.stream(64 * 1024, decode_content=True):
                    self._chunks.append(chunk)
            finally:
                response.release_conn()
        except stream_errors() as exc:
            log.debug("following %s ended: %s", path, exc)
        finally:
            self.opened.set()
            self._done.set()

    def text(self, wait: float) -> str | None:
        """What was read, after waiting up to ``wait`` for the end; None if nothing."""
        self._done.wait(wait)
        data = b"".join(self._chunks)
        return data.decode("utf-8", errors="replace") if data else None


def read_file(kube: Kube, namespace: str, pod: str, path: str) -> str | None:
    """A file inside the pod's container (``cat`` through exec); None when absent."""
    try:
        ws = kube.websocket(
            "exec",
            pod,
            namespace,
            command=["cat", path],
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
            binary=True,
            _preload_content=False,
        )
        ws.run_forever(timeout=30)
        data = ws.read_stdout(timeout=0)
        ws.close()
    except stream_errors() as exc:
        log.debug("cannot read %s in %s/%s: %s", path, namespace, pod, exc)
        return None
    return bytes(data).decode("utf-8", errors="replace") if data else None


def service_pods(kube: Kube, namespace: str, env_label: str, service: str) -> list[Json]:
    """The service's pods, read now (not from the cache)."""
    wanted = {labels.ENV: env_label, labels.SERVICE: labels.label_value(service)}
    return kube.list(f"/api/v1/namespaces/{namespace}/pods", labelSelector=labels.selector(wanted))


def newest(found: list[Json]) -> Json | None:
    """The pod that speaks for the service: the newest one not being deleted."""
    live = [p for p in found if not p["metadata"].get("deletionTimestamp")] or found
    return max(live, key=lambda p: str(p["metadata"].get("creationTimestamp") or ""), default=None)
