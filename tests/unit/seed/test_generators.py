"""Generators are pure functions of (seed, table, column, row): batches cannot matter."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.blueprint.data import ColumnSpec
from orchestrator.seed import distributions, generators, pgcopy, pgtypes
from orchestrator.seed.generators import Column, SpecError
from orchestrator.seed.pgtypes import PgType
from orchestrator.seed.ragged import Ragged, decimal, join

SPECS = [
    {"int": [1, 100]},
    {"int": [1, 100], "distribution": "zipf"},
    {"float": [0, 10], "distribution": "normal", "mean": 5, "sd": 1, "decimals": 2},
    {"text": [0, 40], "null_fraction": 0.2},
    {"fake": "email", "unique": True},
    {"fake": "address"},
    {"timestamp": ["2024-01-01", "2024-12-31"], "trend": 2},
    {"choice": {"a": 3, "b": 1}},
    {"uuid": True},
]


def values(spec: dict[str, object], rows: np.ndarray, seed: int = 1) -> list[object]:
    """One Python value per row (None for NULL), whatever the representation."""
    gen = generators.build(ColumnSpec.model_validate(spec), Column(seed, "t", "c", 10_000))
    out = gen(rows.astype(np.uint64))
    data = out.data
    listed = (
        data.to_list()
        if isinstance(data, Ragged)
        else [bytes(r) if np.ndim(r) else r for r in data.tolist()]
    )
    nulls = out.nulls.tolist() if out.nulls is not None else [False] * len(listed)
    return [None if null else v for v, null in zip(listed, nulls, strict=True)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: next(iter(s)))
def test_a_row_is_the_same_in_any_batch(spec: dict[str, object]) -> None:
    whole = np.arange(1000)
    pieces = [v for i in range(0, 1000, 37) for v in values(spec, whole[i : i + 37])]
    assert pieces == values(spec, whole)
    assert values(spec, np.array([500])) == [values(spec, whole)[500]]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: next(iter(s)))
def test_seed_and_column_name_change_the_values(spec: dict[str, object]) -> None:
    rows = np.arange(200)
    assert values(spec, rows, seed=1) != values(spec, rows, seed=2)


def test_unique_ints_are_a_permutation_of_the_range() -> None:
    gen = generators.build(
        ColumnSpec.model_validate({"int": [10, 1009], "unique": True}), Column(3, "t", "c", 1000)
    )
    out = gen(np.arange(1000, dtype=np.uint64)).data
    assert sorted(np.asarray(out).tolist()) == list(range(10, 1010))


def test_too_many_unique_values_for_the_range_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="do not fit"):
        generators.build(
            ColumnSpec.model_validate({"int": [1, 10], "unique": True}), Column(3, "t", "c", 11)
        )


def test_zipf_ranks_follow_the_weights() -> None:
    ranks = distributions.zipf_rank(99, np.arange(200_000, dtype=np.uint64), 1000, 1.0)
    share = float(np.mean(ranks < 10))
    assert share == pytest.approx(distributions.zipf_share(1000, 1.0, 10), abs=0.01)


def test_decimal_writes_integers_like_python() -> None:
    numbers = np.array([0, 7, -7, 10, 99999, -(2**63), 2**63 - 1], dtype=np.int64)
    assert decimal(numbers).to_list() == [str(n) for n in numbers.tolist()]
    assert decimal(np.array([42]), pad=5).to_list() == ["00042"]


def test_join_concatenates_rows() -> None:
    a = Ragged.from_strings(["x", "", "yz"])
    b = Ragged.from_strings(["1", "2", ""])
    assert join([a, Ragged.constant(b"-", 3), b]).to_list() == ["x-1", "-2", "yz-"]


@pytest.mark.parametrize(
    ("value", "digits"),
    [(0.0, b"\x00\x00\x00\x00\x00\x00\x00\x02"), (12345.67, None), (-0.5, None)],
)
def test_numeric_encoding_round_trips_through_its_definition(
    value: float, digits: bytes | None
) -> None:
    out = pgtypes.encode(
        generators.Values("float", np.array([value])),
        PgType("numeric", "numeric(12,2)", None, 2, 12),
    )
    raw = out.data.tobytes()
    ndigits, weight, sign, dscale = (
        int.from_bytes(raw[i : i + 2], "big", signed=True) for i in range(0, 8, 2)
    )
    if digits is not None:
        assert raw == digits
    groups = [int.from_bytes(raw[8 + 2 * i : 10 + 2 * i], "big") for i in range(ndigits)]
    decoded = sum(g * 10000.0 ** (weight - i) for i, g in enumerate(groups))
    assert (-decoded if sign == 0x4000 else decoded) == pytest.approx(value)
    assert dscale == 2


def test_copy_rows_mark_nulls_with_minus_one() -> None:
    body = Ragged.from_strings(["ab", "cd"])
    raw = pgcopy.rows([(body, np.array([False, True]))])
    assert raw == b"\x00\x01" + b"\x00\x00\x00\x02ab" + b"\x00\x01" + b"\xff\xff\xff\xff"
