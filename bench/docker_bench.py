"""The Docker runtime's figures: ``envctl up --runtime docker`` next to the same four
containers started by a plain script (the floor) and by docker-compose, and how fast
the watchdog reaps an environment whose envctl was SIGKILLed.

``run(...)`` checks the engine and the images, then takes N rounds; each round takes one
sample of every kind (envctl up + down, floor, compose, SIGKILL), in an order rotated
per round, so machine noise falls on all of them alike. The figures are the medians over
rounds; see the "Docker runtime" section of bench/README.md. No Docker Engine: the
section is skipped with a warning (with ``--only docker``, an error).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import BLUEPRINT, REPO, SERVICES, MeasurementError, docker_compose, docker_floor, figures
from bench.docker_engine import (
    ENVCTL_ENV,
    ENVCTL_IMAGE,
    ENVCTL_STORE,
    IMAGES,
    RUN_LABEL,
    Selector,
    connect,
    engine_version,
    envctl_resources,
    found,
    image_ids,
    new_prefix,
    remove,
)
from bench.docker_envctl import PAIR_BLUEPRINT, DockerEnvctl, new_state_dir, remove_state_dir
from bench.figures import Samples
from bench.proxy_procs import CpuMark

STEAL_SHARE = 0.1  # of all CPUs stolen by the hypervisor in a round: warn of noise
DEFAULT_HEALTH_INTERVAL = 0.5  # the compose file's healthcheck interval, seconds

# (ratio, numerator, denominator). The floor is timed inside its script, from the Docker
# client's creation (no interpreter start-up or imports), so `up_vs_floor` charges envctl
# its CLI start-up and the floor nothing; `internal_vs_floor` compares the same span:
# envctl's own clock from session start to all ready, against the floor's.
RATIOS = (
    ("docker_up_vs_floor", "docker_envctl_up_ready_s", "docker_floor_ready_s"),
    ("docker_internal_vs_floor", "docker_envctl_internal_ready_s", "docker_floor_ready_s"),
    ("docker_up_vs_compose", "docker_envctl_up_ready_s", "docker_compose_ready_s"),
    ("docker_down_vs_compose_down", "docker_envctl_down_s", "docker_compose_down_s"),
)
# (ratio or figure, comparison, bound)
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("docker_up_vs_floor", "<=", 1.3),
    ("docker_up_vs_compose", "<", 1.0),
    ("docker_sigkill_reaped_s", "<=", 15.0),
)


# -- the hooks in ``python -m bench`` ------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--docker-runs``, ``--no-docker``, ``--compose-health-interval``."""
    parser.add_argument(
        "--docker-runs",
        type=figures.positive_int,
        help="rounds of the Docker figures (default: --runs)",
    )
    parser.add_argument(
        "--no-docker", action="store_true", help="skip the Docker figures in a full run"
    )
    parser.add_argument(
        "--compose-health-interval",
        type=figures.positive_float,
        default=DEFAULT_HEALTH_INTERVAL,
        help="healthcheck interval of the compose file, seconds "
        f"(default {DEFAULT_HEALTH_INTERVAL:g})",
    )


def run_for(args: argparse.Namespace, errors: list[str], warnings: list[str]) -> dict[str, Any]:
    """The hook in a full run: ``{"docker": section}``, or ``{}`` with --no-docker or
    --only envctl|proxy. No engine: a warning and ``{"docker": {"skipped": why}}``."""
    if args.no_docker or args.only in ("envctl", "proxy"):
        return {}
    return {"docker": _section(args, errors, warnings, required=False)}


def table_after(data: dict[str, Any]) -> str:
    return "\n\n" + table(data["docker"]) if "docker" in data else ""


def main_only(args: argparse.Namespace) -> int:
    """``python -m bench --only docker``: these figures alone, in the same JSON file."""
    errors: list[str] = []
    warnings: list[str] = []
    section = _section(args, errors, warnings, required=True)
    return figures.write_only(args, "docker", section, table(section), errors, warnings)


