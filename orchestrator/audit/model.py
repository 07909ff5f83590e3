"""What an audit compares and what it finds, as frozen data shared by capture, scoring,
the CLI and the run report.

An audit puts two ``ProductionProfile``s side by side (``orchestrator/profile.py``): the
production one, and what the environment has — declared by a blueprint (a static audit)
or observed in a live environment (versions the engines report, rows seeded, their
``pg_stats``, latencies measured through the fault proxy). Both sides use one format, so
a capture of a live environment and a capture of production compare the same way.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Dimension(enum.StrEnum):
    versions = "versions"  # image tags / engine versions
    topology = "topology"  # services and edges present on both sides
    resources = "resources"  # cpu, memory, replicas
    data_volume = "data_volume"  # rows per table, keys per keyspace
    data_shape = "data_shape"  # null fractions, distinct counts, common values
    latency = "latency"  # per-edge p50/p95/p99


# How much each dimension weighs in the overall score (integration failures come from
# versions, data and latency more often than from resources).
WEIGHTS: dict[Dimension, float] = {
    Dimension.versions: 0.25,
    Dimension.topology: 0.10,
    Dimension.resources: 0.10,
    Dimension.data_volume: 0.20,
    Dimension.data_shape: 0.15,
    Dimension.latency: 0.20,
}


@dataclass(frozen=True)
class Difference:
    """One raw difference, with what production has and what the environment has."""

    dimension: Dimension
    subject: str  # 'db', 'db.orders', 'db.orders.email', 'orders -> payments-provider p99'
    production: Any
    environment: Any
    score: float  # 0 (nothing alike) … 1 (the same) for this subject
    note: str = ""  # 'major version 13 vs 15', 'intentional: data_scale 0.01'
    intentional: bool = False  # a declared scale-down: reported, not penalised


@dataclass(frozen=True)
class DimensionScore:
    dimension: Dimension
    score: float | None  # 0-100; None when neither side says anything about it
    differences: list[Difference] = field(default_factory=list)


@dataclass(frozen=True)
class AuditResult:
    subject: str  # the blueprint file or the environment id
    kind: str  # static | live
    profile: str  # the production profile's path or name
    overall: float  # 0-100, the weighted mean of the dimensions that have a score
    dimensions: list[DimensionScore]

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "kind": self.kind,
            "profile": self.profile,
            "overall": round(self.overall, 1),
            "dimensions": {
                d.dimension.value: {
                    "score": None if d.score is None else round(d.score, 1),
                    "differences": [_difference(x) for x in d.differences],
                }
                for d in self.dimensions
            },
        }


def _difference(d: Difference) -> dict[str, Any]:
    out = asdict(d)
    out["dimension"] = d.dimension.value
    out["score"] = round(d.score, 3)
    return out
