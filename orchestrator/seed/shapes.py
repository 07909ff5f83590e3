"""Numbers of a spec's distribution in a range: values, and lengths of texts."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from orchestrator.blueprint.data import ColumnSpec, Distribution
from orchestrator.seed import distributions, hashing
from orchestrator.seed.hashing import F64, U64
from orchestrator.seed.values import SpecError


def shaped(spec: ColumnSpec, lo: float, hi: float, stream: int) -> Callable[[U64], F64]:
    """Floats in [lo, hi] of the spec's distribution (clipped into the range)."""
    dist = spec.distribution or Distribution.uniform
    width = hi - lo
    if dist is Distribution.uniform:
        return lambda rows: lo + hashing.unit(stream, rows) * width
    if dist is Distribution.normal:
        mean = spec.mean if spec.mean is not None else lo + width / 2
        sd = spec.sd or width / 6 or 1.0
        return lambda rows: np.clip(mean + sd * distributions.standard_normal(stream, rows), lo, hi)
    if dist is Distribution.lognormal:
        mu, sd = spec.mean or 0.0, spec.sd or 1.0
        return lambda rows: np.clip(
            lo + np.exp(mu + sd * distributions.standard_normal(stream, rows)), lo, hi
        )
    if dist is Distribution.exponential:
        mean = (spec.mean - lo) if spec.mean is not None else width / 4 or 1.0
        if mean <= 0:
            raise SpecError("exponential: mean must be above min")
        return lambda rows: np.clip(lo + distributions.exponential(stream, rows, mean), lo, hi)
    raise SpecError(f"distribution {dist.value} is not supported here")


def lengths(
    spec: ColumnSpec, lo: int, hi: int, stream: int
) -> Callable[[U64], npt.NDArray[np.int64]]:
    if lo == hi:
        return lambda rows: np.full(len(rows), lo, dtype=np.int64)
    if spec.distribution is Distribution.zipf:
        return lambda rows: lo + distributions.zipf_rank(stream, rows, hi - lo + 1, spec.exponent)
    if spec.distribution in (None, Distribution.uniform):
        return lambda rows: lo + hashing.below(stream, rows, hi - lo + 1).astype(np.int64)
    draw = shaped(spec, lo, hi, stream)
    return lambda rows: np.rint(draw(rows)).astype(np.int64)
