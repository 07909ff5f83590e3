"""The runtime seam: what envctl needs from a place that runs services.

A runtime (local processes, Docker, Kubernetes, the in-memory fake) implements the methods
of ``Runtime`` below and nothing else; the engine drives the lifecycle around them::

    runtime.prepare(env, blueprint)          # isolation: a dir, a network, a namespace
    for each service, in dependency order:
        ep = runtime.address(env, name, svc) # where the other services reach it
        h = runtime.start(env, spec)         # started, not yet ready; h.endpoint is
                                             # where the host (probes, suites) reaches it
        runtime.exit_reason(h)               # polled while the engine probes readiness
    ...suites run against the endpoints...
    runtime.stop(h) for each, dependants first
    runtime.destroy(record)                  # always; idempotent; works from state alone

Contract:

* ``start`` either returns a handle or raises ``ServiceError`` having cleaned up what it
  began. Handles are persisted (``details`` must be JSON-serialisable and secret-free), so
  another envctl process can ``destroy`` an environment from its ``EnvRecord`` alone.
* Everything a runtime creates is tagged with the environment id, so that ``orphans``
  can find what a killed envctl left behind.
* ``destroy`` never raises for things already gone; it returns what it could not remove.

A minimal runtime, e.g. for a test double::

    class EchoRuntime(Runtime):
        name = "echo"
        def address(self, env, name, service): return Endpoint(name, service.ports[0])
        def start(self, env, spec): return ServiceHandle(spec.name, Endpoint("127.0.0.1", ...))
        ...
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from orchestrator.runtime import follow

if TYPE_CHECKING:
    import threading

    from orchestrator.blueprint.loader import LoadedBlueprint
    from orchestrator.blueprint.model import Service
    from orchestrator.cost.meter import Sampler
    from orchestrator.readiness import Probe
    from orchestrator.secrets import Redactor
    from orchestrator.settings import Settings
    from orchestrator.state import EnvRecord
    from orchestrator.suites import ContainerSuite, SuiteResult


@dataclass(frozen=True)
class Endpoint:
    """Where a service listens, as seen by whoever is given it."""

    host: str
    port: int | None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host


@dataclass(frozen=True)
class EnvironmentContext:
    """One environment's identity and directories, handed to every runtime call."""

    env_id: str
    blueprint: str
    owner: str | None
    work_dir: Path  # private, removed at teardown
    run_dir: Path  # reports and logs, kept after teardown
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceSpec:
    """A service with every ``${…}`` resolved, ready to start. Holds secrets: never persist."""

    name: str
    service: Service
    env: Mapping[str, str]
    command: str | None
    cwd: Path
    # Key of the service's seeded data (seed/cache.py): a runtime that kept data under
    # it starts the service from a copy and says so in the handle (``SEEDED_FROM``).
    data_key: str | None = None

    @property
    def container_port(self) -> int | None:
        return self.service.ports[0] if self.service.ports else None


@dataclass(frozen=True)
class ServiceHandle:
    """A started service. ``details`` is runtime-specific, persisted, and secret-free."""

    name: str
    endpoint: Endpoint
    details: Mapping[str, Any] = field(default_factory=dict)


SEEDED_FROM = "seeded_from_cache"  # handle detail: the data key the service started from
SEED_MANIFEST = "seed_manifest"  # handle detail: what that seed recorded (rows per table)
KEEPS_DATA = "data_key"  # handle detail: the key keep_seeded would store the data under


