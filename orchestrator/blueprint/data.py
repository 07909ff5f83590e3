"""The blueprint's ``data`` section: what to load into an engine before the suites run.

One entry per seeded service. For PostgreSQL: a schema file, generated ``tables`` (row
counts and column generators) and/or a ``restore`` of a dump with PII transforms; for
Redis: ``keyspaces``. Shapes are checked here (each error at its own line); references
between tables are checked in ``validate.py``; what only the live schema can tell (does
the column exist, what type is it) is checked when seeding, still at the spec's line.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from orchestrator.blueprint.fields import Duration, Model

Scalar = str | int | float | bool
Fraction = Annotated[float, Field(ge=0, le=1)]


class Distribution(enum.StrEnum):
    uniform = "uniform"
    normal = "normal"
    lognormal = "lognormal"
    exponential = "exponential"
    zipf = "zipf"


class FakeKind(enum.StrEnum):
    """Realistic-looking values, deterministic like every other generator."""

    first_name = "first_name"
    last_name = "last_name"
    name = "name"
    email = "email"
    phone = "phone"
    street = "street"
    city = "city"
    country = "country"
    address = "address"
    company = "company"
    word = "word"
    sentence = "sentence"


def _pair(value: object) -> object:
    # `text: 20` means exactly 20; `int: [1, 10]` a range. Both become [lo, hi].
    if isinstance(value, list | tuple):
        return list(value)
    if value is None or isinstance(value, bool | dict):
        return value
    return [value, value]


IntRange = Annotated[tuple[int, int], BeforeValidator(_pair)]
FloatRange = Annotated[tuple[float, float], BeforeValidator(_pair)]
TimeRange = tuple[dt.datetime | dt.date, dt.datetime | dt.date]

GENERATOR_KEYS = (
    "sequence",
    "int",
    "float",
    "choice",
    "text",
    "fake",
    "timestamp",
    "bool",
    "uuid",
    "ref",
    "value",
)
# Generator keys that are Python keywords or builtins are stored under another name.
_ATTRIBUTE = {"int": "int_", "float": "float_", "bool": "bool_"}


class ColumnSpec(Model):
    """How one column's values are made: exactly one generator key plus modifiers.

    Every value is a function of (seed, table, column, row number), so the same seed
    gives the same rows whatever the batch size, parallelism or table order.
    """

    sequence: int | None = Field(None, description="Start of 1, 2, 3 … (with `step`).")
    int_: IntRange | None = Field(None, alias="int", description="[min, max] inclusive.")
    float_: FloatRange | None = Field(None, alias="float", description="[min, max].")
    choice: list[Scalar] | dict[str, Annotated[float, Field(gt=0)]] | None = Field(
        None, description="A list (equal weights) or a mapping value → weight."
    )
    text: IntRange | None = Field(None, description="Length range [min, max] in characters.")
    fake: FakeKind | None = Field(None, description="A realistic value of this kind.")
    timestamp: TimeRange | None = Field(None, description="[from, to]; also for dates.")
    bool_: Fraction | None = Field(None, alias="bool", description="Share of true values.")
    uuid: bool | None = Field(None, description="Version-4 UUIDs.")
    ref: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$",
        description="'table.column' of a parent table seeded in the same data entry.",
    )
    value: Scalar | None = Field(None, description="A constant.")

    step: int = Field(1, description="Sequence step.")
    distribution: Distribution | None = Field(
        None, description="Shape of int/float/ref/text-length values; uniform by default."
    )
    mean: float | None = Field(None, description="normal: mean; lognormal: mean of the log.")
    sd: Annotated[float, Field(gt=0)] | None = Field(None, description="Standard deviation.")
    exponent: Annotated[float, Field(gt=0)] = Field(
        1.0, description="zipf: weight of rank k is 1/k^exponent."
    )
    decimals: Annotated[int, Field(ge=0, le=12)] | None = Field(
        None, description="float: round to this many decimals."
    )
    trend: Annotated[float, Field(gt=0)] | None = Field(
        None, description="timestamp: density at `to` over density at `from` (growth)."
    )
    null_fraction: Fraction = Field(0.0, description="Share of NULL values.")
    unique: bool = Field(False, description="No value twice (a ref: one child per parent).")

    @model_validator(mode="after")
    def _check(self) -> ColumnSpec:
        kinds = self.kinds
        if len(kinds) != 1:
            raise ValueError(
                f"a column needs exactly one generator ({', '.join(GENERATOR_KEYS)}); "
                f"got {', '.join(kinds) if kinds else 'none'}"
            )
        kind = kinds[0]
        for name, lo_hi in (("int", self.int_), ("float", self.float_), ("text", self.text)):
            if lo_hi is not None and lo_hi[0] > lo_hi[1]:
                raise ValueError(f"{name}: min {lo_hi[0]} is greater than max {lo_hi[1]}")
        if self.text is not None and self.text[0] < 0:
            raise ValueError("text: a length cannot be negative")
        if self.timestamp is not None and _as_datetime(self.timestamp[0]) > _as_datetime(
            self.timestamp[1]
        ):
            raise ValueError("timestamp: `from` is after `to`")
        self._check_distribution(kind)
        if self.trend is not None and kind != "timestamp":
            raise ValueError("trend applies to timestamp columns only")
        if self.unique and kind in ("bool", "value", "choice"):
            raise ValueError(f"{kind} values cannot be unique")
        if self.unique and self.null_fraction:
            raise ValueError("a unique column cannot have a null_fraction here")
        if self.choice is not None and len(self.choice) == 0:
            raise ValueError("choice needs at least one value")
        return self

    def _check_distribution(self, kind: str) -> None:
        dist = self.distribution
        if dist is None:
            if self.mean is not None or self.sd is not None:
                raise ValueError("mean/sd need `distribution: normal` or `lognormal`")
            return
        shaped = {"int", "float", "ref", "text"}
        if kind not in shaped:
            raise ValueError(f"distribution applies to {', '.join(sorted(shaped))}, not {kind}")
        if dist in (Distribution.normal, Distribution.lognormal) and self.sd is None:
            raise ValueError(f"distribution {dist.value} needs sd (and mean)")
        if dist is Distribution.lognormal and kind == "ref":
            raise ValueError("a ref takes uniform, normal, exponential or zipf")
        if self.unique and dist is not Distribution.uniform:
            raise ValueError("unique values are drawn uniformly; drop the distribution")

    @property
    def kinds(self) -> list[str]:
        return [k for k in GENERATOR_KEYS if getattr(self, _ATTRIBUTE.get(k, k)) is not None]

    @property
    def kind(self) -> str:
        return self.kinds[0]

    @property
    def ref_target(self) -> tuple[str, str] | None:
        if self.ref is None:
            return None
        table, column = self.ref.split(".", 1)
        return table, column


def _as_datetime(value: dt.datetime | dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


class TableSpec(Model):
    """A table to fill: how many rows, and generators for (some of) its columns."""

    rows: Annotated[int, Field(ge=0)] | None = Field(None, description="Absolute row count.")
    scale: Annotated[float, Field(gt=0)] | None = Field(
        None, description="Share of production's row count (from the blueprint's profile)."
    )
    columns: dict[str, ColumnSpec] = Field(
        default_factory=dict, description="Column name → how its values are made."
    )
    infer: bool = Field(
        True, description="Generate columns not listed from their type, name and constraints."
    )

    @model_validator(mode="after")
    def _count(self) -> TableSpec:
        if self.rows is not None and self.scale is not None:
            raise ValueError("give rows or scale, not both")
        return self


class RedisType(enum.StrEnum):
    string = "string"
    hash = "hash"
    list = "list"
    set = "set"
    zset = "zset"


class Keyspace(Model):
    """``count`` Redis keys named by ``pattern`` ('session:{id}'), of one type."""

    pattern: Annotated[str, Field(min_length=1)] = Field(
        description="Key names; `{id}` is replaced by each key's number."
    )
    count: Annotated[int, Field(ge=0)] = Field(1, description="How many keys.")
    type: RedisType = Field(RedisType.string, description="The Redis type of every key.")
    value_size: IntRange = Field((16, 16), description="Bytes per value: n or [min, max].")
    length: IntRange = Field(
        (1, 1), description="Fields (hash) or members (list/set/zset) per key: n or [min, max]."
    )
    ttl: tuple[Duration, Duration] | None = Field(
        None, description="Expiry: a duration or [min, max]; none by default."
    )

    @model_validator(mode="before")
    @classmethod
    def _ttl_pair(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and data.get("ttl") is not None
            and not isinstance(data["ttl"], list | tuple)
        ):
            data = {**data, "ttl": [data["ttl"], data["ttl"]]}
        return data

    @model_validator(mode="after")
    def _check(self) -> Keyspace:
        if self.count > 1 and "{id}" not in self.pattern:
            raise ValueError(f"pattern {self.pattern!r} needs '{{id}}' to name {self.count} keys")
        for name, (lo, hi) in (("value_size", self.value_size), ("length", self.length)):
            if lo < 0 or lo > hi:
                raise ValueError(f"{name}: need 0 ≤ min ≤ max, got [{lo}, {hi}]")
        if self.length[0] < 1 and self.type is not RedisType.string:
            raise ValueError("length: a hash, list, set or zset needs at least 1 member")
        if self.ttl is not None and (self.ttl[0] <= 0 or self.ttl[0] > self.ttl[1]):
            raise ValueError("ttl: need 0 < min ≤ max")
        return self


TRANSFORM_PATTERN = r"^(hash|null|fake:[a-z_]+)$"


class Restore(Model):
    """Load a prepared sample: a plain SQL dump or a ``pg_dump -Fc`` file."""

    file: str = Field(description="The dump, blueprint-relative.")
    transforms: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$")],
        Annotated[str, Field(pattern=TRANSFORM_PATTERN)],
    ] = Field(
        default_factory=dict,
        description="'table.column': hash | null | fake:<kind>, applied before the suites; "
        "fake values are consistent (the same input gives the same output everywhere).",
    )

    @model_validator(mode="after")
    def _kinds(self) -> Restore:
        for key, transform in self.transforms.items():
            if transform.startswith("fake:"):
                kind = transform.removeprefix("fake:")
                if kind not in FakeKind.__members__:
                    raise ValueError(
                        f"{key}: unknown fake kind {kind!r}; "
                        f"kinds: {', '.join(FakeKind.__members__)}"
                    )
        return self


class DataSeed(Model):
    """Data for one service, loaded after it is ready and before the suites."""

    service: str = Field(description="The service to seed (an `engine` service).")
    schema_: str | None = Field(None, alias="schema", description="SQL file, blueprint-relative.")
    seed: int = Field(0, description="Same seed, same rows.")
    scale: Annotated[float, Field(gt=0)] | None = Field(
        None, description="Default `scale` for tables that give neither rows nor scale."
    )
    tables: dict[str, TableSpec] = Field(
        default_factory=dict, description="PostgreSQL: table name → rows to generate."
    )
    keyspaces: list[Keyspace] = Field(default_factory=list, description="Redis: keys to make.")
    restore: Restore | None = Field(None, description="PostgreSQL: a dump to restore.")
    cache: bool = Field(
        True,
        description="Keep the seeded data (keyed by this entry, the schema and the "
        "generator version) and start later environments from a copy.",
    )
