"""What a run produced, as frozen data, and its JSON form: the contract CI parses.

``RunResult.to_dict`` is versioned (``schema_version``); fields are only ever added.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from orchestrator.suites import SuiteResult

SCHEMA_VERSION = 1


class RunStatus(enum.StrEnum):
    passed = "passed"  # every selected suite passed (or there were none)
    failed = "failed"  # the environment worked and a suite failed
    error = "error"  # envctl could not give the suites an environment


@dataclass(frozen=True)
class ServiceResult:
    name: str
    host: str
    port: int | None
    url: str
    declared_version: str | None
    version: str | None  # what the running engine reports; None when it cannot say
    ready_seconds: float | None
    started_offset: float | None  # seconds after the run started
    image: str | None = None  # as the blueprint names it (container runtimes)
    image_id: str | None = None  # what actually ran: the engine's image ID
    image_digest: str | None = None  # repo@sha256:… when it came from a registry

    @property
    def version_drift(self) -> bool:
        if not self.declared_version or not self.version:
            return False
        declared, running = self.declared_version, self.version
        return not (running == declared or running.startswith(declared + "."))

    def __repr__(self) -> str:
        # A failing `assert result.services[...]` prints this in a test's output.
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["url"] = masked_url(self.url)
        return f"ServiceResult({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "url": self.url,
            "declared_version": self.declared_version,
            "version": self.version,
            "version_drift": self.version_drift,
            "ready_seconds": _round(self.ready_seconds),
            "started_offset_seconds": _round(self.started_offset),
            **({"image": self.image, "image_id": self.image_id} if self.image_id else {}),
            **({"image_digest": self.image_digest} if self.image_digest else {}),
        }


@dataclass(frozen=True)
class RunResult:
    env: str
    blueprint: str
    blueprint_file: str
    owner: str | None
    tier: str
    runtime: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime
    run_dir: str
    services: dict[str, ServiceResult] = field(default_factory=dict)
    suites: list[SuiteResult] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    leftovers: list[str] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)  # per link: metrics, faults
    proxy_seed: int | None = None  # set it in the blueprint (proxy.seed) to replay a run
    seeding: list[dict[str, Any]] = field(default_factory=list)  # per data entry: SeedStats
    cost: dict[str, Any] | None = None  # RunCost.to_dict(), its budget check included
    fidelity: dict[str, Any] | None = None  # AuditResult.to_dict() of the live audit
    # Spans of the run, seconds after it began: phases, services (start → ready), seeding
    # per service, suites, scheduled faults; see Session._event.
    timeline: list[dict[str, Any]] = field(default_factory=list)
    # The error itself, for the CLI's exit code and message; not part of the JSON.
    exception: BaseException | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "env": self.env,
            "blueprint": self.blueprint,
            "blueprint_file": self.blueprint_file,
            "owner": self.owner,
            "tier": self.tier,
            "runtime": self.runtime,
            "status": self.status.value,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_seconds": _round((self.finished_at - self.started_at).total_seconds()),
            "run_dir": self.run_dir,
            "services": {name: s.to_dict() for name, s in self.services.items()},
            "suites": [_suite(s) for s in self.suites],
            "phases": {name: _round(sec) for name, sec in self.phases.items()},
            "version_drift": [
                {"service": s.name, "declared": s.declared_version, "running": s.version}
                for s in self.services.values()
                if s.version_drift
            ],
            "links": self.links,
            "seeding": self.seeding,
            "cost": self.cost,
            "fidelity": self.fidelity,
            "proxy": {"seed": self.proxy_seed} if self.proxy_seed is not None else None,
            "warnings": self.warnings,
            "error": self.error,
            "teardown": {"complete": not self.leftovers, "leftovers": self.leftovers},
            "timeline": self.timeline,
        }


def masked_url(url: str) -> str:
    """``url`` with its password shown as ``…`` (``postgresql://app:…@host:5432/db``): for
    reprs, which end up in tests' output. Not redaction: the value is simply not shown."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user = f"{parts.username}:" if parts.username else ":"
    where = parts.netloc.rpartition("@")[2]  # host and port as written
    return urlunsplit(parts._replace(netloc=f"{user}…@{where}"))


def _suite(s: SuiteResult) -> dict[str, Any]:
    return {
        "name": s.name,
        "tier": s.tier,
        "status": s.status.value,
        "exit_code": s.exit_code,
        "seconds": _round(s.seconds),
        "junit": str(s.junit) if s.junit else None,
        "tests": s.tests.__dict__ if s.tests else None,
        "log": str(s.log),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
