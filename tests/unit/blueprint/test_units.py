"""Durations, sizes and CPU amounts as blueprints write them (orchestrator.blueprint.units)."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.blueprint import units
from orchestrator.blueprint.units import format_duration, parse_cpu, parse_duration, parse_size

QUICK = settings(max_examples=200, deadline=None, database=None)

# ---------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("15m", 900.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
        ("1h0m0s", 3600.0),
        ("  30s  ", 30.0),  # surrounding whitespace is tolerated
        (0, 0.0),
        (45, 45.0),
        (2.5, 2.5),
    ],
)
def test_parse_duration_accepts_documented_forms(value: object, seconds: float) -> None:
    result = parse_duration(value)
    assert isinstance(result, float)
    assert result == pytest.approx(seconds)


def test_parse_duration_ms_is_not_read_as_minutes() -> None:
    # 'm' and 'ms' share a prefix: 500ms must be half a second, not 500 minutes.
    assert parse_duration("500ms") == pytest.approx(0.5)
    assert parse_duration("1m500ms") == pytest.approx(60.5)


@pytest.mark.parametrize(
    "value",
    ["15 minutes", "", "   ", "30", "1h 30m", "h", "1.h", ".5s", "-5s", "5S", "1w", "30sec"],
)
def test_parse_duration_rejects_malformed_text(value: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(value))) as info:
        parse_duration(value)
    # The message tells the user what a valid duration looks like.
    assert "ms, s, m, h, d" in str(info.value)


@pytest.mark.parametrize("value", [-1, -0.001, -3600])
def test_parse_duration_rejects_negative_numbers(value: float) -> None:
    with pytest.raises(ValueError, match="cannot be negative") as info:
        parse_duration(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("value", [True, False, None, [], {}, b"30s"])
def test_parse_duration_rejects_non_durations(value: object) -> None:
    # bool is an int subclass: `timeout: yes` must not silently become 1 second.
    with pytest.raises(ValueError, match=re.escape(repr(value))):
        parse_duration(value)


@QUICK
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10**6), st.sampled_from(["ms", "s", "m", "h", "d"])
        ),
        min_size=1,
        max_size=5,
    )
)
def test_parse_duration_sums_its_parts(parts: list[tuple[int, str]]) -> None:
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    text = "".join(f"{n}{u}" for n, u in parts)
    assert parse_duration(text) == pytest.approx(sum(n * factor[u] for n, u in parts))


@QUICK
@given(st.text(alphabet="0123456789.msdh -", max_size=12))
def test_parse_duration_agrees_with_the_schema_pattern(text: str) -> None:
    # The JSON Schema editors validate against must accept exactly what the loader accepts.
    if re.fullmatch(units.DURATION_PATTERN, text.strip()):
        assert parse_duration(text) >= 0
    else:
        with pytest.raises(ValueError):
            parse_duration(text)


def test_parse_duration_rejects_huge_integer_with_value_error() -> None:
    # float(10**400) overflows; that must still be a ValueError pydantic can locate.
    with pytest.raises(ValueError, match="too large"):
        parse_duration(10**400)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "9" * 400 + "s"])
def test_parse_duration_rejects_non_finite(value: object) -> None:
    # A NaN timeout compares false with everything: a wait that never ends.
    with pytest.raises(ValueError, match="finite"):
        parse_duration(value)


# -------------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("512Mi", 512 * 2**20),
        ("1Gi", 2**30),
        ("1Ki", 1024),
        ("2Ti", 2 * 2**40),
        ("2G", 2 * 10**9),
        ("10M", 10 * 10**6),
        ("1k", 1000),
        ("3T", 3 * 10**12),
        ("1.5Ki", 1536),
        ("100", 100),
        (" 1Gi ", 2**30),
        (0, 0),
        (1024, 1024),
    ],
)
def test_parse_size_accepts_documented_forms(value: object, size: int) -> None:
    result = parse_size(value)
    assert isinstance(result, int)
    assert result == size


@pytest.mark.parametrize(
    "value", ["1Xi", "", "1 Gi", "1K", "1KB", "1gi", "Gi", "-1Gi", "1e3", "0x10"]
)
def test_parse_size_rejects_malformed_text(value: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(value))) as info:
        parse_size(value)
    assert "Mi" in str(info.value)  # it names the units that would work


@pytest.mark.parametrize("value", [-1, -(2**40)])
def test_parse_size_rejects_negative_numbers(value: int) -> None:
    with pytest.raises(ValueError, match=f"cannot be negative, got {value}"):
        parse_size(value)


@pytest.mark.parametrize("value", [True, False, None, 1.5, [], "1 Gi"])
def test_parse_size_rejects_non_sizes(value: object) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(value))):
        parse_size(value)


@QUICK
@given(
    st.integers(min_value=0, max_value=10**9),
    st.sampled_from(["", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti"]),
)
def test_parse_size_multiplies_by_the_unit(number: int, unit: str) -> None:
    factor = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    factor.update({"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40})
    expected = number * factor[unit]
    if expected >= 2**63:  # past what Kubernetes quantities and Docker limits hold
        with pytest.raises(ValueError, match="too large"):
            parse_size(f"{number}{unit}")
        return
    assert parse_size(f"{number}{unit}") == expected  # exact: whole numbers skip floats


@pytest.mark.parametrize("value", ["9" * 400, "9" * 400 + "Ti", "9" * 400 + ".5"])
def test_parse_size_rejects_absurdly_large_text_with_value_error(value: str) -> None:
    with pytest.raises(ValueError, match=r"finite|too large"):
        parse_size(value)


# ---------------------------------------------------------------------------------- cpu


@pytest.mark.parametrize(
    ("value", "cores"),
    [
        ("500m", 0.5),
        ("1500m", 1.5),
        ("1m", 0.001),
        ("1", 1.0),
        ("2.5", 2.5),
        (" 250m ", 0.25),
        (1, 1.0),
        (0.5, 0.5),
        (4, 4.0),
    ],
)
def test_parse_cpu_accepts_documented_forms(value: object, cores: float) -> None:
    result = parse_cpu(value)
    assert isinstance(result, float)
    assert result == pytest.approx(cores)


@pytest.mark.parametrize("value", ["0m", "0", "0.0", 0, 0.0, -1, -0.5])
def test_parse_cpu_rejects_zero_and_negative(value: object) -> None:
    with pytest.raises(ValueError, match="must be positive") as info:
        parse_cpu(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("value", ["", "abc", "1c", "500 m", "-500m", "1M", "1.5.0"])
def test_parse_cpu_rejects_malformed_text(value: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(value))) as info:
        parse_cpu(value)
    assert "500m" in str(info.value)  # shows a valid example


@pytest.mark.parametrize("value", [True, False, None, [1]])
def test_parse_cpu_rejects_non_amounts(value: object) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(value))):
        parse_cpu(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, 10**400, "9" * 400])
def test_parse_cpu_rejects_non_finite(value: object) -> None:
    with pytest.raises(ValueError, match=r"finite|too large"):
        parse_cpu(value)


# ------------------------------------------------------------------------ format_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (7200, "2h"),
        (90, "1m30s"),
        (0.5, "500ms"),
        (0.001, "1ms"),
        (0, "0ms"),
        (1, "1s"),
        (60, "1m"),
        (3600 + 1, "1h1s"),
        (86400 + 3600 + 60 + 1, "1d1h1m1s"),
        (2 * 86400, "2d"),
        (1800.4, "30m"),
        (59.6, "1m"),  # rounded to whole seconds above one second
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@QUICK
@given(st.floats(min_value=0, max_value=10**8, allow_nan=False))
def test_format_duration_round_trips_through_parse_duration(seconds: float) -> None:
    text = format_duration(seconds)
    assert re.fullmatch(units.DURATION_PATTERN, text), text
    tolerance = 0.0005 if seconds < 1 else 0.5
    assert abs(parse_duration(text) - seconds) <= tolerance + 1e-9
