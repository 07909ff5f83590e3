"""The data-seeding figures: envctl's generator and loader next to ``pgbench -i``, a cold
seed next to a cached one, and the seeder's peak memory at 1M and 5M rows.

``run(...)`` starts one PostgreSQL with ``envctl up`` (bench/seed/server.yaml), then
takes N rounds; each round takes one sample of every kind (pgbench, the seeder at 1M
rows, at 5M rows, a cold + warm ``envctl up`` of bench/seed/shop.yaml), in an order
rotated per round. The figures are the medians over rounds; see the "Data seeding"
section of bench/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench import REPO, MeasurementError, figures
from bench.figures import Samples
from bench.proxy_procs import CpuMark
from bench.seed_procs import SERVER_BLUEPRINT, SeedEnvctl, Server
from bench.seed_rounds import ACCOUNTS_BLUEPRINT, BIG_ROWS, ROWS, SHOP_BLUEPRINT, SeedRounds

BUSY_SHARE = 0.1  # of all CPUs taken by others (processes, hypervisor): warn of noise

# (ratio, numerator, denominator), of medians
RATIOS = (
    ("load_vs_pgbench_generate", "envctl_load_rows_per_s", "pgbench_generate_rows_per_s"),
    ("command_vs_pgbench", "envctl_command_rows_per_s", "pgbench_command_rows_per_s"),
    ("text_load_vs_pgbench_generate", "envctl_text_load_rows_per_s", "pgbench_generate_rows_per_s"),
    ("warm_vs_cold", "seed_warm_s", "seed_cold_s"),
    ("up_warm_vs_cold", "up_warm_s", "up_cold_s"),
    ("rss_5M_vs_1M", "rss_5M_MB", "rss_1M_MB"),
)
# (ratio, comparison, bound)
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("load_vs_pgbench_generate", ">=", 1.0),
    ("warm_vs_cold", "<=", 0.1),
    ("rss_5M_vs_1M", "<=", 1.1),
)


# -- the hooks in ``python -m bench`` ------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--seed-runs``, ``--no-seed``."""
    parser.add_argument(
        "--seed-runs",
        type=figures.positive_int,
        help="rounds of the seeding figures (default: --runs)",
    )
    parser.add_argument(
        "--no-seed", action="store_true", help="skip the seeding figures in a full run"
    )


def run_for(args: argparse.Namespace, errors: list[str], warnings: list[str]) -> dict[str, Any]:
    """The hook in a full run: ``{"seed": section}``, or ``{}`` with --no-seed or --only."""
    if args.no_seed or args.only is not None:
        return {}
    return {"seed": run(args.seed_runs or args.runs, not args.no_warmup, errors, warnings)}


def table_after(data: dict[str, Any]) -> str:
    return "\n\n" + table(data["seed"]) if "seed" in data else ""


def main_only(args: argparse.Namespace) -> int:
    """``python -m bench --only seed``: these figures alone, in the same JSON file."""
    errors: list[str] = []
    warnings: list[str] = []
    section = run(args.seed_runs or args.runs, not args.no_warmup, errors, warnings)
    return figures.write_only(args, "seed", section, table(section), errors, warnings)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the rounds ------------------------------------------------------------------------------


def run(runs: int, warmup: bool, errors: list[str], warnings: list[str]) -> dict[str, Any]:
    """Take ``runs`` rounds of the seeding figures; returns the JSON "seed" section.
    Failures become ``errors`` (each measurement on its own); everything is torn down."""
    from orchestrator.exceptions import EnvctlError
    from orchestrator.runtime.local import binaries

    started = time.monotonic()
    samples = Samples()
    info: dict[str, Any] = {}
    mark = CpuMark()
    state_dir = Path(tempfile.mkdtemp(prefix="bench-seed-state-"))
    rounds: SeedRounds | None = None
    try:
        bindir = binaries.postgres("auto").bindir
        info["postgres_bindir"] = str(bindir)
        envctl = SeedEnvctl(state_dir)
    except (EnvctlError, MeasurementError) as exc:
        shutil.rmtree(state_dir, ignore_errors=True)
        errors.append(f"seed: {exc}")
        _say(f"seeding figures not taken: {exc}")
        return {"skipped": str(exc), "info": info}
    server = Server(envctl)
    try:
        with server:
            info["postgres"] = server.version
            rounds = SeedRounds(server, state_dir, bindir)
            _rounds(rounds, runs, warmup, samples, errors)
    except MeasurementError as exc:  # the server did not start
        errors.append(f"seed: {exc}")
        _say(f"seeding figures not taken: {exc}")
    finally:
        warnings.extend(server.notes)
        warnings.extend(f"seed cleanup: {n}" for n in envctl.cleanup())
        shutil.rmtree(state_dir, ignore_errors=True)
    if rounds is not None:
        warnings.extend(rounds.notes)
        info["cache"] = rounds.cache
        _cache_warnings(rounds, warnings)
    info["wall_s"] = round(time.monotonic() - started, 1)
    info["steal_cpu_share"] = mark.since()["steal_cpu_share"]
    _noise_warnings(samples, warnings)
    settings = {
        "rows": ROWS,
        "big_rows": BIG_ROWS,
        "server_blueprint": str(SERVER_BLUEPRINT.relative_to(REPO)),
        "accounts_blueprint": str(ACCOUNTS_BLUEPRINT.relative_to(REPO)),
        "shop_blueprint": str(SHOP_BLUEPRINT.relative_to(REPO)),
        "pgbench": "pgbench -i -s 10 -I dtg -q",
        "warmup": warmup,
        "envctl": str(envctl.exe),
    }
    return section(samples, runs, settings, info)


