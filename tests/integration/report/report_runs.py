"""`envctl run --report DIR` as the report tests run it: the run and what it wrote."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

from tests.conftest import Cli

FILES = ("report.json", "junit.xml", "report.md", "report.html")


@dataclass(frozen=True)
class Run:
    done: CompletedProcess[str]
    report: Path  # its --report DIR
    data: dict[str, Any]  # its report.json

    @property
    def run_dir(self) -> Path:
        return Path(self.data["run_dir"])


def run_with_report(
    cli: Cli, blueprint: str, report: Path, *args: str, env: dict[str, str] | None = None
) -> Run:
    """``envctl run BLUEPRINT --report REPORT ARGS``; its report.json must exist whatever
    the outcome."""
    done = cli("run", blueprint, "--report", str(report), *args, env=env)
    assert (report / "report.json").is_file(), f"no report.json:\n{done.stderr[-3000:]}"
    return Run(done, report, json.loads((report / "report.json").read_text()))
