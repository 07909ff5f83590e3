"""Column generators: a ``ColumnSpec`` becomes a function from row numbers to values.

``build`` turns one spec into a ``Generator``; calling it with a batch of row numbers
gives ``Values`` for exactly those rows. Values are typed loosely (int, float, bool,
text, timestamp, uuid) and converted to the column's PostgreSQL type by ``pgtypes``.
A ``ref`` evaluates its parent column's generator at the chosen parent rows, so foreign
keys always point at rows that exist, without reading them back from the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from orchestrator.blueprint.data import ColumnSpec, Distribution
from orchestrator.seed import distributions, hashing, shapes, texts
from orchestrator.seed.distributions import Permutation
from orchestrator.seed.hashing import U64
from orchestrator.seed.ragged import Ragged
from orchestrator.seed.values import (
    Column,
    Fn,
    Generator,
    Parents,
    SpecError,
    Values,
    WithNulls,
)

__all__ = ["Column", "Generator", "Parents", "SpecError", "Values", "build", "existing"]

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def build(spec: ColumnSpec, col: Column) -> Generator:
    gen = _BUILDERS[spec.kind](spec, col)
    if spec.null_fraction > 0:
        return WithNulls(gen, spec.null_fraction, col.stream("null"))
    return gen


# -- numbers ----------------------------------------------------------------------------------


def _sequence(spec: ColumnSpec, col: Column) -> Generator:
    start, step = spec.sequence or 0, spec.step
    return Fn("int", lambda rows: Values("int", start + rows.astype(np.int64) * step))


def _int(spec: ColumnSpec, col: Column) -> Generator:
    assert spec.int_ is not None
    lo, hi = spec.int_
    span = hi - lo + 1
    stream = col.stream("v")
    if spec.unique:
        if col.rows > span:
            raise SpecError(f"{col.rows} unique values do not fit in [{lo}, {hi}]")
        perm = Permutation(stream, span)
        return Fn("int", lambda rows: Values("int", lo + perm(rows.astype(np.int64))))
    if spec.distribution is Distribution.zipf:
        return Fn(
            "int",
            lambda rows: Values(
                "int", lo + distributions.zipf_rank(stream, rows, span, spec.exponent)
            ),
        )
    if spec.distribution in (None, Distribution.uniform):
        return Fn(
            "int",
            lambda rows: Values("int", lo + hashing.below(stream, rows, span).astype(np.int64)),
        )
    shaped = shapes.shaped(spec, lo, hi, stream)
    return Fn("int", lambda rows: Values("int", np.rint(shaped(rows)).astype(np.int64)))


def _float(spec: ColumnSpec, col: Column) -> Generator:
    assert spec.float_ is not None
    lo, hi = spec.float_
    stream = col.stream("v")
    if spec.distribution is Distribution.zipf:
        raise SpecError("zipf draws ranks: use it with int or ref columns")
    shaped = shapes.shaped(spec, lo, hi, stream)
    digits = spec.decimals

    def make(rows: U64) -> Values:
        out = shaped(rows)
        return Values("float", np.round(out, digits) if digits is not None else out, None, digits)

    return Fn("float", make, digits)


def _bool(spec: ColumnSpec, col: Column) -> Generator:
    p, stream = spec.bool_ or 0.0, col.stream("v")
    return Fn("bool", lambda rows: Values("bool", hashing.unit(stream, rows) < p))


def _uuid(spec: ColumnSpec, col: Column) -> Generator:
    hi, lo = col.stream("hi"), col.stream("lo")

    def make(rows: U64) -> Values:
        words = np.stack([hashing.bits(hi, rows), hashing.bits(lo, rows)], axis=1)
        raw = words.astype(">u8").view(np.uint8).reshape(len(rows), 16).copy()
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
        return Values("uuid", raw)

    return Fn("uuid", make)


def _constant(spec: ColumnSpec, col: Column) -> Generator:
    value = spec.value
    assert value is not None
    if isinstance(value, bool):
        return Fn("bool", lambda rows: Values("bool", np.full(len(rows), value)))
    if isinstance(value, int):
        return Fn("int", lambda rows: Values("int", np.full(len(rows), value, np.int64)))
    if isinstance(value, float):
        return Fn("float", lambda rows: Values("float", np.full(len(rows), value)))
    raw = str(value).encode()
    return Fn("text", lambda rows: Values("text", Ragged.constant(raw, len(rows))))


def _choice(spec: ColumnSpec, col: Column) -> Generator:
    choice = spec.choice
    assert choice is not None
    if isinstance(choice, dict):
        options: list[object] = list(choice)
        weights = np.array(list(choice.values()), dtype=np.float64)
    else:
        options, weights = list(choice), np.ones(len(choice))
    cdf = np.cumsum(weights) / weights.sum()
    stream = col.stream("v")
    kind, table = _choice_table(options)

    def make(rows: U64) -> Values:
        index = np.minimum(
            np.searchsorted(cdf, hashing.unit(stream, rows), side="right"), len(cdf) - 1
        )
        if isinstance(table, Ragged):
            return Values(kind, table.take(index))
        return Values(kind, table[index])

    return Fn(kind, make)


def _choice_table(options: list[object]) -> tuple[str, npt.NDArray[np.generic] | Ragged]:
    if all(isinstance(o, bool) for o in options):
        return "bool", np.array(options, dtype=bool)
    if all(isinstance(o, int) and not isinstance(o, bool) for o in options):
        return "int", np.array(options, dtype=np.int64)
    if all(isinstance(o, int | float) and not isinstance(o, bool) for o in options):
        return "float", np.array(options, dtype=np.float64)
    return "text", Ragged.from_strings([str(o) for o in options])


# -- time -------------------------------------------------------------------------------------


def _micros(value: dt.datetime | dt.date) -> int:
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - EPOCH) // dt.timedelta(microseconds=1)


def _timestamp(spec: ColumnSpec, col: Column) -> Generator:
    assert spec.timestamp is not None
    start, end = (_micros(v) for v in spec.timestamp)
    span = end - start
    growth = spec.trend
    stream = col.stream("v")
    if spec.unique:
        raise SpecError("timestamps cannot be unique here; use a sequence or uuid")

    def make(rows: U64) -> Values:
        u = hashing.unit(stream, rows)
        if growth is not None and abs(growth - 1.0) > 1e-12:
            # Density rises linearly from 1 at `from` to `trend` at `to`: invert its CDF.
            g = growth - 1.0
            u = (np.sqrt(1.0 + 2.0 * g * u * (1.0 + g / 2.0)) - 1.0) / g
        return Values("timestamp", start + np.floor(u * span).astype(np.int64))

    return Fn("timestamp", make)


# -- references ---------------------------------------------------------------------------------


def _ref(spec: ColumnSpec, col: Column) -> Generator:
    target = spec.ref_target
    assert target is not None and col.parents is not None
    table, column = target
    parent = col.parents.parent(table, column)
    n = col.parents.rows(table)
    if n == 0:
        raise SpecError(f"{spec.ref} has no rows to refer to")
    stream = col.stream("ref")
    dist = spec.distribution or Distribution.uniform
    if spec.unique:
        if col.rows > n:
            raise SpecError(f"{col.rows} unique references need as many rows in {table}, not {n}")
        perm = Permutation(stream, n)
        return Fn(parent.kind, lambda rows: parent(perm(rows.astype(np.int64)).astype(np.uint64)))
    if dist is Distribution.zipf:
        # Rank 0 is the hottest parent; the permutation spreads hot parents over the ids.
        spread = Permutation(stream ^ 0xA5A5, n)

        def pick(rows: U64) -> npt.NDArray[np.int64]:
            return spread(distributions.zipf_rank(stream, rows, n, spec.exponent))

    elif dist is Distribution.uniform:

        def pick(rows: U64) -> npt.NDArray[np.int64]:
            return hashing.below(stream, rows, n).astype(np.int64)

    else:
        # normal/exponential over the parent rows, with mean and sd as shares of them.
        shaped = shapes.shaped(spec, 0.0, 1.0, stream)

        def pick(rows: U64) -> npt.NDArray[np.int64]:
            return np.minimum((shaped(rows) * n).astype(np.int64), n - 1)

    return Fn(parent.kind, lambda rows: parent(pick(rows).astype(np.uint64)))


def existing(kind: str, values: Values) -> Generator:
    """Rows already in a table (one not seeded here): row i is the i-th existing value."""
    return Fn(kind, lambda rows: values.take(rows.astype(np.int64)))


_BUILDERS: dict[str, Callable[[ColumnSpec, Column], Generator]] = {
    "sequence": _sequence,
    "int": _int,
    "float": _float,
    "choice": _choice,
    "text": texts.text,
    "fake": texts.fake,
    "timestamp": _timestamp,
    "bool": _bool,
    "uuid": _uuid,
    "ref": _ref,
    "value": _constant,
}
