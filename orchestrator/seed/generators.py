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
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from orchestrator.blueprint.data import ColumnSpec, Distribution, FakeKind
from orchestrator.seed import distributions, hashing, wordlists
from orchestrator.seed.distributions import Permutation
from orchestrator.seed.hashing import F64, U64
from orchestrator.seed.ragged import Ragged, decimal, join

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
US = 1_000_000


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
class _Fn:
    kind: str
    fn: Callable[[U64], Values]
    decimals: int | None = None

    def __call__(self, rows: U64) -> Values:
        return self.fn(rows)


@dataclass
class _WithNulls:
    inner: Generator
    fraction: float
    stream: int
    kind: str = field(init=False)

    def __post_init__(self) -> None:
        self.kind = self.inner.kind

    def __call__(self, rows: U64) -> Values:
        values = self.inner(rows)
        return replace(values, nulls=hashing.unit(self.stream, rows) < self.fraction)


def build(spec: ColumnSpec, col: Column) -> Generator:
    gen = _BUILDERS[spec.kind](spec, col)
    if spec.null_fraction > 0:
        return _WithNulls(gen, spec.null_fraction, col.stream("null"))
    return gen


# -- numbers ----------------------------------------------------------------------------------


def _sequence(spec: ColumnSpec, col: Column) -> Generator:
    start, step = spec.sequence or 0, spec.step
    return _Fn("int", lambda rows: Values("int", start + rows.astype(np.int64) * step))


def _shaped(
    spec: ColumnSpec, col: Column, lo: float, hi: float, stream: int
) -> Callable[[U64], F64]:
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


def _int(spec: ColumnSpec, col: Column) -> Generator:
    assert spec.int_ is not None
    lo, hi = spec.int_
    span = hi - lo + 1
    stream = col.stream("v")
    if spec.unique:
        if col.rows > span:
            raise SpecError(f"{col.rows} unique values do not fit in [{lo}, {hi}]")
        perm = Permutation(stream, span)
        return _Fn("int", lambda rows: Values("int", lo + perm(rows.astype(np.int64))))
    if spec.distribution is Distribution.zipf:
        return _Fn(
            "int",
            lambda rows: Values(
                "int", lo + distributions.zipf_rank(stream, rows, span, spec.exponent)
            ),
        )
    if spec.distribution in (None, Distribution.uniform):
        return _Fn(
            "int",
            lambda rows: Values("int", lo + hashing.below(stream, rows, span).astype(np.int64)),
        )
    shaped = _shaped(spec, col, lo, hi, stream)
    return _Fn("int", lambda rows: Values("int", np.rint(shaped(rows)).astype(np.int64)))


def _float(spec: ColumnSpec, col: Column) -> Generator:
    assert spec.float_ is not None
    lo, hi = spec.float_
    stream = col.stream("v")
    if spec.distribution is Distribution.zipf:
        raise SpecError("zipf draws ranks: use it with int or ref columns")
    shaped = _shaped(spec, col, lo, hi, stream)
    digits = spec.decimals

    def make(rows: U64) -> Values:
        out = shaped(rows)
        return Values("float", np.round(out, digits) if digits is not None else out, None, digits)

    return _Fn("float", make, digits)


def _bool(spec: ColumnSpec, col: Column) -> Generator:
    p, stream = spec.bool_ or 0.0, col.stream("v")
    return _Fn("bool", lambda rows: Values("bool", hashing.unit(stream, rows) < p))


def _uuid(spec: ColumnSpec, col: Column) -> Generator:
    hi, lo = col.stream("hi"), col.stream("lo")

    def make(rows: U64) -> Values:
        words = np.stack([hashing.bits(hi, rows), hashing.bits(lo, rows)], axis=1)
        raw = words.astype(">u8").view(np.uint8).reshape(len(rows), 16).copy()
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
        return Values("uuid", raw)

    return _Fn("uuid", make)


