"""Removing an environment's Docker resources by label: shared by envctl and the watchdog.

Imports only the SDK, so the watchdog starts fast in its container.
"""

from __future__ import annotations

from typing import Any

from orchestrator.runtime.docker import labels
from orchestrator.runtime.docker.client import errors


def remove_labelled(client: Any, env_id: str, skip: str | None = None) -> list[str]:
    """Remove every container, network and volume labelled with ``env_id``, the
    watchdog last: were envctl killed half-way through, the watchdog finishes the job.
    ``skip``: a container to leave (the watchdog itself, which is auto-removed on exit)."""
    failures: list[str] = []
    selector = {"label": f"{labels.ENV}={env_id}"}
    containers = [c for c in client.containers.list(all=True, filters=selector) if c.name != skip]
    watchdogs = [c for c in containers if (c.labels or {}).get(labels.ROLE) == "watchdog"]
    _remove_items([c for c in containers if c not in watchdogs], "container", failures)
    _remove_items(client.networks.list(filters=selector), "network", failures)
    _remove_items(client.volumes.list(filters=selector), "volume", failures)
    _remove_items(watchdogs, "container", failures)
    return failures


def _remove_items(items: list[Any], kind: str, failures: list[str]) -> None:
    errs = errors()
    for item in items:
        try:
            if kind == "network":
                item.remove()
            else:  # containers with their anonymous volumes; volumes even if in use
                item.remove(force=True, **({"v": True} if kind == "container" else {}))
        except errs.NotFound:
            pass
        except errs.APIError as exc:
            if "already in progress" not in str(exc):  # auto-remove racing us: fine
                failures.append(f"{kind} {item.name}")
