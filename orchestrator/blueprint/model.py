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
    labels: dict[str, str] = Field(
        default_factory=dict, description="Free-form labels for your own tooling."
    )


class Resources(Model):
    """What a service is given: limits on the container runtimes, and what cost charges."""

    cpu: Cpu | None = Field(None, description="CPU cores reserved for the service.")
    memory: Size | None = Field(None, description="Memory reserved for the service.")
    storage: Size | None = Field(None, description="Disk reserved for the service's data.")


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
    env: EnvMap = Field(
        default_factory=dict, description="Variables added to the service's `env` locally."
    )
    stop_signal: Literal["SIGTERM", "SIGINT", "SIGQUIT"] = Field(
        "SIGTERM", description="Sent to the process group at teardown (SIGKILL after 10 s)."
    )


class ContainerOverride(Model):
    """Settings for the docker and kubernetes runtimes."""

    image: str | None = Field(None, description="Run this image instead of the service's.")
    command: str | None = Field(
        None, description="The container's command instead of the image's, split as a shell does."
    )
    env: EnvMap = Field(
        default_factory=dict, description="Variables added to the service's `env` there."
    )
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
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(
        default_factory=list,
        description="Ports it listens on; `${name.port}` is the first. The local runtime "
        "gives the service a free port in its place (its `${self.port}`).",
    )
    env: EnvMap = Field(
        default_factory=dict, description="Environment variables; values may hold `${…}`."
    )
    depends_on: list[str] = Field(
        default_factory=list, description="Services that must be ready before this one starts."
    )
    ready: Readiness | None = Field(
        None,
        description="Readiness probe; default: the engine's own check, else a TCP connect to "
        "the first port, else the process running.",
    )
    resources: Resources = Field(default_factory=Resources, description="CPU, memory, disk.")
    local: LocalOverride | None = Field(None, description="How the local runtime runs it.")
    docker: ContainerOverride | None = Field(None, description="Overrides on docker.")
    kubernetes: ContainerOverride | None = Field(None, description="Overrides on kubernetes.")

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

    mean: Duration | None = Field(None, description="Fixed delay per chunk.")
    jitter: Duration | None = Field(None, description="Uniform ± around `mean`.")
    p50: Duration | None = Field(None, description="Median delay (with `p99`: a log-normal).")
    p95: Duration | None = Field(None, description="95th percentile delay.")
    p99: Duration | None = Field(None, description="99th percentile delay.")

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
    size_variation: Annotated[int, Field(ge=0)] = Field(
        0, description="Bytes more or less than average_size per write."
    )
    delay: Duration = Field(0.0, description="Pause between two writes.")

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
    delay: Duration = Field(description="Hold a close this long before passing it on.")


class DownFault(FaultBase):
    mode: Literal["refuse", "blackhole"] = Field(
        "refuse",
        description="refuse: new connections are refused and live ones reset; blackhole: "
        "accepted, nothing forwarded.",
    )
    duration: Duration = Field(0.0, description="How long (0: until removed).")


def _fault_shorthand(value: object) -> object:
    # `fault: down` reads better in a schedule than `fault: {down: {}}`.
    return {value: {}} if isinstance(value, str) else value


class Fault(Model):
    """One fault: a mapping with exactly one key, the fault's type."""

    latency: Latency | None = Field(None, description="Delay every chunk.")
    bandwidth: BandwidthFault | None = Field(None, description="Cap the rate.")
    slicer: SlicerFault | None = Field(None, description="Split writes into small ones.")
    limit_data: LimitDataFault | None = Field(None, description="Close after some bytes.")
    timeout: TimeoutFault | None = Field(None, description="Stop forwarding.")
    reset_peer: ResetPeerFault | None = Field(None, description="Reset the connection.")
    slow_close: SlowCloseFault | None = Field(None, description="Delay closes.")
    down: DownFault | None = Field(None, description="Take the link down.")

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

    at: Duration = Field(description="When, counted from the start of the suites.")
    for_: Duration = Field(alias="for", description="How long the fault stays on.")
    fault: Annotated[Fault, BeforeValidator(_fault_shorthand)] = Field(
        description="The fault; a bare type (`down`) means its defaults."
    )


