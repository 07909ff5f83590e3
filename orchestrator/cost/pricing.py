"""The price book, and turning a run's usage into money.

Prices are layered: the shipped defaults (``prices.yaml``, OpenCost's GCP us-central1
figures and GitHub's runner rate) < each user or team file in order < the blueprint's
own mapping. Every key names its unit (``usd_per_vcpu_hour``, ``usd_per_gib_month`` …),
because a bare ``cpu: 0.03`` is the 730x bug OpenCost keeps fixing: month prices are
divided by ``HOURS_PER_MONTH`` here, once, and the book remembers where each value came
from so a surprising bill can be traced to a file and line.

Pricing follows OpenCost's allocation model: a workload pays for ``max(request, usage)``
of CPU and memory (what it reserved, or more if it used more), its requested storage,
and network by the byte. Amounts are kept on a grid of 2**-32 USD (about 2e-10), so
that every total in ``RunCost`` is an *exact* sum of its parts in any order (floats
add dyadic fractions without rounding while a run costs less than $2M).
"""

from __future__ import annotations

import difflib
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.cost.model import GIB, HOURS_PER_MONTH, Charge, RunCost, ServiceUsage, Usage
from orchestrator.exceptions import BlueprintError, EnvctlError, Location, UsageError

if TYPE_CHECKING:
    from orchestrator.blueprint.source import SourceMap

log = logging.getLogger(__name__)

DEFAULT_FILE = Path(__file__).with_name("prices.yaml")
RUNNER = "run"  # the pseudo-service the CI runner's time is charged to
_GRID = 2.0**32  # amounts are multiples of 1/_GRID USD: see the module docstring


@dataclass(frozen=True)
class _Key:
    """One key a price file may hold: the book field it sets and how to convert it."""

    field: str
    divisor: float = 1.0  # value / divisor is in the field's unit
    conversion: str = ""  # how the source string explains the division


_KEYS: dict[str, _Key] = {
    "usd_per_vcpu_hour": _Key("usd_per_vcpu_hour"),
    "usd_per_vcpu_month": _Key("usd_per_vcpu_hour", HOURS_PER_MONTH, "÷ 730 h/month"),
    "usd_per_gib_hour": _Key("usd_per_gib_hour"),
    "usd_per_gib_month": _Key("usd_per_gib_hour", HOURS_PER_MONTH, "÷ 730 h/month"),
    "usd_per_storage_gib_hour": _Key("usd_per_storage_gib_hour"),
    "usd_per_storage_gib_month": _Key("usd_per_storage_gib_hour", HOURS_PER_MONTH, "÷ 730 h/month"),
    "usd_per_runner_minute": _Key("usd_per_runner_minute"),
    "usd_per_runner_hour": _Key("usd_per_runner_minute", 60.0, "÷ 60 min/h"),
    "usd_per_network_gb": _Key("usd_per_network_gb"),
    "minimum_seconds": _Key("minimum_seconds"),
}
SOURCES_KEY = "sources"  # optional per-key notes: where a file's figures come from

UNITS = {
    "usd_per_vcpu_hour": "USD per vCPU-hour",
    "usd_per_gib_hour": "USD per GiB-hour of memory",
    "usd_per_storage_gib_hour": "USD per GiB-hour of storage",
    "usd_per_runner_minute": "USD per CI runner minute",
    "usd_per_network_gb": "USD per GB (10^9 bytes) through the links",
    "minimum_seconds": "seconds billed at least, per service lifetime",
}

# Words people write for a price without its unit, and the keys that say it properly.
_RESOURCES: dict[str, tuple[set[str], str]] = {
    "cpu": ({"cpu", "vcpu", "cpus", "core", "cores"}, "usd_per_vcpu_hour or usd_per_vcpu_month"),
    "memory": ({"memory", "mem", "ram", "gib"}, "usd_per_gib_hour or usd_per_gib_month"),
    "storage": (
        {"storage", "disk", "volume", "pv", "pvc"},
        "usd_per_storage_gib_hour or usd_per_storage_gib_month",
    ),
    "runner": (
        {"runner", "ci", "actions"},
        "usd_per_runner_minute or usd_per_runner_hour",
    ),
    "network": ({"network", "egress", "bandwidth", "transfer"}, "usd_per_network_gb"),
    "minimum": ({"minimum", "min"}, "minimum_seconds"),
}
_UNIT_WORDS = {
    *("hour", "hours", "hourly", "day", "days", "daily", "week", "weekly", "month", "monthly"),
    *("year", "yearly", "minute", "minutes", "second", "seconds", "gb", "gbs", "tb", "mb"),
}


@dataclass(frozen=True)
class PriceBook:
    """Unit prices in one fixed unit each, and where every value came from."""

    usd_per_vcpu_hour: float
    usd_per_gib_hour: float  # memory
    usd_per_storage_gib_hour: float
    usd_per_runner_minute: float
    usd_per_network_gb: float
    minimum_seconds: float = 0.0  # billing minimum per service lifetime
    sources: dict[str, str] = field(default_factory=dict)  # field → file:line, key, note

    def to_dict(self) -> dict[str, Any]:
        """Values, units and sources: what ``RunCost.prices`` records for every run."""
        return {
            name: {
                "value": getattr(self, name),
                "unit": unit,
                "source": self.sources.get(name, "set in code"),
            }
            for name, unit in UNITS.items()
        }


