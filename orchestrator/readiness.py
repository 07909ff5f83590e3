"""Readiness probes, as small classes, and the loop that waits on one.

The loop watches the service too: a process that exits while we wait fails at once with
the tail of its log, instead of after the whole timeout.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from orchestrator.blueprint.model import Engine, Readiness, Service
from orchestrator.engines import NotReady, adapter
from orchestrator.exceptions import ReadinessTimeout, ServiceError
from orchestrator.runtime.base import Endpoint, EnvironmentContext, Runtime, ServiceHandle

FIRST_INTERVAL = 0.02


class Probe(Protocol):
    @property
    def description(self) -> str: ...

    def check(self, endpoint: Endpoint, timeout: float) -> str | None:
        """Return a version string (or None) when ready; raise ``NotReady`` before."""
        ...


@dataclass(frozen=True)
class TcpProbe:
    description: str = "tcp connect"

    def check(self, endpoint: Endpoint, timeout: float) -> str | None:
        try:
            with socket.create_connection((endpoint.host, endpoint.port or 0), timeout=timeout):
                return None
        except OSError as exc:
            raise NotReady(f"tcp {endpoint.address}: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class HttpProbe:
    path: str
    description: str = "http"

    def check(self, endpoint: Endpoint, timeout: float) -> str | None:
        conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
        try:
            conn.request("GET", self.path)
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            raise NotReady(f"GET {self.path}: {exc}") from None
        finally:
            conn.close()
        if not 200 <= status < 400:
            raise NotReady(f"GET {self.path} answered {status}")
        return None


@dataclass(frozen=True)
class CommandProbe:
    command: str
    env: Mapping[str, str]
    cwd: str
    description: str = "command"

    def check(self, endpoint: Endpoint, timeout: float) -> str | None:
        try:
            done = subprocess.run(
                self.command,
                shell=True,
                env=dict(self.env),
                cwd=self.cwd,
                capture_output=True,
                timeout=max(timeout, 1.0),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise NotReady("readiness command timed out") from None
        if done.returncode != 0:
            said = (done.stderr or done.stdout).decode("utf-8", errors="replace").strip()
            last = said.splitlines()[-1] if said else ""
            raise NotReady(
                f"readiness command exited with {done.returncode}" + (f": {last}" if last else "")
            )
        return None


@dataclass(frozen=True)
class EngineProbe:
    engine: Engine
    env: Mapping[str, str]

    @property
    def description(self) -> str:
        return f"{self.engine.value} query"

    def check(self, endpoint: Endpoint, timeout: float) -> str | None:
        return adapter(self.engine).probe(endpoint, self.env, timeout)


def probe_for(
    service: Service,
    env: Mapping[str, str],
    command: str | None,
    command_env: Mapping[str, str],
    cwd: str,
) -> Probe | None:
    """The blueprint's probe, else the engine's native one, else TCP on the first port.

    ``command`` is ``ready.command`` with its ``${…}`` already resolved.
    """
    ready = service.ready
    if ready and ready.http:
        return HttpProbe(ready.http)
    if command:
        return CommandProbe(command, command_env, cwd)
    if ready and ready.tcp:
        return TcpProbe()
    if service.engine is not None:
        return EngineProbe(service.engine, env)
    if service.ports:
        return TcpProbe()
    return None


@dataclass(frozen=True)
class ReadyResult:
    seconds: float
    version: str | None


def wait_ready(
    runtime: Runtime,
    env: EnvironmentContext,
    handle: ServiceHandle,
    probe: Probe | None,
    settings: Readiness | None,
    cancel: threading.Event,
) -> ReadyResult:
    timeout = settings.timeout if settings else 60.0
    interval = settings.interval if settings else 0.2
    started = time.monotonic()
    deadline = started + timeout
    last = "not probed yet"
    # Most services are ready within a few hundred ms: probe often at first, then back
    # off to the configured interval so a slow service is not hammered.
    pause = min(FIRST_INTERVAL, interval)
    while not cancel.is_set():
        reason = runtime.exit_reason(handle)
        if reason is not None:
            raise ServiceError(
                handle.name,
                f"{reason} before it was ready",
                hint=f"see `envctl logs {env.env_id} {handle.name}` or the log below",
                log_tail=runtime.log_tail(handle, env),
            )
        if probe is None:
            return ReadyResult(time.monotonic() - started, None)
        try:
            version = probe.check(handle.endpoint, timeout=min(2.0, max(0.5, interval * 5)))
            return ReadyResult(time.monotonic() - started, version)
        except NotReady as exc:
            last = str(exc)
        if time.monotonic() >= deadline:
            raise ReadinessTimeout(
                handle.name,
                f"not ready after {timeout:g}s ({probe.description}: {last})",
                hint="raise `ready.timeout` in the blueprint, or check the service's log",
                log_tail=runtime.log_tail(handle, env),
            )
        cancel.wait(pause)
        pause = min(pause * 2, interval)
    raise ServiceError(handle.name, "cancelled while waiting for readiness")