def _constant(spec: ColumnSpec, col: Column) -> Generator:
    value = spec.value
    assert value is not None
    if isinstance(value, bool):
        return _Fn("bool", lambda rows: Values("bool", np.full(len(rows), value)))
    if isinstance(value, int):
        return _Fn("int", lambda rows: Values("int", np.full(len(rows), value, np.int64)))
    if isinstance(value, float):
        return _Fn("float", lambda rows: Values("float", np.full(len(rows), value)))
    raw = str(value).encode()
    return _Fn("text", lambda rows: Values("text", Ragged.constant(raw, len(rows))))


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

    return _Fn(kind, make)


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

    return _Fn("timestamp", make)


# -- text ---------------------------------------------------------------------------------------


class _Pool:
    """A few hundred KiB of deterministic words: texts are slices of it."""

    _cache: dict[int, Ragged] = {}
    SIZE = 1 << 18

    @classmethod
    def text(cls, seed: int) -> Ragged:
        if seed not in cls._cache:
            words = Ragged.from_strings([w + " " for w in wordlists.LOREM])
            count = cls.SIZE // 6
            pick = hashing.below(
                hashing.key(seed, "pool"), np.arange(count, dtype=np.uint64), len(words)
            )
            joined = words.take(pick.astype(np.int64))
            cls._cache[seed] = Ragged(np.array([len(joined.data)]), joined.data)
        return cls._cache[seed]


def _lengths(
    spec: ColumnSpec, col: Column, lo: int, hi: int, stream: int
) -> Callable[[U64], npt.NDArray[np.int64]]:
    if lo == hi:
        return lambda rows: np.full(len(rows), lo, dtype=np.int64)
    if spec.distribution is Distribution.zipf:
        return lambda rows: lo + distributions.zipf_rank(stream, rows, hi - lo + 1, spec.exponent)
    if spec.distribution in (None, Distribution.uniform):
        return lambda rows: lo + hashing.below(stream, rows, hi - lo + 1).astype(np.int64)
    shaped = _shaped(spec, col, lo, hi, stream)
    return lambda rows: np.rint(shaped(rows)).astype(np.int64)


def _text(spec: ColumnSpec, col: Column) -> Generator:
    assert spec.text is not None
    lo, hi = spec.text
    if col.max_length is not None and hi > col.max_length:
        raise SpecError(f"text up to {hi} characters does not fit the column's {col.max_length}")
    pool = _Pool.text(col.seed)
    pool_size = int(pool.lengths[0])
    if hi > pool_size:
        raise SpecError(f"text longer than {pool_size} characters is not supported")
    lengths = _lengths(spec, col, lo, hi, col.stream("len"))
    start_stream = col.stream("start")

    def make(rows: U64) -> Values:
        n = lengths(rows)
        starts = hashing.below(start_stream, rows, pool_size - hi + 1).astype(np.int64)
        if not spec.unique:
            return Values("text", pool.slices(starts, n))
        # Unique: the row number first, then words to the drawn length.
        number = join([decimal(rows.astype(np.int64)), Ragged.constant(b" ", len(rows))])
        rest = np.maximum(n - number.lengths, 0)
        return Values("text", join([number, pool.slices(starts, rest)]))

    if spec.unique and col.max_length is not None and len(str(col.rows)) + 1 > col.max_length:
        raise SpecError("unique text needs room for the row number")
    return _Fn("text", make)


def _words(values: list[str]) -> Ragged:
    return Ragged.from_strings(values)


_FIRST, _LAST = _words(wordlists.FIRST_NAMES), _words(wordlists.LAST_NAMES)
_DOMAINS, _STREETS = _words(wordlists.EMAIL_DOMAINS), _words(wordlists.STREETS)
_SUFFIXES, _CITIES = _words(wordlists.STREET_SUFFIXES), _words(wordlists.CITIES)
_COUNTRIES, _LOREM = _words(wordlists.COUNTRIES), _words(wordlists.LOREM)
_COMPANY, _COMPANY_SUFFIX = _words(wordlists.COMPANY_WORDS), _words(wordlists.COMPANY_SUFFIXES)


def _pick(pool: Ragged, stream: int, rows: U64) -> Ragged:
    return pool.take(hashing.below(stream, rows, len(pool)).astype(np.int64))


def _lit(text: str, rows: U64) -> Ragged:
    return Ragged.constant(text.encode(), len(rows))


