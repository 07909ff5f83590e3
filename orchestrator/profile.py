"""The production profile: what production looks like, without any of its data.

One format for every consumer: seeding reads the row counts (``scale: 0.05`` of
production's rows), the fidelity audit compares versions, resources, data shape and
latencies against it. A profile is YAML or JSON::

    apiVersion: envctl/v1
    kind: ProductionProfile
    metadata: {name: checkout-production, captured_at: "2026-11-30T12:00:00Z"}
    services:
      db:
        image: "postgres:15.4"
        version: "15.4"
        replicas: 1
        resources: {cpu: "8", memory: 32Gi}
        tables:
          customers:
            rows: 1200000
            columns:
              email: {null_frac: 0.0, n_distinct: -1}
              country: {most_common_vals: [US, DE], most_common_freqs: [0.41, 0.22]}
    edges:
      - {from: orders, to: payments-provider, latency: {p50: 120ms, p95: 300ms, p99: 450ms},
         error_rate: 0.002}

Column statistics follow PostgreSQL's ``pg_stats`` names, so a capture is a copy of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from orchestrator.blueprint.fields import Cpu, Duration, Model, Size
from orchestrator.blueprint.source import SourceMap, parse_yaml
from orchestrator.exceptions import BlueprintError, Location


class ColumnStats(Model):
    null_frac: Annotated[float, Field(ge=0, le=1)] | None = None
    n_distinct: float | None = Field(
        None, description="As pg_stats: > 0 a count, < 0 minus a share of the rows."
    )
    most_common_vals: list[Any] | None = None
    most_common_freqs: list[float] | None = None
    histogram_bounds: list[Any] | None = None
    avg_width: int | None = None


class TableProfile(Model):
    rows: Annotated[int, Field(ge=0)]
    bytes: Annotated[int, Field(ge=0)] | None = None
    columns: dict[str, ColumnStats] = Field(default_factory=dict)


class ProfileResources(Model):
    cpu: Cpu | None = None
    memory: Size | None = None


class ServiceProfile(Model):
    image: str | None = None
    digest: str | None = None
    version: str | None = None
    replicas: Annotated[int, Field(ge=0)] | None = None
    resources: ProfileResources = Field(default_factory=ProfileResources)
    extensions: list[str] = Field(default_factory=list)
    tables: dict[str, TableProfile] = Field(default_factory=dict)
    keyspaces: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="Redis: keys per pattern."
    )


class EdgeLatency(Model):
    p50: Duration | None = None
    p95: Duration | None = None
    p99: Duration | None = None


class EdgeProfile(Model):
    from_: str = Field(alias="from")
    to: str
    latency: EdgeLatency = Field(default_factory=EdgeLatency)
    error_rate: Annotated[float, Field(ge=0, le=1)] | None = None


class ProfileMetadata(Model):
    name: str
    captured_at: str | None = None
    source: str | None = None


class ProductionProfile(Model):
    api_version: Literal["envctl/v1"] = Field(alias="apiVersion")
    kind: Literal["ProductionProfile"]
    metadata: ProfileMetadata
    services: dict[str, ServiceProfile] = Field(default_factory=dict)
    edges: list[EdgeProfile] = Field(default_factory=list)


def load(path: Path) -> tuple[ProductionProfile, SourceMap]:
    """Load and validate a profile; every problem is a ``BlueprintError`` at its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BlueprintError(
            f"cannot read profile: {exc.strerror or exc}", Location(str(path), 0, 0)
        ) from None
    data, source = parse_yaml(text, str(path))
    if not isinstance(data, dict):
        raise source.error((), "a profile must be a mapping", "start with 'apiVersion: envctl/v1'")
    try:
        return ProductionProfile.model_validate(data), source
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = tuple(p for p in err["loc"] if p != "[key]")
        raise source.error(where, str(err["msg"]).removeprefix("Value error, ")) from None
