"""Strict validation of toxics: every error names the toxic, the attribute and the value.

Toxiproxy silently ignores unknown attributes, so a typo (``latncy``) gives a proxy that
injects nothing. Here an unknown type, an unknown, negative or non-numeric attribute, a
toxicity outside [0, 1] or an unknown stream is a ``FaultSpecError``. A *missing*
attribute takes Toxiproxy's default, 0 (``down`` defaults to refusing), so clients
written for Toxiproxy work unchanged; slicer's ``average_size`` is required, as 0 would
not slice at all. Defaults are filled in, so what the API shows is what runs.
"""

from __future__ import annotations

import math
from typing import Any

from orchestrator.proxy.model import FaultSpecError, Toxic

_REQUIRED = object()

# type → attribute → (kind, default). Kinds: "number" (ms, µs or KB/s, ≥ 0, may be
# fractional), "count" (bytes, a whole number ≥ 0), "mode" (down's mode).
# Same types and attribute names as model.TOXIC_TYPES (a test keeps them in step).
SCHEMA: dict[str, dict[str, tuple[str, Any]]] = {
    "latency": {
        "latency": ("number", None),  # either latency (+ jitter) or p50 (+ p95/p99)
        "jitter": ("number", None),
        "p50": ("number", None),
        "p95": ("number", None),
        "p99": ("number", None),
    },
    "bandwidth": {"rate": ("number", 0)},  # KB/s; 0 = unlimited
    "slicer": {
        "average_size": ("count", _REQUIRED),
        "size_variation": ("count", 0),
        "delay": ("number", 0),  # µs
    },
    "limit_data": {"bytes": ("count", 0)},
    "timeout": {"timeout": ("number", 0)},
    "reset_peer": {"timeout": ("number", 0)},
    "slow_close": {"delay": ("number", 0)},
    "down": {"mode": ("mode", "refuse"), "duration": ("number", 0)},
}

DOWN_MODES = ("refuse", "blackhole")
STREAMS = ("upstream", "downstream")
_LATENCY_FORMS = ({"latency", "jitter"}, {"p50", "p95", "p99"})


def validate_toxic(toxic: Toxic) -> Toxic:
    """A checked, normalised copy of ``toxic``; ``FaultSpecError`` says what is wrong."""
    if toxic.type not in SCHEMA:
        raise FaultSpecError(
            f"unknown toxic type {toxic.type!r}; valid types: {', '.join(sorted(SCHEMA))}"
        )
    if not isinstance(toxic.name, str) or not toxic.name:
        raise FaultSpecError(f"toxic name must be a non-empty string, got {toxic.name!r}")
    where = f"toxic {toxic.name!r} ({toxic.type})"
    if toxic.stream not in STREAMS:
        raise FaultSpecError(
            f"{where}: stream must be 'upstream' or 'downstream', got {toxic.stream!r}"
        )
    toxicity = toxic.toxicity
    if not _is_number(toxicity) or not 0.0 <= toxicity <= 1.0:
        raise FaultSpecError(f"{where}: toxicity must be between 0 and 1, got {toxicity!r}")
    if not isinstance(toxic.attributes, dict):
        raise FaultSpecError(f"{where}: attributes must be an object, got {toxic.attributes!r}")
    schema = SCHEMA[toxic.type]
    attributes: dict[str, Any] = {}
    for name, value in toxic.attributes.items():
        if name not in schema:
            raise FaultSpecError(
                f"{where}: unknown attribute {name!r} (value {value!r}); "
                f"{toxic.type} takes: {', '.join(schema)}"
            )
        attributes[name] = _check_value(where, name, schema[name][0], value)
    for name, (_, default) in schema.items():
        if name in attributes or default is None:
            continue
        if default is _REQUIRED:
            raise FaultSpecError(f"{where}: missing attribute {name!r}")
        attributes[name] = default
    _CROSS_CHECKS.get(toxic.type, _no_check)(where, attributes)
    return Toxic(
        type=toxic.type,
        name=toxic.name,
        stream=toxic.stream,
        toxicity=float(toxicity),
        attributes=attributes,
    )


def merge_attributes(type_: str, current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``current`` updated with ``patch``; for latency, naming one form (latency/jitter or
    p50/p95/p99) drops the other, so a toxic can switch forms in one update."""
    merged = dict(current)
    if type_ == "latency":
        for form in _LATENCY_FORMS:
            if not form & patch.keys():
                continue
            for other in _LATENCY_FORMS:
                if other is not form:
                    for name in other:
                        merged.pop(name, None)
    merged.update(patch)
    return merged


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_value(where: str, name: str, kind: str, value: Any) -> Any:
    if kind == "mode":
        if value not in DOWN_MODES:
            raise FaultSpecError(
                f"{where}: attribute {name!r} must be one of {', '.join(DOWN_MODES)}, got {value!r}"
            )
        return value
    if not _is_number(value):
        raise FaultSpecError(f"{where}: attribute {name!r} must be a number, got {value!r}")
    if value < 0:
        raise FaultSpecError(f"{where}: attribute {name!r} must be >= 0, got {value!r}")
    if kind == "count":
        if value != int(value):
            raise FaultSpecError(
                f"{where}: attribute {name!r} is a byte count, a whole number, got {value!r}"
            )
        return int(value)
    return value


def _no_check(where: str, attributes: dict[str, Any]) -> None:
    return None


def _check_latency(where: str, a: dict[str, Any]) -> None:
    if "latency" in a and "p50" in a:
        raise FaultSpecError(
            f"{where}: give either latency (+ jitter) or p50 (+ p95/p99), not both "
            f"(latency={a['latency']!r}, p50={a['p50']!r})"
        )
    if "p50" not in a:
        for name in ("p95", "p99"):
            if name in a:
                raise FaultSpecError(
                    f"{where}: attribute {name!r} needs p50, got {name}={a[name]!r}"
                )
        a.setdefault("latency", 0)  # Toxiproxy's default
        a.setdefault("jitter", 0)
        return
    if "jitter" in a:
        raise FaultSpecError(
            f"{where}: jitter goes with latency, not with p50 (jitter={a['jitter']!r})"
        )
    if a["p50"] <= 0:
        raise FaultSpecError(f"{where}: attribute 'p50' must be > 0, got {a['p50']!r}")
    previous = ("p50", a["p50"])
    for name in ("p95", "p99"):
        if name in a:
            if a[name] < previous[1]:
                raise FaultSpecError(
                    f"{where}: attribute {name!r} must be >= {previous[0]} "
                    f"({previous[1]!r}), got {a[name]!r}"
                )
            previous = (name, a[name])


def _check_slicer(where: str, a: dict[str, Any]) -> None:
    if a["average_size"] < 1:
        raise FaultSpecError(
            f"{where}: attribute 'average_size' must be >= 1, got {a['average_size']!r}"
        )
    if a["size_variation"] >= a["average_size"]:
        raise FaultSpecError(
            f"{where}: attribute 'size_variation' must be < average_size "
            f"({a['average_size']!r}), got {a['size_variation']!r}"
        )


_CROSS_CHECKS = {"latency": _check_latency, "slicer": _check_slicer}
