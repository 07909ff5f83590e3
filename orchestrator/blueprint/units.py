"""Durations, sizes and CPU quantities as blueprints write them.

``15m``, ``2h``, ``500ms`` and ``1h30m`` are durations; ``512Mi``, ``1Gi`` and ``2G`` sizes
(Kubernetes quantity suffixes, so the same blueprint reads the same on every runtime);
``1``, ``0.5`` and ``500m`` CPU amounts. Each parser raises ``ValueError`` with a message
that pydantic turns into a located blueprint error.
"""

from __future__ import annotations

import math
import re

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$"

_SIZE_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
MAX_SIZE = 2**63  # what Kubernetes quantities and Docker limits hold
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
SIZE_PATTERN = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$"
_CPU = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m)?$")
CPU_PATTERN = r"^[0-9]+(\.[0-9]+)?m?$"


def parse_duration(value: object) -> float:
    """Seconds from ``"1h30m"``-style text; bare numbers are seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '30s' or '15m', got {value!r}")
    if isinstance(value, int | float):
        seconds = _finite(value, "duration")
        if seconds < 0:
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        return seconds
    if not isinstance(value, str):
        raise ValueError(f"expected a duration like '30s' or '15m', got {value!r}")
    text = value.strip()
    if not text or not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(
            f"invalid duration {value!r}: use a number with a unit (ms, s, m, h, d), "
            "e.g. '500ms', '30s', '1h30m'"
        )
    total = sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text))
    return _finite(total, "duration")


def parse_size(value: object) -> int:
    """Bytes from ``"512Mi"``-style text; bare numbers are bytes."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size like '512Mi' or '1Gi', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a size cannot be negative, got {value!r}")
        if value >= MAX_SIZE:
            raise ValueError(f"size {value!r} is too large (the limit is 8Ei)")
        return value
    match = _SIZE.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(
            f"invalid size {value!r}: use a number with Ki, Mi, Gi, Ti (or k, M, G, T), "
            "e.g. '512Mi', '1Gi'"
        )
    number, unit = match.groups()
    factor = _SIZE_UNITS[unit or ""]
    if "." in number:
        size = _finite(float(number) * factor, "size")
        if size != int(size):
            raise ValueError(f"size {value!r} is not a whole number of bytes")
        whole = int(size)
    else:
        whole = int(number) * factor  # exact: no float rounding of large sizes
    if whole >= MAX_SIZE:
        raise ValueError(f"size {value!r} is too large (the limit is 8Ei)")
    return whole


def parse_cpu(value: object) -> float:
    """Cores from ``1``, ``0.5`` or ``"500m"`` (millicores)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a CPU amount like '1', '0.5' or '500m', got {value!r}")
    if isinstance(value, int | float):
        cores = _finite(value, "CPU amount")
        if cores <= 0:
            raise ValueError(f"a CPU amount must be positive, got {value!r}")
        return cores
    match = _CPU.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"invalid CPU amount {value!r}: use cores ('1', '0.5') or '500m'")
    cores = _finite(float(match.group(1)), "CPU amount") / (1000.0 if match.group(2) else 1.0)
    if cores <= 0:
        raise ValueError(f"a CPU amount must be positive, got {value!r}")
    return cores


def _finite(value: float, what: str) -> float:
    """``value`` as a float, or ValueError for NaN, infinities and numbers past float."""
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{what} {value!r} is too large") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return number


def format_duration(seconds: float) -> str:
    """The inverse, for messages: 7200 → '2h', 90 → '1m30s'."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    out, rest = "", round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out
