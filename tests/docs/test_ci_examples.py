"""The CI jobs in examples/ci/ work as written: their commands are run here, in order.

Each job runs the way its CI system would run it on a fresh runner: in a copy of the
working tree (what `git ls-files` lists, committed or not, so uncommitted work is what is
tested), with a fresh virtualenv first on PATH (what setup-python or a python:3.11 image
gives; pip's cache makes the install quick), with the CI system's variables set. GitHub:
every step's `run:` with `bash -e`, its `env:` applied; `uses:` steps are noted and
skipped; after a failure only `if: always()` (or `failure()`) steps run. GitLab: the
job's `before_script` and `script`, one `bash -e` script as the runner makes of them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from doc_shell import REPO, VENV_BIN, Done, bash, clean_environ, live_environments, tear_down_all

pytestmark = pytest.mark.local

GITHUB = REPO / "examples" / "ci" / "github-actions.yml"
GITLAB = REPO / "examples" / "ci" / "gitlab-ci.yml"
STEP_TIMEOUT = 600.0  # seconds: a `pip install` without a warm cache downloads wheels
REPORT_DIR = "envctl-report"
GITLAB_RESERVED = frozenset(
    {
        "default",
        "include",
        "stages",
        "variables",
        "workflow",
        "image",
        "services",
        "cache",
        "before_script",
        "after_script",
    }
)


@dataclass
class Runner:
    """A fresh CI machine: a checkout, a fresh Python on PATH, a private envctl state."""

    workspace: Path
    venv_bin: Path
    env: dict[str, str]
    log: list[str] = field(default_factory=list)  # what ran and what was skipped, in order

    def run(self, script: str, extra_env: dict[str, str]) -> Done:
        return bash(script, cwd=self.workspace, env={**self.env, **extra_env}, timeout=STEP_TIMEOUT)


def _copy_working_tree(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not source.is_file():  # deleted in the working tree, or a submodule
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _runner(tmp_path: Path, ci_variables: dict[str, str]) -> Runner:
    workspace = tmp_path / "workspace"
    _copy_working_tree(workspace)
    venv = tmp_path / "python"
    # The interpreter of the tests (3.11), as setup-python's python-version would be.
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    venv_bin = venv / "bin"
    # The project's own venv must not be found: only what the job installs may run.
    path = [p for p in clean_environ().get("PATH", "").split(":") if p and Path(p) != VENV_BIN]
    env = clean_environ(
        PATH=":".join([str(venv_bin), *path]),
        VIRTUAL_ENV=str(venv),
        ENVCTL_STATE_DIR=str(tmp_path / "envctl-state"),  # not the developer's ~/.local
        CI="true",
        **ci_variables,
    )
    for name in ("GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH"):
        env.pop(name, None)  # the job running these tests, if any, keeps its own
    return Runner(workspace, venv_bin, env)


def _envctl_state(runner: Runner) -> dict[str, str]:
    return {"ENVCTL_STATE_DIR": runner.env["ENVCTL_STATE_DIR"], "PATH": runner.env["PATH"]}


def _check_script(script: str, where: str) -> None:
    # Expressions are the CI system's to evaluate; this runner does not, so a job that
    # needs one in a script must take it from an env var instead.
    assert "${{" not in script, f"{where}: `${{{{ … }}}}` in a script; use an env var"


def _text_env(mapping: Any) -> dict[str, str]:
    return {
        str(k): str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in (mapping or {}).items()
    }


# ------------------------------------------------------------------ GitHub Actions


@dataclass(frozen=True)
class Step:
    name: str
    run: str | None
    uses: str | None
    env: dict[str, str]
    condition: str  # success(), always() or failure()


_CONDITION = re.compile(r"^\s*(?:\$\{\{\s*)?(success|always|failure)\(\)\s*(?:\}\}\s*)?$")


def _github_steps(workflow: dict[str, Any]) -> tuple[dict[str, str], list[Step]]:
    jobs = workflow["jobs"]
    assert len(jobs) == 1, f"{GITHUB.name}: one job expected, got {sorted(jobs)}"
    job = next(iter(jobs.values()))
    env = {**_text_env(workflow.get("env")), **_text_env(job.get("env"))}
    steps = []
    for i, raw in enumerate(job["steps"]):
        name = str(raw.get("name") or raw.get("uses") or f"step {i + 1}")
        condition = str(raw.get("if", "success()"))
        match = _CONDITION.match(condition)
        assert match, f"{name}: `if: {condition}` is beyond this runner (success/always/failure)"
        assert raw.get("shell", "bash") == "bash", f"{name}: only bash steps are run here"
        assert "working-directory" not in raw, f"{name}: working-directory is not supported"
        if raw.get("run") is not None:
            _check_script(str(raw["run"]), name)
        steps.append(
            Step(name, raw.get("run"), raw.get("uses"), _text_env(raw.get("env")), match[1])
        )
    return env, steps


def _run_github(runner: Runner, job_env: dict[str, str], steps: list[Step]) -> list[str]:
    """Every step as the runner would; returns the failures (name, exit code, output)."""
    failures: list[str] = []
    for step in steps:
        wanted = {"success": not failures, "failure": bool(failures), "always": True}
        if not wanted[step.condition]:
            runner.log.append(f"skipped (earlier failure): {step.name}")
            continue
        if step.run is None:
            runner.log.append(f"noted, not run (uses: {step.uses}): {step.name}")
            continue
        runner.log.append(f"ran: {step.name}")
        done = runner.run(step.run, {**job_env, **step.env})
        if done.code != 0:
            failures.append(f"step {step.name!r} exited {done.code}:\n{done.tail()}")
    return failures


def test_github_actions_workflow_runs_as_written(tmp_path: Path) -> None:
    workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    job_env, steps = _github_steps(workflow)
    uses = [s.uses for s in steps if s.uses]
    assert any(u.startswith("actions/checkout@") for u in uses)
    assert any(u.startswith("actions/setup-python@") for u in uses)
    setup = next(s for s in workflow["jobs"].values())["steps"]
    python = next(s for s in setup if str(s.get("uses", "")).startswith("actions/setup-python"))
    assert str(python["with"]["python-version"]) == "3.11"
    upload = [s for s in steps if str(s.uses).startswith("actions/upload-artifact@")]
    assert upload and all(s.condition == "always" for s in upload), "upload the report always"

    runner = _runner(tmp_path, {"GITHUB_ACTIONS": "true"})
    summary = tmp_path / "step-summary.md"
    summary.touch()
    runner.env.update(
        GITHUB_WORKSPACE=str(runner.workspace),
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_ENV=str(tmp_path / "github-env"),
        GITHUB_OUTPUT=str(tmp_path / "github-output"),
        GITHUB_PATH=str(tmp_path / "github-path"),
        RUNNER_TEMP=str(tmp_path / "runner-temp"),
    )
    try:
        failures = _run_github(runner, job_env, steps)
        log = "\n  ".join(runner.log)
        assert not failures, f"{GITHUB.name}:\n  {log}\n" + "\n".join(failures)
        assert (runner.venv_bin / "envctl").exists(), "the job did not install envctl"
        report = runner.workspace / REPORT_DIR
        for name in ("junit.xml", "report.html", "report.md", "report.json"):
            assert (report / name).is_file(), f"{REPORT_DIR}/{name} missing; steps:\n  {log}"
        text = summary.read_text(encoding="utf-8")
        assert "### envctl run checkout" in text, f"no run summary in the step summary:\n{text}"
        assert "### envctl cost" in text, f"no cost table in the step summary:\n{text}"
        assert live_environments(runner.venv_bin / "envctl", _envctl_state(runner)) == []
    finally:
        if (runner.venv_bin / "envctl").exists():
            tear_down_all(runner.venv_bin / "envctl", _envctl_state(runner))


# ------------------------------------------------------------------ GitLab CI


def _gitlab_job(pipeline: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    jobs = {
        k: v
        for k, v in pipeline.items()
        if k not in GITLAB_RESERVED and not str(k).startswith(".") and isinstance(v, dict)
    }
    assert len(jobs) == 1, f"{GITLAB.name}: one job expected, got {sorted(jobs)}"
    return next(iter(jobs.items()))


def _lines(value: Any) -> list[str]:
    return [str(line) for line in (value or [])]


def test_gitlab_ci_job_runs_as_written(tmp_path: Path) -> None:
    pipeline = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    name, job = _gitlab_job(pipeline)
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always", "keep the report of a failed run too"
    junit = artifacts["reports"]["junit"]
    assert str(job.get("image", pipeline.get("image", ""))).startswith("python:3.11")

    default = pipeline.get("default") or {}
    before = _lines(
        job.get("before_script", default.get("before_script", pipeline.get("before_script")))
    )
    script = _lines(job["script"])
    assert script, f"{name}: no script"
    text = "\n".join(before + script) + "\n"
    _check_script(text, name)
    variables = {**_text_env(pipeline.get("variables")), **_text_env(job.get("variables"))}

    runner = _runner(tmp_path, {"GITLAB_CI": "true"})
    runner.env.update(CI_PROJECT_DIR=str(runner.workspace), CI_JOB_NAME=name)
    try:
        done = runner.run(text, variables)
        assert done.code == 0, f"{GITLAB.name}: job {name!r} exited {done.code}:\n{done.tail()}"
        found = sorted(runner.workspace.glob(junit))
        assert found, f"artifacts:reports:junit {junit!r} matches nothing"
        for path in _lines(artifacts.get("paths")):
            assert any(runner.workspace.glob(path.rstrip("/"))), f"artifact {path!r} missing"
        assert live_environments(runner.venv_bin / "envctl", _envctl_state(runner)) == []
    finally:
        if (runner.venv_bin / "envctl").exists():
            tear_down_all(runner.venv_bin / "envctl", _envctl_state(runner))
