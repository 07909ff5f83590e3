"""Shapes of values: uniform, normal, lognormal, exponential, bounded zipf; permutations.

Each function takes stream keys and row numbers (see ``hashing``) and returns values for
those rows only, so any batch of any table is generated independently of the others.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from orchestrator.seed import hashing
from orchestrator.seed.hashing import F64, U64

I64 = npt.NDArray[np.int64]

# Ranks up to this many get an exact inverse CDF table (8 bytes each); beyond, the
# continuous approximation below, whose error is confined to the first few ranks.
ZIPF_EXACT_LIMIT = 1 << 22


def standard_normal(stream: int, rows: U64) -> F64:
    """Box-Muller on two independent sub-streams."""
    u1 = hashing.open_unit(stream, rows)
    u2 = hashing.unit(stream ^ 0x5DEECE66D, rows)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)


def exponential(stream: int, rows: U64, mean: float) -> F64:
    return -np.log(hashing.open_unit(stream, rows)) * mean


@lru_cache(maxsize=16)
def _zipf_cdf(n: int, exponent: float) -> F64:
    weights = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return cdf


def zipf_rank(stream: int, rows: U64, n: int, exponent: float) -> I64:
    """Ranks in [0, n): rank k (0-based) has weight 1/(k+1)^exponent."""
    u = hashing.unit(stream, rows)
    if n <= ZIPF_EXACT_LIMIT:
        ranks = np.searchsorted(_zipf_cdf(n, exponent), u, side="right")
        return np.minimum(ranks, n - 1).astype(np.int64)
    # Continuous approximation: ∫ from 0.5 to x+0.5 of t^-s, inverted.
    s = exponent
    lo, hi = 0.5, n + 0.5
    if abs(s - 1.0) < 1e-9:
        x = lo * np.exp(u * math.log(hi / lo))
    else:
        a, b = lo ** (1 - s), hi ** (1 - s)
        x = (a + u * (b - a)) ** (1 / (1 - s))
    return np.clip(np.floor(x - 0.5), 0, n - 1).astype(np.int64)


def zipf_share(n: int, exponent: float, top: int) -> float:
    """The share of draws that land on the ``top`` most frequent of ``n`` ranks."""
    weights = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    return float(weights[:top].sum() / weights.sum())


class Permutation:
    """A bijection of [0, n) — ``(a·i + b) mod n`` with ``gcd(a, n) = 1`` — drawn from a
    stream key: unique values in a range, and hot ranks spread over a parent's ids."""

    def __init__(self, stream: int, n: int) -> None:
        if n <= 0:
            raise ValueError("a permutation needs n > 0")
        self.n = n
        a = (stream % n) | 1 if n > 2 else 1
        while math.gcd(a, n) != 1:
            a += 2
        self.a = a % n or 1
        self.b = (stream >> 17) % n

    def __call__(self, index: I64) -> I64:
        i = index.astype(object) if self.n > (1 << 31) else index
        out = (i * self.a + self.b) % self.n
        return np.asarray(out, dtype=np.int64)
