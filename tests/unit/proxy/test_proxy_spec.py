"""Toxic validation: strict, and every error names the attribute and the value."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.proxy.faults import SCHEMA, STAGES, merge_attributes, validate_toxic
from orchestrator.proxy.model import TOXIC_TYPES, FaultSpecError, Toxic


def toxic(type_: str, **attributes: Any) -> Toxic:
    return Toxic(type=type_, attributes=attributes)


def test_schema_matches_the_shared_vocabulary() -> None:
    assert {k: set(v) for k, v in SCHEMA.items()} == {k: set(v) for k, v in TOXIC_TYPES.items()}
    assert set(STAGES) | {"down"} == set(TOXIC_TYPES)


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (toxic("latency", latency=10), {"latency": 10, "jitter": 0}),
        (toxic("latency", latency=10, jitter=2.5), {"latency": 10, "jitter": 2.5}),
        (toxic("latency", p50=5, p99=40), {"p50": 5, "p99": 40}),
        (toxic("bandwidth", rate=0), {"rate": 0}),
        (toxic("slicer", average_size=10), {"average_size": 10, "size_variation": 0, "delay": 0}),
        (toxic("limit_data", bytes=10.0), {"bytes": 10}),
        (toxic("timeout", timeout=0), {"timeout": 0}),
        (toxic("reset_peer"), {"timeout": 0}),
        (toxic("slow_close", delay=1), {"delay": 1}),
        (toxic("down", mode="blackhole"), {"mode": "blackhole", "duration": 0}),
    ],
)
def test_valid_toxics_get_their_defaults(candidate: Toxic, expected: dict[str, Any]) -> None:
    checked = validate_toxic(candidate)
    assert checked.attributes == expected
    assert checked is not candidate
    assert checked.name == f"{candidate.type}_downstream"


@pytest.mark.parametrize(
    ("candidate", "needles"),
    [
        (toxic("lag", latency=1), ["unknown toxic type 'lag'", "latency", "bandwidth"]),
        (toxic("latency", latncy=1), ["'latncy'", "latency takes"]),
        (toxic("latency", latency=-1), ["'latency'", "-1"]),
        (toxic("latency", latency="10"), ["'latency'", "'10'"]),
        (toxic("latency", latency=True), ["'latency'", "True"]),
        (toxic("latency", latency=float("nan")), ["'latency'", "nan"]),
        (toxic("latency", latency=1, p50=2), ["either latency", "p50=2"]),
        (toxic("latency", p99=5), ["'p99' needs p50"]),
        (toxic("latency", p50=5, jitter=1), ["jitter goes with latency"]),
        (toxic("latency", p50=0), ["'p50' must be > 0"]),
        (toxic("latency", p50=10, p99=5), ["'p99' must be >= p50", "5"]),
        (toxic("latency", p50=10, p95=20, p99=15), ["'p99' must be >= p95"]),
        (toxic("bandwidth", rate=-5), ["'rate'", "-5"]),
        (toxic("slicer", average_size=0), ["'average_size' must be >= 1"]),
        (toxic("slicer"), ["missing attribute 'average_size'"]),
        (toxic("slicer", average_size=10, size_variation=10), ["'size_variation'", "10"]),
        (toxic("slicer", average_size=1.5), ["'average_size'", "whole number", "1.5"]),
        (toxic("slow_close", delay=-0.5), ["'delay'", "-0.5"]),
        (toxic("down", mode="off"), ["'mode'", "refuse, blackhole", "'off'"]),
        (toxic("down", mode="refuse", duration=-1), ["'duration'", "-1"]),
    ],
)
def test_bad_attributes_are_named_with_their_value(candidate: Toxic, needles: list[str]) -> None:
    with pytest.raises(FaultSpecError) as caught:
        validate_toxic(candidate)
    for needle in needles:
        assert needle in str(caught.value)


@pytest.mark.parametrize("toxicity", [-0.1, 1.5, float("inf"), "0.5"])
def test_toxicity_outside_0_1_is_rejected(toxicity: Any) -> None:
    with pytest.raises(FaultSpecError, match="toxicity must be between 0 and 1"):
        validate_toxic(Toxic(type="latency", toxicity=toxicity, attributes={"latency": 1}))


def test_bad_stream_and_name_are_rejected() -> None:
    with pytest.raises(FaultSpecError, match="stream must be 'upstream' or 'downstream'"):
        validate_toxic(Toxic(type="latency", stream="both", attributes={"latency": 1}))  # type: ignore[arg-type]
    bad = Toxic(type="latency", attributes={"latency": 1})
    bad.name = ""
    with pytest.raises(FaultSpecError, match="name must be a non-empty string"):
        validate_toxic(bad)


def test_latency_update_can_switch_forms() -> None:
    current = {"latency": 10, "jitter": 2}
    assert merge_attributes("latency", current, {"p50": 5, "p99": 9}) == {"p50": 5, "p99": 9}
    assert merge_attributes("latency", {"p50": 5}, {"latency": 3}) == {"latency": 3}
    assert merge_attributes("latency", current, {"jitter": 4}) == {"latency": 10, "jitter": 4}
    assert merge_attributes("bandwidth", {"rate": 1}, {"rate": 2}) == {"rate": 2}


@pytest.mark.parametrize(
    ("candidate", "attributes"),
    [
        (toxic("latency"), {"latency": 0, "jitter": 0}),
        (toxic("bandwidth"), {"rate": 0}),
        (toxic("limit_data"), {"bytes": 0}),
        (toxic("timeout"), {"timeout": 0}),
        (toxic("slow_close"), {"delay": 0}),
        (toxic("down"), {"mode": "refuse", "duration": 0}),
    ],
)
def test_missing_attributes_take_toxiproxys_defaults(
    candidate: Toxic, attributes: dict[str, object]
) -> None:
    """Clients written for Toxiproxy may leave attributes out; Toxiproxy reads them as 0."""
    assert validate_toxic(candidate).attributes == attributes
