"""``python -m bench --only cost``: what metering costs a run.

The reference blueprint's ``envctl run`` (up, seed, the contract suite, teardown) with
metering on (the default: a reading of every service every 0.2 s) and off
(``ENVCTL_METERING=off``), alternating within each round in a rotated order, each with a
private state dir of its own so both sides meet the same data cache. Figures are the
medians over rounds; the ratio on/off is the overhead (target ≤ 1.03). The section also
keeps what metering measured of the runs (the cost and CPU seconds per service), and
the suites' own seconds on both sides, whose ratio is less diluted by start-up noise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import MeasurementError, figures
from bench.envctl_cli import Envctl
from bench.figures import Samples

TARGETS: tuple[figures.Target, ...] = (("run_on_vs_off", "<=", 1.03),)
METERS = ("on", "off")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cost-runs``, ``--no-cost``."""
    parser.add_argument(
        "--cost-runs", type=figures.positive_int, help="rounds of the metering figures"
    )
    parser.add_argument("--no-cost", action="store_true", help="skip them in a full run")


def run_for(args: argparse.Namespace, errors: list[str], warnings: list[str]) -> dict[str, Any]:
    if args.no_cost or args.only is not None:
        return {}
    return {"cost": run(args.cost_runs or args.runs, not args.no_warmup, errors)}


def table_after(data: dict[str, Any]) -> str:
    return "\n\n" + table(data["cost"]) if "cost" in data else ""


def main_only(args: argparse.Namespace) -> int:
    errors: list[str] = []
    section = run(args.cost_runs or args.runs, not args.no_warmup, errors)
    return figures.write_only(args, "cost", section, table(section), errors, [])


def run(runs: int, warmup: bool, errors: list[str]) -> dict[str, Any]:
    samples = Samples()
    measured: list[dict[str, Any]] = []
    dirs = {m: Path(tempfile.mkdtemp(prefix=f"bench-cost-{m}-")) for m in METERS}
    sides = {m: _envctl(dirs[m], m) for m in METERS}
    try:
        if warmup:  # fills each side's initdb and data caches: not recorded
            for meter in METERS:
                _one(sides[meter], meter, Samples(), [], errors, "warm-up")
        for r in range(runs):
            _say(f"cost round {r + 1}/{runs}")
            for meter in METERS[r % 2 :] + METERS[: r % 2]:
                _one(sides[meter], meter, samples, measured, errors, f"round {r + 1}")
    finally:
        for meter in METERS:
            for note in sides[meter].cleanup():
                errors.append(f"cost cleanup ({meter}): {note}")
            shutil.rmtree(dirs[meter], ignore_errors=True)
    ratios = {
        "run_on_vs_off": figures.ratio(samples, "run_on_s", "run_off_s"),
        "suites_on_vs_off": figures.ratio(samples, "suites_on_s", "suites_off_s"),
    }
    return {
        "runs": runs,
        "figures": {k: figures.summary(v) for k, v in samples.values.items()},
        "ratios": ratios,
        "targets": figures.check(TARGETS, ratios, samples),
        "metered": _metered(measured),
    }


def _envctl(state_dir: Path, meter: str) -> Envctl:
    envctl = Envctl(state_dir)
    envctl.environ = {**envctl.environ, "ENVCTL_METERING": meter}
    return envctl


def _one(
    envctl: Envctl,
    meter: str,
    samples: Samples,
    measured: list[dict[str, Any]],
    errors: list[str],
    where: str,
) -> None:
    try:
        result, leftovers, cost = _run(envctl)
    except MeasurementError as exc:
        errors.append(f"cost {where} metering {meter}: {exc}")
        _say(f"  metering {meter:<3} FAILED: {exc}")
        return
    if leftovers:
        errors.append(f"cost {where}: left behind: {', '.join(leftovers)}")
    samples.add(f"run_{meter}_s", result.seconds)
    samples.add(f"suites_{meter}_s", result.phases.get("suites", 0.0))
    if meter == "on" and cost is not None:
        measured.append(cost)
    suites = result.phases.get("suites", 0.0)
    _say(f"  metering {meter:<3} {result.seconds:.3f}s (suites {suites:.3f}s)")


def _run(envctl: Envctl) -> tuple[Any, list[str], dict[str, Any] | None]:
    result, leftovers = envctl.run()
    path = envctl.state_dir / "runs" / result.env_id / "result.json"
    try:
        cost = json.loads(path.read_text(encoding="utf-8")).get("cost")
    except (OSError, ValueError):
        cost = None
    return result, leftovers, cost


def _metered(costs: list[dict[str, Any]]) -> dict[str, Any]:
    if not costs:
        return {}
    services = sorted({name for c in costs for name in c["usage"]})
    return {
        "total_usd_median": statistics.median(c["total_usd"] for c in costs),
        "cpu_seconds_median": {
            name: statistics.median(
                c["usage"][name]["total"]["cpu_seconds"] for c in costs if name in c["usage"]
            )
            for name in services
        },
    }


def table(section: dict[str, Any]) -> str:
    lines = [f"metering overhead · {section['runs']} rounds · reference blueprint `envctl run`"]
    for name, meaning in (
        ("run_on_s", "`envctl run` launched → exited, metering on"),
        ("run_off_s", "  the same, ENVCTL_METERING=off"),
        ("suites_on_s", "the contract suite's seconds, metering on"),
        ("suites_off_s", "  off"),
    ):
        fig = section["figures"].get(name)
        if fig:
            lines.append(
                f"{name:<16} s {fig['median']:9.3f} {fig['min']:9.3f} {fig['max']:9.3f}  {meaning}"
            )
    for name, value in section["ratios"].items():
        lines.append(f"{name:<28} {value if value is not None else '—'}x")
    for name, target in section["targets"].items():
        verdict = "met" if target["met"] else "MISSED"
        lines.append(f"{name:<28} target {target['target']}  {verdict}")
    metered = section.get("metered") or {}
    if metered:
        lines.append(f"a metered run costs (median) ${metered['total_usd_median']:.6f}")
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in metered["cpu_seconds_median"].items())
        lines.append(f"CPU seconds per service (median): {cpu}")
    return "\n".join(lines)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
