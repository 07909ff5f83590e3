"""What a seed did, recorded on the run: per table or keyspace, rows, bytes, seconds."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class TargetStats:
    """One table, keyspace or restored dump."""

    name: str  # 'orders', 'session:{id}', 'restore sample.dump'
    kind: str  # table | keyspace | restore
    rows: int  # rows, keys, or rows restored
    bytes: int  # on-disk size after loading (tables), value bytes (keyspaces)
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_second": round(self.rows_per_second, 1)}


@dataclass(frozen=True)
class SeedStats:
    """One data entry of a blueprint, on one service."""

    service: str
    seconds: float
    cache: str  # hit | miss | off
    targets: list[TargetStats] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # schema, load, index, analyze …

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.targets)

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "seconds": round(self.seconds, 3),
            "cache": self.cache,
            "rows": self.rows,
            "rows_per_second": round(self.rows / self.seconds, 1) if self.seconds > 0 else 0.0,
            "phases": {k: round(v, 3) for k, v in self.phases.items()},
            "targets": [t.to_dict() for t in self.targets],
        }
