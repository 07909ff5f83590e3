"""Removing environments: delete the namespace and wait until it is gone; find the
namespaces ``gc`` should reap.

Deleting a namespace deletes everything in it; the call returns at once and the
namespace then terminates (pods stop, finalizers run). Teardown waits for the end, so
that "torn down" means nothing of the environment is left, and says what remains if it
takes longer than ``NAMESPACE_WAIT``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from orchestrator.runtime.kubernetes import labels
from orchestrator.runtime.kubernetes.client import Kube

NAMESPACE_WAIT = 120.0  # seconds
POLL = 0.5


def delete_namespace(kube: Kube, name: str, wait: float = NAMESPACE_WAIT) -> list[str]:
    """Delete ``name`` and wait until it is gone; what is left (empty when all went)."""
    kube.delete(f"/api/v1/namespaces/{name}")
    deadline = time.monotonic() + wait
    while True:
        found = kube.get(f"/api/v1/namespaces/{name}")
        if found is None:
            return []
        if time.monotonic() > deadline:
            return [f"namespace {name} (still terminating after {wait:g}s{_why(found)})"]
        time.sleep(POLL)


def _why(namespace: Mapping[str, Any]) -> str:
    """What the namespace controller says is holding it up, if anything."""
    for condition in (namespace.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("message"):
            return f": {condition['message'][:300]}"
    return ""


def env_id_of(namespace: Mapping[str, Any]) -> str | None:
    metadata = namespace.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    return annotations.get(labels.ENV_ID) or (metadata.get("labels") or {}).get(labels.ENV)


def select_orphans(namespaces: Iterable[Mapping[str, Any]], store: str, now: float) -> set[str]:
    """The environments ``gc`` should consider: every one of this state store (gc then
    leaves those the store knows as live), and any store's whose ``expires-at`` passed.

    Other stores' expired ones too, unlike the docker runtime: the in-cluster reaper
    (the Helm chart's CronJob) has an empty state store of its own and exists to reap
    what a CI job left behind in the shared cluster.
    """
    found = set()
    for namespace in namespaces:
        metadata = namespace.get("metadata") or {}
        ns_labels = metadata.get("labels") or {}
        if ns_labels.get(labels.MANAGED) != "true":
            continue
        env_id = env_id_of(namespace)
        if not env_id:
            continue
        expires = labels.parse_iso(str((metadata.get("annotations") or {}).get(labels.EXPIRES_AT)))
        if ns_labels.get(labels.STORE) == store or (expires is not None and expires < now):
            found.add(env_id)
    return found


def remove_work_dir(path: Path) -> list[str]:
    """The environment's private dir on the host: proxy config, endpoints (URLs with
    passwords), the redaction list. It must not outlive the environment."""
    shutil.rmtree(path, ignore_errors=True)
    return [f"directory {path}"] if path.exists() else []
