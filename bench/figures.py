"""Samples → figures (median, min, max), ratios of medians, the table and the JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import SERVICES

# (ratio name, numerator figure, denominator figure)
RATIOS = (
    ("up_vs_critical_path", "envctl_up_ready_s", "plain_script_critical_path_s"),
    ("up_vs_sum", "envctl_up_ready_s", "plain_script_sum_s"),
    ("help_vs_python", "help_wall_s", "python_startup_s"),
)

# Top-level figures in table order, with a one-line meaning.
MAIN = {
    "envctl_up_ready_s": "`envctl up` launched → exited, all services ready",
    "envctl_up_internal_ready_s": "  of which envctl's session clock: start → last service ready",
    "plain_script_critical_path_s": "plain script, db+cache+payments in parallel, then orders",
    "plain_script_sum_s": "plain script, the four services one after another",
    "run_total_s": "`envctl run` launched → exited (up + seed + suites + teardown)",
    "envctl_down_s": "`envctl down` after each up (not part of any other figure)",
    "help_wall_s": "`envctl --help`",
    "python_startup_s": "`python -c pass`, same interpreter",
}

# Per-service columns: (samples key prefix, column title)
SERVICE_COLUMNS = (
    ("envctl_up", "envctl up"),
    ("plain_sequential", "plain seq."),
    ("plain_parallel", "plain par."),
)


@dataclass
class Samples:
    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, name: str, value: float) -> None:
        self.values[name].append(value)

    def median(self, name: str) -> float | None:
        got = self.values.get(name)
        return statistics.median(got) if got else None


def summary(samples: Iterable[float]) -> dict[str, Any]:
    values = list(samples)
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "samples": [round(v, 4) for v in values],
    }


def ratios(samples: Samples) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, top, bottom in RATIOS:
        a, b = samples.median(top), samples.median(bottom)
        out[name] = round(a / b, 3) if a is not None and b else None
    return out


def machine() -> dict[str, Any]:
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        nproc = os.cpu_count() or 0
    return {
        "nproc": nproc,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "euid": os.geteuid(),
    }


def report(
    samples: Samples,
    runs: int,
    settings: dict[str, Any],
    errors: list[str],
    warnings: list[str],
) -> dict[str, Any]:
    figures = {name: summary(v) for name, v in samples.values.items() if v}
    main = {name: figures[name] for name in MAIN if name in figures}
    phases = {
        name.removeprefix("run_phase_").removesuffix("_s"): figures[name]
        for name in sorted(figures)
        if name.startswith("run_phase_")
    }
    services = {
        svc: {
            f"{prefix}_s": figures[f"{prefix}.{svc}"]
            for prefix, _ in SERVICE_COLUMNS
            if f"{prefix}.{svc}" in figures
        }
        for svc in SERVICES
    }
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "runs": runs,
        "settings": settings,
        "figures": main,
        "run_phases": phases,
        "services": services,
        "ratios": ratios(samples),
        "errors": errors,
        "warnings": warnings,
    }


def _fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "—"
    return f"{value:.3f}{unit}" if unit == "s" else f"{value:.2f}x"


def table(data: dict[str, Any]) -> str:
    m = data["machine"]
    lines = [
        f"envctl benchmark · {data['runs']} runs · {m['nproc']} CPUs · "
        f"Python {m['python']} · {m['platform']}",
        "",
        f"{'figure':<30} {'median':>9} {'min':>9} {'max':>9}  meaning",
    ]

    def row(name: str, fig: dict[str, Any], meaning: str = "") -> None:
        lines.append(
            f"{name:<30} {_fmt(fig['median']):>9} {_fmt(fig['min']):>9} "
            f"{_fmt(fig['max']):>9}  {meaning}".rstrip()
        )

    for name, meaning in MAIN.items():
        if name in data["figures"]:
            row(name, data["figures"][name], meaning)
        if name == "run_total_s":
            for phase, fig in data["run_phases"].items():
                row(f"  phase {phase}", fig)

    lines += ["", "per service, start → ready (median; envctl's ready_seconds from `up -o json`)"]
    lines.append(f"{'service':<20}" + "".join(f"{title:>13}" for _, title in SERVICE_COLUMNS))
    for svc, figs in data["services"].items():
        cells = []
        for prefix, _ in SERVICE_COLUMNS:
            fig = figs.get(f"{prefix}_s")
            cells.append(f"{_fmt(fig['median'] if fig else None):>13}")
        lines.append(f"{svc:<20}" + "".join(cells))

    lines += ["", "ratios of medians"]
    for name, top, bottom in RATIOS:
        lines.append(f"{name:<30} {_fmt(data['ratios'][name], 'x'):>9}  {top} / {bottom}")
    for title, items in (("warnings", data["warnings"]), ("errors", data["errors"])):
        if items:
            lines += ["", f"{title}:"] + [f"  - {item}" for item in items]
    return "\n".join(lines)


def write(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


# -- what every section after the envctl figures shares ---------------------------------

Target = tuple[str, str, float]  # (ratio or figure, comparison, bound)


def positive_int(text: str) -> int:
    """An argparse type: a count of rounds."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be ≥ 1")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def ratio(samples: Samples, top: str, bottom: str) -> float | None:
    """The ratio of two figures' medians, or None when either is missing."""
    a, b = samples.median(top), samples.median(bottom)
    return round(a / b, 3) if a is not None and b else None


def verdict(value: float | None, op: str, bound: float) -> bool | None:
    """Is ``value op bound``? ``|<=|`` compares the magnitude (an error either way)."""
    if value is None:
        return None
    if op == ">=":
        return value >= bound
    if op == "<":
        return value < bound
    if op == "<=":
        return value <= bound
    if op == "|<=|":
        return abs(value) <= bound
    raise ValueError(f"unknown comparison {op!r}")


def check(
    targets: Iterable[Target], ratios: dict[str, float | None], samples: Samples
) -> dict[str, Any]:
    """Each target with its bound, the value (a ratio, else a figure's median) and met."""
    out = {}
    for name, op, bound in targets:
        value = ratios[name] if name in ratios else samples.median(name)
        out[name] = {
            "target": f"{op} {bound:g}",
            "value": None if value is None else round(value, 4),
            "met": verdict(value, op, bound),
        }
    return out


def write_only(
    args: argparse.Namespace,
    name: str,
    section: dict[str, Any],
    table_text: str,
    errors: list[str],
    warnings: list[str],
) -> int:
    """``python -m bench --only NAME``: the section alone, in the same JSON file."""
    data = report(Samples(), 0, {"only": name}, errors, warnings)
    data[name] = section
    write(data, args.json)
    print(table_text)
    for title, items in (("warnings", warnings), ("errors", errors)):
        if items:
            print(f"\n{title}:\n" + "\n".join(f"  - {item}" for item in items))
    print(f"\nwrote {args.json}")
    return 1 if errors else 0
