"""An in-memory runtime for unit tests of the engine: no processes, no sockets.

Behaviour per service is scripted with ``FakeBehaviour`` so tests can make a service fail
to start, exit while starting, never become ready, or report a version. Every call is
logged in ``calls`` so tests can assert on the order of the lifecycle.
"""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.exceptions import ServiceError
from orchestrator.runtime.base import (
    Endpoint,
    EnvironmentContext,
    Runtime,
    ServiceHandle,
    ServiceSpec,
)


@dataclass(frozen=True)
class _AlwaysReady:
    version: str | None
    description: str = "fake"

    def check(self, endpoint: Endpoint, timeout: float) -> str | None:
        return self.version


if TYPE_CHECKING:
    from orchestrator.blueprint.model import Service
    from orchestrator.readiness import Probe
    from orchestrator.settings import Settings
    from orchestrator.state import EnvRecord


@dataclass
class FakeBehaviour:
    start_error: str | None = None
    exits_with: int | None = None  # the "process" exits while starting
    start_delay: float = 0.0
    version: str | None = None


@dataclass
class FakeWorld:
    """State shared by every FakeRuntime of one test, standing in for the machine."""

    behaviours: dict[str, FakeBehaviour] = field(default_factory=dict)
    running: dict[tuple[str, str], ServiceHandle] = field(default_factory=dict)
    addresses: dict[tuple[str, str], Endpoint] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ports: itertools.count[int] = field(default_factory=lambda: itertools.count(41000))
    starting: int = 0  # services inside start() right now
    most_starting: int = 0  # the most that ever were at once: parallelism, without a clock


class FakeRuntime(Runtime):
    name = "fake"

    def __init__(self, settings: Settings, world: FakeWorld | None = None) -> None:
        super().__init__(settings)
        self.world = world or FakeWorld()

    def _call(self, what: str, name: str) -> None:
        with self.world.lock:
            self.world.calls.append((what, name))

    def address(self, env: EnvironmentContext, name: str, service: Service) -> Endpoint:
        # Like a container runtime, other services reach it by name on its own port,
        # while the host reaches it on a different, published one (see start()).
        with self.world.lock:
            endpoint = Endpoint(f"{name}.{env.env_id}.fake", next(self.world.ports))
            self.world.addresses[(env.env_id, name)] = endpoint
            return endpoint

    def start(self, env: EnvironmentContext, spec: ServiceSpec) -> ServiceHandle:
        behaviour = self.world.behaviours.get(spec.name, FakeBehaviour())
        self._call("start", spec.name)
        with self.world.lock:
            self.world.starting += 1
            self.world.most_starting = max(self.world.most_starting, self.world.starting)
        try:
            if behaviour.start_delay:
                time.sleep(behaviour.start_delay)
        finally:
            with self.world.lock:
                self.world.starting -= 1
        if behaviour.start_error:
            raise ServiceError(spec.name, behaviour.start_error)
        with self.world.lock:
            published = Endpoint("127.0.0.1", next(self.world.ports))
        handle = ServiceHandle(
            spec.name,
            published,
            {"env": env.env_id, "version": behaviour.version, "exits": behaviour.exits_with},
        )
        with self.world.lock:
            self.world.running[(env.env_id, spec.name)] = handle
        return handle

    def readiness_probe(self, handle: ServiceHandle, default: Probe | None) -> Probe | None:
        return _AlwaysReady(handle.details.get("version"))

    def exit_reason(self, handle: ServiceHandle) -> str | None:
        code = handle.details.get("exits")
        if code is not None:
            return f"exited with code {code}"
        with self.world.lock:
            running = (str(handle.details.get("env")), handle.name) in self.world.running
        return None if running else "is not running"

    def log_path(self, env: EnvRecord | EnvironmentContext, service: str) -> Path | None:
        return None

    def stop(self, handle: ServiceHandle) -> None:
        self._call("stop", handle.name)
        with self.world.lock:
            self.world.running.pop((str(handle.details.get("env")), handle.name), None)

    def destroy(self, record: EnvRecord) -> Sequence[str]:
        self._call("destroy", record.id)
        shutil.rmtree(record.work_dir, ignore_errors=True)
        return self.reap_orphan(record.id)

    def orphans(self) -> set[str]:
        with self.world.lock:
            return {env_id for env_id, _ in self.world.running}

    def reap_orphan(self, env_id: str) -> Sequence[str]:
        with self.world.lock:
            for key in [k for k in self.world.running if k[0] == env_id]:
                self.world.running.pop(key)
        return []