def _rounds(
    rounds: SeedRounds, runs: int, warmup: bool, samples: Samples, errors: list[str]
) -> None:
    kinds: list[tuple[str, Callable[[Samples], str]]] = [
        ("pgbench", rounds.pgbench),
        ("seeder 1M", rounds.envctl_1m),
        ("seeder 5M", rounds.envctl_5m),
        ("seeder text", rounds.envctl_text_1m),
        ("cold + warm", rounds.cache_pair),
    ]
    if warmup:
        # the 1M-row ones only: page cache, the server's buffers and catalogs
        _say("seed warm-up (not recorded)")
        for label, measure in kinds[:2]:
            try:
                measure(Samples())
            except MeasurementError as exc:
                errors.append(f"seed warm-up {label}: {exc}")
                _say(f"  {label:<12} FAILED: {exc}")
    for r in range(runs):
        _say(f"seed round {r + 1}/{runs}")
        mark = CpuMark()
        theirs = rounds.server.cpu_seconds() + rounds.env_cpu
        for label, measure in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:
            try:
                _say(f"  {label:<12} {measure(samples)}")
            except MeasurementError as exc:
                errors.append(f"seed round {r + 1} {label}: {exc}")
                _say(f"  {label:<12} FAILED: {exc}")
        theirs = rounds.server.cpu_seconds() + rounds.env_cpu - theirs
        shares = mark.since()
        cpus = (time.monotonic() - mark.t0) * (psutil.cpu_count() or 1)
        # the servers are envctl's, not our children: CpuMark counts them as foreign
        foreign = shares["foreign_cpu_share"] - (theirs / cpus if cpus else 0.0)
        samples.add("foreign_cpu_share", round(max(0.0, foreign), 3))
        samples.add("steal_cpu_share", shares["steal_cpu_share"])


def _noise_warnings(samples: Samples, warnings: list[str]) -> None:
    foreign = samples.values.get("foreign_cpu_share", [])
    steal = samples.values.get("steal_cpu_share", [])
    if any(f + s > BUSY_SHARE for f, s in zip(foreign, steal, strict=False)):
        warnings.append(
            "seed figures: other processes used "
            f"{', '.join(f'{f:.0%}' for f in foreign)} of the CPUs and the hypervisor stole "
            f"{', '.join(f'{s:.0%}' for s in steal)} (per round), so expect noisy figures; "
            "a busy round shows in the samples"
        )


def _cache_warnings(rounds: SeedRounds, warnings: list[str]) -> None:
    warm = rounds.cache["warm"]
    if rounds.no_seeding_json:
        warnings.append(
            "seed: `envctl up -o json` has no `seeding` list, so seed_cold_s, seed_warm_s "
            "and the cache states (marked '?') are read from envctl's progress lines: "
            "cold = phases.seed - 'kept … in X s', warm = 'rows from the cache in X s'"
        )
    if warm and not all(state.rstrip("?") == "hit" for state in warm):
        warnings.append(
            f"seed: the second `envctl up` reported cache {', '.join(warm)} (not hit): "
            "the data cache is not in yet, so warm_vs_cold measures two cold seeds"
        )


# -- the JSON section and the table ---------------------------------------------------------


def section(
    samples: Samples, runs: int, settings: dict[str, Any], info: dict[str, Any]
) -> dict[str, Any]:
    figs = {name: figures.summary(v) for name, v in sorted(samples.values.items()) if v}
    ratios = {name: figures.ratio(samples, top, bottom) for name, top, bottom in RATIOS}
    targets = figures.check(TARGETS, ratios, samples)
    return {
        "runs": runs,
        "settings": settings,
        "info": info,
        "figures": figs,
        "ratios": ratios,
        "targets": targets,
    }


