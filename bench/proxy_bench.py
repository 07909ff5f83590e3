"""The fault proxy's figures: `envctl proxy serve` next to direct loopback and socat.

``run(...)`` starts the upstream helper and one proxy process, then takes N rounds; each
round takes one sample of every kind (throughput, RTT, connection setup, paced latency),
in an order rotated per round, the sides of each kind rotated too. The figures are the
medians over rounds; see the "Fault proxy" section of bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import MeasurementError, figures
from bench.figures import Samples
from bench.proxy_net import percentile, quantile_ci
from bench.proxy_procs import CpuMark, ProxyServe, Upstream, socat_version
from bench.proxy_rounds import CASES, LatencyCase, Pools, ProxyRounds, Sizes

BUSY_SHARE = 0.1  # of all CPUs taken by others (processes, hypervisor): warn of noise


# Targets (figure or ratio, comparison, bound); |<=| bounds the absolute value.
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("proxy_vs_socat", ">=", 1.0),
    ("rtt_added_p50_ms", "<=", 0.05),
    ("rtt_added_p99_ms", "<=", 0.1),
    ("latency_5ms_err_p50_ms", "|<=|", 0.5),
    ("latency_5ms_err_p99_ms", "|<=|", 1.0),
    ("latency_50ms_err_p50_ms", "|<=|", 0.5),
    ("latency_50ms_err_p99_ms", "|<=|", 1.0),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--proxy-runs", type=int, help="rounds of the proxy figures (default: --runs)"
    )


def run_for(args: argparse.Namespace, errors: list[str], warnings: list[str]) -> dict[str, Any]:
    """The hook in ``python -m bench``: ``{"proxy": section}``, or ``{}`` with --only envctl."""
    if args.only == "envctl":
        return {}
    return {"proxy": run(args.proxy_runs or args.runs, not args.no_warmup, errors, warnings)}


def table_after(data: dict[str, Any]) -> str:
    return "\n\n" + table(data["proxy"]) if "proxy" in data else ""


def main_only(args: argparse.Namespace) -> int:
    """``python -m bench --only proxy``: these figures alone, in the same JSON file."""
    errors: list[str] = []
    warnings: list[str] = []
    proxy = run(args.proxy_runs or args.runs, not args.no_warmup, errors, warnings)
    return figures.write_only(args, "proxy", proxy, table(proxy), errors, warnings)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(
    runs: int, warmup: bool, errors: list[str], warnings: list[str], sizes: Sizes | None = None
) -> dict[str, Any]:
    """Take ``runs`` rounds of the proxy figures; returns the JSON "proxy" section.
    Failures become ``errors`` (each measurement on its own); every process is stopped."""
    sizes = sizes or Sizes()
    samples = Samples()
    started = time.monotonic()
    info: dict[str, Any] = {"socat": socat_version()}
    mark = CpuMark()
    rounds: ProxyRounds | None = None
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-proxy-")))
        upstream = stack.enter_context(Upstream())
        serve = ProxyServe(tmp, upstream)
        stack.callback(lambda: warnings.extend(serve.notes))  # runs after serve stops
        proxy: ProxyServe | None = serve
        try:
            stack.enter_context(serve)  # stopped on every exit path from here on
            info |= {"proxy_version": serve.version, "proxy_command": serve.command[1:]}
            info["proxy_rss_start_MB"] = round(serve.rss_mb(), 1)
        except MeasurementError as exc:
            errors.append(f"proxy: {exc}")
            _say(f"proxy did not start; measuring direct and socat only:\n{exc}")
            proxy = None
        rounds = ProxyRounds(upstream, proxy, sizes)
        _rounds(rounds, runs, warmup, samples, errors)
        if proxy is not None and proxy.alive():
            with contextlib.suppress(MeasurementError):
                info["proxy_rss_end_MB"] = round(proxy.rss_mb(), 1)
    warnings.extend(rounds.warnings if rounds else [])
    info["wall_s"] = round(time.monotonic() - started, 1)
    info |= mark.since()  # after the with block: our children are reaped and counted
    if info["foreign_cpu_share"] + info["steal_cpu_share"] > BUSY_SHARE:
        warnings.append(
            f"proxy figures: other processes used {info['foreign_cpu_share']:.0%} of the CPUs "
            f"and the hypervisor stole {info['steal_cpu_share']:.0%} meanwhile (info.*_share), "
            "so expect noisy figures, tails (p99) above all"
        )
    return section(samples, rounds.pools if rounds else Pools(), runs, sizes, info)


def _rounds(
    rounds: ProxyRounds, runs: int, warmup: bool, samples: Samples, errors: list[str]
) -> None:
    kinds: list[tuple[str, Callable[[Samples, int], str]]] = [
        ("throughput", rounds.throughput),
        ("rtt", rounds.rtt),
        ("setup", rounds.setup),
        ("latency", rounds.latency),
    ]
    if warmup:
        _say("proxy warm-up (not recorded)")
        real, rounds.sizes = rounds.sizes, rounds.sizes.warmup()
        scratch_pools, rounds.pools = rounds.pools, Pools()
        for label, measure in kinds:
            try:
                measure(Samples(), 0)
            except MeasurementError as exc:
                errors.append(f"proxy warm-up {label}: {exc}")
                _say(f"  {label:<12} FAILED: {exc}")
        rounds.sizes, rounds.pools = real, scratch_pools
    for r in range(runs):
        _say(f"proxy round {r + 1}/{runs}")
        mark = CpuMark()
        for label, measure in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:
            try:
                _say(f"  {label:<12} {measure(samples, r)}")
            except MeasurementError as exc:
                errors.append(f"proxy round {r + 1} {label}: {exc}{rounds.died()}")
                _say(f"  {label:<12} FAILED: {exc}")
        for name, share in mark.since().items():
            samples.add(name, share)


def section(
    samples: Samples, pools: Pools, runs: int, sizes: Sizes, info: dict[str, Any]
) -> dict[str, Any]:
    figs = {name: figures.summary(v) for name, v in sorted(samples.values.items()) if v}
    ratios = {
        "proxy_vs_socat": figures.ratio(samples, "throughput_proxy_MBps", "throughput_socat_MBps"),
        "proxy_vs_direct": figures.ratio(
            samples, "throughput_proxy_MBps", "throughput_direct_MBps"
        ),
        "socat_vs_direct": figures.ratio(
            samples, "throughput_socat_MBps", "throughput_direct_MBps"
        ),
    }
    targets = figures.check(TARGETS, ratios, samples)
    pooled = {}
    for key, added in pools.added.items():
        case = next((c for c in CASES if c.key == key), None)
        p50, p99 = (case.p50, case.p99) if case else (0.0, 0.0)
        entry: dict[str, Any] = {"n": len(added), "configured": {"p50": p50, "p99": p99}}
        for q, want in ((0.5, p50), (0.99, p99)):
            lo, hi = quantile_ci(added, q)
            got = percentile(added, q)
            # faults.md §4.2: tolerance max(0.5 ms, 5 %) plus the order-statistic CI
            tol = max(0.5, 0.05 * want) + max(got - lo, hi - got)
            entry[f"p{round(q * 100)}"] = {
                "measured": round(got, 4),
                "ci95": [round(lo, 4), round(hi, 4)],
                "error": round(got - want, 4),
                "tolerance": round(tol, 4),
                "within": abs(got - want) <= tol,
            }
        entry["late_sends"] = pools.late_sends.get(key, 0)
        entry["max_in_flight"] = pools.max_in_flight.get(key, 0)
        pooled[key] = entry
    return {
        "runs": runs,
        "settings": asdict(sizes) | {"latency_cases": [asdict(c) for c in CASES]},
        "info": info,
        "figures": figs,
        "ratios": ratios,
        "targets": targets,
        "latency_pooled": pooled,
    }


# -- the table ----------------------------------------------------------------------------

ROWS: tuple[tuple[str, str, str], ...] = (
    # (figure, unit, meaning)
    ("throughput_direct_MBps", "MB/s", "1 stream, client → sink, loopback"),
    ("throughput_proxy_MBps", "MB/s", "  the same through `envctl proxy serve`, no toxics"),
    ("throughput_socat_MBps", "MB/s", "  the same through socat"),
    ("cpu_s_per_GB_proxy", "s/GB", "CPU seconds of the proxy process per GB relayed"),
    ("cpu_s_per_GB_socat", "s/GB", "CPU seconds of socat per GB relayed"),
    ("rtt_direct_p50_ms", "ms", "64 B ping-pong, closed loop, direct: p50"),
    ("rtt_direct_p99_ms", "ms", "  p99"),
    ("rtt_proxy_p50_ms", "ms", "  through the proxy: p50"),
    ("rtt_proxy_p99_ms", "ms", "  p99"),
    ("rtt_added_p50_ms", "ms", "added by the proxy, p50 (target ≤ 0.05)"),
    ("rtt_added_p99_ms", "ms", "added by the proxy, p99 (target ≤ 0.1)"),
    ("setup_direct_p50_ms", "ms", "connect + 1 byte echoed, direct: p50"),
    ("setup_proxy_p50_ms", "ms", "  through the proxy: p50"),
    ("setup_added_p50_ms", "ms", "  added"),
    ("paced_direct_p50_ms", "ms", "paced 500/s, direct: p50 (the baseline subtracted below)"),
    ("latency_0ms_added_p50_ms", "ms", "paced, proxy without toxics: added p50"),
    ("latency_0ms_added_p99_ms", "ms", "  p99"),
    ("foreign_cpu_share", "share", "of all CPUs used by other processes, per round"),
    ("steal_cpu_share", "share", "of all CPUs stolen by the hypervisor, per round"),
)


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "MB/s":
        return f"{value:.0f}"
    return f"{value:.3f}"


def table(data: dict[str, Any]) -> str:
    info = data["info"]
    figs = data["figures"]
    lines = [
        f"fault proxy · {data['runs']} rounds · proxy {info.get('proxy_version') or '—'} · "
        f"socat {info.get('socat') or '—'} · {info.get('wall_s', 0):.0f}s",
        "",
        f"{'figure':<28} {'unit':>5} {'median':>9} {'min':>9} {'max':>9}  meaning",
    ]

    def row(name: str, unit: str, meaning: str) -> None:
        fig = figs.get(name)
        cells = [_fmt(fig[k] if fig else None, unit) for k in ("median", "min", "max")]
        lines.append(
            f"{name:<28} {unit:>5} {cells[0]:>9} {cells[1]:>9} {cells[2]:>9}  {meaning}".rstrip()
        )

    for name, unit, meaning in ROWS:
        row(name, unit, meaning)
    lines += [
        "",
        "latency toxics (downstream), paced 500 req/s: added = RTT via proxy - median direct RTT;",
        "proxy = mean delay the proxy reports applying (its /envctl/metrics)",
        f"{'case':<14} {'configured':>10} {'added p50':>10} {'added p99':>10} {'err p50':>8} "
        f"{'err p99':>8} {'proxy':>7}  all rounds: p50 / p99 [95% CI]",
    ]
    for case in (LatencyCase("latency_0ms", {}, 0.0, 0.0), *CASES):
        cells = [
            _fmt(figs.get(f"{case.key}_{k}_ms", {}).get("median"), "ms")
            for k in ("added_p50", "added_p99", "err_p50", "err_p99", "proxy_mean_delay")
        ]
        pool = data["latency_pooled"].get(case.key)
        pooled = (
            " / ".join(
                f"{pool[p]['measured']:.2f} [{pool[p]['ci95'][0]:.2f}, {pool[p]['ci95'][1]:.2f}]"
                for p in ("p50", "p99")
            )
            if pool
            else "—"
        )
        name = case.key.removeprefix("latency_").replace("p50_20_p99_60", "p50 20 p99 60")
        conf = f"{case.p50:g}/{case.p99:g}"
        lines.append(
            f"{name:<14} {conf:>10} {cells[0]:>10} {cells[1]:>10} {cells[2]:>8} {cells[3]:>8} "
            f"{cells[4]:>7}  {pooled}"
        )
    lines += ["", "ratios of medians and targets"]
    for name, value in data["ratios"].items():
        lines.append(f"{name:<28} {_fmt(value, 'x'):>9}")
    for name, t in data["targets"].items():
        mark = {True: "met", False: "MISSED", None: "—"}[t["met"]]
        lines.append(f"{name:<28} {_fmt(t['value'], 'x'):>9}  target {t['target']:<8} {mark}")
    return "\n".join(lines)
