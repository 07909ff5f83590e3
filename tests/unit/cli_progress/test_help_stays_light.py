"""`envctl --help` and a Tab press stay fast: rich loads only for a live view."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def imported(*args: str, **env: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "orchestrator", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line.split("|")[-1] for line in done.stderr.splitlines() if "import time:" in line]
    return {row.strip() for row in rows}


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--help",), {}),
        ((), {"_ENVCTL_COMPLETE": "bash_complete", "COMP_WORDS": "envctl up ", "COMP_CWORD": "2"}),
    ],
    ids=["help", "tab"],
)
def test_no_rich_without_a_live_view(args: tuple[str, ...], env: dict[str, str]) -> None:
    modules = imported(*args, **env)
    assert "orchestrator.cli.main" in modules, "the measurement saw envctl load"
    assert not {m for m in modules if m == "rich" or m.startswith("rich.")}
    assert "orchestrator.cli.progress_view" not in modules
