"""The blueprint: an immutable, validated description of one environment.

The JSON Schema in ``blueprints/blueprint.schema.json`` is generated from these models
(``envctl schema``), so the field docs here are the reference users read in their editor.
Cross-field rules (references, cycles) live in ``validate.py``; these models check shape.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from orchestrator.blueprint import units

API_VERSION = "envctl/v1"
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
RESERVED_SERVICE_NAMES = frozenset({"self", "secret", "env", "run", "suite"})

Duration = Annotated[
    float,
    BeforeValidator(units.parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": units.DURATION_PATTERN},
                {"type": "number", "minimum": 0},
            ],
            "description": "A duration: '500ms', '30s', '15m', '2h', '1h30m'; numbers are seconds.",
        }
    ),
]
Size = Annotated[
    int,
    BeforeValidator(units.parse_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": units.SIZE_PATTERN},
                {"type": "integer", "minimum": 0},
            ],
            "description": "A size in bytes or with a unit: '512Mi', '1Gi', '10G'.",
        }
    ),
]
Cpu = Annotated[
    float,
    BeforeValidator(units.parse_cpu),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": units.CPU_PATTERN},
                {"type": "number", "exclusiveMinimum": 0},
            ],
            "description": "CPU cores: 1, 0.5 or '500m'.",
        }
    ),
]


def _scalar_to_text(value: object) -> object:
    # YAML turns `PORT: 8000` and `DEBUG: true` into int and bool; env values are text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


EnvValue = Annotated[str, BeforeValidator(_scalar_to_text)]
EnvMap = dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], EnvValue]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Engine(enum.StrEnum):
    """Services envctl knows natively: it can start them locally, probe and seed them."""

    postgres = "postgres"
    redis = "redis"


class Tier(enum.StrEnum):
    critical = "critical"
    standard = "standard"
    extended = "extended"


class Metadata(Model):
    name: Annotated[str, Field(pattern=NAME_PATTERN, description="The blueprint's name.")]
    owner: str | None = Field(None, description="Team that owns the environment and pays.")
    tier: Tier = Field(Tier.standard, description="Risk tier, for reports and budgets.")
    labels: dict[str, str] = Field(default_factory=dict)


class Resources(Model):
    cpu: Cpu | None = None
    memory: Size | None = None
    storage: Size | None = None


class Readiness(Model):
    """How envctl knows a service is ready. One probe kind; engines have a native default."""

    tcp: bool | None = Field(None, description="Accept a TCP connection on the first port.")
    http: str | None = Field(None, description="GET this path on the first port; 2xx/3xx.")
    command: str | None = Field(None, description="A shell command that exits 0 when ready.")
    timeout: Duration = Field(60.0, description="Give up after this long.")
    interval: Duration = Field(0.2, description="Time between probes.")

    @model_validator(mode="after")
    def _one_kind(self) -> Readiness:
        kinds = [k for k in ("tcp", "http", "command") if getattr(self, k)]
        if len(kinds) > 1:
            raise ValueError(f"choose one readiness probe, not {' and '.join(kinds)}")
        if self.http is not None and not self.http.startswith("/"):
            raise ValueError(f"http readiness path must start with '/', got {self.http!r}")
        return self


class LocalOverride(Model):
    """How the local runtime runs this service as a process."""

    command: str | None = Field(None, description="Shell command; ${self.port} is its port.")
    cwd: str | None = Field(None, description="Working dir, relative to the blueprint file.")
    env: EnvMap = Field(default_factory=dict)
    stop_signal: Literal["SIGTERM", "SIGINT", "SIGQUIT"] = "SIGTERM"


class ContainerOverride(Model):
    """Settings for the docker and kubernetes runtimes (used by their own issues)."""

    image: str | None = None
    command: str | None = None
    env: EnvMap = Field(default_factory=dict)


class Service(Model):
    image: str | None = Field(
        None, description="Image (and so version) production runs, e.g. 'postgres:15.4'."
    )
    engine: Engine | None = Field(None, description="A natively supported engine.")
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(default_factory=list)
    env: EnvMap = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    ready: Readiness | None = None
    resources: Resources = Field(default_factory=Resources)
    local: LocalOverride | None = None
    docker: ContainerOverride | None = None
    kubernetes: ContainerOverride | None = None

    @property
    def declared_version(self) -> str | None:
        """The tag of ``image`` ('15.4' of 'postgres:15.4'), or None without one."""
        if not self.image:
            return None
        name = self.image.split("@", 1)[0]
        last = name.rsplit("/", 1)[-1]
        return last.split(":", 1)[1] if ":" in last else None


class Latency(Model):
    mean: Duration | None = None
    jitter: Duration | None = None
    p50: Duration | None = None
    p95: Duration | None = None
    p99: Duration | None = None


class Link(Model):
    """An edge whose traffic goes through envctl's fault proxy (the proxy issue)."""

    from_: str = Field(alias="from", description="A service name, or 'suite'.")
    to: str
    latency: Latency | None = None
    faults: list[dict[str, Any]] = Field(default_factory=list)


class TableSpec(Model):
    rows: Annotated[int, Field(ge=0)] | None = None
    scale: Annotated[float, Field(gt=0)] | None = None
    columns: dict[str, dict[str, Any]] = Field(default_factory=dict)


class DataSeed(Model):
    service: str
    schema_: str | None = Field(None, alias="schema", description="SQL file, blueprint-relative.")
    seed: int = 0
    tables: dict[str, TableSpec] = Field(default_factory=dict)


class Suite(Model):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    run: str = Field(description="Shell command, run from the blueprint's directory.")
    tier: Tier = Tier.standard
    timeout: Duration = 30 * 60.0
    cwd: str | None = None
    env: EnvMap = Field(default_factory=dict)
    junit: str | None = Field(
        None, description="JUnit XML the suite writes; default ${run.dir}/<name>.xml."
    )


class Budget(Model):
    per_run_usd: Annotated[float, Field(ge=0)] | None = None
    monthly_usd: Annotated[float, Field(ge=0)] | None = None


class SecretSpec(Model):
    """A secret envctl generates per environment when no source provides one."""

    generate: bool = False
    length: Annotated[int, Field(ge=8, le=256)] = 24


class Blueprint(Model):
    """One environment: services, the edges between them, data, suites, budget."""

    api_version: Literal["envctl/v1"] = Field(alias="apiVersion")
    kind: Literal["Blueprint"]
    metadata: Metadata
    services: Annotated[
        dict[Annotated[str, Field(pattern=NAME_PATTERN)], Service], Field(min_length=1)
    ]
    links: list[Link] = Field(default_factory=list)
    data: list[DataSeed] = Field(default_factory=list)
    suites: list[Suite] = Field(default_factory=list)
    secrets: dict[str, SecretSpec] = Field(default_factory=dict)
    budget: Budget | None = None
    ttl: Duration = Field(7200.0, description="Reaped by `envctl gc` after this long.")
