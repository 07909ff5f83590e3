"""Readiness on Kubernetes: the pod's Ready condition, then the service's own probe.

The kubelet's TCP readiness probe (on the first port) proves that something listens
inside the pod; the blueprint's probe (or the engine's: a query) then proves the
service answers the way the suites will reach it, through the port-forward. A plain
TCP connect to the port-forward's listener would prove nothing — it accepts first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.engines import NotReady
from orchestrator.runtime.base import Endpoint

if TYPE_CHECKING:
    from orchestrator.readiness import Probe


@dataclass(frozen=True)
class PodReadyProbe:
    """Ready when ``not_ready()`` says nothing (the pod is Ready) and ``inner`` passes."""

    not_ready: Callable[[], str | None]
    inner: Probe | None

    @property
    def description(self) -> str:
        inner = f" and {self.inner.description}" if self.inner else ""
        return f"pod Ready{inner}"

    def check(self, endpoint: Endpoint, timeout: float) -> str | None:
        why = self.not_ready()
        if why is not None:
            raise NotReady(why)
        return self.inner.check(endpoint, timeout) if self.inner else None
