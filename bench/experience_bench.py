"""``python -m bench --only experience``: what the ways people meet envctl cost.

Three pairs, each side by side in every round (order rotated per round), medians over
rounds:

* a shell Tab (``_ENVCTL_COMPLETE=bash_complete``, completing env ids from the state
  store) against ``python -c pass``: completion must feel like nothing;
* the reference blueprint's ``envctl run`` with the live view (``--progress live``,
  rendered as on a terminal, into a pipe) against plain lines: the live view's cost;
* a pytest session through the plugin (``pytest --envctl``, one test asking for the
  environment's endpoints) against its floor: ``envctl up`` + ``envctl down`` of the same
  blueprint plus the same pytest session without the plugin (the test skipped): what the
  plugin adds to bringing an environment up and down.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import BLUEPRINT, REPO, MeasurementError, figures
from bench.envctl_cli import Envctl, python_startup
from bench.figures import Samples

TARGETS: tuple[figures.Target, ...] = (
    ("completion_s", "<=", 0.25),  # a Tab a person does not wait for
    ("run_live_vs_plain", "<=", 1.05),
    ("pytest_plugin_vs_floor", "<=", 1.1),
)
PYTEST_TIMEOUT = 300.0
PLUGIN_TEST = """
import os

import pytest


@pytest.mark.skipif(os.environ.get("BENCH_BARE") == "1", reason="the floor: no environment")
def test_the_environment_answers(envctl_env):
    import urllib.request

    with urllib.request.urlopen(envctl_env.url("orders") + "/healthz", timeout=10) as r:
        assert r.status == 200
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--experience-runs``, ``--no-experience``."""
    parser.add_argument(
        "--experience-runs", type=figures.positive_int, help="rounds of the experience figures"
    )
    parser.add_argument("--no-experience", action="store_true", help="skip them in a full run")


def run_for(args: argparse.Namespace, errors: list[str], warnings: list[str]) -> dict[str, Any]:
    if args.no_experience or args.only is not None:
        return {}
    return {"experience": run(args.experience_runs or args.runs, not args.no_warmup, errors)}


def table_after(data: dict[str, Any]) -> str:
    return "\n\n" + table(data["experience"]) if "experience" in data else ""


def main_only(args: argparse.Namespace) -> int:
    errors: list[str] = []
    section = run(args.experience_runs or args.runs, not args.no_warmup, errors)
    return figures.write_only(args, "experience", section, table(section), errors, [])


def run(runs: int, warmup: bool, errors: list[str]) -> dict[str, Any]:
    samples = Samples()
    state_dir = Path(tempfile.mkdtemp(prefix="bench-experience-"))
    envctl = Envctl(state_dir)
    project = _plugin_project(state_dir)
    kinds: list[tuple[str, Callable[[Samples], None]]] = [
        ("completion", lambda s: _completion_pair(envctl, s)),
        ("run live", lambda s: _run(envctl, "live", s)),
        ("run plain", lambda s: _run(envctl, "plain", s)),
        ("pytest --envctl", lambda s: _pytest_plugin(envctl, project, s)),
        ("floor", lambda s: _floor(envctl, project, s)),
    ]
    try:
        if warmup:  # fills the initdb and seed caches for every side: not recorded
            for label, measure in kinds:
                _guarded(label, measure, Samples(), errors, "warm-up")
        for r in range(runs):
            _say(f"experience round {r + 1}/{runs}")
            for label, measure in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:
                _guarded(label, measure, samples, errors, f"round {r + 1}")
    finally:
        for note in envctl.cleanup():
            errors.append(f"experience cleanup: {note}")
        shutil.rmtree(state_dir, ignore_errors=True)
    ratios = {
        "completion_vs_python": figures.ratio(samples, "completion_s", "python_startup_s"),
        "run_live_vs_plain": figures.ratio(samples, "run_live_s", "run_plain_s"),
        "pytest_plugin_vs_floor": figures.ratio(samples, "pytest_plugin_s", "pytest_floor_s"),
    }
    return {
        "runs": runs,
        "figures": {k: figures.summary(v) for k, v in samples.values.items()},
        "ratios": ratios,
        "targets": figures.check(TARGETS, ratios, samples),
    }


def _guarded(
    label: str, measure: Callable[[Samples], None], samples: Samples, errors: list[str], where: str
) -> None:
    try:
        measure(samples)
    except MeasurementError as exc:
        errors.append(f"experience {where} {label}: {exc}")
        _say(f"  {label:<16} FAILED: {exc}")


def _completion_pair(envctl: Envctl, samples: Samples) -> None:
    env = {
        **envctl.environ,
        "_ENVCTL_COMPLETE": "bash_complete",
        "COMP_WORDS": "envctl down ",
        "COMP_CWORD": "2",
    }
    for _ in range(5):  # cheap: several of each per round
        started = time.perf_counter()
        done = subprocess.run(
            [str(envctl.exe)], env=env, cwd=REPO, capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise MeasurementError(f"completion exited {done.returncode}: {done.stderr[-300:]}")
        samples.add("completion_s", seconds)
        samples.add("python_startup_s", python_startup())
    _say(f"  completion       {samples.median('completion_s') or 0:.3f}s (median so far)")


def _run(envctl: Envctl, progress: str, samples: Samples) -> None:
    done = envctl.timed(
        ["--progress", progress, "run", BLUEPRINT, "-o", "json"],
        400.0,
        {"COLUMNS": "120", "TERM": "xterm-256color"},
    )
    if done.returncode != 0:
        raise MeasurementError(f"envctl run --progress {progress}: {done.tail('stderr')}")
    samples.add(f"run_{progress}_s", done.seconds)
    _say(f"  run {progress:<12} {done.seconds:.3f}s")


def _floor(envctl: Envctl, project: Path, samples: Samples) -> None:
    result = envctl.up()
    down_seconds, leftovers = envctl.down(result.env_id)
    if leftovers:
        raise MeasurementError(f"envctl down left: {', '.join(leftovers)}")
    bare = _pytest(envctl, project, bare=True)
    samples.add("up_down_s", result.seconds + down_seconds)
    samples.add("pytest_bare_s", bare)
    samples.add("pytest_floor_s", result.seconds + down_seconds + bare)
    _say(f"  floor            {result.seconds + down_seconds:.3f}s + pytest {bare:.3f}s")


def _plugin_project(state_dir: Path) -> Path:
    project = state_dir / "plugin-project"
    project.mkdir()
    (project / "test_through_the_plugin.py").write_text(textwrap.dedent(PLUGIN_TEST))
    return project


def _pytest_plugin(envctl: Envctl, project: Path, samples: Samples) -> None:
    seconds = _pytest(envctl, project, bare=False)
    samples.add("pytest_plugin_s", seconds)
    _say(f"  pytest --envctl  {seconds:.3f}s")


def _pytest(envctl: Envctl, project: Path, bare: bool) -> float:
    environ = {k: v for k, v in envctl.environ.items() if k != "PYTEST_ADDOPTS"}
    environ["BENCH_BARE"] = "1" if bare else "0"
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--envctl",
            str(REPO / BLUEPRINT),
            str(project),
        ],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        timeout=PYTEST_TIMEOUT,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise MeasurementError(f"pytest --envctl exited {done.returncode}: {done.stdout[-400:]}")
    return seconds


def table(section: dict[str, Any]) -> str:
    lines = [f"experience · {section['runs']} rounds · medians (s)"]
    for name, meaning in (
        ("completion_s", "a Tab: `envctl down <Tab>` through click's completion protocol"),
        ("python_startup_s", "  `python -c pass`"),
        ("run_live_s", "`envctl run` of the reference blueprint, live view"),
        ("run_plain_s", "  the same, plain lines"),
        ("pytest_plugin_s", "`pytest --envctl` of the reference blueprint, one test"),
        ("pytest_floor_s", "  floor: `envctl up` + `envctl down` + the same pytest, test skipped"),
        ("up_down_s", "    of which `envctl up` + `envctl down`"),
        ("pytest_bare_s", "    of which the pytest session"),
    ):
        fig = section["figures"].get(name)
        if fig:
            lines.append(
                f"{name:<18} {fig['median']:9.3f} {fig['min']:9.3f} {fig['max']:9.3f}  {meaning}"
            )
    for name, value in section["ratios"].items():
        lines.append(f"{name:<28} {value if value is not None else '—'}x")
    for name, target in section["targets"].items():
        verdict = "met" if target["met"] else "MISSED"
        lines.append(f"{name:<28} target {target['target']}  {verdict}")
    return "\n".join(lines)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