Fail = Callable[[tuple[str | int, ...], str, str | None], EnvctlError]


def load(
    user_files: Sequence[Path] = (),
    overrides: Mapping[str, Any] | None = None,
    overrides_where: str = "blueprint",
    *,
    overrides_source: SourceMap | None = None,
    overrides_path: tuple[str | int, ...] = (),
) -> PriceBook:
    """The defaults, then each of ``user_files`` in order, then ``overrides``.

    ``overrides`` is a blueprint's own price mapping; ``overrides_where`` names it in
    sources and errors. When the caller has the blueprint's ``SourceMap`` (and the key
    path of the mapping in it), errors and sources carry file:line as for files.
    """
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    for file, is_default in [(DEFAULT_FILE, True), *((Path(f), False) for f in user_files)]:
        layer = _read_file(file, is_default)
        for name, (value, source) in layer.items():
            values[name], sources[name] = value, source
    if overrides is not None:
        if overrides_source is not None:
            src = overrides_source
            layer = _read_layer(
                overrides, overrides_path, lambda p: f"{src.file}:{src.locate(p).line}", src.error
            )
        else:
            layer = _read_layer(
                overrides, overrides_path, lambda _: overrides_where, _unlocated(overrides_where)
            )
        for name, (value, source) in layer.items():
            values[name], sources[name] = value, source
    missing = [name for name in UNITS if name not in values]
    if missing:  # only when the shipped defaults lost a key: a packaging bug
        raise EnvctlError(
            f"the default price book {str(DEFAULT_FILE)!r} lacks {', '.join(missing)}",
            hint="reinstall envctl",
        )
    return PriceBook(**values, sources=sources)


def _read_file(file: Path, is_default: bool) -> dict[str, tuple[float, str]]:
    from orchestrator.blueprint.source import parse_yaml

    shown = "orchestrator/cost/prices.yaml" if is_default else str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"cannot read price file {str(file)!r}: {getattr(exc, 'strerror', None) or exc}",
            hint="check the path given in ENVCTL_PRICES or the team's price file",
        ) from None
    if not any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
        raise BlueprintError(
            "the price file is empty",
            Location(shown, 1, 1),
            hint="give at least one price, e.g. `usd_per_vcpu_hour: 0.031611`",
        )
    data, source = parse_yaml(text, shown)
    layer = _read_layer(data, (), lambda p: f"{shown}:{source.locate(p).line}", source.error)
    if is_default:
        layer = {k: (v, f"envctl default, {s}") for k, (v, s) in layer.items()}
    log.debug("prices from %s: %s", shown, sorted(layer))
    return layer


def _unlocated(where: str) -> Fail:
    def fail(path: tuple[str | int, ...], message: str, hint: str | None) -> EnvctlError:
        key_path = ".".join(str(p) for p in path) or "(prices)"
        return UsageError(f"prices from {where}: {key_path}: {message}", hint=hint)

    return fail


def _read_layer(
    data: Any,
    base: tuple[str | int, ...],
    where: Callable[[tuple[str | int, ...]], str],
    fail: Fail,
) -> dict[str, tuple[float, str]]:
    """Validate one layer; return book field → (value in the field's unit, source)."""
    if not isinstance(data, Mapping):
        raise fail(
            base,
            f"prices must be a mapping of keys to numbers, got {type(data).__name__}",
            "e.g. `usd_per_vcpu_hour: 0.031611`",
        )
    notes = _notes(data, base, fail)
    out: dict[str, tuple[float, str]] = {}
    set_by: dict[str, str] = {}
    for key, raw in data.items():
        path = (*base, key)
        if key == SOURCES_KEY:
            continue
        spec = _KEYS.get(key) if isinstance(key, str) else None
        if spec is None:
            raise _unknown_key(str(key), path, fail)
        if spec.field in set_by:
            raise fail(
                path,
                f"{key!r} and {set_by[spec.field]!r} both set {spec.field}",
                "keep one of them",
            )
        set_by[spec.field] = key
        value = _number(raw, path, fail)
        converted = value / spec.divisor
        source = f"{where(path)}: {key} {value:g}"
        if spec.conversion:
            source += f" {spec.conversion}"
        if key in notes:
            source += f" — {notes[key]}"
        out[spec.field] = (converted, source)
    for key in notes:
        if key not in data:
            raise fail(
                (*base, SOURCES_KEY, key),
                f"sources.{key} describes a price this file does not set",
                f"set {key} here, or remove its note",
            )
    return out


def _notes(data: Mapping[str, Any], base: tuple[str | int, ...], fail: Fail) -> dict[str, str]:
    notes = data.get(SOURCES_KEY)
    if notes is None:
        return {}
    path = (*base, SOURCES_KEY)
    if not isinstance(notes, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in notes.items()
    ):
        raise fail(
            path, "sources must map price keys to text", "e.g. `usd_per_vcpu_hour: AWS bill`"
        )
    for key in notes:
        if key not in _KEYS:
            raise _unknown_key(key, (*path, key), fail)
    return dict(notes)


