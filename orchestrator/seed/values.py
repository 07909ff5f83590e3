"""The shapes generators share: a batch of values, the generator protocol, a column.

``Values`` is what any generator returns for a batch of row numbers; ``Column`` names
the stream keys a generator draws from. See ``generators.py`` for how specs become
generators and ``pgtypes.py`` for how values become PostgreSQL's binary format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from orchestrator.seed import hashing
from orchestrator.seed.hashing import U64
from orchestrator.seed.ragged import Ragged


class SpecError(ValueError):
    """A spec that cannot generate for this column (said at the spec's line)."""


@dataclass(frozen=True)
class Values:
    """One batch of one column. ``kind``: int | float | bool | text | timestamp | uuid.

    ints are int64, floats float64, bools bool, texts ``Ragged``, timestamps int64
    microseconds since 1970 UTC, uuids a (n, 16) uint8 array. ``nulls`` marks NULLs.
    """

    kind: str
    data: npt.NDArray[np.generic] | Ragged
    nulls: npt.NDArray[np.bool_] | None = None
    decimals: int | None = None

    def __len__(self) -> int:
        return len(self.data)

    def take(self, index: npt.NDArray[np.int64]) -> Values:
        data = self.data.take(index) if isinstance(self.data, Ragged) else self.data[index]
        nulls = self.nulls[index] if self.nulls is not None else None
        return replace(self, data=data, nulls=nulls)


class Generator(Protocol):
    kind: str

    def __call__(self, rows: U64) -> Values: ...


class Parents(Protocol):
    """What a ``ref`` needs to know about the table it points at."""

    def parent(self, table: str, column: str) -> Generator: ...

    def rows(self, table: str) -> int: ...


@dataclass
class Column:
    """Where a spec is being built: names for stream keys, the table's row count."""

    seed: int
    table: str
    name: str
    rows: int
    parents: Parents | None = None
    max_length: int | None = None  # varchar(n)/char(n), for defaults and checks

    def stream(self, purpose: str) -> int:
        return hashing.key(self.seed, self.table, self.name, purpose)


@dataclass
class Fn:
    kind: str
    fn: Callable[[U64], Values]
    decimals: int | None = None

    def __call__(self, rows: U64) -> Values:
        return self.fn(rows)


@dataclass
class WithNulls:
    inner: Generator
    fraction: float
    stream: int
    kind: str = field(init=False)

    def __post_init__(self) -> None:
        self.kind = self.inner.kind

    def __call__(self, rows: U64) -> Values:
        values = self.inner(rows)
        return replace(values, nulls=hashing.unit(self.stream, rows) < self.fraction)