def _section(
    args: argparse.Namespace, errors: list[str], warnings: list[str], required: bool
) -> dict[str, Any]:
    try:
        client = connect()
    except MeasurementError as exc:
        note = f"Docker figures skipped: {exc}"
        (errors if required else warnings).append(note)
        _say(note)
        return {"skipped": str(exc)}
    try:
        return run(
            client,
            args.docker_runs or args.runs,
            not args.no_warmup,
            args.poll_interval,
            args.compose_health_interval,
            errors,
            warnings,
        )
    finally:
        client.close()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the rounds ------------------------------------------------------------------------------


class DockerRounds:
    """One method per kind of sample. Everything a sample creates is removed before it
    returns (or raises); what was still there is collected in ``leftovers`` per kind."""

    def __init__(
        self, client: Any, prefix: str, envctl: DockerEnvctl, poll_interval: float, health: float
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.envctl = envctl
        self.poll_interval = poll_interval
        self.health = f"{health:g}s"
        self.count = 0
        self.leftovers: dict[str, list[str]] = {}
        self.samples_of: dict[str, int] = {}
        self.others: dict[str, int] = {}  # containers of others seen running: rounds

    def _left(self, kind: str, items: list[str]) -> None:
        self.samples_of[kind] = self.samples_of.get(kind, 0) + 1
        if items:
            self.leftovers.setdefault(kind, []).extend(items)

    def envctl_up(self, samples: Samples) -> str:
        result = self.envctl.up_docker()
        try:
            samples.add("docker_envctl_up_ready_s", result.seconds)
            ends = []
            for name, svc in result.services.items():
                ready, offset = svc.get("ready_seconds"), svc.get("started_offset_seconds")
                if isinstance(ready, int | float):
                    samples.add(f"docker_envctl.{name}", float(ready))
                    if isinstance(offset, int | float):
                        ends.append(float(offset) + float(ready))
                if name == "orders" and isinstance(offset, int | float):
                    samples.add("docker_envctl_orders_started_s", float(offset))
            if ends:
                samples.add("docker_envctl_internal_ready_s", max(ends))
            for stage, seconds in result.breakdown.items():
                samples.add(f"docker_envctl_{stage}_s", seconds)
        finally:
            down_s, leftovers = self.envctl.down_docker(self.client, result.env_id)
        samples.add("docker_envctl_down_s", down_s)
        self._left("`envctl down` (docker)", leftovers)
        return f"{result.seconds:.3f}s (down {down_s:.3f}s)"

    def floor(self, samples: Samples) -> str:
        self.count += 1
        result = docker_floor.measure(
            f"{self.prefix}-f{self.count}", self.prefix, self.poll_interval
        )
        self._left("floor", result.leftovers)
        samples.add("docker_floor_ready_s", result.total)
        samples.add("docker_floor_network_s", result.network_s)
        samples.add("docker_floor_schema_s", result.schema_s)
        samples.add("docker_floor_remove_s", result.remove_s)
        deps = max(v for k, v in result.services.items() if k != "orders")
        samples.add("docker_floor_orders_started_s", result.network_s + deps)
        for name, seconds in result.services.items():
            samples.add(f"docker_floor.{name}", seconds)
        return f"{result.total:.3f}s (removed in {result.remove_s:.3f}s)"

    def compose(self, samples: Samples) -> str:
        self.count += 1
        result = docker_compose.measure(
            self.client, f"{self.prefix}-c{self.count}", self.poll_interval, self.health
        )
        self._left("docker-compose", result.leftovers)
        samples.add("docker_compose_ready_s", result.total)
        samples.add("docker_compose_up_returned_s", result.up_returned)
        samples.add("docker_compose_schema_s", result.schema_s)
        if result.down_s is not None:
            samples.add("docker_compose_down_s", result.down_s)
        down = f"{result.down_s:.3f}s" if result.down_s is not None else "—"
        return f"{result.total:.3f}s (`up -d` returned {result.up_returned:.3f}s, down {down})"

    def sigkill(self, samples: Samples) -> str:
        result = self.envctl.sigkill(self.client, self.poll_interval)
        self._left("SIGKILL, then `envctl down`", result.leftovers)
        samples.add("docker_sigkill_reaped_s", result.reaped_s)
        samples.add("docker_sigkill_testing_s", result.testing_s)
        return f"reaped {result.reaped_s:.3f}s after SIGKILL ({result.env_id})"

    def others_running(self, store: str) -> list[str]:
        """Running containers that are not this benchmark's: they share the CPUs."""
        names = []
        with contextlib.suppress(Exception):
            for container in self.client.containers.list():
                if container.name.startswith(self.prefix):
                    continue
                if container.labels.get(ENVCTL_STORE) == store:
                    continue
                names.append(container.name)
        return names


def run(
    client: Any,
    runs: int,
    warmup: bool,
    poll_interval: float,
    health: float,
    errors: list[str],
    warnings: list[str],
) -> dict[str, Any]:
    """Take ``runs`` rounds of the Docker figures; returns the JSON "docker" section.
    Failures become ``errors`` (each measurement on its own); everything is removed."""
    started = time.monotonic()
    info: dict[str, Any] = {"engine": engine_version(client), "compose": docker_compose.version()}
    with contextlib.suppress(Exception):
        import docker

        info["sdk"] = docker.__version__
    state_dir = new_state_dir()
    try:
        info["images"] = image_ids(client, [*IMAGES.values(), ENVCTL_IMAGE])
        envctl = DockerEnvctl(state_dir)
    except MeasurementError as exc:
        remove_state_dir(state_dir)
        errors.append(f"docker: {exc}")
        _say(f"Docker figures not taken: {exc}")
        return {"skipped": str(exc), "info": info}
    prefix = new_prefix()
    store = str(state_dir.resolve())
    before = envctl_resources(client)
    samples = Samples()
    mark = CpuMark()
    rounds = DockerRounds(client, prefix, envctl, poll_interval, health)
    if info["compose"] is None:
        warnings.append("docker-compose figures skipped: `docker-compose` is not installed")
    try:
        _rounds(rounds, runs, warmup, samples, errors, store, info["compose"] is not None)
    finally:
        warnings.extend(_clean_up(client, envctl, prefix, store, before))
        remove_state_dir(state_dir)
    warnings.extend(_leftover_notes(rounds))
    info["wall_s"] = round(time.monotonic() - started, 1)
    info["steal_cpu_share"] = mark.since()["steal_cpu_share"]
    info["other_containers"] = dict(sorted(rounds.others.items()))
    _noise_warnings(samples, info, warnings)
    compose_file = docker_compose.COMPOSE_FILE
    settings = {
        "prefix": prefix,
        "blueprint": BLUEPRINT,
        "sigkill_blueprint": PAIR_BLUEPRINT,
        "poll_interval_s": poll_interval,
        "compose_file": str(compose_file.relative_to(REPO)),
        "compose_health_interval_s": health,
        "warmup": warmup,
        "envctl": str(envctl.exe),
    }
    return section(samples, runs, settings, info)


def _rounds(
    rounds: DockerRounds,
    runs: int,
    warmup: bool,
    samples: Samples,
    errors: list[str],
    store: str,
    with_compose: bool,
) -> None:
    kinds: list[tuple[str, Callable[[Samples], str]]] = [
        ("envctl up", rounds.envctl_up),
        ("floor", rounds.floor),
        ("compose", rounds.compose),
        ("sigkill", rounds.sigkill),
    ]
    if not with_compose:
        kinds = [k for k in kinds if k[0] != "compose"]
    if warmup:
        _say("docker warm-up (not recorded)")
        for label, measure in kinds:
            try:
                measure(Samples())
            except MeasurementError as exc:
                errors.append(f"docker warm-up {label}: {exc}")
                _say(f"  {label:<10} FAILED: {exc}")
    for r in range(runs):
        _say(f"docker round {r + 1}/{runs}")
        mark = CpuMark()
        seen = set(rounds.others_running(store))
        for label, measure in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:
            try:
                _say(f"  {label:<10} {measure(samples)}")
            except MeasurementError as exc:
                errors.append(f"docker round {r + 1} {label}: {exc}")
                _say(f"  {label:<10} FAILED: {exc}")
        seen |= set(rounds.others_running(store))
        samples.add("steal_cpu_share", mark.since()["steal_cpu_share"])
        samples.add("other_containers", float(len(seen)))
        for name in seen:
            rounds.others[name] = rounds.others.get(name, 0) + 1


def _clean_up(
    client: Any, envctl: DockerEnvctl, prefix: str, store: str, before: dict[str, str]
) -> list[str]:
    """Safety net at the end: ``envctl down --all`` and friends, then remove anything of
    our state store or our prefix; then check that none of it, and nothing new labelled
    ``envctl.env``, is left. Returns warnings."""
    notes = [f"docker cleanup: {n}" for n in envctl.sweep(client)]
    selectors = (
        Selector(label=f"{ENVCTL_STORE}={store}"),
        Selector(label=f"{RUN_LABEL}={prefix}"),
        Selector(name=prefix),
    )
    for selector in selectors:
        left = found(client, selector)
        if left:
            notes.append(f"docker cleanup: removed leftovers ({selector}): {', '.join(left)}")
            notes += [f"docker cleanup: {n}" for n in remove(client, selector)]
    for selector in selectors:
        left = found(client, selector)
        if left:
            notes.append(f"docker: STILL THERE after cleanup ({selector}): {', '.join(left)}")
    new = {k: v for k, v in envctl_resources(client).items() if k not in before}
    ours = sorted(k for k, v in new.items() if v == store)
    if ours:
        notes.append(f"docker: envctl resources of ours still there: {', '.join(ours)}")
    theirs = sorted(k for k, v in new.items() if v != store)
    if theirs:
        stores = sorted({new[k] for k in theirs})
        notes.append(
            f"docker: {len(theirs)} resources labelled {ENVCTL_ENV} of other state stores "
            f"({', '.join(stores)}) appeared during the run and are still there; not ours, "
            f"left alone: {', '.join(theirs[:6])}{' …' if len(theirs) > 6 else ''}"
        )
    return notes


def _leftover_notes(rounds: DockerRounds) -> list[str]:
    notes = []
    for kind, items in rounds.leftovers.items():
        shown = ", ".join(items[:3]) + (" …" if len(items) > 3 else "")
        notes.append(
            f"{kind} left {len(items)} thing(s) behind over {rounds.samples_of.get(kind, 0)} "
            f"samples (removed by the bench): {shown}"
        )
    return notes


def _noise_warnings(samples: Samples, info: dict[str, Any], warnings: list[str]) -> None:
    steal = samples.values.get("steal_cpu_share", [])
    if info["steal_cpu_share"] > STEAL_SHARE or any(s > STEAL_SHARE for s in steal):
        warnings.append(
            f"docker figures: the hypervisor stole {info['steal_cpu_share']:.0%} of the CPUs "
            f"(rounds: {', '.join(f'{s:.0%}' for s in steal)}), so expect noisy figures"
        )
    if info["other_containers"]:
        names = list(info["other_containers"])
        warnings.append(
            f"docker figures: {len(names)} other containers ran on the engine during the "
            f"rounds ({', '.join(names[:4])}{' …' if len(names) > 4 else ''}); they share the "
            "CPUs, so expect noisy figures (per round: samples of other_containers)"
        )


# -- the JSON section and the table ---------------------------------------------------------


def section(
    samples: Samples, runs: int, settings: dict[str, Any], info: dict[str, Any]
) -> dict[str, Any]:
    figs = {name: figures.summary(v) for name, v in sorted(samples.values.items()) if v}
    ratios = {name: figures.ratio(samples, top, bottom) for name, top, bottom in RATIOS}
    targets = figures.check(TARGETS, ratios, samples)
    services = {
        svc: {
            f"{side}_s": figs[f"docker_{side}.{svc}"]
            for side in ("envctl", "floor")
            if f"docker_{side}.{svc}" in figs
        }
        for svc in SERVICES
    }
    return {
        "runs": runs,
        "settings": settings,
        "info": info,
        "figures": {k: v for k, v in figs.items() if "." not in k},
        "services": services,
        "ratios": ratios,
        "targets": targets,
    }


ROWS: tuple[tuple[str, str], ...] = (
    ("docker_envctl_up_ready_s", "`envctl up checkout --runtime docker` launched → exited"),
    ("docker_envctl_cli_s", "  launch → 'planning' (interpreter, imports, blueprint, state)"),
    ("docker_envctl_prepare_s", "  → first 'starting' (images, watchdog, networks)"),
    ("docker_envctl_services_s", "  → last 'ready' (containers, fault proxy, readiness)"),
    ("docker_envctl_seed_exit_s", "  → exit (schema, watchdog hand-over, output)"),
    ("docker_envctl_internal_ready_s", "envctl's clock: session start → last service ready"),
    ("docker_envctl_orders_started_s", "envctl's clock: session start → orders started"),
    ("docker_floor_ready_s", "floor script: network, db+cache+payments, then orders"),
    ("docker_floor_network_s", "  client + network created"),
    ("docker_floor_orders_started_s", "  start → orders started (three ready, schema applied)"),
    ("docker_floor_schema_s", "  schema.sql (on the db branch, as soon as db answers)"),
    ("docker_compose_ready_s", "`docker-compose up -d`, orders healthy, schema applied"),
    ("docker_compose_up_returned_s", "  `up -d` returned (three healthy, orders started)"),
    ("docker_compose_schema_s", "  schema.sql"),
    ("docker_envctl_down_s", "`envctl down` (informational)"),
    ("docker_compose_down_s", "`docker-compose down -v` (informational)"),
    ("docker_floor_remove_s", "floor: remove containers, network, volumes (informational)"),
    ("docker_sigkill_reaped_s", "SIGKILL of `envctl run` → nothing labelled left (watchdog)"),
    ("docker_sigkill_testing_s", "  `envctl run pair.yaml` launched → `ls` says testing"),
    ("steal_cpu_share", "of all CPUs stolen by the hypervisor, per round"),
    ("other_containers", "containers of others running on the engine, per round"),
)


def _fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "—"
    if unit == "n":
        return f"{value:.0f}"
    return f"{value:.2f}x" if unit == "x" else f"{value:.3f}"


def table(data: dict[str, Any]) -> str:
    if "skipped" in data:
        return f"docker runtime · skipped: {data['skipped']}"
    info, figs = data["info"], data["figures"]
    lines = [
        f"docker runtime · {data['runs']} rounds · engine {info.get('engine')} · "
        f"docker-compose {info.get('compose') or '—'} · {info.get('wall_s', 0):.0f}s",
        "",
        f"{'figure':<32} {'median':>8} {'min':>8} {'max':>8}  meaning",
    ]
    for name, meaning in ROWS:
        fig = figs.get(name)
        unit = "n" if name == "other_containers" else "s"
        cells = [_fmt(fig[k] if fig else None, unit) for k in ("median", "min", "max")]
        lines.append(f"{name:<32} {cells[0]:>8} {cells[1]:>8} {cells[2]:>8}  {meaning}".rstrip())
    lines += [
        "",
        "per service, start → ready (median): envctl's ready_seconds; floor: before "
        "`docker run` → probe passed",
        f"{'service':<20} {'envctl':>9} {'floor':>9}",
    ]
    for svc, sides in data["services"].items():
        cells = [_fmt(sides[k]["median"] if k in sides else None) for k in ("envctl_s", "floor_s")]
        lines.append(f"{svc:<20} {cells[0]:>9} {cells[1]:>9}")
    lines += ["", "ratios of medians and targets"]
    for name, top, bottom in RATIOS:
        lines.append(f"{name:<32} {_fmt(data['ratios'][name], 'x'):>8}  {top} / {bottom}")
    for name, t in data["targets"].items():
        mark = {True: "met", False: "MISSED", None: "—"}[t["met"]]
        unit = "s" if name.endswith("_s") else "x"
        lines.append(f"{name:<32} {_fmt(t['value'], unit):>8}  target {t['target']:<8} {mark}")
    return "\n".join(lines)