def _unknown_key(key: str, path: tuple[str | int, ...], fail: Fail) -> EnvctlError:
    typo = difflib.get_close_matches(key, _KEYS, n=1, cutoff=0.85)
    if typo:  # usd_per_vcpu_hours, usd_per_network_gbs
        return fail(path, f"unknown price key {key!r}", f"did you mean {typo[0]!r}?")
    words = set(re.split(r"[^a-z0-9]+", key.lower()))
    for resource, (names, keys) in _RESOURCES.items():
        if words & names:
            if words & _UNIT_WORDS:
                message = f"{key!r} is not a price key envctl knows"
            else:
                message = f"price {key!r} has no unit ({resource})"
            return fail(path, message, f"give the unit: {keys}")
    close = difflib.get_close_matches(key, _KEYS, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(_KEYS)}"
    return fail(path, f"unknown price key {key!r}", hint)


def _number(raw: Any, path: tuple[str | int, ...], fail: Fail) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise fail(
            path,
            f"a price must be a number, got {raw!r}",
            "write the number alone, e.g. `0.031611` (the key says the unit and currency)",
        )
    value = float(raw)
    if not math.isfinite(value) or value < 0:
        raise fail(path, f"a price must be a finite number ≥ 0, got {raw!r}", None)
    return value


def price(
    usage: Mapping[str, ServiceUsage],
    book: PriceBook,
    *,
    runner_seconds_by_phase: Mapping[str, float] | None = None,
) -> RunCost:
    """Charge every service in every phase, and the runner's time under ``"run"``.

    Per service and phase (OpenCost's allocation: the more of reserved and used)::

        CPU hours     = max(cpu_request * seconds, cpu_seconds) / 3600
        memory GiB-h  = max(memory_request / GiB * seconds, memory_gib_seconds) / 3600
        storage GiB-h = max(storage_request / GiB * seconds / 3600, storage_gib_hours)
        network USD   = network_bytes / 1e9 * usd_per_network_gb

    With ``minimum_seconds``, a service that lived (all phases together) less than the
    minimum has its request-based amounts billed for the minimum: each phase's seconds
    are scaled up by ``minimum / lifetime``, so every phase keeps its share of the
    lifetime and the phases still add up to what the service is billed. Measured usage
    is never scaled (it is what happened), a service that never existed (lifetime 0)
    pays nothing, and the runner is billed by its own seconds without a minimum.
    """
    charges: dict[str, dict[str, Charge]] = {}
    used: dict[str, ServiceUsage] = dict(usage)
    for name, service in usage.items():
        billed = _billed_seconds(service, book.minimum_seconds)
        charges[name] = {
            phase: _charge(service, spent, billed[phase], book)
            for phase, spent in service.phases.items()
        }
    if runner_seconds_by_phase is not None:
        if RUNNER in usage:
            raise ValueError(f"{RUNNER!r} is the runner's pseudo-service, not a service name")
        charges[RUNNER] = {
            phase: Charge(runner_usd=_grid(seconds / 60.0 * book.usd_per_runner_minute))
            for phase, seconds in runner_seconds_by_phase.items()
        }
        used[RUNNER] = ServiceUsage(
            RUNNER, {phase: Usage(seconds=s) for phase, s in runner_seconds_by_phase.items()}
        )
    return RunCost(charges=charges, usage=used, prices=book.to_dict())


def _billed_seconds(service: ServiceUsage, minimum: float) -> dict[str, float]:
    lifetime = sum(u.seconds for u in service.phases.values())
    if not 0 < lifetime < minimum:
        return {phase: u.seconds for phase, u in service.phases.items()}
    # share first, then scale: minimum / lifetime overflows for a tiny lifetime
    return {phase: u.seconds / lifetime * minimum for phase, u in service.phases.items()}


def _charge(service: ServiceUsage, used: Usage, seconds: float, book: PriceBook) -> Charge:
    cpu_hours = max((service.cpu_request or 0.0) * seconds, used.cpu_seconds) / 3600.0
    memory_requested = (service.memory_request_bytes or 0) / GIB * seconds
    memory_gib_hours = max(memory_requested, used.memory_gib_seconds) / 3600.0
    storage_requested = (service.storage_request_bytes or 0) / GIB * seconds / 3600.0
    storage_gib_hours = max(storage_requested, used.storage_gib_hours)
    return Charge(
        cpu_usd=_grid(cpu_hours * book.usd_per_vcpu_hour),
        memory_usd=_grid(memory_gib_hours * book.usd_per_gib_hour),
        storage_usd=_grid(storage_gib_hours * book.usd_per_storage_gib_hour),
        network_usd=_grid(used.network_bytes / 1e9 * book.usd_per_network_gb),
    )


def _grid(usd: float) -> float:
    """``usd`` rounded to a multiple of 2**-32, so sums of amounts are exact."""
    return round(usd * _GRID) / _GRID