class Link(Model):
    """An edge whose traffic goes through envctl's fault proxy."""

    from_: str = Field(alias="from", description="A service name, or 'suite'.")
    to: str = Field(description="The service whose traffic goes through the proxy.")
    latency: Latency | None = Field(None, description="Production's latency on this edge.")
    faults: list[Fault] = Field(default_factory=list, description="Faults from the start.")
    schedule: list[ScheduledFault] = Field(
        default_factory=list, description="Faults switched on and off while the suites run."
    )

    @property
    def name(self) -> str:
        return f"{self.from_}-{self.to}"


class ProxySettings(Model):
    seed: int | None = Field(
        None, description="Seed of fault decisions; the run records the one used, to replay it."
    )


class Suite(Model):
    name: Annotated[str, Field(pattern=NAME_PATTERN, description="Unique among the suites.")]
    run: str = Field(description="Shell command, run from the blueprint's directory.")
    tier: Tier = Field(Tier.standard, description="Selected by `envctl run --tier`.")
    timeout: Duration = Field(
        30 * 60.0, description="Stopped with its whole process group after this long."
    )
    cwd: str | None = Field(None, description="Where `run` runs, relative to the blueprint.")
    env: EnvMap = Field(
        default_factory=dict, description="Extra variables, besides the `ENVCTL_*` endpoints."
    )
    junit: str | None = Field(
        None, description="JUnit XML the suite writes; default ${run.dir}/<name>.xml."
    )
    image: str | None = Field(
        None,
        description="Run the suite in a container of this image on the environment's "
        "network (docker; a Job in its namespace on kubernetes), its cwd and the run dir "
        "at the same paths; by default it runs on the host against published ports.",
    )


class Budget(Model):
    """What the blueprint's runs may cost; `envctl run --enforce-budget` exits 4 over it."""

    per_run_usd: Annotated[float, Field(ge=0)] | None = Field(
        None, description="Limit for one run, in USD."
    )
    monthly_usd: Annotated[float, Field(ge=0)] | None = Field(
        None, description="Limit for a calendar month of runs (from the ledger), in USD."
    )


class SecretSpec(Model):
    """A secret envctl generates per environment when no source provides one."""

    generate: bool = Field(False, description="Make a random value per environment.")
    length: Annotated[int, Field(ge=8, le=256)] = Field(
        24, description="Letters and digits in a generated value."
    )


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

    api_version: Literal["envctl/v1"] = Field(
        alias="apiVersion", description="The blueprint format's version."
    )
    kind: Literal["Blueprint"] = Field(description="What this document is.")
    metadata: Metadata = Field(description="Name, owning team, tier.")
    services: Annotated[
        dict[Annotated[str, Field(pattern=NAME_PATTERN)], Service],
        Field(
            min_length=1,
            description="Name → service. Names are DNS labels; `self`, `secret`, `env`, "
            "`run`, `suite` and `envctl-*` names are reserved.",
        ),
    ]
    links: list[Link] = Field(
        default_factory=list, description="Edges through envctl's fault proxy."
    )
    data: list[DataSeed] = Field(
        default_factory=list, description="What to load into services before the suites."
    )
    profile: str | None = Field(
        None,
        description="A production profile (YAML/JSON, blueprint-relative): row counts "
        "that `scale:` in data refers to, and what `envctl audit` compares against.",
    )
    suites: list[Suite] = Field(
        default_factory=list, description="Test commands run against the environment."
    )
    secrets: dict[str, SecretSpec] = Field(
        default_factory=dict, description="Secrets to generate when no source gives them."
    )
    proxy: ProxySettings = Field(
        default_factory=ProxySettings, description="Settings of the fault proxy."
    )
    budget: Budget | None = Field(None, description="Cost limits, checked on every run.")
    intentional: Intentional = Field(
        default_factory=Intentional, description="Declared scale-downs from production."
    )
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
