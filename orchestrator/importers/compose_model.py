"""A Compose file normalised: each service's fields in one shape, whatever syntax the
file used (``compose_parse.py`` reads it into these).

What envctl understands becomes fields; every other key is kept, by key path, in
``unsupported`` for the converter to explain. Nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from orchestrator.blueprint.source import Path as KeyPath
from orchestrator.importers.compose_fields import MountSpec, PortSpec
from orchestrator.importers.compose_file import ComposeFile

T = TypeVar("T")

CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")

# Keys read into fields below; anything else in a service is `unsupported`.
SERVICE_KEYS = frozenset(
    {
        "image",
        "build",
        "command",
        "entrypoint",
        "ports",
        "expose",
        "environment",
        "env_file",
        "depends_on",
        "healthcheck",
        "volumes",
        "deploy",
        "mem_limit",
        "cpus",
        "profiles",
        "container_name",
        "hostname",
        "links",
        "networks",
        "working_dir",
        "stop_signal",
    }
)
TOP_LEVEL_KEYS = frozenset({"version", "name", "services", "volumes"})


@dataclass(frozen=True)
class Port:
    spec: PortSpec
    path: KeyPath


@dataclass(frozen=True)
class Mount:
    spec: MountSpec
    path: KeyPath
    host_path: Path | None  # a bind's source, absolute

    @property
    def text(self) -> str:
        s = self.spec
        return f"{s.source}:{s.target}" if s.source else s.target


@dataclass(frozen=True)
class Healthcheck:
    kind: str  # CMD, CMD-SHELL or NONE
    args: tuple[str, ...]
    path: KeyPath
    interval: float | None = None
    timeout: float | None = None
    retries: int | None = None
    start_period: float | None = None

    @property
    def disabled(self) -> bool:
        return self.kind == "NONE"

    @property
    def text(self) -> str:
        """The check as one shell line."""
        import shlex

        return self.args[0] if self.kind == "CMD-SHELL" else shlex.join(self.args)


@dataclass(frozen=True)
class Dependency:
    service: str
    condition: str
    path: KeyPath
    required: bool = True  # `required: false` (Compose v2): fine when it is not defined


@dataclass(frozen=True)
class Build:
    context: Path | None  # None for a remote (git or URL) context
    text: str
    dockerfile: Path | None


@dataclass(frozen=True)
class ComposeService:
    name: str
    image: str | None = None
    build: Build | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: dict[str, str | None] = field(default_factory=dict)
    ports: tuple[Port, ...] = ()
    expose: tuple[int, ...] = ()
    depends_on: tuple[Dependency, ...] = ()
    healthcheck: Healthcheck | None = None
    mounts: tuple[Mount, ...] = ()
    cpus: float | None = None
    memory: int | None = None
    profiles: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # other names it answers to on the network
    working_dir: str | None = None
    stop_signal: str | None = None
    unsupported: tuple[KeyPath, ...] = ()

    @property
    def path(self) -> KeyPath:
        return ("services", self.name)


@dataclass(frozen=True)
class Project:
    file: ComposeFile
    name: str | None  # `name:` or COMPOSE_PROJECT_NAME, when given
    services: dict[str, ComposeService]
    unsupported: tuple[KeyPath, ...] = ()
