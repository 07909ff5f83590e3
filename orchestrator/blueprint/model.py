"""The blueprint: an immutable, validated description of one environment.

The JSON Schema in ``blueprints/blueprint.schema.json`` is generated from these models
(``envctl schema``), so the field docs here are the reference users read in their editor.
Cross-field rules (references, cycles) live in ``validate.py``; these models check shape.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from orchestrator.blueprint.data import DataSeed
from orchestrator.blueprint.fields import Cpu, Duration, Model, Size

API_VERSION = "envctl/v1"
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
RESERVED_SERVICE_NAMES = frozenset(
    {"self", "secret", "env", "run", "suite", "envctl-proxy", "envctl-watchdog"}
)


def _scalar_to_text(value: object) -> object:
    # YAML turns `PORT: 8000` and `DEBUG: true` into int and bool; env values are text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


EnvValue = Annotated[str, BeforeValidator(_scalar_to_text)]
EnvMap = dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], EnvValue]


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
    """Settings for the docker and kubernetes runtimes."""

    image: str | None = None
    command: str | None = None
    env: EnvMap = Field(default_factory=dict)
    host_port: Annotated[int, Field(ge=1, le=65535)] | None = Field(
        None,
        description="Publish the service on this fixed port of 127.0.0.1 (docker), for "
        "tools that want a stable address; by default the engine picks a free one.",
    )


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


Probability = Annotated[float, Field(ge=0, le=1, description="Share of connections hit, 0 to 1.")]
StreamName = Literal["upstream", "downstream"]


class FaultBase(Model):
    probability: Probability = 1.0
    stream: StreamName = Field(
        "downstream", description="upstream: client → server; downstream: server → client."
    )


class Latency(FaultBase):
    """Delay per chunk, in order: fixed ± uniform jitter, or fitted to percentiles."""

    mean: Duration | None = None
    jitter: Duration | None = None
    p50: Duration | None = None
    p95: Duration | None = None
    p99: Duration | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> Latency:
        fixed = self.mean is not None or self.jitter is not None
        fitted = any(p is not None for p in (self.p50, self.p95, self.p99))
        if fixed and fitted:
            raise ValueError("give mean/jitter or percentiles (p50, p95, p99), not both")
        if not fixed and not fitted:
            raise ValueError("give mean (and jitter) or percentiles (p50 and p99)")
        if fitted and (self.p50 is None or self.p99 is None):
            raise ValueError("a fitted latency needs at least p50 and p99")
        ordered = [p for p in (self.p50, self.p95, self.p99) if p is not None]
        if ordered != sorted(ordered):
            raise ValueError("percentiles must not decrease: p50 ≤ p95 ≤ p99")
        if fixed and self.mean is None:
            raise ValueError("jitter needs a mean")
        return self


class BandwidthFault(FaultBase):
    rate: Annotated[float, Field(gt=0, description="KB/s, 1 KB = 1000 bytes.")]


class SlicerFault(FaultBase):
    average_size: Annotated[int, Field(gt=0, description="Bytes per write, on average.")]
    size_variation: Annotated[int, Field(ge=0)] = 0
    delay: Duration = 0.0

    @model_validator(mode="after")
    def _variation(self) -> SlicerFault:
        if self.size_variation >= self.average_size:
            raise ValueError("size_variation must be smaller than average_size")
        return self


class LimitDataFault(FaultBase):
    bytes: Size = Field(description="Close the connection after this many bytes.")


class TimeoutFault(FaultBase):
    timeout: Duration = Field(0.0, description="Stop forwarding; close after this (0: never).")


class ResetPeerFault(FaultBase):
    timeout: Duration = Field(0.0, description="Reset (RST) this long after the first data.")


class SlowCloseFault(FaultBase):
    delay: Duration


class DownFault(FaultBase):
    mode: Literal["refuse", "blackhole"] = "refuse"
    duration: Duration = Field(0.0, description="How long (0: until removed).")


def _fault_shorthand(value: object) -> object:
    # `fault: down` reads better in a schedule than `fault: {down: {}}`.
    return {value: {}} if isinstance(value, str) else value


class Fault(Model):
    """One fault: a mapping with exactly one key, the fault's type."""

    latency: Latency | None = None
    bandwidth: BandwidthFault | None = None
    slicer: SlicerFault | None = None
    limit_data: LimitDataFault | None = None
    timeout: TimeoutFault | None = None
    reset_peer: ResetPeerFault | None = None
    slow_close: SlowCloseFault | None = None
    down: DownFault | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Fault:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "a fault is one mapping with exactly one type key, e.g. "
                f"{{reset_peer: {{probability: 0.01}}}}; got {given or 'none'}"
            )
        return self

    @property
    def kind(self) -> str:
        return next(n for n in type(self).model_fields if getattr(self, n) is not None)

    @property
    def params(self) -> FaultBase:
        value = getattr(self, self.kind)
        assert isinstance(value, FaultBase)
        return value


class ScheduledFault(Model):
    """A fault switched on ``at`` after the suites start, for ``for``: an outage drill."""

    at: Duration
    for_: Duration = Field(alias="for")
    fault: Annotated[Fault, BeforeValidator(_fault_shorthand)]


class Link(Model):
    """An edge whose traffic goes through envctl's fault proxy."""

    from_: str = Field(alias="from", description="A service name, or 'suite'.")
    to: str
    latency: Latency | None = None
    faults: list[Fault] = Field(default_factory=list)
    schedule: list[ScheduledFault] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.from_}-{self.to}"


class ProxySettings(Model):
    seed: int | None = Field(
        None, description="Seed of fault decisions; the run records the one used, to replay it."
    )


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
    image: str | None = Field(
        None,
        description="Run the suite in a container of this image on the environment's "
        "network (docker runtime), its cwd and the run dir mounted at the same paths; "
        "by default it runs on the host against published ports.",
    )


class Budget(Model):
    per_run_usd: Annotated[float, Field(ge=0)] | None = None
    monthly_usd: Annotated[float, Field(ge=0)] | None = None


class SecretSpec(Model):
    """A secret envctl generates per environment when no source provides one."""

    generate: bool = False
    length: Annotated[int, Field(ge=8, le=256)] = 24


class Intentional(Model):
    """Scale-downs the environment makes on purpose: the fidelity audit reports them
    and does not penalise them."""

    data_scale: Annotated[float, Field(gt=0, le=1)] | None = Field(
        None, description="Rows are this share of production's (0.01: 1%)."
    )
    replicas: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Services run with this many replicas whatever production has."
    )
    resources_scale: Annotated[float, Field(gt=0, le=1)] | None = Field(
        None, description="CPU and memory are this share of production's."
    )


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
    profile: str | None = Field(
        None,
        description="A production profile (YAML/JSON, blueprint-relative): row counts "
        "that `scale:` in data refers to, and what `envctl audit` compares against.",
    )
    suites: list[Suite] = Field(default_factory=list)
    secrets: dict[str, SecretSpec] = Field(default_factory=dict)
    proxy: ProxySettings = Field(default_factory=ProxySettings)
    budget: Budget | None = None
    intentional: Intentional = Field(default_factory=Intentional)
    pricing: dict[str, float] | None = Field(
        None,
        description="Prices for this blueprint's runs, over the shipped and the user's "
        "price books; keys carry their unit: usd_per_vcpu_hour, usd_per_gib_month …",
    )
    ttl: Duration = Field(7200.0, description="Reaped by `envctl gc` after this long.")
    egress: bool = Field(
        False,
        description="Let services reach beyond their environment (the Docker network is "
        "internal otherwise). The local runtime does not isolate processes.",
    )