class Runtime(abc.ABC):
    """Base class of every runtime; see the module docstring for the contract."""

    name: ClassVar[str]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def prepare(self, env: EnvironmentContext, blueprint: LoadedBlueprint) -> None:
        """Check the blueprint can run here (raise ``BlueprintError``), create isolation."""
        env.work_dir.mkdir(parents=True, exist_ok=True)

    @abc.abstractmethod
    def address(self, env: EnvironmentContext, name: str, service: Service) -> Endpoint:
        """Reserve and return the endpoint of a service before anything starts."""

    @abc.abstractmethod
    def start(self, env: EnvironmentContext, spec: ServiceSpec) -> ServiceHandle:
        """Start one service; clean up and raise ``ServiceError`` if that fails."""

    def readiness_probe(self, handle: ServiceHandle, default: Probe | None) -> Probe | None:
        """The probe to wait on; ``default`` is the blueprint's (or the engine's)."""
        return default

    def host_endpoint(self, env: EnvironmentContext, name: str) -> Endpoint | None:
        """Where the host reaches what ``address(env, name, …)`` returned, when that
        differs (a container network); None when the address is the host's view too."""
        return None

    def sampler(self, env: EnvironmentContext, handle: ServiceHandle) -> Sampler:
        """Readings of a running service for metering (``cost/meter.py``): cumulative CPU
        seconds, memory, bytes on disk. This default measures nothing but the service's
        lifetime (while ``exit_reason`` says it runs), so what it requested is still
        charged; runtimes that can read usage override it."""
        from orchestrator.cost.meter import Reading

        def read(storage: bool) -> Reading | None:
            return Reading(0.0, 0) if self.exit_reason(handle) is None else None

        return read

    def keep_seeded(
        self, env: EnvironmentContext, handle: ServiceHandle, manifest: Mapping[str, Any]
    ) -> bool:
        """Keep the data of a service just seeded (its handle has ``KEEPS_DATA``) so later
        environments start from a copy; False when this runtime keeps none."""
        return False

    def detach(self, env: EnvironmentContext, until: float) -> None:  # noqa: B027 (optional hook)
        """The environment outlives this process (``envctl up``) until ``until``."""

    def run_suite_in_image(self, env: EnvironmentContext, suite: ContainerSuite) -> SuiteResult:
        """Run a suite in a container on the environment's network (``suite.image``)."""
        from orchestrator.exceptions import UsageError

        raise UsageError(
            f"suite {suite.name!r} sets `image`, which needs a container runtime",
            hint="run with --runtime docker, or remove `image` to run it on the host",
        )

    def logs_text(self, record: EnvRecord, service: str) -> str | None:
        """All of a service's output so far, or None when there is none."""
        path = self.log_path(record, service)
        if path is None or not path.exists():
            return None
        return path.read_text(encoding="utf-8", errors="replace")

    @abc.abstractmethod
    def exit_reason(self, handle: ServiceHandle) -> str | None:
        """None while the service runs; otherwise why it stopped ('exited with code 1')."""

    @abc.abstractmethod
    def log_path(self, env: EnvRecord | EnvironmentContext, service: str) -> Path | None:
        """The file that holds the service's output, if the runtime keeps one."""

    def log_tail(self, handle: ServiceHandle, env: EnvironmentContext, lines: int = 30) -> str:
        path = self.log_path(env, handle.name)
        if path is None or not path.exists():
            return ""
        with path.open("rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def follow_output(
        self, env: EnvironmentContext, handle: ServiceHandle, stop: threading.Event
    ) -> Iterator[str]:
        """The service's output line by line as it comes (``--verbose``), from its start,
        until the output ends, or soon after ``stop`` is set even if the service is still
        writing (what comes within ``follow.LAST_WORDS`` is still passed on). Not redacted:
        the caller redacts. The default tails ``log_path``; a runtime that keeps output
        elsewhere (Docker) overrides this, with ``orchestrator.runtime.follow``'s helpers;
        with neither, nothing."""
        path = self.log_path(env, handle.name)
        return follow.tail_file(path, stop) if path is not None else iter(())

    def collect_logs(self, record: EnvRecord, target: Path, redact: Redactor) -> None:
        """Copy every service's output into ``target`` (redacted), before ``destroy``."""
        target.mkdir(parents=True, exist_ok=True)
        for name in record.services:
            text = self.logs_text(record, name)
            if text is not None:
                (target / f"{name}.log").write_text(redact(text), encoding="utf-8")

    @abc.abstractmethod
    def stop(self, handle: ServiceHandle) -> None:
        """Stop one service gracefully, then forcibly. Idempotent."""

    @abc.abstractmethod
    def destroy(self, record: EnvRecord) -> Sequence[str]:
        """Remove everything of the environment; return what could not be removed."""

    def orphans(self) -> set[str]:
        """Ids of every environment that has resources here (gc subtracts the live ones)."""
        return set()

    def reap_orphan(self, env_id: str) -> Sequence[str]:
        """Remove what ``orphans`` found for ``env_id``; return what could not be removed."""
        return []