ROWS_SHOWN: tuple[tuple[str, str, str], ...] = (
    # (figure, unit, meaning)
    ("pgbench_command_s", "s", "`pgbench -i -s 10 -I dtg -q` launched → exited (1M rows)"),
    ("pgbench_generate_s", "s", "  its own 'client-side generate' (COPY of the rows)"),
    ("envctl_command_s", "s", "envctl's seeder, same shape and rows, launched → exited"),
    ("envctl_seed_s", "s", "  in seed_entry (no interpreter start-up, imports, blueprint)"),
    ("envctl_phase_schema_s", "s", "  phase schema"),
    ("envctl_phase_plan_s", "s", "  phase plan"),
    ("envctl_phase_load_s", "s", "  phase load (generate + COPY)"),
    ("envctl_phase_analyze_s", "s", "  phase analyze"),
    ("pgbench_generate_rows_per_s", "row/s", "pgbench, client-side generate"),
    ("envctl_load_rows_per_s", "row/s", "envctl, phase load"),
    ("pgbench_command_rows_per_s", "row/s", "pgbench, whole command"),
    ("envctl_command_rows_per_s", "row/s", "envctl's seeder, whole process"),
    ("envctl_5M_load_rows_per_s", "row/s", "envctl, phase load at 5M rows"),
    ("envctl_text_load_rows_per_s", "row/s", "envctl, phase load, filler of 84 generated chars"),
    ("seed_cold_s", "s", "shop.yaml, 3 tables, 1M rows: seeding[0].seconds, fresh cache"),
    ("seed_warm_s", "s", "  the same on a second `up` (from the data cache)"),
    ("seed_keep_cold_s", "s", "  cold: then keeping the data for the next environments"),
    ("seed_phase_cold_s", "s", "  `up`'s phases.seed, cold (seeding + keeping)"),
    ("seed_phase_warm_s", "s", "  `up`'s phases.seed, warm (the copy is made before)"),
    ("up_cold_s", "s", "`envctl up shop.yaml` launched → exited, cold"),
    ("up_warm_s", "s", "  warm"),
    ("down_cold_s", "s", "`envctl down` after each (informational)"),
    ("down_warm_s", "s", ""),
    ("rss_1M_MB", "MB", "seeder's peak RSS - RSS before seeding, 1M rows"),
    ("rss_5M_MB", "MB", "  at 5M rows"),
    ("peak_rss_1M_MB", "MB", "seeder process's peak RSS, 1M rows"),
    ("peak_rss_5M_MB", "MB", "  at 5M rows"),
    ("foreign_cpu_share", "share", "of all CPUs used by other processes, per round"),
    ("steal_cpu_share", "share", "of all CPUs stolen by the hypervisor, per round"),
)


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "row/s":
        return f"{value:,.0f}"
    if unit == "MB":
        return f"{value:.1f}"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:.3f}"


def table(data: dict[str, Any]) -> str:
    if "skipped" in data:
        return f"data seeding · skipped: {data['skipped']}"
    info, figs = data["info"], data["figures"]
    lines = [
        f"data seeding · {data['runs']} rounds · PostgreSQL {info.get('postgres') or '—'} · "
        f"{info.get('wall_s', 0):.0f}s",
        "",
        f"{'figure':<28} {'unit':>5} {'median':>10} {'min':>10} {'max':>10}  meaning",
    ]
    for name, unit, meaning in ROWS_SHOWN:
        fig = figs.get(name)
        if fig is None and name.startswith("envctl_phase_"):
            continue
        cells = [_fmt(fig[k] if fig else None, unit) for k in ("median", "min", "max")]
        lines.append(
            f"{name:<28} {unit:>5} {cells[0]:>10} {cells[1]:>10} {cells[2]:>10}  {meaning}".rstrip()
        )
    cache = info.get("cache") or {}
    if cache:
        lines += [
            "",
            f"cache states: cold {', '.join(cache.get('cold', [])) or '—'}; "
            f"warm {', '.join(cache.get('warm', [])) or '—'}",
        ]
    lines += ["", "ratios of medians and targets"]
    for name, top, bottom in RATIOS:
        lines.append(f"{name:<28} {_fmt(data['ratios'][name], 'x'):>10}  {top} / {bottom}")
    for name, t in data["targets"].items():
        mark = {True: "met", False: "MISSED", None: "—"}[t["met"]]
        lines.append(f"{name:<28} {_fmt(t['value'], 'x'):>10}  target {t['target']:<6} {mark}")
    return "\n".join(lines)