def _fake(spec: ColumnSpec, col: Column) -> Generator:
    kind = spec.fake
    assert kind is not None
    if spec.unique and kind not in (FakeKind.email, FakeKind.phone):
        raise SpecError(f"fake {kind.value} values repeat; only email and phone can be unique")
    s = col.stream

    def first(rows: U64) -> Ragged:
        return _pick(_FIRST, s("first"), rows)

    def last(rows: U64) -> Ragged:
        return _pick(_LAST, s("last"), rows)

    def street(rows: U64) -> Ragged:
        number = decimal(1 + hashing.below(s("no"), rows, 9999).astype(np.int64))
        parts = [number, _lit(" ", rows), _pick(_STREETS, s("street"), rows), _lit(" ", rows)]
        return join([*parts, _pick(_SUFFIXES, s("suffix"), rows)])

    def make(rows: U64) -> Ragged:
        if kind is FakeKind.first_name:
            return first(rows)
        if kind is FakeKind.last_name:
            return last(rows)
        if kind is FakeKind.name:
            return join([first(rows), _lit(" ", rows), last(rows)])
        if kind is FakeKind.email:
            if spec.unique:
                number = decimal(rows.astype(np.int64) + 1)
            else:
                number = decimal(1 + hashing.below(s("n"), rows, 999).astype(np.int64))
            local = join([first(rows), _lit(".", rows), last(rows), number]).lower()
            return join([local, _lit("@", rows), _pick(_DOMAINS, s("domain"), rows)])
        if kind is FakeKind.phone:
            if spec.unique:
                if col.rows > 10**10:
                    raise SpecError("more rows than ten-digit phone numbers")
                digits = Permutation(s("phone"), 10**10)(rows.astype(np.int64))
            else:
                digits = hashing.below(s("phone"), rows, 10**10).astype(np.int64)
            return join([_lit("+1 ", rows), decimal(digits, pad=10)])
        if kind is FakeKind.street:
            return street(rows)
        if kind is FakeKind.city:
            return _pick(_CITIES, s("city"), rows)
        if kind is FakeKind.country:
            return _pick(_COUNTRIES, s("country"), rows)
        if kind is FakeKind.address:
            return join([street(rows), _lit(", ", rows), _pick(_CITIES, s("city"), rows)])
        if kind is FakeKind.company:
            name = _pick(_COMPANY, s("company"), rows)
            return join([name, _lit(" ", rows), _pick(_COMPANY_SUFFIX, s("csuffix"), rows)])
        if kind is FakeKind.word:
            return _pick(_LOREM, s("word"), rows)
        # sentence: six to fourteen pool words
        pool = _Pool.text(col.seed)
        size = int(pool.lengths[0])
        n = 30 + hashing.below(s("len"), rows, 60).astype(np.int64)
        starts = hashing.below(s("start"), rows, size - 100).astype(np.int64)
        return pool.slices(starts, n)

    if col.max_length is not None and kind in (FakeKind.phone,) and col.max_length < 13:
        raise SpecError(f"phone numbers are 13 characters; the column holds {col.max_length}")
    return _Fn("text", lambda rows: Values("text", make(rows)))


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
        return _Fn(parent.kind, lambda rows: parent(perm(rows.astype(np.int64)).astype(np.uint64)))
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
        shaped = _shaped(spec, col, 0.0, 1.0, stream)

        def pick(rows: U64) -> npt.NDArray[np.int64]:
            return np.minimum((shaped(rows) * n).astype(np.int64), n - 1)

    return _Fn(parent.kind, lambda rows: parent(pick(rows).astype(np.uint64)))


def existing(kind: str, values: Values) -> Generator:
    """Rows already in a table (one not seeded here): row i is the i-th existing value."""
    return _Fn(kind, lambda rows: values.take(rows.astype(np.int64)))


_BUILDERS: dict[str, Callable[[ColumnSpec, Column], Generator]] = {
    "sequence": _sequence,
    "int": _int,
    "float": _float,
    "choice": _choice,
    "text": _text,
    "fake": _fake,
    "timestamp": _timestamp,
    "bool": _bool,
    "uuid": _uuid,
    "ref": _ref,
    "value": _constant,
}
