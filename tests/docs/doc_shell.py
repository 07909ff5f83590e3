"""Running a documented shell snippet as a reader would: `bash -e`, bounded, in its own
process group, with envctl's settings taken out of the caller's environment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# The interpreter running the tests is the project's venv: its bin holds `envctl`.
VENV_BIN = Path(sys.executable).parent
OUTPUT_SHOWN = 12_000  # characters of a failing snippet's output shown, from the end


@dataclass(frozen=True)
class Done:
    code: int | None  # None: stopped at its timeout
    output: str  # stdout and stderr, interleaved as written

    def tail(self) -> str:
        text = self.output
        return text if len(text) <= OUTPUT_SHOWN else "…" + text[-OUTPUT_SHOWN:]


def clean_environ(**extra: str) -> dict[str, str]:
    """The caller's environment without envctl's own settings (as the `cli` fixture does),
    so no state dir, secret or runtime choice of the developer leaks into a snippet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVCTL_")}
    env.update(extra)
    return env


def bash(script: str, *, cwd: Path, env: Mapping[str, str], timeout: float) -> Done:
    """Run ``script`` with ``bash -e``; past ``timeout`` its whole process group is stopped
    (SIGTERM first, so an `envctl run` inside still tears its environment down)."""
    proc = subprocess.Popen(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        output, _ = proc.communicate()
        return Done(None, output + f"\n[stopped after {timeout:g} s]")
    return Done(proc.returncode, output)


def _stop_group(proc: subprocess.Popen[str]) -> None:
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        return


def envctl_json(envctl: Path, *args: str, env: Mapping[str, str]) -> Any:
    done = subprocess.run(
        [str(envctl), *args, "-o", "json"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"envctl {' '.join(args)}: not JSON (exit {done.returncode}):\n"
            f"{done.stdout}\n{done.stderr}"
        ) from None


def live_environments(envctl: Path, env: Mapping[str, str]) -> list[str]:
    """Ids of the environments still up in the state dir ``env`` names."""
    return [row["env"] for row in envctl_json(envctl, "ls", env=env)]


def tear_down_all(envctl: Path, env: Mapping[str, str]) -> None:
    """Whatever a failing snippet left running goes, so it cannot disturb later tests."""
    if live_environments(envctl, env):
        subprocess.run(
            [str(envctl), "down", "--all"],
            env=dict(env),
            capture_output=True,
            timeout=180,
            check=False,
        )
