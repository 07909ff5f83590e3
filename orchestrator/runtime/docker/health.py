"""Readiness from the image's own HEALTHCHECK, next to the blueprint's probe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.engines import NotReady
from orchestrator.runtime.base import Endpoint

if TYPE_CHECKING:
    from orchestrator.readiness import Probe


@dataclass(frozen=True)
class HealthcheckProbe:
    """Ready when Docker reports the container ``healthy`` and ``inner`` (if any) passes.

    The image author's check knows the service; the blueprint's probe proves it is
    reachable the way the suites will reach it. Both must hold.
    """

    container: Any  # docker.models.containers.Container
    inner: Probe | None

    @property
    def description(self) -> str:
        inner = f" and {self.inner.description}" if self.inner else ""
        return f"docker healthcheck{inner}"

    def check(self, endpoint: Endpoint, timeout: float) -> str | None:
        self.container.reload()
        health = (self.container.attrs.get("State") or {}).get("Health") or {}
        status = health.get("Status", "none")
        if status != "healthy":
            log = health.get("Log") or []
            last = (log[-1].get("Output") or "").strip().splitlines() if log else []
            said = f": {last[-1][:200]}" if last else ""
            raise NotReady(f"healthcheck {status}{said}")
        return self.inner.check(endpoint, timeout) if self.inner else None
