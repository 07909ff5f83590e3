"""Counter-based randomness: every value is a pure function of (seed, names…, row).

A seeded stream (``random.Random(seed)``) makes row 1,000,000 depend on every draw
before it, so batch size, parallelism, table order or one added column would change the
data. Instead each column gets a 64-bit key from its names, and row ``i`` of it is
``splitmix64(key + i * golden)`` — SplitMix64's own output for state ``key`` at step ``i``,
which passes BigCrush — computed for a whole batch of row numbers at once with numpy.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 2.0**-53


def key(seed: int, *names: str | int) -> int:
    """A 64-bit stream key for ``names`` under ``seed`` (stable across runs and hosts)."""
    text = "\x1f".join([str(seed), *map(str, names)]).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def bits(stream: int, rows: U64) -> U64:
    """Row ``rows[j]``'s 64 random bits in stream ``stream``."""
    with np.errstate(over="ignore"):
        z = np.uint64(stream) + (rows + np.uint64(1)) * _GAMMA
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        return z ^ (z >> _S31)


def unit(stream: int, rows: U64) -> F64:
    """Uniform floats in [0, 1), 53 bits each."""
    return (bits(stream, rows) >> _S11).astype(np.float64) * _TO_UNIT


def open_unit(stream: int, rows: U64) -> F64:
    """Uniform floats in (0, 1): safe to take the log of."""
    return ((bits(stream, rows) >> _S11).astype(np.float64) + 0.5) * _TO_UNIT


def below(stream: int, rows: U64, bound: int) -> U64:
    """Uniform integers in [0, bound), by Lemire's multiply-shift on the top 32 bits
    (bias ≤ bound/2³², negligible for row counts) or 53-bit floats for larger bounds."""
    if bound <= 0:
        raise ValueError("bound must be positive")
    if bound <= 1 << 32:
        top = bits(stream, rows) >> np.uint64(32)
        with np.errstate(over="ignore"):
            return (top * np.uint64(bound)) >> np.uint64(32)
    return np.minimum((unit(stream, rows) * bound).astype(np.uint64), np.uint64(bound - 1))
