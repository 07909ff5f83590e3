"""Runtimes by name. Built-ins register here the way a plugin would.

Entries are import paths, so choosing ``local`` never imports the Docker or Kubernetes
SDKs, and ``envctl --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from orchestrator.exceptions import UsageError

if TYPE_CHECKING:
    from orchestrator.runtime.base import Runtime
    from orchestrator.settings import Settings

RUNTIMES: dict[str, str] = {
    "local": "orchestrator.runtime.local.runtime:LocalRuntime",
    "docker": "orchestrator.runtime.docker.runtime:DockerRuntime",
    "kubernetes": "orchestrator.runtime.kubernetes.runtime:KubernetesRuntime",
    "fake": "orchestrator.runtime.fake:FakeRuntime",
}
# Runtimes users choose from (and gc scans); 'fake' exists for tests of the engine.
PUBLIC: list[str] = ["local", "docker", "kubernetes"]


def register(name: str, target: str, public: bool = True) -> None:
    """Add a runtime: ``target`` is 'module:Class' of a ``Runtime`` subclass."""
    RUNTIMES[name] = target
    if public and name not in PUBLIC:
        PUBLIC.append(name)


def check_public(name: str) -> None:
    """Refuse a runtime name a user may not choose, listing the valid ones."""
    if name not in PUBLIC:
        raise UsageError(f"unknown runtime {name!r}", hint=f"valid runtimes: {', '.join(PUBLIC)}")


def create(name: str, settings: Settings) -> Runtime:
    if name not in RUNTIMES:
        raise UsageError(
            f"unknown runtime {name!r}",
            hint=f"valid runtimes: {', '.join(PUBLIC)}",
        )
    module_name, _, class_name = RUNTIMES[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    runtime: Runtime = cls(settings)
    return runtime
