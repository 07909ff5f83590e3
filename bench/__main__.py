"""``python -m bench``: envctl against a plain script, interleaved, N rounds.

Each round takes one sample of every kind (envctl up, plain sequential, plain parallel,
envctl run, a share of the --help/python pairs), in an order rotated per round, so
machine noise falls on all sides alike. Exit status 1 only if a measurement failed.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from bench import (
    RESULTS_DIR,
    SERVICES,
    MeasurementError,
    cost_bench,
    docker_bench,
    experience_bench,
    figures,
    kube_bench,
    plain_script,
    proxy_bench,
    seed_bench,
)
from bench.envctl_cli import Envctl, python_startup
from bench.figures import Samples
from orchestrator.blueprint.model import Readiness


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, envctl: Envctl, poll_interval: float) -> None:
        self.envctl = envctl
        self.poll_interval = poll_interval
        self.warnings: list[str] = []

    def _leftovers(self, what: str, found: list[str]) -> None:
        if found:
            self.warnings.append(f"{what} left behind: {', '.join(found)}")

    def envctl_up(self, samples: Samples) -> str:
        result = self.envctl.up()
        try:
            samples.add("envctl_up_ready_s", result.seconds)
            ends = []
            for name, svc in result.services.items():
                ready, offset = svc.get("ready_seconds"), svc.get("started_offset_seconds")
                if isinstance(ready, int | float):
                    samples.add(f"envctl_up.{name}", float(ready))
                    if isinstance(offset, int | float):
                        ends.append(float(offset) + float(ready))
            if ends:
                samples.add("envctl_up_internal_ready_s", max(ends))
        finally:
            down_seconds, leftovers = self.envctl.down(result.env_id)
        samples.add("envctl_down_s", down_seconds)
        self._leftovers(f"`envctl down {result.env_id}`", leftovers)
        return f"{result.seconds:.3f}s (down {down_seconds:.3f}s)"

    def plain_sequential(self, samples: Samples) -> str:
        result = plain_script.measure_sequential(self.poll_interval)
        self._leftovers("plain script (sequential)", result.leftovers)
        samples.add("plain_script_sum_s", sum(result.services.values()))
        for name, seconds in result.services.items():
            samples.add(f"plain_sequential.{name}", seconds)
        return f"sum {sum(result.services.values()):.3f}s"

    def plain_parallel(self, samples: Samples) -> str:
        result = plain_script.measure_critical_path(self.poll_interval)
        self._leftovers("plain script (parallel)", result.leftovers)
        samples.add("plain_script_critical_path_s", result.total)
        for name, seconds in result.services.items():
            samples.add(f"plain_parallel.{name}", seconds)
        return f"{result.total:.3f}s"

    def envctl_run(self, samples: Samples) -> str:
        result, leftovers = self.envctl.run()
        self._leftovers(f"`envctl run` ({result.env_id})", leftovers)
        samples.add("run_total_s", result.seconds)
        for phase, seconds in result.phases.items():
            samples.add(f"run_phase_{phase}_s", seconds)
        return f"{result.seconds:.3f}s"

    def help_pairs(self, samples: Samples, count: int) -> str:
        helps, pythons = [], []
        for _ in range(count):
            helps.append(self.envctl.help())
            pythons.append(python_startup())
        for h, p in zip(helps, pythons, strict=True):
            samples.add("help_wall_s", h)
            samples.add("python_startup_s", p)
        return f"{count} pairs, --help max {max(helps, default=0):.3f}s"


def _rounds_of_help(total: int, runs: int) -> list[int]:
    return [total // runs + (1 if r < total % runs else 0) for r in range(runs)]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Benchmark envctl against a plain script."
    )
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument(
        "--help-runs", type=int, default=10, help="envctl --help / python -c pass samples"
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=0.05,
        help="the plain script's probe interval in seconds (default 0.05)",
    )
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up round")
    parser.add_argument(
        "--json", type=Path, default=RESULTS_DIR / "latest.json", help="where to write results"
    )
    parser.add_argument(
        "--only",
        choices=("envctl", "proxy", "docker", "seed", "cost", "kubernetes", "experience"),
        help="run only one section: the envctl figures, the fault proxy's, the Docker or "
        "Kubernetes runtime's, data seeding's, metering's or the experience's (completion, "
        "live view, pytest plugin) (default: all)",
    )
    proxy_bench.add_arguments(parser)
    docker_bench.add_arguments(parser)
    seed_bench.add_arguments(parser)
    cost_bench.add_arguments(parser)
    kube_bench.add_arguments(parser)
    experience_bench.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.help_runs < 1 or args.poll_interval <= 0:
        parser.error("--runs and --help-runs must be ≥ 1, --poll-interval > 0")
    if args.proxy_runs is not None and args.proxy_runs < 1:
        parser.error("--proxy-runs must be ≥ 1")
    return args


# The sections after the envctl figures, in the order a full run takes them.
SECTIONS: dict[str, Any] = {
    "proxy": proxy_bench,
    "docker": docker_bench,
    "seed": seed_bench,
    "cost": cost_bench,
    "kubernetes": kube_bench,
    "experience": experience_bench,
}


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through every cleanup block


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    if args.only in SECTIONS:
        return int(SECTIONS[args.only].main_only(args))
    state_dir = Path(tempfile.mkdtemp(prefix="bench-envctl-state-"))
    samples = Samples()
    errors: list[str] = []
    try:
        envctl = Envctl(state_dir)
    except MeasurementError as exc:
        _say(f"bench: {exc}")
        return 1
    bench = Bench(envctl, args.poll_interval)
    kinds: list[tuple[str, Callable[[Samples], str]]] = [
        ("envctl up", bench.envctl_up),
        ("plain sequential", bench.plain_sequential),
        ("plain parallel", bench.plain_parallel),
        ("envctl run", bench.envctl_run),
    ]
    help_counts = _rounds_of_help(args.help_runs, args.runs)
    started = time.monotonic()
    try:
        if not args.no_warmup:
            _say("warm-up (not recorded)")
            scratch = Samples()
            for label, measure in kinds:
                try:
                    measure(scratch)
                except MeasurementError as exc:
                    errors.append(f"warm-up {label}: {exc}")
                    _say(f"  {label:<18} FAILED: {exc}")
            bench.help_pairs(scratch, 1)
        for r in range(args.runs):
            order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
            steps: list[tuple[str, Callable[[Samples], str]]] = list(order)
            count = help_counts[r]
            if count:
                # the --help pairs go between the heavy ones, at a rotating place
                steps.insert(r % (len(steps) + 1), ("envctl --help", _help_step(bench, count)))
            _say(f"round {r + 1}/{args.runs}")
            for label, measure in steps:
                try:
                    _say(f"  {label:<18} {measure(samples)}")
                except MeasurementError as exc:
                    errors.append(f"round {r + 1} {label}: {exc}")
                    _say(f"  {label:<18} FAILED: {exc}")
    finally:
        for note in envctl.cleanup():
            bench.warnings.append(f"cleanup: {note}")
        shutil.rmtree(state_dir, ignore_errors=True)
    sections: dict[str, Any] = {}
    for module in SECTIONS.values():  # each gives {"name": section}, or {} when skipped
        sections |= module.run_for(args, errors, bench.warnings)
    settings = {
        "help_runs": args.help_runs,
        "plain_poll_interval_s": args.poll_interval,
        "envctl_poll_interval_s": Readiness.model_fields["interval"].default,
        "warmup": not args.no_warmup,
        "envctl": str(envctl.exe),
        "services": list(SERVICES),
        "wall_s": round(time.monotonic() - started, 1),
    }
    data = figures.report(samples, args.runs, settings, errors, bench.warnings)
    data |= sections
    figures.write(data, args.json)
    print(figures.table(data) + "".join(m.table_after(data) for m in SECTIONS.values()))
    print(f"\nwrote {args.json}")
    return 1 if errors else 0


def _help_step(bench: Bench, count: int) -> Callable[[Samples], str]:
    return lambda samples: bench.help_pairs(samples, count)


if __name__ == "__main__":
    sys.exit(main())
