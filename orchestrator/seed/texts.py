"""Text generators: word slices of given lengths, and realistic-looking fake values.

Texts are slices of a deterministic pool of words, names and emails are combinations
of small word lists (``wordlists.py``): all built per batch with ``Ragged`` operations.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from orchestrator.blueprint.data import ColumnSpec, FakeKind
from orchestrator.seed import hashing, shapes, wordlists
from orchestrator.seed.distributions import Permutation
from orchestrator.seed.hashing import U64
from orchestrator.seed.ragged import Ragged, decimal, join
from orchestrator.seed.values import Column, Fn, Generator, SpecError, Values


class Pool:
    """A few hundred KiB of deterministic words: texts are slices of it."""

    _cache: dict[int, tuple[Ragged, npt.NDArray[np.int64]]] = {}
    SIZE = 1 << 18

    @classmethod
    def text(cls, seed: int) -> Ragged:
        return cls._built(seed)[0]

    @classmethod
    def starts(cls, seed: int, stream: int, rows: U64, longest: int) -> npt.NDArray[np.int64]:
        """Word starts in the pool with at least ``longest`` characters after them."""
        pool, word_starts = cls._built(seed)
        usable = int(np.searchsorted(word_starts, int(pool.lengths[0]) - longest, side="right"))
        return word_starts[hashing.below(stream, rows, max(usable, 1)).astype(np.int64)]

    @classmethod
    def _built(cls, seed: int) -> tuple[Ragged, npt.NDArray[np.int64]]:
        if seed not in cls._cache:
            words = Ragged.from_strings([w + " " for w in wordlists.LOREM])
            count = cls.SIZE // 6
            pick = hashing.below(
                hashing.key(seed, "pool"), np.arange(count, dtype=np.uint64), len(words)
            )
            joined = words.take(pick.astype(np.int64))
            cls._cache[seed] = (Ragged(np.array([len(joined.data)]), joined.data), joined.offsets)
        return cls._cache[seed]


def text(spec: ColumnSpec, col: Column) -> Generator:
    assert spec.text is not None
    lo, hi = spec.text
    if col.max_length is not None and hi > col.max_length:
        raise SpecError(f"text up to {hi} characters does not fit the column's {col.max_length}")
    pool = Pool.text(col.seed)
    pool_size = int(pool.lengths[0])
    if hi > pool_size:
        raise SpecError(f"text longer than {pool_size} characters is not supported")
    lengths = shapes.lengths(spec, lo, hi, col.stream("len"))
    start_stream = col.stream("start")

    def make(rows: U64) -> Values:
        n = lengths(rows)
        starts = Pool.starts(col.seed, start_stream, rows, hi)
        if not spec.unique:
            return Values("text", pool.slices(starts, n))
        # Unique: the row number first, then words to the drawn length.
        number = join([decimal(rows.astype(np.int64)), Ragged.constant(b" ", len(rows))])
        rest = np.maximum(n - number.lengths, 0)
        return Values("text", join([number, pool.slices(starts, rest)]))

    if spec.unique and col.max_length is not None and len(str(col.rows)) + 1 > col.max_length:
        raise SpecError("unique text needs room for the row number")
    return Fn("text", make)


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


def fake(spec: ColumnSpec, col: Column) -> Generator:
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
        pool = Pool.text(col.seed)
        n = 30 + hashing.below(s("len"), rows, 60).astype(np.int64)
        return pool.slices(Pool.starts(col.seed, s("start"), rows, 100), n)

    if col.max_length is not None and kind in (FakeKind.phone,) and col.max_length < 13:
        raise SpecError(f"phone numbers are 13 characters; the column holds {col.max_length}")
    return Fn("text", lambda rows: Values("text", make(rows)))
