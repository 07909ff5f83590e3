"""The suite runner, with real shell commands."""

from __future__ import annotations

import os
from pathlib import Path

import psutil

from orchestrator.secrets import Redactor
from orchestrator.suites import SuiteStatus, run_suite


def run(tmp_path: Path, command: str, timeout: float = 30) -> tuple[SuiteStatus, str]:
    result = run_suite(
        name="s",
        tier="standard",
        command=command,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "MARK": str(tmp_path)},
        timeout=timeout,
        log_path=tmp_path / "s.log",
        junit_path=tmp_path / "s.xml",
        redactor=Redactor(),
    )
    return result.status, result.log.read_text()


def _marked(tmp_path: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("MARK") == str(tmp_path) and proc.status() != "zombie":
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def test_a_background_child_does_not_outlive_or_stall_the_suite(tmp_path: Path) -> None:
    status, log = run(tmp_path, "(sleep 60; echo late) & echo hi")
    assert status is SuiteStatus.passed
    assert "hi" in log
    assert _marked(tmp_path) == [], "the sleeping child went with its suite"


def test_an_unknown_command_is_an_error_not_a_failed_test(tmp_path: Path) -> None:
    status, log = run(tmp_path, "pytets tests")
    assert status is SuiteStatus.error
    assert "not found" in log


def test_junit_counts_are_read(tmp_path: Path) -> None:
    xml = '<testsuite tests="3" failures="1" errors="0" skipped="1"></testsuite>'
    result = run_suite(
        name="s",
        tier="standard",
        command=f"echo '{xml}' > s.xml; exit 1",
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        timeout=30,
        log_path=tmp_path / "s.log",
        junit_path=tmp_path / "s.xml",
        redactor=Redactor(),
    )
    assert result.status is SuiteStatus.failed and result.exit_code == 1
    assert result.tests is not None
    assert (result.tests.total, result.tests.failures, result.tests.skipped) == (3, 1, 1)
