"""Docker's own readiness signals: the image's HEALTHCHECK, and a TCP connect to the
container's address (published ports accept connections before the service listens)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
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

    Docker runs the first check only one ``interval`` after start (Docker 20.10 has no
    start interval), so while it has not run, the probe runs the image's check command
    itself (``docker exec``): the same test, answered as soon as the service is up.
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
        log = health.get("Log") or []
        if status == "starting" and not log:
            status = self._run_test_now()
        if status != "healthy":
            last = (log[-1].get("Output") or "").strip().splitlines() if log else []
            said = f": {last[-1][:200]}" if last else ""
            raise NotReady(f"healthcheck {status}{said}")
        return self.inner.check(endpoint, timeout) if self.inner else None

    def _run_test_now(self) -> str:
        """The image's HEALTHCHECK test, run by us: 'healthy' or 'starting'."""
        config = self.container.attrs.get("Config") or {}
        test = list((config.get("Healthcheck") or {}).get("Test") or [])
        if not test or test[0] not in ("CMD", "CMD-SHELL"):
            return "starting"
        command = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", " ".join(test[1:])]
        try:
            result = self.container.exec_run(command)
        except Exception:  # the container is going away: the exit check reports it
            return "starting"
        return "healthy" if result.exit_code == 0 else "starting"


@dataclass(frozen=True)
class ContainerTcpProbe:
    """TCP readiness at the container's address on the environment's network.

    A published port is served by Docker's port proxy, which accepts every connection
    and only then dials the container: a connect there proves nothing. The host routes
    to its bridge networks (Linux), so it asks the container itself.
    """

    container: Any
    network: str
    port: int
    description: str = "tcp connect (container address)"
    _known: list[str] = field(default_factory=list)

    def check(self, endpoint: Endpoint, timeout: float) -> str | None:
        address = self._address()
        if not address:
            raise NotReady("the container has no address yet")
        try:
            with socket.create_connection((address, self.port), timeout=timeout):
                return None
        except OSError as exc:
            raise NotReady(f"tcp {address}:{self.port}: {exc.strerror or exc}") from None

    def _address(self) -> str | None:
        if not self._known:
            self.container.reload()
            networks = (self.container.attrs.get("NetworkSettings") or {}).get("Networks")
            found = ((networks or {}).get(self.network) or {}).get("IPAddress")
            if found:
                self._known.append(found)  # fixed for the container's life
        return self._known[0] if self._known else None
